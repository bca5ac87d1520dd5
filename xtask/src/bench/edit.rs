//! The changes the benchmark makes to its copy of the monorepo, as pure text edits: a
//! source-only change, a dependency change, and private cache mounts for a cold build.

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

/// A source-only change: a comment appended (the compiled output changes nothing).
pub fn touch_source(text: &str, n: usize) -> String {
    let sep = if text.ends_with('\n') || text.is_empty() {
        ""
    } else {
        "\n"
    };
    format!("{text}{sep}// xtask bench: source-only change {n}\n")
}

/// Small dependencies with no dependencies of their own, tried in order: the first the
/// manifest does not already name is added.
pub const CANDIDATES: &[(&str, &str)] = &[
    ("ms", "^2.1.3"),
    ("kleur", "^4.1.5"),
    ("picocolors", "^1.1.1"),
];

fn names(v: &Json) -> Vec<String> {
    let mut out = Vec::new();
    for f in [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        if let Some(m) = v.get(f).and_then(Json::as_object) {
            out.extend(m.keys().cloned());
        }
    }
    out
}

/// Adds the first of [`CANDIDATES`] the manifest does not name to its `dependencies`,
/// editing the text in place (key order and layout kept). Returns the new text and the
/// dependency added.
pub fn add_dependency(text: &str) -> Result<(String, (String, String))> {
    let v: Json = serde_json::from_str(text).context("the API's package.json is not JSON")?;
    let have = names(&v);
    let Some((name, spec)) = CANDIDATES
        .iter()
        .find(|(n, _)| !have.iter().any(|h| h == n))
    else {
        bail!("the API's package.json already names every candidate dependency ({CANDIDATES:?}); nothing to add");
    };
    let entry = format!("\"{name}\": \"{spec}\"");
    let out = match find_object(text, "dependencies") {
        Some(open) => {
            let rest = &text[open + 1..];
            let empty = rest.trim_start().starts_with('}');
            let sep = if empty { "" } else { "," };
            format!("{}\n    {entry}{sep}{}", &text[..open + 1], rest)
        }
        None => {
            let open = text
                .find('{')
                .context("the API's package.json holds no object")?;
            let rest = &text[open + 1..];
            let empty = rest.trim_start().starts_with('}');
            let sep = if empty { "" } else { "," };
            format!(
                "{}\n  \"dependencies\": {{ {entry} }}{sep}{}",
                &text[..open + 1],
                rest
            )
        }
    };
    let check: Json =
        serde_json::from_str(&out).context("adding the dependency broke package.json (a bug)")?;
    if check
        .get("dependencies")
        .and_then(|d| d.get(*name))
        .and_then(Json::as_str)
        != Some(*spec)
    {
        bail!("could not add {name} to the API's package.json (a bug)");
    }
    Ok((out, (name.to_string(), spec.to_string())))
}

