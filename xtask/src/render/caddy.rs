//! The `Caddyfile`: origin-certificate TLS in front of the API, the web app's site on its own
//! domain (`[web]`), and `:80` redirecting to https.
//! Written in `caddy fmt` style (tabs), so `caddy fmt` finds nothing to change.

use std::fmt::Write;

use super::quote::caddy;
use crate::stack::web::Site;
use crate::stack::{Caddy, Edge, API_DOWN_PAGE};

pub fn render(c: &Caddy) -> String {
    let mut s = String::new();
    let w = &mut s;
    let e = &c.edge;
    let _ = writeln!(
        w,
        "# TLS with the origin certificate mounted at {}; certificates are never fetched.",
        c.certs_dir
    );
    let _ = writeln!(w, "{{");
    let _ = writeln!(w, "\tauto_https off");
    if !e.trusted_proxies.is_empty() {
        let _ = writeln!(
            w,
            "\t# the real client IP comes from the CDN in front ([edge] trusted_proxies)"
        );
        let _ = writeln!(w, "\tservers {{");
        let _ = writeln!(
            w,
            "\t\ttrusted_proxies static {}",
            e.trusted_proxies
                .iter()
                .map(|p| caddy(p))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if !e.client_ip_header.is_empty() {
            let _ = writeln!(w, "\t\tclient_ip_headers {}", caddy(&e.client_ip_header));
        }
        let _ = writeln!(w, "\t}}");
    }
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    let sites: Vec<String> = c.sites.iter().map(|s| caddy(s)).collect();
    let _ = writeln!(w, "{} {{", sites.join(", "));
    let _ = writeln!(w, "\ttls {} {}", caddy(&c.cert), caddy(&c.key));
    edge_lines(w, e);
    let _ = writeln!(
        w,
        "\t# uploads: a declared body over the limit is refused before the API sees the request;"
    );
    let _ = writeln!(
        w,
        "\t# a chunked one is cut at the limit (413) while it streams"
    );
    let _ = writeln!(w, "\trequest_body {{");
    let _ = writeln!(w, "\t\tmax_size {}", e.max_body);
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(
        w,
        "\t@too_large expression `{{http.request.header.Content-Length}}.matches(\"^[0-9]+$\") && int({{http.request.header.Content-Length}}) > {}`",
        e.max_body
    );
    let _ = writeln!(
        w,
        "\trespond @too_large \"Request body over {} bytes\" 413",
        e.max_body
    );
    let _ = writeln!(w, "\treverse_proxy {}", c.upstream);
    let _ = writeln!(w, "\thandle_errors 502 503 504 {{");
    let _ = writeln!(w, "\t\trespond {} 503", caddy(API_DOWN_PAGE));
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    if let Some(site) = &c.web {
        web_site(w, c, site);
    }
    let _ = writeln!(w, ":{} {{", c.http_port);
    let _ = writeln!(w, "\tredir https://{{host}}{{uri}} permanent");
    let _ = writeln!(w, "}}");
    s
}

/// What every HTTPS site shares: compression, the edge's security headers, JSON access logs.
fn edge_lines(w: &mut String, e: &Edge) {
    let _ = writeln!(w, "\tencode zstd gzip");
    let _ = writeln!(w, "\theader {{");
    let _ = writeln!(
        w,
        "\t\tStrict-Transport-Security \"max-age={}\"",
        e.hsts_max_age
    );
    let _ = writeln!(w, "\t\tX-Content-Type-Options \"nosniff\"");
    let _ = writeln!(w, "\t\tReferrer-Policy \"strict-origin-when-cross-origin\"");
    let _ = writeln!(w, "\t\tX-Frame-Options \"DENY\"");
    let _ = writeln!(w, "\t\t-Server");
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(w, "\tlog {{");
    let _ = writeln!(w, "\t\toutput stdout");
    let _ = writeln!(w, "\t\tformat json");
    let _ = writeln!(w, "\t}}");
}

/// The web app's site (`[web]`): its built files, `index.html` for every path that is not a
/// file (the SPA's own routes, deep links included).
///
/// Caching: the files under the assets directory carry a hash of their content in their names
/// (a bundler's contract, e.g. Vite's `build.assetsDir`), so a changed file is a new URL: they
/// are cached a year and `immutable` (never revalidated). Only a file that exists gets that
/// header (`file` matcher), and a missing asset is a 404, never `index.html` (which a browser
/// would otherwise keep a year under an asset's name). Every other answer, `index.html` above
/// all, is `no-cache`: revalidated (ETag) on each load, so a deploy shows at once.
fn web_site(w: &mut String, c: &Caddy, site: &Site) {
    let _ = writeln!(
        w,
        "# The web app: its files, and index.html for every other path (client-side routes)."
    );
    let _ = writeln!(w, "{} {{", caddy(&site.address));
    let _ = writeln!(w, "\ttls {} {}", caddy(&c.cert), caddy(&c.key));
    edge_lines(w, &c.edge);
    let _ = writeln!(w, "\troot * {}", caddy(&site.root));
    let _ = writeln!(
        w,
        "\t# content-hashed names: a new file is a new URL, so cached a year and never revalidated"
    );
    let _ = writeln!(w, "\t@hashed {{");
    let _ = writeln!(w, "\t\tpath {}", caddy(&site.assets));
    let _ = writeln!(w, "\t\tfile");
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(
        w,
        "\theader @hashed Cache-Control \"public, max-age=31536000, immutable\""
    );
    let _ = writeln!(
        w,
        "\t# index.html and every other answer: revalidated on each load, so a deploy shows at once"
    );
    let _ = writeln!(w, "\t@app not path {}", caddy(&site.assets));
    let _ = writeln!(w, "\theader @app Cache-Control \"no-cache\"");
    let _ = writeln!(w, "\thandle {} {{", caddy(&site.assets));
    let _ = writeln!(w, "\t\tfile_server");
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(w, "\thandle {{");
    let _ = writeln!(w, "\t\ttry_files {{path}} /index.html");
    let _ = writeln!(w, "\t\tfile_server");
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
}
