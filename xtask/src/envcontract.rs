//! The API's application contract: the environment variables it needs to boot.
//!
//! Learnt from the API's own `.env.example` (also `.env.sample`, `.env.template`; a
//! commented-out `# KEY=value` is an optional key), amended by `[api.env]` in the config, and
//! classified key by key:
//! - **secret**: its name says so (SECRET, PASSWORD, TOKEN, JWT, KEY, PRIVATE, CREDENTIAL…) or
//!   the config says `secret = true`; compose reads it only as `${NAME:?…}`;
//! - **wired**: the stack sets it (`DB_HOST=postgres`, the redis/IPFS/tee-worker URLs, ports);
//! - **config**: a staging value from the config, else the example's value; with neither it
//!   is required from `.env.staging`.
//!
//! Pure: [`parse_example`] and [`build`] take text and config; [`read_example`] is the only
//! file access.

use std::path::Path;

use anyhow::{Context, Result};

use crate::config::{Config, EnvOverride};
use crate::secretfmt::SecretFormat;
use crate::stack::Val;

/// The file names an API's env example may have, in the order they are read.
pub const EXAMPLE_NAMES: &[&str] = &[".env.example", ".env.sample", ".env.template"];

/// Larger example files are refused (an env example is a few kB).
const MAX_EXAMPLE_BYTES: u64 = 256 * 1024;

/// One key of an env example file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleKey {
    pub name: String,
    pub value: String,
    /// The comment lines right above it (and a trailing ` # comment`), without `#`.
    pub comment: String,
    /// Commented out (`# KEY=value`): the app runs without it.
    pub optional: bool,
    /// Where it is, relative to the monorepo root.
    pub file: String,
    pub line: usize,
}

/// Every key of the API's example files (first file first; a key once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Example {
    pub files: Vec<String>,
    pub keys: Vec<ExampleKey>,
}

/// A variable name as shells and compose accept it.
pub fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A commented-out key looks like `# NAME=value` with an upper-case name (so prose such as
/// `# see https://x?a=b` is not a key).
fn commented_key(body: &str) -> Option<(&str, &str)> {
    let (k, v) = body.split_once('=')?;
    let k = k.trim().trim_start_matches("export ").trim();
    let upper = k
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    (is_var_name(k) && upper && !k.starts_with('_') && !v.starts_with(' ')).then_some((k, v))
}

/// `value`, `"value"`, `'value'`, `value # comment` → (value, comment).
fn split_value(raw: &str) -> (String, String) {
    let raw = raw.trim();
    if let Some(c) = raw.strip_prefix('#') {
        return (String::new(), c.trim().to_string());
    }
    for q in ['"', '\''] {
        if let Some(rest) = raw.strip_prefix(q) {
            if let Some(end) = rest.find(q) {
                let comment = rest[end + 1..].trim().trim_start_matches('#').trim();
                let v = &rest[..end];
                let v = if q == '"' {
                    v.replace("\\n", "\n").replace("\\\"", "\"")
                } else {
                    v.to_string()
                };
                return (v, comment.to_string());
            }
        }
    }
    match raw.find(" #") {
        Some(i) => (raw[..i].trim().to_string(), raw[i + 2..].trim().to_string()),
        None => (raw.to_string(), String::new()),
    }
}

/// Parses one env example (dotenv syntax). Comment lines directly above a key (no blank line
/// between) are its comment.
pub fn parse_example(text: &str, file: &str) -> Vec<ExampleKey> {
    let mut out: Vec<ExampleKey> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            pending.clear();
            continue;
        }
        let (body, optional) = match t.strip_prefix('#') {
            Some(c) => match commented_key(c.trim_start()) {
                Some(_) => (c.trim_start(), true),
                None => {
                    let c = c.trim();
                    if ["--", "==", "**", "##"].iter().any(|h| c.starts_with(h)) {
                        // a section heading (`# --- Database ---`), not a key's comment
                        pending.clear();
                    } else if !c.is_empty() {
                        pending.push(c.to_string());
                    }
                    continue;
                }
            },
            None => (t, false),
        };
        let Some((k, v)) = body.split_once('=') else {
            pending.clear();
            continue;
        };
        let name = k.trim().trim_start_matches("export ").trim();
        if !is_var_name(name) {
            pending.clear();
            continue;
        }
        let (value, trailing) = split_value(v);
        let mut comment = pending.join(" ");
        if !trailing.is_empty() {
            if !comment.is_empty() {
                comment.push(' ');
            }
            comment.push_str(&trailing);
        }
        pending.clear();
        if let Some(prev) = out.iter_mut().find(|k| k.name == name) {
            // `KEY=` after `# KEY=...` (or the reverse): set wins, the first comment stays
            prev.optional &= optional;
            if prev.value.is_empty() {
                prev.value = value;
            }
            continue;
        }
        out.push(ExampleKey {
            name: name.to_string(),
            value,
            comment,
            optional,
            file: file.to_string(),
            line: i + 1,
        });
    }
    out
}

