//! Rules on `infra/docker-compose.staging.yml`: meaning from `serde_yaml`, lines from
//! [`crate::parse::yaml`].

use serde_yaml::Value;

use super::{is_local_host, split_image, unpinned, ComposeDoc, Input, Out, Rule};
use crate::parse::yaml::Seg;
use crate::stack::COMPOSE as F;

pub const RULES: &[Rule] = &[
    Rule {
        id: "compose/yaml",
        file: F,
        rationale: "the compose file is valid YAML (every other compose rule reads it)",
        check: yaml,
    },
    Rule {
        id: "compose/services",
        file: F,
        rationale: "the stack has api, caddy and every service of project.services (default: postgres, redis, ipfs, tee-worker)",
        check: services,
    },
    Rule {
        id: "compose/api-image",
        file: F,
        rationale: "the api service runs the API image (api.image, e.g. cipherbox-api), not something else",
        check: api_image,
    },
    Rule {
        id: "compose/port-loopback",
        file: F,
        rationale: "only 80, 443 and the IPFS swarm port 4001 are public; every other published port binds 127.0.0.1",
        check: port_loopback,
    },
    Rule {
        id: "compose/image-pinned",
        file: F,
        rationale: "third-party images carry a tag other than latest (or a digest): a redeploy does not change them silently",
        check: image_pinned,
    },
    Rule {
        id: "compose/depends-healthy",
        file: F,
        rationale: "`condition: service_healthy` only on services with a healthcheck, otherwise `up` waits forever",
        check: depends_healthy,
    },
    Rule {
        id: "compose/volumes-declared",
        file: F,
        rationale: "every named volume a service mounts is declared under the top-level `volumes:`",
        check: volumes_declared,
    },
    Rule {
        id: "compose/secrets-required",
        file: F,
        rationale: "secrets (PASSWORD|SECRET|TOKEN|KEY) come only from `${X:?message}`: never literal, never silently empty",
        check: secrets_required,
    },
    Rule {
        id: "compose/service-urls",
        file: F,
        rationale: "services reach each other by service name; localhost inside a container is the container itself, and a public URL or origin is the site's (lists are read item by item)",
        check: service_urls,
    },
    Rule {
        id: "compose/caddy-mounts",
        file: F,
        rationale: "the Caddyfile and the certificates are bind-mounted into caddy read-only",
        check: caddy_mounts,
    },
    Rule {
        id: "compose/no-docker-socket",
        file: F,
        rationale: "no service mounts the Docker socket, not even read-only: whoever reaches it controls the engine, i.e. is root on the host",
        check: no_docker_socket,
    },
];

pub const SERVICES: &[&str] = &["api", "postgres", "redis", "ipfs", "tee-worker", "caddy"];

/// Public host ports besides the configured ones.
const PUBLIC: &[u16] = &[80, 443, 4001];

