//! The image build every command that needs an image shares (`build-image`, `verify`,
//! `rehearse`, `bench`): the [`Plan`] decided before anything runs (tags, OCI labels, the base,
//! the stand-in only on request), the `docker buildx build` itself, and its failure report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use crate::buildlog::{self, Step};
use crate::config::{CiCache, Config};
use crate::context::{Ctx, Model};
use crate::tools::docker::{self, Docker, Progress};
use crate::tools::{git, indent, node_standin};
use crate::units::rfc3339;

#[derive(Debug, Clone)]
pub struct Args {
    /// The first `--tag` (default: the config's project.tag); it names the image in output.
    pub tag: Option<String>,
    /// Every further `--tag`.
    pub extra_tags: Vec<String>,
    /// `--owner`: overrides project.owner (lowercased: registries want lowercase).
    pub owner: Option<String>,
    /// `--registry`: overrides project.registry (e.g. a local test registry).
    pub registry: Option<String>,
    pub node_image: Option<String>,
    pub platform: Option<String>,
    pub push: bool,
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    /// `--cache`: the workflow's cache choice, turned into specs by [`plan`].
    pub cache: CiCache,
    pub progress: Progress,
    pub smoke: bool,
    /// `--strict-size`: an image over its budget (`[image] budget`) fails, as with
    /// `[image] budget_fails = true`.
    pub strict_size: bool,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            tag: None,
            extra_tags: Vec::new(),
            owner: None,
            registry: None,
            node_image: None,
            platform: None,
            push: false,
            cache_from: Vec::new(),
            cache_to: Vec::new(),
            cache: CiCache::None,
            progress: Progress::Auto,
            smoke: false,
            strict_size: false,
        }
    }
}

/// Everything one build does, decided before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub root: PathBuf,
    pub dockerfile: PathBuf,
    pub tags: Vec<String>,
    pub node_image: String,
    /// `Some(what it stands in for)` when the base is a stand-in.
    pub standin: Option<String>,
    pub labels: Vec<(String, String)>,
    pub platform: Option<String>,
    pub push: bool,
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    pub npmrc: Option<PathBuf>,
    /// `--no-cache` (every step runs; cache mounts are kept).
    pub no_cache: bool,
    /// Fallbacks taken (no git, ...), said once before the build.
    pub notes: Vec<String>,
    /// The build context's guard (git-ignored files, credentials); [`build`] refuses a failed one.
    pub context: super::context_guard::Guard,
}

impl Plan {
    /// ` [STAND-IN base <image>]` on every output line about an image built on a stand-in.
    pub fn mark(&self) -> String {
        match &self.standin {
            Some(_) => format!(" [STAND-IN base {}]", self.node_image),
            None => String::new(),
        }
    }
}

/// A docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !tag.starts_with(['.', '-']);
    if !ok {
        bail!("--tag {tag:?} is not a valid image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')");
    }
    Ok(())
}

/// The tags of the API image: always `<image>:<tag>`; `<registry>/<owner>/<image>:<tag>`
/// once the owner is not the placeholder.
pub fn tags(cfg: &Config, tag: &str) -> Vec<String> {
    let mut v = vec![crate::stack::ApiImage::local_tag(cfg, tag)];
    if cfg.owner != "OWNER" {
        v.push(format!(
            "{}/{}/{}:{tag}",
            cfg.registry,
            cfg.owner.to_ascii_lowercase(),
            cfg.api.image
        ));
    }
    v
}

/// `repository` of a package.json (string or `{url}`), as an https URL.
fn repository_of(root: &Path) -> Option<String> {
    let text =
        crate::files::read_in(root, Path::new("package.json"), crate::files::MAX_INPUT).ok()?;
    let v: Json = serde_json::from_str(&text).ok()?;
    let r = v.get("repository")?;
    let url = r.as_str().or_else(|| r.get("url").and_then(Json::as_str))?;
    let url = url.strip_prefix("git+").unwrap_or(url);
    if let Some(gh) = url.strip_prefix("github:") {
        return Some(format!("https://github.com/{gh}"));
    }
    git::https_url(url).or_else(|| {
        (url.split('/').count() == 2 && !url.contains(':'))
            .then(|| format!("https://github.com/{url}"))
    })
}

