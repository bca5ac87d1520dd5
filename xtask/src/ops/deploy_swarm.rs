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

pub fn run(ssh: &Ssh, o: &Options) -> Result<Report> {
    let start = Instant::now();
    let say = |m: &str| {
        if o.echo {
            eprintln!(
                "deploy --swarm [{:>5.1}s] {m}",
                start.elapsed().as_secs_f64()
            );
        }
    };
    let mut report = Report {
        host: ssh.target.url(),
        dir: o.dir.clone(),
        action: if o.rollback { "rollback" } else { "deploy" },
        ..Report::default()
    };
    let step = |report: &mut Report, name: &str, ok: bool, t: Instant, detail: String| {
        say(&format!(
            "{} {name}{}",
            if ok { "ok  " } else { "FAIL" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        ));
        report.steps.push(Step {
            name: name.into(),
            ok,
            secs: t.elapsed().as_secs_f64(),
            detail,
        });
    };
    let docker = |args: &[&str]| {
        let mut v = vec!["docker"];
        v.extend_from_slice(args);
        ssh.run(&v)
    };

    let t = Instant::now();
    ssh.check()?;
    let info = docker(&[
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
    let labelled = docker(&[
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
    // Which check decides the endpoint mode: the kernel's IPVS table. The stack uses dnsrr and
    // host-mode ports, which need no IPVS; VIPs and the ingress routing mesh would.
    let ipvs = ssh.script("test -e /proc/net/ip_vs", &[])?.ok();
    step(
        &mut report,
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
    step(
        &mut report,
        "upload",
        true,
        t,
        format!(
            "{} file(s), {} secret(s) (values never printed)",
            o.files.len(),
            o.secrets.len()
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
    report.image = image.clone();
    let api = format!("{}_api", o.stack);
    let before = docker(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        &api,
    ])?;
    report.previous = before
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

    let t = Instant::now();
    ssh.upload(
        render_override(&image)?.as_bytes(),
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
    step(
        &mut report,
        "docker stack deploy",
        dep.ok(),
        t,
        if dep.ok() {
            image.clone()
        } else {
            dep.detail()
        },
    );
    if !dep.ok() {
        report.result = "failed";
        report.failed_step = Some("stack deploy".into());
        report.logs = format!("{}{}", dep.stdout, dep.stderr);
        report.secs = start.elapsed().as_secs_f64();
        return Ok(report);
    }

    let spec = |c: &crate::tools::Captured| c.ok().then(|| c.stdout.trim().to_string());
    let before_spec = spec(&before);
    let after = docker(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        &api,
    ])?;
    // An existing API service whose spec changed must go through an update that completes.
    let expect_update = before_spec.is_some() && before_spec != spec(&after);
    // Converged: every service's tasks all running (Swarm reports a task with a healthcheck
    // running only once healthy), and the API's update (if one started) completed.
    let t = Instant::now();
    let deadline = Instant::now() + o.timeout;
    let label = format!("label=com.docker.stack.namespace={}", o.stack);
    let verdict: std::result::Result<String, String> = loop {
        let ls = docker(&[
            "service",
            "ls",
            "--filter",
            &label,
            "--format",
            "{{.Name}} {{.Replicas}}",
        ])?;
        let pending: Vec<String> = ls
            .stdout
            .lines()
            // a job (the migration) shows "0/1 (1/1 completed)": done, not pending
            .filter(|l| !l.contains("completed"))
            .filter(|l| {
                let r = l.split_whitespace().nth(1).unwrap_or("");
                let (a, b) = r.split_once('/').unwrap_or(("0", "1"));
                a != b.split_whitespace().next().unwrap_or(b)
            })
            .map(String::from)
            .collect();
        let us = docker(&[
            "service",
            "inspect",
            "--format",
            "{{json .UpdateStatus}}",
            &api,
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
            break Err(format!(
                "Swarm rolled the update back ({state}): {}",
                st["Message"].as_str().unwrap_or("")
            ));
        }
        let updated = if expect_update {
            this_update && state == "completed"
        } else {
            !(this_update && state == "updating")
        };
        if pending.is_empty() && updated && t.elapsed() > Duration::from_secs(3) {
            break Ok(format!(
                "all services converged ({})",
                if this_update {
                    format!("API update {state}")
                } else {
                    "no API update".to_string()
                }
            ));
        }
        if Instant::now() > deadline {
            break Err(format!(
                "not converged within {} s: {} (API update: {})",
                o.timeout.as_secs(),
                pending.join(", "),
                if state.is_empty() { "none" } else { state }
            ));
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    match verdict {
        Ok(d) => step(&mut report, "converged", true, t, d),
        Err(why) => {
            step(&mut report, "converged", false, t, why.clone());
            let ps = docker(&[
                "service",
                "ps",
                "--no-trunc",
                "--format",
                "{{.Name}} {{.Image}} {{.CurrentState}} {{.Error}}",
                &api,
            ])?;
            let logs = docker(&["service", "logs", "--tail", "40", &api])?;
            report.result = "rolled-back";
            report.old_kept_serving = true;
            report.failed_step = Some("converge".into());
            report.logs = format!("{why}\n{}\n{}{}", ps.stdout, logs.stdout, logs.stderr);
            report.secs = start.elapsed().as_secs_f64();
            return Ok(report);
        }
    }
    let t = Instant::now();
    let next = next_history(&history, &image, now_secs(), o.rollback);
    ssh.upload(render_history(&next).as_bytes(), &hist_path, "600")?;
    step(
        &mut report,
        "history",
        true,
        t,
        format!("{} entries", next.len()),
    );
    report.result = "deployed";
    report.secs = start.elapsed().as_secs_f64();
    Ok(report)
}
