//! The measurements of one run, phase by phase: cold builds, warm rebuilds after a
//! source-only change, images, the smoke test alone and with its services, a dependency
//! change, scaling, the first compile.

use super::*;

pub(super) fn measure(setup: &Setup<'_>, run: &mut Run) -> Result<Option<All>> {
    // what each Dockerfile COPYs, before any change to the copies
    let (gen_copied, ref_copied) = (setup.gen.copied()?, setup.reference.copied()?);
    let Some([gen_cold, ref_cold]) = cold_builds(setup, run)? else {
        return Ok(None);
    };
    let Some(([gen_warm, ref_warm], changed)) = warm_builds(setup)? else {
        return Ok(None);
    };
    let (gen_image, control, ref_image) = images(setup)?;
    let smoke = smoke_times(setup)?;
    let Some((gen_dep, ref_dep, dep_added)) = dependency_change(setup, run)? else {
        return Ok(None);
    };
    let Some((scale_build, cli)) = scaling(setup, run)? else {
        return Ok(None);
    };
    let Some(fixtures) = fixture_sizes(setup, run)? else {
        return Ok(None);
    };
    let compile = first_compile(setup.args, run)?;

    Ok(Some(All {
        gen: Measured {
            colds: gen_cold,
            warms: gen_warm,
            dep: gen_dep,
            image: gen_image,
            copied: gen_copied,
        },
        reference: Measured {
            colds: ref_cold,
            warms: ref_warm,
            dep: ref_dep,
            image: ref_image,
            copied: ref_copied,
        },
        changed,
        dep_added,
        scale_build,
        cli,
        compile,
        control,
        smoke,
        fixtures,
    }))
}

/// Phase 3b: the smoke test of the generated image, alone and with its services, side by side
/// (alternating which goes first, `--repeat` times each): the time the services add.
pub(super) fn smoke_times(setup: &Setup<'_>) -> Result<SmokeTimes> {
    use crate::ops::smoke::{self, Services};
    let image = &setup.gen.plan.tags[0];
    let timeout = std::time::Duration::from_secs(smoke::timeout());
    let (mut alone, mut with) = (Vec::new(), Vec::new());
    let mut out = SmokeTimes::default();
    for k in 0..setup.args.repeat.max(1) {
        let order = if k % 2 == 0 {
            [Services::Off, Services::Wired]
        } else {
            [Services::Wired, Services::Off]
        };
        for services in order {
            eprintln!("bench: smoke test of {image}, services {services:?}");
            let t = std::time::Instant::now();
            let r = smoke::check_with(setup.docker, image, setup.gmodel, timeout, services)?;
            let secs = t.elapsed().as_secs_f64();
            if services == Services::Off {
                alone.push(secs);
                out.alone_result = r.result.to_string();
            } else {
                with.push(secs);
                out.with_services_result = r.result.to_string();
                out.services = r
                    .boot
                    .services
                    .iter()
                    .map(|s| match &s.stands_in_for {
                        Some(of) => format!("{} (STAND-IN {} for {of})", s.name, s.image),
                        None => format!("{} ({})", s.name, s.image),
                    })
                    .collect();
                out.boot_timings = serde_json::to_value(&r.boot.timings).ok();
            }
        }
    }
    out.alone_secs = median(&alone).unwrap_or(0.0);
    out.with_services_secs = median(&with).unwrap_or(0.0);
    out.added_secs = out.with_services_secs - out.alone_secs;
    out.ratio = ratio(out.with_services_secs, out.alone_secs);
    Ok(out)
}

