//! The smoke test's world around the API: a private network per run, the stack services the
//! API's contract wires started on it under their service names with throwaway credentials
//! ([`crate::image_check::world`]), waited for by their healthchecks, then `[api.migrate]`
//! in the API image. Everything started is removed at the end: on success, on failure, on a
//! panic (drop guards) and on Ctrl-C or SIGTERM (a handler that marks the run interrupted;
//! the waits notice it and return, and the guards remove what was started).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::image_check::{
    readiness, Boot, CheckResult, MigrateRun, NotStarted, Readiness, ServiceSpec, StartedService,
};
use crate::rehearsal::{Kind, Source};
use crate::tempdir::TempDir;
use crate::tools::docker::Docker;
use crate::tools::service_standins::Builder;

/// Every container and network of a smoke run carries this label (its value: the run's name).
pub const LABEL: &str = "xtask.smoke";

/// A smoke run with containers or a network is under way (Ctrl-C removes them first).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C and SIGTERM: during a run, mark it interrupted (its waits return, its guards remove
/// what it started); outside one, exit as the default action would.
fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // a process that already has a handler (the rehearsal's) keeps it
        let _ = ctrlc::set_handler(|| {
            if !ACTIVE.load(Ordering::SeqCst) {
                std::process::exit(130);
            }
            if !INTERRUPTED.swap(true, Ordering::SeqCst) {
                eprintln!("smoke: interrupted; removing its containers and network");
            }
        });
    });
}

/// Fails when the run was interrupted.
pub fn check_interrupt() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!(
            "interrupted (Ctrl-C or SIGTERM); the smoke test's containers and network were removed"
        );
    }
    Ok(())
}

/// A unique name for a container or network of this process.
pub fn unique_name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("xtask-{what}-{}-{nanos}", std::process::id())
}

/// Removes a container when dropped (also when a check fails or panics).
pub struct Container<'a> {
    pub docker: &'a Docker,
    pub name: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.docker.remove_container(&self.name);
    }
}

/// A container's last `lines` of log as plain text (colours and control characters out,
/// [`crate::text::plain`]): every log excerpt of the smoke's reports comes through here.
pub fn log_tail(docker: &Docker, name: &str, lines: usize) -> String {
    crate::text::plain(&docker.logs_tail(name, lines))
}

/// A container's env file (mode 0600, in a private temporary directory, removed on drop):
/// throwaway values only, never on a command line.
pub struct EnvFile {
    dir: TempDir,
    /// Values an env file cannot hold (a PEM key's lines): passed as `--env NAME`, the
    /// value in the docker CLI's own environment, never on its command line.
    multiline: Vec<(String, String)>,
}

impl EnvFile {
    pub fn write(env: &[(String, String)]) -> Result<EnvFile> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = TempDir::new("smoke-env")?;
        let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700));
        let path = dir.path().join("env");
        let mut text = String::new();
        let mut multiline = Vec::new();
        for (k, v) in env {
            if v.contains(['\n', '\r']) {
                multiline.push((k.clone(), v.clone()));
            } else {
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
        Ok(EnvFile { dir, multiline })
    }

    pub fn path(&self) -> String {
        self.dir.path().join("env").display().to_string()
    }

    /// The `docker run` options that give a container this env: the file, and one
    /// `--env NAME` per multi-line value (its value from [`EnvFile::cli_env`]).
    pub fn run_args(&self) -> Vec<String> {
        let mut args = vec!["--env-file".to_string(), self.path()];
        for (k, _) in &self.multiline {
            args.extend(["--env".to_string(), k.clone()]);
        }
        args
    }

    /// What the docker CLI's own environment must hold for [`EnvFile::run_args`].
    pub fn cli_env(&self) -> &[(String, String)] {
        &self.multiline
    }
}

/// The run's network and service containers, removed (containers first) when dropped.
pub struct Sandbox<'a> {
    docker: &'a Docker,
    pub network: Option<String>,
    containers: Vec<String>,
}

