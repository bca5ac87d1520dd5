//! `cargo xtask build-image`: `docker buildx build` of the generated Dockerfile from the
//! monorepo root ([`crate::ops::build`]), what it prints, and `--smoke`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::Serialize;

use super::{require_fresh, Ctx, Outcome};
use crate::buildlog;
use crate::context::Model;
use crate::image_check::{CheckResult, SmokeReport};
use crate::image_size::SizeReport;
use crate::ops::build::{
    build, failure_report, plan, refuse_push_on_standin, requested_base, Plan,
};
use crate::ops::smoke;
use crate::report::Format;
use crate::tools::docker::{Docker, Progress};
use crate::units::human_size;

pub use crate::ops::build::Args;

pub const HELP: &str = "\
cargo xtask build-image: build the API image with docker buildx

USAGE:
    cargo xtask build-image [OPTIONS] [--root DIR] [--config FILE]

Runs `docker buildx build -f infra/api.Dockerfile <root>` (never --pull) and loads the
image into the engine. Refuses to build from a stale or hand-edited infra/ (run
`cargo xtask gen`), and from a build context holding a file git ignores (a clean
checkout would not have it) or a credential found by its content (private keys, cloud
keys, tokens; named with its line, never its value). Tags <api.image>:<tag> and
<registry>/<owner>/<api.image>:<tag> (the second once project.owner is set). Labels: org.opencontainers.image.revision (git HEAD),
.source (git origin), .version (the API's package.json), .created (SOURCE_DATE_EPOCH, else
the commit time: stable, so rebuilding the same commit gives the same labels), .title,
.base.name; and xtask.standin.base on an image built on the STAND-IN base.
<root>/.npmrc, when present, is passed as the build secret `npmrc` (never copied).
Streams the build's progress to stderr and ends with the image id, size and tags; a
failed build shows the failing step's output and tags nothing. The size is split into layer
groups (base, dependencies, app, generated, other: from `docker history` and the runtime
stage's COPYs) and judged against `[image] budget` (default 500 MB, per group
`budget_<group>`): over it, a warning (`image/size-budget`, `::warning` under GitHub
Actions) names the biggest group and its likely cause; it fails only with --strict-size or
`[image] budget_fails = true` (`image/size-budget-fails`). A pushed image is not measured.

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
    --strict-size          an image over its size budget fails (exit 1, no tag set), as with
                           `[image] budget_fails = true`; without it, over budget is a warning
    --format FMT           human (default) or json: the same report as data on stdout
                           (schema xtask-build-image/1, below); the text goes to stderr
    -h, --help             print this help

EXIT: 0 built (and smoke passed), 1 the build or the smoke test failed, or the build
        context holds a file git ignores or a credential (refused before the build),
      2 could not run (stale infra/, engine unreachable or hung (XTASK_DOCKER_TIMEOUT
        seconds, default 30), the engine went away during the build, buildx missing, the
        base image cannot be pulled, bad option).

JSON (--format json), schema xtask-build-image/1:
    { schema, result: pass|fail, image (the first release tag), requested_tags[],
      node_image, standin_for (the real base a STAND-IN base stands in for, or null),
      built, image_id, size_bytes, failed_step (the build step that failed, or null),
      download (a failed step's download from a host other than the registry: {package,
        host, host_kind, setting, line}, or null),
      entry {id, ok, detail} (api.entry looked for before any tag; null when pushed),
      size {total, groups[] {name: base|dependencies|app|generated|other, bytes, layers},
            budget {total, groups[] {name, bytes}, fails}, over,
            finding {rule, severity: warning|error, line, message} or null}
           (null when pushed or not built),
      smoke (the report of `cargo xtask smoke --format json`, or null without --smoke),
      tags[] (the tags set or pushed: none unless every check passed), pushed,
      failure (why no tag was set, or null),
      context {checks[] {id, ok, detail}, leaks[] {id, path, line, kinds[]}, notes[],
        files_scanned, bytes_scanned} (the build context, checked before the build:
        context/git-ignored, context/credentials; a failed one refuses the build, exit 1),
      timings {build_ms, entry_ms, smoke_ms, total_ms} }
