//! The rehearsal's phases, in order: a work directory (a copy of `infra/` with a throwaway
//! env and a test certificate), the plan and its override checked by compose, the report's
//! opening, then on the running stack: up and ready, the proofs, and down (or keep).

use super::*;

/// The rehearsal's temporary copy of `infra/` and what was made in it.
pub(super) struct Workdir {
    pub(super) dir: PathBuf,
    pub(super) staging_file: PathBuf,
    pub(super) env_file: PathBuf,
    /// The throwaway env's secret values, and the forms a report may show them in (a PEM
    /// key's lines, its escaped text: [`crate::ops::secretgen::redaction_needles`]); never
    /// shown in a report.
    pub(super) secrets: Vec<String>,
    /// Host names the test certificate covers (the API's first, the web app's last).
    pub(super) hosts: Vec<String>,
    /// The env's keys, kept out of compose's environment.
    pub(super) scrub: Vec<String>,
    /// `[web]`: the web app's site, built into the copy.
    pub(super) web_site: Option<crate::ops::web::Built>,
}

impl Workdir {
    /// Copies `infra/` into `dir`, writes the throwaway env and the test certificate, builds
    /// the web app's site.
    pub(super) fn prepare(
        ctx: &Ctx,
        model: &Model,
        args: &Args,
        sh: &Shell,
        dir: PathBuf,
    ) -> Result<Workdir> {
        let staging_file = copy_infra(ctx, &dir)?;
        let example = std::fs::read_to_string(dir.join(".env.staging.example"))
            .context("cannot read the copied .env.staging.example")?;
        let mut secrets = Vec::new();
        let contract = &model.stack.contract;
        let env = throwaway_env(&example, &mut |key| {
            let s = crate::ops::secretgen::generate(contract.secret_format(key))?;
            secrets.extend(crate::ops::secretgen::redaction_needles(&s));
            Ok(s)
        })?;
        let env_file = dir.join(".env.staging");
        std::fs::write(&env_file, &env).context("cannot write the throwaway .env.staging")?;
        let hosts = cert_hosts(model);
        let certs = dir.join("certs");
        probe::self_signed_cert(
            sh,
            &certs,
            &model.config.caddy.cert_file,
            &model.config.caddy.key_file,
            &hosts,
        )?;
        let scrub = rehearsal::env_keys(&env);
        let web_site = build_web_site(ctx, model, args, &dir)?;
        Ok(Workdir {
            dir,
            staging_file,
            env_file,
            secrets,
            hosts,
            scrub,
            web_site,
        })
    }

    /// The compose project of `files` in this directory, with the throwaway env.
    pub(super) fn project<'a>(
        &self,
        docker: &'a ComposeCli,
        name: &str,
        files: Vec<PathBuf>,
    ) -> Project<'a> {
        Project {
            docker,
            name: name.to_string(),
            dir: self.dir.clone(),
            files,
            env_file: Some(self.env_file.clone()),
            scrub: self.scrub.clone(),
        }
    }
}

/// Writes the plan's override beside the staging file and checks, with `docker compose
/// config`, that the merged file is what the plan says; returns the merged project and its
/// services.
pub(super) fn apply_override<'a>(
    env: &Env<'a>,
    work: &Workdir,
    plan: &Plan,
) -> Result<(Project<'a>, Vec<FileService>)> {
    let override_path = work.dir.join(OVERRIDE_FILE);
    std::fs::write(&override_path, render::rehearsal::render_override(plan))
        .context("cannot write the rehearsal's override file")?;
    let merged_project = work.project(
        env.docker,
        &plan.project,
        vec![work.staging_file.clone(), override_path],
    );
    let merged = parse_config(&merged_project.config_json(env.sh)?)?;
    let problems = verify_merged(plan, &merged);
    if !problems.is_empty() {
        bail!(
            "the override did not take effect as planned: {}; compose >= 2.24 is needed for !override/!reset",
            problems.join("; ")
        );
    }
    Ok((merged_project, merged))
}

/// The report's opening: the project, each started service and its image, what is not started.
pub(super) fn open_report(
    args: &Args,
    plan: &Plan,
    file_services: &[FileService],
    timings: Timings,
) -> Report {
    let project = &plan.project;
    let mut report = Report::new(args.format, project);
    report.say(format!("rehearsal {project}"));
    for s in &plan.services {
        report.services.push(s.describe());
        report.say(format!("  {}", s.describe()));
    }
    report.not_started = file_services
        .iter()
        .map(|s| s.name.clone())
        .filter(|n| plan.service(n).is_none())
        .collect();
    if !report.not_started.is_empty() {
        report.say(format!("  not started: {}", report.not_started.join(", ")));
    }
    report.timings = timings;
    report
}

/// What the steps on the running stack share.
pub(super) struct Stage<'a> {
    pub(super) env: &'a Env<'a>,
    pub(super) curl: &'a Curl,
    pub(super) work: &'a Workdir,
    pub(super) roles: &'a Roles,
    pub(super) plan: &'a Plan,
    /// The staging file with the override.
    pub(super) project: &'a Project<'a>,
    pub(super) merged: &'a [FileService],
}

