//! `cargo xtask config init` on monorepos it has never seen: what it discovers (read from its
//! `--format json` report), that `gen` then works, and that no CipherBox name is written into
//! another monorepo. The refusals (several servers, none, an empty workspace) are rows of
//! `tests/faults.rs`.

mod support;

use serde_json::Value;
use support::*;

/// A copy of `tests/fixtures/NAME` in a temp dir named after `tag`.
fn copy_of(name: &str, tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    copy_tree(&repo_root().join("tests/fixtures").join(name), t.path());
    t
}

/// A fixture copy without its config, and `config init --format json` run on it.
fn init(t: &TempDir, extra: &[&str]) -> Value {
    let _ = std::fs::remove_file(t.path().join("infra/stack.toml"));
    let mut args = vec!["config", "init", "--root", ".", "--format", "json"];
    args.extend(extra);
    let r = xtask(t.path(), &args);
    assert_eq!(r.code, 0, "{}", r.all());
    json_of(&r)
}

/// The report's entry for `key`.
fn key<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {report:#}"))
}

fn every_file(dir: &std::path::Path) -> Vec<(String, String)> {
    snapshot_tree(dir)
        .into_iter()
        .map(|(p, b)| {
            (
                p.display().to_string(),
                String::from_utf8_lossy(&b).into_owned(),
            )
        })
        .collect()
}

