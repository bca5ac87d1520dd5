//! Commands on a remote host over OpenSSH: the target (`ssh://user@host[:port]`), POSIX shell
//! quoting of every word sent (the remote side runs them through its login shell), uploads
//! through stdin (never in an argument, so never in a process list), and one multiplexed
//! connection per run (ControlMaster), closed when the runner is dropped.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{capture, find, shell, Captured};

pub const FIX: &str = "install the OpenSSH client (apt-get install -y openssh-client)";

/// `user@host` and port of an `ssh://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Target {
    /// Parses `ssh://[user@]host[:port]`; hosts and users are limited to the characters
    /// hostnames, IPv4/IPv6 literals and POSIX user names use (no option injection: a host
    /// never starts with `-`).
    pub fn parse(url: &str) -> Result<Target> {
        let Some(rest) = url.strip_prefix("ssh://") else {
            bail!("--host {url:?}: want ssh://[user@]host[:port] (or --context NAME for a docker context)");
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .with_context(|| format!("--host {url:?}: unclosed [ in an IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => bail!("--host {url:?}: unexpected {after:?} after the address"),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .with_context(|| format!("--host {url:?}: port {p:?} is not 1-65535"))?,
            ),
            None => None,
        };
        let host_ok = |c: char| c.is_ascii_alphanumeric() || ".-:_".contains(c);
        if host.is_empty() || host.starts_with('-') || !host.chars().all(host_ok) {
            bail!("--host {url:?}: {host:?} is not a host name or address");
        }
        if let Some(u) = &user {
            let user_ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
            if u.is_empty() || u.starts_with('-') || !u.chars().all(user_ok) {
                bail!("--host {url:?}: {u:?} is not a user name");
            }
        }
        Ok(Target { user, host, port })
    }

    /// `user@host` (what ssh takes as its destination).
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        match &self.user {
            Some(u) => format!("ssh://{u}@{host}{port}"),
            None => format!("ssh://{host}{port}"),
        }
    }
}

/// One word for a POSIX shell: left bare when it is made only of characters no shell
/// treats specially, else single-quoted (a `'` inside becomes `'\''`).
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// An argv as one shell command line.
pub fn command_line<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs commands on one host; the connection is shared between them and closed on drop.
pub struct Ssh {
    sh: Shell,
    bin: PathBuf,
    pub target: Target,
    opts: Vec<String>,
    control: PathBuf,
}

