//! Docker and `docker compose` for the rehearsal: engine checks, image queries, the API image
//! build, and one compose project's life (config, up, ps, logs, down) plus what it leaves behind.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use xshell::{cmd, Shell};

/// Compose's label on everything it creates for a project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";

const ENGINE_FIX: &str =
    "start an engine with `cargo xtask engine up` (or `dockerd &`), then rerun";

/// The docker CLI driving compose projects (one project's life). Engine-level questions (does
/// it answer, is the compose plugin there, what images exist) go to the engine-level CLI it
/// wraps, [`super::docker::Docker`], the one place that knows a hung or unreachable engine and
/// how to say so.
pub struct ComposeCli {
    pub bin: PathBuf,
    engine: super::docker::Docker,
}

/// What a project left in the engine (by compose's project label).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Leftovers {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

impl ComposeCli {
    pub fn find() -> Result<ComposeCli> {
        let engine = super::docker::Docker::find()?;
        Ok(ComposeCli {
            bin: engine.bin.clone(),
            engine,
        })
    }

    /// The engine-level CLI it wraps.
    pub fn engine(&self) -> &super::docker::Docker {
        &self.engine
    }

    /// The engine answers; returns its version.
    pub fn engine_version(&self) -> Result<String> {
        self.engine.require_engine()
    }

    /// The compose v2 plugin answers; returns its version.
    pub fn compose_version(&self) -> Result<String> {
        self.engine.require_compose()
    }

    pub fn image_exists(&self, image: &str) -> Result<bool> {
        Ok(self.engine.inspect_image(image)?.is_some())
    }

    /// One label of a local image (`None`: no such image or no such label).
    pub fn image_label(&self, image: &str, key: &str) -> Result<Option<String>> {
        Ok(self
            .engine
            .inspect_image(image)?
            .as_ref()
            .and_then(|i| super::docker::label(i, key))
            .map(str::to_string))
    }

    /// `docker inspect` of containers, as JSON.
    pub fn inspect(&self, sh: &Shell, ids: &[String]) -> Result<Value> {
        if ids.is_empty() {
            return Ok(Value::Array(Vec::new()));
        }
        let d = &self.bin;
        let text = cmd!(sh, "{d} inspect {ids...}")
            .quiet()
            .read()
            .context("`docker inspect` of the rehearsal's containers failed")?;
        serde_json::from_str(&text).context("`docker inspect` printed bad JSON")
    }

    /// Containers, networks and volumes that carry the project's label.
    pub fn leftovers(&self, sh: &Shell, project: &str) -> Result<Leftovers> {
        let d = &self.bin;
        let filter = format!("label={PROJECT_LABEL}={project}");
        let ctx = "cannot list what the rehearsal left in the engine";
        let (names, name) = ("{{.Names}}", "{{.Name}}");
        let containers = cmd!(sh, "{d} ps -a --filter {filter} --format {names}")
            .quiet()
            .read()
            .context(ctx)?;
        let networks = cmd!(sh, "{d} network ls --filter {filter} --format {name}")
            .quiet()
            .read()
            .context(ctx)?;
        let volumes = cmd!(sh, "{d} volume ls --filter {filter} --format {name}")
            .quiet()
            .read()
            .context(ctx)?;
        Ok(Leftovers {
            containers: lines(&containers),
            networks: lines(&networks),
            volumes: lines(&volumes),
        })
    }
}

/// One compose project: the staging file plus the rehearsal's override, in a temp dir.
pub struct Project<'a> {
    pub docker: &'a ComposeCli,
    pub name: String,
    /// The project directory (relative paths in the files resolve against it).
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// Interpolation values (`--env-file`).
    pub env_file: Option<PathBuf>,
    /// Variables kept out of compose's environment (a shell value would beat the env file).
    pub scrub: Vec<String>,
}

