//! The invariant of issue 20: `gen` never writes what `verify` rejects. For the sample at the
//! repo root and every fixture under tests/fixtures/ (a new fixture is covered by being
//! there), in a temporary copy: with the fixture's own config, then `config init --force`
//! with and without `[caddy] domains` and with and without `[web]`, the API's env example
//! extended with the shapes real NestJS APIs have (dev values, empty values, keys required
//! in production, a secret of a format): `gen` + `verify --static --format json` report no
//! error finding.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

/// The env example shapes of issue 20 (four real pnpm monorepos with NestJS APIs).
const SHAPES: &str = "
# --- issue 20 shapes
WEB_APP_URL=http://localhost:5173
CORS_ALLOWED_ORIGINS=http://localhost:5173,http://localhost:3000
APP_URL=http://localhost:5173
SIWE_DOMAIN=localhost
SMTP_HOST=localhost
MAIL_URL=smtp://localhost:1025
MAILER_HOST=mailhog
ELASTIC_URL=http://elasticsearch:9200
DATABASE_CA=
LOG_LEVEL=
# Google OAuth: required in production
# GOOGLE_CLIENT_ID=
# GOOGLE_CLIENT_SECRET= # required in production
# RS256 private key for identity tokens (PKCS8 PEM, base64-encoded)
IDENTITY_JWT_PRIVATE_KEY=
# Generate with: openssl rand -hex 32
SESSION_SECRET=
";

/// Every monorepo the tests keep: the sample (the repo root) and each fixture directory that
/// is a pnpm monorepo (has a pnpm-workspace.yaml; a fixture of a single file set is not).
fn monorepos() -> Vec<(String, TempDir)> {
    let mut out = vec![("sample".to_string(), sample_copy("invariant-sample"))];
    let dir = repo_root().join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("pnpm-workspace.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixture under {}", dir.display());
    for n in names {
        let t = fixture(&n);
        out.push((n, t));
    }
    out
}

