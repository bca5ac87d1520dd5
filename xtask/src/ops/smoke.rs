//! The smoke test of a built API image (shared by `smoke`, `build-image --smoke`, `verify`): runs containers of it (no network, except the
//! health check's loopback port) and judges what they print with [`crate::image_check`].

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::context::{Model, Outcome};
use crate::image_check::{self, CheckResult, Expect};
use crate::tools::docker::Docker;
use crate::tools::{http, standin};

/// Removes a container when dropped (also when a check fails or panics).
struct Container<'a> {
    docker: &'a Docker,
    name: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.docker.remove_container(&self.name);
    }
}

fn unique_name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("xtask-{what}-{}-{nanos}", std::process::id())
}

/// `XTASK_SMOKE_TIMEOUT` seconds for `/health` (default 30).
pub fn timeout() -> u64 {
    std::env::var("XTASK_SMOKE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

/// Runs every check of `image` for the model; prints one line per check.
pub fn check(docker: &Docker, image: &str, model: &Model, timeout: Duration) -> Result<Outcome> {
    let subject = match docker
        .inspect_image(image)?
        .as_ref()
        .and_then(standin::stands_in_for)
    {
        Some(of) => format!("{image}, STAND-IN base for {of}"),
        None => image.to_string(),
    };
    eprintln!("smoke: checking {subject}");
    let e = image_check::expect(&model.stack.image, &model.closure);
    let results = run(docker, image, &e, timeout)?;
    print!("{}", image_check::render(&results, &subject));
    Ok(if results.iter().all(|r| r.ok) {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// Every check of `image` against `e`: the inspect checks, then containers: `node -e`,
/// `id -u`, dependency resolution, the forbidden-files scan, and `GET /health`.
pub fn run(
    docker: &Docker,
    image: &str,
    e: &Expect,
    health_timeout: Duration,
) -> Result<Vec<CheckResult>> {
    let inspect = docker.inspect_image(image)?.with_context(|| {
        format!("no image {image} in the engine: build it with `cargo xtask build-image`")
    })?;
    let mut out = image_check::config_checks(&inspect, e);

    let c = docker.capture([
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "node",
        "-e",
        image_check::NODE_OK,
    ])?;
    out.push(image_check::check_node_ok(c.code, &c.stdout, &c.stderr));

    let c = docker.capture(["run", "--rm", "--network", "none", image, "id", "-u"])?;
    out.push(image_check::check_runtime_uid(c.code, &c.stdout, e));

    let input = image_check::probe_input(e);
    let c = docker.capture([
        "run",
        "--rm",
        "--network",
        "none",
        "-w",
        &e.workdir,
        image,
        "node",
        "-e",
        image_check::PROBE_JS,
        &input,
    ])?;
    out.extend(image_check::parse_probe(c.code, &c.stdout, &c.stderr, e));

    let c = docker.capture([
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0:0",
        image,
        "node",
        "-e",
        image_check::SCAN_JS,
    ])?;
    out.push(image_check::parse_scan(c.code, &c.stdout, &c.stderr));

    let c = docker.capture([
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0:0",
        image,
        "node",
        "-e",
        &crate::secrets::scan_js(),
    ])?;
    out.push(image_check::parse_secret_scan(c.code, &c.stdout, &c.stderr));

    out.push(health(docker, image, e.port, health_timeout)?);
    Ok(out)
}

/// Starts the image with its port published on 127.0.0.1 and waits for `GET /health` → 200.
/// The container is always removed.
pub fn health(docker: &Docker, image: &str, port: u16, timeout: Duration) -> Result<CheckResult> {
    const ID: &str = "image/health";
    let name = unique_name("smoke");
    let c = docker.capture([
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        &format!("127.0.0.1::{port}"),
        image,
    ])?;
    let guard = Container { docker, name };
    if !c.ok() {
        return Ok(CheckResult::fail(
            ID,
            format!("the container did not start: {}", c.detail()),
        ));
    }
    let addr = docker.host_port(&guard.name, port)?;
    let start = Instant::now();
    let mut last;
    loop {
        match http::get(&addr, "/health", Duration::from_secs(3)) {
            Ok((200, body)) => {
                let excerpt: String = body.chars().take(80).collect();
                return Ok(CheckResult::pass(
                    ID,
                    format!(
                        "GET http://{addr}/health -> 200 after {:.1}s: {excerpt}",
                        start.elapsed().as_secs_f64()
                    ),
                ));
            }
            Ok((code, body)) => {
                last = format!(
                    "HTTP {code}: {}",
                    body.chars().take(120).collect::<String>()
                )
            }
            Err(err) => last = format!("{err:#}"),
        }
        if docker.container_running(&guard.name)? != Some(true) {
            return Ok(CheckResult::fail(
                ID,
                format!(
                    "the container exited before /health answered 200; its logs:\n{}",
                    docker.logs_tail(&guard.name, 20)
                ),
            ));
        }
        if start.elapsed() > timeout {
            return Ok(CheckResult::fail(
                ID,
                format!(
                    "GET http://{addr}/health gave no 200 within {}s (last: {last}); container logs:\n{}",
                    timeout.as_secs(),
                    docker.logs_tail(&guard.name, 20)
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
