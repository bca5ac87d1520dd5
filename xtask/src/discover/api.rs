//! Which workspace package is the API server, and its built entry.

use anyhow::{bail, Result};
use serde::Serialize;

use crate::workspace::{DepKind, Package, Workspace};

/// Dependencies that make a package an HTTP server.
pub const SERVER_DEPS: &[&str] = &[
    "@nestjs/core",
    "express",
    "fastify",
    "koa",
    "hono",
    "@hapi/hapi",
    "restify",
    "polka",
    "@feathersjs/feathers",
    "@adonisjs/core",
];

/// A workspace package that looks like the API server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub dir: String,
    pub reason: String,
}

pub(super) fn runtime_deps(p: &Package) -> impl Iterator<Item = &str> {
    p.manifest
        .deps
        .iter()
        .filter(|d| matches!(d.kind, DepKind::Prod | DepKind::Optional))
        .map(|d| d.name.as_str())
}

pub(super) fn dep_matches(dep: &str, names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| dep == *n || (n.ends_with('/') && dep.starts_with(n)))
}

/// The words of a script that is one plain command (no shell syntax), else `None`.
pub(super) fn plain_words(script: &str) -> Option<Vec<String>> {
    if script.is_empty()
        || script.contains(|c: char| "&|;$<>`'\"(){}\\*?~#\n\r".contains(c) || c.is_control())
    {
        return None;
    }
    Some(script.split_whitespace().map(str::to_string).collect())
}

/// `node [options] FILE [args]` → the words; `None` for anything else.
pub fn node_command(script: &str) -> Option<Vec<String>> {
    let words = plain_words(script)?;
    (words.first().map(String::as_str) == Some("node") && node_file_of(&words).is_some())
        .then_some(words)
}

/// The file a `node` command runs.
pub(super) fn node_file_of(words: &[String]) -> Option<&str> {
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        if matches!(
            w.as_str(),
            "-r" | "--require" | "--import" | "--loader" | "--env-file" | "--title"
        ) {
            it.next();
        } else if !w.starts_with('-') {
            return Some(w);
        }
    }
    None
}

/// A built file path as the config wants it: relative, `./` trimmed, `.js` added when node
/// would add it; `None` when it is no path inside the package.
fn entry_path(file: &str) -> Option<String> {
    let f = file.trim_start_matches("./");
    let f = if [".js", ".cjs", ".mjs"].iter().any(|e| f.ends_with(e)) {
        f.to_string()
    } else if f.rsplit('/').next().is_some_and(|b| !b.contains('.')) {
        format!("{f}.js")
    } else {
        return None;
    };
    crate::values::rel_path(&f).ok().map(|_| f)
}

/// The API's built entry and why: what `start:prod`/`start` runs with node, else `main`.
pub(super) fn entry_of(p: &Package) -> Option<(String, String)> {
    for s in ["start:prod", "start"] {
        if let Some(script) = p.manifest.scripts.get(s) {
            if let Some(f) = node_command(script)
                .as_deref()
                .and_then(node_file_of)
                .and_then(entry_path)
            {
                return Some((f, format!("its `{s}` script runs `{script}`")));
            }
        }
    }
    let main = p.manifest.main.as_deref()?;
    let f = entry_path(main).filter(|f| f.ends_with("js"))?;
    Some((f, "its package.json `main`".into()))
}

/// Why `p` is a server, if it is one by its dependencies.
fn server_by_framework(ws: &Workspace, p: &Package) -> Option<String> {
    let first = runtime_deps(p).find(|d| SERVER_DEPS.contains(d))?;
    p.manifest.scripts.get("build")?;
    if let Some(user) = used_by(ws, p) {
        // a library of the server (middleware, a module) is not the server
        let _ = user;
        return None;
    }
    let runs = match entry_of(p) {
        Some((entry, why)) => format!("runs {entry} ({why})"),
        None => "names no built entry (the default is kept)".into(),
    };
    Some(format!("depends on {first}, has a `build` script, {runs}"))
}