/// Reads the API's example files (`<api_dir>/.env.example`, `.env.sample`, `.env.template`).
/// Only regular files are read (never a FIFO or a device), at most 256 kB each.
pub fn read_example(root: &Path, api_dir: &str) -> Result<Example> {
    let mut ex = Example::default();
    for name in EXAMPLE_NAMES {
        let rel = if api_dir.is_empty() || api_dir == "." {
            name.to_string()
        } else {
            format!("{api_dir}/{name}")
        };
        let path = root.join(&rel);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {rel}")),
        };
        if !meta.is_file() {
            anyhow::bail!(
                "{rel} is not a regular file; the API's env example must be one (or remove it)"
            );
        }
        if meta.len() > MAX_EXAMPLE_BYTES {
            anyhow::bail!(
                "{rel} is {} bytes; an env example over {MAX_EXAMPLE_BYTES} bytes is refused",
                meta.len()
            );
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {rel} (it must be UTF-8 text)"))?;
        ex.files.push(rel.clone());
        for k in parse_example(&text, &rel) {
            if !ex.keys.iter().any(|e| e.name == k.name) {
                ex.keys.push(k);
            }
        }
    }
    Ok(ex)
}

// ---------------------------------------------------------------------------------------------
// Classification

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Secret,
    Wired,
    Config,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Secret => "secret",
            Class::Wired => "wired",
            Class::Config => "config",
        }
    }
}

/// Where a key was learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// (file, line) of the API's example.
    Example(String, usize),
    /// `[api.env]` in the config.
    Config,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub class: Class,
    /// What compose sets it to; `None`: an optional key with no staging value (left unset).
    pub value: Option<Val>,
    /// The example's value (a default for the smoke test and the rehearsal).
    pub example_value: String,
    pub comment: String,
    pub optional: bool,
    pub origin: Origin,
}

/// The variables the stack's own services read, named as the API names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiring {
    pub db_user: String,
    pub db_password: String,
    pub db_name: String,
    /// The redis password's variable when the stack has redis (redis always requires one).
    pub redis_password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// The example files read (relative paths); empty when the API has none.
    pub sources: Vec<String>,
    pub keys: Vec<Key>,
    pub wiring: Wiring,
}

/// What the stack offers for wiring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub api_port: u16,
    pub postgres: bool,
    pub redis: bool,
    pub ipfs: bool,
    /// The tee-worker's port when the stack has one.
    pub tee_worker: Option<u16>,
    /// `https://<web domain>` when the stack serves a web app on its own domain.
    pub web_origin: Option<String>,
}

const SECRET_WORDS: &[&str] = &[
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "TOKEN",
    "JWT",
    "KEY",
    "APIKEY",
    "PRIVATE",
    "CREDENTIAL",
    "CREDENTIALS",
    "PASSPHRASE",
    "DSN",
];

/// Words that make a secret-sounding name a setting about the secret (`JWT_EXPIRES_IN`).
const NOT_SECRET_WORDS: &[&str] = &[
    "EXPIRES",
    "EXPIRY",
    "EXPIRATION",
    "TTL",
    "ISSUER",
    "AUDIENCE",
    "ALGORITHM",
    "ALG",
    "LENGTH",
    "PUBLIC",
    "ID",
    "NAME",
    "HEADER",
    "PREFIX",
];

