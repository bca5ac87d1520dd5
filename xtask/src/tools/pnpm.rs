//! pnpm on the host, at the monorepo's exact version (through corepack when it is there):
//! only to write a lockfile (`install --lockfile-only`) for an edited copy or a generated
//! fixture. Never installs node_modules.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::{capture, find_opt, indent, shell};

pub const FIX: &str =
    "install Node.js >= 18 (it brings corepack) or pnpm (https://pnpm.io/installation)";

/// How pnpm is run on this host.
#[derive(Debug, Clone)]
pub enum HostPnpm {
    /// `corepack pnpm@<version> ...`: the exact version the monorepo pins.
    Corepack(PathBuf),
    /// `pnpm ...` from PATH, whatever its version.
    Path(PathBuf),
}

impl HostPnpm {
    pub fn find() -> Result<HostPnpm> {
        if let Some(c) = find_opt("corepack") {
            return Ok(HostPnpm::Corepack(c));
        }
        if let Some(p) = find_opt("pnpm") {
            return Ok(HostPnpm::Path(p));
        }
        bail!("neither corepack nor pnpm found on PATH (needed to write a lockfile on the host): {FIX}")
    }

    /// `pnpm install --lockfile-only` in `dir`: pnpm-lock.yaml follows the manifests.
    pub fn lockfile_only(&self, dir: &Path, version: &str) -> Result<()> {
        let args = [
            "install",
            "--lockfile-only",
            "--ignore-scripts",
            "--no-frozen-lockfile",
        ];
        let integrity_set = std::env::var_os("COREPACK_INTEGRITY_KEYS").is_some();
        let attempt = |no_keys: bool| -> Result<super::Captured> {
            let sh = shell()?;
            let _d = sh.push_dir(dir);
            let mut cmd = match self {
                HostPnpm::Corepack(c) => sh.cmd(c).arg(format!("pnpm@{version}")),
                HostPnpm::Path(p) => sh.cmd(p),
            };
            cmd = cmd
                .args(args)
                .env("COREPACK_ENABLE_DOWNLOAD_PROMPT", "0")
                .env("CI", "true");
            if no_keys {
                cmd = cmd.env("COREPACK_INTEGRITY_KEYS", "0");
            }
            capture(cmd)
        };
        let mut c = attempt(false)?;
        if !c.ok()
            && !integrity_set
            && matches!(self, HostPnpm::Corepack(_))
            && format!("{}{}", c.stdout, c.stderr).contains("signature")
        {
            eprintln!(
                "bench: corepack found no registry signature for pnpm@{version} (a registry or proxy without \
                 `dist.signatures`); retrying with COREPACK_INTEGRITY_KEYS=0"
            );
            c = attempt(true)?;
        }
        if !c.ok() {
            bail!(
                "pnpm install --lockfile-only failed in {} (pnpm {version}); check the registry is reachable from this host:\n{}",
                dir.display(),
                indent(&c.detail())
            );
        }
        Ok(())
    }
}
