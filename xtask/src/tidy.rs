//! The tidy test: the house rules of this crate, checked on its own source tree (learned
//! from rust-analyzer's `xtask/src/tidy.rs`). docs/architecture.md explains the layers.
//!
//! - only `tools/` runs programs (`cmd!`, `.cmd(`, `std::process::Command`); unit tests may
//!   run the real tool they check against;
//! - a module imports only from its own layer or the layers below it (table [`LAYERS`]);
//!   `tools/` is a leaf and imports nothing outside `tools/`;
//! - no pure layer imports `commands` (a command is a thin shell on top, never a library);
//! - a command imports no other command (shared steps live in `ops/`);
//! - every Rust file is formatted as `cargo fmt` writes it.
//!
//! The checks read text, line by line (comments skipped), and run on any tree, so the unit
//! tests below plant one violation of each kind in a fixture tree and see each one caught.

use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer; a module may import from its own layer
/// and the layers below (lower numbers).
pub const LAYERS: &[(&str, u8, &str)] = &[
    // 0: leaves: pure helpers, and the only code that runs programs
    ("tools", 0, "runs programs, returns what they printed"),
    ("units", 0, "pure"),
    ("glob", 0, "pure"),
    ("parse", 0, "pure"),
    ("buildlog", 0, "pure"),
    ("values", 0, "pure"),
    ("files", 0, "reads files (regular files only, capped)"),
    ("secrets", 0, "pure"),
    ("secretfmt", 0, "pure"),
    ("credscan", 0, "pure"),
    ("actions", 0, "pure"),
    ("health", 0, "pure"),
    ("text", 0, "pure"),
    // 1: the core: config + monorepo -> model, generated files on disk
    ("config", 1, "core"),
    ("workspace", 1, "core"),
    ("stack", 1, "core"),
    ("generated", 1, "core"),
    ("memo", 1, "core"),
    ("context", 1, "core"),
    ("envcontract", 1, "core"),
    ("discover", 1, "core"),
    ("tempdir", 1, "core"),
    ("testutil", 1, "core (tests)"),
    // 2: pure judgements and renderings: model/files/output -> text, findings, reports
    ("render", 2, "pure"),
    ("rules", 2, "pure"),
    ("report", 2, "pure"),
    ("image_check", 2, "pure"),
    ("image_size", 2, "pure"),
    ("rehearsal", 2, "pure"),
    ("proofs", 2, "pure"),
    ("bench", 2, "pure"),
    ("deploy", 2, "pure"),
    // 3: operations several commands share
    ("ops", 3, "operations"),
    // 4, 5: the commands and the command line
    ("commands", 4, "commands"),
    ("cli", 5, "cli"),
];

/// What a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ProgramRun,
    UpwardImport,
    CommandsFromPure,
    CommandUsesCommand,
    UnknownModule,
    Unformatted,
    LongModule,
    LongFunction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: Kind,
    /// Path under the checked `src/`.
    pub file: String,
    pub line: usize,
    pub what: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {:?}: {}",
            self.file, self.line, self.kind, self.what
        )
    }
}

fn layer(module: &str) -> Option<(u8, &'static str)> {
    LAYERS
        .iter()
        .find(|(m, _, _)| *m == module)
        .map(|(_, l, what)| (*l, *what))
}

fn is_pure(module: &str) -> bool {
    layer(module).is_some_and(|(_, what)| what == "pure")
}

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if !["target", "fixtures", "node_modules"]
                    .iter()
                    .any(|s| p.ends_with(s))
                {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file under `src/`: `commands/mod.rs` → `[commands]`,
/// `commands/gen.rs` → `[commands, gen]`, `lib.rs` → `[]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_string();
        if !["mod", "lib", "main"].contains(&stem.as_str()) {
            parts.push(stem);
        }
    }
    parts
}

