//! The static web app (an SPA) of the workspace, for `[web]`.

use anyhow::{bail, Result};

use crate::workspace::{Package, Workspace};

use super::api::{disp, runtime_deps};

/// Dependencies (any kind) that make a package a browser app built to static files.
pub const WEB_DEPS: &[&str] = &[
    "vite",
    "react-scripts",
    "@angular/core",
    "vue",
    "react-dom",
    "svelte",
    "solid-js",
    "preact",
    "parcel",
    "webpack",
    "astro",
];

/// Where an app's page is when it has no framework: an `index.html` here.
const INDEX_HTML: &[&str] = &["index.html", "src/index.html", "public/index.html"];

/// A web app found: the package, why, and its output directory when the tool says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebApp<'w> {
    pub package: &'w Package,
    pub reason: String,
    /// `Some` when it differs from `[web] output`'s default (`react-scripts` → `build`).
    pub output: Option<&'static str>,
}

fn is_web_app<'w>(ws: &'w Workspace, api: &Package, p: &'w Package) -> Option<WebApp<'w>> {
    if p.name == api.name || !p.manifest.scripts.contains_key("build") {
        return None;
    }
    if runtime_deps(p).any(|d| super::SERVER_DEPS.contains(&d) || d == "next") {
        return None; // a server, or a Next.js app (served by node, not as static files)
    }
    let used = ws
        .packages
        .iter()
        .any(|o| o.manifest.deps.iter().any(|d| d.name == p.name));
    if used {
        return None; // a library
    }
    let by_dep = p
        .manifest
        .deps
        .iter()
        .map(|d| d.name.as_str())
        .find(|d| WEB_DEPS.contains(d));
    let by_page = INDEX_HTML.iter().find(|f| {
        std::fs::symlink_metadata(ws.root.join(&p.dir).join(f)).is_ok_and(|m| m.is_file())
    });
    let reason = match (by_dep, by_page) {
        (Some(d), _) => format!("has a `build` script and depends on {d}"),
        (None, Some(f)) => format!("has a `build` script and a page ({}/{f})", disp(&p.dir)),
        (None, None) => return None,
    };
    let output = (by_dep == Some("react-scripts")).then_some("build");
    Some(WebApp {
        package: p,
        reason,
        output,
    })
}

/// The web app: the one `named` (`--web`), else every package that looks like one.
pub fn find<'w>(ws: &'w Workspace, api: &Package, named: Option<&str>) -> Result<Vec<WebApp<'w>>> {
    if let Some(n) = named {
        let dir = n.trim_start_matches("./").trim_end_matches('/');
        let Some(p) = ws.packages.iter().find(|p| p.name == n || p.dir == dir) else {
            bail!(
                "--web {}: no workspace package is named so or is in that directory",
                crate::values::shown(n)
            );
        };
        return Ok(vec![WebApp {
            package: p,
            reason: "named with --web".into(),
            output: is_web_app(ws, api, p).and_then(|w| w.output),
        }]);
    }
    Ok(ws
        .packages
        .iter()
        .filter_map(|p| is_web_app(ws, api, p))
        .collect())
}

/// The commented `[web]` block's example package replaced by `quoted` (the app found), its
/// comment kept in its column, so that `config set web.domain` later makes the same `[web]` as
/// `config init --web-domain`.
pub fn name_in_block(text: &str, quoted: &str) -> String {
    const EXAMPLE: &str = "# package = \"@acme/web\"";
    let Some(at) = text.find(EXAMPLE) else {
        return text.to_string();
    };
    let after = &text[at + EXAMPLE.len()..];
    let spaces = after.len() - after.trim_start_matches(' ').len();
    let width = (EXAMPLE.len() + spaces).saturating_sub("# package = ".len() + quoted.len());
    format!(
        "{}# package = {quoted}{}{}",
        &text[..at],
        " ".repeat(width.max(1)),
        &after[spaces..]
    )
}

/// `config set web.domain HOST` on a config without `[web]` (as `config init` writes it, with
/// the commented block naming the web app it found): the block made real for the one web app
/// of the workspace, as `config init --web-domain HOST` would. `None` when there is not exactly
/// one, or no commented block: the config then says what `[web]` still needs.
pub fn for_domain(ws: &Workspace, api: &Package, text: &str, domain: &str) -> Option<String> {
    let apps = find(ws, api, None).ok()?;
    let [app] = apps.as_slice() else {
        return None;
    };
    uncomment(text, &app.package.name, domain, app.output)
}

