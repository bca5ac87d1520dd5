//! The scaling phase: `gen`, `gen --check` and `verify --static` timed on the monorepo and
//! on the fixture with N unrelated packages, and the generated build on the first fixture.

use super::*;

/// In-process part of one `verify --format json` report: its duration minus the longer of
/// the compose and caddy stages (they run side by side), in seconds.
pub fn verify_in_process(report: &Json) -> Option<f64> {
    let total = report.get("duration_ms")?.as_f64()?;
    let stages = report.get("stages")?.as_array()?;
    let tools = stages
        .iter()
        .filter(|s| {
            matches!(
                s.get("name").and_then(Json::as_str),
                Some("compose" | "caddy")
            )
        })
        .filter_map(|s| s.get("duration_ms").and_then(Json::as_f64))
        .fold(0.0, f64::max);
    Some((total - tools).max(0.0) / 1000.0)
}

pub(super) fn time_cli(
    bin: &XtaskBin,
    root: &Path,
    config: Option<&Path>,
    runs: usize,
    packages: usize,
) -> Result<CliTimes> {
    let mut base: Vec<String> = vec!["--root".into(), root.display().to_string()];
    if let Some(c) = config {
        base.push("--config".into());
        base.push(c.display().to_string());
    }
    let with = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.extend(base.iter().cloned());
        v
    };
    // warm-up: writes infra/ for this monorepo, fills the page cache
    let (g, _) = bin.run(&with(&["gen"]))?;
    if !g.ok() {
        bail!(
            "`cargo xtask gen --root {}` failed: {}",
            root.display(),
            g.detail()
        );
    }
    let _ = bin.run(&with(&["verify", "--static", "--format", "json"]))?;
    let (mut gen, mut check, mut verify, mut inproc) = (vec![], vec![], vec![], vec![]);
    let mut verify_exit = None;
    for _ in 0..runs.max(1) {
        let (c, s) = bin.run(&with(&["gen"]))?;
        if !c.ok() {
            bail!("`gen` failed on {}: {}", root.display(), c.detail());
        }
        gen.push(s);
        let (c, s) = bin.run(&with(&["gen", "--check"]))?;
        if !c.ok() {
            bail!(
                "`gen --check` found stale files right after `gen` on {}: {}",
                root.display(),
                c.detail()
            );
        }
        check.push(s);
        let (c, s) = bin.run(&with(&["verify", "--static", "--format", "json"]))?;
        verify.push(s);
        verify_exit = c.code;
        if let Some(x) = serde_json::from_str::<Json>(&c.stdout)
            .ok()
            .as_ref()
            .and_then(verify_in_process)
        {
            inproc.push(x);
        }
    }
    let workspace_packages = crate::workspace::load(root)
        .map(|w| w.packages.len())
        .unwrap_or(0);
    Ok(CliTimes {
        packages,
        workspace_packages,
        gen: median(&gen).unwrap_or(f64::NAN),
        check: median(&check).unwrap_or(f64::NAN),
        verify: median(&verify).unwrap_or(f64::NAN),
        verify_in_process: median(&inproc).unwrap_or(f64::NAN),
        verify_exit,
    })
}

/// Phase 5: Scaling: the commands timed on the monorepo and on each fixture size, and the image
/// built on the first fixture. `None`: a build failed (said).
pub(super) fn scaling(
    setup: &Setup<'_>,
    run: &mut Run,
) -> Result<Option<(Option<ScaleBuild>, Vec<CliTimes>)>> {
    let (ctx, args, docker, pnpm, bin, reference, tag) = (
        setup.ctx,
        setup.args,
        setup.docker,
        setup.pnpm,
        setup.bin,
        setup.reference,
        setup.tag,
    );
    let mark = setup.gen.plan.mark();
    let mut scale_build = None;
    let mut cli = Vec::new();
    let config = ctx.config_explicit.then_some(ctx.config_path.as_path());
    let zero = run.copy(&ctx.root, "fixture-0")?;
    eprintln!(
        "bench: timing gen, gen --check, verify --static ({} runs) on the monorepo as it is",
        args.runs
    );
    cli.push(time_cli(bin, &zero, config, args.runs, 0)?);
    {
        for (i, &n) in args.scale.iter().enumerate() {
            let root = run.copy(&ctx.root, &format!("fixture-{n}"))?;
            eprintln!(
                "bench: fixture: + {n} packages outside the closure (~{} each)",
                fmt_bytes(fixture::HEAVY_BYTES as u64)
            );
            fixture::add_packages(&root, n, fixture::HEAVY_BYTES)?;
            pnpm.lockfile_only(&root, &run.pnpm_version)?;
            eprintln!(
                "bench: timing gen, gen --check, verify --static ({} runs) with {n} extra packages",
                args.runs
            );
            cli.push(time_cli(bin, &root, config, args.runs, n)?);
            if i == 0 {
                // the image, built on a copy of this fixture (the timed one keeps its infra/)
                let groot = run.copy(&root, &format!("fixture-{n}-generated"))?;
                let rroot = run.copy(&root, &format!("fixture-{n}-reference"))?;
                run.privatize(&groot, &format!("f{n}"))?;
                let fctx = Ctx::new(&groot, config);
                let (fgen, fmodel) =
                    subject_gen(&fctx, docker, args.node_image.clone(), tag, &run.id)?;
                let fref = Subject {
                    plan: Plan {
                        root: rroot.clone(),
                        ..reference.plan.clone()
                    },
                    args: reference.args.clone(),
                    ignore: reference.ignore.clone(),
                    label: reference.label,
                };
                let gen_copied = fgen.copied()?;
                let gen_cold =
                    fgen.build(docker, &format!("cold build with {n} extra packages"), true)?;
                if !gen_cold.ok {
                    return failed("fixture cold build", fgen.label, &mark).map(|_| None);
                }
                change_source(fgen.root(), &fmodel, 1)?;
                let again = || change_source(fgen.root(), &fmodel, 1000).map(|_| ());
                let gen_warm = fgen.warm_build(
                    docker,
                    &format!("warm rebuild with {n} extra packages"),
                    Some(&again),
                )?;
                if !gen_warm.ok {
                    return failed("fixture warm rebuild", fgen.label, &mark).map(|_| None);
                }
                let ref_cold =
                    fref.build(docker, &format!("cold build with {n} extra packages"), true)?;
                if !ref_cold.ok {
                    return failed("fixture cold build", fref.label, &mark).map(|_| None);
                }
                scale_build = Some(ScaleBuild {
                    packages: n,
                    heavy_bytes: (n * fixture::HEAVY_BYTES) as u64,
                    gen_cold,
                    gen_warm,
                    gen_copied,
                    ref_cold,
                });
            }
            let _ = std::fs::remove_dir_all(&root);
        }
    }

    Ok(Some((scale_build, cli)))
}
