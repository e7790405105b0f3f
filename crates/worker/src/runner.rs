//! Which sandbox runs a task's datums: the process runner's, made when the
//! worker starts, a container made from the task's image (see
//! [`strata_sandbox::container`]), started with the first task of that image
//! and kept for the tasks after it, or the user container of the worker's own
//! pod (see [`strata_sandbox::pod`]).

use strata_api_types::pps::TaskTransform;
use strata_core::error::display_chain;
use strata_sandbox::{
    Confinement, ContainerLimits, ContainerRuntime, ContainerSecrets, DEFAULT_CONTAINER_USER, Isolation, Sandbox,
};

#[derive(Debug)]
pub(super) enum Runner {
    Process(Box<Sandbox>),
    /// The pod's user container, made from `image` by the cluster.
    Pod {
        sandbox: Box<Sandbox>,
        image: String,
    },
    Container {
        runtime: ContainerRuntime,
        confinement: Confinement,
        /// The workspace whose code runs here: names the container's host uids.
        tenant: String,
        current: Option<Box<Running>>,
    },
}

/// The container of one image, user, limits and secrets, or the reason it could not
/// be started.
#[derive(Debug)]
pub(super) struct Running {
    key: ContainerKey,
    sandbox: Sandbox,
    started: bool,
}

/// What a container is made with: a task that needs anything else gets a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContainerKey {
    image: String,
    user: u32,
    limits: ContainerLimits,
    secrets: ContainerSecrets,
}

impl ContainerKey {
    fn of(transform: &TaskTransform) -> ContainerKey {
        let secrets = &transform.secrets;
        ContainerKey {
            image: transform.image.clone(),
            user: transform.user.unwrap_or(DEFAULT_CONTAINER_USER),
            limits: ContainerLimits {
                memory_bytes: transform.limits.memory_bytes,
                millicpus: transform.limits.millicpus,
                pids: None,
                disk_bytes: transform.limits.disk_bytes,
            },
            secrets: ContainerSecrets {
                files: secrets.files.iter().map(|(path, value)| (path.clone(), value.expose().to_owned())).collect(),
                pull_auth: secrets.pull_auth.as_ref().map(|auth| auth.expose().to_owned()),
            },
        }
    }
}

impl Runner {
    /// The sandbox for a task of `transform`: a container of its image with its
    /// limits. A container that cannot be started (an image that cannot be pulled, an
    /// engine that fails) gives a sandbox that fails each datum with the reason; the
    /// next task tries again.
    pub(super) async fn for_task(&mut self, transform: &TaskTransform) -> &Sandbox {
        match self {
            Runner::Process(sandbox) | Runner::Pod { sandbox, .. } => sandbox,
            Runner::Container { runtime, confinement, tenant, current } => {
                let key = ContainerKey::of(transform);
                let running = match current.take() {
                    Some(running) if running.key == key && running.started => running,
                    old => {
                        if let Some(old) = old {
                            old.sandbox.close().await;
                        }
                        Box::new(start(runtime, confinement, tenant, key).await)
                    }
                };
                &current.insert(running).sandbox
            }
        }
    }

    /// Why this worker cannot run a task of `transform` at all: a pod whose user
    /// container is another image than the one the task's job pinned. Such a task is
    /// handed back for a pod of the right image (the provisioner rolls the pods).
    pub(super) fn cannot_run(&self, transform: &TaskTransform) -> Option<String> {
        match self {
            Runner::Pod { image, .. } if *image != transform.image => {
                Some(format!("this pod's user container runs `{image}`, the task's job runs `{}`", transform.image))
            }
            _ => None,
        }
    }

    /// The isolation user code gets.
    pub(super) fn isolation(&self) -> Isolation {
        match self {
            Runner::Process(sandbox) => sandbox.isolation(),
            Runner::Container { .. } | Runner::Pod { .. } => Isolation::Container,
        }
    }

    /// The process runner's sandbox, for the worker's start-up note.
    pub(super) fn process(&self) -> Option<&Sandbox> {
        match self {
            Runner::Process(sandbox) => Some(sandbox),
            Runner::Container { .. } | Runner::Pod { .. } => None,
        }
    }

    /// Stops the sandbox (the helper, or the container).
    pub(super) async fn close(self) {
        match self {
            Runner::Process(sandbox) | Runner::Pod { sandbox, .. } => sandbox.close().await,
            Runner::Container { current, .. } => {
                if let Some(running) = current {
                    running.sandbox.close().await;
                }
            }
        }
    }
}

async fn start(runtime: &ContainerRuntime, confinement: &Confinement, tenant: &str, key: ContainerKey) -> Running {
    let mut spec = runtime.spec(&key.image, tenant, key.user, key.limits.clone());
    spec.secrets = key.secrets.clone();
    let image = key.image.as_str();
    match Sandbox::start_container(&spec, confinement).await {
        Ok(sandbox) => {
            tracing::info!(image, user = key.user, "container started");
            Running { key, sandbox, started: true }
        }
        Err(error) => {
            let reason = format!("cannot start a container of `{image}`: {}", display_chain(&error));
            tracing::error!(%reason, "container not started; the task's datums fail with this reason");
            Running { key, sandbox: Sandbox::refusing(reason), started: false }
        }
    }
}
