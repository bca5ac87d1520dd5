//! `cargo xtask bench`: the generated Dockerfile against a hand-written reference, side by
//! side in one run on copies of the same monorepo (cold build, warm rebuild after a
//! source-only change, rebuild after a dependency change, image size by origin,
//! devDependencies in the image, build context against the bytes COPYed), how the generated
//! build and `gen`/`verify --static` scale with unrelated workspace packages, and the first
//! compile of `cargo xtask`. A benchmark, not a test: it prints a table and writes JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

use super::{require_fresh, Ctx, Model, Outcome};
use crate::bench::image::{self as img, Sizes};
use crate::bench::table::{
    fmt_bytes, fmt_delta, fmt_ratio, fmt_secs, median, ratio, verdict, Table,
};
use crate::bench::{cachecheck, context, edit, fixture, lockfile};
use crate::buildlog::{self, Step};
use crate::ops::build::{self, Plan};
use crate::parse::{dockerfile, ignore};
use crate::report::Format;
use crate::tempdir::TempDir;
use crate::tools::cargo::Cargo;
use crate::tools::docker::{Docker, Progress};
use crate::tools::pnpm::HostPnpm;
use crate::tools::xtask_bin::XtaskBin;

pub const HELP: &str = "\
cargo xtask bench: the generated Dockerfile against a hand-written reference, measured

USAGE:
    cargo xtask bench [--node-image IMAGE|standin] [--out FILE] [--repeat N]
                      [--scale N,N...] [--runs N] [--no-compile] [--root DIR] [--config FILE]

On copies of the monorepo (nothing of yours is touched), the generated infra/api.Dockerfile
and the reference (xtask/assets/reference.Dockerfile: one build stage, `COPY . .`,
`pnpm install`, build, `pnpm deploy --prod --legacy`) are built side by side:
    1. cold build: --no-cache, and every cache mount of the Dockerfile renamed to a private
       id, so it starts empty (the engine's shared build cache is neither used nor pruned;
       the base image is local, packages come from the registry);
    2. warm rebuild after a source-only change (a comment appended to the API's entry
       source): time, the steps that re-ran, whether a dependency install re-ran;
    3. rebuild after a dependency change (a small dependency added to the API's
       package.json, the lockfile rewritten with the host's pnpm);
    4. image size split into base / dependencies / app / setup (docker history), and the
       devDependencies in the image (node_modules/.pnpm against the lockfile);
    5. build context BuildKit sent (`transferring context`) against the bytes the
       Dockerfile COPYs from the context (after its ignore file).
Cold builds and warm rebuilds run --repeat times each (alternating which Dockerfile goes
first); medians are reported. `gen`, `gen --check` and `verify --static` are timed on the
monorepo (median of --runs warm runs). Then the scaling fixture: the monorepo plus N
workspace packages outside the API's closure (~1 MB each, lockfile rewritten on the host):
the generated Dockerfile is built on the first N (context, cold and warm time; the
reference's for contrast) and the commands are timed on every N. Last, the first compile
of `cargo xtask` from an empty target directory.
Ratios are generated / reference. Prints tables; writes JSON (default:
target/bench/bench.json of this workspace). Progress goes to stderr. The machine's load
average before and after is printed: other work on it skews every figure.

OPTIONS:
    --node-image IMAGE   base of every stage, as for build-image (`standin` = the local
                         STAND-IN base, for machines without a registry)
    --out FILE           where to write the JSON
    --repeat N           cold builds and warm rebuilds per Dockerfile (default 1)
    --scale N,N...       extra packages of the scaling fixture (default 60,200; `0` skips
                         the fixture); the image is built on the first
    --no-scaling         the same as --scale 0
    --runs N             runs per command timing, median reported (default 7)
    --no-compile         skip the clean compile of cargo xtask (30-90 s on 2 cores)
    --format FORMAT      `human` (default) or `json`: the report (the data the JSON file
                         holds) on stdout, the tables on stderr
    -h, --help           print this help

Needs a Docker engine with buildx, and corepack (or pnpm) on the host for lockfiles.
EXIT: 0 measured (targets missed are reported, not failed), 1 a build failed,
      2 could not run.
";

#[derive(Debug, Clone)]
pub struct Args {
    pub node_image: Option<String>,
    pub out: Option<PathBuf>,
    pub scale: Vec<usize>,
    pub runs: usize,
    pub repeat: usize,
    pub compile: bool,
    /// `json`: the report (the same data as the JSON file) on stdout, the tables on stderr.
    pub format: Format,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            node_image: None,
            out: None,
            scale: vec![60, 200],
            runs: 7,
            repeat: 1,
            compile: true,
            format: Format::Human,
        }
    }
}

