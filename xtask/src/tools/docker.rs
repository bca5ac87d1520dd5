//! The docker CLI: is it there, does the engine answer, are the buildx and compose plugins
//! there; images (inspect, history, remove), containers (run, port, logs, remove), builds.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;
use xshell::{Cmd, Shell};

use super::{attached, capture, capture_timeout, find, indent, shell, stream, Captured, Streamed};

/// Where the CLI talks to when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// `DOCKER_HOST=...` as the CLI will use it, for messages.
pub fn host_desc() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => format!("DOCKER_HOST={h}"),
        _ => format!("DOCKER_HOST={DEFAULT_HOST} (default)"),
    }
}

/// Is `DOCKER_HOST` unset or the default local socket?
pub fn host_is_default() -> bool {
    match std::env::var("DOCKER_HOST") {
        Ok(h) => {
            h.is_empty()
                || h == DEFAULT_HOST
                || h == "unix:/var/run/docker.sock"
                || h == "unix:///run/docker.sock"
        }
        Err(_) => true,
    }
}

pub const CLI_FIX: &str = "install Docker (https://docs.docker.com/get-docker/) or run `cargo xtask engine up` as root on Debian";

/// How to get the buildx plugin.
pub const BUILDX_FIX: &str = "run `cargo xtask engine up` as root on Debian (installs buildx 0.13 into \
     /usr/local/lib/docker/cli-plugins), or install docker-buildx-plugin (https://docs.docker.com/build/install-buildx/)";

/// How to get the compose v2 plugin.
pub const COMPOSE_FIX: &str = "run `cargo xtask engine up` as root on Debian (installs compose 2.26 into \
     /usr/local/lib/docker/cli-plugins), or install docker-compose-plugin (https://docs.docker.com/compose/install/linux/); \
     never Debian's docker-compose v1 package";

/// `XTASK_DOCKER_TIMEOUT` seconds (default 30) for the engine to answer `docker info`.
pub fn answer_timeout() -> std::time::Duration {
    let secs = std::env::var("XTASK_DOCKER_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(30);
    std::time::Duration::from_secs(secs)
}

/// Starts the detail of an engine that did not answer in time (see [`unreachable_message`]).
const HUNG_MARK: &str = "no answer to `docker info` within";

/// How `docker buildx build` shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Auto,
    Plain,
    Tty,
}

impl Progress {
    pub fn parse(s: &str) -> Result<Progress> {
        Ok(match s {
            "auto" => Progress::Auto,
            "plain" => Progress::Plain,
            "tty" => Progress::Tty,
            other => bail!("--progress {other:?}: expected auto, plain or tty"),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Auto => "auto",
            Progress::Plain => "plain",
            Progress::Tty => "tty",
        }
    }
}

/// One layer of `docker history`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub created_by: String,
    pub size: u64,
}

/// The docker CLI, found on PATH.
pub struct Docker {
    sh: Shell,
    pub bin: PathBuf,
}

impl Docker {
    /// Finds the CLI; its absence is an error that says how to get it.
    pub fn find() -> Result<Docker> {
        let bin = find("docker", CLI_FIX)?;
        Ok(Docker { sh: shell()?, bin })
    }

