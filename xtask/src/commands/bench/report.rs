//! The bench report as data (schema `xtask-bench/1`), built once from the measurements:
//! its JSON is what `--format json` prints and the file holds; the tables render it.

use super::*;

/// One target of issue 6: what was measured against it, and whether it is met.
#[derive(serde::Serialize)]
pub(super) struct Target {
    pub(super) target: &'static str,
    pub(super) measured: String,
    pub(super) met: bool,
}

/// Generated / reference, each `None` when a side was not measured.
#[derive(serde::Serialize)]
pub(super) struct Ratios {
    pub(super) warm_source_change: Option<f64>,
    pub(super) dependency_change: Option<f64>,
    pub(super) cold: Option<f64>,
    pub(super) image_size: Option<f64>,
    pub(super) context_sent: Option<f64>,
}

#[derive(serde::Serialize)]
pub(super) struct MachineReport<'a> {
    pub(super) cores: usize,
    pub(super) memory_bytes: Option<u64>,
    pub(super) os: &'a str,
    pub(super) docker_server: &'a str,
    pub(super) load_average_1m: LoadAverage<'a>,
}

#[derive(serde::Serialize)]
pub(super) struct LoadAverage<'a> {
    pub(super) before: &'a str,
    pub(super) after: &'a str,
}

/// One row of the commands table (`gen`, `gen --check`, `verify --static`).
#[derive(serde::Serialize)]
pub(super) struct CommandTimes {
    pub(super) extra_packages: usize,
    pub(super) workspace_packages: usize,
    pub(super) runs: usize,
    pub(super) gen_secs: f64,
    pub(super) gen_check_secs: f64,
    pub(super) verify_static_secs: f64,
    pub(super) verify_static_in_process_secs: f64,
    pub(super) verify_exit: Option<i32>,
}

#[derive(serde::Serialize)]
pub(super) struct Scaling {
    pub(super) build: Option<Json>,
    pub(super) commands: Vec<CommandTimes>,
}

/// The bench's report (schema `xtask-bench/1`): what `--format json` prints and
/// `target/bench/bench.json` holds; its ratios and targets are the ones the tables show.
#[derive(serde::Serialize)]
pub(super) struct BenchReport<'a> {
    pub(super) schema: &'static str,
    pub(super) root: String,
    pub(super) api: &'a str,
    pub(super) node_image: &'a str,
    pub(super) standin: Option<&'a str>,
    pub(super) machine: MachineReport<'a>,
    pub(super) cold_means: &'static str,
    pub(super) source_change: &'a str,
    pub(super) dependency_added: &'a str,
    pub(super) generated: Json,
    pub(super) reference: Json,
    pub(super) ratios: Ratios,
    pub(super) targets: Vec<Target>,
    pub(super) scaling: Scaling,
    pub(super) compile_secs: Option<f64>,
    pub(super) dev_dependencies_control: Option<usize>,
    /// The generated image's smoke test alone and with the services its contract wires.
    pub(super) smoke: &'a SmokeTimes,
    /// Each fixture's image by layer group against its budget (build-image's `size`).
    pub(super) fixtures: &'a [FixtureSize],
}

/// Builds the report, prints its tables (stdout, or stderr under `--format json`) and
/// writes its JSON (and prints it under `--format json`).
pub(super) fn report(
    ctx: &Ctx,
    args: &Args,
    model: &Model,
    gen: &Subject,
    machine: &Machine,
    m: &All,
) -> Result<Outcome> {
    let data = bench_report(ctx, args, model, gen, machine, m);
    // the text rendering goes to stdout, or to stderr when stdout carries the JSON report
    let mut out: Box<dyn std::io::Write> = match args.format {
        Format::Human => Box::new(std::io::stdout()),
        Format::Json => Box::new(std::io::stderr()),
    };
    let mut text = String::new();
    render_header(&mut text, model, machine);
    render_main_table(&mut text, args, m, &data.ratios);
    render_smoke(&mut text, m);
    render_targets_and_steps(&mut text, m, &data.targets);
    render_scaling(&mut text, m);
    render_commands(&mut text, args, m);
    render_fixture_sizes(&mut text, m);
    let _ = out.write_all(text.as_bytes());
    let file = args
        .out
        .clone()
        .unwrap_or_else(|| target_dir().join("bench/bench.json"));
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&data).context("cannot serialise the report")?;
    crate::generated::write_atomic(&file, &format!("{json}\n"))?;
    let _ = writeln!(out, "  JSON written to {}", file.display());
    if args.format == Format::Json {
        println!("{json}");
    }
    Ok(Outcome::Pass)
}

pub(super) fn context_ratio(a: Option<u64>, b: Option<u64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => ratio(a as f64, b as f64),
        _ => None,
    }
}

