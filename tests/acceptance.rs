//! Issue 20's acceptance, on the real binary and the real engine: from a fresh clone (no
//! `infra/stack.toml`), `config init` plus `config set` of the domains only, then `env init`,
//! `gen`, `verify` (every stage, the image stage included, with the env file `env init`
//! wrote) and `rehearse` all pass, with no hand edit of the config. One test per monorepo:
//! `tests/fixtures/nest-boot` (an API that connects at boot and exits on failure, a base64
//! RSA key, a key required in production, a ts-node migration script beside a compiled
//! runner, localhost public URLs, empty optional keys), `tests/fixtures/nest-realistic` and
//! the sample (this repository); and issue 21's `tests/fixtures/vite-env` (a Vite-style SPA
//! whose build requires `VITE_API_URL`). Every assertion reads a `--format json` report; a failure
//! names the step (`step 3/6 env init`) and shows that step's output.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

/// One monorepo of the acceptance and the domains its user sets (the only `config set`).
struct Case {
    what: &'static str,
    api_domain: &'static str,
    /// Set as `web.domain` when `config init` found a web app.
    web_domain: &'static str,
    /// What `env init` cannot know and lists as `to_fill` (the user writes it into the file).
    to_fill: &'static [&'static str],
    /// The API's contract has secrets (then none of their values may reach an output).
    has_secrets: bool,
}

const STEPS: usize = 6;

/// Fails the test at step `n` unless `r` exited 0, showing the step's output.
fn step_passed(case: &Case, n: usize, name: &str, r: &Run) {
    assert_eq!(
        r.code,
        0,
        "{}: step {n}/{STEPS} `{name}` failed (exit {}):\n{}",
        case.what,
        r.code,
        r.all()
    );
}

/// stdout of step `n` as its JSON report.
fn report(case: &Case, n: usize, name: &str, r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: step {n}/{STEPS} `{name}` printed no JSON report ({e}), exit {}:\n{}",
            case.what,
            r.code,
            r.all()
        )
    })
}

/// `config init`'s entry for `key`: its value.
fn init_value<'a>(init: &'a Value, key: &str) -> &'a Value {
    init["keys"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["key"] == key))
        .map(|k| &k["value"])
        .unwrap_or_else(|| panic!("no {key} in the config init report:\n{init:#}"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The keys `.env.staging.example` lists as secrets (its `# --- secrets` group).
fn secret_keys(example: &str) -> Vec<String> {
    let mut in_secrets = false;
    let mut out = Vec::new();
    for line in example.lines() {
        if let Some(group) = line.strip_prefix("# --- ") {
            in_secrets = group.starts_with("secrets");
        } else if in_secrets && !line.starts_with('#') {
            if let Some((k, _)) = line.split_once('=') {
                out.push(k.trim().to_string());
            }
        }
    }
    out
}

/// The value of `key` in an env file (`KEY=value`, quotes dropped).
fn env_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches(['"', '\'']).to_string())
}

