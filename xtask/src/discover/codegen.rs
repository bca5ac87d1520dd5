//! `[api.generate]`, `api.runtime_files` and an ORM's `[api.migrate]`: code generation the
//! API's closure needs before it builds, and what the generators write that the running API
//! (or its migrate service) loads, found in each closure package:
//!
//! - **Prisma**: `prisma` or `@prisma/client` among its dependencies → `prisma generate` (its
//!   `db:generate`-like script when it runs that, else the command with `--schema`), the schema
//!   from `package.json#prisma.schema`, else `prisma.config.*`'s `schema:`, else
//!   `prisma/schema.prisma`; runtime files: the client (the generator block's `output`, else
//!   `node_modules/.prisma/client`), the schema, its `migrations/`, `prisma.config.*`; the
//!   migrate service `prisma migrate deploy --schema …` when the CLI is a production
//!   dependency; a note when an Alpine (musl) base lacks a musl `binaryTargets` entry;
//! - **any generator**: a script named [`GENERATE_SCRIPTS`] (or a `postinstall`/`prebuild` that
//!   runs a known generator); what it writes from the package's tool settings
//!   (`package.json#<tool>` = `{ "schema", "output", "migrations" }`, the shape of
//!   `package.json#prisma`); its migrate script when it runs one of the package's own
//!   files with node (a `bin` the image carries).

use std::path::Path;

use crate::config::GenerateRun;
use crate::glob;
use crate::workspace::{DepKind, Package, Workspace};

use super::api::{node_command, node_file_of};
use super::migrate::{from_api, MIGRATE_SCRIPTS};
use super::Draft;

/// Scripts that run a code generator, in the order they are looked for.
pub const GENERATE_SCRIPTS: &[&str] = &[
    "db:generate",
    "prisma:generate",
    "generate",
    "codegen",
    "generate:client",
    "gen",
];

/// Commands of code generators a `postinstall`/`prebuild` script may run.
const GENERATORS: &[&str] = &[
    "prisma generate",
    "graphql-codegen",
    "openapi-generator",
    "openapi-typescript",
    "orval",
    "buf generate",
    "protoc",
    "kysely-codegen",
    "zenstack generate",
];

/// Migration scripts of an ORM library (besides [`MIGRATE_SCRIPTS`]).
const ORM_MIGRATE_SCRIPTS: &[&str] = &["db:deploy", "migrate:deploy", "db:migrate:deploy"];

/// Prisma's config files, beside the package.json.
const PRISMA_CONFIGS: &[&str] = &[
    "prisma.config.ts",
    "prisma.config.mts",
    "prisma.config.js",
    "prisma.config.mjs",
    "prisma.config.cjs",
];

/// Prisma's query engine for musl (node:*-alpine).
pub const PRISMA_MUSL_TARGET: &str = "linux-musl-openssl-3.0.x";

/// What discovery found, each with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Codegen {
    /// (package dir, how it runs, why).
    pub generate: Vec<(String, GenerateRun, String)>,
    /// (root-relative path, why).
    pub runtime_files: Vec<(String, String)>,
    /// The migrate service's command in the image, and why.
    pub migrate: Option<(Vec<String>, String)>,
    /// Said in the report, not set (e.g. Prisma's musl engines, a CLI among dev deps).
    pub notes: Vec<String>,
}

fn is_file(root: &Path, rel: &str) -> bool {
    std::fs::symlink_metadata(root.join(rel)).is_ok_and(|m| m.is_file())
}

fn join(dir: &str, rel: &str) -> Option<String> {
    let rel = rel.trim_start_matches("./").trim_end_matches('/');
    glob::normalize(&if dir.is_empty() || dir == "." {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    })
}

/// The closure's generators and runtime files: see the module's comment.
pub(super) fn discover(
    ws: &Workspace,
    install: &[Package],
    api: &Package,
    node_image: &str,
) -> Codegen {
    let mut c = Codegen::default();
    for p in install {
        if has_dep(p, "prisma") || has_dep(p, "@prisma/client") {
            prisma(ws, p, api, node_image, &mut c);
        } else {
            generic(ws, p, api, &mut c);
        }
    }
    c
}

fn has_dep(p: &Package, name: &str) -> bool {
    p.manifest.deps.iter().any(|d| d.name == name)
}

