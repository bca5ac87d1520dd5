//! `config set` and `config get` of the keys below `[api]` that are tables of their own:
//! `[api.env]` (one key per variable, a value or `{ secret, optional, comment, format, value }`),
//! `[api.health]` (`path`, `status`, `body."<JSON pointer>"`) and `[api.migrate] command`.
//! The edited text is parsed again by the caller, so each value meets the same check (and the
//! same message) as a hand edit.

use anyhow::{bail, Context, Result};
use toml_edit::{DocumentMut, InlineTable, Item, TableLike, Value};

use super::Config;

/// The fields of one `[api.env]` entry.
pub(super) const ENV_FIELDS: &[&str] = &["value", "secret", "optional", "comment", "format"];

/// The key patterns `config keys` lists for these tables.
pub(super) const PATTERNS: &[&str] = &[
    "api.env.<NAME>",
    "api.env.<NAME>.value",
    "api.env.<NAME>.secret",
    "api.env.<NAME>.optional",
    "api.env.<NAME>.comment",
    "api.env.<NAME>.format",
    "api.health.path",
    "api.health.status",
    "api.health.body.\"<JSON pointer>\"",
    "api.migrate.command",
    "api.generate.<PACKAGE DIR>",
];

/// One key below `[api.env]`, `[api.health]` or `[api.migrate]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ApiKey {
    /// `api.env.NAME` (`field` None: its staging value) or `api.env.NAME.FIELD`.
    Env {
        name: String,
        field: Option<String>,
    },
    HealthPath,
    HealthStatus,
    /// `api.health.body."<pointer>"` (the pointer unquoted).
    HealthBody(String),
    MigrateCommand,
    /// `api.generate.<package dir>`: a script name or a command.
    Generate(String),
}

/// `None`: `key` is not below these tables; else the key, or why it is none.
pub(super) fn parse_key(key: &str) -> Option<Result<ApiKey>> {
    if let Some(rest) = key.strip_prefix("api.env.") {
        return Some(env_key(key, rest));
    }
    if let Some(rest) = key.strip_prefix("api.generate.") {
        let d = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(rest);
        return Some(Ok(ApiKey::Generate(d.to_string())));
    }
    if let Some(rest) = key.strip_prefix("api.health.body.") {
        let p = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(rest);
        return Some(Ok(ApiKey::HealthBody(p.to_string())));
    }
    Some(Ok(match key {
        "api.health.path" => ApiKey::HealthPath,
        "api.health.status" => ApiKey::HealthStatus,
        "api.migrate.command" => ApiKey::MigrateCommand,
        _ if key.starts_with("api.health.") || key.starts_with("api.migrate.") => {
            return Some(Err(anyhow::anyhow!(
                "unknown config key {key:?} (known below [api.health] and [api.migrate]: {})",
                PATTERNS[6..10].join(", ")
            )))
        }
        _ => return None,
    }))
}

fn env_key(key: &str, rest: &str) -> Result<ApiKey> {
    let (name, field) = match rest.split_once('.') {
        Some((n, f)) => (n, Some(f)),
        None => (rest, None),
    };
    if !crate::envcontract::is_var_name(name) {
        bail!(
            "`api.env.{}` is not a variable name (letters, digits and _, not starting with a digit)",
            crate::values::shown(name)
        );
    }
    if let Some(f) = field.filter(|f| !ENV_FIELDS.contains(f)) {
        bail!(
            "unknown config key {key:?}: `{f}` is no field of an [api.env] entry (known: {})",
            ENV_FIELDS.join(", ")
        );
    }
    Ok(ApiKey::Env {
        name: name.to_string(),
        field: field.map(str::to_string),
    })
}