/// `(key, value)` image labels.
pub type Labels = Vec<(String, String)>;

/// The OCI labels, with a note for every fallback taken.
pub fn labels(
    model: &Model,
    root: &Path,
    tag: &str,
    node_image: &str,
    standin: bool,
    git_info: &std::result::Result<git::GitInfo, String>,
    source_date_epoch: Option<&str>,
) -> Result<(Labels, Vec<String>)> {
    let mut notes = Vec::new();
    let created = match source_date_epoch.filter(|s| !s.trim().is_empty()) {
        Some(s) => {
            let secs: i64 = s.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds since 1970; fix or unset it"))?;
            rfc3339(secs)
        }
        None => match git_info {
            Ok(g) => rfc3339(g.commit_time),
            Err(_) => {
                notes.push("created=1970-01-01T00:00:00Z (no git commit and no SOURCE_DATE_EPOCH: a fixed date keeps the labels stable; set SOURCE_DATE_EPOCH to date the image)".into());
                rfc3339(0)
            }
        },
    };
    let revision = match git_info {
        Ok(g) => {
            if g.dirty {
                notes.push(format!(
                    "revision={} but the working tree has uncommitted changes to tracked files",
                    g.revision
                ));
            }
            g.revision.clone()
        }
        Err(why) => {
            notes.push(format!(
                "revision=unknown ({why}; build from a git checkout to record the commit)"
            ));
            "unknown".into()
        }
    };
    let source = match git_info
        .as_ref()
        .ok()
        .and_then(|g| g.source.clone())
        .or_else(|| repository_of(root))
    {
        Some(s) => s,
        None => {
            notes.push(
                "source=unknown (no git remote `origin` and no `repository` in package.json)"
                    .into(),
            );
            "unknown".into()
        }
    };
    let version = model
        .closure
        .api
        .manifest
        .version
        .clone()
        .unwrap_or_else(|| tag.to_string());
    let mut l = vec![
        (
            "org.opencontainers.image.title".to_string(),
            model.closure.api.name.clone(),
        ),
        ("org.opencontainers.image.revision".into(), revision),
        ("org.opencontainers.image.source".into(), source),
        ("org.opencontainers.image.version".into(), version),
        ("org.opencontainers.image.created".into(), created),
        (
            "org.opencontainers.image.base.name".into(),
            node_image.to_string(),
        ),
    ];
    if standin {
        l.push((node_standin::BASE_LABEL.into(), node_image.to_string()));
    }
    Ok((l, notes))
}

/// `docker buildx build` arguments for a plan (everything after `--progress MODE`).
pub fn buildx_args(p: &Plan, metadata_file: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec!["-f".into(), p.dockerfile.display().to_string()];
    a.push("--build-arg".into());
    a.push(format!("NODE_IMAGE={}", p.node_image));
    for t in &p.tags {
        a.push("-t".into());
        a.push(t.clone());
    }
    for (k, v) in &p.labels {
        a.push("--label".into());
        a.push(format!("{k}={v}"));
    }
    if let Some(pl) = &p.platform {
        a.push("--platform".into());
        a.push(pl.clone());
    }
    for c in &p.cache_from {
        a.push("--cache-from".into());
        a.push(c.clone());
    }
    for c in &p.cache_to {
        a.push("--cache-to".into());
        a.push(c.clone());
    }
    if let Some(n) = &p.npmrc {
        a.push("--secret".into());
        a.push(format!("id=npmrc,src={}", n.display()));
    }
    if p.no_cache {
        a.push("--no-cache".into());
    }
    a.push(if p.push {
        "--push".into()
    } else {
        "--load".into()
    });
    a.push("--metadata-file".into());
    a.push(metadata_file.display().to_string());
    a.push(p.root.display().to_string());
    a
}

