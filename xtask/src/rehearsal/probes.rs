//! The probes' output: curl's `--write-out`, `docker inspect` (start times, health logs,
//! the state of a failing container), the deployed Caddyfile's upstream, the order the
//! services started in.

use super::*;

/// What `curl --write-out '%{json}'` reports about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http {
    pub code: u16,
    pub redirect_url: String,
    /// curl's exit code (0: the transfer worked, whatever the status).
    pub exit: i64,
    pub error: String,
    /// 0 when the certificate chain verified.
    pub ssl_verify: i64,
    pub scheme: String,
}

pub fn parse_curl(json: &str) -> Result<Http> {
    let v: Value = serde_json::from_str(json.trim())
        .with_context(|| format!("curl printed no JSON write-out: {json:?}"))?;
    let n = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(-1);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(Http {
        code: u16::try_from(n("http_code")).unwrap_or(0),
        redirect_url: s("redirect_url"),
        exit: n("exitcode"),
        error: s("errormsg"),
        ssl_verify: n("ssl_verify_result"),
        scheme: s("scheme").to_ascii_lowercase(),
    })
}

/// A plain-HTTP request must get a permanent redirect to https.
pub fn check_redirect(h: &Http) -> std::result::Result<String, String> {
    if h.exit != 0 {
        return Err(format!(
            "request failed: {} (curl exit {})",
            h.error, h.exit
        ));
    }
    if !matches!(h.code, 301 | 308) {
        return Err(format!(
            "status {} (want 301 or 308, a permanent redirect){}",
            h.code,
            if h.redirect_url.is_empty() {
                String::new()
            } else {
                format!(" to {}", h.redirect_url)
            }
        ));
    }
    if !h.redirect_url.starts_with("https://") {
        return Err(format!(
            "{} redirect to {:?}, not to https",
            h.code, h.redirect_url
        ));
    }
    Ok(format!("{} → {}", h.code, h.redirect_url))
}

// ---------------------------------------------------------------------------------------------
// depends_on ordering, from `docker inspect`

/// Nanoseconds since the epoch of an RFC 3339 time as Docker prints it
/// (`2024-05-01T12:00:00.123456789Z`, or with a `+hh:mm` offset).
pub fn parse_time(s: &str) -> Option<i128> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let (clock, offset_secs) = if let Some(c) = rest.strip_suffix('Z') {
        (c, 0i64)
    } else {
        let idx = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(idx);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.parse().ok()?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        if !frac.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().ok()?;
    }
    // days from civil (Howard Hinnant)
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = if yy >= 0 { yy } else { yy - 399 } / 400;
    let yoe = yy - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// One container's start and health history, from `docker inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub service: String,
    pub started_at: i128,
    /// End times of the successful health probes still in the log.
    pub healthy_probes: Vec<i128>,
    /// Start of the oldest probe still in the log (Docker keeps the last five).
    pub oldest_probe: Option<i128>,
}

pub fn parse_inspect(v: &Value) -> Vec<Started> {
    let Some(arr) = v.as_array() else {
        return Vec::new();
    };
    arr.iter()
        .filter_map(|c| {
            let service = c
                .pointer("/Config/Labels/com.docker.compose.service")
                .and_then(Value::as_str)?
                .to_string();
            let started_at = parse_time(c.pointer("/State/StartedAt")?.as_str()?)?;
            let log = c
                .pointer("/State/Health/Log")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let healthy_probes = log
                .iter()
                .filter(|e| e.get("ExitCode").and_then(Value::as_i64) == Some(0))
                .filter_map(|e| parse_time(e.get("End")?.as_str()?))
                .collect();
            let oldest_probe = log
                .iter()
                .filter_map(|e| parse_time(e.get("Start")?.as_str()?))
                .min();
            Some(Started {
                service,
                started_at,
                healthy_probes,
                oldest_probe,
            })
        })
        .collect()
}

