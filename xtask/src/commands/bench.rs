//! `cargo xtask bench`: cold build, warm rebuild after a source-only change (and which steps
//! re-ran), image size split into base, dependencies and app. A benchmark, not a test.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use super::build_image::{self, human_size, Built};
use super::{require_fresh, Ctx, Outcome};
use crate::buildlog;
use crate::tools::docker::{Docker, HistoryEntry, Progress};

pub const HELP: &str = "\
cargo xtask bench: how long the API image takes to build, and what it is made of

USAGE:
    cargo xtask bench [--node-image IMAGE|standin] [--out FILE] [--keep-cache] [--root DIR]

On a temporary copy of the monorepo (so nothing of yours is touched):
    1. empties the build cache (`docker builder prune -af`, cache mounts included) unless
       --keep-cache (then the cold build runs with --no-cache: every step runs, but cache
       mounts such as the pnpm store stay warm), then times a cold build;
    2. appends a comment to one TypeScript source of the API (a source-only change) and
       times the rebuild, listing the steps that re-ran (not CACHED in --progress=plain);
    3. splits the image size into base, dependencies (node_modules), app (build outputs)
       and setup (user, directories), from `docker history`.
Prints a table and writes JSON (default: target/bench/bench.json of this workspace).
The build cache of the whole engine is emptied: other projects' next builds start cold.

OPTIONS:
    --node-image IMAGE   as for build-image (`standin` = the local stand-in base)
    --out FILE           where to write the JSON
    --keep-cache         do not prune the engine's build cache; build cold with --no-cache
    -h, --help           print this help

EXIT: 0 measured, 1 a build failed, 2 could not run.
";

#[derive(Debug, Clone, Default)]
pub struct Args {
    pub node_image: Option<String>,
    pub out: Option<PathBuf>,
    pub keep_cache: bool,
}

/// An image's size by origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    pub base: u64,
    pub deps: u64,
    pub app: u64,
    pub setup: u64,
}

impl Sizes {
    pub fn total(&self) -> u64 {
        self.base + self.deps + self.app + self.setup
    }
}

/// Splits `history` (oldest first) given how many entries the base image has: the runtime
/// stage copies `/app` whole from prod-deps (dependencies) and build outputs from
/// `/app/<pkg>/...` (app); everything else it adds is setup.
pub fn split_sizes(history: &[HistoryEntry], base_entries: usize) -> Sizes {
    let mut s = Sizes::default();
    for (i, h) in history.iter().enumerate() {
        let cb = h.created_by.trim();
        if i < base_entries {
            s.base += h.size;
        } else if cb.starts_with("COPY /app ./") || cb.starts_with("COPY --from=prod-deps") {
            s.deps += h.size;
        } else if cb.starts_with("COPY /app/") || cb.starts_with("COPY --from=build") {
            s.app += h.size;
        } else {
            s.setup += h.size;
        }
    }
    s
}

const SKIP: &[&str] = &[
    "node_modules",
    ".git",
    "target",
    "dist",
    ".turbo",
    ".next",
    "coverage",
];

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let e = e.with_context(|| format!("cannot list {}", from.display()))?;
        let name = e.file_name();
        if SKIP.contains(&name.to_string_lossy().as_ref()) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        let ft = e
            .file_type()
            .with_context(|| format!("cannot stat {}", src.display()))?;
        if ft.is_symlink() {
            let target = std::fs::read_link(&src)
                .with_context(|| format!("cannot read link {}", src.display()))?;
            std::os::unix::fs::symlink(target, &dst)
                .with_context(|| format!("cannot link {}", dst.display()))?;
        } else if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        }
    }
    Ok(())
}

/// A TypeScript source of the API to change: the one named like the entry point
/// (`dist/main.js` → `main.ts`) if any, else the first in path order.
fn source_to_change(api_dir: &Path, entry: &str) -> Result<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            let n = e.file_name().to_string_lossy().to_string();
            if p.is_dir() && !SKIP.contains(&n.as_str()) {
                walk(&p, out);
            } else if n.ends_with(".ts") && !n.ends_with(".d.ts") {
                out.push(p);
            }
        }
    }
    let mut all = Vec::new();
    walk(api_dir, &mut all);
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
            "no .ts source under {} to change for the warm rebuild",
            api_dir.display()
        )
    })
}

