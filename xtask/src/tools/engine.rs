//! Provisioning a Docker engine on a Debian machine that has none (docs/engine.md):
//! `apt-get install docker.io`, the buildx and compose v2 plugins from Debian trixie's
//! `.deb`s (through a separate sources list; the system's lists are left alone), `dockerd`
//! started in the background with its log and pidfile in a state directory, and stopped
//! again by the same tool. Where `docker info` already answers, nothing is started.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::apt::{extract_deb, find_deb, require_debian_root, Apt};
use super::docker::{host_desc, host_is_default, Docker};
use super::{file_tail, find, find_opt, indent, is_root, shell};

/// Where the CLI looks for plugins (searched by every docker CLI since 19.03).
pub const PLUGIN_DIR: &str = "/usr/local/lib/docker/cli-plugins";

/// The state directory: the pidfile and log of a daemon this tool started.
#[derive(Debug, Clone)]
pub struct State {
    pub dir: PathBuf,
}

impl State {
    /// `$XTASK_ENGINE_STATE`, else `/run/xtask-engine` (or `/tmp/xtask-engine` without /run).
    pub fn default_location() -> State {
        let dir = match std::env::var_os("XTASK_ENGINE_STATE") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ if Path::new("/run").is_dir() => PathBuf::from("/run/xtask-engine"),
            _ => std::env::temp_dir().join("xtask-engine"),
        };
        State { dir }
    }

    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("dockerd.pid")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }

    /// The daemon recorded by `engine up` (`PID STARTTIME`), if the pidfile exists.
    pub fn recorded(&self) -> Result<Option<Recorded>> {
        let p = self.pidfile();
        match std::fs::read_to_string(&p) {
            Ok(t) => match parse_pidfile(&t) {
                Some(r) => Ok(Some(r)),
                None => {
                    let _ = std::fs::remove_file(&p);
                    Ok(None)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
        }
    }

    /// The pid of a dockerd this tool started that is still running.
    pub fn live_pid(&self) -> Result<Option<i32>> {
        Ok(self.recorded()?.filter(Recorded::running).map(|r| r.pid))
    }
}

/// What the pidfile holds: the pid and the process's start time (clock ticks since boot),
/// so that a reused pid is never mistaken for the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub pid: i32,
    pub start: Option<u64>,
}

impl Recorded {
    /// Is the recorded process still the one that was started?
    pub fn running(&self) -> bool {
        match self.start {
            Some(s) => alive(self.pid) && start_time(self.pid) == Some(s),
            None => is_dockerd(self.pid),
        }
    }
}

pub fn parse_pidfile(text: &str) -> Option<Recorded> {
    let mut it = text.split_whitespace();
    let pid = it.next()?.parse::<i32>().ok().filter(|p| *p > 1)?;
    let start = it.next().and_then(|s| s.parse::<u64>().ok());
    Some(Recorded { pid, start })
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
pub fn start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(')')?;
    // rest starts at field 3 (state); field 22 is the 20th from there
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Is `pid` a live (not zombie) process?
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the field after the parenthesised command name
        Ok(s) => s
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Is `pid` a live process named dockerd?
pub fn is_dockerd(pid: i32) -> bool {
    alive(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim() == "dockerd")
            .unwrap_or(false)
}

/// Every running dockerd on this machine.
pub fn dockerd_pids() -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut v: Vec<i32> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| is_dockerd(*p))
        .collect();
    v.sort();
    v
}

fn signal(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: kill(2) with a plain pid and signal number; no memory is shared.
    let r = unsafe { libc::kill(pid, sig) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        if e.raw_os_error() == Some(libc::EPERM) {
            bail!("not allowed to signal dockerd (pid {pid}): rerun `cargo xtask engine down` as root");
        }
        return Err(e).with_context(|| format!("cannot signal dockerd (pid {pid})"));
    }
    Ok(())
}

fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    true
}

/// The Debian mirror the machine's own sources use (`http://deb.debian.org/debian` if none).
pub fn debian_mirror() -> String {
    if let Ok(m) = std::env::var("XTASK_DEBIAN_MIRROR") {
        if !m.is_empty() {
            return m.trim_end_matches('/').to_string();
        }
    }
    let mut texts = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let n = p.to_string_lossy();
            if n.ends_with(".list") || n.ends_with(".sources") {
                if let Ok(t) = std::fs::read_to_string(&p) {
                    texts.push(t);
                }
            }
        }
    }
    texts
        .iter()
        .find_map(|t| mirror_in(t))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_string())
}

