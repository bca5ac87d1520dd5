//! The install the image gets is the install the API needs: a monorepo whose `.npmrc` says
//! `node-linker=hoisted` (tests/fixtures/hoisted: an API on `ms`, a report tool on `lodash`)
//! gets an image holding the API's production closure only; `api.hoist = true` keeps the
//! hoisted layout and the image check says what it costs.

mod support;

use serde_json::Value;
use support::*;

const FIXTURE: &str = "hoisted";

/// `find /app -name NAME` in the image: the paths.
fn found_in(image: &str, name: &str) -> Vec<String> {
    let r = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "find",
        image,
        "/app",
        "-name",
        name,
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    r.stdout.lines().map(str::to_string).collect()
}

fn stages(v: &Value) -> Vec<(String, String)> {
    v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or("").to_string();
            (field("name"), field("status"))
        })
        .collect()
}

#[test]
fn the_hoisted_fixture_installs_isolated_as_generated() {
    // from a fresh copy without infra/: config init, the domain, gen: the Dockerfile's
    // installs pass the isolated layout, and say why
    let t = fixture(FIXTURE);
    std::fs::remove_dir_all(t.path().join("infra")).expect("remove infra");
    let init = xtask(
        t.path(),
        &["--root", ".", "config", "init", "--format", "json"],
    );
    assert_eq!(init.code, 0, "{}", init.all());
    let keys = json_of(&init)["keys"].clone();
    let hoist = keys
        .as_array()
        .and_then(|k| k.iter().find(|k| k["key"] == "api.hoist"))
        .unwrap_or_else(|| panic!("config init says nothing of api.hoist: {keys:#}"));
    assert_eq!(
        (&hoist["set"], &hoist["value"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    let reason = hoist["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("node-linker=hoisted (.npmrc:3)") && reason.contains("isolated"),
        "{reason}"
    );
    for args in [
        &["config", "set", "caddy.domains", "api.hoisted.test"][..],
        &["gen"],
    ] {
        let mut a = vec!["--root", "."];
        a.extend_from_slice(args);
        let r = xtask(t.path(), &a);
        assert_eq!(r.code, 0, "{args:?}: {}", r.all());
    }
    let df = std::fs::read_to_string(t.path().join("infra/api.Dockerfile")).expect("dockerfile");
    let installs: Vec<&str> = df.lines().filter(|l| l.contains("pnpm install")).collect();
    assert_eq!(installs.len(), 3, "{df}"); // the comment and the two installs
    assert!(
        installs[1..]
            .iter()
            .all(|l| l.contains("--config.node-linker=isolated")),
        "{installs:#?}"
    );
    assert!(df.contains("node-linker=hoisted (.npmrc:3)"), "{df}");
    // and it is what the committed fixture holds
    let committed =
        std::fs::read_to_string(repo_root().join("tests/fixtures/hoisted/infra/api.Dockerfile"))
            .expect("committed");
    assert_eq!(df, committed, "tests/fixtures/hoisted/infra is stale");
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_hoisting_monorepos_image_holds_the_apis_closure_only_unless_api_hoist_keeps_it() {
    engine();
    let _lock = engine_lock();
    let t = fixture(FIXTURE);
    let tag = unique("it-hoisted");
    let images: Vec<String> = vec![
        format!("hoisted-api:{tag}"),
        format!("ghcr.io/owner/hoisted-api:{tag}"),
        "hoisted-api:verify".to_string(),
    ];
    let _images = Images(images.clone());
    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 0, "{}", b.all());
    let report = build_report(&b.stdout);
    assert_image_checks_passed(&report, 12);
    let smoke = &report["smoke"];
    let (ok, detail) = smoke_check(smoke, "image/closure");
    eprintln!("isolated: image/closure: {detail}");
    assert!(
        ok && detail.contains("nothing outside apps/api's closure"),
        "{detail}"
    );
    let (ok, detail) = smoke_check(smoke, "image/no-dev-deps");
    eprintln!("isolated: image/no-dev-deps: {detail}");
    assert!(
        ok && detail.contains("the 1 installed package(s)"),
        "{detail}"
    );
    // independently of the check: the report tool's lodash is not in the image, ms is
    assert_eq!(found_in(&images[0], "lodash"), Vec::<String>::new());
    assert!(!found_in(&images[0], "ms").is_empty());

    // every stage of verify passes (the build is cached), with no edit of the config
    let v = xtask(
        t.path(),
        &[
            "--root",
            ".",
            "verify",
            "--node-image",
            "standin",
            "--format",
            "json",
        ],
    );
    assert_eq!(v.code, 0, "{}", v.all());
    let st = stages(&json_of(&v));
    assert!(st.iter().all(|(_, s)| s == "pass"), "{st:?}");
    assert!(st.iter().any(|(n, _)| n == "image"), "{st:?}");

    // api.hoist = true keeps the hoisted layout: lodash comes in, the check says its cost
    for args in [&["config", "set", "api.hoist", "true"][..], &["gen"]] {
        let mut a = vec!["--root", "."];
        a.extend_from_slice(args);
        let r = xtask(t.path(), &a);
        assert_eq!(r.code, 0, "{args:?}: {}", r.all());
    }
    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 0, "{}", b.all());
    let report = build_report(&b.stdout);
    let (ok, detail) = smoke_check(&report["smoke"], "image/closure");
    eprintln!("api.hoist: image/closure: {detail}");
    assert!(
        ok && detail.contains("api.hoist = true keeps node-linker=hoisted (.npmrc:3)")
            && detail.contains("lodash@4.18.1 (")
            && detail.contains("from apps/report's dependencies"),
        "{detail}"
    );
    assert!(!found_in(&images[0], "lodash").is_empty());
}
