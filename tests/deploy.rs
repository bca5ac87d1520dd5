//! `cargo xtask deploy` for real: a local registry (Debian's docker-registry), an SSH test
//! host (a network namespace with its own dockerd and sshd, reached with a key made for the
//! test), and a bounded HTTPS request loop through Caddy during every rollout and rollback.
//! Under CI=true (or XTASK_TESTS=engine) a missing engine, sshd or registry fails these
//! tests; elsewhere `cargo test` reports them as ignored, with the reason. Everything started (namespace, daemons, registry) is stopped on drop, also on
//! failure.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use xtask::tools::registry::LocalRegistry;
use xtask::tools::request_loop::{LoadReport, Loop, Target};
use xtask::tools::testhost::TestHost;

use support::{
    assert_refused, build_on_standin, docker, engine, engine_lock, json_of, repo_root, sample_copy,
    tool, xtask, Images, Run,
};

fn show(r: &Run) -> String {
    format!(
        "exit {}\n--- stdout\n{}\n--- stderr\n{}",
        r.code, r.stdout, r.stderr
    )
}

fn requirements() {
    engine();
    tool(
        "/usr/sbin/sshd",
        &["-V"],
        "apt-get install -y openssh-server (bash .ci/install-tools.sh)",
    );
    tool(
        "docker-registry",
        &["--version"],
        "apt-get install -y docker-registry (bash .ci/install-tools.sh)",
    );
}

fn derive_and_push(base: &str, lines: &str, tag: &str) {
    xtask::tools::registry::derive_and_push(base, lines, tag).expect("derived image pushed");
}

fn loop_through(host: &TestHost, cacert: &Path) -> Loop {
    Loop::start(Target {
        url: "https://localhost:443/health".into(),
        resolve: format!("localhost:443:{}", host.ns_ip),
        cacert: cacert.to_path_buf(),
        max_requests: 3000,
        max_duration: Duration::from_secs(240),
        interval: Duration::from_millis(50),
    })
    .expect("request loop starts")
}

/// The web app's domain in the compose deploy test (`[web]` added to the sample's copy).
const WEB_DOMAIN: &str = "app.deploy15.test";

/// A GET through the host's Caddy by the web domain's name (TLS verified): 200 and the body.
fn site_get(host: &TestHost, root: &Path, cacert: &Path, path: &str) -> String {
    let sh = xtask::tools::shell().expect("shell");
    let curl = xtask::tools::probe::Curl::find().expect("curl");
    let out = curl
        .get(
            &sh,
            &format!("https://{WEB_DOMAIN}{path}"),
            &format!("{WEB_DOMAIN}:443:{}", host.ns_ip),
            Some(cacert),
            &root.join("site-body.html"),
            5,
        )
        .expect("curl runs");
    let w: serde_json::Value = serde_json::from_str(out.write_out.trim()).unwrap_or_default();
    assert_eq!(
        w["http_code"], 200,
        "GET {path}: {} {}",
        out.write_out, out.stderr
    );
    out.body
}

/// The sample's web page with `marker` in its title: a site build that differs by one word.
fn mark_site(root: &Path, original: &str, marker: &str) {
    let page = original.replace(
        "<title>CipherBox</title>",
        &format!("<title>CipherBox {marker}</title>"),
    );
    assert_ne!(
        page, original,
        "the sample's index.html has no <title>CipherBox</title>"
    );
    std::fs::write(root.join("apps/web/index.html"), page).expect("write index.html");
}

