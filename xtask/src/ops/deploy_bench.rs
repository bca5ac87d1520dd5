//! The deploy benchmark: on an SSH test host (a namespace with its own dockerd and sshd) fed
//! by a local registry, the same change deployed four ways under one bounded HTTPS request
//! loop each — `deploy` (start-first rollout), a broken image (automatic rollback),
//! `deploy --rollback`, and a plain `docker compose up -d` — with time and failed requests.
//! Every step runs this very binary (`rehearse --build-only`, `build-image --push`, `deploy`)
//! as a user would; everything started is stopped and removed at the end.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::tools::registry::{derive_and_push, LocalRegistry};
use crate::tools::request_loop::{LoadReport, Loop, Target};
use crate::tools::ssh::{Ssh, Target as SshTarget};
use crate::tools::testhost::TestHost;
use crate::tools::xtask_bin::XtaskBin;

/// One measured deploy.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: String,
    pub secs: f64,
    pub exit: i32,
    pub load: LoadReport,
}

impl Row {
    pub fn to_json(&self) -> Json {
        json!({"what": self.what, "secs": (self.secs * 10.0).round() / 10.0, "exit": self.exit, "load": self.load.to_json()})
    }
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Tags(Vec<String>);

impl Drop for Tags {
    fn drop(&mut self) {
        if let Ok(d) = crate::tools::docker::Docker::find() {
            let _ = d.remove_images(&self.0);
        }
    }
}

const STANDINS: [&str; 3] = [
    "xtask.local/postgres:16-standin",
    "xtask.local/redis:7-standin",
    "xtask.local/caddy:2-standin",
];

fn xtask_ok(xt: &XtaskBin, args: &[&str], what: &str) -> Result<(crate::tools::Captured, f64)> {
    let (c, secs) = xt.run(args)?;
    if !c.ok() {
        bail!("{what} failed (exit {:?}):\n{}", c.code, c.stderr);
    }
    Ok((c, secs))
}

/// The benchmark's setup: what was started (stopped and removed when dropped, in this order)
/// and the paths every deploy passes.
struct Bench<'a> {
    _tags: Tags,
    _mirror: crate::tools::registry::Mirror,
    host: TestHost,
    _registry: LocalRegistry,
    _scratch: Scratch,
    xt: XtaskBin,
    root: &'a str,
    say: &'a dyn Fn(&str),
    /// The registry as the test host reaches it (`IP:PORT`).
    remote: String,
    owner: &'static str,
    dir: String,
    env: String,
    extra: String,
    certs: String,
    cacert: PathBuf,
}

/// Runs the whole benchmark on the monorepo at `root`; progress through `say`.
pub fn run(root: &Path, node_image: &str, say: &dyn Fn(&str)) -> Result<Vec<Row>> {
    let b = setup(root, node_image, say)?;
    say("first deploy (v1): the stack comes up");
    let (code, _) = b.deploy(&["--image", &b.image("v1"), "--timeout", "120"])?;
    if code != 0 {
        bail!("the first deploy failed (exit {code})");
    }
    let mut rows = Vec::new();
    rows.push(b.under_load("deploy v1 -> v2 (start-first rollout)", &|| {
        b.deploy(&["--image", &b.image("v2"), "--timeout", "90"])
    })?);
    rows.push(b.under_load(
        "deploy of an image that exits at boot (automatic rollback)",
        &|| b.deploy(&["--image", &b.image("exits"), "--timeout", "60"]),
    )?);
    rows.push(b.under_load("deploy --rollback v2 -> v1", &|| {
        b.deploy(&["--rollback", "--timeout", "90"])
    })?);
    rows.push(b.plain_compose()?);
    Ok(rows)
}

