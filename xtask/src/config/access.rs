//! `config set` and `config get`: one key at a time, the file's comments and layout kept.

use anyhow::{bail, Context, Result};
use toml_edit::{DocumentMut, Value};

use super::schema::{keys, Kind, SCHEMA};
use super::{api_keys, parse, web, Config};

/// `config set`: change one key, keeping every comment and the layout; validates the result.
pub fn set_value(text: &str, key: &str, raw_value: &str, file: &str) -> Result<String> {
    if let Some(k) = api_keys::parse_key(key) {
        let k = k?;
        let mut doc: DocumentMut = text
            .parse()
            .with_context(|| format!("{file} is not valid TOML; fix it before `config set`"))?;
        api_keys::set(&mut doc, &k, key, raw_value)?;
        let out = doc.to_string();
        parse(&out, file)?;
        return Ok(out);
    }
    if let Some(name) = key.strip_prefix("web.env.") {
        let mut doc: DocumentMut = text
            .parse()
            .with_context(|| format!("{file} is not valid TOML; fix it before `config set`"))?;
        web::check_env_name(name).map_err(anyhow::Error::msg)?;
        web::set_env(&mut doc, name, raw_value)?;
        let out = doc.to_string();
        parse(&out, file)?;
        return Ok(out);
    }
    let (table, field) = key
        .split_once('.')
        .with_context(|| format!("key {key:?} must be TABLE.KEY, e.g. project.owner"))?;
    let Some(&(_, _, kind)) = SCHEMA.iter().find(|(t, k, _)| *t == table && *k == field) else {
        bail!("unknown config key {key:?} (known: {})", keys().join(", "));
    };
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{file} is not valid TOML; fix it before `config set`"))?;
    let value: Value = match kind {
        Kind::Port | Kind::Count => {
            let n: i64 = raw_value
                .parse()
                .with_context(|| format!("{key} must be a whole number, got {raw_value:?}"))?;
            n.into()
        }
        Kind::Bool | Kind::ImageFlag => {
            let b: bool = raw_value
                .parse()
                .with_context(|| format!("{key} must be true or false, got {raw_value:?}"))?;
            b.into()
        }
        Kind::Seconds => {
            let n: i64 = raw_value
                .parse()
                .with_context(|| format!("{key} must be a whole number, got {raw_value:?}"))?;
            n.into()
        }
        Kind::StrList | Kind::Cidrs | Kind::Services | Kind::BuildFiles | Kind::RuntimeFiles => {
            let mut arr = toml_edit::Array::new();
            for d in raw_value
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
            {
                arr.push(d);
            }
            Value::Array(arr)
        }
        _ => raw_value.into(),
    };
    if !doc.contains_key(table) {
        doc[table] = toml_edit::table();
    }
    let tbl = doc[table]
        .as_table_like_mut()
        .with_context(|| format!("`{table}` in {file} is not a table"))?;
    // keep the old value's surrounding whitespace and trailing comment
    api_keys::put(tbl, field, value);
    let out = doc.to_string();
    parse(&out, file)?;
    Ok(out)
}

/// `config get`: the effective value of one key, as TOML.
pub fn get_value(c: &Config, key: &str) -> Result<String> {
    if let Some(k) = api_keys::parse_key(key) {
        return api_keys::get(c, &k?, key);
    }
    let s = |v: &str| format!("{v:?}");
    Ok(match key {
        "project.registry" => s(&c.registry),
        "project.name" => c
            .project_name
            .as_deref()
            .map(s)
            .unwrap_or_else(|| "(unset: <root package name>-staging)".into()),
        "project.services" => format!("{:?}", c.services),
        "project.owner" => s(&c.owner),
        "project.tag" => s(&c.tag),
        "api.package" => s(&c.api.package),
        "api.path" => c
            .api
            .path
            .as_deref()
            .map(s)
            .unwrap_or_else(|| "(unset)".into()),
        "api.image" => s(&c.api.image),
        "api.port" => c.api.port.to_string(),
        "api.entry" => s(&c.api.entry),
        "api.keep_build_files" => format!("{:?}", c.api.keep_build_files),
        "api.hoist" => c.api.hoist.to_string(),
        "api.runtime_files" => format!("{:?}", c.api.runtime_files),
        "node.image" => s(&c.node.image),
        "node.pnpm" => s(&c.node.pnpm),
        "node.build_runner" => s(c.node.build_runner.name()),
        "tee_worker.image" => s(&c.tee_worker.image),
        "tee_worker.port" => c.tee_worker.port.to_string(),
        "images.postgres" => s(&c.images.postgres),
        "images.redis" => s(&c.images.redis),
        "images.ipfs" => s(&c.images.ipfs),
        "images.caddy" => s(&c.images.caddy),
        "caddy.domains" => format!("{:?}", c.caddy.domains),
        "caddy.cert_file" => s(&c.caddy.cert_file),
        "caddy.key_file" => s(&c.caddy.key_file),
        "ports.api" => c.ports.api.to_string(),
        "ports.tee_worker" => c.ports.tee_worker.to_string(),
        "ports.postgres" => c.ports.postgres.to_string(),
        "ports.redis" => c.ports.redis.to_string(),
        "ports.ipfs_api" => c.ports.ipfs_api.to_string(),
        "ports.ipfs_gateway" => c.ports.ipfs_gateway.to_string(),
        "ports.ipfs_swarm" => c.ports.ipfs_swarm.to_string(),
        "ports.http" => c.ports.http.to_string(),
        "ports.https" => c.ports.https.to_string(),
        "logs.driver" => s(&c.logs.driver),
        "logs.max_size" => s(&c.logs.max_size),
        "logs.max_file" => c.logs.max_file.to_string(),
        "memory.api" => s(&c.memory.api),
        "memory.postgres" => s(&c.memory.postgres),
        "memory.redis" => s(&c.memory.redis),
        "memory.ipfs" => s(&c.memory.ipfs),
        "memory.tee_worker" => s(&c.memory.tee_worker),
        "memory.caddy" => s(&c.memory.caddy),
        "edge.hsts_max_age" => c.edge.hsts_max_age.to_string(),
        "edge.max_body" => s(&c.edge.max_body_text),
        "edge.trusted_proxies" => format!("{:?}", c.edge.trusted_proxies),
        "edge.client_ip_header" => s(&c.edge.client_ip_header),
        "ci.cache" => s(c.ci.cache.name()),
        "swarm.api_replicas" => c.swarm.api_replicas.to_string(),
        "ci.deploy" => c.ci.deploy.to_string(),
        k if k.starts_with("image.") => super::image::get(&c.image, &k[6..])
            .with_context(|| format!("unknown config key {key:?}"))?,
        k if k.starts_with("web.") => web::get(c.web.as_ref(), &k[4..])
            .with_context(|| format!("unknown config key {key:?}"))?,
        k if k.starts_with("actions.") => {
            let pin = c
                .actions
                .iter()
                .find(|p| k == format!("actions.{}", p.key))
                .with_context(|| format!("unknown config key {key:?}"))?;
            s(&pin.value())
        }
        _ => bail!("unknown config key {key:?} (known: {})", keys().join(", ")),
    })
}
