//! Runs a deploy on a compose host over SSH: upload, pull, migrate, then the API rolled
//! start-first (the new container beside the old, health-gated), or rolled back.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use crate::deploy::{
    next_history, parse_history, render_history, render_override, rollback_target, API_SERVICE,
    ENV_FILE, HISTORY_FILE, OVERRIDE_FILE, STATE_DIR,
};
use crate::tools::ssh::{command_line, Ssh};

pub use super::deploy_site::Site;

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
    /// With `[web]`: the site switched in once the API is healthy.
    pub site: Option<Site>,
    /// Print progress to stderr.
    pub echo: bool,
}

pub use super::deploy_report::{Report, Step};

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
        let (line, step) = Step::ended(name, ok, t, detail);
        self.say(&line);
        self.report.steps.push(step);
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
            // plain text for the report (NestJS colours its log without a terminal)
            Ok(c) => crate::text::plain(&format!("{}{}", c.stdout, c.stderr)),
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
        // a regular file only (a generated file, or the env file the user names)
        let bytes = crate::files::read_regular_bytes(&f.local, crate::files::MAX_INPUT)
            .map_err(|r| crate::files::refusal(&f.local, &r, crate::files::MAX_INPUT))?;
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

/// Why a deploy stopped short: the failed step and what to show of it (the report's
/// `failed_step` and `logs`).
struct Stop {
    step: &'static str,
    logs: String,
}

/// A phase of the run: `Err` when it could not run, `Ok(Err(stop))` when the deploy failed.
type Phase = Result<std::result::Result<(), Stop>>;

/// The API as it was before the deploy.
struct Before {
    /// The API containers serving now (empty: first deploy).
    ids: Vec<String>,
    /// The image they run.
    image: Option<String>,
}