/// The name-based default: does `name` look like a secret?
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
    let secretish = words
        .iter()
        .any(|w| SECRET_WORDS.contains(w) || w.ends_with("PASSWORD") || w.ends_with("SECRET"));
    secretish
        && !words.last().is_some_and(|w| NOT_SECRET_WORDS.contains(w))
        && !words
            .iter()
            .any(|w| ["EXPIRES", "EXPIRY", "EXPIRATION", "TTL"].contains(w))
}

fn req(var: &str) -> Val {
    Val::Required {
        var: var.into(),
        hint: format!("set {var} in .env.staging (see .env.staging.example)"),
    }
}

/// A literal for compose: `$` doubled so compose never interpolates it.
fn lit(s: &str) -> Val {
    Val::Lit(s.replace('$', "$$"))
}

fn any_of(name: &str, names: &[&str]) -> bool {
    names.contains(&name)
}

pub const DB_USER: &[&str] = &[
    "DB_USER",
    "DB_USERNAME",
    "DATABASE_USER",
    "DATABASE_USERNAME",
    "POSTGRES_USER",
    "PGUSER",
    "TYPEORM_USERNAME",
];
pub const DB_PASSWORD: &[&str] = &[
    "DB_PASSWORD",
    "DB_PASS",
    "DATABASE_PASSWORD",
    "POSTGRES_PASSWORD",
    "PGPASSWORD",
    "TYPEORM_PASSWORD",
];
pub const DB_NAME: &[&str] = &[
    "DB_NAME",
    "DB_DATABASE",
    "DATABASE_NAME",
    "POSTGRES_DB",
    "POSTGRES_DATABASE",
    "PGDATABASE",
    "TYPEORM_DATABASE",
];
const DB_HOST: &[&str] = &[
    "DB_HOST",
    "DATABASE_HOST",
    "POSTGRES_HOST",
    "PGHOST",
    "TYPEORM_HOST",
];
pub const DB_PORT: &[&str] = &[
    "DB_PORT",
    "DATABASE_PORT",
    "POSTGRES_PORT",
    "PGPORT",
    "TYPEORM_PORT",
];
const DB_URL: &[&str] = &["DATABASE_URL", "POSTGRES_URL", "DB_URL", "PG_URL"];
const WEB_ORIGIN: &[&str] = &[
    "WEB_URL",
    "WEB_APP_URL",
    "WEBAPP_URL",
    "FRONTEND_URL",
    "CLIENT_URL",
    "APP_URL",
    "CORS_ORIGIN",
    "CORS_ORIGINS",
    "ALLOWED_ORIGINS",
];

/// The stack service a key of the API's env example asks for by naming its host (`DB_HOST`,
/// `DATABASE_URL` → postgres, `REDIS_URL` → redis, `IPFS_API_URL` → ipfs, `TEE_WORKER_URL` →
/// tee-worker): what `config init` reads to choose `project.services`.
pub fn service_of_key(name: &str) -> Option<&'static str> {
    match name {
        _ if any_of(name, DB_HOST) || any_of(name, DB_URL) => Some("postgres"),
        "REDIS_HOST" | "REDIS_URL" => Some("redis"),
        "IPFS_API_URL" | "IPFS_LOCAL_API_URL" | "IPFS_URL" | "KUBO_API_URL" => Some("ipfs"),
        "TEE_WORKER_URL" => Some("tee-worker"),
        _ => None,
    }
}

/// A key that says where a stack service is (its host or URL): wired whenever the service is
/// in the stack, commented out in the example or not (the app's default, often localhost,
/// would point at the API's own container).
fn locates(name: &str) -> bool {
    service_of_key(name).is_some() || matches!(name, "IPFS_GATEWAY_URL" | "IPFS_LOCAL_GATEWAY_URL")
}

/// The first key of `keys` named one of `names`, else `default`.
fn pick(keys: &[(String, bool)], names: &[&str], default: &str) -> String {
    keys.iter()
        .find(|(k, _)| names.contains(&k.as_str()))
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| default.to_string())
}

