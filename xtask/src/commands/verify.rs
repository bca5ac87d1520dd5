//! `cargo xtask verify [--static] [--format human|json]`: prove the staging infra stage by
//! stage — fresh, rules, compose (for real), caddy (for real) — and report every finding at
//! file:line with a rule id. Exit 0 all passed, 1 a check failed, 2 a check could not run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{Ctx, Model, Outcome};
use crate::generated::{self, State, COMMAND};
use crate::image_check::CheckResult;
use crate::memo::{Key, Memo};
use crate::parse::yaml::{self, Seg};
use crate::report::{self, Report, Stage, Status};
use crate::rules::{self, Finding, Input, Sources};
use crate::stack::{self, CADDYFILE, COMPOSE, ENV_EXAMPLE};
use crate::tempdir::TempDir;
use crate::tools;

pub const HELP: &str = "\
cargo xtask verify: prove the staging infra rule by rule, with the real tools

USAGE:
    cargo xtask verify [--static] [--env-file FILE] [--node-image IMG] [--format human|json|sarif]
                       [--sarif FILE] [--root DIR] [--config FILE]

STAGES (each reported with pass / fail / skipped / could not run, and its duration):
    fresh     infra/ is what `cargo xtask gen` writes now (the same check as `gen --check`)
    rules     every rule on the files ON DISK (hand edits are caught), findings at file:line
    compose   `docker compose config`, with --no-interpolate and interpolated against
              infra/.env.staging.example (needs the docker CLI + compose plugin, no daemon);
              `docker stack config` of infra/docker-stack.staging.yml, the same way
    caddy     `caddy adapt`, and `caddy validate` with throwaway self-signed certificates
              at the paths the Caddyfile references (in a temporary copy)
    workflow  actionlint and zizmor --offline on .github/workflows/staging-infra.yml
              (findings as actionlint/<kind>, zizmor/<audit>)
    hadolint  hadolint on infra/api.Dockerfile (findings as hadolint/<code>)
    image     `docker buildx build` of the API image (tagged <api.image>:verify), then the
              smoke test (`node -e \"console.log('ok')\"`, GET /health) and the inspection
              (user, env, ports, CMD, runtime deps, no devDependency/.env/.git/.ts)

Rules are listed with their ids in docs/verify.md. A rule is waived only by a reasoned
[[waiver]] (rule, optional file, reason) in infra/stack.toml; waived findings are listed
in every output.

OPTIONS:
    --static         only the stages that need no Docker engine (fast: a pre-commit hook)
    --no-cache       rerun compose and caddy even on inputs they passed before (a pass is
                     remembered by a hash of the inputs and the tools, in ~/.cache/xtask;
                     failures are never remembered; XTASK_NO_CACHE=1 does the same)
    --node-image IMG the image stage's base, as for build-image (`standin` = the local
                     stand-in for node:22-alpine, where no registry is reachable)
    --env-file FILE  also check a real .env.staging against the API's contract: every
                     variable compose requires is set, no secret left at a placeholder
                     (change-me, example-…, empty); findings name keys, never values
    --format FMT     human (default), json (schema in docs/verify.md) or sarif
                     (SARIF 2.1.0, for GitHub code scanning; waived findings as suppressed)
    --sarif FILE     also write the SARIF report to FILE (the generated workflow uploads it)
    --root DIR       the pnpm monorepo (default: this workspace's root)
    --config FILE    the config file (default: <root>/infra/stack.toml)
    -h, --help       print this help

Under GitHub Actions (GITHUB_ACTIONS=true) findings are also printed as ::error
annotations and a markdown summary is appended to $GITHUB_STEP_SUMMARY.

EXIT: 0 all passed, 1 a check failed (findings), 2 a check could not run (missing tool,
unreadable input, bad config).
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
}

impl std::str::FromStr for Format {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Format> {
        match s {
            "human" | "text" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            other => bail!("--format {other:?}: use `human`, `json` or `sarif`"),
        }
    }
}

