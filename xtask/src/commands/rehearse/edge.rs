//! The edge's proofs: Caddy's hardening (headers, body limit, client IPs, the page while the
//! API is down) and, with `[web]`, the web app's site built and served.

use super::*;

/// The VPS hardening, proven on the running stack (issue 13): redis refuses an unauthenticated
/// PING; the HTTPS answer carries the security headers; a body over the limit gets 413 from
/// caddy; caddy cannot resolve postgres or redis; the log options are in effect; with the API
/// stopped caddy still answers with the API-down page (last: it stops the API, then starts it
/// again so `--keep` leaves the whole stack).
pub(super) fn prove_hardening(
    env: &Env<'_>,
    curl: &Curl,
    project: &Project,
    plan: &Plan,
    roles: &Roles,
    hosts: &[String],
    report: &mut Report,
) -> Result<()> {
    let (sh, docker, model, dir) = (env.sh, env.docker, env.model, env.dir);
    use crate::proofs;
    let mut verdict = |v: proofs::Verdict| match v {
        Ok(m) => report.pass("hardening", m),
        Err(m) => report.fail("hardening", m),
    };
    let started = plan.names();
    let redis = roles
        .kinds
        .iter()
        .find(|(_, k)| *k == Kind::Redis)
        .map(|(n, _)| n.clone());
    if let Some(redis) = redis.filter(|r| started.contains(r)) {
        let (_, out) = project.exec(sh, &redis, &["redis-cli", "ping"])?;
        verdict(proofs::redis_refuses_unauthenticated(&out));
    }
    let host = hosts.first().map(String::as_str).unwrap_or("localhost");
    let Some(port) = plan.proxy_port(https_target(model)) else {
        return Ok(());
    };
    let resolve = format!("{host}:{port}:127.0.0.1");
    let ca = dir.join("certs").join(&model.config.caddy.cert_file);
    let headers = dir.join("proof.headers");
    let body = dir.join("proof.body");
    // the API's health path ([api.health] path), as every request of the rehearsal
    let health = format!("https://{host}:{port}{}", model.config.api.health.path);
    let get_health = probe::Request {
        url: &health,
        resolve: &resolve,
        cacert: Some(&ca),
        extra: &[],
    };
    let (_, h) = curl.request(sh, &get_health, &headers, &body)?;
    verdict(proofs::edge_headers(&h, model.config.edge.hsts_max_age));

    let limit = model.config.edge.max_body;
    let path = format!("/xtask-upload-probe-{}", std::process::id());
    let upload = probe::Request {
        url: &format!("https://{host}:{port}{path}"),
        extra: &[
            "-X".into(),
            "POST".into(),
            "-H".into(),
            format!("Content-Length: {}", limit + 1),
            "-H".into(),
            "Expect:".into(),
            "--data-binary".into(),
            "x".into(),
        ],
        ..get_health
    };
    let (out, _) = curl.request(sh, &upload, &headers, &body)?;
    let status = crate::rehearsal::parse_curl(&out.write_out)
        .map(|h| h.code)
        .unwrap_or(0);
    let api_log = project.logs(sh, &roles.api, 200)?;
    verdict(proofs::body_refused_at_edge(
        status,
        &out.body,
        api_log.contains(&path),
        limit,
    ));

    for name in ["postgres", "redis"] {
        if !started.iter().any(|s| s == name) {
            continue;
        }
        let (_, out) = project.exec(sh, &plan.proxy, &["nslookup", name])?;
        verdict(proofs::unreachable_by_name(name, &out));
    }

    let ids = project.ids(sh)?;
    let inspect = docker.inspect(sh, &ids)?;
    let logs = &model.config.logs;
    verdict(proofs::log_options(
        &inspect,
        &logs.driver,
        &logs.max_size,
        logs.max_file,
    ));

    project.stop(sh, &roles.api)?;
    let (out, _) = curl.request(sh, &get_health, &headers, &body)?;
    let status = crate::rehearsal::parse_curl(&out.write_out)
        .map(|h| h.code)
        .unwrap_or(0);
    let (alive, _) = project.exec(sh, &plan.proxy, &["true"])?;
    verdict(proofs::api_down_page(alive == 0, status, &out.body));
    // the stack as it was (for --keep): the API back, answering through caddy again
    project.start(sh, &roles.api)?;
    let back = curl.get(sh, &health, &resolve, Some(&ca), &body, 60)?;
    let code = crate::rehearsal::parse_curl(&back.write_out)
        .map(|h| h.code)
        .unwrap_or(0);
    let want = model.config.api.health.status;
    if code != want {
        report.fail(
            "hardening",
            format!(
                "the API, started again after the API-down proof, does not answer GET {health} through caddy (status {code}, want {want}: [api.health] status)"
            ),
        );
    }
    Ok(())
}

/// With `[web]`: the web app built from `infra/web.Dockerfile` into `./web` beside the copied
/// compose file (caddy mounts it read-only), on the Node base the API image uses.
pub(super) fn build_web_site(
    ctx: &Ctx,
    model: &Model,
    args: &Args,
    dir: &Path,
) -> Result<Option<crate::ops::web::Built>> {
    let Some(web) = &model.stack.web else {
        return Ok(None);
    };
    let engine = crate::tools::docker::Docker::find()?;
    let node = crate::ops::web::node_base(&engine, model, args.node_image.as_deref())?;
    let built = crate::ops::web::build_site(ctx, web, &node, &dir.join("web"), "rehearse")?;
    eprintln!(
        "rehearse: web app {} built on {} in {:.1} s; caddy serves it on {}",
        web.name, built.base_said, built.seconds, web.domain
    );
    Ok(Some(built))
}

/// The web proofs (`web-index`, `web-deep-link`, `web-assets`) on the web domain.
pub(super) fn prove_web(
    env: &Env<'_>,
    curl: &Curl,
    plan: &Plan,
    built: &crate::ops::web::Built,
    report: &mut Report,
) -> Result<()> {
    let (model, dir) = (env.model, env.dir);
    let Some(web) = &model.stack.web else {
        return Ok(());
    };
    let target = https_target(model);
    let Some(port) = plan.proxy_port(target) else {
        report.fail(
            "web-index",
            format!("{} publishes no port for {target}", plan.label(&plan.proxy)),
        );
        return Ok(());
    };
    let ca = dir.join("certs").join(&model.config.caddy.cert_file);
    let t = crate::ops::web::Target {
        sh: env.sh,
        curl,
        domain: &web.domain,
        port,
        ca: &ca,
        dir,
        hsts_max_age: model.config.edge.hsts_max_age,
    };
    for (id, verdict) in crate::ops::web::prove(&t, web, built)? {
        match verdict {
            Ok(m) => report.pass(id, m),
            Err(m) => report.fail(id, m),
        }
    }
    if built.asset.is_none() {
        report.note(format!(
            "no file under /{}/ in the build (web.assets): no asset's cache to prove",
            web.assets
        ));
    }
    Ok(())
}