/// `60,200` → `[60, 200]`; `0` (or nothing) → `[]`.
pub fn parse_scale(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n: usize = part.parse().with_context(|| {
            format!("--scale {s:?}: {part:?} is not a number of packages (e.g. --scale 60,200)")
        })?;
        if n > 2000 {
            bail!("--scale {n}: at most 2000 extra packages (each holds ~1 MB)");
        }
        if n > 0 && !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Sources a `//` comment can be appended to: TypeScript, then JavaScript.
const TS_EXTS: &[&str] = &["ts", "tsx", "mts", "cts"];
const SOURCE_EXTS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

/// A source of the API to change: TypeScript if there is any, else JavaScript; the one named
/// like the entry point (`dist/main.js` → `main.ts`) if any, else the first in path order.
fn source_to_change(api_dir: &Path, entry: &str) -> Result<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            let n = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                if !crate::workspace::SKIP_DIRS.contains(&n.as_str()) {
                    walk(&p, out);
                }
            } else if !n.ends_with(".d.ts")
                && p.extension()
                    .is_some_and(|x| SOURCE_EXTS.contains(&x.to_string_lossy().as_ref()))
            {
                out.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(api_dir, &mut found);
    let rank = |p: &PathBuf| {
        let ts = p
            .extension()
            .is_some_and(|x| TS_EXTS.contains(&x.to_string_lossy().as_ref()));
        usize::from(!ts)
    };
    let best = found.iter().map(rank).min().unwrap_or(0);
    let mut all: Vec<PathBuf> = found.iter().filter(|p| rank(p) == best).cloned().collect();
    all.sort();
    let stem = Path::new(entry)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let pick = all
        .iter()
        .find(|p| {
            p.file_stem()
                .map(|s| s.to_string_lossy() == stem.as_str())
                .unwrap_or(false)
        })
        .or(all.first());
    pick.cloned().with_context(|| {
        format!(
            "no TypeScript or JavaScript source under {} to change for the warm rebuild",
            api_dir.display()
        )
    })
}

fn target_dir() -> PathBuf {
    let root = crate::context::default_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => {
            let t = PathBuf::from(t);
            if t.is_absolute() {
                t
            } else {
                root.join(t)
            }
        }
        _ => root.join("target"),
    }
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
}

fn write(p: &Path, text: &str) -> Result<()> {
    std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))
}

/// `MemTotal` of /proc/meminfo in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// One build, as measured.
#[derive(Debug, Clone)]
struct Build {
    ok: bool,
    secs: f64,
    steps: Vec<Step>,
    lines: Vec<String>,
    /// what went wrong with the measurement, if anything
    note: Option<String>,
}

impl Build {
    fn total(&self) -> usize {
        self.steps.iter().filter(|s| s.is_instruction()).count()
    }

    fn ran(&self) -> Vec<&Step> {
        buildlog::reran(&self.steps)
    }

    fn installs(&self) -> Vec<String> {
        self.ran()
            .into_iter()
            .filter(|s| buildlog::is_install(s))
            .map(|s| s.name.clone())
            .collect()
    }

    fn context(&self) -> Option<u64> {
        buildlog::context_bytes(&self.lines)
    }

    fn json(&self) -> Json {
        json!({
            "secs": self.secs,
            "steps_total": self.total(),
            "steps_ran": self.ran().iter().map(|s| json!({"name": s.name, "secs": s.secs})).collect::<Vec<_>>(),
            "installs_ran": self.installs(),
            "context_bytes": self.context(),
            "note": self.note,
        })
    }
}

/// One Dockerfile on one copy of the monorepo.
struct Subject {
    label: &'static str,
    plan: Plan,
    /// `--build-arg`s beyond NODE_IMAGE.
    args: Vec<(String, String)>,
    ignore: PathBuf,
}

impl Subject {
    fn root(&self) -> &Path {
        &self.plan.root
    }

    fn build(&self, docker: &Docker, what: &str, no_cache: bool) -> Result<Build> {
        self.build_with(docker, what, no_cache, None)
    }

    /// A build; `target`: (stage, tag) to build one stage under another tag instead.
    fn build_with(
        &self,
        docker: &Docker,
        what: &str,
        no_cache: bool,
        target: Option<(&str, &str)>,
    ) -> Result<Build> {
        eprintln!("bench: {what}: {} Dockerfile", self.label);
        let mut plan = Plan {
            no_cache,
            ..self.plan.clone()
        };
        if let Some((_, tag)) = target {
            plan.tags = vec![tag.to_string()];
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let meta =
            std::env::temp_dir().join(format!("xtask-bench-{}-{nanos}.json", std::process::id()));
        let mut a = build::buildx_args(&plan, &meta);
        let ctx = a.pop().unwrap_or_else(|| plan.root.display().to_string());
        for (k, v) in &self.args {
            a.push("--build-arg".into());
            a.push(format!("{k}={v}"));
        }
        if let Some((stage, _)) = target {
            a.push("--target".into());
            a.push(stage.into());
        }
        a.push(ctx);
        let t = std::time::Instant::now();
        let s = docker.buildx_build(&a, &plan.root, Progress::Plain, true)?;
        let secs = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&meta);
        let b = Build {
            ok: s.ok(),
            secs,
            steps: buildlog::parse(&s.lines),
            lines: s.lines,
            note: None,
        };
        if !b.ok {
            let bi = build::Built {
                ok: false,
                id: None,
                size: None,
                secs,
                steps: b.steps.clone(),
                lines: b.lines.clone(),
            };
            eprint!("{}", build::failure_report(&bi));
        }
        Ok(b)
    }