    /// `docker ARGS...` (not run yet).
    pub fn cmd<I, S>(&self, args: I) -> Cmd<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.sh.cmd(&self.bin).args(args)
    }

    /// Runs `docker ARGS...` and captures its output (a non-zero exit is not an error here).
    pub fn capture<I, S>(&self, args: I) -> Result<Captured>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        capture(self.cmd(args))
    }

    /// Runs `docker ARGS...` with `env` set in the CLI's own environment (a value that
    /// `docker run --env NAME` passes on without it appearing on any command line).
    pub fn capture_env<I, S>(&self, args: I, env: &[(String, String)]) -> Result<Captured>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.cmd(args);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        capture(cmd)
    }

    /// The server's version, or why the engine does not answer: the CLI's complaint, or
    /// that it did not answer within [`answer_timeout`] (an engine that accepts the
    /// connection and hangs would otherwise hang this tool too).
    pub fn server_version(&self) -> Result<std::result::Result<String, String>> {
        let timeout = answer_timeout();
        let Some(c) = capture_timeout(
            self.cmd(["info", "--format", "{{json .ServerVersion}}"]),
            timeout,
        )?
        else {
            return Ok(Err(format!("{HUNG_MARK} {}s", timeout.as_secs())));
        };
        let v = c.stdout.trim().trim_matches('"').to_string();
        if c.ok() && !v.is_empty() && v != "null" {
            Ok(Ok(v))
        } else {
            Ok(Err(c.detail()))
        }
    }

    /// The server's version; an unreachable engine is an error naming the fix.
    pub fn require_engine(&self) -> Result<String> {
        match self.server_version()? {
            Ok(v) => Ok(v),
            Err(detail) => bail!("{}", unreachable_message(&detail)),
        }
    }

    /// The client's version (`docker --version`).
    pub fn client_version(&self) -> Result<String> {
        let c = self.capture(["--version"])?;
        Ok(c.stdout.trim().to_string())
    }

    /// `docker buildx version`, or `None` when the plugin is missing.
    pub fn buildx_version(&self) -> Result<Option<String>> {
        let c = self.capture(["buildx", "version"])?;
        Ok(c.ok().then(|| c.stdout.trim().to_string()))
    }

    /// The driver of the builder `docker buildx build` uses (`docker`, `docker-container`,
    /// ...), from `docker buildx inspect`; `None` when it does not say.
    pub fn buildx_driver(&self) -> Result<Option<String>> {
        let c = self.capture(["buildx", "inspect"])?;
        if !c.ok() {
            anyhow::bail!("`docker buildx inspect` failed: {}", c.detail());
        }
        Ok(parse_buildx_driver(&c.stdout))
    }

    /// `docker compose version` (v2 only), or `None` when the plugin is missing.
    pub fn compose_version(&self) -> Result<Option<String>> {
        let c = self.capture(["compose", "version"])?;
        Ok(c.ok().then(|| c.stdout.trim().to_string()))
    }

    pub fn require_buildx(&self) -> Result<String> {
        self.buildx_version()?.with_context(|| {
            format!("the docker buildx plugin is missing (`docker buildx` is not a command): {BUILDX_FIX}")
        })
    }

    pub fn require_compose(&self) -> Result<String> {
        self.compose_version()?.with_context(|| {
            format!("the docker compose v2 plugin is missing (`docker compose` is not a command): {COMPOSE_FIX}")
        })
    }

    /// `docker image inspect NAME` as JSON; `None` when the engine has no such image.
    pub fn inspect_image(&self, name: &str) -> Result<Option<Json>> {
        let c = self.capture(["image", "inspect", "--", name])?;
        if !c.ok() {
            let d = c.detail();
            if d.contains("No such image") || d.contains("no such image") {
                return Ok(None);
            }
            bail!("docker image inspect {name} failed: {d}");
        }
        let v: Json = serde_json::from_str(&c.stdout)
            .with_context(|| format!("docker image inspect {name} printed no JSON"))?;
        Ok(v.as_array().and_then(|a| a.first()).cloned())
    }

    /// Layers of an image, oldest first, with their sizes in bytes.
    pub fn history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
        let c = self.capture([
            "history",
            "--no-trunc",
            "--human=false",
            "--format",
            "{{json .}}",
            image,
        ])?;
        if !c.ok() {
            bail!("docker history {image} failed: {}", c.detail());
        }
        let mut out = Vec::new();
        for line in c.stdout.lines().filter(|l| !l.trim().is_empty()) {
            let v: Json = serde_json::from_str(line).with_context(|| {
                format!("docker history printed a line that is not JSON: {line}")
            })?;
            let created_by = v
                .get("CreatedBy")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            let size = match v.get("Size") {
                Some(Json::String(s)) => s.parse().unwrap_or(0),
                Some(Json::Number(n)) => n.as_u64().unwrap_or(0),
                _ => 0,
            };
            out.push(HistoryEntry { created_by, size });
        }
        out.reverse();
        Ok(out)
    }

    /// `docker rm -f NAME`; a container that is already gone is fine.
    pub fn remove_container(&self, name: &str) -> Result<()> {
        let c = self.capture(["rm", "-f", "-v", name])?;
        if !c.ok() && !c.detail().contains("No such container") {
            bail!(
                "docker rm -f {name} failed: {}; remove it by hand",
                c.detail()
            );
        }
        Ok(())
    }

    /// `docker tag SOURCE TARGET`.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let c = self.capture(["tag", source, target])?;
        if !c.ok() {
            bail!("docker tag {source} {target} failed: {}", c.detail());
        }
        Ok(())
    }

    /// `docker rmi NAME...` (tags only; images in use or already gone are left alone).
    pub fn remove_images(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut args = vec!["rmi".to_string()];
        args.extend(names.iter().cloned());
        let _ = self.capture(args)?;
        Ok(())
    }

    /// Ids of every image (dangling ones too) carrying the label `KEY=VALUE`.
    pub fn images_labelled(&self, label: &str) -> Result<Vec<String>> {
        let c = self.capture([
            "images",
            "--quiet",
            "--no-trunc",
            "--filter",
            &format!("label={label}"),
        ])?;
        if !c.ok() {
            bail!(
                "docker images --filter label={label} failed: {}",
                c.detail()
            );
        }
        let mut ids: Vec<String> = c.stdout.split_whitespace().map(str::to_string).collect();
        ids.dedup();
        Ok(ids)
    }

    /// `docker rmi --force ID...`: for images this tool built and labelled itself (an image
    /// id with several tags needs --force).
    pub fn remove_image_ids(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut args = vec!["rmi".to_string(), "--force".to_string()];
        args.extend(ids.iter().cloned());
        let c = self.capture(args)?;
        if !c.ok() {
            bail!("docker rmi failed: {}", c.detail());
        }
        Ok(())
    }

    /// `docker port NAME PORT/tcp` → `127.0.0.1:49153`.
    pub fn host_port(&self, container: &str, port: u16) -> Result<String> {
        let c = self.capture(["port", container, &format!("{port}/tcp")])?;
        if !c.ok() {
            bail!("docker port {container} {port}/tcp failed: {}", c.detail());
        }
        c.stdout
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("127.0.0.1:"))
            .map(str::to_string)
            .with_context(|| {
                format!(
                    "container {container} publishes {port}/tcp nowhere on 127.0.0.1 ({})",
                    c.stdout.trim()
                )
            })
    }

    /// The last `n` lines of a container's logs (for a failure message).
    pub fn logs_tail(&self, container: &str, n: usize) -> String {
        match self.capture(["logs", "--tail", &n.to_string(), container]) {
            Ok(c) => format!("{}{}", c.stdout, c.stderr).trim_end().to_string(),
            Err(e) => format!("(no logs: {e})"),
        }
    }

    /// `docker network create NAME` (a private bridge network, labelled `label`).
    pub fn create_network(&self, name: &str, label: &str) -> Result<()> {
        let c = self.capture(["network", "create", "--label", label, name])?;
        if !c.ok() {
            bail!("docker network create {name} failed: {}", c.detail());
        }
        Ok(())
    }

    /// `docker network rm NAME`; a network that is already gone is fine.
    pub fn remove_network(&self, name: &str) -> Result<()> {
        let c = self.capture(["network", "rm", name])?;
        if !c.ok() && !c.detail().contains("not found") {
            bail!(
                "docker network rm {name} failed: {}; remove it by hand",
                c.detail()
            );
        }
        Ok(())
    }

    /// A container's `State` object from `docker inspect` (`None`: it does not exist).
    pub fn container_state(&self, container: &str) -> Result<Option<Json>> {
        let c = self.capture(["inspect", "--format", "{{json .State}}", container])?;
        if !c.ok() {
            return Ok(None);
        }
        let v: Json = serde_json::from_str(c.stdout.trim())
            .with_context(|| format!("docker inspect {container} printed no JSON state"))?;
        Ok(Some(v))
    }

    /// Is the container running? (`None`: it does not exist.)
    pub fn container_running(&self, container: &str) -> Result<Option<bool>> {
        let c = self.capture(["inspect", "--format", "{{.State.Running}}", container])?;
        if !c.ok() {
            return Ok(None);
        }
        Ok(Some(c.stdout.trim() == "true"))
    }

    /// `docker buildx build ARGS` in `dir`. With `Progress::Plain`, or `Auto` when stderr is
    /// not a terminal, the progress is streamed to stderr and kept (to name the failing
    /// step); otherwise buildx draws on the terminal and nothing is kept.
    pub fn buildx_build(
        &self,
        args: &[String],
        dir: &Path,
        progress: Progress,
        echo: bool,
    ) -> Result<Streamed> {
        use std::io::IsTerminal;
        let _d = self.sh.push_dir(dir);
        let tty = std::io::stderr().is_terminal();
        let attach = match progress {
            Progress::Tty => true,
            Progress::Auto => tty,
            Progress::Plain => false,
        };
        let effective = if attach { progress } else { Progress::Plain };
        let cmd = self
            .cmd(["buildx", "build", "--progress", effective.as_str()])
            .args(args);
        eprintln!("build: $ {cmd}");
        if attach {
            let code = attached(cmd)?;
            Ok(Streamed {
                code,
                lines: Vec::new(),
            })
        } else {
            stream(cmd, "", echo)
        }
    }

    /// The entries of every pnpm virtual store (`node_modules/.pnpm`) in an image, listed by
    /// the image's own `node` (no shell needed; nothing leaves the container; no network).
    pub fn store_entries(&self, image: &str) -> Result<Vec<String>> {
        let c = self.capture([
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "0",
            "--entrypoint",
            "node",
            image,
            "-e",
            STORE_SCRIPT,
        ])?;
        if !c.ok() {
            bail!(
                "cannot list node_modules/.pnpm in {image} (docker run ... node): {}",
                c.detail()
            );
        }
        let v: Json = serde_json::from_str(c.stdout.trim()).with_context(|| {
            format!("listing node_modules/.pnpm in {image} printed no JSON array")
        })?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The engine's build cache records (`docker system df -v`).
    pub fn cache_records(&self) -> Result<Vec<CacheRecord>> {
        let c = self.capture(["system", "df", "-v", "--format", "{{json .BuildCache}}"])?;
        if !c.ok() {
            bail!("docker system df -v failed: {}", c.detail());
        }
        let v: Json = serde_json::from_str(c.stdout.trim())
            .context("docker system df -v printed no JSON for the build cache")?;
        let field = |r: &Json, k: &str| r.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| CacheRecord {
                        id: field(r, "ID"),
                        kind: field(r, "CacheType"),
                        description: field(r, "Description"),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `docker builder prune -f --filter id=ID`: removes one build cache record, nothing else.
    pub fn prune_cache_record(&self, id: &str) -> Result<()> {
        let c = self.capture(["builder", "prune", "-f", "--filter", &format!("id={id}")])?;
        if !c.ok() {
            bail!(
                "docker builder prune --filter id={id} failed: {}",
                c.detail()
            );
        }
        Ok(())
    }

    /// `docker builder prune -af`: empties the build cache (cache mounts included).
    pub fn prune_build_cache(&self) -> Result<String> {
        let c = self.capture(["builder", "prune", "-af"])?;
        if !c.ok() {
            bail!("docker builder prune -af failed: {}", c.detail());
        }
        Ok(c.stdout.lines().last().unwrap_or("").trim().to_string())
    }
}

/// One record of the build cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord {
    pub id: String,
    /// `regular`, `exec.cachemount`, `source.local`, ...
    pub kind: String,
    /// e.g. `cached mount /pnpm/store from exec /bin/sh -c pnpm install ...`
    pub description: String,
}

/// Prints, as a JSON array, the entries of every `node_modules/.pnpm` under `/` (symlinks
/// not followed; /proc, /sys and /dev skipped).
const STORE_SCRIPT: &str = r#"const fs=require("fs"),p=require("path");const out=[];
function walk(d,depth){let es;try{es=fs.readdirSync(d,{withFileTypes:true})}catch(e){return}
for(const e of es){if(!e.isDirectory())continue;const f=p.join(d,e.name);
if(d==="/"&&["proc","sys","dev"].includes(e.name))continue;
if(e.name===".pnpm"&&p.basename(d)==="node_modules"){try{out.push(...fs.readdirSync(f))}catch(e){}continue}
if(depth<16)walk(f,depth+1)}}
walk("/",0);console.log(JSON.stringify(out));"#;

/// The message for an engine that does not answer, from what the CLI said.
/// The `Driver:` line of `docker buildx inspect` (the first: the builder's own).
pub fn parse_buildx_driver(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Driver:"))
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
}

pub fn unreachable_message(detail: &str) -> String {
    let host = host_desc();
    if let Some(rest) = detail.strip_prefix(HUNG_MARK) {
        format!(
            "the Docker engine at {host} accepted the connection but did not answer `docker info` within{rest}: \
             it is hung or overloaded. Restart it (`cargo xtask engine down && cargo xtask engine up` for one this tool started; \
             else restart Docker), or point DOCKER_HOST at a working engine; XTASK_DOCKER_TIMEOUT=<seconds> waits longer"
        )
    } else if detail.contains("permission denied") {
        format!(
            "permission denied on the Docker socket ({host}): run as root or add your user to the `docker` group \
             (then log in again)\n{}",
            indent(detail)
        )
    } else if !host_is_default() {
        format!(
            "Docker engine unreachable at {host}: start that engine, or unset DOCKER_HOST to use the local one \
             (`cargo xtask engine up` starts it on Debian)\n{}",
            indent(detail)
        )
    } else {
        format!(
            "Docker engine unreachable at {host}: start it with `cargo xtask engine up`\n{}",
            indent(detail)
        )
    }
}

/// The value of a label in `docker image inspect` JSON.
pub fn label<'a>(inspect: &'a Json, key: &str) -> Option<&'a str> {
    inspect.get("Config")?.get("Labels")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_values() {
        assert_eq!(Progress::parse("plain").expect("ok"), Progress::Plain);
        assert!(Progress::parse("fancy")
            .unwrap_err()
            .to_string()
            .contains("auto, plain or tty"));
    }

    #[test]
    fn unreachable_names_the_fix() {
        let m = unreachable_message(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
        );
        assert!(m.contains("DOCKER_HOST="), "{m}");
        assert!(
            m.contains("cargo xtask engine up") || m.contains("unset DOCKER_HOST"),
            "{m}"
        );
        let p = unreachable_message("permission denied while trying to connect");
        assert!(p.contains("`docker` group"), "{p}");
        let h = unreachable_message(&format!("{HUNG_MARK} 2s"));
        assert!(
            h.contains(
                "accepted the connection but did not answer `docker info` within 2s: it is hung"
            ) && h.contains("XTASK_DOCKER_TIMEOUT"),
            "{h}"
        );
    }

    #[test]
    fn labels_from_inspect() {
        let j: Json =
            serde_json::json!({"Config": {"Labels": {"xtask.standin": "node:22-alpine"}}});
        assert_eq!(label(&j, "xtask.standin"), Some("node:22-alpine"));
        assert_eq!(label(&j, "nope"), None);
        assert_eq!(
            label(&serde_json::json!({"Config": {"Labels": null}}), "x"),
            None
        );
    }
}
