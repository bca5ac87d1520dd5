//! `[api.migrate]`: the API's migrations, found in this order:
//! 1. its migrations script (`migration:run`, `migrate`…) when the image can run it as written
//!    (`node` on a built file) → set;
//! 2. else a compiled runner beside the entry (`src/run-migrations.ts` → `dist/run-migrations.js`
//!    when the entry is `dist/main.js`) → set;
//! 3. else reported, not set, each with the command to use: the TypeORM CLI against the built
//!    data source (for a `typeorm … -d src/data-source.ts` script), a workspace library's
//!    migrations script (`migration:up`, `db:deploy`…), a `scripts/migrate.*`.
//!
//! Each script that could not be used says why (the image holds node and the built files: no
//! pnpm, no TypeScript sources, no dev tools).

use std::path::Path;

use crate::workspace::{Package, Workspace};

use super::api::{disp, node_command, node_file_of, plain_words, runtime_deps};

/// Scripts that run the API's migrations, in the order they are looked for.
pub const MIGRATE_SCRIPTS: &[&str] = &[
    "migration:run",
    "migrate",
    "db:migrate",
    "migrate:prod",
    "migration:run:prod",
    "migrate:deploy",
];

/// A library's migrations scripts (besides [`MIGRATE_SCRIPTS`]).
const LIBRARY_SCRIPTS: &[&str] = &[
    "migration:up",
    "migrate:up",
    "db:deploy",
    "db:migrate:deploy",
];

/// Compiled migration runners looked for in the API's `src/` (`<name>.ts`).
const MIGRATE_RUNNERS: &[&str] = &["run-migrations", "migrate", "run-migration"];

/// `scripts/migrate.*` looked for in the API's directory, then the root.
const MIGRATE_FILES: &[&str] = &["mjs", "js", "cjs", "ts", "mts"];

/// What was found: the command set (or none), why, and a command to use when none was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrate {
    pub command: Option<Vec<String>>,
    pub reason: String,
    /// Reported, not configured: `cargo xtask config set api.migrate.command '[…]'`.
    pub suggested: Option<Vec<String>>,
}

/// `src/x.ts` (or `./src/x.ts`) built into `out_dir` as `out_dir/x.js`; a `.js` path as is.
fn built(src: &str, out_dir: &str) -> Option<String> {
    let f = src.trim_start_matches("./");
    if [".js", ".cjs", ".mjs"].iter().any(|e| f.ends_with(e)) {
        return crate::values::rel_path(f).ok().map(|_| f.to_string());
    }
    let rest = f.strip_prefix("src/")?;
    let stem = rest
        .strip_suffix(".ts")
        .or_else(|| rest.strip_suffix(".mts"))?;
    let out = if out_dir.is_empty() {
        format!("{stem}.js")
    } else {
        format!("{out_dir}/{stem}.js")
    };
    crate::values::rel_path(&out).ok().map(|_| out)
}

