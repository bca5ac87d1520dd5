//! The rehearsal's proofs that the web app's site (`[web]`) works through Caddy, by host name:
//! the SPA's `index.html` at `/` and at a deep link (a client-side route no file matches), a
//! content-hashed asset with its long immutable cache, and the edge's headers. Pure: each
//! judges what one request captured (status, response headers, body).

use super::Verdict;

/// What one HTTPS request to the web domain gave.
pub struct Answer<'a> {
    pub url: &'a str,
    /// curl's exit code and error (0 and empty: the transfer worked).
    pub exit: i64,
    pub error: &'a str,
    pub status: u16,
    pub headers: &'a str,
    pub body: &'a str,
}

/// The value of a response header (the last one when repeated), if any.
pub fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().rev().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A cache policy that lets a browser keep the page no longer than a few minutes without
/// asking: `no-cache`, `no-store`, or a `max-age` of 300 s or less.
fn short_cache(cc: &str) -> bool {
    let cc = cc.to_ascii_lowercase();
    cc.contains("no-cache") || cc.contains("no-store") || max_age(&cc).is_some_and(|a| a <= 300)
}

fn max_age(cc: &str) -> Option<u64> {
    cc.split(',')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|a| a.trim().parse().ok())
}

fn transfer(a: &Answer) -> Result<(), String> {
    if a.exit != 0 {
        return Err(format!("GET {}: curl exit {}: {}", a.url, a.exit, a.error));
    }
    Ok(())
}

/// The body in a message: its start, or `(empty body)`.
fn shown(body: &str) -> String {
    let b = body.trim();
    if b.is_empty() {
        "(empty body)".into()
    } else {
        format!("{:.120}", b.replace('\n', " "))
    }
}

/// `GET /` on the web domain: 200, the built `index.html` byte for byte, a short cache, the
/// edge's security headers.
pub fn index(a: &Answer, index_html: &str, hsts_max_age: u32) -> Verdict {
    transfer(a)?;
    if a.status != 200 || a.body != index_html {
        return Err(format!(
            "GET {} → {}, not the built index.html: {}",
            a.url,
            a.status,
            shown(a.body)
        ));
    }
    let cc = header(a.headers, "Cache-Control").unwrap_or("");
    if !short_cache(cc) {
        return Err(format!(
            "GET {} → index.html with Cache-Control {cc:?}: browsers would keep an old index.html after a deploy (want no-cache)",
            a.url
        ));
    }
    let edge =
        super::edge_headers(a.headers, hsts_max_age).map_err(|e| format!("GET {}: {e}", a.url))?;
    Ok(format!(
        "GET {} → 200, the built index.html ({} bytes), Cache-Control {cc:?}; {edge}",
        a.url,
        index_html.len()
    ))
}

/// A deep link (a path no file matches): 200 and the same `index.html`, for the SPA's router.
pub fn deep_link(a: &Answer, index_html: &str) -> Verdict {
    transfer(a)?;
    if a.status == 200 && a.body == index_html {
        Ok(format!(
            "GET {} (no such file) → 200 with index.html: the SPA's own route",
            a.url
        ))
    } else {
        Err(format!(
            "GET {} (a deep link of the SPA) → {}, not index.html: {} (try_files {{path}} /index.html missing?)",
            a.url,
            a.status,
            shown(a.body)
        ))
    }
}