fn assert_no_failures(what: &str, l: &LoadReport) {
    eprintln!("{what}: {}", l.line());
    assert!(l.sent >= 20, "{what}: only {} requests sent", l.sent);
    assert_eq!(l.failed, 0, "{what}: {:?}", l.first_failures);
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine, sshd and docker-registry, as root: runs under CI=true or XTASK_TESTS=engine"
)]
fn deploy_rolls_out_rolls_back_and_returns_with_zero_failed_requests() {
    requirements();
    let _one = engine_lock();
    let copy = sample_copy("deploy15");
    let root = copy.path();
    let root_s = root.to_str().expect("utf-8");
    // With [web]: deploy builds the sample's web app and puts it live with the API.
    let cfg = root.join("infra/stack.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        format!("{text}\n[web]\npackage = \"@cipherbox/web\"\ndomain = \"{WEB_DOMAIN}\"\n"),
    )
    .expect("write config");
    let r = xtask(root, &["--root", root_s, "gen"]);
    assert_eq!(r.code, 0, "{}", show(&r));
    let page = std::fs::read_to_string(root.join("apps/web/index.html")).expect("index.html");
    mark_site(root, &page, "site-v1");

    // The stand-ins for postgres/redis/caddy (built once, reused) and the engine's API build.
    let r = xtask(
        root,
        &["--root", root_s, "rehearse", "--build-only", "--standins"],
    );
    assert_eq!(r.code, 0, "{}", show(&r));

    // The registry: one storage, served on loopback (pushes from this engine) and on the test
    // host's veth address (pulls by the host's engine).
    let registry = LocalRegistry::start("deploy15").expect("registry");
    let port = registry.port();
    let host = TestHost::start("i15", |ip| vec![format!("{ip}:{port}")]).expect("test host");
    let mirror = registry
        .serve_also(IpAddr::V4(host.host_ip))
        .expect("registry on the veth address");
    let local = format!("127.0.0.1:{port}");
    let remote = format!("{}:{port}", host.host_ip);

    // build-image --push of a stand-in-based image: allowed to the loopback registry, said so.
    let v1 = format!("{local}/test15/cipherbox-api:v1");
    let mut images = Images(vec![v1.clone()]);
    let r = build_on_standin(
        root,
        "v1",
        &["--registry", &local, "--owner", "test15", "--push"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", show(&r));
    assert!(r.stderr.contains("local test registry"), "{}", show(&r));
    assert_eq!(registry.tags("test15/cipherbox-api").expect("tags"), ["v1"]);
    assert_eq!(docker(&["pull", &v1]).code, 0);
    for (tag, lines) in [
        ("v2", "LABEL xtask.test.revision=2"),
        ("exits", "CMD [\"node\", \"-e\", \"process.exit(3)\"]"),
        (
            "unhealthy",
            "CMD [\"node\", \"-e\", \"require('http').createServer((q,s)=>{s.statusCode=503;s.end()}).listen(3000)\"]",
        ),
    ] {
        let t = format!("{local}/test15/cipherbox-api:{tag}");
        derive_and_push(&v1, lines, &t);
        images.0.push(t);
    }

    // The host already has the third-party stand-ins (it could pull them from a registry too).
    host.load_images(&[
        "xtask.local/postgres:16-standin".into(),
        "xtask.local/redis:7-standin".into(),
        "xtask.local/caddy:2-standin".into(),
    ])
    .expect("stand-ins on the host");
    let extra = root.join("standins.yml");
    std::fs::write(
        &extra,
        "services:\n  postgres:\n    image: xtask.local/postgres:16-standin\n  redis:\n    image: xtask.local/redis:7-standin\n  caddy:\n    image: xtask.local/caddy:2-standin\n",
    )
    .expect("write");
    let secret = format!("s3cret-{}", std::process::id());
    let env = root.join("env.staging");
    std::fs::write(
        &env,
        format!("DB_USERNAME=cipherbox\nDB_PASSWORD={secret}\nDB_DATABASE=cipherbox\nREDIS_PASSWORD={secret}\nTEE_WORKER_SECRET={secret}\n"),
    )
    .expect("write env");
    let sh = xtask::tools::shell().expect("shell");
    let certs = root.join("infra/certs");
    xtask::tools::probe::self_signed_cert(
        &sh,
        &certs,
        "origin.pem",
        "origin-key.pem",
        &["localhost".to_string(), WEB_DOMAIN.to_string()],
    )
    .expect("cert");
    let cacert = certs.join("origin.pem");
    let dir = host.dir.join("srv");
    let dir_s = dir.to_str().expect("utf-8").to_string();
    let url = host.url();
    let key = host.key.to_str().expect("utf-8").to_string();
    let kh = host.known_hosts.to_str().expect("utf-8").to_string();
    let deploy = |extra_args: &[&str]| -> Run {
        let mut a = vec![
            "--root",
            root_s,
            "deploy",
            "--host",
            &url,
            "--ssh-key",
            &key,
            "--known-hosts",
            &kh,
            "--dir",
            &dir_s,
            "--env-file",
            env.to_str().expect("utf-8"),
            "--compose-file",
            extra.to_str().expect("utf-8"),
            "--services",
            "caddy",
            "--grace",
            "3",
            "--format",
            "json",
        ];
        a.extend_from_slice(extra_args);
        xtask(root, &a)
    };
    let image = |t: &str| format!("{remote}/test15/cipherbox-api:{t}");

    // First deploy: the stack comes up.
    let r = deploy(&["--image", &image("v1"), "--timeout", "120"]);
    assert_eq!(r.code, 0, "{}", show(&r));
    let j = json_of(&r);
    assert_eq!(j["result"], "deployed", "{}", show(&r));
    assert!(
        !r.all().contains(&secret),
        "the env file's content was printed"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join(".env.staging"))
        .expect("env on host")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The site went up with it: its domain serves the built index.html, a deep link too.
    let site_v1 = j["site"].as_str().expect("a site release").to_string();
    assert!(site_v1.starts_with("web."), "{j}");
    assert!(dir.join(&site_v1).join("index.html").is_file());
    for path in ["/", "/some/deep/route"] {
        let body = site_get(&host, root, &cacert, path);
        assert!(
            body.contains("<title>CipherBox site-v1</title>"),
            "GET {path}: {body}"
        );
    }

    // A good rollout, under load, with a changed site.
    mark_site(root, &page, "site-v2");
    let l = loop_through(&host, &cacert);
    std::thread::sleep(Duration::from_secs(1));
    let r = deploy(&["--image", &image("v2"), "--timeout", "90"]);
    std::thread::sleep(Duration::from_secs(1));
    let load = l.stop();
    assert_eq!(r.code, 0, "{}", show(&r));
    let j = json_of(&r);
    assert_eq!(j["result"], "deployed");
    assert_eq!(j["previous"], image("v1"));
    assert_no_failures("rollout v1 -> v2", &load);
    assert_eq!(j["previous_site"], site_v1.as_str(), "{j}");
    let site_v2 = j["site"].as_str().expect("a site release").to_string();
    assert_ne!(site_v2, site_v1);
    assert!(site_get(&host, root, &cacert, "/").contains("<title>CipherBox site-v2</title>"));
    assert!(site_get(&host, root, &cacert, "/deep/link").contains("site-v2"));

    // The broken images carry a site of their own: a failed API leaves the live site as it was.
    mark_site(root, &page, "site-broken");
    // An image that exits at boot: rolled back, the old one never stopped.
    for (bad, timeout) in [("exits", "60"), ("unhealthy", "25")] {
        let l = loop_through(&host, &cacert);
        std::thread::sleep(Duration::from_secs(1));
        let r = deploy(&["--image", &image(bad), "--timeout", timeout]);
        std::thread::sleep(Duration::from_secs(1));
        let load = l.stop();
        assert_eq!(r.code, 1, "{bad}: {}", show(&r));
        let j = json_of(&r);
        assert_eq!(j["result"], "rolled-back", "{bad}");
        assert_eq!(j["old_kept_serving"], true, "{bad}");
        assert_eq!(j["previous"], image("v2"), "{bad}");
        assert!(j["failed_step"] == "health", "{bad}: {j}");
        assert_eq!(j["site"], site_v2.as_str(), "{bad}: {j}");
        let body = site_get(&host, root, &cacert, "/");
        assert!(
            body.contains("<title>CipherBox site-v2</title>"),
            "{bad}: {body}"
        );
        assert_no_failures(&format!("broken image ({bad}) rolled back"), &load);
    }
    let running = host
        .docker(&[
            "ps",
            "--filter",
            "label=com.docker.compose.service=api",
            "--format",
            "{{.Image}}",
        ])
        .expect("ps");
    assert_eq!(running.stdout.trim(), image("v2"));

    // --rollback: back to v1, the same health-gated way.
    let l = loop_through(&host, &cacert);
    std::thread::sleep(Duration::from_secs(1));
    let r = deploy(&["--rollback", "--timeout", "90"]);
    std::thread::sleep(Duration::from_secs(1));
    let load = l.stop();
    assert_eq!(r.code, 0, "{}", show(&r));
    let j = json_of(&r);
    assert_eq!(j["action"], "rollback");
    assert_eq!(j["image"], image("v1"));
    assert_eq!(j["previous"], image("v2"));
    assert_no_failures("--rollback v2 -> v1", &load);
    // The site went back with it: v1's release, kept on the host.
    assert_eq!(j["site"], site_v1.as_str(), "{j}");
    for path in ["/", "/another/deep/route"] {
        let body = site_get(&host, root, &cacert, path);
        assert!(
            body.contains("<title>CipherBox site-v1</title>"),
            "GET {path}: {body}"
        );
    }
    // Nothing older: a second rollback has nowhere to go (exit 2, says why).
    let r = deploy(&["--rollback"]);
    assert_refused(&r, &["nothing to return to"]);
    drop(mirror);
    drop(host);
    drop(registry);
}

#[test]
fn dry_run_prints_the_plan_and_contacts_nothing() {
    let copy = sample_copy("deploy15dry");
    let root = copy.path();
    let env = root.join("env.staging");
    std::fs::write(&env, "DB_PASSWORD=never-printed-15\n").expect("write");
    let r = xtask(
        root,
        &[
            "--root",
            root.to_str().expect("utf-8"),
            "deploy",
            "--host",
            "ssh://deploy@192.0.2.1:2222",
            "--image",
            "registry.example/acme/api:v7",
            "--env-file",
            env.to_str().expect("utf-8"),
            "--dry-run",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", show(&r));
    let j = json_of(&r);
    let plan: Vec<String> = j["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|s| s.as_str().unwrap_or("").to_string())
        .collect();
    let text = plan.join("\n");
    assert!(
        text.contains("docker pull registry.example/acme/api:v7"),
        "{text}"
    );
    assert!(
        text.contains("/srv/cipherbox-staging/.env.staging (mode 600"),
        "{text}"
    );
    assert!(text.contains("--scale api="), "{text}");
    assert!(!r.all().contains("never-printed-15"));
    assert!(!text.contains("[web]"), "no web app, no site step: {text}");

    // With [web]: the plan builds the site here, uploads it as a release, switches it in.
    let cfg = root.join("infra/stack.toml");
    let t = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        format!("{t}\n[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n"),
    )
    .expect("write config");
    let root_s = root.to_str().expect("utf-8");
    let r = xtask(root, &["--root", root_s, "gen"]);
    assert_eq!(r.code, 0, "{}", show(&r));
    let r = xtask(
        root,
        &[
            "--root",
            root_s,
            "deploy",
            "--host",
            "ssh://deploy@192.0.2.1:2222",
            "--image",
            "registry.example/acme/api:v7",
            "--env-file",
            env.to_str().expect("utf-8"),
            "--dry-run",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", show(&r));
    let text = json_of(&r)["plan"].to_string();
    for want in [
        "docker buildx build -f infra/web.Dockerfile --target site --output type=local",
        "/srv/cipherbox-staging/web.<id>",
        "switch /srv/cipherbox-staging/web (caddy's mount) to the release just uploaded",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
}

#[test]
fn bad_deploy_arguments_exit_2_naming_the_fix() {
    let root = repo_root();
    for (args, want) in [
        (vec!["deploy", "--image", "a/b:1"], "needs a host"),
        (
            vec!["deploy", "--host", "vps", "--image", "a/b:1"],
            "ssh://",
        ),
        (
            vec![
                "deploy",
                "--host",
                "ssh://-oProxyCommand=x",
                "--image",
                "a/b:1",
            ],
            "not a host name",
        ),
        (
            vec![
                "deploy",
                "--host",
                "ssh://h",
                "--rollback",
                "--image",
                "a/b:1",
            ],
            "takes no --image",
        ),
        (
            vec![
                "deploy",
                "--host",
                "ssh://h",
                "--image",
                "a/b:1",
                "--env-file",
                "/nonexistent/x",
            ],
            "does not exist",
        ),
    ] {
        assert_refused(&xtask(&root, &args), &[want]);
    }
}

#[test]
fn a_stand_in_push_is_refused_for_any_registry_but_loopback() {
    let root = repo_root();
    for reg in ["ghcr.io", "10.0.0.1:5000", "registry.example:443"] {
        let r = xtask(
            &root,
            &[
                "build-image",
                "--node-image",
                "standin",
                "--owner",
                "test15",
                "--registry",
                reg,
                "--push",
            ],
        );
        assert_refused(&r, &["refusing --push", "local test registry"]);
    }
}

/// Runs `cargo xtask deploy --swarm` with the test host's key and files.
struct SwarmDeploy<'a> {
    root: &'a str,
    url: String,
    key: String,
    kh: String,
    dir: String,
    env: String,
    extra: String,
    certs: String,
}

impl SwarmDeploy<'_> {
    fn run(&self, more: &[&str]) -> Run {
        let mut a = vec![
            "--root",
            self.root,
            "deploy",
            "--swarm",
            "--host",
            &self.url,
            "--ssh-key",
            &self.key,
            "--known-hosts",
            &self.kh,
            "--dir",
            &self.dir,
            "--env-file",
            &self.env,
            "--certs",
            &self.certs,
            "--compose-file",
            &self.extra,
            "--format",
            "json",
        ];
        a.extend_from_slice(more);
        xtask(Path::new(self.root), &a)
    }
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine, sshd and docker-registry, as root: runs under CI=true or XTASK_TESTS=engine"
)]
fn deploy_swarm_converges_rolls_back_and_returns_with_zero_failed_requests() {
    requirements();
    let _one = engine_lock();
    let copy = sample_copy("swarm15");
    let root = copy.path();
    let root_s = root.to_str().expect("utf-8");
    let r = xtask(
        root,
        &["--root", root_s, "rehearse", "--build-only", "--standins"],
    );
    assert_eq!(r.code, 0, "{}", show(&r));
    let registry = LocalRegistry::start("swarm15").expect("registry");
    let port = registry.port();
    let host = TestHost::start("s15", |ip| vec![format!("{ip}:{port}")]).expect("test host");
    let mirror = registry
        .serve_also(IpAddr::V4(host.host_ip))
        .expect("registry on the veth address");
    let local = registry.host();
    let remote = format!("{}:{port}", host.host_ip);
    let v1 = format!("{local}/swarm15/cipherbox-api:v1");
    let mut images = Images(vec![v1.clone()]);
    let r = build_on_standin(
        root,
        "v1",
        &["--registry", &local, "--owner", "swarm15", "--push"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", show(&r));
    assert_eq!(docker(&["pull", &v1]).code, 0);
    for (tag, lines) in [
        ("v2", "LABEL xtask.test.revision=2"),
        // fails at boot whatever command the stack gives it
        (
            "broken",
            "USER root\nRUN rm -f dist/main.js\nUSER 1001:1001",
        ),
    ] {
        let t = format!("{local}/swarm15/cipherbox-api:{tag}");
        derive_and_push(&v1, lines, &t);
        images.0.push(t);
    }
    host.load_images(&[
        "xtask.local/postgres:16-standin".into(),
        "xtask.local/redis:7-standin".into(),
        "xtask.local/caddy:2-standin".into(),
    ])
    .expect("stand-ins on the host");
    // A single-node swarm on the test host's own engine (never the shared one).
    let init = host
        .docker(&["swarm", "init", "--advertise-addr", &host.ns_ip.to_string()])
        .expect("swarm init");
    assert!(init.ok(), "swarm init: {}", init.detail());
    let id = host
        .docker(&["info", "--format", "{{.Swarm.NodeID}}"])
        .expect("node id");
    let label = host
        .docker(&[
            "node",
            "update",
            "--label-add",
            "cipherbox.stateful=true",
            id.stdout.trim(),
        ])
        .expect("label");
    assert!(label.ok(), "{}", label.detail());

    let extra = root.join("standins.stack.yml");
    std::fs::write(
        &extra,
        "version: \"3.8\"\nservices:\n  postgres:\n    image: xtask.local/postgres:16-standin\n  redis:\n    image: xtask.local/redis:7-standin\n  caddy:\n    image: xtask.local/caddy:2-standin\n  ipfs:\n    deploy:\n      replicas: 0\n  tee-worker:\n    deploy:\n      replicas: 0\n",
    )
    .expect("write");
    let secret = format!("sw4rm-{}", std::process::id());
    let env = root.join("env.staging");
    std::fs::write(
        &env,
        format!("IMAGE_OWNER=swarm15\nDB_USERNAME=cipherbox\nDB_PASSWORD={secret}\nDB_DATABASE=cipherbox\nREDIS_PASSWORD={secret}\nTEE_WORKER_SECRET={secret}\n"),
    )
    .expect("write env");
    let sh = xtask::tools::shell().expect("shell");
    let certs = root.join("certs-test");
    xtask::tools::probe::self_signed_cert(
        &sh,
        &certs,
        "origin.pem",
        "origin-key.pem",
        &["localhost".to_string()],
    )
    .expect("cert");
    let cacert = certs.join("origin.pem");
    let d = SwarmDeploy {
        root: root_s,
        url: host.url(),
        key: host.key.display().to_string(),
        kh: host.known_hosts.display().to_string(),
        dir: host.dir.join("srv").display().to_string(),
        env: env.display().to_string(),
        extra: extra.display().to_string(),
        certs: certs.display().to_string(),
    };
    let image = |t: &str| format!("{remote}/swarm15/cipherbox-api:{t}");

    let r = d.run(&["--image", &image("v1"), "--timeout", "240"]);
    assert_eq!(r.code, 0, "{}", show(&r));
    assert_eq!(json_of(&r)["result"], "deployed");
    assert!(!r.all().contains(&secret), "a secret value was printed");
    let mode = std::fs::metadata(host.dir.join("srv/secrets/DB_PASSWORD"))
        .expect("secret file on the host")
        .permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.mode() & 0o777, 0o600);
    // The API's replicas run, none of them with a secret in its environment.
    let env_of = host
        .docker(&[
            "service",
            "inspect",
            "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
            "cipherbox-staging_api",
        ])
        .expect("inspect");
    assert!(!env_of.stdout.contains(&secret), "{}", env_of.stdout);

    let l = loop_through(&host, &cacert);
    std::thread::sleep(Duration::from_secs(1));
    let r = d.run(&["--image", &image("v2"), "--timeout", "240"]);
    std::thread::sleep(Duration::from_secs(1));
    let load = l.stop();
    assert_eq!(r.code, 0, "{}", show(&r));
    assert_eq!(json_of(&r)["result"], "deployed");
    assert_no_failures("swarm rollout v1 -> v2", &load);

    let l = loop_through(&host, &cacert);
    std::thread::sleep(Duration::from_secs(1));
    let r = d.run(&["--image", &image("broken"), "--timeout", "240"]);
    std::thread::sleep(Duration::from_secs(1));
    let load = l.stop();
    assert_eq!(r.code, 1, "{}", show(&r));
    let j = json_of(&r);
    assert_eq!(j["result"], "rolled-back", "{j}");
    assert_no_failures("swarm: broken image rolled back by Swarm", &load);

    let l = loop_through(&host, &cacert);
    std::thread::sleep(Duration::from_secs(1));
    let r = d.run(&["--rollback", "--timeout", "240"]);
    std::thread::sleep(Duration::from_secs(1));
    let load = l.stop();
    assert_eq!(r.code, 0, "{}", show(&r));
    assert_eq!(json_of(&r)["image"], image("v1"));
    assert_no_failures("swarm --rollback v2 -> v1", &load);

    let _ = host.docker(&["stack", "rm", "cipherbox-staging"]);
    let _ = host.docker(&["swarm", "leave", "--force"]);
    drop(mirror);
    drop(host);
    drop(registry);
}