pub struct Args {
    pub static_only: bool,
    pub format: Format,
    /// The base for the image stage (`standin` = the local stand-in), as for build-image.
    pub node_image: Option<String>,
    /// Rerun the compose and caddy tools even on inputs they already passed.
    pub no_cache: bool,
    /// `--sarif FILE`: also write the report as SARIF there (the workflow uploads it).
    pub sarif: Option<PathBuf>,
    /// A real `.env.staging` to check against the contract (values never printed).
    pub env_file: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let t0 = Instant::now();
    let model = ctx.model()?;
    crate::workspace::check_lockfile(&model.workspace, &model.closure)?;
    let waivers = &model.config.waivers;
    for w in waivers {
        if !rules::known_id(&w.rule) {
            bail!(
                "{}: [[waiver]] rule = {:?} is not a rule verify reports; see `cargo xtask verify --help` and docs/verify.md for the ids",
                ctx.config_path.display(),
                w.rule
            );
        }
    }
    let mut stages = vec![
        fresh(ctx, &model),
        rules_stage(ctx, &model, args.env_file.as_deref()),
    ];
    // The two tool stages are independent: run them side by side.
    let memo = Memo::open(!args.no_cache);
    let panicked = |name: &'static str| {
        move |_| {
            Stage::not_run(
                name,
                Duration::ZERO,
                Status::Error(format!("the {name} stage panicked (a bug)")),
            )
        }
    };
    let (compose, caddy, workflow, hadolint) = std::thread::scope(|s| {
        let c = s.spawn(|| {
            memoized(&memo, compose_key(ctx), "compose", COMPOSE_DETAIL, || {
                compose_stage(ctx)
            })
        });
        let w = s.spawn(|| {
            memoized(
                &memo,
                lint_key(ctx, "workflow", stack::WORKFLOW),
                "workflow",
                WORKFLOW_DETAIL,
                || workflow_stage(ctx),
            )
        });
        let h = s.spawn(|| {
            memoized(
                &memo,
                lint_key(ctx, "hadolint", stack::DOCKERFILE),
                "hadolint",
                HADOLINT_DETAIL,
                || hadolint_stage(ctx),
            )
        });
        let y = memoized(&memo, caddy_key(ctx), "caddy", CADDY_DETAIL, || {
            caddy_stage(ctx)
        });
        (c.join(), y, w.join(), h.join())
    });
    stages.push(compose.unwrap_or_else(panicked("compose")));
    stages.push(caddy);
    stages.push(workflow.unwrap_or_else(panicked("workflow")));
    stages.push(hadolint.unwrap_or_else(panicked("hadolint")));
    stages.push(image_stage(ctx, &model, args));
    let stages: Vec<Stage> = stages
        .into_iter()
        .map(|s| match s.status {
            Status::Pass | Status::Fail => {
                let findings = [
                    s.findings,
                    s.waived.into_iter().map(|w| w.finding).collect(),
                ]
                .concat();
                Stage {
                    checks: s.checks,
                    ..Stage::ran(s.name, s.duration, s.detail, findings, waivers)
                }
            }
            _ => s,
        })
        .collect();
    let waived: Vec<rules::Waived> = stages
        .iter()
        .flat_map(|s| s.waived.iter().cloned())
        .collect();
    let unused = rules::unused_waivers(waivers, &waived)
        .into_iter()
        .cloned()
        .collect();
    let report = Report {
        stages,
        unused_waivers: unused,
        static_only: args.static_only,
        duration: t0.elapsed(),
    };
    if let Some(path) = &args.sarif {
        let text = serde_json::to_string_pretty(&report::sarif(&report))
            .context("cannot serialise the SARIF report")?;
        crate::generated::write_atomic(path, &format!("{text}\n"))
            .with_context(|| format!("cannot write the SARIF report {}", path.display()))?;
    }
    emit(&report, args.format)?;
    match report.exit_code() {
        0 => Ok(Outcome::Pass),
        1 => Ok(Outcome::Fail),
        _ => {
            let why: Vec<String> = report
                .stages
                .iter()
                .filter_map(|s| match &s.status {
                    Status::Error(e) => Some(format!("{}: {e}", s.name)),
                    _ => None,
                })
                .collect();
            bail!("verify could not run every stage: {}", why.join("; "))
        }
    }
}

fn emit(r: &Report, format: Format) -> Result<()> {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    match format {
        Format::Human => {
            print!("{}", report::human(r));
            if github {
                print!("{}", report::github_annotations(r));
            }
        }
        Format::Json => {
            let text = serde_json::to_string_pretty(&report::json(r))
                .context("cannot serialise the report")?;
            println!("{text}");
        }
        Format::Sarif => {
            let text = serde_json::to_string_pretty(&report::sarif(r))
                .context("cannot serialise the SARIF report")?;
            println!("{text}");
        }
    }
    if github {
        if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| {
                    format!(
                        "cannot append the job summary to {}",
                        PathBuf::from(&path).display()
                    )
                })?;
            f.write_all(report::github_summary(r).as_bytes())
                .with_context(|| {
                    format!(
                        "cannot append the job summary to {}",
                        PathBuf::from(&path).display()
                    )
                })?;
        }
    }
    Ok(())
}

/// Stage 5: build the image with buildx (as `build-image` does, tagged `<api.image>:verify`),
/// then the smoke test and the image inspection; a failed check is a finding at the
/// Dockerfile instruction it concerns.
fn image_stage(ctx: &Ctx, model: &Model, args: &Args) -> Stage {
    if args.static_only {
        return Stage::not_run(
            "image",
            Duration::ZERO,
            Status::Skipped("--static: the image stage needs a Docker engine".into()),
        );
    }
    let t = Instant::now();
    match image_checks(ctx, model, args) {
        Ok((detail, findings, checks)) => Stage {
            checks,
            ..Stage::ran("image", t.elapsed(), detail, findings, &[])
        },
        Err(e) => error_stage("image", t, e),
    }
}

