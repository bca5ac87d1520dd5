//! Rules on what a VPS needs from `infra/docker-compose.staging.yml` beyond "it starts":
//! rotated logs, an authenticated redis, segmented networks, the image owner as a variable,
//! memory limits, an init process for node, and a proxy that outlives the API.

use serde_yaml::Value;

use super::compose::{ix, k, scalar};
use super::{Input, Out, Rule};
use crate::config::LOG_DRIVERS;
use crate::parse::yaml::Seg;
use crate::stack::{self, COMPOSE as F, DATA_NET, EDGE_NET, IPFS_NET, OWNER_VAR};

pub const RULES: &[Rule] = &[
    Rule {
        id: "compose/logging",
        file: F,
        rationale: "every service logs through a rotating driver (json-file or local, max-size and max-file from [logs]): logs never fill the VPS's disk",
        check: logging,
    },
    Rule {
        id: "compose/redis-auth",
        file: F,
        rationale: "redis requires a password (--requirepass from the environment, never written into the Cmd or a -a argument) and the API is given it",
        check: redis_auth,
    },
    Rule {
        id: "compose/networks",
        file: F,
        rationale: "caddy (and web) only on `edge`, ipfs only on `ipfs`, the rest of the back end only on `data`, the API on all: the proxy cannot reach the databases, and nothing but the API reaches IPFS's RPC API",
        check: networks,
    },
    Rule {
        id: "compose/image-owner",
        file: F,
        rationale: "our images name their owner as ${IMAGE_OWNER:-<project.owner>}: one file serves forks and CI",
        check: image_owner,
    },
    Rule {
        id: "compose/memory-limit",
        file: F,
        rationale: "every service has the memory limit [memory] gives it: one leak cannot take the whole VPS",
        check: memory_limit,
    },
    Rule {
        id: "compose/init",
        file: F,
        rationale: "services whose PID 1 is node run with `init: true`: node neither reaps zombies nor handles SIGTERM as PID 1's default",
        check: init,
    },
    Rule {
        id: "compose/healthcheck",
        file: F,
        rationale: "every long-running service has a healthcheck whose programs exist in its image (ours: the Dockerfile's node base; third-party: the documented table)",
        check: healthcheck,
    },
    Rule {
        id: "compose/proxy-outlives-api",
        file: F,
        rationale: "caddy does not wait for the API to be healthy (service_started, not service_healthy): the site and the 502/503 page stay up while the API is down",
        check: proxy_outlives_api,
    },
];

fn svc_path(name: &str, rest: &[&str]) -> Vec<Seg> {
    let mut p = vec![k("services"), k(name)];
    p.extend(rest.iter().map(|s| k(s)));
    p
}

/// A string-or-list field (`command`, `entrypoint`, `healthcheck.test`) as one text.
pub fn joined(v: Option<&Value>) -> String {
    match v {
        Some(Value::Sequence(s)) => s.iter().filter_map(scalar).collect::<Vec<_>>().join(" "),
        Some(v) => scalar(v).unwrap_or_default(),
        None => String::new(),
    }
}

fn logging(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let want = &i.model.config.logs;
    for (name, svc) in c.services() {
        let Some(l) = svc.get("logging") else {
            o.at(
                F,
                c.line(&svc_path(&name, &[])),
                format!("{name} has no `logging:`, so the engine's default (json-file, never rotated) fills the disk; add `logging: *logging`"),
            );
            continue;
        };
        let line = c.line(&svc_path(&name, &["logging"]));
        // `logging: *x`: the fault is in the anchor, reported once at `&x`
        let (line, name) = match anchor_of(&c.text, line) {
            Some((at, anchor)) => (at, format!("the shared `&{anchor}` (every service)")),
            None => (line, name),
        };
        let driver = l.get("driver").and_then(scalar).unwrap_or_default();
        if !LOG_DRIVERS.contains(&driver.as_str()) {
            o.at(F, line, format!("{name} logs with driver `{driver}`; use json-file or local (they rotate and keep `docker logs`), as [logs] driver says"));
            continue;
        }
        let opt = |key: &str| l.get("options").and_then(|x| x.get(key)).and_then(scalar);
        match (opt("max-size"), opt("max-file")) {
            (Some(size), Some(files))
                if size == want.max_size && files == want.max_file.to_string() => {}
            (size, files) => o.at(
                F,
                line,
                format!(
                    "{name} logs rotate at max-size {} keeping max-file {}, not [logs] max_size = {:?} and max_file = {}; use the shared `logging: *logging`",
                    size.as_deref().unwrap_or("(unset: never)"),
                    files.as_deref().unwrap_or("(unset)"),
                    want.max_size,
                    want.max_file
                ),
            ),
        }
    }
}

