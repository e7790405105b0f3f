//! Which sandbox runs a task's datums: the process runner's, made when the
//! worker starts, or a container made from the task's image (see
//! [`strata_sandbox::container`]), started with the first task of that image
//! and kept for the tasks after it.

use strata_api_types::pps::TaskTransform;
use strata_core::error::display_chain;
use strata_sandbox::{Confinement, ContainerLimits, ContainerRuntime, DEFAULT_CONTAINER_USER, Isolation, Sandbox};

#[derive(Debug)]
pub(super) enum Runner {
    Process(Box<Sandbox>),
    Container {
        runtime: ContainerRuntime,
        confinement: Confinement,
        /// The workspace whose code runs here: names the container's host uids.
        tenant: String,
        current: Option<Box<Running>>,
    },
}

/// The container of one image and its limits, or the reason it could not be started.
#[derive(Debug)]
pub(super) struct Running {
    image: String,
    limits: ContainerLimits,
    sandbox: Sandbox,
    started: bool,
}

impl Runner {
    /// The sandbox for a task of `transform`: a container of its image with its
    /// limits. A container that cannot be started (an image that cannot be pulled, an
    /// engine that fails) gives a sandbox that fails each datum with the reason; the
    /// next task tries again.
    pub(super) async fn for_task(&mut self, transform: &TaskTransform) -> &Sandbox {
        match self {
            Runner::Process(sandbox) => sandbox,
            Runner::Container { runtime, confinement, tenant, current } => {
                let image = transform.image.as_str();
                let limits = ContainerLimits {
                    memory_bytes: transform.limits.memory_bytes,
                    millicpus: transform.limits.millicpus,
                    pids: None,
                };
                let running = match current.take() {
                    Some(running) if running.image == image && running.limits == limits && running.started => running,
                    old => {
                        if let Some(old) = old {
                            old.sandbox.close().await;
                        }
                        Box::new(start(runtime, confinement, tenant, image, limits).await)
                    }
                };
                &current.insert(running).sandbox
            }
        }
    }

    /// The isolation user code gets.
    pub(super) fn isolation(&self) -> Isolation {
        match self {
            Runner::Process(sandbox) => sandbox.isolation(),
            Runner::Container { .. } => Isolation::Container,
        }
    }

    /// The process runner's sandbox, for the worker's start-up note.
    pub(super) fn process(&self) -> Option<&Sandbox> {
        match self {
            Runner::Process(sandbox) => Some(sandbox),
            Runner::Container { .. } => None,
        }
    }

    /// Stops the sandbox (the helper, or the container).
    pub(super) async fn close(self) {
        match self {
            Runner::Process(sandbox) => sandbox.close().await,
            Runner::Container { current, .. } => {
                if let Some(running) = current {
                    running.sandbox.close().await;
                }
            }
        }
    }
}

async fn start(
    runtime: &ContainerRuntime,
    confinement: &Confinement,
    tenant: &str,
    image: &str,
    limits: ContainerLimits,
) -> Running {
    let spec = runtime.spec(image, tenant, DEFAULT_CONTAINER_USER, limits.clone());
    match Sandbox::start_container(&spec, confinement).await {
        Ok(sandbox) => {
            tracing::info!(image, "container started");
            Running { image: image.to_owned(), limits, sandbox, started: true }
        }
        Err(error) => {
            let reason = format!("cannot start a container of `{image}`: {}", display_chain(&error));
            tracing::error!(%reason, "container not started; the task's datums fail with this reason");
            Running { image: image.to_owned(), limits, sandbox: Sandbox::refusing(reason), started: false }
        }
    }
}
