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
mod caddy;
mod compose;
mod image;
mod lint;
mod static_stages;

use caddy::*;
use compose::*;
use image::*;
use lint::*;
use static_stages::*;

pub const HELP: &str = "\
cargo xtask verify: prove the staging infra rule by rule, with the real tools

USAGE:
    cargo xtask verify [--static] [--only STAGE,...] [--env-file FILE] [--node-image IMG]
                       [--format human|json|sarif] [--sarif FILE] [--root DIR] [--config FILE]

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
    hadolint  hadolint on infra/api.Dockerfile, and infra/web.Dockerfile with [web] (findings as
              hadolint/<code>)
    image     `docker buildx build` of the API image (tagged <api.image>:verify), then the
              smoke test (`node -e \"console.log('ok')\"`, GET /health) and the inspection
              (user, env, ports, CMD, runtime deps, no devDependency/.env/.git/.ts)

Rules are listed with their ids in docs/verify.md. A rule is waived only by a reasoned
[[waiver]] (rule, optional file, reason) in infra/stack.toml; waived findings are listed
in every output.

OPTIONS:
    --static         only the stages that need no Docker engine (fast: a pre-commit hook)
    --only STAGES    run only these stages (comma-separated names from the list above, e.g.
                     `--only fresh,rules`: the fastest pre-commit check); the others are
                     reported as skipped, and unused waivers are reported only when every
                     stage runs
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
    /// `--only`: the stages to run (None: every stage; `--static` still skips the image).
    pub only: Option<Vec<&'static str>>,
}

/// The stages in the order verify runs and reports them.
pub const STAGES: &[&str] = &[
    "fresh", "rules", "compose", "caddy", "workflow", "hadolint", "image",
];

/// Parses `--only`'s value: stage names separated by commas, each known, none twice.
pub fn parse_only(value: &str) -> Result<Vec<&'static str>> {
    let mut out: Vec<&'static str> = Vec::new();
    for word in value.split(',').map(str::trim) {
        let Some(&name) = STAGES.iter().find(|s| **s == word) else {
            bail!(
                "--only {value:?}: {word:?} is not a stage; stages are {} (comma-separated)",
                STAGES.join(", ")
            );
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

impl Args {
    fn selected(&self, stage: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(&stage))
    }
}

/// Runs `run` when `stage` is selected; otherwise a skipped stage naming `--only`.
fn if_selected(args: &Args, stage: &'static str, run: impl FnOnce() -> Stage) -> Stage {
    if args.selected(stage) {
        return run();
    }
    Stage::not_run(
        stage,
        Duration::ZERO,
        Status::Skipped("not selected by --only".into()),
    )
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let t0 = Instant::now();
    let model = ctx.model()?;
    crate::workspace::check_lockfile(&model.workspace, &model.closure)?;
    crate::stack::web::check_lockfile(&model.workspace, model.stack.web.as_ref())?;
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
        if_selected(args, "fresh", || fresh(ctx, &model)),
        if_selected(args, "rules", || {
            rules_stage(ctx, &model, args.env_file.as_deref())
        }),
    ];
    stages.extend(tool_stages(ctx, &model, args));
    stages.push(if_selected(args, "image", || {
        image_stage(ctx, &model, args)
    }));
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
                    size: s.size,
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
    // a waiver of a stage that did not run is not unused: say so only when all ran
    let unused = match args.only {
        Some(_) => Vec::new(),
        None => rules::unused_waivers(waivers, &waived)
            .into_iter()
            .cloned()
            .collect(),
    };
    let report = Report {
        stages,
        unused_waivers: unused,
        static_only: args.static_only,
        duration: t0.elapsed(),
    };
    if let Some(path) = &args.sarif {
        let text = serde_json::to_string_pretty(&report::sarif(&report))
            .context("cannot serialise the SARIF report")?;
        crate::generated::refuse_links(&ctx.root, path)?;
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

/// The four tool stages (compose, caddy, workflow, hadolint): independent, so run side by
/// side, each remembered when it passed on the same inputs.
fn tool_stages(ctx: &Ctx, model: &Model, args: &Args) -> [Stage; 4] {
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
            if_selected(args, "compose", || {
                memoized(&memo, compose_key(ctx), "compose", COMPOSE_DETAIL, || {
                    compose_stage(ctx)
                })
            })
        });
        let w = s.spawn(|| {
            if_selected(args, "workflow", || {
                memoized(
                    &memo,
                    lint_key(ctx, "workflow", stack::WORKFLOW),
                    "workflow",
                    WORKFLOW_DETAIL,
                    || workflow_stage(ctx),
                )
            })
        });
        let h = s.spawn(|| {
            if_selected(args, "hadolint", || {
                memoized(
                    &memo,
                    hadolint_key(ctx, model),
                    "hadolint",
                    HADOLINT_DETAIL,
                    || hadolint_stage(ctx, model),
                )
            })
        });
        let y = if_selected(args, "caddy", || {
            memoized(&memo, caddy_key(ctx), "caddy", CADDY_DETAIL, || {
                caddy_stage(ctx)
            })
        });
        (c.join(), y, w.join(), h.join())
    });
    [
        compose.unwrap_or_else(panicked("compose")),
        caddy,
        workflow.unwrap_or_else(panicked("workflow")),
        hadolint.unwrap_or_else(panicked("hadolint")),
    ]
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

/// Stage 3: `docker compose config`, for real.
const CACHED: &str =
    " (cached: a real run passed on these exact inputs and tools; --no-cache reruns)";

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

const WORKFLOW_DETAIL: &str = "actionlint and zizmor --offline on the workflow";
const HADOLINT_DETAIL: &str = "hadolint on the Dockerfile";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_differing_line() {
        assert_eq!(first_diff_line("a\nb\nc\n", "a\nb\nc\n"), 1);
        assert_eq!(first_diff_line("a\nX\nc\n", "a\nb\nc\n"), 2);
        assert_eq!(first_diff_line("a\n", "a\nb\n"), 2);
    }
}
