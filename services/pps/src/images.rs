//! Pins each job's image to a digest before its datums are queued: the
//! job then runs, and is re-run, on exactly that image even if its tag
//! moves (see docs/pps.md, "Containers").

use secrecy::ExposeSecret;
use strata_registry::{DockerAuths, ImageRef};

use crate::error::PpsError;
use crate::meta::JobRow;
use crate::service::{ImagePinning, Pps};
use crate::spec::PipelineSpec;

/// The secret key a pull secret keeps its Docker `config.json` under, as
/// in a Kubernetes `kubernetes.io/dockerconfigjson` secret.
pub const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";

const PULL_SECRETS: &str = "transform.image_pull_secrets";

/// Where pinning left a starting job.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pinned {
    /// The job may be planned: its image is pinned, or pinning is off.
    Ready,
    /// The image cannot be pinned and will not be on another try; the job fails.
    Failed(String),
    /// The registry could not be asked now; the job stays STARTING with this reason.
    Later(String),
}

impl Pps {
    /// Pins `job`'s image unless it already is (a restarted master, or a
    /// job planned again) or pinning is off.
    pub(crate) async fn pin_image(&self, spec: &PipelineSpec, job: &JobRow) -> Result<Pinned, PpsError> {
        let ImagePinning::Pin(registries) = &self.inner.settings.images else { return Ok(Pinned::Ready) };
        if job.image.is_some() {
            return Ok(Pinned::Ready);
        }
        let written = &spec.transform.image;
        let image = match ImageRef::parse(written) {
            Ok(image) => image,
            Err(error) => return Ok(Pinned::Failed(format!("transform.image: {error}"))),
        };
        let auths = match self.pull_auths(spec).await {
            Ok(auths) => auths,
            Err(error @ (PpsError::NotFound { .. } | PpsError::InvalidArgument { .. })) => {
                return Ok(Pinned::Failed(error.to_string()));
            }
            Err(other) => return Err(other),
        };
        match registries.resolve(&image, &auths).await {
            Ok(digest) => {
                let pinned = image.pinned(&digest);
                self.meta().job_set_image(&job.pipeline, &job.id, &pinned).await?;
                self.log(&job.pipeline, Some(&job.id), format!("image {written} is {pinned}")).await;
                Ok(Pinned::Ready)
            }
            Err(error) if error.is_transient() => Ok(Pinned::Later(format!("waiting to pin image {written}: {error}"))),
            Err(error) => Ok(Pinned::Failed(format!("image {written}: {error}"))),
        }
    }

    /// The registry credentials of the spec's `image_pull_secrets`, merged
    /// in the order the spec names them.
    pub(crate) async fn pull_auths(&self, spec: &PipelineSpec) -> Result<DockerAuths, PpsError> {
        let names = &spec.transform.image_pull_secrets;
        let mut auths = DockerAuths::default();
        if names.is_empty() {
            return Ok(auths);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let values = self.secret_values(&refs).await?;
        for name in names {
            let config = values.get(name).and_then(|keys| keys.get(DOCKER_CONFIG_KEY)).ok_or_else(|| {
                PpsError::InvalidArgument {
                    field: PULL_SECRETS,
                    message: format!(
                        "secret {name:?} has no key {DOCKER_CONFIG_KEY:?}; make it with \
                         `strata secret create {name} --from-file {DOCKER_CONFIG_KEY}=$HOME/.docker/config.json`"
                    ),
                }
            })?;
            let parsed = DockerAuths::parse(config.expose_secret()).map_err(|e| PpsError::InvalidArgument {
                field: PULL_SECRETS,
                message: format!("secret {name:?}: {e}"),
            })?;
            auths.merge(parsed);
        }
        Ok(auths)
    }
}
