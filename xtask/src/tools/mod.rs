//! The ONLY place that runs programs. Programs are located with `which` (a missing one is an
//! error that names the fix) and run through `xshell` commands, never a shell string.
//!
//! xshell runs a command to completion; where a command must be streamed while it runs (a
//! build's progress, apt's output) or left running in the background (`dockerd`), the xshell
//! command is converted into a `std::process::Command` (xshell's own `From` impl): the
//! program and its arguments are still exactly those built with xshell.

pub mod apt;
pub mod caddy;
pub mod cargo;
pub mod compose;
pub mod compose_run;
pub mod docker;
pub mod engine;
pub mod fetch;
pub mod git;
pub mod http;
pub mod lint;
pub mod node_standin;
pub mod openssl;
pub mod pnpm;
pub mod probe;
pub mod registry;
pub mod request_loop;
pub mod rustfmt;
pub mod service_standins;
pub mod ssh;
pub mod swarm;
pub mod testhost;
pub mod xtask_bin;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context, Result};
use xshell::{Cmd, Shell};

/// A fresh xshell `Shell` (it inherits the environment and the current directory).
pub fn shell() -> Result<Shell> {
    Shell::new()
        .context("cannot set up xshell to run programs (is the current directory still there?)")
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `program` on PATH, or in the sbin directories a non-login root PATH may lack.
pub fn find_opt(program: &str) -> Option<PathBuf> {
    if let Ok(p) = which::which(program) {
        return Some(p);
    }
    ["/usr/local/sbin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| is_executable(p))
}

/// Like [`find_opt`]; a missing program is an error that says how to get it.
pub fn find(program: &str, fix: &str) -> Result<PathBuf> {
    find_opt(program).ok_or_else(|| anyhow!("{program} not found on PATH: {fix}"))
}

/// What a finished program printed, and how it ended.
#[derive(Debug, Clone)]
pub struct Captured {
    /// `None`: killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Captured {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// stderr, else stdout, trimmed: what to quote in an error message.
    pub fn detail(&self) -> String {
        let e = self.stderr.trim();
        if e.is_empty() {
            self.stdout.trim().to_string()
        } else {
            e.to_string()
        }
    }
}

/// Runs `cmd` to completion, capturing both streams; a non-zero exit is not an error here
/// (the caller decides), a program that cannot be started is.
pub fn capture(cmd: Cmd<'_>) -> Result<Captured> {
    let shown = cmd.to_string();
    let out = cmd
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("cannot run `{shown}`"))?;
    Ok(Captured {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Like [`capture`], but gives up after `timeout`: the program is then killed (it is our
/// own child, killed by its pid) and `None` is returned. For programs that can hang on
/// something outside our control, e.g. `docker info` on an engine that accepts the
/// connection and never answers.
pub fn capture_timeout(cmd: Cmd<'_>, timeout: std::time::Duration) -> Result<Option<Captured>> {
    let shown = cmd.to_string();
    let mut c: Command = cmd.into();
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().with_context(|| format!("cannot run `{shown}`"))?;
    let read_all = |s: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut s) = s {
                let _ = s.read_to_end(&mut buf);
            }
            let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
        });
        rx
    };
    let out = read_all(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = read_all(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child
            .try_wait()
            .with_context(|| format!("lost track of `{shown}`"))?
        {
            break Some(s);
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // The pipes close when the program ends; a grandchild that kept them open is not
    // waited for longer than a moment.
    let grace = std::time::Duration::from_secs(2);
    let stdout = out.recv_timeout(grace).unwrap_or_default();
    let stderr = err.recv_timeout(grace).unwrap_or_default();
    Ok(status.map(|s| Captured {
        code: s.code(),
        stdout,
        stderr,
    }))
}

/// How a streamed program ended, with every line it printed (stdout and stderr, in the
/// order they arrived).
#[derive(Debug, Clone, Default)]
pub struct Streamed {
    pub code: Option<i32>,
    pub lines: Vec<String>,
}

impl Streamed {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The last `n` lines, for an error message.
    pub fn tail(&self, n: usize) -> String {
        let start = self.lines.len().saturating_sub(n);
        self.lines[start..].join("\n")
    }
}

fn pump(
    stream: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
    prefix: String,
    echo: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    if echo {
                        eprintln!("{prefix}{line}");
                    }
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            }
        }
    })
}