impl Stage<'_> {
    /// `docker compose up`, then waits until every started service is ready (or one failed,
    /// or the timeout); the `ready` check, with the logs of those not ready. Returns the
    /// seconds it took and whether every service is ready.
    pub(super) fn up_and_wait(&self, report: &mut Report) -> Result<(f64, bool)> {
        let (sh, docker, plan, merged) = (self.env.sh, self.env.docker, self.plan, self.merged);
        let up_started = Instant::now();
        let pull_never = plan.services.iter().try_fold(true, |acc, s| {
            Ok::<_, anyhow::Error>(acc && docker.image_exists(&s.image)?)
        })?;
        eprintln!(
            "rehearse: starting {}",
            plan.names()
                .iter()
                .map(|n| plan.label(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let up_ok = self.project.up(sh, &plan.names(), pull_never)?;
        check_interrupt()?;
        let expected: Vec<(String, bool)> = plan
            .services
            .iter()
            .map(|s| {
                let hc = merged.iter().any(|m| m.name == s.name && m.healthcheck);
                (s.name.clone(), hc)
            })
            .collect();
        let once = crate::rehearsal::one_shots(merged);
        let ready = wait_ready(
            sh,
            docker,
            self.project,
            plan,
            (&expected, &once),
            up_ok,
            self.env.args.timeout,
        )?;
        let up_secs = up_started.elapsed().as_secs_f64();
        let not_ready: Vec<String> = ready
            .iter()
            .filter(|(_, r)| !matches!(r, Readiness::Ready(_)))
            .map(|(s, _)| s.clone())
            .collect();
        let states = ready
            .iter()
            .map(|(s, r)| {
                let how = match r {
                    Readiness::Ready(x) | Readiness::Pending(x) | Readiness::Failed(x) => x,
                };
                format!("{} {how}", plan.label(s))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let healthy = not_ready.is_empty();
        if healthy {
            report.pass(
                "ready",
                format!("every started service ready in {up_secs:.1} s: {states}"),
            );
        } else {
            if !up_ok {
                report.fail(
                    "up",
                    "docker compose up failed (its messages are on stderr)",
                );
            }
            report.fail("ready", format!("not every service became ready: {states}"));
            let secrets = &self.work.secrets;
            show_logs(sh, docker, self.project, plan, &not_ready, secrets, report);
        }
        Ok((up_secs, healthy))
    }

    /// The proofs on the ready stack: dependency order, HTTPS and /health, the redirect, the
    /// web app, the edge's hardening; the logs of what may be at fault when one failed.
    pub(super) fn prove(&self, report: &mut Report) -> Result<()> {
        let env = self.env;
        let (sh, docker, plan, hosts) = (env.sh, env.docker, self.plan, &self.work.hosts);
        check_interrupt()?;
        check_dependency_order(sh, docker, self.project, plan, self.merged, report)?;
        check_interrupt()?;
        let https_ok = check_https(env, self.curl, plan, self.merged, self.roles, hosts, report)?;
        check_interrupt()?;
        let http_ok = check_http(
            sh,
            self.curl,
            plan,
            env.model,
            &self.work.dir,
            hosts,
            report,
        )?;
        check_interrupt()?;
        if let Some(built) = &self.work.web_site {
            prove_web(env, self.curl, plan, built, report)?;
        }
        if https_ok {
            prove_hardening(
                env,
                self.curl,
                self.project,
                plan,
                self.roles,
                hosts,
                report,
            )?;
        }
        // HTTPS or /health failed: anything on the path may be at fault (caddy, the API, the
        // dependency /health could not reach); only the redirect failed: caddy alone
        if !https_ok {
            let names = plan.names();
            show_logs(
                sh,
                docker,
                self.project,
                plan,
                &names,
                &self.work.secrets,
                report,
            );
        } else if !http_ok {
            show_logs(
                sh,
                docker,
                self.project,
                plan,
                std::slice::from_ref(&plan.proxy),
                &self.work.secrets,
                report,
            );
        }
        Ok(())
    }

    /// `--keep`: say how to reach and stop the stack; else `docker compose down` and check
    /// that nothing of the project is left.
    pub(super) fn down_or_keep(&self, report: &mut Report) -> Result<()> {
        let (sh, args) = (self.env.sh, self.env.args);
        if args.keep {
            report.kept = true;
            keep_instructions(
                self.plan,
                &self.work.dir,
                self.env.model,
                &self.work.hosts,
                report,
            );
        } else {
            eprintln!(
                "rehearse: docker compose down{}",
                if args.volumes { " --volumes" } else { "" }
            );
            self.project.down(sh, args.volumes)?;
            let left = self.env.docker.leftovers(sh, &self.plan.project)?;
            check_leftovers(&left, args.volumes, &self.plan.project, report);
        }
        Ok(())
    }
}
