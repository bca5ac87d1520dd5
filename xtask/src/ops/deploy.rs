//! Runs a deploy on a compose host over SSH: upload, pull, migrate, then the API rolled
//! start-first (the new container beside the old, health-gated), or rolled back.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::deploy::{
    next_history, parse_history, render_history, render_override, rollback_target, API_SERVICE,
    ENV_FILE, HISTORY_FILE, OVERRIDE_FILE, STATE_DIR,
};
use crate::tools::ssh::{command_line, Ssh};

/// A local file and where it goes in the deploy directory.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub local: PathBuf,
    pub upload: crate::deploy::Upload,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The deploy directory on the host (absolute).
    pub dir: String,
    /// The image to deploy (ignored with `rollback`).
    pub image: Option<String>,
    pub rollback: bool,
    pub files: Vec<LocalFile>,
    /// Compose files, in order, as names in the deploy directory (the deploy's override is
    /// added last).
    pub compose_files: Vec<String>,
    /// The migration service to run before the API is rolled (when present on the host).
    pub migrate: Option<String>,
    /// The services the first bring-up starts (empty: all).
    pub services: Vec<String>,
    pub timeout: Duration,
    /// How long the old container gets to finish its requests after SIGTERM.
    pub grace_secs: u64,
    /// Print progress to stderr.
    pub echo: bool,
}

/// One step of the run, for the report.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    pub secs: f64,
    pub detail: String,
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
            "secs": (self.secs * 10.0).round() / 10.0,
            "steps": self.steps.iter().map(|s| json!({
                "step": s.name, "ok": s.ok, "secs": (s.secs * 100.0).round() / 100.0, "detail": s.detail,
            })).collect::<Vec<_>>(),
            "logs": self.logs,
        })
    }
}

struct Run<'a> {
    ssh: &'a Ssh,
    o: &'a Options,
    report: Report,
    start: Instant,
}

