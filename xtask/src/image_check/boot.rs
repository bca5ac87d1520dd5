//! The API started in isolation: what one health probe's answer means, and why it exited at
//! boot when it did (from its log).

use super::{CheckResult, Expect};

/// What one `GET <health path>` of the smoke container gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthProbe {
    /// An HTTP answer: (status, body).
    Answer(u16, String),
    /// No HTTP answer yet (connection refused, reset, timeout): why.
    NoAnswer(String),
}

/// A definite HTTP answer ends the wait: the configured status is healthy; any other status
/// proves the API started and listens (its dependencies may be absent or not started: a 503
/// from a deep health check counts as started; the deep check belongs to the rehearsal).
/// `None`: no answer yet, keep waiting.
pub fn judge_health(p: &HealthProbe, e: &Expect, addr: &str, secs: f64) -> Option<CheckResult> {
    const ID: &str = "image/health";
    let HealthProbe::Answer(code, body) = p else {
        return None;
    };
    let excerpt: String = body.chars().take(80).collect();
    let path = &e.health_path;
    Some(if *code == e.health_status {
        CheckResult::pass(
            ID,
            format!("GET http://{addr}{path} -> {code} (healthy) after {secs:.1}s: {excerpt}"),
        )
    } else if e.dependencies.is_empty() {
        CheckResult::pass(
            ID,
            format!(
                "GET http://{addr}{path} -> {code} after {secs:.1}s: the API started and listens \
                 (not {}: in isolation its dependencies are absent; the rehearsal checks health for real): {excerpt}",
                e.health_status
            ),
        )
    } else {
        CheckResult::pass(
            ID,
            format!(
                "GET http://{addr}{path} -> {code} after {secs:.1}s: the API started and listens, \
                 not healthy ({} wanted) with {} running: {excerpt}",
                e.health_status,
                e.dependencies.join(", ")
            ),
        )
    })
}

/// Why the API exited at boot, from its log: the contract variable (or any `UPPER_CASE`
/// name in quotes) a line next to "required", "missing", "must", "invalid", "not set",
/// "undefined" names; else a module node could not find; else the last error line.
pub fn boot_failure(log: &str, contract_keys: &[String]) -> String {
    const WORDS: &[&str] = &[
        "required",
        "missing",
        "must",
        "invalid",
        "not set",
        "undefined",
        "not allowed",
        "expected",
    ];
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let is_ident = |w: &str| {
        w.len() >= 3
            && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && w.contains('_')
    };
    let mut names: Vec<String> = Vec::new();
    for l in &lines {
        let lower = l.to_ascii_lowercase();
        if !WORDS.iter().any(|w| lower.contains(w)) {
            continue;
        }
        for w in l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let known = contract_keys.iter().any(|k| k == w);
            if (known || is_ident(w)) && !names.iter().any(|n| n == w) {
                names.push(w.to_string());
            }
        }
    }
    let line_of = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .map(|l| l.chars().take(200).collect::<String>())
            .unwrap_or_default()
    };
    if !names.is_empty() {
        let first = line_of(&names[0]);
        return format!(
            "the API exited at boot; its log names {}: {first}",
            names.join(", ")
        );
    }
    if let Some(l) = lines.iter().find(|l| l.contains("Cannot find module")) {
        let module = l.split('\'').nth(1).unwrap_or("").to_string();
        return format!(
            "the API exited at boot: node cannot find module {module:?}: {}",
            l.chars().take(200).collect::<String>()
        );
    }
    let last = lines
        .iter()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or(lines.last())
        .map(|l| l.chars().take(200).collect::<String>())
        .unwrap_or_else(|| "(no log output)".into());
    format!("the API exited at boot: {last}")
}
