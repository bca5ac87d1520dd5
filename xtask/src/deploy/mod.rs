//! `cargo xtask deploy`: the last mile, a health-gated rollout of the API on a compose host
//! over SSH, with automatic rollback. This module is the pure part (what is uploaded, the
//! override the host runs, the tag history, the plan `--dry-run` prints);
//! [`crate::ops::deploy`] runs it on a host. The bounded request loop that proves zero downtime is
//! [`crate::tools::request_loop`]; the test "VPS" (a network namespace with its own dockerd
//! and sshd) is [`crate::tools::testhost`].

use anyhow::{bail, Result};

/// The deploy's own compose file on the host, applied last.
pub const OVERRIDE_FILE: &str = "docker-compose.deploy.yml";
/// The env file's name on the host (mode 600).
pub const ENV_FILE: &str = ".env.staging";
/// Where the deploy keeps its state on the host (tag history), under the deploy directory.
pub const STATE_DIR: &str = ".xtask-deploy";
pub const HISTORY_FILE: &str = ".xtask-deploy/history";
/// The rolled service.
pub const API_SERVICE: &str = "api";
/// With `[web]`: the directory caddy mounts (`./web`) beside the compose file, and the prefix
/// of the kept releases of the built site (`web.<content digest>`).
pub const WEB_DIR: &str = "web";
/// The site release serving now (its directory name), under the state directory.
pub const SITE_FILE: &str = ".xtask-deploy/site";

/// A site release's directory name on the host: `web.<id>`, the id a content digest.
pub fn site_release(id: &str) -> String {
    format!("{WEB_DIR}.{id}")
}

/// A release id as the history holds it: lowercase hex, 8 to 64 characters.
pub fn valid_site_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The deploy's override: the exact API image, and no host port for the API (a second API
/// container starts beside the old one during a rollout, and two cannot bind one host port;
/// Caddy is the way in).
pub fn render_override(image: &str) -> Result<String> {
    crate::config::validate_image_ref(image)
        .map_err(|m| anyhow::anyhow!("image {image:?}: {m}"))?;
    let quoted = serde_json::to_string(image)?;
    Ok(format!(
        "# Written by `cargo xtask deploy`: the API image deployed here, and no host port for the\n\
         # API (during a rollout the new container runs beside the old one; Caddy is the way in).\n\
         services:\n  {API_SERVICE}:\n    image: {quoted}\n    ports: !reset []\n"
    ))
}

/// One line of the history: when (unix seconds), which image, and with `[web]` which site
/// release (its id) went live with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub at: u64,
    pub image: String,
    pub site: Option<String>,
}

/// Parses the history file (`<unix secs> <image> [site=<id>]` a line; other lines are
/// ignored).
pub fn parse_history(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let at = words.next()?.parse().ok()?;
            let image = words.next()?;
            let site = match words.next() {
                None => None,
                Some(w) => Some(
                    w.strip_prefix("site=")
                        .filter(|id| valid_site_id(id))?
                        .to_string(),
                ),
            };
            (words.next().is_none() && crate::config::validate_image_ref(image).is_ok()).then(
                || Entry {
                    at,
                    image: image.to_string(),
                    site,
                },
            )
        })
        .collect()
}

pub fn render_history(h: &[Entry]) -> String {
    h.iter()
        .map(|e| match &e.site {
            Some(id) => format!("{} {} site={id}\n", e.at, e.image),
            None => format!("{} {}\n", e.at, e.image),
        })
        .collect()
}

/// The image `--rollback` returns to: the entry before the current one.
pub fn rollback_target(h: &[Entry]) -> Result<&Entry> {
    match h.len() {
        0 => bail!("--rollback: no deploy is recorded on this host ({HISTORY_FILE} is empty or missing); deploy an image first"),
        1 => bail!(
            "--rollback: only one deploy is recorded on this host ({}); there is nothing to return to",
            h[0].image
        ),
        n => Ok(&h[n - 2]),
    }
}

/// The history after a successful deploy of `image` (appended) or rollback (the current
/// entry dropped: repeated rollbacks walk further back). Kept to the last 50 entries.
pub fn next_history(
    h: &[Entry],
    image: &str,
    site: Option<&str>,
    at: u64,
    rollback: bool,
) -> Vec<Entry> {
    let mut out = h.to_vec();
    if rollback {
        out.pop();
    } else {
        out.push(Entry {
            at,
            image: image.to_string(),
            site: site.map(String::from),
        });
    }
    let skip = out.len().saturating_sub(50);
    out.split_off(skip)
}

/// A file the deploy writes on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Path relative to the deploy directory.
    pub name: String,
    pub mode: &'static str,
    /// Shown in the plan; the env file's content never is.
    pub secret: bool,
}

/// What `--dry-run` prints, step by step (the same order [`crate::ops::deploy`] runs them).
pub struct PlanInput<'a> {
    pub host: &'a str,
    pub dir: &'a str,
    pub image: Option<&'a str>,
    pub rollback: bool,
    pub uploads: &'a [Upload],
    pub migrate: Option<&'a str>,
    pub services: &'a [String],
    pub timeout_secs: u64,
    pub compose_args: &'a str,
    /// With `[web]`: the web app's Dockerfile (the site is built locally from it).
    pub web: Option<&'a str>,
}

