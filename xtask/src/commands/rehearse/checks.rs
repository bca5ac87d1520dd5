//! The checks on the running stack: readiness, dependency order, HTTPS and /health through
//! the proxy, the HTTP redirect, and nothing left behind after `down`.

use super::*;

pub(super) fn wait_ready(
    sh: &Shell,
    docker: &ComposeCli,
    project: &Project<'_>,
    plan: &Plan,
    (expected, one_shots): (&[(String, bool)], &[String]),
    up_ok: bool,
    timeout: u64,
) -> Result<Vec<(String, Readiness)>> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut last = String::new();
    loop {
        check_interrupt()?;
        let rows = parse_ps(&project.ps(sh)?)?;
        let st = stack_readiness(&rows, expected, one_shots);
        let failed = st.iter().any(|(_, r)| matches!(r, Readiness::Failed(_)));
        let done = st.iter().all(|(_, r)| matches!(r, Readiness::Ready(_)));
        if failed || done || !up_ok || Instant::now() >= deadline {
            if !failed && !done && up_ok {
                eprintln!("rehearse: timed out after {timeout} s waiting for the stack");
            }
            // an unhealthy service: what its healthcheck said (the status it got, or why none)
            let st = if st
                .iter()
                .any(|(_, r)| matches!(r, Readiness::Failed(x) if x == "unhealthy"))
            {
                let inspect = project
                    .ids(sh)
                    .and_then(|ids| docker.inspect(sh, &ids))
                    .unwrap_or(serde_json::Value::Null);
                rehearsal::with_last_probes(st, &inspect)
            } else {
                st
            };
            return Ok(st
                .into_iter()
                .map(|(s, r)| match r {
                    Readiness::Pending(x) if !up_ok || Instant::now() >= deadline => {
                        (s, Readiness::Failed(format!("{x} (gave up)")))
                    }
                    r => (s, r),
                })
                .collect());
        }
        let line = st
            .iter()
            .map(|(s, r)| {
                let how = match r {
                    Readiness::Ready(x) | Readiness::Pending(x) | Readiness::Failed(x) => x,
                };
                format!("{}: {how}", plan.label(s))
            })
            .collect::<Vec<_>>()
            .join(", ");
        if line != last {
            eprintln!("rehearse: waiting: {line}");
            last = line;
        }
        nap(Duration::from_secs(1))?;
    }
}

pub(super) fn show_logs(
    sh: &Shell,
    docker: &ComposeCli,
    project: &Project<'_>,
    plan: &Plan,
    services: &[String],
    secrets: &[String],
    out: &mut Report,
) {
    let inspect = project
        .ids(sh)
        .and_then(|ids| docker.inspect(sh, &ids))
        .unwrap_or(serde_json::Value::Null);
    for s in services {
        out.say(format!(
            "---- docker compose logs --no-color --tail {LOG_TAIL} {s}  [{}] ----",
            plan.label(s)
        ));
        if let Some(summary) = rehearsal::container_summary(&inspect, s) {
            out.say(format!("(container: {summary})"));
        }
        // plain text (no terminal escapes), and a log line that holds a throwaway secret is
        // shown with it redacted
        let logs = project
            .logs(sh, s, LOG_TAIL)
            .map(|t| rehearsal::redact(&crate::text::plain(&t), secrets));
        match &logs {
            Ok(text) if text.trim().is_empty() => out.say("(no output)"),
            Ok(text) => out.say(text.trim_end_matches('\n')),
            Err(e) => out.say(format!("(cannot read the logs: {e:#})")),
        }
        out.logs.push(ServiceLogs::of(
            s,
            rehearsal::container_summary(&inspect, s),
            logs.unwrap_or_default(),
        ));
        out.say(format!("---- end of logs: {s} ----"));
    }
}

pub(super) fn check_dependency_order(
    sh: &Shell,
    docker: &ComposeCli,
    project: &Project<'_>,
    plan: &Plan,
    merged: &[FileService],
    report: &mut Report,
) -> Result<()> {
    let inspect = docker.inspect(sh, &project.ids(sh)?)?;
    let started = parse_inspect(&inspect);
    let mut honoured = Vec::new();
    let mut unknown = Vec::new();
    let mut bad = false;
    for s in &plan.services {
        let Some(m) = merged.iter().find(|m| m.name == s.name) else {
            continue;
        };
        for (dep, cond) in &m.depends_on {
            match check_order(&started, &s.name, dep, cond) {
                Order::Honoured { margin_ms } => honoured.push(format!(
                    "{} started {:.1} s after {} was {}",
                    plan.label(&s.name),
                    margin_ms as f64 / 1000.0,
                    plan.label(dep),
                    if cond == "service_healthy" {
                        "healthy"
                    } else {
                        "started"
                    }
                )),
                Order::Unknown(why) => unknown.push(why),
                Order::Violated(why) => {
                    bad = true;
                    report.fail(
                        "depends-on",
                        format!("depends_on {cond} not honoured: {why}"),
                    );
                }
            }
        }
    }
    if !bad {
        report.pass(
            "depends-on",
            format!("depends_on honoured: {}", honoured.join("; ")),
        );
    }
    for u in unknown {
        report.note(format!("(cannot tell: {u})"));
    }
    Ok(())
}

/// `GET url` through curl (10 s of retries), parsed: the status line and the body.
pub(super) fn curl_get(
    curl: &Curl,
    sh: &Shell,
    url: &str,
    resolve: &str,
    cacert: Option<&Path>,
    body: &Path,
) -> Result<(crate::rehearsal::Http, String)> {
    let out = curl.get(sh, url, resolve, cacert, body, 10)?;
    let http = crate::rehearsal::parse_curl(&out.write_out)
        .with_context(|| format!("curl {url}: {}", out.stderr))?;
    Ok((http, out.body))
}