/// The stage's detail, its findings (the build's failed step, or each failed check) and every
/// smoke and inspection check it ran.
fn image_checks(
    ctx: &Ctx,
    model: &Model,
    args: &Args,
) -> Result<(String, Vec<Finding>, Vec<CheckResult>)> {
    use crate::ops::build as build_image;
    use crate::tools::docker::{Docker, Progress};
    let docker = Docker::find()?;
    docker.require_engine()?;
    docker.require_buildx()?;
    let bargs = build_image::Args {
        tag: Some("verify".into()),
        node_image: args.node_image.clone(),
        ..build_image::Args::default()
    };
    let plan = build_image::plan(ctx, model, &bargs, &docker)?;
    let mark = plan.mark();
    eprintln!(
        "verify: image: building {} with buildx (progress below){mark}",
        plan.tags[0]
    );
    let built = build_image::build(&docker, &plan, Progress::Plain, true)?;
    let dockerfile = std::fs::read_to_string(ctx.root.join(stack::DOCKERFILE))
        .with_context(|| format!("cannot read {}", stack::DOCKERFILE))?;
    if !built.ok {
        eprint!("{}", build_image::failure_report(&built));
        let step = crate::buildlog::failed(&built.steps);
        let name = step.map(|s| s.name.clone()).unwrap_or_default();
        let line = line_of_step(&dockerfile, &name);
        let why = step
            .and_then(|s| s.error.clone())
            .unwrap_or_else(|| "the build failed".into());
        let finding = Finding {
            rule: "image/build",
            file: stack::DOCKERFILE.into(),
            line,
            message: format!("{name}: {why}"),
        };
        return Ok((
            format!("buildx build failed{mark}"),
            vec![finding],
            Vec::new(),
        ));
    }
    let e = crate::image_check::expect_for(model);
    let timeout = Duration::from_secs(crate::ops::smoke::timeout());
    let env = model
        .stack
        .contract
        .smoke_env(&mut || crate::ops::smoke::random_hex(16));
    let results = crate::ops::smoke::run(&docker, &plan.tags[0], &e, &env, timeout)?;
    let passed = results.iter().filter(|r| r.ok).count();
    let findings = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| Finding {
            rule: r.id,
            file: stack::DOCKERFILE.into(),
            line: line_of_check(&dockerfile, r.id),
            message: r.detail.clone(),
        })
        .collect();
    let detail = format!(
        "buildx built {} in {:.1}s; {passed} of {} smoke and inspection checks passed{mark}",
        plan.tags[0],
        built.secs,
        results.len()
    );
    Ok((detail, findings, results))
}

/// The Dockerfile line of a BuildKit step such as `[build 5/5] RUN pnpm ...`.
fn line_of_step(dockerfile: &str, step: &str) -> usize {
    let text = step.split_once("] ").map(|(_, t)| t).unwrap_or(step);
    dockerfile
        .lines()
        .position(|l| {
            let l = l.trim().trim_end_matches('\\').trim();
            !l.is_empty() && !l.starts_with('#') && text.starts_with(l)
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

/// The Dockerfile line an image check concerns (the last matching instruction: the final stage).
fn line_of_check(dockerfile: &str, id: &str) -> usize {
    let prefix = match id {
        "image/user" | "image/runtime-user" => "USER ",
        "image/env" => "ENV NODE_ENV",
        "image/expose" => "EXPOSE ",
        "image/cmd" | "image/health" => "CMD ",
        "image/workdir" => "WORKDIR ",
        "image/runtime-deps" | "image/no-dev-deps" => "COPY --from=prod-deps",
        "image/no-source-files" => "COPY --from=build",
        _ => "FROM ",
    };
    dockerfile
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(prefix))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(1)
}

fn error_stage(name: &'static str, t: Instant, e: anyhow::Error) -> Stage {
    Stage::not_run(name, t.elapsed(), Status::Error(format!("{e:#}")))
}

/// The first line where two texts differ (1-based).
fn first_diff_line(a: &str, b: &str) -> usize {
    let mut la = a.lines();
    let mut lb = b.lines();
    let mut n = 1;
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => return 1,
            _ => return n,
        }
    }
}