/// Identifier characters.
fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The crate-level paths a line refers to, as (top-level module, second segment):
/// `crate::a::b`, `crate::{a, b::c}`, `super::x` (resolved against `module`).
fn references(line: &str, module: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = &rest[..i];
        rest = &rest[i + "crate::".len()..];
        if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue; // `xtask_crate::`, `$crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let item = item.trim();
                let top = ident_at(item);
                let second = item
                    .strip_prefix(top)
                    .and_then(|r| r.strip_prefix("::"))
                    .map(ident_at)
                    .unwrap_or("");
                if !top.is_empty() {
                    out.push((top.to_string(), second.to_string()));
                }
            }
        } else {
            let top = ident_at(rest);
            let second = rest[top.len()..]
                .strip_prefix("::")
                .map(ident_at)
                .unwrap_or("");
            out.push((top.to_string(), second.to_string()));
        }
    }
    let mut rest = line;
    while let Some(i) = rest.find("super::") {
        let before = &rest[..i];
        if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            rest = &rest[i + "super::".len()..];
            continue; // counted with the first `super::` of a `super::super::` chain
        }
        let mut path: Vec<String> = module.to_vec();
        let mut r = &rest[i..];
        while let Some(x) = r.strip_prefix("super::") {
            path.pop();
            r = x;
        }
        rest = r;
        let mut segs: Vec<String> = path;
        let next = ident_at(r);
        if !next.is_empty() {
            segs.push(next.to_string());
            let after = r[next.len()..].strip_prefix("::").map(ident_at);
            if let Some(a) = after.filter(|a| !a.is_empty()) {
                segs.push(a.to_string());
            }
        }
        if let Some(top) = segs.first() {
            out.push((top.clone(), segs.get(1).cloned().unwrap_or_default()));
        }
    }
    out
}

/// A module's code (its unit tests not counted) over this many lines needs a reason in its
/// opening comment (a `//! Size:` line).
pub const MODULE_LINES: usize = 600;
/// No function is longer than this (signature to closing brace).
pub const FUNCTION_LINES: usize = 120;

/// Modules and functions over the limits, without a reason: debt to pay by splitting them
/// (none today). The check fails on any other, and on an entry that is no longer over its limit.
const SIZE_DEBT: &[&str] = &[];

/// Modules over [`MODULE_LINES`] without a `//! Size:` reason, functions over
/// [`FUNCTION_LINES`]: (file or `file::function`, lines, line).
fn oversized(rel: &str, text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let code = lines
        .iter()
        .position(|l| *l == "#[cfg(test)]")
        .unwrap_or(lines.len());
    let reason = lines
        .iter()
        .take_while(|l| l.starts_with("//!"))
        .any(|l| l.starts_with("//! Size:"));
    let mut out = Vec::new();
    if code > MODULE_LINES && !reason {
        out.push((rel.to_string(), code, 1));
    }
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let indent = &l[..l.len() - t.len()];
        let sig = t
            .strip_prefix("pub ")
            .or_else(|| t.strip_prefix("pub(crate) "))
            .or_else(|| t.strip_prefix("pub(super) "))
            .unwrap_or(t);
        let Some(name) = sig.strip_prefix("fn ").map(ident_at) else {
            continue;
        };
        let close = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|x| **x == close) {
            let n = end + 2;
            if n > FUNCTION_LINES {
                out.push((format!("{rel}::{name}"), n, i + 1));
            }
        }
    }
    out
}

/// Program runs, checked outside `tools/`.
const PROGRAM_RUNS: &[&str] = &["cmd!(", ".cmd(", "process::Command", "Command::new("];

/// Checks every Rust file under `src` (a crate's `src/`) except this file.
pub fn check_tree(src: &Path) -> Vec<Violation> {
    let mut out = Vec::new();
    let files = rust_files(src);
    let commands: Vec<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(src.join("commands")).ok())
        .map(|r| module_path(r).first().cloned().unwrap_or_default())
        .filter(|m| !m.is_empty())
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap_or(&file).to_path_buf();
        if rel == Path::new("tidy.rs") {
            continue; // the checker quotes what it looks for
        }
        let module = module_path(&rel);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel_s = rel.to_string_lossy().into_owned();
        out.extend(check_file(&rel_s, &module, &text, &commands));
        for (what, n, line) in oversized(&rel_s, &text) {
            if SIZE_DEBT.contains(&what.as_str()) {
                seen.push(what);
                continue;
            }
            let (kind, limit, how) = match what.contains("::") {
                true => (Kind::LongFunction, FUNCTION_LINES, ""),
                false => (
                    Kind::LongModule,
                    MODULE_LINES,
                    ", or give the reason in a `//! Size:` line of its opening comment",
                ),
            };
            out.push(Violation {
                kind,
                file: rel_s.clone(),
                line,
                what: format!("{what} is {n} lines (limit {limit}): split it{how}"),
            });
        }
    }
    if src.join("tidy.rs").is_file() {
        for d in SIZE_DEBT.iter().filter(|d| !seen.iter().any(|s| s == *d)) {
            out.push(Violation {
                kind: Kind::LongModule,
                file: "tidy.rs".into(),
                line: 1,
                what: format!("{d} is no longer over its limit: remove it from SIZE_DEBT"),
            });
        }
    }
    out
}

