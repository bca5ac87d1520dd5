//! The smoke test of a built API image (shared by `smoke`, `build-image --smoke`, `verify`):
//! runs containers of it without a network for the image checks, then boots the API the way it
//! runs (the services its contract wires on a private network, its migration, [`smoke_boot`]),
//! its port on loopback, and judges what they print with [`crate::image_check`].

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::context::{Model, Outcome};
use crate::image_check::{self, Boot, CheckResult, Expect, SmokeReport};
use crate::ops::smoke_boot::{self, Container};
use crate::report::Format;
use crate::tools::docker::Docker;
use crate::tools::Captured;
use crate::tools::{http, node_standin};

/// `XTASK_SMOKE_TIMEOUT` seconds for each wait: the services ready, the migration, `/health`
/// (default 30).
pub fn timeout() -> u64 {
    std::env::var("XTASK_SMOKE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

/// Whether the smoke test starts the services the API's contract wires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Services {
    /// postgres, redis, ... as the contract wires them (the default).
    Wired,
    /// The API alone, without its migration (the bench's baseline).
    Off,
}

/// Runs every check of `image` for the model, its services started: the report, printed by
/// the caller.
pub fn check(
    docker: &Docker,
    image: &str,
    model: &Model,
    timeout: Duration,
) -> Result<SmokeReport> {
    check_with(docker, image, model, timeout, Services::Wired)
}

/// [`check`], with or without the API's services.
pub fn check_with(
    docker: &Docker,
    image: &str,
    model: &Model,
    timeout: Duration,
    services: Services,
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
    let stack = &model.stack;
    let start = match services {
        Services::Wired => image_check::wired(&stack.contract, &stack.compose),
        Services::Off => Vec::new(),
    };
    let world = image_check::world(
        &stack.contract,
        &stack.compose,
        &start,
        &env,
        &mut crate::ops::secretgen::generate,
    )?;
    let mut boot = Boot::default();
    let mut sandbox = smoke_boot::Sandbox::new(docker);
    // the services boot while the image is inspected
    let launched = match world.services.is_empty() {
        true => None,
        false => Some(smoke_boot::launch(
            docker,
            &mut sandbox,
            &world.services,
            &mut boot,
            standin_for.is_some(),
        )?),
    };
    let mut results = run(docker, image, &e)?;
    let api_env = match launched {
        None => env,
        Some(_) => world.api_env,
    };
    let started = Started {
        sandbox: &sandbox,
        launched,
        api_env: &api_env,
        migrate: services == Services::Wired,
    };
    results.extend(boot_api(
        docker, image, model, &e, started, timeout, &mut boot,
    )?);
    drop(sandbox);
    let mut report = SmokeReport::new(image, standin_for, results);
    report.boot = boot;
    Ok(report)
}

/// What the API boots among: the sandbox, its services (launched, not yet waited for), and
/// the API's env.
pub struct Started<'a> {
    pub sandbox: &'a smoke_boot::Sandbox<'a>,
    pub launched: Option<smoke_boot::Launched>,
    pub api_env: &'a [(String, String)],
    /// Run `[api.migrate]` (when configured) before the API.
    pub migrate: bool,
}