/// The web app's public build variables (its env example's `VITE_*`, `NEXT_PUBLIC_*`…) and
/// what gen makes of each, for `config init`'s report: `(web.env.NAME, value, reason)`.
pub fn env_report(
    ws: &Workspace,
    cfg: &crate::config::Config,
) -> Result<Vec<(String, serde_json::Value, String)>> {
    use crate::stack::web_env::{self, Outcome};
    let Some(w) = &cfg.web else {
        return Ok(Vec::new());
    };
    let Some(pkg) = ws.find_by_name(&w.package) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for k in web_env::read(&ws.root, &pkg.dir)? {
        let at = format!("{}:{}", k.file, k.line);
        let (value, reason) = match web_env::outcome(cfg, &w.domain, &k) {
            Outcome::Passed(v) => (
                v.value.clone().into(),
                format!("{at}: {}; gen passes it to the web build", v.reason()),
            ),
            Outcome::Withheld => (
                serde_json::Value::Null,
                format!("{at}: its name says secret: never passed to the web build (it would ship to every browser)"),
            ),
            Outcome::Optional => (
                serde_json::Value::Null,
                format!("{at}: commented out, nothing to derive: not passed (`config set web.env.{}` passes it)", k.name),
            ),
            Outcome::Missing(why) => (serde_json::Value::Null, format!("{at}: {why}")),
        };
        out.push((format!("web.env.{}", k.name), value, reason));
    }
    Ok(out)
}

/// `[web]` made real in `text`: the template's commented block uncommented with `package`
/// and `domain` set (and `output` when the tool says it); `None` when the template has no
/// such block.
pub fn uncomment(text: &str, package: &str, domain: &str, output: Option<&str>) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == "# [web]")?;
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[start] = "[web]".into();
    let quote = |v: &str| toml_edit::Value::from(v).to_string();
    for l in out.iter_mut().skip(start + 1) {
        let Some(body) = l.strip_prefix("# ") else {
            break;
        };
        let Some((key, rest)) = body.split_once(" = ") else {
            break;
        };
        let value = match (key, output) {
            ("package", _) => quote(package),
            ("domain", _) => quote(domain),
            ("output", Some(o)) => quote(o),
            _ => continue,
        };
        let head = format!("{key} = {value}");
        *l = match rest.find("  #") {
            // the comment stays in its column (the `# ` prefix is gone: two more)
            Some(i) => {
                let col = (key.len() + 3 + i + 2 + 2).max(head.len() + 1);
                format!("{head:<col$}{}", rest[i + 2..].trim_end())
            }
            None => head,
        };
    }
    Some(out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_found_app_is_named_in_the_block_with_its_comment_in_its_column() {
        let t = "# [web]\n# package = \"@acme/web\"    # its name\n";
        assert_eq!(
            name_in_block(t, "\"@ledger/web\""),
            "# [web]\n# package = \"@ledger/web\"  # its name\n"
        );
        assert_eq!(
            name_in_block(t, "\"@a/w\""),
            "# [web]\n# package = \"@a/w\"         # its name\n"
        );
        // longer than the column: one space
        assert_eq!(
            name_in_block(t, "\"@a-long-scope/web-app\""),
            "# [web]\n# package = \"@a-long-scope/web-app\" # its name\n"
        );
    }

    #[test]
    fn the_template_block_is_made_real_with_its_comments() {
        let t = "# a\n# [web]\n# package = \"@acme/web\"    # its name\n# script = \"build\"      # x\n# output = \"dist\"       # y\n# domain = \"a.example\"  # z\n\n# next\n";
        let out = uncomment(t, "@l/web", "app.l.test", Some("build")).expect("block");
        assert_eq!(
            out,
            "# a\n[web]\npackage = \"@l/web\"         # its name\n# script = \"build\"      # x\noutput = \"build\"        # y\ndomain = \"app.l.test\"   # z\n\n# next\n"
        );
        let c = crate::config::parse(&out, "t").expect("parses");
        assert_eq!(c.web.expect("web").package, "@l/web");
    }
}
