//! `strata deploy render`: the hub's Kubernetes objects.

use anyhow::anyhow;
use strata_provisioner::kubernetes::hub::{HubManifest, Replicas, to_yaml};

use crate::cli::{DeployRenderArgs, GlobalArgs, OutputFormat};
use crate::failure::{Failure, internal, user};
use crate::output::print_text;

pub fn render(global: &GlobalArgs, args: &DeployRenderArgs) -> Result<(), Failure> {
    let manifest = manifest(args)?;
    let objects = manifest.render();
    match global.output {
        OutputFormat::Json => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
            let text = serde_json::to_string_pretty(&list).map_err(|e| internal(anyhow!(e)))?;
            print_text(&format!("{text}\n"));
        }
        OutputFormat::Table => {
            let header = format!(
                "The Strata hub, rendered by `strata deploy render` {}.\nApply with `kubectl apply --server-side -f`; see docs/deploy.md.",
                env!("CARGO_PKG_VERSION")
            );
            print_text(&to_yaml(&header, &objects).map_err(|e| internal(anyhow!(e)))?);
        }
    }
    Ok(())
}

/// The flags as a manifest, refusing what a cluster would refuse later.
fn manifest(args: &DeployRenderArgs) -> Result<HubManifest, Failure> {
    if args.api_min_replicas == 0 || args.api_min_replicas > args.api_max_replicas {
        return Err(user(anyhow!(
            "--api-min-replicas ({}) must be at least 1 and at most --api-max-replicas ({})",
            args.api_min_replicas,
            args.api_max_replicas
        )));
    }
    for (flag, name) in [("--namespace", &args.namespace), ("--config-secret", &args.config_secret)] {
        if !is_dns_label(name) {
            return Err(user(anyhow!(
                "{flag} {name:?} is not a Kubernetes name: lower-case letters, digits and '-', at most 63"
            )));
        }
    }
    if args.image.trim().is_empty() || args.image.contains(char::is_whitespace) {
        return Err(user(anyhow!("--image {:?} is not an image reference", args.image)));
    }
    Ok(HubManifest {
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        config_secret: args.config_secret.clone(),
        host: args.host.clone(),
        ingress_class: args.ingress_class.clone(),
        tls_secret: args.tls_secret.clone(),
        api_replicas: Replicas { min: args.api_min_replicas, max: args.api_max_replicas },
        monitoring_namespace: args.monitoring_namespace.clone(),
    })
}

fn is_dns_label(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&name.len())
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
}
