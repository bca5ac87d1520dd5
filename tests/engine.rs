//! The real engine path: generate, build with buildx on the STAND-IN base, smoke test,
//! inspect, and `GET /health` over HTTP, on a copy of the sample monorepo and on a fixture
//! monorepo laid out differently. Also what must be refused (stale infra/, `--push` on a
//! stand-in) and what a failed build looks like (a TypeScript error: step output shown,
//! nothing tagged).
//!
//! Under `CI=true` a missing engine fails these tests; elsewhere `cargo test` reports them
//! as ignored, with the reason (tests/support.rs). Builds are serialised ([`engine_lock`])
//! and each image is built once and then asserted on.

mod support;

use support::*;

const STANDIN: &str = "xtask.local/node:22-standin";

fn label(inspect: &serde_json::Value, key: &str) -> Option<String> {
    inspect["Config"]["Labels"][key]
        .as_str()
        .map(str::to_string)
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn sample_monorepo_builds_on_the_standin_smokes_and_answers_health() {
    engine();
    let _lock = engine_lock();
    let t = sample_copy("engine-sample");
    let root = t.path().to_str().expect("utf-8 path");
    let tag = unique("it-sample");
    let image = format!("cipherbox-api:{tag}");
    let _images = Images(vec![image.clone()]);

    // a harmless .npmrc: passed as the build secret, never copied into the image
    std::fs::write(
        t.path().join(".npmrc"),
        "registry=https://registry.npmjs.org/\n",
    )
    .expect("write .npmrc");

    // generate: the copied infra/ is what gen writes
    let g = xtask(t.path(), &["--root", root, "gen", "--check"]);
    assert_eq!(g.code, 0, "{}", g.all());

    // build with buildx on the stand-in, then the smoke test and image checks
    let b = build_on_standin(
        t.path(),
        &tag,
        &["--smoke", "--format", "json"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(b.code, 0, "build-image --smoke failed:\n{}", b.all());
    let report = build_report(&b.stdout);
    assert!(
        b.stderr.contains("docker buildx build"),
        "buildx was not used:\n{}",
        b.stderr
    );
    assert!(
        b.stderr.contains("RUN cd apps/api && node --run build"),
        "no build progress streamed:\n{}",
        b.stderr
    );
    assert!(b.stderr.contains("exporting to image"), "{}", b.stderr);
    assert!(!b.stderr.contains("--pull"), "{}", b.stderr);
    assert_image_checks_passed(&report, 12);
    assert_eq!(report["image"], image.as_str(), "{report:#}");
    assert_eq!(report["tags"], serde_json::json!([image]), "{report:#}");
    assert_eq!(report["node_image"], STANDIN, "{report:#}");
    assert_eq!(report["standin_for"], "node:22-alpine", "{report:#}");
    assert_eq!(
        report["smoke"]["standin_for"], "node:22-alpine",
        "{report:#}"
    );
    assert!(
        report["timings"]["build_ms"].as_u64() > Some(0),
        "{report:#}"
    );
    assert!(
        report["timings"]["smoke_ms"].as_u64() > Some(0),
        "{report:#}"
    );
    // the text rendering (on stderr with --format json) says STAND-IN on every line about it
    for line in b.stderr.lines().filter(|l| l.contains(&image)) {
        assert!(
            line.contains("STAND-IN base"),
            "a line about the image does not say STAND-IN base: {line}"
        );
    }
    for id in [
        "image/user",
        "image/env",
        "image/expose",
        "image/cmd",
        "image/entry",
        "image/node",
        "image/runtime-deps",
        "image/no-dev-deps",
        "image/no-source-files",
        "image/health",
    ] {
        let (ok, detail) = smoke_check(&report["smoke"], id);
        assert!(ok, "{id} did not pass: {detail}");
    }

    assert!(
        b.stderr.contains("--secret id=npmrc,src=")
            && b.stderr.contains("as the build secret `npmrc`"),
        "{}",
        b.stderr
    );
    let npmrc = docker(&[
        "run",
        "--rm",
        "--user",
        "0:0",
        &image,
        "sh",
        "-c",
        "find / -xdev -name .npmrc -path '/app/*'",
    ]);
    assert_eq!(
        (npmrc.code, npmrc.stdout.as_str()),
        (0, ""),
        "no .npmrc in /app: {}",
        npmrc.all()
    );

    // inspect: labels, user, env, port, CMD
    let i = inspect_image(&image).expect("the image is tagged");
    assert_eq!(label(&i, "xtask.standin.base").as_deref(), Some(STANDIN));
    assert_eq!(
        label(&i, "xtask.standin").as_deref(),
        Some("node:22-alpine"),
        "inherited from the stand-in"
    );
    assert_eq!(
        label(&i, "org.opencontainers.image.version").as_deref(),
        Some("0.1.0")
    );
    assert_eq!(
        label(&i, "org.opencontainers.image.created").as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    assert_eq!(
        label(&i, "org.opencontainers.image.revision").as_deref(),
        Some("unknown"),
        "a copy without git"
    );
    assert!(
        b.stderr.contains("revision=unknown"),
        "the no-git fallback is said:\n{}",
        b.stderr
    );
    assert_eq!(i["Config"]["User"], "1001:1001");
    assert_eq!(
        i["Config"]["Cmd"],
        serde_json::json!(["node", "dist/main.js"])
    );
    assert!(
        i["Config"]["ExposedPorts"]["3000/tcp"].is_object(),
        "{}",
        i["Config"]
    );
    let env: Vec<&str> = i["Config"]["Env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        env.contains(&"NODE_ENV=production") && env.contains(&"PORT=3000"),
        "{env:?}"
    );

    // the acceptance line, verbatim
    let ok = docker(&["run", "--rm", &image, "node", "-e", "console.log('ok')"]);
    assert_eq!((ok.code, ok.stdout.as_str()), (0, "ok\n"), "{}", ok.all());

    // /health over HTTP from here
    let (_c, addr) = run_published(&image, 3000, &unique("it-sample-health"));
    let (code, body) = http_get_retry(&addr, "/health", 30);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"service\":\"@cipherbox/api\""), "{body}");

    // the standalone smoke command on the same image
    let s = xtask(
        t.path(),
        &["--root", root, "smoke", "--tag", &tag, "--format", "json"],
    );
    assert_eq!(s.code, 0, "{}", s.all());
    let report = smoke_report(&s.stdout);
    assert_eq!(report["result"], "pass", "{report:#}");
    assert_eq!(report["passed"], report["total"], "{report:#}");
    assert!(report["total"].as_u64() >= Some(12), "{report:#}");
    assert_eq!(report["image"], image.as_str(), "{report:#}");
    assert!(
        report["standin_for"].as_str().is_some(),
        "the stand-in base is said in the report:\n{report:#}"
    );
    let (ok, detail) = smoke_check(&report, "image/health");
    assert!(ok, "{detail}");
    // the sample's contract wires postgres, redis, ipfs and the tee-worker: postgres and redis
    // start (a STAND-IN when the real image is not local), ipfs and the tee-worker only from a
    // local image, else the report says they were not started and why
    let boot = &report["boot"];
    let names = |k: &str| -> Vec<String> {
        boot[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s["name"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (started, not_started) = (names("services"), names("not_started"));
    assert_eq!(started[..2], ["postgres", "redis"], "{boot:#}");
    for s in ["ipfs", "tee-worker"] {
        assert!(
            started.iter().any(|n| n == s) != not_started.iter().any(|n| n == s),
            "{s} is either started or said not started: {boot:#}"
        );
    }
    assert!(
        boot["not_started"]
            .as_array()
            .is_some_and(|a| a.iter().all(|n| n["why"]
                .as_str()
                .is_some_and(|w| w.contains("no local image")))),
        "{boot:#}"
    );
    assert_eq!(boot["healthy"], true, "{boot:#}");

    // a second build of the same inputs is all cache and gives the same image
    let again = build_on_standin(t.path(), &tag, &[], &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stderr.contains("CACHED"), "{}", again.stderr);
    let id1 = i["Id"].as_str().expect("id").to_string();
    assert!(
        again.stdout.contains(&id1),
        "same inputs, same image {id1}:\n{}",
        again.stdout
    );
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn fixture_monorepo_with_another_layout_builds_and_answers_health() {
    engine();
    let _lock = engine_lock();
    let t = fixture("acme-services");
    let root = t.path().to_str().expect("utf-8 path");
    let tag = unique("it-acme");
    let image = format!("acme-backend:{tag}");
    let published = format!("ghcr.io/acme/acme-backend:{tag}");
    let _images = Images(vec![image.clone(), published.clone()]);

    let g = xtask(t.path(), &["--root", root, "gen", "--check"]);
    assert_eq!(
        g.code,
        0,
        "the fixture's committed infra/ is stale:\n{}",
        g.all()
    );
    let df = std::fs::read_to_string(t.path().join("infra/api.Dockerfile")).expect("Dockerfile");
    assert!(
        df.contains("COPY libs/b/package.json") && df.contains("COPY libs/a/package.json"),
        "{df}"
    );
    assert!(!df.contains("tools/unrelated"), "{df}");

    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 0, "build-image --smoke failed:\n{}", b.all());
    let report = build_report(&b.stdout);
    assert_image_checks_passed(&report, 12);
    assert_eq!(
        report["tags"],
        serde_json::json!([image, published]),
        "the registry tag from the config:\n{report:#}"
    );
    let (ok, detail) = smoke_check(&report["smoke"], "image/runtime-deps");
    assert!(ok, "{detail}");
    assert_eq!(
        detail,
        "2 runtime dependencies resolve from /app/services/backend: @acme/a, ms"
    );

    let i = inspect_image(&published).expect("registry tag exists");
    assert_eq!(
        i["Config"]["Cmd"],
        serde_json::json!(["node", "dist/server.js"])
    );
    assert!(
        i["Config"]["ExposedPorts"]["8080/tcp"].is_object(),
        "{}",
        i["Config"]
    );
    assert_eq!(
        label(&i, "org.opencontainers.image.version").as_deref(),
        Some("2.3.4")
    );
    assert_eq!(label(&i, "xtask.standin.base").as_deref(), Some(STANDIN));

    // the unrelated package never reached the image
    let ls = docker(&["run", "--rm", &image, "ls", "/app"]);
    assert_eq!(ls.code, 0, "{}", ls.all());
    assert!(!ls.stdout.contains("tools"), "{}", ls.stdout);

    // libs/a -> libs/b really load at runtime: /health uses both
    let (_c, addr) = run_published(&image, 8080, &unique("it-acme-health"));
    let (code, body) = http_get_retry(&addr, "/health", 30);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("HELLO ACME!"), "{body}");
}

#[test]
fn the_fixture_infra_is_fresh() {
    let t = fixture("acme-services");
    let root = t.path().to_str().expect("utf-8 path");
    let g = xtask(t.path(), &["--root", root, "gen", "--check"]);
    assert_eq!(g.code, 0, "tests/fixtures/acme-services/infra is stale; run `cargo xtask --root tests/fixtures/acme-services gen`:\n{}", g.all());
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_typescript_error_fails_the_build_shows_the_step_and_tags_nothing() {
    engine();
    let _lock = engine_lock();
    let t = sample_copy("engine-tserror");
    let main = t.path().join("apps/api/src/main.ts");
    let mut src = std::fs::read_to_string(&main).expect("main.ts");
    src.push_str("\nconst broken: number = \"not a number\";\n");
    std::fs::write(&main, src).expect("write main.ts");
    let tag = unique("it-tserror");
    let image = format!("cipherbox-api:{tag}");
    let _images = Images(vec![image.clone()]);

    let b = build_on_standin(t.path(), &tag, &["--format", "json"], &[]);
    assert_eq!(b.code, 1, "a failed build exits 1:\n{}", b.all());
    let report = build_report(&b.stdout);
    assert_eq!(report["result"], "fail", "{report:#}");
    assert_eq!(report["built"], false, "{report:#}");
    assert_eq!(
        report["failed_step"], "[build 5/6] RUN cd apps/api && node --run build",
        "{report:#}"
    );
    assert_eq!(report["tags"], serde_json::json!([]), "{report:#}");
    assert!(
        report["entry"].is_null() && report["smoke"].is_null(),
        "{report:#}"
    );
    let all = b.all();
    assert!(
        all.contains("error TS2322"),
        "the compiler's message is shown:\n{all}"
    );
    assert!(
        all.contains("build failed at step [build 5/6] RUN cd apps/api && node --run build"),
        "the failing step is named:\n{all}"
    );
    assert!(all.contains("nothing was tagged"), "{all}");
    assert!(all.contains("STAND-IN base"), "{all}");
    assert!(
        inspect_image(&image).is_none(),
        "{image} must not exist after a failed build"
    );
}

#[test]
fn a_stale_or_hand_edited_infra_is_refused() {
    // refused before any engine is contacted: no engine needed
    let t = sample_copy("engine-stale");
    let root = t.path().to_str().expect("utf-8 path");
    let before = snapshot_tree(t.path());

    let df = t.path().join("infra/api.Dockerfile");
    let text = std::fs::read_to_string(&df).expect("Dockerfile");
    std::fs::write(&df, text.replace("EXPOSE 3000", "EXPOSE 3001")).expect("edit");
    let r = xtask(
        t.path(),
        &["--root", root, "build-image", "--node-image", "standin"],
    );
    assert_refused(
        &r,
        &[
            "infra/api.Dockerfile (edited by hand)",
            "Run `cargo xtask gen`",
        ],
    );
    std::fs::write(&df, text).expect("restore");

    // a config change makes the files stale (not hand-edited)
    let c = xtask(
        t.path(),
        &["--root", root, "config", "set", "api.port", "4000"],
    );
    assert_eq!(c.code, 0, "{}", c.all());
    let r = xtask(
        t.path(),
        &["--root", root, "build-image", "--node-image", "standin"],
    );
    assert_refused(&r, &["infra/api.Dockerfile (stale)", "cargo xtask gen"]);
    let after: Vec<_> = snapshot_tree(t.path())
        .into_iter()
        .filter(|(p, _)| !p.ends_with("stack.toml"))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(p, _)| !p.ends_with("stack.toml"))
        .collect();
    assert_eq!(before, after, "a refused build changes no file");
}

#[test]
fn push_is_refused_for_an_image_on_a_standin() {
    // by name: refused before any engine is contacted
    let t = sample_copy("engine-push");
    let root = t.path().to_str().expect("utf-8 path");
    let r = xtask(
        t.path(),
        &[
            "--root",
            root,
            "build-image",
            "--node-image",
            "standin",
            "--push",
        ],
    );
    assert_refused(&r, &["refusing --push", "STAND-IN base"]);
    let c = xtask(
        t.path(),
        &["--root", root, "config", "set", "node.image", STANDIN],
    );
    assert_eq!(c.code, 0, "{}", c.all());
    assert_eq!(xtask(t.path(), &["--root", root, "gen"]).code, 0);
    let r = xtask(t.path(), &["--root", root, "build-image", "--push"]);
    // config node.image = the stand-in
    assert_refused(&r, &["refusing --push"]);
}

/// By label: the stand-in under another name is still a stand-in.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn push_is_refused_for_the_standin_under_another_name() {
    engine();
    let _lock = engine_lock();
    let s = xtask(&repo_root(), &["standin"]);
    assert_eq!(s.code, 0, "{}", s.all());
    let disguised = format!("xtask.local/disguised:{}", unique("it"));
    let _images = Images(vec![disguised.clone()]);
    assert_eq!(docker(&["tag", STANDIN, &disguised]).code, 0);
    let t = sample_copy("engine-push-label");
    let root = t.path().to_str().expect("utf-8 path");
    assert_eq!(
        xtask(
            t.path(),
            &["--root", root, "config", "set", "project.owner", "acme"]
        )
        .code,
        0
    );
    assert_eq!(xtask(t.path(), &["--root", root, "gen"]).code, 0);
    let r = xtask(
        t.path(),
        &[
            "--root",
            root,
            "build-image",
            "--node-image",
            &disguised,
            "--push",
        ],
    );
    assert_refused(&r, &["refusing --push", "STAND-IN base"]);
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn engine_up_and_status_leave_a_running_engine_alone() {
    engine();
    let s = xtask(&repo_root(), &["engine", "status"]);
    assert_eq!(s.code, 0, "{}", s.all());
    for want in [
        "client ",
        "server      Docker Engine",
        "buildx      github.com/docker/buildx",
        "compose     ",
        "started by  ",
    ] {
        assert!(
            s.stdout.contains(want),
            "status lacks {want:?}:\n{}",
            s.stdout
        );
    }
    let u = xtask(&repo_root(), &["engine", "up"]);
    assert_eq!(u.code, 0, "{}", u.all());
    assert!(
        u.stdout.contains("already answers") && u.stdout.contains("nothing started"),
        "{}",
        u.stdout
    );
    // never `engine down` here: under .ci/run the engine these tests use was started by the tool
}

/// `verify` end to end with the image stage; a Dockerfile that runs as root is caught by the
/// rules AND by the image stage, each at the USER line.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn verify_runs_the_image_stage_and_reports_image_checks_at_the_dockerfile_line() {
    engine();
    let _lock = engine_lock();
    let t = sample_copy("verify-image");
    let args = [
        "verify",
        "--node-image",
        "standin",
        "--format",
        "json",
        "--root",
        ".",
    ];
    let r = xtask(t.path(), &args);
    assert_eq!(r.code, 0, "verify on the sample:\n{}", r.all());
    let j = json_of(&r);
    let image = j["stages"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "image"))
        .expect("an image stage")
        .clone();
    assert_eq!(image["status"], "pass", "{image}");
    assert!(
        image["detail"]
            .as_str()
            .unwrap_or("")
            .contains("smoke and inspection checks passed [STAND-IN base"),
        "{image}"
    );
    // the image checks are in the report as data, one by one
    let checks = image["checks"]
        .as_array()
        .expect("the image stage's checks");
    assert!(checks.len() >= 12, "{image:#}");
    for id in ["image/user", "image/entry", "image/node", "image/health"] {
        assert!(
            checks.iter().any(|c| c["id"] == id && c["ok"] == true),
            "{id} did not pass:\n{image:#}"
        );
    }
    assert!(
        r.stderr.contains("docker buildx build"),
        "buildx progress is streamed:\n{}",
        r.stderr
    );

    let dockerfile = t.path().join("infra/api.Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("read");
    let user_line = text
        .lines()
        .position(|l| l == "USER 1001:1001")
        .expect("USER line")
        + 1;
    mutate(
        t.path(),
        "infra/api.Dockerfile",
        "USER 1001:1001",
        "USER 0:0",
    );
    let r = xtask(t.path(), &args);
    assert_eq!(r.code, 1, "{}", r.all());
    let j = json_of(&r);
    let at = |rule: &str| {
        j["findings"].as_array().is_some_and(|a| {
            a.iter().any(|f| {
                f["rule"] == rule
                    && f["file"] == "infra/api.Dockerfile"
                    && f["line"] == user_line as u64
            })
        })
    };
    assert!(at("dockerfile/non-root"), "{}", r.stdout);
    assert!(at("image/runtime-user") || at("image/user"), "{}", r.stdout);
    let image = j["stages"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "image"))
        .expect("an image stage");
    let user = image["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "image/user"))
        .unwrap_or_else(|| panic!("no image/user check:\n{image:#}"));
    assert_eq!(user["ok"], false, "{user}");
    let _ = docker(&["rmi", "-f", "cipherbox-api:verify"]);
}

/// An API that exits at boot with a coloured NestJS log (as NestJS writes it without a
/// terminal): the smoke report (text and JSON) quotes its log as plain text, no escape left.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_coloured_boot_log_reaches_the_smoke_report_as_plain_text() {
    engine();
    let made = docker(&["create", STANDIN]);
    assert_eq!(made.code, 0, "{}", made.all());
    let _c = Container(made.stdout.trim().to_string());
    let tag = format!("xtask.local/it-coloured-log:{}", std::process::id());
    let cmd = r#"CMD ["node", "-e", "console.log('\\x1b[31m[Nest] 1  - \\x1b[39m12/08/2026, 1:00:00 AM \\x1b[31m  ERROR\\x1b[39m \\x1b[38;5;3m[ExceptionHandler] \\x1b[39m\\x1b[31mConfig validation error: \"JWT_SECRET\" is required\\x1b[39m');process.exit(1)"]"#;
    let commit = docker(&["commit", "--change", cmd, &_c.0, &tag]);
    assert_eq!(commit.code, 0, "{}", commit.all());
    let _images = Images(vec![tag.clone()]);
    for format in ["json", "human"] {
        let s = xtask(
            &repo_root(),
            &["smoke", "--image", &tag, "--format", format],
        );
        assert_eq!(s.code, 1, "{}", s.all());
        assert!(!s.stdout.contains('\u{1b}'), "{}", s.stdout);
        if format == "json" {
            let (ok, detail) = smoke_check(&smoke_report(&s.stdout), "image/health");
            assert!(!ok, "{detail}");
            assert!(
                detail.contains("[Nest] 1  - 12/08/2026, 1:00:00 AM   ERROR [ExceptionHandler] Config validation error: \"JWT_SECRET\" is required"),
                "{detail:?}"
            );
            assert!(detail.contains("JWT_SECRET"), "{detail}");
        }
    }
}

/// The API's generated healthcheck (the committed sample's, the same in the compose and the
/// Swarm file) says what it got, so `docker inspect`'s health log (and the rehearsal's
/// `ready` check) names it: the status of an API answering 503, or ECONNREFUSED when nothing
/// listens. Run as the engine runs it, in a container of the Node stand-in. Beside them a
/// service that crash-loops is read as the rehearsal reads it: last exit code 1, not 0.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_api_healthcheck_says_the_status_it_got_and_a_crash_loop_its_exit_code() {
    engine();
    let test_of = |file: &str| -> Vec<String> {
        let text = std::fs::read_to_string(repo_root().join("infra").join(file)).expect(file);
        let y: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        serde_yaml::from_value(y["services"]["api"]["healthcheck"]["test"].clone())
            .expect("api healthcheck test: a list of strings")
    };
    let test = test_of("docker-compose.staging.yml");
    assert_eq!(test, test_of("docker-stack.staging.yml"), "one healthcheck");
    assert_eq!(test[..3], ["CMD", "node", "-e"], "{test:?}");
    let t = TempDir::new("healthcheck");
    let services = [
        (
            "answers503",
            "require('http').createServer((q,s)=>{s.statusCode=503;s.end()}).listen(3000)",
        ),
        ("silent", "setTimeout(()=>{},1e6)"),
    ];
    let mut compose = String::from("services:\n");
    for (name, script) in services {
        compose.push_str(&format!(
            "  {name}:\n    image: {STANDIN}\n    command: {}\n    healthcheck:\n      test: {}\n      interval: 1s\n      timeout: 5s\n      retries: 3\n",
            serde_json::json!(["node", "-e", script]),
            serde_json::json!(test),
        ));
    }
    // and one that crash-loops: exit 1 under `restart: unless-stopped`
    compose.push_str(&format!(
        "  crashes:\n    image: {STANDIN}\n    command: [\"node\", \"-e\", \"process.exit(1)\"]\n    restart: unless-stopped\n"
    ));
    std::fs::write(t.path().join("compose.yml"), compose).expect("write");
    let project = unique("xtask-it-healthcheck");
    struct Down<'a>(&'a str, &'a std::path::Path);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let f = self.1.join("compose.yml");
            let _ = std::process::Command::new("docker")
                .args(["compose", "-p", self.0, "-f"])
                .arg(&f)
                .args(["down", "-t", "0"])
                .output();
        }
    }
    let file = t.path().join("compose.yml").display().to_string();
    let up = docker(&["compose", "-p", &project, "-f", &file, "up", "-d"]);
    let _down = Down(&project, t.path());
    assert_eq!(up.code, 0, "{}", up.all());
    for (name, want) in [
        ("answers503", "GET /health -> 503"),
        ("silent", "GET /health: ECONNREFUSED"),
    ] {
        let container = format!("{project}-{name}-1");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let last = loop {
            let r = docker(&[
                "inspect",
                "--format",
                "{{json .State.Health.Log}}",
                &container,
            ]);
            let log: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
            if let Some(last) = log.as_array().and_then(|l| l.last()) {
                break last.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no probe yet: {}",
                r.all()
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        };
        assert_eq!(last["ExitCode"], 1, "{name}: {last:#}");
        assert_eq!(
            last["Output"].as_str().map(str::trim),
            Some(want),
            "{name}: {last:#}"
        );
    }
    // the crash-looping service as the rehearsal reads it from `docker compose ps`: its last
    // exit code is 1 (compose's own ExitCode field says 0 while the engine restarts it)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let row = loop {
        let ps = docker(&[
            "compose", "-p", &project, "-f", &file, "ps", "--all", "--format", "json",
        ]);
        assert_eq!(ps.code, 0, "{}", ps.all());
        let rows = xtask::rehearsal::parse_ps(&ps.stdout).expect("ps JSON");
        if let Some(r) = rows
            .into_iter()
            .find(|r| r.service == "crashes" && r.state == "restarting")
        {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never seen restarting"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(row.exit_code, Some(1), "{row:?}");
    assert_eq!(
        xtask::rehearsal::readiness(Some(&row), false),
        xtask::rehearsal::Readiness::Failed("restarting (crashed, last exit code 1)".into())
    );
}

/// Issue 21: the ORM fixture's image needs its generator. Without `[api.generate]` the
/// library's build fails (its generated client is missing), the step named; with a generator
/// whose engine download fails (a captured Prisma line, printed by a stand-in script: no host
/// is contacted), the report names the package, the host's kind and the setting, as data.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_orm_fixture_needs_its_generator_and_a_failed_engine_download_is_named() {
    engine();
    let _lock = engine_lock();
    let t = fixture("orm-codegen");
    let cfg = t.path().join("infra/stack.toml");
    let text = std::fs::read_to_string(&cfg).expect("stack.toml");
    let without = text.replace("\"packages/db\" = \"db:generate\"\n", "");
    assert_ne!(without, text, "the fixture's config runs the generator");
    std::fs::write(&cfg, without).expect("write stack.toml");
    let g = xtask(t.path(), &["--root", ".", "gen"]);
    assert_eq!(g.code, 0, "{}", g.all());
    let tag = unique("it-orm-nogen");
    let _images = Images(vec![format!("inkwell-api:{tag}")]);
    let b = build_on_standin(t.path(), &tag, &["--format", "json"], &[]);
    assert_eq!(b.code, 1, "{}", b.all());
    let report = build_report(&b.stdout);
    assert!(
        report["failed_step"]
            .as_str()
            .is_some_and(|s| s.ends_with("] RUN cd packages/db && node --run build")),
        "{report:#}"
    );
    assert!(
        b.all().contains("Cannot find module '.quill/client'"),
        "{}",
        b.all()
    );
    assert!(report["download"].is_null(), "{report:#}");

    // the generator back, failing as Prisma does where binaries.prisma.sh is out of reach
    std::fs::write(&cfg, &text).expect("write stack.toml");
    let pkg = t.path().join("packages/db/package.json");
    let manifest = std::fs::read_to_string(&pkg).expect("package.json");
    let failing = manifest.replace(
        "\"db:generate\": \"node bin/quill.js generate\"",
        "\"db:generate\": \"node -e \\\"console.error('Error: request to https://binaries.prisma.sh/all_commits/5dbef10b/linux-musl-openssl-3.0.x/libquery_engine.so.node.gz failed, reason: getaddrinfo EAI_AGAIN binaries.prisma.sh'); process.exit(1)\\\"\"",
    );
    assert_ne!(failing, manifest);
    std::fs::write(&pkg, failing).expect("write package.json");
    let g = xtask(t.path(), &["--root", ".", "gen"]);
    assert_eq!(g.code, 0, "{}", g.all());
    let b = build_on_standin(t.path(), &tag, &["--format", "json"], &[]);
    assert_eq!(b.code, 1, "{}", b.all());
    let report = build_report(&b.stdout);
    let d = &report["download"];
    assert_eq!(d["package"], "prisma", "{report:#}");
    assert_eq!(d["host"], "binaries.prisma.sh", "{report:#}");
    assert_eq!(d["host_kind"], "Prisma's engine host", "{report:#}");
    assert!(
        d["setting"]
            .as_str()
            .is_some_and(|s| s.contains("PRISMA_ENGINES_MIRROR")),
        "{report:#}"
    );
    assert!(
        b.all().contains("download: prisma could not download"),
        "{}",
        b.all()
    );
}
