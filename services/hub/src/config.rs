//! The hub's section of the configuration: how mail leaves, where links
//! point, the operator's plans and the master key (docs/configuration.md).

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use strata_core::config::{MASTER_KEY_ENV, MasterKeySource, SecretUrl, invalid, redact_url};
use url::Url;

use crate::plans::{Catalogue, OrgPlans};
use crate::sso::{Reach, SsoSettings};

/// The hub's keys as written by the user, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HubConfig {
    /// The URL people reach the server at, for links in emails; default:
    /// the listen address (`http://127.0.0.1:<port>` for a wildcard one).
    pub public_url: Option<String>,
    /// `smtps://USER:PASSWORD@HOST:465` or `smtp://...?tls=required`; default:
    /// mail is written to `<data_dir>/outbox/` as JSON files.
    pub smtp_url: Option<String>,
    /// The sender of mail, e.g. `Strata <noreply@example.com>`.
    pub mail_from: String,
    /// The plan the operator gives an organisation, over any it bought:
    /// `ORG=PLAN` entries separated by `,`, e.g. `acme=team,bigco=enterprise`.
    /// Others are on the plan billing grants, else the first.
    pub org_plans: String,
    /// A TOML file of the plans this installation offers (the format of
    /// `crates/plans/plans.toml`); default: free, team and enterprise as
    /// shipped.
    pub plans_file: Option<PathBuf>,
    /// The master key(s) themselves, base64, the encrypting one first
    /// (`STRATA_MASTER_KEY`); never written back out.
    #[serde(serialize_with = "strata_core::config::serialize_secret")]
    pub master_key: Option<SecretString>,
    /// A file holding the master key(s); default
    /// `<data_dir>/keys/master.key`.
    pub master_key_file: Option<PathBuf>,
    /// Which identity providers organisations may connect: `public` (only
    /// issuers on public addresses; the default, so an admin's issuer URL
    /// cannot reach the platform's network) or `any` (also private and
    /// loopback addresses, for an IdP inside the company network).
    pub sso_issuers: String,
    /// The DNS server (`IP:PORT`) that domain verification asks; default:
    /// the system's resolvers.
    pub sso_dns_server: Option<String>,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            smtp_url: None,
            mail_from: "Strata <noreply@strata.localhost>".to_owned(),
            org_plans: String::new(),
            plans_file: None,
            master_key: None,
            master_key_file: None,
            sso_issuers: "public".to_owned(),
            sso_dns_server: None,
        }
    }
}

/// [`HubConfig`] validated, with the plans file read: the master key is
/// loaded and the public URL completed with the bound port when the hub
/// opens.
#[derive(Debug, Clone)]
pub struct HubStartSettings {
    pub mail: MailSettings,
    /// The plans this installation offers.
    pub plans: std::sync::Arc<Catalogue>,
    /// The plan each listed organisation may use (others: the first).
    pub org_plans: OrgPlans,
    /// What the hub encrypts its signing keys and service secrets with.
    pub master_key: MasterKeySource,
    /// How identity providers and DNS are reached.
    pub sso: SsoSettings,
}

/// Where links point and how mail leaves.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Base of links in emails; `None`: derived from the listen address.
    pub public_url: Option<Url>,
    /// `None`: the data directory's outbox.
    pub smtp: Option<SecretUrl>,
    pub from: String,
}

impl HubConfig {
    /// Validates every value; the master key file defaults to one in `data_dir`.
    pub fn resolve(&self, data_dir: &Path) -> strata_core::Result<HubStartSettings> {
        let plans = match &self.plans_file {
            Some(path) => Catalogue::load(path).map_err(|error| invalid("plans_file", error.to_string()))?,
            None => Catalogue::built_in(),
        };
        let org_plans = OrgPlans::new(&plans, &parse_org_plans(&self.org_plans)?)
            .map_err(|error| invalid("org_plans", error.to_string()))?;
        Ok(HubStartSettings {
            mail: self.mail_settings()?,
            plans: std::sync::Arc::new(plans),
            org_plans,
            master_key: self.master_key_source(data_dir)?,
            sso: self.sso_settings()?,
        })
    }

    fn sso_settings(&self) -> strata_core::Result<SsoSettings> {
        let reach = match self.sso_issuers.trim() {
            "public" => Reach::PublicOnly,
            "any" => Reach::AllowPrivate,
            other => return Err(invalid("sso_issuers", format!("`{other}` is neither `public` nor `any`"))),
        };
        let dns_server = self
            .sso_dns_server
            .as_deref()
            .map(|text| {
                text.trim()
                    .parse::<std::net::SocketAddr>()
                    .map_err(|_| invalid("sso_dns_server", format!("`{text}` is not IP:PORT, e.g. 10.0.0.2:53")))
            })
            .transpose()?;
        Ok(SsoSettings { reach, dns_server, ..SsoSettings::default() })
    }

