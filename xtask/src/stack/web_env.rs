//! The web app's build environment (`[web.env]`): the public build-time variables a bundler
//! inlines into the JavaScript it ships (Vite's `import.meta.env.VITE_*`, Next.js's
//! `NEXT_PUBLIC_*`, `PUBLIC_*`, Create React App's `REACT_APP_*`).
//!
//! The keys are those of `[web.env]` and those of the web app's own env examples
//! (`.env.production.example`, `.env.example`, `.env.sample`, `.env.template`) with a public
//! prefix. Each value, in order: the config's; derived (a key naming the API's URL →
//! `https://<first caddy.domains>` with the example's path; one naming the web app's own
//! origin → `https://<web.domain>`); the example's, unless empty or a local address. A
//! required key with none is refused with the fix. A secret-named key of the example is
//! withheld (never passed: it would ship to every browser). [`read`] is the only file access.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::config::web::PUBLIC_PREFIXES;
use crate::config::Config;
use crate::envcontract::{parse_example, ExampleKey};

/// The web app's env example files, in the order they are read (a key's first file wins).
pub const EXAMPLE_NAMES: &[&str] = &[
    ".env.production.example",
    ".env.example",
    ".env.sample",
    ".env.template",
];

/// An env example over this size is refused (they are a few kB).
const MAX_EXAMPLE_BYTES: u64 = 256 * 1024;

/// Where a build variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// `[web.env]`.
    Config,
    /// The API's public URL (`caddy.domains`).
    ApiUrl,
    /// The web app's origin (`web.domain`).
    WebOrigin,
    /// The example's value (file:line).
    Example(String),
}

/// One build variable of the web app, with its value and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildVar {
    pub name: String,
    pub value: String,
    pub from: From,
}

impl BuildVar {
    /// Why it has this value, for `config init`'s report and messages.
    pub fn reason(&self) -> String {
        match &self.from {
            From::Config => "set in [web.env]".into(),
            From::ApiUrl => "derived: the API's public URL (the first of caddy.domains)".into(),
            From::WebOrigin => "derived: the web app's own origin (web.domain)".into(),
            From::Example(at) => format!("the example's value ({at})"),
        }
    }
}

/// The web app's build environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildEnv {
    /// By name.
    pub vars: Vec<BuildVar>,
    /// Secret-named public keys of the example, never passed (name, file:line).
    pub withheld: Vec<(String, String)>,
}