/// `commands`: the command modules (`commands/<name>.rs`).
fn check_file(rel: &str, module: &[String], text: &str, commands: &[String]) -> Vec<Violation> {
    let mut out = Vec::new();
    let Some(top) = module.first() else {
        return out; // lib.rs, main.rs: the crate root declares the modules
    };
    let Some((rank, _)) = layer(top) else {
        out.push(Violation {
            kind: Kind::UnknownModule,
            file: rel.to_string(),
            line: 1,
            what: format!(
                "module `{top}` has no layer: add it to tidy::LAYERS and docs/architecture.md"
            ),
        });
        return out;
    };
    let mut module = module.to_vec();
    let (mut cfg_test, mut in_tests) = (false, false);
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        if let Some(inline) = code.strip_prefix("mod ").and_then(|r| r.strip_suffix(" {")) {
            // an inline module (`mod tests {`, at the end of a file): `super::` is the file
            module.push(inline.to_string());
            in_tests |= cfg_test;
        }
        cfg_test = code == "#[cfg(test)]";
        let v = |kind, what: String| Violation {
            kind,
            file: rel.to_string(),
            line: n + 1,
            what,
        };
        // a unit test may run the real tool it checks its module's output against
        if top != "tools" && !in_tests {
            if let Some(p) = PROGRAM_RUNS.iter().find(|p| code.contains(*p)) {
                out.push(v(
                    Kind::ProgramRun,
                    format!("`{p}` outside tools/: run programs through a tools/ module"),
                ));
            }
        }
        for (to, second) in references(code, &module) {
            if to == *top {
                if top == "commands" && module.len() > 1 {
                    let own = &module[1];
                    if second != *own && commands.contains(&second) {
                        out.push(v(
                            Kind::CommandUsesCommand,
                            format!(
                                "commands::{own} uses commands::{second}: a step two commands share belongs in ops/"
                            ),
                        ));
                    }
                }
                continue;
            }
            let Some((to_rank, _)) = layer(&to) else {
                continue; // not a module of this crate (an item of the root, a macro)
            };
            if to == "commands" && (is_pure(top) || rank < 3) {
                out.push(v(
                    Kind::CommandsFromPure,
                    format!("`{top}` ({}) imports `commands`: commands sit on top; move what is shared below (context, ops)", layer(top).map(|l| l.1).unwrap_or("")),
                ));
            } else if to_rank > rank || (top == "tools" && to != "tools") {
                out.push(v(
                    Kind::UpwardImport,
                    format!("`{top}` (layer {rank}) imports `{to}` (layer {to_rank}); see docs/architecture.md"),
                ));
            }
        }
    }
    out
}

