//! `[web]`: a static web app (an SPA) of the workspace that Caddy serves on its own domain.
//! Optional: without the table there is no web site and nothing of it in any generated file.

use std::collections::BTreeMap;

use toml_edit::Item;

use crate::values;

/// `[web]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// The web app's package name in the pnpm workspace (required).
    pub package: String,
    /// The `package.json` script that builds it.
    pub script: String,
    /// What the script writes, relative to the package's directory.
    pub output: String,
    /// The site's host name (required): Caddy's second site, its own certificate SAN.
    pub domain: String,
    /// The directory under `output` whose files carry a content hash in their names
    /// (Vite's `build.assetsDir`): cached for a year, immutable.
    pub assets: String,
    /// `[web.env]`: public build-time variables (`VITE_API_URL = "https://…"`), passed to the
    /// build as build args; they ship to every browser, so a secret-named key is refused.
    pub env: BTreeMap<String, String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            package: String::new(),
            script: "build".into(),
            output: "dist".into(),
            domain: String::new(),
            assets: "assets".into(),
            env: BTreeMap::new(),
        }
    }
}

/// The keys of `[web]`.
pub const KEYS: &[&str] = &["package", "script", "output", "domain", "assets", "env"];

/// The prefixes bundlers expose to the browser code (Vite, Next.js, SvelteKit/Astro, Create
/// React App): the keys of the web app's env example that are build-time public variables.
pub const PUBLIC_PREFIXES: &[&str] = &["VITE_", "NEXT_PUBLIC_", "PUBLIC_", "REACT_APP_"];

/// Names the web build's own environment uses (the Dockerfile's `ARG NODE_IMAGE`, pnpm's and
/// corepack's settings): a `[web.env]` key may not replace them.
const RESERVED: &[&str] = &[
    "NODE_IMAGE",
    "PATH",
    "HOME",
    "PNPM_HOME",
    "CI",
    "NODE_OPTIONS",
];
const RESERVED_PREFIXES: &[&str] = &["COREPACK_", "NPM_CONFIG_", "PNPM_", "BUILDKIT_"];

/// One `[web.env]` key: a variable name, not secret-named, not one the build uses itself.
pub fn check_env_name(name: &str) -> Result<(), String> {
    if !crate::envcontract::is_var_name(name) {
        return Err(format!(
            "`web.env.{}` is not a variable name (letters, digits and _, not starting with a digit)",
            values::shown(name)
        ));
    }
    let upper = name.to_ascii_uppercase();
    if RESERVED.contains(&upper.as_str()) || RESERVED_PREFIXES.iter().any(|p| upper.starts_with(p))
    {
        return Err(format!(
            "`web.env.{name}`: {name} is set by the web build itself (Node base, pnpm, corepack); a build variable of the app needs another name"
        ));
    }
    if crate::envcontract::is_secret_name(name) {
        return Err(format!(
            "`web.env.{name}`: its name says it is a secret, and every [web.env] value is built into the JavaScript that ships to every browser; \
             keep secrets on the API (`[api.env]`), or, if the value is public, rename the variable in the web app"
        ));
    }
    Ok(())
}

/// A `[web.env]` value: public text (no control character, a newline included), at most 2 kB.
pub fn check_env_value(name: &str, v: &str) -> Result<(), String> {
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(format!(
            "`web.env.{name}` = {}: control character {c:?}; a build variable is one line of text",
            values::shown(v)
        ));
    }
    if v.len() > 2048 {
        return Err(format!(
            "`web.env.{name}` = {}: over 2048 bytes; a build variable is a short public value",
            values::shown(v)
        ));
    }
    Ok(())
}

/// One `[web.env]` entry (`KEY = "value"`).
pub fn apply_env(web: &mut WebConfig, name: &str, item: &Item) -> Result<(), String> {
    check_env_name(name)?;
    let v = item
        .as_str()
        .ok_or_else(|| format!("`web.env.{name}` must be a string (the value the build sees)"))?;
    check_env_value(name, v)?;
    web.env.insert(name.to_string(), v.to_string());
    Ok(())
}

/// One `web.<key>` value, checked by its type.
pub fn apply(web: &mut WebConfig, key: &str, item: &Item) -> Result<(), String> {
    let full = format!("web.{key}");
    if key == "env" {
        let t = item
            .as_table_like()
            .ok_or_else(|| "`web.env` must be a table ([web.env], KEY = \"value\")".to_string())?;
        for (k, v) in t.iter() {
            apply_env(web, k, v)?;
        }
        return Ok(());
    }
    let s = item
        .as_str()
        .ok_or_else(|| format!("`{full}` must be a string"))?;
    let v = values::shown(s);
    let at = |m: String| {
        if m.starts_with(&v) {
            format!("`{full}` = {m}")
        } else {
            format!("`{full}` = {v}: {m}")
        }
    };
    match key {
        "package" => values::npm_name(s).map_err(at)?,
        "script" => values::script_name(s).map_err(at)?,
        "output" | "assets" => values::rel_path(s).map_err(|m| {
            at(format!(
                "{m}; it must be a relative path inside the web package"
            ))
        })?,
        "domain" => {
            values::host_name(s).map_err(at)?;
            if s.starts_with("*.") || s.parse::<std::net::IpAddr>().is_ok() {
                return Err(at(
                    "the web app's site needs one host name, e.g. app.staging.example.com (no wildcard, no IP address)".into(),
                ));
            }
        }
        _ => return Err(format!("unknown key `{full}` (known: {})", KEYS.join(", "))),
    }
    let t = s.trim_start_matches("./").trim_end_matches('/').to_string();
    let slot = match key {
        "package" => &mut web.package,
        "script" => &mut web.script,
        "output" => &mut web.output,
        "assets" => &mut web.assets,
        _ => &mut web.domain,
    };
    *slot = t;
    Ok(())
}

