//! `cargo xtask env init` on copies of the sample and of the realistic fixture: the file is
//! 0600, `verify --env-file` passes on it, two runs give different secrets, `--force` keeps
//! the old file as `.bak`, `--rotate` changes one key only, and no value ever appears in
//! what any run prints. The refusals are rows of `tests/faults.rs`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use support::*;

/// `KEY=value` lines of an env file (comments skipped; quotes kept: the needles are the
/// values as written, and for bare hex the value itself).
fn values(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read env file");
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("=");
            (k.to_string(), v.trim_matches(['"', '\'']).to_string())
        })
        .collect()
}

fn value<'a>(vals: &'a [(String, String)], key: &str) -> &'a str {
    vals.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} not in the file"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// The report's secrets (names).
fn secrets(report: &Value) -> Vec<String> {
    report["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["class"] == "secret")
        .map(|k| k["name"].as_str().expect("name").to_string())
        .collect()
}

/// Asserts that no secret value of `vals` is in anything `runs` printed.
fn printed_nothing_of(runs: &[&Run], vals: &[(String, String)], report: &Value) {
    let secrets = secrets(report);
    assert!(!secrets.is_empty(), "the stack has secrets: {report:#}");
    for r in runs {
        for (k, v) in vals.iter().filter(|(k, _)| secrets.contains(k)) {
            assert!(v.len() >= 16, "{k}: a real secret");
            assert!(!r.all().contains(v.as_str()), "{k}'s value was printed");
        }
    }
}

fn env_init(root: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["env", "init", "--root", ".", "--format", "json"];
    args.extend(extra);
    xtask(root, &args)
}

fn verify_env_file(root: &Path, file: &Path) -> Run {
    xtask(
        root,
        &[
            "verify",
            "--root",
            ".",
            "--only",
            "fresh,rules",
            "--env-file",
            file.to_str().expect("utf-8 path"),
            "--format",
            "json",
        ],
    )
}

/// The whole life of one file: init, verify, init --force, rotate.
fn life_of_an_env_file(root: &Path) {
    let file = root.join("infra/.env.staging");
    let first = env_init(root, &[]);
    assert_eq!(first.code, 0, "{}", first.all());
    let report = json_of(&first);
    assert_eq!(report["schema"], "xtask-env-init/1");
    assert_eq!(report["to_fill"], serde_json::json!([]));
    assert_eq!(mode(&file), 0o600, "created 0600");
    let one = values(&file);
    for k in report["keys"].as_array().expect("keys") {
        let source = k["source"].as_str().expect("source");
        if k["class"] == "secret" {
            assert_eq!(source, "generated", "{k}");
            assert_eq!(k["format"], "hex:32", "{k}: the default format");
            let v = value(&one, k["name"].as_str().expect("name"));
            assert!(
                v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()),
                "{k}: a hex:32 value"
            );
        } else {
            assert!(["config", "example"].contains(&source), "{k}");
        }
    }

    let verified = verify_env_file(root, &file);
    assert_eq!(verified.code, 0, "verify --env-file: {}", verified.all());
    assert_eq!(json_of(&verified)["result"], "pass");

    // again: refused without --force (file untouched), then replaced with --force
    let refused = xtask(root, &["env", "init", "--root", "."]);
    assert_refused(&refused, &["exists; refusing to overwrite its secrets"]);
    assert_eq!(values(&file), one, "a refused run changes nothing");
    let second = env_init(root, &["--force"]);
    assert_eq!(second.code, 0, "{}", second.all());
    let report2 = json_of(&second);
    let bak = root.join("infra/.env.staging.bak");
    assert_eq!(
        report2["backup"].as_str(),
        Some(bak.to_str().expect("utf-8"))
    );
    assert_eq!(values(&bak), one, "the old file is kept as .bak");
    assert_eq!(mode(&bak), 0o600);
    assert_eq!(mode(&file), 0o600);
    let two = values(&file);
    for s in secrets(&report) {
        assert_ne!(value(&one, &s), value(&two, &s), "{s}: the same twice");
    }
    for (k, v) in &one {
        if !secrets(&report).contains(k) {
            assert_eq!(value(&two, k), v, "{k}: a setting is the same");
        }
    }

    // --rotate one secret: that line changes, every other byte stays
    let rotated_key = secrets(&report)[0].clone();
    let before = std::fs::read_to_string(&file).expect("read");
    let third = env_init(root, &["--rotate", &rotated_key]);
    assert_eq!(third.code, 0, "{}", third.all());
    let report3 = json_of(&third);
    assert_eq!(report3["rotated"], serde_json::json!([rotated_key]));
    let after = std::fs::read_to_string(&file).expect("read");
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b.len(), a.len());
    let changed: Vec<(&str, &str)> = b
        .iter()
        .zip(&a)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (*x, *y))
        .collect();
    assert_eq!(changed.len(), 1, "one line changed");
    assert!(changed[0].1.starts_with(&format!("{rotated_key}=")));
    assert_eq!(
        std::fs::read_to_string(&bak).expect("bak"),
        before,
        "rotation keeps the file before it as .bak"
    );
    assert_eq!(mode(&file), 0o600);
    let verified2 = verify_env_file(root, &file);
    assert_eq!(verified2.code, 0, "{}", verified2.all());

    let three = values(&file);
    for vals in [&one, &two, &three] {
        printed_nothing_of(
            &[&first, &verified, &refused, &second, &third, &verified2],
            vals,
            &report,
        );
    }
}

