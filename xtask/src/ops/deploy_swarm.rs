//! `deploy --swarm`: the stack file deployed on a Swarm manager over SSH, then waited on until
//! every service has converged (all tasks running, healthchecks passed) or Swarm rolled the
//! update back (`update_config.failure_action: rollback`): `docker stack deploy` itself
//! returns before anything is known.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use super::deploy::{LocalFile, Report, Step};
use crate::deploy::{next_history, parse_history, render_history, rollback_target, HISTORY_FILE};
use crate::tools::ssh::Ssh;

/// The stack's own override: the exact API image.
pub const OVERRIDE_FILE: &str = "docker-stack.deploy.yml";

#[derive(Debug, Clone)]
pub struct Options {
    pub dir: String,
    /// The stack name (`docker stack deploy ... NAME`).
    pub stack: String,
    pub image: Option<String>,
    pub rollback: bool,
    pub files: Vec<LocalFile>,
    /// Stack files, in order, as names in the deploy directory (the override is added last).
    pub stack_files: Vec<String>,
    /// (secret variable, value): written to `secrets/<VAR>` (mode 600).
    pub secrets: Vec<(String, String)>,
    /// (variable, value) for `docker stack deploy`'s interpolation: content digests of the
    /// secrets and configs, so a changed value gets a new name.
    pub digests: Vec<(String, String)>,
    /// The node label stateful services are pinned to.
    pub stateful_label: String,
    pub timeout: Duration,
    pub echo: bool,
}

fn render_override(image: &str) -> Result<String> {
    crate::config::validate_image_ref(image)
        .map_err(|m| anyhow::anyhow!("image {image:?}: {m}"))?;
    Ok(format!(
        "# Written by `cargo xtask deploy --swarm`: the API image deployed here.\nversion: \"3.8\"\nservices:\n  api:\n    image: {}\n",
        serde_json::to_string(image)?
    ))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One run: the connection, the options and the report being written.
struct Run<'a> {
    ssh: &'a Ssh,
    o: &'a Options,
    report: Report,
    start: Instant,
}