    /// A rebuild that should be warm. When it re-ran steps that read nothing from the
    /// context, the engine lost its cache mid-run (someone pruned it): said, and, when
    /// `retry` can make another change of the same kind, measured once more after it.
    fn warm_build(
        &self,
        docker: &Docker,
        what: &str,
        retry: Option<&dyn Fn() -> Result<()>>,
    ) -> Result<Build> {
        let b = self.build(docker, what, false)?;
        if !b.ok {
            return Ok(b);
        }
        let df = self.dockerfile()?;
        let odd: Vec<String> = cachecheck::ran_without_cause(&df, &b.ran())
            .iter()
            .map(|s| s.name.clone())
            .collect();
        if odd.is_empty() {
            return Ok(b);
        }
        let note = format!(
            "re-ran {} step(s) that read nothing from the context ({}): the engine's build cache lost them during the run (pruned by someone else?)",
            odd.len(),
            odd.join("; ")
        );
        eprintln!("bench: WARNING: the {} {what} {note}", self.label);
        match retry {
            Some(change) => {
                eprintln!("bench: changing the source again and repeating the {what} once");
                change()?;
                let mut again = self.build(docker, &format!("{what}, repeated"), false)?;
                again.note = Some(format!("repeated: the first attempt {note}"));
                Ok(again)
            }
            None => Ok(Build {
                note: Some(note),
                ..b
            }),
        }
    }

    fn dockerfile(&self) -> Result<dockerfile::Dockerfile> {
        Ok(dockerfile::parse(&read(&self.plan.dockerfile)?))
    }

    fn copied(&self) -> Result<context::Copied> {
        let ign = match std::fs::read_to_string(&self.ignore) {
            Ok(t) => ignore::parse(&t),
            Err(_) => ignore::IgnoreFile::default(),
        };
        context::copied(self.root(), &self.dockerfile()?, &ign, &self.args)
    }

    /// Size by origin, store entries and the dev-only ones among them.
    fn inspect(&self, docker: &Docker, dev_only: &BTreeSet<lockfile::PkgId>) -> Result<Image> {
        let tag = &self.plan.tags[0];
        let history = docker.history(tag)?;
        let base = docker.history(&self.plan.node_image)?;
        let copies = img::final_copies(&self.dockerfile()?, &self.args);
        let sizes = img::split_sizes(&history, base.len(), &copies);
        let entries = docker.store_entries(tag)?;
        let dev = img::dev_in_store(&entries, dev_only);
        let store = entries
            .iter()
            .filter(|e| lockfile::store_entry(e).is_some())
            .count();
        Ok(Image { sizes, store, dev })
    }
}

#[derive(Debug, Clone)]
struct Image {
    sizes: Sizes,
    /// packages in node_modules/.pnpm
    store: usize,
    dev: Vec<String>,
}

impl Image {
    fn json(&self) -> Json {
        json!({
            "total": self.sizes.total(),
            "base": self.sizes.base,
            "dependencies": self.sizes.deps,
            "app": self.sizes.app,
            "setup": self.sizes.setup,
            "store_packages": self.store,
            "dev_dependencies": self.dev,
        })
    }
}

/// Everything measured for one subject on the sample.
struct Measured {
    /// `--repeat` cold builds; the first sent the whole context
    colds: Vec<Build>,
    /// `--repeat` warm rebuilds, each after its own source-only change
    warms: Vec<Build>,
    dep: Build,
    image: Image,
    copied: context::Copied,
}

/// The median wall time of some builds.
fn secs_of(b: &[Build]) -> f64 {
    median(&b.iter().map(|b| b.secs).collect::<Vec<_>>()).unwrap_or(f64::NAN)
}

fn series_json(b: &[Build]) -> Json {
    let mut j = b.first().map(Build::json).unwrap_or(Json::Null);
    j["secs"] = json!(secs_of(b));
    j["runs_secs"] = json!(b.iter().map(|b| b.secs).collect::<Vec<_>>());
    j["installs_ran"] = json!(b.iter().flat_map(Build::installs).collect::<Vec<_>>());
    j["notes"] = json!(b.iter().filter_map(|b| b.note.clone()).collect::<Vec<_>>());
    j
}

impl Measured {
    fn cold(&self) -> &Build {
        &self.colds[0]
    }

    fn warm(&self) -> &Build {
        &self.warms[0]
    }

    fn warm_secs(&self) -> f64 {
        secs_of(&self.warms)
    }

    fn cold_secs(&self) -> f64 {
        secs_of(&self.colds)
    }

    /// dependency installs one warm rebuild re-ran (the most of any of the --repeat runs)
    fn warm_installs(&self) -> usize {
        self.warms
            .iter()
            .map(|b| b.installs().len())
            .max()
            .unwrap_or(0)
    }

    fn json(&self) -> Json {
        json!({
            "cold": series_json(&self.colds),
            "warm_source_change": series_json(&self.warms),
            "dependency_change": self.dep.json(),
            "image": self.image.json(),
            "copied": {"files": self.copied.files, "bytes": self.copied.bytes, "sources": self.copied.sources},
            "context_over_copied": self.cold().context().and_then(|c| ratio(c as f64, self.copied.bytes as f64)),
        })
    }
}

/// `gen`, `gen --check`, `verify --static` timings on one monorepo (medians, seconds).
#[derive(Debug, Clone)]
struct CliTimes {
    packages: usize,
    workspace_packages: usize,
    gen: f64,
    check: f64,
    verify: f64,
    /// verify's own duration minus its external tools (compose and caddy, run in parallel)
    verify_in_process: f64,
    verify_exit: Option<i32>,
}

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