/// Phase 1: Cold builds, --repeat times, alternating which goes first; a fresh private store each
/// time. `None`: a build failed (said).
pub(super) fn cold_builds(setup: &Setup<'_>, run: &mut Run) -> Result<Option<[Vec<Build>; 2]>> {
    let (args, docker, gen, reference) = (setup.args, setup.docker, setup.gen, setup.reference);
    let mark = setup.gen.plan.mark();
    let mut colds: [Vec<Build>; 2] = [Vec::new(), Vec::new()];
    for k in 0..args.repeat.max(1) {
        if k > 0 {
            run.privatize(gen.root(), &format!("sample{k}"))?;
        }
        let order: [usize; 2] = if k % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let sub = if i == 0 { gen } else { reference };
            let b = sub.build(
                docker,
                &format!("cold build {}/{}", k + 1, args.repeat.max(1)),
                true,
            )?;
            if !b.ok {
                return failed("cold build", sub.label, &mark).map(|_| None);
            }
            colds[i].push(b);
        }
    }
    Ok(Some(colds))
}

/// Phase 2: Warm rebuilds, each after the same source-only change in both copies: the builds and
/// what changed. `None`: a build failed (said).
pub(super) fn warm_builds(setup: &Setup<'_>) -> Result<Option<([Vec<Build>; 2], String)>> {
    let (args, docker, gen, reference, gmodel) = (
        setup.args,
        setup.docker,
        setup.gen,
        setup.reference,
        setup.gmodel,
    );
    let mark = setup.gen.plan.mark();
    let mut warms: [Vec<Build>; 2] = [Vec::new(), Vec::new()];
    let mut changed = String::new();
    for k in 1..=args.repeat.max(1) {
        changed = change_source(gen.root(), gmodel, k)?;
        change_source(reference.root(), gmodel, k)?;
        let order: [usize; 2] = if k % 2 == 1 { [0, 1] } else { [1, 0] };
        for i in order {
            let sub = if i == 0 { gen } else { reference };
            let again = || change_source(sub.root(), gmodel, k + 1000).map(|_| ());
            let b = sub.warm_build(
                docker,
                &format!(
                    "warm rebuild {k}/{} ({changed} changed)",
                    args.repeat.max(1)
                ),
                Some(&again),
            )?;
            if !b.ok {
                return failed("warm rebuild", sub.label, &mark).map(|_| None);
            }
            warms[i].push(b);
        }
    }
    Ok(Some((warms, changed)))
}

/// Phase 3: Size and devDependencies of both images as the monorepo is, and the control (the
/// deps stage, where the check must find them): (generated, control, reference).
pub(super) fn images(setup: &Setup<'_>) -> Result<(Image, Option<usize>, Image)> {
    let (docker, gen, reference, gmodel, tag) = (
        setup.docker,
        setup.gen,
        setup.reference,
        setup.gmodel,
        setup.tag,
    );
    let lock = read(&gen.root().join("pnpm-lock.yaml"))?;
    let prod: Vec<String> = gmodel
        .closure
        .runtime
        .iter()
        .map(|p| p.dir.clone())
        .collect();
    let mut all: Vec<String> = gmodel
        .closure
        .install
        .iter()
        .map(|p| p.dir.clone())
        .collect();
    all.push(".".into());
    let dev_only = lockfile::dev_only(&lock, &prod, &all)?;
    eprintln!(
        "bench: image sizes and devDependencies ({} dev-only packages in the lockfile)",
        dev_only.len()
    );
    let gen_image = gen.inspect(docker, &dev_only)?;
    let control = dev_control(docker, gen, &dev_only, tag)?;
    let ref_image = reference.inspect(docker, &dev_only)?;
    Ok((gen_image, control, ref_image))
}

