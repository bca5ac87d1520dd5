//! Findings of the third-party linters verify runs (actionlint, zizmor, hadolint), read from
//! their JSON output into the report's findings: `<tool>/<their rule id>` at file:line, so
//! they are waived, annotated and exported (JSON, SARIF) like every rule. Pure.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::Value as Json;

use super::Finding;

/// The prefixes of the linters' rule ids.
pub const PREFIXES: &[&str] = &["actionlint/", "zizmor/", "hadolint/"];

/// A linter's rule id as `&'static str` (the report's type): each distinct id is leaked
/// once (a handful per run).
pub fn intern(id: &str) -> &'static str {
    static IDS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut ids = IDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = ids.get(id) {
        return s;
    }
    let s: &'static str = Box::leak(id.to_string().into_boxed_str());
    ids.insert(s);
    s
}

/// `actionlint/<kind>`, `zizmor/<audit>`, `hadolint/<DL3008|SC2086>`: a waiver may name one.
pub fn is_external_id(id: &str) -> bool {
    PREFIXES.iter().any(|p| {
        id.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    })
}

fn id(prefix: &str, name: &str) -> &'static str {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    intern(&format!(
        "{prefix}{}",
        if clean.is_empty() { "unknown" } else { &clean }
    ))
}

fn array(stdout: &str, tool: &str) -> Result<Vec<Json>, String> {
    let t = stdout.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<Json>(t) {
        Ok(Json::Array(a)) => Ok(a),
        Ok(Json::Null) => Ok(Vec::new()),
        Ok(_) => Err(format!("{tool} printed JSON that is not an array")),
        Err(e) => Err(format!("{tool} did not print JSON ({e})")),
    }
}

fn line_of(v: &Json) -> usize {
    v.as_u64().map(|n| n as usize).unwrap_or(1).max(1)
}

/// `actionlint -format '{{json .}}'`: `[{message, filepath, line, column, kind}]`.
pub fn actionlint(stdout: &str, file: &str) -> Result<Vec<Finding>, String> {
    Ok(array(stdout, "actionlint")?
        .iter()
        .map(|e| Finding {
            rule: id("actionlint/", e["kind"].as_str().unwrap_or("")),
            file: file.to_string(),
            line: line_of(&e["line"]),
            message: e["message"].as_str().unwrap_or("").to_string(),
        })
        .collect())
}

/// `zizmor --format json` (v1): `[{ident, desc, determinations{severity, confidence},
/// locations[{symbolic{kind, annotation}, concrete{location{start_point{row (0-based)}}}}]}]`;
/// the primary location gives the line.
pub fn zizmor(stdout: &str, file: &str) -> Result<Vec<Finding>, String> {
    Ok(array(stdout, "zizmor")?
        .iter()
        .map(|f| {
            let locs = f["locations"].as_array().cloned().unwrap_or_default();
            let primary = locs
                .iter()
                .find(|l| l["symbolic"]["kind"] == "Primary")
                .or(locs.first())
                .cloned()
                .unwrap_or(Json::Null);
            let row = primary["concrete"]["location"]["start_point"]["row"]
                .as_u64()
                .map(|r| r as usize + 1)
                .unwrap_or(1);
            let annotation = primary["symbolic"]["annotation"].as_str().unwrap_or("");
            let d = &f["determinations"];
            Finding {
                rule: id("zizmor/", f["ident"].as_str().unwrap_or("")),
                file: file.to_string(),
                line: row,
                message: format!(
                    "{}: {annotation} (severity {}, confidence {})",
                    f["desc"].as_str().unwrap_or(""),
                    d["severity"].as_str().unwrap_or("?"),
                    d["confidence"].as_str().unwrap_or("?"),
                ),
            }
        })
        .collect())
}

/// `hadolint --format json`: `[{code, line, level, message}]`.
pub fn hadolint(stdout: &str, file: &str) -> Result<Vec<Finding>, String> {
    Ok(array(stdout, "hadolint")?
        .iter()
        .map(|e| Finding {
            rule: id("hadolint/", e["code"].as_str().unwrap_or("")),
            file: file.to_string(),
            line: line_of(&e["line"]),
            message: format!(
                "{} ({})",
                e["message"].as_str().unwrap_or(""),
                e["level"].as_str().unwrap_or("?")
            ),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_checked() {
        assert!(is_external_id("zizmor/unpinned-uses"));
        assert!(is_external_id("hadolint/DL3008"));
        assert!(is_external_id("actionlint/syntax-check"));
        assert!(!is_external_id("zizmor/"));
        assert!(!is_external_id("zizmor/a b"));
        assert!(!is_external_id("other/x"));
        assert!(std::ptr::eq(intern("zizmor/x"), intern("zizmor/x")));
    }

    #[test]
    fn actionlint_json() {
        let out = r#"[{"message":"label \"x\" is unknown","filepath":"w.yml","line":15,"column":15,"kind":"runner-label","snippet":"","end_column":16}]"#;
        let f = actionlint(out, "w.yml").expect("parses");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "actionlint/runner-label");
        assert_eq!(f[0].line, 15);
        assert!(actionlint("", "w.yml").expect("empty").is_empty());
        assert!(actionlint("not json", "w.yml").is_err());
    }

    #[test]
    fn zizmor_json_lines_are_one_based() {
        let out = r#"[{"ident":"artipacked","desc":"credential persistence","determinations":{"confidence":"Low","severity":"Medium"},"locations":[{"symbolic":{"kind":"Related","annotation":"r"},"concrete":{"location":{"start_point":{"row":1}}}},{"symbolic":{"kind":"Primary","annotation":"does not set persist-credentials: false"},"concrete":{"location":{"start_point":{"row":5,"column":8}}}}],"ignored":false}]"#;
        let f = zizmor(out, ".github/workflows/x.yml").expect("parses");
        assert_eq!(f[0].rule, "zizmor/artipacked");
        assert_eq!(f[0].line, 6);
        assert!(
            f[0].message.contains("persist-credentials"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn hadolint_json() {
        let out = r#"[{"code":"DL3000","column":1,"file":"/tmp/df","level":"error","line":3,"message":"Use absolute WORKDIR"}]"#;
        let f = hadolint(out, "infra/api.Dockerfile").expect("parses");
        assert_eq!(f[0].rule, "hadolint/DL3000");
        assert_eq!((f[0].file.as_str(), f[0].line), ("infra/api.Dockerfile", 3));
    }
}
