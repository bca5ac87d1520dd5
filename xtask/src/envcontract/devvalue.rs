//! Dev values: an example value pointing at localhost never reaches staging. A public URL,
//! origin or domain is derived from `web.domain`/`caddy.domains`; a listen address becomes
//! `0.0.0.0`; anything else is required from `.env.staging`.

use super::Offer;

/// What a key names, when it is a public address of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Public {
    /// The web app's URL (`https://<web.domain>`).
    WebUrl,
    /// The API's public base URL (`https://<first caddy.domains>`).
    ApiUrl,
    /// Allowed origins: a list of both.
    Origins,
    /// A bare domain (the host only: the web app's, else the API's).
    Domain,
}

/// The names of public addresses, by kind (data: a test walks it).
pub const PUBLIC_NAMES: &[(Public, &[&str])] = &[
    (
        Public::WebUrl,
        &[
            "WEB_URL",
            "WEB_APP_URL",
            "WEBAPP_URL",
            "FRONTEND_URL",
            "FRONT_URL",
            "CLIENT_URL",
            "APP_URL",
            "SITE_URL",
            "DASHBOARD_URL",
            "UI_URL",
            "WEB_ORIGIN",
            "FRONTEND_ORIGIN",
            "CLIENT_ORIGIN",
            "APP_ORIGIN",
        ],
    ),
    (
        Public::ApiUrl,
        &[
            "API_URL",
            "PUBLIC_URL",
            "BASE_URL",
            "API_BASE_URL",
            "PUBLIC_API_URL",
            "API_PUBLIC_URL",
            "BACKEND_URL",
            "SERVER_URL",
            "SERVER_PUBLIC_URL",
            "APP_BASE_URL",
            "EXTERNAL_URL",
        ],
    ),
    (
        Public::Origins,
        &[
            "CORS_ORIGIN",
            "CORS_ORIGINS",
            "CORS_ALLOWED_ORIGINS",
            "CORS_ALLOW_ORIGINS",
            "ALLOWED_ORIGINS",
            "TRUSTED_ORIGINS",
            "ORIGINS",
        ],
    ),
    (
        Public::Domain,
        &[
            "SIWE_DOMAIN",
            "COOKIE_DOMAIN",
            "APP_DOMAIN",
            "WEB_DOMAIN",
            "DOMAIN",
            "RP_ID",
            "WEBAUTHN_RP_ID",
        ],
    ),
];

/// Keys that name the address the API listens on: `0.0.0.0` there is right in a container.
pub const LISTEN_NAMES: &[&str] = &[
    "HOST",
    "BIND",
    "BIND_HOST",
    "BIND_ADDR",
    "BIND_ADDRESS",
    "LISTEN_HOST",
    "LISTEN_ADDR",
    "LISTEN_ADDRESS",
    "SERVER_HOST",
    "HTTP_HOST",
];

/// The kind of public address `name` is, if it is one.
pub fn public_kind(name: &str) -> Option<Public> {
    PUBLIC_NAMES
        .iter()
        .find(|(_, names)| names.contains(&name))
        .map(|(k, _)| *k)
}

/// localhost, `*.localhost`, 127.x, `0.0.0.0`, `::1`.
pub fn is_local_host(host: &str) -> bool {
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    h == "localhost"
        || h.starts_with("127.")
        || h == "::1"
        || h == "0.0.0.0"
        || h.ends_with(".localhost")
}

/// A value as a list of addresses: split on commas, semicolons and white space (one URL is a
/// list of one).
pub fn list_items(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The host of one address: `scheme://[user@]host[:port]/…`, `host:port` or `host`.
pub fn host_of(item: &str) -> String {
    let rest = item.split_once("://").map(|(_, r)| r).unwrap_or(item);
    let hp = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let hp = hp.rsplit_once('@').map(|(_, h)| h).unwrap_or(hp);
    if let Some(r) = hp.strip_prefix('[') {
        return r.split_once(']').map(|(h, _)| h).unwrap_or(r).to_string();
    }
    if hp.matches(':').count() > 1 {
        return hp.to_string(); // a bare IPv6 address
    }
    hp.split(':').next().unwrap_or(hp).to_string()
}

/// The hosts a value names where a host is meant: every URL of a list (`a,b`, `a b`), or,
/// for a host or domain key (`…_HOST`, `HOST`, a public domain), every item of it.
pub fn value_hosts(key: &str, v: &str) -> Vec<String> {
    let items = list_items(v);
    let mut out: Vec<String> = if v.contains("://") {
        items
            .iter()
            .filter(|i| i.contains("://"))
            .map(|i| host_of(i))
            .collect()
    } else if key.ends_with("_HOST") || key == "HOST" || public_kind(key) == Some(Public::Domain) {
        items.iter().map(|i| host_of(i)).collect()
    } else {
        Vec::new()
    };
    out.retain(|h| !h.is_empty());
    out.dedup();
    out
}

/// A bare name (no dot, not an address): a service name, of this stack or of another.
pub fn is_service_name(host: &str) -> bool {
    !host.contains(['.', ':']) && !is_local_host(host)
}

/// The services of the stack the offer describes (what a bare host name may be).
fn stack_services(offer: &Offer) -> Vec<&'static str> {
    let mut out = vec!["api", "caddy"];
    for (on, s) in [
        (offer.postgres, "postgres"),
        (offer.redis, "redis"),
        (offer.ipfs, "ipfs"),
        (offer.tee_worker.is_some(), "tee-worker"),
        (offer.web_domain.is_some(), "web"),
    ] {
        if on {
            out.push(s);
        }
    }
    out
}

