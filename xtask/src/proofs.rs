//! The rehearsal's proofs that the VPS hardening is in effect on the running stack: each
//! judges what a probe captured (pure), so each is tested on the output a stack without the
//! feature gives.

use serde_json::Value;

use crate::stack::API_DOWN_PAGE;

/// `Ok(what was seen)` or `Err(why the proof fails)`.
pub type Verdict = Result<String, String>;

pub mod web;

/// `redis-cli ping` without a password.
pub fn redis_refuses_unauthenticated(output: &str) -> Verdict {
    if output.contains("NOAUTH") {
        Ok("an unauthenticated PING to redis is refused (NOAUTH)".into())
    } else if output.contains("PONG") {
        Err(
            "redis answered PONG to a PING without a password: --requirepass is not in effect"
                .into(),
        )
    } else {
        Err(format!(
            "unexpected answer to an unauthenticated PING: {:.200}",
            output.trim()
        ))
    }
}

/// The response headers of an HTTPS answer from caddy.
pub fn edge_headers(headers: &str, hsts_max_age: u32) -> Verdict {
    let get = |name: &str| {
        headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut missing = Vec::new();
    match get("Strict-Transport-Security") {
        Some(v) if v.contains(&format!("max-age={hsts_max_age}")) => {}
        other => missing.push(format!(
            "Strict-Transport-Security max-age={hsts_max_age} (got {other:?})"
        )),
    }
    if !get("X-Content-Type-Options").is_some_and(|v| v.eq_ignore_ascii_case("nosniff")) {
        missing.push("X-Content-Type-Options: nosniff".into());
    }
    if get("Referrer-Policy").is_none() {
        missing.push("Referrer-Policy".into());
    }
    if !get("X-Frame-Options").is_some_and(|v| v.eq_ignore_ascii_case("DENY")) {
        missing.push("X-Frame-Options: DENY".into());
    }
    if let Some(s) = get("Server") {
        missing.push(format!("no Server header (got {s:?})"));
    }
    if missing.is_empty() {
        Ok(format!("HTTPS answer carries HSTS max-age={hsts_max_age}, nosniff, Referrer-Policy, X-Frame-Options DENY, no Server"))
    } else {
        Err(format!("the HTTPS answer lacks: {}", missing.join("; ")))
    }
}

/// A POST declaring a body over the limit: 413 from caddy, and the API's log never saw it.
pub fn body_refused_at_edge(status: u16, body: &str, api_saw_it: bool, limit: u64) -> Verdict {
    if status != 413 {
        return Err(format!("a body over {limit} bytes got {status}, not 413"));
    }
    if !body.starts_with("Request body over") || api_saw_it {
        return Err(
            "the 413 came from the API, not from caddy: the request reached the API".into(),
        );
    }
    Ok(format!(
        "a body over {limit} bytes gets 413 from caddy; the API never saw the request"
    ))
}

/// `nslookup <name>` in the caddy container (busybox: its own DNS client, so it works in
/// static stand-ins too).
pub fn unreachable_by_name(name: &str, output: &str) -> Verdict {
    let o = output.to_ascii_lowercase();
    if o.contains("bad address")
        || o.contains("can't resolve")
        || o.contains("nxdomain")
        || o.contains("name or service not known")
    {
        Ok(format!("{name} does not resolve from caddy"))
    } else {
        Err(format!(
            "caddy reaches {name} by name: {:.200}",
            output.trim()
        ))
    }
}

/// `docker inspect` of the project's containers: every one logs with the configured rotation.
pub fn log_options(inspect: &Value, driver: &str, max_size: &str, max_file: u32) -> Verdict {
    let Some(list) = inspect.as_array() else {
        return Err("docker inspect printed no list".into());
    };
    let mut bad = Vec::new();
    for c in list {
        let name = c["Name"].as_str().unwrap_or("?").trim_start_matches('/');
        let lc = &c["HostConfig"]["LogConfig"];
        let ok = lc["Type"] == driver
            && lc["Config"]["max-size"] == max_size
            && lc["Config"]["max-file"] == max_file.to_string().as_str();
        if !ok {
            bad.push(format!("{name}: {lc}"));
        }
    }
    if list.is_empty() {
        return Err("no container to inspect".into());
    }
    if bad.is_empty() {
        Ok(format!("{} container(s) log with {driver}, max-size {max_size}, max-file {max_file} (docker inspect)", list.len()))
    } else {
        Err(format!("log options not in effect: {}", bad.join("; ")))
    }
}

/// With the API stopped: caddy still answers, with the 503 page.
pub fn api_down_page(caddy_running: bool, status: u16, body: &str) -> Verdict {
    if !caddy_running {
        return Err("caddy stopped with the API".into());
    }
    if (status == 503 || status == 502) && body.contains(API_DOWN_PAGE) {
        Ok(format!(
            "with the API stopped caddy still serves: {status} with the API-down page"
        ))
    } else {
        Err(format!(
            "with the API stopped caddy answered {status}: {:.200}",
            body.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_proof_fails_without_its_feature() {
        // redis without --requirepass answers PONG
        assert!(redis_refuses_unauthenticated("NOAUTH Authentication required.\n").is_ok());
        assert!(redis_refuses_unauthenticated("PONG\n").is_err());
        // a Caddyfile without the header block
        let full = "HTTP/2 200\r\nstrict-transport-security: max-age=31536000\r\nx-content-type-options: nosniff\r\nreferrer-policy: strict-origin-when-cross-origin\r\nx-frame-options: DENY\r\n\r\n";
        assert!(edge_headers(full, 31_536_000).is_ok());
        assert!(edge_headers("HTTP/2 200\r\nserver: Caddy\r\n\r\n", 31_536_000).is_err());
        assert!(edge_headers(&full.replace("x-frame-options: DENY\r\n", ""), 31_536_000).is_err());
        assert!(edge_headers(&format!("{full}server: Caddy\r\n"), 31_536_000).is_err());
        // without the @too_large precheck the API answers (Nest: 413 JSON) after seeing it
        assert!(body_refused_at_edge(413, "Request body over 5 bytes", false, 5).is_ok());
        assert!(body_refused_at_edge(413, "{\"statusCode\":413}", true, 5).is_err());
        assert!(body_refused_at_edge(200, "ok", true, 5).is_err());
        // caddy on the data network resolves postgres
        assert!(unreachable_by_name("postgres", "wget: bad address 'postgres:5432'").is_ok());
        assert!(unreachable_by_name(
            "postgres",
            "Server:\t\t127.0.0.11\n** server can't find postgres: NXDOMAIN\n"
        )
        .is_ok());
        assert!(unreachable_by_name(
            "postgres",
            "Server:\t\t127.0.0.11\nName:\tpostgres\nAddress: 172.18.0.2\n"
        )
        .is_err());
        // logging: removed → the engine default json-file without options
        let ok = json!([{"Name": "/p-api-1", "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}}}]);
        assert!(log_options(&ok, "json-file", "10m", 3).is_ok());
        let bare = json!([{"Name": "/p-api-1", "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {}}}}]);
        assert!(log_options(&bare, "json-file", "10m", 3).is_err());
        // no handle_errors: an empty 502; caddy gone with the API: not running
        assert!(api_down_page(true, 503, API_DOWN_PAGE).is_ok());
        assert!(api_down_page(true, 502, "").is_err());
        assert!(api_down_page(false, 0, "").is_err());
    }
}