/// The package's generator script: a [`GENERATE_SCRIPTS`] name, else a `postinstall` or
/// `prebuild` that runs a known generator. `want` narrows to scripts whose text has it.
fn generator_script(p: &Package, want: Option<&str>) -> Option<(String, String)> {
    let fits = |text: &str| want.is_none_or(|w| text.contains(w));
    if let Some((s, t)) = GENERATE_SCRIPTS
        .iter()
        .find_map(|s| Some((*s, p.manifest.scripts.get(*s)?)))
        .filter(|(_, t)| fits(t))
    {
        return Some((s.to_string(), format!("its `{s}` script runs `{t}`")));
    }
    ["postinstall", "prebuild"].iter().find_map(|s| {
        let t = p.manifest.scripts.get(*s)?;
        let g = GENERATORS.iter().find(|g| t.contains(*g))?;
        fits(t).then(|| {
            (
                s.to_string(),
                format!("its `{s}` script runs the generator `{g}` (`{t}`; installs in the image skip scripts)"),
            )
        })
    })
}

/// Who else runs the script (the root's `prebuild`…), for the reason.
fn also_run_by(ws: &Workspace, p: &Package, script: &str) -> String {
    let root = &ws.root_manifest.scripts;
    for hook in ["postinstall", "prebuild", "build"] {
        if let Some(t) = root.get(hook) {
            if t.contains(script) && (t.contains(&p.name) || t.contains(&p.dir)) {
                return format!(" (the root's `{hook}` runs it: `{t}`)");
            }
        }
    }
    String::new()
}

fn generic(ws: &Workspace, p: &Package, api: &Package, c: &mut Codegen) {
    let Some((script, why)) = generator_script(p, None) else {
        return;
    };
    let also = also_run_by(ws, p, &script);
    c.generate.push((
        p.dir.clone(),
        GenerateRun::Script(script.clone()),
        format!("{} ({}): {why}{also}", p.name, p.dir),
    ));
    let Some((tool, set)) = p.manifest.tool_settings.first() else {
        c.notes.push(format!(
            "{}: what `{script}` writes is not declared (package.json#<tool>.output): list it \
             in `api.runtime_files` when the running API loads it",
            p.name
        ));
        return;
    };
    for (field, what) in [
        ("output", "what the generator writes"),
        ("migrations", "the migrations"),
    ] {
        if let Some(f) = set.get(field).and_then(|o| join(&p.dir, o)) {
            c.runtime_files.push((
                f,
                format!("{what}: package.json#{tool}.{field} of {}", p.name),
            ));
        }
    }
    if c.migrate.is_none() {
        c.migrate = own_migrate(p, api, tool);
    }
}

/// A migrations script of the package that runs one of its own files with node (its `bin`,
/// or a file it ships): the command from the API's directory.
fn own_migrate(p: &Package, api: &Package, tool: &str) -> Option<(Vec<String>, String)> {
    let (s, text) = ORM_MIGRATE_SCRIPTS
        .iter()
        .chain(MIGRATE_SCRIPTS)
        .find_map(|s| Some((*s, p.manifest.scripts.get(*s)?)))?;
    let words = node_command(text)?;
    let file = node_file_of(&words)?.trim_start_matches("./").to_string();
    let shipped = p
        .manifest
        .bin
        .iter()
        .any(|(_, f)| f.trim_start_matches("./") == file)
        || p.runtime_paths()
            .iter()
            .any(|r| file == *r || file.starts_with(&format!("{r}/")));
    if !shipped {
        return None;
    }
    let prefix = from_api(api, &p.dir);
    let cmd: Vec<String> = words
        .iter()
        .map(|w| {
            if *w == file || w.trim_start_matches("./") == file {
                format!("{prefix}{file}")
            } else {
                w.clone()
            }
        })
        .collect();
    Some((
        cmd,
        format!(
            "{}'s `{s}` script runs `{text}` ({tool}'s CLI, a file the image carries), from the \
             API's directory",
            p.name
        ),
    ))
}