/// The files of `files` not formatted as `cargo fmt` writes them.
pub fn check_format(root: &Path, files: &[PathBuf]) -> anyhow::Result<Vec<Violation>> {
    Ok(crate::tools::rustfmt::unformatted(files, "2021")?
        .into_iter()
        .map(|f| Violation {
            kind: Kind::Unformatted,
            file: f
                .strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned(),
            line: 1,
            what: "not formatted: run `cargo fmt --all`".into(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask/ has a parent")
            .to_path_buf()
    }

    fn report(v: &[Violation]) -> String {
        v.iter().map(|v| format!("  {v}\n")).collect()
    }

    #[test]
    fn this_crate_keeps_its_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let v = check_tree(&src);
        assert!(
            v.is_empty(),
            "tidy: {} violation(s):\n{}",
            v.len(),
            report(&v)
        );
    }

    #[test]
    fn every_rust_file_is_formatted() {
        let root = workspace();
        let mut files = rust_files(&root.join("xtask"));
        files.extend(rust_files(&root.join("tests")));
        let v = check_format(&root, &files).expect("rustfmt runs");
        assert!(v.is_empty(), "tidy:\n{}", report(&v));
    }

    /// A fixture tree with one planted violation of each kind (and code that breaks none).
    fn fixture() -> crate::testutil::Dir {
        let d = crate::testutil::Dir::new("tidy");
        let body = "    f();\n".repeat(FUNCTION_LINES);
        // the second one is `pub(super)`, as in a command split into a directory
        let long_fn = format!("fn long() {{\n{body}}}\npub(super) fn long2() {{\n{body}}}\n");
        let big_module = "pub fn f() {}\n".repeat(MODULE_LINES + 1);
        let big_with_reason = format!("//! Size: one table.\n{big_module}");
        for (rel, text) in [
            // fine: tools run programs and import tools; commands import below and mod.rs
            ("tools/mod.rs", "pub mod docker;\n"),
            (
                "tools/docker.rs",
                "use xshell::cmd;\nfn f(sh: &Shell) { let _ = cmd!(sh, \"docker info\"); }\n",
            ),
            (
                "commands/mod.rs",
                "pub mod gen;\npub mod verify;\npub use crate::context::Ctx;\n",
            ),
            (
                "commands/gen.rs",
                "use super::{Ctx, Outcome};\nuse crate::ops::build;\nuse crate::render;\n",
            ),
            (
                "render/mod.rs",
                "// crate::commands in a comment is fine\nuse crate::stack::Stack;\n",
            ),
            (
                "render/quote.rs",
                "fn f() {}\n#[cfg(test)]\nmod tests {\n    fn sh() { std::process::Command::new(\"sh\"); }\n}\n",
            ),
            // planted
            (
                "render/caddy.rs",
                "fn f() { let _ = std::process::Command::new(\"caddy\"); }\n",
            ),
            ("parse/yaml.rs", "use crate::rules::Finding;\n"),
            ("rules/mod.rs", "use crate::commands::Model;\n"),
            (
                "tools/probe.rs",
                "use crate::rehearsal::{parse_curl, Http};\n",
            ),
            (
                "commands/verify.rs",
                "use super::build_image;\nfn f() { super::gen::run(); }\n",
            ),
            ("newthing.rs", "pub fn f() {}\n"),
            ("render/long.rs", &long_fn),
            ("rules/big.rs", &big_module),
            ("rules/big_with_reason.rs", &big_with_reason),
            ("units.rs", "pub fn  f( ) {}\n"),
        ] {
            d.file(rel, text);
        }
        d
    }

    #[test]
    fn a_planted_violation_of_each_kind_is_caught() {
        let d = fixture();
        let v = check_tree(&d.root);
        let found = |kind: Kind, file: &str, line: usize| {
            v.iter()
                .any(|x| x.kind == kind && x.file == file && x.line == line)
        };
        assert!(
            found(Kind::ProgramRun, "render/caddy.rs", 1),
            "{}",
            report(&v)
        );
        assert!(
            found(Kind::UpwardImport, "parse/yaml.rs", 1),
            "{}",
            report(&v)
        );
        assert!(
            found(Kind::UpwardImport, "tools/probe.rs", 1),
            "{}",
            report(&v)
        );
        assert!(
            found(Kind::CommandsFromPure, "rules/mod.rs", 1),
            "{}",
            report(&v)
        );
        assert!(
            found(Kind::CommandUsesCommand, "commands/verify.rs", 2),
            "{}",
            report(&v)
        );
        assert!(
            found(Kind::UnknownModule, "newthing.rs", 1),
            "{}",
            report(&v)
        );
        assert!(
            found(Kind::LongFunction, "render/long.rs", 1),
            "{}",
            report(&v)
        );
        assert!(
            found(Kind::LongFunction, "render/long.rs", FUNCTION_LINES + 3),
            "{}",
            report(&v)
        );
        assert!(found(Kind::LongModule, "rules/big.rs", 1), "{}", report(&v));
        assert_eq!(
            v.len(),
            9,
            "only the planted violations (the fine files pass):\n{}",
            report(&v)
        );
        let files = [d.root.join("units.rs"), d.root.join("newthing.rs")];
        let f = check_format(&d.root, &files).expect("rustfmt runs");
        assert_eq!(
            f.iter()
                .map(|x| (x.kind, x.file.as_str()))
                .collect::<Vec<_>>(),
            [(Kind::Unformatted, "units.rs")],
            "{}",
            report(&f)
        );
    }

    #[test]
    fn super_paths_resolve_against_the_module() {
        let m = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            references(
                "use super::build_image::{self, Plan};",
                &m(&["commands", "bench"])
            ),
            [("commands".to_string(), "build_image".to_string())]
        );
        assert_eq!(
            references("use super::docker;", &m(&["tools", "compose"])),
            [("tools".to_string(), "docker".to_string())]
        );
        assert_eq!(
            references("use super::super::stack;", &m(&["render", "x", "y"])),
            [("render".to_string(), "stack".to_string())]
        );
        assert_eq!(
            references("use crate::{config, stack::Stack};", &m(&["rules"])),
            [
                ("config".to_string(), String::new()),
                ("stack".to_string(), "Stack".to_string())
            ]
        );
    }
}
