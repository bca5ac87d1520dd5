//! Debian packages: `apt-get` and `dpkg-deb`, for provisioning on a fresh Debian machine.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use xshell::Shell;

use super::{find, indent, is_root, os_release, shell, stream};

/// Fails unless this is Debian and we are root, naming what to do instead.
/// `what` says what was about to be installed (for the message).
pub fn require_debian_root(what: &str) -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("cannot install {what} automatically: this is not Linux. Install Docker Desktop (https://docs.docker.com/get-docker/) and start it");
    }
    let os = os_release();
    let debian = os.as_ref().is_some_and(|o| o.is_debian());
    if !debian {
        let name = os
            .map(|o| {
                if o.pretty_name.is_empty() {
                    o.id
                } else {
                    o.pretty_name
                }
            })
            .unwrap_or_else(|| "an unknown Linux".into());
        bail!(
            "cannot install {what} automatically on {name}: `cargo xtask engine up` provisions Debian only. \
             Install Docker Engine with the buildx and compose plugins yourself (https://docs.docker.com/engine/install/) and start it"
        );
    }
    if !is_root() {
        bail!(
            "installing {what} needs root (apt-get, /usr/local/lib/docker/cli-plugins, dockerd): \
             rerun as root, e.g. `sudo -E cargo xtask engine up`, or install Docker yourself"
        );
    }
    Ok(())
}

/// apt-get with its output streamed to stderr, prefixed `apt: `.
pub struct Apt {
    sh: Shell,
    apt_get: PathBuf,
    /// `-o Key=Value` options (a separate sources list, lists and cache directories).
    opts: Vec<String>,
}

impl Apt {
    /// apt-get on the system's own sources.
    pub fn system() -> Result<Apt> {
        let apt_get = find(
            "apt-get",
            "this is not a Debian system with apt; install Docker yourself",
        )?;
        Ok(Apt {
            sh: shell()?,
            apt_get,
            opts: Vec::new(),
        })
    }

    /// apt-get on its own sources list (`deb <line>`), with lists and caches under `dir`:
    /// the system's lists, caches and sources are left alone.
    pub fn separate(dir: &Path, deb_line: &str) -> Result<Apt> {
        let mut a = Apt::system()?;
        for sub in ["lists/partial", "parts", "cache/archives/partial"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create {}: {e}; is the disk full or read-only?",
                    dir.join(sub).display()
                )
            })?;
        }
        let list = dir.join("sources.list");
        std::fs::write(&list, format!("{deb_line}\n"))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", list.display()))?;
        a.opts = vec![
            format!("Dir::Etc::sourcelist={}", list.display()),
            format!("Dir::Etc::sourceparts={}", dir.join("parts").display()),
            format!("Dir::State::Lists={}", dir.join("lists").display()),
            format!("Dir::Cache={}", dir.join("cache").display()),
        ];
        Ok(a)
    }

    fn run(&self, args: &[&str], cwd: Option<&Path>, fix: &str) -> Result<()> {
        // no dpkg progress bar (one endless line in a log); downloads land in root-only
        // directories, which apt's `_apt` sandbox user could not write anyway
        let mut cmd = self
            .sh
            .cmd(&self.apt_get)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-o", "Dpkg::Use-Pty=0", "-o", "APT::Sandbox::User=root"]);
        for o in &self.opts {
            cmd = cmd.arg("-o").arg(o);
        }
        cmd = cmd.args(args);
        let _dir = cwd.map(|d| self.sh.push_dir(d));
        let shown = cmd.to_string();
        eprintln!("apt: $ {shown}");
        let s = stream(cmd, "apt: ", true)?;
        if !s.ok() {
            bail!(
                "`{shown}` failed (exit {:?}):\n{}\n{fix}",
                s.code,
                indent(&s.tail(15))
            );
        }
        Ok(())
    }

    pub fn update(&self) -> Result<()> {
        self.run(
            &["-q", "update"],
            None,
            "fix: check that this machine reaches its Debian mirror (deb.debian.org or the one in /etc/apt/sources.list*), then rerun",
        )
    }

    pub fn install(&self, packages: &[&str]) -> Result<()> {
        let mut args = vec!["-q", "install", "-y"];
        args.extend_from_slice(packages);
        self.run(
            &args,
            None,
            "fix: read apt's message above (a held package, a full disk, an unreachable mirror), fix it, then rerun",
        )
    }

    /// `apt-get download PKG...` into `dir` (nothing is installed).
    pub fn download(&self, dir: &Path, packages: &[&str]) -> Result<()> {
        let mut args = vec!["-q", "download"];
        args.extend_from_slice(packages);
        self.run(&args, Some(dir), "fix: check that the Debian mirror is reachable and the package exists in that suite, then rerun")
    }
}

/// `dpkg-deb -x DEB DIR`: unpacks a package's files without installing it.
pub fn extract_deb(deb: &Path, dir: &Path) -> Result<()> {
    let sh = shell()?;
    let dpkg_deb = find("dpkg-deb", "install dpkg (Debian) to unpack .deb files")?;
    let c = super::capture(sh.cmd(dpkg_deb).arg("-x").arg(deb).arg(dir))?;
    if !c.ok() {
        bail!(
            "dpkg-deb -x {} failed: {}; delete the file and rerun to download it again",
            deb.display(),
            c.detail()
        );
    }
    Ok(())
}

/// The one file in `dir` whose name starts with `prefix` and ends with `.deb`.
pub fn find_deb(dir: &Path, prefix: &str) -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            n.starts_with(prefix) && n.ends_with(".deb")
        })
        .collect();
    found.sort();
    match found.pop() {
        Some(p) => Ok(p),
        None => bail!(
            "apt-get download left no {prefix}*.deb in {}; rerun",
            dir.display()
        ),
    }
}
