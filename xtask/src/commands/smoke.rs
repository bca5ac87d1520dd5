//! `cargo xtask smoke [--image IMAGE | --tag TAG]`

use std::time::Duration;

use anyhow::Result;

use super::{Ctx, Outcome};
use crate::ops::smoke;
use crate::report::Format;
use crate::tools::docker::Docker;

pub const HELP: &str = "\
cargo xtask smoke: smoke-test and inspect a built API image

USAGE:
    cargo xtask smoke [--image IMAGE | --tag TAG] [--format human|json] [--root DIR] [--config FILE]

Checks (each reported PASS/FAIL with its id):
    image/user           USER is uid 1001, not root
    image/env            NODE_ENV=production, PORT=<api.port>
    image/expose         <api.port>/tcp exposed
    image/cmd            CMD as generated, e.g. [\"node\", \"dist/main.js\"]
    image/workdir        WORKDIR is the API's directory
    image/node           `docker run --rm IMAGE node -e \"console.log('ok')\"` prints exactly ok
    image/runtime-user   a container runs as uid 1001
    image/runtime-deps   every dependency in the API's package.json resolves from its directory
    image/no-dev-deps    no devDependency is installed
    image/no-source-files  no .env*, .git or .ts source (.d.ts is fine) outside node_modules
    image/services       the services the API's contract wires (postgres, redis; ipfs and the
                         tee-worker when their image is local) start on a private network under
                         their service names, with throwaway credentials the API's env shares,
                         and turn healthy (real image when local, pulled in GitHub Actions,
                         else a STAND-IN, named as such); only when the contract wires one
    image/migrate        `[api.migrate] command` in the image on that network exits 0 (only
                         when configured); a failure names what its log names
    image/health         the API starts on that network: GET /health on a published 127.0.0.1
                         port answers (its status reported; healthy = [api.health] status) and
                         it is still running a second later; an exit names the variable or
                         module its log names (XTASK_SMOKE_TIMEOUT seconds per wait, default
                         30; every container and the network are removed, also on Ctrl-C)

OPTIONS:
    --image IMAGE    the image to check (default: <api.image>:<project.tag>)
    --tag TAG        check <api.image>:TAG
    --format FMT     human (default) or json: the same report as data (schema xtask-smoke/1:
                     image, standin_for, result, passed, total, checks[{id, ok, detail}],
                     boot{network, services[{name, image, source, stands_in_for, provides,
                     ready_ms}], not_started[{name, why}], migrate{command, ok, exit, ms},
                     health_status, healthy, timings{images_ms, services_ms, migrate_ms,
                     health_ms}})
    -h, --help       print this help

EXIT: 0 every check passed, 1 a check failed, 2 could not run (no such image, no engine).
";

pub fn run(ctx: &Ctx, image: Option<&str>, tag: Option<&str>, format: Format) -> Result<Outcome> {
    let model = ctx.model()?;
    let image = match (image, tag) {
        (Some(i), _) => i.to_string(),
        (None, Some(t)) => crate::stack::ApiImage::local_tag(&model.config, t),
        (None, None) => crate::stack::ApiImage::local_tag(&model.config, &model.config.tag),
    };
    let docker = Docker::find()?;
    docker.require_engine()?;
    let report = smoke::check(
        &docker,
        &image,
        &model,
        Duration::from_secs(smoke::timeout()),
    )?;
    Ok(smoke::print(&report, format))
}
