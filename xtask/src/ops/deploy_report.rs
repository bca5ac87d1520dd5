//! What a deploy reports (`--format json`): its steps, result, images and, with `[web]`, site
//! releases. Filled by [`super::deploy`] and [`super::deploy_swarm`].

use serde_json::{json, Value as Json};

/// One step of the run, for the report.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    pub secs: f64,
    pub detail: String,
}

impl Step {
    /// Ends a step begun at `t`: its progress line (`ok  name: detail` / `FAIL name: …`)
    /// and the step for the report.
    pub fn ended(name: &str, ok: bool, t: std::time::Instant, detail: String) -> (String, Step) {
        let line = format!(
            "{} {name}{}",
            if ok { "ok  " } else { "FAIL" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        );
        let step = Step {
            name: name.into(),
            ok,
            secs: t.elapsed().as_secs_f64(),
            detail,
        };
        (line, step)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub host: String,
    pub dir: String,
    pub action: &'static str,
    /// The image that was serving before.
    pub previous: Option<String>,
    pub image: String,
    /// `deployed`, `rolled-back` (the new one failed, the old one kept), `failed` (first
    /// deploy failed: nothing to keep).
    pub result: &'static str,
    pub failed_step: Option<String>,
    pub old_kept_serving: bool,
    pub steps: Vec<Step>,
    pub secs: f64,
    /// The failing container's last log lines.
    pub logs: String,
    pub new_container: Option<String>,
    /// With `[web]`: the site release serving after the run (`web.<id>`), and the one before.
    pub site: Option<String>,
    pub previous_site: Option<String>,
}

impl Report {
    pub fn to_json(&self) -> Json {
        json!({
            "host": self.host,
            "dir": self.dir,
            "action": self.action,
            "previous": self.previous,
            "image": self.image,
            "result": self.result,
            "failed_step": self.failed_step,
            "old_kept_serving": self.old_kept_serving,
            "new_container": self.new_container,
            "site": self.site,
            "previous_site": self.previous_site,
            "secs": (self.secs * 10.0).round() / 10.0,
            "steps": self.steps.iter().map(|s| json!({
                "step": s.name, "ok": s.ok, "secs": (s.secs * 100.0).round() / 100.0, "detail": s.detail,
            })).collect::<Vec<_>>(),
            "logs": self.logs,
        })
    }
}
