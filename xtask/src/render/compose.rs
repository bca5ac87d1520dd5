//! `docker-compose.staging.yml`, written as plain block YAML with stable quoting.

use std::fmt::Write;

use crate::stack::{Compose, Mount, Proto, Val};

/// A YAML scalar ([`super::quote::yaml`]).
pub fn scalar(s: &str) -> String {
    super::quote::yaml(s)
}

fn val(v: &Val) -> String {
    match v {
        Val::Lit(s) => scalar(s),
        Val::Required { var, hint } => scalar(&format!("${{{var}:?{hint}}}")),
    }
}

fn flow_list(items: &[String]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("[{}]", parts.join(", "))
}

pub fn render(c: &Compose) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# Deploy: docker compose --env-file .env.staging -f docker-compose.staging.yml up -d"
    );
    let _ = writeln!(
        w,
        "# Services reach each other by service name: caddy, api and web on `edge`; api and"
    );
    let _ = writeln!(
        w,
        "# the back end on `data` (the proxy cannot reach the databases). Only 80, 443 and the"
    );
    let _ = writeln!(
        w,
        "# IPFS swarm port are public; every other port is bound to 127.0.0.1."
    );
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
    let _ = writeln!(w, "services:");
    for (i, svc) in c.services.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(w);
        }
        let _ = writeln!(w, "  {}:", svc.name);
        let _ = writeln!(w, "    image: {}", scalar(&svc.image));
        let _ = writeln!(w, "    restart: unless-stopped");
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
            let _ = writeln!(w, "      resources:");
            let _ = writeln!(w, "        limits:");
            let _ = writeln!(w, "          memory: {}", scalar(&l.memory));
            if let Some(cpus) = &l.cpus {
                let _ = writeln!(w, "          cpus: {}", scalar(cpus));
            }
        }
        if !svc.networks.is_empty() {
            let _ = writeln!(w, "    networks:");
            for n in &svc.networks {
                let _ = writeln!(w, "      - {}", scalar(n));
            }
        }
    }
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
    s
}

/// `.env.staging.example`: every variable the compose file interpolates, with placeholders.
pub fn render_env_example(c: &Compose) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# Copy to .env.staging and fill in real values; never commit .env.staging."
    );
    let _ = writeln!(
        w,
        "# Every variable docker-compose.staging.yml interpolates is listed here."
    );
    for (var, default) in &c.defaulted_vars {
        let _ = writeln!(w, "{var}={default}");
    }
    for (var, _) in c.required_vars() {
        let placeholder = match var.as_str() {
            v if v.ends_with("PASSWORD") || v.ends_with("SECRET") => "change-me".to_string(),
            "DB_USERNAME" => "cipherbox".into(),
            "DB_DATABASE" => "cipherbox_staging".into(),
            v => format!("example-{}", v.to_ascii_lowercase().replace('_', "-")),
        };
        let _ = writeln!(w, "{var}={placeholder}");
    }
    s
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
