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
