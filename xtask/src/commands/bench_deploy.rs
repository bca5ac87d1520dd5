//! `cargo xtask bench-deploy`: rollout and rollback times and failed requests, beside a plain
//! `docker compose up -d` of the same change (see [`crate::ops::deploy_bench`]).

use anyhow::Result;

use crate::context::{Ctx, Outcome};
use crate::ops::deploy_bench;

pub const HELP: &str = "\
cargo xtask bench-deploy: how long a deploy takes and how many requests fail, side by side

USAGE:
    cargo xtask bench-deploy [--node-image IMAGE] [--format human|json]

On an SSH test host made for the run (a network namespace with its own dockerd and sshd,
reached over a veth pair of its own; needs root, Debian's docker-registry and openssh-server,
see .ci/install-tools.sh) fed by a local registry, the API image of this monorepo is pushed,
deployed, then changed four ways, each under a bounded loop of HTTPS requests through Caddy
(at most 3000 requests and 240 s, one every 50 ms, to the namespace's address only):
    1. `deploy` v1 -> v2: the start-first, health-gated rollout;
    2. `deploy` of an image that exits at boot: the automatic rollback;
    3. `deploy --rollback`: back to the previous image;
    4. plain `docker compose up -d` of the same v1 -> v2 change (timed until the new API is
       healthy: that is how long the outage can last).
Prints, per row: wall time, exit code, requests sent, failed (non-2xx or no answer) and the
longest gap between two successful answers. Everything it starts is stopped and removed.

OPTIONS:
    --node-image IMAGE   base of the API build (default: standin, the local STAND-IN for
                         node:22-alpine; pushed only to the run's own loopback registry)
    --format human|json
    --root DIR           the pnpm monorepo (default: this workspace's root)
    --config FILE        the config file (default: <root>/infra/stack.toml)
    -h, --help           print this help

EXIT: 0 measured, 2 could not run (not root, a tool missing, a step failed).
";

#[derive(Debug, Clone)]
pub struct Args {
    pub node_image: String,
    pub json: bool,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            node_image: "standin".into(),
            json: false,
        }
    }
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let say = |m: &str| eprintln!("bench-deploy: {m}");
    let rows = deploy_bench::run(&ctx.root, &args.node_image, &say)?;
    if args.json {
        let v: Vec<_> = rows.iter().map(|r| r.to_json()).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"rows": v}))?
        );
        return Ok(Outcome::Pass);
    }
    println!(
        "{:<58} {:>7} {:>5} {:>6} {:>7} {:>12}",
        "change", "time s", "exit", "sent", "failed", "longest gap"
    );
    for r in &rows {
        println!(
            "{:<58} {:>7.1} {:>5} {:>6} {:>7} {:>9} ms",
            r.what, r.secs, r.exit, r.load.sent, r.load.failed, r.load.longest_gap_ms
        );
    }
    if let (Some(roll), Some(plain)) = (rows.first(), rows.last()) {
        println!(
            "failed requests: rollout {} vs plain up -d {}; longest gap {} ms vs {} ms",
            roll.load.failed,
            plain.load.failed,
            roll.load.longest_gap_ms,
            plain.load.longest_gap_ms
        );
    }
    Ok(Outcome::Pass)
}