impl<'a> Sandbox<'a> {
    pub fn new(docker: &'a Docker) -> Sandbox<'a> {
        Sandbox {
            docker,
            network: None,
            containers: Vec::new(),
        }
    }

    /// `docker run` options joining the network (none: the API's own isolated run).
    pub fn network_args(&self) -> Vec<String> {
        match &self.network {
            Some(n) => vec!["--network".into(), n.clone()],
            None => Vec::new(),
        }
    }
}

impl Drop for Sandbox<'_> {
    fn drop(&mut self) {
        for c in self.containers.iter().rev() {
            if let Err(e) = self.docker.remove_container(c) {
                eprintln!("smoke: {e:#}");
            }
        }
        if let Some(n) = &self.network {
            if let Err(e) = self.docker.remove_network(n) {
                eprintln!("smoke: {e:#}");
            }
        }
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

/// The image a service runs: the one the staging file names when it is local; else, for
/// postgres and redis, the real one pulled in GitHub Actions and a STAND-IN built here
/// elsewhere (and wherever the API itself stands on a STAND-IN base, `standin_run`: such a
/// machine has no registry, GitHub Actions or not); else (ipfs, the tee-worker) none: why.
fn pick(
    docker: &Docker,
    spec: &ServiceSpec,
    builder: &mut Option<(TempDir, Builder)>,
    standin_run: bool,
) -> Result<std::result::Result<(String, Source, bool), String>> {
    let kind = match spec.name.as_str() {
        "postgres" => Some(Kind::Postgres),
        "redis" => Some(Kind::Redis),
        _ => None,
    };
    let local = docker.inspect_image(&spec.image)?.is_some();
    let Some(kind) = kind else {
        if !local {
            return Ok(Err(format!(
                "no local image {}; the smoke test pulls none for it (the rehearsal runs the stack)",
                spec.image
            )));
        }
        return Ok(Ok((spec.image.clone(), Source::Real, false)));
    };
    if local {
        let (image, source) = crate::ops::services::named(docker, kind, &spec.image)?;
        return Ok(Ok((image, source, false)));
    }
    if !standin_run && std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        return Ok(Ok((spec.image.clone(), Source::Real, true)));
    }
    // a stand-in already in the engine is used as it is (building or checking it is the
    // rehearsal's and `cargo xtask standin`'s job; the builder script takes seconds)
    let standin = crate::rehearsal::standin_name(&spec.image);
    if docker.inspect_image(&standin)?.is_some() {
        let (image, source) = crate::ops::services::named(docker, kind, &standin)?;
        if matches!(source, Source::Standin { .. }) {
            return Ok(Ok((image, source, false)));
        }
    }
    if builder.is_none() {
        let dir = TempDir::new("smoke-standins")?;
        let b = Builder::new(dir.path(), false)?;
        *builder = Some((dir, b));
    }
    let (_, b) = builder.as_ref().context("stand-in builder")?;
    let sh = crate::tools::shell()?;
    let (image, source, _) =
        crate::ops::services::standin(&sh, b, "smoke", &spec.name, kind, &spec.image)?;
    Ok(Ok((image, source, false)))
}

const ID: &str = "image/services";

/// Services started, not yet waited for ([`ready`]).
pub struct Launched {
    /// Their containers, in `boot.services`' order.
    names: Vec<String>,
    started: Instant,
    /// The `image/services` check when it is already decided (one did not start; none did).
    decided: Option<CheckResult>,
}

/// Starts `specs` (detached) on a new private network of `sandbox`: their images chosen, their
/// containers created. Fills `boot`; [`ready`] waits for them. `standin_run`: the API's
/// image stands on a STAND-IN base, so no service image is pulled either.
pub fn launch(
    docker: &Docker,
    sandbox: &mut Sandbox<'_>,
    specs: &[ServiceSpec],
    boot: &mut Boot,
    standin_run: bool,
) -> Result<Launched> {
    install_interrupt_handler();
    ACTIVE.store(true, Ordering::SeqCst);
    let t = Instant::now();
    let mut builder = None;
    let mut chosen = Vec::new();
    for spec in specs {
        check_interrupt()?;
        match pick(docker, spec, &mut builder, standin_run)? {
            Ok(c) => chosen.push((spec, c)),
            Err(why) => boot.not_started.push(NotStarted {
                name: spec.name.clone(),
                why,
            }),
        }
    }
    boot.timings.images_ms = t.elapsed().as_millis() as u64;
    let mut launched = Launched {
        names: Vec::new(),
        started: Instant::now(),
        decided: None,
    };
    if chosen.is_empty() {
        launched.decided = Some(CheckResult::pass(
            ID,
            "no service started: none the contract wires has a local image",
        ));
        return Ok(launched);
    }
    let run = unique_name("smoke-net");
    docker.create_network(&run, &format!("{LABEL}={run}"))?;
    sandbox.network = Some(run.clone());
    boot.network = Some(run.clone());
    launched.started = Instant::now();
    for (spec, (image, source, pulled)) in &chosen {
        check_interrupt()?;
        let name = format!("{run}-{}", spec.name);
        let env = EnvFile::write(&spec.env)?;
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--name".into(),
            name.clone(),
            "--label".into(),
            format!("{LABEL}={run}"),
            "--network".into(),
            run.clone(),
            "--network-alias".into(),
            spec.name.clone(),
        ];
        args.extend(env.run_args());
        if let Some(ep) = &spec.entrypoint {
            args.extend(["--entrypoint".into(), ep.clone()]);
        }
        if let Some(cmd) = &spec.ready {
            args.extend([
                "--health-cmd".into(),
                cmd.clone(),
                "--health-interval".into(),
                "500ms".into(),
                "--health-timeout".into(),
                "5s".into(),
                "--health-retries".into(),
                "600".into(),
            ]);
        }
        args.push(image.clone());
        args.extend(spec.args.iter().cloned());
        let c = docker.capture_env(&args, env.cli_env())?;
        drop(env);
        sandbox.containers.push(name.clone());
        if !c.ok() {
            launched.decided = Some(CheckResult::fail(
                ID,
                format!("{} ({image}) did not start: {}", spec.name, c.detail()),
            ));
            return Ok(launched);
        }
        boot.services
            .push(started(&spec.name, image, source, *pulled));
        launched.names.push(name);
    }
    Ok(launched)
}

