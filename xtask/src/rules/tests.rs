//! Every rule against the generated files of the sample monorepo (this repository): the
//! generated files are clean; each fixture (a text mutation of one generated file) breaks
//! one rule, reported at the expected file and line.

use std::path::PathBuf;

use super::fixtures::{apply, Mutation, FIXTURES, MUTATIONS};
use super::{run, Finding, Input, Sources};
use crate::context::{Ctx, Model};
use crate::generated::Generated;
use crate::stack::{CADDYFILE as CF, COMPOSE as CO, DOCKERFILE as DF, DOCKERIGNORE as IG};

fn root() -> PathBuf {
    crate::context::default_root()
}

fn model_with(config_text: Option<&str>) -> Model {
    let ctx = Ctx::new(&root(), None);
    let mut m = ctx.model().expect("the sample monorepo has a model");
    if let Some(t) = config_text {
        let mut config = crate::config::parse(t, "test.toml").expect("test config parses");
        crate::context::derive_image_names(
            &mut config,
            &m.closure.api.name,
            m.workspace.root_manifest.name.as_deref(),
        );
        let stack = {
            let example = crate::envcontract::read_example(&root(), &m.closure.api.dir)
                .expect("the sample's env example");
            crate::stack::build(&config, &m.workspace, &m.closure, &example)
        }
        .expect("stack");
        m = Model { config, stack, ..m };
    }
    m
}

fn rendered(m: &Model) -> Vec<Generated> {
    crate::render::all(&m.stack)
}

fn text_of(files: &[(String, String)], path: &str) -> Option<String> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.clone())
}

fn findings(m: &Model, files: &[(String, String)]) -> Vec<Finding> {
    let src = Sources {
        dockerfile: text_of(files, DF),
        ignore: text_of(files, IG),
        compose: text_of(files, CO),
        caddyfile: text_of(files, CF),
        workflow: text_of(files, crate::stack::WORKFLOW),
    };
    let input = Input::new(m, &root(), &src);
    run(&input)
}

fn as_files(g: &[Generated]) -> Vec<(String, String)> {
    g.iter()
        .map(|g| (g.path.clone(), g.contents.clone()))
        .collect()
}

/// The error findings (warnings are reported but do not fail verify).
fn errors(f: Vec<Finding>) -> Vec<Finding> {
    f.into_iter()
        .filter(|f| f.severity() == super::Severity::Error)
        .collect()
}

#[test]
fn generated_files_are_clean() {
    let m = model_with(None);
    let f = findings(&m, &as_files(&rendered(&m)));
    // the sample sets no [caddy] domains: only the wildcard-site warning, at its `:443` site
    let rules: Vec<&str> = f.iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["caddy/wildcard-site"], "{f:#?}");
    assert_eq!(f[0].severity(), super::Severity::Warning);
    assert!(f[0].message.contains("caddy.domains"), "{}", f[0].message);
    assert!(errors(f).is_empty());
}

#[test]
fn wildcard_site_warns_only_without_domains() {
    let c =
        "[caddy]\ndomains = [\"files.example.com\"]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n";
    let m = model_with(Some(c));
    let files = as_files(&rendered(&m));
    assert!(findings(&m, &files).is_empty());
    // a hand-written wildcard next to a domain is named-sites' error, not this warning
    let cf = text_of(&files, CF).expect("Caddyfile");
    let hand = cf.replacen("files.example.com:443 {", ":443 {", 1);
    assert_ne!(
        hand, cf,
        "the named site is rendered as `files.example.com:443 {{`"
    );
    let mutated: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (p.clone(), if p == CF { hand.clone() } else { t.clone() }))
        .collect();
    let rules: Vec<&str> = findings(&m, &mutated).iter().map(|f| f.rule).collect();
    assert!(rules.contains(&"caddy/named-sites"), "{rules:?}");
    assert!(!rules.contains(&"caddy/wildcard-site"), "{rules:?}");
}