/// What the stack sets `name` to, if it wires it.
fn wired(name: &str, offer: &Offer, w: &Wiring) -> Option<Val> {
    let r = |v: &str| Some(req(v));
    match name {
        "NODE_ENV" => Some(lit("production")),
        "PORT" | "APP_PORT" | "API_PORT" | "HTTP_PORT" => Some(lit(&offer.api_port.to_string())),
        _ if offer.postgres && any_of(name, DB_HOST) => Some(lit("postgres")),
        _ if offer.postgres && any_of(name, DB_PORT) => Some(lit("5432")),
        _ if offer.postgres && any_of(name, DB_USER) => r(&w.db_user),
        _ if offer.postgres && any_of(name, DB_PASSWORD) => r(&w.db_password),
        _ if offer.postgres && any_of(name, DB_NAME) => r(&w.db_name),
        _ if offer.postgres && any_of(name, DB_URL) => Some(Val::Lit(format!(
            "postgres://{}:{}@postgres:5432/{}",
            interp(&w.db_user),
            interp(&w.db_password),
            interp(&w.db_name)
        ))),
        "REDIS_HOST" if offer.redis => Some(lit("redis")),
        "REDIS_PORT" if offer.redis => Some(lit("6379")),
        "REDIS_PASSWORD" if offer.redis => r("REDIS_PASSWORD"),
        "REDIS_URL" if offer.redis => Some(Val::Lit(match &w.redis_password {
            Some(p) => format!("redis://:{}@redis:6379", interp(p)),
            None => "redis://redis:6379".into(),
        })),
        "IPFS_API_URL" | "IPFS_LOCAL_API_URL" | "IPFS_URL" | "KUBO_API_URL" if offer.ipfs => {
            Some(lit("http://ipfs:5001"))
        }
        "IPFS_GATEWAY_URL" | "IPFS_LOCAL_GATEWAY_URL" if offer.ipfs => {
            Some(lit("http://ipfs:8080"))
        }
        "TEE_WORKER_URL" => offer
            .tee_worker
            .map(|p| lit(&format!("http://tee-worker:{p}"))),
        _ if any_of(name, WEB_ORIGIN) => offer.web_origin.as_deref().map(lit),
        _ => None,
    }
}

/// `${NAME:?…}` as text (inside a longer compose value).
fn interp(var: &str) -> String {
    format!("${{{var}:?set {var} in .env.staging}}")
}

/// The contract of the API: the example's keys and `[api.env]`, classified.
pub fn build(cfg: &Config, example: &Example, offer: &Offer) -> Contract {
    let overrides: &[EnvOverride] = &cfg.api.env;
    // every key name, example first, then the config's additions
    let mut names: Vec<(String, bool)> = example
        .keys
        .iter()
        .map(|k| (k.name.clone(), k.optional))
        .collect();
    for o in overrides {
        if !names.iter().any(|(n, _)| *n == o.name) {
            names.push((o.name.clone(), o.optional.unwrap_or(false)));
        }
    }
    let set: Vec<(String, bool)> = names.iter().filter(|(_, opt)| !opt).cloned().collect();
    let wiring = Wiring {
        db_user: pick(&set, DB_USER, "DB_USERNAME"),
        db_password: pick(&set, DB_PASSWORD, "DB_PASSWORD"),
        db_name: pick(&set, DB_NAME, "DB_DATABASE"),
        redis_password: offer.redis.then(|| "REDIS_PASSWORD".to_string()),
    };
    let mut keys = Vec::new();
    for (name, _) in &names {
        let ex = example.keys.iter().find(|k| k.name == *name);
        let ov = overrides.iter().find(|o| o.name == *name);
        let optional = ov
            .and_then(|o| o.optional)
            .unwrap_or_else(|| ex.is_some_and(|k| k.optional));
        let example_value = ex.map(|k| k.value.clone()).unwrap_or_default();
        let comment = ov
            .and_then(|o| o.comment.clone())
            .or_else(|| ex.map(|k| k.comment.clone()))
            .unwrap_or_default();
        let origin = match ex {
            Some(k) => Origin::Example(k.file.clone(), k.line),
            None => Origin::Config,
        };
        let secret = ov
            .and_then(|o| o.secret)
            .unwrap_or_else(|| is_secret_name(name));
        let staging = ov.and_then(|o| o.value.clone());
        let (class, value) = if let Some(v) = staging.filter(|_| !secret) {
            (Class::Config, Some(lit(&v)))
        } else if let Some(v) =
            wired(name, offer, &wiring).filter(|_| !optional || ov.is_some() || locates(name))
        {
            let class = if secret { Class::Secret } else { Class::Wired };
            (class, Some(v))
        } else if secret {
            (Class::Secret, (!optional).then(|| req(name)))
        } else if optional {
            (Class::Config, None)
        } else if !example_value.is_empty() {
            (Class::Config, Some(lit(&example_value)))
        } else {
            (Class::Config, Some(req(name)))
        };
        keys.push(Key {
            name: name.clone(),
            class,
            value,
            example_value,
            comment,
            optional,
            origin,
        });
    }
    Contract {
        sources: example.files.clone(),
        keys,
        wiring,
    }
}