/// The first Debian archive URI (not the security archive) in a sources file of either format.
pub fn mirror_in(text: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        let uris: Vec<&str> = if let Some(rest) = line.strip_prefix("URIs:") {
            rest.split_whitespace().collect()
        } else if line.starts_with("deb ") {
            line.split_whitespace()
                .filter(|w| w.contains("://"))
                .take(1)
                .collect()
        } else {
            continue;
        };
        for u in uris {
            let u = u.trim_end_matches('/');
            if u.ends_with("/debian") && !u.contains("security") {
                return Some(u.to_string());
            }
        }
    }
    None
}

/// `apt-get update && apt-get install -y docker.io` (Debian 12: Docker Engine 20.10).
fn install_engine() -> Result<()> {
    eprintln!("engine: installing Docker Engine with apt-get (docker.io, containerd, runc)");
    let apt = Apt::system()?;
    apt.update()?;
    apt.install(&["docker.io"])?;
    if find_opt("dockerd").is_none() {
        bail!("apt-get installed docker.io but no dockerd is on PATH or in /usr/sbin; check `dpkg -L docker.io`");
    }
    Ok(())
}

/// The buildx and compose v2 plugins from Debian trixie (they need only libc6 >= 2.34).
fn install_plugins(missing: &[&str]) -> Result<()> {
    let mirror = debian_mirror();
    let dir = std::env::temp_dir().join("xtask-engine-trixie");
    eprintln!(
        "engine: installing the {} plugin(s) from Debian trixie's .debs ({mirror}, separate sources list in {}; the system's lists are untouched)",
        missing.join(" and "),
        dir.display()
    );
    let apt = Apt::separate(&dir, &format!("deb {mirror} trixie main"))?;
    apt.update()?;
    let pkgs: Vec<&str> = missing
        .iter()
        .map(|m| {
            if *m == "buildx" {
                "docker-buildx"
            } else {
                "docker-compose"
            }
        })
        .collect();
    apt.download(&dir, &pkgs)?;
    let x = dir.join("x");
    std::fs::create_dir_all(PLUGIN_DIR)
        .with_context(|| format!("cannot create {PLUGIN_DIR}; run as root"))?;
    for (plugin, pkg) in missing.iter().zip(&pkgs) {
        let deb = find_deb(&dir, &format!("{pkg}_"))?;
        extract_deb(&deb, &x)?;
        let bin = format!("docker-{plugin}");
        let from = x.join("usr/libexec/docker/cli-plugins").join(&bin);
        if !from.is_file() {
            bail!("{} has no usr/libexec/docker/cli-plugins/{bin}; the package layout changed: install the plugin by hand", deb.display());
        }
        let to = Path::new(PLUGIN_DIR).join(&bin);
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {bin} to {}", to.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", to.display()))?;
        eprintln!("engine: installed {}", to.display());
    }
    Ok(())
}

/// Makes sure buildx and compose v2 answer, installing them when possible.
fn ensure_plugins(docker: &Docker) -> Result<()> {
    let mut missing = Vec::new();
    if docker.buildx_version()?.is_none() {
        missing.push("buildx");
    }
    if docker.compose_version()?.is_none() {
        missing.push("compose");
    }
    if missing.is_empty() {
        return Ok(());
    }
    require_debian_root(&format!("the docker {} plugin(s)", missing.join(" and ")))
        .context("fix: install docker-buildx-plugin and docker-compose-plugin (https://docs.docker.com/engine/install/)")?;
    install_plugins(&missing)?;
    docker.require_buildx()?;
    docker.require_compose()?;
    Ok(())
}

