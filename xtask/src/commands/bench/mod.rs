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

mod fixtures;
mod measured;
mod phases;
mod report;
mod scaling;
mod subject;
mod tables;

use fixtures::*;
use measured::*;
use phases::*;
use report::*;
use scaling::*;
use subject::*;
use tables::*;

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
    4b. the smoke test of the generated image alone (no service, no migration) and with
       the services its contract wires (started, migrated, health): the time they add;
    5. build context BuildKit sent (`transferring context`) against the bytes the
       Dockerfile COPYs from the context (after its ignore file);
    6. the image of each fixture monorepo of this workspace listed in the bench
       (tests/fixtures/nest-realistic), built with its generated Dockerfile: its size by
       layer group (base, dependencies, app, generated, other) against its [image] budget.
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