/// Waits until every launched service is ready (its healthcheck healthy) within `timeout`
/// from its launch: the `image/services` check.
pub fn ready(
    docker: &Docker,
    launched: Launched,
    timeout: Duration,
    boot: &mut Boot,
) -> Result<CheckResult> {
    if let Some(r) = launched.decided {
        return Ok(r);
    }
    let t = launched.started;
    let failed = wait_ready(docker, &launched.names, boot, t, timeout)?;
    boot.timings.services_ms = t.elapsed().as_millis() as u64;
    let run = boot.network.clone().unwrap_or_default();
    Ok(match failed {
        Some(why) => CheckResult::fail(ID, why),
        None => CheckResult::pass(
            ID,
            format!(
                "{} ready in {:.1}s on the private network {run}",
                boot.services
                    .iter()
                    .map(|s| match &s.stands_in_for {
                        Some(of) => format!("{} (STAND-IN {} for {of})", s.name, s.image),
                        None => format!("{} ({})", s.name, s.image),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                t.elapsed().as_secs_f64()
            ),
        ),
    })
}

fn started(name: &str, image: &str, source: &Source, pulled: bool) -> StartedService {
    let (label, of, provides) = match source {
        Source::Standin {
            provides,
            stands_in_for,
            ..
        } => (
            "STAND-IN",
            Some(stands_in_for.clone()),
            Some(provides.clone()),
        ),
        _ if pulled => ("pulled", None, None),
        _ => ("real", None, None),
    };
    StartedService {
        name: name.to_string(),
        image: image.to_string(),
        source: label,
        stands_in_for: of,
        provides,
        ready_ms: None,
    }
}

/// Polls the containers `names` (in `boot.services`' order) until all are ready: `None`, or
/// why not (one exited, turned unhealthy, or the timeout passed), with its last log lines.
fn wait_ready(
    docker: &Docker,
    names: &[String],
    boot: &mut Boot,
    t: Instant,
    timeout: Duration,
) -> Result<Option<String>> {
    loop {
        check_interrupt()?;
        let mut waiting = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if boot.services[i].ready_ms.is_some() {
                continue;
            }
            let service = boot.services[i].name.clone();
            let state = docker.container_state(name)?.unwrap_or_default();
            match readiness(&state) {
                Readiness::Ready => {
                    boot.services[i].ready_ms = Some(t.elapsed().as_millis() as u64)
                }
                Readiness::Starting => waiting.push(service),
                Readiness::Unhealthy => {
                    return Ok(Some(format!(
                        "{service} turned unhealthy; its last log lines:\n{}",
                        log_tail(docker, name, 20)
                    )))
                }
                Readiness::Exited(code) => {
                    return Ok(Some(format!(
                        "{service} exited (code {}) before it was ready; its last log lines:\n{}",
                        code.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
                        log_tail(docker, name, 20)
                    )))
                }
            }
        }
        if waiting.is_empty() {
            return Ok(None);
        }
        if t.elapsed() > timeout {
            let logs: Vec<String> = names
                .iter()
                .zip(&boot.services)
                .filter(|(_, s)| waiting.contains(&s.name))
                .map(|(n, s)| format!("{}:\n{}", s.name, log_tail(docker, n, 10)))
                .collect();
            return Ok(Some(format!(
                "{} not ready within {}s; last log lines:\n{}",
                waiting.join(", "),
                timeout.as_secs(),
                logs.join("\n")
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What the migration runs: `command` in `image` with the env `env`;
/// `contract_keys` name what its log may name.
pub struct Migration<'a> {
    pub image: &'a str,
    pub command: &'a [String],
    pub env: &'a EnvFile,
    pub contract_keys: &'a [String],
}

/// `[api.migrate] command` in `image` on the sandbox's network with the API's env file,
/// waited for (at most `timeout`): the `image/migrate` check, a failure naming what its log
/// names ([`crate::image_check::boot_failure`]); fills `boot.migrate`.
pub fn migrate(
    docker: &Docker,
    sandbox: &Sandbox<'_>,
    m: &Migration<'_>,
    timeout: Duration,
    boot: &mut Boot,
) -> Result<CheckResult> {
    let (image, command, env, contract_keys) = (m.image, m.command, m.env, m.contract_keys);
    const ID: &str = "image/migrate";
    let t = Instant::now();
    let name = unique_name("smoke-migrate");
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
    args.extend(sandbox.network_args());
    args.extend(env.run_args());
    args.push(image.to_string());
    args.extend(command.iter().cloned());
    let shown = command.join(" ");
    let c = docker.capture_env(&args, env.cli_env())?;
    let guard = Container { docker, name };
    let mut run = MigrateRun {
        command: command.to_vec(),
        ok: false,
        exit: None,
        ms: 0,
    };
    if !c.ok() {
        boot.migrate = Some(run);
        return Ok(CheckResult::fail(
            ID,
            format!("`{shown}` did not start: {}", c.detail()),
        ));
    }
    let result = loop {
        check_interrupt()?;
        let state = docker.container_state(&guard.name)?.unwrap_or_default();
        if let Readiness::Exited(code) = readiness(&state) {
            run.exit = code;
            run.ok = code == Some(0);
            break if run.ok {
                CheckResult::pass(
                    ID,
                    format!("`{shown}` exited 0 in {:.1}s", t.elapsed().as_secs_f64()),
                )
            } else {
                let log = log_tail(docker, &guard.name, 40);
                let code = code.map(|c| c.to_string()).unwrap_or_else(|| "?".into());
                // why, as for the API itself: the variable or module its log names
                let why = crate::image_check::boot_failure(&log, contract_keys).replacen(
                    "the API exited at boot",
                    &format!("the migration `{shown}` exited {code} before the API started"),
                    1,
                );
                CheckResult::fail(ID, format!("{why}; its last log lines:\n{log}"))
            };
        }
        if t.elapsed() > timeout {
            break CheckResult::fail(
                ID,
                format!(
                    "the migration `{shown}` did not finish within {}s; its last log lines:\n{}",
                    timeout.as_secs(),
                    log_tail(docker, &guard.name, 40)
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    run.ms = t.elapsed().as_millis() as u64;
    boot.timings.migrate_ms = run.ms;
    boot.migrate = Some(run);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_line_value_goes_by_name_and_the_cli_env_never_into_the_file() {
        let pem =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----\n";
        let env = EnvFile::write(&[
            ("JWT_SECRET".to_string(), "00ff".to_string()),
            ("SIGNING_KEY".to_string(), pem.to_string()),
        ])
        .expect("env file");
        let file = std::fs::read_to_string(env.path()).expect("read");
        assert_eq!(file, "JWT_SECRET=00ff\n");
        let args = env.run_args();
        assert_eq!(args[0], "--env-file");
        assert_eq!(&args[2..], ["--env", "SIGNING_KEY"]);
        assert!(!args.iter().any(|a| a.contains("PRIVATE")));
        assert_eq!(
            env.cli_env(),
            [("SIGNING_KEY".to_string(), pem.to_string())]
        );
    }
}
