//! Each key's value through its kind into the [`Config`]: every string through its type in
//! [`crate::values`], every number within its range, every list checked item by item.

use toml_edit::{Item, Value};

use super::schema::Kind;
use super::{
    is_cidr, is_docker_size, is_header_name, parse_body_size, web, BuildRunner, CiCache, Config,
    EnvOverride, WebConfig, BUILD_ONLY_FILES, LOG_DRIVERS, STACK_SERVICES,
};
use crate::values;

/// One `[api.env]` entry.
pub(super) fn apply_env(c: &mut Config, name: &str, item: &Item) -> Result<(), String> {
    if !crate::envcontract::is_var_name(name) {
        return Err(format!(
            "`api.env.{name}` is not a variable name (letters, digits and _, not starting with a digit)"
        ));
    }
    let text = |v: &Value, what: &str| -> Result<String, String> {
        let s = v
            .as_str()
            .ok_or_else(|| format!("`api.env.{name}`{what} must be a string"))?;
        if s.contains(['\n', '\r', '\0']) {
            return Err(format!(
                "`api.env.{name}`{what} must be one line (no newline or NUL)"
            ));
        }
        Ok(s.to_string())
    };
    let mut o = EnvOverride {
        name: name.to_string(),
        value: None,
        secret: None,
        optional: None,
        comment: None,
        format: None,
    };
    if let Some(v) = item.as_value().filter(|v| !v.is_inline_table()) {
        o.value = Some(text(v, "")?);
    } else if let Some(t) = item.as_table_like() {
        for (k, v) in t.iter() {
            let v = v
                .as_value()
                .ok_or_else(|| format!("`api.env.{name}.{k}` must be a value"))?;
            let flag = |v: &Value| {
                v.as_bool()
                    .ok_or_else(|| format!("`api.env.{name}.{k}` must be true or false"))
            };
            match k {
                "value" => o.value = Some(text(v, ".value")?),
                "comment" => o.comment = Some(text(v, ".comment")?),
                "format" => {
                    let f = text(v, ".format")?;
                    crate::secretfmt::SecretFormat::parse(&f)
                        .map_err(|m| format!("`api.env.{name}.format` = {f:?}: {m}"))?;
                    o.format = Some(f);
                }
                "secret" => o.secret = Some(flag(v)?),
                "optional" => o.optional = Some(flag(v)?),
                _ => {
                    return Err(format!(
                        "unknown key `api.env.{name}.{k}` (known: value, secret, optional, comment, format)"
                    ))
                }
            }
        }
    } else {
        return Err(format!(
            "`api.env.{name}` must be a string (its staging value) or a table like {{ secret = true }}"
        ));
    }
    if o.secret == Some(true) && o.value.is_some() {
        return Err(format!(
            "`api.env.{name}` is a secret with a value in the config; a secret's value belongs in .env.staging only (drop `value`)"
        ));
    }
    if o.format.is_some() && o.secret == Some(false) {
        return Err(format!(
            "`api.env.{name}` has `secret = false` and a `format`; a format is a secret's (what the smoke test and the rehearsal generate): drop `format`, or `secret = false`"
        ));
    }
    // a TOML table's keys are unique (the parser refuses a duplicate), so a name comes once:
    // no search of the entries before it (that made a long [api.env] quadratic)
    c.api.env.push(o);
    Ok(())
}

/// `[api.migrate] command = ["node", "dist/run-migrations.js"]`.
pub(super) fn apply_migrate(c: &mut Config, key: &str, item: &Item) -> Result<(), String> {
    if key != "command" {
        return Err(format!("unknown key `api.migrate.{key}` (known: command)"));
    }
    let arr = item.as_array().ok_or(
        "`api.migrate.command` must be an array of strings (exec form), e.g. [\"node\", \"dist/run-migrations.js\"]",
    )?;
    let mut out = Vec::new();
    for v in arr.iter() {
        let s = v
            .as_str()
            .ok_or("`api.migrate.command` must contain only strings")?;
        if s.is_empty() || s.contains(['\n', '\r', '\0']) {
            return Err("`api.migrate.command`: every word must be non-empty, on one line".into());
        }
        out.push(s.to_string());
    }
    if out.is_empty() {
        return Err(
            "`api.migrate.command` must not be empty (remove [api.migrate] for none)".into(),
        );
    }
    c.api.migrate = out;
    Ok(())
}