/// Where the Prisma schema is (relative to the package) and why.
fn prisma_schema(ws: &Workspace, p: &Package) -> (String, String, Option<String>) {
    if let Some(s) = p
        .manifest
        .tool_settings
        .iter()
        .find(|(k, _)| k == "prisma")
        .and_then(|(_, set)| set.get("schema"))
    {
        return (s.clone(), "package.json#prisma.schema".into(), None);
    }
    for f in PRISMA_CONFIGS {
        let rel = format!("{}/{f}", p.dir);
        if !is_file(&ws.root, &rel) {
            continue;
        }
        let text = crate::files::read_input(&ws.root.join(&rel), 64 * 1024).unwrap_or_default();
        let schema = config_schema(&text).unwrap_or_else(|| "prisma/schema.prisma".into());
        return (schema, format!("{f}'s `schema`"), Some(f.to_string()));
    }
    (
        "prisma/schema.prisma".into(),
        "Prisma's default location".into(),
        None,
    )
}

/// `schema: "prisma/schema.prisma"` (or `'…'`) in a prisma.config.*.
fn config_schema(text: &str) -> Option<String> {
    let at = text.find("schema:")? + "schema:".len();
    let rest = text[at..].trim_start();
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = rest[1..].find(q)?;
    Some(rest[1..1 + end].to_string())
}

