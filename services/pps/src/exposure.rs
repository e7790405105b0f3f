//! What a pipeline's task carries of the workspace's secrets: the values
//! its `transform.secrets` name, as variables and files, and the registry
//! credentials of its `image_pull_secrets`. Only the pipeline's own
//! workers receive a task (see docs/security.md).

use secrecy::ExposeSecret;
use strata_api_types::pps::{SecretText, TaskSecrets};

use crate::error::PpsError;
use crate::service::Pps;
use crate::spec::PipelineSpec;

const SECRETS: &str = "transform.secrets";

impl Pps {
    /// The secrets a task of `spec` runs with. A named secret or key that
    /// does not exist is an error naming it.
    pub(crate) async fn task_secrets(&self, spec: &PipelineSpec) -> Result<TaskSecrets, PpsError> {
        let uses = &spec.transform.secrets;
        let mut secrets = TaskSecrets::default();
        if !uses.is_empty() {
            let mut names: Vec<&str> = uses.iter().map(|u| u.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let values = self.secret_values(&names).await?;
            for used in uses {
                let Some(keys) = values.get(&used.name) else {
                    return Err(missing(format!("secret {:?} is not in this workspace", used.name)));
                };
                if let Some(env) = &used.env {
                    let value = keys.get(&env.key).ok_or_else(|| {
                        missing(format!(
                            "secret {:?} has no key {:?}; `strata secret inspect {}` lists its keys",
                            used.name, env.key, used.name
                        ))
                    })?;
                    secrets.env.insert(env.env_var.clone(), SecretText(value.expose_secret().to_owned()));
                }
                if let Some(dir) = &used.mount_path {
                    for (key, value) in keys {
                        let path = format!("{}/{key}", dir.trim_end_matches('/'));
                        secrets.files.insert(path, SecretText(value.expose_secret().to_owned()));
                    }
                }
            }
        }
        let auths = self.pull_auths(spec).await?;
        if !auths.is_empty() {
            secrets.pull_auth = Some(SecretText(auths.to_config_json()));
        }
        Ok(secrets)
    }
}

fn missing(message: String) -> PpsError {
    PpsError::InvalidArgument { field: SECRETS, message }
}