fn time_cli(
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

/// The scaling fixture's builds: the generated Dockerfile cold and warm, the reference cold.
struct ScaleBuild {
    packages: usize,
    heavy_bytes: u64,
    gen_cold: Build,
    gen_warm: Build,
    gen_copied: context::Copied,
    ref_cold: Build,
}

struct Run {
    id: String,
    work: PathBuf,
    pnpm_version: String,
    /// cache mount descriptions of the generated Dockerfile, to find this run's records
    mount_targets: BTreeSet<String>,
    /// generated Dockerfiles as `gen` wrote them
    originals: std::collections::BTreeMap<PathBuf, String>,
}

impl Run {
    /// A copy of `from` at `work/name` (dependencies, outputs and VCS left out).
    fn copy(&self, from: &Path, name: &str) -> Result<PathBuf> {
        let to = self.work.join(name);
        crate::files::copy_tree(from, &to, crate::workspace::SKIP_DIRS)?;
        Ok(to)
    }

    /// Gives the copy's generated Dockerfile private cache mounts named after `tag` (from
    /// the text `gen` wrote, however often it is called).
    fn privatize(&mut self, root: &Path, tag: &str) -> Result<()> {
        let df = root.join(crate::stack::DOCKERFILE);
        let original = match self.originals.get(&df) {
            Some(t) => t.clone(),
            None => {
                let t = read(&df)?;
                self.originals.insert(df.clone(), t.clone());
                t
            }
        };
        let (text, n) =
            edit::private_cache_mounts(&original, &format!("xtask-bench-{}-{tag}", self.id));
        if n > 0 {
            for ins in dockerfile::parse(&text).instructions {
                for (k, v) in &ins.flags {
                    if k == "mount" && v.contains("type=cache") {
                        if let Some(t) = v.split(',').find_map(|o| {
                            o.strip_prefix("target=").or_else(|| o.strip_prefix("dst="))
                        }) {
                            self.mount_targets.insert(t.to_string());
                        }
                    }
                }
            }
        }
        write(&df, &text)
    }
}

/// The label on every image a run builds (removed by it at the end, tagged or dangling).
const RUN_LABEL: &str = "xtask.bench.run";

fn subject_gen(
    ctx: &Ctx,
    docker: &Docker,
    node_image: Option<String>,
    tag: &str,
    run_id: &str,
) -> Result<(Subject, Model)> {
    let model = ctx.model()?;
    let args = build::Args {
        tag: Some(tag.into()),
        node_image,
        progress: Progress::Plain,
        ..build::Args::default()
    };
    let mut plan = build::plan(ctx, &model, &args, docker)?;
    plan.labels.push((RUN_LABEL.into(), run_id.into()));
    Ok((
        Subject {
            label: "generated",
            ignore: ctx.root.join(crate::stack::DOCKERIGNORE),
            plan,
            args: Vec::new(),
        },
        model,
    ))
}

fn subject_ref(
    root: &Path,
    refdir: &Path,
    gen: &Subject,
    model: &Model,
    tag: &str,
    run_id: &str,
) -> Subject {
    let m = &model.stack.image;
    Subject {
        label: "reference",
        ignore: refdir.join("reference.Dockerfile.dockerignore"),
        plan: Plan {
            root: root.to_path_buf(),
            dockerfile: refdir.join("reference.Dockerfile"),
            tags: vec![format!("xtask-bench-reference:{tag}")],
            labels: vec![(RUN_LABEL.into(), run_id.into())],
            npmrc: None,
            ..gen.plan.clone()
        },
        args: vec![
            ("API".into(), m.api_name.clone()),
            ("API_DIR".into(), m.api_dir.clone()),
            ("PNPM_VERSION".into(), m.pnpm_version.clone()),
        ],
    }
}

fn change_source(root: &Path, model: &Model, n: usize) -> Result<String> {
    let f = source_to_change(
        &root.join(&model.stack.image.api_dir),
        &model.stack.image.entry,
    )?;
    write(&f, &edit::touch_source(&read(&f)?, n))?;
    Ok(f.strip_prefix(root).unwrap_or(&f).display().to_string())
}

fn failed(what: &str, label: &str, mark: &str) -> Result<Outcome> {
    println!("bench: the {what} of the {label} Dockerfile FAILED; nothing measured{mark}");
    Ok(Outcome::Fail)
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let model = ctx.model()?;
    require_fresh(ctx, &model)?;
    let docker = Docker::find()?;
    let server = docker.require_engine()?;
    docker.require_buildx()?;
    let pnpm = HostPnpm::find()?;
    let bin = XtaskBin::current()?;

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or(0);
    let id = format!("{}-{nanos}", std::process::id());
    let work = TempDir::at(std::env::temp_dir().join(format!("xtask-bench-{id}")))?;
    let mut run = Run {
        id: id.clone(),
        work: work.path().to_path_buf(),
        pnpm_version: model.stack.image.pnpm_version.clone(),
        mount_targets: BTreeSet::new(),
        originals: Default::default(),
    };
    let records_before: BTreeSet<String> = docker
        .cache_records()
        .map(|r| r.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    let load_before = loadavg();

    // two copies of the same monorepo: each build context is sent in full the first time
    let gen_root = run.copy(&ctx.root, "generated")?;
    let ref_root = run.copy(&ctx.root, "reference")?;
    run.privatize(&gen_root, "sample")?;
    let refdir = work.path().join("reference-dockerfile");
    std::fs::create_dir_all(&refdir)
        .with_context(|| format!("cannot create {}", refdir.display()))?;
    write(
        &refdir.join("reference.Dockerfile"),
        crate::bench::REFERENCE_DOCKERFILE,
    )?;
    write(
        &refdir.join("reference.Dockerfile.dockerignore"),
        crate::bench::REFERENCE_IGNORE,
    )?;
    let config = ctx.config_explicit.then_some(ctx.config_path.as_path());
    let gctx = Ctx::new(&gen_root, config);
    let tag = format!("bench-{}", std::process::id());
    let (gen, gmodel) = subject_gen(&gctx, &docker, args.node_image.clone(), &tag, &id)?;
    let reference = subject_ref(&ref_root, &refdir, &gen, &gmodel, &tag, &id);
    let mark = gen.plan.mark();
    let subject = match &gen.plan.standin {
        Some(of) => format!("STAND-IN base {} (stands in for {of})", gen.plan.node_image),
        None => gen.plan.node_image.clone(),
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .as_deref()
        .and_then(mem_total);
    let os = crate::tools::os_release()
        .map(|o| o.pretty_name)
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    eprintln!(
        "bench: {} from copies of {} on {subject}; {cores} core(s); work dir {}",
        model.closure.api.name,
        ctx.root.display(),
        work.path().display()
    );

    let setup = Setup {
        ctx,
        args,
        docker: &docker,
        pnpm: &pnpm,
        bin: &bin,
        gen: &gen,
        reference: &reference,
        gmodel: &gmodel,
        tag: &tag,
    };
    let result = measure(&setup, &mut run);
    // clean up whatever happened: every image of this run (tagged or left dangling by a
    // rebuild), its private cache mounts
    match docker.images_labelled(&format!("{RUN_LABEL}={id}")) {
        Ok(ids) => {
            if let Err(e) = docker.remove_image_ids(&ids) {
                eprintln!("bench: could not remove this run's images: {e:#}");
            }
        }
        Err(e) => eprintln!("bench: could not list this run's images: {e:#}"),
    }
    let pruned = prune_private_mounts(&docker, &records_before, &run.mount_targets);
    let m = match result? {
        Some(m) => m,
        None => return Ok(Outcome::Fail),
    };
    let machine = Machine {
        cores,
        mem,
        os,
        server,
        load_before,
        load_after: loadavg(),
        subject,
        mark,
    };
    if let Some(n) = pruned {
        eprintln!("bench: removed this run's {n} private cache mount record(s)");
    }
    report(ctx, args, &model, &gen, &machine, &m)
}

/// The machine and the base the figures were measured on.
struct Machine {
    cores: usize,
    mem: Option<u64>,
    os: String,
    server: String,
    load_before: String,
    load_after: String,
    /// the base image, as said on every line about it
    subject: String,
    mark: String,
}

/// One target of issue 6: what was measured against it, and whether it is met.
#[derive(serde::Serialize)]
struct Target {
    target: &'static str,
    measured: String,
    met: bool,
}

/// Generated / reference, each `None` when a side was not measured.
#[derive(serde::Serialize)]
struct Ratios {
    warm_source_change: Option<f64>,
    dependency_change: Option<f64>,
    cold: Option<f64>,
    image_size: Option<f64>,
    context_sent: Option<f64>,
}

#[derive(serde::Serialize)]
struct MachineReport<'a> {
    cores: usize,
    memory_bytes: Option<u64>,
    os: &'a str,
    docker_server: &'a str,
    load_average_1m: LoadAverage<'a>,
}

#[derive(serde::Serialize)]
struct LoadAverage<'a> {
    before: &'a str,
    after: &'a str,
}

/// One row of the commands table (`gen`, `gen --check`, `verify --static`).
#[derive(serde::Serialize)]
struct CommandTimes {
    extra_packages: usize,
    workspace_packages: usize,
    runs: usize,
    gen_secs: f64,
    gen_check_secs: f64,
    verify_static_secs: f64,
    verify_static_in_process_secs: f64,
    verify_exit: Option<i32>,
}

#[derive(serde::Serialize)]
struct Scaling {
    build: Option<Json>,
    commands: Vec<CommandTimes>,
}

/// The bench's report (schema `xtask-bench/1`): what `--format json` prints and
/// `target/bench/bench.json` holds; its ratios and targets are the ones the tables show.
#[derive(serde::Serialize)]
struct BenchReport<'a> {
    schema: &'static str,
    root: String,
    api: &'a str,
    node_image: &'a str,
    standin: Option<&'a str>,
    machine: MachineReport<'a>,
    cold_means: &'static str,
    source_change: &'a str,
    dependency_added: &'a str,
    generated: Json,
    reference: Json,
    ratios: Ratios,
    targets: Vec<Target>,
    scaling: Scaling,
    compile_secs: Option<f64>,
    dev_dependencies_control: Option<usize>,
}

