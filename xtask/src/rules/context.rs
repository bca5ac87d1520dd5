//! The ignore file's meaning, evaluated against the workspace on disk: whatever the Dockerfile
//! does not copy stays out of the build context, however the patterns are written (a removed
//! catch-all `*` is caught here, where the per-path rules see nothing wrong).

use std::path::Path;

use super::{Input, Out, Rule};
use crate::stack::DOCKERIGNORE as F;

pub const RULES: &[Rule] = &[Rule {
    id: "ignore/context-closure",
    file: F,
    rationale: "evaluated against the workspace on disk, the ignore file keeps out everything outside the API's closure and the files the Dockerfile copies (e.g. a removed catch-all `*`)",
    check: context_closure,
}];

/// How many directory entries the walk looks at, at most (a huge tree is not a reason to hang).
const MAX_ENTRIES: usize = 20_000;

/// The paths the Dockerfile copies from the context (files and package directories).
fn needed(i: &Input) -> Vec<String> {
    let img = &i.model.stack.image;
    let mut v: Vec<String> = img
        .root_install_files
        .iter()
        .chain(&img.root_build_files)
        .chain(&img.patches)
        .chain(&img.install_dirs)
        .cloned()
        .collect();
    v.push(".npmrc".into()); // a build secret, never copied: the env-files/npmrc rules judge it
    v
}

fn context_closure(i: &Input, o: &mut Out) {
    let Some(ign) = &i.ignore else { return };
    let needed = needed(i);
    let mut budget = MAX_ENTRIES;
    let mut leaks: Vec<(Option<usize>, String)> = Vec::new();
    walk(&i.root, "", &needed, &mut budget, &mut |path| {
        let d = ign.decide(path);
        if !d.excluded {
            leaks.push((d.line, path.to_string()));
        }
    });
    let mut lines: Vec<Option<usize>> = leaks.iter().map(|(l, _)| *l).collect();
    lines.sort();
    lines.dedup();
    for line in lines {
        let paths: Vec<&str> = leaks
            .iter()
            .filter(|(l, _)| *l == line)
            .map(|(_, p)| p.as_str())
            .collect();
        let shown: Vec<String> = paths.iter().take(4).map(|p| format!("`{p}`")).collect();
        let more = if paths.len() > 4 {
            format!(" and {} more", paths.len() - 4)
        } else {
            String::new()
        };
        let why = match line {
            Some(_) => "re-included by this pattern",
            None => "no pattern excludes it (is the catch-all `*` gone?)",
        };
        o.at(
            F,
            line.unwrap_or(1),
            format!(
                "{}{more} would enter the build context although the Dockerfile never copies it ({why}); exclude everything (`*`) and let back in only what it copies: `cargo xtask gen --force`",
                shown.join(", ")
            ),
        );
    }
}

/// Visits, under `dir` (relative `rel`), one representative path for every entry the
/// Dockerfile does not need: a file itself, a directory by the first file found inside it.
fn walk(
    root: &Path,
    rel: &str,
    needed: &[String],
    budget: &mut usize,
    visit: &mut dyn FnMut(&str),
) {
    let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let inside_needed = needed
            .iter()
            .any(|n| path == *n || path.starts_with(&format!("{n}/")));
        if inside_needed {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(root.join(&path)) else {
            continue;
        };
        let holds_needed = needed.iter().any(|n| n.starts_with(&format!("{path}/")));
        if meta.is_dir() && holds_needed {
            walk(root, &path, needed, budget, visit);
        } else if meta.is_dir() {
            if let Some(f) = first_file(root, &path, budget, 6) {
                visit(&f);
            }
        } else {
            visit(&path);
        }
    }
}

/// The first regular file (or link) under `rel`, depth-first in name order.
fn first_file(root: &Path, rel: &str, budget: &mut usize, depth: u32) -> Option<String> {
    if depth == 0 {
        return None;
    }
    let mut names: Vec<String> = std::fs::read_dir(root.join(rel))
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let path = format!("{rel}/{name}");
        let meta = std::fs::symlink_metadata(root.join(&path)).ok()?;
        if meta.is_dir() {
            if let Some(f) = first_file(root, &path, budget, depth - 1) {
                return Some(f);
            }
        } else {
            return Some(path);
        }
    }
    None
}