/// The stand-ins, a local registry with the images (v1 built and pushed by `build-image`,
/// v2 and one that exits at boot derived from it), the SSH test host, the env file, extra
/// compose file and certificate the deploys upload.
fn setup<'a>(root: &'a Path, node_image: &str, say: &'a dyn Fn(&str)) -> Result<Bench<'a>> {
    let xt = XtaskBin::current()?;
    let root_s = root.to_str().context("the monorepo path is not UTF-8")?;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("xtask-bench-deploy-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0)?;

    say("stand-ins for postgres/redis/caddy (rehearse --build-only --standins)");
    xtask_ok(
        &xt,
        &[
            "--root",
            root_s,
            "rehearse",
            "--build-only",
            "--standins",
            "--node-image",
            node_image,
        ],
        "rehearse --build-only",
    )?;
    say("a local registry and the SSH test host (namespace, dockerd, sshd)");
    let registry = LocalRegistry::start("bench15")?;
    let port = registry.port();
    let host = TestHost::start("b15", |ip| vec![format!("{ip}:{port}")])?;
    let mirror = registry.serve_also(IpAddr::V4(host.host_ip))?;
    let local = registry.host();
    let owner = "bench15";
    let v1 = format!("{local}/{owner}/cipherbox-api:v1");
    let mut tags = Tags(vec![v1.clone()]);
    say(&format!("build-image --push {v1}"));
    xtask_ok(
        &xt,
        &[
            "--root",
            root_s,
            "build-image",
            "--node-image",
            node_image,
            "--registry",
            &local,
            "--owner",
            owner,
            "--tag",
            "v1",
            "--push",
            "--progress",
            "plain",
        ],
        "build-image --push",
    )?;
    let sh = crate::tools::shell()?;
    let docker = crate::tools::docker::Docker::find()?;
    let pulled = docker.capture(["pull", v1.as_str()])?;
    if !pulled.ok() {
        bail!("docker pull {v1}: {}", pulled.detail());
    }
    for (tag, lines) in [
        ("v2", "LABEL xtask.bench.revision=2"),
        ("exits", "CMD [\"node\", \"-e\", \"process.exit(3)\"]"),
    ] {
        let t = format!("{local}/{owner}/cipherbox-api:{tag}");
        derive_and_push(&v1, lines, &t)?;
        tags.0.push(t);
    }
    host.load_images(&STANDINS.map(String::from))?;
    let extra = scratch.0.join("standins.yml");
    std::fs::write(
        &extra,
        format!(
            "services:\n  postgres:\n    image: {}\n  redis:\n    image: {}\n  caddy:\n    image: {}\n",
            STANDINS[0], STANDINS[1], STANDINS[2]
        ),
    )?;
    let env = scratch.0.join("env.staging");
    let secret = format!("bench-{:x}", std::process::id());
    std::fs::write(
        &env,
        format!("DB_USERNAME=cipherbox\nDB_PASSWORD={secret}\nDB_DATABASE=cipherbox\nREDIS_PASSWORD={secret}\nTEE_WORKER_SECRET={secret}\n"),
    )?;
    let certs = scratch.0.join("certs");
    crate::tools::probe::self_signed_cert(
        &sh,
        &certs,
        "origin.pem",
        "origin-key.pem",
        &["localhost".to_string()],
    )?;
    Ok(Bench {
        remote: format!("{}:{port}", host.host_ip),
        dir: host.dir.join("srv").display().to_string(),
        env: env.display().to_string(),
        extra: extra.display().to_string(),
        certs: certs.display().to_string(),
        cacert: certs.join("origin.pem"),
        _tags: tags,
        _mirror: mirror,
        host,
        _registry: registry,
        _scratch: scratch,
        xt,
        root: root_s,
        say,
        owner,
    })
}

impl Bench<'_> {
    /// The image tagged `t` as the test host pulls it.
    fn image(&self, t: &str) -> String {
        format!("{}/{}/cipherbox-api:{t}", self.remote, self.owner)
    }

    /// `cargo xtask deploy` to the test host with `more` options: (exit code, seconds).
    fn deploy(&self, more: &[&str]) -> Result<(i32, f64)> {
        let url = self.host.url();
        let key = self.host.key.display().to_string();
        let kh = self.host.known_hosts.display().to_string();
        let mut a = vec![
            "--root",
            self.root,
            "deploy",
            "--host",
            &url,
            "--ssh-key",
            &key,
            "--known-hosts",
            &kh,
            "--dir",
            &self.dir,
            "--env-file",
            &self.env,
            "--certs",
            &self.certs,
            "--compose-file",
            &self.extra,
            "--services",
            "caddy",
            "--grace",
            "3",
            "--format",
            "json",
        ];
        a.extend_from_slice(more);
        let (c, secs) = self.xt.run(&a)?;
        if c.code == Some(2) {
            bail!("deploy could not run:\n{}", c.stderr);
        }
        Ok((c.code.unwrap_or(-1), secs))
    }

    /// `f` run under a bounded HTTPS request loop through the host's Caddy.
    fn under_load(&self, what: &str, f: &dyn Fn() -> Result<(i32, f64)>) -> Result<Row> {
        (self.say)(what);
        let l = Loop::start(Target {
            url: "https://localhost:443/health".into(),
            resolve: format!("localhost:443:{}", self.host.ns_ip),
            cacert: self.cacert.clone(),
            max_requests: 3000,
            max_duration: Duration::from_secs(240),
            interval: Duration::from_millis(50),
        })?;
        std::thread::sleep(Duration::from_secs(1));
        let (exit, secs) = f()?;
        std::thread::sleep(Duration::from_secs(1));
        let load = l.stop();
        (self.say)(&format!("  {secs:.1} s, exit {exit}; {}", load.line()));
        Ok(Row {
            what: what.to_string(),
            secs,
            exit,
            load,
        })
    }

    /// The same change by hand: the image swapped in the override, `docker compose up -d`,
    /// which stops the old container before it starts the new one.
    fn plain_compose(&self) -> Result<Row> {
        let dir_s = &self.dir;
        let ssh = Ssh::new(
            SshTarget::parse(&self.host.url())?,
            Some(&self.host.key),
            Some(&self.host.known_hosts),
        )?;
        let compose: Vec<String> = [
            "docker",
            "compose",
            "--project-directory",
            dir_s,
            "--env-file",
            &format!("{dir_s}/.env.staging"),
            "-f",
            &format!("{dir_s}/docker-compose.staging.yml"),
            "-f",
            &format!("{dir_s}/standins.yml"),
            "-f",
            &format!("{dir_s}/{}", crate::deploy::OVERRIDE_FILE),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        self.under_load(
            "plain `docker compose up -d` v1 -> v2 (same change)",
            &|| {
                ssh.upload(
                    crate::deploy::render_override(&self.image("v2"))?.as_bytes(),
                    &format!("{dir_s}/{}", crate::deploy::OVERRIDE_FILE),
                    "644",
                )?;
                let t = Instant::now();
                let mut up = compose.clone();
                up.extend(["up", "-d", "--no-deps", "api"].map(String::from));
                let c = ssh.run(&up)?;
                // the outage lasts until the new container is healthy: wait for it
                let mut ps = compose.clone();
                ps.extend(["ps", "--format", "{{.Health}}", "api"].map(String::from));
                let deadline = Instant::now() + Duration::from_secs(90);
                while Instant::now() < deadline {
                    let h = ssh.run(&ps)?;
                    if h.stdout.trim() == "healthy" {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Ok((c.code.unwrap_or(-1), t.elapsed().as_secs_f64()))
            },
        )
    }
}
