//! Findings + stage results → human text, JSON, GitHub annotations and job summary.
//!
//! # JSON schema (`cargo xtask verify --format json`), stable: `schema` changes on any
//! incompatible change; fields may be added.
//!
//! ```text
//! {
//!   "schema": "xtask-verify/1",
//!   "result": "pass" | "fail" | "error",      // error: a stage could not run
//!   "exit_code": 0 | 1 | 2,
//!   "static": bool,                           // --static was given
//!   "duration_ms": integer,
//!   "stages": [ { "name": "fresh" | "rules" | "compose" | "caddy" | "workflow" | "hadolint" | "image",
//!                 "status": "pass" | "fail" | "skipped" | "error",
//!                 "duration_ms": integer,
//!                 "detail": string,           // what ran, why skipped, or why it could not run
//!                 "findings": integer,        // after waivers
//!                 "waived": integer,
//!                 "checks": [ { "id": string, "ok": bool, "detail": string } ],
//!                                             // the image stage's smoke and inspection
//!                                             // checks, one by one (empty elsewhere)
//!                 "size": { "total", "groups": [ { "name", "bytes", "layers" } ],
//!                           "budget": { "total", "groups": [ { "name", "bytes" } ], "fails" },
//!                           "over": bool, "finding": { "rule", "severity", "line",
//!                           "message" } | null } | null } ],
//!                                             // the image stage's image size by layer
//!                                             // group (as build-image's); null elsewhere
//!   "findings": [ { "stage": string, "rule": string, "file": string, "line": integer,
//!                   "message": string } ],
//!   "waived":   [ { "stage", "rule", "file", "line", "message", "reason": string } ],
//!   "unused_waivers": [ { "rule": string, "file": string | null, "reason": string } ]
//! }
//! ```
//! `file` is relative to the monorepo root; `line` is 1-based (1 when the whole file is at fault).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use crate::config::Waiver;
use crate::image_check::CheckResult;
use crate::rules::{Finding, Severity, Waived};

/// How a command prints its report: text for people, or JSON (the same data) for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

impl std::str::FromStr for Format {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Format> {
        match s {
            "human" | "text" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            other => anyhow::bail!("--format {other:?}: use `human` or `json`"),
        }
    }
}

pub const SCHEMA: &str = "xtask-verify/1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// Not run, with the reason.
    Skipped(String),
    /// Could not run (missing tool, unreadable input), with the reason and the fix.
    Error(String),
}

impl Status {
    pub fn word(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped(_) => "skipped",
            Status::Error(_) => "error",
        }
    }
}

/// One stage's result.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: &'static str,
    pub status: Status,
    pub duration: Duration,
    /// What ran (for a stage that ran).
    pub detail: String,
    pub findings: Vec<Finding>,
    pub waived: Vec<Waived>,
    /// The checks it ran one by one, passed or not (the image stage's smoke and inspection
    /// checks; a failed one is also a finding).
    pub checks: Vec<CheckResult>,
    /// The image stage's image size by layer group against the budget (`None` elsewhere).
    pub size: Option<crate::image_size::SizeReport>,
}

impl Stage {
    /// A stage that ran: it fails when an error finding is left after the waivers (warnings
    /// are reported but do not fail it).
    pub fn ran(
        name: &'static str,
        duration: Duration,
        detail: String,
        findings: Vec<Finding>,
        waivers: &[Waiver],
    ) -> Stage {
        let (findings, waived) = crate::rules::apply_waivers(findings, waivers);
        let status = if findings.iter().all(|f| f.severity() == Severity::Warning) {
            Status::Pass
        } else {
            Status::Fail
        };
        Stage {
            name,
            status,
            duration,
            detail,
            findings,
            waived,
            checks: Vec::new(),
            size: None,
        }
    }

    pub fn not_run(name: &'static str, duration: Duration, status: Status) -> Stage {
        Stage {
            name,
            status,
            duration,
            detail: String::new(),
            findings: Vec::new(),
            waived: Vec::new(),
            checks: Vec::new(),
            size: None,
        }
    }

