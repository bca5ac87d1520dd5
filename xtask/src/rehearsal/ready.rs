//! `docker compose ps`: each service's state, and whether the stack is ready.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsRow {
    pub service: String,
    pub name: String,
    pub state: String,
    pub health: String,
    pub exit_code: i64,
}

/// Parses `docker compose ps --format json`: one object per line (compose >= 2.21) or one array.
pub fn parse_ps(text: &str) -> Result<Vec<PsRow>> {
    let t = text.trim();
    let values: Vec<Value> = if t.is_empty() {
        Vec::new()
    } else if t.starts_with('[') {
        serde_json::from_str(t).context("`docker compose ps --format json` printed bad JSON")?
    } else {
        t.lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()
            .context("`docker compose ps --format json` printed bad JSON")?
    };
    Ok(values
        .iter()
        .map(|v| {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            PsRow {
                service: s("Service"),
                name: s("Name"),
                state: s("State"),
                health: s("Health"),
                exit_code: v.get("ExitCode").and_then(Value::as_i64).unwrap_or(0),
            }
        })
        .collect())
}

/// Where one service stands while the rehearsal waits for the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready(String),
    Pending(String),
    Failed(String),
}

/// A service's readiness from its `ps` row: healthy when it has a healthcheck, else running.
pub fn readiness(row: Option<&PsRow>, healthcheck: bool) -> Readiness {
    let Some(r) = row else {
        return Readiness::Pending("not created yet".into());
    };
    match (r.state.as_str(), r.health.as_str()) {
        ("running", "healthy") => Readiness::Ready("healthy".into()),
        ("running", "unhealthy") => Readiness::Failed("unhealthy".into()),
        ("running", "starting") => Readiness::Pending("starting (health: starting)".into()),
        ("running", _) if !healthcheck => Readiness::Ready("running (no healthcheck)".into()),
        ("running", _) => Readiness::Pending("running, no health status yet".into()),
        ("created", _) => Readiness::Pending("created, waiting for its dependencies".into()),
        ("restarting", _) => Readiness::Failed(format!(
            "restarting (crashed, last exit code {})",
            r.exit_code
        )),
        ("exited" | "dead", _) => {
            Readiness::Failed(format!("{} (exit code {})", r.state, r.exit_code))
        }
        ("paused", _) => Readiness::Failed("paused".into()),
        (other, _) => Readiness::Pending(other.to_string()),
    }
}

/// The readiness of every expected service: (service, healthcheck?) → (service, readiness).
/// A one-shot service (the migration) is done, not failed, once it exited 0.
pub fn stack_readiness(
    rows: &[PsRow],
    expected: &[(String, bool)],
    one_shots: &[String],
) -> Vec<(String, Readiness)> {
    expected
        .iter()
        .map(|(svc, hc)| {
            let row = rows.iter().find(|r| &r.service == svc);
            let r = match row {
                Some(r) if r.state == "exited" && r.exit_code == 0 && one_shots.contains(svc) => {
                    Readiness::Ready("completed (exit code 0)".into())
                }
                _ => readiness(row, *hc),
            };
            (svc.clone(), r)
        })
        .collect()
}

/// The services another waits for with `service_completed_successfully`: run once, to completion.
pub fn one_shots(services: &[FileService]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (dep, cond) in services.iter().flat_map(|s| &s.depends_on) {
        if cond == "service_completed_successfully" && !out.contains(dep) {
            out.push(dep.clone());
        }
    }
    out
}