/// The error findings of `gen` + `verify --static` in `root` (each as `rule file:line message`);
/// `None` when gen refuses the config (exit 2, one `error:` naming what to set): it then
/// writes nothing, so nothing can be rejected.
fn gen_then_verify(root: &Path, what: &str) -> Option<Vec<String>> {
    let g = xtask(root, &["--root", ".", "gen", "--force"]);
    if g.code == 2 && g.stderr.starts_with("error: ") && g.stderr.contains("set") {
        eprintln!("{what}: gen refuses: {}", g.stderr.trim());
        return None;
    }
    assert_eq!(g.code, 0, "{what}: gen:\n{}", g.all());
    let r = xtask(
        root,
        &["--root", ".", "verify", "--static", "--format", "json"],
    );
    let j = json_of(&r);
    let mut errors: Vec<String> = j["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "warning")
        .map(|f| {
            format!(
                "{what}: {} {}:{} {}",
                f["rule"].as_str().unwrap_or(""),
                f["file"].as_str().unwrap_or(""),
                f["line"],
                f["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    for s in j["stages"].as_array().expect("stages") {
        let status = s["status"].as_str().unwrap_or("");
        if !matches!(status, "pass" | "skipped") {
            errors.push(format!("{what}: stage {} is {status}: {s}", s["name"]));
        }
    }
    Some(errors)
}

/// `config init --force` (with `--web-domain` for a web variant); `None` when the monorepo
/// has no web app for a web variant.
fn init(root: &Path, web: bool, what: &str) -> Option<Value> {
    let mut args = vec![
        "--root", ".", "config", "init", "--force", "--format", "json",
    ];
    if web {
        args.extend(["--web-domain", "app.example.test"]);
    }
    let r = xtask(root, &args);
    if web
        && r.code == 2
        && r.stderr
            .contains("no workspace package looks like a static web app")
    {
        return None;
    }
    assert_eq!(r.code, 0, "{what}: config init:\n{}", r.all());
    Some(json_of(&r))
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl, docker compose, actionlint, zizmor, hadolint: runs under CI=true or XTASK_TESTS=tools"
)]
fn gen_never_writes_what_verify_rejects() {
    verify_tools();
    let mut errors = Vec::new();
    let mut runs = 0;
    let mut web_runs = 0;
    for (name, t) in monorepos() {
        let root = t.path();
        // a fixture meant for `config init` has no config of its own
        let mut verified = 0;
        if root.join("infra/stack.toml").is_file() {
            let own = gen_then_verify(root, &format!("{name} (its own config)"));
            assert!(
                own.is_some(),
                "{name}: gen refuses the fixture's own config"
            );
            errors.extend(own.into_iter().flatten());
            verified += 1;
        }
        for web in [false, true] {
            for domains in [false, true] {
                let what = format!("{name} (config init, web={web}, caddy.domains={domains})");
                let Some(report) = init(root, web, &what) else {
                    continue;
                };
                if domains {
                    let s = xtask(
                        root,
                        &[
                            "--root",
                            ".",
                            "config",
                            "set",
                            "caddy.domains",
                            "api.example.test",
                        ],
                    );
                    assert_eq!(s.code, 0, "{what}: config set:\n{}", s.all());
                }
                let dir = report["api"]["dir"].as_str().expect("api.dir").to_string();
                let example = root.join(&dir).join(".env.example");
                let before = std::fs::read_to_string(&example).unwrap_or_default();
                std::fs::write(&example, format!("{before}{SHAPES}")).expect("extend the example");
                let found = gen_then_verify(root, &what);
                std::fs::write(&example, &before).expect("restore the example");
                if let Some(found) = found {
                    errors.extend(found);
                    verified += 1;
                    web_runs += usize::from(web);
                }
            }
        }
        assert!(
            verified >= 2,
            "{name}: only {verified} variant(s) got through gen"
        );
        runs += verified;
    }
    assert!(
        web_runs >= 2,
        "no monorepo had a web app: the [web] variants never ran"
    );
    assert!(
        errors.is_empty(),
        "{} error(s) in {runs} runs:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// `KEY=value` lines of an env file (quotes removed).
fn env_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(['"', '\'']).to_string()))
        .collect()
}

/// From the API's example to the real env file: the formats the example's comments say reach
/// `env init` (an RSA PKCS8 PEM, base64-encoded; `openssl rand -hex 32`), a key the example
/// leaves empty stays empty, and a dev value is left to fill, never copied.
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs openssl (env init makes PEM keys with it): runs under CI=true or XTASK_TESTS=tools"
)]
fn the_example_s_words_reach_the_real_env_file() {
    tool("openssl", &["version"], "apt-get install openssl");
    let t = sample_copy("invariant-env-init");
    let root = t.path();
    let example = root.join("apps/api/.env.example");
    let before = std::fs::read_to_string(&example).expect("example");
    std::fs::write(&example, format!("{before}{SHAPES}")).expect("extend the example");
    let g = xtask(root, &["--root", ".", "gen"]);
    assert_eq!(g.code, 0, "{}", g.all());
    let r = xtask(root, &["env", "init", "--root", ".", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let report = json_of(&r);
    let format_of = |name: &str| {
        report["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["name"] == name)
            .map(|k| k["format"].clone())
            .unwrap_or_else(|| panic!("{name} not in the report: {report:#}"))
    };
    assert_eq!(
        format_of("IDENTITY_JWT_PRIVATE_KEY"),
        "rsa-pkcs8-pem-base64"
    );
    assert_eq!(format_of("SESSION_SECRET"), "hex:32");
    let to_fill: Vec<&str> = report["to_fill"]
        .as_array()
        .expect("to_fill")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for dev in [
        "WEB_APP_URL",
        "CORS_ALLOWED_ORIGINS",
        "SIWE_DOMAIN",
        "SMTP_HOST",
        "MAIL_URL",
    ] {
        assert!(to_fill.contains(&dev), "{dev} is left to fill: {to_fill:?}");
    }
    assert!(
        to_fill.contains(&"GOOGLE_CLIENT_ID"),
        "required in production: {to_fill:?}"
    );
    for empty in ["DATABASE_CA", "LOG_LEVEL"] {
        assert!(
            !to_fill.contains(&empty),
            "{empty} may stay empty: {to_fill:?}"
        );
    }
    let text = std::fs::read_to_string(root.join("infra/.env.staging")).expect("env file");
    assert!(
        !text.contains("localhost"),
        "no dev value in the real env file"
    );
    let vals = env_values(&text);
    let get = |k: &str| {
        vals.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} not in the env file"))
    };
    // base64 of "-----BEGIN PRIVATE KEY-----\n"
    assert!(get("IDENTITY_JWT_PRIVATE_KEY").starts_with("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"));
    let hex = get("SESSION_SECRET");
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(get("DATABASE_CA"), "");
    assert_eq!(get("LOG_LEVEL"), "");
}

/// Issue 20's boot fixture from a fresh clone (`config init`, the API's domain, `env init`):
/// the database user and name come from its `DATABASE_URL` example, the origins and the SIWE
/// domain from `caddy.domains`, the empty keys stay empty; left to fill are only what nobody
/// but its user knows: the Google client id (required in production) and the web app's URL
/// (no web app in this monorepo, so no `web.domain` to derive it from).
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs openssl (env init makes the RSA key with it): runs under CI=true or XTASK_TESTS=tools"
)]
fn the_boot_fixture_leaves_to_fill_only_what_its_user_knows() {
    tool("openssl", &["version"], "apt-get install openssl");
    let t = fixture("nest-boot");
    let root = t.path();
    for args in [
        &["--root", ".", "config", "init"][..],
        &[
            "--root",
            ".",
            "config",
            "set",
            "caddy.domains",
            "api.orbit.test",
        ],
        &["--root", ".", "gen"],
    ] {
        let r = xtask(root, args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.all());
    }
    let r = xtask(root, &["env", "init", "--root", ".", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let report = json_of(&r);
    let mut to_fill: Vec<&str> = report["to_fill"]
        .as_array()
        .expect("to_fill")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    to_fill.sort();
    assert_eq!(to_fill, ["GOOGLE_CLIENT_ID", "WEB_APP_URL"], "{report:#}");
    let text = std::fs::read_to_string(root.join("infra/.env.staging")).expect("env file");
    let vals = env_values(&text);
    let get = |k: &str| vals.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("DB_USERNAME"), Some("orbit"));
    assert_eq!(get("DB_DATABASE"), Some("orbit"));
    assert_eq!(get("LOG_LEVEL"), Some(""));
    let compose =
        std::fs::read_to_string(root.join("infra/docker-compose.staging.yml")).expect("compose");
    assert!(
        compose.contains("CORS_ALLOWED_ORIGINS: \"https://api.orbit.test\""),
        "{compose}"
    );
    assert!(compose.contains("SIWE_DOMAIN: api.orbit.test"), "{compose}");
    assert!(!compose.contains("localhost"), "{compose}");
}