    fn detail_text(&self) -> String {
        match &self.status {
            Status::Skipped(r) => format!("skipped: {r}"),
            Status::Error(r) => format!("could not run: {r}"),
            _ => self.detail.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub stages: Vec<Stage>,
    pub unused_waivers: Vec<Waiver>,
    pub static_only: bool,
    pub duration: Duration,
}

impl Report {
    /// 0 all passed, 1 a check failed, 2 a check could not run.
    pub fn exit_code(&self) -> u8 {
        if self
            .stages
            .iter()
            .any(|s| matches!(s.status, Status::Error(_)))
        {
            2
        } else if self.stages.iter().any(|s| s.status == Status::Fail) {
            1
        } else {
            0
        }
    }

    pub fn result(&self) -> &'static str {
        ["pass", "fail", "error"][usize::from(self.exit_code())]
    }

    pub fn findings(&self) -> impl Iterator<Item = (&'static str, &Finding)> {
        self.stages
            .iter()
            .flat_map(|s| s.findings.iter().map(move |f| (s.name, f)))
    }

    pub fn waived(&self) -> impl Iterator<Item = (&'static str, &Waived)> {
        self.stages
            .iter()
            .flat_map(|s| s.waived.iter().map(move |w| (s.name, w)))
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Findings sorted by file, then line, grouped by file.
fn by_file<'a>(items: impl Iterator<Item = &'a Finding>) -> Vec<(String, Vec<&'a Finding>)> {
    let mut v: Vec<&Finding> = items.collect();
    v.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    let mut out: Vec<(String, Vec<&Finding>)> = Vec::new();
    for f in v {
        match out.last_mut() {
            Some((file, list)) if *file == f.file => list.push(f),
            _ => out.push((f.file.clone(), vec![f])),
        }
    }
    out
}

/// `warning: ` before a warning's message in the text outputs (errors have none).
fn warn_prefix(f: &Finding) -> &'static str {
    match f.severity() {
        Severity::Warning => "warning: ",
        Severity::Error => "",
    }
}

pub fn human(r: &Report) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "verify{}:", if r.static_only { " --static" } else { "" });
    for st in &r.stages {
        let _ = writeln!(
            w,
            "  {:<8} {:<8} {:>6} ms  {}",
            st.name,
            st.status.word(),
            ms(st.duration),
            st.detail_text()
        );
    }
    let groups = by_file(r.findings().map(|(_, f)| f));
    for (file, list) in &groups {
        let _ = writeln!(w, "\n{file}");
        for f in list {
            let _ = writeln!(
                w,
                "  {}:{}: [{}] {}{}",
                f.file,
                f.line,
                f.rule,
                warn_prefix(f),
                f.message
            );
        }
    }
    let waived: Vec<(&str, &Waived)> = r.waived().collect();
    if !waived.is_empty() {
        let _ = writeln!(w, "\nwaived (infra/stack.toml [[waiver]]):");
        for (_, d) in &waived {
            let f = &d.finding;
            let _ = writeln!(
                w,
                "  {}:{}: [{}] {} -- waived: {}",
                f.file, f.line, f.rule, f.message, d.reason
            );
        }
    }
    for u in &r.unused_waivers {
        let _ = writeln!(
            w,
            "\nnote: waiver for `{}`{} matched nothing; remove it from infra/stack.toml (reason given: {})",
            u.rule,
            u.file.as_deref().map(|f| format!(" in {f}")).unwrap_or_default(),
            u.reason
        );
    }
    let n: usize = r.stages.iter().map(|s| s.findings.len()).sum();
    let warnings = r
        .findings()
        .filter(|(_, f)| f.severity() == Severity::Warning)
        .count();
    let _ = writeln!(w);
    match r.exit_code() {
        0 => {
            let _ = writeln!(
                w,
                "PASS in {} ms ({} waived, {warnings} warning(s))",
                ms(r.duration),
                waived.len()
            );
        }
        1 => {
            let _ = writeln!(
                w,
                "FAIL: {n} finding(s) ({warnings} warning(s)) in {} file(s); fix them (a generated file: change infra/stack.toml, then `cargo xtask gen`), or waive one with a reason in infra/stack.toml",
                groups.len()
            );
        }
        _ => {
            let names: Vec<&str> = r
                .stages
                .iter()
                .filter(|s| matches!(s.status, Status::Error(_)))
                .map(|s| s.name)
                .collect();
            let _ = writeln!(w, "ERROR: stage(s) {} could not run (see above for the fix); {n} finding(s) otherwise", names.join(", "));
        }
    }
    s
}