/// The public keys of the web app's env examples (`dir` relative to `root`).
pub fn read(root: &Path, dir: &str) -> Result<Vec<ExampleKey>> {
    let mut keys: Vec<ExampleKey> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for name in EXAMPLE_NAMES {
        let rel = if dir.is_empty() || dir == "." {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        let text = match crate::files::read_in(root, Path::new(&rel), MAX_EXAMPLE_BYTES) {
            Ok(t) => t,
            Err(crate::files::Refused::Missing) => continue,
            Err(why) => anyhow::bail!(
                "{}; the web app's env example must be a regular UTF-8 file inside the monorepo of at most {MAX_EXAMPLE_BYTES} bytes (or remove it)",
                crate::files::refusal(Path::new(&rel), &why, MAX_EXAMPLE_BYTES)
            ),
        };
        for k in parse_example(&text, &rel) {
            if is_public(&k.name) && seen.insert(k.name.clone()) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

/// A key a bundler exposes to the browser (by its prefix).
pub fn is_public(name: &str) -> bool {
    PUBLIC_PREFIXES
        .iter()
        .any(|p| name.len() > p.len() && name.starts_with(p))
}

/// The words of a key after its public prefix (`VITE_API_BASE_URL` → `API`, `BASE`, `URL`).
fn words(name: &str) -> Vec<&str> {
    let rest = PUBLIC_PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    rest.split('_').filter(|w| !w.is_empty()).collect()
}

const URL_WORDS: &[&str] = &["URL", "URI", "ORIGIN", "ENDPOINT", "BASE", "HOST"];

/// `(scheme, host, port, path)` of a URL (no user info, no query kept).
fn split_url(v: &str) -> Option<(&str, &str, Option<u16>, &str)> {
    let (scheme, rest) = v.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let path = &tail[..tail.find(['?', '#']).unwrap_or(tail.len())];
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    // `[v6]:port`, `[v6]`, `host:port`, `host`
    let (host, port) = match hostport.find(']') {
        Some(i) if hostport.starts_with('[') => (&hostport[..=i], &hostport[i + 1..]),
        _ => match hostport.split_once(':') {
            Some((h, p)) => (h, hostport.get(h.len()..).unwrap_or(p)),
            None => (hostport, ""),
        },
    };
    let port = match port.strip_prefix(':') {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None if port.is_empty() => None,
        None => return None,
    };
    Some((scheme, host, port, path))
}

fn is_local(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.ends_with(".localhost")
        || h == "0.0.0.0"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What a key's name (or its example value) says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ApiUrl,
    WebOrigin,
    Other,
}

fn kind(name: &str, example: &str, api_port: u16) -> Kind {
    let w = words(name);
    let urlish = w.last().is_some_and(|l| URL_WORDS.contains(l));
    let api = w
        .iter()
        .any(|x| ["API", "BACKEND", "SERVER", "GRAPHQL", "GQL"].contains(x));
    if urlish && api {
        return Kind::ApiUrl;
    }
    let web = w
        .iter()
        .any(|x| ["APP", "WEB", "SITE", "FRONTEND", "CLIENT"].contains(x));
    if urlish && web && w.last() != Some(&"HOST") {
        return Kind::WebOrigin;
    }
    // `http://localhost:<the API's port>/...`: the API, whatever the name
    match split_url(example) {
        Some((_, host, Some(port), _)) if is_local(host) && port == api_port => Kind::ApiUrl,
        _ => Kind::Other,
    }
}

/// The derived value of an API-URL key: the first API domain, the example's path kept,
/// `wss://` where the example is a WebSocket URL. `None` without a usable domain.
fn api_url(cfg: &Config, example: &str) -> Option<String> {
    let domain = cfg.caddy.domains.first().filter(|d| !d.starts_with("*."))?;
    let (scheme, path) = match split_url(example) {
        Some((s, _, _, p)) => (s, p.trim_end_matches('/')),
        None => ("https", ""),
    };
    let scheme = if scheme.starts_with("ws") {
        "wss"
    } else {
        "https"
    };
    Some(format!("{scheme}://{domain}{path}"))
}

/// What becomes of one public key of the example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed with this value.
    Passed(BuildVar),
    /// Secret-named: never passed.
    Withheld,
    /// Commented out in the example and nothing to derive: not passed.
    Optional,
    /// Required, no value: why (gen refuses).
    Missing(String),
}

/// One public key of the example (not in `[web.env]`).
pub fn outcome(cfg: &Config, web_domain: &str, k: &ExampleKey) -> Outcome {
    let at = format!("{}:{}", k.file, k.line);
    if crate::envcontract::is_secret_name(&k.name) {
        return Outcome::Withheld;
    }
    let kind = kind(&k.name, &k.value, cfg.api.port);
    let derived = match kind {
        Kind::ApiUrl => api_url(cfg, &k.value).map(|v| (v, From::ApiUrl)),
        Kind::WebOrigin => Some((format!("https://{web_domain}"), From::WebOrigin)),
        Kind::Other => None,
    };
    let local = split_url(&k.value).is_some_and(|(_, h, _, _)| is_local(h));
    let found = derived.or_else(|| {
        (!k.value.is_empty() && !local).then(|| (k.value.clone(), From::Example(at.clone())))
    });
    match found {
        Some((value, from)) => Outcome::Passed(BuildVar {
            name: k.name.clone(),
            value,
            from,
        }),
        None if k.optional => Outcome::Optional,
        None => {
            let why = if local {
                format!("its example value {:?} is a local address", k.value)
            } else {
                "its example value is empty".into()
            };
            let hint = if kind == Kind::ApiUrl {
                " (it names the API's URL: set `caddy.domains` and gen derives it)"
            } else {
                ""
            };
            Outcome::Missing(format!(
                "{why} and none can be derived{hint}; set it: `cargo xtask config set web.env.{} <value>` \
                 (it ships to every browser: a public value only)",
                k.name
            ))
        }
    }
}

/// The build environment of the web app: `[web.env]` and the example's public keys.
/// Refuses a required key with no value, naming the fix.
pub fn resolve(cfg: &Config, examples: &[ExampleKey]) -> Result<BuildEnv, String> {
    let Some(web) = &cfg.web else {
        return Ok(BuildEnv::default());
    };
    let mut vars: BTreeMap<String, BuildVar> = BTreeMap::new();
    for (k, v) in &web.env {
        vars.insert(
            k.clone(),
            BuildVar {
                name: k.clone(),
                value: v.clone(),
                from: From::Config,
            },
        );
    }
    let mut withheld = Vec::new();
    let mut missing: Vec<(String, String)> = Vec::new();
    for k in examples {
        if vars.contains_key(&k.name) {
            continue;
        }
        let at = format!("{}:{}", k.file, k.line);
        match outcome(cfg, &web.domain, k) {
            Outcome::Passed(v) => {
                crate::config::web::check_env_value(&k.name, &v.value)
                    .map_err(|m| format!("{m} (from {at})"))?;
                vars.insert(k.name.clone(), v);
            }
            Outcome::Withheld => withheld.push((k.name.clone(), at)),
            Outcome::Optional => {}
            Outcome::Missing(why) => missing.push((format!("{} ({at})", k.name), why)),
        }
    }
    if let Some((first, why)) = missing.first() {
        let also = if missing.len() > 1 {
            let rest: Vec<&str> = missing[1..]
                .iter()
                .map(|(n, _)| n.split(' ').next().unwrap_or(n))
                .collect();
            format!("; also without one: {}", rest.join(", "))
        } else {
            String::new()
        };
        return Err(format!(
            "the web app's build variable {first} has no staging value: {why}{also}"
        ));
    }
    Ok(BuildEnv {
        vars: vars.into_values().collect(),
        withheld,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        crate::config::parse(
            &format!("[caddy]\ndomains = [\"api.example.com\"]\n[web]\npackage = \"@a/web\"\ndomain = \"app.example.com\"\n{extra}"),
            "c.toml",
        )
        .expect("parses")
    }

    fn ex(text: &str) -> Vec<ExampleKey> {
        parse_example(text, "apps/web/.env.example")
            .into_iter()
            .filter(|k| is_public(&k.name))
            .collect()
    }

    fn vars(env: &BuildEnv) -> Vec<(&str, &str)> {
        env.vars
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_str()))
            .collect()
    }

    #[test]
    fn the_api_url_and_the_web_origin_are_derived_other_values_come_from_the_example() {
        let e = ex("VITE_API_URL=http://localhost:3000\nVITE_API_BASE_URL=http://localhost:3000/api/v1/\n\
                    VITE_WS_URL=ws://localhost:3000/socket\nVITE_APP_URL=http://localhost:5173\n\
                    VITE_APP_NAME=Ledger\nNEXT_PUBLIC_BACKEND_ORIGIN=\nDATABASE_URL=postgres://x\n# VITE_SENTRY_DSN=\n");
        let env = resolve(&cfg(""), &e).expect("resolves");
        assert_eq!(
            vars(&env),
            [
                ("NEXT_PUBLIC_BACKEND_ORIGIN", "https://api.example.com"),
                ("VITE_API_BASE_URL", "https://api.example.com/api/v1"),
                ("VITE_API_URL", "https://api.example.com"),
                ("VITE_APP_NAME", "Ledger"),
                ("VITE_APP_URL", "https://app.example.com"),
                ("VITE_WS_URL", "wss://api.example.com/socket"),
            ]
        );
        assert_eq!(
            env.vars[3].from,
            From::Example("apps/web/.env.example:5".into())
        );
        assert_eq!(env.vars[2].from, From::ApiUrl);
    }

    #[test]
    fn the_config_wins_and_adds_keys() {
        let e = ex("VITE_API_URL=http://localhost:3000\n");
        let env = resolve(
            &cfg(
                "[web.env]\nVITE_API_URL = \"https://edge.example.com/api\"\nVITE_FLAG = \"on\"\n",
            ),
            &e,
        )
        .expect("resolves");
        assert_eq!(
            vars(&env),
            [
                ("VITE_API_URL", "https://edge.example.com/api"),
                ("VITE_FLAG", "on")
            ]
        );
        assert!(env.vars.iter().all(|v| v.from == From::Config));
    }

    #[test]
    fn a_key_with_no_value_is_refused_with_the_fix() {
        let e = ex("VITE_RELEASE_CHANNEL=\nVITE_OAUTH_REDIRECT=http://localhost:5173/cb\n");
        let m = resolve(&cfg(""), &e).expect_err("refused");
        assert!(
            m.contains("VITE_RELEASE_CHANNEL (apps/web/.env.example:1)")
                && m.contains("`cargo xtask config set web.env.VITE_RELEASE_CHANNEL <value>`")
                && m.contains("also without one: VITE_OAUTH_REDIRECT"),
            "{m}"
        );
        // without caddy.domains the API's URL cannot be derived: the message says how
        let mut c = cfg("");
        c.caddy.domains.clear();
        let m = resolve(&c, &ex("VITE_API_URL=http://localhost:3000\n")).expect_err("refused");
        assert!(m.contains("set `caddy.domains` and gen derives it"), "{m}");
    }

    #[test]
    fn secret_named_keys_of_the_example_are_withheld() {
        let e = ex("VITE_STRIPE_SECRET=sk_live_x\nVITE_API_URL=http://localhost:3000\n");
        let env = resolve(&cfg(""), &e).expect("resolves");
        assert_eq!(vars(&env), [("VITE_API_URL", "https://api.example.com")]);
        assert_eq!(
            env.withheld,
            [(
                "VITE_STRIPE_SECRET".to_string(),
                "apps/web/.env.example:1".to_string()
            )]
        );
    }

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("http://localhost:3000/api?x=1"),
            Some(("http", "localhost", Some(3000), "/api"))
        );
        assert_eq!(
            split_url("https://[::1]:8443"),
            Some(("https", "[::1]", Some(8443), ""))
        );
        assert!(is_local("[::1]") && is_local("127.0.0.1") && !is_local("example.com"));
        assert_eq!(
            split_url("http://[::1]/x"),
            Some(("http", "[::1]", None, "/x"))
        );
        assert_eq!(split_url("not a url"), None);
    }
}
