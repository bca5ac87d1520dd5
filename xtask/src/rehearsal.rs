//! The rehearsal's pure side: what the staging file says (parsed from `docker compose config`),
//! the plan (which services start, which image each runs, which ports the proxy gets), stand-in
//! names, the throwaway env file, and the judgement of what the engine and the probes report.
//!
//! No I/O and no programs here: `commands::rehearse` runs them through `tools` and hands their
//! output to these functions, so every decision is unit-tested without Docker.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Every rehearsal's compose project name starts with this (and `--down` refuses others).
pub const PROJECT_PREFIX: &str = "xtask-rehearse-";
/// Stand-ins live under this registry name, which no real registry answers to.
pub const STANDIN_REGISTRY: &str = "xtask.local";
/// The label every stand-in carries: the real image it stands in for.
pub const STANDIN_LABEL: &str = "xtask.standin";
/// The label naming what a stand-in actually provides (e.g. "PostgreSQL 15.20 (Debian 12 ...)").
pub const PROVIDES_LABEL: &str = "xtask.standin.provides";
/// The override file the rehearsal writes next to its copy of the staging file.
pub const OVERRIDE_FILE: &str = "docker-compose.rehearsal.yml";

/// Third-party images the rehearsal can assemble a stand-in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Postgres,
    Redis,
    Caddy,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Postgres, Kind::Redis, Kind::Caddy];

    /// The kind's name: the `[images]` key in the config and the stand-in builder's argument.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Redis => "redis",
            Kind::Caddy => "caddy",
        }
    }
}

/// The stand-in's own name for a real image: `postgres:16-alpine` → `xtask.local/postgres:16-standin`.
/// Never the real name, so nothing built on it can be mistaken for (or pushed as) the real image.
pub fn standin_name(real: &str) -> String {
    let no_digest = real.split('@').next().unwrap_or(real);
    let (repo, tag) = match no_digest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (no_digest, "latest"),
    };
    let base = repo.rsplit('/').next().unwrap_or(repo);
    let version = tag
        .split('-')
        .next()
        .filter(|v| !v.is_empty())
        .unwrap_or("latest");
    format!("{STANDIN_REGISTRY}/{base}:{version}-standin")
}

/// A fresh, unique compose project name for one rehearsal.
pub fn project_name(pid: u32, salt: u64) -> String {
    format!("{PROJECT_PREFIX}{pid}-{:06x}", salt & 0xff_ffff)
}

// ---------------------------------------------------------------------------------------------
// What the staging file says (the output of `docker compose config --format json`)

/// One published port, as `docker compose config --format json` normalises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub host_ip: Option<String>,
    pub published: Option<u16>,
    pub target: u16,
    pub protocol: String,
}

/// One service of the (merged) compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileService {
    pub name: String,
    pub image: String,
    /// (dependency, condition)
    pub depends_on: Vec<(String, String)>,
    pub healthcheck: bool,
    pub ports: Vec<Published>,
    pub environment: BTreeMap<String, String>,
}

