//! `docker compose config`: the compose file as Docker Compose v2 itself reads it.
//! Needs the docker CLI and its compose plugin, not a daemon.

use std::path::Path;
use std::process::Output;

use anyhow::{bail, Context, Result};
use xshell::Shell;

pub const DOCKER_FIX: &str = "install the Docker CLI with its compose v2 plugin (https://docs.docker.com/get-docker/), or run `cargo xtask engine up` as root on Debian";

/// How to run `docker compose config`.
pub struct Config<'a> {
    pub file: &'a Path,
    /// `--env-file`: the variables to interpolate (`None` with `interpolate: false`).
    pub env_file: Option<&'a Path>,
    /// `false`: `--no-interpolate` (`${...}` left literal, env_file not opened).
    pub interpolate: bool,
}

/// Runs `docker compose -f FILE [--env-file F] config -q [--no-interpolate]` and returns its
/// output whatever its status. For an interpolated run the environment is cleared (PATH,
/// HOME and DOCKER_CONFIG kept), so a variable set in the caller's shell cannot hide one
/// missing from the env file. Errors only when the command cannot run at all.
pub fn config(c: &Config) -> Result<Output> {
    let docker = super::find("docker", DOCKER_FIX)?;
    let sh = Shell::new().context("cannot start a shell for docker compose")?;
    let mut cmd = sh.cmd(&docker).arg("compose").arg("-f").arg(c.file);
    if let Some(env) = c.env_file {
        cmd = cmd.arg("--env-file").arg(env);
    }
    cmd = cmd.arg("config").arg("-q");
    if !c.interpolate {
        cmd = cmd.arg("--no-interpolate");
    }
    if c.interpolate {
        cmd = cmd.env_clear();
        for keep in ["PATH", "HOME", "DOCKER_CONFIG"] {
            if let Some(v) = std::env::var_os(keep) {
                cmd = cmd.env(keep, v);
            }
        }
    }
    let out = cmd.quiet().ignore_status().output().with_context(|| {
        format!(
            "cannot run {} compose config; {DOCKER_FIX}",
            docker.display()
        )
    })?;
    // Without the plugin the CLI rejects the command line itself, in words that change
    // between versions ("unknown command", "unknown shorthand flag: 'f' in -f", exit 125):
    // when the run failed, ask the plugin directly.
    if !out.status.success() && !plugin_answers(&sh, &docker) {
        bail!(
            "the docker compose v2 plugin is missing (`docker compose` is not a command): {}",
            super::docker::COMPOSE_FIX
        );
    }
    Ok(out)
}

/// Does `docker compose version` run (is the compose v2 plugin there)?
fn plugin_answers(sh: &Shell, docker: &Path) -> bool {
    sh.cmd(docker)
        .args(["compose", "version"])
        .quiet()
        .ignore_status()
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