/// Stage 1: the same comparison as `gen --check`.
fn fresh(ctx: &Ctx, model: &Model) -> Stage {
    let t = Instant::now();
    let files = crate::render::all(&model.stack);
    let checked = match generated::check_all(&ctx.root, &files) {
        Ok(c) => c,
        Err(e) => return error_stage("fresh", t, e),
    };
    let mut findings = Vec::new();
    for c in &checked {
        let (line, msg) = match (&c.state, &c.on_disk, &c.foreign) {
            (State::Fresh, _, _) => continue,
            (_, _, Some(why)) => (
                1,
                format!("{why}; its content is not read: remove it, then `{COMMAND}` (or `{COMMAND} --force`)"),
            ),
            (State::Missing, _, _) | (_, None, _) => (1, format!("missing; run `{COMMAND}`")),
            (State::LineEndings, Some(_), _) => (
                1,
                format!("has Windows line endings (CRLF; git's core.autocrlf?), otherwise what `{COMMAND}` writes: run `{COMMAND}`, and keep LF with `infra/** text eol=lf` in .gitattributes"),
            ),
            (State::Stale, Some(d), _) => (first_diff_line(d, &c.file.contents), format!("stale (differs from here on); run `{COMMAND}`")),
            (State::HandEdited, Some(d), _) => (
                first_diff_line(d, &c.file.contents),
                format!("edited by hand (differs from here on); move the change into infra/stack.toml, then `{COMMAND} --force`"),
            ),
        };
        findings.push(Finding {
            rule: "fresh/generated",
            file: c.file.path.clone(),
            line,
            message: msg,
        });
    }
    let detail = format!(
        "{} of {} generated file(s) fresh",
        checked.len() - findings.len(),
        checked.len()
    );
    Stage::ran("fresh", t.elapsed(), detail, findings, &[])
}

/// Stage 2: every rule on the files on disk.
fn rules_stage(ctx: &Ctx, model: &Model, env_file: Option<&Path>) -> Stage {
    let t = Instant::now();
    let src = match Sources::read(&ctx.root) {
        Ok(s) => s,
        Err(e) => return error_stage("rules", t, e),
    };
    let input = Input::new(model, &ctx.root, &src);
    let mut findings = rules::run(&input);
    let mut detail = format!("{} rules on the files on disk", rules::registry().len());
    if let Some(path) = env_file {
        let text = match read_env_file(path) {
            Ok(t) => t,
            Err(e) => return error_stage("rules", t, e),
        };
        let required: Vec<String> = model
            .stack
            .compose
            .required_vars()
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        let label = path.display().to_string();
        findings.extend(rules::env::check_env_file(
            &model.stack.contract,
            &required,
            &label,
            &text,
        ));
        detail.push_str(&format!(
            "; {label}: {} required variable(s) checked (values never printed)",
            required.len()
        ));
    }
    Stage::ran("rules", t.elapsed(), detail, findings, &[])
}

/// Reads the file given with `--env-file`: a regular file (never a FIFO or device), at most
/// 1 MB, UTF-8. Errors name the file, never its contents.
fn read_env_file(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--env-file {}: cannot read it", path.display()))?;
    if !meta.is_file() {
        bail!("--env-file {}: not a regular file", path.display());
    }
    if meta.len() > 1024 * 1024 {
        bail!("--env-file {}: over 1 MB; not an env file", path.display());
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("--env-file {}: cannot read it", path.display()))?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("--env-file {}: not UTF-8 text", path.display()))
}

/// A temporary directory, removed on drop.
/// The line of a compose key path that compose names in an error (`services.api.ports.0`).
fn compose_line(text: &str, dotted: &str) -> usize {
    let segs: Vec<Seg> = dotted
        .split('.')
        .map(|p| match p.parse::<usize>() {
            Ok(n) => Seg::Index(n),
            Err(_) => Seg::Key(p.to_string()),
        })
        .collect();
    yaml::line_of(text, &segs).unwrap_or(1)
}

