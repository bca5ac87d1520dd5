//! The web app's site (`[web]`) in the rehearsal: built with buildx from the generated
//! `infra/web.Dockerfile` into plain files beside the rehearsal's copy of the compose file
//! (`./web`, which caddy mounts read-only), then probed over HTTPS by its host name.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::context::{Ctx, Model};
use crate::proofs::web::{self as judge, Answer};
use crate::proofs::Verdict;
use crate::stack::web::{Web, WEB_DOCKERFILE};
use crate::tools::docker::{Docker, Progress};
use crate::tools::probe::{Curl, Request};

/// The site as built for the rehearsal.
pub struct Built {
    pub seconds: f64,
    /// The Node base it was built on.
    pub base: String,
    /// `base <image>` or `STAND-IN base <image> (for <real>)`, for output.
    pub base_said: String,
    /// What the base stands in for, when it is a STAND-IN.
    pub standin_for: Option<String>,
    /// The build variables passed (name, value: public by construction).
    pub env: Vec<(String, String)>,
    /// Those whose value is in a built file (the bundler inlined it).
    pub inlined: Vec<String>,
    /// The built `index.html`.
    pub index: String,
    /// A content-hashed asset (URL path, content), when the build made one under the assets
    /// directory.
    pub asset: Option<(String, String)>,
}

/// The Node base for the web build: `--node-image` (`standin` names the stand-in, as for
/// the API image), else the config's image when it is local, else its stand-in.
pub fn node_base(docker: &Docker, model: &Model, option: Option<&str>) -> Result<String> {
    if option.is_some() {
        return Ok(crate::ops::build::requested_base(option, &model.config).0);
    }
    let real = &model.config.node.image;
    if docker.inspect_image(real)?.is_some() {
        return Ok(real.clone());
    }
    let standin = crate::rehearsal::standin_name(real);
    if docker.inspect_image(&standin)?.is_none() {
        bail!(
            "the web app's build needs a Node base: neither {real} nor its STAND-IN {standin} is in the local \
             engine; build the stand-in with `cargo xtask standin`, or pass --node-image IMAGE"
        );
    }
    Ok(standin)
}

/// `docker buildx build -f infra/web.Dockerfile --output type=local,dest=<dest>` from the
/// monorepo root; reads back what the rehearsal probes.
/// `who`: the command saying it (`rehearse`, `deploy`).
pub fn build_site(ctx: &Ctx, web: &Web, node: &str, dest: &Path, who: &str) -> Result<Built> {
    let docker = Docker::find()?;
    // the site's build context holds only what git would hold, and no credential
    let guard = super::context_guard::check(&ctx.root, crate::stack::web::WEB_DOCKERIGNORE);
    for n in &guard.notes {
        eprintln!("{who}: web build: note: {n}");
    }
    if guard.refused() {
        bail!("building the web app {}: {}", web.name, guard.refusal());
    }
    let t = Instant::now();
    let mut args: Vec<String> = vec![
        "-f".into(),
        ctx.root.join(WEB_DOCKERFILE).display().to_string(),
        "--build-arg".into(),
        format!("NODE_IMAGE={node}"),
        "--target".into(),
        "site".into(),
    ];
    let npmrc = ctx.root.join(".npmrc");
    if npmrc.is_file() {
        args.push("--secret".into());
        args.push(format!("id=npmrc,src={}", npmrc.display()));
    }
    args.push("--output".into());
    args.push(format!("type=local,dest={}", dest.display()));
    args.push(ctx.root.display().to_string());
    let standin_for = docker
        .inspect_image(node)?
        .as_ref()
        .and_then(crate::tools::node_standin::stands_in_for);
    let base = match &standin_for {
        Some(of) => format!("STAND-IN base {node} (for {of})"),
        None => format!("base {node}"),
    };
    eprintln!(
        "{who}: building the web app {} ({}) on {base} into {}",
        web.name,
        web.dir,
        dest.display()
    );
    for (name, at) in &web.env.withheld {
        eprintln!(
            "{who}: {name} ({at}) is not passed to the web build: its name says secret, and the build would ship it to every browser"
        );
    }
    let built = docker.buildx_build(&args, &ctx.root, Progress::Plain, true)?;
    if !built.ok() {
        let steps = crate::buildlog::parse(&built.lines);
        let base_failed = crate::buildlog::failed(&steps)
            .is_some_and(|s| s.name.contains("load metadata for") || s.name.contains("FROM "));
        if base_failed {
            bail!(
                "building the web app {}: its Node base {node} could not be loaded (it is not in the local engine and \
                 could not be pulled); build the stand-in with `cargo xtask standin` and pass `--node-image standin`, \
                 or load {node} into the engine",
                web.name
            );
        }
        let tail: Vec<&str> = built
            .lines
            .iter()
            .rev()
            .take(30)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "building the web app {} with {WEB_DOCKERFILE} failed (its `{}` script, or the install before it):\n{}",
            web.name,
            web.script,
            tail.join("\n")
        );
    }
    let index_path = dest.join("index.html");
    let index = crate::files::read_in(dest, &index_path, crate::files::MAX_INPUT).map_err(|r| {
        anyhow::anyhow!("{}", r.phrase(crate::files::MAX_INPUT))
    }).with_context(|| {
        format!(
            "the web app's build wrote no index.html at the top of {}/{} (web.output): Caddy would have nothing to serve",
            web.dir, web.output
        )
    })?;
    Ok(Built {
        seconds: t.elapsed().as_secs_f64(),
        base: node.to_string(),
        base_said: base,
        standin_for,
        env: web
            .env
            .vars
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect(),
        inlined: inlined(dest, web),
        index,
        asset: first_asset(dest, &web.assets),
    })
}