    fn mail_settings(&self) -> strata_core::Result<MailSettings> {
        let public_url = self.public_url.as_deref().map(parse_public_url).transpose()?;
        let smtp = self.smtp_url.as_deref().map(parse_smtp_url).transpose()?;
        if !self.mail_from.contains('@') {
            let message = format!("`{}` is not a sender such as `Strata <noreply@example.com>`", self.mail_from);
            return Err(invalid("mail_from", message));
        }
        Ok(MailSettings { public_url, smtp, from: self.mail_from.clone() })
    }

    /// `master_key` or `master_key_file` (one of them), else the default file.
    fn master_key_source(&self, data_dir: &Path) -> strata_core::Result<MasterKeySource> {
        match (&self.master_key, &self.master_key_file) {
            (Some(_), Some(_)) => Err(invalid(
                "master_key",
                format!("set either `master_key` ({MASTER_KEY_ENV}) or `master_key_file`, not both"),
            )),
            (Some(value), None) => Ok(MasterKeySource::Value(value.clone())),
            (None, Some(path)) => Ok(MasterKeySource::File { path: path.clone(), explicit: true }),
            (None, None) => {
                Ok(MasterKeySource::File { path: data_dir.join("keys").join("master.key"), explicit: false })
            }
        }
    }
}

fn parse_public_url(text: &str) -> strata_core::Result<Url> {
    Url::parse(text).ok().filter(|url| matches!(url.scheme(), "http" | "https")).ok_or_else(|| {
        invalid("public_url", format!("`{text}` is not an http(s) URL such as https://strata.example.com"))
    })
}

fn parse_smtp_url(text: &str) -> strata_core::Result<SecretUrl> {
    if !Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "smtp" | "smtps")) {
        return Err(invalid(
            "smtp_url",
            format!(
                "`{}` is not an SMTP URL; use smtps://USER:PASSWORD@HOST:465 or smtp://HOST:587?tls=required",
                redact_url(text)
            ),
        ));
    }
    Ok(SecretUrl::new(text))
}

/// `ORG=PLAN,ORG=PLAN`; [`OrgPlans::new`] checks the plans exist.
fn parse_org_plans(text: &str) -> strata_core::Result<Vec<(String, String)>> {
    text.split([',', ';'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=').map(|(org, plan)| (org.trim(), plan.trim())) {
            Some((org, plan)) if !org.is_empty() && !plan.is_empty() => Ok((org.to_owned(), plan.to_owned())),
            _ => Err(invalid("org_plans", format!("`{entry}` is not ORG=PLAN, e.g. acme=team"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(config: &HubConfig) -> strata_core::Result<HubStartSettings> {
        config.resolve(Path::new(".strata"))
    }

    #[test]
    fn invalid_values_are_rejected_with_their_key() {
        let cases: [(&str, HubConfig); 7] = [
            ("sso_issuers", HubConfig { sso_issuers: "private".into(), ..HubConfig::default() }),
            ("sso_dns_server", HubConfig { sso_dns_server: Some("dns.example.com".into()), ..HubConfig::default() }),
            ("public_url", HubConfig { public_url: Some("strata.example.com".into()), ..HubConfig::default() }),
            ("smtp_url", HubConfig { smtp_url: Some("https://user:hunter2@mail".into()), ..HubConfig::default() }),
            ("mail_from", HubConfig { mail_from: "nobody".into(), ..HubConfig::default() }),
            ("org_plans", HubConfig { org_plans: "acme".into(), ..HubConfig::default() }),
            ("org_plans", HubConfig { org_plans: "acme=platinum".into(), ..HubConfig::default() }),
        ];
        for (key, config) in cases {
            let error = resolve(&config).expect_err(key);
            assert!(error.is_user_error());
            assert!(error.to_string().contains(&format!("`{key}`")), "{key}: {error}");
        }
    }

    #[test]
    fn smtp_passwords_never_appear_in_errors_or_debug_output() {
        let not_smtp =
            HubConfig { smtp_url: Some("https://mailer:hunter2@mail.internal".into()), ..HubConfig::default() };
        let error = resolve(&not_smtp).expect_err("not SMTP");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let smtp =
            HubConfig { smtp_url: Some("smtps://mailer:hunter2@mail.internal:465".into()), ..HubConfig::default() };
        let settings = resolve(&smtp).expect("valid");
        assert!(!format!("{:?}", settings.mail).contains("hunter2"));
    }

    #[test]
    fn the_master_key_comes_from_a_value_or_a_file_never_both() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let settings = resolve(&HubConfig::default()).expect("valid");
        assert!(matches!(
            settings.master_key,
            MasterKeySource::File { ref path, explicit: false } if path == Path::new(".strata/keys/master.key")
        ));
        let value = HubConfig { master_key: Some(SecretString::from(key)), ..HubConfig::default() };
        let settings = resolve(&value).expect("valid");
        assert_eq!(settings.master_key.load().expect("a key").expose().count(), 1);
        assert!(!format!("{settings:?}").contains(key), "the key is not in Debug output");
        let both = HubConfig { master_key_file: Some("/run/secrets/strata-master-key".into()), ..value };
        let error = resolve(&both).expect_err("both");
        assert!(error.to_string().contains("`master_key_file`") && !error.to_string().contains(key), "{error}");
    }
}