/// The first workspace package that needs `p` at run time (prod or optional dependency): a
/// package others run is a library, not the API. (A test package's devDependency does not
/// count.)
fn used_by<'w>(ws: &'w Workspace, p: &Package) -> Option<&'w Package> {
    ws.packages.iter().find(|o| {
        o.manifest
            .deps
            .iter()
            .any(|d| d.name == p.name && matches!(d.kind, DepKind::Prod | DepKind::Optional))
    })
}

/// Why `p` is a server without a known framework: it builds, its `start` runs node, and no
/// workspace package depends on it (it is an app, not a library).
fn server_by_start(ws: &Workspace, p: &Package) -> Option<String> {
    p.manifest.scripts.get("build")?;
    let (s, script) = ["start:prod", "start"]
        .iter()
        .find_map(|s| Some((*s, p.manifest.scripts.get(*s)?)))?;
    node_command(script)?;
    used_by(ws, p).is_none().then(|| {
        format!(
            "has a `build` script, its `{s}` script runs `{script}`, and no workspace package \
             depends on it (no server framework among its dependencies)"
        )
    })
}

/// A name or directory from the workspace for a message: as it is when it is a plain npm name
/// or path, else quoted with its escapes (no control character reaches the terminal).
pub(super) fn disp(s: &str) -> String {
    if crate::values::npm_name(s).is_ok() || crate::values::rel_path(s).is_ok() {
        s.to_string()
    } else {
        crate::values::shown(s)
    }
}