";

pub fn run(ctx: &Ctx, args: &Args, format: Format) -> Result<Outcome> {
    let start = Instant::now();
    let (model, docker) = prepare(ctx, args)?;
    let mut p = plan(ctx, &model, args, &docker)?;
    let release = p.tags.clone();
    // Every local build is tagged with a candidate name first: the release tags are set only
    // after the entry check (and, with --smoke, the smoke test) passed, so a failed check
    // leaves none behind (and the old image under them untouched).
    let candidate = (!p.push).then(|| candidate_name(&model.config.api.image));
    if let Some(c) = &candidate {
        p.tags = vec![c.clone()];
    }
    announce(&p, &release);
    let mut report = Report::new(&p, release);
    let mut run = Run {
        docker: &docker,
        model: &model,
        plan: &p,
        candidate: candidate.as_deref(),
        progress: args.progress,
        strict_size: args.strict_size,
        report: &mut report,
    };
    let checked = run.build().and_then(|built| match built {
        false => Ok(()),
        true => run.check_and_tag(args.smoke),
    });
    // The candidate name goes once the release tags are set or a check failed (not when the
    // build could not run: nothing was made, and the engine may be gone).
    if let (Some(c), true) = (&candidate, report.built || checked.is_ok()) {
        let removed = docker.remove_images(std::slice::from_ref(c));
        if checked.is_ok() && report.failure.is_none() {
            removed?;
        }
    }
    checked?;
    report.finish(start);
    Ok(report.print(format))
}

/// What is refused before anything is built (a stale `infra/`, `--push` of a stand-in, a
/// base too old for `node --run`), then the engine and buildx.
fn prepare(ctx: &Ctx, args: &Args) -> Result<(Model, Docker)> {
    let model = ctx.model()?;
    require_fresh(ctx, &model)?;
    // what can be refused without an engine is refused first
    let (requested, by_name) = requested_base(args.node_image.as_deref(), &model.config);
    let registry = args.registry.as_deref().unwrap_or(&model.config.registry);
    if args.push && by_name && !crate::tools::registry::is_loopback(registry) {
        return Err(refuse_push_on_standin(&requested));
    }
    crate::stack::check_node_run_base(&model.stack.image, &requested)?;
    let owner = match &args.owner {
        Some(o) => o.to_ascii_lowercase(),
        None => model.config.owner.clone(),
    };
    crate::ops::build::refuse_by_args(&owner, args)?;
    let docker = Docker::find()?;
    docker.require_engine()?;
    docker.require_buildx()?;
    Ok((model, docker))
}

/// `<api.image>:xtask-smoke-candidate-<pid>-<hex>`: the name a local build has until its
/// checks passed.
fn candidate_name(image: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{image}:xtask-smoke-candidate-{}-{nanos:x}",
        std::process::id()
    )
}

/// Progress on stderr: what is built on which base (a stand-in named as one), the plan's
/// notes, the `.npmrc` secret.
fn announce(p: &Plan, release: &[String]) {
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
}

/// One build-image run's phases, each recording what it found in the report.
struct Run<'a> {
    docker: &'a Docker,
    model: &'a Model,
    plan: &'a Plan,
    /// The candidate name of a local build (none when pushing).
    candidate: Option<&'a str>,
    progress: Progress,
    strict_size: bool,
    report: &'a mut Report,
}