/// Builds the report, prints its tables (stdout, or stderr under `--format json`) and
/// writes its JSON (and prints it under `--format json`).
fn report(
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
    render_targets_and_steps(&mut text, m, &data.targets);
    render_scaling(&mut text, m);
    render_commands(&mut text, args, m);
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

fn context_ratio(a: Option<u64>, b: Option<u64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => ratio(a as f64, b as f64),
        _ => None,
    }
}

/// The report's data, computed once for both renderings.
fn bench_report<'a>(
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
    }
}

/// The targets of issue 6, each with what was measured against it.
fn targets(m: &All) -> Vec<Target> {
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

/// What was compared, on what machine and base.
fn render_header(out: &mut String, model: &Model, machine: &Machine) {
    use std::fmt::Write as _;
    let Machine {
        cores,
        mem,
        os,
        server,
        load_before,
        load_after,
        subject,
        mark,
    } = machine;
    let _ = writeln!(
        out,
        "bench: {} — generated {} vs reference xtask/assets/reference.Dockerfile{mark}",
        model.closure.api.name,
        crate::stack::DOCKERFILE,
    );
    let _ = writeln!(
        out,
        "  machine: {cores} cores, {} RAM, {os}, Docker {server}; load average {load_before} -> {load_after}\n  base: {subject}",
        mem.map(|b| format!("{:.0} GiB", b as f64 / (1u64 << 30) as f64))
            .unwrap_or_else(|| "?".into())
    );
    let _ = writeln!(out, "  cold = --no-cache with empty private cache mounts (the engine's shared cache untouched); base image local, packages from the registry");
    let _ = writeln!(out);
}

fn ctxs(b: &Build) -> String {
    b.context().map(fmt_bytes).unwrap_or_else(|| "?".into())
}

/// The main table: times, image size by origin, context, re-run installs.
fn render_main_table(out: &mut String, args: &Args, m: &All, ratios: &Ratios) {
    let (g, r) = (&m.gen, &m.reference);
    let mut t = Table::new(&[
        if args.repeat > 1 {
            "ratios, generated / reference (medians)"
        } else {
            "ratios, generated / reference"
        },
        "generated",
        "reference",
        "ratio",
    ]);
    let secs = |t: &mut Table, name: &str, a: f64, b: f64, x: Option<f64>| {
        t.row(&[name, &fmt_secs(a), &fmt_secs(b), &fmt_ratio(x)]);
    };
    let bytes = |t: &mut Table, name: &str, a: u64, b: u64, x: Option<f64>| {
        t.row(&[name, &fmt_bytes(a), &fmt_bytes(b), &fmt_ratio(x)]);
    };
    let (gs, rs) = (&g.image.sizes, &r.image.sizes);
    let of = |a: u64, b: u64| ratio(a as f64, b as f64);
    secs(
        &mut t,
        &format!("warm rebuild, source-only change ({})", m.changed),
        g.warm_secs(),
        r.warm_secs(),
        ratios.warm_source_change,
    );
    secs(
        &mut t,
        &format!("rebuild after a dependency change (+{})", m.dep_added),
        g.dep.secs,
        r.dep.secs,
        ratios.dependency_change,
    );
    secs(
        &mut t,
        "cold build",
        g.cold_secs(),
        r.cold_secs(),
        ratios.cold,
    );
    bytes(
        &mut t,
        "final image size",
        gs.total(),
        rs.total(),
        ratios.image_size,
    );
    bytes(
        &mut t,
        "  dependencies (node_modules, manifests)",
        gs.deps,
        rs.deps,
        of(gs.deps, rs.deps),
    );
    bytes(
        &mut t,
        "  app (build outputs)",
        gs.app,
        rs.app,
        of(gs.app, rs.app),
    );
    t.row(&[
        "  setup (user, directories)",
        &fmt_bytes(gs.setup),
        &fmt_bytes(rs.setup),
        "",
    ]);
    t.row(&["  base", &fmt_bytes(gs.base), &fmt_bytes(rs.base), ""]);
    t.row(&[
        "build context sent (cold)",
        &ctxs(g.cold()),
        &ctxs(r.cold()),
        &fmt_ratio(ratios.context_sent),
    ]);
    bytes(
        &mut t,
        "bytes COPYed from the context",
        g.copied.bytes,
        r.copied.bytes,
        of(g.copied.bytes, r.copied.bytes),
    );
    let per_copied = |me: &Measured| {
        me.cold()
            .context()
            .and_then(|c| ratio(c as f64, me.copied.bytes as f64))
    };
    t.row(&[
        "context / bytes COPYed",
        &fmt_ratio(per_copied(g)),
        &fmt_ratio(per_copied(r)),
        "",
    ]);
    count_rows(&mut t, m);
    out.push_str(&t.render(2));
}

/// The main table's counts: installs re-run, devDependencies, packages in the store.
fn count_rows(t: &mut Table, m: &All) {
    let (g, r) = (&m.gen, &m.reference);
    let count = |t: &mut Table, name: &str, a: usize, b: usize| {
        t.row(&[name, &a.to_string(), &b.to_string(), ""]);
    };
    count(
        t,
        "dependency installs re-run per warm rebuild",
        g.warm_installs(),
        r.warm_installs(),
    );
    count(
        t,
        "devDependencies in the final image",
        g.image.dev.len(),
        r.image.dev.len(),
    );
    if let Some(n) = m.control {
        t.row(&[
            "  control: devDependencies the check finds in the deps stage",
            &n.to_string(),
            "",
            "",
        ]);
    }
    count(
        t,
        "packages in node_modules/.pnpm",
        g.image.store,
        r.image.store,
    );
}

/// The targets with their verdicts, then the steps each rebuild re-ran and any notes.
fn render_targets_and_steps(out: &mut String, m: &All, targets: &[Target]) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "\n  targets (issue 6):");
    for t in targets {
        let _ = writeln!(
            out,
            "    {:<6} {}: {}",
            verdict(t.met),
            t.target,
            t.measured
        );
    }
    let _ = writeln!(out);
    for (label, me) in [("generated", &m.gen), ("reference", &m.reference)] {
        for (what, b) in [("warm rebuild", me.warm()), ("dependency change", &me.dep)] {
            let _ = writeln!(
                out,
                "  {label}, {what}: {} of {} steps re-ran{}",
                b.ran().len(),
                b.total(),
                if b.installs().is_empty() {
                    String::from(", no dependency install")
                } else {
                    format!(", {} dependency install(s)", b.installs().len())
                }
            );
            for s in b.ran() {
                let _ = writeln!(
                    out,
                    "    {:>6}  {}",
                    s.secs.map(|x| format!("{x:.1}s")).unwrap_or_default(),
                    s.name
                );
            }
        }
        if !me.image.dev.is_empty() {
            let _ = writeln!(
                out,
                "  {label}: devDependencies in the image: {}",
                me.image.dev.join(", ")
            );
        }
        for b in me.colds.iter().chain(&me.warms).chain([&me.dep]) {
            if let Some(n) = &b.note {
                let _ = writeln!(out, "  {label}: NOTE: {n}");
            }
        }
    }
    if let Some(n) = m
        .scale_build
        .as_ref()
        .and_then(|s| s.gen_warm.note.as_ref())
    {
        let _ = writeln!(
            out,
            "  generated, warm rebuild of the scaling fixture: NOTE: {n}"
        );
    }
}