/// Parses `docker compose config --format json`.
pub fn parse_config(v: &Value) -> Result<Vec<FileService>> {
    let services = v
        .get("services")
        .and_then(Value::as_object)
        .context("`docker compose config` printed no services")?;
    let mut out = Vec::new();
    for (name, s) in services {
        let image = s
            .get("image")
            .and_then(Value::as_str)
            .with_context(|| format!("service {name} has no image in the compose file"))?
            .to_string();
        let mut depends_on: Vec<(String, String)> = s
            .get("depends_on")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(dep, d)| {
                        let cond = d
                            .get("condition")
                            .and_then(Value::as_str)
                            .unwrap_or("service_started");
                        (dep.clone(), cond.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        depends_on.sort();
        let healthcheck = match s.get("healthcheck") {
            None | Some(Value::Null) => false,
            Some(h) => {
                let disabled = h.get("disable").and_then(Value::as_bool).unwrap_or(false);
                let none = h
                    .get("test")
                    .and_then(Value::as_array)
                    .and_then(|t| t.first())
                    .and_then(Value::as_str)
                    == Some("NONE");
                !disabled && !none && h.get("test").is_some()
            }
        };
        let ports = s
            .get("ports")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| Published {
                        host_ip: p.get("host_ip").and_then(Value::as_str).map(String::from),
                        published: p.get("published").and_then(|x| match x {
                            Value::String(s) => s.parse().ok(),
                            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                            _ => None,
                        }),
                        target: p
                            .get("target")
                            .and_then(Value::as_u64)
                            .and_then(|n| u16::try_from(n).ok())
                            .unwrap_or(0),
                        protocol: p
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("tcp")
                            .to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let environment = s
            .get("environment")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(FileService {
            name: name.clone(),
            image,
            depends_on,
            healthcheck,
            ports,
            environment,
        });
    }
    Ok(out)
}

fn find<'a>(services: &'a [FileService], name: &str) -> Result<&'a FileService> {
    services.iter().find(|s| s.name == name).with_context(|| {
        format!("the staging compose file has no service {name:?}; run `cargo xtask gen`")
    })
}

/// The services to start: the proxy and everything it depends on, transitively, dependencies
/// first (the order compose starts them in).
pub fn start_set(services: &[FileService], proxy: &str) -> Result<Vec<String>> {
    fn visit(
        services: &[FileService],
        name: &str,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if out.iter().any(|n| n == name) {
            return Ok(());
        }
        if path.iter().any(|n| n == name) {
            bail!("depends_on cycle: {} -> {name}", path.join(" -> "));
        }
        let s = find(services, name)?;
        path.push(name.to_string());
        for (dep, _) in &s.depends_on {
            visit(services, dep, path, out)?;
        }
        path.pop();
        out.push(name.to_string());
        Ok(())
    }
    let mut out = Vec::new();
    visit(services, proxy, &mut Vec::new(), &mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The plan

/// Where a started service's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The image the staging file names, used as is.
    Real,
    /// A locally assembled stand-in for `stands_in_for` (usually the image the staging file
    /// names; the staging file may also name a stand-in itself).
    Standin {
        kind: Kind,
        provides: String,
        stands_in_for: String,
    },
    /// The API image built (or given) for this rehearsal; `standin_base`: built on a stand-in.
    Api {
        note: String,
        standin_base: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub name: String,
    /// What the staging file names.
    pub staging_image: String,
    /// What runs in the rehearsal.
    pub image: String,
    pub source: Source,
    /// The staging file publishes host ports for it (the rehearsal drops or remaps them).
    pub has_ports: bool,
}

impl ServicePlan {
    pub fn is_standin(&self) -> bool {
        matches!(self.source, Source::Standin { .. })
    }

    /// The service's name as every output line shows it: stand-ins are always named as such.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Standin { .. } => format!("{} (STAND-IN {})", self.name, self.image),
            Source::Api {
                standin_base: Some(base),
                ..
            } => format!("{} (on STAND-IN base {base})", self.name),
            _ => self.name.clone(),
        }
    }

    /// One line describing the image, for the summary.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Real => format!("{:<9} {} (the staging file's image)", self.name, self.image),
            Source::Standin {
                provides,
                stands_in_for,
                ..
            } => format!(
                "{:<9} STAND-IN {} for {stands_in_for}: {provides}{}",
                self.name,
                self.image,
                if self.image == self.staging_image {
                    " (named by the staging file itself)"
                } else {
                    ""
                }
            ),
            Source::Api { note, .. } => format!(
                "{:<9} {} instead of {} ({note})",
                self.name, self.image, self.staging_image
            ),
        }
    }
}

/// A port of the proxy, published on loopback for the rehearsal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loopback {
    pub host: u16,
    pub target: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub project: String,
    /// Started services, dependencies first.
    pub services: Vec<ServicePlan>,
    /// The proxy's service name (Caddy).
    pub proxy: String,
    /// The proxy's ports on 127.0.0.1 instead of the staging file's public ones.
    pub proxy_ports: Vec<Loopback>,
}

impl Plan {
    pub fn service(&self, name: &str) -> Option<&ServicePlan> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn label(&self, name: &str) -> String {
        self.service(name)
            .map(ServicePlan::label)
            .unwrap_or_else(|| name.to_string())
    }

    pub fn names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.name.clone()).collect()
    }

    /// Every image is local: compose must never try to pull.
    pub fn all_local(&self) -> bool {
        self.services
            .iter()
            .all(|s| !matches!(s.source, Source::Real))
    }

    /// The host port the proxy's container port `target` is published on.
    pub fn proxy_port(&self, target: u16) -> Option<u16> {
        self.proxy_ports
            .iter()
            .find(|p| p.target == target && p.protocol == "tcp")
            .map(|p| p.host)
    }
}

