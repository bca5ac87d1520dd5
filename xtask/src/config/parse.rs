//! Reading the config text: TOML with every span kept, each table and key checked against
//! [`SCHEMA`] and applied through its kind ([`super::apply`]); every error at its line and
//! column.

use anyhow::Result;
use toml_edit::{Document, Item};

use super::apply::{apply, apply_env, apply_health, apply_health_body, apply_migrate};
use super::schema::SCHEMA;
use super::{web, Config, ConfigError, Waiver, WebConfig};
use crate::values;

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// The text being parsed and its name: a message at a span becomes a [`ConfigError`] at its
/// line and column.
struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

type Span = Option<std::ops::Range<usize>>;

impl Source<'_> {
    fn at(&self, span: Span, message: String) -> anyhow::Error {
        let (line, column) = span.map(|s| line_col(self.text, s.start)).unwrap_or((1, 1));
        ConfigError {
            file: self.file.into(),
            line,
            column,
            message,
        }
        .into()
    }
}

/// Parses and validates config text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Config> {
    let doc = Document::parse(text.to_owned()).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError {
            file: file.into(),
            line,
            column,
            message: format!("malformed TOML: {}", e.message()),
        }
    })?;
    let src = Source { text, file };
    let mut c = Config::default();
    for (table_name, item) in doc.as_table().iter() {
        let key_span = doc.as_table().key(table_name).and_then(|k| k.span());
        if table_name == "waiver" {
            waivers(&src, &mut c, item, key_span)?;
        } else {
            table(&src, &mut c, table_name, item, key_span)?;
        }
    }
    if let Some(w) = &c.web {
        let span = doc.as_table().key("web").and_then(|k| k.span());
        web::check(w, &c.caddy.domains).map_err(|m| src.at(span, m))?;
    }
    port_collisions(&src, &doc, &c)?;
    Ok(c)
}

/// `[[waiver]]`: each with a rule and a reason.
fn waivers(src: &Source, c: &mut Config, item: &Item, key_span: Span) -> Result<()> {
    let Some(arr) = item.as_array_of_tables() else {
        return Err(src.at(
            key_span,
            "`waiver` must be an array of tables: [[waiver]]".into(),
        ));
    };
    for t in arr.iter() {
        let mut w = Waiver {
            rule: String::new(),
            file: None,
            reason: String::new(),
        };
        for (k, v) in t.iter() {
            let span = t.key(k).and_then(|k| k.span());
            let s = v
                .as_str()
                .ok_or_else(|| src.at(span.clone(), format!("waiver.{k} must be a string")))?;
            match k {
                "rule" => w.rule = s.into(),
                "file" => w.file = Some(s.into()),
                "reason" => w.reason = s.into(),
                _ => {
                    return Err(src.at(
                        span,
                        format!("unknown key `waiver.{k}` (known: rule, file, reason)"),
                    ))
                }
            }
        }
        if w.rule.is_empty() || w.reason.trim().is_empty() {
            return Err(src.at(
                t.span(),
                "a [[waiver]] needs both `rule` and a non-empty `reason`".into(),
            ));
        }
        c.waivers.push(w);
    }
    Ok(())
}

/// One table of the schema: each key through its kind ([`super::apply`]).
fn table(
    src: &Source,
    c: &mut Config,
    table_name: &str,
    item: &Item,
    key_span: Span,
) -> Result<()> {
    let Some(table) = item.as_table_like() else {
        return Err(src.at(
            key_span,
            format!("`{table_name}` must be a table ([{table_name}])"),
        ));
    };
    if !SCHEMA.iter().any(|(t, _, _)| *t == table_name) {
        let known: Vec<&str> = dedup(SCHEMA.iter().map(|(t, _, _)| *t));
        let hint = if table_name == "services" {
            " (third-party images are set under [images])".to_string()
        } else {
            String::new()
        };
        return Err(src.at(
            key_span,
            format!(
                "unknown table `[{table_name}]`{hint} (known: {}, waiver)",
                known.join(", ")
            ),
        ));
    }
    if table_name == "web" {
        c.web.get_or_insert_with(WebConfig::default);
    }
    for (key, value) in table.iter() {
        let kspan = table.key(key).and_then(|k| k.span());
        let span = value.span().or(kspan.clone());
        if table_name == "api" && ["env", "health", "migrate", "generate"].contains(&key) {
            api_subtable(src, c, key, value, kspan)?;
            continue;
        }
        if table_name == "web" && key == "env" {
            web_env(src, c, value, kspan)?;
            continue;
        }
        let Some(&(_, _, kind)) = SCHEMA
            .iter()
            .find(|(t, k, _)| *t == table_name && *k == key)
        else {
            let known: Vec<&str> = SCHEMA
                .iter()
                .filter(|(t, _, _)| *t == table_name)
                .map(|(_, k, _)| *k)
                .collect();
            let what = if table_name == "images" {
                "unknown service"
            } else {
                "unknown key"
            };
            return Err(src.at(
                kspan,
                format!("{what} `{table_name}.{key}` (known: {})", known.join(", ")),
            ));
        };
        apply(c, table_name, key, kind, value).map_err(|m| src.at(span, m))?;
    }
    Ok(())
}