/// Which base was asked for: `(image, is a stand-in by name)`.
pub fn requested_base(option: Option<&str>, cfg: &Config) -> (String, bool) {
    let img = option.unwrap_or(&cfg.node.image);
    if img == node_standin::ALIAS || img == node_standin::TAG {
        (node_standin::TAG.to_string(), true)
    } else {
        (img.to_string(), false)
    }
}

pub fn refuse_push_on_standin(node_image: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "refusing --push: the image would be built on the STAND-IN base {node_image} (a local stand-in for {}, not the real image). \
         Build on the real base to push: drop `--node-image standin` and set node.image to {} in the config \
         (a stand-in may only go to a local test registry on loopback: `--registry 127.0.0.1:PORT`)",
        node_standin::STANDS_FOR,
        node_standin::STANDS_FOR
    )
}

/// What the arguments alone refuse, before any engine is asked: `--push` or `--cache
/// registry` with the placeholder owner (`owner` after `--owner`), `--cache gha` outside the
/// GitHub Actions runtime.
pub fn refuse_by_args(owner: &str, args: &Args) -> Result<()> {
    if args.push && owner == "OWNER" {
        bail!("refusing --push: project.owner is the placeholder OWNER; set it with `cargo xtask config set project.owner <owner>`");
    }
    match args.cache {
        CiCache::Registry if owner == "OWNER" => {
            bail!("--cache registry: project.owner is the placeholder OWNER; pass --owner or set it with `cargo xtask config set project.owner <owner>`");
        }
        CiCache::Gha if std::env::var_os("ACTIONS_RUNTIME_TOKEN").is_none() => {
            bail!(
                "--cache gha needs the GitHub Actions runtime (ACTIONS_RUNTIME_TOKEN and the cache URL), which GitHub \
                 gives only to actions, not to `run:` steps: add crazy-max/ghaction-github-runtime before this step \
                 (`[ci] cache = \"gha\"` renders it), or use `--cache registry`"
            );
        }
        _ => Ok(()),
    }
}

/// `--cache`: the cache specs for buildx (after the raw `--cache-from/--cache-to`), and notes.
/// May add the cache reference to the pushed tags (inline cache on the `docker` driver).
fn cache_specs(
    model: &Model,
    args: &Args,
    docker: &Docker,
    tags_out: &mut Vec<String>,
) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let (mut from, mut to) = (args.cache_from.clone(), args.cache_to.clone());
    let mut notes = Vec::new();
    match args.cache {
        CiCache::None => {}
        CiCache::Gha => {
            from.push("type=gha".into());
            to.push("type=gha,mode=max".into());
        }
        CiCache::Registry => {
            let c = &model.config;
            let cache_ref = cache_ref(c);
            from.push(format!("type=registry,ref={cache_ref}"));
            if !args.push {
                notes.push(format!(
                    "--cache registry: importing {cache_ref}; it is exported only with --push"
                ));
            } else if docker.buildx_driver()?.as_deref() == Some("docker") {
                to.push("type=inline".into());
                tags_out.push(cache_ref.clone());
                notes.push(format!(
                    "--cache registry: the active builder uses the `docker` driver, which cannot export a cache \
                     manifest; the image is pushed to {cache_ref} too, with its cache inline (a docker-container \
                     builder, e.g. docker/setup-buildx-action's, exports the full cache there, mode=max)"
                ));
            } else {
                to.push(format!("type=registry,ref={cache_ref},mode=max"));
            }
        }
    }
    Ok((from, to, notes))
}

/// `<registry>/<owner>/<api.image>:buildcache`: where `--cache registry` keeps the cache.
pub fn cache_ref(c: &Config) -> String {
    format!(
        "{}/{}/{}:buildcache",
        c.registry,
        c.owner.to_ascii_lowercase(),
        c.api.image
    )
}

