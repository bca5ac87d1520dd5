//! `cargo xtask engine up|down|status`

use std::time::Duration;

use anyhow::Result;

use super::Outcome;
use crate::tools::engine::{self, Down, Up};

pub const HELP: &str = "\
cargo xtask engine: provide a Docker engine with buildx and compose v2 (Debian)

USAGE:
    cargo xtask engine up        make sure an engine answers; start one if needed
    cargo xtask engine down      stop the dockerd that `engine up` started (only that one)
    cargo xtask engine status    client, server, buildx and compose versions; who started it

up: where `docker info` already answers (Docker Desktop, a CI runner, a running service)
nothing is started (it says so); missing buildx/compose plugins are still installed when
possible. Otherwise, on Debian as root:
    apt-get update && apt-get install -y docker.io        when dockerd is missing
    the buildx 0.13 and compose 2.26 plugins from Debian trixie's .debs, fetched with a
    separate sources list (the system's lists are untouched) into
    /usr/local/lib/docker/cli-plugins (Debian 12's docker-compose v1 is never used)
    dockerd started in the background; log and pidfile in the state directory
    ($XTASK_ENGINE_STATE, default /run/xtask-engine), then waits until `docker info`
    answers (XTASK_ENGINE_TIMEOUT seconds, default 90; the log tail is shown on failure).

down: stops the daemon recorded in the pidfile (SIGTERM, then SIGKILL after the timeout)
and waits for it to exit; an engine this tool did not start is left alone.

EXIT: 0 done (status: the engine answers), 1 status: no engine answers,
      2 could not run (not root, not Debian, apt failing, daemon not coming up).
";

pub enum Action {
    Up,
    Down,
    Status,
}

fn timeout(default_secs: u64) -> Duration {
    let secs = std::env::var("XTASK_ENGINE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(default_secs);
    Duration::from_secs(secs.max(1))
}

pub fn run(action: &Action) -> Result<Outcome> {
    match action {
        Action::Up => {
            match engine::up(timeout(90))? {
                Up::AlreadyRunning { server } => println!(
                    "engine: already answers at {} (server {server}); nothing started",
                    crate::tools::docker::host_desc()
                ),
                Up::Started { pid, server } => println!(
                    "engine: dockerd {server} started by `cargo xtask engine up` (pid {pid}, log {}); stop it with `cargo xtask engine down`",
                    engine::State::default_location().log().display()
                ),
            }
            print_status()
        }
        Action::Down => {
            let state = engine::State::default_location();
            match engine::down(timeout(30))? {
                Down::NothingStarted => println!(
                    "engine: no dockerd started by `cargo xtask engine up` (no {}); nothing stopped",
                    state.pidfile().display()
                ),
                Down::StalePidfile { pid } => {
                    println!("engine: dockerd pid {pid} from {} is already gone; removed the stale pidfile", state.pidfile().display())
                }
                Down::Stopped { pid, secs, killed } => println!(
                    "engine: stopped dockerd (pid {pid}) in {secs:.1}s{}",
                    if killed { " (it ignored SIGTERM; killed)" } else { "" }
                ),
            }
            Ok(Outcome::Pass)
        }
        Action::Status => print_status(),
    }
}

fn print_status() -> Result<Outcome> {
    let s = engine::status()?;
    let or = |v: &Option<String>, missing: &str| v.clone().unwrap_or_else(|| missing.to_string());
    println!("host        {}", s.host);
    println!("client      {}", or(&s.client, "missing (install Docker)"));
    match &s.server {
        Ok(v) => println!("server      Docker Engine {v}"),
        Err(e) => println!(
            "server      unreachable: {}",
            e.lines().next().unwrap_or("")
        ),
    }
    println!(
        "buildx      {}",
        or(&s.buildx, "missing (`cargo xtask engine up` installs it)")
    );
    println!(
        "compose     {}",
        or(&s.compose, "missing (`cargo xtask engine up` installs it)")
    );
    println!("started by  {}", s.started_by);
    Ok(if s.server.is_ok() {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}
