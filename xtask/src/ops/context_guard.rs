//! The build context holds only what git would hold, and no credential: checked before every
//! build (`build-image`, verify's image stage, `rehearse`, `bench`; the web site's build).
//!
//! - `context/git-ignored`: a file git ignores (and does not track) that the committed ignore
//!   file lets into the context. The generated ignore file is deterministic and cannot list
//!   a developer's local files, and the user's files are never changed: the build is refused,
//!   naming each one and the fix (delete or move it; commit it if it belongs in the image).
//!   Outside a git work tree the check cannot run: said as a note, never a silent pass.
//!   Untracked files git does not ignore are a developer's new files: they are let in.
//! - `context/credentials`: every file the context holds, read (capped) and scanned by
//!   content ([`crate::credscan`]): a private key or token under a name the deny list does not
//!   cover is named with its line and kind, never its value.

use std::path::Path;

use crate::credscan::{self, Hit};
use crate::image_check::CheckResult;
use crate::parse::ignore::IgnoreFile;
use crate::tools::git;

pub const GIT_IGNORED: &str = "context/git-ignored";
pub const CREDENTIALS: &str = "context/credentials";

/// How many entries the context walk looks at, at most.
const MAX_ENTRIES: usize = 200_000;

/// One file that must not enter the context.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leak {
    /// [`GIT_IGNORED`] or [`CREDENTIALS`].
    pub id: &'static str,
    /// Relative to the context root (a directory ends in `/`).
    pub path: String,
    /// The line of the first credential (1 for a git-ignored file).
    pub line: usize,
    /// The credential kinds found (empty for a git-ignored file).
    pub kinds: Vec<&'static str>,
}

/// What the guard found in one build context.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Guard {
    /// The checks that ran (each passes or fails).
    pub checks: Vec<CheckResult>,
    pub leaks: Vec<Leak>,
    /// A check that could not run, a scan cut short: said, never a silent pass.
    pub notes: Vec<String>,
    /// Files read by the credential scan, and their bytes.
    pub files_scanned: usize,
    pub bytes_scanned: u64,
}

impl Guard {
    pub fn refused(&self) -> bool {
        self.checks.iter().any(|c| !c.ok)
    }

    /// The refusal's message: each failed check's line.
    pub fn refusal(&self) -> String {
        let lines: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.id, c.detail))
            .collect();
        format!(
            "refusing to build: the build context would carry what it must not (nothing was built)\n{}",
            lines.join("\n")
        )
    }
}

/// A path for a message: plain when it is, quoted with escapes when it holds anything else.
fn show(p: &str) -> String {
    if p.chars().all(|c| !c.is_control() && c != '`') {
        format!("`{p}`")
    } else {
        crate::values::shown(p)
    }
}

