//! Rules on `infra/api.Dockerfile.dockerignore`, evaluated with Docker's matcher on sample
//! paths of this monorepo. A finding points at the pattern that wrongly re-includes a path
//! (a `!` line), or at line 1 when no pattern excludes it.

use super::{Input, Out, Rule};
use crate::stack::DOCKERIGNORE as F;

pub const RULES: &[Rule] = &[
    Rule {
        id: "ignore/node-modules",
        file: F,
        rationale: "node_modules at any depth stays out of the context: host binaries break the image and bloat the upload",
        check: node_modules,
    },
    Rule {
        id: "ignore/env-files",
        file: F,
        rationale: ".env* at any depth stays out of the context: secrets must never reach a build or a layer",
        check: env_files,
    },
    Rule {
        id: "ignore/secret-files",
        file: F,
        rationale: "secret files (keys, key stores, credentials, tokens: the list in docs/verify.md) stay out of the context at any depth and in any case",
        check: secret_files,
    },
    Rule {
        id: "ignore/git",
        file: F,
        rationale: ".git stays out of the context: history can hold secrets and every commit would bust the cache",
        check: git,
    },
    Rule {
        id: "ignore/build-outputs",
        file: F,
        rationale: "host build outputs (dist) stay out: the image builds its own, from the sources",
        check: build_outputs,
    },
    Rule {
        id: "ignore/outside-closure",
        file: F,
        rationale: "workspace packages outside the API's closure (e.g. apps/web) stay out: their changes must not rebuild the API",
        check: outside_closure,
    },
];

/// Reports the sample paths the ignore file lets into the context, one finding per deciding line.
fn must_exclude(i: &Input, o: &mut Out, samples: &[String], fix: &str) {
    let Some(ign) = &i.ignore else { return };
    let mut by_line: Vec<(Option<usize>, Vec<&str>)> = Vec::new();
    for p in samples {
        let d = ign.decide(p);
        if d.excluded {
            continue;
        }
        match by_line.iter_mut().find(|(l, _)| *l == d.line) {
            Some((_, v)) => v.push(p),
            None => by_line.push((d.line, vec![p])),
        }
    }
    for (line, paths) in by_line {
        let shown: Vec<String> = paths.iter().take(3).map(|p| format!("`{p}`")).collect();
        let more = if paths.len() > 3 {
            format!(" and {} more", paths.len() - 3)
        } else {
            String::new()
        };
        let why = match line {
            Some(l) => {
                let pat = ign
                    .patterns
                    .iter()
                    .find(|p| p.line == l)
                    .map(|p| p.glob.as_str())
                    .unwrap_or("?");
                format!("re-included by `!{pat}`")
            }
            None => "no pattern excludes it".to_string(),
        };
        o.at(
            F,
            line.unwrap_or(1),
            format!(
                "{}{more} would enter the build context ({why}); {fix}",
                shown.join(", ")
            ),
        );
    }
}

/// The root and every package directory of the API's install closure.
fn dirs(i: &Input) -> Vec<String> {
    let mut v = vec![String::new()];
    v.extend(i.model.stack.image.install_dirs.iter().cloned());
    v
}

fn under(dir: &str, p: &str) -> String {
    if dir.is_empty() {
        p.to_string()
    } else {
        format!("{dir}/{p}")
    }
}

fn node_modules(i: &Input, o: &mut Out) {
    let s: Vec<String> = dirs(i)
        .iter()
        .map(|d| under(d, "node_modules/.pnpm/lock.yaml"))
        .collect();
    must_exclude(i, o, &s, "add `**/node_modules` after it");
}

fn env_files(i: &Input, o: &mut Out) {
    let mut s = Vec::new();
    for d in dirs(i) {
        for f in [".env", ".env.local", ".env.production"] {
            s.push(under(&d, f));
        }
    }
    must_exclude(i, o, &s, "add `**/.env*` after it");
}

fn secret_files(i: &Input, o: &mut Out) {
    let mut s = Vec::new();
    for d in dirs(i) {
        // .env* has its own rule (ignore/env-files)
        s.extend(crate::secrets::samples(&d).into_iter().filter(|p| {
            !p.rsplit('/')
                .next()
                .unwrap_or(p)
                .to_ascii_lowercase()
                .starts_with(".env")
        }));
    }
    must_exclude(
        i,
        o,
        &s,
        "keep the secret patterns `cargo xtask gen` writes (`**/<name>` for each) after it",
    );
}

fn git(i: &Input, o: &mut Out) {
    let s = vec![".git/HEAD".to_string(), ".git/config".to_string()];
    must_exclude(i, o, &s, "add `.git` after it");
}

fn build_outputs(i: &Input, o: &mut Out) {
    let s: Vec<String> = i
        .model
        .stack
        .image
        .install_dirs
        .iter()
        .map(|d| under(d, "dist/main.js"))
        .collect();
    must_exclude(i, o, &s, "add `**/dist` after it");
}

fn outside_closure(i: &Input, o: &mut Out) {
    let mut s = Vec::new();
    for d in &i.model.stack.image.outside {
        s.push(under(d, "package.json"));
        s.push(under(d, "src/index.ts"));
    }
    must_exclude(
        i,
        o,
        &s,
        "exclude the packages the API does not need (e.g. list them after the `!` lines)",
    );
}
