//! The throwaway env file: every variable of the example, fresh secrets, never a real one.

/// `.env.staging` for the rehearsal, from `.env.staging.example`: every variable the example
/// sets; secrets (by name, or left at a placeholder such as `change-me`) replaced by
/// `secret(name)` (a fresh random value, in the secret's format: the caller knows the
/// contract), written as compose's env file reads it back (a multi-line PEM key on one line,
/// `\n`-escaped); the others keep the example's staging value (the API's own example value),
/// empty where the example is empty (a key the API allows empty), `rehearsal` where the
/// example has only a placeholder.
pub fn throwaway_env(
    example: &str,
    secret: &mut dyn FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    let mut out = String::from(
        "# Throwaway values written by `cargo xtask rehearse`; this file exists only in the\n\
         # rehearsal's temporary directory and is removed with it.\n",
    );
    for line in example.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = t.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_start_matches("export ").trim();
        let shown = raw.trim();
        let unquoted = shown.trim_matches('\'');
        let secretish = crate::envcontract::is_secret_name(key)
            || ["PASSWORD", "SECRET", "TOKEN", "KEY"]
                .iter()
                .any(|s| key.ends_with(s));
        let value = if secretish || unquoted == "change-me" {
            crate::render::compose::env_file_value(&secret(key)?)
        } else if shown.is_empty() {
            String::new() // set but empty, as the API's example has it (`${KEY?…}`)
        } else if key == "TAG" || crate::rules::env::is_placeholder(unquoted) {
            "rehearsal".to_string()
        } else {
            shown.to_string()
        };
        out.push_str(&format!("{key}={value}\n"));
    }
    Ok(out)
}

/// The variable names an env file sets (so the caller can keep the same names out of the
/// environment compose runs in: a shell variable would win over the file).
pub fn env_keys(env: &str) -> Vec<String> {
    env.lines()
        .filter_map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                return None;
            }
            t.split_once('=').map(|(k, _)| k.trim().to_string())
        })
        .collect()
}

/// `text` with every occurrence of each of `secrets` (longest first, so a PEM key goes before
/// its lines) replaced by `(redacted)`: what a report may show of output that could hold a
/// secret of the rehearsal's env.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut needles: Vec<&String> = secrets.iter().filter(|s| s.len() >= 4).collect();
    needles.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for n in needles {
        if out.contains(n.as_str()) {
            out = out.replace(n.as_str(), "(redacted)");
        }
    }
    out
}
