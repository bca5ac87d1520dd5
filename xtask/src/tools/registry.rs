//! A throwaway local container registry: Debian's `docker-registry` (distribution 2.x)
//! listening on a free `127.0.0.1` port, its storage in a directory of its own.
//!
//! For tests and benchmarks that need a registry where none is reachable (standing in for
//! GHCR: push, pull, registry build cache). The engine treats a loopback registry as
//! insecure-allowed, so no TLS is needed. The registry is stopped (by its own pid) and its
//! storage removed when the [`LocalRegistry`] is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{file_tail, find};

/// How to get the registry binary.
pub const FIX: &str = "install Debian's registry with `apt-get install docker-registry` \
     (as root; .ci/install-tools.sh does it)";

/// A running `docker-registry serve` on `127.0.0.1:<port>`.
pub struct LocalRegistry {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// Remove `dir` on drop (we made it).
    owned_dir: bool,
}

/// The config file distribution 2.x reads: filesystem storage, loopback only, no auth.
pub fn config_text(storage: &Path, port: u16) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n",
        yaml_quoted(&storage.display().to_string())
    )
}

/// A YAML double-quoted scalar (paths with spaces, colons or `#` stay one value).
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0))
        .context("cannot bind a free port on 127.0.0.1 for the local registry")?;
    Ok(l.local_addr()
        .context("local address of a bound port")?
        .port())
}

impl LocalRegistry {
    /// Starts a registry with its storage in a new directory under the system temp dir
    /// (`tag` names it, e.g. the test or issue); waits until `/v2/` answers.
    pub fn start(tag: &str) -> Result<LocalRegistry> {
        let dir = std::env::temp_dir().join(format!(
            "xtask-registry-{tag}-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        let mut r = LocalRegistry::start_in(&dir)?;
        r.owned_dir = true;
        Ok(r)
    }

    /// Starts a registry whose storage and config live in `dir` (created; kept on drop).
    pub fn start_in(dir: &Path) -> Result<LocalRegistry> {
        let bin = find("docker-registry", FIX)?;
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage)
            .with_context(|| format!("cannot create {}", storage.display()))?;
        // the port is chosen, released, then bound by the registry: retry on a lost race
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let cfg = dir.join("config.yml");
            std::fs::write(&cfg, config_text(&storage, port))
                .with_context(|| format!("cannot write {}", cfg.display()))?;
            let log_path = dir.join("registry.log");
            let log = std::fs::File::create(&log_path)
                .with_context(|| format!("cannot create {}", log_path.display()))?;
            let err = log.try_clone().context("registry log handle")?;
            let child = Command::new(&bin)
                .arg("serve")
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .with_context(|| format!("cannot start {}", bin.display()))?;
            let mut r = LocalRegistry {
                child,
                port,
                dir: dir.to_path_buf(),
                owned_dir: false,
            };
            match r.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return Ok(r),
                Err(e) => last = format!("{e:#}"),
            }
            // dropped here: stopped
        }
        bail!("the local registry did not start: {last}")
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if let Some(st) = self.child.try_wait().context("registry status")? {
                bail!(
                    "docker-registry exited ({st}); its log:\n{}",
                    file_tail(&self.dir.join("registry.log"), 20)
                );
            }
            if self.answers() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "docker-registry did not answer on 127.0.0.1:{} within {}s; its log:\n{}",
            self.port,
            timeout.as_secs(),
            file_tail(&self.dir.join("registry.log"), 20)
        )
    }

    /// `GET /v2/` answers 200 (the registry API's version check).
    pub fn answers(&self) -> bool {
        super::http::get(&self.host(), "/v2/", Duration::from_secs(2))
            .is_ok_and(|(code, _)| code == 200)
    }

    /// `127.0.0.1:<port>`: the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where its storage and log live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The repository names it holds (`GET /v2/_catalog`), for assertions.
    pub fn catalog(&self) -> Result<Vec<String>> {
        let (code, body) = super::http::get(&self.host(), "/v2/_catalog", Duration::from_secs(5))?;
        if code != 200 {
            bail!("the registry's /v2/_catalog answered {code}: {body}");
        }
        let v: serde_json::Value =
            serde_json::from_str(&body).context("the registry's /v2/_catalog is not JSON")?;
        Ok(strings(&v["repositories"]))
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        // our own child, by its pid
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owned_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Is `registry` (the host part of an image reference) a registry on this machine's
/// loopback? Pushing an image built on a STAND-IN base is allowed only there.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(v6) = registry.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        registry.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|a| a.is_loopback())
            .unwrap_or(false)
}