/// `config set web.env.NAME VALUE`: into `[web.env]` (made when missing, below `[web]`).
pub fn set_env(doc: &mut toml_edit::DocumentMut, name: &str, value: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    if doc.get("web").is_none() {
        anyhow::bail!(
            "`web.env.{name}`: there is no [web] (no web app); set `web.package` and `web.domain` first"
        );
    }
    let web = doc["web"]
        .as_table_like_mut()
        .context("`web` is not a table")?;
    if web.get("env").is_none() {
        let mut t = toml_edit::Table::new();
        t.set_implicit(false);
        web.insert("env", Item::Table(t));
    }
    let env = web
        .get_mut("env")
        .and_then(Item::as_table_like_mut)
        .context("`web.env` is not a table")?;
    match env.get_mut(name) {
        Some(Item::Value(old)) => {
            let mut v = toml_edit::Value::from(value);
            *v.decor_mut() = old.decor().clone();
            *old = v;
        }
        _ => {
            env.insert(name, Item::Value(value.into()));
        }
    }
    Ok(())
}

/// What `[web]` needs as a whole: its package and domain, a domain of its own.
pub fn check(web: &WebConfig, api_domains: &[String]) -> Result<(), String> {
    if web.package.is_empty() {
        return Err(
            "[web] needs `package`: the web app's name in the pnpm workspace (e.g. \"@acme/web\")"
                .into(),
        );
    }
    if web.domain.is_empty() {
        return Err(
            "[web] needs `domain`: the web app's host name (e.g. \"app.staging.example.com\"); the API keeps `caddy.domains`"
                .into(),
        );
    }
    if api_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&web.domain))
    {
        return Err(format!(
            "`web.domain` = {:?} is also in `caddy.domains`: the web app and the API each need a domain of their own",
            web.domain
        ));
    }
    Ok(())
}

