//! The `Caddyfile`: origin-certificate TLS in front of the API, and `:80` redirecting to https.
//! Written in `caddy fmt` style (tabs), so `caddy fmt` finds nothing to change.

use std::fmt::Write;

use super::quote::caddy;
use crate::stack::Caddy;

pub fn render(c: &Caddy) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# TLS with the origin certificate mounted at {}; certificates are never fetched.",
        c.certs_dir
    );
    let _ = writeln!(w, "{{");
    let _ = writeln!(w, "\tauto_https off");
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    let sites: Vec<String> = c.sites.iter().map(|s| caddy(s)).collect();
    let _ = writeln!(w, "{} {{", sites.join(", "));
    let _ = writeln!(w, "\ttls {} {}", caddy(&c.cert), caddy(&c.key));
    let _ = writeln!(w, "\treverse_proxy {}", c.upstream);
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    let _ = writeln!(w, ":{} {{", c.http_port);
    let _ = writeln!(w, "\tredir https://{{host}}{{uri}} permanent");
    let _ = writeln!(w, "}}");
    s
}