/// For a `key: *alias` line: (line of the `&alias` definition, alias).
fn anchor_of(text: &str, line: usize) -> Option<(usize, String)> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let alias = l.split_once(": *")?.1.trim();
    let def = format!("&{alias}");
    let at = text
        .lines()
        .position(|t| t.split_whitespace().any(|w| w == def))?;
    Some((at + 1, alias.to_string()))
}

/// Does `text` hold a compose interpolation (`${X}` or `$X`, not the escaped `$$`)?
pub fn interpolates(text: &str) -> bool {
    let b = text.as_bytes();
    let mut n = 0;
    while n < b.len() {
        if b[n] == b'$' {
            match b.get(n + 1) {
                Some(b'$') => n += 2,
                Some(c) if *c == b'{' || c.is_ascii_alphabetic() || *c == b'_' => return true,
                _ => n += 1,
            }
        } else {
            n += 1;
        }
    }
    false
}

fn redis_auth(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let Some(redis) = c.service("redis") else {
        return;
    };
    let start = format!(
        "{} {}",
        joined(redis.get("entrypoint")),
        joined(redis.get("command"))
    );
    let at_cmd = if redis.get("entrypoint").is_some() {
        c.line(&svc_path("redis", &["entrypoint"]))
    } else if redis.get("command").is_some() {
        c.line(&svc_path("redis", &["command"]))
    } else {
        c.line(&svc_path("redis", &[]))
    };
    let words: Vec<&str> = start.split_whitespace().collect();
    let pass = words
        .iter()
        .position(|w| *w == "--requirepass" || *w == "requirepass")
        .map(|p| words.get(p + 1).copied().unwrap_or(""));
    match pass {
        None => o.at(F, at_cmd, "redis starts without --requirepass: every container on its network can read and write it; start it with `--requirepass \"$$REDIS_PASSWORD\"` (from the environment)"),
        Some(p) if interpolates(p) => o.at(F, at_cmd, "redis's password is interpolated by compose into the command, so `docker inspect` shows it; escape it (`$$REDIS_PASSWORD`) so the shell in the container reads it from the environment"),
        Some(p) if !p.contains('$') => o.at(F, at_cmd, "redis's password is written in the compose file; read it from the environment (`\"$$REDIS_PASSWORD\"`, required as `${REDIS_PASSWORD:?…}`)"),
        Some(_) => {}
    }
    if !c
        .environment("redis")
        .iter()
        .any(|(k, _, _)| k == "REDIS_PASSWORD")
    {
        o.at(F, c.line(&svc_path("redis", &[])), "redis's environment has no REDIS_PASSWORD for --requirepass; add `REDIS_PASSWORD: \"${REDIS_PASSWORD:?…}\"`");
    }
    let hc = joined(redis.get("healthcheck").and_then(|h| h.get("test")));
    let hc_line = c.line(&svc_path("redis", &["healthcheck", "test"]));
    let hc_words: Vec<&str> = hc.split_whitespace().collect();
    if hc_words
        .iter()
        .any(|w| *w == "-a" || w.starts_with("--pass"))
    {
        o.at(F, hc_line, "redis's healthcheck passes the password with -a, visible in ps inside the container; use REDISCLI_AUTH=\"$$REDIS_PASSWORD\" redis-cli ping");
    } else if !hc.contains("REDISCLI_AUTH") {
        o.at(F, hc_line, "redis's healthcheck does not authenticate, so it fails (NOAUTH) once a password is set; use REDISCLI_AUTH=\"$$REDIS_PASSWORD\" redis-cli ping | grep -qx PONG");
    }
    if c.service("api").is_some()
        && !c
            .environment("api")
            .iter()
            .any(|(k, _, _)| k == "REDIS_PASSWORD")
    {
        o.at(F, c.line(&svc_path("api", &["environment"])), "the api is not given REDIS_PASSWORD, so it cannot authenticate to redis; add `REDIS_PASSWORD: \"${REDIS_PASSWORD:?…}\"`");
    }
}

/// The networks a service joins, list or map form (`None`: the default network).
fn joined_networks(svc: &Value) -> Option<Vec<String>> {
    match svc.get("networks")? {
        Value::Sequence(s) => Some(s.iter().filter_map(scalar).collect()),
        Value::Mapping(m) => Some(m.keys().filter_map(scalar).collect()),
        _ => Some(Vec::new()),
    }
}

