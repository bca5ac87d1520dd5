//! The API's env contract on the real binary: a key added to the API's `.env.example` reaches
//! compose and `.env.staging.example`, and `gen --check` / `verify` fail naming it until then;
//! `verify --env-file` names placeholder secrets and never prints a value.

mod support;

use serde_json::{json, Value};
use support::*;

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const EXAMPLE: &str = "apps/api/.env.example";

#[test]
fn a_key_added_to_the_example_fails_check_naming_it_until_gen() {
    let t = sample_copy("contract-add");
    let root = t.path();
    assert_eq!(xtask(root, &["gen", "--check", "--root", "."]).code, 0);
    let mut text = read(&root.join(EXAMPLE));
    text.push_str("# Signs the access tokens\nJWT_SECRET=\nJWT_EXPIRES_IN=15m\n# Where files go\n# IPFS_PROVIDER=local\n");
    std::fs::write(root.join(EXAMPLE), &text).expect("write");
    let line = text.lines().position(|l| l == "JWT_SECRET=").expect("line") + 1;

    let r = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.contains(&format!(
            "{EXAMPLE}:{line}: JWT_SECRET (secret) is in the API's env contract but not in infra/docker-compose.staging.yml"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("JWT_EXPIRES_IN (config)"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("IPFS_PROVIDER (config) is in"),
        "an optional key without a staging value is not required: {}",
        r.stdout
    );

    let r = xtask(root, &["gen", "--root", "."]);
    assert_eq!(r.code, 0, "{}", r.all());
    let compose = read(&root.join("infra/docker-compose.staging.yml"));
    assert!(
        compose.contains("      JWT_SECRET: \"${JWT_SECRET:?set JWT_SECRET in .env.staging"),
        "{compose}"
    );
    assert!(compose.contains("      JWT_EXPIRES_IN: 15m\n"), "{compose}");
    assert!(!compose.contains("IPFS_PROVIDER"), "{compose}");
    let env = read(&root.join("infra/.env.staging.example"));
    assert!(
        env.contains("# Signs the access tokens\nJWT_SECRET=change-me\n"),
        "{env}"
    );
    assert!(
        env.contains("# Where files go\n# IPFS_PROVIDER=local\n"),
        "{env}"
    );
    assert!(env.contains("# JWT_EXPIRES_IN=15m\n"), "{env}");
    assert_eq!(xtask(root, &["gen", "--check", "--root", "."]).code, 0);

    // a staging value from the config makes the optional key part of the stack
    std::fs::write(
        root.join("infra/stack.toml"),
        read(&root.join("infra/stack.toml")) + "\n[api.env]\nIPFS_PROVIDER = \"pinata\"\n",
    )
    .expect("write config");
    let r = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.contains("[api.env]: IPFS_PROVIDER (config)")
            || r.stdout.contains(&format!("{EXAMPLE}:"))
                && r.stdout.contains("IPFS_PROVIDER (config)"),
        "{}",
        r.stdout
    );
}

fn findings(j: &Value) -> Vec<(String, String, u64, String)> {
    j["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or("").to_string(),
                        f["file"].as_str().unwrap_or("").to_string(),
                        f["line"].as_u64().unwrap_or(0),
                        f["message"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn a_key_removed_from_compose_fails_verify_naming_it() {
    verify_tools();
    let t = sample_copy("contract-rm");
    let root = t.path();
    mutate(
        root,
        "infra/docker-compose.staging.yml",
        "      TEE_WORKER_URL: \"http://tee-worker:3001\"\n",
        "",
    );
    let r = xtask(
        root,
        &["--root", ".", "verify", "--static", "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let f = findings(&json_of(&r));
    assert!(
        f.iter()
            .any(|(rule, file, _, msg)| rule == "env/contract-set"
                && file == "infra/docker-compose.staging.yml"
                && msg.starts_with("TEE_WORKER_URL (wired, apps/api/.env.example:")),
        "{f:#?}"
    );
    let r = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("TEE_WORKER_URL (wired) is in the API's env contract"),
        "{}",
        r.stdout
    );
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn env_file_placeholders_are_named_never_printed() {
    verify_tools();
    let t = sample_copy("contract-envfile");
    let root = t.path();
    let env = root.join("staging.env");
    // a real-looking secret that must never be echoed, one placeholder, one key missing
    std::fs::write(
        &env,
        "TAG=v1\nDB_USERNAME=app\nDB_PASSWORD=change-me\nREDIS_PASSWORD=Rr5-x\nDB_DATABASE=app\nTEE_WORKER_SECRET=Zq8-unique-value-7f3\n",
    )
    .expect("write env");
    let args = [
        "--root",
        ".",
        "verify",
        "--static",
        "--format",
        "json",
        "--env-file",
        "staging.env",
    ];
    let r = xtask(root, &args);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        !r.all().contains("Zq8-unique-value-7f3"),
        "a value was printed: {}",
        r.all()
    );
    assert!(!r.all().contains("change-me\""), "{}", r.all());
    let f = findings(&json_of(&r));
    assert!(
        f.iter()
            .any(|(rule, file, line, msg)| rule == "env/file-placeholder"
                && file == "staging.env"
                && *line == 3
                && msg.starts_with("DB_PASSWORD ")),
        "{f:#?}"
    );
    assert_eq!(
        f.iter()
            .filter(|(rule, ..)| rule.starts_with("env/file"))
            .count(),
        1,
        "{f:#?}"
    );
    std::fs::write(
        &env,
        "TAG=v1\nDB_USERNAME=app\nDB_PASSWORD=Kq2-another-9\nREDIS_PASSWORD=Rr5-x\nDB_DATABASE=app\nTEE_WORKER_SECRET=Zq8-unique-value-7f3\n",
    )
    .expect("write env");
    let r = xtask(root, &args);
    assert_eq!(r.code, 0, "{}", r.all());
    std::fs::write(&env, "TAG=v1\nDB_PASSWORD=Kq2-another-9\n").expect("write env");
    let r = xtask(root, &args);
    assert_eq!(r.code, 1);
    let f = findings(&json_of(&r));
    for key in ["DB_USERNAME", "DB_DATABASE", "TEE_WORKER_SECRET"] {
        assert!(
            f.iter()
                .any(|(rule, _, _, msg)| rule == "env/file-missing" && msg.starts_with(key)),
            "{key}: {f:#?}"
        );
    }
}

/// The sample API, made to validate a variable at boot as real NestJS apps do.
fn validating_sample(tag: &str) -> TempDir {
    let t = sample_copy(tag);
    mutate(
        t.path(),
        "apps/api/src/main.ts",
        "async function bootstrap(): Promise<void> {\n",
        "async function bootstrap(): Promise<void> {\n  if (!process.env.JWT_SECRET) {\n    console.error('Error: Config validation error: \"JWT_SECRET\" is required');\n    process.exit(1);\n  }\n",
    );
    t
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn an_api_exiting_at_boot_fails_smoke_naming_the_variable_until_the_example_lists_it() {
    engine();
    let _lock = engine_lock();
    let t = validating_sample("contract-boot");
    let tag = unique("it-boot");
    let image = format!("cipherbox-api:{tag}");
    let _images = Images(vec![image.clone()]);

    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 1, "{}", b.all());
    let report = build_report(&b.stdout);
    let (ok, fail) = smoke_check(&report["smoke"], "image/health");
    assert!(
        !ok && fail.contains("the API exited at boot; its log names JWT_SECRET"),
        "{fail}\n{}",
        b.all()
    );
    assert_eq!(report["tags"], serde_json::json!([]), "{report:#}");
    assert!(
        inspect_image(&image).is_none(),
        "no release tag after a failed smoke test"
    );

    // the API's example learns the key: the smoke env now carries a throwaway secret for it
    let ex = t.path().join(EXAMPLE);
    std::fs::write(&ex, read(&ex) + "# Signs the access tokens\nJWT_SECRET=\n").expect("write");
    let g = xtask(t.path(), &["--root", ".", "gen"]);
    assert_eq!(g.code, 0, "{}", g.all());
    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 0, "{}", b.all());
    let report = build_report(&b.stdout);
    assert_image_checks_passed(&report, 12);
    let (_, ok) = smoke_check(&report["smoke"], "image/health");
    assert!(ok.contains("GET http://127.0.0.1:"), "{ok}");
    assert!(inspect_image(&image).is_some());
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_wrong_entry_fails_before_any_tag_naming_what_the_build_produced() {
    engine();
    let _lock = engine_lock();
    let t = sample_copy("contract-entry");
    std::fs::write(
        t.path().join("infra/stack.toml"),
        read(&t.path().join("infra/stack.toml"))
            .replace("entry = \"dist/main.js\"", "entry = \"dist/server.js\""),
    )
    .expect("write config");
    let g = xtask(t.path(), &["--root", ".", "gen"]);
    assert_eq!(g.code, 0, "{}", g.all());
    let tag = unique("it-entry");
    let image = format!("cipherbox-api:{tag}");
    let _images = Images(vec![image.clone()]);
    let b = build_on_standin(t.path(), &tag, &["--format", "json"], &[]);
    assert_eq!(b.code, 1, "{}", b.all());
    let report = build_report(&b.stdout);
    let entry = &report["entry"];
    let detail = entry["detail"].as_str().unwrap_or_default();
    assert!(
        entry["ok"] == false
            && entry["id"] == "image/entry"
            && detail.contains(
                "api.entry = \"dist/server.js\" is not in the image; the build produced dist/"
            )
            && detail.contains("dist/main.js"),
        "{report:#}"
    );
    assert!(
        report["failure"]
            .as_str()
            .is_some_and(|f| f.contains("no tag was set")),
        "{report:#}"
    );
    assert_eq!(report["tags"], serde_json::json!([]), "{report:#}");
    assert!(report["smoke"].is_null(), "{report:#}");
    assert!(inspect_image(&image).is_none(), "nothing tagged");
    let left = docker(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "cipherbox-api",
    ]);
    assert!(
        !left.stdout.contains("xtask-smoke-candidate"),
        "the candidate is removed:\n{}",
        left.stdout
    );
}

/// The realistic fixture: a NestJS API (config validated at boot, terminus health, pg
/// migrations, redis with a password), a static web app, in a monorepo laid out unlike
/// the sample.
const REALISTIC: &str = "nest-realistic";

#[test]
fn the_realistic_fixture_infra_is_fresh_and_carries_its_contract() {
    let t = fixture(REALISTIC);
    let r = xtask(t.path(), &["--root", ".", "gen", "--check"]);
    assert_eq!(
        r.code,
        0,
        "tests/fixtures/nest-realistic/infra is stale; run `cargo xtask --root tests/fixtures/nest-realistic gen`:\n{}",
        r.all()
    );
    let compose = read(&t.path().join("infra/docker-compose.staging.yml"));
    for line in [
        "      JWT_SECRET: \"${JWT_SECRET:?",
        "      JWT_EXPIRES_IN: 15m\n",
        "      WEB_APP_URL: \"https://app.ledger.test\"\n",
        "      DB_HOST: postgres\n",
        "      REDIS_PASSWORD: \"${REDIS_PASSWORD:?",
    ] {
        assert!(compose.contains(line), "{line:?} not in:\n{compose}");
    }
    assert!(!compose.contains("STORAGE_DRIVER") && !compose.contains("SENTRY_DSN"));
    // the stack the app needs (project.services = postgres, redis), named from its workspace
    assert!(compose.contains("\nname: ledger-staging\n"), "{compose}");
    let services: Vec<String> = serde_yaml::from_str::<serde_yaml::Value>(&compose).expect("yaml")
        ["services"]
        .as_mapping()
        .expect("services")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    assert_eq!(services, ["api", "migrate", "postgres", "redis", "caddy"]);
    // the migrations: a one-shot of the API's image with its env, before the API starts
    let doc: serde_yaml::Value = serde_yaml::from_str(&compose).expect("yaml");
    let (api, migrate) = (&doc["services"]["api"], &doc["services"]["migrate"]);
    assert_eq!(migrate["image"], api["image"]);
    assert_eq!(migrate["environment"], api["environment"]);
    assert_eq!(migrate["restart"].as_str(), Some("no"));
    assert_eq!(
        migrate["command"],
        serde_yaml::from_str::<serde_yaml::Value>("[node, dist/run-migrations.js]").expect("yaml")
    );
    assert_eq!(
        migrate["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert_eq!(
        api["depends_on"]["migrate"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
    for f in [
        "infra/docker-compose.staging.yml",
        "infra/.env.staging.example",
        "infra/Caddyfile",
        "infra/api.Dockerfile",
        "infra/api.Dockerfile.dockerignore",
        "infra/web.Dockerfile",
        "infra/web.Dockerfile.dockerignore",
        ".github/workflows/staging-infra.yml",
    ] {
        let text = read(&t.path().join(f)).to_ascii_lowercase();
        for word in ["cipherbox", "tee-worker", "tee_worker", "ipfs", "kubo"] {
            assert!(!text.contains(word), "{f} names {word}:\n{text}");
        }
    }
}

/// With no `api.image` in its config, the realistic fixture's image names come from its own
/// workspace (`@ledger/server` → `ledger-server`): the committed files stay fresh, and no
/// generated file (nor any other file of the monorepo) names CipherBox in any case.
#[test]
fn without_image_names_in_the_config_nothing_of_cipherbox_lands_in_the_realistic_fixture() {
    let t = fixture(REALISTIC);
    let root = t.path();
    mutate(root, "infra/stack.toml", "image = \"ledger-server\"\n", "");
    assert!(!read(&root.join("infra/stack.toml")).contains("image"));
    let r = xtask(root, &["--root", ".", "gen", "--check"]);
    assert_eq!(
        r.code,
        0,
        "derived names differ from the committed ones:\n{}",
        r.all()
    );
    let r = xtask(root, &["--root", ".", "gen", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let compose = read(&root.join("infra/docker-compose.staging.yml"));
    assert!(
        compose.contains("image: \"ghcr.io/${IMAGE_OWNER:-ledger-co}/ledger-server:${TAG:-ci}\""),
        "{compose}"
    );
    let swarm = read(&root.join("infra/docker-stack.staging.yml"));
    assert!(
        swarm.contains("node.labels.ledger.stateful == true"),
        "{swarm}"
    );
    let files = snapshot_tree(root);
    assert!(files.len() > 20, "{} files", files.len());
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        assert!(
            !text.contains("cipherbox"),
            "{} names cipherbox:\n{text}",
            path.display()
        );
    }
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_realistic_api_builds_without_build_only_files_listens_and_fails_smoke_naming_a_key_the_example_loses(
) {
    engine();
    let _lock = engine_lock();
    let t = fixture(REALISTIC);
    let tag = unique("it-realistic");
    let images: Vec<String> = vec![
        format!("ledger-server:{tag}"),
        format!("ghcr.io/ledger-co/ledger-server:{tag}"),
        "ledger-server:verify".to_string(),
    ];
    let _images = Images(images.clone());
    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 0, "{}", b.all());
    let report = build_report(&b.stdout);
    assert_image_checks_passed(&report, 12);
    // every stage of verify passes on it, the image stage included (the build is cached)
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
    let stages: Vec<(String, String)> = json_of(&v)["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or("").to_string();
            (field("name"), field("status"))
        })
        .collect();
    assert_eq!(stages.len(), 7, "{stages:?}");
    assert!(stages.iter().all(|(_, st)| st == "pass"), "{stages:?}");
    let (_, health) = smoke_check(&report["smoke"], "image/health");
    // postgres and redis started beside it, the migrations ran: terminus says healthy
    assert!(health.contains("/health -> 200 (healthy)"), "{health}");
    // build outputs carry only what runs: tsconfig.build.json writes build info, source maps
    // and declarations into dist, and the image has none of them
    let files = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "find",
        &images[0],
        "/app/apps/api/dist",
        "-type",
        "f",
    ]);
    assert_eq!(files.code, 0, "{}", files.all());
    let files: Vec<&str> = files.stdout.lines().collect();
    assert!(files.contains(&"/app/apps/api/dist/main.js"), "{files:?}");
    let build_only: Vec<&&str> = files
        .iter()
        .filter(|f| f.ends_with(".tsbuildinfo") || f.ends_with(".map") || f.ends_with(".d.ts"))
        .collect();
    assert!(build_only.is_empty(), "{build_only:?}");

    // the example loses JWT_SECRET: compose no longer gives it, the app exits at boot
    let ex = t.path().join(EXAMPLE);
    let text = read(&ex).replace("JWT_SECRET=\n", "");
    std::fs::write(&ex, text).expect("write");
    assert_eq!(xtask(t.path(), &["--root", ".", "gen"]).code, 0);
    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 1, "{}", b.all());
    let report = build_report(&b.stdout);
    // its migration validates the same config: it is the first to exit, naming the key
    let (ok, fail) = smoke_check(&report["smoke"], "image/migrate");
    assert!(
        !ok && fail.contains("the migration `node dist/run-migrations.js` exited 1 before the API started; its log names JWT_SECRET"),
        "{fail}"
    );
    let (ok, health) = smoke_check(&report["smoke"], "image/health");
    assert!(!ok && health.contains("its migration failed"), "{health}");
}

/// The realistic API made to connect to postgres at boot, before it listens (as NestJS with
/// TypeORM does by default): alone, it exits with `getaddrinfo ENOTFOUND postgres`.
fn connecting_at_boot() -> TempDir {
    let t = fixture(REALISTIC);
    let main = "apps/api/src/main.ts";
    mutate(
        t.path(),
        main,
        "import type { AppConfig } from \"./config\";\n",
        "import type { AppConfig } from \"./config\";\nimport { validate } from \"./config\";\nimport { Client } from \"pg\";\n",
    );
    mutate(
        t.path(),
        main,
        "async function bootstrap(): Promise<void> {\n",
        "async function bootstrap(): Promise<void> {\n  const pg = new Client({ ...validate(process.env).db, connectionTimeoutMillis: 5000 });\n  await pg.connect();\n  await pg.end();\n",
    );
    t
}

/// Containers and networks a smoke run left (by its label): none.
fn smoke_leftovers(network: &str) -> String {
    let ps = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=xtask.smoke={network}"),
        "--format",
        "{{.Names}}",
    ]);
    let nets = docker(&[
        "network",
        "ls",
        "--filter",
        &format!("name={network}"),
        "--format",
        "{{.Name}}",
    ]);
    format!("{}{}", ps.stdout.trim(), nets.stdout.trim())
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn an_api_connecting_to_postgres_at_boot_passes_smoke_with_its_services_and_still_fails_naming_a_missing_key(
) {
    engine();
    let _lock = engine_lock();
    let t = connecting_at_boot();
    let tag = unique("it-boot-connect");
    let _images = Images(vec![
        format!("ledger-server:{tag}"),
        format!("ghcr.io/ledger-co/ledger-server:{tag}"),
    ]);
    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 0, "{}", b.all());
    let report = build_report(&b.stdout);
    assert_image_checks_passed(&report, 15);
    let boot = &report["smoke"]["boot"];
    let services: Vec<&str> = boot["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(services, ["postgres", "redis"], "{boot:#}");
    for s in boot["services"].as_array().expect("services") {
        // a stand-in is named as such, with the real image it stands in for
        match s["source"].as_str() {
            Some("STAND-IN") => assert!(
                s["image"].as_str().is_some_and(|i| i.contains("standin"))
                    && s["stands_in_for"].is_string(),
                "{s:#}"
            ),
            Some("real") | Some("pulled") => assert!(s["stands_in_for"].is_null(), "{s:#}"),
            other => panic!("source {other:?}: {s:#}"),
        }
        assert!(s["ready_ms"].as_u64().is_some(), "{s:#}");
    }
    assert!(
        boot["not_started"].as_array().is_some_and(|a| a.is_empty()),
        "{boot:#}"
    );
    assert_eq!(boot["migrate"]["ok"], true, "{boot:#}");
    assert_eq!(boot["migrate"]["exit"], 0, "{boot:#}");
    assert_eq!(
        boot["migrate"]["command"],
        json!(["node", "dist/run-migrations.js"])
    );
    assert_eq!(boot["health_status"], 200, "{boot:#}");
    assert_eq!(boot["healthy"], true, "{boot:#}");
    for phase in ["services_ms", "migrate_ms", "health_ms"] {
        assert!(
            boot["timings"][phase].as_u64() > Some(0),
            "{phase}: {boot:#}"
        );
    }
    let network = boot["network"].as_str().expect("network").to_string();
    assert_eq!(
        smoke_leftovers(&network),
        "",
        "everything started is removed"
    );

    // Ctrl-C while the services run: the smoke test stops and removes them and its network
    let child = std::process::Command::new(xtask_bin())
        .args(["--root", ".", "smoke", "--tag", &tag, "--format", "json"])
        .current_dir(t.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("smoke runs");
    let label = format!("name=xtask-smoke-net-{}-", child.id());
    let started = std::time::Instant::now();
    while docker(&["ps", "-q", "--filter", &label])
        .stdout
        .trim()
        .is_empty()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no service started"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("smoke exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("interrupted (Ctrl-C or SIGTERM)"),
        "{stderr}"
    );
    let left = docker(&["ps", "-a", "-q", "--filter", &label]);
    let nets = docker(&["network", "ls", "-q", "--filter", &label]);
    assert_eq!(
        format!("{}{}", left.stdout.trim(), nets.stdout.trim()),
        "",
        "{stderr}"
    );

    // a module missing from the image: the boot fails naming it (the migration, first to load it)
    let derived = format!("ledger-server:{tag}-nopg");
    let _derived = Images(vec![derived.clone()]);
    let ctx = TempDir::new("boot-connect-nopg");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM ledger-server:{tag}\nUSER 0:0\nRUN rm -rf /app/apps/api/node_modules/pg\nUSER 1001:1001\n"
        ),
    )
    .expect("write");
    let d = docker(&[
        "buildx",
        "build",
        "--load",
        "-t",
        &derived,
        ctx.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(d.code, 0, "{}", d.all());
    let r = xtask(
        t.path(),
        &[
            "--root", ".", "smoke", "--image", &derived, "--format", "json",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let report = smoke_report(&r.stdout);
    let (ok, migrate) = smoke_check(&report, "image/migrate");
    assert!(
        !ok && migrate.contains("node cannot find module \"pg\""),
        "{report:#}"
    );
    let network = report["boot"]["network"].as_str().unwrap_or("");
    assert_eq!(smoke_leftovers(network), "");

    // the example loses JWT_SECRET: the smoke test fails naming it
    let ex = t.path().join("apps/api/.env.example");
    std::fs::write(&ex, read(&ex).replace("JWT_SECRET=\n", "")).expect("write");
    assert_eq!(xtask(t.path(), &["--root", ".", "gen"]).code, 0);
    let b = build_on_standin(t.path(), &tag, &["--smoke", "--format", "json"], &[]);
    assert_eq!(b.code, 1, "{}", b.all());
    let report = build_report(&b.stdout);
    let failed: Vec<String> = report["smoke"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| format!("{}: {}", c["id"], c["detail"]))
        .collect();
    assert!(
        failed
            .first()
            .is_some_and(|f| f.contains("its log names JWT_SECRET")),
        "{failed:#?}"
    );
    let network = report["smoke"]["boot"]["network"].as_str().unwrap_or("");
    assert_eq!(smoke_leftovers(network), "");
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn the_realistic_fixture_passes_verify_static() {
    verify_tools();
    let t = fixture(REALISTIC);
    let r = xtask(
        t.path(),
        &["--root", ".", "verify", "--static", "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    // named sites (the API's and the web app's): not even the wildcard-site warning
    let f = findings(&json_of(&r));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_realistic_fixture_rehearses_its_migration_then_https_health() {
    engine();
    let _lock = engine_lock();
    let t = fixture(REALISTIC);
    let r = xtask(
        t.path(),
        &["--root", ".", "rehearse", "--volumes", "--format", "json"],
    );
    let j: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e})\n{}", r.all()));
    assert_eq!(r.code, 0, "{}\n{j:#}", r.all());
    assert_eq!(j["outcome"], "pass", "{j:#}");
    let check = |id: &str| -> (bool, String) {
        let c = j["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("no check {id} in {j:#}"));
        (
            c["ok"] == true,
            c["message"].as_str().unwrap_or("").to_string(),
        )
    };
    // the migration ran to completion on the API's image, before the API started
    let ready = check("ready");
    assert!(ready.0, "{j:#}");
    assert!(
        ready.1.contains("migrate") && ready.1.contains("completed (exit code 0)"),
        "{}",
        ready.1
    );
    // HTTPS through caddy to the API's /health: 200 (terminus: the database up, which needs
    // the migrated schema)
    let https = check("https");
    assert!(
        https.0 && https.1.contains("/health → 200 via caddy"),
        "{j:#}"
    );
    // its body judged by NestJS terminus's shape (the fixture configures no [api.health.body]):
    // each check's pointer, expected and actual value as data
    assert!(check("health").0, "{j:#}");
    assert_eq!(j["health_body"]["source"], "terminus", "{j:#}");
    assert_eq!(
        body_checks(&j),
        [
            ("/status".to_string(), json!("ok"), json!("ok"), true),
            (
                "/info/database/status".to_string(),
                json!("up"),
                json!("up"),
                true
            ),
            (
                "/info/redis/status".to_string(),
                json!("up"),
                json!("up"),
                true
            ),
        ],
        "{j:#}"
    );
    // both sites by host name (curl --resolve, TLS verified): the API on its domain above,
    // the SPA on the web domain: / and a deep link are the built index.html
    assert!(
        https.1.contains("GET https://api.ledger.test:"),
        "{}",
        https.1
    );
    for (id, want) in [
        ("web-index", "GET https://app.ledger.test:"),
        (
            "web-deep-link",
            "/some/deep/route (no such file) → 200 with index.html",
        ),
        ("web-assets", "immutable"),
    ] {
        let (ok, message) = check(id);
        assert!(ok && message.contains(want), "{id}: {message}\n{j:#}");
    }
}

/// `health_body.checks` of a rehearsal report: (pointer, expected, actual, ok).
fn body_checks(j: &Value) -> Vec<(String, Value, Value, bool)> {
    j["health_body"]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no health_body.checks in {j:#}"))
        .iter()
        .map(|c| {
            (
                c["pointer"].as_str().unwrap_or("").to_string(),
                c["expected"].clone(),
                c["actual"].clone(),
                c["ok"] == true,
            )
        })
        .collect()
}

/// A migration that fails (its own code, pointed at a closed port of the real postgres by an
/// environment switch in `[api.migrate] command`) fails the rehearsal, and the report carries
/// the migration's own log lines as data; the API never starts.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn a_failing_migration_fails_the_rehearsal_with_its_own_log_lines_in_the_report() {
    engine();
    let _lock = engine_lock();
    let t = fixture(REALISTIC);
    mutate(
        t.path(),
        "infra/stack.toml",
        "command = [\"node\", \"dist/run-migrations.js\"]",
        "command = [\"env\", \"DB_PORT=1\", \"node\", \"dist/run-migrations.js\"]",
    );
    let g = xtask(t.path(), &["--root", ".", "gen"]);
    assert_eq!(g.code, 0, "{}", g.all());
    let r = xtask(
        t.path(),
        &["--root", ".", "rehearse", "--volumes", "--format", "json"],
    );
    let j: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e})\n{}", r.all()));
    assert_eq!(r.code, 1, "{}\n{j:#}", r.all());
    assert_eq!(j["outcome"], "fail", "{j:#}");
    let ready = j["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "ready"))
        .unwrap_or_else(|| panic!("no ready check in {j:#}"));
    assert_eq!(ready["ok"], false, "{j:#}");
    // the migration's own lines (run-migrations.ts: `migrations failed: <error>`), by service
    let logs = j["logs"].as_array().expect("logs");
    let migrate = logs
        .iter()
        .find(|l| l["service"] == "migrate")
        .unwrap_or_else(|| panic!("no logs of migrate in {j:#}"));
    let lines: Vec<&str> = migrate["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("migrations failed:") && l.contains("ECONNREFUSED")),
        "{lines:#?}"
    );
    // the API waited for it (service_completed_successfully) and never served: no health body
    assert!(j["health_body"].is_null(), "{j:#}");
}