/// One `[api.health]` entry.
pub(super) fn apply_health(c: &mut Config, key: &str, item: &Item) -> Result<(), String> {
    match key {
        "path" => {
            let s = item
                .as_str()
                .ok_or("`api.health.path` must be a string like \"/health\"")?;
            let ok = s.starts_with('/')
                && s.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "/-._~%?=&".contains(ch));
            if !ok {
                return Err(format!(
                    "`api.health.path` = {s:?} must be a URL path starting with / (letters, digits, - . _ ~ % ? = &)"
                ));
            }
            c.api.health.path = s.to_string();
        }
        "status" => {
            let n = item
                .as_integer()
                .ok_or("`api.health.status` must be an HTTP status (an integer)")?;
            c.api.health.status = u16::try_from(n)
                .ok()
                .filter(|n| (100..600).contains(n))
                .ok_or_else(|| {
                    format!("`api.health.status` = {n} is not an HTTP status (100-599)")
                })?;
        }
        _ => {
            return Err(format!(
                "unknown key `api.health.{key}` (known: path, status, body)"
            ))
        }
    }
    Ok(())
}

/// `[api.health.body]`: `"/json/pointer" = expected`. An error carries the span of the key
/// (or value) at fault.
pub(super) fn apply_health_body(
    c: &mut Config,
    item: &Item,
) -> Result<(), (Option<std::ops::Range<usize>>, String)> {
    use crate::health::{BodyCheck, Pointer};
    let Some(t) = item.as_table_like() else {
        return Err((
            None,
            "`api.health.body` must be a table: [api.health.body] with lines like \"/status\" = \"ok\"".into(),
        ));
    };
    let mut checks = Vec::new();
    for (k, v) in t.iter() {
        let ks = t.key(k).and_then(|x| x.span());
        let key = format!("`api.health.body.{}`", crate::values::shown(k));
        let pointer = Pointer::parse(k).map_err(|m| (ks.clone(), format!("{key}: {m}")))?;
        let expected = match v.as_value() {
            Some(Value::String(s)) => serde_json::Value::from(s.value().as_str()),
            Some(Value::Integer(n)) => serde_json::Value::from(*n.value()),
            Some(Value::Boolean(b)) => serde_json::Value::from(*b.value()),
            Some(Value::Float(f)) => serde_json::Number::from_f64(*f.value())
                .map(serde_json::Value::Number)
                .ok_or_else(|| (v.span(), format!("{key}: a number must be finite")))?,
            _ => {
                return Err((
                    v.span().or(ks),
                    format!("{key} must be a string, a number or true/false (the value expected at that pointer)"),
                ))
            }
        };
        checks.push(BodyCheck::new(pointer, expected).map_err(|m| (ks.clone(), m))?);
    }
    c.api.health.body = checks;
    Ok(())
}

/// `project.services` and `project.name`.
fn apply_project(c: &mut Config, kind: Kind, item: &Item, full: &str) -> Result<(), String> {
    if kind == Kind::Services {
        let arr = item
            .as_array()
            .ok_or_else(|| format!("`{full}` must be an array, e.g. [\"postgres\", \"redis\"]"))?;
        let mut out: Vec<String> = Vec::new();
        for v in arr.iter() {
            let s = v
                .as_str()
                .ok_or_else(|| format!("`{full}` must contain only strings"))?;
            if !STACK_SERVICES.contains(&s) {
                return Err(format!(
                    "`{full}`: unknown service {s:?} (known: {}; api and caddy are always there)",
                    STACK_SERVICES.join(", ")
                ));
            }
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
        c.services = STACK_SERVICES
            .iter()
            .filter(|s| out.iter().any(|o| o == *s))
            .map(|s| s.to_string())
            .collect();
        return Ok(());
    }
    {
        let v = item
            .as_str()
            .ok_or_else(|| format!("`{full}` must be a string"))?;
        let ok = !v.is_empty()
            && v.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
            && v.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit());
        if !ok {
            return Err(format!(
                "`{full}` = {v:?} is not a compose project name (lowercase letters, digits, - and _, starting with a letter or digit)"
            ));
        }
        c.project_name = Some(v.to_string());
        Ok(())
    }
}