/// Decides the plan: checks freshness, resolves (and if needed builds) the base. Needs the engine.
pub fn plan(ctx: &Ctx, model: &Model, args: &Args, docker: &Docker) -> Result<Plan> {
    let tag = args.tag.clone().unwrap_or_else(|| model.config.tag.clone());
    validate_tag(&tag)?;
    for t in &args.extra_tags {
        validate_tag(t)?;
    }
    let mut config = model.config.clone();
    if let Some(owner) = &args.owner {
        let owner = owner.to_ascii_lowercase();
        crate::config::validate_image_ref(&format!("{owner}/x"))
            .map_err(|m| anyhow::anyhow!("--owner {owner:?} is not a registry namespace: {m}"))?;
        config.owner = owner;
    }
    if let Some(r) = &args.registry {
        crate::config::validate_image_ref(&format!("{r}/x/y"))
            .map_err(|m| anyhow::anyhow!("--registry {r:?} is not a registry host: {m}"))?;
        config.registry = r.clone();
    }
    // A stand-in may go to a registry on this machine's loopback (a local test registry),
    // never anywhere else.
    let local_registry = crate::tools::registry::is_loopback(&config.registry);
    let model = &Model {
        config,
        ..model.clone()
    };
    let (node_image, by_name) = requested_base(args.node_image.as_deref(), &model.config);
    crate::stack::check_node_run_base(&model.stack.image, &node_image)?;
    if args.push && by_name && !local_registry {
        return Err(refuse_push_on_standin(&node_image));
    }
    refuse_by_args(&model.config.owner, args)?;
    let standin = if by_name {
        node_standin::ensure(docker)?;
        Some(node_standin::STANDS_FOR.to_string())
    } else {
        crate::config::validate_image_ref(&node_image)
            .map_err(|m| anyhow::anyhow!("--node-image {node_image:?}: {m}"))?;
        match docker.inspect_image(&node_image)? {
            Some(i) => node_standin::stands_in_for(&i),
            None => {
                eprintln!(
                    "build-image: {node_image} is not in the local engine: buildx will pull it from its registry \
                     (where no registry is reachable, use `--node-image standin`)"
                );
                None
            }
        }
    };
    if args.push && standin.is_some() {
        if !local_registry {
            return Err(refuse_push_on_standin(&node_image));
        }
        eprintln!(
            "build-image: pushing an image on the STAND-IN base {node_image} to {}: allowed because that registry is on this \
             machine's loopback (a local test registry); a push to any other registry is refused",
            model.config.registry
        );
    }
    // A push sends every tag: only the registry ones, never the bare local name (which
    // would go to Docker Hub).
    let mut tags_out: Vec<String> = std::iter::once(&tag)
        .chain(&args.extra_tags)
        .flat_map(|t| tags(&model.config, t))
        .filter(|t| !args.push || crate::tools::registry::registry_of(t).is_some())
        .collect();
    let (cache_from, cache_to, mut notes) = cache_specs(model, args, docker, &mut tags_out)?;
    let git_info = git::info(&ctx.root);
    let sde = std::env::var("SOURCE_DATE_EPOCH").ok();
    let (labels, label_notes) = labels(
        model,
        &ctx.root,
        &tag,
        &node_image,
        standin.is_some(),
        &git_info,
        sde.as_deref(),
    )?;
    notes.extend(label_notes);
    let context = super::context_guard::check(&ctx.root, crate::stack::DOCKERIGNORE);
    notes.extend(context.notes.iter().cloned());
    let npmrc = ctx.root.join(".npmrc");
    Ok(Plan {
        root: ctx.root.clone(),
        dockerfile: ctx.root.join(crate::stack::DOCKERFILE),
        tags: tags_out,
        node_image,
        standin,
        labels,
        platform: args.platform.clone(),
        push: args.push,
        cache_from,
        cache_to,
        npmrc: npmrc.is_file().then_some(npmrc),
        no_cache: false,
        notes,
        context,
    })
}