/// Runs `cmd`, echoing every line it prints to stderr (each prefixed with `prefix`, when
/// `echo`) while keeping them all: progress is seen live and the output can still be parsed
/// or quoted afterwards.
pub fn stream(cmd: Cmd<'_>, prefix: &str, echo: bool) -> Result<Streamed> {
    let shown = cmd.to_string();
    let mut c: Command = cmd.into();
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .with_context(|| format!("cannot start `{shown}`"))?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    if let Some(out) = child.stdout.take() {
        threads.push(pump(out, lines.clone(), prefix.to_string(), echo));
    }
    if let Some(err) = child.stderr.take() {
        threads.push(pump(err, lines.clone(), prefix.to_string(), echo));
    }
    let status = child
        .wait()
        .with_context(|| format!("lost track of `{shown}`"))?;
    for t in threads {
        let _ = t.join();
    }
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Streamed {
        code: status.code(),
        lines,
    })
}

/// Runs `cmd` attached to this terminal (stdin, stdout and stderr inherited): for
/// programs that draw their own progress on a TTY. Returns the exit code.
pub fn attached(cmd: Cmd<'_>) -> Result<Option<i32>> {
    let shown = cmd.to_string();
    let mut c: Command = cmd.into();
    c.stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let status = c
        .status()
        .with_context(|| format!("cannot run `{shown}`"))?;
    Ok(status.code())
}

/// Is this process running as root (effective uid 0)?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The fields of `/etc/os-release` this tool looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    pub id: String,
    pub id_like: Vec<String>,
    pub version_id: String,
    pub pretty_name: String,
}

impl OsRelease {
    pub fn is_debian(&self) -> bool {
        self.id == "debian"
    }
}

/// Parses the text of `/etc/os-release`.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut r = OsRelease::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => r.id = v,
            "ID_LIKE" => r.id_like = v.split_whitespace().map(str::to_string).collect(),
            "VERSION_ID" => r.version_id = v,
            "PRETTY_NAME" => r.pretty_name = v,
            _ => {}
        }
    }
    r
}

/// This machine's `/etc/os-release` (`None` when it has none, e.g. macOS).
pub fn os_release() -> Option<OsRelease> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    Some(parse_os_release(&text))
}

/// The last `n` lines of a text file (empty when it cannot be read).
pub fn file_tail(path: &Path, n: usize) -> String {
    let Ok(text) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Indents every line of `text` (for quoting output inside an error message).
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_fields() {
        let r = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
        );
        assert!(r.is_debian());
        assert_eq!(r.version_id, "12");
        let u = parse_os_release("ID=ubuntu\nID_LIKE=debian\n");
        assert!(!u.is_debian());
        assert_eq!(u.id_like, vec!["debian"]);
    }

    #[test]
    fn stream_keeps_lines_and_code() {
        let sh = shell().expect("shell");
        let s = stream(
            sh.cmd("sh").args(["-c", "echo one; echo two >&2; exit 3"]),
            "",
            false,
        )
        .expect("runs");
        assert_eq!(s.code, Some(3));
        assert!(
            s.lines.contains(&"one".to_string()) && s.lines.contains(&"two".to_string()),
            "{:?}",
            s.lines
        );
        let c = capture(sh.cmd("sh").args(["-c", "echo out; echo err >&2; exit 1"])).expect("runs");
        assert!(!c.ok());
        assert_eq!(c.detail(), "err");
    }

    #[test]
    fn capture_timeout_stops_a_hung_program() {
        let sh = shell().expect("shell");
        let t = std::time::Instant::now();
        let c = capture_timeout(
            sh.cmd("sh").args(["-c", "exec sleep 30"]),
            std::time::Duration::from_millis(300),
        )
        .expect("runs");
        assert!(c.is_none(), "timed out");
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        let c = capture_timeout(
            sh.cmd("sh").args(["-c", "echo hi; exit 4"]),
            std::time::Duration::from_secs(20),
        )
        .expect("runs")
        .expect("finished");
        assert_eq!((c.code, c.stdout.as_str()), (Some(4), "hi\n"));
    }

    #[test]
    fn missing_program_names_the_fix() {
        let e = find("xtask-no-such-program", "install it from somewhere")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "xtask-no-such-program not found on PATH: install it from somewhere"
        );
    }
}
