//! The ONLY place that runs programs (xshell + which). Callers get typed results or errors that
//! name the fix; they never build command lines themselves.

pub mod compose_run;
pub mod probe;
pub mod standins;

use std::path::PathBuf;

use anyhow::Context;

/// Finds `tool` on PATH; the error says how to get it (`fix`).
pub fn find(tool: &str, fix: &str) -> anyhow::Result<PathBuf> {
    which::which(tool).with_context(|| format!("`{tool}` not found on PATH; {fix}"))
}