/// Writes a value for each of `keys` into the env file, as the user would: a URL for a key
/// that names one (a web app hosted elsewhere), else a plain setting. The file keeps its mode.
fn fill(env_file: &Path, keys: &[String], api_domain: &str) {
    let text = read(env_file);
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split_once('=').map(|(k, _)| k.trim());
        match key.filter(|k| keys.iter().any(|want| want == k)) {
            Some(k) if k.ends_with("_URL") || k.contains("ORIGIN") => {
                out.push_str(&format!("{k}=https://web.{api_domain}\n"))
            }
            Some(k) => out.push_str(&format!("{k}=staging-{}\n", k.to_lowercase())),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    std::fs::write(env_file, out).expect("write the filled env file");
}

/// The whole path of issue 20 on `root`, a fresh copy of the case's monorepo.
fn accept(case: &Case, root: &Path) {
    engine();
    verify_tools();
    let _lock = engine_lock();
    // a fresh clone: the config is what `config init` discovers, nothing committed
    let config = root.join("infra/stack.toml");
    let _ = std::fs::remove_file(&config);

    // 1. config init
    let r = xtask(root, &["--root", ".", "config", "init", "--format", "json"]);
    step_passed(case, 1, "config init", &r);
    let init = report(case, 1, "config init", &r);
    assert_eq!(init["written"], true, "{}: {init:#}", case.what);
    assert_eq!(init["gen"], "ok", "{}: {init:#}", case.what);
    let image = init_value(&init, "api.image")
        .as_str()
        .unwrap_or_else(|| panic!("{}: api.image is not a string: {init:#}", case.what))
        .to_string();
    let _images = Images(vec![format!("{image}:verify")]);

    // 2. config set: the domains, and nothing else
    let r = xtask(
        root,
        &[
            "--root",
            ".",
            "config",
            "set",
            "caddy.domains",
            case.api_domain,
        ],
    );
    step_passed(case, 2, "config set caddy.domains", &r);
    if init_value(&init, "web.package").is_string() {
        let r = xtask(
            root,
            &[
                "--root",
                ".",
                "config",
                "set",
                "web.domain",
                case.web_domain,
            ],
        );
        step_passed(case, 2, "config set web.domain", &r);
    }
    let configured = read(&config);

    // 3. env init: a real .env.staging, every secret generated in its format, mode 0600
    let env_file = root.join("infra/.env.staging");
    let env_arg = env_file.to_str().expect("utf-8 path");
    let r = xtask(
        root,
        &[
            "--root", ".", "env", "init", "--out", env_arg, "--format", "json",
        ],
    );
    step_passed(case, 3, "env init", &r);
    let env_report = report(case, 3, "env init", &r);
    let mode = std::fs::metadata(&env_file)
        .unwrap_or_else(|e| panic!("{}: env init wrote no {env_arg}: {e}", case.what))
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "{}: {env_arg} is readable by others",
        case.what
    );
    let mut outputs = vec![r.all()];
    // what only the user knows (a client id, the URL of a web app hosted elsewhere): env init
    // lists it as to fill, and the user writes it into .env.staging, never into the config
    let to_fill: Vec<String> = env_report["to_fill"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no to_fill in {env_report:#}", case.what))
        .iter()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    assert_eq!(
        to_fill, case.to_fill,
        "{}: env init leaves other keys to fill than expected: {env_report:#}",
        case.what
    );
    fill(&env_file, &to_fill, case.api_domain);

    // 4. gen
    let r = xtask(root, &["--root", ".", "gen"]);
    step_passed(case, 4, "gen", &r);
    outputs.push(r.all());
    let env_text = read(&env_file);
    let secrets: Vec<(String, String)> =
        secret_keys(&read(&root.join("infra/.env.staging.example")))
            .into_iter()
            .map(|k| {
                let v = env_value(&env_text, &k).unwrap_or_else(|| {
                    panic!("{}: env init did not set the secret {k}", case.what)
                });
                (k, v)
            })
            .collect();
    assert_eq!(
        !secrets.is_empty(),
        case.has_secrets,
        "{}: secrets in the contract",
        case.what
    );

    // 5. verify: every stage, the image one included, and the env file against the contract
    let r = xtask(
        root,
        &[
            "--root",
            ".",
            "verify",
            "--node-image",
            "standin",
            "--env-file",
            env_arg,
            "--format",
            "json",
        ],
    );
    let v = report(case, 5, "verify", &r);
    outputs.push(r.all());
    let stages: Vec<(String, String, String)> = v["stages"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no stages in {v:#}", case.what))
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap_or("").to_string();
            (field("name"), field("status"), field("detail"))
        })
        .collect();
    let names: Vec<&str> = stages.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["fresh", "rules", "compose", "caddy", "workflow", "hadolint", "image"],
        "{}: {v:#}",
        case.what
    );
    let not_passed: Vec<&(String, String, String)> =
        stages.iter().filter(|(_, st, _)| st != "pass").collect();
    assert!(
        not_passed.is_empty(),
        "{}: step 5/{STEPS} `verify`: stages not passed {not_passed:#?}\nfindings: {:#}\n{}",
        case.what,
        v["findings"],
        r.stderr
    );
    assert_eq!(v["result"], "pass", "{}: {v:#}", case.what);
    step_passed(case, 5, "verify", &r);

    // 6. rehearse: the stack as generated, stand-ins for the services
    let r = xtask(
        root,
        &[
            "--root",
            ".",
            "rehearse",
            "--node-image",
            "standin",
            "--volumes",
            "--format",
            "json",
        ],
    );
    let j = report(case, 6, "rehearse", &r);
    outputs.push(r.all());
    let failed: Vec<(String, String)> = j["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no checks in {j:#}", case.what))
        .iter()
        .filter(|c| c["ok"] != true)
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_string(),
                c["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{}: step 6/{STEPS} `rehearse`: checks failed {failed:#?}\nlogs: {:#}",
        case.what,
        j["logs"]
    );
    assert_eq!(j["outcome"], "pass", "{}: {j:#}", case.what);
    for id in ["ready", "https", "health", "down"] {
        assert!(
            j["checks"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["id"] == id)),
            "{}: no {id} check in {j:#}",
            case.what
        );
    }
    step_passed(case, 6, "rehearse", &r);

    // no hand edit: the config is still what init and the domains made of it
    assert_eq!(
        read(&config),
        configured,
        "{}: a step edited infra/stack.toml",
        case.what
    );
    // the env file's values never reach an output
    for (key, value) in secrets.iter().filter(|(_, v)| v.len() >= 16) {
        for out in &outputs {
            assert!(
                !out.contains(value.as_str()),
                "{}: the value of {key} was printed",
                case.what
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine and the verify tools: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_boot_fixture_passes_from_a_fresh_clone() {
    let t = fixture("nest-boot");
    let case = Case {
        what: "nest-boot",
        api_domain: "api.orbit.test",
        web_domain: "app.orbit.test",
        to_fill: &["GOOGLE_CLIENT_ID", "WEB_APP_URL"],
        has_secrets: true,
    };
    accept(&case, t.path());
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine and the verify tools: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_realistic_fixture_passes_from_a_fresh_clone() {
    let t = fixture("nest-realistic");
    let case = Case {
        what: "nest-realistic",
        api_domain: "api.ledger.test",
        web_domain: "app.ledger.test",
        to_fill: &[],
        has_secrets: true,
    };
    accept(&case, t.path());
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine and the verify tools: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_sample_passes_from_a_fresh_clone() {
    let t = sample_copy("accept-sample");
    let case = Case {
        what: "sample",
        api_domain: "api.cipherbox.test",
        web_domain: "app.cipherbox.test",
        to_fill: &[],
        has_secrets: true,
    };
    accept(&case, t.path());
}

/// Issue 21's acceptance (c): a Vite-style SPA whose production build requires a public
/// build variable (`VITE_API_URL`, from its own `.env.example`): derived from the API's
/// domain, with no TOML edit, built on the Node STAND-IN when the real base is not local.
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine and the verify tools: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_vite_env_fixture_passes_from_a_fresh_clone() {
    let t = fixture("vite-env");
    let case = Case {
        what: "vite-env",
        api_domain: "api.shop.test",
        web_domain: "app.shop.test",
        to_fill: &[],
        has_secrets: true,
    };
    accept(&case, t.path());
}

/// Issue 21's acceptance (a): an API whose workspace library owns an ORM schema, a generator
/// (`db:generate`, run by the root's `prebuild`) that writes the client into
/// `node_modules/.quill/client`, and migrations applied by the ORM's CLI (`quill migrate
/// deploy`): config init finds the generator, the runtime files and the migrate service; the
/// image runs the generator before the builds and carries the client and the migrations (the
/// API requires the client at boot: the smoke test and the rehearsal prove it is there).
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine and the verify tools: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_orm_codegen_fixture_passes_from_a_fresh_clone() {
    let t = fixture("orm-codegen");
    let case = Case {
        what: "orm-codegen",
        api_domain: "api.inkwell.test",
        web_domain: "app.inkwell.test",
        to_fill: &[],
        has_secrets: true,
    };
    accept(&case, t.path());
    let cfg = read(&t.path().join("infra/stack.toml"));
    for want in [
        "\"packages/db\" = \"db:generate\"",
        "runtime_files = [\"packages/db/node_modules/.quill/client\", \"packages/db/migrations\"]",
        "command = [\"node\", \"../../packages/db/bin/quill.js\", \"migrate\", \"deploy\"]",
    ] {
        assert!(cfg.contains(want), "config init did not set {want}:\n{cfg}");
    }
}

/// Issue 21's acceptance (b): a workspace whose `.npmrc` says `node-linker=hoisted`, with an
/// unrelated app beside the API: the image installs the API's closure alone (isolated), and
/// the whole path passes with no TOML edit (`tests/layout.rs` checks the image's contents).
#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine and the verify tools: runs under CI=true or XTASK_TESTS=engine"
)]
fn the_hoisted_fixture_passes_from_a_fresh_clone() {
    let t = fixture("hoisted");
    let case = Case {
        what: "hoisted",
        api_domain: "api.hoisted.test",
        web_domain: "app.hoisted.test",
        to_fill: &[],
        has_secrets: false,
    };
    accept(&case, t.path());
}