/// The TOML value `raw` stands for at `key`.
fn value_of(key: &ApiKey, full: &str, raw: &str) -> Result<Value> {
    let flag = || -> Result<Value> {
        let b: bool = raw
            .parse()
            .with_context(|| format!("{full} must be true or false, got {raw:?}"))?;
        Ok(b.into())
    };
    Ok(match key {
        ApiKey::Env { field, .. } => match field.as_deref() {
            Some("secret" | "optional") => flag()?,
            _ => raw.into(),
        },
        ApiKey::HealthPath => raw.into(),
        ApiKey::HealthStatus => {
            let n: i64 = raw
                .parse()
                .with_context(|| format!("{full} must be a whole number, got {raw:?}"))?;
            n.into()
        }
        // a TOML number, true/false or quoted string as written; any other text is a string
        ApiKey::HealthBody(_) => match raw.parse::<Value>() {
            Ok(
                v @ (Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::String(_)),
            ) => v,
            _ => raw.into(),
        },
        ApiKey::Generate(_) => match raw.trim().parse::<Value>() {
            Ok(v @ Value::Array(_)) => v,
            _ => raw.into(),
        },
        ApiKey::MigrateCommand => match raw.trim().parse::<Value>() {
            Ok(v @ Value::Array(_)) => v,
            _ => bail!(
                "{full} must be a TOML array of strings (exec form), e.g. `cargo xtask config set \
                 api.migrate.command '[\"node\", \"dist/run-migrations.js\"]'`; got {}",
                crate::values::shown(raw)
            ),
        },
    })
}

/// The sub-table `name` of `t`, made when missing.
fn sub<'t>(t: &'t mut dyn TableLike, name: &str, at: &str) -> Result<&'t mut dyn TableLike> {
    if t.get(name).is_none() {
        let mut new = toml_edit::Table::new();
        new.set_implicit(true);
        t.insert(name, Item::Table(new));
    }
    t.get_mut(name)
        .and_then(Item::as_table_like_mut)
        .with_context(|| format!("`{at}` is not a table"))
}

/// Sets `field` of `t`, keeping the old value's whitespace and trailing comment.
pub(super) fn put(t: &mut dyn TableLike, field: &str, mut value: Value) {
    match t.get_mut(field) {
        Some(Item::Value(old)) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        _ => {
            t.insert(field, Item::Value(value));
        }
    }
}

/// Edits `doc`: `key` set to `raw`.
pub(super) fn set(doc: &mut DocumentMut, key: &ApiKey, full: &str, raw: &str) -> Result<()> {
    let value = value_of(key, full, raw)?;
    let api = sub(doc.as_table_mut(), "api", "api")?;
    match key {
        ApiKey::Env { name, field } => {
            let env = sub(api, "env", "api.env")?;
            set_env(env, name, field.as_deref(), value);
        }
        ApiKey::HealthPath | ApiKey::HealthStatus => {
            let field = if *key == ApiKey::HealthPath {
                "path"
            } else {
                "status"
            };
            put(sub(api, "health", "api.health")?, field, value);
        }
        ApiKey::HealthBody(p) => {
            let health = sub(api, "health", "api.health")?;
            put(sub(health, "body", "api.health.body")?, p, value);
        }
        ApiKey::MigrateCommand => put(sub(api, "migrate", "api.migrate")?, "command", value),
        ApiKey::Generate(dir) => put(sub(api, "generate", "api.generate")?, dir, value),
    }
    Ok(())
}