impl Run<'_> {
    /// The buildx build: `Ok(true)` built; `Ok(false)` failed (its step's output on stderr,
    /// nothing tagged); an error when it could not run (the base image cannot be had).
    fn build(&mut self) -> Result<bool> {
        if self.plan.context.refused() {
            for c in self.plan.context.checks.iter().filter(|c| !c.ok) {
                eprintln!("FAIL  {}: {}", c.id, c.detail);
            }
            self.report.fail(format!(
                "refused before the build: the build context would carry what it must not ({}); nothing was built or tagged",
                self.plan
                    .context
                    .checks
                    .iter()
                    .filter(|c| !c.ok)
                    .map(|c| c.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return Ok(false);
        }
        let b = build(self.docker, self.plan, self.progress, true)?;
        self.report.timings.build_ms = (b.secs * 1000.0) as u64;
        let failed = buildlog::failed(&b.steps);
        if !b.ok {
            if let Some(step) = failed {
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
            self.report.failed_step = failed.map(|s| s.name.clone());
            self.report.download = failed.and_then(|s| buildlog::download_failure(&s.output));
            self.report.fail(format!(
                "FAILED after {:.1}s; nothing was tagged ({} left as they were)",
                b.secs,
                self.report.requested_tags.join(", ")
            ));
            return Ok(false);
        }
        self.report.built = true;
        self.report.image_id = b.id;
        self.report.size_bytes = b.size;
        Ok(true)
    }

    /// A local build: the entry check, then (with `smoke`) the smoke test, then the release
    /// tags; a pushed build: its tags, then (with `smoke`) the smoke test of the first.
    fn check_and_tag(&mut self, smoke: bool) -> Result<()> {
        let Some(c) = self.candidate else {
            self.report.tags = self.plan.tags.clone();
            self.report.pushed = self.plan.push;
            if smoke {
                let first = self.plan.tags[0].clone();
                self.smoke(&first)?;
            }
            return Ok(());
        };
        if !self.entry(c) || !self.size(c)? {
            return Ok(());
        }
        if smoke && !self.smoke(c)? {
            self.report.fail(format!(
                "the smoke test failed; no release tag was set ({} left as they were)",
                self.report.requested_tags.join(", ")
            ));
            return Ok(());
        }
        for t in &self.report.requested_tags {
            self.docker.tag(c, t)?;
        }
        self.report.tags = self.report.requested_tags.clone();
        Ok(())
    }

    /// Is `api.entry` in the image? (right after the build, before any tag)
    fn entry(&mut self, image: &str) -> bool {
        let t = Instant::now();
        let e = crate::image_check::expect_for(self.model);
        let entry = smoke::entry(self.docker, image, &e)
            .unwrap_or_else(|err| CheckResult::fail("image/entry", format!("{err:#}")));
        self.report.timings.entry_ms = t.elapsed().as_millis() as u64;
        let ok = entry.ok;
        self.report.entry = Some(entry);
        if !ok {
            self.report.fail(format!(
                "the built image has no {}; no tag was set ({} left as they were)",
                self.model.config.api.entry,
                self.report.requested_tags.join(", ")
            ));
        }
        ok
    }

    /// The image's size by group against the budget: whether it may be tagged (over budget
    /// is a warning unless the budget fails).
    fn size(&mut self, image: &str) -> Result<bool> {
        let budget = crate::ops::image_size::budget(&self.model.config.image, self.strict_size);
        let size = crate::ops::image_size::measure(
            self.docker,
            self.plan,
            image,
            self.report.size_bytes,
            budget,
            &self.model.config.api.runtime_files,
        )?;
        let fails = size.over && size.budget.fails;
        self.report.size = Some(size);
        if fails {
            self.report.fail(format!(
                "the image is over its size budget (--strict-size or [image] budget_fails); no tag was set ({} left as they were)",
                self.report.requested_tags.join(", ")
            ));
        }
        Ok(!fails)
    }

    /// The smoke test and image checks of `image`: whether every check passed.
    fn smoke(&mut self, image: &str) -> Result<bool> {
        let t = Instant::now();
        let r = smoke::check(
            self.docker,
            image,
            self.model,
            Duration::from_secs(smoke::timeout()),
        )?;
        self.report.timings.smoke_ms = t.elapsed().as_millis() as u64;
        let ok = r.ok();
        if !ok {
            self.report.result = "fail";
        }
        self.report.smoke = Some(r);
        Ok(ok)
    }
}

/// JSON schema id of [`Report`]; changes on any incompatible change, fields may be added.
pub const SCHEMA: &str = "xtask-build-image/1";

/// One build-image run: the data both renderings (text, `--format json`) are made of (the
/// schema is in [`HELP`]).
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    /// `pass` or `fail`.
    pub result: &'static str,
    /// The first release tag: the name the image is given in every line.
    pub image: String,
    pub requested_tags: Vec<String>,
    pub node_image: String,
    /// The real base the STAND-IN base stands in for.
    pub standin_for: Option<String>,
    pub built: bool,
    pub image_id: Option<String>,
    pub size_bytes: Option<u64>,
    pub failed_step: Option<String>,
    /// The image's size by layer group, judged against the budget (local builds).
    pub size: Option<SizeReport>,
    /// The failed step's download from a non-registry host (Prisma's engines, sharp's
    /// libvips, a prebuilt native module): the package, the host's kind, the setting.
    pub download: Option<buildlog::DownloadFailure>,
    /// `api.entry` looked for in the image before any tag (local builds).
    pub entry: Option<CheckResult>,
    /// `--smoke`: the smoke test's report.
    pub smoke: Option<SmokeReport>,
    /// The tags set (or pushed).
    pub tags: Vec<String>,
    pub pushed: bool,
    /// Why no tag was set.
    pub failure: Option<String>,
    /// The build context's guard, checked before the build: `context/git-ignored` and
    /// `context/credentials` (each file named, never a value) and the notes of a check that
    /// could not run.
    pub context: crate::ops::context_guard::Guard,
    pub timings: Timings,
}

#[derive(Debug, Default, Serialize)]
pub struct Timings {
    pub build_ms: u64,
    pub entry_ms: u64,
    pub smoke_ms: u64,
    pub total_ms: u64,
}

impl Report {
    fn new(p: &Plan, release: Vec<String>) -> Report {
        Report {
            schema: SCHEMA,
            result: "pass",
            image: release.first().cloned().unwrap_or_default(),
            requested_tags: release,
            node_image: p.node_image.clone(),
            standin_for: p.standin.clone(),
            built: false,
            image_id: None,
            size_bytes: None,
            failed_step: None,
            size: None,
            download: None,
            entry: None,
            smoke: None,
            tags: Vec::new(),
            pushed: false,
            failure: None,
            context: p.context.clone(),
            timings: Timings::default(),
        }
    }

    fn fail(&mut self, why: String) {
        self.result = "fail";
        self.failure = Some(why);
    }

    fn finish(&mut self, start: Instant) {
        self.timings.total_ms = start.elapsed().as_millis() as u64;
    }

    pub fn ok(&self) -> bool {
        self.result == "pass"
    }

    /// ` [STAND-IN base <image>]` on every line about an image built on a stand-in.
    fn mark(&self) -> String {
        match &self.standin_for {
            Some(_) => format!(" [STAND-IN base {}]", self.node_image),
            None => String::new(),
        }
    }

    /// The text rendering: what was built, the entry check, the smoke report, the tags (or
    /// why none was set).
    pub fn render_human(&self) -> String {
        let mark = self.mark();
        let mut s = String::new();
        let w = &mut s;
        if self.built {
            let base = match &self.standin_for {
                Some(of) => format!(
                    "STAND-IN base {} (stands in for {of}; never push it)",
                    self.node_image
                ),
                None => self.node_image.clone(),
            };
            let secs = self.timings.build_ms as f64 / 1000.0;
            let _ = writeln!(w, "built {} in {secs:.1}s on {base}", self.image);
            let id = self.image_id.as_deref().unwrap_or("(pushed; not loaded)");
            let _ = writeln!(w, "  image  {id}{mark}");
            if let Some(size) = self.size_bytes {
                let _ = writeln!(w, "  size   {} ({size} bytes){mark}", human_size(size));
            }
            if let Some(s) = &self.size {
                w.push_str(&s.render_human("  "));
            }
        }
        match &self.entry {
            Some(e) if e.ok => {
                let _ = writeln!(w, "  entry  {}", e.detail);
            }
            Some(e) => {
                let _ = writeln!(w, "FAIL  image/entry: {}", e.detail);
            }
            None => {}
        }
        if !self.pushed {
            if let Some(r) = &self.smoke {
                w.push_str(&r.render_human());
            }
        }
        for (i, t) in self.tags.iter().enumerate() {
            let _ = writeln!(w, "  {}  {t}{mark}", if i == 0 { "tags " } else { "     " });
        }
        if self.pushed {
            let _ = writeln!(w, "  pushed {}", self.tags.join(", "));
            if let Some(r) = &self.smoke {
                w.push_str(&r.render_human());
            }
        }
        if let Some(f) = &self.failure {
            let _ = writeln!(w, "build-image: {f}{mark}");
        }
        s
    }

    /// `::warning file=infra/api.Dockerfile,line=N,title=image/size-budget::…` (`::error`
    /// when the budget fails) for an image over its budget, as verify annotates a finding.
    pub fn annotations(&self) -> String {
        let Some(f) = self.size.as_ref().and_then(|s| s.finding.as_ref()) else {
            return String::new();
        };
        format!(
            "::{} file={},line={},title={}::{}\n",
            f.severity,
            crate::stack::DOCKERFILE,
            f.line,
            f.rule,
            crate::report::esc_data(&f.message)
        )
    }

    /// The JSON rendering (pretty, one trailing newline).
    pub fn render_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Prints the report: the text on stdout, or the JSON on stdout and the text on stderr
    /// (progress); the outcome it means.
    fn print(&self, format: Format) -> Outcome {
        let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        match format {
            Format::Human => {
                print!("{}", self.render_human());
                if github {
                    print!("{}", self.annotations());
                }
            }
            Format::Json => {
                eprint!("{}", self.render_human());
                if github {
                    eprint!("{}", self.annotations());
                }
                print!("{}", self.render_json());
            }
        }
        if self.ok() {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut r = Report {
            schema: SCHEMA,
            result: "pass",
            image: "api:t".into(),
            requested_tags: vec!["api:t".into(), "ghcr.io/o/api:t".into()],
            node_image: "xtask.local/node:22-standin".into(),
            standin_for: Some("node:22-alpine".into()),
            built: true,
            image_id: Some("sha256:abc".into()),
            size_bytes: Some(1_500_000),
            failed_step: None,
            size: None,
            download: None,
            entry: Some(CheckResult::pass(
                "image/entry",
                "dist/main.js is in the image",
            )),
            smoke: None,
            tags: Vec::new(),
            pushed: false,
            failure: None,
            context: Default::default(),
            timings: Timings {
                build_ms: 2500,
                ..Timings::default()
            },
        };
        r.tags = r.requested_tags.clone();
        r
    }

    #[test]
    fn the_text_says_what_was_built_and_tagged_and_every_line_about_it_says_standin() {
        let text = report().render_human();
        assert_eq!(
            text,
            "built api:t in 2.5s on STAND-IN base xtask.local/node:22-standin (stands in for node:22-alpine; never push it)\n\
             \x20 image  sha256:abc [STAND-IN base xtask.local/node:22-standin]\n\
             \x20 size   1.5 MB (1500000 bytes) [STAND-IN base xtask.local/node:22-standin]\n\
             \x20 entry  dist/main.js is in the image\n\
             \x20 tags   api:t [STAND-IN base xtask.local/node:22-standin]\n\
             \x20        ghcr.io/o/api:t [STAND-IN base xtask.local/node:22-standin]\n"
        );
    }

    #[test]
    fn a_failed_smoke_test_is_in_both_renderings_and_no_tag_is_set() {
        let mut r = report();
        r.tags.clear();
        r.smoke = Some(SmokeReport::new(
            "api:candidate",
            None,
            vec![
                CheckResult::pass("image/user", "USER 1001:1001"),
                CheckResult::fail("image/health", "the API exited at boot"),
            ],
        ));
        r.fail("the smoke test failed; no release tag was set (api:t left as they were)".into());
        let text = r.render_human();
        assert!(text.contains("FAIL  image/health"), "{text}");
        assert!(text.contains("1 of 2 image check(s) passed"), "{text}");
        assert!(
            text.ends_with("build-image: the smoke test failed; no release tag was set (api:t left as they were) [STAND-IN base xtask.local/node:22-standin]\n"),
            "{text}"
        );
        assert!(!text.contains("  tags "), "{text}");
        let j: serde_json::Value = serde_json::from_str(&r.render_json()).expect("json");
        assert_eq!(j["schema"], SCHEMA);
        assert_eq!(j["result"], "fail");
        assert_eq!(j["tags"], serde_json::json!([]));
        assert_eq!(j["smoke"]["checks"][1]["id"], "image/health");
        assert_eq!(j["smoke"]["checks"][1]["ok"], false);
        assert_eq!(j["timings"]["build_ms"], 2500);
        assert!(!r.ok());
    }

    #[test]
    fn a_failed_build_says_only_that_nothing_was_tagged() {
        let mut r = report();
        r.built = false;
        r.image_id = None;
        r.size_bytes = None;
        r.entry = None;
        r.tags.clear();
        r.failed_step = Some("[build 5/6] RUN x".into());
        r.fail("FAILED after 2.5s; nothing was tagged (api:t left as they were)".into());
        assert_eq!(
            r.render_human(),
            "build-image: FAILED after 2.5s; nothing was tagged (api:t left as they were) [STAND-IN base xtask.local/node:22-standin]\n"
        );
    }

    #[test]
    fn an_image_over_its_budget_is_a_warning_in_the_text_the_json_and_the_annotation() {
        use crate::image_size::{judge, Budget, Group, GroupSize};
        let mut r = report();
        let groups = Group::ALL
            .iter()
            .zip([1_000_000, 400_000, 90_000, 0, 10_000])
            .map(|(g, b)| GroupSize {
                name: *g,
                bytes: b,
                layers: 1,
            })
            .collect();
        let budget = Budget {
            total: 1_000_000,
            ..Budget::default()
        };
        r.size = Some(judge(1_500_000, groups, budget, &|_| 37));
        let text = r.render_human();
        assert!(
            text.contains("  groups base 1.0 MB (1 layer), dependencies 400.0 kB (1 layer), app 90.0 kB (1 layer), generated 0 B (1 layer), other 10.0 kB (1 layer); budget 1.0 MB (OVER)\nwarning: [image/size-budget] the image is 1.5 MB, over its budget of 1.0 MB (image.budget) by 500.0 kB; the biggest group is base"),
            "{text}"
        );
        let j: serde_json::Value = serde_json::from_str(&r.render_json()).expect("json");
        assert_eq!(j["result"], "pass", "a warning does not fail the build");
        assert_eq!(j["size"]["over"], true);
        assert_eq!(j["size"]["total"], 1_500_000);
        assert_eq!(j["size"]["finding"]["rule"], "image/size-budget");
        assert_eq!(j["size"]["finding"]["severity"], "warning");
        assert!(r
            .annotations()
            .starts_with("::warning file=infra/api.Dockerfile,line=37,title=image/size-budget::the image is 1.5 MB"));
        assert_eq!(report().annotations(), "");
    }
}