/// How one build ended.
#[derive(Debug, Clone)]
pub struct Built {
    pub ok: bool,
    pub id: Option<String>,
    pub size: Option<u64>,
    pub secs: f64,
    pub steps: Vec<Step>,
    /// Every line of buildx's progress (empty when buildx drew on a terminal).
    pub lines: Vec<String>,
}

/// Runs the build of a plan (refused when its context failed its guard); progress to stderr.
pub fn build(docker: &Docker, p: &Plan, progress: Progress, echo: bool) -> Result<Built> {
    anyhow::ensure!(!p.context.refused(), "{}", p.context.refusal());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let meta =
        std::env::temp_dir().join(format!("xtask-build-{}-{nanos}.json", std::process::id()));
    let start = Instant::now();
    let s = docker.buildx_build(&buildx_args(p, &meta), &p.root, progress, echo)?;
    let secs = start.elapsed().as_secs_f64();
    let metadata: Option<Json> = std::fs::read_to_string(&meta)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let _ = std::fs::remove_file(&meta);
    let steps = buildlog::parse(&s.lines);
    if !s.ok() {
        // A build that ends because the engine went away could not run: exit 2, not 1.
        if let Err(now) = docker.server_version()? {
            bail!("{}", engine_went_away(&s.lines, &now));
        }
        return Ok(Built {
            ok: false,
            id: None,
            size: None,
            secs,
            steps,
            lines: s.lines,
        });
    }
    let inspect = if p.push {
        None
    } else {
        docker.inspect_image(&p.tags[0])?
    };
    let id = inspect
        .as_ref()
        .and_then(|i| i.get("Id").and_then(Json::as_str))
        .or_else(|| {
            metadata.as_ref().and_then(|m| {
                m.get("containerimage.config.digest")
                    .or_else(|| m.get("containerimage.digest"))
                    .and_then(Json::as_str)
            })
        })
        .map(str::to_string);
    let size = inspect
        .as_ref()
        .and_then(|i| i.get("Size").and_then(Json::as_u64));
    Ok(Built {
        ok: true,
        id,
        size,
        secs,
        steps,
        lines: s.lines,
    })
}

/// The message for a build that ended because the engine stopped answering.
pub fn engine_went_away<S: AsRef<str>>(lines: &[S], now: &str) -> String {
    let said = buildlog::verdict(lines).unwrap_or_else(|| "(see its output above)".into());
    format!(
        "the Docker engine stopped answering during the build ({}); nothing was tagged.\n\
         buildx said: {said}\n\
         the engine now: {}\n\
         fix: start the engine again (`cargo xtask engine up`, or restart Docker) and rerun the build",
        docker::host_desc(),
        now.lines().next().unwrap_or("").trim()
    )
}