/// What the merged config must say for the plan to be in effect (images swapped, the proxy on
/// loopback only, no other host port): the override was applied as intended.
pub fn verify_merged(plan: &Plan, merged: &[FileService]) -> Vec<String> {
    let mut problems = Vec::new();
    for s in &plan.services {
        let Ok(m) = find(merged, &s.name) else {
            problems.push(format!("{} is missing from the merged config", s.name));
            continue;
        };
        if m.image != s.image {
            problems.push(format!(
                "{} runs {} instead of {}",
                s.name, m.image, s.image
            ));
        }
        if s.name == plan.proxy {
            for p in &m.ports {
                if p.host_ip.as_deref() != Some("127.0.0.1") {
                    problems.push(format!(
                        "{} publishes {}/{} beyond loopback",
                        s.name, p.target, p.protocol
                    ));
                }
            }
            if m.ports.len() != plan.proxy_ports.len() {
                problems.push(format!(
                    "{} publishes {} port(s), the plan {}",
                    s.name,
                    m.ports.len(),
                    plan.proxy_ports.len()
                ));
            }
        } else if !m.ports.is_empty() {
            problems.push(format!("{} still publishes host ports", s.name));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// The throwaway env file

/// `.env.staging` for the rehearsal, from `.env.staging.example`: every variable the example
/// sets; secrets (by name, or left at a placeholder such as `change-me`) replaced by
/// `secret()` (fresh random values), the others keep the example's staging value (the API's
/// own example value), `rehearsal` where the example has only a placeholder.
pub fn throwaway_env(example: &str, secret: &mut dyn FnMut() -> String) -> String {
    let mut out = String::from(
        "# Throwaway values written by `cargo xtask rehearse`; this file exists only in the\n\
         # rehearsal's temporary directory and is removed with it.\n",
    );
    for line in example.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = t.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_start_matches("export ").trim();
        let shown = raw.trim();
        let unquoted = shown.trim_matches('\'');
        let secretish = crate::envcontract::is_secret_name(key)
            || ["PASSWORD", "SECRET", "TOKEN", "KEY"]
                .iter()
                .any(|s| key.ends_with(s));
        let value = if secretish || unquoted == "change-me" {
            secret()
        } else if key == "TAG" || crate::rules::env::is_placeholder(unquoted) {
            "rehearsal".to_string()
        } else {
            shown.to_string()
        };
        out.push_str(&format!("{key}={value}\n"));
    }
    out
}

/// The variable names an env file sets (so the caller can keep the same names out of the
/// environment compose runs in: a shell variable would win over the file).
pub fn env_keys(env: &str) -> Vec<String> {
    env.lines()
        .filter_map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                return None;
            }
            t.split_once('=').map(|(k, _)| k.trim().to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// `docker compose ps --format json`

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsRow {
    pub service: String,
    pub name: String,
    pub state: String,
    pub health: String,
    pub exit_code: i64,
}

/// Parses `docker compose ps --format json`: one object per line (compose >= 2.21) or one array.
pub fn parse_ps(text: &str) -> Result<Vec<PsRow>> {
    let t = text.trim();
    let values: Vec<Value> = if t.is_empty() {
        Vec::new()
    } else if t.starts_with('[') {
        serde_json::from_str(t).context("`docker compose ps --format json` printed bad JSON")?
    } else {
        t.lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()
            .context("`docker compose ps --format json` printed bad JSON")?
    };
    Ok(values
        .iter()
        .map(|v| {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            PsRow {
                service: s("Service"),
                name: s("Name"),
                state: s("State"),
                health: s("Health"),
                exit_code: v.get("ExitCode").and_then(Value::as_i64).unwrap_or(0),
            }
        })
        .collect())
}

/// Where one service stands while the rehearsal waits for the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready(String),
    Pending(String),
    Failed(String),
}

/// A service's readiness from its `ps` row: healthy when it has a healthcheck, else running.
pub fn readiness(row: Option<&PsRow>, healthcheck: bool) -> Readiness {
    let Some(r) = row else {
        return Readiness::Pending("not created yet".into());
    };
    match (r.state.as_str(), r.health.as_str()) {
        ("running", "healthy") => Readiness::Ready("healthy".into()),
        ("running", "unhealthy") => Readiness::Failed("unhealthy".into()),
        ("running", "starting") => Readiness::Pending("starting (health: starting)".into()),
        ("running", _) if !healthcheck => Readiness::Ready("running (no healthcheck)".into()),
        ("running", _) => Readiness::Pending("running, no health status yet".into()),
        ("created", _) => Readiness::Pending("created, waiting for its dependencies".into()),
        ("restarting", _) => Readiness::Failed(format!(
            "restarting (crashed, last exit code {})",
            r.exit_code
        )),
        ("exited" | "dead", _) => {
            Readiness::Failed(format!("{} (exit code {})", r.state, r.exit_code))
        }
        ("paused", _) => Readiness::Failed("paused".into()),
        (other, _) => Readiness::Pending(other.to_string()),
    }
}

/// The readiness of every expected service: (service, healthcheck?) → (service, readiness).
/// A one-shot service (the migration) is done, not failed, once it exited 0.
pub fn stack_readiness(
    rows: &[PsRow],
    expected: &[(String, bool)],
    one_shots: &[String],
) -> Vec<(String, Readiness)> {
    expected
        .iter()
        .map(|(svc, hc)| {
            let row = rows.iter().find(|r| &r.service == svc);
            let r = match row {
                Some(r) if r.state == "exited" && r.exit_code == 0 && one_shots.contains(svc) => {
                    Readiness::Ready("completed (exit code 0)".into())
                }
                _ => readiness(row, *hc),
            };
            (svc.clone(), r)
        })
        .collect()
}

/// The services another waits for with `service_completed_successfully`: run once, to completion.
pub fn one_shots(services: &[FileService]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (dep, cond) in services.iter().flat_map(|s| &s.depends_on) {
        if cond == "service_completed_successfully" && !out.contains(dep) {
            out.push(dep.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The probes

/// What `curl --write-out '%{json}'` reports about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http {
    pub code: u16,
    pub redirect_url: String,
    /// curl's exit code (0: the transfer worked, whatever the status).
    pub exit: i64,
    pub error: String,
    /// 0 when the certificate chain verified.
    pub ssl_verify: i64,
    pub scheme: String,
}

pub fn parse_curl(json: &str) -> Result<Http> {
    let v: Value = serde_json::from_str(json.trim())
        .with_context(|| format!("curl printed no JSON write-out: {json:?}"))?;
    let n = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(-1);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(Http {
        code: u16::try_from(n("http_code")).unwrap_or(0),
        redirect_url: s("redirect_url"),
        exit: n("exitcode"),
        error: s("errormsg"),
        ssl_verify: n("ssl_verify_result"),
        scheme: s("scheme").to_ascii_lowercase(),
    })
}

/// A plain-HTTP request must get a permanent redirect to https.
pub fn check_redirect(h: &Http) -> std::result::Result<String, String> {
    if h.exit != 0 {
        return Err(format!(
            "request failed: {} (curl exit {})",
            h.error, h.exit
        ));
    }
    if !matches!(h.code, 301 | 308) {
        return Err(format!(
            "status {} (want 301 or 308, a permanent redirect){}",
            h.code,
            if h.redirect_url.is_empty() {
                String::new()
            } else {
                format!(" to {}", h.redirect_url)
            }
        ));
    }
    if !h.redirect_url.starts_with("https://") {
        return Err(format!(
            "{} redirect to {:?}, not to https",
            h.code, h.redirect_url
        ));
    }
    Ok(format!("{} → {}", h.code, h.redirect_url))
}

// ---------------------------------------------------------------------------------------------
// depends_on ordering, from `docker inspect`

/// Nanoseconds since the epoch of an RFC 3339 time as Docker prints it
/// (`2024-05-01T12:00:00.123456789Z`, or with a `+hh:mm` offset).
pub fn parse_time(s: &str) -> Option<i128> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let (clock, offset_secs) = if let Some(c) = rest.strip_suffix('Z') {
        (c, 0i64)
    } else {
        let idx = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(idx);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.parse().ok()?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        if !frac.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().ok()?;
    }
    // days from civil (Howard Hinnant)
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = if yy >= 0 { yy } else { yy - 399 } / 400;
    let yoe = yy - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// One container's start and health history, from `docker inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub service: String,
    pub started_at: i128,
    /// End times of the successful health probes still in the log.
    pub healthy_probes: Vec<i128>,
    /// Start of the oldest probe still in the log (Docker keeps the last five).
    pub oldest_probe: Option<i128>,
}

pub fn parse_inspect(v: &Value) -> Vec<Started> {
    let Some(arr) = v.as_array() else {
        return Vec::new();
    };
    arr.iter()
        .filter_map(|c| {
            let service = c
                .pointer("/Config/Labels/com.docker.compose.service")
                .and_then(Value::as_str)?
                .to_string();
            let started_at = parse_time(c.pointer("/State/StartedAt")?.as_str()?)?;
            let log = c
                .pointer("/State/Health/Log")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let healthy_probes = log
                .iter()
                .filter(|e| e.get("ExitCode").and_then(Value::as_i64) == Some(0))
                .filter_map(|e| parse_time(e.get("End")?.as_str()?))
                .collect();
            let oldest_probe = log
                .iter()
                .filter_map(|e| parse_time(e.get("Start")?.as_str()?))
                .min();
            Some(Started {
                service,
                started_at,
                healthy_probes,
                oldest_probe,
            })
        })
        .collect()
}

/// The upstream of the first `reverse_proxy` in a Caddyfile (what is really deployed, which a
/// hand edit may have changed from what the model says).
pub fn caddy_upstream(caddyfile: &str) -> Option<String> {
    caddyfile.lines().find_map(|l| {
        let t = l.trim();
        if t.starts_with('#') {
            return None;
        }
        let rest = t.strip_prefix("reverse_proxy")?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let up: Vec<&str> = rest.split_whitespace().take_while(|w| *w != "{").collect();
        (!up.is_empty()).then(|| up.join(" "))
    })
}

/// Text without terminal escape sequences (compose writes `ESC[2K` even with `--no-color`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // parameters and intermediates, then one final byte in @..~
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// One line on a failing service's container from `docker inspect`: state, exit code,
/// restarts, the engine's error, and the last healthcheck output (what `pg_isready` said).
pub fn container_summary(v: &Value, service: &str) -> Option<String> {
    let c = v.as_array()?.iter().find(|c| {
        c.pointer("/Config/Labels/com.docker.compose.service")
            .and_then(Value::as_str)
            == Some(service)
    })?;
    let s = |p: &str| {
        c.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let n = |p: &str| c.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let mut out = format!(
        "state {}, exit code {}, restarts {}",
        s("/State/Status"),
        n("/State/ExitCode"),
        n("/RestartCount")
    );
    if c.pointer("/State/OOMKilled").and_then(Value::as_bool) == Some(true) {
        out.push_str(", OOM-killed");
    }
    let err = s("/State/Error");
    if !err.is_empty() {
        out.push_str(&format!(", engine error: {err}"));
    }
    let health = s("/State/Health/Status");
    if !health.is_empty() {
        out.push_str(&format!(
            ", health {health} ({} failing probe(s) in a row)",
            n("/State/Health/FailingStreak")
        ));
        if let Some(last) = c
            .pointer("/State/Health/Log")
            .and_then(Value::as_array)
            .and_then(|l| l.last())
        {
            let output = last
                .get("Output")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim();
            out.push_str(&format!(
                "; last probe exit {}: {:.300}",
                last.get("ExitCode").and_then(Value::as_i64).unwrap_or(-1),
                if output.is_empty() {
                    "(no output)"
                } else {
                    output
                }
            ));
        }
    }
    Some(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// `svc` started `margin_ms` after `dep` met the condition.
    Honoured {
        margin_ms: i128,
    },
    Violated(String),
    /// The evidence is gone (health log rotated) or missing.
    Unknown(String),
}

/// Did `svc` start only after `dep` met `condition`?
pub fn check_order(started: &[Started], svc: &str, dep: &str, condition: &str) -> Order {
    let (Some(s), Some(d)) = (
        started.iter().find(|c| c.service == svc),
        started.iter().find(|c| c.service == dep),
    ) else {
        return Order::Unknown(format!("no container found for {svc} or {dep}"));
    };
    match condition {
        "service_healthy" => match d.healthy_probes.iter().min() {
            Some(&first) if first <= s.started_at => Order::Honoured {
                margin_ms: (s.started_at - first) / 1_000_000,
            },
            _ if d.oldest_probe.is_none_or(|o| o > s.started_at) => {
                Order::Unknown(format!("{dep}'s health log no longer covers {svc}'s start"))
            }
            _ => Order::Violated(format!("{svc} started before {dep} passed a healthcheck")),
        },
        _ => {
            if d.started_at <= s.started_at {
                Order::Honoured {
                    margin_ms: (s.started_at - d.started_at) / 1_000_000,
                }
            } else {
                Order::Violated(format!("{svc} started before {dep}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn standin_names_never_equal_the_real_name() {
        assert_eq!(
            standin_name("postgres:16-alpine"),
            "xtask.local/postgres:16-standin"
        );
        assert_eq!(
            standin_name("redis:7-alpine"),
            "xtask.local/redis:7-standin"
        );
        assert_eq!(
            standin_name("caddy:2-alpine"),
            "xtask.local/caddy:2-standin"
        );
        assert_eq!(
            standin_name("node:22-alpine"),
            "xtask.local/node:22-standin"
        );
        assert_eq!(
            standin_name("ipfs/kubo:v0.34.0"),
            "xtask.local/kubo:v0.34.0-standin"
        );
        assert_eq!(
            standin_name("postgres"),
            "xtask.local/postgres:latest-standin"
        );
        assert_eq!(
            standin_name("localhost:5000/team/redis"),
            "xtask.local/redis:latest-standin"
        );
        assert_eq!(
            standin_name("postgres:17@sha256:abcd"),
            "xtask.local/postgres:17-standin"
        );
        for real in ["postgres:16-alpine", "caddy", "a/b:c"] {
            assert_ne!(standin_name(real), real);
            assert!(standin_name(real).contains("standin"));
        }
    }

    #[test]
    fn project_names_are_prefixed_and_distinct() {
        let a = project_name(42, 0x1234_5678);
        assert_eq!(a, "xtask-rehearse-42-345678");
        assert_ne!(a, project_name(42, 0x1234_5679));
        assert!(a.starts_with(PROJECT_PREFIX));
    }

    fn config() -> Value {
        json!({
          "name": "cipherbox-staging",
          "services": {
            "api": {
              "image": "ghcr.io/OWNER/cipherbox-api:rehearsal",
              "depends_on": {
                "postgres": {"condition": "service_healthy", "required": true},
                "redis": {"condition": "service_healthy", "required": true}
              },
              "environment": {"DB_HOST": "postgres", "REDIS_HOST": "redis", "PORT": "3000"},
              "healthcheck": {"test": ["CMD", "node", "-e", "x"], "interval": "10s"},
              "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 3000, "published": "3000", "protocol": "tcp"}]
            },
            "postgres": {
              "image": "postgres:16-alpine",
              "healthcheck": {"test": ["CMD-SHELL", "pg_isready"]},
              "ports": [{"host_ip": "127.0.0.1", "target": 5432, "published": "5432", "protocol": "tcp"}]
            },
            "redis": {"image": "redis:7-alpine", "healthcheck": {"test": ["CMD", "redis-cli", "ping"]}},
            "ipfs": {"image": "ipfs/kubo:v0.34.0"},
            "caddy": {
              "image": "caddy:2-alpine",
              "depends_on": {"api": {"condition": "service_healthy"}},
              "ports": [
                {"target": 80, "published": "80", "protocol": "tcp"},
                {"target": 443, "published": "443", "protocol": "tcp"}
              ]
            }
          }
        })
    }

    #[test]
    fn config_is_parsed_with_dependencies_healthchecks_and_ports() {
        let s = parse_config(&config()).expect("parse");
        let api = s.iter().find(|x| x.name == "api").expect("api");
        assert_eq!(
            api.depends_on,
            vec![
                ("postgres".to_string(), "service_healthy".to_string()),
                ("redis".to_string(), "service_healthy".to_string())
            ]
        );
        assert!(api.healthcheck);
        assert_eq!(
            api.environment.get("DB_HOST").map(String::as_str),
            Some("postgres")
        );
        assert_eq!(
            api.ports,
            vec![Published {
                host_ip: Some("127.0.0.1".into()),
                published: Some(3000),
                target: 3000,
                protocol: "tcp".into()
            }]
        );
        let caddy = s.iter().find(|x| x.name == "caddy").expect("caddy");
        assert!(!caddy.healthcheck);
        assert_eq!(caddy.ports[0].host_ip, None);
        let disabled = json!({"services": {"x": {"image": "i", "healthcheck": {"disable": true}}}});
        assert!(!parse_config(&disabled).expect("parse")[0].healthcheck);
        assert!(parse_config(&json!({"services": {"x": {}}})).is_err());
    }

    #[test]
    fn start_set_is_the_proxy_and_its_dependency_closure_dependencies_first() {
        let s = parse_config(&config()).expect("parse");
        assert_eq!(
            start_set(&s, "caddy").expect("start set"),
            vec!["postgres", "redis", "api", "caddy"]
        );
        let cyc = json!({"services": {
            "a": {"image": "i", "depends_on": {"b": {}}},
            "b": {"image": "i", "depends_on": {"a": {}}}
        }});
        let e = start_set(&parse_config(&cyc).expect("parse"), "a").expect_err("cycle");
        assert!(e.to_string().contains("cycle: a -> b -> a"), "{e}");
        assert!(start_set(&s, "nope").is_err());
    }

    fn plan() -> Plan {
        let svc = |name: &str, image: &str, source: Source, has_ports: bool| ServicePlan {
            name: name.into(),
            staging_image: match name {
                "api" => "ghcr.io/OWNER/cipherbox-api:rehearsal".into(),
                "postgres" => "postgres:16-alpine".into(),
                "redis" => "redis:7-alpine".into(),
                _ => "caddy:2-alpine".into(),
            },
            image: image.into(),
            source,
            has_ports,
        };
        let standin = |kind: Kind| Source::Standin {
            kind,
            provides: "X".into(),
            stands_in_for: format!("{}:real", kind.as_str()),
        };
        Plan {
            project: "xtask-rehearse-1-abcdef".into(),
            services: vec![
                svc(
                    "postgres",
                    "xtask.local/postgres:16-standin",
                    standin(Kind::Postgres),
                    true,
                ),
                svc(
                    "redis",
                    "xtask.local/redis:7-standin",
                    standin(Kind::Redis),
                    true,
                ),
                svc(
                    "api",
                    "cipherbox-api:rehearsal",
                    Source::Api {
                        note: "built".into(),
                        standin_base: Some("xtask.local/node:22-standin".into()),
                    },
                    true,
                ),
                svc(
                    "caddy",
                    "xtask.local/caddy:2-standin",
                    standin(Kind::Caddy),
                    true,
                ),
            ],
            proxy: "caddy".into(),
            proxy_ports: vec![
                Loopback {
                    host: 41080,
                    target: 80,
                    protocol: "tcp".into(),
                },
                Loopback {
                    host: 41443,
                    target: 443,
                    protocol: "tcp".into(),
                },
            ],
        }
    }

    #[test]
    fn plan_labels_name_stand_ins_as_such() {
        let p = plan();
        assert_eq!(
            p.label("postgres"),
            "postgres (STAND-IN xtask.local/postgres:16-standin)"
        );
        assert_eq!(
            p.label("api"),
            "api (on STAND-IN base xtask.local/node:22-standin)"
        );
        assert!(p
            .service("caddy")
            .expect("caddy")
            .describe()
            .contains("STAND-IN"));
        assert!(p.all_local());
        assert_eq!(p.proxy_port(443), Some(41443));
        assert_eq!(p.proxy_port(80), Some(41080));
        assert_eq!(p.proxy_port(8080), None);
    }

    #[test]
    fn merged_config_must_show_the_swapped_images_and_loopback_ports_only() {
        let p = plan();
        let good = json!({"services": {
            "postgres": {"image": "xtask.local/postgres:16-standin"},
            "redis": {"image": "xtask.local/redis:7-standin"},
            "api": {"image": "cipherbox-api:rehearsal"},
            "caddy": {"image": "xtask.local/caddy:2-standin", "ports": [
                {"host_ip": "127.0.0.1", "target": 80, "published": "41080", "protocol": "tcp"},
                {"host_ip": "127.0.0.1", "target": 443, "published": "41443", "protocol": "tcp"}
            ]}
        }});
        assert_eq!(
            verify_merged(&p, &parse_config(&good).expect("parse")),
            Vec::<String>::new()
        );
        let bad = parse_config(&config()).expect("parse");
        let problems = verify_merged(&p, &bad);
        assert!(
            problems
                .iter()
                .any(|x| x.contains("postgres runs postgres:16-alpine")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|x| x.contains("caddy publishes 80/tcp beyond loopback")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|x| x.contains("api still publishes host ports")),
            "{problems:?}"
        );
    }

    #[test]
    fn throwaway_env_covers_every_example_variable_with_fresh_secrets() {
        let example = "# comment\nTAG=latest\nDB_USERNAME=cipherbox\nDB_PASSWORD=change-me\n\nDB_DATABASE=x\nTEE_WORKER_SECRET=change-me\n";
        let mut n = 0;
        let env = throwaway_env(example, &mut || {
            n += 1;
            format!("s{n}")
        });
        let body: Vec<&str> = env.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            vec![
                "TAG=rehearsal",
                "DB_USERNAME=cipherbox",
                "DB_PASSWORD=s1",
                "DB_DATABASE=x",
                "TEE_WORKER_SECRET=s2"
            ]
        );
        assert_eq!(
            env_keys(&env),
            vec![
                "TAG",
                "DB_USERNAME",
                "DB_PASSWORD",
                "DB_DATABASE",
                "TEE_WORKER_SECRET"
            ]
        );
    }

    #[test]
    fn ps_output_is_parsed_in_both_formats() {
        let line = r#"{"Service":"api","Name":"p-api-1","State":"running","Health":"starting","ExitCode":0}"#;
        let ndjson = format!(
            "{line}\n{}\n",
            line.replace("api", "caddy").replace("starting", "")
        );
        let rows = parse_ps(&ndjson).expect("ndjson");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].health, "starting");
        assert_eq!(rows[1].service, "caddy");
        assert_eq!(parse_ps(&format!("[{line}]")).expect("array").len(), 1);
        assert!(parse_ps("").expect("empty").is_empty());
        assert!(parse_ps("{nope").is_err());
    }

    #[test]
    fn readiness_follows_state_and_health() {
        let row = |state: &str, health: &str, exit_code| PsRow {
            service: "s".into(),
            name: "p-s-1".into(),
            state: state.into(),
            health: health.into(),
            exit_code,
        };
        use Readiness::*;
        assert_eq!(readiness(None, true), Pending("not created yet".into()));
        assert_eq!(
            readiness(Some(&row("running", "healthy", 0)), true),
            Ready("healthy".into())
        );
        assert!(matches!(
            readiness(Some(&row("running", "starting", 0)), true),
            Pending(_)
        ));
        assert_eq!(
            readiness(Some(&row("running", "unhealthy", 0)), true),
            Failed("unhealthy".into())
        );
        assert_eq!(
            readiness(Some(&row("running", "", 0)), false),
            Ready("running (no healthcheck)".into())
        );
        assert!(matches!(
            readiness(Some(&row("running", "", 0)), true),
            Pending(_)
        ));
        assert!(matches!(
            readiness(Some(&row("created", "", 0)), true),
            Pending(_)
        ));
        assert_eq!(
            readiness(Some(&row("exited", "", 1)), false),
            Failed("exited (exit code 1)".into())
        );
        assert!(matches!(
            readiness(Some(&row("restarting", "", 137)), true),
            Failed(_)
        ));
        let all = stack_readiness(
            &[row("running", "healthy", 0)],
            &[("s".into(), true), ("t".into(), false)],
            &[],
        );
        assert_eq!(all[0].1, Ready("healthy".into()));
        assert_eq!(all[1].1, Pending("not created yet".into()));
        // a one-shot that exited 0 is done; one that failed, or a long-running service that
        // exited 0, is not
        let mut m = row("exited", "", 0);
        m.service = "migrate".into();
        let mut m1 = row("exited", "", 1);
        m1.service = "seed".into();
        let mut a = row("exited", "", 0);
        a.service = "api".into();
        let expected: Vec<(String, bool)> = ["migrate", "seed", "api"]
            .iter()
            .map(|s| (s.to_string(), false))
            .collect();
        let one = vec!["migrate".to_string(), "seed".to_string()];
        let all = stack_readiness(&[m, m1, a], &expected, &one);
        assert_eq!(all[0].1, Ready("completed (exit code 0)".into()));
        assert_eq!(all[1].1, Failed("exited (exit code 1)".into()));
        assert_eq!(all[2].1, Failed("exited (exit code 0)".into()));
    }

    #[test]
    fn curl_write_out_and_the_redirect_rule() {
        let h = parse_curl(
            r#"{"http_code":308,"redirect_url":"https://localhost/health","exitcode":0,"errormsg":null,"ssl_verify_result":0,"scheme":"HTTP"}"#,
        )
        .expect("json");
        assert_eq!(h.code, 308);
        assert_eq!(h.scheme, "http");
        assert_eq!(
            check_redirect(&h),
            Ok("308 → https://localhost/health".into())
        );
        let moved = Http {
            code: 301,
            ..h.clone()
        };
        assert!(check_redirect(&moved).is_ok());
        let temporary = Http {
            code: 302,
            ..h.clone()
        };
        assert!(check_redirect(&temporary)
            .expect_err("302")
            .contains("permanent"));
        let to_http = Http {
            redirect_url: "http://x/".into(),
            ..h.clone()
        };
        assert!(check_redirect(&to_http).is_err());
        let refused = Http {
            exit: 7,
            error: "Failed to connect".into(),
            code: 0,
            ..h
        };
        assert!(check_redirect(&refused)
            .expect_err("7")
            .contains("curl exit 7"));
        assert!(parse_curl("not json").is_err());
    }

    #[test]
    fn docker_times_are_parsed_to_nanoseconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(
            parse_time("2024-03-01T00:00:00Z"),
            Some(1_709_251_200 * 1_000_000_000)
        );
        assert_eq!(
            parse_time("2024-03-01T01:00:00+01:00"),
            parse_time("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            parse_time("2024-02-29T23:00:00.000000001-01:00"),
            parse_time("2024-03-01T00:00:00.000000001Z")
        );
        assert!(parse_time("2024-03-01T00:00:00.5Z") < parse_time("2024-03-01T00:00:00.51Z"));
        assert!(parse_time("2024-03-01T00:00:00Z") < parse_time("2024-03-01T00:00:00.1Z"));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2024-03-01T00:00:00.x5Z"), None);
    }

    fn container(svc: &str, started: &str, probes: &[(&str, &str, i64)]) -> Value {
        json!({
            "Config": {"Labels": {"com.docker.compose.service": svc}},
            "State": {"StartedAt": started, "Health": {"Log": probes.iter().map(|(s, e, c)| json!({"Start": s, "End": e, "ExitCode": c})).collect::<Vec<_>>()}}
        })
    }

    #[test]
    fn the_deployed_upstream_is_read_from_the_caddyfile() {
        let c = "{\n\tauto_https off\n}\n\n:443 {\n\ttls a b\n\treverse_proxy api:3000\n}\n";
        assert_eq!(caddy_upstream(c).as_deref(), Some("api:3000"));
        assert_eq!(
            caddy_upstream("# reverse_proxy x:1\n:443 {\n  reverse_proxy a:1 b:2 {\n  }\n}")
                .as_deref(),
            Some("a:1 b:2")
        );
        assert_eq!(caddy_upstream("reverse_proxyx y\n"), None);
        assert_eq!(caddy_upstream(""), None);
    }

    #[test]
    fn terminal_escapes_are_stripped_from_logs() {
        assert_eq!(
            strip_ansi("\u{1b}[2Kpostgres-1  | ok\n"),
            "postgres-1  | ok\n"
        );
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(strip_ansi("no escapes → fine"), "no escapes → fine");
    }

    #[test]
    fn failing_containers_are_summed_up_with_the_last_probe_output() {
        let v = json!([{
            "Config": {"Labels": {"com.docker.compose.service": "postgres"}},
            "RestartCount": 2,
            "State": {"Status": "running", "ExitCode": 0, "Error": "", "OOMKilled": false,
                "Health": {"Status": "unhealthy", "FailingStreak": 5, "Log": [
                    {"ExitCode": 2, "Output": "/var/run/postgresql:5432 - no response\n"}]}}
        }]);
        assert_eq!(
            container_summary(&v, "postgres").as_deref(),
            Some("state running, exit code 0, restarts 2, health unhealthy (5 failing probe(s) in a row); last probe exit 2: /var/run/postgresql:5432 - no response")
        );
        assert_eq!(container_summary(&v, "redis"), None);
    }

    #[test]
    fn depends_on_order_is_judged_from_start_times_and_health_logs() {
        let v = json!([
            container(
                "postgres",
                "2024-01-01T00:00:00Z",
                &[
                    ("2024-01-01T00:00:10Z", "2024-01-01T00:00:10.2Z", 0),
                    ("2024-01-01T00:00:20Z", "2024-01-01T00:00:20.1Z", 0)
                ]
            ),
            container("api", "2024-01-01T00:00:11Z", &[]),
            container("early", "2024-01-01T00:00:05Z", &[]),
            container("late", "2024-01-01T00:00:30Z", &[]),
            container(
                "redis",
                "2024-01-01T00:00:00Z",
                &[("2024-01-01T00:00:25Z", "2024-01-01T00:00:25.1Z", 0)]
            ),
        ]);
        let s = parse_inspect(&v);
        assert_eq!(s.len(), 5);
        assert_eq!(
            check_order(&s, "api", "postgres", "service_healthy"),
            Order::Honoured { margin_ms: 800 }
        );
        assert!(matches!(
            check_order(&s, "early", "postgres", "service_healthy"),
            Order::Unknown(_)
        ));
        assert!(matches!(
            check_order(&s, "late", "redis", "service_healthy"),
            Order::Honoured { .. }
        ));
        // the log covers api's start and shows no success before it: violated
        let v2 = json!([
            container(
                "db",
                "2024-01-01T00:00:00Z",
                &[
                    ("2024-01-01T00:00:05Z", "2024-01-01T00:00:05.1Z", 1),
                    ("2024-01-01T00:00:15Z", "2024-01-01T00:00:15.1Z", 0)
                ]
            ),
            container("app", "2024-01-01T00:00:06Z", &[]),
        ]);
        assert!(matches!(
            check_order(&parse_inspect(&v2), "app", "db", "service_healthy"),
            Order::Violated(_)
        ));
        assert_eq!(
            check_order(&s, "api", "early", "service_started"),
            Order::Honoured { margin_ms: 6000 }
        );
        assert!(matches!(
            check_order(&s, "api", "nope", "service_started"),
            Order::Unknown(_)
        ));
    }
}
