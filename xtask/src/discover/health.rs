//! `[api.health] path` from the API's sources: the route its health check answers on, when the
//! code names one (NestJS `@Controller('health')` under `setGlobalPrefix('api')`, a route
//! literal such as `'/api/healthz'` or `"GET /healthz"`). One route found: it is the path;
//! several or none: the default (`/health`) stays and the reason says why.
//!
//! Read with the bounds of [`super::code`]: `src/` only, regular files, capped.

use std::path::Path;

/// The last path segments that name a health route.
const WORDS: &[&str] = &[
    "health",
    "healthz",
    "healthcheck",
    "health-check",
    "livez",
    "readyz",
];

/// The route found (path, where) or why none was set.
pub(super) fn path(root: &Path, api_dir: &str) -> Result<(String, String), String> {
    let files: Vec<(String, String)> = super::code::sources(root, api_dir)
        .into_iter()
        .filter_map(|rel| super::code::read_source(root, &rel).map(|t| (rel, t)))
        .collect();
    in_sources(&files)
}

/// [`path`] on the files' texts (`(relative path, text)`).
pub(super) fn in_sources(files: &[(String, String)]) -> Result<(String, String), String> {
    let prefix = files.iter().find_map(|(_, t)| {
        t.lines().find_map(|l| {
            l.split_once("setGlobalPrefix(")
                .and_then(|(_, r)| first_literal(r))
        })
    });
    let mut found: Vec<(String, String)> = Vec::new();
    for (file, text) in files {
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") || code.starts_with('*') || code.starts_with("/*") {
                continue;
            }
            let route = match line.split_once("@Controller(") {
                // a controller's own path, under the global prefix
                Some((_, rest)) => first_literal(rest)
                    .filter(|p| is_health(p))
                    .map(|p| join(prefix.as_deref(), &p)),
                None => literals(line)
                    .map(|s| s.strip_prefix("GET ").unwrap_or(s).to_string())
                    .find(|s| s.starts_with('/') && is_health(s)),
            };
            if let Some(r) = route {
                if !found.iter().any(|(p, _)| *p == r) {
                    found.push((r, format!("{file}:{}", i + 1)));
                }
            }
        }
    }
    match found.as_slice() {
        [(p, at)] => Ok((p.clone(), format!("the API's health route, at {at}"))),
        [] => Err(format!(
            "no health route in the API's src/ (a route ending in /{} or a controller named so): \
             the default stays",
            WORDS[..2].join(", /")
        )),
        several => Err(format!(
            "several health routes in the API's src/ ({}): the default stays; set the one that \
             reports the database with `cargo xtask config set api.health.path PATH`",
            several
                .iter()
                .map(|(p, at)| format!("{p} at {at}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `/<prefix>/<path>`, slashes normalised.
fn join(prefix: Option<&str>, path: &str) -> String {
    let parts: Vec<&str> = prefix
        .into_iter()
        .chain([path])
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty())
        .collect();
    format!("/{}", parts.join("/"))
}

/// A route whose last segment names health, made only of URL path characters.
fn is_health(route: &str) -> bool {
    let ok = route.len() <= 100
        && route
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c));
    let last = route.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    ok && WORDS.contains(&last)
}

/// The string literals of a line ('…', "…", `…` without interpolation).
fn literals(line: &str) -> impl Iterator<Item = &str> {
    ['\'', '"', '`']
        .into_iter()
        .flat_map(move |q| line.split(q).skip(1).step_by(2))
        .filter(|s| !s.contains("${"))
}

/// The first argument of a call when it is a string literal (`('api')` → `api`).
fn first_literal(rest: &str) -> Option<String> {
    let r = rest.trim_start();
    let q = r.chars().next().filter(|c| "'\"`".contains(*c))?;
    let body = &r[1..];
    let end = body.find(q)?;
    Some(body[..end].to_string()).filter(|s| !s.contains("${"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(files: &[(&str, &str)]) -> Result<String, String> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect();
        in_sources(&files).map(|(p, _)| p)
    }

    #[test]
    fn a_nest_controller_under_the_global_prefix() {
        let main = "app.setGlobalPrefix('api/v1');\n";
        let ctl = "@Controller(\"health\")\nexport class HealthController {}\n";
        assert_eq!(
            of(&[("src/main.ts", main), ("src/health.controller.ts", ctl)]),
            Ok("/api/v1/health".into())
        );
        assert_eq!(of(&[("src/h.ts", ctl)]), Ok("/health".into()));
        // a controller of something else is no health route
        assert!(of(&[("src/u.ts", "@Controller('users')\n")]).is_err());
    }

    #[test]
    fn route_literals_of_plain_servers() {
        assert_eq!(
            of(&[("src/main.ts", "    case \"GET /api/healthz\": {\n")]),
            Ok("/api/healthz".into())
        );
        assert_eq!(
            of(&[("src/s.ts", "app.get('/status/readyz', (req, res) => {})\n")]),
            Ok("/status/readyz".into())
        );
        assert_eq!(
            of(&[("src/s.ts", "if (url.pathname === \"/health\") {\n")]),
            Ok("/health".into())
        );
        // not routes: a comment, a word, an interpolation, a URL
        for line in [
            "// GET '/healthz' answers 200\n",
            "const health = \"health\";\n",
            "fetch(`${base}/healthz`)\n",
            "fetch('http://api/healthz')\n",
        ] {
            assert!(of(&[("src/x.ts", line)]).is_err(), "{line}");
        }
    }

    #[test]
    fn several_routes_leave_the_default_and_name_them() {
        let r = of(&[(
            "src/s.ts",
            "app.get('/livez', a)\napp.get('/readyz', b)\napp.get('/livez', c)\n",
        )]);
        let why = r.expect_err("several");
        assert!(
            why.contains("/livez at src/s.ts:1") && why.contains("/readyz at src/s.ts:2"),
            "{why}"
        );
    }
}