impl Project<'_> {
    fn compose<'s>(&self, sh: &'s Shell) -> xshell::Cmd<'s> {
        let d = &self.docker.bin;
        let name = &self.name;
        let dir = &self.dir;
        let mut args: Vec<String> = Vec::new();
        for f in &self.files {
            args.push("-f".into());
            args.push(f.display().to_string());
        }
        if let Some(e) = &self.env_file {
            args.push("--env-file".into());
            args.push(e.display().to_string());
        }
        let mut c = cmd!(
            sh,
            "{d} compose -p {name} --project-directory {dir} {args...}"
        );
        for k in self.scrub.iter().map(String::as_str).chain([
            "COMPOSE_FILE",
            "COMPOSE_PROFILES",
            "COMPOSE_PROJECT_NAME",
        ]) {
            c = c.env_remove(k);
        }
        c
    }

    /// The merged, interpolated configuration.
    pub fn config_json(&self, sh: &Shell) -> Result<Value> {
        let out = self
            .compose(sh)
            .args(["config", "--format", "json"])
            .quiet()
            .ignore_status()
            .output()
            .context("cannot run `docker compose config`")?;
        if !out.status.success() {
            bail!(
                "`docker compose config` rejected the staging file with the rehearsal's override \
                 (exit {}): {}; run `cargo xtask gen` and check infra/.env.staging.example",
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout).context("`docker compose config` printed bad JSON")
    }

    /// `up -d` of `services` (and their dependencies). Compose's own progress goes to stderr.
    /// `Ok(false)`: compose reported a failure (a service did not start or became unhealthy).
    pub fn up(&self, sh: &Shell, services: &[String], pull_never: bool) -> Result<bool> {
        let pull = if pull_never { "never" } else { "missing" };
        let ok = self
            .compose(sh)
            .args(["up", "--detach", "--no-build", "--pull", pull])
            .args(services)
            .run()
            .is_ok();
        Ok(ok)
    }

    /// `ps -a --format json` (all containers of the project, stopped ones too).
    pub fn ps(&self, sh: &Shell) -> Result<String> {
        self.compose(sh)
            .args(["ps", "--all", "--format", "json"])
            .quiet()
            .read()
            .with_context(|| {
                format!(
                    "`docker compose ps` failed for project {}; {ENGINE_FIX}",
                    self.name
                )
            })
    }

    /// Container ids of the project.
    pub fn ids(&self, sh: &Shell) -> Result<Vec<String>> {
        let out = self
            .compose(sh)
            .args(["ps", "--all", "--quiet"])
            .quiet()
            .read()
            .context("`docker compose ps --quiet` failed")?;
        Ok(lines(&out))
    }

    /// The last `tail` lines of one service's logs (stdout and stderr of the container).
    pub fn logs(&self, sh: &Shell, service: &str, tail: u32) -> Result<String> {
        let tail = tail.to_string();
        let out = self
            .compose(sh)
            .args(["logs", "--no-color", "--tail", &tail, service])
            .quiet()
            .ignore_status()
            .output()
            .context("cannot run `docker compose logs`")?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(text)
    }

    /// `exec -T SERVICE ARGV...` in a running container: (exit code, stdout and stderr).
    pub fn exec(&self, sh: &Shell, service: &str, argv: &[&str]) -> Result<(i32, String)> {
        let out = self
            .compose(sh)
            .args(["exec", "-T", service])
            .args(argv)
            .quiet()
            .ignore_status()
            .output()
            .context("cannot run `docker compose exec`")?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.code().unwrap_or(-1), text))
    }

    /// `start SERVICE` (a stopped container of the project, as it was).
    pub fn start(&self, sh: &Shell, service: &str) -> Result<()> {
        self.compose(sh)
            .args(["start", service])
            .quiet()
            .run()
            .with_context(|| format!("`docker compose start {service}` failed"))
    }

    /// `stop SERVICE` (only that service's container).
    pub fn stop(&self, sh: &Shell, service: &str) -> Result<()> {
        self.compose(sh)
            .args(["stop", "--timeout", "10", service])
            .quiet()
            .run()
            .with_context(|| format!("`docker compose stop {service}` failed"))
    }

    /// `down` (containers and networks); named volumes too when `volumes`.
    pub fn down(&self, sh: &Shell, volumes: bool) -> Result<()> {
        let mut c = self
            .compose(sh)
            .args(["down", "--remove-orphans", "--timeout", "10"]);
        if volumes {
            c = c.arg("--volumes");
        }
        c.run().with_context(|| {
            format!(
                "`docker compose down` failed for project {}; remove what is left with \
                 `docker rm -f $(docker ps -aq --filter label={PROJECT_LABEL}={})`",
                self.name, self.name
            )
        })
    }
}
