//! The smoke test of a built API image (shared by `smoke`, `build-image --smoke`, `verify`): runs containers of it (no network, except the
//! health check's loopback port) and judges what they print with [`crate::image_check`].

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::context::{Model, Outcome};
use crate::image_check::{self, CheckResult, Expect, SmokeReport};
use crate::report::Format;
use crate::tools::docker::Docker;
use crate::tools::{http, node_standin};

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

/// Runs every check of `image` for the model: the report, printed by the caller.
pub fn check(
    docker: &Docker,
    image: &str,
    model: &Model,
    timeout: Duration,
) -> Result<SmokeReport> {
    let standin_for = docker
        .inspect_image(image)?
        .as_ref()
        .and_then(node_standin::stands_in_for);
    let subject = match &standin_for {
        Some(of) => format!("{image}, STAND-IN base for {of}"),
        None => image.to_string(),
    };
    eprintln!("smoke: checking {subject}");
    let e = image_check::expect_for(model);
    let env = model
        .stack
        .contract
        .smoke_env(&mut crate::ops::secretgen::generate)?;
    let results = run(docker, image, &e, &env, timeout)?;
    Ok(SmokeReport::new(image, standin_for, results))
}

/// Prints `report` in `format` on stdout; the outcome it means.
pub fn print(report: &SmokeReport, format: Format) -> Outcome {
    match format {
        Format::Human => print!("{}", report.render_human()),
        Format::Json => print!("{}", report.render_json()),
    }
    if report.ok() {
        Outcome::Pass
    } else {
        Outcome::Fail
    }
}

/// Every check of `image` against `e`: the inspect checks, then containers: `node -e`,
/// `id -u`, dependency resolution, the forbidden-files scan, and `GET /health`.
pub fn run(
    docker: &Docker,
    image: &str,
    e: &Expect,
    env: &[(String, String)],
    health_timeout: Duration,
) -> Result<Vec<CheckResult>> {
    let inspect = docker.inspect_image(image)?.with_context(|| {
        format!("no image {image} in the engine: build it with `cargo xtask build-image`")
    })?;
    let mut out = image_check::config_checks(&inspect, e);
    out.push(entry(docker, image, e)?);

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

    out.push(health(docker, image, e, env, health_timeout)?);
    Ok(out)
}

/// Is the configured entry (`CMD ["node", <entry>]`) in `image`? If not, the JS files the
/// build produced under its output directory ([`image_check::parse_entry`]).
pub fn entry(docker: &Docker, image: &str, e: &Expect) -> Result<CheckResult> {
    let entry = e.cmd.get(1).cloned().unwrap_or_default();
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
        image_check::ENTRY_JS,
        &entry,
    ])?;
    Ok(image_check::parse_entry(
        c.code, &c.stdout, &c.stderr, &entry,
    ))
}

/// The smoke container's env file (mode 0600, in a private temporary directory, removed on
/// drop): the API's contract with throwaway secrets, never a real value.
struct EnvFile(std::path::PathBuf);

impl EnvFile {
    fn write(env: &[(String, String)]) -> Result<EnvFile> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = std::env::temp_dir().join(format!(
            "xtask-smoke-env-{}-{}",
            std::process::id(),
            crate::ops::secretgen::random_hex(6)?
        ));
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        let path = dir.join("env");
        let mut text = String::new();
        for (k, v) in env {
            if !v.contains(['\n', '\r']) {
                text.push_str(&format!("{k}={v}\n"));
            }
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::io::Write::write_all(&mut f, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(EnvFile(dir))
    }

    fn path(&self) -> String {
        self.0.join("env").display().to_string()
    }
}

impl Drop for EnvFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the image with the API's contract env (throwaway secrets) and its port published on
/// 127.0.0.1, and waits for a definite HTTP answer on the health path
/// ([`image_check::judge_health`]); an exit at boot fails naming what the log names
/// ([`image_check::boot_failure`]). The container is always removed.
pub fn health(
    docker: &Docker,
    image: &str,
    e: &Expect,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<CheckResult> {
    const ID: &str = "image/health";
    let name = unique_name("smoke");
    let env_file = EnvFile::write(env)?;
    let env_path = env_file.path();
    let port = e.port;
    let c = docker.capture([
        "run",
        "-d",
        "--name",
        &name,
        "--env-file",
        &env_path,
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
    let path = &e.health_path;
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    loop {
        let running = docker.container_running(&guard.name)?;
        if running == Some(true) {
            if let Ok(addr) = docker.host_port(&guard.name, port) {
                let probe = match http::get(&addr, path, Duration::from_secs(3)) {
                    Ok((code, body)) => image_check::HealthProbe::Answer(code, body),
                    Err(err) => image_check::HealthProbe::NoAnswer(format!("{err:#}")),
                };
                if let Some(r) =
                    image_check::judge_health(&probe, e, &addr, start.elapsed().as_secs_f64())
                {
                    return Ok(r);
                }
                if let image_check::HealthProbe::NoAnswer(why) = probe {
                    last = why;
                }
            }
        } else {
            // NestJS colours its log even without a terminal: plain text for the report
            let log = crate::text::plain(&docker.logs_tail(&guard.name, 40));
            return Ok(CheckResult::fail(
                ID,
                format!(
                    "{} (before any answer on {path}); its last log lines:\n{log}",
                    image_check::boot_failure(&log, &e.contract_keys)
                ),
            ));
        }
        if start.elapsed() > timeout {
            return Ok(CheckResult::fail(
                ID,
                format!(
                    "no HTTP answer on {path} within {}s (last: {last}); container logs:\n{}",
                    timeout.as_secs(),
                    crate::text::plain(&docker.logs_tail(&guard.name, 20))
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
