//! The API's world for the smoke test: the stack services its contract wires (postgres, redis,
//! ipfs, the tee-worker), each as the compose model runs it (environment, entrypoint, command,
//! healthcheck) with throwaway credentials shared with the API's own env, and what one of them
//! reports (`docker inspect`'s `State`). Pure: [`crate::ops::smoke`] starts the containers.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::envcontract::{service_of_key, Class, Contract, DB_NAME, DB_PASSWORD, DB_PORT, DB_USER};
use crate::secretfmt::SecretFormat;
use crate::stack::{Compose, Service, Val};

/// One stack service the smoke test starts, as `docker run` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The service's name: its network alias, the host the API's env names.
    pub name: String,
    /// The image the staging file names (a stand-in may run instead).
    pub image: String,
    /// `--entrypoint` (the first word of the model's entrypoint; `None`: the image's own).
    pub entrypoint: Option<String>,
    /// What follows the image: the rest of the entrypoint, then the command.
    pub args: Vec<String>,
    /// Its environment, resolved (throwaway values; goes through a 0600 env file).
    pub env: Vec<(String, String)>,
    /// `--health-cmd` (a shell command), from the model's healthcheck.
    pub ready: Option<String>,
}

/// What the smoke test starts around the API and the env the API (and its migration) gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    pub services: Vec<ServiceSpec>,
    pub api_env: Vec<(String, String)>,
}

/// The stack service a key reaches when the stack wires it: its host or URL
/// ([`service_of_key`]), and also its port and credentials (`DB_PASSWORD` → postgres,
/// `REDIS_PASSWORD` → redis, `IPFS_GATEWAY_URL` → ipfs).
pub fn service_wired_by(name: &str) -> Option<&'static str> {
    let db = [DB_PORT, DB_USER, DB_PASSWORD, DB_NAME];
    match name {
        _ if db.iter().any(|names| names.contains(&name)) => Some("postgres"),
        "REDIS_PORT" | "REDIS_PASSWORD" => Some("redis"),
        "IPFS_GATEWAY_URL" | "IPFS_LOCAL_GATEWAY_URL" => Some("ipfs"),
        _ => service_of_key(name),
    }
}

/// The services of `compose` the API's contract wires (dependencies the stack has and the
/// API reaches by a key the stack wires; a key with its own staging value from `[api.env]`
/// reaches somewhere else), in the compose file's order.
pub fn wired(contract: &Contract, compose: &Compose) -> Vec<String> {
    let mut wanted: Vec<&'static str> = Vec::new();
    for k in contract.set_keys().filter(|k| k.class != Class::Config) {
        if let Some(s) = service_wired_by(&k.name) {
            wanted.push(s);
        }
    }
    compose
        .services
        .iter()
        .filter(|s| wanted.contains(&s.name.as_str()))
        .map(|s| s.name.clone())
        .collect()
}

/// The world for `start` (service names of `compose`): every variable the API's and the
/// services' environments read takes its value from `base` (the API's smoke env, throwaway
/// secrets included), else `secret(format)` for a secret name (a fresh value of its format),
/// else `smoke`; so postgres's password is the one the API connects with.
pub fn world(
    contract: &Contract,
    compose: &Compose,
    start: &[String],
    base: &[(String, String)],
    secret: &mut dyn FnMut(SecretFormat) -> anyhow::Result<String>,
) -> anyhow::Result<World> {
    let mut vars: BTreeMap<String, String> = base
        .iter()
        .filter(|(_, v)| !v.contains("${"))
        .cloned()
        .collect();
    let services: Vec<&Service> = start.iter().filter_map(|n| compose.service(n)).collect();
    let api = compose.service("api");
    let envs = services
        .iter()
        .chain(api.iter())
        .flat_map(|s| s.environment.iter());
    for (_, v) in envs {
        for var in referenced(v) {
            if let std::collections::btree_map::Entry::Vacant(slot) = vars.entry(var) {
                let value = if contract.is_secret(slot.key()) {
                    secret(contract.secret_format(slot.key()))?
                } else {
                    "smoke".to_string()
                };
                slot.insert(value);
            }
        }
    }
    let api_env = match api {
        Some(api) => {
            let mut env = resolve_env(&api.environment, &vars);
            // keys of the smoke env compose does not set (none today) keep their value
            for (k, v) in base {
                if !env.iter().any(|(n, _)| n == k) {
                    env.push((k.clone(), v.clone()));
                }
            }
            env
        }
        None => base.to_vec(),
    };
    Ok(World {
        services: services.iter().map(|s| spec(s, &vars)).collect(),
        api_env,
    })
}