/// The upstream of the first `reverse_proxy` in a Caddyfile (what is really deployed, which a
/// hand edit may have changed from what the model says).
pub fn caddy_upstream(caddyfile: &str) -> Option<String> {
    caddyfile.lines().find_map(|l| {
        let t = l.trim();
        if t.starts_with('#') {
            return None;
        }
        let rest = t.strip_prefix("reverse_proxy")?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let up: Vec<&str> = rest.split_whitespace().take_while(|w| *w != "{").collect();
        (!up.is_empty()).then(|| up.join(" "))
    })
}

/// The container of `service` in `docker inspect`'s array.
fn container_of<'a>(v: &'a Value, service: &str) -> Option<&'a Value> {
    v.as_array()?.iter().find(|c| {
        c.pointer("/Config/Labels/com.docker.compose.service")
            .and_then(Value::as_str)
            == Some(service)
    })
}

/// The last healthcheck probe of one inspected container: `last probe exit N: <output>`
/// (escapes stripped, on one line, at most 300 characters), when it has a health log.
fn last_probe(c: &Value) -> Option<String> {
    let last = c
        .pointer("/State/Health/Log")
        .and_then(Value::as_array)
        .and_then(|l| l.last())?;
    let output = crate::text::plain(last.get("Output").and_then(Value::as_str).unwrap_or(""));
    let output = output.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(format!(
        "last probe exit {}: {:.300}",
        last.get("ExitCode").and_then(Value::as_i64).unwrap_or(-1),
        if output.is_empty() {
            "(no output)"
        } else {
            &output
        }
    ))
}

/// The last healthcheck probe of `service`'s container (see [`container_summary`]).
pub fn service_last_probe(v: &Value, service: &str) -> Option<String> {
    last_probe(container_of(v, service)?)
}

/// One line on a failing service's container from `docker inspect`: state, exit code,
/// restarts, the engine's error, and the last healthcheck output (what `pg_isready` said).
pub fn container_summary(v: &Value, service: &str) -> Option<String> {
    let c = container_of(v, service)?;
    let s = |p: &str| {
        c.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let n = |p: &str| c.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let mut out = format!(
        "state {}, exit code {}, restarts {}",
        s("/State/Status"),
        n("/State/ExitCode"),
        n("/RestartCount")
    );
    if c.pointer("/State/OOMKilled").and_then(Value::as_bool) == Some(true) {
        out.push_str(", OOM-killed");
    }
    let err = s("/State/Error");
    if !err.is_empty() {
        out.push_str(&format!(", engine error: {err}"));
    }
    let health = s("/State/Health/Status");
    if !health.is_empty() {
        out.push_str(&format!(
            ", health {health} ({} failing probe(s) in a row)",
            n("/State/Health/FailingStreak")
        ));
        if let Some(last) = last_probe(c) {
            out.push_str(&format!("; {last}"));
        }
    }
    Some(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// `svc` started `margin_ms` after `dep` met the condition.
    Honoured {
        margin_ms: i128,
    },
    Violated(String),
    /// The evidence is gone (health log rotated) or missing.
    Unknown(String),
}

/// Did `svc` start only after `dep` met `condition`?
pub fn check_order(started: &[Started], svc: &str, dep: &str, condition: &str) -> Order {
    let (Some(s), Some(d)) = (
        started.iter().find(|c| c.service == svc),
        started.iter().find(|c| c.service == dep),
    ) else {
        return Order::Unknown(format!("no container found for {svc} or {dep}"));
    };
    match condition {
        "service_healthy" => match d.healthy_probes.iter().min() {
            Some(&first) if first <= s.started_at => Order::Honoured {
                margin_ms: (s.started_at - first) / 1_000_000,
            },
            _ if d.oldest_probe.is_none_or(|o| o > s.started_at) => {
                Order::Unknown(format!("{dep}'s health log no longer covers {svc}'s start"))
            }
            _ => Order::Violated(format!("{svc} started before {dep} passed a healthcheck")),
        },
        _ => {
            if d.started_at <= s.started_at {
                Order::Honoured {
                    margin_ms: (s.started_at - d.started_at) / 1_000_000,
                }
            } else {
                Order::Violated(format!("{svc} started before {dep}"))
            }
        }
    }
}
