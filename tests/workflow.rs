//! The generated GitHub Actions workflow, exercised here and not only linted:
//!
//! - its `run:` steps that call `cargo xtask` are executed, in order, by bash as GitHub's
//!   runner does (`bash --noprofile --norc -eo pipefail`), with the step's `env:` and the
//!   `${{ }}` expressions replaced by test values. Stand-ins, said here and in the output:
//!   `cargo` is a shim that runs the xtask binary under test (`--root` = the checkout, as
//!   `cargo xtask` run from the repository root does); the image is built on the STAND-IN
//!   base (`--node-image standin` is appended to `verify` and `build-image`: no registry
//!   holds `node:22-alpine` here); GHCR is a local registry (Debian's `docker-registry` on a
//!   loopback port, set as `project.registry` before `gen`, so the generated login and push
//!   name it); the engine's builder is the `docker` driver, so `--cache registry` pushes the
//!   cache inline (build-image says so); no staging host: `deploy` runs with `--dry-run`
//!   (its flags and inputs are checked, nothing is contacted); no registry serves postgres,
//!   redis, caddy or node here: `rehearse` gets `--standins` after the workflow's
//!   `--real-images` (the last one wins), so the stack runs on the local STAND-INs. A renamed
//!   flag makes a step exit 2, which fails it;
//! - every file the workflow references exists in the monorepo it was generated for: the
//!   sample, and each fixture set up as the README's "Using it on another pnpm monorepo"
//!   says (only `xtask/`, `Cargo.toml` and `.cargo/` copied in).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value as Yaml;
use support::*;
use xtask::stack::WORKFLOW;

const OWNER: &str = "Acme-Steps16";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// One `run:` step of the workflow.
#[derive(Debug, Clone)]
struct RunStep {
    job: String,
    name: String,
    script: String,
    env: Vec<(String, String)>,
}

/// The value a test gives a GitHub expression; an unknown one fails the test (the table
/// must learn it, rather than the step run with an empty value).
fn expression(expr: &str) -> String {
    match expr.trim() {
        "github.repository_owner" => OWNER.into(),
        "github.sha" => SHA.into(),
        "github.actor" => "steps-test".into(),
        "secrets.GITHUB_TOKEN" => "test-token".into(),
        // no staging host here: the deploy step runs with --dry-run (the shim adds it)
        "secrets.STAGING_SSH_HOST" => "ssh://deploy@staging.invalid".into(),
        e if e.starts_with("secrets.") => format!("test-secret-{}", &e[8..]),
        other => panic!("the workflow uses ${{{{ {other} }}}}, which this test has no value for"),
    }
}

fn substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let j = after.find("}}").expect("closed expression");
        out.push_str(&expression(&after[..j]));
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

fn env_of(v: &Yaml) -> Vec<(String, String)> {
    v.as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let val = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) => n.to_string(),
                Yaml::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.as_str()?.to_string(), substitute(&val)))
        })
        .collect()
}

/// Every `run:` step, jobs in file order (which is `needs:` order here), steps in order.
fn run_steps(text: &str) -> Vec<RunStep> {
    let v: Yaml = serde_yaml::from_str(text).expect("the workflow is YAML");
    let global = env_of(&v["env"]);
    let mut out = Vec::new();
    for (job, j) in v["jobs"].as_mapping().expect("jobs") {
        let job = job.as_str().expect("job id").to_string();
        let job_env = env_of(&j["env"]);
        for (i, st) in j["steps"].as_sequence().expect("steps").iter().enumerate() {
            let Some(script) = st["run"].as_str() else {
                continue;
            };
            let mut env = global.clone();
            env.extend(job_env.clone());
            env.extend(env_of(&st["env"]));
            out.push(RunStep {
                job: job.clone(),
                name: st["name"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| format!("step {}", i + 1)),
                script: substitute(script),
                env,
            });
        }
    }
    out
}

fn calls_xtask(s: &RunStep) -> bool {
    s.script.contains("cargo xtask")
}