/// A content-hashed asset: 200 with its content and a year-long immutable cache; and a
/// missing asset under the same directory: 404, never index.html (which a browser would keep
/// a year under the asset's name).
pub fn asset(found: &Answer, content: &str, missing: &Answer, index_html: &str) -> Verdict {
    transfer(found)?;
    transfer(missing)?;
    if found.status != 200 || found.body != content {
        return Err(format!(
            "GET {} → {}, not the built file: {}",
            found.url,
            found.status,
            shown(found.body)
        ));
    }
    let cc = header(found.headers, "Cache-Control").unwrap_or("");
    let long = max_age(&cc.to_ascii_lowercase()).is_some_and(|a| a >= 31_536_000);
    if !(long && cc.to_ascii_lowercase().contains("immutable")) {
        return Err(format!(
            "GET {} (a content-hashed asset) → Cache-Control {cc:?}, not a year and immutable",
            found.url
        ));
    }
    if missing.status != 404 || missing.body == index_html {
        return Err(format!(
            "GET {} (no such asset) → {}{}, not 404",
            missing.url,
            missing.status,
            if missing.body == index_html {
                " with index.html"
            } else {
                ""
            }
        ));
    }
    Ok(format!(
        "GET {} → 200, Cache-Control {cc:?}; GET {} → 404",
        found.url, missing.url
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "<!doctype html><div id=\"root\"></div>\n";
    const EDGE: &str = "Strict-Transport-Security: max-age=31536000\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: strict-origin-when-cross-origin\r\nX-Frame-Options: DENY\r\n";

    fn ans<'a>(status: u16, headers: &'a str, body: &'a str) -> Answer<'a> {
        Answer {
            url: "https://app.example.com:8443/x",
            exit: 0,
            error: "",
            status,
            headers,
            body,
        }
    }

    #[test]
    fn the_index_needs_the_built_file_a_short_cache_and_the_edge_headers() {
        let ok = format!("{EDGE}Cache-Control: no-cache\r\n");
        assert!(index(&ans(200, &ok, INDEX), INDEX, 31536000).is_ok());
        // the API's answer, a 404, a long cache, a missing edge header: each fails
        let e = index(&ans(200, &ok, "{\"status\":\"ok\"}"), INDEX, 31536000).unwrap_err();
        assert!(e.contains("not the built index.html"), "{e}");
        assert!(index(&ans(404, &ok, ""), INDEX, 31536000).is_err());
        let long = format!("{EDGE}Cache-Control: public, max-age=31536000, immutable\r\n");
        let e = index(&ans(200, &long, INDEX), INDEX, 31536000).unwrap_err();
        assert!(e.contains("old index.html"), "{e}");
        let bare = "Cache-Control: no-cache\r\nX-Frame-Options: DENY\r\n";
        let e = index(&ans(200, bare, INDEX), INDEX, 31536000).unwrap_err();
        assert!(e.contains("Strict-Transport-Security"), "{e}");
        let mut failed = ans(0, "", "");
        failed.exit = 60;
        failed.error = "SSL certificate problem";
        assert!(index(&failed, INDEX, 31536000)
            .unwrap_err()
            .contains("curl exit 60"));
    }

    #[test]
    fn a_deep_link_is_answered_with_the_index() {
        assert!(deep_link(&ans(200, "", INDEX), INDEX).is_ok());
        let e = deep_link(&ans(404, "", ""), INDEX).unwrap_err();
        assert!(e.contains("→ 404") && e.contains("try_files"), "{e}");
    }

    #[test]
    fn an_asset_is_immutable_and_a_missing_one_is_a_404() {
        let imm = "Cache-Control: public, max-age=31536000, immutable\r\n";
        let missing = ans(404, "", "");
        assert!(asset(&ans(200, imm, "js"), "js", &missing, INDEX).is_ok());
        let e = asset(
            &ans(200, "Cache-Control: no-cache\r\n", "js"),
            "js",
            &missing,
            INDEX,
        )
        .unwrap_err();
        assert!(e.contains("not a year and immutable"), "{e}");
        let e = asset(&ans(200, imm, "js"), "js", &ans(200, "", INDEX), INDEX).unwrap_err();
        assert!(e.contains("with index.html"), "{e}");
        assert_eq!(
            header(
                "a: 1\r\nCache-Control: x\r\ncache-control: y\r\n",
                "Cache-Control"
            ),
            Some("y")
        );
    }
}
