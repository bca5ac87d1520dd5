//! `docker-compose.staging.yml`, written as plain block YAML with stable quoting.

use std::fmt::Write;

use crate::stack::{Compose, Limits, Mount, Proto, Service, Val};

/// The env file's quoting (`.env.staging`, `.env.staging.example`) lives with that file's renderer.
pub use super::env_example::env_file_value;

/// A YAML scalar ([`super::quote::yaml`]).
pub fn scalar(s: &str) -> String {
    super::quote::yaml(s)
}

pub(super) fn val(v: &Val) -> String {
    match v {
        Val::Lit(s) => scalar(s),
        Val::Required {
            var,
            hint,
            empty_ok,
        } => {
            let op = if *empty_ok { "?" } else { ":?" };
            scalar(&format!("${{{var}{op}{hint}}}"))
        }
    }
}

pub(super) fn flow_list(items: &[String]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// A service's `deploy.resources` (under its `deploy:` key): the memory limit and CPUs.
pub(super) fn resources(w: &mut String, l: &Limits) {
    let _ = writeln!(w, "      resources:");
    let _ = writeln!(w, "        limits:");
    let _ = writeln!(w, "          memory: {}", scalar(&l.memory));
    if let Some(cpus) = &l.cpus {
        let _ = writeln!(w, "          cpus: {}", scalar(cpus));
    }
}

/// A service's `networks:` list (nothing when it joins only the default network).
pub(super) fn service_networks(w: &mut String, networks: &[String]) {
    if !networks.is_empty() {
        let _ = writeln!(w, "    networks:");
        for n in networks {
            let _ = writeln!(w, "      - {}", scalar(n));
        }
    }
}

pub fn render(c: &Compose) -> String {
    let mut s = String::new();
    let w = &mut s;
    header(w, c);
    let _ = writeln!(w, "services:");
    for (i, svc) in c.services.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(w);
        }
        service(w, svc);
    }
    top_level_lists(w, c);
    s
}

/// The opening comment, the project name and the shared logging anchor.
fn header(w: &mut String, c: &Compose) {
    let _ = writeln!(
        w,
        "# Deploy: docker compose --env-file .env.staging -f docker-compose.staging.yml up -d"
    );
    let _ = writeln!(
        w,
        "# Services reach each other by service name: caddy, api and web on `edge`; api and"
    );
    if c.service("ipfs").is_some() {
        let _ = writeln!(
            w,
            "# the back end on `data` (the proxy cannot reach the databases); api and ipfs alone"
        );
        let _ = writeln!(
            w,
            "# on `ipfs` (nothing else reaches its RPC API). Only 80, 443 and the IPFS swarm port"
        );
        let _ = writeln!(w, "# are public; every other port is bound to 127.0.0.1.");
    } else {
        let _ = writeln!(
            w,
            "# the back end on `data` (the proxy cannot reach the databases). Only 80 and 443 are"
        );
        let _ = writeln!(w, "# public; every other port is bound to 127.0.0.1.");
    }
    let _ = writeln!(w, "name: {}", scalar(&c.project));
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# One logging setup for every service (`logging: *logging`): rotated."
    );
    let _ = writeln!(w, "x-logging: &logging");
    let _ = writeln!(w, "  driver: {}", scalar(&c.logging.driver));
    let _ = writeln!(w, "  options:");
    let _ = writeln!(w, "    max-size: {}", scalar(&c.logging.max_size));
    let _ = writeln!(w, "    max-file: \"{}\"", c.logging.max_file);
    let _ = writeln!(w);
}

/// One service's block under `services:`.
fn service(w: &mut String, svc: &Service) {
    let _ = writeln!(w, "  {}:", svc.name);
    let _ = writeln!(w, "    image: {}", scalar(&svc.image));
    if svc.one_shot {
        let _ = writeln!(w, "    restart: \"no\"");
    } else {
        let _ = writeln!(w, "    restart: unless-stopped");
    }
    if svc.init {
        let _ = writeln!(w, "    init: true");
    }
    let _ = writeln!(w, "    logging: *logging");
    if !svc.entrypoint.is_empty() {
        let _ = writeln!(w, "    entrypoint: {}", flow_list(&svc.entrypoint));
    }
    if !svc.command.is_empty() {
        let _ = writeln!(w, "    command: {}", flow_list(&svc.command));
    }
    if let Some(f) = &svc.env_file {
        let _ = writeln!(w, "    env_file: {}", scalar(f));
    }
    if !svc.environment.is_empty() {
        let _ = writeln!(w, "    environment:");
        for (k, v) in &svc.environment {
            let _ = writeln!(w, "      {k}: {}", val(v));
        }
    }
    if !svc.ports.is_empty() {
        let _ = writeln!(w, "    ports:");
        for p in &svc.ports {
            let ip = p
                .host_ip
                .as_ref()
                .map(|ip| format!("{ip}:"))
                .unwrap_or_default();
            let proto = match p.proto {
                Proto::Tcp => "tcp",
                Proto::Udp => "udp",
            };
            let _ = writeln!(w, "      - \"{ip}{}:{}/{proto}\"", p.host, p.container);
        }
    }
    if !svc.volumes.is_empty() {
        let _ = writeln!(w, "    volumes:");
        for m in &svc.volumes {
            let line = match m {
                Mount::Volume { name, target } => format!("{name}:{target}"),
                Mount::Bind {
                    source,
                    target,
                    read_only,
                } => {
                    format!("{source}:{target}{}", if *read_only { ":ro" } else { "" })
                }
            };
            let _ = writeln!(w, "      - {}", scalar(&line));
        }
    }
    if !svc.depends_on.is_empty() {
        let _ = writeln!(w, "    depends_on:");
        for (dep, cond) in &svc.depends_on {
            let _ = writeln!(w, "      {dep}:");
            let _ = writeln!(w, "        condition: {cond}");
        }
    }
    if let Some(h) = &svc.healthcheck {
        let _ = writeln!(w, "    healthcheck:");
        let _ = writeln!(w, "      test: {}", flow_list(&h.test));
        let _ = writeln!(w, "      interval: {}", h.interval);
        let _ = writeln!(w, "      timeout: {}", h.timeout);
        let _ = writeln!(w, "      retries: {}", h.retries);
        let _ = writeln!(w, "      start_period: {}", h.start_period);
    }
    if let Some(l) = &svc.limits {
        let _ = writeln!(w, "    deploy:");
        resources(w, l);
    }
    service_networks(w, &svc.networks);
}

/// The top-level `networks:` and `volumes:`.
fn top_level_lists(w: &mut String, c: &Compose) {
    let _ = writeln!(w);
    if !c.networks.is_empty() {
        let _ = writeln!(w, "networks:");
        for n in &c.networks {
            let _ = writeln!(w, "  {}: {{}}", scalar(n));
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "volumes:");
    for v in &c.volumes {
        let _ = writeln!(w, "  {v}: {{}}");
    }
}

#[cfg(test)]
mod tests {
    use super::scalar;

    #[test]
    fn scalars_quote_what_yaml_would_misread() {
        assert_eq!(scalar("postgres"), "postgres");
        assert_eq!(scalar("ghcr.io/a/b"), "ghcr.io/a/b");
        assert_eq!(scalar("3000"), "\"3000\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("http://ipfs:5001"), "\"http://ipfs:5001\"");
        assert_eq!(scalar("${A:?x}"), "\"${A:?x}\"");
        assert_eq!(scalar("a\"b"), "\"a\\\"b\"");
        assert_eq!(scalar(""), "\"\"");
    }
}