/// `api.keep_build_files`: only names from [`BUILD_ONLY_FILES`].
fn apply_build_files(c: &mut Config, item: &Item, full: &str) -> Result<(), String> {
    let known = BUILD_ONLY_FILES.join("\", \"");
    let arr = item.as_array().ok_or_else(|| {
        format!("`{full}` must be an array, e.g. [\"*.map\"] (known: \"{known}\")")
    })?;
    let mut out: Vec<String> = Vec::new();
    for v in arr.iter() {
        let s = v
            .as_str()
            .ok_or_else(|| format!("`{full}` must contain only strings"))?;
        if !BUILD_ONLY_FILES.contains(&s) {
            return Err(format!(
                "`{full}`: {s:?} is not a build-only file pattern (known: \"{known}\")"
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    c.api.keep_build_files = out;
    Ok(())
}

/// One key of the schema (`table.key`, of `kind`) into the config.
pub(super) fn apply(
    c: &mut Config,
    table: &str,
    key: &str,
    kind: Kind,
    item: &Item,
) -> Result<(), String> {
    let full = format!("{table}.{key}");
    if kind == Kind::Web {
        return web::apply(c.web.get_or_insert_with(WebConfig::default), key, item);
    }
    if matches!(kind, Kind::ImageBudget | Kind::ImageFlag) {
        return super::image::apply(&mut c.image, key, item);
    }
    if kind == Kind::Replicas {
        let n = item
            .as_integer()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| format!("`{full}` must be a whole number from 1 to 50"))?;
        c.swarm.api_replicas = n as u32;
        return Ok(());
    }
    if matches!(kind, Kind::LogDriver | Kind::Count | Kind::Size) {
        return apply_ops(c, table, key, kind, item, &full);
    }
    if matches!(
        kind,
        Kind::Seconds | Kind::BodySize | Kind::Cidrs | Kind::Header
    ) {
        return apply_edge(c, kind, item, &full);
    }
    if kind == Kind::Services || (table, key) == ("project", "name") {
        return apply_project(c, kind, item, &full);
    }
    if kind == Kind::BuildFiles {
        return apply_build_files(c, item, &full);
    }
    if kind == Kind::RuntimeFiles {
        return super::codegen::apply_runtime_files(c, item, &full);
    }
    if kind == Kind::StrList {
        let arr = item.as_array().ok_or_else(|| {
            format!("`{full}` must be an array of strings, e.g. [\"staging.example.com\"]")
        })?;
        let mut out = Vec::new();
        for v in arr.iter() {
            let s = v
                .as_str()
                .ok_or_else(|| format!("`{full}` must contain only strings"))?;
            values::host_name(s).map_err(|m| format!("`{full}`: {m}"))?;
            out.push(s.to_string());
        }
        c.caddy.domains = out;
        return Ok(());
    }
    if kind == Kind::Bool {
        let b = item
            .as_bool()
            .ok_or_else(|| format!("`{full}` must be true or false"))?;
        match full.as_str() {
            "api.hoist" => c.api.hoist = b,
            _ => c.ci.deploy = b,
        }
        return Ok(());
    }
    if kind == Kind::Port {
        let n = item.as_integer().ok_or_else(|| {
            format!("`{full}` must be a port number (an integer from 1 to 65535)")
        })?;
        let port = u16::try_from(n)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{full}` = {n} is out of range: a port is from 1 to 65535"))?;
        set_port(c, table, key, port);
        return Ok(());
    }
    apply_string(c, table, key, kind, item, &full)
}

/// The keys whose value is a string: each through its type, then into its slot.
fn apply_string(
    c: &mut Config,
    table: &str,
    key: &str,
    kind: Kind,
    item: &Item,
    full: &str,
) -> Result<(), String> {
    let s = item
        .as_str()
        .ok_or_else(|| format!("`{full}` must be a string"))?
        .to_string();
    match kind {
        Kind::CiCache => {
            c.ci.cache = CiCache::parse(&s)
                .ok_or_else(|| format!("`{full}` = {s:?} must be {}", CiCache::NAMES))?;
            return Ok(());
        }
        Kind::Pin => {
            let (sha, tag) =
                crate::actions::parse_value(&s).map_err(|m| format!("`{full}` = {s:?} {m}"))?;
            let pin = c
                .actions
                .iter_mut()
                .find(|p| p.key == key)
                .ok_or_else(|| format!("internal: no pin for `{full}`"))?;
            pin.sha = sha;
            pin.tag = tag;
            return Ok(());
        }
        _ => {}
    }
    if kind == Kind::Runner {
        c.node.build_runner = BuildRunner::parse(&s).ok_or_else(|| {
            format!(
                "`{full}` = {} must be {}",
                values::shown(&s),
                BuildRunner::NAMES
            )
        })?;
        return Ok(());
    }
    check_value(kind, full, &s)?;
    let slot: &mut String = match (table, key) {
        ("project", "registry") => &mut c.registry,
        ("project", "owner") => &mut c.owner,
        ("project", "tag") => &mut c.tag,
        ("api", "package") => &mut c.api.package,
        ("api", "path") => {
            c.api.path = Some(s);
            return Ok(());
        }
        ("api", "image") => &mut c.api.image,
        ("api", "entry") => &mut c.api.entry,
        ("node", "image") => &mut c.node.image,
        ("node", "pnpm") => &mut c.node.pnpm,
        ("tee_worker", "image") => &mut c.tee_worker.image,
        ("images", "postgres") => &mut c.images.postgres,
        ("images", "redis") => &mut c.images.redis,
        ("images", "ipfs") => &mut c.images.ipfs,
        ("images", "caddy") => &mut c.images.caddy,
        ("caddy", "cert_file") => &mut c.caddy.cert_file,
        ("caddy", "key_file") => &mut c.caddy.key_file,
        _ => return Err(format!("internal: no slot for `{full}`")),
    };
    *slot = s;
    Ok(())
}

/// `[logs]` and `[memory]`: how the stack lives on a VPS.
fn apply_ops(
    c: &mut Config,
    table: &str,
    key: &str,
    kind: Kind,
    item: &Item,
    full: &str,
) -> Result<(), String> {
    if kind == Kind::Count {
        let n = item
            .as_integer()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| format!("`{full}` must be a whole number from 1 to 100"))?;
        c.logs.max_file = n as u32;
        return Ok(());
    }
    let s = item
        .as_str()
        .ok_or_else(|| format!("`{full}` must be a string"))?
        .to_string();
    if kind == Kind::LogDriver {
        if !LOG_DRIVERS.contains(&s.as_str()) {
            return Err(format!(
                "`{full}` = {s:?} must be \"json-file\" or \"local\" (drivers that rotate and keep `docker logs`)"
            ));
        }
        c.logs.driver = s;
        return Ok(());
    }
    if !is_docker_size(&s) {
        return Err(format!(
            "`{full}` = {s:?} must be a Docker size: a number and k, m or g (e.g. \"512m\", \"2g\")"
        ));
    }
    let m = &mut c.memory;
    let slot = match (table, key) {
        ("logs", "max_size") => &mut c.logs.max_size,
        ("memory", "api") => &mut m.api,
        ("memory", "postgres") => &mut m.postgres,
        ("memory", "redis") => &mut m.redis,
        ("memory", "ipfs") => &mut m.ipfs,
        ("memory", "tee_worker") => &mut m.tee_worker,
        ("memory", "caddy") => &mut m.caddy,
        _ => return Err(format!("internal: no slot for `{full}`")),
    };
    *slot = s;
    Ok(())
}

/// Every string value goes through its type in [`values`] before it reaches the model.
fn check_value(kind: Kind, full: &str, s: &str) -> Result<(), String> {
    let v = values::shown(s);
    let r = match kind {
        Kind::Registry => values::registry(s),
        Kind::Owner => values::owner(s),
        Kind::Tag => values::tag(s),
        Kind::NpmName => values::npm_name(s),
        Kind::FileName => values::file_name(s),
        Kind::Image => {
            values::image_ref(s).map_err(|m| format!("{v} is not an image reference: {m}"))
        }
        Kind::ImageName => values::image_name(s),
        Kind::RelPath => values::rel_path(s)
            .map_err(|m| format!("{m}; it must be a relative path inside the monorepo")),
        Kind::Version => values::semver(s),
        Kind::Port
        | Kind::StrList
        | Kind::BuildFiles
        | Kind::RuntimeFiles
        | Kind::Services
        | Kind::Runner
        | Kind::LogDriver
        | Kind::Count
        | Kind::Size
        | Kind::Seconds
        | Kind::BodySize
        | Kind::Cidrs
        | Kind::Header
        | Kind::CiCache
        | Kind::Bool
        | Kind::Pin
        | Kind::Replicas
        | Kind::Web
        | Kind::ImageBudget
        | Kind::ImageFlag => Ok(()),
    };
    r.map_err(|m| {
        if m.starts_with(&v) {
            format!("`{full}` = {m}")
        } else {
            format!("`{full}` = {v}: {m}")
        }
    })
}

/// `[edge]`.
fn apply_edge(c: &mut Config, kind: Kind, item: &Item, full: &str) -> Result<(), String> {
    let e = &mut c.edge;
    match kind {
        Kind::Seconds => {
            e.hsts_max_age = item
                .as_integer()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    format!("`{full}` must be a whole number of seconds (e.g. 31536000, a year)")
                })?;
        }
        Kind::BodySize => {
            let s = item
                .as_str()
                .ok_or_else(|| format!("`{full}` must be a string like \"100MB\""))?;
            e.max_body = parse_body_size(s).ok_or_else(|| {
                format!("`{full}` = {s:?} must be a size: digits and B, KB, MB, GB, KiB, MiB or GiB (e.g. \"100MB\")")
            })?;
            e.max_body_text = s.to_string();
        }
        Kind::Cidrs => {
            let arr = item.as_array().ok_or_else(|| {
                format!("`{full}` must be an array of CIDRs, e.g. [\"173.245.48.0/20\"]")
            })?;
            let mut out = Vec::new();
            for v in arr.iter() {
                let s = v.as_str().unwrap_or_default();
                if !is_cidr(s) {
                    return Err(format!(
                        "`{full}`: {s:?} is not a CIDR like 173.245.48.0/20 or 2400:cb00::/32"
                    ));
                }
                if s.ends_with("/0") {
                    return Err(format!("`{full}`: {s:?} trusts every address, so any client could forge its IP; list the CDN's ranges"));
                }
                out.push(s.to_string());
            }
            e.trusted_proxies = out;
        }
        _ => {
            let s = item
                .as_str()
                .ok_or_else(|| format!("`{full}` must be a string"))?;
            if !s.is_empty() && !is_header_name(s) {
                return Err(format!(
                    "`{full}` = {s:?} is not an HTTP header name (e.g. \"CF-Connecting-IP\")"
                ));
            }
            e.client_ip_header = s.to_string();
        }
    }
    Ok(())
}

pub(super) fn set_port(c: &mut Config, table: &str, key: &str, port: u16) {
    let p = &mut c.ports;
    let slot = match (table, key) {
        ("api", "port") => &mut c.api.port,
        ("tee_worker", "port") => &mut c.tee_worker.port,
        (_, "api") => &mut p.api,
        (_, "tee_worker") => &mut p.tee_worker,
        (_, "postgres") => &mut p.postgres,
        (_, "redis") => &mut p.redis,
        (_, "ipfs_api") => &mut p.ipfs_api,
        (_, "ipfs_gateway") => &mut p.ipfs_gateway,
        (_, "ipfs_swarm") => &mut p.ipfs_swarm,
        (_, "http") => &mut p.http,
        _ => &mut p.https,
    };
    *slot = port;
}
