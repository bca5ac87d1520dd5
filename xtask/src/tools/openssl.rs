//! openssl: private keys for the secrets whose format is a PEM key (`genpkey`).
//!
//! The key is read from openssl's stdout and never written to a file: `genpkey` without
//! `-out` prints the PKCS8 PEM and nothing else on stdout (RSA's progress dots go to
//! stderr, which holds no key material and is quoted only when openssl fails).

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::{capture, find, shell};

/// The fix for a missing openssl.
const FIX: &str = "install it (Debian/Ubuntu: `apt-get install openssl`; Alpine: \
                   `apk add openssl`; macOS: `brew install openssl`): the secrets of a PEM \
                   format are private keys made by `openssl genpkey`";

/// The openssl program.
pub struct Openssl {
    path: PathBuf,
}

impl Openssl {
    pub fn find() -> Result<Openssl> {
        Ok(Openssl {
            path: find("openssl", FIX)?,
        })
    }

    /// A new private key, PKCS8 PEM (`-----BEGIN PRIVATE KEY-----`), from
    /// `openssl genpkey -algorithm <algorithm> [-pkeyopt <opt>]...`. The error quotes
    /// openssl's stderr, never its stdout.
    pub fn genpkey(&self, algorithm: &str, options: &[&str]) -> Result<String> {
        let sh = shell()?;
        let mut cmd = sh
            .cmd(&self.path)
            .arg("genpkey")
            .arg("-algorithm")
            .arg(algorithm);
        for o in options {
            cmd = cmd.arg("-pkeyopt").arg(o);
        }
        let c = capture(cmd)?;
        if !c.ok() {
            bail!(
                "openssl genpkey -algorithm {algorithm} failed (exit {}): {}",
                c.code.map_or("by a signal".into(), |n| n.to_string()),
                c.stderr.trim()
            );
        }
        let pem = c.stdout;
        if !pem.starts_with("-----BEGIN PRIVATE KEY-----\n")
            || !pem.trim_end().ends_with("-----END PRIVATE KEY-----")
        {
            bail!(
                "openssl genpkey -algorithm {algorithm} printed no PKCS8 PEM key (its output is \
                 not shown: it may hold key material); is this openssl 1.1 or later?"
            );
        }
        Ok(pem)
    }
}