fn listed(paths: &[String], max: usize) -> String {
    let shown: Vec<String> = paths.iter().take(max).map(|p| show(p)).collect();
    let more = if paths.len() > max {
        format!(" and {} more", paths.len() - max)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Checks the context of a build from `root` filtered by the ignore file `ignore_rel`.
pub fn check(root: &Path, ignore_rel: &str) -> Guard {
    let ign = match crate::files::read_in(root, Path::new(ignore_rel), crate::files::MAX_INPUT) {
        Ok(text) => crate::parse::ignore::parse(&text),
        Err(_) => IgnoreFile::default(),
    };
    let mut g = Guard::default();
    git_ignored(root, &ign, &mut g);
    // what git ignores is already refused (and must go): the scan reads what git holds
    let skip: Vec<String> = g.leaks.iter().map(|l| l.path.clone()).collect();
    credentials(root, &ign, &skip, &mut g);
    g
}

fn git_ignored(root: &Path, ign: &IgnoreFile, g: &mut Guard) {
    let entries = match git::ignored(root) {
        Ok(e) => e,
        Err(why) => {
            g.notes.push(format!(
                "{GIT_IGNORED} could not run ({why}): files git would not hold are not told apart; \
                 build from a git checkout to have them kept out"
            ));
            return;
        }
    };
    let mut leaked = Vec::new();
    for e in wholly_ignored(entries) {
        let p = e.trim_end_matches('/');
        let enters = if e.ends_with('/') {
            !ign.prunes(p) && any_included(root, p, ign)
        } else {
            !ign.excluded(p)
        };
        if enters {
            leaked.push(e);
        }
    }
    g.checks.push(if leaked.is_empty() {
        CheckResult::pass(
            GIT_IGNORED,
            "no file git ignores enters the build context",
        )
    } else {
        CheckResult::fail(
            GIT_IGNORED,
            format!(
                "{} path(s) git ignores would enter the build context: {}; a clean checkout has none of them, so the \
                 image would hold what git does not (local credentials, builds, notes). Delete them or move them out \
                 of the directories the Dockerfile copies; if one belongs in the image, commit it (`git add -f`)",
                leaked.len(),
                listed(&leaked, 12)
            ),
        )
    });
    g.leaks.extend(leaked.into_iter().map(|path| Leak {
        id: GIT_IGNORED,
        path,
        line: 1,
        kinds: Vec::new(),
    }));
}

/// git's listing without the untracked directories it names only because they hold
/// ignored files (`--directory` lists `a/` and `a/x.json` when `a/` holds nothing else): a
/// directory entry is kept when nothing else listed lies under it (wholly ignored).
fn wholly_ignored(mut entries: Vec<String>) -> Vec<String> {
    entries.sort();
    let keep: Vec<bool> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            !e.ends_with('/')
                || entries
                    .get(i + 1)
                    .is_none_or(|next| !next.starts_with(e.as_str()))
        })
        .collect();
    entries
        .into_iter()
        .zip(keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect()
}

/// Does anything under the directory `rel` enter the context (bounded walk)?
fn any_included(root: &Path, rel: &str, ign: &IgnoreFile) -> bool {
    if !ign.excluded(rel) {
        return true;
    }
    let mut found = false;
    let mut budget = 20_000usize;
    walk(root, rel, ign, &mut budget, &mut |_, _| {
        found = true;
        false
    });
    found
}

/// Visits every regular file under `rel` the ignore file lets into the context, pruning
/// directories it leaves out whole; symbolic links are not followed (the context holds
/// the link). `visit` returns false to stop.
fn walk(
    root: &Path,
    rel: &str,
    ign: &IgnoreFile,
    budget: &mut usize,
    visit: &mut dyn FnMut(&str, u64) -> bool,
) -> bool {
    let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
        return true;
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let Ok(meta) = std::fs::symlink_metadata(root.join(&path)) else {
            continue;
        };
        if meta.is_dir() {
            if !ign.prunes(&path) && !walk(root, &path, ign, budget, visit) {
                return false;
            }
        } else if meta.is_file() && !ign.excluded(&path) && !visit(&path, meta.len()) {
            return false;
        }
    }
    true
}