/// Starts dockerd in the background and waits until `docker info` answers.
fn start_dockerd(docker: &Docker, state: &State, timeout: Duration) -> Result<i32> {
    std::fs::create_dir_all(&state.dir)
        .with_context(|| format!("cannot create the state directory {}", state.dir.display()))?;
    if let Some(pid) = state.live_pid()? {
        bail!(
            "dockerd started by an earlier `cargo xtask engine up` (pid {pid}) is running but does not answer at {}: \
             read {}, then `cargo xtask engine down` and rerun",
            host_desc(),
            state.log().display()
        );
    }
    let others = dockerd_pids();
    if !others.is_empty() {
        bail!(
            "a dockerd not started by this tool is running (pid {}) but does not answer at {}: stop it or fix it \
             (its socket, its log), then rerun `cargo xtask engine up`",
            others.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
            host_desc()
        );
    }
    let dockerd = find(
        "dockerd",
        "install Docker Engine: `apt-get install docker.io` (Debian)",
    )?;
    let log_path = state.log();
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .with_context(|| format!("cannot reopen {}", log_path.display()))?;
    let sh = shell()?;
    let mut cmd: Command = sh.cmd(&dockerd).into();
    {
        use std::os::unix::process::CommandExt;
        // its own process group: a Ctrl-C in this terminal does not reach it
        cmd.stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", dockerd.display()))?;
    let pid = i32::try_from(child.id()).context("dockerd's pid does not fit an i32")?;
    let start_ticks = start_time(pid).map(|t| format!(" {t}")).unwrap_or_default();
    std::fs::write(state.pidfile(), format!("{pid}{start_ticks}\n"))
        .with_context(|| format!("cannot write {}", state.pidfile().display()))?;
    eprintln!(
        "engine: started {} (pid {pid}, log {}); waiting up to {}s for it to answer",
        dockerd.display(),
        log_path.display(),
        timeout.as_secs()
    );
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().context("lost track of dockerd")? {
            let _ = std::fs::remove_file(state.pidfile());
            bail!(
                "dockerd exited ({status}) before answering; last lines of {}:\n{}\nfix: read the log above (a stale /var/run/docker.pid, \
                 missing iptables or cgroups, a port in use), then rerun `cargo xtask engine up`",
                log_path.display(),
                indent(&file_tail(&log_path, 20))
            );
        }
        if let Ok(v) = docker.server_version()? {
            eprintln!(
                "engine: dockerd {v} answers after {:.1}s",
                start.elapsed().as_secs_f64()
            );
            return Ok(pid);
        }
        if start.elapsed() > timeout {
            bail!(
                "dockerd (pid {pid}) did not answer within {}s; last lines of {}:\n{}\nfix: read the log; stop it with \
                 `cargo xtask engine down`, or set XTASK_ENGINE_TIMEOUT=<seconds> for a slow machine",
                timeout.as_secs(),
                log_path.display(),
                indent(&file_tail(&log_path, 20))
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// What `engine up` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Up {
    /// The engine already answered; nothing was started.
    AlreadyRunning { server: String },
    /// This tool started dockerd.
    Started { pid: i32, server: String },
}

/// `cargo xtask engine up`.
pub fn up(timeout: Duration) -> Result<Up> {
    let state = State::default_location();
    let docker = match Docker::find() {
        Ok(d) => d,
        Err(e) => {
            require_debian_root("Docker Engine (no docker CLI on PATH either)")
                .context(format!("{e:#}"))?;
            install_engine()?;
            Docker::find()?
        }
    };
    if let Ok(server) = docker.server_version()? {
        ensure_plugins(&docker)?;
        return Ok(Up::AlreadyRunning { server });
    }
    if !host_is_default() {
        bail!(
            "the engine at {} does not answer, and `engine up` starts only the local default daemon: start that engine, \
             or unset DOCKER_HOST and rerun",
            host_desc()
        );
    }
    require_debian_root("Docker Engine")?;
    if find_opt("dockerd").is_none() {
        install_engine()?;
    }
    ensure_plugins(&docker)?;
    let pid = start_dockerd(&docker, &state, timeout)?;
    let server = docker.require_engine()?;
    Ok(Up::Started { pid, server })
}

/// What `engine down` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Down {
    /// No pidfile: this tool started nothing.
    NothingStarted,
    /// The pidfile named a process that is gone.
    StalePidfile {
        pid: i32,
    },
    Stopped {
        pid: i32,
        secs: f64,
        killed: bool,
    },
}

/// `cargo xtask engine down`: stops only a dockerd this tool started.
pub fn down(timeout: Duration) -> Result<Down> {
    let state = State::default_location();
    let Some(rec) = state.recorded()? else {
        return Ok(Down::NothingStarted);
    };
    let pid = rec.pid;
    if !rec.running() {
        let _ = std::fs::remove_file(state.pidfile());
        return Ok(Down::StalePidfile { pid });
    }
    if !is_root() {
        bail!("stopping dockerd (pid {pid}) needs root: rerun `cargo xtask engine down` as root");
    }
    let start = Instant::now();
    eprintln!("engine: stopping dockerd (pid {pid}, started by `cargo xtask engine up`)");
    signal(pid, libc::SIGTERM)?;
    let mut killed = false;
    if !wait_gone(pid, timeout) {
        eprintln!(
            "engine: dockerd (pid {pid}) still running after {}s; sending SIGKILL",
            timeout.as_secs()
        );
        signal(pid, libc::SIGKILL)?;
        killed = true;
        if !wait_gone(pid, Duration::from_secs(10)) {
            bail!("dockerd (pid {pid}) survived SIGKILL; check `ps -o stat= -p {pid}` (a process stuck in the kernel)");
        }
    }
    let _ = std::fs::remove_file(state.pidfile());
    Ok(Down::Stopped {
        pid,
        secs: start.elapsed().as_secs_f64(),
        killed,
    })
}

/// What `engine status` reports.
#[derive(Debug, Clone)]
pub struct Status {
    pub host: String,
    pub client: Option<String>,
    pub server: std::result::Result<String, String>,
    pub buildx: Option<String>,
    pub compose: Option<String>,
    pub started_by: String,
}

pub fn status() -> Result<Status> {
    let state = State::default_location();
    let host = host_desc();
    let docker = match Docker::find() {
        Ok(d) => d,
        Err(e) => {
            return Ok(Status {
                host,
                client: None,
                server: Err(format!("{e:#}")),
                buildx: None,
                compose: None,
                started_by: "no engine".into(),
            })
        }
    };
    let server = docker.server_version()?;
    let live = state.live_pid()?;
    let started_by = match (live, &server) {
        (Some(pid), _) => {
            format!(
                "`cargo xtask engine up` (pid {pid}, log {}, pidfile {})",
                state.log().display(),
                state.pidfile().display()
            )
        }
        (None, Ok(_)) => {
            let pids = dockerd_pids();
            if pids.is_empty() {
                "not this tool (no local dockerd: a remote engine, Docker Desktop or a service)"
                    .into()
            } else {
                format!(
                    "not this tool (dockerd pid {}; no live pidfile at {}): `engine down` leaves it alone",
                    pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
                    state.pidfile().display()
                )
            }
        }
        (None, Err(_)) => "nobody (no engine answers)".into(),
    };
    Ok(Status {
        host,
        client: Some(docker.client_version()?),
        server,
        buildx: docker.buildx_version()?,
        compose: docker.compose_version()?,
        started_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_from_deb822_and_one_line_sources() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/archive/debian/2025\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://deb.debian.org/debian")
        );
        let one = "# comment\ndeb [arch=amd64] http://ftp.de.debian.org/debian/ bookworm main\n";
        assert_eq!(
            mirror_in(one).as_deref(),
            Some("http://ftp.de.debian.org/debian")
        );
        assert_eq!(
            mirror_in("deb https://packages.cloud.google.com/apt cloud-sdk main\n"),
            None
        );
    }

    #[test]
    fn liveness_of_this_process_and_of_nothing() {
        let me = i32::try_from(std::process::id()).expect("pid fits");
        assert!(alive(me));
        assert!(!is_dockerd(me));
        assert!(!alive(i32::MAX));
        let start = start_time(me).expect("own start time");
        assert!(Recorded {
            pid: me,
            start: Some(start)
        }
        .running());
        assert!(
            !Recorded {
                pid: me,
                start: Some(start + 1)
            }
            .running(),
            "a reused pid is not ours"
        );
        assert!(
            !Recorded {
                pid: me,
                start: None
            }
            .running(),
            "without a start time, only a dockerd counts"
        );
    }

    #[test]
    fn pidfile_formats() {
        assert_eq!(
            parse_pidfile("123 456\n"),
            Some(Recorded {
                pid: 123,
                start: Some(456)
            })
        );
        assert_eq!(
            parse_pidfile("123\n"),
            Some(Recorded {
                pid: 123,
                start: None
            })
        );
        assert_eq!(parse_pidfile("1\n"), None);
        assert_eq!(parse_pidfile("junk"), None);
    }
}
