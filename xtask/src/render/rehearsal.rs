//! The compose OVERRIDE file a rehearsal writes for itself (`docker-compose.rehearsal.yml`),
//! merged after the untouched staging file: local images (stand-ins, the API image just built)
//! and loopback ports instead of public ones. Lists are replaced with compose's `!override` /
//! `!reset` tags (compose >= 2.24), never merged into.

use std::fmt::Write;

use super::compose::scalar;
use crate::rehearsal::{Plan, Source};

pub fn render_override(plan: &Plan) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# Written by `cargo xtask rehearse` for compose project {}.",
        plan.project
    );
    let _ = writeln!(
        w,
        "# Merged after docker-compose.staging.yml (which stays untouched) for a rehearsal on this"
    );
    let _ = writeln!(
        w,
        "# machine only: local images, and the proxy on 127.0.0.1 instead of public ports."
    );
    let _ = writeln!(w, "services:");
    for svc in &plan.services {
        let swap = svc.image != svc.staging_image;
        let is_proxy = svc.name == plan.proxy;
        if !swap && !is_proxy && !svc.has_ports {
            continue;
        }
        let _ = writeln!(w, "  {}:", svc.name);
        if swap {
            match &svc.source {
                Source::Standin {
                    provides,
                    stands_in_for,
                    ..
                } => {
                    let _ = writeln!(
                        w,
                        "    # STAND-IN for {stands_in_for} (no registry here): {provides}"
                    );
                }
                Source::Api { note, .. } => {
                    let _ = writeln!(w, "    # {note}");
                }
                Source::Real => {}
            }
            let _ = writeln!(w, "    image: {}", scalar(&svc.image));
            if !matches!(svc.source, Source::Real) {
                let _ = writeln!(w, "    pull_policy: never");
            }
        }
        if is_proxy {
            let _ = writeln!(w, "    ports: !override");
            for p in &plan.proxy_ports {
                let _ = writeln!(
                    w,
                    "      - \"127.0.0.1:{}:{}/{}\"",
                    p.host, p.target, p.protocol
                );
            }
        } else if svc.has_ports {
            let _ = writeln!(w, "    ports: !reset []");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearsal::{Kind, Loopback, ServicePlan};

    fn svc(name: &str, staging: &str, image: &str, source: Source, has_ports: bool) -> ServicePlan {
        ServicePlan {
            name: name.into(),
            staging_image: staging.into(),
            image: image.into(),
            source,
            has_ports,
        }
    }

    fn plan(standins: bool) -> Plan {
        let third = |name: &str, real: &str, kind| {
            if standins {
                svc(
                    name,
                    real,
                    &crate::rehearsal::standin_name(real),
                    Source::Standin {
                        kind,
                        provides: format!("{} (test fixture)", kind.as_str()),
                        stands_in_for: real.into(),
                    },
                    true,
                )
            } else {
                svc(name, real, real, Source::Real, true)
            }
        };
        Plan {
            project: "xtask-rehearse-7-00beef".into(),
            services: vec![
                third("postgres", "postgres:16-alpine", Kind::Postgres),
                third("redis", "redis:7-alpine", Kind::Redis),
                svc(
                    "api",
                    "ghcr.io/OWNER/cipherbox-api:rehearsal",
                    "cipherbox-api:rehearsal",
                    Source::Api {
                        note: "the API image built for this rehearsal".into(),
                        standin_base: None,
                    },
                    true,
                ),
                third("caddy", "caddy:2-alpine", Kind::Caddy),
            ],
            proxy: "caddy".into(),
            proxy_ports: vec![
                Loopback {
                    host: 40080,
                    target: 80,
                    protocol: "tcp".into(),
                },
                Loopback {
                    host: 40443,
                    target: 443,
                    protocol: "tcp".into(),
                },
            ],
        }
    }

    #[test]
    fn override_with_stand_ins_snapshot() {
        insta::assert_snapshot!(render_override(&plan(true)));
    }

    #[test]
    fn override_with_real_images_swaps_only_the_api() {
        let text = render_override(&plan(false));
        assert!(!text.contains("postgres:16-alpine"), "{text}");
        assert!(!text.contains("standin"), "{text}");
        assert_eq!(text.matches("image:").count(), 1, "{text}");
        assert!(
            text.contains("    image: \"cipherbox-api:rehearsal\"\n"),
            "{text}"
        );
        assert_eq!(text.matches("ports: !reset []").count(), 3, "{text}");
    }

    #[test]
    fn override_is_yaml_compose_reads_with_tags_on_the_replaced_lists() {
        let text = render_override(&plan(true));
        let v: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
        let services = v.get("services").expect("services");
        for (name, image) in [
            ("postgres", "xtask.local/postgres:16-standin"),
            ("redis", "xtask.local/redis:7-standin"),
            ("caddy", "xtask.local/caddy:2-standin"),
            ("api", "cipherbox-api:rehearsal"),
        ] {
            let s = services.get(name).expect("service");
            assert_eq!(s.get("image").and_then(|i| i.as_str()), Some(image));
            assert_eq!(s.get("pull_policy").and_then(|i| i.as_str()), Some("never"));
        }
        let ports = |name: &str| match services.get(name).and_then(|s| s.get("ports")) {
            Some(serde_yaml::Value::Tagged(t)) => (t.tag.to_string(), t.value.clone()),
            other => panic!("{name}: ports not tagged: {other:?}"),
        };
        let (tag, value) = ports("caddy");
        assert_eq!(tag, "!override");
        let list: Vec<&str> = value
            .as_sequence()
            .expect("list")
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        assert_eq!(
            list,
            vec!["127.0.0.1:40080:80/tcp", "127.0.0.1:40443:443/tcp"]
        );
        for name in ["postgres", "redis", "api"] {
            let (tag, value) = ports(name);
            assert_eq!(tag, "!reset", "{name}");
            assert_eq!(value.as_sequence().map(|s| s.len()), Some(0), "{name}");
        }
        assert!(!text.contains("ipfs") && !text.contains("tee-worker"));
    }

    #[test]
    fn every_stand_in_line_says_stand_in() {
        let text = render_override(&plan(true));
        for line in text.lines().filter(|l| l.contains("standin")) {
            let i = text.find(line).expect("line");
            let before = &text[..i];
            let comment = before.lines().last().unwrap_or("");
            assert!(comment.contains("STAND-IN for"), "{comment} / {line}");
        }
    }
}