impl Ssh {
    /// `key`: an identity file (else ssh's defaults and agent); `known_hosts`: the only file
    /// of known host keys (else the user's, with ssh's own checking).
    pub fn new(target: Target, key: Option<&Path>, known_hosts: Option<&Path>) -> Result<Ssh> {
        let bin = find("ssh", FIX)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Short: a unix socket path must fit in 108 bytes.
        let control = std::env::temp_dir().join(format!(
            "xtask-ssh-{}-{:x}",
            std::process::id(),
            nanos & 0xffff
        ));
        let mut opts: Vec<String> = vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "ConnectTimeout=10".into(),
            "-o".into(),
            "ServerAliveInterval=10".into(),
            "-o".into(),
            "ControlMaster=auto".into(),
            "-o".into(),
            format!("ControlPath={}", control.display()),
            "-o".into(),
            "ControlPersist=120".into(),
        ];
        if let Some(k) = key {
            opts.extend(["-i".into(), k.display().to_string()]);
            opts.extend(["-o".into(), "IdentitiesOnly=yes".into()]);
        }
        if let Some(k) = known_hosts {
            opts.extend([
                "-o".into(),
                format!("UserKnownHostsFile={}", k.display()),
                "-o".into(),
                "StrictHostKeyChecking=yes".into(),
            ]);
        }
        if let Some(p) = target.port {
            opts.extend(["-p".into(), p.to_string()]);
        }
        Ok(Ssh {
            sh: shell()?,
            bin,
            target,
            opts,
            control,
        })
    }

    fn base(&self) -> xshell::Cmd<'_> {
        self.sh
            .cmd(&self.bin)
            .args(&self.opts)
            .arg("--")
            .arg(self.target.destination())
    }

    /// Runs `argv` on the host (quoted for its shell); a non-zero exit is not an error here.
    pub fn run<S: AsRef<str>>(&self, argv: &[S]) -> Result<Captured> {
        capture(self.base().arg(command_line(argv)))
            .with_context(|| format!("ssh {}", self.target.destination()))
    }

    /// Runs a shell `script` on the host (`sh -c SCRIPT`), with `args` as `$1...`.
    pub fn script(&self, script: &str, args: &[&str]) -> Result<Captured> {
        let mut argv = vec!["sh", "-c", script, "sh"];
        argv.extend_from_slice(args);
        self.run(&argv)
    }

    /// Writes `bytes` to `path` on the host atomically (temporary file + rename), with
    /// `mode` (octal, e.g. "600"); the content travels on stdin, never in an argument.
    pub fn upload(&self, bytes: &[u8], path: &str, mode: &str) -> Result<()> {
        let script = "set -e; umask 077; t=\"$1.xtask-tmp\"; cat > \"$t\"; chmod \"$2\" \"$t\"; mv -f \"$t\" \"$1\"";
        let argv = ["sh", "-c", script, "sh", path, mode];
        let out = self
            .base()
            .arg(command_line(&argv))
            .stdin(bytes)
            .quiet()
            .ignore_status()
            .output()
            .with_context(|| format!("ssh {}", self.target.destination()))?;
        if !out.status.success() {
            bail!(
                "cannot write {path} on {}: {}",
                self.target.destination(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Puts the local directory `local` on the host as the directory `path` (which must not
    /// exist yet), all at once: a tar of it travels on stdin to `<path>.xtask-tmp.tar`, is
    /// extracted into `<path>.xtask-tmp` (owner not kept, everything readable) and renamed to
    /// `path`; so `path` is complete or absent.
    pub fn upload_tree(&self, local: &Path, path: &str) -> Result<()> {
        let tar = find("tar", "install tar (apt-get install -y tar)")?;
        let out = self
            .sh
            .cmd(tar)
            .arg("-C")
            .arg(local)
            .args(["-cf", "-", "."])
            .quiet()
            .ignore_status()
            .output()
            .with_context(|| format!("cannot tar {}", local.display()))?;
        if !out.status.success() {
            bail!(
                "cannot tar {}: {}",
                local.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let archive = format!("{path}.xtask-tmp.tar");
        self.upload(&out.stdout, &archive, "600")?;
        let x = self.script(
            "set -e; t=\"$1.xtask-tmp\"; rm -rf \"$t\"; mkdir -p \"$t\"; \
             tar -xf \"$2\" -C \"$t\" --no-same-owner; rm -f \"$2\"; chmod -R a+rX,go-w \"$t\"; mv \"$t\" \"$1\"",
            &[path, &archive],
        )?;
        if !x.ok() {
            bail!(
                "cannot unpack {} into {path} on {}: {} (the host needs tar)",
                local.display(),
                self.target.destination(),
                x.detail()
            );
        }
        Ok(())
    }

    /// Fails with ssh's own message when the host cannot be reached or refuses the key.
    pub fn check(&self) -> Result<()> {
        let c = self.run(&["true"])?;
        if !c.ok() {
            bail!(
                "cannot reach {} over ssh: {} (check the address, the key (--ssh-key) and the host key (--known-hosts or ~/.ssh/known_hosts))",
                self.target.url(),
                c.detail()
            );
        }
        Ok(())
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        if self.control.exists() {
            let _ = capture(
                self.sh
                    .cmd(&self.bin)
                    .args(&self.opts)
                    .args(["-O", "exit"])
                    .arg("--")
                    .arg(self.target.destination()),
            );
            let _ = std::fs::remove_file(&self.control);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = Target::parse("ssh://deploy@vps.example.com:2222").unwrap();
        assert_eq!(t.user.as_deref(), Some("deploy"));
        assert_eq!(t.host, "vps.example.com");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.url(), "ssh://deploy@vps.example.com:2222");
        let t = Target::parse("ssh://10.0.0.2").unwrap();
        assert_eq!((t.user, t.port), (None, None));
        let t = Target::parse("ssh://root@[fd00::2]:22").unwrap();
        assert_eq!(t.host, "fd00::2");
        assert_eq!(t.destination(), "root@fd00::2");
        for bad in [
            "vps",
            "ssh://",
            "ssh://-oProxyCommand=x",
            "ssh://a b",
            "ssh://u;rm@h",
            "ssh://h:0",
            "ssh://h:99999",
            "ssh://h:x",
            "ssh://[::1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting_survives_a_real_shell() {
        let words = [
            "plain",
            "",
            "two words",
            "it's",
            "$HOME",
            "`id`",
            "a\"b",
            "back\\slash",
            "new\nline",
            "*",
            "~",
            ";&|<>()",
            "'",
            "-n",
        ];
        let line = format!("printf '%s\\0' {}", command_line(&words));
        let out = std::process::Command::new("sh")
            .args(["-c", &line])
            .output()
            .unwrap();
        let got: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(String::from)
            .collect();
        assert_eq!(got, words);
        assert_eq!(quote("a/b-c_d.e"), "a/b-c_d.e");
        assert_eq!(quote("x y"), "'x y'");
    }
}