pub(super) fn check_https(
    env: &Env<'_>,
    curl: &Curl,
    plan: &Plan,
    merged: &[FileService],
    roles: &Roles,
    hosts: &[String],
    report: &mut Report,
) -> Result<bool> {
    let (sh, model, dir) = (env.sh, env.model, env.dir);
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    let target = https_target(model);
    let Some(port) = plan.proxy_port(target) else {
        report.fail(
            "https",
            format!("{} publishes no port for {target}", plan.label(&plan.proxy)),
        );
        return Ok(false);
    };
    let want = model.config.api.health.status;
    let url = format!("https://{host}:{port}{}", model.config.api.health.path);
    let resolve = format!("{host}:{port}:127.0.0.1");
    let ca = dir.join("certs").join(&model.config.caddy.cert_file);
    let (h, body) = curl_get(
        curl,
        sh,
        &url,
        &resolve,
        Some(&ca),
        &dir.join("health.json"),
    )?;
    let upstream = std::fs::read_to_string(dir.join("Caddyfile"))
        .ok()
        .and_then(|c| rehearsal::caddy_upstream(&c))
        .unwrap_or_else(|| model.stack.caddy.upstream.clone());
    let via = format!(
        "{} → `reverse_proxy {upstream}` → {}",
        plan.label(&plan.proxy),
        plan.label(&roles.api)
    );
    if h.exit != 0 || h.code != want {
        if h.exit == 0 {
            report.health_body = Some(health::judge(
                &body,
                &model.config.api.health.body,
                env.secrets,
            ));
        }
        report.fail(
            "https",
            format!(
                "GET {url} via {via}: {}",
                if h.exit != 0 {
                    format!("curl exit {}: {}", h.exit, h.error)
                } else {
                    format!(
                        "status {} (want {want}, [api.health] status): {}",
                        h.code,
                        if body.trim().is_empty() {
                            "(empty body)".to_string()
                        } else {
                            format!("{body:.300}")
                        }
                    )
                }
            ),
        );
        return Ok(false);
    }
    report.pass(
        "https",
        format!(
            "GET {url} → {} via {via}; TLS verified against the test origin certificate (SAN {})",
            h.code,
            hosts.join(", ")
        ),
    );
    let api = merged.iter().find(|m| m.name == roles.api);
    for (_, var) in HEALTH_CHECKS {
        // where the API's environment names a dependency's host, it is a started service
        let Some(host) = api.and_then(|a| a.environment.get(*var)) else {
            continue;
        };
        if plan.service(host).is_none() {
            report.fail(
                "health",
                format!("the API's {var} is {host:?}, not the name of a started service"),
            );
        }
    }
    Ok(check_health_body(env, &body, report))
}

/// The health body's checks ([`crate::health`]): one `health` check, the data in the report.
pub(super) fn check_health_body(env: &Env<'_>, body: &str, report: &mut Report) -> bool {
    let judged = health::judge(body, &env.model.config.api.health.body, env.secrets);
    let what = match judged.source {
        health::Source::Config => "[api.health.body]",
        health::Source::Terminus => "NestJS terminus's shape (no [api.health.body])",
        health::Source::None => {
            "no body checks: none in [api.health.body], and the body has no shape known here"
        }
    };
    let path = &env.model.config.api.health.path;
    let ok = judged.ok();
    let lines = judged.lines();
    let msg = if lines.is_empty() {
        format!("{path} through caddy: {what}")
    } else {
        format!("{path} through caddy: {what}: {}", lines.join("; "))
    };
    report.check("health", ok, msg);
    if !ok {
        report.note(format!("body: {body:.500}"));
    }
    report.health_body = Some(judged);
    ok
}

pub(super) fn check_http(
    sh: &Shell,
    curl: &Curl,
    plan: &Plan,
    model: &Model,
    dir: &Path,
    hosts: &[String],
    report: &mut Report,
) -> Result<bool> {
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    let target = model.stack.caddy.http_port;
    let Some(port) = plan.proxy_port(target) else {
        report.fail(
            "redirect",
            format!("{} publishes no port for {target}", plan.label(&plan.proxy)),
        );
        return Ok(false);
    };
    let url = format!("http://{host}:{port}{}", model.config.api.health.path);
    let resolve = format!("{host}:{port}:127.0.0.1");
    let (h, _) = curl_get(curl, sh, &url, &resolve, None, &dir.join("redirect.body"))?;
    match check_redirect(&h) {
        Ok(what) => {
            report.pass(
                "redirect",
                format!("GET {url} → {what} (permanent redirect to https)"),
            );
            Ok(true)
        }
        Err(why) => {
            report.fail("redirect", format!("GET {url}: {why}"));
            Ok(false)
        }
    }
}

pub(super) fn check_leftovers(left: &Leftovers, volumes: bool, project: &str, report: &mut Report) {
    if left.containers.is_empty() && left.networks.is_empty() {
        report.pass(
            "down",
            format!("down: no container or network left for project {project}"),
        );
    } else {
        report.fail(
            "down",
            format!(
                "down left containers [{}] and networks [{}] of project {project}",
                left.containers.join(", "),
                left.networks.join(", ")
            ),
        );
    }
    if volumes {
        if left.volumes.is_empty() {
            report.pass("down-volumes", "down --volumes: no named volume left");
        } else {
            report.fail(
                "down-volumes",
                format!("down --volumes left volumes [{}]", left.volumes.join(", ")),
            );
        }
    } else if !left.volumes.is_empty() {
        report.note(format!(
            "named volumes kept (as without --volumes): {}; remove with `docker volume rm {}`",
            left.volumes.join(", "),
            left.volumes.join(" ")
        ));
    }
}