/// A finding for a `docker compose config` error message.
fn compose_error_finding(text: &str, stderr: &str, how: &str) -> Finding {
    let msg = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("failed without a message")
        .to_string();
    let mut line = 1;
    if let Some(i) = msg.find("line ") {
        let digits: String = msg[i + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        line = digits.parse().unwrap_or(1);
    } else if let Some(path) = msg
        .split_whitespace()
        .find(|w| w.starts_with("services.") || w.starts_with("volumes."))
    {
        let path = path.trim_end_matches(':');
        // "services.caddy Additional property restrat is not allowed" names the key too
        let full = match msg.split_once("Additional property ") {
            Some((_, rest)) => format!("{path}.{}", rest.split_whitespace().next().unwrap_or("")),
            None => path.to_string(),
        };
        line = compose_line(text, &full);
    }
    Finding {
        rule: "compose/config",
        file: COMPOSE.into(),
        line,
        message: format!("docker compose config ({how}): {msg}"),
    }
}

/// Stage 3: `docker compose config`, for real.
const CACHED: &str =
    " (cached: a real run passed on these exact inputs and tools; --no-cache reruns)";

/// The memo key of the compose stage: the files it reads, the docker CLI and its compose plugin.
fn compose_key(ctx: &Ctx) -> Option<Key> {
    let docker = tools::find("docker", "").ok()?;
    let mut k = Key::new("compose");
    k.file_identity(&docker);
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    for dir in [
        home.join(".docker/cli-plugins"),
        PathBuf::from("/usr/local/lib/docker/cli-plugins"),
        PathBuf::from("/usr/local/libexec/docker/cli-plugins"),
        PathBuf::from("/usr/lib/docker/cli-plugins"),
        PathBuf::from("/usr/libexec/docker/cli-plugins"),
    ] {
        k.file_identity(&dir.join("docker-compose"));
    }
    for f in [COMPOSE, ENV_EXAMPLE] {
        k.bytes(
            &crate::files::read_regular_bytes(&ctx.root.join(f), crate::files::MAX_GENERATED)
                .ok()?,
        );
    }
    k.bytes(&std::fs::read(ctx.root.join(stack::SWARM_STACK)).unwrap_or_default());
    Some(k)
}

/// The memo key of the caddy stage: the Caddyfile, caddy and openssl.
fn caddy_key(ctx: &Ctx) -> Option<Key> {
    let mut k = Key::new("caddy");
    k.file_identity(&tools::find("caddy", "").ok()?);
    k.file_identity(&tools::find("openssl", "").ok()?);
    k.bytes(
        &crate::files::read_regular_bytes(&ctx.root.join(CADDYFILE), crate::files::MAX_GENERATED)
            .ok()?,
    );
    Some(k)
}

/// Runs a tool stage unless the memo says these inputs passed before; records a pass.
fn memoized(
    memo: &Memo,
    key: Option<Key>,
    name: &'static str,
    detail: &str,
    run: impl FnOnce() -> Stage,
) -> Stage {
    let t = Instant::now();
    if let Some(k) = &key {
        if memo.passed_before(k) {
            return Stage::ran(
                name,
                t.elapsed(),
                format!("{detail}{CACHED}"),
                Vec::new(),
                &[],
            );
        }
    }
    let stage = run();
    if let (Some(k), Status::Pass) = (&key, &stage.status) {
        if stage.findings.is_empty() && stage.waived.is_empty() {
            memo.record_pass(k);
        }
    }
    stage
}

const COMPOSE_DETAIL: &str =
    "docker compose config: --no-interpolate, and interpolated with .env.staging.example";
const CADDY_DETAIL: &str =
    "caddy adapt, and caddy validate with throwaway self-signed certificates";

fn compose_stage(ctx: &Ctx) -> Stage {
    let t = Instant::now();
    match compose_checks(ctx) {
        Ok(Some(findings)) => {
            Stage::ran("compose", t.elapsed(), COMPOSE_DETAIL.into(), findings, &[])
        }
        Ok(None) => Stage::not_run(
            "compose",
            t.elapsed(),
            Status::Skipped(format!("{COMPOSE} is missing (see the fresh stage)")),
        ),
        Err(e) => error_stage("compose", t, e),
    }
}

fn compose_checks(ctx: &Ctx) -> Result<Option<Vec<Finding>>> {
    let file = ctx.root.join(COMPOSE);
    let Some(text) = generated::read_optional(&file)? else {
        return Ok(None);
    };
    // The two runs are independent: run them side by side.
    let (raw, interpolated) = std::thread::scope(|s| {
        let raw = s.spawn(|| {
            tools::compose::config(&tools::compose::Config {
                file: &file,
                env_file: None,
                interpolate: false,
            })
        });
        let interpolated = compose_interpolated(ctx, &text);
        (raw.join(), interpolated)
    });
    let raw = raw.unwrap_or_else(|_| {
        Err(anyhow::anyhow!(
            "docker compose config --no-interpolate panicked (a bug)"
        ))
    })?;
    if !raw.status.success() {
        // interpolation fails the same way: report the plain error once
        return Ok(Some(vec![compose_error_finding(
            &text,
            &String::from_utf8_lossy(&raw.stderr),
            "--no-interpolate",
        )]));
    }
    let mut findings = interpolated?;
    findings.extend(stack_check(ctx)?);
    Ok(Some(findings))
}

/// `docker stack config` of the Swarm stack file, interpolated with the example env file.
fn stack_check(ctx: &Ctx) -> Result<Vec<Finding>> {
    let file = ctx.root.join(stack::SWARM_STACK);
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let example = generated::read_optional(&ctx.root.join(ENV_EXAMPLE))?.unwrap_or_default();
    let out = tools::swarm::stack_config(&file, &tools::swarm::parse_env(&example))?;
    if out.ok() {
        return Ok(Vec::new());
    }
    Ok(vec![Finding {
        file: stack::SWARM_STACK.into(),
        line: 1,
        rule: "swarm/stack-config",
        message: format!(
            "docker stack config (interpolated with {ENV_EXAMPLE}): {}",
            out.detail()
        ),
    }])
}

/// `docker compose config` interpolated with the example env file, on a temporary copy of
/// infra/ whose `.env.staging` (the compose file's `env_file:`) is the example. A required
/// variable missing from the example is a finding; it then gets a placeholder, and the run
/// is repeated to find the next one.
fn compose_interpolated(ctx: &Ctx, text: &str) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let tmp = TempDir::new("verify-compose")?;
    let infra = ctx.root.join(stack::INFRA_DIR);
    for e in
        std::fs::read_dir(&infra).with_context(|| format!("cannot list {}", infra.display()))?
    {
        let e = e.with_context(|| format!("cannot list {}", infra.display()))?;
        if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
            std::fs::copy(e.path(), tmp.path().join(e.file_name())).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    e.path().display(),
                    tmp.path().display()
                )
            })?;
        }
    }
    let example = generated::read_optional(&ctx.root.join(ENV_EXAMPLE))?.unwrap_or_default();
    let env_path = tmp.path().join(".env.staging");
    let mut env = example;
    let copy = tmp
        .path()
        .join(Path::new(COMPOSE).file_name().unwrap_or_default());
    for _ in 0..32 {
        std::fs::write(&env_path, &env)
            .with_context(|| format!("cannot write {}", env_path.display()))?;
        let out = tools::compose::config(&tools::compose::Config {
            file: &copy,
            env_file: Some(&env_path),
            interpolate: true,
        })?;
        if out.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        // "error while interpolating services.api.environment.DB_PASSWORD: required variable DB_PASSWORD is missing a value: ..."
        let Some(var) = stderr
            .split("required variable ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        else {
            findings.push(compose_error_finding(
                text,
                &stderr,
                &format!("interpolated with {ENV_EXAMPLE}"),
            ));
            break;
        };
        // compose names whichever use it met first (Go map order: it varies from run to
        // run); report the first use in the file, which is stable
        let first_use = format!("${{{var}");
        let line = text
            .lines()
            .position(|l| l.contains(&first_use))
            .map(|i| i + 1)
            .or_else(|| {
                stderr
                    .split("error while interpolating ")
                    .nth(1)
                    .and_then(|r| r.split(':').next())
                    .map(|p| compose_line(text, p.trim()))
            })
            .unwrap_or(1);
        findings.push(Finding {
            rule: "compose/env-example",
            file: COMPOSE.into(),
            line,
            message: format!("{var} is required here but missing from (or empty in) {ENV_EXAMPLE}; add `{var}=<placeholder>` there (via the model: `cargo xtask gen`)"),
        });
        let placeholder = format!("\n{var}=x-verify\n");
        if env.contains(&placeholder) {
            break; // the placeholder did not help: stop rather than loop
        }
        env.push_str(&placeholder);
    }
    Ok(findings)
}

