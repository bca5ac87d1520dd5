//! Rules on the edge `infra/Caddyfile` is for a file-storage app on a VPS: security headers,
//! an upload limit enforced before the API, real client IPs behind a CDN, compression,
//! structured access logs, named sites, and an answer while the API is down.

use super::{Input, Out, Rule};
use crate::parse::caddyfile::{Directive, Site};
use crate::stack::CADDYFILE as F;

pub const RULES: &[Rule] = &[
    Rule {
        id: "caddy/security-headers",
        file: F,
        rationale: "every HTTPS site sends HSTS (max-age from [edge]), X-Content-Type-Options nosniff, a Referrer-Policy, X-Frame-Options DENY, and drops Server",
        check: security_headers,
    },
    Rule {
        id: "caddy/body-limit",
        file: F,
        rationale: "request bodies over [edge] max_body get 413 from Caddy (request_body max_size, and a declared Content-Length refused before the proxy): uploads are not buffered without limit",
        check: body_limit,
    },
    Rule {
        id: "caddy/client-ip",
        file: F,
        rationale: "the client-IP header is believed only from [edge] trusted_proxies (e.g. Cloudflare's ranges with CF-Connecting-IP), never from everyone",
        check: client_ip,
    },
    Rule {
        id: "caddy/compression",
        file: F,
        rationale: "every HTTPS site compresses responses (`encode zstd gzip`)",
        check: compression,
    },
    Rule {
        id: "caddy/access-log",
        file: F,
        rationale: "every HTTPS site writes structured access logs (`log` with `format json`) to stdout, where the rotated container logs keep them",
        check: access_log,
    },
    Rule {
        id: "caddy/named-sites",
        file: F,
        rationale: "the HTTPS sites are the [caddy] domains (and the [web] domain); the wildcard :443 only when no domain is set",
        check: named_sites,
    },
    Rule {
        id: "caddy/wildcard-site",
        file: F,
        rationale: "warning: the wildcard :443 site (no [caddy] domains) answers any host name; set caddy.domains to serve named sites",
        check: wildcard_site,
    },
    Rule {
        id: "caddy/api-down-page",
        file: F,
        rationale: "while the API is down Caddy answers 502/503/504 with a short 503 page (`handle_errors 502 503 504`), not an empty error",
        check: api_down_page,
    },
];

fn https_sites<'a>(i: &'a Input) -> Vec<&'a Site> {
    let port = i.model.stack.caddy.http_port;
    i.caddy
        .as_ref()
        .map(|c| {
            c.sites
                .iter()
                .filter(|s| !s.snippet && !s.is_http(port))
                .collect()
        })
        .unwrap_or_default()
}

/// The response header fields a site's `header` directives set or delete: (field, value, line).
fn header_fields(site: &Site) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for h in site.find("header") {
        // `header Name value` on one line (after an optional matcher)
        let args: Vec<&String> = h.args.iter().filter(|a| !a.starts_with('@')).collect();
        if let Some(name) = args.first() {
            let value = args.get(1).map(|v| v.to_string()).unwrap_or_default();
            out.push((name.to_string(), value, h.line));
        }
        for d in &h.block {
            out.push((d.name.clone(), d.args.join(" "), d.line));
        }
    }
    out
}