/// The failing step's output and buildx's verdict, for the end of a failed build.
pub fn failure_report(b: &Built) -> String {
    let mut s = String::new();
    match buildlog::failed(&b.steps) {
        Some(step) => {
            s.push_str(&format!("build failed at step {}\n", step.name));
            let out: Vec<&String> = step.output.iter().collect();
            let shown = &out[out.len().saturating_sub(40)..];
            if !shown.is_empty() {
                s.push_str("its output (last lines):\n");
                for l in shown {
                    s.push_str(&format!("    {l}\n"));
                }
            }
            if let Some(e) = &step.error {
                s.push_str(&format!("error: {e}\n"));
            }
            s.extend(buildlog::download_failure(&step.output).map(|d| d.message() + "\n"));
        }
        None => {
            if let Some(v) = buildlog::verdict(&b.lines) {
                s.push_str(&format!("build failed: {v}\n"));
            } else if b.lines.is_empty() {
                s.push_str("build failed (see buildx's output above)\n");
            } else {
                s.push_str(&format!(
                    "build failed; last lines:\n{}\n",
                    indent(&b.lines[b.lines.len().saturating_sub(15)..].join("\n"))
                ));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    /// A generate step that could not fetch Prisma's engines: the report names the package,
    /// the host's kind and the setting, from the step's output.
    #[test]
    fn a_failed_engine_download_is_named_in_the_failure_report() {
        let lines: Vec<String> = [
            "#12 [build 2/5] RUN cd packages/db && pnpm exec prisma generate --schema prisma/schema.prisma",
            "#12 2.104 Prisma schema loaded from prisma/schema.prisma",
            "#12 3.877 Error: request to https://binaries.prisma.sh/all_commits/abc/linux-musl-openssl-3.0.x/libquery_engine.so.node.gz failed, reason: getaddrinfo EAI_AGAIN binaries.prisma.sh",
            "#12 ERROR: process \"/bin/sh -c cd packages/db && pnpm exec prisma generate\" did not complete successfully: exit code: 1",
        ]
        .map(String::from)
        .to_vec();
        let b = Built {
            ok: false,
            id: None,
            size: None,
            secs: 4.0,
            steps: buildlog::parse(&lines),
            lines,
        };
        let r = failure_report(&b);
        assert!(
            r.contains("download: prisma could not download its binary from binaries.prisma.sh (Prisma's engine host)"),
            "{r}"
        );
        assert!(r.contains("PRISMA_ENGINES_MIRROR"), "{r}");
    }

    #[test]
    fn tags_follow_the_config() {
        let mut cfg = Config::default();
        cfg.api.image = "cipherbox-api".into();
        assert_eq!(tags(&cfg, "dev"), vec!["cipherbox-api:dev"]);
        cfg.owner = "acme".into();
        assert_eq!(
            tags(&cfg, "dev"),
            vec!["cipherbox-api:dev", "ghcr.io/acme/cipherbox-api:dev"]
        );
        assert!(validate_tag("v1.2.3_rc-1").is_ok());
        assert!(
            validate_tag("-x").is_err()
                && validate_tag("a/b").is_err()
                && validate_tag("").is_err()
        );
    }

    #[test]
    fn standin_alias_and_name_are_recognised() {
        let cfg = Config::default();
        assert_eq!(
            requested_base(Some("standin"), &cfg),
            (node_standin::TAG.to_string(), true)
        );
        assert_eq!(
            requested_base(Some(node_standin::TAG), &cfg),
            (node_standin::TAG.to_string(), true)
        );
        assert_eq!(
            requested_base(None, &cfg),
            ("node:22-alpine".to_string(), false)
        );
        assert!(refuse_push_on_standin(node_standin::TAG)
            .to_string()
            .contains("STAND-IN"));
    }

    #[test]
    fn buildx_arguments() {
        let p = Plan {
            root: PathBuf::from("/r"),
            dockerfile: PathBuf::from("/r/infra/api.Dockerfile"),
            tags: vec!["a:1".into(), "ghcr.io/o/a:1".into()],
            node_image: node_standin::TAG.into(),
            standin: Some("node:22-alpine".into()),
            labels: vec![("k".into(), "v w".into())],
            platform: Some("linux/amd64".into()),
            push: false,
            cache_from: vec!["type=local,src=/c".into()],
            cache_to: vec![],
            npmrc: Some(PathBuf::from("/r/.npmrc")),
            no_cache: false,
            notes: vec![],
            context: Default::default(),
        };
        let a = buildx_args(&p, Path::new("/tmp/m.json"));
        let s = a.join(" ");
        assert!(s.starts_with("-f /r/infra/api.Dockerfile --build-arg NODE_IMAGE=xtask.local/node:22-standin -t a:1 -t ghcr.io/o/a:1"), "{s}");
        assert!(a.contains(&"k=v w".to_string()), "{a:?}");
        assert!(s.contains("--secret id=npmrc,src=/r/.npmrc"), "{s}");
        assert!(
            s.contains("--load") && !s.contains("--push") && !s.contains("--pull"),
            "{s}"
        );
        assert_eq!(a.last().map(String::as_str), Some("/r"));
        assert_eq!(p.mark(), " [STAND-IN base xtask.local/node:22-standin]");
    }
}