/// The memo key of a linter stage: the file it reads and every linter binary.
fn lint_key(ctx: &Ctx, name: &str, file: &str) -> Option<Key> {
    let mut k = Key::new(name);
    for b in tools::lint::binaries() {
        k.file_identity(&b);
    }
    k.bytes(
        &crate::files::read_regular_bytes(&ctx.root.join(file), crate::files::MAX_GENERATED)
            .ok()?,
    );
    Some(k)
}

/// Why a linter stage does not run on `file`: missing, or not a regular file (a FIFO,
/// device or /proc entry is never handed to a linter, which would block on it or read
/// what it must not); the fresh stage names it.
fn lint_input_refused(ctx: &Ctx, file: &str) -> Option<String> {
    // a symbolic link is refused too: a linter would follow it out of the repository
    match generated::read_generated(&ctx.root.join(file)) {
        Ok(generated::OnDisk::Text(_)) => None,
        Ok(generated::OnDisk::Missing) => Some(format!("{file} is missing (see the fresh stage)")),
        Ok(generated::OnDisk::Foreign(why)) => Some(format!("{file} {why} (see the fresh stage)")),
        Err(e) => Some(format!("{e:#}")),
    }
}

const WORKFLOW_DETAIL: &str = "actionlint and zizmor --offline on the workflow";
const HADOLINT_DETAIL: &str = "hadolint on the Dockerfile";