fn listed(c: &[Candidate]) -> String {
    c.iter()
        .map(|c| format!("{} ({}: {})", disp(&c.name), disp(&c.dir), c.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The API package: the one `--api` names, else the one server of the workspace.
pub fn choose_api<'w>(
    ws: &'w Workspace,
    named: Option<&str>,
) -> Result<(&'w Package, Vec<Candidate>)> {
    let cand = |p: &Package, reason: String| Candidate {
        name: p.name.clone(),
        dir: p.dir.clone(),
        reason,
    };
    if let Some(n) = named {
        let dir = n.trim_start_matches("./").trim_end_matches('/');
        let Some(p) = ws.packages.iter().find(|p| p.name == n || p.dir == dir) else {
            bail!(
                "--api {}: no workspace package is named so or is in that directory; workspace \
                 packages: {}",
                crate::values::shown(n),
                package_list(ws)
            );
        };
        let c = cand(p, "named with --api".into());
        return Ok((p, vec![c]));
    }
    if ws.packages.is_empty() {
        bail!(
            "the workspace has no packages (no package.json with a name in the directories \
             pnpm-workspace.yaml's globs match), so there is no API to configure: list the API's \
             directory in pnpm-workspace.yaml, then run `cargo xtask config init` again"
        );
    }
    for tier in [0, 1] {
        let found: Vec<(&Package, String)> = ws
            .packages
            .iter()
            .filter_map(|p| {
                let why = if tier == 0 {
                    server_by_framework(ws, p)
                } else {
                    server_by_start(ws, p)
                };
                Some((p, why?))
            })
            .collect();
        let list: Vec<Candidate> = found.iter().map(|(p, w)| cand(p, w.clone())).collect();
        match found.as_slice() {
            [] => continue,
            [(p, _)] => return Ok((p, list)),
            _ => bail!(
                "{} workspace packages look like the API server ({}): choose one with `cargo \
                 xtask config init --api <name>`; why each: {}",
                list.len(),
                list.iter()
                    .map(|c| disp(&c.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                listed(&list)
            ),
        }
    }
    bail!(
        "no workspace package looks like the API server: name it with `cargo xtask config init \
         --api <name or dir>` (searched for a `build` script and a dependency on a server \
         framework such as {} in a package no other package runs, or a `start` script running \
         `node FILE` in such a package; workspace packages: {})",
        SERVER_DEPS[..3].join(", "),
        package_list(ws)
    )
}

fn package_list(ws: &Workspace) -> String {
    if ws.packages.is_empty() {
        return "none".into();
    }
    ws.packages
        .iter()
        .map(|p| format!("{} ({})", disp(&p.name), disp(&p.dir)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_script_gives_its_file_and_words_only_when_plain() {
        let f = |s: &str| {
            node_command(s)
                .as_deref()
                .and_then(node_file_of)
                .map(str::to_string)
        };
        assert_eq!(f("node dist/main.js").as_deref(), Some("dist/main.js"));
        assert_eq!(
            f("node --enable-source-maps -r dotenv/config dist/src/main").as_deref(),
            Some("dist/src/main")
        );
        assert_eq!(f("nest start"), None);
        assert_eq!(f("node dist/main.js && echo done"), None);
        assert_eq!(f("NODE_ENV=production node dist/main.js"), None);
        assert_eq!(f("node"), None);
        assert_eq!(
            entry_path("dist/src/main").as_deref(),
            Some("dist/src/main.js")
        );
        assert_eq!(
            entry_path("./dist/server.js").as_deref(),
            Some("dist/server.js")
        );
        assert_eq!(entry_path("../x.js"), None);
        assert_eq!(entry_path("dist/x.ts"), None);
    }

    fn ws(pkgs: &[(&str, &str)]) -> Workspace {
        let packages = pkgs
            .iter()
            .map(|(dir, json)| {
                let manifest = crate::workspace::parse_manifest(json, dir).expect("manifest");
                Package {
                    name: manifest.name.clone().expect("name"),
                    dir: dir.to_string(),
                    manifest,
                }
            })
            .collect();
        Workspace {
            root: "/nonexistent".into(),
            root_manifest: crate::workspace::parse_manifest("{}", "package.json").expect("root"),
            packages,
            patches: Vec::new(),
            root_build_files: Vec::new(),
            has_npmrc: false,
            pnpm_settings: Default::default(),
            not_searched: Vec::new(),
        }
    }

    #[test]
    fn the_server_is_the_framework_package_no_other_package_runs() {
        let api = r#"{"name":"@x/api","scripts":{"build":"tsc","start":"nest start"},
            "dependencies":{"@nestjs/core":"^11","@x/mw":"workspace:*"}}"#;
        let mw = r#"{"name":"@x/mw","main":"dist/index.js","scripts":{"build":"tsc"},
            "dependencies":{"express":"^5"}}"#;
        let e2e = r#"{"name":"@x/e2e","devDependencies":{"@x/api":"workspace:*"}}"#;
        let w = ws(&[("apps/api", api), ("libs/mw", mw), ("tests/e2e", e2e)]);
        let (p, c) = choose_api(&w, None).expect("one server");
        assert_eq!(p.name, "@x/api");
        assert!(
            c[0].reason.contains("names no built entry"),
            "{}",
            c[0].reason
        );

        let worker =
            r#"{"name":"@x/worker","scripts":{"build":"tsc"},"dependencies":{"koa":"^2"}}"#;
        let w = ws(&[("apps/api", api), ("apps/worker", worker), ("libs/mw", mw)]);
        let e = choose_api(&w, None).expect_err("two servers").to_string();
        assert!(
            e.starts_with("2 workspace packages look like the API server (@x/api, @x/worker)"),
            "{e}"
        );
        let evil =
            r#"{"name":"x\u001b[31m","scripts":{"build":"tsc"},"dependencies":{"hono":"^4"}}"#;
        let w2 = ws(&[("apps/api", api), ("apps/evil", evil), ("libs/mw", mw)]);
        let e = choose_api(&w2, None).expect_err("two").to_string();
        assert!(!e.contains('\u{1b}') && e.contains("x\\u{1b}[31m"), "{e}");
        assert_eq!(
            choose_api(&w, Some("apps/worker/")).expect("--api").0.name,
            "@x/worker"
        );
    }
}
