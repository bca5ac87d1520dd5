//! The rehearsal's pure side: what the staging file says (parsed from `docker compose config`),
//! the plan (which services start, which image each runs, which ports the proxy gets), stand-in
//! names, the throwaway env file, and the judgement of what the engine and the probes report.
//!
//! No I/O and no programs here: `commands::rehearse` runs them through `tools` and hands their
//! output to these functions, so every decision is unit-tested without Docker.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde_json::Value;

mod env;
mod file;
mod plan;
mod probes;
mod ready;

pub use env::*;
pub use file::*;
pub use plan::*;
pub use probes::*;
pub use ready::*;

/// Every rehearsal's compose project name starts with this (and `--down` refuses others).
pub const PROJECT_PREFIX: &str = "xtask-rehearse-";
/// Stand-ins live under this registry name, which no real registry answers to.
pub const STANDIN_REGISTRY: &str = "xtask.local";
/// The label every stand-in carries: the real image it stands in for.
pub const STANDIN_LABEL: &str = "xtask.standin";
/// The label naming what a stand-in actually provides (e.g. "PostgreSQL 15.20 (Debian 12 ...)").
pub const PROVIDES_LABEL: &str = "xtask.standin.provides";
/// The override file the rehearsal writes next to its copy of the staging file.
pub const OVERRIDE_FILE: &str = "docker-compose.rehearsal.yml";

/// Third-party images the rehearsal can assemble a stand-in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Postgres,
    Redis,
    Caddy,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Postgres, Kind::Redis, Kind::Caddy];

    /// The kind's name: the `[images]` key in the config and the stand-in builder's argument.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Redis => "redis",
            Kind::Caddy => "caddy",
        }
    }
}

/// The stand-in's own name for a real image: `postgres:16-alpine` → `xtask.local/postgres:16-standin`.
/// Never the real name, so nothing built on it can be mistaken for (or pushed as) the real image.
pub fn standin_name(real: &str) -> String {
    let no_digest = real.split('@').next().unwrap_or(real);
    let (repo, tag) = match no_digest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (no_digest, "latest"),
    };
    let base = repo.rsplit('/').next().unwrap_or(repo);
    let version = tag
        .split('-')
        .next()
        .filter(|v| !v.is_empty())
        .unwrap_or("latest");
    format!("{STANDIN_REGISTRY}/{base}:{version}-standin")
}