/// Phase 4: A dependency change: the same manifest and lockfile in both copies, both rebuilt:
/// (generated, reference, `name@spec`). `None`: a build failed (said).
pub(super) fn dependency_change(
    setup: &Setup<'_>,
    run: &Run,
) -> Result<Option<(Build, Build, String)>> {
    let (ctx, docker, pnpm, gen, reference, gmodel) = (
        setup.ctx,
        setup.docker,
        setup.pnpm,
        setup.gen,
        setup.reference,
        setup.gmodel,
    );
    let mark = setup.gen.plan.mark();
    let manifest_rel = format!("{}/package.json", gmodel.stack.image.api_dir);
    let (text, (name, spec)) = edit::add_dependency(&read(&gen.root().join(&manifest_rel))?)?;
    write(&gen.root().join(&manifest_rel), &text)?;
    eprintln!("bench: adding {name}@{spec} to {manifest_rel}; rewriting pnpm-lock.yaml with the host's pnpm {}", run.pnpm_version);
    pnpm.lockfile_only(gen.root(), &run.pnpm_version)?;
    for f in [manifest_rel.as_str(), "pnpm-lock.yaml"] {
        std::fs::copy(gen.root().join(f), reference.root().join(f))
            .with_context(|| format!("cannot copy {f} to the reference's copy"))?;
    }
    let dep_model = Ctx::new(
        gen.root(),
        ctx.config_explicit.then_some(ctx.config_path.as_path()),
    )
    .model()?;
    if crate::render::dockerfile::render(&dep_model.stack.image)
        != crate::render::dockerfile::render(&gmodel.stack.image)
    {
        bail!(
            "adding {name} changed the generated Dockerfile (a bug in bench's dependency change)"
        );
    }
    let gen_dep = gen.warm_build(docker, &format!("rebuild after adding {name}"), None)?;
    if !gen_dep.ok {
        return failed("dependency-change rebuild", gen.label, &mark).map(|_| None);
    }
    let ref_dep = reference.warm_build(docker, &format!("rebuild after adding {name}"), None)?;
    if !ref_dep.ok {
        return failed("dependency-change rebuild", reference.label, &mark).map(|_| None);
    }

    Ok(Some((gen_dep, ref_dep, format!("{name}@{spec}"))))
}

/// The control for the devDependency check: the generated Dockerfile's `deps` stage holds
/// every dependency, so the check must find the dev-only ones there. `None` when the
/// lockfile has no dev-only package or the Dockerfile no `deps` stage.
pub(super) fn dev_control(
    docker: &Docker,
    gen: &Subject,
    dev_only: &BTreeSet<lockfile::PkgId>,
    tag: &str,
) -> Result<Option<usize>> {
    if dev_only.is_empty() || gen.dockerfile()?.stage_named("deps").is_none() {
        return Ok(None);
    }
    let image = format!("xtask-bench-control:{tag}");
    let b = gen.build_with(
        docker,
        "control: the deps stage (every dependency)",
        false,
        Some(("deps", &image)),
    )?;
    if !b.ok {
        return Ok(None);
    }
    let entries = docker.store_entries(&image);
    let _ = docker.remove_images(std::slice::from_ref(&image));
    Ok(Some(img::dev_in_store(&entries?, dev_only).len()))
}

/// Removes the build cache records of this run's private cache mounts: created during the
/// run, of kind exec.cachemount, mounted at one of the generated Dockerfile's targets.
pub(super) fn prune_private_mounts(
    docker: &Docker,
    before: &BTreeSet<String>,
    targets: &BTreeSet<String>,
) -> Option<usize> {
    let records = docker.cache_records().ok()?;
    let mut n = 0;
    for r in records {
        let ours = !before.contains(&r.id)
            && r.kind == "exec.cachemount"
            && targets.iter().any(|t| {
                r.description
                    .starts_with(&format!("cached mount {t} from exec"))
            });
        if ours && docker.prune_cache_record(&r.id).is_ok() {
            n += 1;
        }
    }
    Some(n)
}

/// Phase 6: The first compile of `cargo xtask` from an empty target directory (`--no-compile`:
/// not measured).
pub(super) fn first_compile(args: &Args, run: &Run) -> Result<Option<f64>> {
    Ok(if args.compile {
        let cargo = Cargo::find()?;
        let ws = crate::context::default_root();
        cargo.fetch(&ws)?;
        let target = run.work.join("cargo-target");
        eprintln!(
            "bench: compiling xtask from an empty target dir ({}); this takes a while",
            target.display()
        );
        let s = cargo.build_clean(&ws, "xtask", &target)?;
        let _ = std::fs::remove_dir_all(&target);
        Some(s)
    } else {
        None
    })
}