/// `workflow`: actionlint (syntax, expressions, shellcheck of `run:` scripts) and zizmor
/// (security audits, offline) on the generated workflow; their findings as `actionlint/*`
/// and `zizmor/*` at the file's lines.
fn workflow_stage(ctx: &Ctx) -> Stage {
    let t = Instant::now();
    let file = stack::WORKFLOW;
    if let Some(why) = lint_input_refused(ctx, file) {
        return Stage::not_run("workflow", t.elapsed(), Status::Skipped(why));
    }
    let run = || -> Result<Vec<Finding>> {
        let (al, zz) = std::thread::scope(|s| {
            let al = s.spawn(|| tools::lint::actionlint(&ctx.root, file));
            let zz = tools::lint::zizmor(&ctx.root, file);
            (al.join(), zz)
        });
        let al = al.map_err(|_| anyhow::anyhow!("actionlint panicked (a bug)"))??;
        let zz = zz?;
        let mut findings = rules::external::actionlint(&al.stdout, file).map_err(|e| {
            anyhow::anyhow!("{e}; actionlint said: {}", tools::indent(&al.detail()))
        })?;
        match rules::external::zizmor(&zz.stdout, file) {
            Ok(f) => findings.extend(f),
            // zizmor cannot load a workflow that is not valid: actionlint says why
            Err(_) if !findings.is_empty() => {}
            Err(e) => bail!("{e}; zizmor said: {}", tools::indent(&zz.detail())),
        }
        Ok(findings)
    };
    match run() {
        Ok(f) => Stage::ran("workflow", t.elapsed(), WORKFLOW_DETAIL.into(), f, &[]),
        Err(e) => error_stage("workflow", t, e),
    }
}

/// `hadolint`: the Dockerfile linter; its findings as `hadolint/<code>`.
fn hadolint_stage(ctx: &Ctx) -> Stage {
    let t = Instant::now();
    let file = stack::DOCKERFILE;
    if let Some(why) = lint_input_refused(ctx, file) {
        return Stage::not_run("hadolint", t.elapsed(), Status::Skipped(why));
    }
    let run = || -> Result<Vec<Finding>> {
        let out = tools::lint::hadolint(&ctx.root, file)?;
        rules::external::hadolint(&out.stdout, file)
            .map_err(|e| anyhow::anyhow!("{e}; hadolint said: {}", tools::indent(&out.detail())))
    };
    match run() {
        Ok(f) => Stage::ran("hadolint", t.elapsed(), HADOLINT_DETAIL.into(), f, &[]),
        Err(e) => error_stage("hadolint", t, e),
    }
}

/// Stage 4: `caddy adapt` and `caddy validate`, for real.
fn caddy_stage(ctx: &Ctx) -> Stage {
    let t = Instant::now();
    match caddy_checks(ctx) {
        Ok(Some(findings)) => Stage::ran("caddy", t.elapsed(), CADDY_DETAIL.into(), findings, &[]),
        Ok(None) => Stage::not_run(
            "caddy",
            t.elapsed(),
            Status::Skipped(format!("{CADDYFILE} is missing (see the fresh stage)")),
        ),
        Err(e) => error_stage("caddy", t, e),
    }
}

/// A finding for a Caddy error log (`{"level":"error","msg":"...Caddyfile:10: ..."}`).
/// The line a provisioning error without a position is about: the file it could not
/// `open`, else the innermost `loading module 'x'` that starts a line.
fn locate_in_caddyfile(msg: &str, text: &str) -> Option<usize> {
    let find = |needle: &str, first_word: bool| {
        text.lines().enumerate().find_map(|(n, l)| {
            let t = l.trim_start();
            let hit = if first_word {
                t.split_whitespace().next() == Some(needle)
            } else {
                !t.starts_with('#') && t.contains(needle)
            };
            hit.then_some(n + 1)
        })
    };
    if let Some(path) = msg.split("open ").nth(1).and_then(|r| r.split(':').next()) {
        if let Some(n) = find(path.trim(), false) {
            return Some(n);
        }
    }
    msg.split("module '")
        .skip(1)
        .filter_map(|r| r.split('\'').next())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|m| find(m, true))
}