pub fn json(r: &Report) -> Value {
    let finding = |stage: &str, f: &Finding| json!({ "stage": stage, "rule": f.rule, "severity": f.severity().word(), "file": f.file, "line": f.line, "message": f.message });
    json!({
        "schema": SCHEMA,
        "result": r.result(),
        "exit_code": r.exit_code(),
        "static": r.static_only,
        "duration_ms": ms(r.duration) as u64,
        "stages": r.stages.iter().map(|s| json!({
            "name": s.name,
            "status": s.status.word(),
            "duration_ms": ms(s.duration) as u64,
            "detail": s.detail_text(),
            "findings": s.findings.len(),
            "waived": s.waived.len(),
            "checks": s.checks,
            "size": s.size,
        })).collect::<Vec<_>>(),
        "findings": r.findings().map(|(st, f)| finding(st, f)).collect::<Vec<_>>(),
        "waived": r.waived().map(|(st, w)| {
            let mut v = finding(st, &w.finding);
            v["reason"] = json!(w.reason);
            v
        }).collect::<Vec<_>>(),
        "unused_waivers": r.unused_waivers.iter().map(|u| json!({ "rule": u.rule, "file": u.file, "reason": u.reason })).collect::<Vec<_>>(),
    })
}

/// SARIF 2.1.0 (as hadolint and zizmor emit it), for GitHub code scanning: one run, the
/// rules that have results in `tool.driver.rules` (id + rationale), one result per finding
/// at its file:line (`level` its severity: `error` or `warning`), waived findings as results with an external suppression and
/// the waiver's reason; a stage that could not run is a tool execution notification.
pub fn sarif(r: &Report) -> Value {
    let mut ids: Vec<&str> = r
        .findings()
        .map(|(_, f)| f.rule)
        .chain(r.waived().map(|(_, w)| w.finding.rule))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let rules: Vec<Value> = ids
        .iter()
        .map(|id| {
            let text = crate::rules::rationale(id).unwrap_or(id);
            json!({ "id": id, "shortDescription": { "text": text } })
        })
        .collect();
    let result = |f: &Finding| {
        json!({
            "ruleId": f.rule,
            "ruleIndex": ids.iter().position(|i| *i == f.rule).unwrap_or(0),
            "level": f.severity().word(),
            "message": { "text": f.message },
            "locations": [{ "physicalLocation": {
                "artifactLocation": { "uri": f.file },
                "region": { "startLine": f.line.max(1) }
            } }]
        })
    };
    let mut results: Vec<Value> = r.findings().map(|(_, f)| result(f)).collect();
    results.extend(r.waived().map(|(_, w)| {
        let mut v = result(&w.finding);
        v["suppressions"] = json!([{ "kind": "external", "justification": w.reason }]);
        v
    }));
    let notes: Vec<Value> = r
        .stages
        .iter()
        .filter_map(|s| match &s.status {
            Status::Error(why) => Some(json!({
                "level": "error",
                "message": { "text": format!("verify/{} could not run: {why}", s.name) }
            })),
            _ => None,
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "xtask-verify",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules
            } },
            "invocations": [{
                "executionSuccessful": r.exit_code() != 2,
                "toolExecutionNotifications": notes
            }],
            "results": results
        }]
    })
}