fn networks(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let declared: Vec<String> = c
        .value
        .get("networks")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(scalar).collect())
        .unwrap_or_default();
    let with_ipfs = c.services().iter().any(|(name, _)| name == "ipfs");
    let nets: &[&str] = match with_ipfs {
        true => &[EDGE_NET, DATA_NET, IPFS_NET],
        false => &[EDGE_NET, DATA_NET],
    };
    for n in nets {
        if !declared.iter().any(|d| d == n) {
            o.at(
                F,
                c.line(&[k("networks")]),
                format!("the network `{n}` is not declared under the top-level `networks:`"),
            );
        }
    }
    for (name, svc) in c.services() {
        let want = stack::networks_of(&name, with_ipfs);
        let line = match svc.get("networks") {
            Some(_) => c.line(&svc_path(&name, &["networks"])),
            None => c.line(&svc_path(&name, &[])),
        };
        if svc.get("network_mode").is_some() {
            o.at(
                F,
                c.line(&svc_path(&name, &["network_mode"])),
                format!(
                    "{name} sets network_mode, which bypasses the edge/data split; join {} instead",
                    want.join(" and ")
                ),
            );
            continue;
        }
        let Some(have) = joined_networks(svc) else {
            o.at(F, line, format!("{name} joins the default network, where every service reaches every other; join {}", want.join(" and ")));
            continue;
        };
        for extra in have.iter().filter(|h| !want.contains(h)) {
            let why = if name == "caddy" || name == "web" {
                "the proxy would reach the databases and IPFS's RPC API"
            } else {
                "it widens who can reach what"
            };
            let at = svc
                .get("networks")
                .and_then(Value::as_sequence)
                .and_then(|s| s.iter().position(|x| scalar(x).as_deref() == Some(extra)))
                .map(|n| c.line(&svc_path_ix(&name, "networks", n)))
                .unwrap_or(line);
            o.at(
                F,
                at,
                format!(
                    "{name} joins `{extra}`: {why}; {name} belongs on {} only",
                    want.join(" and ")
                ),
            );
        }
        for missing in want.iter().filter(|w| !have.contains(w)) {
            o.at(
                F,
                line,
                format!(
                    "{name} is not on `{missing}`, which it needs ({name} joins {})",
                    want.join(" and ")
                ),
            );
        }
    }
}

fn svc_path_ix(name: &str, key: &str, n: usize) -> Vec<Seg> {
    vec![k("services"), k(name), k(key), ix(n)]
}