fn security_headers(i: &Input, o: &mut Out) {
    let want_age = i.model.config.edge.hsts_max_age;
    for site in https_sites(i) {
        let fields = header_fields(site);
        let at = site
            .find("header")
            .first()
            .map(|d| d.line)
            .unwrap_or(site.line);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(f, _, _)| f.eq_ignore_ascii_case(name))
                .map(|(_, v, l)| (v.clone(), *l))
        };
        match get("Strict-Transport-Security") {
            None => o.at(F, at, "no Strict-Transport-Security header: browsers may be downgraded to plain HTTP; add `Strict-Transport-Security \"max-age=<[edge] hsts_max_age>\"`"),
            Some((v, l)) => {
                let age = v
                    .split(';')
                    .find_map(|p| p.trim().strip_prefix("max-age="))
                    .and_then(|a| a.trim().parse::<u64>().ok());
                if age != Some(u64::from(want_age)) {
                    o.at(F, l, format!("Strict-Transport-Security is {v:?}, not max-age={want_age} from [edge] hsts_max_age"));
                }
            }
        }
        match get("X-Content-Type-Options") {
            Some((v, _)) if v.eq_ignore_ascii_case("nosniff") => {}
            Some((_, l)) => o.at(F, l, "X-Content-Type-Options must be \"nosniff\""),
            None => o.at(F, at, "no `X-Content-Type-Options \"nosniff\"`: browsers may sniff an uploaded file into HTML or script"),
        }
        if get("Referrer-Policy").is_none() {
            o.at(F, at, "no Referrer-Policy: full URLs (file links, tokens in paths) leak to other sites; add `Referrer-Policy \"strict-origin-when-cross-origin\"`");
        }
        let frames = get("X-Frame-Options").is_some_and(|(v, _)| v.eq_ignore_ascii_case("DENY"))
            || get("Content-Security-Policy")
                .is_some_and(|(v, _)| v.contains("frame-ancestors 'none'"));
        if !frames {
            o.at(F, at, "framing is not denied (X-Frame-Options \"DENY\" or CSP frame-ancestors 'none'): the app can be clickjacked");
        }
        if get("-Server").is_none() {
            o.at(F, at, "the Server header is not removed (`-Server`): it advertises the proxy and the API's framework");
        }
    }
}

fn body_limit(i: &Input, o: &mut Out) {
    let want = i.model.config.edge.max_body;
    let text = &i.model.config.edge.max_body_text;
    for site in super::caddy::api_sites(i) {
        let rb = site.find("request_body");
        let size = rb
            .iter()
            .flat_map(|d| d.block.iter())
            .find(|d| d.name == "max_size");
        match size {
            None => o.at(F, rb.first().map(|d| d.line).unwrap_or(site.line), format!("no `request_body {{ max_size {want} }}`: an upload of any size is accepted and buffered; [edge] max_body = {text:?}")),
            Some(d) => {
                let have = d.args.first().and_then(|a| crate::config::parse_body_size(a));
                if have != Some(want) {
                    o.at(F, d.line, format!("request_body max_size is {}, not [edge] max_body = {text:?} ({want} bytes)", d.args.join(" ")));
                }
            }
        }
        // a declared Content-Length over the limit must be refused before the proxy sees it:
        // request_body alone lets the request reach the API and cuts it mid-stream
        let precheck = site.directives.iter().any(|d| {
            d.name == "respond"
                && d.args.first().is_some_and(|m| m.starts_with('@'))
                && d.args.last().map(String::as_str) == Some("413")
                && matcher_checks_length(site, &d.args[0], want)
        });
        if !precheck {
            let at = site
                .find("reverse_proxy")
                .first()
                .map(|d| d.line)
                .unwrap_or(site.line);
            o.at(F, at, format!("no `respond @too_large 413` on a Content-Length over {want} before the proxy: request_body alone lets the upload reach the API and cuts it mid-stream"));
        }
    }
}

fn matcher_checks_length(site: &Site, name: &str, want: u64) -> bool {
    site.directives.iter().any(|d: &Directive| {
        d.name == name
            && d.args
                .iter()
                .any(|a| a.contains("Content-Length") && a.contains(&format!("> {want}")))
    })
}

fn client_ip(i: &Input, o: &mut Out) {
    let Some(c) = &i.caddy else { return };
    let edge = &i.model.config.edge;
    let servers: Vec<&Directive> = c.global.iter().filter(|d| d.name == "servers").collect();
    let sub = |name: &str| {
        servers
            .iter()
            .flat_map(|s| s.block.iter())
            .find(|d| d.name == name)
    };
    let proxies = sub("trusted_proxies");
    let header = sub("client_ip_headers");
    match proxies {
        Some(p) => {
            let ranges: Vec<&String> = p.args.iter().filter(|a| *a != "static").collect();
            if ranges.iter().any(|r| r.ends_with("/0") || *r == "private_ranges") && edge.trusted_proxies.is_empty() {
                o.at(F, p.line, "trusted_proxies trusts addresses no [edge] trusted_proxies lists: any client can forge its IP");
            } else if ranges.iter().any(|r| r.ends_with("/0")) {
                o.at(F, p.line, "trusted_proxies includes /0: any client can forge its IP with the client-IP header");
            } else if ranges.iter().map(|s| s.as_str()).ne(edge.trusted_proxies.iter().map(String::as_str)) {
                o.at(F, p.line, format!("trusted_proxies are not [edge] trusted_proxies ({})", edge.trusted_proxies.join(" ")));
            }
        }
        None if !edge.trusted_proxies.is_empty() => o.at(
            F,
            servers.first().map(|d| d.line).unwrap_or(1),
            "[edge] trusted_proxies is set but the global options have no `servers { trusted_proxies static ... }`: behind the CDN every client looks like the CDN",
        ),
        None => {}
    }
    if !edge.client_ip_header.is_empty() {
        let ok = header.is_some_and(|h| {
            h.args
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&edge.client_ip_header))
        });
        if !ok {
            o.at(
                F,
                header.or(proxies).map(|d| d.line).unwrap_or(1),
                format!("`client_ip_headers {}` ([edge] client_ip_header) is missing from the global servers options", edge.client_ip_header),
            );
        }
    }
}