impl Key {
    /// The format of this key's value when it is a secret (generated by the smoke test, the
    /// rehearsal and `env init`): [`SecretFormat::DEFAULT`] until the contract carries one.
    pub fn secret_format(&self) -> SecretFormat {
        SecretFormat::DEFAULT
    }
}

impl Contract {
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Keys compose sets for the API (in contract order).
    pub fn set_keys(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(|k| k.value.is_some())
    }

    /// Is `name` a secret (by the contract, else by its name)?
    pub fn is_secret(&self, name: &str) -> bool {
        match self.key(name) {
            Some(k) => k.class == Class::Secret,
            None => is_secret_name(name),
        }
    }

    /// The format of secret `name`'s value (a variable outside the contract, e.g. the redis
    /// password the stack requires, has the default).
    pub fn secret_format(&self, name: &str) -> SecretFormat {
        self.key(name)
            .map_or(SecretFormat::DEFAULT, Key::secret_format)
    }

    /// The environment the API gets where the stack is absent (the smoke test): secrets from
    /// `secret(format)` (a fresh value of the secret's format), required values from the
    /// example or a placeholder, the rest as compose sets them (literal values; interpolated
    /// ones filled the same way).
    pub fn smoke_env(
        &self,
        secret: &mut dyn FnMut(SecretFormat) -> Result<String>,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for k in self.set_keys() {
            let v = match &k.value {
                Some(Val::Lit(s)) if !s.contains("${") => s.replace("$$", "$"),
                _ if self.is_secret(&k.name) => secret(k.secret_format())?,
                Some(Val::Required { var, .. }) if self.is_secret(var) => {
                    secret(self.secret_format(var))?
                }
                _ if !k.example_value.is_empty() => k.example_value.clone(),
                _ => "staging".to_string(),
            };
            out.push((k.name.clone(), v));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
# --- Database ---
DB_HOST=localhost
DB_PORT=5432
DB_USERNAME=app
DB_PASSWORD=
DB_DATABASE=app_dev

# Signs the access tokens
JWT_SECRET=
JWT_EXPIRES_IN=15m
# Where files go: local or pinata
# IPFS_PROVIDER=local
PINATA_API_KEY= # only with IPFS_PROVIDER=pinata
WEB_URL=\"http://localhost:5173\"
export LOG_LEVEL=info
# see https://example.com/?a=b for details
REDIS_HOST=localhost
REDIS_PASSWORD=
";

    fn offer() -> Offer {
        Offer {
            api_port: 3000,
            postgres: true,
            redis: true,
            ipfs: false,
            tee_worker: None,
            web_origin: None,
        }
    }

    #[test]
    fn example_keys_comments_and_optional_ones() {
        let keys = parse_example(EXAMPLE, "apps/api/.env.example");
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "DB_HOST",
                "DB_PORT",
                "DB_USERNAME",
                "DB_PASSWORD",
                "DB_DATABASE",
                "JWT_SECRET",
                "JWT_EXPIRES_IN",
                "IPFS_PROVIDER",
                "PINATA_API_KEY",
                "WEB_URL",
                "LOG_LEVEL",
                "REDIS_HOST",
                "REDIS_PASSWORD"
            ]
        );
        let k = |n: &str| keys.iter().find(|k| k.name == n).expect(n);
        assert_eq!(
            k("DB_HOST").comment,
            "",
            "a section heading is not a comment"
        );
        assert_eq!(k("JWT_SECRET").comment, "Signs the access tokens");
        assert_eq!(k("JWT_SECRET").line, 9);
        assert!(k("IPFS_PROVIDER").optional);
        assert_eq!(k("IPFS_PROVIDER").value, "local");
        assert_eq!(
            k("IPFS_PROVIDER").comment,
            "Where files go: local or pinata"
        );
        assert_eq!(
            k("PINATA_API_KEY").comment,
            "only with IPFS_PROVIDER=pinata"
        );
        assert_eq!(k("PINATA_API_KEY").value, "");
        assert_eq!(k("WEB_URL").value, "http://localhost:5173");
        assert_eq!(k("LOG_LEVEL").value, "info");
        assert!(!k("DB_HOST").optional);
        assert_eq!(
            k("REDIS_HOST").comment,
            "see https://example.com/?a=b for details",
            "prose with = is a comment, not a key"
        );
    }