/// `config get web.<key>`.
pub fn get(web: Option<&WebConfig>, key: &str) -> Option<String> {
    if let Some(name) = key.strip_prefix("env.") {
        let Some(w) = web else {
            return Some("(unset: no [web], no web site)".into());
        };
        return Some(match w.env.get(name) {
            Some(v) => format!("{v:?}"),
            None => {
                "(unset: derived by gen or from the web app's env example, see `cargo xtask gen`)"
                    .into()
            }
        });
    }
    let Some(w) = web else {
        return KEYS
            .contains(&key)
            .then(|| "(unset: no [web], no web site)".to_string());
    };
    let v = match key {
        "package" => &w.package,
        "script" => &w.script,
        "output" => &w.output,
        "domain" => &w.domain,
        "assets" => &w.assets,
        "env" => return Some(format!("{:?}", w.env)),
        _ => return None,
    };
    Some(format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use crate::config::{get_value, parse, set_value};

    fn err(text: &str) -> String {
        format!("{:#}", parse(text, "c.toml").expect_err("must fail"))
    }

    #[test]
    fn no_web_table_no_web_site() {
        assert_eq!(parse("", "c.toml").expect("parses").web, None);
    }

    #[test]
    fn a_web_table_with_defaults() {
        let c = parse(
            "[web]\npackage = \"@acme/web\"\ndomain = \"app.example.com\"\n",
            "c.toml",
        )
        .expect("parses");
        let w = c.web.expect("web");
        assert_eq!(
            (w.script.as_str(), w.output.as_str(), w.assets.as_str()),
            ("build", "dist", "assets")
        );
        let c = parse(
            "[web]\npackage = \"@acme/web\"\ndomain = \"app.example.com\"\nscript = \"build:staging\"\noutput = \"./build/\"\n",
            "c.toml",
        )
        .expect("parses");
        let w = c.web.expect("web");
        assert_eq!(
            (w.script.as_str(), w.output.as_str()),
            ("build:staging", "build")
        );
    }

    #[test]
    fn web_values_are_checked_at_their_line() {
        let e = err("[web]\npackage = \"@acme/web\"\n");
        assert!(
            e.contains("c.toml:1:2") && e.contains("needs `domain`"),
            "{e}"
        );
        let e = err("[web]\ndomain = \"app.example.com\"\n");
        assert!(e.contains("needs `package`"), "{e}");
        let base = "[web]\npackage = \"@acme/web\"\ndomain = \"app.example.com\"\n";
        for (line, want) in [
            ("output = \"../secrets\"", "leaves its directory"),
            ("output = \"/srv\"", "absolute"),
            ("script = \"build && curl x\"", "script name"),
            ("script = \"--help\"", "starts with `-`"),
            ("package = \"Not A Name\"", "web.package"),
            ("domain = \"https://app.example.com\"", "not a host name"),
            ("domain = \"*.example.com\"", "no wildcard"),
            ("domain = \"app.example.com:8443\"", "has a port"),
            ("assets = \"a b\"", "web.assets"),
            ("root = \"x\"", "unknown key `web.root`"),
        ] {
            let key = line.split(' ').next().unwrap_or_default();
            let kept: String = base
                .lines()
                .filter(|l| !l.starts_with(&format!("{key} ")))
                .map(|l| format!("{l}\n"))
                .collect();
            let e = err(&format!("{kept}{line}\n"));
            let at = format!("c.toml:{}:", kept.lines().count() + 1);
            assert!(e.contains(want) && e.contains(&at), "{line}: {e}");
        }
        let e = err("[caddy]\ndomains = [\"app.example.com\"]\n[web]\npackage = \"@a/web\"\ndomain = \"app.example.com\"\n");
        assert!(e.contains("also in `caddy.domains`"), "{e}");
    }

    #[test]
    fn config_set_and_get_reach_web() {
        let c = parse("", "c.toml").expect("parses");
        assert!(get_value(&c, "web.domain")
            .expect("known")
            .contains("no [web]"));
        let t = set_value("", "web.package", "@acme/web", "c.toml").expect_err("domain missing");
        assert!(format!("{t:#}").contains("needs `domain`"));
        let t = "[web]\npackage = \"@acme/web\"\ndomain = \"app.example.com\"\n";
        let out = set_value(t, "web.output", "build", "c.toml").expect("set");
        let c = parse(&out, "c.toml").expect("parses");
        assert_eq!(get_value(&c, "web.output").expect("get"), "\"build\"");
        assert!(set_value(t, "web.output", "../x", "c.toml").is_err());
    }

    #[test]
    fn web_env_takes_public_values_and_refuses_secrets_at_their_line() {
        let base = "[web]\npackage = \"@acme/web\"\ndomain = \"app.example.com\"\n";
        let c = parse(
            &format!("{base}[web.env]\nVITE_API_URL = \"https://api.example.com\"\nVITE_TITLE = 'A \"b\" $c'\n"),
            "c.toml",
        )
        .expect("parses");
        let env = c.web.expect("web").env;
        assert_eq!(env["VITE_API_URL"], "https://api.example.com");
        assert_eq!(env["VITE_TITLE"], "A \"b\" $c");
        for (line, want) in [
            ("VITE_STRIPE_SECRET = \"sk\"", "ships to every browser"),
            (
                "NEXT_PUBLIC_API_TOKEN = \"t\"",
                "its name says it is a secret",
            ),
            ("NODE_IMAGE = \"x\"", "set by the web build itself"),
            ("COREPACK_HOME = \"x\"", "set by the web build itself"),
            ("VITE_X = 3", "must be a string"),
            ("VITE_X = \"a\\nb\"", "control character"),
        ] {
            let e = err(&format!("{base}[web.env]\n{line}\n"));
            assert!(e.contains(want) && e.contains("c.toml:5:"), "{line}: {e}");
        }
        assert!(err(&format!("{base}env = \"x\"\n")).contains("must be a table"));
    }

    #[test]
    fn config_set_and_get_reach_web_env() {
        let t = "[web]\npackage = \"@acme/web\"\ndomain = \"app.example.com\"\n\n[later]\n";
        let t = &t.replace("\n[later]\n", "");
        let out = set_value(
            t,
            "web.env.VITE_API_URL",
            "https://api.example.com",
            "c.toml",
        )
        .expect("set");
        assert!(
            out.contains("[web.env]\nVITE_API_URL = \"https://api.example.com\"\n"),
            "{out}"
        );
        let out = set_value(
            &out,
            "web.env.VITE_API_URL",
            "https://b.example.com",
            "c.toml",
        )
        .expect("set again");
        let c = parse(&out, "c.toml").expect("parses");
        assert_eq!(
            get_value(&c, "web.env.VITE_API_URL").expect("get"),
            "\"https://b.example.com\""
        );
        assert!(get_value(&c, "web.env.VITE_OTHER")
            .expect("get")
            .contains("unset"));
        let e = set_value(&out, "web.env.VITE_STRIPE_SECRET", "sk", "c.toml").expect_err("secret");
        assert!(format!("{e:#}").contains("ships to every browser"), "{e:#}");
        let e = set_value("", "web.env.VITE_API_URL", "x", "c.toml").expect_err("no [web]");
        assert!(format!("{e:#}").contains("there is no [web]"), "{e:#}");
    }
}
