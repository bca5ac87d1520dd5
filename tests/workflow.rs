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
//!   cache inline (build-image says so). A renamed flag makes a step exit 2, which fails it;
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
             case \"$1\" in verify|build-image) set -- \"$@\" --node-image standin ;; esac\n\
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
        .env("RUNNER_TEMP", std::env::temp_dir())
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
    let shim = shim_dir("steps16-shim");
    for s in &steps {
        eprintln!(
            "== workflow step `{}: {}` (STAND-IN base, local registry {} for GHCR)",
            s.job,
            s.name,
            reg.host()
        );
        let r = execute(root, shim.path(), s);
        assert_eq!(
            r.code,
            0,
            "workflow step `{}: {}` failed:\n{}\n{}",
            s.job,
            s.name,
            s.script,
            r.all()
        );
    }
    // what the steps left behind, where the next steps of the workflow look for it
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("verify.sarif")).expect("verify --sarif wrote it"),
    )
    .expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
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

/// The step runner is not a rubber stamp: a flag the CLI does not know (as after a rename
/// on one side only) fails the step that passes it, before any engine is asked.
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
    std::fs::copy(repo.join("Cargo.toml"), t.path().join("Cargo.toml")).expect("Cargo.toml");
    t
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