/// Does the value point at this machine (any item of it, as a URL, a host or `host:port`)?
pub fn is_dev_value(value: &str) -> bool {
    list_items(value).iter().any(|i| is_local_host(&host_of(i)))
}

/// The value with every local host replaced by `example.com` (a placeholder of the right
/// shape for `.env.staging.example`).
pub fn without_local_hosts(value: &str) -> String {
    let mut out = value.to_string();
    for item in list_items(value) {
        let h = host_of(item);
        if is_local_host(&h) {
            let bracketed = format!("[{h}]");
            let from = if item.contains(&bracketed) {
                bracketed
            } else {
                h
            };
            out = out.replace(&from, "example.com");
        }
    }
    out
}

/// What staging does instead of the example's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingValue {
    /// The value compose sets; `None`: required from `.env.staging`.
    pub value: Option<String>,
    pub reason: String,
}

/// The staging value of a key whose example value is a dev value, or which names a public
/// address the config defines; `None`: the example's value stands.
pub fn staging_value(name: &str, example: &str, offer: &Offer) -> Option<StagingValue> {
    let services = stack_services(offer);
    // a service of the developer's own compose file (`mailhog`, `db`), not of this stack
    let elsewhere = value_hosts(name, example)
        .into_iter()
        .find(|h| is_service_name(h) && !services.contains(&h.as_str()));
    let dev = is_dev_value(example) || elsewhere.is_some();
    // an address, not a path (`BASE_URL=/api`) or a word
    let address = |kind: Public| {
        example.is_empty()
            || example.contains("://")
            || (kind == Public::Domain && !example.contains('/'))
    };
    if let Some(kind) = public_kind(name).filter(|k| address(*k)) {
        if let Some((v, from)) = derive(kind, example, offer) {
            return Some(StagingValue {
                value: Some(v),
                reason: format!("a public address, from {from}"),
            });
        }
        return dev.then(|| StagingValue {
            value: None,
            reason: format!(
                "a public address; the example's points at this machine: set {} in \
                 infra/stack.toml, or {name} in .env.staging",
                match kind {
                    Public::WebUrl => "web.domain",
                    Public::ApiUrl => "caddy.domains",
                    Public::Origins | Public::Domain => "web.domain or caddy.domains",
                }
            ),
        });
    }
    if !dev {
        return None;
    }
    if LISTEN_NAMES.contains(&name) {
        return Some(StagingValue {
            value: Some("0.0.0.0".into()),
            reason: "the address the API listens on: every interface of its container".into(),
        });
    }
    let reason = match elsewhere {
        Some(h) => format!(
            "the example's value points at `{h}`, which is not a service of this stack (a dev \
             value): required from .env.staging"
        ),
        None => "the example's value points at this machine (a dev value): required from \
                 .env.staging"
            .into(),
    };
    Some(StagingValue {
        value: None,
        reason,
    })
}