/// The scaling table: the same builds with N unrelated packages added.
fn render_scaling(out: &mut String, m: &All) {
    use std::fmt::Write as _;
    let Some(s) = &m.scale_build else { return };
    let (g, r) = (&m.gen, &m.reference);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  scaling: + {} workspace packages outside the closure ({} of heavy files), lockfile rewritten on the host",
        s.packages,
        fmt_bytes(s.heavy_bytes)
    );
    let mut t = Table::new(&["extra packages", "0", &s.packages.to_string(), "growth"]);
    let both = |a: &Build, b: &Build| match (a.context(), b.context()) {
        (Some(a), Some(b)) => fmt_delta(b, a),
        _ => "?".into(),
    };
    t.row(&[
        "generated: context sent",
        &ctxs(g.cold()),
        &ctxs(&s.gen_cold),
        &both(g.cold(), &s.gen_cold),
    ]);
    t.row(&[
        "generated: bytes COPYed",
        &fmt_bytes(g.copied.bytes),
        &fmt_bytes(s.gen_copied.bytes),
        &fmt_delta(s.gen_copied.bytes, g.copied.bytes),
    ]);
    let secs = |t: &mut Table, name: &str, a: f64, b: f64| {
        t.row(&[name, &fmt_secs(a), &fmt_secs(b), &fmt_ratio(ratio(b, a))]);
    };
    secs(
        &mut t,
        "generated: cold build",
        g.cold_secs(),
        s.gen_cold.secs,
    );
    secs(
        &mut t,
        "generated: warm rebuild (source-only)",
        g.warm_secs(),
        s.gen_warm.secs,
    );
    t.row(&[
        "reference: context sent",
        &ctxs(r.cold()),
        &ctxs(&s.ref_cold),
        &both(r.cold(), &s.ref_cold),
    ]);
    secs(
        &mut t,
        "reference: cold build",
        r.cold_secs(),
        s.ref_cold.secs,
    );
    out.push_str(&t.render(4));
}