/// The directory the entry is built into (`dist/main.js` → `dist`).
fn out_dir_of(entry: &str) -> &str {
    entry.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// The script's text, with a `pnpm X` / `pnpm run X` / `npm run X` / `yarn X` it runs
/// appended (one level), so `pnpm typeorm migration:run …` shows the `typeorm` script too.
fn expanded(p: &Package, script: &str) -> String {
    let w: Vec<&str> = script.split_whitespace().collect();
    let called = match w.as_slice() {
        ["pnpm" | "yarn", "run", s, ..] | ["npm", "run", s, ..] | ["pnpm" | "yarn", s, ..] => {
            Some(*s)
        }
        _ => None,
    };
    match called.and_then(|s| p.manifest.scripts.get(s)) {
        Some(inner) => format!("{script} {inner}"),
        None => script.to_string(),
    }
}

/// A `typeorm … migration:run -d DATA_SOURCE` script → the TypeORM CLI (the image holds it
/// in `node_modules` when typeorm is a runtime dependency) against the built data source.
fn typeorm_cli(p: &Package, script: &str, out_dir: &str, prefix: &str) -> Option<Vec<String>> {
    let text = expanded(p, script);
    if !text.contains("typeorm") || !text.contains("migration:run") {
        return None;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let ds = words.iter().enumerate().find_map(|(i, w)| {
        if *w == "-d" || *w == "--dataSource" || *w == "--data-source" {
            words.get(i + 1).copied()
        } else {
            w.strip_prefix("--dataSource=")
                .or_else(|| w.strip_prefix("-d="))
        }
    })?;
    let ds = built(ds.trim_matches(['"', '\'']), out_dir)?;
    Some(vec![
        "node".into(),
        "node_modules/typeorm/cli.js".into(),
        "migration:run".into(),
        "-d".into(),
        format!("{prefix}{ds}"),
    ])
}

/// Why the image cannot run `script` as written.
fn why_not(script: &str) -> String {
    let words = plain_words(script).unwrap_or_default();
    let first = words.first().map(String::as_str).unwrap_or("");
    if words
        .iter()
        .any(|w| w.contains("src/") && w.ends_with(".ts"))
    {
        "it reads TypeScript sources (src/…), which the image does not hold (it holds the built \
         JS)"
        .into()
    } else if ["pnpm", "npm", "yarn", "npx", "pnpx"].contains(&first) {
        format!("the image has node and the built files, not {first}")
    } else if first == "node" {
        "it runs a source file, not a built one".into()
    } else {
        "it is not a plain `node FILE` command on a built file (the image has node and the \
         built files, no pnpm and no dev tools)"
            .into()
    }
}

fn is_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
}

fn quoted(s: &str) -> String {
    crate::values::shown(s)
}

/// `cargo xtask config set api.migrate.command '[…]'` for `cmd`.
fn set_hint(cmd: &[String]) -> String {
    let words: Vec<String> = cmd.iter().map(|w| format!("{w:?}")).collect();
    format!(
        "`cargo xtask config set api.migrate.command '[{}]'`",
        words.join(", ")
    )
}

/// The API's migrations: see the module's comment.
pub(super) fn migrate(ws: &Workspace, api: &Package, entry: &str) -> Migrate {
    let out_dir = out_dir_of(entry);
    let mut notes: Vec<String> = Vec::new();
    let mut suggested = None;
    if let Some((s, script)) = MIGRATE_SCRIPTS
        .iter()
        .find_map(|s| Some((*s, api.manifest.scripts.get(*s)?)))
    {
        match node_command(script) {
            Some(words) if node_file_of(&words).is_some_and(|f| !f.starts_with("src/")) => {
                return Migrate {
                    command: Some(words),
                    reason: format!("its `{s}` script runs `{script}`"),
                    suggested: None,
                }
            }
            _ => notes.push(format!(
                "its `{s}` script is {}: the image cannot run it as written ({})",
                quoted(script),
                why_not(script)
            )),
        }
        suggested = typeorm_cli(api, script, out_dir, "");
    }
    for r in MIGRATE_RUNNERS {
        let src = format!("{}/src/{r}.ts", api.dir);
        if is_file(&ws.root.join(&src)) {
            let Some(b) = built(&format!("src/{r}.ts"), out_dir) else {
                continue;
            };
            notes.push(format!(
                "{} is a migrations runner, built beside the entry as {b}",
                disp(&src)
            ));
            return Migrate {
                command: Some(vec!["node".into(), b]),
                reason: notes.join("; "),
                suggested: None,
            };
        }
    }
    if let Some(cmd) = suggested {
        let dep = if runtime_deps(api).any(|d| d == "typeorm") {
            "typeorm is among its dependencies, so the image holds its CLI"
        } else {
            "add typeorm to its dependencies so the image holds its CLI"
        };
        notes.push(format!(
            "not set; to run them in the image, the TypeORM CLI against the built data source \
             ({dep}): {}",
            set_hint(&cmd)
        ));
        return Migrate {
            command: None,
            reason: notes.join("; "),
            suggested: Some(cmd),
        };
    }
    if let Some(m) = library(ws, api).or_else(|| script_file(ws, api)) {
        notes.push(m.reason);
        return Migrate {
            command: None,
            reason: notes.join("; "),
            suggested: m.suggested,
        };
    }
    if notes.is_empty() {
        notes.push(format!(
            "no migrations script ({}), no runner in src/ ({}), no library migrations script \
             and no scripts/migrate.*: no migrate service",
            MIGRATE_SCRIPTS.join(", "),
            MIGRATE_RUNNERS.join(", ")
        ));
    } else {
        notes.push("no runner in src/ either: set `[api.migrate] command` yourself".into());
    }
    Migrate {
        command: None,
        reason: notes.join("; "),
        suggested: None,
    }
}

/// The path from the API's directory (the image's working directory) to `dir`.
pub(super) fn from_api(api: &Package, dir: &str) -> String {
    let up = api.dir.split('/').filter(|s| !s.is_empty() && *s != ".");
    let mut p: String = up.map(|_| "../").collect();
    if !dir.is_empty() && dir != "." {
        p.push_str(dir);
        p.push('/');
    }
    p
}

/// A workspace library's migrations script, with the command to use from the API's image.
fn library(ws: &Workspace, api: &Package) -> Option<Migrate> {
    for p in ws.packages.iter().filter(|p| p.name != api.name) {
        let Some((s, script)) = LIBRARY_SCRIPTS
            .iter()
            .chain(MIGRATE_SCRIPTS)
            .find_map(|s| Some((*s, p.manifest.scripts.get(*s)?)))
        else {
            continue;
        };
        let out = p
            .manifest
            .main
            .as_deref()
            .map(|m| out_dir_of(m.trim_start_matches("./")))
            .unwrap_or("dist");
        let prefix = from_api(api, &p.dir);
        let cmd = match node_command(script) {
            Some(w) => node_file_of(&w)
                .and_then(|f| built(f, out))
                .map(|f| vec!["node".into(), format!("{prefix}{f}")]),
            None => typeorm_cli(p, script, out, &prefix),
        };
        let in_image = api_closure_has(ws, api, p);
        let mut reason = format!(
            "the migrations are in the library {} ({}): its `{s}` script runs {}; not set (the \
             API's package has none)",
            disp(&p.name),
            disp(&p.dir),
            quoted(script)
        );
        match &cmd {
            Some(c) if in_image => reason.push_str(&format!(
                "; the image holds the library (a runtime dependency of the API), so this may \
                 run them: {}",
                set_hint(c)
            )),
            Some(c) => reason.push_str(&format!(
                "; the library is not a runtime dependency of the API, so the image does not \
                 hold it: make it one, then {}",
                set_hint(c)
            )),
            None => reason.push_str(&format!(
                "; {}: run it against staging yourself, or add a runner to the API",
                why_not(script)
            )),
        }
        return Some(Migrate {
            command: None,
            reason,
            suggested: cmd,
        });
    }
    None
}

fn api_closure_has(ws: &Workspace, api: &Package, lib: &Package) -> bool {
    ws.closure(api)
        .map(|c| c.runtime.iter().any(|p| p.name == lib.name))
        .unwrap_or(false)
}

/// A `scripts/migrate.*` in the API's directory, else at the root.
fn script_file(ws: &Workspace, api: &Package) -> Option<Migrate> {
    for (dir, prefix) in [(api.dir.as_str(), String::new()), ("", from_api(api, ""))] {
        for ext in MIGRATE_FILES {
            let rel = if dir.is_empty() || dir == "." {
                format!("scripts/migrate.{ext}")
            } else {
                format!("{dir}/scripts/migrate.{ext}")
            };
            if !is_file(&ws.root.join(&rel)) {
                continue;
            }
            let js = !ext.ends_with("ts");
            let cmd = js.then(|| vec!["node".into(), format!("{prefix}scripts/migrate.{ext}")]);
            let how = match &cmd {
                Some(c) if prefix.is_empty() => format!(
                    "the image holds it only if the API's build keeps scripts/ beside its \
                     output: {}",
                    set_hint(c)
                ),
                Some(_) => "it is outside the API's package, so the image does not hold it: \
                            run it against staging yourself, or move it into the API and build \
                            it"
                .into(),
                None => "it is TypeScript, which the image cannot run: build it beside the \
                         entry (src/run-migrations.ts) or run it yourself"
                    .into(),
            };
            return Some(Migrate {
                command: None,
                reason: format!("{} is a migrations script; not set: {how}", disp(&rel)),
                suggested: cmd.filter(|_| prefix.is_empty()),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Mono;

    /// A monorepo whose API (apps/api, entry dist/main.js) has `scripts`, plus `files`.
    fn found(scripts: &str, files: &[(&str, &str)]) -> Migrate {
        let m = Mono::new("migrate");
        m.file(
            "apps/api/package.json",
            &format!(
                r#"{{"name":"@x/api","scripts":{{"build":"tsc",{scripts}}},
                "dependencies":{{"@nestjs/core":"^11","typeorm":"^0.3","@x/db":"workspace:*"}}}}"#
            ),
        );
        for (f, t) in files {
            m.file(f, t);
        }
        let ws = crate::workspace::load(&m.root).expect("workspace");
        let api = ws.find_by_name("@x/api").expect("api").clone();
        migrate(&ws, &api, "dist/main.js")
    }

    const RUNNER: (&str, &str) = ("apps/api/src/run-migrations.ts", "export {};\n");

    #[test]
    fn a_plain_node_script_is_set() {
        let m = found(r#""migration:run":"node dist/migrate.js""#, &[]);
        assert_eq!(
            m.command,
            Some(vec!["node".into(), "dist/migrate.js".into()])
        );
        let m = found(r#""migrate":"node src/migrate.js""#, &[]);
        assert_eq!(m.command, None, "{}", m.reason);
    }

    #[test]
    fn a_typeorm_script_gives_way_to_the_runner_beside_the_entry() {
        let scripts = r#""typeorm":"typeorm-ts-node-commonjs",
            "migration:run":"pnpm typeorm migration:run -d src/data-source.ts""#;
        let m = found(scripts, &[RUNNER]);
        assert_eq!(
            m.command,
            Some(vec!["node".into(), "dist/run-migrations.js".into()])
        );
        assert!(
            m.reason.contains("the image cannot run it as written")
                && m.reason.contains("TypeScript sources")
                && m.reason
                    .contains("apps/api/src/run-migrations.ts is a migrations runner"),
            "{}",
            m.reason
        );
        // without the runner: the TypeORM CLI on the built data source, reported
        let m = found(scripts, &[]);
        assert_eq!(m.command, None);
        assert_eq!(
            m.suggested,
            Some(
                [
                    "node",
                    "node_modules/typeorm/cli.js",
                    "migration:run",
                    "-d",
                    "dist/data-source.js"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert!(
            m.reason.contains("typeorm is among its dependencies"),
            "{}",
            m.reason
        );
    }

    #[test]
    fn a_library_script_is_reported_with_the_command_from_the_image() {
        let db = (
            "packages/db/package.json",
            r#"{"name":"@x/db","main":"dist/index.js","scripts":{"build":"tsc",
              "migration:up":"typeorm migration:run -d ./src/data-source.ts"}}"#,
        );
        let m = found(r#""start":"node dist/main.js""#, &[db]);
        assert_eq!(m.command, None);
        assert_eq!(
            m.suggested.as_deref().map(|c| c[4].as_str()),
            Some("../../packages/db/dist/data-source.js")
        );
        assert!(
            m.reason
                .contains("library @x/db (packages/db): its `migration:up` script")
                && m.reason.contains("the image holds the library"),
            "{}",
            m.reason
        );
    }

    #[test]
    fn a_scripts_migrate_file_is_reported() {
        let m = found(
            r#""start":"node dist/main.js""#,
            &[("scripts/migrate.mjs", "")],
        );
        assert_eq!((m.command.clone(), m.suggested.clone()), (None, None));
        assert!(
            m.reason
                .starts_with("scripts/migrate.mjs is a migrations script; not set")
                && m.reason.contains("outside the API's package"),
            "{}",
            m.reason
        );
        let m = found(
            r#""start":"node dist/main.js""#,
            &[("apps/api/scripts/migrate.mjs", "")],
        );
        assert_eq!(
            m.suggested,
            Some(vec!["node".into(), "scripts/migrate.mjs".into()])
        );
        let m = found(r#""start":"node dist/main.js""#, &[]);
        assert!(m.reason.contains("no migrate service"), "{}", m.reason);
    }
}