/// A public address from the config: (value, what it came from).
fn derive(kind: Public, example: &str, offer: &Offer) -> Option<(String, &'static str)> {
    let web = offer.web_domain.as_deref();
    let api = offer.api_domains.first().map(String::as_str);
    let https = |d: &str| format!("https://{d}");
    match kind {
        Public::WebUrl => web.map(|d| (https(d), "web.domain")),
        Public::ApiUrl => api.map(|d| (https(d), "caddy.domains")),
        Public::Domain => web
            .map(|d| (d.to_string(), "web.domain"))
            .or_else(|| api.map(|d| (d.to_string(), "caddy.domains"))),
        Public::Origins => {
            let mut all: Vec<String> = web.into_iter().map(https).collect();
            for d in &offer.api_domains {
                if !all.contains(&https(d)) {
                    all.push(https(d));
                }
            }
            if all.is_empty() {
                return None;
            }
            let sep = if example.contains(',') || !example.contains(' ') {
                ","
            } else {
                " "
            };
            let from = match (web.is_some(), api.is_some()) {
                (true, true) => "web.domain and caddy.domains",
                (true, false) => "web.domain",
                _ => "caddy.domains",
            };
            Some((all.join(sep), from))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(web: Option<&str>, api: &[&str]) -> Offer {
        Offer {
            api_port: 3000,
            postgres: false,
            redis: false,
            ipfs: false,
            tee_worker: None,
            web_domain: web.map(str::to_string),
            api_domains: api.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn lists_of_urls_are_lists() {
        let v = "http://localhost:5173,http://localhost:3000";
        assert_eq!(list_items(v).len(), 2);
        assert_eq!(host_of(list_items(v)[1]), "localhost");
        assert_eq!(
            host_of("https://u:p@db.example.com:5432/x"),
            "db.example.com"
        );
        assert_eq!(host_of("[::1]:80"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
        for dev in [
            "http://localhost:5173",
            "localhost",
            "127.0.0.1:8080",
            "http://0.0.0.0:3000",
            "http://[::1]:3000/x",
            "https://app.example.com http://localhost:3000",
            "http://web.localhost",
        ] {
            assert!(is_dev_value(dev), "{dev}");
        }
        for not in ["", "https://app.example.com", "postgres", "info", "a,b"] {
            assert!(!is_dev_value(not), "{not}");
        }
        assert_eq!(
            without_local_hosts("smtp://localhost:1025,http://[::1]:80"),
            "smtp://example.com:1025,http://example.com:80"
        );
    }

    #[test]
    fn every_public_name_is_upper_snake_and_in_one_kind() {
        let mut seen = Vec::new();
        for (_, names) in PUBLIC_NAMES {
            for n in *names {
                assert!(crate::envcontract::is_var_name(n), "{n}");
                assert!(!seen.contains(n), "{n} twice");
                seen.push(n);
            }
        }
        for n in [
            "APP_URL",
            "WEB_APP_URL",
            "FRONTEND_URL",
            "CLIENT_URL",
            "PUBLIC_URL",
            "BASE_URL",
            "CORS_ORIGINS",
            "CORS_ALLOWED_ORIGINS",
            "ALLOWED_ORIGINS",
            "SIWE_DOMAIN",
            "COOKIE_DOMAIN",
        ] {
            assert!(public_kind(n).is_some(), "{n}");
        }
    }

    #[test]
    fn public_addresses_come_from_the_config_else_from_env_staging() {
        let both = offer(Some("app.example.com"), &["api.example.com"]);
        let v = |n: &str, e: &str, o: &Offer| staging_value(n, e, o).and_then(|s| s.value);
        assert_eq!(
            v("WEB_APP_URL", "http://localhost:5173", &both).as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            v("PUBLIC_URL", "http://localhost:3000", &both).as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            v(
                "CORS_ALLOWED_ORIGINS",
                "http://localhost:5173,http://localhost:3000",
                &both
            )
            .as_deref(),
            Some("https://app.example.com,https://api.example.com")
        );
        assert_eq!(
            v("SIWE_DOMAIN", "localhost", &both).as_deref(),
            Some("app.example.com")
        );
        let api_only = offer(None, &["api.example.com"]);
        assert_eq!(
            v("SIWE_DOMAIN", "localhost", &api_only).as_deref(),
            Some("api.example.com")
        );
        let s = staging_value("WEB_APP_URL", "http://localhost:5173", &api_only).expect("dev");
        assert_eq!(s.value, None, "no web.domain: required from .env.staging");
        assert!(s.reason.contains("web.domain"), "{}", s.reason);
        let none = offer(None, &[]);
        assert_eq!(
            staging_value("APP_URL", "https://app.example.com", &none),
            None,
            "a real value stands"
        );
        assert_eq!(
            v("HOST", "0.0.0.0", &none).as_deref(),
            Some("0.0.0.0"),
            "a listen address"
        );
        let s = staging_value("SMTP_HOST", "localhost", &none).expect("dev");
        assert_eq!(s.value, None);
        for (n, v) in [
            ("SMTP_HOST", "mailhog"),
            ("ELASTIC_URL", "http://elasticsearch:9200"),
            ("KAFKA_URL", "kafka://kafka:9092"),
        ] {
            let s = staging_value(n, v, &none).expect("a dev compose service");
            assert_eq!(s.value, None, "{n}");
            assert!(
                s.reason.contains("not a service of this stack"),
                "{}",
                s.reason
            );
        }
        assert_eq!(staging_value("MAIL_HOST", "smtp.example.com", &none), None);
        assert_eq!(staging_value("NOTE", "see api docs", &none), None);
        assert_eq!(staging_value("LOG_LEVEL", "info", &none), None);
        assert_eq!(
            staging_value("BASE_URL", "/api", &both),
            None,
            "a path is no address"
        );
    }
}