    #[test]
    fn secret_names() {
        for s in [
            "JWT_SECRET",
            "DB_PASSWORD",
            "PINATA_API_KEY",
            "GITHUB_TOKEN",
            "PRIVATE_KEY",
            "JWT",
            "AWS_CREDENTIALS",
            "REDISPASSWORD",
            "SENTRY_DSN",
        ] {
            assert!(is_secret_name(s), "{s}");
        }
        for s in [
            "JWT_EXPIRES_IN",
            "TOKEN_TTL",
            "DB_HOST",
            "KEYCLOAK_REALM_NAME",
            "PUBLIC_KEY_ID",
            "MONKEY",
            "WEB_URL",
        ] {
            assert!(!is_secret_name(s), "{s}");
        }
    }

    fn contract(cfg: &Config) -> Contract {
        let ex = Example {
            files: vec!["apps/api/.env.example".into()],
            keys: parse_example(EXAMPLE, "apps/api/.env.example"),
        };
        build(cfg, &ex, &offer())
    }

    #[test]
    fn classification() {
        let c = contract(&Config::default());
        let class = |n: &str| c.key(n).expect(n).class;
        let value = |n: &str| c.key(n).expect(n).value.clone();
        assert_eq!(class("DB_HOST"), Class::Wired);
        assert_eq!(value("DB_HOST"), Some(Val::Lit("postgres".into())));
        assert_eq!(value("DB_PORT"), Some(Val::Lit("5432".into())));
        assert_eq!(class("DB_USERNAME"), Class::Wired);
        assert_eq!(class("DB_PASSWORD"), Class::Secret);
        assert!(
            matches!(value("DB_PASSWORD"), Some(Val::Required { var, .. }) if var == "DB_PASSWORD")
        );
        assert_eq!(class("JWT_SECRET"), Class::Secret);
        assert_eq!(class("JWT_EXPIRES_IN"), Class::Config);
        assert_eq!(value("JWT_EXPIRES_IN"), Some(Val::Lit("15m".into())));
        assert_eq!(value("IPFS_PROVIDER"), None, "optional, no staging value");
        assert_eq!(class("PINATA_API_KEY"), Class::Secret);
        assert_eq!(class("WEB_URL"), Class::Config, "no web app: a setting");
        assert_eq!(class("REDIS_HOST"), Class::Wired);
        assert_eq!(c.wiring.redis_password.as_deref(), Some("REDIS_PASSWORD"));
        assert_eq!(c.wiring.db_user, "DB_USERNAME");
    }

    #[test]
    fn config_adds_overrides_and_marks() {
        let cfg = crate::config::parse(
            "[api.env]\nIPFS_PROVIDER = \"pinata\"\nWEB_URL = \"https://app.example.com\"\n\
             PINATA_API_KEY = { secret = false, value = \"public-demo\" }\n\
             LOG_LEVEL = { secret = true }\nFEATURE_FLAGS = { value = \"a,b\", comment = \"enabled features\" }\n\
             DB_HOST = \"db.internal\"\n",
            "c.toml",
        )
        .expect("config");
        let c = contract(&cfg);
        let k = |n: &str| c.key(n).expect(n);
        assert_eq!(k("IPFS_PROVIDER").value, Some(Val::Lit("pinata".into())));
        assert_eq!(
            k("WEB_URL").value,
            Some(Val::Lit("https://app.example.com".into()))
        );
        assert_eq!(k("PINATA_API_KEY").class, Class::Config);
        assert_eq!(
            k("PINATA_API_KEY").value,
            Some(Val::Lit("public-demo".into()))
        );
        assert_eq!(k("LOG_LEVEL").class, Class::Secret);
        assert_eq!(k("FEATURE_FLAGS").origin, Origin::Config);
        assert_eq!(k("FEATURE_FLAGS").comment, "enabled features");
        assert_eq!(
            k("DB_HOST").value,
            Some(Val::Lit("db.internal".into())),
            "a staging value beats wiring"
        );
    }