/// The commands table (`gen`, `gen --check`, `verify --static` by package count) and the
/// first compile.
fn render_commands(out: &mut String, args: &Args, m: &All) {
    use std::fmt::Write as _;
    if !m.cli.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  commands, median of {} warm runs (process start to exit; `cargo xtask` adds cargo's own check):",
            args.runs.max(1)
        );
        let mut t = Table::new(&[
            "extra packages (workspace)",
            "gen",
            "gen --check",
            "verify --static",
            "in-process",
        ]);
        for c in &m.cli {
            t.row(&[
                format!("{} ({} packages)", c.packages, c.workspace_packages),
                fmt_secs(c.gen),
                fmt_secs(c.check),
                format!(
                    "{}{}",
                    fmt_secs(c.verify),
                    match c.verify_exit {
                        Some(0) => String::new(),
                        Some(n) => format!(" (exit {n})"),
                        None => " (killed)".into(),
                    }
                ),
                fmt_secs(c.verify_in_process),
            ]);
        }
        out.push_str(&t.render(4));
        let _ = writeln!(
            out,
            "    in-process = verify's own duration minus its docker compose config and caddy runs"
        );
    }
    let _ = match m.compile {
        Some(s) => writeln!(
            out,
            "\n  first `cargo xtask` compile from an empty target dir (cargo build -p xtask, dev profile): {}",
            fmt_secs(s)
        ),
        None => writeln!(out, "\n  first `cargo xtask` compile: skipped (--no-compile)"),
    };
}