/// The registry host of an image reference (`host[:port]/path:tag`), when it names one.
pub fn registry_of(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    (!rest.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost"))
        .then_some(first)
}

/// A second `docker-registry serve` on the same storage, on another address of this
/// machine (the host side of a test's own veth pair, so an engine in that namespace can
/// pull what was pushed on loopback). Stopped (by its own pid) on drop.
pub struct Mirror {
    child: Child,
    pub addr: std::net::SocketAddr,
}

impl LocalRegistry {
    /// The tags of `repo` (`GET /v2/<repo>/tags/list`), for assertions.
    pub fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let (code, body) = super::http::get(
            &self.host(),
            &format!("/v2/{repo}/tags/list"),
            Duration::from_secs(5),
        )?;
        if code != 200 {
            bail!("the registry's tags of {repo} answered {code}: {body}");
        }
        let v: serde_json::Value =
            serde_json::from_str(&body).context("the registry's tags list is not JSON")?;
        Ok(strings(&v["tags"]))
    }

    /// Serves this registry's storage also on `ip`, same port.
    pub fn serve_also(&self, ip: std::net::IpAddr) -> Result<Mirror> {
        let bin = find("docker-registry", FIX)?;
        let addr = std::net::SocketAddr::new(ip, self.port);
        let text = config_text(&self.dir.join("storage"), self.port).replace(
            &format!("addr: 127.0.0.1:{}", self.port),
            &format!("addr: {addr}"),
        );
        let cfg = self.dir.join(format!("config-{ip}.yml"));
        std::fs::write(&cfg, text).with_context(|| format!("cannot write {}", cfg.display()))?;
        let log_path = self.dir.join(format!("registry-{ip}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let err = log.try_clone().context("registry log handle")?;
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut m = Mirror { child, addr };
        let t = Instant::now();
        loop {
            if super::http::get(&addr.to_string(), "/v2/", Duration::from_secs(2))
                .is_ok_and(|(code, _)| code == 200)
            {
                return Ok(m);
            }
            if let Some(st) = m.child.try_wait().context("registry status")? {
                bail!(
                    "docker-registry on {addr} exited ({st}): {}",
                    file_tail(&log_path, 20)
                );
            }
            if t.elapsed() > Duration::from_secs(20) {
                bail!("docker-registry on {addr} did not answer within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds `FROM base` plus `lines` as `tag` on the local engine (the Dockerfile on stdin, no
/// context) and pushes it: a changed or deliberately broken variant of an image, for
/// deploy tests and benchmarks.
pub fn derive_and_push(base: &str, lines: &str, tag: &str) -> Result<()> {
    let docker = find("docker", super::docker::CLI_FIX)?;
    let sh = super::shell()?;
    let df = format!("FROM {base}\n{lines}\n");
    let out = sh
        .cmd(&docker)
        .args(["build", "--quiet", "-t", tag, "-"])
        .stdin(df.as_bytes())
        .quiet()
        .ignore_status()
        .output()
        .context("docker build")?;
    if !out.status.success() {
        bail!(
            "docker build {tag}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let c = super::capture(sh.cmd(&docker).args(["push", tag]))?;
    if !c.ok() {
        bail!("docker push {tag}: {}", c.detail());
    }
    Ok(())
}

/// The strings of a JSON array (none when it is not one).
fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries() {
        for r in [
            "127.0.0.1:5000",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "ghcr.io",
            "10.0.0.1:5000",
            "registry.local:5000",
            "[fd00::1]:5000",
            "docker.io",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn registry_of_references() {
        assert_eq!(
            registry_of("127.0.0.1:5000/o/api:1"),
            Some("127.0.0.1:5000")
        );
        assert_eq!(registry_of("ghcr.io/o/api:1"), Some("ghcr.io"));
        assert_eq!(registry_of("localhost/api"), Some("localhost"));
        assert_eq!(registry_of("o/api:1"), None);
        assert_eq!(registry_of("api:1"), None);
    }

    #[test]
    fn config_is_loopback_with_quoted_storage() {
        let t = config_text(Path::new("/tmp/a b: #c"), 5123);
        assert!(t.contains("addr: 127.0.0.1:5123"), "{t}");
        assert!(t.contains("rootdirectory: \"/tmp/a b: #c\""), "{t}");
        let v: serde_yaml::Value = serde_yaml::from_str(&t).expect("yaml");
        assert_eq!(
            v["storage"]["filesystem"]["rootdirectory"].as_str(),
            Some("/tmp/a b: #c")
        );
    }

    /// Starts the real registry when it is installed (CI installs it): push-free check of
    /// the API and of the clean stop.
    #[test]
    fn starts_answers_and_stops() {
        if find("docker-registry", FIX).is_err() {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "docker-registry missing in CI: {FIX}"
            );
            eprintln!("skipped: docker-registry not installed ({FIX})");
            return;
        }
        let r = LocalRegistry::start("unit16").expect("registry starts");
        assert!(r.answers());
        assert_eq!(r.catalog().expect("catalog"), Vec::<String>::new());
        let dir = r.dir().to_path_buf();
        let port = r.port();
        drop(r);
        assert!(!dir.exists(), "storage removed");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