/// A directory holding the `cargo` shim (see the module doc).
fn shim_dir(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    let shim = d.path().join("cargo");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n\
             # STAND-IN for cargo in the workflow's steps: `cargo xtask ARGS` runs the xtask binary\n\
             # under test on the checkout; verify and build-image build on the STAND-IN base.\n\
             [ \"$1\" = xtask ] || {{ echo \"cargo shim: only cargo xtask runs here, not: cargo $*\" >&2; exit 97; }}\n\
             shift\n\
             case \"$1\" in verify|build-image) set -- \"$@\" --node-image standin ;; deploy) set -- \"$@\" --dry-run ;; rehearse) set -- \"$@\" --standins ;; esac\n\
             echo \"cargo shim: xtask --root $PWD $*\" >&2\n\
             exec '{}' --root \"$PWD\" \"$@\"\n",
            xtask_bin().display()
        ),
    )
    .expect("write the shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

/// Runs one step as GitHub's runner runs a bash `run:` step; returns its result.
fn execute(root: &Path, shim: &Path, s: &RunStep) -> Run {
    execute_in(root, shim, s, &std::env::temp_dir())
}

/// [`execute`] with `RUNNER_TEMP` = `runner_temp`.
fn execute_in(root: &Path, shim: &Path, s: &RunStep, runner_temp: &Path) -> Run {
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &s.script])
        .current_dir(root)
        .env("PATH", path)
        .env("GITHUB_ACTIONS", "true")
        .env("RUNNER_TEMP", runner_temp)
        .env("XTASK_NO_CACHE", "1");
    for (k, v) in &s.env {
        cmd.env(k, v);
    }
    Run::from(cmd.output().expect("bash runs"))
}

fn config_set(root: &Path, key: &str, value: &str) {
    let r = xtask(
        root,
        &[
            "--root",
            &root.to_string_lossy(),
            "config",
            "set",
            key,
            value,
        ],
    );
    assert_eq!(r.code, 0, "config set {key}: {}", r.all());
}

fn gen(root: &Path) {
    let r = xtask(root, &["--root", &root.to_string_lossy(), "gen"]);
    assert_eq!(r.code, 0, "gen: {}", r.all());
}

/// The acceptance: every `run:` step of the generated workflow that calls `cargo xtask`
/// runs, in order, and passes; what they produce is where GitHub would find it.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine, docker-registry and the verify tools: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_workflow_steps_that_call_xtask_pass_in_order() {
    engine();
    verify_tools();
    let _lock = engine_lock();
    let reg = xtask::tools::registry::LocalRegistry::start("steps16")
        .expect("a local registry (apt-get install docker-registry, or .ci/install-tools.sh)");
    let repo = format!(
        "{}/{}/cipherbox-api",
        reg.host(),
        OWNER.to_ascii_lowercase()
    );
    let _tags = Images(
        [SHA, "latest", "buildcache"]
            .iter()
            .map(|t| format!("{repo}:{t}"))
            .collect(),
    );
    let t = sample_copy("steps16");
    let root = t.path();
    // GHCR → the local registry, before gen: the generated login and push name it
    config_set(root, "project.registry", &reg.host());
    gen(root);
    let text = std::fs::read_to_string(root.join(WORKFLOW)).expect("workflow");
    assert!(
        text.contains(&reg.host()),
        "the workflow names the local registry"
    );
    let steps: Vec<RunStep> = run_steps(&text).into_iter().filter(calls_xtask).collect();
    let names: Vec<String> = steps
        .iter()
        .map(|s| format!("{}: {}", s.job, s.name))
        .collect();
    assert!(
        steps.iter().any(|s| s.script.contains("xtask gen --check"))
            && steps.iter().any(|s| s.script.contains("xtask verify"))
            && steps.iter().any(|s| s.script.contains("xtask build-image")),
        "the workflow's xtask steps: {names:?}"
    );
    assert!(
        steps.iter().any(|s| s.script.contains("xtask deploy")),
        "the deploy job is rendered by default: {names:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.job == "rehearse" && s.script.contains("xtask rehearse --real-images")),
        "the rehearse job: {names:?}"
    );
    let shim = shim_dir("steps16-shim");
    let runner_temp = TempDir::new("steps16-runner-temp");
    for s in &steps {
        eprintln!(
            "== workflow step `{}: {}` (STAND-IN base, local registry {} for GHCR)",
            s.job,
            s.name,
            reg.host()
        );
        let r = execute_in(root, shim.path(), s, runner_temp.path());
        assert_eq!(
            r.code,
            0,
            "workflow step `{}: {}` failed:\n{}\n{}",
            s.job,
            s.name,
            s.script,
            r.all()
        );
        // secrets are never printed, and the files they were written to are gone
        for (k, v) in &s.env {
            if k.starts_with("STAGING_") && k != "STAGING_SSH_HOST" {
                assert!(!r.all().contains(v.as_str()), "{k} printed:\n{}", r.all());
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(runner_temp.path())
        .expect("runner temp")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert!(
        left.is_empty(),
        "secret files left in RUNNER_TEMP: {left:?}"
    );
    // what the steps left behind, where the next steps of the workflow look for it
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("verify.sarif")).expect("verify --sarif wrote it"),
    )
    .expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    // the rehearsal's report, where the upload step takes it from: every check passed
    let report = std::fs::read_to_string(root.join("rehearse.json")).expect("rehearse.json");
    let report: serde_json::Value =
        serde_json::from_str(&report).expect("rehearse.json is the JSON report");
    assert_eq!(report["outcome"], "pass", "{report:#}");
    let checks = report["checks"].as_array().expect("checks");
    assert!(
        checks.iter().any(|c| c["id"] == "https") && checks.iter().all(|c| c["ok"] == true),
        "{report:#}"
    );
    let repo = format!("{}/cipherbox-api", OWNER.to_ascii_lowercase());
    assert!(
        reg.catalog().expect("catalog").contains(&repo),
        "{repo} pushed to the local registry"
    );
    let (code, tags) = xtask::tools::http::get(
        &reg.host(),
        &format!("/v2/{repo}/tags/list"),
        std::time::Duration::from_secs(5),
    )
    .expect("tags");
    assert_eq!(code, 200, "{tags}");
    for tag in [SHA, "latest", "buildcache"] {
        assert!(tags.contains(&format!("\"{tag}\"")), "{tag} in {tags}");
    }
}

