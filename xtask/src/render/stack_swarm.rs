//! `docker-stack.staging.yml`: the same services as the compose file, for Docker Swarm
//! (`docker stack deploy`). Rolling updates start-first with automatic rollback, gated on the
//! healthchecks; secrets as swarm secrets (files under /run/secrets), never environment
//! values; stateful services pinned to a labelled node; the API's replicas from the config.
//! Every service uses `endpoint_mode: dnsrr` and public ports in `mode: host`: that works with
//! and without IPVS in the kernel (the VIP and the ingress mesh need IPVS); Caddy resolves the
//! API's tasks by name at each new connection.

use std::fmt::Write;

use super::compose::{flow_list as flow, resources, scalar, service_networks, val};
use crate::stack::{Mount, Proto, Service, Stack, Val};

/// Is `var` a secret of the stack (the API's env contract, else the name-based default)?
fn is_secret(stack: &Stack, var: &str) -> bool {
    stack.contract.is_secret(var)
}

/// The swarm secret holding `var`'s value.
pub fn secret_name(var: &str) -> String {
    var.to_ascii_lowercase()
}

/// Every secret variable of the stack, sorted (the files `deploy --swarm` writes under
/// `secrets/` on the host from the env file).
pub fn secret_vars(stack: &Stack) -> Vec<String> {
    let mut v: Vec<String> = stack
        .compose
        .services
        .iter()
        .flat_map(|s| s.environment.iter())
        .filter_map(|(_, v)| match v {
            Val::Required { var, .. } if is_secret(stack, var) => Some(var.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Loads every file under /run/secrets into the environment (name = file name).
const LOAD: &str =
    "for f in /run/secrets/*; do [ -f \"$$f\" ] && export \"$${f##*/}=$$(cat \"$$f\")\"; done; ";

/// What the container runs when the service names nothing itself: the images' own defaults
/// for the services whose secrets are loaded by a wrapper.
fn default_argv(svc: &Service, stack: &Stack) -> Option<Vec<String>> {
    if !svc.entrypoint.is_empty() || !svc.command.is_empty() {
        return Some(svc.entrypoint.iter().chain(&svc.command).cloned().collect());
    }
    match svc.name.as_str() {
        "api" => Some(vec!["node".into(), stack.image.entry.clone()]),
        "postgres" => Some(vec!["docker-entrypoint.sh".into(), "postgres".into()]),
        _ => None,
    }
}

fn is_stateful(svc: &Service) -> bool {
    svc.volumes
        .iter()
        .any(|m| matches!(m, Mount::Volume { .. }))
        && svc.name != "caddy"
}

/// The top-level objects the services refer to, gathered while they are written.
#[derive(Default)]
struct Objects {
    /// The Caddyfile is mounted: the `caddyfile` config.
    uses_config: bool,
    /// (secret name, file under certs/) of the origin certificate and key.
    cert_secrets: Vec<(String, String)>,
}

/// What a service mounts, in the stack's terms.
struct Mounts {
    /// (secret, target): the variables' secrets and the certificate files.
    secrets: Vec<(String, String)>,
    /// (config, target).
    configs: Vec<(String, String)>,
    volumes: Vec<String>,
}

pub fn render(stack: &Stack) -> String {
    let c = &stack.compose;
    let mut s = String::new();
    let w = &mut s;
    header(w, stack);
    let mut objects = Objects::default();
    for (i, svc) in c.services.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(w);
        }
        service(w, stack, svc, &mut objects);
    }
    let _ = writeln!(w);
    if !c.networks.is_empty() {
        let _ = writeln!(w, "networks:");
        for n in &c.networks {
            let _ = writeln!(w, "  {}:", scalar(n));
            let _ = writeln!(w, "    driver: overlay");
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "volumes:");
    for v in &c.volumes {
        let _ = writeln!(w, "  {v}: {{}}");
    }
    secrets_and_configs(w, stack, objects);
    s
}

/// The opening comment, the logging anchor and `services:`.
fn header(w: &mut String, stack: &Stack) {
    let c = &stack.compose;
    let p = &c.project;
    let _ = writeln!(
        w,
        "# Docker Swarm: docker stack deploy -c docker-stack.staging.yml {p}"
    );
    let _ = writeln!(w, "# (`cargo xtask deploy --swarm` writes secrets/ and waits until the update converged healthy).");
    let _ = writeln!(w, "# Updates roll start-first, one task at a time, gated on the healthchecks; a failed update");
    let _ = writeln!(
        w,
        "# rolls back by itself. Secrets are swarm secrets (files in /run/secrets loaded into the"
    );
    let _ = writeln!(
        w,
        "# environment by the entrypoint), never environment values. Stateful services run only on"
    );
    let _ = writeln!(w, "# the node labelled {}=true. endpoint_mode dnsrr and host-mode ports work with and without", stack.swarm.stateful_label);
    let _ = writeln!(w, "# IPVS in the kernel (VIPs and the ingress mesh need it); Caddy resolves the API's tasks by name.");
    let _ = writeln!(w, "version: \"3.8\"");
    let _ = writeln!(w);
    let _ = writeln!(w, "x-logging: &logging");
    let _ = writeln!(w, "  driver: {}", scalar(&c.logging.driver));
    let _ = writeln!(w, "  options:");
    let _ = writeln!(w, "    max-size: {}", scalar(&c.logging.max_size));
    let _ = writeln!(w, "    max-file: \"{}\"", c.logging.max_file);
    let _ = writeln!(w);
    let _ = writeln!(w, "services:");
}

/// One service: its secret variables become swarm secrets, loaded into the environment by a
/// wrapper entrypoint where the service's command is known (else `<VAR>_FILE` references).
fn service(w: &mut String, stack: &Stack, svc: &Service, objects: &mut Objects) {
    let secrets: Vec<(String, String)> = svc
        .environment
        .iter()
        .filter_map(|(k, v)| match v {
            Val::Required { var, .. } if is_secret(stack, var) => {
                Some((secret_name(var), k.clone()))
            }
            _ => None,
        })
        .collect();
    let argv = default_argv(svc, stack);
    let wrapped = !secrets.is_empty() && argv.is_some();
    let _ = writeln!(w, "  {}:", svc.name);
    let _ = writeln!(w, "    image: {}", scalar(&svc.image));
    if svc.init {
        let _ = writeln!(w, "    init: true");
    }
    let _ = writeln!(w, "    logging: *logging");
    if wrapped {
        let mut e = vec![
            "sh".to_string(),
            "-c".into(),
            format!("{LOAD}exec \"$$@\""),
            "sh".into(),
        ];
        e.extend(argv.clone().unwrap_or_default());
        let _ = writeln!(w, "    entrypoint: {}", flow(&e));
    } else {
        if !svc.entrypoint.is_empty() {
            let _ = writeln!(w, "    entrypoint: {}", flow(&svc.entrypoint));
        }
        if !svc.command.is_empty() {
            let _ = writeln!(w, "    command: {}", flow(&svc.command));
        }
    }
    environment(w, stack, svc, &secrets, wrapped);
    let mounts = mounts(stack, svc, &secrets, objects);
    let public: Vec<_> = svc.ports.iter().filter(|p| p.host_ip.is_none()).collect();
    if !public.is_empty() {
        let _ = writeln!(w, "    ports:");
        for p in &public {
            let proto = match p.proto {
                Proto::Tcp => "tcp",
                Proto::Udp => "udp",
            };
            let _ = writeln!(
                w,
                "      - {{ target: {}, published: {}, protocol: {proto}, mode: host }}",
                p.container, p.host
            );
        }
    }
    if !mounts.volumes.is_empty() {
        let _ = writeln!(w, "    volumes:");
        for v in &mounts.volumes {
            let _ = writeln!(w, "      - {}", scalar(v));
        }
    }
    for (key, list) in [("secrets", &mounts.secrets), ("configs", &mounts.configs)] {
        if !list.is_empty() {
            let _ = writeln!(w, "    {key}:");
            for (src, target) in list {
                let _ = writeln!(w, "      - source: {src}");
                let _ = writeln!(w, "        target: {}", scalar(target));
            }
        }
    }
    if let Some(h) = &svc.healthcheck {
        let test: Vec<String> =
            if wrapped && h.test.first().map(String::as_str) == Some("CMD-SHELL") {
                vec![
                    "CMD-SHELL".into(),
                    format!("{LOAD}{}", h.test[1..].join(" ")),
                ]
            } else {
                h.test.clone()
            };
        let _ = writeln!(w, "    healthcheck:");
        let _ = writeln!(w, "      test: {}", flow(&test));
        let _ = writeln!(w, "      interval: {}", h.interval);
        let _ = writeln!(w, "      timeout: {}", h.timeout);
        let _ = writeln!(w, "      retries: {}", h.retries);
        let _ = writeln!(w, "      start_period: {}", h.start_period);
    }
    deploy(w, stack, svc, !public.is_empty());
}

/// `environment:`: the service's values without its secrets, or `<VAR>_FILE` references to
/// them when no wrapper loads them.
fn environment(
    w: &mut String,
    stack: &Stack,
    svc: &Service,
    secrets: &[(String, String)],
    wrapped: bool,
) {
    let env: Vec<&(String, Val)> = svc
        .environment
        .iter()
        .filter(|(_, v)| !matches!(v, Val::Required { var, .. } if is_secret(stack, var)))
        .collect();
    let file_refs: Vec<(String, String)> = if wrapped {
        Vec::new()
    } else {
        secrets
            .iter()
            .map(|(_, k)| (format!("{k}_FILE"), format!("/run/secrets/{k}")))
            .collect()
    };
    if !env.is_empty() || !file_refs.is_empty() {
        let _ = writeln!(w, "    environment:");
        for (k, v) in env {
            let _ = writeln!(w, "      {k}: {}", val(v));
        }
        for (k, v) in &file_refs {
            let _ = writeln!(w, "      {k}: {}", scalar(v));
        }
    }
}

/// The service's mounts: volumes stay, the Caddyfile becomes a config, the certificate
/// directory the origin certificate's and key's secrets (noted in `objects`).
fn mounts(
    stack: &Stack,
    svc: &Service,
    secrets: &[(String, String)],
    objects: &mut Objects,
) -> Mounts {
    let mut m = Mounts {
        secrets: secrets.to_vec(),
        configs: Vec::new(),
        volumes: Vec::new(),
    };
    for mount in &svc.volumes {
        match mount {
            Mount::Volume { name, target } => m.volumes.push(format!("{name}:{target}")),
            Mount::Bind { source, target, .. } if source.ends_with("Caddyfile") => {
                objects.uses_config = true;
                m.configs.push(("caddyfile".into(), target.clone()));
            }
            Mount::Bind { source, target, .. } if source.ends_with("certs") => {
                for (name, file) in [
                    ("origin_cert", stack.caddy.cert.clone()),
                    ("origin_key", stack.caddy.key.clone()),
                ] {
                    let base = file.rsplit('/').next().unwrap_or(&file).to_string();
                    objects.cert_secrets.push((name.to_string(), base.clone()));
                    m.secrets
                        .push((name.to_string(), format!("{target}/{base}")));
                }
            }
            Mount::Bind {
                source,
                target,
                read_only,
            } => m.volumes.push(format!(
                "{source}:{target}{}",
                if *read_only { ":ro" } else { "" }
            )),
        }
    }
    m
}

/// `deploy:` (and the networks): a job for a one-shot; else replicas, the rolling update and
/// its rollback, the restart policy, the stateful node, the limits.
fn deploy(w: &mut String, stack: &Stack, svc: &Service, public_ports: bool) {
    let sw = &stack.swarm;
    let stateful = is_stateful(svc);
    // Two tasks cannot share a volume or a host port: those stop before they start.
    let order = if stateful || public_ports {
        "stop-first"
    } else {
        "start-first"
    };
    let replicas = if svc.name == "api" {
        sw.api_replicas
    } else {
        1
    };
    let _ = writeln!(w, "    deploy:");
    if svc.one_shot {
        // A one-shot (the migration): a Swarm job, run to completion once per deploy.
        let _ = writeln!(w, "      mode: replicated-job");
        let _ = writeln!(w, "      restart_policy:");
        let _ = writeln!(w, "        condition: on-failure");
        let _ = writeln!(w, "        max_attempts: 3");
        if !svc.networks.is_empty() {
            let _ = writeln!(w, "    networks:");
            for n in &svc.networks {
                let _ = writeln!(w, "      - {}", scalar(n));
            }
        }
        return;
    }
    let _ = writeln!(w, "      replicas: {replicas}");
    let _ = writeln!(w, "      endpoint_mode: dnsrr");
    let _ = writeln!(w, "      update_config:");
    let _ = writeln!(w, "        parallelism: 1");
    let _ = writeln!(w, "        delay: 5s");
    let _ = writeln!(w, "        order: {order}");
    let _ = writeln!(w, "        failure_action: rollback");
    let _ = writeln!(w, "        monitor: 30s");
    let _ = writeln!(w, "      rollback_config:");
    let _ = writeln!(w, "        parallelism: 1");
    let _ = writeln!(w, "        order: {order}");
    let _ = writeln!(w, "      restart_policy:");
    let _ = writeln!(w, "        condition: any");
    let _ = writeln!(w, "        delay: 5s");
    if stateful {
        let _ = writeln!(w, "      placement:");
        let _ = writeln!(w, "        constraints:");
        let _ = writeln!(w, "          - node.labels.{} == true", sw.stateful_label);
    }
    if let Some(l) = &svc.limits {
        resources(w, l);
    }
    service_networks(w, &svc.networks);
}

/// The top-level `secrets:` and `configs:`. Secrets and configs cannot change in place: each
/// name carries a digest of its content (`deploy --swarm` sets XTASK_DIGEST_<NAME>), so a new
/// value is a new object.
fn secrets_and_configs(w: &mut String, stack: &Stack, mut objects: Objects) {
    let p = &stack.compose.project;
    let _ = writeln!(w);
    let _ = writeln!(w, "secrets:");
    let mut object = |n: &str, file: String| {
        let _ = writeln!(w, "  {n}:");
        let _ = writeln!(
            w,
            "    name: {}",
            scalar(&format!(
                "{p}_{n}_${{XTASK_DIGEST_{}:-0}}",
                n.to_ascii_uppercase()
            ))
        );
        let _ = writeln!(w, "    file: {}", scalar(&file));
    };
    for var in secret_vars(stack) {
        object(&secret_name(&var), format!("./secrets/{var}"));
    }
    objects.cert_secrets.sort();
    objects.cert_secrets.dedup();
    for (n, file) in &objects.cert_secrets {
        object(n, format!("./certs/{file}"));
    }
    if objects.uses_config {
        let _ = writeln!(w);
        let _ = writeln!(w, "configs:");
        let _ = writeln!(w, "  caddyfile:");
        let _ = writeln!(
            w,
            "    name: {}",
            scalar(&format!("{p}_caddyfile_${{XTASK_DIGEST_CADDYFILE:-0}}"))
        );
        let _ = writeln!(w, "    file: ./Caddyfile");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_the_contracts() {
        let mono = crate::testutil::cipherbox_like();
        let stack = mono.model().expect("model").stack;
        for v in [
            "DB_PASSWORD",
            "REDIS_PASSWORD",
            "TEE_WORKER_SECRET",
            "API_TOKEN",
            "JWT_KEY",
        ] {
            assert!(is_secret(&stack, v), "{v}");
        }
        for v in ["DB_USERNAME", "DB_DATABASE", "TAG", "IMAGE_OWNER"] {
            assert!(!is_secret(&stack, v), "{v}");
        }
    }
}