/// The build variables whose value is in a built file (as written, or as a JSON string's
/// content, the form a bundler inlines); files over 8 MB are not read.
fn inlined(dest: &Path, web: &Web) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut stack = vec![dest.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => {
                    if let Ok(s) = crate::files::read_regular(&e.path(), 8 << 20) {
                        texts.push(s);
                    }
                }
                _ => {}
            }
        }
    }
    web.env
        .vars
        .iter()
        .filter(|v| {
            let json = serde_json::Value::String(v.value.clone()).to_string();
            let escaped = &json[1..json.len() - 1];
            !v.value.is_empty()
                && texts
                    .iter()
                    .any(|t| t.contains(&v.value) || t.contains(escaped))
        })
        .map(|v| v.name.clone())
        .collect()
}

/// A digest of the built site (every regular file's path and content, in path order): the
/// name of its release on a host, so the same build is the same release. Anything but
/// directories and regular files (a symlink, a FIFO) is refused: a release is plain files.
pub fn site_id(dir: &Path) -> Result<String> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let e = e.with_context(|| format!("cannot list {}", d.display()))?;
            let ty = e.file_type()?;
            let p = e.path();
            if ty.is_dir() {
                stack.push(p);
            } else if ty.is_file() {
                let rel = p.strip_prefix(dir)?.to_string_lossy().into_owned();
                files.push((rel, p));
            } else {
                bail!(
                    "the built site has {} which is not a regular file or directory: a release holds plain files only",
                    p.display()
                );
            }
        }
    }
    files.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (rel, p) in &files {
        let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        feed(rel.as_bytes());
        feed(&[0]);
        feed(&(bytes.len() as u64).to_le_bytes());
        feed(&bytes);
    }
    Ok(format!("{h:016x}"))
}

/// The first text file (by name) under `<dest>/<assets>` whose path needs no URL escaping.
fn first_asset(dest: &Path, assets: &str) -> Option<(String, String)> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dest.join(assets)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.filter_map(|e| e.ok()) {
            let ty = e.file_type().ok()?;
            if ty.is_dir() {
                stack.push(e.path());
            } else if ty.is_file() {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files.into_iter().find_map(|f| {
        let rel = f.strip_prefix(dest).ok()?.to_str()?.to_string();
        let safe = rel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        let content = crate::files::read_in(dest, &f, crate::files::MAX_INPUT).ok()?;
        (safe && !content.is_empty()).then(|| (format!("/{rel}"), content))
    })
}

/// Where the web site answers: its domain on the proxy's published HTTPS port.
pub struct Target<'a> {
    pub sh: &'a Shell,
    pub curl: &'a Curl,
    pub domain: &'a str,
    pub port: u16,
    /// The test origin certificate (its SANs include the domain).
    pub ca: &'a Path,
    /// Where curl writes headers and bodies.
    pub dir: &'a Path,
    pub hsts_max_age: u32,
}

/// The web proofs, each with its check id: `web-index` (`/`: the built index.html, a short
/// cache, the edge's headers), `web-deep-link` (a client-side route: index.html), and
/// `web-assets` when the build made a content-hashed asset (its immutable cache; a missing
/// one is a 404).
pub fn prove(t: &Target, web: &Web, built: &Built) -> Result<Vec<(&'static str, Verdict)>> {
    let get = |path: &str| -> Result<Resp> {
        let url = format!("https://{}:{}{path}", t.domain, t.port);
        let resolve = format!("{}:{}:127.0.0.1", t.domain, t.port);
        let req = Request {
            url: &url,
            resolve: &resolve,
            cacert: Some(t.ca),
            extra: &[],
        };
        let (out, headers) = t.curl.request(
            t.sh,
            &req,
            &t.dir.join("web.headers"),
            &t.dir.join("web.body"),
        )?;
        let http = crate::rehearsal::parse_curl(&out.write_out)
            .with_context(|| format!("curl {url}: {}", out.stderr))?;
        Ok(Resp {
            url,
            exit: http.exit,
            error: http.error,
            status: http.code,
            headers,
            body: out.body,
        })
    };
    let answer = Resp::answer;
    let mut out = Vec::new();
    let root = get("/")?;
    out.push((
        "web-index",
        judge::index(&answer(&root), &built.index, t.hsts_max_age),
    ));
    let deep = get("/some/deep/route")?;
    out.push((
        "web-deep-link",
        judge::deep_link(&answer(&deep), &built.index),
    ));
    if let Some((path, content)) = &built.asset {
        let found = get(path)?;
        let missing = get(&format!(
            "/{}/xtask-no-such-asset-{}.js",
            web.assets,
            std::process::id()
        ))?;
        out.push((
            "web-assets",
            judge::asset(&answer(&found), content, &answer(&missing), &built.index),
        ));
    }
    Ok(out)
}

/// One captured answer, owned.
struct Resp {
    url: String,
    exit: i64,
    error: String,
    status: u16,
    headers: String,
    body: String,
}

impl Resp {
    fn answer(&self) -> Answer<'_> {
        Answer {
            url: &self.url,
            exit: self.exit,
            error: &self.error,
            status: self.status,
            headers: &self.headers,
            body: &self.body,
        }
    }
}