/// The value of `key = "…"` in the schema's `generator` block.
fn generator_field(schema: &str, key: &str) -> Option<String> {
    let block = &schema[schema.find("generator ")?..];
    let block = &block[..block.find('}')?];
    block.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

fn prisma(ws: &Workspace, p: &Package, api: &Package, node_image: &str, c: &mut Codegen) {
    let (schema, from, config) = prisma_schema(ws, p);
    let (run, why) = match generator_script(p, Some("prisma generate")) {
        Some((s, why)) => (GenerateRun::Script(s), why),
        None => (
            GenerateRun::Command(
                ["prisma", "generate", "--schema", schema.as_str()]
                    .map(String::from)
                    .to_vec(),
            ),
            "no script runs `prisma generate`: the command".into(),
        ),
    };
    c.generate.push((
        p.dir.clone(),
        run,
        format!(
            "{} ({}) uses Prisma (schema {schema}, from {from}): {why}",
            p.name, p.dir
        ),
    ));
    let Some(schema_path) = join(&p.dir, &schema) else {
        return;
    };
    let schema_text =
        crate::files::read_input(&ws.root.join(&schema_path), 1024 * 1024).unwrap_or_default();
    let schema_dir = if schema_path.ends_with(".prisma") {
        schema_path
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default()
    } else {
        schema_path.clone()
    };
    let client = generator_field(&schema_text, "output")
        .map(|o| o.trim_matches('"').to_string())
        .and_then(|o| join(&schema_dir, &o));
    c.runtime_files.push(match client {
        Some(out) => (
            out,
            "the Prisma client: the generator block's `output`".into(),
        ),
        None => (
            "node_modules/.prisma/client".into(),
            "the Prisma client, where `prisma generate` writes it beside a hoisted @prisma/client \
             (set `output` in the generator block for a fixed path)"
                .into(),
        ),
    });
    c.runtime_files.push((
        schema_path.clone(),
        "the Prisma schema (migrate reads it)".into(),
    ));
    let migrations = join(&schema_dir, "migrations").unwrap_or_default();
    if ws.root.join(&migrations).is_dir() {
        c.runtime_files.push((
            migrations,
            "the migrations `prisma migrate deploy` applies".into(),
        ));
    }
    if let Some(f) = config {
        c.runtime_files.push((
            join(&p.dir, &f).unwrap_or(f),
            "Prisma's config (the CLI reads it)".into(),
        ));
    }
    if node_image.contains("alpine") {
        let targets = generator_field(&schema_text, "binaryTargets").unwrap_or_default();
        if !targets.contains("linux-musl") {
            c.notes.push(format!(
                "{node_image} is musl (Alpine): Prisma's engines must be the musl build; in \
                 {schema_path}'s generator block set binaryTargets = [\"native\", \
                 \"{PRISMA_MUSL_TARGET}\"] (and PRISMA_ENGINES_MIRROR where binaries.prisma.sh \
                 cannot be reached)"
            ));
        }
    }
    let prefix = from_api(api, &p.dir);
    let cmd = vec![
        format!("{prefix}node_modules/.bin/prisma"),
        "migrate".into(),
        "deploy".into(),
        "--schema".into(),
        format!("{prefix}{schema}"),
    ];
    let prod = p
        .manifest
        .deps
        .iter()
        .any(|d| d.name == "prisma" && matches!(d.kind, DepKind::Prod | DepKind::Optional));
    if prod && c.migrate.is_none() {
        c.migrate = Some((
            cmd,
            format!(
                "{} uses Prisma and has its CLI among its dependencies: `prisma migrate deploy`",
                p.name
            ),
        ));
    } else if !prod {
        c.notes.push(format!(
            "{}: the Prisma CLI is not a production dependency, so the runtime image does not \
             hold it; move `prisma` to \"dependencies\" for a migrate service running `prisma \
             migrate deploy`",
            p.name
        ));
    }
}

/// `[api.generate]` and `api.runtime_files`: what the closure's generators are and write.
pub(super) fn keys(d: &mut Draft, cg: &Codegen) -> anyhow::Result<()> {
    let notes = if cg.notes.is_empty() {
        String::new()
    } else {
        format!("; note: {}", cg.notes.join("; "))
    };
    if cg.generate.is_empty() {
        d.found(
            "api.generate",
            serde_json::Value::Null,
            false,
            format!(
                "no closure package uses Prisma, has a generator script ({}) or a postinstall/prebuild                  running a known generator{notes}",
                GENERATE_SCRIPTS.join(", ")
            ),
        );
        return Ok(());
    }
    for (dir, run, why) in &cg.generate {
        let key = format!("api.generate.{dir}");
        let (raw, json) = match run {
            GenerateRun::Script(s) => (s.clone(), serde_json::Value::from(s.clone())),
            GenerateRun::Command(w) => {
                let words: Vec<String> = w
                    .iter()
                    .map(|x| {
                        toml_edit::Value::from(x.as_str())
                            .to_string()
                            .trim()
                            .to_string()
                    })
                    .collect();
                (format!("[{}]", words.join(", ")), w.clone().into())
            }
        };
        d.set(&key, &raw, json, format!("{why}{notes}"))?;
    }
    if !cg.runtime_files.is_empty() {
        let files: Vec<&str> = cg.runtime_files.iter().map(|(f, _)| f.as_str()).collect();
        let why: Vec<String> = cg
            .runtime_files
            .iter()
            .map(|(f, w)| format!("{f}: {w}"))
            .collect();
        d.set(
            "api.runtime_files",
            &files.join(","),
            files.clone().into(),
            why.join("; "),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Mono;

    fn found(m: &Mono, image: &str) -> Codegen {
        let ws = crate::workspace::load(&m.root).expect("workspace");
        let api = ws
            .packages
            .iter()
            .find(|p| p.name == "@x/api")
            .expect("api")
            .clone();
        let cl = ws.closure(&api).expect("closure");
        discover(&ws, &cl.install, &api, image)
    }

    fn mono(db: &str) -> Mono {
        let m = Mono::new("discover-codegen");
        m.file(
            "apps/api/package.json",
            r#"{"name":"@x/api","scripts":{"build":"tsc"},"dependencies":{"@x/db":"workspace:*"}}"#,
        );
        m.file("packages/db/package.json", db);
        m
    }

    #[test]
    fn prisma_in_a_library_with_package_json_prisma() {
        let m = mono(
            r#"{"name":"@x/db","main":"dist/index.js","scripts":{"build":"tsc","db:generate":"prisma generate"},
                "prisma":{"schema":"db/schema.prisma"},
                "dependencies":{"@prisma/client":"6.0.0","prisma":"6.0.0"}}"#,
        );
        m.file(
            "packages/db/db/schema.prisma",
            "generator client {\n  provider = \"prisma-client-js\"\n}\n",
        );
        m.file(
            "packages/db/db/migrations/0_init/migration.sql",
            "SELECT 1;",
        );
        let c = found(&m, "node:22-alpine");
        assert_eq!(
            c.generate[0].1,
            GenerateRun::Script("db:generate".into()),
            "{c:#?}"
        );
        let files: Vec<&str> = c.runtime_files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            files,
            [
                "node_modules/.prisma/client",
                "packages/db/db/schema.prisma",
                "packages/db/db/migrations"
            ]
        );
        let (cmd, _) = c.migrate.expect("migrate");
        assert_eq!(
            cmd,
            [
                "../../packages/db/node_modules/.bin/prisma",
                "migrate",
                "deploy",
                "--schema",
                "../../packages/db/db/schema.prisma"
            ]
        );
        assert!(
            c.notes.iter().any(|n| n.contains(PRISMA_MUSL_TARGET)),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn prisma_config_output_and_dev_cli() {
        let m = mono(
            r#"{"name":"@x/db","main":"dist/index.js","scripts":{"build":"tsc"},
                "dependencies":{"@prisma/client":"6.0.0"},"devDependencies":{"prisma":"6.0.0"}}"#,
        );
        m.file(
            "packages/db/prisma.config.ts",
            "import { defineConfig } from 'prisma/config';\nexport default defineConfig({ schema: 'schema/main.prisma' });\n",
        );
        m.file(
            "packages/db/schema/main.prisma",
            "generator client {\n  provider = \"prisma-client-js\"\n  output = \"../generated/client\"\n  binaryTargets = [\"native\", \"linux-musl-openssl-3.0.x\"]\n}\n",
        );
        let c = found(&m, "node:22-alpine");
        assert_eq!(
            c.generate[0].1,
            GenerateRun::Command(
                ["prisma", "generate", "--schema", "schema/main.prisma"]
                    .map(String::from)
                    .to_vec()
            )
        );
        let files: Vec<&str> = c.runtime_files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            files,
            [
                "packages/db/generated/client",
                "packages/db/schema/main.prisma",
                "packages/db/prisma.config.ts"
            ]
        );
        assert!(c.migrate.is_none(), "the CLI is a dev dependency");
        assert!(
            c.notes.iter().any(|n| n.contains("move `prisma`")),
            "{:?}",
            c.notes
        );
        assert!(
            !c.notes.iter().any(|n| n.contains("musl (Alpine)")),
            "binaryTargets has musl: {:?}",
            c.notes
        );
    }

    #[test]
    fn a_generic_generator_with_declared_output_and_its_own_migrate_cli() {
        let m = mono(
            r#"{"name":"@x/db","main":"dist/index.js","files":["dist","bin"],"bin":{"quill":"bin/quill.js"},
                "scripts":{"build":"node build.mjs","db:generate":"node bin/quill.js generate","db:migrate":"node bin/quill.js migrate deploy"},
                "quill":{"schema":"schema/s.quill","output":"node_modules/.quill/client","migrations":"migrations"}}"#,
        );
        m.file(
            "package.json",
            r#"{"name":"mono","packageManager":"pnpm@10.34.9","scripts":{"prebuild":"pnpm --filter @x/db db:generate"}}"#,
        );
        let c = found(&m, "node:22-alpine");
        assert_eq!(c.generate.len(), 1, "{c:#?}");
        assert_eq!(c.generate[0].0, "packages/db");
        assert_eq!(c.generate[0].1, GenerateRun::Script("db:generate".into()));
        assert!(c.generate[0].2.contains("the root's `prebuild`"), "{c:#?}");
        let files: Vec<&str> = c.runtime_files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            files,
            [
                "packages/db/node_modules/.quill/client",
                "packages/db/migrations"
            ]
        );
        assert_eq!(
            c.migrate.expect("migrate").0,
            [
                "node",
                "../../packages/db/bin/quill.js",
                "migrate",
                "deploy"
            ]
        );
    }

    #[test]
    fn a_postinstall_generator_is_found_and_a_plain_library_is_not() {
        let m = mono(
            r#"{"name":"@x/db","main":"dist/index.js","scripts":{"build":"tsc","postinstall":"graphql-codegen --config codegen.ts"}}"#,
        );
        let c = found(&m, "node:22-bookworm");
        assert_eq!(c.generate[0].1, GenerateRun::Script("postinstall".into()));
        assert!(c.runtime_files.is_empty());
        assert!(c.notes[0].contains("api.runtime_files"), "{:?}", c.notes);
        let plain = mono(r#"{"name":"@x/db","main":"dist/index.js","scripts":{"build":"tsc"}}"#);
        assert_eq!(found(&plain, "node:22-alpine"), Codegen::default());
    }
}