fn target_dir() -> PathBuf {
    let root = crate::cli::default_root();
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

struct TempCopy(PathBuf);

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn step_names(steps: &[&buildlog::Step]) -> Vec<String> {
    steps.iter().map(|s| s.name.clone()).collect()
}

fn instructions(b: &Built) -> usize {
    b.steps.iter().filter(|s| s.is_instruction()).count()
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let model = ctx.model()?;
    require_fresh(ctx, &model)?;
    let docker = Docker::find()?;
    docker.require_engine()?;
    docker.require_buildx()?;

    let tmp = TempCopy(std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&tmp.0);
    copy_tree(&ctx.root, &tmp.0)?;
    let config = if ctx.config_explicit {
        Some(ctx.config_path.as_path())
    } else {
        None
    };
    let bctx = Ctx::new(&tmp.0, config);
    let bmodel = bctx.model()?;
    let bargs = build_image::Args {
        tag: Some("xtask-bench".into()),
        node_image: args.node_image.clone(),
        progress: Progress::Plain,
        ..build_image::Args::default()
    };
    let plan = build_image::plan(&bctx, &bmodel, &bargs, &docker)?;
    let mark = plan.mark();
    let subject = match &plan.standin {
        Some(of) => format!("STAND-IN base {} (stands in for {of})", plan.node_image),
        None => plan.node_image.clone(),
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    eprintln!(
        "bench: {} from a copy of {} on {subject}, {cores} core(s)",
        plan.tags[0],
        ctx.root.display()
    );

    if args.keep_cache {
        eprintln!("bench: --keep-cache: the build cache is NOT pruned; the cold build uses --no-cache (cache mounts stay warm)");
    } else {
        eprintln!("bench: emptying the build cache (docker builder prune -af) for a cold build");
        let freed = docker.prune_build_cache()?;
        eprintln!("bench: {freed}");
    }
    eprintln!("bench: cold build");
    let cold_plan = build_image::Plan {
        no_cache: args.keep_cache,
        ..plan.clone()
    };
    let cold = build_image::build(&docker, &cold_plan, Progress::Plain, true)?;
    if !cold.ok {
        eprint!("{}", build_image::failure_report(&cold));
        bail_fail("cold build", &mark);
        return Ok(Outcome::Fail);
    }
    let changed = source_to_change(
        &tmp.0.join(&bmodel.stack.image.api_dir),
        &bmodel.stack.image.entry,
    )?;
    let rel = changed
        .strip_prefix(&tmp.0)
        .unwrap_or(&changed)
        .display()
        .to_string();
    let mut text = std::fs::read_to_string(&changed)
        .with_context(|| format!("cannot read {}", changed.display()))?;
    text.push_str("\n// xtask bench: a source-only change\n");
    std::fs::write(&changed, text)
        .with_context(|| format!("cannot write {}", changed.display()))?;
    eprintln!("bench: warm rebuild after changing {rel}");
    let warm = build_image::build(&docker, &plan, Progress::Plain, true)?;
    if !warm.ok {
        eprint!("{}", build_image::failure_report(&warm));
        bail_fail("warm rebuild", &mark);
        return Ok(Outcome::Fail);
    }
    let history = docker.history(&plan.tags[0])?;
    let base_history = docker.history(&plan.node_image)?;
    let sizes = split_sizes(&history, base_history.len());
    let cold_ran = buildlog::reran(&cold.steps);
    let warm_ran = buildlog::reran(&warm.steps);

    println!(
        "bench: {} on {subject}; {cores} core(s)",
        bmodel.closure.api.name
    );
    println!("  {:<44} {:>8}  steps that ran (not CACHED)", "", "time");
    println!(
        "  {:<44} {:>7.1}s  {} of {}",
        if args.keep_cache {
            "cold build (--no-cache; cache mounts warm)"
        } else {
            "cold build (build cache pruned)"
        },
        cold.secs,
        cold_ran.len(),
        instructions(&cold)
    );
    println!(
        "  {:<44} {:>7.1}s  {} of {}",
        format!("warm rebuild ({rel} changed)"),
        warm.secs,
        warm_ran.len(),
        instructions(&warm)
    );
    for s in &warm_ran {
        println!(
            "  {:<44} {:>8}    re-ran: {}",
            "",
            s.secs.map(|x| format!("{x:.1}s")).unwrap_or_default(),
            s.name
        );
    }
    println!(
        "  image size{mark}: {} ({} bytes)",
        human_size(sizes.total()),
        sizes.total()
    );
    println!(
        "    base          {:>10}  {}",
        human_size(sizes.base),
        plan.node_image
    );
    println!(
        "    dependencies  {:>10}  production node_modules + manifests (COPY --from=prod-deps)",
        human_size(sizes.deps)
    );
    println!(
        "    app           {:>10}  build outputs (COPY --from=build)",
        human_size(sizes.app)
    );
    println!(
        "    setup         {:>10}  user, directories",
        human_size(sizes.setup)
    );

    let report = json!({
        "root": ctx.root.display().to_string(),
        "api": bmodel.closure.api.name,
        "node_image": plan.node_image,
        "standin": plan.standin,
        "cores": cores,
        "cache_pruned": !args.keep_cache,
        "cold": {"secs": cold.secs, "steps_total": instructions(&cold), "steps_ran": step_names(&cold_ran)},
        "warm": {"secs": warm.secs, "changed": rel, "steps_total": instructions(&warm), "steps_ran": step_names(&warm_ran)},
        "size": {"total": sizes.total(), "base": sizes.base, "dependencies": sizes.deps, "app": sizes.app, "setup": sizes.setup},
    });
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| target_dir().join("bench/bench.json"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report).context("cannot serialise the report")?;
    crate::generated::write_atomic(&out, &format!("{text}\n"))?;
    println!("  JSON written to {}", out.display());
    docker.remove_images(&plan.tags)?;
    Ok(Outcome::Pass)
}

fn bail_fail(what: &str, mark: &str) {
    println!("bench: the {what} FAILED; nothing measured{mark}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(created_by: &str, size: u64) -> HistoryEntry {
        HistoryEntry {
            created_by: created_by.into(),
            size,
        }
    }

    #[test]
    fn sizes_split_by_origin() {
        let hist = vec![
            h("", 127_000_000),
            h("ENV NODE_ENV=production PORT=3000", 0),
            h(
                "RUN /bin/sh -c addgroup -g 1001 -S appgroup # buildkit",
                532,
            ),
            h("WORKDIR /app", 0),
            h("COPY /app ./ # buildkit", 481_926),
            h(
                "COPY /app/packages/crypto/dist ./packages/crypto/dist # buildkit",
                1372,
            ),
            h("COPY /app/apps/api/dist ./apps/api/dist # buildkit", 9041),
            h("CMD [\"node\" \"dist/main.js\"]", 0),
        ];
        let s = split_sizes(&hist, 1);
        assert_eq!(
            s,
            Sizes {
                base: 127_000_000,
                deps: 481_926,
                app: 10_413,
                setup: 532
            }
        );
        assert_eq!(s.total(), 127_000_000 + 481_926 + 10_413 + 532);
    }

    #[test]
    fn the_source_named_like_the_entry_is_changed() {
        let d = std::env::temp_dir().join(format!("xtask-bench-src-{}", std::process::id()));
        std::fs::create_dir_all(d.join("src/lib")).expect("mkdir");
        for f in ["src/a.ts", "src/main.ts", "src/lib/types.d.ts"] {
            std::fs::write(d.join(f), "x").expect("write");
        }
        let p = source_to_change(&d, "dist/main.js").expect("found");
        assert!(p.ends_with("src/main.ts"), "{}", p.display());
        let q = source_to_change(&d, "dist/server.js").expect("found");
        assert!(q.ends_with("src/a.ts"), "{}", q.display());
        let _ = std::fs::remove_dir_all(&d);
    }
}
