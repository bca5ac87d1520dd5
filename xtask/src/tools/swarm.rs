//! `docker stack config`: the Swarm stack file as the docker CLI itself reads it (no daemon
//! needed), interpolated with the variables given and nothing else.

use std::path::Path;

use anyhow::{Context, Result};

use super::{capture, find, shell, Captured};

/// Runs `docker stack config -c FILE` with only `env` (plus PATH, HOME, DOCKER_CONFIG) in
/// its environment and DOCKER_HOST pointing nowhere (it must not need an engine).
pub fn stack_config(file: &Path, env: &[(String, String)]) -> Result<Captured> {
    let docker = find("docker", super::docker::CLI_FIX)?;
    let sh = shell()?;
    let mut cmd = sh
        .cmd(&docker)
        .args(["stack", "config", "-c"])
        .arg(file)
        .env_clear();
    for keep in ["PATH", "HOME", "DOCKER_CONFIG"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd = cmd.env(keep, v);
        }
    }
    cmd = cmd.env("DOCKER_HOST", "unix:///nonexistent/xtask-stack-config.sock");
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    capture(cmd).context("docker stack config")
}

/// `KEY=VALUE` lines of an env file (comments and blank lines skipped; no quoting rules).
pub fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}