pub fn plan(p: &PlanInput) -> Vec<String> {
    let target = match (p.rollback, p.image) {
        (true, _) => "the previous image in the host's history".to_string(),
        (false, Some(i)) => i.to_string(),
        (false, None) => "(no image)".to_string(),
    };
    let mut v = vec![format!(
        "connect to {} over ssh (one multiplexed connection); check `docker compose version` there",
        p.host
    )];
    v.push(format!(
        "create {} and {}/{STATE_DIR} on the host",
        p.dir, p.dir
    ));
    for u in p.uploads {
        v.push(format!(
            "upload {}/{} (mode {}{})",
            p.dir,
            u.name,
            u.mode,
            if u.secret {
                ", content never printed"
            } else {
                ""
            }
        ));
    }
    if let (Some(dockerfile), false) = (p.web, p.rollback) {
        v.push(format!(
            "[web] before connecting: docker buildx build -f {dockerfile} --target site --output type=local,dest=<temp dir> <root> (the built site; its id is a digest of its files)"
        ));
        v.push(format!(
            "[web] upload the site as a release {}/{WEB_DIR}.<id> (tar over ssh, extracted beside, renamed into place; kept for rollbacks)",
            p.dir
        ));
    }
    if p.rollback {
        v.push(format!(
            "read {}/{HISTORY_FILE}: the target is the entry before the current one",
            p.dir
        ));
    }
    v.push(format!("docker pull {target}"));
    v.push(format!(
        "write {}/{OVERRIDE_FILE} with the API image {target} (and no API host port)",
        p.dir
    ));
    if let Some(m) = p.migrate {
        v.push(format!("docker compose {} run --rm {m} (the migration; a failure stops here, the old API keeps serving)", p.compose_args));
    }
    let only = if p.services.is_empty() {
        String::new()
    } else {
        format!(" {}", p.services.join(" "))
    };
    v.push(format!(
        "no API running yet: docker compose {} up -d --wait{only}",
        p.compose_args
    ));
    v.push(format!(
        "API running: docker compose {} up -d --no-deps --no-recreate --scale {API_SERVICE}=<running+1> {API_SERVICE} (the new container beside the old)",
        p.compose_args
    ));
    v.push(format!("wait up to {} s for the new container's healthcheck; exited, restarting or unhealthy fails at once", p.timeout_secs));
    v.push("healthy: Caddy routes to it by the service name (both answer `api`); stop the old container (SIGTERM, grace), remove it".into());
    v.push(format!("failed: show the new container's logs, stop and remove it, put the old image back in {OVERRIDE_FILE}; the old container never stopped; exit 1"));
    v.push(format!(
        "record the result in {}/{HISTORY_FILE}{}",
        p.dir,
        if p.rollback {
            " (the current entry dropped)"
        } else {
            " (appended)"
        }
    ));
    if p.web.is_some() {
        v.push(format!(
            "[web] the API live and recorded: switch {}/{WEB_DIR} (caddy's mount) to the release {}: files renamed in one by one, index.html last, then files the release lacks removed; a failed API leaves the site as it was",
            p.dir,
            if p.rollback {
                "recorded with the target entry"
            } else {
                "just uploaded"
            }
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_pins_the_image_and_drops_the_port() {
        let y = render_override("127.0.0.1:5000/acme/api:v2").unwrap();
        assert!(y.contains("image: \"127.0.0.1:5000/acme/api:v2\""));
        assert!(y.contains("ports: !reset []"));
        assert!(render_override("bad image; rm -rf /").is_err());
        assert!(render_override("x\ny: 1").is_err());
    }

    #[test]
    fn history_is_a_stack() {
        let h = parse_history("1 r/a:1\n\ngarbage\n2 r/a:2\n3 not an image!\n");
        assert_eq!(
            h.iter().map(|e| e.image.as_str()).collect::<Vec<_>>(),
            ["r/a:1", "r/a:2"]
        );
        assert_eq!(rollback_target(&h).unwrap().image, "r/a:1");
        let after = next_history(&h, "r/a:1", None, 9, true);
        assert_eq!(after.len(), 1);
        assert!(rollback_target(&after).is_err());
        assert!(rollback_target(&[]).is_err());
        let after = next_history(&h, "r/a:3", Some("0123abcd0123abcd"), 9, false);
        assert_eq!(after.last().unwrap().image, "r/a:3");
        assert_eq!(
            after.last().unwrap().site.as_deref(),
            Some("0123abcd0123abcd")
        );
        assert_eq!(parse_history(&render_history(&after)), after);
        // a site id that is not a digest, or a word more: the line is ignored
        assert!(parse_history("1 r/a:1 site=../../etc\n2 r/a:2 site=0123abcd x\n").is_empty());
        let long: Vec<Entry> = (0..60)
            .map(|i| Entry {
                at: i,
                image: format!("r/a:{i}"),
                site: None,
            })
            .collect();
        assert_eq!(next_history(&long, "r/a:x", None, 99, false).len(), 50);
    }

    #[test]
    fn plan_names_every_step_and_never_the_env_content() {
        let uploads = [
            Upload {
                name: ".env.staging".into(),
                mode: "600",
                secret: true,
            },
            Upload {
                name: "Caddyfile".into(),
                mode: "644",
                secret: false,
            },
        ];
        let p = plan(&PlanInput {
            host: "ssh://deploy@vps",
            dir: "/srv/x",
            image: Some("r/a:2"),
            rollback: false,
            uploads: &uploads,
            migrate: Some("migrate"),
            services: &[],
            timeout_secs: 60,
            compose_args: "-f a.yml",
            web: Some("infra/web.Dockerfile"),
        });
        let text = p.join("\n");
        for want in [
            "docker pull r/a:2",
            "/srv/x/.env.staging (mode 600, content never printed)",
            "run --rm migrate",
            "--scale api=",
            "wait up to 60 s",
            "(appended)",
            "--target site --output type=local",
            "/srv/x/web.<id>",
            "switch /srv/x/web",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
