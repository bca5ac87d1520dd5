//! The API's sources, read for the env keys that locate a stack service and default to a
//! local address in code (`config.get('IPFS_LOCAL_API_URL', 'http://localhost:5001')`,
//! `process.env.TEE_WORKER_URL ?? "http://127.0.0.1:3001"`): the app talks to that service
//! even when its env example does not name the key.
//!
//! Bounded and untrusted: regular files only (no symbolic link followed), `.ts`/`.js` under
//! `src/`, at most [`MAX_FILES`] files of [`MAX_BYTES`] each, [`MAX_DEPTH`] directories deep.

use std::path::Path;

/// One default found: `key` defaults to `value` at `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDefault {
    pub key: String,
    pub value: String,
    pub file: String,
    pub line: usize,
}

const MAX_FILES: usize = 2000;
const MAX_BYTES: u64 = 512 * 1024;
const MAX_DEPTH: usize = 8;

/// The source files under `<root>/<api_dir>/src` (paths relative to `root`, sorted).
pub(super) fn sources(root: &Path, api_dir: &str) -> Vec<String> {
    let src = if api_dir.is_empty() || api_dir == "." {
        "src".to_string()
    } else {
        format!("{api_dir}/src")
    };
    let mut files = Vec::new();
    walk(root, &src, 0, &mut files);
    files
}

/// The text of a source file `sources` listed (`None`: unreadable or over the size bound).
pub(super) fn read_source(root: &Path, rel: &str) -> Option<String> {
    crate::files::read_in(root, Path::new(rel), MAX_BYTES).ok()
}

/// The defaults in `<root>/<api_dir>/src`, a key once (its first place).
pub(super) fn defaults(root: &Path, api_dir: &str) -> Vec<CodeDefault> {
    let mut out: Vec<CodeDefault> = Vec::new();
    for rel in sources(root, api_dir) {
        let Some(text) = read_source(root, &rel) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            for (key, value) in in_line(line) {
                if !out.iter().any(|d| d.key == key) {
                    out.push(CodeDefault {
                        key,
                        value,
                        file: rel.clone(),
                        line: i + 1,
                    });
                }
            }
        }
    }
    out
}

/// Source files under `rel` (sorted, so the first place of a key is stable).
fn walk(root: &Path, rel: &str, depth: usize, files: &mut Vec<String>) {
    if depth > MAX_DEPTH || files.len() >= MAX_FILES {
        return;
    }
    let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut entries: Vec<(String, std::fs::FileType)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, ft) in entries {
        if files.len() >= MAX_FILES {
            return;
        }
        let path = format!("{rel}/{name}");
        if ft.is_dir() && !name.starts_with('.') && name != "node_modules" {
            walk(root, &path, depth + 1, files);
        } else if ft.is_file() && is_source(&name) {
            files.push(path);
        }
    }
}

fn is_source(name: &str) -> bool {
    let code = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"]
        .iter()
        .any(|e| name.ends_with(e));
    let not = [".d.ts", ".spec.ts", ".test.ts", ".spec.js", ".test.js"]
        .iter()
        .any(|e| name.ends_with(e));
    code && !not
}

/// The service keys a line names, each with the local URL it holds as a string literal.
fn in_line(line: &str) -> Vec<(String, String)> {
    let Some(value) = local_url(line) else {
        return Vec::new();
    };
    line.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|w| crate::envcontract::service_of_key(w).is_some())
        .map(|w| (w.to_string(), value.clone()))
        .collect()
}

/// The first string literal of `line` that is a URL on this machine (localhost, 127.0.0.1).
fn local_url(line: &str) -> Option<String> {
    for q in ['\'', '"', '`'] {
        let mut parts = line.split(q).skip(1).step_by(2);
        if let Some(s) = parts.find(|s| {
            ["://localhost", "://127.0.0.1", "://0.0.0.0"]
                .iter()
                .any(|h| s.contains(h))
        }) {
            let ok = s.len() <= 200 && !s.contains(|c: char| c.is_whitespace() || c == '$');
            return ok.then(|| s.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_keys_with_a_local_default_are_found() {
        let d = crate::testutil::Dir::new("code-defaults");
        d.file(
            "apps/api/src/ipfs/ipfs.service.ts",
            "const url = this.config.get<string>('IPFS_LOCAL_API_URL', 'http://localhost:5001');\n",
        )
        .file(
            "apps/api/src/tee.ts",
            "// TEE_WORKER_URL is set in staging\nexport const tee = process.env.TEE_WORKER_URL ?? \"http://127.0.0.1:3001\";\n",
        )
        .file(
            "apps/api/src/other.ts",
            "const x = process.env.STORAGE_URL || 'http://localhost:9000';\n\
             const y = process.env.REDIS_URL;\n",
        )
        .file(
            "apps/api/src/x.spec.ts",
            "process.env.KUBO_API_URL ?? 'http://localhost:5001'\n",
        )
        .file(
            "apps/api/node_modules/m/index.js",
            "process.env.IPFS_URL ?? 'http://localhost:5001'\n",
        );
        let found = defaults(&d.root, "apps/api");
        assert_eq!(
            found,
            vec![
                CodeDefault {
                    key: "IPFS_LOCAL_API_URL".into(),
                    value: "http://localhost:5001".into(),
                    file: "apps/api/src/ipfs/ipfs.service.ts".into(),
                    line: 1,
                },
                CodeDefault {
                    key: "TEE_WORKER_URL".into(),
                    value: "http://127.0.0.1:3001".into(),
                    file: "apps/api/src/tee.ts".into(),
                    line: 2,
                },
            ]
        );
        assert_eq!(defaults(&d.root, "apps/none"), vec![]);
    }
}
