//! `strata secret`: the workspace's secrets, which pipelines name in
//! `transform.secrets` and `transform.image_pull_secrets`. Values go in and
//! never come back out.

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow};
use strata_api_types::pps::{PutSecret, SecretInfo, SecretText};

use crate::cli::{GlobalArgs, OutputFormat, SecretCommand};
use crate::commands::pfs::workspace;
use crate::failure::{Failure, internal, user};
use crate::output::{print_record, print_table, say, when};

const HEADERS: [&str; 3] = ["NAME", "KEYS", "UPDATED"];

pub async fn secret(global: &GlobalArgs, command: SecretCommand) -> Result<(), Failure> {
    let ws = workspace(global).await?;
    let format = global.output;
    match command {
        SecretCommand::Create { name, from_literal, from_file, overwrite } => {
            let data = values(&from_literal, &from_file)?;
            let info = ws.secret_put(&name, &PutSecret { data, overwrite }).await?;
            print_secret(format, &info)
        }
        SecretCommand::List => {
            let secrets = ws.secret_list().await?;
            let rows =
                secrets.iter().map(|s| vec![s.name.clone(), s.keys.join(", "), when(Some(&s.updated_at))]).collect();
            print_table(format, &secrets, &HEADERS, rows).map_err(internal)
        }
        SecretCommand::Inspect { name } => print_secret(format, &ws.secret_inspect(&name).await?),
        SecretCommand::Delete { name } => {
            ws.secret_delete(&name).await?;
            if format == OutputFormat::Table {
                say(&format!("deleted secret {name}"));
            }
            Ok(())
        }
    }
}

fn print_secret(format: OutputFormat, info: &SecretInfo) -> Result<(), Failure> {
    let rows = [
        ("name", info.name.clone()),
        ("keys", info.keys.join(", ")),
        ("created", when(Some(&info.created_at))),
        ("updated", when(Some(&info.updated_at))),
    ];
    print_record(format, info, &rows).map_err(internal)
}

/// The values of `--from-literal KEY=VALUE` and `--from-file KEY=PATH`; a
/// key given twice is an error rather than a silent choice.
fn values(literals: &[String], files: &[String]) -> Result<BTreeMap<String, SecretText>, Failure> {
    let mut data = BTreeMap::new();
    let mut add = |key: &str, value: String| {
        if data.insert(key.to_owned(), SecretText(value)).is_some() {
            return Err(user(anyhow!("key {key:?} is given twice; give each key once")));
        }
        Ok(())
    };
    for pair in literals {
        let (key, value) = split(pair, "--from-literal", "KEY=VALUE")?;
        add(key, value.to_owned())?;
    }
    for pair in files {
        let (key, path) = split(pair, "--from-file", "KEY=PATH")?;
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {path} for key {key}")).map_err(user)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            user(anyhow!("{path} is not UTF-8 text; secret values are text (base64-encode binary files)"))
        })?;
        add(key, text)?;
    }
    if data.is_empty() {
        return Err(user(anyhow!("give the secret's values with --from-literal KEY=VALUE or --from-file KEY=PATH")));
    }
    Ok(data)
}

/// Never echoes the value: an error names the flag and the key only.
fn split<'a>(pair: &'a str, flag: &str, shape: &str) -> Result<(&'a str, &'a str), Failure> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        _ => Err(user(anyhow!("{flag} takes {shape} (a key, `=`, then the value)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_files_become_keys_and_mistakes_never_echo_the_value() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "-----BEGIN-----\n").expect("write");
        let data = values(&["password=s3=cret".to_owned()], &[format!("ca.pem={}", file.display())]).expect("values");
        assert_eq!(data["password"].expose(), "s3=cret", "only the first `=` splits");
        assert_eq!(data["ca.pem"].expose(), "-----BEGIN-----\n");
        let Err(Failure::User(error)) = values(&["hunter2".to_owned()], &[]) else { panic!("no `=`") };
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let Err(Failure::User(error)) = values(&["a=1".to_owned(), "a=2".to_owned()], &[]) else { panic!("twice") };
        assert!(error.to_string().contains("twice"), "{error}");
        assert!(values(&[], &[]).is_err(), "a secret needs a value");
    }
}
