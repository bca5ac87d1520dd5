//! The two Dockerfiles `bench` compares, each on its own copy of the monorepo: the
//! generated one and the hand-written reference; building one, and the source change.

use super::*;

/// Sources a `//` comment can be appended to: TypeScript, then JavaScript.
pub(super) const TS_EXTS: &[&str] = &["ts", "tsx", "mts", "cts"];

pub(super) const SOURCE_EXTS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

/// A source of the API to change: TypeScript if there is any, else JavaScript; the one named
/// like the entry point (`dist/main.js` → `main.ts`) if any, else the first in path order.
pub(super) fn source_to_change(api_dir: &Path, entry: &str) -> Result<PathBuf> {
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

/// One Dockerfile on one copy of the monorepo.
pub(super) struct Subject {
    pub(super) label: &'static str,
    pub(super) plan: Plan,
    /// `--build-arg`s beyond NODE_IMAGE.
    pub(super) args: Vec<(String, String)>,
    pub(super) ignore: PathBuf,
}

impl Subject {
    pub(super) fn root(&self) -> &Path {
        &self.plan.root
    }

    pub(super) fn build(&self, docker: &Docker, what: &str, no_cache: bool) -> Result<Build> {
        self.build_with(docker, what, no_cache, None)
    }

    /// A build; `target`: (stage, tag) to build one stage under another tag instead.
    pub(super) fn build_with(
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
    pub(super) fn warm_build(
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

    pub(super) fn dockerfile(&self) -> Result<dockerfile::Dockerfile> {
        Ok(dockerfile::parse(&read(&self.plan.dockerfile)?))
    }

    pub(super) fn copied(&self) -> Result<context::Copied> {
        let ign = match std::fs::read_to_string(&self.ignore) {
            Ok(t) => ignore::parse(&t),
            Err(_) => ignore::IgnoreFile::default(),
        };
        context::copied(self.root(), &self.dockerfile()?, &ign, &self.args)
    }

    /// Size by origin, store entries and the dev-only ones among them.
    pub(super) fn inspect(
        &self,
        docker: &Docker,
        dev_only: &BTreeSet<lockfile::PkgId>,
    ) -> Result<Image> {
        let tag = &self.plan.tags[0];
        let history = docker.history(tag)?;
        let base = docker.history(&self.plan.node_image)?;
        let sizes = img::split_sizes(&history, base.len(), &self.dockerfile()?, &self.args);
        let entries = docker.store_entries(tag)?;
        let dev = img::dev_in_store(&entries, dev_only);
        let store = entries
            .iter()
            .filter(|e| lockfile::store_entry(e).is_some())
            .count();
        Ok(Image { sizes, store, dev })
    }
}

pub(super) fn subject_gen(
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

pub(super) fn subject_ref(
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

pub(super) fn change_source(root: &Path, model: &Model, n: usize) -> Result<String> {
    let f = source_to_change(
        &root.join(&model.stack.image.api_dir),
        &model.stack.image.entry,
    )?;
    write(&f, &edit::touch_source(&read(&f)?, n))?;
    Ok(f.strip_prefix(root).unwrap_or(&f).display().to_string())
}
