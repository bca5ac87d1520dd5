//! Rules on `infra/Caddyfile`.

use super::{host_port, is_local_host, Input, Out, Rule};
use crate::parse::caddyfile::{Directive, Site};
use crate::stack::CADDYFILE as F;

pub const RULES: &[Rule] = &[
    Rule {
        id: "caddy/upstream",
        file: F,
        rationale: "every HTTPS site of the API (all but the [web] site) has a `reverse_proxy` with a well-formed upstream (host:port)",
        check: upstream,
    },
    Rule {
        id: "caddy/tls-certs",
        file: F,
        rationale: "every HTTPS site uses `tls <cert> <key>` from the certificates directory compose mounts",
        check: tls_certs,
    },
    Rule {
        id: "caddy/http-redirect",
        file: F,
        rationale: "plain HTTP on :80 only redirects to https",
        check: http_redirect,
    },
    Rule {
        id: "caddy/web-site",
        file: F,
        rationale: "with [web], the web domain has a site serving the built files: `root` at the directory compose mounts, `file_server`, `try_files {path} /index.html` (the SPA's deep links), and an immutable cache only under a matcher (never on index.html)",
        check: web_site,
    },
    Rule {
        id: "caddy/no-localhost-upstream",
        file: F,
        rationale: "in a container localhost is Caddy itself: upstreams are compose service names",
        check: no_localhost_upstream,
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

/// Is this the web app's site (its address is `web.domain`)? It serves files, not the API.
pub(super) fn is_web_site(i: &Input, site: &Site) -> bool {
    let Some(w) = &i.model.config.web else {
        return false;
    };
    site.addresses.iter().any(|a| {
        a.trim_start_matches("https://")
            .split(':')
            .next()
            .is_some_and(|h| h.eq_ignore_ascii_case(&w.domain))
    })
}

/// The HTTPS sites in front of the API: every one but the web app's.
pub(super) fn api_sites<'a>(i: &'a Input) -> Vec<&'a Site> {
    https_sites(i)
        .into_iter()
        .filter(|s| !is_web_site(i, s))
        .collect()
}

/// Is this argument a request matcher (`/api/*`, `@name`, `*`)?
fn is_matcher(a: &str) -> bool {
    a.starts_with('/') || a.starts_with('@') || a == "*"
}

/// The upstreams of a `reverse_proxy`: its arguments after a matcher, and `to` lines.
pub fn upstreams(d: &Directive) -> Vec<String> {
    let mut out: Vec<String> = d
        .args
        .iter()
        .skip_while(|a| is_matcher(a))
        .cloned()
        .collect();
    for sub in &d.block {
        if sub.name == "to" {
            out.extend(sub.args.iter().cloned());
        }
    }
    out
}

fn upstream(i: &Input, o: &mut Out) {
    for site in api_sites(i) {
        let rps = site.find("reverse_proxy");
        if rps.is_empty() {
            o.at(
                F,
                site.line,
                format!(
                    "site `{}` has no `reverse_proxy` to the API",
                    site.addresses.join(", ")
                ),
            );
        }
        for rp in rps {
            let ups = upstreams(rp);
            if ups.is_empty() {
                o.at(F, rp.line, "`reverse_proxy` has no upstream; name the API service and port, e.g. `reverse_proxy api:3000`");
            }
            for u in ups {
                if u.starts_with('{') {
                    continue; // a placeholder, resolved at run time
                }
                let (host, port) = host_port(&u);
                if host.is_empty() || port.is_none_or(|p| p == 0) {
                    o.at(
                        F,
                        rp.line,
                        format!("upstream `{u}` is not host:port (e.g. api:3000)"),
                    );
                }
            }
        }
    }
}

