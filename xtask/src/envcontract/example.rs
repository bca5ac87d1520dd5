//! Reading the API's env example (dotenv syntax): keys, their comments, commented-out keys.

use std::path::Path;

use anyhow::Result;

/// The file names an API's env example may have, in the order they are read.
pub const EXAMPLE_NAMES: &[&str] = &[".env.example", ".env.sample", ".env.template"];

/// Larger example files are refused (an env example is a few kB).
const MAX_EXAMPLE_BYTES: u64 = 256 * 1024;

/// One key of an env example file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleKey {
    pub name: String,
    pub value: String,
    /// The comment lines right above it (and a trailing ` # comment`), without `#`.
    pub comment: String,
    /// Commented out (`# KEY=value`): the app runs without it.
    pub optional: bool,
    /// Where it is, relative to the monorepo root.
    pub file: String,
    pub line: usize,
}

/// Every key of the API's example files (first file first; a key once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Example {
    pub files: Vec<String>,
    pub keys: Vec<ExampleKey>,
}

/// A variable name as shells and compose accept it.
pub fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A commented-out key looks like `# NAME=value` with an upper-case name (so prose such as
/// `# see https://x?a=b` is not a key).
fn commented_key(body: &str) -> Option<(&str, &str)> {
    let (k, v) = body.split_once('=')?;
    let k = k.trim().trim_start_matches("export ").trim();
    let upper = k
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    // `# KEY= # comment` is a key; `# a = b` is prose
    let value_like = !v.starts_with(' ') || v.trim().is_empty() || v.trim_start().starts_with('#');
    (is_var_name(k) && upper && !k.starts_with('_') && value_like).then_some((k, v))
}

/// `value`, `"value"`, `'value'`, `value # comment` → (value, comment).
fn split_value(raw: &str) -> (String, String) {
    let raw = raw.trim();
    if let Some(c) = raw.strip_prefix('#') {
        return (String::new(), c.trim().to_string());
    }
    for q in ['"', '\''] {
        if let Some(rest) = raw.strip_prefix(q) {
            if let Some(end) = rest.find(q) {
                let comment = rest[end + 1..].trim().trim_start_matches('#').trim();
                let v = &rest[..end];
                let v = if q == '"' {
                    v.replace("\\n", "\n").replace("\\\"", "\"")
                } else {
                    v.to_string()
                };
                return (v, comment.to_string());
            }
        }
    }
    match raw.find(" #") {
        Some(i) => (raw[..i].trim().to_string(), raw[i + 2..].trim().to_string()),
        None => (raw.to_string(), String::new()),
    }
}

/// Parses one env example (dotenv syntax). Comment lines directly above a key (no blank line
/// between) are its comment.
pub fn parse_example(text: &str, file: &str) -> Vec<ExampleKey> {
    let mut out: Vec<ExampleKey> = Vec::new();
    // each name's place in `out`: a key is looked up once, not against every earlier key
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut pending: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            pending.clear();
            continue;
        }
        let (body, optional) = match t.strip_prefix('#') {
            Some(c) => match commented_key(c.trim_start()) {
                Some(_) => (c.trim_start(), true),
                None => {
                    let c = c.trim();
                    if ["--", "==", "**", "##"].iter().any(|h| c.starts_with(h)) {
                        // a section heading (`# --- Database ---`), not a key's comment
                        pending.clear();
                    } else if !c.is_empty() {
                        pending.push(c.to_string());
                    }
                    continue;
                }
            },
            None => (t, false),
        };
        let Some((k, v)) = body.split_once('=') else {
            pending.clear();
            continue;
        };
        let name = k.trim().trim_start_matches("export ").trim();
        if !is_var_name(name) {
            pending.clear();
            continue;
        }
        let (value, trailing) = split_value(v);
        let mut comment = pending.join(" ");
        if !trailing.is_empty() {
            if !comment.is_empty() {
                comment.push(' ');
            }
            comment.push_str(&trailing);
        }
        pending.clear();
        if let Some(prev) = index.get(name).map(|&i| &mut out[i]) {
            // `KEY=` after `# KEY=...` (or the reverse): set wins, the first comment stays
            prev.optional &= optional;
            if prev.value.is_empty() {
                prev.value = value;
            }
            continue;
        }
        index.insert(name.to_string(), out.len());
        out.push(ExampleKey {
            name: name.to_string(),
            value,
            comment,
            optional,
            file: file.to_string(),
            line: i + 1,
        });
    }
    out
}

/// Reads the API's example files (`<api_dir>/.env.example`, `.env.sample`, `.env.template`).
/// Read through [`crate::files::read_in`]: regular files inside the root, at most 256 kB each.
pub fn read_example(root: &Path, api_dir: &str) -> Result<Example> {
    use crate::files::{self, Refused};
    let mut ex = Example::default();
    let mut seen = std::collections::HashSet::new();
    for name in EXAMPLE_NAMES {
        let rel = if api_dir.is_empty() || api_dir == "." {
            name.to_string()
        } else {
            format!("{api_dir}/{name}")
        };
        // through the one reader: only a regular file inside the root (never a FIFO, a
        // device, /proc/self/environ, a link out of the monorepo or to its ignored .env)
        let text = match files::read_in(root, Path::new(&rel), MAX_EXAMPLE_BYTES) {
            Ok(t) => t,
            Err(Refused::Missing) => continue,
            Err(r) => return Err(files::refusal(Path::new(&rel), &r, MAX_EXAMPLE_BYTES)),
        };
        ex.files.push(rel.clone());
        for k in parse_example(&text, &rel) {
            if seen.insert(k.name.clone()) {
                ex.keys.push(k);
            }
        }
    }
    Ok(ex)
}
