//! The API's application contract: the environment variables it needs to boot.
//!
//! Learnt from the API's own `.env.example` (also `.env.sample`, `.env.template`; a
//! commented-out `# KEY=value` is an optional key unless its comment says it is required in
//! production), amended by `[api.env]` in the config, and classified key by key:
//! - **secret**: its name says so (SECRET, PASSWORD, TOKEN, JWT, KEY, PRIVATE, CREDENTIAL…),
//!   the example shows a private key or a generation command, or the config says
//!   `secret = true`; compose reads it only as `${NAME:?…}`; it has a [`SecretFormat`]
//!   (`[api.env] format`, else inferred from the example's comment and value, see [`infer`]);
//! - **wired**: the stack sets it (`DB_HOST=postgres`, the redis/IPFS/tee-worker URLs, ports,
//!   the public URLs and origins from `web.domain`/`caddy.domains`);
//! - **config**: a staging value from the config, else the example's value; with neither it
//!   is required from `.env.staging`. An example value that is empty stays allowed empty
//!   (`${NAME?…}`); one pointing at localhost (a dev value, [`devvalue`]) never reaches
//!   staging: it is required from `.env.staging`.
//!
//! Pure: [`parse_example`] and [`build`] take text and config; [`read_example`] is the only
//! file access.

mod devvalue;
mod example;
pub mod infer;
mod wiring;

pub use devvalue::{
    host_of, is_dev_value, is_local_host, is_service_name, list_items, public_kind, value_hosts,
    without_local_hosts, Public, LISTEN_NAMES,
};
pub use example::{is_var_name, parse_example, read_example, Example, ExampleKey, EXAMPLE_NAMES};
pub use wiring::{service_of_key, DB_NAME, DB_PASSWORD, DB_PORT, DB_USER};

use std::collections::HashMap;

use anyhow::Result;

use crate::config::{Config, EnvOverride};
use crate::secretfmt::SecretFormat;
use crate::stack::Val;
use wiring::{locates, pick, wired};

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
    /// A secret's format (what a generated value must look like): `[api.env] format`, else
    /// inferred from the example, else [`SecretFormat::DEFAULT`]. `None` for a non-secret.
    pub format: Option<SecretFormat>,
    /// Why `format` (`None` when it is the default): `from [api.env]`,
    /// `from the comment: "PKCS8 PEM, base64-encoded"`…
    pub format_reason: Option<String>,
    /// Why a commented-out key of the example is required (its comment says so).
    pub required_reason: Option<String>,
    /// Why the value is not the example's: a dev value (localhost) derived from the config or
    /// required from `.env.staging`.
    pub value_reason: Option<String>,
}