fn spec(s: &Service, vars: &BTreeMap<String, String>) -> ServiceSpec {
    let words = |v: &[String]| -> Vec<String> { v.iter().map(|w| interpolate(w, vars)).collect() };
    let entry = words(&s.entrypoint);
    let mut args: Vec<String> = entry.iter().skip(1).cloned().collect();
    args.extend(words(&s.command));
    ServiceSpec {
        name: s.name.clone(),
        image: interpolate(&s.image, vars),
        entrypoint: entry.first().cloned(),
        args,
        env: resolve_env(&s.environment, vars),
        ready: s.healthcheck.as_ref().map(|h| ready_command(&h.test)),
    }
}

fn resolve_env(env: &[(String, Val)], vars: &BTreeMap<String, String>) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| {
            let v = match v {
                Val::Lit(s) => interpolate(s, vars),
                Val::Required { var, .. } => vars.get(var).cloned().unwrap_or_default(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The variables a value reads.
fn referenced(v: &Val) -> Vec<String> {
    match v {
        Val::Required { var, .. } => vec![var.clone()],
        Val::Lit(s) => {
            let mut out = Vec::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find('$') {
                rest = &rest[i + 1..];
                if let Some(r) = rest.strip_prefix('$') {
                    rest = r;
                } else if let Some(r) = rest.strip_prefix('{') {
                    let name: String = r
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let default = r[name.len()..].starts_with(":-");
                    if !name.is_empty() && !default {
                        out.push(name);
                    }
                    rest = r;
                }
            }
            out
        }
    }
}

/// Compose's interpolation of `s` with `vars`: `$$` is `$`, `${NAME:?msg}` and `${NAME}` its
/// value (empty when unknown), `${NAME:-default}` its value or the default.
pub fn interpolate(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let Some(r) = rest.strip_prefix('{') else {
            out.push('$');
            continue;
        };
        let Some(end) = r.find('}') else {
            out.push_str("${");
            rest = r;
            continue;
        };
        let inner = &r[..end];
        let name: String = inner
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let tail = &inner[name.len()..];
        match (vars.get(&name), tail.strip_prefix(":-")) {
            (Some(v), _) if !v.is_empty() => out.push_str(v),
            (_, Some(default)) => out.push_str(default),
            (Some(v), None) => out.push_str(v),
            (None, None) => {}
        }
        rest = &r[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A compose healthcheck test as one shell command (`docker run --health-cmd`). `pg_isready`
/// asks over TCP (`-h 127.0.0.1`): postgres's image answers on its socket already while its
/// init script runs, and restarts after; TCP answers once the real server listens.
pub fn ready_command(test: &[String]) -> String {
    let cmd = match test.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => rest.join(" ").replace("$$", "$"),
        Some((kind, rest)) if kind == "CMD" => rest
            .iter()
            .map(|w| crate::render::quote::shell(w))
            .collect::<Vec<_>>()
            .join(" "),
        _ => test.join(" "),
    };
    match cmd.strip_prefix("pg_isready ") {
        Some(rest) => format!("pg_isready -h 127.0.0.1 {rest}"),
        None => cmd,
    }
}

/// Where a started service is, from `docker inspect`'s `State` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Starting,
    /// Healthy (or running, without a healthcheck).
    Ready,
    Unhealthy,
    /// Not running: its exit code.
    Exited(Option<i64>),
}

pub fn readiness(state: &Json) -> Readiness {
    let running = state.get("Running").and_then(Json::as_bool) == Some(true);
    if !running {
        let restarting = state.get("Restarting").and_then(Json::as_bool) == Some(true);
        if restarting || state.get("Status").and_then(Json::as_str) == Some("created") {
            return Readiness::Starting;
        }
        return Readiness::Exited(state.get("ExitCode").and_then(Json::as_i64));
    }
    match state
        .get("Health")
        .and_then(|h| h.get("Status"))
        .and_then(Json::as_str)
    {
        None | Some("healthy") => Readiness::Ready,
        Some("unhealthy") => Readiness::Unhealthy,
        Some(_) => Readiness::Starting,
    }
}

/// A service the smoke test started: the image it ran and where that came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StartedService {
    pub name: String,
    pub image: String,
    /// `real` (local), `pulled` (real, not local: the engine pulls it, as in CI) or
    /// `STAND-IN` (a local stand-in for `stands_in_for`).
    pub source: &'static str,
    pub stands_in_for: Option<String>,
    /// What a stand-in provides (e.g. "PostgreSQL 15.20 (Debian 12 ...)").
    pub provides: Option<String>,
    /// Milliseconds from its start to ready (`None`: never ready).
    pub ready_ms: Option<u64>,
}

/// A service the contract wires that the smoke test did not start, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotStarted {
    pub name: String,
    pub why: String,
}

/// `[api.migrate] command`, run in the API image on the smoke network before the API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrateRun {
    pub command: Vec<String>,
    pub ok: bool,
    /// Its exit code (`None`: it did not finish in time).
    pub exit: Option<i64>,
    pub ms: u64,
}

