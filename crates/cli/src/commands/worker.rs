//! `strata worker`: runs one pipeline's datums until Ctrl-C.

use anyhow::{Context as _, anyhow};
use strata_core::config::{LogFormat, LogSettings};
use strata_sandbox::HelperCommand;
use strata_sandbox::config::SandboxConfig;
use strata_worker::{PodRunner, RunnerKind, WorkerConfig, default_worker_id};

use crate::cli::{GlobalArgs, WorkerArgs};
use crate::commands::pfs::workspace;
use crate::failure::{Failure, internal, user};

pub async fn run(global: &GlobalArgs, args: WorkerArgs) -> Result<(), Failure> {
    let pod = pod_runner(&args)?;
    let sandbox = SandboxConfig {
        // A pod's worker starts nothing itself; the rest of the settings still checks.
        runner: if pod.is_some() { "process".to_owned() } else { args.runner.clone() },
        sandbox: args.isolation.clone(),
        sandbox_helper: None,
        container_engine: args.container_engine.clone(),
        containers_conf: args.containers_conf.clone(),
        container_helper: args.container_helper.clone(),
        insecure_registries: args.insecure_registries.clone(),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox.resolve().map_err(|(key, error)| {
        // The server's `sandbox` key is this command's `--isolation`.
        let flag = if key == "sandbox" { "isolation" } else { key };
        user(anyhow!("--{}: {error}", flag.replace('_', "-")))
    })?;
    let ws = workspace(global).await?;
    let logging = LogSettings { format: LogFormat::Pretty, filter: "info".to_owned() };
    let _logging = strata_core::telemetry::init_logging(&logging, "strata-worker")?;
    let stop = strata_core::shutdown::on_signal().context("cannot listen for signals").map_err(internal)?;
    if args.supervised {
        tokio::spawn(stop_when_stdin_closes(stop.clone()));
    }
    // The sandbox helper is this very binary, run as `strata __sandbox`.
    let program = std::env::current_exe().context("cannot find the strata executable").map_err(internal)?;
    let mut config = WorkerConfig::new(ws, &args.pipeline, HelperCommand::new(&program).arg("__sandbox"));
    config.isolation = sandbox.isolation;
    config.runner = match (args.refuse, pod, sandbox.containers) {
        (Some(reason), _, _) => RunnerKind::Refused(reason),
        (None, Some(pod), _) => RunnerKind::Pod(pod),
        (None, None, Some(containers)) => RunnerKind::Container(containers.runtime(Some(&program))),
        (None, None, None) => RunnerKind::Process,
    };
    if let Some(tenant) = args.tenant {
        config.tenant = tenant;
    }
    config.worker_id = args.id.unwrap_or_else(default_worker_id);
    if let Some(scratch) = args.scratch {
        config.scratch_dir = scratch;
    }
    strata_worker::run(config, stop).await.map_err(|error| match error.is_user_error() {
        true => user(error),
        false => internal(error),
    })
}

/// `--runner pod`: the user container next to this worker in its pod, which
/// needs the image that container was made from.
fn pod_runner(args: &WorkerArgs) -> Result<Option<PodRunner>, Failure> {
    if args.runner != "pod" {
        return Ok(None);
    }
    let image = args.pod_image.clone().filter(|image| !image.is_empty()).ok_or_else(|| {
        user(anyhow!("--runner pod needs --pod-image: the image of the pod's user container, as the pod names it"))
    })?;
    Ok(Some(PodRunner { socket: args.helper_socket.clone(), image }))
}

/// A supervised worker's parent holds its standard input open; when the
/// parent goes (even by SIGKILL) the pipe closes and the worker stops.
async fn stop_when_stdin_closes(stop: tokio_util::sync::CancellationToken) {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
    tracing::info!("the provisioner went away; stopping");
    stop.cancel();
}
