//! `cargo xtask build-image`: `docker buildx build` of the generated Dockerfile from the
//! monorepo root ([`crate::ops::build`]), what it prints, and `--smoke`.

use std::time::Duration;

use anyhow::{bail, Result};

use super::{require_fresh, Ctx, Outcome};
use crate::buildlog;
use crate::ops::build::{build, failure_report, plan, refuse_push_on_standin, requested_base};
use crate::ops::smoke;
use crate::report::Format;
use crate::tools::docker::Docker;
use crate::units::human_size;

pub use crate::ops::build::Args;

pub const HELP: &str = "\
cargo xtask build-image: build the API image with docker buildx

USAGE:
    cargo xtask build-image [OPTIONS] [--root DIR] [--config FILE]

Runs `docker buildx build -f infra/api.Dockerfile <root>` (never --pull) and loads the
image into the engine. Refuses to build from a stale or hand-edited infra/ (run
`cargo xtask gen`). Tags <api.image>:<tag> and <registry>/<owner>/<api.image>:<tag> (the
second once project.owner is set). Labels: org.opencontainers.image.revision (git HEAD),
.source (git origin), .version (the API's package.json), .created (SOURCE_DATE_EPOCH, else
the commit time: stable, so rebuilding the same commit gives the same labels), .title,
.base.name; and xtask.standin.base on an image built on the STAND-IN base.
<root>/.npmrc, when present, is passed as the build secret `npmrc` (never copied).
Streams the build's progress to stderr and ends with the image id, size and tags; a
failed build shows the failing step's output and tags nothing.

