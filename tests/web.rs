//! The web app's build (`[web]`): its public build variables from a fresh clone (fixture
//! `vite-env`: a Vite-style SPA whose production build requires `VITE_API_URL`), every
//! generated file of every fixture clean under our own linters, and the site built on the
//! Node STAND-IN.

mod support;

use std::path::Path;

use support::*;

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}:\n{}", r.all());
}

/// Every file under `dir` (relative) with its contents.
fn tree(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    snapshot_tree(dir)
        .into_iter()
        .map(|(p, c)| (p.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(p), c))
        .collect()
}

/// From a fresh clone (no infra/, no workflow): `config init --web-domain`, the API's domain,
/// `gen`: the web build gets `VITE_API_URL` derived from `caddy.domains` (no TOML edit), and
/// the result is the committed fixture, byte for byte.
#[test]
fn vite_env_from_a_fresh_clone_needs_no_toml_edit() {
    let t = fixture("vite-env");
    let committed = repo_root().join("tests/fixtures/vite-env");
    std::fs::remove_dir_all(t.path().join("infra")).expect("rm infra");
    std::fs::remove_dir_all(t.path().join(".github")).expect("rm .github");
    let r = xtask(
        t.path(),
        &[
            "--root",
            ".",
            "config",
            "init",
            "--web-domain",
            "app.shop.test",
            "--format",
            "json",
        ],
    );
    ok(&r, "config init");
    let report = json_of(&r);
    let key = |k: &str| {
        report["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|x| x["key"] == k)
            .unwrap_or_else(|| panic!("{k} reported: {report:#}"))
            .clone()
    };
    // proposed with reasons: the API's URL waits for caddy.domains, the title is the example's
    let api = key("web.env.VITE_API_URL");
    assert!(api["value"].is_null(), "{api}");
    assert!(
        api["reason"]
            .as_str()
            .is_some_and(|r| r.contains("set `caddy.domains` and gen derives it")),
        "{api}"
    );
    let title = key("web.env.VITE_APP_TITLE");
    assert_eq!(title["value"], "Shop \"staging\" $HOME \\ 100%", "{title}");
    ok(
        &xtask(
            t.path(),
            &[
                "--root",
                ".",
                "config",
                "set",
                "caddy.domains",
                "api.shop.test",
            ],
        ),
        "config set caddy.domains",
    );
    ok(&xtask(t.path(), &["--root", ".", "gen"]), "gen");
    let df =
        std::fs::read_to_string(t.path().join("infra/web.Dockerfile")).expect("web.Dockerfile");
    assert!(
        df.contains("ARG VITE_API_URL=\"https://api.shop.test\"\n"),
        "{df}"
    );
    for sub in ["infra", ".github"] {
        let ours = tree(&t.path().join(sub));
        let theirs = tree(&committed.join(sub));
        let names = |v: &[(std::path::PathBuf, Vec<u8>)]| {
            v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()
        };
        assert_eq!(names(&ours), names(&theirs), "the same files in {sub}/");
        for ((p, a), (_, b)) in ours.iter().zip(&theirs) {
            assert!(
                a == b,
                "{sub}/{} differs from the committed fixture: regenerate tests/fixtures/vite-env",
                p.display()
            );
        }
    }
    // `config set web.env.KEY` overrides the derived value
    ok(
        &xtask(
            t.path(),
            &[
                "--root",
                ".",
                "config",
                "set",
                "web.env.VITE_API_URL",
                "https://edge.shop.test/api",
            ],
        ),
        "config set web.env",
    );
    ok(&xtask(t.path(), &["--root", ".", "gen"]), "gen");
    let df =
        std::fs::read_to_string(t.path().join("infra/web.Dockerfile")).expect("web.Dockerfile");
    assert!(
        df.contains("ARG VITE_API_URL=\"https://edge.shop.test/api\"\n"),
        "{df}"
    );
}

/// Every subject of the lint test: the sample, the sample with `[web]` (a web app with a
/// workspace dependency), and every directory of tests/fixtures/ (new fixtures included).
fn subjects() -> Vec<(String, TempDir)> {
    let mut out = vec![("sample".to_string(), sample_copy("lint-sample"))];
    let web = sample_copy("lint-sample-web");
    let cfg = web.path().join("infra/stack.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("stack.toml");
    text.push_str("\n[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n");
    std::fs::write(&cfg, text).expect("write stack.toml");
    out.push(("sample+web".into(), web));
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("tests/fixtures"))
        .expect("tests/fixtures")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("infra/stack.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 3, "fixtures: {names:?}");
    for n in names {
        let t = fixture(&n);
        out.push((n, t));
    }
    out
}

/// No hadolint, actionlint, zizmor or rule finding on any generated file of any fixture
/// (the one warning allowed is `caddy/wildcard-site`, about a config without caddy.domains,
/// which the sample keeps on purpose).
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs hadolint, actionlint and zizmor: set XTASK_TESTS=tools (CI=true runs it)"
)]
fn every_generated_file_of_every_fixture_is_clean_under_our_linters() {
    verify_tools();
    let mut bad = Vec::new();
    for (name, t) in subjects() {
        ok(
            &xtask(t.path(), &["--root", ".", "gen"]),
            &format!("{name}: gen"),
        );
        let r = xtask(
            t.path(),
            &[
                "--root",
                ".",
                "verify",
                "--only",
                "fresh,rules,hadolint,workflow",
                "--format",
                "json",
            ],
        );
        let report = json_of(&r);
        for s in report["stages"].as_array().expect("stages") {
            let stage = s["name"].as_str().unwrap_or_default();
            if ["fresh", "rules", "hadolint", "workflow"].contains(&stage) && s["status"] != "pass"
            {
                bad.push(format!(
                    "{name}: stage {stage} is {}: {}",
                    s["status"], s["detail"]
                ));
            }
        }
        for f in report["findings"].as_array().expect("findings") {
            if f["rule"] != "caddy/wildcard-site" {
                bad.push(format!(
                    "{name}: {} at {}:{}: {}",
                    f["rule"], f["file"], f["line"], f["message"]
                ));
            }
        }
        if name.contains("web") {
            assert!(
                t.path().join("infra/web.Dockerfile").is_file(),
                "{name} has a web app"
            );
        }
    }
    assert!(
        bad.is_empty(),
        "findings on generated files:\n{}",
        bad.join("\n")
    );
}