#[test]
fn nest_realistic_is_discovered_and_gen_names_its_api_and_no_cipherbox() {
    let t = copy_of("nest-realistic", "init-nest");
    let j = init(&t, &[]);
    assert_eq!(j["written"], true);
    assert_eq!(j["gen"], "ok", "{j:#}");
    assert_eq!(j["api"]["name"], "@ledger/server");
    assert_eq!(j["api"]["dir"], "apps/api");
    assert_eq!(j["candidates"].as_array().map(Vec::len), Some(1), "{j:#}");
    let pkg = key(&j, "api.package");
    assert_eq!(
        (&pkg["value"], &pkg["set"]),
        (&"@ledger/server".into(), &true.into())
    );
    assert!(
        pkg["reason"]
            .as_str()
            .unwrap_or("")
            .contains("@nestjs/core"),
        "{pkg}"
    );
    assert_eq!(key(&j, "api.entry")["value"], "dist/main.js");
    let svc = key(&j, "project.services");
    assert_eq!(svc["value"], serde_json::json!(["postgres", "redis"]));
    let why = svc["reason"].as_str().unwrap_or("");
    assert!(why.contains("@ledger/server depends on pg"), "{why}");
    assert!(why.contains("asks for REDIS_HOST"), "{why}");
    assert_eq!(
        key(&j, "api.migrate.command")["value"],
        serde_json::json!(["node", "dist/run-migrations.js"])
    );
    let owner = key(&j, "project.owner");
    assert_eq!(
        (&owner["value"], &owner["set"]),
        (&"OWNER".into(), &false.into())
    );
    assert_eq!(key(&j, "project.name")["value"], "ledger-staging");
    assert_eq!(key(&j, "api.image")["value"], "ledger-server");
    let web = key(&j, "web.package");
    assert_eq!(
        (&web["value"], &web["set"]),
        (&"@ledger/web".into(), &false.into())
    );
    assert!(
        web["reason"]
            .as_str()
            .unwrap_or("")
            .contains("--web-domain <host>"),
        "{web}"
    );

    let cfg = std::fs::read_to_string(t.path().join("infra/stack.toml")).expect("config");
    assert!(!cfg.to_lowercase().contains("cipherbox"), "{cfg}");
    assert!(cfg.contains("package = \"@ledger/server\""), "{cfg}");
    assert!(
        cfg.contains("# placeholder: your registry account"),
        "{cfg}"
    );

    let r = xtask(t.path(), &["gen", "--root", ".", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let dockerfile = std::fs::read_to_string(t.path().join("infra/api.Dockerfile")).expect("df");
    assert!(dockerfile.contains("@ledger/server"), "{dockerfile}");
    let compose = std::fs::read_to_string(t.path().join("infra/docker-compose.staging.yml"))
        .expect("compose");
    assert!(compose.contains("\n  migrate:"), "{compose}");
    assert!(!compose.contains("\n  ipfs:") && !compose.contains("\n  tee-worker:"));
    for (path, text) in every_file(&t.path().join("infra")) {
        assert!(
            !text.to_lowercase().contains("cipherbox"),
            "{path}:\n{text}"
        );
    }
}

#[test]
fn acme_services_is_found_by_its_start_script_and_needs_no_services() {
    let t = copy_of("acme-services", "init-acme");
    let j = init(&t, &[]);
    assert_eq!(j["gen"], "ok", "{j:#}");
    assert_eq!(j["api"]["name"], "@acme/backend");
    assert_eq!(j["api"]["dir"], "services/backend");
    let why = j["api"]["reason"].as_str().unwrap_or("");
    assert!(
        why.contains("`start` script runs `node dist/server.js`"),
        "{why}"
    );
    assert_eq!(key(&j, "api.entry")["value"], "dist/server.js");
    assert_eq!(key(&j, "project.services")["value"], serde_json::json!([]));
    assert_eq!(key(&j, "api.migrate.command")["value"], Value::Null);
    assert_eq!(key(&j, "project.name")["value"], "acme-platform-staging");
    let r = xtask(t.path(), &["gen", "--root", ".", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let compose = std::fs::read_to_string(t.path().join("infra/docker-compose.staging.yml"))
        .expect("compose");
    assert!(!compose.contains("\n  postgres:"), "{compose}");
    for (path, text) in every_file(&t.path().join("infra")) {
        assert!(
            !text.to_lowercase().contains("cipherbox"),
            "{path}:\n{text}"
        );
    }
}

/// CipherBox's own sample: the discovered config generates the committed infra/ exactly.
/// (Its committed config also has `[api.health.body]`, the rehearsal's checks of its own
/// body format: no generated file depends on it, and discovery cannot know it.)
#[test]
fn the_sample_discovers_a_config_that_generates_its_committed_infra() {
    let t = sample_copy("init-sample");
    let j = init(&t, &[]);
    assert_eq!(j["api"]["name"], "@cipherbox/api");
    assert_eq!(
        key(&j, "project.services")["value"],
        serde_json::json!(["postgres", "redis", "ipfs", "tee-worker"])
    );
    let r = xtask(t.path(), &["gen", "--check", "--root", "."]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn dry_run_writes_nothing_force_keeps_a_backup_and_repository_gives_the_owner() {
    let t = copy_of("nest-realistic", "init-opts");
    let root = t.path();
    mutate(
        root,
        "package.json",
        "\"private\": true,",
        "\"private\": true,\n  \"repository\": {\"type\": \"git\", \"url\": \"git+https://github.com/Ledger-Co/ledger.git\"},",
    );
    let old = std::fs::read_to_string(root.join("infra/stack.toml")).expect("config");
    let before = snapshot_tree(root);
    let r = xtask(root, &["config", "init", "--root", ".", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("owner = \"ledger-co\""), "{}", r.stdout);
    assert!(
        r.stderr.contains("API: @ledger/server (apps/api)"),
        "{}",
        r.stderr
    );
    assert_eq!(before, snapshot_tree(root), "--dry-run wrote something");

    let j = init_force(root);
    assert_eq!(
        j["backup"],
        root.join("infra/stack.toml.bak").display().to_string()
    );
    let owner = key(&j, "project.owner");
    assert_eq!(
        (&owner["value"], &owner["set"]),
        (&"ledger-co".into(), &true.into())
    );
    assert_eq!(
        std::fs::read_to_string(root.join("infra/stack.toml.bak")).expect("backup"),
        old
    );
    let r = xtask(root, &["config", "get", "project.owner", "--root", "."]);
    assert_eq!(r.stdout.trim(), "\"ledger-co\"", "{}", r.all());
}

fn init_force(root: &std::path::Path) -> Value {
    let r = xtask(
        root,
        &[
            "config", "init", "--root", ".", "--force", "--format", "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    json_of(&r)
}

#[test]
fn with_two_servers_api_names_the_one() {
    let t = copy_of("nest-realistic", "init-two");
    let root = t.path();
    std::fs::create_dir_all(root.join("apps/jobs")).expect("mkdir");
    std::fs::write(
        root.join("apps/jobs/package.json"),
        r#"{"name": "@ledger/jobs", "scripts": {"build": "tsc", "start:prod": "node dist/src/jobs"},
            "dependencies": {"express": "^5.0.0", "bullmq": "^5.0.0"}}"#,
    )
    .expect("write");
    let r = xtask(root, &["config", "init", "--root", ".", "--force"]);
    assert_refused(&r, &["(@ledger/server, @ledger/jobs)", "--api <name>"]);
    let j = init(&t, &["--api", "apps/jobs"]);
    assert_eq!(j["api"]["name"], "@ledger/jobs");
    assert_eq!(key(&j, "api.entry")["value"], "dist/src/jobs.js");
    assert_eq!(
        key(&j, "project.services")["value"],
        serde_json::json!(["redis"])
    );
}

/// `config set` without a config starts it as `config init` would: on another monorepo it
/// names that monorepo's API, not CipherBox's.
#[test]
fn config_set_without_a_config_starts_from_the_discovery() {
    let t = copy_of("nest-realistic", "init-set");
    let root = t.path();
    std::fs::remove_file(root.join("infra/stack.toml")).expect("rm");
    let r = xtask(
        root,
        &["config", "set", "project.owner", "ledger-co", "--root", "."],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let r = xtask(root, &["config", "get", "api.package", "--root", "."]);
    assert_eq!(r.stdout.trim(), "\"@ledger/server\"", "{}", r.all());
    let cfg = std::fs::read_to_string(root.join("infra/stack.toml")).expect("config");
    assert!(cfg.contains("owner = \"ledger-co\""), "{cfg}");
    assert!(!cfg.to_lowercase().contains("cipherbox"), "{cfg}");
}

/// `--web-domain` writes `[web]` for the web app found; gen then serves it on that domain.
#[test]
fn web_domain_writes_the_web_table_for_the_web_app_found() {
    let t = copy_of("nest-realistic", "init-web");
    let j = init(&t, &["--web-domain", "app.ledger.test"]);
    assert_eq!(j["gen"], "ok", "{j:#}");
    let web = key(&j, "web.package");
    assert_eq!(
        (&web["value"], &web["set"]),
        (&"@ledger/web".into(), &true.into())
    );
    assert!(
        web["reason"]
            .as_str()
            .unwrap_or("")
            .contains("apps/web/src/index.html"),
        "{web}"
    );
    assert_eq!(key(&j, "web.domain")["value"], "app.ledger.test");
    let r = xtask(t.path(), &["config", "get", "web.package", "--root", "."]);
    assert_eq!(r.stdout.trim(), "\"@ledger/web\"", "{}", r.all());
    let r = xtask(t.path(), &["gen", "--root", ".", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let caddy = std::fs::read_to_string(t.path().join("infra/Caddyfile")).expect("Caddyfile");
    assert!(caddy.contains("app.ledger.test"), "{caddy}");
    let df = std::fs::read_to_string(t.path().join("infra/web.Dockerfile")).expect("web df");
    assert!(df.contains("@ledger/web"), "{df}");
}

fn write(root: &std::path::Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn reason(k: &Value) -> &str {
    k["reason"].as_str().unwrap_or("")
}

/// nest-realistic without its migrations (no `migrate` script, no runner).
fn without_migrations(tag: &str) -> TempDir {
    let t = copy_of("nest-realistic", tag);
    mutate(
        t.path(),
        "apps/api/package.json",
        ",\n    \"migrate\": \"node dist/run-migrations.js\"",
        "",
    );
    std::fs::remove_file(t.path().join("apps/api/src/run-migrations.ts")).expect("rm");
    t
}

/// `migration:run` runs the TypeORM CLI on a TypeScript data source (not runnable in the
/// image): the runner beside the entry is used, and the reason says why the script is not;
/// without the runner, the TypeORM CLI on the built data source is suggested, not set.
#[test]
fn a_typeorm_migration_script_gives_way_to_the_runner_else_is_suggested_built() {
    let t = copy_of("nest-realistic", "init-typeorm");
    mutate(
        t.path(),
        "apps/api/package.json",
        "\"migrate\": \"node dist/run-migrations.js\"",
        "\"typeorm\": \"typeorm-ts-node-commonjs\",\n    \"migration:run\": \"pnpm typeorm migration:run -d src/data-source.ts\"",
    );
    let j = init(&t, &[]);
    let m = key(&j, "api.migrate.command");
    assert_eq!(
        (&m["value"], &m["set"]),
        (
            &serde_json::json!(["node", "dist/run-migrations.js"]),
            &true.into()
        )
    );
    let why = reason(m);
    assert!(
        why.contains("its `migration:run` script is \"pnpm typeorm migration:run -d src/data-source.ts\": the image cannot run it as written")
            && why.contains("apps/api/src/run-migrations.ts is a migrations runner"),
        "{why}"
    );
    assert_eq!(j["gen"], "ok", "{j:#}");

    std::fs::remove_file(t.path().join("apps/api/src/run-migrations.ts")).expect("rm");
    let j = init(&t, &[]);
    let m = key(&j, "api.migrate.command");
    assert_eq!((&m["value"], &m["set"]), (&Value::Null, &false.into()));
    assert_eq!(
        m["suggested"],
        serde_json::json!([
            "node",
            "node_modules/typeorm/cli.js",
            "migration:run",
            "-d",
            "dist/data-source.js"
        ])
    );
    assert!(reason(m).contains("config set api.migrate.command"), "{m}");
}

/// Migrations in a workspace library, or in `scripts/migrate.mjs`: reported with the command
/// to use, not set.
#[test]
fn library_and_script_file_migrations_are_reported_not_set() {
    let t = without_migrations("init-libmig");
    write(
        t.path(),
        "apps/db/package.json",
        r#"{"name": "@ledger/db", "main": "dist/index.js",
            "scripts": {"build": "tsc", "migration:up": "typeorm migration:run -d src/data-source.ts"}}"#,
    );
    let j = init(&t, &[]);
    let m = key(&j, "api.migrate.command");
    assert_eq!((&m["value"], &m["set"]), (&Value::Null, &false.into()));
    assert_eq!(
        m["suggested"][4], "../../apps/db/dist/data-source.js",
        "{m}"
    );
    let why = reason(m);
    assert!(
        why.contains("the library @ledger/db (apps/db): its `migration:up` script")
            && why.contains("not a runtime dependency of the API"),
        "{why}"
    );

    let t = without_migrations("init-scriptmig");
    write(t.path(), "scripts/migrate.mjs", "// runs the migrations\n");
    let j = init(&t, &[]);
    let m = key(&j, "api.migrate.command");
    assert_eq!((&m["value"], &m["set"]), (&Value::Null, &false.into()));
    assert!(
        reason(m).starts_with("scripts/migrate.mjs is a migrations script; not set"),
        "{m}"
    );
    assert_eq!(j["gen"], "ok", "{j:#}");
}

/// A commented-out `# IPFS_LOCAL_API_URL=http://localhost:5001` names ipfs; gen wires the key
/// to the stack's ipfs (it would else stay unset, and the app's localhost default would be
/// the API's own container).
#[test]
fn a_commented_service_url_proposes_the_service_and_gen_wires_it() {
    let t = copy_of("nest-realistic", "init-ipfs");
    let ex = t.path().join("apps/api/.env.example");
    let mut text = std::fs::read_to_string(&ex).expect("example");
    text.push_str(
        "# IPFS node (local kubo by default)\n# IPFS_LOCAL_API_URL=http://localhost:5001\n",
    );
    std::fs::write(&ex, text).expect("write");
    let j = init(&t, &[]);
    let svc = key(&j, "project.services");
    assert_eq!(
        svc["value"],
        serde_json::json!(["postgres", "redis", "ipfs"])
    );
    assert!(
        reason(svc)
            .contains("ipfs: apps/api/.env.example:33 asks for IPFS_LOCAL_API_URL (commented out"),
        "{svc}"
    );
    assert_eq!(j["gen"], "ok", "{j:#}");
    let r = xtask(t.path(), &["gen", "--root", ".", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let compose = std::fs::read_to_string(t.path().join("infra/docker-compose.staging.yml"))
        .expect("compose");
    assert!(
        compose.contains("IPFS_LOCAL_API_URL: \"http://ipfs:5001\""),
        "{compose}"
    );
}

/// A `tee-worker/` outside the workspace globs, and a URL key the API's code defaults to
/// localhost (not in its env example): tee-worker is proposed with both reasons, and the key
/// is listed in [api.env] so that gen wires it.
#[test]
fn a_tee_worker_outside_the_globs_and_a_code_default_propose_it_and_wire_the_key() {
    let t = copy_of("nest-realistic", "init-tee");
    write(
        t.path(),
        "tee-worker/package.json",
        r#"{"name": "tee-worker", "scripts": {"start": "node index.js"}}"#,
    );
    write(
        t.path(),
        "apps/api/src/tee.ts",
        "export const teeUrl = process.env.TEE_WORKER_URL ?? 'http://localhost:3001';\n",
    );
    let j = init(&t, &[]);
    let svc = key(&j, "project.services");
    assert_eq!(
        svc["value"],
        serde_json::json!(["postgres", "redis", "tee-worker"])
    );
    let why = reason(svc);
    assert!(
        why.contains("tee-worker/ has a package.json but is outside pnpm-workspace.yaml's globs")
            && why.contains(
                "apps/api/src/tee.ts:1 defaults TEE_WORKER_URL to \"http://localhost:3001\""
            ),
        "{why}"
    );
    let env = key(&j, "api.env.TEE_WORKER_URL");
    assert_eq!(
        (&env["value"]["optional"], &env["set"]),
        (&true.into(), &true.into())
    );
    assert_eq!(j["gen"], "ok", "{j:#}");
    let r = xtask(
        t.path(),
        &[
            "config",
            "get",
            "api.env.TEE_WORKER_URL.optional",
            "--root",
            ".",
        ],
    );
    assert_eq!(r.stdout.trim(), "true", "{}", r.all());
    let r = xtask(t.path(), &["gen", "--root", ".", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let compose = std::fs::read_to_string(t.path().join("infra/docker-compose.staging.yml"))
        .expect("compose");
    assert!(
        compose.contains("TEE_WORKER_URL: \"http://tee-worker:3001\""),
        "{compose}"
    );
}

/// `config set` reaches [api.env], [api.health] and [api.migrate]; `config get` reads them
/// back and `config keys` lists them; gen takes the result.
#[test]
fn config_set_reaches_the_api_env_health_and_migrate_keys() {
    let t = copy_of("nest-realistic", "init-setapi");
    let root = t.path();
    let set = |k: &str, v: &str| {
        let r = xtask(root, &["config", "set", k, v, "--root", "."]);
        assert_eq!(r.code, 0, "{k} {v}: {}", r.all());
    };
    let get = |k: &str| {
        xtask(root, &["config", "get", k, "--root", "."])
            .stdout
            .trim()
            .to_string()
    };
    set("api.env.STORAGE_DRIVER", "s3");
    set("api.env.SESSION_KEY.secret", "true");
    set("api.env.SESSION_KEY.format", "hex:32");
    set("api.health.path", "/api/health");
    set("api.health.status", "204");
    set("api.health.body./status", "ok");
    set("api.migrate.command", "[\"node\", \"dist/migrate.js\"]");
    assert_eq!(get("api.env.STORAGE_DRIVER"), "{ value = \"s3\" }");
    assert_eq!(get("api.env.SESSION_KEY.format"), "\"hex:32\"");
    assert_eq!(get("api.health.path"), "\"/api/health\"");
    assert_eq!(get("api.health.body./status"), "\"ok\"");
    assert_eq!(
        get("api.migrate.command"),
        "[\"node\", \"dist/migrate.js\"]"
    );
    let cfg = std::fs::read_to_string(root.join("infra/stack.toml")).expect("config");
    assert!(
        cfg.contains("SESSION_KEY = { secret = true, format = \"hex:32\" }"),
        "{cfg}"
    );
    let keys = xtask(root, &["config", "keys", "--root", "."]).stdout;
    for k in [
        "api.env.<NAME>.secret",
        "api.health.path",
        "api.migrate.command",
    ] {
        assert!(keys.lines().any(|l| l == k), "{k} not in:\n{keys}");
    }
    let r = xtask(root, &["gen", "--root", ".", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let compose =
        std::fs::read_to_string(root.join("infra/docker-compose.staging.yml")).expect("compose");
    assert!(compose.contains("STORAGE_DRIVER: s3"), "{compose}");
    assert!(
        compose.contains("command: [\"node\", \"dist/migrate.js\"]"),
        "{compose}"
    );
}

/// `config set web.domain` on the config `config init` wrote without `--web-domain`: the web
/// app it found (named in the commented `[web]` block) becomes `[web]` on that domain, as
/// `--web-domain` would have written it; gen then serves it.
#[test]
fn config_set_web_domain_writes_the_web_table_for_the_web_app_found() {
    let t = copy_of("nest-realistic", "init-set-web");
    let j = init(&t, &[]);
    assert_eq!(key(&j, "web.package")["set"], false, "{j:#}");
    let r = xtask(
        t.path(),
        &[
            "config",
            "set",
            "web.domain",
            "app.ledger.test",
            "--root",
            ".",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    for (k, want) in [
        ("web.package", "\"@ledger/web\""),
        ("web.domain", "\"app.ledger.test\""),
    ] {
        let r = xtask(t.path(), &["config", "get", k, "--root", "."]);
        assert_eq!(r.stdout.trim(), want, "{}", r.all());
    }
    // the same file as `config init --web-domain` writes
    let set = std::fs::read_to_string(t.path().join("infra/stack.toml")).expect("config");
    init(&t, &["--web-domain", "app.ledger.test"]);
    let by_init = std::fs::read_to_string(t.path().join("infra/stack.toml")).expect("config");
    assert_eq!(set, by_init);
    let r = xtask(t.path(), &["gen", "--root", ".", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let caddy = std::fs::read_to_string(t.path().join("infra/Caddyfile")).expect("Caddyfile");
    assert!(caddy.contains("app.ledger.test"), "{caddy}");
}

/// The nest-boot fixture (committed without a config): its API found by its `start` script, the
/// services it connects to at boot, the compiled migrations runner beside the entry (its
/// `migration:run` is a ts-node command the image cannot run), its owner from `repository`,
/// and its health route (`/api/healthz`, not `/health`) from its sources.
#[test]
fn nest_boot_is_discovered_with_its_runner_and_its_health_route() {
    let t = copy_of("nest-boot", "init-boot");
    assert!(
        !t.path().join("infra/stack.toml").exists(),
        "nest-boot is committed without a config: the acceptance starts from a fresh clone"
    );
    let j = init(&t, &[]);
    assert_eq!(j["gen"], "ok", "{j:#}");
    assert_eq!(j["api"]["name"], "@orbit/api");
    assert_eq!(key(&j, "api.entry")["value"], "dist/main.js");
    let svc = key(&j, "project.services")["value"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for s in ["postgres", "redis"] {
        assert!(svc.contains(&s.into()), "{j:#}");
    }
    assert_eq!(
        key(&j, "api.migrate.command")["value"],
        serde_json::json!(["node", "dist/run-migrations.js"])
    );
    assert_eq!(key(&j, "project.owner")["value"], "orbit-labs");
    let health = key(&j, "api.health.path");
    assert_eq!(
        (&health["value"], &health["set"]),
        (&"/api/healthz".into(), &true.into()),
        "{health}"
    );
    assert!(
        health["reason"]
            .as_str()
            .unwrap_or("")
            .contains("apps/api/src/main.ts:"),
        "{health}"
    );
    // NestJS: @Controller("health") without a global prefix is /health
    let r = copy_of("nest-realistic", "init-health");
    let j = init(&r, &[]);
    let health = key(&j, "api.health.path");
    assert_eq!(health["value"], "/health", "{health}");
    assert!(
        health["reason"]
            .as_str()
            .unwrap_or("")
            .contains("apps/api/src/health.controller.ts:5"),
        "{health}"
    );
}

/// Issue 21 (a): the ORM library's generator, what it writes, its migrations and its CLI are
/// found through the general rules (a `db:generate` script, `package.json#quill`, a migrate
/// script running the library's own bin), and gen runs the generator before the first
/// package build and carries the client and the migrations into the runtime stage.
#[test]
fn an_orm_library_gives_the_generator_the_runtime_files_and_the_migrate_service() {
    let t = copy_of("orm-codegen", "init-orm");
    let j = init(&t, &[]);
    assert_eq!(j["gen"], "ok", "{j:#}");
    let g = key(&j, "api.generate.packages/db");
    assert_eq!(
        (&g["value"], &g["set"]),
        (&"db:generate".into(), &true.into())
    );
    assert!(reason(g).contains("the root's `prebuild` runs it"), "{g}");
    let files = key(&j, "api.runtime_files");
    assert_eq!(
        files["value"],
        serde_json::json!([
            "packages/db/node_modules/.quill/client",
            "packages/db/migrations"
        ])
    );
    let m = key(&j, "api.migrate.command");
    assert_eq!(
        m["value"],
        serde_json::json!([
            "node",
            "../../packages/db/bin/quill.js",
            "migrate",
            "deploy"
        ])
    );
    assert_eq!(m["set"], true);
    let g = xtask(t.path(), &["--root", ".", "gen"]);
    assert_eq!(g.code, 0, "{}", g.all());
    let df = std::fs::read_to_string(t.path().join("infra/api.Dockerfile")).expect("Dockerfile");
    let at = |s: &str| {
        df.find(s)
            .unwrap_or_else(|| panic!("no {s:?} in the Dockerfile:\n{df}"))
    };
    assert!(
        at("RUN pnpm --filter \"@inkwell/db\" run db:generate")
            < at("RUN cd packages/db && node --run build")
    );
    assert!(at("FROM ${NODE_IMAGE} AS runtime") < at(
        "COPY --from=build /app/packages/db/node_modules/.quill/client ./packages/db/node_modules/.quill/client"
    ));
    at("COPY --from=build /app/packages/db/migrations ./packages/db/migrations");
    // the committed fixture is what a fresh clone gets (with the domain set)
    let r = xtask(
        t.path(),
        &[
            "--root",
            ".",
            "config",
            "set",
            "caddy.domains",
            "api.inkwell.test",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(xtask(t.path(), &["--root", ".", "gen"]).code, 0);
    let committed = repo_root().join("tests/fixtures/orm-codegen/infra");
    let rel = |dir: &std::path::Path| -> Vec<(String, String)> {
        let prefix = dir.display().to_string();
        every_file(dir)
            .into_iter()
            .map(|(p, text)| (p.trim_start_matches(&prefix).to_string(), text))
            .collect()
    };
    let (ours, theirs) = (rel(&t.path().join("infra")), rel(&committed));
    assert_eq!(
        ours.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        theirs.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for ((p, a), (_, b)) in ours.iter().zip(&theirs) {
        assert!(
            a == b,
            "infra{p} differs: regenerate tests/fixtures/orm-codegen/infra"
        );
    }
}