OPTIONS:
    --tag TAG              image tag (default: the config's project.tag); repeat for more tags
    --registry HOST[:PORT] registry instead of project.registry, e.g. a local test registry
                           (`127.0.0.1:5000`)
    --owner OWNER          registry namespace instead of project.owner (lowercased), e.g. in CI
                           `--owner \"${{ github.repository_owner }}\"`
    --node-image IMAGE     base image of every stage (default: the config's node.image);
                           `standin` = xtask.local/node:22-standin, built on demand
    --platform P           e.g. linux/amd64
    --push                 push instead of load (refused for an image on a STAND-IN base
                           and while project.owner is the placeholder OWNER)
    --cache MODE           the build cache, as the generated workflow uses it:
                           `registry` = <registry>/<owner>/<api.image>:buildcache, imported
                           always and exported with --push (a docker-container builder, e.g.
                           docker/setup-buildx-action's, writes a full cache manifest there,
                           mode=max; the engine's own `docker` driver cannot export one, so
                           the image itself is pushed there with an inline cache, and said);
                           `gha` = GitHub's cache (needs ACTIONS_RUNTIME_TOKEN, which GitHub
                           gives only to actions: crazy-max/ghaction-github-runtime);
                           `none` (default)
    --cache-from SPEC      passed to buildx (repeatable)
    --cache-to SPEC        passed to buildx (repeatable)
    --progress MODE        auto (default), plain or tty
    --smoke                then run the smoke test and image checks (see `cargo xtask smoke`)
    -h, --help             print this help

EXIT: 0 built (and smoke passed), 1 the build or the smoke test failed,
      2 could not run (stale infra/, engine unreachable or hung (XTASK_DOCKER_TIMEOUT
        seconds, default 30), the engine went away during the build, buildx missing, the
        base image cannot be pulled, bad option).
";

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let model = ctx.model()?;
    require_fresh(ctx, &model)?;
    // what can be refused without an engine is refused first
    let (requested, by_name) = requested_base(args.node_image.as_deref(), &model.config);
    let registry = args.registry.as_deref().unwrap_or(&model.config.registry);
    if args.push && by_name && !crate::tools::registry::is_loopback(registry) {
        return Err(refuse_push_on_standin(&requested));
    }
    crate::stack::check_node_run_base(&model.stack.image, &requested)?;
    let docker = Docker::find()?;
    docker.require_engine()?;
    docker.require_buildx()?;
    let mut p = plan(ctx, &model, args, &docker)?;
    // With --smoke the build is tagged only with a candidate name: the release tags are set
    // after the smoke test passes, so a failed smoke test leaves none behind (and the old
    // image under them untouched).
    let release = p.tags.clone();
    // Every local build is tagged with a candidate name first: the release tags are set only
    // after the entry check (and, with --smoke, the smoke test) passed.
    let candidate = (!p.push).then(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "{}:xtask-smoke-candidate-{}-{nanos:x}",
            model.config.api.image,
            std::process::id()
        )
    });
    if let Some(c) = &candidate {
        p.tags = vec![c.clone()];
    }
    let mark = p.mark();
    match &p.standin {
        Some(of) => eprintln!(
            "build-image: building {} on STAND-IN base {} (a local stand-in for {of}, NOT the real image; never push it)",
            release.join(", "),
            p.node_image
        ),
        None => eprintln!("build-image: building {} on {}", release.join(", "), p.node_image),
    }
    for n in &p.notes {
        eprintln!("build-image: note: {n}");
    }
    if p.npmrc.is_some() {
        eprintln!("build-image: passing {}/.npmrc as the build secret `npmrc` (mounted for install, never copied)", p.root.display());
    }
    let b = build(&docker, &p, args.progress, true)?;
    if !b.ok {
        if let Some(step) = buildlog::failed(&b.steps) {
            if let Some(image) = step.name.strip_prefix("[internal] load metadata for ") {
                bail!(
                    "buildx cannot get the base image {image}: {}. Where no registry is reachable, build on the local \
                     stand-in: `cargo xtask build-image --node-image standin`; else check the engine's network/registry \
                     access (nothing was tagged)",
                    step.error.as_deref().unwrap_or("unknown error")
                );
            }
        }
        eprint!("{}", failure_report(&b));
        println!(
            "build-image: FAILED after {:.1}s; nothing was tagged ({} left as they were){mark}",
            b.secs,
            release.join(", ")
        );
        if let Some(c) = &candidate {
            let _ = docker.remove_images(std::slice::from_ref(c));
        }
        return Ok(Outcome::Fail);
    }
    let base = match &p.standin {
        Some(of) => format!(
            "STAND-IN base {} (stands in for {of}; never push it)",
            p.node_image
        ),
        None => p.node_image.clone(),
    };
    println!("built {} in {:.1}s on {base}", release[0], b.secs);
    println!(
        "  image  {}{mark}",
        b.id.as_deref().unwrap_or("(pushed; not loaded)")
    );
    if let Some(size) = b.size {
        println!("  size   {} ({size} bytes){mark}", human_size(size));
    }
    if let Some(c) = &candidate {
        let e = crate::image_check::expect_for(&model);
        let entry = smoke::entry(&docker, c, &e);
        if !matches!(&entry, Ok(r) if r.ok) {
            let _ = docker.remove_images(std::slice::from_ref(c));
            let why = match entry {
                Ok(r) => r.detail,
                Err(err) => format!("{err:#}"),
            };
            println!("FAIL  image/entry: {why}");
            println!(
                "build-image: the built image has no {}; no tag was set ({} left as they were){mark}",
                model.config.api.entry,
                release.join(", ")
            );
            return Ok(Outcome::Fail);
        }
        println!("  entry  {} is in the image", model.config.api.entry);
    }
    if let (Some(c), false) = (&candidate, args.smoke) {
        for t in &release {
            docker.tag(c, t)?;
        }
        docker.remove_images(std::slice::from_ref(c))?;
        for (i, t) in release.iter().enumerate() {
            println!("  {}  {t}{mark}", if i == 0 { "tags " } else { "     " });
        }
        return Ok(Outcome::Pass);
    }
    if let Some(c) = &candidate {
        let outcome = smoke::check(&docker, c, &model, Duration::from_secs(smoke::timeout()))
            .map(|r| smoke::print(&r, Format::Human));
        let passed = matches!(outcome, Ok(Outcome::Pass));
        if passed {
            for t in &release {
                docker.tag(c, t)?;
            }
        }
        docker.remove_images(std::slice::from_ref(c))?;
        if !passed {
            println!(
                "build-image: the smoke test failed; no release tag was set ({} left as they were){mark}",
                release.join(", ")
            );
            return outcome;
        }
        for (i, t) in release.iter().enumerate() {
            println!("  {}  {t}{mark}", if i == 0 { "tags " } else { "     " });
        }
        return outcome;
    }
    for (i, t) in p.tags.iter().enumerate() {
        println!("  {}  {t}{mark}", if i == 0 { "tags " } else { "     " });
    }
    if p.push {
        println!("  pushed {}", p.tags.join(", "));
    }
    if args.smoke {
        let report = smoke::check(
            &docker,
            &p.tags[0],
            &model,
            Duration::from_secs(smoke::timeout()),
        )?;
        return Ok(smoke::print(&report, Format::Human));
    }
    Ok(Outcome::Pass)
}