/// Escapes a workflow command's message.
pub fn esc_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn esc_prop(s: &str) -> String {
    esc_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=…,line=…,title=<rule id>::message` per finding (`::warning` for a warning), `::notice` per waived
/// finding, `::error title=verify/<stage>` per stage that could not run.
pub fn github_annotations(r: &Report) -> String {
    let mut s = String::new();
    for (_, f) in r.findings() {
        let _ = writeln!(
            s,
            "::{} file={},line={},title={}::{}",
            f.severity().word(),
            esc_prop(&f.file),
            f.line,
            esc_prop(f.rule),
            esc_data(&f.message)
        );
    }
    for (_, d) in r.waived() {
        let f = &d.finding;
        let _ = writeln!(
            s,
            "::notice file={},line={},title={} (waived)::{} -- waived: {}",
            esc_prop(&f.file),
            f.line,
            esc_prop(f.rule),
            esc_data(&f.message),
            esc_data(&d.reason)
        );
    }
    for st in &r.stages {
        if let Status::Error(why) = &st.status {
            let _ = writeln!(s, "::error title=verify/{}::{}", st.name, esc_data(why));
        }
    }
    s
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The markdown job summary (appended to `$GITHUB_STEP_SUMMARY`).
pub fn github_summary(r: &Report) -> String {
    let mut s = String::new();
    let w = &mut s;
    let icon = ["✅ pass", "❌ fail", "⚠️ could not run"][usize::from(r.exit_code())];
    let _ = writeln!(
        w,
        "## cargo xtask verify{}: {icon}\n",
        if r.static_only { " --static" } else { "" }
    );
    let _ = writeln!(
        w,
        "| stage | status | time | detail |\n| --- | --- | ---: | --- |"
    );
    for st in &r.stages {
        let _ = writeln!(
            w,
            "| {} | {} | {} ms | {} |",
            st.name,
            st.status.word(),
            ms(st.duration),
            md(&st.detail_text())
        );
    }
    let findings: Vec<(&str, &Finding)> = r.findings().collect();
    if !findings.is_empty() {
        let _ = writeln!(
            w,
            "\n### Findings\n\n| file:line | rule | message |\n| --- | --- | --- |"
        );
        for (_, f) in findings {
            let _ = writeln!(
                w,
                "| `{}:{}` | `{}` | {}{} |",
                f.file,
                f.line,
                f.rule,
                warn_prefix(f),
                md(&f.message)
            );
        }
    }
    let waived: Vec<(&str, &Waived)> = r.waived().collect();
    if !waived.is_empty() {
        let _ = writeln!(
            w,
            "\n### Waived\n\n| file:line | rule | reason |\n| --- | --- | --- |"
        );
        for (_, d) in waived {
            let _ = writeln!(
                w,
                "| `{}:{}` | `{}` | {} |",
                d.finding.file,
                d.finding.line,
                d.finding.rule,
                md(&d.reason)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let f = Finding {
            rule: "compose/port-loopback",
            file: "infra/c.yml".into(),
            line: 48,
            message: "a, b: 100%\nx".into(),
        };
        let waivers = vec![Waiver {
            rule: "caddy/upstream".into(),
            file: None,
            reason: "on purpose".into(),
        }];
        let w = Finding {
            rule: "caddy/upstream",
            file: "infra/Caddyfile".into(),
            line: 3,
            message: "m".into(),
        };
        Report {
            stages: vec![
                Stage::ran(
                    "fresh",
                    Duration::from_millis(3),
                    "5 fresh".into(),
                    vec![],
                    &waivers,
                ),
                Stage::ran(
                    "rules",
                    Duration::from_millis(2),
                    "35 rules".into(),
                    vec![f, w],
                    &waivers,
                ),
                Stage::not_run(
                    "caddy",
                    Duration::ZERO,
                    Status::Error("caddy not found on PATH: install it".into()),
                ),
            ],
            unused_waivers: vec![],
            static_only: true,
            duration: Duration::from_millis(9),
        }
    }

    /// A report whose only finding is a warning (`caddy/wildcard-site`).
    fn warning_only() -> Report {
        let f = Finding {
            rule: "caddy/wildcard-site",
            file: "infra/Caddyfile".into(),
            line: 7,
            message: "set caddy.domains".into(),
        };
        Report {
            stages: vec![Stage::ran(
                "rules",
                Duration::from_millis(2),
                "61 rules".into(),
                vec![f],
                &[],
            )],
            unused_waivers: vec![],
            static_only: true,
            duration: Duration::from_millis(4),
        }
    }

    #[test]
    fn a_warning_is_shown_everywhere_but_does_not_fail() {
        let r = warning_only();
        assert_eq!(r.stages[0].status, Status::Pass);
        assert_eq!(r.exit_code(), 0);
        let h = human(&r);
        assert!(
            h.contains("infra/Caddyfile:7: [caddy/wildcard-site] warning: set caddy.domains"),
            "{h}"
        );
        assert!(h.contains("PASS in 4 ms (0 waived, 1 warning(s))"), "{h}");
        let j = json(&r);
        assert_eq!(j["result"], "pass");
        assert_eq!(j["findings"][0]["severity"], "warning");
        let a = github_annotations(&r);
        assert!(
            a.starts_with("::warning file=infra/Caddyfile,line=7,title=caddy/wildcard-site::"),
            "{a}"
        );
        let v = sarif(&r);
        assert_eq!(v["runs"][0]["results"][0]["level"], "warning");
        // an error finding next to it still fails, and is still `error`
        let e = sample();
        assert_eq!(json(&e)["findings"][0]["severity"], "error");
        assert_eq!(sarif(&e)["runs"][0]["results"][0]["level"], "error");
    }

    #[test]
    fn a_warning_is_waivable() {
        let mut r = warning_only();
        let waivers = vec![Waiver {
            rule: "caddy/wildcard-site".into(),
            file: None,
            reason: "no domain yet".into(),
        }];
        let f = r.stages[0].findings.clone();
        r.stages[0] = Stage::ran("rules", Duration::ZERO, String::new(), f, &waivers);
        assert!(r.stages[0].findings.is_empty());
        assert_eq!(json(&r)["waived"][0]["severity"], "warning");
    }

    #[test]
    fn exit_codes() {
        let mut r = sample();
        assert_eq!(r.exit_code(), 2);
        r.stages.pop();
        assert_eq!(r.exit_code(), 1);
        r.stages[1].findings.clear();
        r.stages[1].status = Status::Pass;
        assert_eq!(r.exit_code(), 0);
    }

    #[test]
    fn human_groups_by_file_and_lists_waivers() {
        let h = human(&sample());
        assert!(h.contains("  rules    fail          2 ms  35 rules"), "{h}");
        assert!(
            h.contains("\ninfra/c.yml\n  infra/c.yml:48: [compose/port-loopback] a, b"),
            "{h}"
        );
        assert!(
            h.contains("[caddy/upstream] m -- waived: on purpose"),
            "{h}"
        );
        assert!(h.contains("could not run: caddy not found"), "{h}");
    }

    #[test]
    fn json_schema_fields() {
        let j = json(&sample());
        assert_eq!(j["schema"], SCHEMA);
        assert_eq!(j["exit_code"], 2);
        assert_eq!(j["result"], "error");
        assert_eq!(j["stages"][1]["findings"], 1);
        assert_eq!(j["stages"][1]["waived"], 1);
        assert_eq!(j["findings"][0]["line"], 48);
        assert_eq!(j["waived"][0]["reason"], "on purpose");
        assert_eq!(j["stages"][2]["status"], "error");
    }

    #[test]
    fn annotations_escape() {
        let a = github_annotations(&sample());
        assert!(
            a.contains(
                "::error file=infra/c.yml,line=48,title=compose/port-loopback::a, b: 100%25%0Ax\n"
            ),
            "{a}"
        );
        assert!(a.contains("::notice file=infra/Caddyfile,line=3,title=caddy/upstream (waived)::m -- waived: on purpose"), "{a}");
        assert!(
            a.contains("::error title=verify/caddy::caddy not found"),
            "{a}"
        );
        let s = github_summary(&sample());
        assert!(s.contains("| rules | fail | 2 ms |"), "{s}");
        assert!(
            s.contains("| `infra/c.yml:48` | `compose/port-loopback` |"),
            "{s}"
        );
    }

    #[test]
    fn sarif_has_results_rules_and_suppressions() {
        let r = sample();
        let v = sarif(&r);
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let results = run["results"].as_array().expect("results");
        let ids: Vec<&str> = results
            .iter()
            .map(|x| x["ruleId"].as_str().unwrap_or(""))
            .collect();
        assert!(ids.contains(&"compose/port-loopback"), "{ids:?}");
        let open = results
            .iter()
            .find(|x| x["ruleId"] == "compose/port-loopback")
            .expect("finding");
        let loc = &open["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "infra/c.yml");
        assert_eq!(loc["region"]["startLine"], 48);
        assert!(open.get("suppressions").is_none());
        let waived = results
            .iter()
            .find(|x| x["ruleId"] == "caddy/upstream")
            .expect("waived finding kept, suppressed");
        assert_eq!(waived["suppressions"][0]["justification"], "on purpose");
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        for x in results {
            let i = x["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(rules[i]["id"], x["ruleId"]);
        }
    }
}