/// The re-ran step that took longest: (its instruction, seconds).
fn longest(b: &Build) -> Option<(String, f64)> {
    b.ran()
        .iter()
        .filter_map(|s| s.secs.map(|x| (s.name.clone(), x)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Everything `run` measures.
struct All {
    gen: Measured,
    reference: Measured,
    changed: String,
    dep_added: String,
    scale_build: Option<ScaleBuild>,
    cli: Vec<CliTimes>,
    compile: Option<f64>,
    /// devDependencies the same check finds in the generated `deps` stage (all
    /// dependencies): proof that it sees them when they are there
    control: Option<usize>,
}

/// The control for the devDependency check: the generated Dockerfile's `deps` stage holds
/// every dependency, so the check must find the dev-only ones there. `None` when the
/// lockfile has no dev-only package or the Dockerfile no `deps` stage.
fn dev_control(
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
fn prune_private_mounts(
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

/// What the measurements read: the monorepo and options, the tools, the two subjects (the
/// generated Dockerfile and the reference), the generated side's model and the run's tag.
struct Setup<'a> {
    ctx: &'a Ctx,
    args: &'a Args,
    docker: &'a Docker,
    pnpm: &'a HostPnpm,
    bin: &'a XtaskBin,
    gen: &'a Subject,
    reference: &'a Subject,
    gmodel: &'a Model,
    tag: &'a str,
}

/// Phase 1: Cold builds, --repeat times, alternating which goes first; a fresh private store each
/// time. `None`: a build failed (said).
fn cold_builds(setup: &Setup<'_>, run: &mut Run) -> Result<Option<[Vec<Build>; 2]>> {
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
fn warm_builds(setup: &Setup<'_>) -> Result<Option<([Vec<Build>; 2], String)>> {
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
fn images(setup: &Setup<'_>) -> Result<(Image, Option<usize>, Image)> {
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
fn dependency_change(setup: &Setup<'_>, run: &Run) -> Result<Option<(Build, Build, String)>> {
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

/// Phase 5: Scaling: the commands timed on the monorepo and on each fixture size, and the image
/// built on the first fixture. `None`: a build failed (said).
fn scaling(
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

/// Phase 6: The first compile of `cargo xtask` from an empty target directory (`--no-compile`:
/// not measured).
fn first_compile(args: &Args, run: &Run) -> Result<Option<f64>> {
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

fn measure(setup: &Setup<'_>, run: &mut Run) -> Result<Option<All>> {
    // what each Dockerfile COPYs, before any change to the copies
    let (gen_copied, ref_copied) = (setup.gen.copied()?, setup.reference.copied()?);
    let Some([gen_cold, ref_cold]) = cold_builds(setup, run)? else {
        return Ok(None);
    };
    let Some(([gen_warm, ref_warm], changed)) = warm_builds(setup)? else {
        return Ok(None);
    };
    let (gen_image, control, ref_image) = images(setup)?;
    let Some((gen_dep, ref_dep, dep_added)) = dependency_change(setup, run)? else {
        return Ok(None);
    };
    let Some((scale_build, cli)) = scaling(setup, run)? else {
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
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_lists() {
        assert_eq!(parse_scale("60,200").expect("ok"), vec![60, 200]);
        assert_eq!(parse_scale("0").expect("ok"), Vec::<usize>::new());
        assert_eq!(parse_scale(" 60, 60 ,").expect("ok"), vec![60]);
        assert!(parse_scale("sixty")
            .unwrap_err()
            .to_string()
            .contains("--scale"));
        assert!(parse_scale("5000").is_err());
    }

    #[test]
    fn machine_memory() {
        assert_eq!(
            mem_total("MemTotal:       24567890 kB\nMemFree: 1 kB\n"),
            Some(24_567_890 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
    }

    #[test]
    fn verify_in_process_part() {
        let r = json!({"duration_ms": 620, "stages": [
            {"name": "fresh", "duration_ms": 3},
            {"name": "rules", "duration_ms": 9},
            {"name": "compose", "duration_ms": 540},
            {"name": "caddy", "duration_ms": 600}
        ]});
        let x = verify_in_process(&r).expect("parsed");
        assert!((x - 0.020).abs() < 1e-9, "{x}");
        assert_eq!(verify_in_process(&json!({})), None);
    }

    #[test]
    fn the_source_named_like_the_entry_is_changed() {
        let d = std::env::temp_dir().join(format!("xtask-bench-src-{}", std::process::id()));
        std::fs::create_dir_all(d.join("src/lib")).expect("mkdir");
        for f in [
            "src/a.ts",
            "src/main.ts",
            "src/lib/types.d.ts",
            "src/lib/z.js",
            "README.md",
        ] {
            std::fs::write(d.join(f), "x").expect("write");
        }
        let p = source_to_change(&d, "dist/main.js").expect("found");
        assert!(p.ends_with("src/main.ts"), "{}", p.display());
        let q = source_to_change(&d, "dist/server.js").expect("found");
        assert!(q.ends_with("src/a.ts"), "{}", q.display());
        for f in ["src/a.ts", "src/main.ts"] {
            std::fs::remove_file(d.join(f)).expect("rm");
        }
        let r = source_to_change(&d, "dist/main.js").expect("found");
        assert!(r.ends_with("src/lib/z.js"), "{}", r.display());
        std::fs::remove_file(d.join("src/lib/z.js")).expect("rm");
        assert!(source_to_change(&d, "dist/main.js").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