impl Key {
    /// Set but possibly empty (`${NAME?…}`): the example leaves it empty.
    pub fn empty_ok(&self) -> bool {
        matches!(self.value, Some(Val::Required { empty_ok: true, .. }))
    }
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
    /// Each key's place in `keys`: [`Contract::key`] is a lookup, not a scan (renderers and
    /// rules ask once per key; a scan made them quadratic in the example's size).
    index: HashMap<String, usize>,
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
    /// `web.domain` when the stack serves a web app on its own domain.
    pub web_domain: Option<String>,
    /// `caddy.domains` that are host names (the API's public addresses), first first.
    pub api_domains: Vec<String>,
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

pub(crate) fn req(var: &str) -> Val {
    Val::Required {
        var: var.into(),
        hint: format!("set {var} in .env.staging (see .env.staging.example)"),
        empty_ok: false,
    }
}

/// `${NAME?…}`: must be set, may be empty.
fn req_maybe_empty(var: &str) -> Val {
    Val::Required {
        var: var.into(),
        hint: format!("set {var} in .env.staging (empty is allowed)"),
        empty_ok: true,
    }
}

/// A literal for compose: `$` doubled so compose never interpolates it.
pub(crate) fn lit(s: &str) -> Val {
    Val::Lit(s.replace('$', "$$"))
}

/// One key: secret or not and its format, optional or required, its compose value.
fn classify(
    name: &str,
    ex: Option<&ExampleKey>,
    ov: Option<&EnvOverride>,
    offer: &Offer,
    wiring: &Wiring,
) -> Key {
    let example_value = ex.map(|k| k.value.clone()).unwrap_or_default();
    let comment = ov
        .and_then(|o| o.comment.clone())
        .or_else(|| ex.map(|k| k.comment.clone()))
        .unwrap_or_default();
    let ex_comment = ex.map(|k| k.comment.as_str()).unwrap_or_default();
    let required_reason = ex
        .filter(|k| k.optional)
        .and_then(|k| infer::required_in_production(&k.comment));
    let optional = ov
        .and_then(|o| o.optional)
        .unwrap_or_else(|| ex.is_some_and(|k| k.optional) && required_reason.is_none());
    let origin = match ex {
        Some(k) => Origin::Example(k.file.clone(), k.line),
        None => Origin::Config,
    };
    let inferred = infer::infer_format(&example_value, ex_comment);
    // `[api.env] format` is checked when the config is read
    let configured = ov
        .and_then(|o| o.format.as_deref())
        .and_then(|f| SecretFormat::parse(f).ok());
    let secret = ov
        .and_then(|o| o.secret)
        .or_else(|| configured.map(|_| true))
        .unwrap_or_else(|| is_secret_name(name) || inferred.as_ref().is_some_and(|i| i.secret));
    let (format, format_reason) = match (secret, configured, inferred) {
        (false, _, _) => (None, None),
        (true, Some(f), _) => (Some(f), Some("from [api.env]".to_string())),
        (true, None, Some(i)) => (Some(i.format), Some(i.reason)),
        (true, None, None) => (Some(SecretFormat::DEFAULT), None),
    };
    let staging = ov.and_then(|o| o.value.clone());
    let mut value_reason = None;
    let (class, value) = if let Some(v) = staging.filter(|_| !secret) {
        (Class::Config, Some(lit(&v)))
    } else if let Some(v) =
        wired(name, offer, wiring).filter(|_| !optional || ov.is_some() || locates(name))
    {
        let class = if secret { Class::Secret } else { Class::Wired };
        (class, Some(v))
    } else if secret {
        (Class::Secret, (!optional).then(|| req(name)))
    } else if optional {
        (Class::Config, None)
    } else if let Some(d) = devvalue::staging_value(name, &example_value, offer) {
        value_reason = Some(d.reason);
        match d.value {
            Some(v) => (Class::Wired, Some(lit(&v))),
            None => (Class::Config, Some(req(name))),
        }
    } else if !example_value.is_empty() {
        (Class::Config, Some(lit(&example_value)))
    } else if ex.is_some() && required_reason.is_none() {
        (Class::Config, Some(req_maybe_empty(name)))
    } else {
        (Class::Config, Some(req(name)))
    };
    Key {
        name: name.to_string(),
        class,
        value,
        example_value,
        comment,
        optional,
        origin,
        format,
        format_reason,
        required_reason,
        value_reason,
    }
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
    // the example's keys and the overrides by name: one lookup per key (linear in the input)
    let by_name: HashMap<&str, &ExampleKey> =
        example.keys.iter().map(|k| (k.name.as_str(), k)).collect();
    let override_of: HashMap<&str, &EnvOverride> = overrides
        .iter()
        .rev()
        .map(|o| (o.name.as_str(), o))
        .collect();
    let mut seen: std::collections::HashSet<String> =
        names.iter().map(|(n, _)| n.clone()).collect();
    for o in overrides {
        if seen.insert(o.name.clone()) {
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
    let keys = names
        .iter()
        .map(|(name, _)| {
            let ex = by_name.get(name.as_str()).copied();
            let ov = override_of.get(name.as_str()).copied();
            classify(name, ex, ov, offer, &wiring)
        })
        .collect();
    Contract::new(example.files.clone(), keys, wiring)
}

impl Key {
    /// The format of this key's value when it is a secret (generated by the smoke test, the
    /// rehearsal and `env init`): [`Key::format`], else [`SecretFormat::DEFAULT`].
    pub fn secret_format(&self) -> SecretFormat {
        self.format.unwrap_or(SecretFormat::DEFAULT)
    }
}

impl Contract {
    /// A contract of these keys ([`Contract::key`] finds the first of a name).
    pub fn new(sources: Vec<String>, keys: Vec<Key>, wiring: Wiring) -> Contract {
        let mut index = HashMap::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            index.entry(k.name.clone()).or_insert(i);
        }
        Contract {
            sources,
            keys,
            wiring,
            index,
        }
    }

    pub fn key(&self, name: &str) -> Option<&Key> {
        self.index.get(name).map(|&i| &self.keys[i])
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

    /// A staging value for a variable the stack wires under the API's names but the API's
    /// example does not list (the database user and name read from its `DATABASE_URL`
    /// example): the stack's own postgres takes any, so `env init` needs no one to fill it.
    pub fn stack_default(&self, var: &str) -> Option<String> {
        if self.key(var).is_some() {
            return None;
        }
        let url = self
            .keys
            .iter()
            .find(|k| wiring::DB_URL.contains(&k.name.as_str()))?;
        let (user, db) = wiring::url_user_and_db(&url.example_value);
        if var == self.wiring.db_user {
            user
        } else if var == self.wiring.db_name {
            db
        } else {
            None
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
    /// example or a placeholder (empty where the example leaves them empty), the rest as
    /// compose sets them (literal values; interpolated ones filled the same way).
    pub fn smoke_env(
        &self,
        secret: &mut dyn FnMut(SecretFormat) -> Result<String>,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for k in self.set_keys() {
            let v = match &k.value {
                Some(Val::Lit(s)) if !s.contains("${") => s.replace("$$", "$"),
                _ if self.is_secret(&k.name) => secret(k.secret_format())?,
                _ if k.empty_ok() => String::new(),
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
            web_domain: None,
            api_domains: Vec::new(),
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

    /// The shapes met in real NestJS monorepos (issue 20): dev values, empty values, keys
    /// required in production, a secret of a format.
    const REAL: &str = "\
NODE_ENV=development
WEB_APP_URL=http://localhost:5173
CORS_ALLOWED_ORIGINS=http://localhost:5173,http://localhost:3000
SIWE_DOMAIN=localhost
SMTP_HOST=localhost
DATABASE_CA=
LOG_LEVEL=
# Google OAuth, required in production
# GOOGLE_CLIENT_ID=
# GOOGLE_CLIENT_SECRET=your-secret # required in production
# GOOGLE_CALLBACK_URL= # required in production
# Sentry (optional)
# SENTRY_DSN=
# RS256 private key for identity tokens (PKCS8 PEM, base64-encoded)
IDENTITY_JWT_PRIVATE_KEY=
# Generate with: openssl rand -hex 32
SESSION_SECRET=
";

    fn real(cfg_text: &str) -> Contract {
        let cfg = crate::config::parse(cfg_text, "c.toml").expect("config");
        let ex = Example {
            files: vec![".env.example".into()],
            keys: parse_example(REAL, ".env.example"),
        };
        let mut o = offer();
        o.web_domain = cfg.web.as_ref().map(|w| w.domain.clone());
        o.api_domains = cfg.caddy.domains.clone();
        build(&cfg, &ex, &o)
    }

    fn is_local_literal(v: &Option<Val>) -> bool {
        matches!(v, Some(Val::Lit(s)) if crate::envcontract::is_dev_value(s))
    }

    #[test]
    fn real_shapes_without_domains_require_what_staging_cannot_know() {
        let c = real("");
        let k = |n: &str| c.key(n).unwrap_or_else(|| panic!("{n}"));
        for n in [
            "WEB_APP_URL",
            "CORS_ALLOWED_ORIGINS",
            "SIWE_DOMAIN",
            "SMTP_HOST",
        ] {
            assert!(
                matches!(&k(n).value, Some(Val::Required { empty_ok: false, var, .. }) if var == n),
                "{n}: {:?}",
                k(n).value
            );
            assert!(k(n).value_reason.is_some(), "{n}");
        }
        for n in ["DATABASE_CA", "LOG_LEVEL"] {
            assert!(k(n).empty_ok(), "{n}: {:?}", k(n).value);
        }
        assert!(!k("GOOGLE_CLIENT_ID").optional);
        assert_eq!(k("GOOGLE_CLIENT_ID").class, Class::Config);
        assert!(
            !k("GOOGLE_CLIENT_ID").empty_ok(),
            "required in production: non-empty"
        );
        assert!(k("GOOGLE_CLIENT_ID").required_reason.is_some());
        assert!(!k("GOOGLE_CLIENT_SECRET").optional);
        assert!(
            !k("GOOGLE_CALLBACK_URL").optional,
            "`# KEY= # comment` is a key with a trailing comment"
        );
        assert_eq!(k("GOOGLE_CLIENT_SECRET").class, Class::Secret);
        assert!(k("SENTRY_DSN").optional);
        assert_eq!(k("SENTRY_DSN").value, None);
        let jwt = k("IDENTITY_JWT_PRIVATE_KEY");
        assert_eq!(jwt.class, Class::Secret);
        assert_eq!(
            jwt.format.map(|f| f.to_string()).as_deref(),
            Some("rsa-pkcs8-pem-base64")
        );
        assert!(
            jwt.format_reason
                .as_deref()
                .is_some_and(|r| r.contains("PKCS8 PEM, base64-encoded")),
            "{:?}",
            jwt.format_reason
        );
        assert_eq!(
            k("SESSION_SECRET").format.map(|f| f.to_string()).as_deref(),
            Some("hex:32")
        );
        assert_eq!(
            k("GOOGLE_CLIENT_SECRET").format,
            Some(SecretFormat::DEFAULT)
        );
        assert_eq!(k("GOOGLE_CLIENT_SECRET").format_reason, None);
        assert!(c.keys.iter().all(|k| !is_local_literal(&k.value)));
        let env = c.smoke_env(&mut |_| Ok("s".into())).expect("env");
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("LOG_LEVEL"), Some(""), "empty stays empty");
        assert_eq!(get("DATABASE_CA"), Some(""));
    }

    #[test]
    fn real_shapes_with_domains_are_derived() {
        let c = real(
            "[caddy]\ndomains = [\"api.example.com\"]\n[web]\npackage = \"w\"\ndomain = \"app.example.com\"\n",
        );
        let v = |n: &str| c.key(n).and_then(|k| k.value.clone());
        let lit = |s: &str| Some(Val::Lit(s.into()));
        assert_eq!(v("WEB_APP_URL"), lit("https://app.example.com"));
        assert_eq!(
            v("CORS_ALLOWED_ORIGINS"),
            lit("https://app.example.com,https://api.example.com")
        );
        assert_eq!(v("SIWE_DOMAIN"), lit("app.example.com"));
        assert!(matches!(v("SMTP_HOST"), Some(Val::Required { .. })));
        assert_eq!(v("NODE_ENV"), lit("production"));
        assert!(c.keys.iter().all(|k| !is_local_literal(&k.value)));
    }

    #[test]
    fn the_config_format_wins_and_makes_a_secret() {
        let c = real(
            "[api.env]\nIDENTITY_JWT_PRIVATE_KEY = { format = \"ec-p256-pem\" }\nSIGNING_SEED = { format = \"base64:48\" }\n",
        );
        let k = |n: &str| c.key(n).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(
            k("IDENTITY_JWT_PRIVATE_KEY")
                .format
                .map(|f| f.to_string())
                .as_deref(),
            Some("ec-p256-pem")
        );
        assert_eq!(
            k("IDENTITY_JWT_PRIVATE_KEY").format_reason.as_deref(),
            Some("from [api.env]")
        );
        assert_eq!(
            k("SIGNING_SEED").class,
            Class::Secret,
            "a format makes a secret"
        );
    }

    #[test]
    fn the_database_user_and_name_come_from_the_url_example() {
        let ex = Example {
            files: vec![],
            keys: parse_example(
                "DATABASE_URL=postgres://orbit:orbit@localhost:5432/orbit_dev?sslmode=disable\n",
                ".env.example",
            ),
        };
        let c = build(&Config::default(), &ex, &offer());
        assert_eq!(c.stack_default(&c.wiring.db_user).as_deref(), Some("orbit"));
        assert_eq!(
            c.stack_default(&c.wiring.db_name).as_deref(),
            Some("orbit_dev")
        );
        assert_eq!(
            c.stack_default("DATABASE_URL"),
            None,
            "a key of the contract"
        );
        let none = build(&Config::default(), &Example::default(), &offer());
        assert_eq!(none.stack_default(&none.wiring.db_user), None);
    }
}