#[test]
fn generated_files_are_clean_for_other_configs() {
    let configs = [
        "[api.migrate]\ncommand = [\"node\", \"dist/run-migrations.js\"]\n",
        "[project]\nservices = [\"postgres\", \"redis\"]\n[api.migrate]\ncommand = [\"node\", \"dist/migrate.js\"]\n[api.env]\nIPFS_LOCAL_API_URL = \"https://ipfs.example.com\"\nTEE_WORKER_URL = \"https://tee.example.com\"\n",
        "[api]\nport = 8080\nentry = \"dist/server.js\"\n[ports]\napi = 8081\nhttp = 8000\nhttps = 8443\n",
        "[caddy]\ndomains = [\"staging.example.com\", \"api.example.com\"]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
        "[project]\nregistry = \"registry.example.com:5000\"\nowner = \"acme\"\ntag = \"v1.2.3\"\n[node]\nimage = \"node:20.11-bookworm-slim\"\n",
        "[edge]\nhsts_max_age = 600\nmax_body = \"5MiB\"\ntrusted_proxies = [\"173.245.48.0/20\", \"2400:cb00::/32\"]\nclient_ip_header = \"CF-Connecting-IP\"\n[logs]\ndriver = \"local\"\nmax_file = 5\n[memory]\napi = \"1g\"\n",
        "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n",
        "[caddy]\ndomains = [\"api.example.com\"]\n[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\noutput = \"build\"\nassets = \"static/js\"\n",
    ];
    for c in configs {
        let m = model_with(Some(c));
        let f = errors(findings(&m, &as_files(&rendered(&m))));
        assert!(
            f.is_empty(),
            "config {c:?}: findings on the generated files: {f:#?}"
        );
    }
}

