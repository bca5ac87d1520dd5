//! `docker compose ps`: each service's state, and whether the stack is ready.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsRow {
    pub service: String,
    pub name: String,
    pub state: String,
    pub health: String,
    /// The last exit code (`None`: not known, e.g. a restarting container whose status line
    /// does not say it).
    pub exit_code: Option<i64>,
}

/// The exit code in the engine's status line of a restarting container: `Restarting (N) …`.
fn restarting_exit(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Restarting (")?;
    rest.split_once(')')?.0.trim().parse().ok()
}

fn exit_text(code: Option<i64>) -> String {
    code.map_or_else(|| "unknown".to_string(), |c| c.to_string())
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
            let state = s("State");
            // compose's ExitCode is 0 while the engine restarts a container that crashed;
            // the engine's own status line carries the last exit: "Restarting (1) 2 seconds ago"
            let exit_code = match state.as_str() {
                "restarting" => restarting_exit(&s("Status")),
                _ => v.get("ExitCode").and_then(Value::as_i64),
            };
            PsRow {
                service: s("Service"),
                name: s("Name"),
                state,
                health: s("Health"),
                exit_code,
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
            exit_text(r.exit_code)
        )),
        ("exited" | "dead", _) => Readiness::Failed(format!(
            "{} (exit code {})",
            r.state,
            exit_text(r.exit_code)
        )),
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
                Some(r)
                    if r.state == "exited" && r.exit_code == Some(0) && one_shots.contains(svc) =>
                {
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

/// The unhealthy services' readiness with what their last healthcheck probe said (from
/// `docker inspect`): `unhealthy (last probe exit 1: GET /health → 503)`.
pub fn with_last_probes(st: Vec<(String, Readiness)>, inspect: &Value) -> Vec<(String, Readiness)> {
    st.into_iter()
        .map(|(s, r)| match r {
            Readiness::Failed(x) if x == "unhealthy" => {
                let why = match service_last_probe(inspect, &s) {
                    Some(p) => format!("{x} ({p})"),
                    None => x,
                };
                (s, Readiness::Failed(why))
            }
            r => (s, r),
        })
        .collect()
}