/// A fresh, unique compose project name for one rehearsal.
pub fn project_name(pid: u32, salt: u64) -> String {
    format!("{PROJECT_PREFIX}{pid}-{:06x}", salt & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn standin_names_never_equal_the_real_name() {
        assert_eq!(
            standin_name("postgres:16-alpine"),
            "xtask.local/postgres:16-standin"
        );
        assert_eq!(
            standin_name("redis:7-alpine"),
            "xtask.local/redis:7-standin"
        );
        assert_eq!(
            standin_name("caddy:2-alpine"),
            "xtask.local/caddy:2-standin"
        );
        assert_eq!(
            standin_name("node:22-alpine"),
            "xtask.local/node:22-standin"
        );
        assert_eq!(
            standin_name("ipfs/kubo:v0.34.0"),
            "xtask.local/kubo:v0.34.0-standin"
        );
        assert_eq!(
            standin_name("postgres"),
            "xtask.local/postgres:latest-standin"
        );
        assert_eq!(
            standin_name("localhost:5000/team/redis"),
            "xtask.local/redis:latest-standin"
        );
        assert_eq!(
            standin_name("postgres:17@sha256:abcd"),
            "xtask.local/postgres:17-standin"
        );
        for real in ["postgres:16-alpine", "caddy", "a/b:c"] {
            assert_ne!(standin_name(real), real);
            assert!(standin_name(real).contains("standin"));
        }
    }

    #[test]
    fn project_names_are_prefixed_and_distinct() {
        let a = project_name(42, 0x1234_5678);
        assert_eq!(a, "xtask-rehearse-42-345678");
        assert_ne!(a, project_name(42, 0x1234_5679));
        assert!(a.starts_with(PROJECT_PREFIX));
    }

    fn config() -> Value {
        json!({
          "name": "cipherbox-staging",
          "services": {
            "api": {
              "image": "ghcr.io/OWNER/cipherbox-api:rehearsal",
              "depends_on": {
                "postgres": {"condition": "service_healthy", "required": true},
                "redis": {"condition": "service_healthy", "required": true}
              },
              "environment": {"DB_HOST": "postgres", "REDIS_HOST": "redis", "PORT": "3000"},
              "healthcheck": {"test": ["CMD", "node", "-e", "x"], "interval": "10s"},
              "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 3000, "published": "3000", "protocol": "tcp"}]
            },
            "postgres": {
              "image": "postgres:16-alpine",
              "healthcheck": {"test": ["CMD-SHELL", "pg_isready"]},
              "ports": [{"host_ip": "127.0.0.1", "target": 5432, "published": "5432", "protocol": "tcp"}]
            },
            "redis": {"image": "redis:7-alpine", "healthcheck": {"test": ["CMD", "redis-cli", "ping"]}},
            "ipfs": {"image": "ipfs/kubo:v0.34.0"},
            "caddy": {
              "image": "caddy:2-alpine",
              "depends_on": {"api": {"condition": "service_healthy"}},
              "ports": [
                {"target": 80, "published": "80", "protocol": "tcp"},
                {"target": 443, "published": "443", "protocol": "tcp"}
              ]
            }
          }
        })
    }

    #[test]
    fn config_is_parsed_with_dependencies_healthchecks_and_ports() {
        let s = parse_config(&config()).expect("parse");
        let api = s.iter().find(|x| x.name == "api").expect("api");
        assert_eq!(
            api.depends_on,
            vec![
                ("postgres".to_string(), "service_healthy".to_string()),
                ("redis".to_string(), "service_healthy".to_string())
            ]
        );
        assert!(api.healthcheck);
        assert_eq!(
            api.environment.get("DB_HOST").map(String::as_str),
            Some("postgres")
        );
        assert_eq!(
            api.ports,
            vec![Published {
                host_ip: Some("127.0.0.1".into()),
                published: Some(3000),
                target: 3000,
                protocol: "tcp".into()
            }]
        );
        let caddy = s.iter().find(|x| x.name == "caddy").expect("caddy");
        assert!(!caddy.healthcheck);
        assert_eq!(caddy.ports[0].host_ip, None);
        let disabled = json!({"services": {"x": {"image": "i", "healthcheck": {"disable": true}}}});
        assert!(!parse_config(&disabled).expect("parse")[0].healthcheck);
        assert!(parse_config(&json!({"services": {"x": {}}})).is_err());
    }

    #[test]
    fn start_set_is_the_proxy_and_its_dependency_closure_dependencies_first() {
        let s = parse_config(&config()).expect("parse");
        assert_eq!(
            start_set(&s, "caddy").expect("start set"),
            vec!["postgres", "redis", "api", "caddy"]
        );
        let cyc = json!({"services": {
            "a": {"image": "i", "depends_on": {"b": {}}},
            "b": {"image": "i", "depends_on": {"a": {}}}
        }});
        let e = start_set(&parse_config(&cyc).expect("parse"), "a").expect_err("cycle");
        assert!(e.to_string().contains("cycle: a -> b -> a"), "{e}");
        assert!(start_set(&s, "nope").is_err());
    }

    fn plan() -> Plan {
        let svc = |name: &str, image: &str, source: Source, has_ports: bool| ServicePlan {
            name: name.into(),
            staging_image: match name {
                "api" => "ghcr.io/OWNER/cipherbox-api:rehearsal".into(),
                "postgres" => "postgres:16-alpine".into(),
                "redis" => "redis:7-alpine".into(),
                _ => "caddy:2-alpine".into(),
            },
            image: image.into(),
            source,
            has_ports,
        };
        let standin = |kind: Kind| Source::Standin {
            kind,
            provides: "X".into(),
            stands_in_for: format!("{}:real", kind.as_str()),
        };
        Plan {
            project: "xtask-rehearse-1-abcdef".into(),
            services: vec![
                svc(
                    "postgres",
                    "xtask.local/postgres:16-standin",
                    standin(Kind::Postgres),
                    true,
                ),
                svc(
                    "redis",
                    "xtask.local/redis:7-standin",
                    standin(Kind::Redis),
                    true,
                ),
                svc(
                    "api",
                    "cipherbox-api:rehearsal",
                    Source::Api {
                        note: "built".into(),
                        standin_base: Some("xtask.local/node:22-standin".into()),
                    },
                    true,
                ),
                svc(
                    "caddy",
                    "xtask.local/caddy:2-standin",
                    standin(Kind::Caddy),
                    true,
                ),
            ],
            proxy: "caddy".into(),
            proxy_ports: vec![
                Loopback {
                    host: 41080,
                    target: 80,
                    protocol: "tcp".into(),
                },
                Loopback {
                    host: 41443,
                    target: 443,
                    protocol: "tcp".into(),
                },
            ],
        }
    }

    #[test]
    fn plan_labels_name_stand_ins_as_such() {
        let p = plan();
        assert_eq!(
            p.label("postgres"),
            "postgres (STAND-IN xtask.local/postgres:16-standin)"
        );
        assert_eq!(
            p.label("api"),
            "api (on STAND-IN base xtask.local/node:22-standin)"
        );
        assert!(p
            .service("caddy")
            .expect("caddy")
            .describe()
            .contains("STAND-IN"));
        assert!(p.all_local());
        assert_eq!(p.proxy_port(443), Some(41443));
        assert_eq!(p.proxy_port(80), Some(41080));
        assert_eq!(p.proxy_port(8080), None);
    }

    #[test]
    fn merged_config_must_show_the_swapped_images_and_loopback_ports_only() {
        let p = plan();
        let good = json!({"services": {
            "postgres": {"image": "xtask.local/postgres:16-standin"},
            "redis": {"image": "xtask.local/redis:7-standin"},
            "api": {"image": "cipherbox-api:rehearsal"},
            "caddy": {"image": "xtask.local/caddy:2-standin", "ports": [
                {"host_ip": "127.0.0.1", "target": 80, "published": "41080", "protocol": "tcp"},
                {"host_ip": "127.0.0.1", "target": 443, "published": "41443", "protocol": "tcp"}
            ]}
        }});
        assert_eq!(
            verify_merged(&p, &parse_config(&good).expect("parse")),
            Vec::<String>::new()
        );
        let bad = parse_config(&config()).expect("parse");
        let problems = verify_merged(&p, &bad);
        assert!(
            problems
                .iter()
                .any(|x| x.contains("postgres runs postgres:16-alpine")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|x| x.contains("caddy publishes 80/tcp beyond loopback")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|x| x.contains("api still publishes host ports")),
            "{problems:?}"
        );
    }

    #[test]
    fn throwaway_env_covers_every_example_variable_with_fresh_secrets() {
        let example = "# comment\nTAG=latest\nDB_USERNAME=cipherbox\nDB_PASSWORD=change-me\n\nDB_DATABASE=x\nTEE_WORKER_SECRET=change-me\nLOG_LEVEL=\nAPI_KEY=\n";
        let mut n = 0;
        let env = throwaway_env(example, &mut |_| {
            n += 1;
            Ok(format!("s{n}"))
        })
        .expect("env");
        let body: Vec<&str> = env.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            vec![
                "TAG=rehearsal",
                "DB_USERNAME=cipherbox",
                "DB_PASSWORD=s1",
                "DB_DATABASE=x",
                "TEE_WORKER_SECRET=s2",
                "LOG_LEVEL=",
                "API_KEY=s3"
            ]
        );
        assert_eq!(
            env_keys(&env),
            vec![
                "TAG",
                "DB_USERNAME",
                "DB_PASSWORD",
                "DB_DATABASE",
                "TEE_WORKER_SECRET",
                "LOG_LEVEL",
                "API_KEY"
            ]
        );
    }

    #[test]
    fn throwaway_secrets_are_asked_by_name_and_a_pem_stays_on_one_line() {
        let example = "JWT_PRIVATE_KEY=change-me\nDB_PASSWORD=change-me\n";
        let mut asked = Vec::new();
        let env = throwaway_env(example, &mut |k| {
            asked.push(k.to_string());
            Ok(if k == "JWT_PRIVATE_KEY" {
                "-----BEGIN PRIVATE KEY-----\nMC4\n-----END PRIVATE KEY-----\n".into()
            } else {
                "abc".into()
            })
        })
        .expect("env");
        assert_eq!(asked, ["JWT_PRIVATE_KEY", "DB_PASSWORD"]);
        let vars = crate::rules::env::parse_env_file(&env);
        assert_eq!(vars.len(), 2, "{env}");
        assert_eq!(
            vars[0].1,
            "-----BEGIN PRIVATE KEY-----\\nMC4\\n-----END PRIVATE KEY-----\\n"
        );
        assert_eq!(env_keys(&env), ["JWT_PRIVATE_KEY", "DB_PASSWORD"]);
    }

    #[test]
    fn redaction_hides_a_secret_and_each_line_of_a_key() {
        let secrets = vec![
            "-----BEGIN PRIVATE KEY-----\nAAAABBBBCCCCDDDDEEEE\n-----END PRIVATE KEY-----\n"
                .to_string(),
            "AAAABBBBCCCCDDDDEEEE".to_string(),
            "0123456789abcdef".to_string(),
        ];
        let logs = "api | key line AAAABBBBCCCCDDDDEEEE\napi | pw=0123456789abcdef ok\n";
        let shown = redact(logs, &secrets);
        assert_eq!(shown, "api | key line (redacted)\napi | pw=(redacted) ok\n");
        assert_eq!(redact("no secret here", &secrets), "no secret here");
    }

    #[test]
    fn ps_output_is_parsed_in_both_formats() {
        let line = r#"{"Service":"api","Name":"p-api-1","State":"running","Health":"starting","ExitCode":0}"#;
        let ndjson = format!(
            "{line}\n{}\n",
            line.replace("api", "caddy").replace("starting", "")
        );
        let rows = parse_ps(&ndjson).expect("ndjson");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].health, "starting");
        assert_eq!(rows[1].service, "caddy");
        assert_eq!(parse_ps(&format!("[{line}]")).expect("array").len(), 1);
        assert!(parse_ps("").expect("empty").is_empty());
        assert!(parse_ps("{nope").is_err());
    }

    /// A container that exits 1 under `restart: unless-stopped`, as `docker compose ps
    /// --format json` (compose 2.26, engine 26) printed it between two restarts: compose's
    /// ExitCode says 0, the engine's status line (and `docker inspect`'s State.ExitCode) 1.
    #[test]
    fn a_crash_looping_service_is_reported_with_its_real_exit_code() {
        let line = r#"{"Command":"\"docker-entrypoint.s…\"","CreatedAt":"2026-12-08 00:19:53 +0000 UTC","ExitCode":0,"Health":"","ID":"58212891fc87","Image":"xtask.local/node:22-standin","Labels":"com.docker.compose.service=crash","LocalVolumes":"0","Mounts":"","Name":"rf-crash-5124-crash-1","Names":"rf-crash-5124-crash-1","Networks":"rf-crash-5124_default","Ports":"","Project":"rf-crash-5124","Publishers":null,"RunningFor":"10 seconds ago","Service":"crash","Size":"0B","State":"restarting","Status":"Restarting (1) 1 second ago"}"#;
        let rows = parse_ps(line).expect("ps");
        assert_eq!(rows[0].exit_code, Some(1));
        assert_eq!(
            readiness(Some(&rows[0]), true),
            Readiness::Failed("restarting (crashed, last exit code 1)".into())
        );
        // a status line without the code: unknown, never a made-up 0
        let odd = line.replace("Restarting (1) 1 second ago", "Restarting");
        let rows = parse_ps(&odd).expect("ps");
        assert_eq!(rows[0].exit_code, None);
        assert_eq!(
            readiness(Some(&rows[0]), true),
            Readiness::Failed("restarting (crashed, last exit code unknown)".into())
        );
        // an exited container: compose's ExitCode is the real one
        let exited = line
            .replace("\"State\":\"restarting\"", "\"State\":\"exited\"")
            .replace("\"ExitCode\":0", "\"ExitCode\":3");
        assert_eq!(parse_ps(&exited).expect("ps")[0].exit_code, Some(3));
    }

    #[test]
    fn readiness_follows_state_and_health() {
        let row = |state: &str, health: &str, exit_code| PsRow {
            service: "s".into(),
            name: "p-s-1".into(),
            state: state.into(),
            health: health.into(),
            exit_code: Some(exit_code),
        };
        use Readiness::*;
        assert_eq!(readiness(None, true), Pending("not created yet".into()));
        assert_eq!(
            readiness(Some(&row("running", "healthy", 0)), true),
            Ready("healthy".into())
        );
        assert!(matches!(
            readiness(Some(&row("running", "starting", 0)), true),
            Pending(_)
        ));
        assert_eq!(
            readiness(Some(&row("running", "unhealthy", 0)), true),
            Failed("unhealthy".into())
        );
        assert_eq!(
            readiness(Some(&row("running", "", 0)), false),
            Ready("running (no healthcheck)".into())
        );
        assert!(matches!(
            readiness(Some(&row("running", "", 0)), true),
            Pending(_)
        ));
        assert!(matches!(
            readiness(Some(&row("created", "", 0)), true),
            Pending(_)
        ));
        assert_eq!(
            readiness(Some(&row("exited", "", 1)), false),
            Failed("exited (exit code 1)".into())
        );
        assert!(matches!(
            readiness(Some(&row("restarting", "", 137)), true),
            Failed(_)
        ));
        let all = stack_readiness(
            &[row("running", "healthy", 0)],
            &[("s".into(), true), ("t".into(), false)],
            &[],
        );
        assert_eq!(all[0].1, Ready("healthy".into()));
        assert_eq!(all[1].1, Pending("not created yet".into()));
        // a one-shot that exited 0 is done; one that failed, or a long-running service that
        // exited 0, is not
        let mut m = row("exited", "", 0);
        m.service = "migrate".into();
        let mut m1 = row("exited", "", 1);
        m1.service = "seed".into();
        let mut a = row("exited", "", 0);
        a.service = "api".into();
        let expected: Vec<(String, bool)> = ["migrate", "seed", "api"]
            .iter()
            .map(|s| (s.to_string(), false))
            .collect();
        let one = vec!["migrate".to_string(), "seed".to_string()];
        let all = stack_readiness(&[m, m1, a], &expected, &one);
        assert_eq!(all[0].1, Ready("completed (exit code 0)".into()));
        assert_eq!(all[1].1, Failed("exited (exit code 1)".into()));
        assert_eq!(all[2].1, Failed("exited (exit code 0)".into()));
    }

    #[test]
    fn curl_write_out_and_the_redirect_rule() {
        let h = parse_curl(
            r#"{"http_code":308,"redirect_url":"https://localhost/health","exitcode":0,"errormsg":null,"ssl_verify_result":0,"scheme":"HTTP"}"#,
        )
        .expect("json");
        assert_eq!(h.code, 308);
        assert_eq!(h.scheme, "http");
        assert_eq!(
            check_redirect(&h),
            Ok("308 → https://localhost/health".into())
        );
        let moved = Http {
            code: 301,
            ..h.clone()
        };
        assert!(check_redirect(&moved).is_ok());
        let temporary = Http {
            code: 302,
            ..h.clone()
        };
        assert!(check_redirect(&temporary)
            .expect_err("302")
            .contains("permanent"));
        let to_http = Http {
            redirect_url: "http://x/".into(),
            ..h.clone()
        };
        assert!(check_redirect(&to_http).is_err());
        let refused = Http {
            exit: 7,
            error: "Failed to connect".into(),
            code: 0,
            ..h
        };
        assert!(check_redirect(&refused)
            .expect_err("7")
            .contains("curl exit 7"));
        assert!(parse_curl("not json").is_err());
    }

    #[test]
    fn docker_times_are_parsed_to_nanoseconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(
            parse_time("2024-03-01T00:00:00Z"),
            Some(1_709_251_200 * 1_000_000_000)
        );
        assert_eq!(
            parse_time("2024-03-01T01:00:00+01:00"),
            parse_time("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            parse_time("2024-02-29T23:00:00.000000001-01:00"),
            parse_time("2024-03-01T00:00:00.000000001Z")
        );
        assert!(parse_time("2024-03-01T00:00:00.5Z") < parse_time("2024-03-01T00:00:00.51Z"));
        assert!(parse_time("2024-03-01T00:00:00Z") < parse_time("2024-03-01T00:00:00.1Z"));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2024-03-01T00:00:00.x5Z"), None);
    }

    fn container(svc: &str, started: &str, probes: &[(&str, &str, i64)]) -> Value {
        json!({
            "Config": {"Labels": {"com.docker.compose.service": svc}},
            "State": {"StartedAt": started, "Health": {"Log": probes.iter().map(|(s, e, c)| json!({"Start": s, "End": e, "ExitCode": c})).collect::<Vec<_>>()}}
        })
    }

    #[test]
    fn the_deployed_upstream_is_read_from_the_caddyfile() {
        let c = "{\n\tauto_https off\n}\n\n:443 {\n\ttls a b\n\treverse_proxy api:3000\n}\n";
        assert_eq!(caddy_upstream(c).as_deref(), Some("api:3000"));
        assert_eq!(
            caddy_upstream("# reverse_proxy x:1\n:443 {\n  reverse_proxy a:1 b:2 {\n  }\n}")
                .as_deref(),
            Some("a:1 b:2")
        );
        assert_eq!(caddy_upstream("reverse_proxyx y\n"), None);
        assert_eq!(caddy_upstream(""), None);
    }

    /// An unhealthy API: the `ready` check says what its healthcheck got (the generated
    /// healthcheck prints it; before, the probe was silent and the report said "(no output)").
    #[test]
    fn an_unhealthy_service_is_reported_with_what_its_last_probe_got() {
        let v = json!([{
            "Config": {"Labels": {"com.docker.compose.service": "api"}},
            "State": {"Status": "running", "ExitCode": 0,
                "Health": {"Status": "unhealthy", "FailingStreak": 5, "Log": [
                    {"ExitCode": 1, "Output": "GET /health: ECONNREFUSED\n"},
                    {"ExitCode": 1, "Output": "\u{1b}[33mGET /health -> 503\u{1b}[39m\n"}]}}
        }]);
        let st = vec![
            ("api".to_string(), Readiness::Failed("unhealthy".into())),
            ("redis".to_string(), Readiness::Ready("healthy".into())),
        ];
        assert_eq!(
            with_last_probes(st, &v),
            vec![
                (
                    "api".to_string(),
                    Readiness::Failed("unhealthy (last probe exit 1: GET /health -> 503)".into())
                ),
                ("redis".to_string(), Readiness::Ready("healthy".into())),
            ]
        );
        assert!(container_summary(&v, "api")
            .expect("api")
            .ends_with("; last probe exit 1: GET /health -> 503"));
        // no container (or no health log): the state alone
        let none = with_last_probes(
            vec![("db".to_string(), Readiness::Failed("unhealthy".into()))],
            &v,
        );
        assert_eq!(none[0].1, Readiness::Failed("unhealthy".into()));
    }

    #[test]
    fn failing_containers_are_summed_up_with_the_last_probe_output() {
        let v = json!([{
            "Config": {"Labels": {"com.docker.compose.service": "postgres"}},
            "RestartCount": 2,
            "State": {"Status": "running", "ExitCode": 0, "Error": "", "OOMKilled": false,
                "Health": {"Status": "unhealthy", "FailingStreak": 5, "Log": [
                    {"ExitCode": 2, "Output": "/var/run/postgresql:5432 - no response\n"}]}}
        }]);
        assert_eq!(
            container_summary(&v, "postgres").as_deref(),
            Some("state running, exit code 0, restarts 2, health unhealthy (5 failing probe(s) in a row); last probe exit 2: /var/run/postgresql:5432 - no response")
        );
        assert_eq!(container_summary(&v, "redis"), None);
    }

    #[test]
    fn depends_on_order_is_judged_from_start_times_and_health_logs() {
        let v = json!([
            container(
                "postgres",
                "2024-01-01T00:00:00Z",
                &[
                    ("2024-01-01T00:00:10Z", "2024-01-01T00:00:10.2Z", 0),
                    ("2024-01-01T00:00:20Z", "2024-01-01T00:00:20.1Z", 0)
                ]
            ),
            container("api", "2024-01-01T00:00:11Z", &[]),
            container("early", "2024-01-01T00:00:05Z", &[]),
            container("late", "2024-01-01T00:00:30Z", &[]),
            container(
                "redis",
                "2024-01-01T00:00:00Z",
                &[("2024-01-01T00:00:25Z", "2024-01-01T00:00:25.1Z", 0)]
            ),
        ]);
        let s = parse_inspect(&v);
        assert_eq!(s.len(), 5);
        assert_eq!(
            check_order(&s, "api", "postgres", "service_healthy"),
            Order::Honoured { margin_ms: 800 }
        );
        assert!(matches!(
            check_order(&s, "early", "postgres", "service_healthy"),
            Order::Unknown(_)
        ));
        assert!(matches!(
            check_order(&s, "late", "redis", "service_healthy"),
            Order::Honoured { .. }
        ));
        // the log covers api's start and shows no success before it: violated
        let v2 = json!([
            container(
                "db",
                "2024-01-01T00:00:00Z",
                &[
                    ("2024-01-01T00:00:05Z", "2024-01-01T00:00:05.1Z", 1),
                    ("2024-01-01T00:00:15Z", "2024-01-01T00:00:15.1Z", 0)
                ]
            ),
            container("app", "2024-01-01T00:00:06Z", &[]),
        ]);
        assert!(matches!(
            check_order(&parse_inspect(&v2), "app", "db", "service_healthy"),
            Order::Violated(_)
        ));
        assert_eq!(
            check_order(&s, "api", "early", "service_started"),
            Order::Honoured { margin_ms: 6000 }
        );
        assert!(matches!(
            check_order(&s, "api", "nope", "service_started"),
            Order::Unknown(_)
        ));
    }
}