/// `rehearse --build-only --node-image standin` builds the web site on the STAND-IN (never
/// pulling an image called `standin`), and the built JavaScript holds the API's URL derived
/// from caddy.domains and the example's title, quoted through the Dockerfile exactly.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: set XTASK_TESTS=engine (CI=true runs it)"
)]
fn the_web_build_on_the_standin_inlines_the_derived_api_url() {
    engine();
    let _lock = engine_lock();
    let t = fixture("vite-env");
    let r = xtask(
        t.path(),
        &[
            "--root",
            ".",
            "rehearse",
            "--build-only",
            "--node-image",
            "standin",
            "--format",
            "json",
        ],
    );
    ok(&r, "rehearse --build-only");
    let web = &json_of(&r)["web"];
    assert_eq!(web["base"], "xtask.local/node:22-standin", "{web}");
    assert_eq!(web["standin_for"], "node:22-alpine", "{web}");
    assert_eq!(web["env"]["VITE_API_URL"], "https://api.shop.test", "{web}");
    assert_eq!(
        web["env"]["VITE_APP_TITLE"], "Shop \"staging\" $HOME \\ 100%",
        "{web}"
    );
    assert_eq!(
        web["inlined"],
        serde_json::json!(["VITE_API_URL", "VITE_APP_TITLE"]),
        "{web}"
    );
    assert!(
        r.stderr
            .contains("on STAND-IN base xtask.local/node:22-standin (for node:22-alpine)"),
        "{}",
        r.stderr
    );
}

/// A Node base the engine has not and cannot pull is named as the cause, with the fix, not
/// the web app's build script.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: set XTASK_TESTS=engine (CI=true runs it)"
)]
fn a_web_base_that_cannot_be_loaded_is_named_not_the_build_script() {
    engine();
    let _lock = engine_lock();
    let t = fixture("vite-env");
    let r = xtask(
        t.path(),
        &[
            "--root",
            ".",
            "rehearse",
            "--build-only",
            "--node-image",
            "xtask.local/node:0-nosuch",
        ],
    );
    assert_refused(
        &r,
        &["its Node base xtask.local/node:0-nosuch could not be loaded (it is not in the local engine and could not be pulled); build the stand-in with `cargo xtask standin` and pass `--node-image standin`"],
    );
    assert!(!r.stderr.contains("its `build` script"), "{}", r.stderr);
}