fn compression(i: &Input, o: &mut Out) {
    for site in https_sites(i) {
        if site.find("encode").is_empty() {
            o.at(
                F,
                site.line,
                format!(
                    "site `{}` does not compress responses; add `encode zstd gzip`",
                    site.addresses.join(", ")
                ),
            );
        }
    }
}

fn access_log(i: &Input, o: &mut Out) {
    for site in https_sites(i) {
        let logs = site.find("log");
        let Some(l) = logs.first() else {
            o.at(
                F,
                site.line,
                format!(
                    "site `{}` writes no access log; add `log {{ output stdout; format json }}`",
                    site.addresses.join(", ")
                ),
            );
            continue;
        };
        let json = l
            .block
            .iter()
            .any(|d| d.name == "format" && d.args.first().map(String::as_str) == Some("json"));
        if !json {
            o.at(F, l.line, "the access log is not structured: add `format json` (one JSON object a request, for log tools)");
        }
    }
}

fn named_sites(i: &Input, o: &mut Out) {
    let domains = &i.model.config.caddy.domains;
    for site in https_sites(i) {
        if super::caddy::is_web_site(i, site) {
            continue; // the web app's own domain (`web.domain`)
        }
        let wildcard = site.addresses.iter().any(|a| a.starts_with(':'));
        if wildcard && !domains.is_empty() {
            o.at(F, site.line, format!("`{}` answers any host name although [caddy] domains names {}: serve the named sites only", site.addresses.join(", "), domains.join(", ")));
        }
        for a in &site.addresses {
            let host = a
                .trim_start_matches("https://")
                .split(':')
                .next()
                .unwrap_or("");
            if !host.is_empty() && !domains.iter().any(|d| d == host) {
                let listed = if domains.is_empty() {
                    "none: set [caddy] domains to name it".to_string()
                } else {
                    domains.join(", ")
                };
                o.at(
                    F,
                    site.line,
                    format!("site `{a}` is not one of [caddy] domains ({listed})"),
                );
            }
        }
    }
}

/// A warning (see [`super::severity`]): the wildcard site is right for a first deploy
/// without a domain, but a VPS with a domain should name it.
fn wildcard_site(i: &Input, o: &mut Out) {
    if !i.model.config.caddy.domains.is_empty() {
        return; // caddy/named-sites reports a wildcard next to named domains
    }
    for site in https_sites(i) {
        if site.addresses.iter().any(|a| a.starts_with(':')) {
            o.at(F, site.line, format!("`{}` answers any host name (no [caddy] domains set): set caddy.domains, e.g. `cargo xtask config set caddy.domains files.example.com`, to serve the named sites", site.addresses.join(", ")));
        }
    }
}

fn api_down_page(i: &Input, o: &mut Out) {
    for site in https_sites(i) {
        if site.find("reverse_proxy").is_empty() {
            continue;
        }
        let ok = site.directives.iter().any(|d| {
            d.name == "handle_errors"
                && (d.args.is_empty() || d.args.iter().any(|a| a == "502" || a == "5xx"))
                && !d.block.is_empty()
        });
        if !ok {
            o.at(F, site.line, format!("site `{}` has no `handle_errors 502 503 504 {{ respond \"...\" 503 }}`: while the API is down users get an empty 502", site.addresses.join(", ")));
        }
    }
}