impl Run<'_> {
    fn say(&self, msg: &str) {
        if self.o.echo {
            eprintln!(
                "deploy [{:>5.1}s] {msg}",
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    fn step(&mut self, name: &str, ok: bool, t: Instant, detail: impl Into<String>) {
        let detail = detail.into();
        self.say(&format!(
            "{} {name}{}",
            if ok { "ok  " } else { "FAIL" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        ));
        self.report.steps.push(Step {
            name: name.into(),
            ok,
            secs: t.elapsed().as_secs_f64(),
            detail,
        });
    }

    fn compose_argv(&self, args: &[&str]) -> Vec<String> {
        let d = &self.o.dir;
        let mut v: Vec<String> = vec![
            "docker".into(),
            "compose".into(),
            "--project-directory".into(),
            d.clone(),
            "--env-file".into(),
            format!("{d}/{}", ENV_FILE),
        ];
        for f in &self.o.compose_files {
            v.push("-f".into());
            v.push(format!("{d}/{f}"));
        }
        v.push("-f".into());
        v.push(format!("{d}/{OVERRIDE_FILE}"));
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    fn compose(&self, args: &[&str]) -> Result<crate::tools::Captured> {
        self.ssh.run(&self.compose_argv(args))
    }

    fn docker(&self, args: &[&str]) -> Result<crate::tools::Captured> {
        let mut v = vec!["docker"];
        v.extend_from_slice(args);
        self.ssh.run(&v)
    }

    fn write_override(&self, image: &str) -> Result<()> {
        self.ssh.upload(
            render_override(image)?.as_bytes(),
            &format!("{}/{OVERRIDE_FILE}", self.o.dir),
            "644",
        )
    }

    fn api_containers(&self) -> Result<Vec<String>> {
        let c = self.compose(&["ps", "-q", API_SERVICE])?;
        if !c.ok() {
            bail!("docker compose ps on the host: {}", c.detail());
        }
        Ok(c.stdout.split_whitespace().map(String::from).collect())
    }

    fn logs(&self, id: &str) -> String {
        match self.docker(&["logs", "--tail", "80", id]) {
            Ok(c) => format!("{}{}", c.stdout, c.stderr),
            Err(e) => format!("(no logs: {e:#})"),
        }
    }

    /// Waits for `id`'s healthcheck: Ok(()) healthy, Err(why) otherwise.
    fn wait_healthy(&self, id: &str) -> Result<std::result::Result<(), String>> {
        let deadline = Instant::now() + self.o.timeout;
        loop {
            let c = self.docker(&["inspect", "--format", "{{json .State}}", id])?;
            if !c.ok() {
                return Ok(Err(format!("the container is gone: {}", c.detail())));
            }
            let st: Json = serde_json::from_str(c.stdout.trim()).unwrap_or(Json::Null);
            let status = st["Status"].as_str().unwrap_or("");
            let health = st["Health"]["Status"].as_str();
            match (status, health) {
                (_, Some("healthy")) if status == "running" => return Ok(Ok(())),
                ("running", None) => {
                    return Ok(Err(
                        "the API service has no healthcheck: a rollout cannot be health-gated"
                            .into(),
                    ))
                }
                ("exited" | "dead", _) => {
                    return Ok(Err(format!(
                        "it exited (code {}) before becoming healthy",
                        st["ExitCode"]
                    )))
                }
                ("restarting", _) => {
                    return Ok(Err(format!(
                        "it is restarting (exited with code {}) before becoming healthy",
                        st["ExitCode"]
                    )))
                }
                (_, Some("unhealthy")) => {
                    let last = st["Health"]["Log"]
                        .as_array()
                        .and_then(|l| l.last())
                        .and_then(|l| l["Output"].as_str())
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    return Ok(Err(format!("its healthcheck failed: {last}")));
                }
                _ => {}
            }
            if Instant::now() > deadline {
                return Ok(Err(format!(
                    "not healthy within {} s (state {status}, health {})",
                    self.o.timeout.as_secs(),
                    health.unwrap_or("none")
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Uploads the generated files (and the env file) into `dir` on the host, each with its mode.
pub(super) fn upload_files(ssh: &Ssh, dir: &str, files: &[LocalFile]) -> Result<()> {
    for f in files {
        let bytes = std::fs::read(&f.local)
            .with_context(|| format!("cannot read {}", f.local.display()))?;
        ssh.upload(&bytes, &format!("{dir}/{}", f.upload.name), f.upload.mode)?;
    }
    Ok(())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs the deploy. `Ok(report)` with `result` = deployed / rolled-back / failed; `Err` when
/// it could not run (host unreachable, no compose there, nothing to roll back to).
pub fn run(ssh: &Ssh, o: &Options) -> Result<Report> {
    let mut r = Run {
        ssh,
        o,
        report: Report {
            host: ssh.target.url(),
            dir: o.dir.clone(),
            action: if o.rollback { "rollback" } else { "deploy" },
            ..Report::default()
        },
        start: Instant::now(),
    };
    let t = Instant::now();
    ssh.check()?;
    let c = r.docker(&["compose", "version", "--short"])?;
    if !c.ok() {
        bail!(
            "the host {} has no working `docker compose` (v2): {} (install Docker Engine with the compose plugin there)",
            ssh.target.url(),
            c.detail()
        );
    }
    r.step("connect", true, t, format!("compose {}", c.stdout.trim()));

    let t = Instant::now();
    let mk = ssh.script(
        "set -e; mkdir -p \"$1/certs\" \"$1/$2\"; chmod 700 \"$1/$2\"",
        &[&o.dir, STATE_DIR],
    )?;
    if !mk.ok() {
        bail!("cannot create {} on the host: {}", o.dir, mk.detail());
    }
    upload_files(ssh, &o.dir, &o.files)?;
    r.step(
        "upload",
        true,
        t,
        format!(
            "{} file(s): {}",
            o.files.len(),
            o.files
                .iter()
                .map(|f| f.upload.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    let hist_path = format!("{}/{HISTORY_FILE}", o.dir);
    let h = ssh.script("cat \"$1\" 2>/dev/null || true", &[&hist_path])?;
    let history = parse_history(&h.stdout);
    let image = if o.rollback {
        rollback_target(&history)?.image.clone()
    } else {
        o.image.clone().context("no image to deploy")?
    };
    r.report.image = image.clone();

    // compose needs every -f file; before the first deploy there is no override yet (it
    // names only the API image, which `ps` does not use).
    let has_override = ssh.script("test -f \"$1\"", &[&format!("{}/{OVERRIDE_FILE}", o.dir)])?;
    if !has_override.ok() {
        r.write_override(&image)?;
    }
    let old = r.api_containers()?;
    let old_image = match old.first() {
        Some(id) => {
            let c = r.docker(&["inspect", "--format", "{{.Config.Image}}", id])?;
            c.ok().then(|| c.stdout.trim().to_string())
        }
        None => None,
    };
    r.report.previous = old_image
        .clone()
        .or(history.last().map(|e| e.image.clone()));
    r.say(&format!(
        "{} {image} on {} (serving now: {})",
        r.report.action,
        ssh.target.url(),
        old_image.as_deref().unwrap_or("nothing")
    ));

    let fail = |mut r: Run, step: &str, logs: String| -> Result<Report> {
        r.report.failed_step = Some(step.to_string());
        r.report.logs = logs;
        r.report.secs = r.start.elapsed().as_secs_f64();
        Ok(r.report)
    };

    let t = Instant::now();
    let pull = r.docker(&["pull", &image])?;
    r.step(
        "pull",
        pull.ok(),
        t,
        if pull.ok() {
            image.clone()
        } else {
            pull.detail()
        },
    );
    if !pull.ok() {
        r.report.result = if old.is_empty() {
            "failed"
        } else {
            "rolled-back"
        };
        r.report.old_kept_serving = !old.is_empty();
        return fail(r, "pull", pull.detail());
    }

    let t = Instant::now();
    r.write_override(&image)?;
    r.step("override", true, t, format!("{OVERRIDE_FILE}: {image}"));
    let restore = |r: &Run| -> Result<()> {
        if let Some(prev) = &old_image {
            r.write_override(prev)?;
        }
        Ok(())
    };

    if let Some(m) = &o.migrate {
        let t = Instant::now();
        let services = r.compose(&["config", "--services"])?;
        if services.stdout.lines().any(|l| l.trim() == m) {
            let mig = r.compose(&["run", "--rm", m])?;
            let detail = if mig.ok() {
                String::new()
            } else {
                format!("{}{}", mig.stdout, mig.stderr)
            };
            r.step(&format!("migrate ({m})"), mig.ok(), t, "");
            if !mig.ok() {
                restore(&r)?;
                r.report.result = if old.is_empty() {
                    "failed"
                } else {
                    "rolled-back"
                };
                r.report.old_kept_serving = !old.is_empty();
                return fail(r, "migrate", detail);
            }
        } else {
            r.step(
                "migrate",
                true,
                t,
                format!("no service {m:?} in the compose files: skipped"),
            );
        }
    }

    if old.is_empty() {
        // First deploy: nothing to keep serving; bring the stack up and wait for health.
        let t = Instant::now();
        let secs = o.timeout.as_secs().to_string();
        let mut args = vec!["up", "-d", "--wait", "--wait-timeout", &secs];
        args.extend(o.services.iter().map(String::as_str));
        let up = r.compose(&args)?;
        r.step(
            "up (first deploy)",
            up.ok(),
            t,
            if up.ok() { String::new() } else { up.detail() },
        );
        if !up.ok() {
            let ids = r.api_containers().unwrap_or_default();
            let logs = ids.iter().map(|i| r.logs(i)).collect::<Vec<_>>().join("\n");
            r.report.result = "failed";
            return fail(r, "up", format!("{}\n{logs}", up.detail()));
        }
    } else {
        let t = Instant::now();
        let scale = format!("{API_SERVICE}={}", old.len() + 1);
        let up = r.compose(&[
            "up",
            "-d",
            "--no-deps",
            "--no-recreate",
            "--scale",
            &scale,
            API_SERVICE,
        ])?;
        let new: Vec<String> = r
            .api_containers()?
            .into_iter()
            .filter(|c| !old.contains(c))
            .collect();
        let started = up.ok() && new.len() == 1;
        r.step(
            "start new beside old",
            started,
            t,
            if started {
                format!("new {} beside {}", &new[0], old.join(" "))
            } else {
                up.detail()
            },
        );
        let t = Instant::now();
        let verdict = if started {
            r.report.new_container = Some(new[0].clone());
            r.wait_healthy(&new[0])?
        } else {
            Err(format!("the new container did not start: {}", up.detail()))
        };
        match verdict {
            Ok(()) => {
                r.step("new healthy", true, t, "");
                let t = Instant::now();
                let grace = o.grace_secs.to_string();
                for id in &old {
                    let s = r.docker(&["stop", "--time", &grace, id])?;
                    if !s.ok() {
                        bail!("cannot stop the old container {id}: {}", s.detail());
                    }
                    let _ = r.docker(&["rm", id])?;
                }
                r.step("old drained and stopped", true, t, old.join(" "));
            }
            Err(why) => {
                r.step("new healthy", false, t, why.clone());
                let logs = new.iter().map(|i| r.logs(i)).collect::<Vec<_>>().join("\n");
                let t = Instant::now();
                for id in &new {
                    let _ = r.docker(&["stop", "--time", "5", id])?;
                    let _ = r.docker(&["rm", "-f", id])?;
                }
                restore(&r)?;
                let still = r.api_containers()?;
                r.report.old_kept_serving = old.iter().all(|o| still.contains(o));
                r.step(
                    "rolled back",
                    r.report.old_kept_serving,
                    t,
                    "new container stopped and removed; the old one never stopped",
                );
                r.report.result = "rolled-back";
                return fail(r, "health", format!("{why}\n{logs}"));
            }
        }
    }

    let t = Instant::now();
    let next = next_history(&history, &image, now_secs(), o.rollback);
    ssh.upload(render_history(&next).as_bytes(), &hist_path, "600")?;
    r.step("history", true, t, format!("{} entries", next.len()));
    r.report.result = "deployed";
    r.report.old_kept_serving = false;
    r.report.secs = r.start.elapsed().as_secs_f64();
    Ok(r.report)
}

/// The compose command line shown in the plan.
pub fn compose_args_shown(o: &Options) -> String {
    let mut v = vec![
        "--project-directory".to_string(),
        o.dir.clone(),
        "--env-file".into(),
        format!("{}/{}", o.dir, ENV_FILE),
    ];
    for f in o.compose_files.iter().chain([&OVERRIDE_FILE.to_string()]) {
        v.push("-f".into());
        v.push(format!("{}/{f}", o.dir));
    }
    command_line(&v)
}