impl Run<'_> {
    /// The host answers and has compose v2.
    fn connect(&mut self) -> Result<()> {
        let t = Instant::now();
        self.ssh.check()?;
        let c = self.docker(&["compose", "version", "--short"])?;
        if !c.ok() {
            bail!(
                "the host {} has no working `docker compose` (v2): {} (install Docker Engine with the compose plugin there)",
                self.ssh.target.url(),
                c.detail()
            );
        }
        self.step("connect", true, t, format!("compose {}", c.stdout.trim()));
        Ok(())
    }

    /// The deploy directory made, the files uploaded.
    fn upload(&mut self) -> Result<()> {
        let (ssh, o) = (self.ssh, self.o);
        let t = Instant::now();
        let mk = ssh.script(
            "set -e; mkdir -p \"$1/certs\" \"$1/$2\"; chmod 700 \"$1/$2\"",
            &[&o.dir, STATE_DIR],
        )?;
        if !mk.ok() {
            bail!("cannot create {} on the host: {}", o.dir, mk.detail());
        }
        upload_files(ssh, &o.dir, &o.files)?;
        let names: Vec<&str> = o.files.iter().map(|f| f.upload.name.as_str()).collect();
        self.step(
            "upload",
            true,
            t,
            format!("{} file(s): {}", o.files.len(), names.join(", ")),
        );
        Ok(())
    }

    /// The API containers serving now and their image (the report's `previous`, else the
    /// history's last entry).
    fn before(&mut self, image: &str, history: &[crate::deploy::Entry]) -> Result<Before> {
        // compose needs every -f file; before the first deploy there is no override yet (it
        // names only the API image, which `ps` does not use).
        let has_override = self.ssh.script(
            "test -f \"$1\"",
            &[&format!("{}/{OVERRIDE_FILE}", self.o.dir)],
        )?;
        if !has_override.ok() {
            self.write_override(image)?;
        }
        let ids = self.api_containers()?;
        let old_image = match ids.first() {
            Some(id) => {
                let c = self.docker(&["inspect", "--format", "{{.Config.Image}}", id])?;
                c.ok().then(|| c.stdout.trim().to_string())
            }
            None => None,
        };
        self.report.previous = old_image
            .clone()
            .or(history.last().map(|e| e.image.clone()));
        self.say(&format!(
            "{} {image} on {} (serving now: {})",
            self.report.action,
            self.ssh.target.url(),
            old_image.as_deref().unwrap_or("nothing")
        ));
        Ok(Before {
            ids,
            image: old_image,
        })
    }

    /// The new image failed before any container of it ran: the old one (if any) serves on.
    fn kept(&mut self, before: &Before, step: &'static str, logs: String) -> Phase {
        self.report.result = if before.ids.is_empty() {
            "failed"
        } else {
            "rolled-back"
        };
        self.report.old_kept_serving = !before.ids.is_empty();
        Ok(Err(Stop { step, logs }))
    }

    /// The override back at the previous image.
    fn restore(&self, before: &Before) -> Result<()> {
        if let Some(prev) = &before.image {
            self.write_override(prev)?;
        }
        Ok(())
    }

    /// Pull, the override at the new image, the migration, then the API rolled.
    fn roll(&mut self, image: &str, before: &Before) -> Phase {
        let t = Instant::now();
        let pull = self.docker(&["pull", image])?;
        let detail = if pull.ok() {
            image.to_string()
        } else {
            pull.detail()
        };
        self.step("pull", pull.ok(), t, detail);
        if !pull.ok() {
            return self.kept(before, "pull", pull.detail());
        }
        let t = Instant::now();
        self.write_override(image)?;
        self.step("override", true, t, format!("{OVERRIDE_FILE}: {image}"));
        if let Err(stop) = self.migrate()? {
            self.restore(before)?;
            return self.kept(before, stop.step, stop.logs);
        }
        if before.ids.is_empty() {
            self.first_up()
        } else {
            self.start_first(before)
        }
    }

    /// The migration service run once, when the compose files define it.
    fn migrate(&mut self) -> Phase {
        let o = self.o;
        let Some(m) = &o.migrate else {
            return Ok(Ok(()));
        };
        let t = Instant::now();
        let services = self.compose(&["config", "--services"])?;
        if !services.stdout.lines().any(|l| l.trim() == m) {
            self.step(
                "migrate",
                true,
                t,
                format!("no service {m:?} in the compose files: skipped"),
            );
            return Ok(Ok(()));
        }
        let mig = self.compose(&["run", "--rm", m])?;
        self.step(&format!("migrate ({m})"), mig.ok(), t, "");
        if mig.ok() {
            return Ok(Ok(()));
        }
        Ok(Err(Stop {
            step: "migrate",
            logs: format!("{}{}", mig.stdout, mig.stderr),
        }))
    }

    /// First deploy: nothing to keep serving; the stack brought up, waited for health.
    fn first_up(&mut self) -> Phase {
        let t = Instant::now();
        let o = self.o;
        let secs = o.timeout.as_secs().to_string();
        let mut args = vec!["up", "-d", "--wait", "--wait-timeout", &secs];
        args.extend(o.services.iter().map(String::as_str));
        let up = self.compose(&args)?;
        let detail = if up.ok() { String::new() } else { up.detail() };
        self.step("up (first deploy)", up.ok(), t, detail);
        if up.ok() {
            return Ok(Ok(()));
        }
        let ids = self.api_containers().unwrap_or_default();
        let logs = ids
            .iter()
            .map(|i| self.logs(i))
            .collect::<Vec<_>>()
            .join("\n");
        self.report.result = "failed";
        Ok(Err(Stop {
            step: "up",
            logs: format!("{}\n{logs}", up.detail()),
        }))
    }

    /// Later deploys: a new API container beside the old, gated on its health; then the old
    /// one drained and stopped, or the new one removed and the old one kept.
    fn start_first(&mut self, before: &Before) -> Phase {
        let old = &before.ids;
        let t = Instant::now();
        let scale = format!("{API_SERVICE}={}", old.len() + 1);
        let up = self.compose(&[
            "up",
            "-d",
            "--no-deps",
            "--no-recreate",
            "--scale",
            &scale,
            API_SERVICE,
        ])?;
        let new: Vec<String> = self
            .api_containers()?
            .into_iter()
            .filter(|c| !old.contains(c))
            .collect();
        let started = up.ok() && new.len() == 1;
        let detail = if started {
            format!("new {} beside {}", &new[0], old.join(" "))
        } else {
            up.detail()
        };
        self.step("start new beside old", started, t, detail);
        let t = Instant::now();
        let verdict = if started {
            self.report.new_container = Some(new[0].clone());
            self.wait_healthy(&new[0])?
        } else {
            Err(format!("the new container did not start: {}", up.detail()))
        };
        match verdict {
            Ok(()) => {
                self.step("new healthy", true, t, "");
                self.stop_old(old)?;
                Ok(Ok(()))
            }
            Err(why) => {
                self.step("new healthy", false, t, why.clone());
                let logs = new
                    .iter()
                    .map(|i| self.logs(i))
                    .collect::<Vec<_>>()
                    .join("\n");
                self.remove_new(&new, before)?;
                self.report.result = "rolled-back";
                Ok(Err(Stop {
                    step: "health",
                    logs: format!("{why}\n{logs}"),
                }))
            }
        }
    }

    /// The old containers get `grace_secs` to finish their requests, then go.
    fn stop_old(&mut self, old: &[String]) -> Result<()> {
        let t = Instant::now();
        let grace = self.o.grace_secs.to_string();
        for id in old {
            let s = self.docker(&["stop", "--time", &grace, id])?;
            if !s.ok() {
                bail!("cannot stop the old container {id}: {}", s.detail());
            }
            let _ = self.docker(&["rm", id])?;
        }
        self.step("old drained and stopped", true, t, old.join(" "));
        Ok(())
    }

    /// The new containers stopped and removed, the override back: the old one serves on.
    fn remove_new(&mut self, new: &[String], before: &Before) -> Result<()> {
        let t = Instant::now();
        for id in new {
            let _ = self.docker(&["stop", "--time", "5", id])?;
            let _ = self.docker(&["rm", "-f", id])?;
        }
        self.restore(before)?;
        let still = self.api_containers()?;
        self.report.old_kept_serving = before.ids.iter().all(|o| still.contains(o));
        self.step(
            "rolled back",
            self.report.old_kept_serving,
            t,
            "new container stopped and removed; the old one never stopped",
        );
        Ok(())
    }
}