/// A Docker engine of this test's own, with an empty build cache, in private mount, network
/// and pid namespaces (as the fault tests' own engine: nothing it does touches the host's
/// network or the shared engine), with the local registry's storage served inside its
/// network namespace on the same `127.0.0.1:<port>`, so the image references are the same.
/// Everything in the namespaces dies with `unshare` (our own child, killed on drop).
struct FreshEngine {
    dir: TempDir,
    unshare: std::process::Child,
}

impl FreshEngine {
    fn start(tag: &str, reg: &xtask::tools::registry::LocalRegistry) -> FreshEngine {
        let dir = TempDir::new(tag);
        let d = dir.path();
        for sub in ["data", "exec"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        std::fs::write(d.join("daemon.json"), "{}\n").expect("write");
        let reg_cfg = d.join("registry.yml");
        std::fs::write(
            &reg_cfg,
            xtask::tools::registry::config_text(&reg.dir().join("storage"), reg.port()),
        )
        .expect("registry config");
        let script = format!(
            "set -e\nip link set lo up\nip route add blackhole default\n\
             if [ -d /run/containerd ]; then mount -t tmpfs tmpfs /run/containerd; fi\n\
             docker-registry serve {reg_cfg} >{reg_log} 2>&1 &\n\
             exec dockerd --host unix://{sock} --data-root {data} --exec-root {exec} \
             --pidfile {pid} --config-file {cfg} --iptables=false \
             --containerd-namespace xtask-cache16 --containerd-plugins-namespace xtask-cache16-plugins",
            reg_cfg = reg_cfg.display(),
            reg_log = d.join("registry.log").display(),
            sock = d.join("docker.sock").display(),
            data = d.join("data").display(),
            exec = d.join("exec").display(),
            pid = d.join("dockerd.pid").display(),
            cfg = d.join("daemon.json").display(),
        );
        let log = std::fs::File::create(d.join("dockerd.log")).expect("log");
        let unshare = Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "--kill-child",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("unshare runs");
        let e = FreshEngine { dir, unshare };
        let t = std::time::Instant::now();
        loop {
            let r = e.docker(&["info", "--format", "{{.ServerVersion}}"]);
            if r.code == 0 && !r.stdout.trim().is_empty() {
                return e;
            }
            assert!(
                t.elapsed() < std::time::Duration::from_secs(90),
                "our own dockerd did not answer within 90 s; its log:\n{}",
                std::fs::read_to_string(e.dir.path().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    fn docker(&self, args: &[&str]) -> Run {
        Run::from(
            Command::new("docker")
                .env("DOCKER_HOST", self.host())
                .args(args)
                .output()
                .expect("docker runs"),
        )
    }
}

impl Drop for FreshEngine {
    fn drop(&mut self) {
        // --kill-child: everything in the namespaces dies with unshare (our own child)
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// The build-step lines buildx marked CACHED, from a plain progress log.
fn cached_steps(log: &str) -> Vec<String> {
    let mut names = std::collections::BTreeMap::new();
    let mut cached = Vec::new();
    for l in log.lines() {
        let Some(rest) = l.strip_prefix('#') else {
            continue;
        };
        let Some((n, text)) = rest.split_once(' ') else {
            continue;
        };
        if text.starts_with('[') {
            names
                .entry(n.to_string())
                .or_insert_with(|| text.to_string());
        }
        if text.trim() == "CACHED" {
            cached.push(names.get(n).cloned().unwrap_or_else(|| format!("#{n}")));
        }
    }
    cached
}

/// `--cache registry` engages: the image is pushed with its cache to
/// `<registry>/<owner>/<image>:buildcache` (the local registry standing in for GHCR), then
/// a build in a FRESH builder (an engine of this test's own in its own namespaces, empty
/// build cache, only the STAND-IN base loaded, no network but the registry) imports layers from there instead of building them: no
/// `pnpm install` and no build script runs again. On this machine the builder is the
/// engine's `docker` driver, whose cache export is inline (in the image pushed to
/// `:buildcache`; here it covered every step); docker/setup-buildx-action's docker-container
/// builder writes a mode=max cache manifest to the same reference, which this engine cannot.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine (as root, to start a second dockerd in its own namespaces) and docker-registry: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_registry_cache_is_imported_by_a_fresh_builder() {
    engine();
    let _lock = engine_lock();
    let reg = xtask::tools::registry::LocalRegistry::start("cache16")
        .expect("a local registry (apt-get install docker-registry, or .ci/install-tools.sh)");
    let _tags = Images(
        ["c1", "c2", "buildcache"]
            .iter()
            .map(|t| format!("{}/cache16/cipherbox-api:{t}", reg.host()))
            .collect(),
    );
    let t = sample_copy("cache16");
    let root = t.path();
    config_set(root, "project.registry", &reg.host());
    config_set(root, "project.owner", "cache16");
    gen(root);
    let root_s = root.to_string_lossy().to_string();
    let build = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "--root",
            root_s.as_str(),
            "build-image",
            "--node-image",
            "standin",
            "--cache",
            "registry",
            "--progress",
            "plain",
        ];
        args.extend_from_slice(extra);
        xtask_env(root, &args, env)
    };
    let first = build(&["--push", "--tag", "c1"], &[]);
    assert_eq!(first.code, 0, "{}", first.all());
    let tags = reg.catalog().expect("catalog");
    assert!(
        tags.contains(&"cache16/cipherbox-api".to_string()),
        "{tags:?}"
    );

    let fresh = FreshEngine::start("cache16-engine", &reg);
    let mut save = Command::new("docker")
        .args(["save", "xtask.local/node:22-standin"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docker save");
    let load = Command::new("docker")
        .env("DOCKER_HOST", fresh.host())
        .arg("load")
        .stdin(save.stdout.take().expect("pipe"))
        .output()
        .expect("docker load");
    assert!(
        save.wait().expect("docker save ends").success(),
        "docker save"
    );
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let du = fresh.docker(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(
        du.stdout.contains("Build Cache 0"),
        "the fresh builder starts with no build cache: {}",
        du.stdout
    );
    let host = fresh.host();
    let second = build(&["--tag", "c2"], &[("DOCKER_HOST", host.as_str())]);
    assert_eq!(second.code, 0, "{}", second.all());
    let log = second.stderr.clone();
    let cache_ref = format!("{}/cache16/cipherbox-api:buildcache", reg.host());
    assert!(
        log.contains("importing cache manifest from") && log.contains(&cache_ref),
        "the fresh builder imports {cache_ref}:\n{log}"
    );
    let cached = cached_steps(&log);
    eprintln!(
        "fresh builder: {} step(s) taken from the registry cache {cache_ref}: {cached:#?}",
        cached.len()
    );
    for stage in ["[deps ", "[prod-deps ", "[build ", "[runtime "] {
        assert!(
            cached.iter().any(|s| s.starts_with(stage)),
            "{stage}...] comes from the cache in the fresh builder: {cached:?}\n{log}"
        );
    }
    assert!(
        !log.lines().any(|l| l.contains("Progress: resolved")),
        "pnpm install ran again in the fresh builder:\n{log}"
    );
}

/// The step runner is not a rubber stamp: a flag the CLI does not know (as after a rename
/// on one side only) fails the step that passes it, before any engine or host is asked.
#[test]
fn a_renamed_flag_fails_the_step_that_uses_it() {
    let t = sample_copy("steps16-flag");
    let root = t.path();
    let text = std::fs::read_to_string(root.join(WORKFLOW)).expect("workflow");
    let shim = shim_dir("steps16-flag-shim");
    for (from, to, flag) in [
        (
            "xtask gen --check",
            "xtask gen --check-only",
            "--check-only",
        ),
        (
            "--sarif verify.sarif",
            "--sarif-file verify.sarif",
            "--sarif-file",
        ),
        (
            "--cache registry",
            "--build-cache registry",
            "--build-cache",
        ),
        (
            "--owner \"$OWNER\"",
            "--namespace \"$OWNER\"",
            "--namespace",
        ),
        ("--ssh-key \"$key\"", "--identity \"$key\"", "--identity"),
        (
            "rehearse --real-images",
            "rehearse --real-image",
            "--real-image",
        ),
        (
            "--volumes --format json > rehearse.json",
            "--volumes --output json > rehearse.json",
            "--output",
        ),
    ] {
        assert!(text.contains(from), "{from:?} in the workflow");
        let renamed = text.replacen(from, to, 1);
        let step = run_steps(&renamed)
            .into_iter()
            .find(|s| s.script.contains(to))
            .expect("the renamed step");
        let r = execute(root, shim.path(), &step);
        assert_eq!(r.code, 2, "{from} -> {to}: {}", r.all());
        assert!(
            r.stderr.contains(flag),
            "{from} -> {to}: the error names {flag}: {}",
            r.stderr
        );
    }
}

/// Paths a workflow makes GitHub read from the checkout: `hashFiles(...)` arguments and
/// the scripts `run:` steps hand to bash/sh (outputs the steps write are not inputs).
fn referenced_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("hashFiles(") {
        let after = &rest[i + "hashFiles(".len()..];
        let end = after.find(')').unwrap_or(after.len());
        for arg in after[..end].split(',') {
            let a = arg.trim().trim_matches(['\'', '"']);
            if !a.is_empty() && a != "verify.sarif" {
                out.push(a.to_string());
            }
        }
        rest = &after[end..];
    }
    for s in run_steps(text) {
        let words: Vec<&str> = s.script.split_whitespace().collect();
        for w in words.windows(2) {
            if matches!(w[0], "bash" | "sh" | "source" | ".") && !w[1].starts_with('-') {
                out.push(w[1].trim_matches(['\'', '"']).to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A fixture monorepo set up as the README says: only `xtask/`, `Cargo.toml` and
/// `.cargo/` copied in (no `.ci/`, no `Cargo.lock`).
fn readme_setup(name: &str) -> TempDir {
    let t = fixture(name);
    let repo = repo_root();
    copy_tree(&repo.join("xtask"), &t.path().join("xtask"));
    copy_tree(&repo.join(".cargo"), &t.path().join(".cargo"));
    // the README's `sed`: the integration tests stay out of the copied workspace
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).expect("Cargo.toml");
    let from = "members = [\"xtask\", \"tests\"]";
    assert!(
        manifest.contains(from),
        "the README's sed no longer matches Cargo.toml"
    );
    let manifest = manifest.replace(from, "members = [\"xtask\"]");
    std::fs::write(t.path().join("Cargo.toml"), manifest).expect("Cargo.toml");
    // then `cargo xtask config init`, for a fixture that has no config of its own
    init_if_unconfigured(t.path());
    t
}

/// Set up as the README says, the copied workspace loads: cargo finds the xtask package
/// (and nothing it does not have), so `cargo xtask` can build there.
#[test]
fn the_readme_setup_is_a_cargo_workspace() {
    for e in std::fs::read_dir(repo_root().join("tests/fixtures")).expect("fixtures") {
        let name = e.expect("entry").file_name().to_string_lossy().to_string();
        let t = readme_setup(&name);
        let out = Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .current_dir(t.path())
            .output()
            .expect("cargo metadata");
        assert!(
            out.status.success(),
            "fixture {name}: cargo cannot load the copied workspace:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        let names: Vec<&str> = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["xtask"], "fixture {name}");
    }
}

#[test]
fn the_workflow_references_only_files_the_monorepo_has() {
    let mut cases: Vec<(String, TempDir)> = vec![("sample".into(), sample_copy("paths16"))];
    for e in std::fs::read_dir(repo_root().join("tests/fixtures")).expect("fixtures") {
        let name = e.expect("entry").file_name().to_string_lossy().to_string();
        cases.push((format!("fixture {name}"), readme_setup(&name)));
    }
    assert!(cases.len() >= 2, "no fixture monorepo");
    for (what, t) in &cases {
        let root = t.path();
        gen(root);
        let text = std::fs::read_to_string(root.join(WORKFLOW)).expect("workflow");
        let paths = referenced_paths(&text);
        assert!(!paths.is_empty(), "{what}: no path found in the workflow");
        let missing: Vec<&String> = paths
            .iter()
            .filter(|p| !PathBuf::from(root).join(p).exists())
            .collect();
        assert!(
            missing.is_empty(),
            "{what}: the workflow references {missing:?}, absent from the monorepo:\n{text}"
        );
        if what != "sample" {
            assert!(
                !text.contains(".ci/install-tools.sh") && !text.contains("Cargo.lock"),
                "{what}: {text}"
            );
        }
    }
}