fn credentials(root: &Path, ign: &IgnoreFile, skip: &[String], g: &mut Guard) {
    let mut budget = MAX_ENTRIES;
    let (mut big, mut total, mut files) = (0usize, 0u64, 0usize);
    let mut hits: Vec<(String, Vec<Hit>)> = Vec::new();
    let mut cut = None;
    let complete = walk(root, "", ign, &mut budget, &mut |path, len| {
        if skip
            .iter()
            .any(|s| path == s || (s.ends_with('/') && path.starts_with(s.as_str())))
        {
            return true;
        }
        if len > credscan::MAX_FILE {
            big += 1;
            return true;
        }
        if total + len > credscan::MAX_TOTAL {
            cut = Some(format!("after {total} bytes"));
            return false;
        }
        if let Ok(bytes) = crate::files::read_in_bytes(root, Path::new(path), credscan::MAX_FILE) {
            total += bytes.len() as u64;
            files += 1;
            let h = credscan::scan(&bytes);
            if !h.is_empty() {
                hits.push((path.to_string(), h));
            }
        }
        true
    });
    if !complete && cut.is_none() {
        cut = Some(format!("after {MAX_ENTRIES} entries"));
    }
    if let Some(at) = cut {
        g.notes.push(format!(
            "{CREDENTIALS}: the scan stopped {at}: the rest of the build context was not read"
        ));
    }
    if big > 0 {
        g.notes.push(format!(
            "{CREDENTIALS}: {big} file(s) over {} KiB not read (a key or token file is small)",
            credscan::MAX_FILE >> 10
        ));
    }
    g.files_scanned = files;
    g.bytes_scanned = total;
    let named: Vec<String> = hits
        .iter()
        .map(|(p, h)| {
            format!(
                "{}:{} ({})",
                show(p),
                h.first().map_or(1, |x| x.line),
                credscan::names(h)
            )
        })
        .collect();
    g.checks.push(if hits.is_empty() {
        CheckResult::pass(
            CREDENTIALS,
            format!("no private key, cloud credential or token in the {files} file(s) of the build context"),
        )
    } else {
        CheckResult::fail(
            CREDENTIALS,
            format!(
                "{} file(s) of the build context hold credentials: {}{}; take the credential out of the file (the \
                 API reads it from its environment; a build needs it as a build secret), and revoke it if it was \
                 ever committed or pushed",
                named.len(),
                named.iter().take(12).cloned().collect::<Vec<_>>().join(", "),
                if named.len() > 12 { ", ..." } else { "" }
            ),
        )
    });
    g.leaks.extend(hits.into_iter().map(|(path, h)| Leak {
        id: CREDENTIALS,
        line: h.first().map_or(1, |x| x.line),
        kinds: h.iter().map(|x| x.kind).collect(),
        path,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .expect("git")
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    fn put(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    #[test]
    fn directories_git_lists_only_for_their_ignored_files_are_dropped() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            wholly_ignored(v(&[
                "a/",
                "a/c/",
                "a/c/x.json",
                "b/x.json",
                "n/",
                "g/",
                "g/x"
            ])),
            v(&["a/c/x.json", "b/x.json", "g/x", "n/"])
        );
    }

    #[test]
    fn git_ignored_files_and_credentials_are_named_and_values_never() {
        let root = std::env::temp_dir().join(format!("xtask-guard-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("mkdir");
        let ign = "*\n!package.json\n!apps/api\n**/node_modules\n**/dist\n**/*.pem\n";
        put(&root, "infra/x.dockerignore", ign);
        put(&root, "package.json", "{}");
        put(&root, "apps/api/src/main.ts", "export {}");
        put(
            &root,
            ".gitignore",
            "node_modules\ndist\n*.local.json\ncoverage/\n",
        );
        put(
            &root,
            "apps/api/node_modules/x/test/key.txt",
            &crate::credscan::fixtures::samples()[0].1,
        );
        put(&root, "apps/api/dist/main.js", "x");
        put(&root, "apps/web/creds.local.json", "x"); // outside the context
        let before = check(&root, "infra/x.dockerignore");
        assert!(
            before.notes.iter().any(|n| n.contains("could not run")),
            "{before:?}"
        );
        assert!(!before.checks.iter().any(|c| c.id == GIT_IGNORED));
        sh(&root, &["init", "-q"]);
        let clean = check(&root, "infra/x.dockerignore");
        assert!(!clean.refused(), "{clean:#?}");
        assert!(clean.notes.is_empty(), "{clean:#?}");

        let token = crate::credscan::fixtures::samples()
            .into_iter()
            .find(|(k, _)| *k == "github-token")
            .expect("sample")
            .1;
        put(&root, "apps/api/prod.local.json", "{}");
        put(
            &root,
            "apps/api/cfg/only.local.json",
            &crate::credscan::fixtures::samples()[0].1,
        );
        put(&root, "apps/api/coverage/lcov.info", "x");
        put(
            &root,
            "apps/api/src/config/deploy.txt",
            &format!("a\nb\n{token}"),
        );
        put(
            &root,
            "apps/api/k.pem",
            &crate::credscan::fixtures::samples()[0].1,
        ); // excluded by name
        let g = check(&root, "infra/x.dockerignore");
        assert!(g.refused());
        let paths: Vec<(&str, &str)> = g.leaks.iter().map(|l| (l.id, l.path.as_str())).collect();
        assert_eq!(
            paths,
            [
                (GIT_IGNORED, "apps/api/cfg/only.local.json"),
                (GIT_IGNORED, "apps/api/coverage/"),
                (GIT_IGNORED, "apps/api/prod.local.json"),
                (CREDENTIALS, "apps/api/src/config/deploy.txt"),
            ]
        );
        assert_eq!(g.leaks[3].line, 3);
        assert_eq!(g.leaks[3].kinds, ["github-token"]);
        let text = format!(
            "{}{}",
            g.refusal(),
            serde_json::to_string(&g).expect("json")
        );
        assert!(!text.contains(&token), "{text}");
        assert!(
            text.contains("`apps/api/src/config/deploy.txt`:3 (github-token)"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