/// `api.env.NAME` (the value: inside its table when it has one) or `api.env.NAME.FIELD` (a
/// plain value becomes `{ value = …, FIELD = … }`).
fn set_env(env: &mut dyn TableLike, name: &str, field: Option<&str>, value: Value) {
    match (env.get_mut(name), field) {
        (Some(item), f) if item.is_table_like() => {
            if let Some(t) = item.as_table_like_mut() {
                put(t, f.unwrap_or("value"), value);
            }
        }
        (Some(Item::Value(old)), Some(f)) => {
            let mut t = InlineTable::new();
            let mut was = old.clone();
            was.decor_mut().clear();
            t.insert("value", was);
            t.insert(f, value);
            let mut new = Value::InlineTable(t);
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        (_, None) => put(env, name, value),
        (_, Some(f)) => {
            let mut t = InlineTable::new();
            t.insert(f, value);
            put(env, name, Value::InlineTable(t));
        }
    }
    if let Some(Item::Value(Value::InlineTable(t))) = env.get_mut(name) {
        t.fmt();
    }
}

/// `config get` of `key`, as TOML.
pub(super) fn get(c: &Config, key: &ApiKey, full: &str) -> Result<String> {
    let unset = || "(unset)".to_string();
    let s = |v: &str| Value::from(v).to_string().trim().to_string();
    Ok(match key {
        ApiKey::Env { name, field } => {
            let o = c
                .api
                .env
                .iter()
                .find(|o| o.name == *name)
                .with_context(|| {
                    format!(
                    "{full}: [api.env] does not name {name} (it names: {}); the keys the API's \
                     env example gives are shown by `cargo xtask gen`'s contract",
                    names(c)
                )
                })?;
            let b = |v: Option<bool>| v.map(|b| b.to_string());
            let fields: Vec<(&str, Option<String>)> = vec![
                ("value", o.value.as_deref().map(s)),
                ("secret", b(o.secret)),
                ("optional", b(o.optional)),
                ("comment", o.comment.as_deref().map(s)),
                ("format", o.format.as_deref().map(s)),
            ];
            match field.as_deref() {
                Some(f) => fields
                    .into_iter()
                    .find(|(k, _)| *k == f)
                    .and_then(|(_, v)| v)
                    .unwrap_or_else(unset),
                None => {
                    let set: Vec<String> = fields
                        .into_iter()
                        .filter_map(|(k, v)| Some(format!("{k} = {}", v?)))
                        .collect();
                    format!("{{ {} }}", set.join(", "))
                }
            }
        }
        ApiKey::HealthPath => s(&c.api.health.path),
        ApiKey::HealthStatus => c.api.health.status.to_string(),
        ApiKey::HealthBody(p) => c
            .api
            .health
            .body
            .iter()
            .find(|b| b.pointer.as_str() == p)
            .map(|b| b.expected.to_string())
            .unwrap_or_else(unset),
        ApiKey::Generate(dir) => match c.api.generate.iter().find(|g| g.dir == *dir) {
            None => unset(),
            Some(g) => match &g.run {
                super::GenerateRun::Script(n) => s(n),
                super::GenerateRun::Command(w) => {
                    let words: Vec<String> = w.iter().map(|w| s(w)).collect();
                    format!("[{}]", words.join(", "))
                }
            },
        },
        ApiKey::MigrateCommand if c.api.migrate.is_empty() => unset(),
        ApiKey::MigrateCommand => {
            let words: Vec<String> = c.api.migrate.iter().map(|w| s(w)).collect();
            format!("[{}]", words.join(", "))
        }
    })
}

fn names(c: &Config) -> String {
    if c.api.env.is_empty() {
        return "none".into();
    }
    let n: Vec<&str> = c.api.env.iter().map(|o| o.name.as_str()).collect();
    n.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::{get_value, parse, set_value, TEMPLATE};

    fn set(text: &str, key: &str, v: &str) -> String {
        set_value(text, key, v, "c.toml").unwrap_or_else(|e| panic!("{key} {v}: {e:#}"))
    }

    fn get(text: &str, key: &str) -> String {
        get_value(&parse(text, "c.toml").expect("parse"), key).expect("get")
    }

    #[test]
    fn env_keys_are_set_as_values_or_tables_keeping_comments() {
        let t = set(TEMPLATE, "api.env.IPFS_PROVIDER", "pinata");
        assert!(t.contains("# Settings for `cargo xtask gen`"), "{t}");
        assert_eq!(get(&t, "api.env.IPFS_PROVIDER"), "{ value = \"pinata\" }");
        assert_eq!(get(&t, "api.env.IPFS_PROVIDER.value"), "\"pinata\"");
        // a field turns the plain value into a table; the value stays
        let t = set(&t, "api.env.IPFS_PROVIDER.comment", "where files go");
        assert!(
            t.contains("IPFS_PROVIDER = { value = \"pinata\", comment = \"where files go\" }"),
            "{t}"
        );
        let t = set(&t, "api.env.IPFS_PROVIDER", "local");
        assert_eq!(get(&t, "api.env.IPFS_PROVIDER.value"), "\"local\"");
        assert_eq!(
            get(&t, "api.env.IPFS_PROVIDER.comment"),
            "\"where files go\""
        );
        let t = set(&t, "api.env.SESSION_KEY.secret", "true");
        let t = set(&t, "api.env.SESSION_KEY.format", "hex:32");
        assert!(
            t.contains("SESSION_KEY = { secret = true, format = \"hex:32\" }"),
            "{t}"
        );
        let t = set(&t, "api.env.SENTRY_DSN.optional", "true");
        assert_eq!(get(&t, "api.env.SENTRY_DSN.optional"), "true");
        assert_eq!(get(&t, "api.env.SENTRY_DSN.secret"), "(unset)");
        let c = parse(&t, "c.toml").expect("parse");
        assert_eq!(c.api.env.len(), 3);
        // a comment after an existing entry survives its change
        let t = set(
            "[api.env]\nLOG_LEVEL = \"info\"   # how chatty\n",
            "api.env.LOG_LEVEL",
            "debug",
        );
        assert_eq!(t, "[api.env]\nLOG_LEVEL = \"debug\"   # how chatty\n");
    }

    #[test]
    fn env_keys_meet_the_checks_of_a_hand_edit() {
        let e = |text: &str, k: &str, v: &str| {
            format!(
                "{:#}",
                set_value(text, k, v, "c.toml").expect_err("refused")
            )
        };
        let with_value = set("", "api.env.SESSION_KEY", "abc");
        let m = e(&with_value, "api.env.SESSION_KEY.secret", "true");
        assert!(m.contains("is a secret with a value in the config"), "{m}");
        let m = e("", "api.env.SESSION_KEY.secret", "yes");
        assert!(m.contains("must be true or false"), "{m}");
        let m = e("", "api.env.1BAD", "x");
        assert!(m.contains("is not a variable name"), "{m}");
        let m = e("", "api.env.A.colour", "x");
        assert!(m.contains("unknown config key \"api.env.A.colour\""), "{m}");
        let m = e("", "api.env.A.format", "hex");
        assert!(
            m.contains("c.toml:2:1: `api.env.A.format` = \"hex\": `hex` needs a length"),
            "{m}"
        );
        let m = e("", "api.env.A", "two\nlines");
        assert!(
            m.contains("c.toml:") && m.contains("must be one line"),
            "{m}"
        );
    }

    #[test]
    fn health_and_migrate_keys() {
        let t = set(TEMPLATE, "api.health.path", "/api/health");
        assert!(
            t.contains("path = \"/api/health\"             # where the API answers"),
            "{t}"
        );
        let t = set(&t, "api.health.status", "204");
        assert_eq!(get(&t, "api.health.status"), "204");
        let t = set(&t, "api.health.body./status", "ok");
        let t = set(&t, "api.health.body.\"/info/db/up\"", "true");
        let t = set(&t, "api.health.body./count", "3");
        assert_eq!(get(&t, "api.health.body./status"), "\"ok\"");
        assert_eq!(get(&t, "api.health.body./info/db/up"), "true");
        assert_eq!(get(&t, "api.health.body./count"), "3");
        assert!(set_value(&t, "api.health.body.status", "ok", "c").is_err());
        assert!(set_value(&t, "api.health.path", "health", "c").is_err());
        assert!(set_value(&t, "api.health.status", "99", "c").is_err());
        assert!(set_value(&t, "api.health.colour", "1", "c").is_err());

        let t = set(TEMPLATE, "api.migrate.command", "[\"node\", \"dist/m.js\"]");
        assert_eq!(
            parse(&t, "c").expect("parse").api.migrate,
            ["node", "dist/m.js"]
        );
        assert_eq!(get(&t, "api.migrate.command"), "[\"node\", \"dist/m.js\"]");
        for bad in ["node dist/m.js", "[]", "[1]", "[\"a\"", "[\"\"]"] {
            assert!(
                set_value(TEMPLATE, "api.migrate.command", bad, "c").is_err(),
                "{bad}"
            );
        }
    }
}