    #[test]
    fn the_stack_names_its_database_as_the_app_does() {
        let ex = Example {
            files: vec![],
            keys: parse_example(
                "DATABASE_URL=postgres://localhost/x\nPGUSER=a\nPGPASSWORD=b\nPGDATABASE=c\n",
                ".env.example",
            ),
        };
        let c = build(&Config::default(), &ex, &offer());
        assert_eq!(c.wiring.db_user, "PGUSER");
        assert_eq!(c.wiring.db_password, "PGPASSWORD");
        assert_eq!(c.wiring.redis_password.as_deref(), Some("REDIS_PASSWORD"));
        match &c.key("DATABASE_URL").expect("url").value {
            Some(Val::Lit(s)) => assert!(s.starts_with("postgres://${PGUSER:?"), "{s}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn a_commented_service_url_is_wired_when_its_service_is_in_the_stack() {
        let ex = Example {
            files: vec![],
            keys: parse_example(
                "# IPFS_LOCAL_API_URL=http://localhost:5001\n# TEE_WORKER_URL=\n\
                 # IPFS_GATEWAY_URL=http://localhost:8080\n# STORAGE_DRIVER=local\n",
                ".env.example",
            ),
        };
        let with = Offer {
            ipfs: true,
            tee_worker: Some(3001),
            ..offer()
        };
        let c = build(&Config::default(), &ex, &with);
        let value = |c: &Contract, n: &str| c.key(n).expect(n).value.clone();
        assert_eq!(
            value(&c, "IPFS_LOCAL_API_URL"),
            Some(Val::Lit("http://ipfs:5001".into()))
        );
        assert_eq!(
            value(&c, "IPFS_GATEWAY_URL"),
            Some(Val::Lit("http://ipfs:8080".into()))
        );
        assert_eq!(
            value(&c, "TEE_WORKER_URL"),
            Some(Val::Lit("http://tee-worker:3001".into()))
        );
        assert_eq!(c.key("IPFS_LOCAL_API_URL").expect("k").class, Class::Wired);
        assert_eq!(
            value(&c, "STORAGE_DRIVER"),
            None,
            "not a service's location"
        );
        // without the services, the commented keys stay unset
        let c = build(&Config::default(), &ex, &offer());
        assert_eq!(value(&c, "IPFS_LOCAL_API_URL"), None);
        assert_eq!(value(&c, "TEE_WORKER_URL"), None);
    }

    #[test]
    fn literal_dollars_are_escaped_for_compose() {
        let cfg =
            crate::config::parse("[api.env]\nGREETING = \"a$b\"\n", "c.toml").expect("config");
        let c = build(&cfg, &Example::default(), &offer());
        assert_eq!(
            c.key("GREETING").expect("k").value,
            Some(Val::Lit("a$$b".into()))
        );
        let mut n = 0;
        let env = c
            .smoke_env(&mut |_| {
                n += 1;
                Ok(format!("s{n}"))
            })
            .expect("env");
        assert_eq!(env, vec![("GREETING".to_string(), "a$b".to_string())]);
    }

    #[test]
    fn smoke_env_fills_secrets_and_required_values() {
        let c = contract(&Config::default());
        let mut n = 0;
        let env = c
            .smoke_env(&mut |f| {
                n += 1;
                Ok(format!("random{n}:{f}"))
            })
            .expect("env");
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("DB_HOST").as_deref(), Some("postgres"));
        assert!(get("DB_PASSWORD").expect("pw").starts_with("random"));
        assert!(get("JWT_SECRET").expect("jwt").starts_with("random"));
        assert!(
            get("JWT_SECRET").expect("jwt").ends_with(":hex:32"),
            "a secret is asked for in its format"
        );
        assert_eq!(get("DB_USERNAME").as_deref(), Some("app"));
        assert_eq!(get("IPFS_PROVIDER"), None);
        assert_eq!(get("WEB_URL").as_deref(), Some("http://localhost:5173"));
    }
}
