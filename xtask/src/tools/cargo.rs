//! cargo, for one measurement: how long the first `cargo xtask` compile takes from a clean
//! target directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};

use super::{capture, find, indent, shell};

pub const FIX: &str = "install Rust with rustup (https://rustup.rs)";

pub struct Cargo {
    bin: PathBuf,
}

impl Cargo {
    /// The cargo that runs this command (`$CARGO`), else the one on PATH.
    pub fn find() -> Result<Cargo> {
        let bin = match std::env::var_os("CARGO").map(PathBuf::from) {
            Some(p) if p.is_file() => p,
            _ => find("cargo", FIX)?,
        };
        Ok(Cargo { bin })
    }

    /// `cargo fetch --locked` in `workspace` (downloads are not part of a compile).
    pub fn fetch(&self, workspace: &Path) -> Result<()> {
        let sh = shell()?;
        let _d = sh.push_dir(workspace);
        let c = capture(sh.cmd(&self.bin).args(["fetch", "--locked"]))?;
        if !c.ok() {
            bail!(
                "cargo fetch --locked failed in {}:\n{}",
                workspace.display(),
                indent(&c.detail())
            );
        }
        Ok(())
    }

    /// Seconds `cargo build --package PACKAGE --locked --offline` takes into the empty
    /// `target_dir` (the profile `cargo xtask` uses: dev).
    pub fn build_clean(&self, workspace: &Path, package: &str, target_dir: &Path) -> Result<f64> {
        let sh = shell()?;
        let _d = sh.push_dir(workspace);
        let cmd = sh
            .cmd(&self.bin)
            .args(["build", "--package", package, "--locked", "--offline"])
            .env("CARGO_TARGET_DIR", target_dir);
        let t = Instant::now();
        let c = capture(cmd)?;
        let secs = t.elapsed().as_secs_f64();
        if !c.ok() {
            bail!(
                "cargo build --package {package} failed in {}:\n{}",
                workspace.display(),
                indent(&c.detail())
            );
        }
        Ok(secs)
    }
}
