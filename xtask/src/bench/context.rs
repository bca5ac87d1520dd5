//! The bytes a Dockerfile COPYs from its build context: the files under every `COPY`/`ADD`
//! source (no `--from`) that the ignore file lets in, each counted once. What BuildKit must
//! send at the least; `bench` sets it against the `transferring context` it reports.
//! Reads the file tree only (no program runs).

use crate::glob::clean;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::glob;
use crate::parse::dockerfile::{self, Dockerfile};
use crate::parse::ignore::IgnoreFile;

/// Files (and their bytes) the Dockerfile COPYs from the context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    pub files: usize,
    pub bytes: u64,
    /// Cleaned COPY sources, in Dockerfile order (`""` is the whole context).
    pub sources: Vec<String>,
}

/// The context sources of every `COPY`/`ADD` without `--from`, variables substituted
/// (`build_args` first, then the stage's `ARG`/`ENV` defaults), cleaned; URLs skipped.
pub fn copy_sources(df: &Dockerfile, build_args: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for s in &df.stages {
        for n in s.body.clone() {
            let ins = &df.instructions[n];
            if !(ins.keyword == "COPY" || ins.keyword == "ADD") || ins.flag("from").is_some() {
                continue;
            }
            let ws = ins.words();
            if ws.len() < 2 {
                continue;
            }
            for w in ws[..ws.len() - 1].iter().filter(|w| !w.contains("://")) {
                let lookup = |v: &str| {
                    build_args
                        .iter()
                        .find(|(k, _)| k == v)
                        .map(|(_, val)| val.clone())
                        .or_else(|| df.stage_var(s, n, v))
                };
                out.push(clean(&dockerfile::expand(w, &lookup).0));
            }
        }
    }
    out
}

/// Every regular file under `rel` (a file or a directory), relative paths with `/`.
fn files_under(root: &Path, rel: &str, out: &mut BTreeMap<String, u64>) -> Result<()> {
    let path = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(_) => return Ok(()), // a missing source is the build's problem, not ours
    };
    if meta.is_file() {
        out.insert(rel.to_string(), meta.len());
    } else if meta.is_dir() {
        let rd =
            std::fs::read_dir(&path).with_context(|| format!("cannot list {}", path.display()))?;
        for e in rd {
            let e = e.with_context(|| format!("cannot list {}", path.display()))?;
            let name = e.file_name().to_string_lossy().to_string();
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            files_under(root, &child, out)?;
        }
    }
    Ok(())
}

/// The files the Dockerfile's context COPYs bring into the image, after the ignore file.
pub fn copied(
    root: &Path,
    df: &Dockerfile,
    ignore: &IgnoreFile,
    build_args: &[(String, String)],
) -> Result<Copied> {
    let sources = copy_sources(df, build_args);
    let mut files = BTreeMap::new();
    for src in &sources {
        if glob::is_glob(src) {
            let mut all = BTreeMap::new();
            files_under(root, "", &mut all)?;
            // a glob matches paths at its own depth; what it matches comes in whole
            let pat = glob::segments(src);
            for (f, size) in all {
                let segs = glob::segments(&f);
                if (1..=segs.len()).any(|k| glob::match_segments(&pat, &segs[..k])) {
                    files.insert(f, size);
                }
            }
        } else {
            files_under(root, src, &mut files)?;
        }
    }
    files.retain(|f, _| !ignore.excluded(f));
    Ok(Copied {
        files: files.len(),
        bytes: files.values().sum(),
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ignore;

    fn tree(tag: &str, files: &[(&str, usize)]) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-ctx-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (f, n) in files {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, vec![b'x'; *n]).expect("write");
        }
        d
    }

    #[test]
    fn sources_are_substituted_and_cleaned() {
        let df = dockerfile::parse(
            "ARG DIR=apps/api\nFROM x AS a\nARG DIR\nCOPY package.json ./pnpm-lock.yaml ./\nCOPY ${DIR} ${DIR}\nCOPY --from=a /app /app\nADD https://e.com/x /x\nCOPY [\"./tsconfig.json\", \"/\"]\nFROM x\nCOPY . .\n",
        );
        assert_eq!(
            copy_sources(&df, &[]),
            vec![
                "package.json",
                "pnpm-lock.yaml",
                "apps/api",
                "tsconfig.json",
                ""
            ]
        );
        let over = copy_sources(&df, &[("DIR".into(), "apps/web".into())]);
        assert_eq!(over[2], "apps/web");
    }

    #[test]
    fn copied_bytes_follow_the_ignore_file_and_count_each_file_once() {
        let root = tree(
            "copied",
            &[
                ("package.json", 100),
                ("README.md", 7),
                ("apps/api/package.json", 50),
                ("apps/api/src/main.ts", 1000),
                ("apps/api/node_modules/x/index.js", 5000),
                ("apps/api/.env", 3),
                ("apps/web/heavy.bin", 1_000_000),
            ],
        );
        let df = dockerfile::parse(
            "FROM x\nCOPY package.json ./\nCOPY apps/api/package.json apps/api/\nCOPY apps/api apps/api\n",
        );
        let ign = ignore::parse("*\n!package.json\n!apps/api\n**/node_modules\n**/.env*\n");
        let c = copied(&root, &df, &ign, &[]).expect("walks");
        assert_eq!((c.files, c.bytes), (3, 1150), "{c:?}");

        // COPY . . with a permissive ignore file: everything but what it names
        let df = dockerfile::parse("FROM x\nCOPY . .\n");
        let ign = ignore::parse("**/node_modules\n**/.env*\n");
        let c = copied(&root, &df, &ign, &[]).expect("walks");
        assert_eq!((c.files, c.bytes), (5, 1_001_157), "{c:?}");

        // globs
        let df = dockerfile::parse("FROM x\nCOPY apps/*/package.json ./\n");
        let c = copied(&root, &df, &IgnoreFile::default(), &[]).expect("walks");
        assert_eq!((c.files, c.bytes), (1, 50), "{c:?}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