fn tls_certs(i: &Input, o: &mut Out) {
    let dir = i.model.stack.caddy.certs_dir.trim_end_matches('/');
    for site in https_sites(i) {
        let tls = site.find("tls");
        if tls.is_empty() {
            o.at(F, site.line, format!("site `{}` has no `tls <cert> <key>`; the origin certificate in {dir}/ is not served", site.addresses.join(", ")));
        }
        for t in tls {
            if t.args.len() < 2 {
                o.at(F, t.line, format!("`tls {}` does not name a certificate and key; write `tls {dir}/<cert>.pem {dir}/<key>.pem`", t.args.join(" ")));
                continue;
            }
            for p in &t.args[..2] {
                let inside = p.starts_with(&format!("{dir}/")) && !p.split('/').any(|s| s == "..");
                if !inside {
                    o.at(F, t.line, format!("`{p}` is outside the mounted certificates directory {dir}/ (compose mounts infra/certs there)"));
                }
            }
        }
    }
}

fn http_redirect(i: &Input, o: &mut Out) {
    let Some(cf) = &i.caddy else { return };
    let port = i.model.stack.caddy.http_port;
    let http: Vec<&Site> = cf
        .sites
        .iter()
        .filter(|s| !s.snippet && s.is_http(port))
        .collect();
    if http.is_empty() {
        o.at(F, 1, format!("no `:{port}` site: plain HTTP requests are not redirected; add `:{port} {{ redir https://{{host}}{{uri}} permanent }}`"));
    }
    for s in http {
        let ok = s.find("redir").iter().any(|d| {
            d.args
                .iter()
                .find(|a| !is_matcher(a))
                .is_some_and(|a| a.starts_with("https://"))
        });
        if !ok {
            o.at(F, s.line, format!("site `{}` does not redirect to https; its only directive should be `redir https://{{host}}{{uri}} permanent`", s.addresses.join(", ")));
        }
        for rp in s.find("reverse_proxy") {
            o.at(
                F,
                rp.line,
                "plain HTTP must not proxy to the API; redirect to https instead",
            );
        }
    }
}

fn no_localhost_upstream(i: &Input, o: &mut Out) {
    let Some(cf) = &i.caddy else { return };
    for site in cf.sites.iter().filter(|s| !s.snippet) {
        for rp in site.find("reverse_proxy") {
            for u in upstreams(rp) {
                let (host, _) = host_port(&u);
                if is_local_host(&host) {
                    o.at(F, rp.line, format!("upstream `{u}` is Caddy's own container; use the API's service name (e.g. api:{})", i.model.config.api.port));
                }
            }
        }
    }
}

/// The web app's site (`[web]`): there, serving the mounted files, falling back to the SPA's
/// index.html, and never caching everything a year.
fn web_site(i: &Input, o: &mut Out) {
    let (Some(web), Some(site_model)) = (&i.model.config.web, &i.model.stack.caddy.web) else {
        return;
    };
    let Some(site) = https_sites(i).into_iter().find(|s| is_web_site(i, s)) else {
        o.at(
            F,
            1,
            format!(
                "no site for the web app's domain {} ([web] domain): its files are not served",
                web.domain
            ),
        );
        return;
    };
    let want_root = site_model.root.as_str();
    let roots = site.find("root");
    let root_ok = roots
        .iter()
        .any(|d| d.args.last().map(String::as_str) == Some(want_root));
    if !root_ok {
        o.at(
            F,
            roots.first().map(|d| d.line).unwrap_or(site.line),
            format!("the web site's `root` is not {want_root}, where compose mounts the built files (./web): it would serve nothing"),
        );
    }
    if site.find("file_server").is_empty() {
        o.at(
            F,
            site.line,
            "the web site has no `file_server`: its files are never served",
        );
    }
    let fallback = site
        .find("try_files")
        .iter()
        .any(|d| d.args.last().map(String::as_str) == Some("/index.html"));
    if !fallback {
        o.at(F, site.line, "the web site has no `try_files {path} /index.html`: a deep link of the SPA (a client-side route) is a 404");
    }
    for h in site.find("header") {
        let matched = h.args.first().is_some_and(|a| is_matcher(a) && a != "*");
        let immutable = h.args.iter().any(|a| a.contains("immutable"))
            || h.block
                .iter()
                .any(|d| d.args.iter().any(|a| a.contains("immutable")));
        if immutable && !matched {
            o.at(F, h.line, "an immutable Cache-Control on every answer of the web site: index.html would be kept a year and a deploy never seen; set it under a matcher of the content-hashed assets only");
        }
    }
}
