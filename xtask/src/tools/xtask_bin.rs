//! This very program, run as a child process: how long `cargo xtask gen` and friends take,
//! measured from outside (process start to exit).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use super::{capture, shell, Captured};

pub struct XtaskBin {
    bin: PathBuf,
}

impl XtaskBin {
    pub fn current() -> Result<XtaskBin> {
        let bin = std::env::current_exe()
            .context("cannot tell where this xtask binary is (to time its subcommands)")?;
        Ok(XtaskBin { bin })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.bin
    }

    /// Runs `xtask ARGS...`; returns what it printed and its wall time in seconds.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<(Captured, f64)> {
        let sh = shell()?;
        let cmd = sh.cmd(&self.bin).args(args);
        let t = Instant::now();
        let c = capture(cmd)?;
        Ok((c, t.elapsed().as_secs_f64()))
    }
}
