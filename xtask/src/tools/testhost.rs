//! The test "VPS": a network namespace of its own with a veth pair to this machine
//! (10.215.N.1 here, 10.215.N.2 there), its own dockerd (own data, exec root, socket and
//! containerd) and its own sshd (Debian's openssh-server) that lets in one key made for the
//! test. Nothing listens outside that namespace but what the caller starts on 10.215.N.1.
//! Everything is stopped and removed on drop (our own children by pid; our namespace and
//! directory by name), also when a test fails. Needs root, iproute2, nsenter, dockerd, sshd.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{capture, find, shell, Captured};

pub const SSHD_FIX: &str = "install openssh-server (apt-get install -y openssh-server, or run `bash .ci/install-tools.sh` as root)";

pub struct TestHost {
    pub name: String,
    pub dir: PathBuf,
    /// This machine's end of the veth pair.
    pub host_ip: Ipv4Addr,
    /// The namespace's address (where its sshd and published ports listen).
    pub ns_ip: Ipv4Addr,
    /// `unix://...` of the namespace's dockerd.
    pub docker_host: String,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    veth: String,
    dockerd: Option<Child>,
    sshd: Option<Child>,
    netns: bool,
}

/// N of a /24 10.215.N.0 no interface here uses yet.
fn free_subnet() -> Result<u8> {
    let used = ip(&["-o", "-4", "addr"])?.stdout;
    let seed = (std::process::id() as usize)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as usize)
            .unwrap_or(0);
    (0..250)
        .map(|i| (seed + i * 7) % 250 + 2)
        .find(|n| !used.contains(&format!("10.215.{n}.")))
        .map(|n| n as u8)
        .context("no free 10.215.N.0/24 for a test host")
}

fn ip(args: &[&str]) -> Result<Captured> {
    let sh = shell()?;
    let bin = find("ip", "install iproute2 (apt-get install -y iproute2)")?;
    let c = capture(sh.cmd(bin).args(args))?;
    if !c.ok() {
        bail!("ip {}: {}", args.join(" "), c.detail());
    }
    Ok(c)
}

impl TestHost {
    /// Makes the namespace, starts its dockerd (trusting `insecure_registries`, e.g. a test
    /// registry on `host_ip`, chosen by `registries(host_ip)`) and its sshd, and waits for both.
    pub fn start(tag: &str, registries: impl Fn(Ipv4Addr) -> Vec<String>) -> Result<TestHost> {
        if !crate::tools::is_root() {
            bail!("the SSH test host needs root (network namespaces, dockerd)");
        }
        let sshd_bin = find("sshd", SSHD_FIX)?;
        let dockerd_bin = find("dockerd", "run `cargo xtask engine up` as root on Debian")?;
        let nsenter = find("nsenter", "install util-linux")?;
        let keygen = find("ssh-keygen", crate::tools::ssh::FIX)?;
        let n = free_subnet()?;
        let name = format!("xtask-{tag}-{n}");
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let mut h = TestHost {
            name,
            dir: dir.clone(),
            host_ip: Ipv4Addr::new(10, 215, n, 1),
            ns_ip: Ipv4Addr::new(10, 215, n, 2),
            docker_host: format!("unix://{}/docker.sock", dir.display()),
            key: dir.join("id_ed25519"),
            known_hosts: dir.join("known_hosts"),
            veth: format!("xt{n}h"),
            dockerd: None,
            sshd: None,
            netns: false,
        };
        h.network(&format!("xt{n}n"))?;
        h.start_dockerd(&nsenter, &dockerd_bin, &registries(h.host_ip))?;
        h.start_sshd(&nsenter, &sshd_bin, &keygen)?;
        h.wait_ready()?;
        Ok(h)
    }

    /// `nsenter`'s option entering the namespace.
    fn nsenter_net(&self) -> String {
        format!("--net=/var/run/netns/{}", self.name)
    }

