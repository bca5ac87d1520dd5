//! The `caddy` stage: `caddy adapt` and `caddy validate` (with throwaway certificates) side
//! by side; their errors as findings at the Caddyfile's lines.

use super::*;

/// The memo key of the caddy stage: the Caddyfile, caddy and openssl.
pub(super) fn caddy_key(ctx: &Ctx) -> Option<Key> {
    let mut k = Key::new("caddy");
    k.file_identity(&tools::find("caddy", "").ok()?);
    k.file_identity(&tools::find("openssl", "").ok()?);
    k.bytes(
        &crate::files::read_in_bytes(&ctx.root, Path::new(CADDYFILE), crate::files::MAX_GENERATED)
            .ok()?,
    );
    Some(k)
}

/// Stage 4: `caddy adapt` and `caddy validate`, for real.
pub(super) fn caddy_stage(ctx: &Ctx) -> Stage {
    let t = Instant::now();
    match caddy_checks(ctx) {
        Ok(Some(findings)) => Stage::ran("caddy", t.elapsed(), CADDY_DETAIL.into(), findings, &[]),
        Ok(None) => Stage::not_run(
            "caddy",
            t.elapsed(),
            Status::Skipped(format!("{CADDYFILE} is missing (see the fresh stage)")),
        ),
        Err(e) => error_stage("caddy", t, e),
    }
}

pub(super) fn caddy_checks(ctx: &Ctx) -> Result<Option<Vec<Finding>>> {
    let file = ctx.root.join(CADDYFILE);
    let Some(text) = generated::read_optional(&file)? else {
        return Ok(None);
    };
    let tmp = TempDir::new("verify-caddy")?;
    let name = "Caddyfile";
    // adapt (syntax) and validate (provisioning, certificates opened) side by side
    let (adapt, validate) = std::thread::scope(|s| {
        let adapt = s.spawn(|| tools::caddy::adapt(&file, &tmp.path().join("state-adapt")));
        let validate = caddy_validate(&text, tmp.path(), name);
        (adapt.join(), validate)
    });
    let adapt = adapt.unwrap_or_else(|_| Err(anyhow::anyhow!("caddy adapt panicked (a bug)")))?;
    if !adapt.status.success() {
        // validate fails the same way: report the syntax error once
        return Ok(Some(vec![caddy_error_finding(
            "caddy/adapt",
            &String::from_utf8_lossy(&adapt.stderr),
            name,
            &text,
        )]));
    }
    let validate = validate?;
    if !validate.status.success() {
        return Ok(Some(vec![caddy_error_finding(
            "caddy/validate",
            &String::from_utf8_lossy(&validate.stderr),
            name,
            &text,
        )]));
    }
    Ok(Some(Vec::new()))
}

/// `caddy validate` on a copy of the Caddyfile whose `tls` paths point at throwaway
/// self-signed certificates, generated at the referenced paths mirrored under `tmp`.
pub(super) fn caddy_validate(text: &str, tmp: &Path, name: &str) -> Result<std::process::Output> {
    let cf = crate::parse::caddyfile::parse(text);
    let certs_root = tmp.join("certs-root");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut made: Vec<(String, String)> = Vec::new();
    for site in &cf.sites {
        for tls in site.find("tls") {
            let [cert, key, ..] = tls.args.as_slice() else {
                continue;
            };
            let mirror = |p: &str| certs_root.join(p.trim_start_matches('/'));
            let (c, k) = (mirror(cert), mirror(key));
            if !made.contains(&(cert.clone(), key.clone())) {
                for p in [&c, &k] {
                    if let Some(dir) = p.parent() {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create {}", dir.display()))?;
                    }
                }
                tools::caddy::self_signed(&c, &k)?;
                made.push((cert.clone(), key.clone()));
            }
            if let Some(l) = lines.get_mut(tls.line - 1) {
                *l = l.replacen(cert.as_str(), &c.to_string_lossy(), 1).replacen(
                    key.as_str(),
                    &k.to_string_lossy(),
                    1,
                );
            }
        }
    }
    let copy = tmp.join(name);
    std::fs::write(&copy, lines.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", copy.display()))?;
    tools::caddy::validate(&copy, &tmp.join("state-validate"))
}

/// A finding for a Caddy error log (`{"level":"error","msg":"...Caddyfile:10: ..."}`).
/// The line a provisioning error without a position is about: the file it could not
/// `open`, else the innermost `loading module 'x'` that starts a line.
pub(super) fn locate_in_caddyfile(msg: &str, text: &str) -> Option<usize> {
    let find = |needle: &str, first_word: bool| {
        text.lines().enumerate().find_map(|(n, l)| {
            let t = l.trim_start();
            let hit = if first_word {
                t.split_whitespace().next() == Some(needle)
            } else {
                !t.starts_with('#') && t.contains(needle)
            };
            hit.then_some(n + 1)
        })
    };
    if let Some(path) = msg.split("open ").nth(1).and_then(|r| r.split(':').next()) {
        if let Some(n) = find(path.trim(), false) {
            return Some(n);
        }
    }
    msg.split("module '")
        .skip(1)
        .filter_map(|r| r.split('\'').next())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|m| find(m, true))
}

pub(super) fn caddy_error_finding(
    rule: &'static str,
    stderr: &str,
    file_name: &str,
    text: &str,
) -> Finding {
    let msgs: Vec<String> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .collect();
    let msg = msgs.last().cloned().unwrap_or_else(|| {
        stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("failed")
            .to_string()
    });
    let line = msg
        .match_indices(&format!("{file_name}:"))
        .filter_map(|(i, m)| {
            msg[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .next()
        .unwrap_or(1);
    let line = if line != 1 {
        line
    } else {
        locate_in_caddyfile(&msg, text).unwrap_or(1)
    };
    let what = if rule == "caddy/adapt" {
        "caddy adapt"
    } else {
        "caddy validate"
    };
    Finding {
        rule,
        file: CADDYFILE.into(),
        line,
        message: format!("{what}: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddy_errors_point_at_lines() {
        let e = "{\"level\":\"info\",\"msg\":\"using config\"}\n{\"level\":\"error\",\"ts\":1,\"msg\":\"Caddyfile:10: unrecognized directive: reverse_prxy\"}\n";
        let f = caddy_error_finding("caddy/adapt", e, "Caddyfile", "");
        assert_eq!((f.line, f.rule), (10, "caddy/adapt"));
        let e = "{\"level\":\"error\",\"msg\":\"parsing upstream 'api:99999': out of range, at /tmp/x/Caddyfile:12\"}\n";
        assert_eq!(
            caddy_error_finding("caddy/validate", e, "Caddyfile", "").line,
            12
        );
        let text = ":443 {\n\treverse_proxy api:3000 {\n\t\ttransport http {\n\t\t\ttls_trusted_ca_certs /no.pem\n";
        let e = "{\"level\":\"error\",\"msg\":\"loading module 'reverse_proxy': loading module 'http': failed reading ca cert: open /no.pem: no such file\"}";
        assert_eq!(
            caddy_error_finding("caddy/validate", e, "Caddyfile", text).line,
            4
        );
        let e = "{\"level\":\"error\",\"msg\":\"loading module 'reverse_proxy': loading module 'http': bad\"}";
        assert_eq!(
            caddy_error_finding("caddy/validate", e, "Caddyfile", text).line,
            2
        );
    }
}