/// The report's data, computed once for both renderings.
pub(super) fn bench_report<'a>(
    ctx: &Ctx,
    args: &Args,
    model: &'a Model,
    gen: &'a Subject,
    machine: &'a Machine,
    m: &'a All,
) -> BenchReport<'a> {
    let (g, r) = (&m.gen, &m.reference);
    BenchReport {
        schema: "xtask-bench/1",
        root: ctx.root.display().to_string(),
        api: &model.closure.api.name,
        node_image: &gen.plan.node_image,
        standin: gen.plan.standin.as_deref(),
        machine: MachineReport {
            cores: machine.cores,
            memory_bytes: machine.mem,
            os: &machine.os,
            docker_server: &machine.server,
            load_average_1m: LoadAverage {
                before: &machine.load_before,
                after: &machine.load_after,
            },
        },
        cold_means: "--no-cache with empty private cache mounts; base image local; packages from the registry",
        source_change: &m.changed,
        dependency_added: &m.dep_added,
        generated: g.json(),
        reference: r.json(),
        ratios: Ratios {
            warm_source_change: ratio(g.warm_secs(), r.warm_secs()),
            dependency_change: ratio(g.dep.secs, r.dep.secs),
            cold: ratio(g.cold_secs(), r.cold_secs()),
            image_size: ratio(g.image.sizes.total() as f64, r.image.sizes.total() as f64),
            context_sent: context_ratio(g.cold().context(), r.cold().context()),
        },
        targets: targets(m),
        scaling: Scaling {
            build: m.scale_build.as_ref().map(|s| json!({
                "packages": s.packages,
                "heavy_bytes": s.heavy_bytes,
                "generated_cold": s.gen_cold.json(),
                "generated_warm_source_change": s.gen_warm.json(),
                "generated_copied": {"files": s.gen_copied.files, "bytes": s.gen_copied.bytes},
                "reference_cold": s.ref_cold.json(),
            })),
            commands: m
                .cli
                .iter()
                .map(|c| CommandTimes {
                    extra_packages: c.packages,
                    workspace_packages: c.workspace_packages,
                    runs: args.runs.max(1),
                    gen_secs: c.gen,
                    gen_check_secs: c.check,
                    verify_static_secs: c.verify,
                    verify_static_in_process_secs: c.verify_in_process,
                    verify_exit: c.verify_exit,
                })
                .collect(),
        },
        compile_secs: m.compile,
        dev_dependencies_control: m.control,
        smoke: &m.smoke,
        fixtures: &m.fixtures,
    }
}

/// The targets of issue 6, each with what was measured against it.
pub(super) fn targets(m: &All) -> Vec<Target> {
    let (g, r) = (&m.gen, &m.reference);
    let warm_ratio = ratio(g.warm_secs(), r.warm_secs());
    let size_ratio = ratio(g.image.sizes.total() as f64, r.image.sizes.total() as f64);
    let ctx_ratio = g
        .cold()
        .context()
        .and_then(|c| ratio(c as f64, g.copied.bytes as f64));
    let fixture_ctx_ratio = m.scale_build.as_ref().and_then(|s| {
        s.gen_cold
            .context()
            .and_then(|c| ratio(c as f64, s.gen_copied.bytes as f64))
    });
    let verify0 = m.cli.first().map(|c| c.verify);
    vec![
        Target {
            target:
                "warm source-only rebuild <= 0.25x the reference's, no dependency install re-run",
            measured: format!(
                "{} ({} vs {}), installs re-run: {}; its longest step: {}",
                fmt_ratio(warm_ratio),
                fmt_secs(g.warm_secs()),
                fmt_secs(r.warm_secs()),
                g.warm_installs(),
                longest(g.warm())
                    .map(|(name, secs)| format!(
                        "{} ({} = {} of the reference's rebuild)",
                        name,
                        fmt_secs(secs),
                        fmt_ratio(ratio(secs, r.warm_secs()))
                    ))
                    .unwrap_or_else(|| "-".into())
            ),
            met: warm_ratio.is_some_and(|x| x <= 0.25) && g.warm_installs() == 0,
        },
        Target {
            target: "final image <= the reference's, zero devDependencies",
            measured: format!(
                "{} ({}: setup {}, dependencies + app {}), devDependencies: {}",
                fmt_ratio(size_ratio),
                fmt_delta(g.image.sizes.total(), r.image.sizes.total()),
                fmt_delta(g.image.sizes.setup, r.image.sizes.setup),
                fmt_delta(
                    g.image.sizes.deps + g.image.sizes.app,
                    r.image.sizes.deps + r.image.sizes.app
                ),
                g.image.dev.len()
            ),
            met: g.image.sizes.total() <= r.image.sizes.total() && g.image.dev.is_empty(),
        },
        Target {
            target: "context <= 1.1x the bytes COPYed, independent of unrelated packages",
            measured: match (&m.scale_build, fixture_ctx_ratio) {
                (Some(s), Some(f)) => format!(
                    "{} on this monorepo, {} with {} unrelated packages",
                    fmt_ratio(ctx_ratio),
                    fmt_ratio(Some(f)),
                    s.packages
                ),
                _ => format!("{} on this monorepo (no scaling run)", fmt_ratio(ctx_ratio)),
            },
            met: ctx_ratio.is_some_and(|x| x <= 1.1) && fixture_ctx_ratio.is_none_or(|x| x <= 1.1),
        },
        Target {
            target: "the smoke test's services add < 15 s (issue 20)",
            measured: format!(
                "+{} ({} with {} vs {} alone, {}); results: {} / {}",
                fmt_secs(m.smoke.added_secs),
                fmt_secs(m.smoke.with_services_secs),
                if m.smoke.services.is_empty() {
                    "no service".to_string()
                } else {
                    m.smoke.services.join(", ")
                },
                fmt_secs(m.smoke.alone_secs),
                fmt_ratio(m.smoke.ratio),
                m.smoke.with_services_result,
                m.smoke.alone_result
            ),
            met: m.smoke.added_secs < 15.0,
        },
        Target {
            target: "verify --static <= 100 ms warm on this monorepo",
            measured: match m.cli.first() {
                Some(c) => format!(
                    "{} total (in-process {}, the rest is docker compose config + caddy)",
                    fmt_secs(c.verify),
                    fmt_secs(c.verify_in_process)
                ),
                None => "not measured".into(),
            },
            met: verify0.is_some_and(|v| v <= 0.100),
        },
    ]
}