/// `[api.env]`, `[api.health]`, `[api.migrate]` and `[api.generate]`.
fn api_subtable(src: &Source, c: &mut Config, key: &str, value: &Item, kspan: Span) -> Result<()> {
    let Some(sub) = value.as_table_like() else {
        return Err(src.at(kspan, format!("`api.{key}` must be a table ([api.{key}])")));
    };
    for (k, v) in sub.iter() {
        let ks = sub.key(k).and_then(|x| x.span());
        let vs = v.span().or(ks.clone());
        let r = if key == "env" {
            apply_env(c, k, v).map_err(|m| src.at(ks.clone(), m))
        } else if key == "migrate" {
            apply_migrate(c, k, v).map_err(|m| src.at(vs, m))
        } else if key == "generate" {
            super::codegen::apply_generate(c, k, v).map_err(|m| src.at(vs, m))
        } else if k == "body" {
            apply_health_body(c, v).map_err(|(s, m)| src.at(s.or(vs), m))
        } else {
            apply_health(c, k, v).map_err(|m| src.at(vs, m))
        };
        r?;
    }
    Ok(())
}

/// `[web.env]`: each key at its line.
fn web_env(src: &Source, c: &mut Config, value: &Item, kspan: Span) -> Result<()> {
    let Some(sub) = value.as_table_like() else {
        return Err(src.at(
            kspan,
            "`web.env` must be a table ([web.env], KEY = \"value\")".into(),
        ));
    };
    let w = c.web.get_or_insert_with(WebConfig::default);
    for (k, v) in sub.iter() {
        let ks = sub.key(k).and_then(|x| x.span());
        web::apply_env(w, k, v).map_err(|m| src.at(ks, m))?;
    }
    Ok(())
}

/// Two services published on one host port: named at the key written in the file.
fn port_collisions(src: &Source, doc: &Document<String>, c: &Config) -> Result<()> {
    if let Some((first, second, port)) = values::port_collisions(&host_ports(c)) {
        let span_of = |key: &str| {
            let (t, k) = key.split_once('.')?;
            doc.get(t)?.as_table_like()?.get(k)?.span()
        };
        // name the key written in the file (the later one when both are)
        let (key, other, span) = match (span_of(second), span_of(first)) {
            (Some(s), _) => (second, first, Some(s)),
            (None, Some(s)) => (first, second, Some(s)),
            (None, None) => (second, first, None),
        };
        return Err(src.at(span, values::port_collision_message(key, other, port)));
    }
    Ok(())
}

fn dedup<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// The host ports the stack publishes, by key, with their protocols.
fn host_ports(c: &Config) -> Vec<(&'static str, u16, &'static [&'static str])> {
    const TCP: &[&str] = &["tcp"];
    const BOTH: &[&str] = &["tcp", "udp"];
    let p = &c.ports;
    vec![
        ("ports.api", p.api, TCP),
        ("ports.tee_worker", p.tee_worker, TCP),
        ("ports.postgres", p.postgres, TCP),
        ("ports.redis", p.redis, TCP),
        ("ports.ipfs_api", p.ipfs_api, TCP),
        ("ports.ipfs_gateway", p.ipfs_gateway, TCP),
        ("ports.ipfs_swarm", p.ipfs_swarm, BOTH),
        ("ports.http", p.http, TCP),
        ("ports.https", p.https, TCP),
    ]
}
