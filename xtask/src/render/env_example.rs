//! `.env.staging.example`: what the operator fills in for the staging stack.

use std::fmt::Write;

use crate::envcontract::{Contract, Key};
use crate::stack::{Compose, Val};

/// A value on an active line of an env file compose reads: bare when that is unambiguous,
/// else single-quoted (literal in compose's dotenv), else double-quoted with `\`, `"`, `$`
/// escaped and a line break as `\n` (compose's dotenv expands these in double quotes: a
/// multi-line value, a PEM key, stays on one line).
pub fn env_file_value(v: &str) -> String {
    let bare = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+,=".contains(c));
    if bare {
        v.to_string()
    } else if !v.contains(['\'', '\n', '\r']) {
        format!("'{v}'")
    } else {
        format!(
            "\"{}\"",
            v.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('$', "\\$")
                .replace('\n', "\\n")
                .replace('\r', "\\r")
        )
    }
}

fn comment_lines(w: &mut String, comment: &str) {
    if !comment.is_empty() {
        let _ = writeln!(w, "# {}", comment.replace(['\n', '\r'], " "));
    }
}

/// How a compose value reads in a comment (`${X:?…}` shown as `${X}`).
fn shown(v: &Val) -> String {
    match v {
        Val::Lit(s) => s.replace("$$", "$"),
        Val::Required { var, .. } => format!("${{{var}}}"),
    }
}

/// The lines explaining a key: its comment from the API's example, then why its format,
/// why it is required, why its value is not the example's.
fn key_notes(w: &mut String, k: Option<&Key>) {
    let Some(k) = k else { return };
    comment_lines(w, &k.comment);
    if let (Some(f), Some(why)) = (k.format, &k.format_reason) {
        comment_lines(w, &format!("format: {f} ({why})"));
    }
    if k.required_reason.is_some() {
        comment_lines(
            w,
            "required in production (so says its comment in the API's example)",
        );
    }
    if let Some(why) = &k.value_reason {
        comment_lines(w, why);
    }
    if k.empty_ok() {
        comment_lines(w, "may be empty (the API's example leaves it empty)");
    }
}

/// `.env.staging.example`: every variable the compose file interpolates (active lines, with
/// placeholders), then every other key of the API's contract (commented: compose sets it),
/// grouped, each with its comment from the API's example.
pub fn render(c: &Compose, contract: &Contract) -> String {
    let mut s = String::new();
    let w = &mut s;
    for line in [
        "# Copy to .env.staging and fill in real values; never commit .env.staging.",
        "# Every variable docker-compose.staging.yml interpolates is set below; the API's other",
        "# keys are listed commented out (compose sets them; change them in infra/stack.toml [api.env]).",
    ] {
        let _ = writeln!(w, "{line}");
    }
    let source = if contract.sources.is_empty() {
        "no .env.example in the API's directory".to_string()
    } else {
        contract.sources.join(", ")
    };
    let _ = writeln!(w, "# The API's contract: {source} + [api.env].");
    let _ = writeln!(w);
    let _ = writeln!(w, "# --- image tag");
    for (var, default) in &c.defaulted_vars {
        let _ = writeln!(w, "{var}={}", env_file_value(default));
    }
    let required = c.required_vars();
    let (secrets, settings): (Vec<&String>, Vec<&String>) = required
        .iter()
        .map(|(v, _)| v)
        .partition(|v| contract.is_secret(v));
    if !secrets.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "# --- secrets: a real, random value each (e.g. `openssl rand -hex 32`)"
        );
        for var in secrets {
            key_notes(w, contract.key(var));
            let _ = writeln!(w, "{var}=change-me");
        }
    }
    if !settings.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(w, "# --- staging settings compose requires");
        for var in settings {
            key_notes(w, contract.key(var));
            let _ = writeln!(w, "{var}={}", setting_placeholder(var, contract));
        }
    }
    commented_keys(w, contract);
    s
}

/// The keys compose sets itself (commented, as set) and the optional ones left unset.
fn commented_keys(w: &mut String, contract: &Contract) {
    use crate::envcontract::Class;
    let groups = [
        (
            Class::Wired,
            "# --- set by docker-compose.staging.yml: the stack wires these",
        ),
        (
            Class::Config,
            "# --- set by docker-compose.staging.yml from the API's example or [api.env]",
        ),
    ];
    for (class, title) in groups {
        let keys: Vec<_> = contract
            .set_keys()
            .filter(|k| k.class == class)
            .filter(|k| !matches!(k.value, Some(Val::Required { ref var, .. }) if *var == k.name))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let _ = writeln!(w);
        let _ = writeln!(w, "{title}");
        for k in keys {
            key_notes(w, Some(k));
            if let Some(v) = &k.value {
                let _ = writeln!(w, "# {}={}", k.name, shown(v).replace('\n', " "));
            }
        }
    }
    let unset: Vec<_> = contract.keys.iter().filter(|k| k.value.is_none()).collect();
    if !unset.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "# --- optional, not set for staging (give one a value under [api.env] in infra/stack.toml)"
        );
        for k in unset {
            key_notes(w, Some(k));
            let v = if k.class == crate::envcontract::Class::Secret {
                String::new()
            } else {
                k.example_value.replace('\n', " ")
            };
            let _ = writeln!(w, "# {}={v}", k.name);
        }
    }
}

/// The placeholder of a required setting: empty where the API's example leaves it empty; a
/// public address's shape for a public URL, origin or domain; the example's value with
/// `example.com` for this machine (a dev value); else the example's value, else one derived
/// from the name.
fn setting_placeholder(var: &str, contract: &Contract) -> String {
    use crate::envcontract::{is_dev_value, public_kind, Public};
    let Some(k) = contract.key(var) else {
        return format!("example-{}", var.to_ascii_lowercase().replace('_', "-"));
    };
    if k.empty_ok() {
        return String::new();
    }
    match public_kind(var) {
        Some(Public::WebUrl | Public::Origins) => return "https://app.example.com".into(),
        Some(Public::ApiUrl) => return "https://api.example.com".into(),
        Some(Public::Domain) => return "app.example.com".into(),
        None => {}
    }
    if is_dev_value(&k.example_value) {
        return env_file_value(&crate::envcontract::without_local_hosts(&k.example_value));
    }
    if k.example_value.is_empty() {
        format!("example-{}", var.to_ascii_lowercase().replace('_', "-"))
    } else {
        env_file_value(&k.example_value)
    }
}

#[cfg(test)]
mod tests {
    use super::env_file_value;

    #[test]
    fn env_file_values_keep_a_multi_line_value_on_one_line() {
        assert_eq!(env_file_value("abc123"), "abc123");
        assert_eq!(env_file_value("a b"), "'a b'");
        assert_eq!(env_file_value("a'$b"), "\"a'\\$b\"");
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQ/+=\n-----END PRIVATE KEY-----\n";
        let line = env_file_value(pem);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            line,
            "\"-----BEGIN PRIVATE KEY-----\\nMC4CAQ/+=\\n-----END PRIVATE KEY-----\\n\""
        );
    }
}
