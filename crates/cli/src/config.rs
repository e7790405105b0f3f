//! The configuration of `strata dev` and `strata provisioner run`: every
//! section of the api server ([`AppConfig`]) and the provisioner's, read
//! from one TOML file, `STRATA_*` variables and the flags
//! (docs/configuration.md).

use serde::Serialize;
use strata_api::config::{AppConfig, AppSettings};
use strata_core::config::{Layers, field_names};
use strata_provisioner::config::{ProvisionerConfig, ProvisionerSettings};

use crate::cli::ServerArgs;

/// Every section, as written by the user.
#[derive(Debug, Clone, Default)]
pub(crate) struct StrataConfig {
    pub app: AppConfig,
    pub provisioner: ProvisionerConfig,
}

/// [`StrataConfig`] validated.
#[derive(Debug, Clone)]
pub(crate) struct StrataSettings {
    pub app: AppSettings,
    pub provisioner: ProvisionerSettings,
}

/// The flags that set configuration keys: each serializes under its own
/// name, which is the key's, and only when given.
#[derive(Debug, Serialize)]
struct Flags<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<&'a str>,
    #[serde(flatten)]
    server: &'a ServerArgs,
}

impl StrataConfig {
    /// Every key, once: the TOML keys, and with
    /// [`strata_core::config::env_var`] the variables.
    pub fn keys() -> Vec<&'static str> {
        [AppConfig::keys(), field_names::<ProvisionerConfig>().to_vec()].concat()
    }

    /// Merges defaults < `args.config` < `STRATA_*` < the flags.
    pub fn load(args: &ServerArgs, listen: Option<&str>) -> strata_core::Result<Self> {
        let layers = Layers::load(args.config.as_deref(), &Self::keys(), &Flags { listen, server: args })?;
        Self::from_layers(&layers)
    }

    fn from_layers(layers: &Layers) -> strata_core::Result<Self> {
        Ok(Self { app: AppConfig::from_layers(layers)?, provisioner: layers.extract()? })
    }

    /// Validates every section.
    pub fn resolve(&self) -> strata_core::Result<StrataSettings> {
        Ok(StrataSettings { app: self.app.resolve()?, provisioner: self.provisioner.resolve()? })
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err, reason = "figment's Jail fixes the closures' error type")]
mod tests {
    use std::path::Path;

    use clap::{Args as _, FromArgMatches as _};
    use serde_json::{Map, Value};
    use strata_core::config::env_var;

    use super::*;
    use crate::cli::DevArgs;

    /// The configuration as one flat map from key to value.
    fn values(config: &StrataConfig) -> Map<String, Value> {
        let app = &config.app;
        let sections = [
            serde_json::to_value(&app.server),
            serde_json::to_value(&app.hub),
            serde_json::to_value(&app.billing),
            serde_json::to_value(&app.api),
            serde_json::to_value(&app.pps),
            serde_json::to_value(&app.sandbox),
            serde_json::to_value(&config.provisioner),
        ];
        let mut all = Map::new();
        for section in sections {
            let Value::Object(values) = section.expect("a section serializes") else { panic!("a section is a map") };
            all.extend(values);
        }
        all
    }

    /// A value of the same kind as `default` that differs from it. Every
    /// optional setting is text or a path, so `null` becomes text; a switch
    /// flips.
    fn another(default: &Value) -> Value {
        match default {
            Value::Number(number) => Value::from(number.as_u64().expect("settings are unsigned") + 1),
            Value::String(text) => Value::from(format!("{text}-changed")),
            Value::Null => Value::from("changed"),
            Value::Bool(flag) => Value::from(!flag),
            other => panic!("no sample for {other}; teach `another` this kind of setting"),
        }
    }