fn caddy_error_finding(rule: &'static str, stderr: &str, file_name: &str, text: &str) -> Finding {
    let msgs: Vec<String> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .collect();
    let msg = msgs.last().cloned().unwrap_or_else(|| {
        stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("failed")
            .to_string()
    });
    let line = msg
        .match_indices(&format!("{file_name}:"))
        .filter_map(|(i, m)| {
            msg[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .next()
        .unwrap_or(1);
    let line = if line != 1 {
        line
    } else {
        locate_in_caddyfile(&msg, text).unwrap_or(1)
    };
    let what = if rule == "caddy/adapt" {
        "caddy adapt"
    } else {
        "caddy validate"
    };
    Finding {
        rule,
        file: CADDYFILE.into(),
        line,
        message: format!("{what}: {msg}"),
    }
}

fn caddy_checks(ctx: &Ctx) -> Result<Option<Vec<Finding>>> {
    let file = ctx.root.join(CADDYFILE);
    let Some(text) = generated::read_optional(&file)? else {
        return Ok(None);
    };
    let tmp = TempDir::new("verify-caddy")?;
    let name = "Caddyfile";
    // adapt (syntax) and validate (provisioning, certificates opened) side by side
    let (adapt, validate) = std::thread::scope(|s| {
        let adapt = s.spawn(|| tools::caddy::adapt(&file, &tmp.path().join("state-adapt")));
        let validate = caddy_validate(&text, tmp.path(), name);
        (adapt.join(), validate)
    });
    let adapt = adapt.unwrap_or_else(|_| Err(anyhow::anyhow!("caddy adapt panicked (a bug)")))?;
    if !adapt.status.success() {
        // validate fails the same way: report the syntax error once
        return Ok(Some(vec![caddy_error_finding(
            "caddy/adapt",
            &String::from_utf8_lossy(&adapt.stderr),
            name,
            &text,
        )]));
    }
    let validate = validate?;
    if !validate.status.success() {
        return Ok(Some(vec![caddy_error_finding(
            "caddy/validate",
            &String::from_utf8_lossy(&validate.stderr),
            name,
            &text,
        )]));
    }
    Ok(Some(Vec::new()))
}

/// `caddy validate` on a copy of the Caddyfile whose `tls` paths point at throwaway
/// self-signed certificates, generated at the referenced paths mirrored under `tmp`.
fn caddy_validate(text: &str, tmp: &Path, name: &str) -> Result<std::process::Output> {
    let cf = crate::parse::caddyfile::parse(text);
    let certs_root = tmp.join("certs-root");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut made: Vec<(String, String)> = Vec::new();
    for site in &cf.sites {
        for tls in site.find("tls") {
            let [cert, key, ..] = tls.args.as_slice() else {
                continue;
            };
            let mirror = |p: &str| certs_root.join(p.trim_start_matches('/'));
            let (c, k) = (mirror(cert), mirror(key));
            if !made.contains(&(cert.clone(), key.clone())) {
                for p in [&c, &k] {
                    if let Some(dir) = p.parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create {}", dir.display()))?;
                    }
                }
                tools::caddy::self_signed(&c, &k)?;
                made.push((cert.clone(), key.clone()));
            }
            if let Some(l) = lines.get_mut(tls.line - 1) {
                *l = l.replacen(cert.as_str(), &c.to_string_lossy(), 1).replacen(
                    key.as_str(),
                    &k.to_string_lossy(),
                    1,
                );
            }
        }
    }
    let copy = tmp.join(name);
    std::fs::write(&copy, lines.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", copy.display()))?;
    tools::caddy::validate(&copy, &tmp.join("state-validate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_differing_line() {
        assert_eq!(first_diff_line("a\nb\nc\n", "a\nb\nc\n"), 1);
        assert_eq!(first_diff_line("a\nX\nc\n", "a\nb\nc\n"), 2);
        assert_eq!(first_diff_line("a\n", "a\nb\n"), 2);
    }

    #[test]
    fn compose_errors_point_at_lines() {
        let text = "services:\n  caddy:\n    image: x\n    restrat: no\n";
        let f = compose_error_finding(
            text,
            "validating /t/c.yml: services.caddy Additional property restrat is not allowed\n",
            "x",
        );
        assert_eq!(f.line, 4);
        let f = compose_error_finding(
            text,
            "yaml: line 3: found character that cannot start any token\n",
            "x",
        );
        assert_eq!(f.line, 3);
    }

    #[test]
    fn caddy_errors_point_at_lines() {
        let e = "{\"level\":\"info\",\"msg\":\"using config\"}\n{\"level\":\"error\",\"ts\":1,\"msg\":\"Caddyfile:10: unrecognized directive: reverse_prxy\"}\n";
        let f = caddy_error_finding("caddy/adapt", e, "Caddyfile", "");
        assert_eq!((f.line, f.rule), (10, "caddy/adapt"));
        let e = "{\"level\":\"error\",\"msg\":\"parsing upstream 'api:99999': out of range, at /tmp/x/Caddyfile:12\"}\n";
        assert_eq!(
            caddy_error_finding("caddy/validate", e, "Caddyfile", "").line,
            12
        );
        let text = ":443 {\n\treverse_proxy api:3000 {\n\t\ttransport http {\n\t\t\ttls_trusted_ca_certs /no.pem\n";
        let e = "{\"level\":\"error\",\"msg\":\"loading module 'reverse_proxy': loading module 'http': failed reading ca cert: open /no.pem: no such file\"}";
        assert_eq!(
            caddy_error_finding("caddy/validate", e, "Caddyfile", text).line,
            4
        );
        let e = "{\"level\":\"error\",\"msg\":\"loading module 'reverse_proxy': loading module 'http': bad\"}";
        assert_eq!(
            caddy_error_finding("caddy/validate", e, "Caddyfile", text).line,
            2
        );
    }
}