/// Boots the API the way it runs: waits for the services its contract wires
/// ([`smoke_boot::ready`]), runs `[api.migrate]` ([`smoke_boot::migrate`]), then starts the
/// API itself ([`health`]). The checks `image/services` and `image/migrate` (when there is
/// something to start or migrate) and `image/health`; fills `boot`.
pub fn boot_api(
    docker: &Docker,
    image: &str,
    model: &Model,
    e: &Expect,
    s: Started<'_>,
    timeout: Duration,
    boot: &mut Boot,
) -> Result<Vec<CheckResult>> {
    let mut out = Vec::new();
    if let Some(launched) = s.launched {
        let r = smoke_boot::ready(docker, launched, timeout, boot)?;
        let ok = r.ok;
        out.push(r);
        if !ok {
            out.push(CheckResult::fail(
                "image/health",
                "not started: the services it needs did not start (image/services)",
            ));
            return Ok(out);
        }
    }
    let env_file = smoke_boot::EnvFile::write(s.api_env)?;
    let migrate = &model.config.api.migrate;
    if s.migrate && !migrate.is_empty() {
        let m = smoke_boot::Migration {
            image,
            command: migrate,
            env: &env_file,
            contract_keys: &e.contract_keys,
        };
        let r = smoke_boot::migrate(docker, s.sandbox, &m, timeout, boot)?;
        let ok = r.ok;
        out.push(r);
        if !ok {
            out.push(CheckResult::fail(
                "image/health",
                "not started: its migration failed (image/migrate)",
            ));
            return Ok(out);
        }
    }
    let mut e = e.clone();
    e.dependencies = boot.services.iter().map(|s| s.name.clone()).collect();
    out.push(health(
        docker, image, &e, &env_file, s.sandbox, timeout, boot,
    )?);
    Ok(out)
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

/// The checks of `image` against `e` before it boots: the inspect checks, then containers
/// without a network: `node -e`, `id -u`, dependency resolution, the forbidden-files and
/// secret-files scans.
pub fn run(docker: &Docker, image: &str, e: &Expect) -> Result<Vec<CheckResult>> {
    let inspect = docker.inspect_image(image)?.with_context(|| {
        format!("no image {image} in the engine: build it with `cargo xtask build-image`")
    })?;
    let mut out = image_check::config_checks(&inspect, e);
    out.push(entry(docker, image, e)?);

    smoke_boot::check_interrupt()?;
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

    smoke_boot::check_interrupt()?;
    let c = docker.capture(["run", "--rm", "--network", "none", image, "id", "-u"])?;
    out.push(image_check::check_runtime_uid(c.code, &c.stdout, e));

    let input = image_check::probe_input(e);
    smoke_boot::check_interrupt()?;
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
    out.push(image_check::parse_probe(c.code, &c.stdout, &c.stderr, e));

    let c = node_as_root(docker, image, image_check::MODULES_JS)?;
    out.extend(image_check::parse_modules(c.code, &c.stdout, &c.stderr, e));

    let c = node_as_root(docker, image, image_check::SCAN_JS)?;
    out.push(image_check::parse_scan(c.code, &c.stdout, &c.stderr));

    let c = node_as_root(docker, image, &crate::secrets::scan_js())?;
    out.push(image_check::parse_secret_scan(c.code, &c.stdout, &c.stderr));

    let c = node_as_root(
        docker,
        image,
        &crate::credscan::scan_js(image_check::CREDENTIAL_ROOTS),
    )?;
    out.push(image_check::parse_credential_scan(
        c.code, &c.stdout, &c.stderr,
    ));
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

/// After its first answer the API must still be running this long later (a crash right
/// after listening, e.g. on a dependency it reaches once it serves, fails the check).
const SETTLE: Duration = Duration::from_secs(1);

/// Runs a node program in the image as root with no network (the inspections read every
/// file), after checking for Ctrl-C.
fn node_as_root(docker: &Docker, image: &str, program: &str) -> Result<Captured> {
    smoke_boot::check_interrupt()?;
    docker.capture([
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0:0",
        image,
        "node",
        "-e",
        program,
    ])
}

/// Starts the image with the env `env` (the contract with throwaway secrets), on
/// the sandbox's network when it has one, its port published on 127.0.0.1, and waits for a
/// definite HTTP answer on the health path ([`image_check::judge_health`]); an exit at boot,
/// or right after its first answer, fails naming what the log names
/// ([`image_check::boot_failure`]). The container is always removed.
pub fn health(
    docker: &Docker,
    image: &str,
    e: &Expect,
    env: &smoke_boot::EnvFile,
    sandbox: &smoke_boot::Sandbox<'_>,
    timeout: Duration,
    boot: &mut Boot,
) -> Result<CheckResult> {
    const ID: &str = "image/health";
    let name = smoke_boot::unique_name("smoke");
    let port = e.port;
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
    args.extend(sandbox.network_args());
    args.extend(env.run_args());
    args.extend(["-p".into(), format!("127.0.0.1::{port}"), image.to_string()]);
    let start = Instant::now();
    let c = docker.capture_env(&args, env.cli_env())?;
    let guard = Container { docker, name };
    if !c.ok() {
        return Ok(CheckResult::fail(
            ID,
            format!("the container did not start: {}", c.detail()),
        ));
    }
    let path = &e.health_path;
    let mut last = String::from("no answer yet");
    let result = loop {
        smoke_boot::check_interrupt()?;
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
                    if let image_check::HealthProbe::Answer(code, _) = probe {
                        boot.health_status = Some(code);
                        boot.healthy = code == e.health_status;
                    }
                    break settled(docker, &guard.name, r, e);
                }
                if let image_check::HealthProbe::NoAnswer(why) = probe {
                    last = why;
                }
            }
        } else {
            let log = smoke_boot::log_tail(docker, &guard.name, 40);
            break CheckResult::fail(
                ID,
                format!(
                    "{} (before any answer on {path}); its last log lines:\n{log}",
                    image_check::boot_failure(&log, &e.contract_keys)
                ),
            );
        }
        if start.elapsed() > timeout {
            break CheckResult::fail(
                ID,
                format!(
                    "no HTTP answer on {path} within {}s (last: {last}); container logs:\n{}",
                    timeout.as_secs(),
                    smoke_boot::log_tail(docker, &guard.name, 20)
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    boot.timings.health_ms = start.elapsed().as_millis() as u64;
    Ok(result)
}

/// `answered` stands when the API is still running [`SETTLE`] after its first answer;
/// otherwise it crashed after listening: a failure naming what its log names.
fn settled(docker: &Docker, name: &str, answered: CheckResult, e: &Expect) -> CheckResult {
    std::thread::sleep(SETTLE);
    if docker.container_running(name).ok().flatten() == Some(true) {
        return answered;
    }
    let log = smoke_boot::log_tail(docker, name, 40);
    CheckResult::fail(
        answered.id,
        format!(
            "{} right after its first answer on {} ({}); its last log lines:\n{log}",
            image_check::boot_failure(&log, &e.contract_keys)
                .replace("exited at boot", "crashed after listening"),
            e.health_path,
            answered.detail
        ),
    )
}