/// The byte offset of the `{` opening the top-level `"key": {` of a JSON text.
fn find_object(text: &str, key: &str) -> Option<usize> {
    let needle = format!("\"{key}\"");
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                if depth == 1 && text[i..].starts_with(&needle) {
                    let after = text[i + needle.len()..].trim_start();
                    if let Some(v) = after.strip_prefix(':') {
                        let v = v.trim_start();
                        if v.starts_with('{') {
                            return Some(text.len() - v.len());
                        }
                    }
                }
                in_str = true;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Gives every `--mount=type=cache` of a Dockerfile a private id (`<id or target>-<suffix>`),
/// so that a build starts with empty cache mounts without emptying anybody else's.
/// Returns the new text and how many mounts were renamed.
pub fn private_cache_mounts(dockerfile: &str, suffix: &str) -> (String, usize) {
    let mut n = 0;
    let mut out = String::with_capacity(dockerfile.len() + 64);
    let mut rest = dockerfile;
    while let Some(i) = rest.find("--mount=") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let end = from.find(|c: char| c.is_whitespace()).unwrap_or(from.len());
        let flag = &from[..end];
        let opts: Vec<&str> = flag["--mount=".len()..].split(',').collect();
        if opts.contains(&"type=cache") {
            let target = opts
                .iter()
                .find_map(|o| o.strip_prefix("target=").or_else(|| o.strip_prefix("dst=")))
                .unwrap_or("cache");
            let id = opts
                .iter()
                .find_map(|o| o.strip_prefix("id="))
                .unwrap_or(target);
            let new_id = format!("id={}-{suffix}", id.trim_matches('/').replace('/', "-"));
            let mut new: Vec<String> = opts
                .iter()
                .filter(|o| !o.starts_with("id="))
                .map(|o| o.to_string())
                .collect();
            new.insert(1.min(new.len()), new_id);
            out.push_str(&format!("--mount={}", new.join(",")));
            n += 1;
        } else {
            out.push_str(flag);
        }
        rest = &from[end..];
    }
    out.push_str(rest);
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_change_appends_a_comment() {
        assert_eq!(
            touch_source("x", 1),
            "x\n// xtask bench: source-only change 1\n"
        );
        assert_eq!(
            touch_source("x\n", 2),
            "x\n// xtask bench: source-only change 2\n"
        );
    }

    #[test]
    fn dependency_is_added_in_place() {
        let text = "{\n  \"name\": \"@cipherbox/api\",\n  \"scripts\": { \"dependencies\": \"x\" },\n  \"dependencies\": {\n    \"pg\": \"^8.23.1\"\n  },\n  \"devDependencies\": { \"ms\": \"1\" }\n}\n";
        let (out, (name, spec)) = add_dependency(text).expect("added");
        assert_eq!((name.as_str(), spec.as_str()), ("kleur", "^4.1.5"));
        assert!(
            out.contains("\"dependencies\": {\n    \"kleur\": \"^4.1.5\",\n    \"pg\""),
            "{out}"
        );
        assert!(
            out.starts_with("{\n  \"name\": \"@cipherbox/api\",\n  \"scripts\""),
            "{out}"
        );

        let (out, _) = add_dependency("{\"name\":\"a\",\"dependencies\":{}}").expect("added");
        let v: Json = serde_json::from_str(&out).expect("json");
        assert_eq!(v["dependencies"]["ms"], "^2.1.3");

        let (out, _) = add_dependency("{\"name\":\"a\"}").expect("added");
        let v: Json = serde_json::from_str(&out).expect("json");
        assert_eq!(v["dependencies"]["ms"], "^2.1.3");
        assert_eq!(v["name"], "a");

        let (out, _) = add_dependency("{}").expect("added");
        assert!(serde_json::from_str::<Json>(&out).is_ok(), "{out}");

        assert!(add_dependency("not json").is_err());
        assert!(add_dependency(
            "{\"dependencies\":{\"ms\":\"1\",\"kleur\":\"1\",\"picocolors\":\"1\"}}"
        )
        .is_err());
    }

    #[test]
    fn cache_mounts_get_private_ids() {
        let df = "RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \\\n    --mount=type=secret,id=npmrc,target=/app/.npmrc \\\n    pnpm install\nRUN --mount=type=cache,target=/root/.cache x\nRUN echo --mount=nothing\n";
        let (out, n) = private_cache_mounts(df, "b42");
        assert_eq!(n, 2);
        assert!(out.starts_with(
            "RUN --mount=type=cache,id=pnpm-store-b42,target=/pnpm/store \\\n    --mount=type=secret,id=npmrc,target=/app/.npmrc"
        ), "{out}");
        assert!(
            out.contains("RUN --mount=type=cache,id=root-.cache-b42,target=/root/.cache x"),
            "{out}"
        );
        assert!(out.ends_with("RUN echo --mount=nothing\n"), "{out}");
        assert_eq!(
            private_cache_mounts("FROM x\n", "s"),
            ("FROM x\n".into(), 0)
        );
    }
}