    /// The sample as written in the environment or on the command line.
    fn plain(value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// Asserts that `loaded` differs from the defaults in `key` and nowhere else.
    fn assert_reached(key: &str, loaded: &StrataConfig, how: &str) {
        let defaults = values(&StrataConfig::default());
        let loaded = values(loaded);
        assert_ne!(loaded[key], defaults[key], "{key} is not reachable {how}");
        for (other, value) in &defaults {
            assert!(other == key || loaded[other] == *value, "setting {key} {how} changed {other}");
        }
    }

    fn dev_args(argv: &[String]) -> DevArgs {
        let command = DevArgs::augment_args(clap::Command::new("dev"));
        let matches = command.try_get_matches_from(argv).expect("the flags parse");
        DevArgs::from_arg_matches(&matches).expect("dev arguments")
    }

    fn no_flags() -> DevArgs {
        dev_args(&["dev".to_owned()])
    }

    #[test]
    fn every_setting_has_a_key_and_a_value_to_check() {
        let keys = StrataConfig::keys();
        let mut serialized: Vec<String> = values(&StrataConfig::default()).keys().cloned().collect();
        let mut sorted: Vec<String> = keys.iter().map(|key| (*key).to_owned()).collect();
        serialized.sort_unstable();
        sorted.sort_unstable();
        assert_eq!(serialized, sorted, "every key serializes, so the tests below see all of them");
        assert!(keys.len() >= 30, "a section lost its keys (a `flatten` hides them): {keys:?}");
    }

    #[test]
    fn every_setting_is_reachable_from_the_file() {
        let defaults = values(&StrataConfig::default());
        let dir = tempfile::tempdir().expect("tempdir");
        let no_env = figment::providers::Env::prefixed("STRATA_TEST_NEVER_SET_");
        for key in StrataConfig::keys() {
            let file = dir.path().join(format!("{key}.toml"));
            std::fs::write(&file, format!("{key} = {}\n", another(&defaults[key]))).expect("write the file");
            let loaded = load_file(&file, no_env.clone()).unwrap_or_else(|error| panic!("{key}: {error}"));
            assert_reached(key, &loaded, "from the file");
        }
    }

    #[test]
    fn every_setting_is_reachable_from_its_strata_variable() {
        let defaults = values(&StrataConfig::default());
        for key in StrataConfig::keys() {
            figment::Jail::expect_with(|jail| {
                jail.clear_env();
                jail.set_env(env_var(key), plain(&another(&defaults[key])));
                let loaded = StrataConfig::load(&no_flags().server, None).map_err(|error| error.to_string())?;
                assert_reached(key, &loaded, &format!("from ${}", env_var(key)));
                Ok(())
            });
        }
    }

    #[test]
    fn every_flag_named_like_a_setting_reaches_it() {
        let defaults = values(&StrataConfig::default());
        let keys = StrataConfig::keys();
        let command = DevArgs::augment_args(clap::Command::new("dev"));
        let flags: Vec<String> = command.get_arguments().filter_map(|arg| arg.get_long()).map(str::to_owned).collect();
        let mut reached = Vec::new();
        for flag in flags {
            let key = flag.replace('-', "_");
            if !keys.contains(&key.as_str()) {
                continue;
            }
            let args = dev_args(&["dev".to_owned(), format!("--{flag}={}", plain(&another(&defaults[&key])))]);
            figment::Jail::expect_with(|jail| {
                jail.clear_env();
                let loaded = StrataConfig::load(&args.server, args.listen.as_deref()).map_err(|e| e.to_string())?;
                assert_reached(&key, &loaded, &format!("from --{flag}"));
                Ok(())
            });
            reached.push(key);
        }
        let documented =
            ["listen", "data_dir", "database_url", "object_store_url", "redis_url", "log_format", "log_level"];
        assert_eq!(reached, documented, "the flags of docs/configuration.md");
    }

    #[test]
    fn the_documented_keys_are_the_keys() {
        let doc = include_str!("../../../docs/configuration.md");
        let mut documented: Vec<&str> = doc
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`').map(|(key, _)| key))
            .collect();
        let mut keys = StrataConfig::keys();
        documented.sort_unstable();
        keys.sort_unstable();
        assert_eq!(documented, keys, "docs/configuration.md's table lists every key, and only keys");
    }

    #[test]
    fn an_invalid_value_in_any_section_is_named() {
        let cases = [
            ("STRATA_SANDBOX", "docker", "`sandbox`"),
            ("STRATA_RUNNER", "docker", "`runner`"),
            ("STRATA_KUBERNETES_EGRESS", "db", "`kubernetes_egress`"),
            ("STRATA_WORKERS", "many", "`workers`"),
            ("STRATA_MAIL_FROM", "nobody", "`mail_from`"),
        ];
        for (variable, value, key) in cases {
            figment::Jail::expect_with(|jail| {
                jail.clear_env();
                jail.set_env(variable, value);
                let config = StrataConfig::load(&no_flags().server, None).map_err(|error| error.to_string())?;
                let error = config.resolve().expect_err(variable);
                assert!(error.is_user_error() && error.to_string().contains(key), "{variable}: {error}");
                Ok(())
            });
        }
    }

    #[test]
    fn a_key_of_another_section_in_the_file_is_not_unknown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("strata.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:80\"\nkubernetes_image = \"strata:test\"\nsmtp_urls = \"x\"\n")
            .expect("write");
        let no_env = figment::providers::Env::prefixed("STRATA_TEST_NEVER_SET_");
        let error = load_file(&file, no_env.clone()).expect_err("smtp_urls is no key");
        assert!(error.to_string().contains("`smtp_urls`"), "{error}");
        std::fs::write(&file, "listen = \"0.0.0.0:80\"\nkubernetes_image = \"strata:test\"\n").expect("write");
        let config = load_file(&file, no_env).expect("known keys");
        assert_eq!(
            (config.app.server.listen.as_str(), config.provisioner.kubernetes_image.as_str()),
            ("0.0.0.0:80", "strata:test")
        );
    }

    fn load_file(file: &Path, env: figment::providers::Env) -> strata_core::Result<StrataConfig> {
        #[derive(Serialize)]
        struct NoFlags {}
        StrataConfig::from_layers(&Layers::load_with_env(Some(file), &StrataConfig::keys(), env, &NoFlags {})?)
    }
}