impl Run<'_> {
    fn say(&self, m: &str) {
        if self.o.echo {
            eprintln!(
                "deploy --swarm [{:>5.1}s] {m}",
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    fn step(&mut self, name: &str, ok: bool, t: Instant, detail: String) {
        let (line, step) = Step::ended(name, ok, t, detail);
        self.say(&line);
        self.report.steps.push(step);
    }

    fn docker(&self, args: &[&str]) -> Result<crate::tools::Captured> {
        let mut v = vec!["docker"];
        v.extend_from_slice(args);
        self.ssh.run(&v)
    }

    /// The report, finished as failed at `step`.
    fn failed(mut self, result: &'static str, step: &str, logs: String) -> Report {
        self.report.result = result;
        self.report.failed_step = Some(step.into());
        self.report.logs = logs;
        self.report.secs = self.start.elapsed().as_secs_f64();
        self.report
    }

    /// The host is a Swarm manager with a node for the stateful services.
    fn connect(&mut self) -> Result<()> {
        let (ssh, o) = (self.ssh, self.o);
        let t = Instant::now();
        ssh.check()?;
        let info = self.docker(&[
            "info",
            "--format",
            "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
        ])?;
        if info.stdout.trim() != "active true" {
            bail!(
                "{} is not a Swarm manager (docker info: {:?}): run `docker swarm init` there, or point --host at a manager",
                ssh.target.url(),
                info.stdout.trim()
            );
        }
        let labelled = self.docker(&[
            "node",
            "ls",
            "-q",
            "--filter",
            &format!("node.label={}=true", o.stateful_label),
        ])?;
        if labelled.stdout.trim().is_empty() {
            bail!(
                "no Swarm node is labelled {}=true, so the stateful services (postgres, redis, ipfs) cannot be placed: \
                 `docker node update --label-add {}=true <node>` on the node that keeps their volumes",
                o.stateful_label,
                o.stateful_label
            );
        }
        // Which check decides the endpoint mode: the kernel's IPVS table. The stack uses dnsrr
        // and host-mode ports, which need no IPVS; VIPs and the ingress routing mesh would.
        let ipvs = ssh.script("test -e /proc/net/ip_vs", &[])?.ok();
        self.step(
            "connect",
            true,
            t,
            format!(
                "Swarm manager; /proc/net/ip_vs {}: endpoint_mode dnsrr (Caddy resolves the tasks){}",
                if ipvs { "present" } else { "absent" },
                if ipvs {
                    ""
                } else {
                    "; VIP and the ingress mesh would not work on this kernel"
                }
            ),
        );
        Ok(())
    }

    /// The files and the secrets' values uploaded (mode 600, never printed).
    fn upload(&mut self) -> Result<()> {
        let (ssh, o) = (self.ssh, self.o);
        let t = Instant::now();
        let mk = ssh.script(
            "set -e; umask 077; mkdir -p \"$1/certs\" \"$1/secrets\" \"$1/.xtask-deploy\"",
            &[&o.dir],
        )?;
        if !mk.ok() {
            bail!("cannot create {} on the host: {}", o.dir, mk.detail());
        }
        super::deploy::upload_files(ssh, &o.dir, &o.files)?;
        for (var, value) in &o.secrets {
            ssh.upload(value.as_bytes(), &format!("{}/secrets/{var}", o.dir), "600")?;
        }
        self.step(
            "upload",
            true,
            t,
            format!(
                "{} file(s), {} secret(s) (values never printed)",
                o.files.len(),
                o.secrets.len()
            ),
        );
        Ok(())
    }

    /// `docker service inspect` of the API's image.
    fn api_image(&self, api: &str) -> Result<crate::tools::Captured> {
        self.docker(&[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            api,
        ])
    }

    /// The override written, `docker stack deploy` run with the env file and the digests for
    /// its interpolation: (the host's clock when deployed, the command's output).
    fn stack_deploy(&mut self, image: &str) -> Result<(u64, crate::tools::Captured)> {
        let (ssh, o) = (self.ssh, self.o);
        let t = Instant::now();
        ssh.upload(
            render_override(image)?.as_bytes(),
            &format!("{}/{OVERRIDE_FILE}", o.dir),
            "644",
        )?;
        let clock = ssh.run(&["date", "+%s"])?;
        let deployed_at: u64 = clock.stdout.trim().parse().unwrap_or(0);
        // The env file feeds the interpolation (as lines KEY=VALUE, taken literally); the
        // digests name the secrets and configs.
        let script = "cd \"$1\"; shift; while IFS= read -r l || [ -n \"$l\" ]; do case \"$l\" in ''|'#'*) ;; *=*) export \"$l\" ;; esac; done < .env.staging; exec \"$@\"";
        let mut argv: Vec<String> = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
        argv.push(o.dir.clone());
        argv.push("env".into());
        for (k, v) in &o.digests {
            argv.push(format!("{k}={v}"));
        }
        argv.extend(["docker", "stack", "deploy"].map(String::from));
        for f in o.stack_files.iter().chain([&OVERRIDE_FILE.to_string()]) {
            argv.push("-c".into());
            argv.push(f.clone());
        }
        argv.push(o.stack.clone());
        let dep = ssh.run(&argv)?;
        let detail = if dep.ok() {
            image.to_string()
        } else {
            dep.detail()
        };
        self.step("docker stack deploy", dep.ok(), t, detail);
        Ok((deployed_at, dep))
    }

    /// Waits until every service's tasks all run (Swarm reports a task with a healthcheck
    /// running only once healthy) and the API's update (if one started) completed; `Err(why)`
    /// when Swarm rolled it back or the timeout passed.
    fn converge(
        &self,
        api: &str,
        deployed_at: u64,
        expect_update: bool,
        t: Instant,
    ) -> Result<std::result::Result<String, String>> {
        let deadline = Instant::now() + self.o.timeout;
        let label = format!("label=com.docker.stack.namespace={}", self.o.stack);
        loop {
            let ls = self.docker(&[
                "service",
                "ls",
                "--filter",
                &label,
                "--format",
                "{{.Name}} {{.Replicas}}",
            ])?;
            let pending = pending_services(&ls.stdout);
            let us = self.docker(&[
                "service",
                "inspect",
                "--format",
                "{{json .UpdateStatus}}",
                api,
            ])?;
            let st: Json = serde_json::from_str(us.stdout.trim()).unwrap_or(Json::Null);
            let state = st["State"].as_str().unwrap_or("");
            let started = st["StartedAt"]
                .as_str()
                .and_then(crate::rehearsal::parse_time)
                .map(|ns| (ns / 1_000_000_000) as u64)
                .unwrap_or(0);
            let this_update = started + 2 >= deployed_at;
            if this_update
                && matches!(
                    state,
                    "rollback_started" | "rollback_completed" | "rollback_paused" | "paused"
                )
            {
                return Ok(Err(format!(
                    "Swarm rolled the update back ({state}): {}",
                    st["Message"].as_str().unwrap_or("")
                )));
            }
            let updated = if expect_update {
                this_update && state == "completed"
            } else {
                !(this_update && state == "updating")
            };
            if pending.is_empty() && updated && t.elapsed() > Duration::from_secs(3) {
                return Ok(Ok(format!(
                    "all services converged ({})",
                    if this_update {
                        format!("API update {state}")
                    } else {
                        "no API update".to_string()
                    }
                )));
            }
            if Instant::now() > deadline {
                return Ok(Err(format!(
                    "not converged within {} s: {} (API update: {})",
                    self.o.timeout.as_secs(),
                    pending.join(", "),
                    if state.is_empty() { "none" } else { state }
                )));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// What Swarm says of the API's tasks and their logs, after a failed convergence.
    fn api_logs(&self, api: &str, why: &str) -> Result<String> {
        let ps = self.docker(&[
            "service",
            "ps",
            "--no-trunc",
            "--format",
            "{{.Name}} {{.Image}} {{.CurrentState}} {{.Error}}",
            api,
        ])?;
        let logs = self.docker(&["service", "logs", "--tail", "40", api])?;
        Ok(format!(
            "{why}\n{}\n{}{}",
            ps.stdout, logs.stdout, logs.stderr
        ))
    }
}

/// The lines of `docker service ls` (`NAME RUNNING/WANTED`) whose tasks are not all running;
/// a job (the migration) shows "0/1 (1/1 completed)": done, not pending.
fn pending_services(ls: &str) -> Vec<String> {
    ls.lines()
        .filter(|l| !l.contains("completed"))
        .filter(|l| {
            let r = l.split_whitespace().nth(1).unwrap_or("");
            let (a, b) = r.split_once('/').unwrap_or(("0", "1"));
            a != b.split_whitespace().next().unwrap_or(b)
        })
        .map(String::from)
        .collect()
}

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
    let image = if o.rollback {
        rollback_target(&history)?.image.clone()
    } else {
        o.image.clone().context("no image to deploy")?
    };
    r.report.image = image.clone();
    let api = format!("{}_api", o.stack);
    let before = r.api_image(&api)?;
    r.report.previous = before
        .ok()
        .then(|| {
            before
                .stdout
                .trim()
                .split('@')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .or(history.last().map(|e| e.image.clone()));

    let (deployed_at, dep) = r.stack_deploy(&image)?;
    if !dep.ok() {
        let logs = format!("{}{}", dep.stdout, dep.stderr);
        return Ok(r.failed("failed", "stack deploy", logs));
    }
    let spec = |c: &crate::tools::Captured| c.ok().then(|| c.stdout.trim().to_string());
    let before_spec = spec(&before);
    let after = r.api_image(&api)?;
    // An existing API service whose spec changed must go through an update that completes.
    let expect_update = before_spec.is_some() && before_spec != spec(&after);
    let t = Instant::now();
    match r.converge(&api, deployed_at, expect_update, t)? {
        Ok(d) => r.step("converged", true, t, d),
        Err(why) => {
            r.step("converged", false, t, why.clone());
            let logs = r.api_logs(&api, &why)?;
            r.report.old_kept_serving = true;
            return Ok(r.failed("rolled-back", "converge", logs));
        }
    }
    let t = Instant::now();
    let next = next_history(&history, &image, None, now_secs(), o.rollback);
    ssh.upload(render_history(&next).as_bytes(), &hist_path, "600")?;
    r.step("history", true, t, format!("{} entries", next.len()));
    r.report.result = "deployed";
    r.report.secs = r.start.elapsed().as_secs_f64();
    Ok(r.report)
}