    /// The namespace and the veth pair (`peer` is the namespace's end), addressed and up.
    fn network(&mut self, peer: &str) -> Result<()> {
        let (name, veth) = (self.name.clone(), self.veth.clone());
        ip(&["netns", "add", &name])?;
        self.netns = true;
        ip(&["link", "add", &veth, "type", "veth", "peer", "name", peer])?;
        ip(&["link", "set", peer, "netns", &name])?;
        ip(&["addr", "add", &format!("{}/24", self.host_ip), "dev", &veth])?;
        ip(&["link", "set", &veth, "up"])?;
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{}/24", self.ns_ip),
            "dev",
            peer,
        ])?;
        ip(&["-n", &name, "link", "set", peer, "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// The namespace's dockerd: its own data, exec root, socket and containerd namespace.
    fn start_dockerd(
        &mut self,
        nsenter: &Path,
        dockerd: &Path,
        registries: &[String],
    ) -> Result<()> {
        let (name, dir) = (&self.name, &self.dir);
        let mut d = Command::new(nsenter);
        d.arg(self.nsenter_net())
            .arg(dockerd)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--host")
            .arg(&self.docker_host)
            .args(["--containerd-namespace", name])
            .args(["--containerd-plugins-namespace", &format!("{name}-plugins")]);
        for r in registries {
            d.args(["--insecure-registry", r]);
        }
        let log = std::fs::File::create(dir.join("dockerd.log")).context("dockerd log")?;
        self.dockerd = Some(
            d.stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("cannot start dockerd in the test namespace")?,
        );
        Ok(())
    }

    /// The namespace's sshd: a host key and a client key made for this host, nothing else
    /// accepted.
    fn start_sshd(&mut self, nsenter: &Path, sshd: &Path, keygen: &Path) -> Result<()> {
        let dir = self.dir.clone();
        let sh = shell()?;
        let hostkey = dir.join("ssh_host_ed25519_key");
        for (k, c) in [
            (&hostkey, "xtask test host"),
            (&self.key, "xtask test client"),
        ] {
            let out = capture(
                sh.cmd(keygen)
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", c, "-f"])
                    .arg(k),
            )?;
            if !out.ok() {
                bail!("ssh-keygen: {}", out.detail());
            }
        }
        let pubkey = std::fs::read_to_string(self.key.with_extension("pub"))?;
        std::fs::write(dir.join("authorized_keys"), &pubkey)?;
        let hostpub = std::fs::read_to_string(hostkey.with_extension("pub"))?;
        std::fs::write(&self.known_hosts, format!("{} {hostpub}", self.ns_ip))?;
        std::fs::create_dir_all("/run/sshd").context("mkdir /run/sshd")?;
        let cfg = format!(
            "ListenAddress {ns_ip}:22\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPidFile {pid}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             StrictModes no\nUsePAM no\nX11Forwarding no\nAllowTcpForwarding no\nPrintMotd no\n\
             SetEnv DOCKER_HOST={dh}\nSubsystem sftp internal-sftp\n",
            ns_ip = self.ns_ip,
            hk = hostkey.display(),
            ak = dir.join("authorized_keys").display(),
            pid = dir.join("sshd.pid").display(),
            dh = self.docker_host,
        );
        let cfg_path = dir.join("sshd_config");
        std::fs::write(&cfg_path, cfg)?;
        let log = std::fs::File::create(dir.join("sshd.log")).context("sshd log")?;
        self.sshd = Some(
            Command::new(nsenter)
                .arg(self.nsenter_net())
                .arg(sshd)
                .args(["-D", "-e", "-f"])
                .arg(&cfg_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("cannot start sshd in the test namespace")?,
        );
        Ok(())
    }

    /// Waits until the dockerd answers and the sshd listens.
    fn wait_ready(&self) -> Result<()> {
        let sh = shell()?;
        let docker = find("docker", crate::tools::docker::CLI_FIX)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let c = capture(sh.cmd(&docker).args([
                "--host",
                &self.docker_host,
                "info",
                "--format",
                "{{.ServerVersion}}",
            ]))?;
            if c.ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "the test host's dockerd did not answer within 60 s: {}",
                    crate::tools::file_tail(&self.dir.join("dockerd.log"), 20)
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let ns_ip = self.ns_ip;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(&(ns_ip, 22).into(), Duration::from_millis(500))
            .is_err()
        {
            if Instant::now() > deadline {
                bail!(
                    "the test host's sshd did not listen on {ns_ip}:22: {}",
                    crate::tools::file_tail(&self.dir.join("sshd.log"), 20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// `ssh://root@<ns address>`.
    pub fn url(&self) -> String {
        format!("ssh://root@{}", self.ns_ip)
    }

    /// `docker ARGS` against the test host's engine.
    pub fn docker(&self, args: &[&str]) -> Result<Captured> {
        let sh = shell()?;
        let docker = find("docker", crate::tools::docker::CLI_FIX)?;
        capture(
            sh.cmd(docker)
                .arg("--host")
                .arg(&self.docker_host)
                .args(args),
        )
    }

    /// Copies local images into the test host's engine (`docker save | docker load`).
    pub fn load_images(&self, images: &[String]) -> Result<()> {
        let docker = find("docker", crate::tools::docker::CLI_FIX)?;
        let mut save = Command::new(&docker)
            .arg("save")
            .args(images)
            .stdout(Stdio::piped())
            .spawn()
            .context("docker save")?;
        let out = save.stdout.take().context("docker save stdout")?;
        let load = Command::new(&docker)
            .arg("--host")
            .arg(&self.docker_host)
            .args(["load", "--quiet"])
            .stdin(out)
            .output()
            .context("docker load")?;
        let saved = save.wait()?;
        if !saved.success() || !load.status.success() {
            bail!(
                "cannot copy {} to the test host: {}",
                images.join(" "),
                String::from_utf8_lossy(&load.stderr).trim()
            );
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn stop_child(c: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = c.kill();
    let _ = c.wait();
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(mut s) = self.sshd.take() {
            stop_child(&mut s, Duration::from_secs(5));
        }
        if let Some(mut d) = self.dockerd.take() {
            stop_child(&mut d, Duration::from_secs(40));
        }
        // Whatever is still mounted under our directory (a dockerd killed mid-way).
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            let prefix = self.dir.display().to_string();
            let mut mounts: Vec<&str> = mi
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|m| m.starts_with(&prefix))
                .collect();
            mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in mounts {
                let _ = Command::new("umount").args(["-l", m]).status();
            }
        }
        if self.netns {
            let _ = ip(&["link", "del", &self.veth]);
            let _ = ip(&["netns", "del", &self.name]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