/// Milliseconds of each phase of the boot (0: not run).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BootTimings {
    /// choosing the services' images (building a stand-in when it is not current)
    pub images_ms: u64,
    /// starting the services until every one is ready
    pub services_ms: u64,
    pub migrate_ms: u64,
    /// starting the API until its health answer
    pub health_ms: u64,
}

/// How the API was booted: its services, its migration, its health answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Boot {
    /// The private network the services and the API shared (`None`: no service started).
    pub network: Option<String>,
    pub services: Vec<StartedService>,
    pub not_started: Vec<NotStarted>,
    pub migrate: Option<MigrateRun>,
    /// The status `GET <health path>` answered (`None`: no answer).
    pub health_status: Option<u16>,
    /// It equals `[api.health] status`.
    pub healthy: bool,
    pub timings: BootTimings,
}

impl Boot {
    /// One line for the text report.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.services.is_empty() {
            parts.push("no service started".to_string());
        } else {
            let s: Vec<String> = self
                .services
                .iter()
                .map(|s| match (&s.source, &s.stands_in_for) {
                    (&"STAND-IN", Some(of)) => {
                        format!("{} (STAND-IN {} for {of})", s.name, s.image)
                    }
                    _ => format!("{} ({} {})", s.name, s.image, s.source),
                })
                .collect();
            parts.push(format!(
                "started {} in {:.1}s",
                s.join(", "),
                self.timings.services_ms as f64 / 1000.0
            ));
        }
        for n in &self.not_started {
            parts.push(format!("not started: {} ({})", n.name, n.why));
        }
        if let Some(m) = &self.migrate {
            parts.push(format!(
                "migrate {} in {:.1}s",
                if m.ok { "ok" } else { "FAILED" },
                m.ms as f64 / 1000.0
            ));
        }
        match self.health_status {
            Some(code) => parts.push(format!(
                "health {code}{}",
                if self.healthy { " (healthy)" } else { "" }
            )),
            None => parts.push("no health answer".into()),
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Mono;

    fn mono(example: &str, services: &str) -> Mono {
        let m = Mono::new("world");
        m.file("tsconfig.base.json", "{}");
        m.pkg("apps/api", "@x/api", &[], true);
        m.file("apps/api/.env.example", example);
        m.file(
            "infra/stack.toml",
            &format!("[project]\nservices = [{services}]\n\n[api]\npackage = \"@x/api\"\n"),
        );
        m
    }

    fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn counter() -> impl FnMut(SecretFormat) -> anyhow::Result<String> {
        let mut n = 0;
        move |_| {
            n += 1;
            Ok(format!("secret{n}"))
        }
    }

    #[test]
    fn postgres_gets_the_credentials_the_api_connects_with() {
        let m = mono(
            "DB_HOST=localhost\nDB_USERNAME=app\nDB_PASSWORD=\nDB_DATABASE=app_dev\nDATABASE_URL=postgres://u:p@localhost/x\nREDIS_URL=redis://localhost:6379\nJWT_SECRET=\n",
            "\"postgres\", \"redis\", \"ipfs\"",
        );
        let model = m.model().expect("model");
        let (contract, compose) = (&model.stack.contract, &model.stack.compose);
        // ipfs is in the stack but no key of the API reaches it
        assert_eq!(wired(contract, compose), vec!["postgres", "redis"]);
        let mut secret = counter();
        let base = contract.smoke_env(&mut secret).expect("env");
        let start = wired(contract, compose);
        let w = world(contract, compose, &start, &base, &mut secret).expect("world");
        let names: Vec<&str> = w.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["postgres", "redis"]);
        let pg = &w.services[0];
        let pw = get(&w.api_env, "DB_PASSWORD").expect("password");
        assert!(pw.starts_with("secret"), "{pw}");
        assert_eq!(get(&pg.env, "POSTGRES_PASSWORD"), Some(pw));
        assert_eq!(get(&pg.env, "POSTGRES_USER"), Some("app"));
        assert_eq!(get(&pg.env, "POSTGRES_DB"), Some("app_dev"));
        assert_eq!(get(&w.api_env, "DB_HOST"), Some("postgres"));
        assert_eq!(
            get(&w.api_env, "DATABASE_URL"),
            Some(format!("postgres://app:{pw}@postgres:5432/app_dev").as_str())
        );
        // redis's password: generated, the same for redis-server and the API's URL
        let redis = &w.services[1];
        let rpw = get(&redis.env, "REDIS_PASSWORD").expect("redis password");
        assert!(rpw.starts_with("secret"), "{rpw}");
        assert_eq!(get(&w.api_env, "REDIS_PASSWORD"), Some(rpw));
        assert_eq!(
            get(&w.api_env, "REDIS_URL"),
            Some(format!("redis://:{rpw}@redis:6379").as_str())
        );
        // the entrypoint as compose runs it, `$$` unescaped; the readiness over TCP
        assert_eq!(redis.entrypoint.as_deref(), Some("sh"));
        assert_eq!(redis.args[0], "-c");
        assert!(redis.args[1].contains("--requirepass \"$REDIS_PASSWORD\""));
        let ready = pg.ready.as_deref().expect("healthcheck");
        assert!(
            ready.starts_with("pg_isready -h 127.0.0.1 -U \"${POSTGRES_USER}\""),
            "{ready}"
        );
        assert!(redis
            .ready
            .as_deref()
            .expect("redis")
            .contains("REDISCLI_AUTH=\"$REDIS_PASSWORD\""));
    }

    #[test]
    fn an_api_that_wires_nothing_starts_nothing() {
        // no key reaches a service; DB_HOST with its own value from [api.env] is not wired
        let m = mono("JWT_SECRET=\nLOG_LEVEL=info\n", "\"postgres\", \"redis\"");
        let model = m.model().expect("model");
        assert!(wired(&model.stack.contract, &model.stack.compose).is_empty());
        let m = mono("DB_HOST=localhost\n", "\"postgres\"");
        m.file(
            "infra/stack.toml",
            "[project]\nservices = [\"postgres\"]\n\n[api]\npackage = \"@x/api\"\n\n[api.env]\nDB_HOST = \"db.example.org\"\n",
        );
        let model = m.model().expect("model");
        assert!(wired(&model.stack.contract, &model.stack.compose).is_empty());
        // a service the stack lacks is never started, however the API names it
        let m = mono("REDIS_HOST=localhost\n", "\"postgres\"");
        let model = m.model().expect("model");
        assert!(wired(&model.stack.contract, &model.stack.compose).is_empty());
    }

    #[test]
    fn interpolation_is_composes() {
        let vars: BTreeMap<String, String> = [
            ("A".to_string(), "1".to_string()),
            ("E".to_string(), String::new()),
        ]
        .into();
        assert_eq!(interpolate("x${A:?set A}y", &vars), "x1y");
        assert_eq!(interpolate("$$A ${A}", &vars), "$A 1");
        assert_eq!(interpolate("${B:-dflt}/${E:-e}", &vars), "dflt/e");
        assert_eq!(interpolate("${MISSING:?m}", &vars), "");
        assert_eq!(interpolate("a$ b ${unclosed", &vars), "a$ b ${unclosed");
        assert_eq!(
            referenced(&Val::Lit("${A:?x} ${B:-d} $${C} ${D}".into())),
            ["A", "D"]
        );
    }

    #[test]
    fn exec_healthchecks_become_one_shell_command() {
        let t = |v: &[&str]| ready_command(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            t(&["CMD", "node", "-e", "require('http').get('x')"]),
            "node -e 'require('\\''http'\\'').get('\\''x'\\'')'"
        );
        assert_eq!(t(&["CMD-SHELL", "echo $${X}"]), "echo ${X}");
    }

    #[test]
    fn readiness_of_a_container_state() {
        let r = |j: &str| readiness(&serde_json::from_str(j).expect("json"));
        assert_eq!(r(r#"{"Running":true}"#), Readiness::Ready);
        assert_eq!(
            r(r#"{"Running":true,"Health":{"Status":"starting"}}"#),
            Readiness::Starting
        );
        assert_eq!(
            r(r#"{"Running":true,"Health":{"Status":"healthy"}}"#),
            Readiness::Ready
        );
        assert_eq!(
            r(r#"{"Running":true,"Health":{"Status":"unhealthy"}}"#),
            Readiness::Unhealthy
        );
        assert_eq!(
            r(r#"{"Running":false,"Status":"exited","ExitCode":3}"#),
            Readiness::Exited(Some(3))
        );
        assert_eq!(
            r(r#"{"Running":false,"Status":"created"}"#),
            Readiness::Starting
        );
        assert_eq!(r("null"), Readiness::Exited(None));
    }

    #[test]
    fn the_boot_summary_names_stand_ins_and_what_was_not_started() {
        let b = Boot {
            network: Some("n".into()),
            services: vec![StartedService {
                name: "postgres".into(),
                image: "xtask.local/postgres:16-standin".into(),
                source: "STAND-IN",
                stands_in_for: Some("postgres:16-alpine".into()),
                provides: Some("PostgreSQL 15".into()),
                ready_ms: Some(1200),
            }],
            not_started: vec![NotStarted {
                name: "ipfs".into(),
                why: "no local image".into(),
            }],
            migrate: None,
            health_status: Some(200),
            healthy: true,
            timings: BootTimings::default(),
        };
        let s = b.summary();
        assert!(
            s.contains(
                "postgres (STAND-IN xtask.local/postgres:16-standin for postgres:16-alpine)"
            ),
            "{s}"
        );
        assert!(s.contains("not started: ipfs (no local image)"), "{s}");
        assert!(s.contains("health 200 (healthy)"), "{s}");
    }
}