#[test]
fn env_init_on_the_sample() {
    let t = sample_copy("env-init");
    life_of_an_env_file(t.path());
}

#[test]
fn env_init_on_the_realistic_fixture() {
    let t = fixture("nest-realistic");
    life_of_an_env_file(t.path());
}

/// A setting compose requires that nobody knows a value for: written empty with a comment,
/// listed in `to_fill`, and `verify --env-file` fails on it (as the report says it will).
#[test]
fn a_setting_with_no_value_is_left_to_fill_and_verify_says_so() {
    let t = sample_copy("env-to-fill");
    let root = t.path();
    let cfg = root.join("infra/stack.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str("\n[api.env]\nPUBLIC_URL = { comment = \"The API's public https URL\" }\n");
    std::fs::write(&cfg, text).expect("write config");
    let g = xtask(root, &["gen", "--root", "."]);
    assert_eq!(g.code, 0, "{}", g.all());
    let r = env_init(root, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let report = json_of(&r);
    assert_eq!(report["to_fill"], serde_json::json!(["PUBLIC_URL"]));
    let file = root.join("infra/.env.staging");
    let written = std::fs::read_to_string(&file).expect("read");
    assert!(written.contains("\nPUBLIC_URL=\n"), "{written}");
    assert!(
        written.contains("# The API's public https URL\n"),
        "{written}"
    );
    let v = verify_env_file(root, &file);
    assert_eq!(v.code, 1, "{}", v.all());
    let findings = json_of(&v)["findings"].clone();
    assert!(
        findings
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "env/file-missing"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("PUBLIC_URL"))),
        "{findings:#}"
    );
}

/// `--out` elsewhere: a file under a `.env` name anywhere in the monorepo is left out of the
/// build context and accepted; outside the monorepo too.
#[test]
fn out_may_be_any_env_named_file_or_outside_the_monorepo() {
    let t = sample_copy("env-out");
    let root = t.path();
    let inside = root.join("apps/api/.env.staging");
    let r = env_init(root, &["--out", inside.to_str().expect("utf-8")]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(mode(&inside), 0o600);
    let outside = TempDir::new("env-out-elsewhere");
    let file = outside.path().join("staging.env");
    let r = env_init(root, &["--out", file.to_str().expect("utf-8")]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(mode(&file), 0o600);
    assert_eq!(verify_env_file(root, &file).code, 0);
}

/// In a git repository, a file git would commit is warned about (in the report, the file
/// still written); once `.gitignore` covers it and its backup, no warning.
#[test]
fn a_file_git_would_commit_is_warned_about() {
    let t = sample_copy("env-git");
    let root = t.path();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(root)
        .status()
        .expect("git runs");
    assert!(git.success(), "git init");
    let r = env_init(root, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let warnings = json_of(&r)["warnings"].to_string();
    assert!(warnings.contains("is not ignored by git"), "{warnings}");
    std::fs::write(root.join(".gitignore"), ".env.*\n").expect("gitignore");
    let r = env_init(root, &["--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        json_of(&r)["warnings"],
        serde_json::json!([]),
        "{}",
        r.all()
    );
}
