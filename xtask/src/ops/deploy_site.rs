//! With `[web]`, the deploy's site on a compose host: the built site uploaded as a kept
//! release `<dir>/web.<digest>`, and `<dir>/web` (the directory caddy mounts) switched to a
//! release once the API is live. [`super::deploy`] calls these in its run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::deploy::{site_release, valid_site_id, SITE_FILE, WEB_DIR};
use crate::tools::ssh::Ssh;

/// With `[web]`: the site that goes live with the API.
#[derive(Debug, Clone)]
pub enum Site {
    /// Built locally into `dir` (a deploy): uploaded as the release `web.<id>`.
    Built { dir: PathBuf, id: String },
    /// `--rollback`: the release recorded with the history's target entry (kept on the host).
    FromHistory,
}

/// Makes `<dir>/web` (the directory caddy mounts) hold the release `<dir>/web.<id>`: new and
/// changed files renamed in one at a time (each atomic; `index.html` last, so the page never
/// names an asset that is not there yet), then files the release lacks removed. Not a directory
/// swap: caddy's bind mount holds the directory itself, so a renamed or re-linked `web` would
/// be seen only by a recreated caddy, which would cut the API's traffic too.
const SWITCH_SITE: &str = r#"set -e
cd "$1"; r="$2"
test -d "$r"
mkdir -p web
cd "$r"
find . -type d -exec sh -c 'for d; do mkdir -p "../web/$d"; done' sh {} +
find . -type f ! -path ./index.html -exec sh -c 'for f; do cp -p "$f" "../web/$f.xtask-tmp"; mv -f "../web/$f.xtask-tmp" "../web/$f"; done' sh {} +
if [ -f index.html ]; then cp -p index.html ../web/.index.html.xtask-tmp; mv -f ../web/.index.html.xtask-tmp ../web/index.html; fi
cd ../web
find . ! -type d -exec sh -c 'r=$1; shift; for f; do [ -f "../$r/$f" ] || rm -f "$f"; done' sh "$r" {} +
find . -mindepth 1 -depth -type d -empty -exec rmdir {} +
umask 077; printf '%s\n' "$r" > "../$3.xtask-tmp"; mv -f "../$3.xtask-tmp" "../$3"
"#;

/// The release serving now (`web.<id>`), from the host's state (none before the first site).
pub(super) fn current(ssh: &Ssh, dir: &str) -> Result<Option<String>> {
    let c = ssh.script(
        "cat \"$1\" 2>/dev/null || true",
        &[&format!("{dir}/{SITE_FILE}")],
    )?;
    Ok(c.stdout
        .trim()
        .strip_prefix(&format!("{WEB_DIR}."))
        .filter(|id| valid_site_id(id))
        .map(site_release))
}

/// The release `web.<id>` put on the host from `local`, unless the host has it already (the
/// same build). Returns what happened, for the report.
pub(super) fn upload(ssh: &Ssh, dir: &str, local: &Path, id: &str) -> Result<String> {
    let release = format!("{dir}/{}", site_release(id));
    if ssh.script("test -d \"$1\"", &[&release])?.ok() {
        return Ok(format!("{release}: already on the host"));
    }
    ssh.upload_tree(local, &release)?;
    Ok(release)
}

/// `<dir>/web` switched to the release `id`; returns the release's name.
pub(super) fn switch(ssh: &Ssh, dir: &str, id: &str) -> Result<String> {
    let release = site_release(id);
    let c = ssh.script(SWITCH_SITE, &[dir, &release, SITE_FILE])?;
    if !c.ok() {
        bail!(
            "the API is live, but switching {dir}/{WEB_DIR} to {release} failed: {} (the site may be partly switched; rerun the deploy)",
            c.detail()
        );
    }
    Ok(release)
}