pub fn k(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

pub fn ix(n: usize) -> Seg {
    Seg::Index(n)
}

impl ComposeDoc {
    /// (name, definition) of every service, in file order.
    pub fn services(&self) -> Vec<(String, &Value)> {
        self.value
            .get("services")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn service(&self, name: &str) -> Option<&Value> {
        self.value.get("services").and_then(|s| s.get(name))
    }

    /// `environment:` of a service as (key, value, path), map or list form.
    pub fn environment(&self, svc: &str) -> Vec<(String, Option<String>, Vec<Seg>)> {
        let base = vec![k("services"), k(svc), k("environment")];
        let Some(env) = self.service(svc).and_then(|s| s.get("environment")) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(m) = env.as_mapping() {
            for (key, v) in m {
                let Some(key) = key.as_str() else { continue };
                let mut p = base.clone();
                p.push(k(key));
                out.push((key.to_string(), scalar(v), p));
            }
        } else if let Some(seq) = env.as_sequence() {
            for (n, item) in seq.iter().enumerate() {
                let Some(s) = item.as_str() else { continue };
                let mut p = base.clone();
                p.push(ix(n));
                match s.split_once('=') {
                    Some((key, v)) => out.push((key.to_string(), Some(v.to_string()), p)),
                    None => out.push((s.to_string(), None, p)),
                }
            }
        }
        out
    }

    /// The `volumes:` entries of a service as (source, target, read_only, is_bind, path).
    pub fn mounts(&self, svc: &str) -> Vec<Mount> {
        let Some(seq) = self
            .service(svc)
            .and_then(|s| s.get("volumes"))
            .and_then(Value::as_sequence)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (n, item) in seq.iter().enumerate() {
            let path = vec![k("services"), k(svc), k("volumes"), ix(n)];
            if let Some(s) = item.as_str() {
                let parts: Vec<&str> = s.split(':').collect();
                let (source, target, mode) = match parts.as_slice() {
                    [t] => (None, t.to_string(), ""),
                    [s, t] => (Some(s.to_string()), t.to_string(), ""),
                    [s, t, m, ..] => (Some(s.to_string()), t.to_string(), *m),
                    [] => continue,
                };
                let bind = source
                    .as_deref()
                    .is_some_and(|s| s.starts_with(['.', '/', '~', '$']));
                let read_only = mode.split(',').any(|m| m == "ro");
                out.push(Mount {
                    source,
                    target,
                    read_only,
                    bind,
                    path,
                });
            } else if item.as_mapping().is_some() {
                let get = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
                let bind = get("type").as_deref() == Some("bind");
                let read_only = item
                    .get("read_only")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                out.push(Mount {
                    source: get("source"),
                    target: get("target").unwrap_or_default(),
                    read_only,
                    bind,
                    path,
                });
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub bind: bool,
    pub path: Vec<Seg>,
}

/// A scalar as text (numbers and booleans too); `None` for null and collections.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn yaml(i: &Input, o: &mut Out) {
    if let Some((line, msg)) = &i.compose_error {
        o.at(F, *line, format!("not valid YAML: {msg}"));
    }
}

fn services(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let have: Vec<String> = c.services().into_iter().map(|(n, _)| n).collect();
    let line = c.line(&[k("services")]);
    let cfg = &i.model.config;
    let want: Vec<&str> = std::iter::once("api")
        .chain(cfg.services.iter().map(String::as_str))
        .chain(std::iter::once("caddy"))
        .collect();
    for s in &want {
        if !have.iter().any(|h| h == s) {
            o.at(
                F,
                line,
                format!(
                    "service `{s}` is missing (the stack needs {}: api, caddy and project.services)",
                    want.join(", ")
                ),
            );
        }
    }
}

fn api_image(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let Some(api) = c.service("api") else { return };
    let want = &i.model.config.api.image;
    let Some(image) = api.get("image").and_then(Value::as_str) else {
        o.at(
            F,
            c.line(&[k("services"), k("api")]),
            format!("the api service has no `image:`; it must run the `{want}` image"),
        );
        return;
    };
    let (repo, _, _) = split_image(image);
    let name = repo.rsplit('/').next().unwrap_or(&repo);
    if name != want {
        o.at(
            F,
            c.line(&[k("services"), k("api"), k("image")]),
            format!("the api service runs `{image}`, not the API image `{want}` (api.image)"),
        );
    }
}

/// A published port: (host ip, host port, container port).
fn parse_port(v: &Value) -> Option<(Option<String>, Option<u16>, Option<u16>)> {
    if v.as_mapping().is_some() {
        let ip = v.get("host_ip").and_then(scalar);
        let published = v
            .get("published")
            .and_then(scalar)
            .and_then(|p| p.split('-').next()?.parse().ok());
        let target = v
            .get("target")
            .and_then(scalar)
            .and_then(|p| p.parse().ok());
        return Some((ip, published, target));
    }
    let s = scalar(v)?;
    let s = s.split('/').next().unwrap_or(&s).to_string();
    let (ip, rest) = if let Some(r) = s.strip_prefix('[') {
        let (ip, after) = r.split_once(']')?;
        (
            Some(ip.to_string()),
            after.trim_start_matches(':').to_string(),
        )
    } else {
        (None, s.clone())
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let num = |p: &str| p.split('-').next().and_then(|x| x.parse::<u16>().ok());
    Some(match (ip, parts.as_slice()) {
        (Some(ip), [h, c]) => (Some(ip), num(h), num(c)),
        (None, [c]) => (None, None, num(c)),
        (None, [h, c]) => (None, num(h), num(c)),
        (None, [ip, h, c]) => (Some(ip.to_string()), num(h), num(c)),
        _ => return None,
    })
}

fn port_loopback(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let p = &i.model.config.ports;
    let public_hosts = [PUBLIC, &[p.http, p.https, p.ipfs_swarm]].concat();
    for (name, svc) in c.services() {
        let Some(seq) = svc.get("ports").and_then(Value::as_sequence) else {
            continue;
        };
        for (n, item) in seq.iter().enumerate() {
            let Some((ip, host, target)) = parse_port(item) else {
                continue;
            };
            let loopback = ip
                .as_deref()
                .is_some_and(|ip| ip == "127.0.0.1" || ip == "::1");
            if loopback {
                continue;
            }
            let exempt = host.is_some_and(|h| public_hosts.contains(&h))
                && target.is_some_and(|t| PUBLIC.contains(&t));
            if exempt {
                continue;
            }
            let shown = scalar(item).unwrap_or_else(|| "(long syntax)".into());
            let what = match host {
                None => "publishes a random host port on every interface".to_string(),
                Some(h) => format!(
                    "publishes {h} on {}",
                    ip.as_deref().unwrap_or("every interface")
                ),
            };
            o.at(
                F,
                c.line(&[k("services"), k(&name), k("ports"), ix(n)]),
                format!("{name}: `{shown}` {what}; bind it to 127.0.0.1 (`127.0.0.1:HOST:CONTAINER`): only 80, 443 and 4001 are public"),
            );
        }
    }
}

fn image_pinned(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let cfg = &i.model.config;
    let ours = [cfg.api.image.as_str(), cfg.tee_worker.image.as_str()];
    for (name, svc) in c.services() {
        let Some(image) = svc.get("image").and_then(Value::as_str) else {
            continue;
        };
        let (expanded, _, missing) = crate::parse::dockerfile::expand(image, &|_| None);
        let (repo, _, _) = split_image(&expanded);
        if ours.contains(&repo.rsplit('/').next().unwrap_or("")) {
            continue; // our own images carry ${TAG}
        }
        let line = c.line(&[k("services"), k(&name), k("image")]);
        if !missing.is_empty() {
            o.at(F, line, format!("{name}: image `{image}` depends on {} without a default; pin the third-party image", missing.join(", ")));
        } else if let Some(why) = unpinned(&expanded) {
            o.at(
                F,
                line,
                format!("{name}: {why}; pin a version tag (e.g. postgres:16-alpine) or a digest"),
            );
        }
    }
}

fn has_healthcheck(svc: &Value) -> bool {
    let Some(h) = svc.get("healthcheck") else {
        return false;
    };
    if h.get("disable").and_then(Value::as_bool) == Some(true) {
        return false;
    }
    match h.get("test") {
        Some(Value::Sequence(s)) => s.first().and_then(Value::as_str) != Some("NONE"),
        Some(Value::String(s)) => !s.is_empty() && s != "NONE",
        _ => false,
    }
}

fn depends_healthy(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    for (name, svc) in c.services() {
        let Some(m) = svc.get("depends_on").and_then(Value::as_mapping) else {
            continue;
        };
        for (dep, spec) in m {
            let Some(dep) = dep.as_str() else { continue };
            if spec.get("condition").and_then(Value::as_str) != Some("service_healthy") {
                continue;
            }
            let line = c.line(&[
                k("services"),
                k(&name),
                k("depends_on"),
                k(dep),
                k("condition"),
            ]);
            match c.service(dep) {
                None => o.at(F, line, format!("{name} depends on `{dep}`, which is not a service")),
                Some(d) if !has_healthcheck(d) => o.at(
                    F,
                    line,
                    format!("{name} waits for `{dep}` to be service_healthy, but `{dep}` has no healthcheck; add one or use service_started"),
                ),
                _ => {}
            }
        }
    }
}

fn volumes_declared(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let declared: Vec<String> = c
        .value
        .get("volumes")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (name, _) in c.services() {
        for m in c.mounts(&name) {
            let Some(src) = &m.source else { continue };
            if m.bind || src.is_empty() {
                continue;
            }
            if !declared.contains(src) {
                o.at(F, c.line(&m.path), format!("{name} mounts the named volume `{src}`, which is not declared under the top-level `volumes:`"));
            }
        }
    }
}

/// Is `v` exactly one `${NAME:?message}`?
pub fn is_required_interpolation(v: &str) -> bool {
    let Some(inner) = v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
        return false;
    };
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    name_len > 0
        && inner[name_len..].starts_with(":?")
        && !inner.contains('}')
        && !inner.contains("${")
}

fn secrets_required(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    for (name, _) in c.services() {
        for (key, val, path) in c.environment(&name) {
            // the API's own keys as its contract classifies them (`[api.env]` can mark one)
            let contract = &i.model.stack.contract;
            let secret = match contract.key(&key).filter(|_| name == "api") {
                Some(k) => k.class == crate::envcontract::Class::Secret,
                None => crate::envcontract::is_secret_name(&key),
            };
            if !secret {
                continue;
            }
            let line = c.line(&path);
            let fix = format!("use `\"${{{key}:?set {key} in .env.staging}}\"`");
            match val.as_deref() {
                None | Some("") => o.at(F, line, format!("{name}: {key} has no value and can be empty at run time; {fix}")),
                Some(v) if is_required_interpolation(v) => {}
                Some(v) if v.contains('$') => o.at(
                    F,
                    line,
                    format!("{name}: {key} is interpolated without `:?`, so an unset variable silently becomes \"\"; {fix}"),
                ),
                // never echo a literal secret
                Some(_) => o.at(F, line, format!("{name}: {key} is a literal secret in the compose file; {fix}")),
            }
        }
    }
}

fn service_urls(i: &Input, o: &mut Out) {
    use crate::envcontract::{is_service_name, public_kind, value_hosts, LISTEN_NAMES};
    let Some(c) = &i.compose else { return };
    let names: Vec<String> = c.services().into_iter().map(|(n, _)| n).collect();
    for (name, _) in c.services() {
        for (key, val, path) in c.environment(&name) {
            let Some(v) = val else { continue };
            if v.contains("${") {
                continue;
            }
            let line = c.line(&path);
            for h in value_hosts(&key, &v) {
                if h == "0.0.0.0" && LISTEN_NAMES.contains(&key.as_str()) {
                    continue; // a listen address: every interface of the container
                }
                if is_local_host(&h) && public_kind(&key).is_some() {
                    o.at(F, line, format!("{name}: {key} is a public address but points at `{h}`, a dev value; set web.domain or caddy.domains in infra/stack.toml (gen derives it), or require it from .env.staging (`${{{key}:?…}}`)"));
                } else if is_local_host(&h) {
                    o.at(F, line, format!("{name}: {key} points at `{h}`, which is the {name} container itself; use the service name (one of {}) or require it from .env.staging", names.join(", ")));
                } else if is_service_name(&h) && !names.contains(&h) && public_kind(&key).is_none()
                {
                    o.at(F, line, format!("{name}: {key} points at `{h}`, which is not a service of this stack ({})", names.join(", ")));
                }
            }
        }
    }
}

fn caddy_mounts(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    if c.service("caddy").is_none() {
        return;
    }
    let mounts = c.mounts("caddy");
    let at_volumes = c.line(&[k("services"), k("caddy"), k("volumes")]);
    let caddy = &i.model.stack.caddy;
    for (what, target) in [
        ("the Caddyfile", caddy.config_path.as_str()),
        ("the certificates directory", caddy.certs_dir.as_str()),
    ] {
        match mounts.iter().find(|m| m.target.trim_end_matches('/') == target) {
            None => o.at(F, at_volumes, format!("caddy does not mount {what} at {target}; add a read-only bind mount")),
            Some(m) if !m.bind => o.at(F, c.line(&m.path), format!("caddy mounts {what} at {target} from a volume; bind-mount the file from infra/ (read-only)")),
            Some(m) if !m.read_only => o.at(F, c.line(&m.path), format!("caddy mounts {what} at {target} writable; append `:ro`")),
            _ => {}
        }
    }
}

/// Does a bind-mount source expose the Docker socket (the socket itself or a directory
/// holding it)?
pub fn exposes_docker_socket(source: &str) -> bool {
    let s = source.trim();
    let trimmed = s.trim_end_matches('/');
    s.contains("docker.sock")
        || (s.starts_with('/')
            && matches!(
                trimmed,
                "" | "/var/run" | "/run" | "/var/run/docker" | "/run/docker"
            ))
}

fn no_docker_socket(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    for (name, _) in c.services() {
        for m in c.mounts(&name) {
            let Some(src) = m.source.as_deref() else {
                continue;
            };
            if !exposes_docker_socket(src) {
                continue;
            }
            let ro = if m.read_only {
                " (read-only does not help: the engine still accepts every API call on it)"
            } else {
                ""
            };
            o.at(
                F,
                c.line(&m.path),
                format!("{name} mounts {src}, the Docker socket{ro}: whoever reaches it controls the engine, i.e. is root on the host; remove the mount"),
            );
        }
    }
}

#[cfg(test)]
mod socket_tests {
    use super::exposes_docker_socket as e;

    #[test]
    fn the_socket_and_the_directories_holding_it() {
        for yes in [
            "/var/run/docker.sock",
            "/run/docker.sock",
            "${HOME}/.docker/run/docker.sock",
            "/var/run",
            "/run/",
            "/",
        ] {
            assert!(e(yes), "{yes}");
        }
        for no in ["./Caddyfile", "./certs", "caddy_data", "/srv/data", "./run"] {
            assert!(!e(no), "{no}");
        }
    }
}