fn image_owner(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let cfg = &i.model.config;
    let want = format!("/${{{OWNER_VAR}:-{}}}/", cfg.owner);
    for (service, image) in [
        ("api", &cfg.api.image),
        ("tee-worker", &cfg.tee_worker.image),
    ] {
        let Some(have) = c
            .service(service)
            .and_then(|s| s.get("image"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        if !have.contains(&want) {
            o.at(
                F,
                c.line(&svc_path(service, &["image"])),
                format!("{service} runs `{have}`, whose owner is not `${{{OWNER_VAR}:-{}}}`: a fork or CI cannot pick its own without editing the file; use `{}`", cfg.owner, stack::published_image(cfg, image)),
            );
        }
    }
}

fn memory_limit(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let mem = &i.model.config.memory;
    for (name, svc) in c.services() {
        let Some(want) = mem.of(&name) else { continue };
        let deploy = svc
            .get("deploy")
            .and_then(|d| d.get("resources"))
            .and_then(|r| r.get("limits"))
            .and_then(|l| l.get("memory"))
            .and_then(scalar);
        let have = deploy.or_else(|| svc.get("mem_limit").and_then(scalar));
        let line = c.line(&svc_path(
            &name,
            &["deploy", "resources", "limits", "memory"],
        ));
        match have {
            None => o.at(F, line, format!("{name} has no memory limit: one leak can take the whole VPS; set deploy.resources.limits.memory (memory.{} = {want:?})", name.replace('-', "_"))),
            Some(h) if !h.eq_ignore_ascii_case(want) => o.at(F, line, format!("{name}'s memory limit {h} is not memory.{} = {want:?} from the config", name.replace('-', "_"))),
            _ => {}
        }
    }
}

fn init(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    for (name, svc) in c.services() {
        if !stack::runs_node(&name) {
            continue;
        }
        if svc.get("init").and_then(Value::as_bool) != Some(true) {
            let line = match svc.get("init") {
                Some(_) => c.line(&svc_path(&name, &["init"])),
                None => c.line(&svc_path(&name, &[])),
            };
            o.at(F, line, format!("{name} runs node as PID 1, which neither reaps zombie children nor stops cleanly on SIGTERM; add `init: true`"));
        }
    }
}

fn proxy_outlives_api(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let Some(caddy) = c.service("caddy") else {
        return;
    };
    let Some(m) = caddy.get("depends_on").and_then(Value::as_mapping) else {
        return;
    };
    for (dep, spec) in m {
        let Some(dep) = dep.as_str() else { continue };
        if dep != "api" && dep != "web" {
            continue;
        }
        if spec.get("condition").and_then(Value::as_str) == Some("service_healthy") {
            o.at(
                F,
                c.line(&[k("services"), k("caddy"), k("depends_on"), k(dep), k("condition")]),
                format!("caddy waits for {dep} to be healthy: while {dep} is unhealthy `up` never starts caddy, so the site and its 502/503 page are down too; use `condition: service_started`"),
            );
        }
    }
}

/// Programs known to be in the third-party images the stack runs (by repository name), for
/// healthchecks: the documented table (README, Generated files).
pub const IMAGE_PROGRAMS: &[(&str, &[&str])] = &[
    ("postgres", &["pg_isready", "psql", "postgres", "sh"]),
    ("redis", &["redis-cli", "redis-server", "sh", "grep"]),
    ("kubo", &["ipfs", "sh", "wget"]),
    ("caddy", &["caddy", "wget", "nslookup", "sh"]),
];

/// Words the shell runs itself.
const SHELL_BUILTINS: &[&str] = &[
    "exit", "test", "[", "true", "false", "echo", "printf", "exec",
];

/// The programs a healthcheck `test` runs: `CMD`'s first word; for `CMD-SHELL`, `sh` and
/// the first word (after `VAR=value` assignments) of each command of the shell line.
pub fn healthcheck_programs(test: &[String]) -> Vec<String> {
    match test.first().map(String::as_str) {
        Some("CMD") => test.get(1).cloned().into_iter().collect(),
        Some("CMD-SHELL") => {
            let line = test.get(1).map(String::as_str).unwrap_or("");
            let mut out = vec!["sh".to_string()];
            for cmd in line.split(['|', ';', '&']) {
                if let Some(w) = cmd
                    .split_whitespace()
                    .find(|w| !w.contains('=') || w.starts_with('='))
                {
                    if SHELL_BUILTINS.contains(&w) {
                        continue;
                    }
                    if !out.iter().any(|o| o == w) {
                        out.push(w.to_string());
                    }
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// The programs an image of the stack is known to hold: ours (api, tee-worker) are node
/// images (the API's Dockerfile runs on the node base); third-party ones by the table.
fn programs_of(service: &str, image: &str) -> Option<Vec<&'static str>> {
    if stack::runs_node(service) {
        return Some(vec!["node"]);
    }
    let (repo, _, _) = super::split_image(image);
    let name = repo.rsplit('/').next().unwrap_or(&repo);
    IMAGE_PROGRAMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| p.to_vec())
}

fn healthcheck(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    for (name, svc) in c.services() {
        // a one-shot (`restart: "no"`, the migrations) exits: its exit code is its health
        if svc.get("restart").and_then(Value::as_str) == Some("no") {
            continue;
        }
        let hc = svc.get("healthcheck");
        let disabled = hc.and_then(|h| h.get("disable")).and_then(Value::as_bool) == Some(true);
        let test: Vec<String> = match hc.and_then(|h| h.get("test")) {
            Some(Value::Sequence(s)) => s.iter().filter_map(scalar).collect(),
            Some(Value::String(s)) => vec!["CMD-SHELL".into(), s.clone()],
            _ => Vec::new(),
        };
        if disabled || test.is_empty() || test[0] == "NONE" {
            o.at(
                F,
                c.line(&svc_path(&name, &["healthcheck"])),
                format!("{name} has no healthcheck: a hung {name} looks healthy to compose, `depends_on` and the deploy"),
            );
            continue;
        }
        let image = svc.get("image").and_then(Value::as_str).unwrap_or("");
        let Some(have) = programs_of(&name, image) else {
            continue; // an image of the user's own choosing: nothing to check against
        };
        for p in healthcheck_programs(&test) {
            if !have.contains(&p.as_str()) {
                o.at(
                    F,
                    c.line(&svc_path(&name, &["healthcheck", "test"])),
                    format!("{name}'s healthcheck runs `{p}`, which {image} does not have (it has {}): the check always fails", have.join(", ")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::interpolates;

    #[test]
    fn healthcheck_programs_of_cmd_and_shell_forms() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::healthcheck_programs(&v(&["CMD", "wget", "-q"])),
            v(&["wget"])
        );
        assert_eq!(
            super::healthcheck_programs(&v(&[
                "CMD-SHELL",
                "REDISCLI_AUTH=\"$$X\" redis-cli ping | grep -qx PONG"
            ])),
            v(&["sh", "redis-cli", "grep"])
        );
        assert_eq!(
            super::healthcheck_programs(&v(&["CMD-SHELL", "curl -f http://x || exit 1"])),
            v(&["sh", "curl"])
        );
    }

    #[test]
    fn escaped_dollars_are_not_interpolation() {
        assert!(!interpolates("\"$$REDIS_PASSWORD\""));
        assert!(!interpolates("$$$$x"));
        assert!(interpolates("${REDIS_PASSWORD:?x}"));
        assert!(interpolates("$REDIS_PASSWORD"));
        assert!(!interpolates("price $5"));
    }
}