impl Run<'_> {
    /// A deploy's site: its release uploaded (unless the host has it already). Returns its id.
    fn upload_site(&mut self, dir: &std::path::Path, id: &str) -> Result<String> {
        let t = Instant::now();
        let detail = super::deploy_site::upload(self.ssh, &self.o.dir, dir, id)?;
        self.step("web site upload", true, t, detail);
        Ok(id.to_string())
    }

    /// `<dir>/web` switched to the release `id`.
    fn switch_site(&mut self, id: &str) -> Result<()> {
        let t = Instant::now();
        let release = super::deploy_site::switch(self.ssh, &self.o.dir, id)?;
        self.step(
            "web site live",
            true,
            t,
            format!("{}/web = {release}", self.o.dir),
        );
        self.report.site = Some(release);
        Ok(())
    }
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
    r.connect()?;
    r.upload()?;
    let hist_path = format!("{}/{HISTORY_FILE}", o.dir);
    let h = ssh.script("cat \"$1\" 2>/dev/null || true", &[&hist_path])?;
    let history = parse_history(&h.stdout);
    let (image, target_site) = if o.rollback {
        let e = rollback_target(&history)?;
        (e.image.clone(), e.site.clone())
    } else {
        (o.image.clone().context("no image to deploy")?, None)
    };
    r.report.image = image.clone();
    if o.site.is_some() {
        r.report.previous_site = super::deploy_site::current(ssh, &o.dir)?;
        r.report.site = r.report.previous_site.clone();
    }
    // The site goes up first (nothing serves it yet) and is switched in once the API is live.
    let site = match &o.site {
        Some(Site::Built { dir, id }) => Some(r.upload_site(dir, id)?),
        Some(Site::FromHistory) => target_site,
        None => None,
    };
    let before = r.before(&image, &history)?;
    if let Err(stop) = r.roll(&image, &before)? {
        r.report.failed_step = Some(stop.step.to_string());
        r.report.logs = stop.logs;
        r.report.secs = r.start.elapsed().as_secs_f64();
        return Ok(r.report);
    }
    let t = Instant::now();
    let next = next_history(&history, &image, site.as_deref(), now_secs(), o.rollback);
    ssh.upload(render_history(&next).as_bytes(), &hist_path, "600")?;
    r.step("history", true, t, format!("{} entries", next.len()));
    // The API is live and recorded: the site follows it.
    if let Some(id) = &site {
        r.switch_site(id)?;
    } else if matches!(o.site, Some(Site::FromHistory)) {
        r.say("the target entry records no web site: the site is left as it is");
    }
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
