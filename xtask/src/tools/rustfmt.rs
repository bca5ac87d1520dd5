//! rustfmt, for the tidy test: which of some Rust files are not formatted as `cargo fmt`
//! would write them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::{capture, find, indent, shell};

/// The files of `files` that rustfmt (edition `edition`) would change; nothing is written.
pub fn unformatted(files: &[PathBuf], edition: &str) -> Result<Vec<PathBuf>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let bin = find("rustfmt", "rustup component add rustfmt")?;
    let sh = shell()?;
    let c = capture(
        sh.cmd(bin)
            .args(["--edition", edition, "--check", "--files-with-diff"])
            .args(files),
    )?;
    // exit 0: all formatted; 1: some differ (listed one per line); else rustfmt failed
    match c.code {
        Some(0 | 1) => Ok(c
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Path::new(l).to_path_buf())
            .collect()),
        _ => bail!("rustfmt --check failed:\n{}", indent(&c.detail())),
    }
}