fn check_all(list: &[Mutation]) {
    let mut failures = Vec::new();
    for mu in list {
        let m = model_with(mu.config);
        let files = as_files(&rendered(&m));
        let (mutated, file, line) = apply(&files, mu);
        let got = findings(&m, &mutated);
        let hit = got
            .iter()
            .any(|f| f.rule == mu.rule && f.file == file && f.line == line);
        if !hit {
            let of_rule: Vec<String> = got
                .iter()
                .filter(|f| f.rule == mu.rule)
                .map(|f| format!("{}:{}: {}", f.file, f.line, f.message))
                .collect();
            failures.push(format!(
                "{} (mutation {:?} -> {:?}): expected at {file}:{line}; that rule reported: {of_rule:?}",
                mu.rule, mu.from, mu.to
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mutation(s) not caught:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_is_reported_at_its_file_and_line() {
    check_all(FIXTURES);
}

#[test]
fn every_extra_mutation_is_reported_at_its_file_and_line() {
    check_all(MUTATIONS);
}

#[test]
fn every_rule_has_a_fixture_and_a_rationale() {
    for r in super::registry() {
        assert!(
            FIXTURES.iter().any(|f| f.rule == r.id),
            "rule {} has no fixture",
            r.id
        );
        assert!(
            !r.rationale.is_empty() && !r.rationale.contains('\n'),
            "rule {}: one-line rationale",
            r.id
        );
        assert!(r.id.contains('/'), "rule id {} is <area>/<name>", r.id);
    }
    let ids: Vec<&str> = super::registry().iter().map(|r| r.id).collect();
    let mut dedup = ids.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(ids.len(), dedup.len(), "rule ids are unique");
    for f in FIXTURES.iter().chain(MUTATIONS) {
        assert!(
            ids.contains(&f.rule),
            "fixture names unknown rule {}",
            f.rule
        );
    }
}

#[test]
fn waivers_move_findings_and_report_unused() {
    use crate::config::Waiver;
    let f = |rule: &'static str, file: &str| Finding {
        rule,
        file: file.into(),
        line: 3,
        message: "m".into(),
    };
    let w = vec![
        Waiver {
            rule: "compose/port-loopback".into(),
            file: Some("./infra/docker-compose.staging.yml".into()),
            reason: "r1".into(),
        },
        Waiver {
            rule: "caddy/upstream".into(),
            file: None,
            reason: "r2".into(),
        },
    ];
    let (kept, waived) = super::apply_waivers(
        vec![
            f("compose/port-loopback", CO),
            f("compose/port-loopback", "other"),
            f("x/y", CO),
        ],
        &w,
    );
    assert_eq!(kept.len(), 2);
    assert_eq!(waived.len(), 1);
    assert_eq!(waived[0].reason, "r1");
    let unused = super::unused_waivers(&w, &waived);
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0].rule, "caddy/upstream");
}

#[test]
fn a_waiver_applied_to_a_dotted_finding_path_is_not_reported_unused() {
    use crate::config::Waiver;
    let w = vec![Waiver {
        rule: "compose/port-loopback".into(),
        file: Some("infra/docker-compose.staging.yml".into()),
        reason: "r".into(),
    }];
    let found = Finding {
        rule: "compose/port-loopback",
        file: "./infra/docker-compose.staging.yml".into(),
        line: 1,
        message: "m".into(),
    };
    assert!(super::waives(&w[0], &found));
    let (_, waived) = super::apply_waivers(vec![found], &w);
    assert_eq!(waived.len(), 1);
    assert!(super::unused_waivers(&w, &waived).is_empty());
}

#[test]
fn docs_list_every_rule_and_stage_id() {
    let docs = std::fs::read_to_string(root().join("docs/verify.md")).expect("docs/verify.md");
    for r in super::registry() {
        assert!(
            docs.contains(&format!(
                "| `{}` | {} |",
                r.id,
                r.rationale.replace('|', "\\|")
            )),
            "docs/verify.md: rule {} (with its rationale)",
            r.id
        );
    }
    for (id, _) in super::STAGE_IDS {
        assert!(
            docs.contains(&format!("| `{id}` |")),
            "docs/verify.md: stage id {id}"
        );
    }
}

#[test]
fn readme_counts_the_rules_there_are() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let n = super::registry().len();
    let counts: Vec<&str> = readme
        .split(" rules")
        .filter_map(|before| before.rsplit([' ', '(']).next())
        .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert!(!counts.is_empty(), "README.md names no rule count");
    for c in counts {
        assert_eq!(c, n.to_string(), "README.md says {c} rules; there are {n}");
    }
}

#[test]
fn a_warning_rule_says_so_in_its_rationale() {
    for r in super::registry() {
        assert_eq!(
            r.rationale.starts_with("warning: "),
            super::severity(r.id) == super::Severity::Warning,
            "rule {}: a warning rule's rationale starts `warning: `, and only a warning rule's",
            r.id
        );
    }
}

#[test]
fn a_hoisting_monorepo_needs_the_isolated_install_unless_api_hoist_keeps_it() {
    let hoisted = |keep: bool| -> Model {
        let mut m = model_with(keep.then_some("[api]\nhoist = true\n"));
        m.workspace.pnpm_settings.settings = vec![crate::workspace::Setting {
            key: "node-linker",
            value: "hoisted".into(),
            source: ".npmrc:1".into(),
        }];
        let example = crate::envcontract::read_example(&root(), &m.closure.api.dir)
            .expect("the sample's env example");
        m.stack =
            crate::stack::build(&m.config, &m.workspace, &m.closure, &example).expect("stack");
        m
    };
    // the Dockerfile written before the monorepo hoisted: both installs reported
    let before = as_files(&rendered(&model_with(None)));
    let m = hoisted(false);
    let f: Vec<Finding> = findings(&m, &before)
        .into_iter()
        .filter(|f| f.rule == "dockerfile/isolated-install")
        .collect();
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(
        f[0].message.contains("node-linker=hoisted (.npmrc:1)")
            && f[0].message.contains("--config.node-linker=isolated"),
        "{}",
        f[0].message
    );
    // what gen writes now passes
    let now = as_files(&rendered(&m));
    let df = text_of(&now, DF).expect("dockerfile");
    let installs = df
        .lines()
        .filter(|l| l.contains("pnpm install") && l.contains("--config.node-linker=isolated"))
        .count();
    assert_eq!(installs, 2, "{df}");
    assert!(errors(findings(&m, &now)).is_empty());
    // api.hoist = true keeps the layout: the old file passes, gen writes no flag
    let m = hoisted(true);
    assert!(!findings(&m, &before)
        .iter()
        .any(|f| f.rule == "dockerfile/isolated-install"));
    let df = text_of(&as_files(&rendered(&m)), DF).expect("dockerfile");
    assert!(
        !df.contains("node-linker=isolated")
            && df.contains("api.hoist = true keeps node-linker=hoisted"),
        "{df}"
    );
}

/// The api's environment with `lines` added (after `DB_HOST`), and the service-urls findings.
fn service_url_findings(lines: &str) -> Vec<Finding> {
    let m = model_with(None);
    let files = as_files(&rendered(&m));
    let mutated: Vec<(String, String)> = files
        .into_iter()
        .map(|(p, t)| {
            let t = if p == CO {
                let to = format!("      DB_HOST: postgres\n{lines}");
                t.replacen("      DB_HOST: postgres\n", &to, 1)
            } else {
                t
            };
            (p, t)
        })
        .collect();
    findings(&m, &mutated)
        .into_iter()
        .filter(|f| f.rule == "compose/service-urls")
        .collect()
}

#[test]
fn service_urls_read_lists_and_advise_the_config_for_public_addresses() {
    let f = service_url_findings(
        "      CORS_ALLOWED_ORIGINS: \"http://localhost:5173,http://localhost:3000\"\n      WEB_APP_URL: \"http://localhost:5173\"\n",
    );
    assert_eq!(f.len(), 2, "one finding per key: {f:#?}");
    for x in &f {
        assert!(x.message.contains("caddy.domains"), "{}", x.message);
        assert!(!x.message.contains("use the service name"), "{}", x.message);
        assert!(
            !x.message.contains(",http"),
            "a list is not one host: {}",
            x.message
        );
    }
    let clean = service_url_findings(
        "      CORS_ALLOWED_ORIGINS: \"https://app.example.com,https://api.example.com\"\n      SIWE_DOMAIN: app.example.com\n      HOST: 0.0.0.0\n      LOG_LEVEL: \"\"\n",
    );
    assert!(clean.is_empty(), "{clean:#?}");
}
