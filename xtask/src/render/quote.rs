//! Quoting for each target grammar the renderers write: a value that reaches a generated file
//! either went through a type of [`crate::values`] or through one of these functions, each
//! proven by tests against the grammar's own reader (`/bin/sh`, the YAML parser, Caddy,
//! the Dockerfile JSON form, GitHub's expression string literal).

/// A POSIX shell word that the shell reads back as exactly `s` (single quotes; a `'` as
/// `'\''`). Used for values inside `RUN` lines.
pub fn shell(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A Dockerfile word in double quotes (an `ARG NAME=<here>` default) that BuildKit's word
/// processing reads back as exactly `s`: `\`, `"` and `$` escaped with `\` (the only escapes
/// it knows inside double quotes), so no variable is expanded and the line never continues.
/// Control characters are refused by the value types before this point; here a newline
/// becomes a space, so an instruction can never be added.
pub fn dockerfile_word(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' | '"' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string (the Dockerfile's exec form: `CMD ["node", "<here>"]`).
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A YAML scalar: plain when unambiguous, else double-quoted with every control character
/// escaped (a newline can never start a new key).
pub fn yaml(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@'))
        && !s.starts_with(['-', '.', '@'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Caddyfile token that Caddy's lexer reads back as exactly `s`: bare when it holds no
/// space, quote, brace, `#` or placeholder, else a double-quoted token with `"` escaped (in
/// Caddy's lexer `\` escapes only a quote: other backslashes stay as they are). A value a
/// quoted token cannot carry (a backslash before a quote or at the end) becomes a backtick
/// token, which has no escapes. A control character is refused by the value types before
/// this point; here it becomes a space, so a directive can never be added. Braces stay one
/// token but are Caddy's placeholders (`{host}` is expanded): the value types refuse them.
pub fn caddy(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@+=,*".contains(c));
    if bare {
        return s.to_string();
    }
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if (s.ends_with('\\') || s.contains("\\\"")) && !s.contains('`') {
        return format!("`{s}`");
    }
    // (a value with a backtick and a backslash before a quote: the backslashes are dropped)
    let s = if s.ends_with('\\') || s.contains("\\\"") {
        s.replace('\\', "")
    } else {
        s
    };
    format!("\"{}\"", s.replace('"', "\\\""))
}

/// A string literal of GitHub Actions' expression language: `'...'` with `'` doubled.
/// Newlines are kept (the expression language allows them in literals).
pub fn github_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &[&str] = &[
        "plain",
        "",
        "a b",
        "\"; touch /tmp/x; echo \"",
        "$(id)",
        "`id`",
        "${IFS}",
        "it's",
        "'",
        "a\nb",
        "a\\b",
        "tab\there",
        "yes",
        "3000",
        "#comment",
        "{host}",
        "} tls off {",
        "- item",
        "key: value",
        "\r\n",
        "\u{1b}[31m",
        "ünï",
        "a\\\"b",
        "trail\\",
        "back`tick",
    ];

    /// The real `/bin/sh` reads the quoted word back as the value.
    #[test]
    fn dockerfile_words_escape_what_buildkit_expands() {
        use super::dockerfile_word as d;
        assert_eq!(d("https://api.example.com"), "\"https://api.example.com\"");
        assert_eq!(d("a \"b\" $HOME \\"), "\"a \\\"b\\\" \\$HOME \\\\\"");
        assert_eq!(d("x\nRUN evil"), "\"x RUN evil\"");
        // the end of the line is the closing quote: never a line continuation
        assert!(d("ends with \\").ends_with("\\\\\""));
    }

    #[test]
    fn shell_words_round_trip_through_sh() {
        for v in NASTY {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' {}", shell(v)))
                .output()
                .expect("sh runs");
            assert!(out.status.success(), "{v:?}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), *v, "{v:?}");
        }
    }

    /// The YAML parser reads the scalar back as the value, as a string, one key only.
    #[test]
    fn yaml_scalars_round_trip() {
        for v in NASTY {
            let doc = format!("k: {}\n", yaml(v));
            let parsed: serde_yaml::Value =
                serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{v:?}: {e}\n{doc}"));
            let map = parsed.as_mapping().expect("a mapping");
            assert_eq!(map.len(), 1, "{v:?} added a key");
            assert_eq!(parsed["k"].as_str(), Some(*v), "{v:?}");
        }
    }

    /// The Dockerfile's exec form is JSON: the JSON parser reads it back.
    #[test]
    fn json_strings_round_trip() {
        for v in NASTY {
            let s = json_string(v);
            let back: String = serde_json::from_str(&s).expect("json");
            assert_eq!(back, *v);
            assert!(!s.contains('\n'), "{v:?} spans lines");
        }
    }

    /// Caddy's token rules (the lexer in caddyconfig/caddyfile): a quoted token ends at an
    /// unescaped `"`, `\"` and `\\` are escapes; a bare token ends at white space. Checked here
    /// with a lexer written to those rules; `tests/verify.rs` checks it with `caddy adapt`.
    #[test]
    fn caddy_tokens_stay_one_token() {
        for v in NASTY {
            let t = caddy(v);
            assert!(!t.contains('\n'), "{v:?}");
            let toks = caddy_lex(&t);
            assert_eq!(toks.len(), 1, "{v:?} -> {t} -> {toks:?}");
            if !v.chars().any(char::is_control) {
                assert_eq!(toks[0], *v, "{v:?}");
            }
        }
    }

    /// Caddy's own lexer: `caddy adapt` reads each quoted token back as the value (the
    /// body of a `respond`). Runs where caddy is installed; CI installs it.
    #[test]
    fn caddy_tokens_round_trip_through_caddy_adapt() {
        let Ok(caddy_bin) = which::which("caddy") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "caddy is missing (.ci/install-tools.sh installs it)"
            );
            eprintln!("caddy not on PATH: caddy_tokens_round_trip_through_caddy_adapt not run");
            return;
        };
        let dir = std::env::temp_dir().join(format!("xtask-quote-caddy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        // braces are placeholders to Caddy (expanded, by design): no value type lets one in
        for v in NASTY
            .iter()
            .filter(|v| !v.chars().any(|c| c.is_control() || c == '{') && !v.is_empty())
        {
            let file = dir.join("Caddyfile");
            std::fs::write(&file, format!(":8080 {{\n\trespond {} 200\n}}\n", caddy(v)))
                .expect("write");
            let out = std::process::Command::new(&caddy_bin)
                .args(["adapt", "--adapter", "caddyfile", "--config"])
                .arg(&file)
                .env("HOME", &dir)
                .env("XDG_DATA_HOME", &dir)
                .env("XDG_CONFIG_HOME", &dir)
                .output()
                .expect("caddy runs");
            assert!(
                out.status.success(),
                "{v:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            let body = json.pointer("/apps/http/servers/srv0/routes/0/handle/0/body");
            assert_eq!(body.and_then(|b| b.as_str()), Some(*v), "{v:?}: {json}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Caddy's lexer rules (caddyconfig/caddyfile/lexer.go): in a quoted token `\"` is a
    /// quote and any other backslash stays; a backtick token has no escapes; a bare token
    /// ends at white space.
    fn caddy_lex(s: &str) -> Vec<String> {
        let mut toks = Vec::new();
        let mut cur = String::new();
        let (mut quoted, mut bt, mut in_tok, mut escaped) = (false, false, false, false);
        for c in s.chars() {
            if quoted {
                if !escaped && c == '\\' {
                    escaped = true;
                    continue;
                }
                if !escaped && c == '"' {
                    quoted = false;
                    in_tok = false;
                    toks.push(std::mem::take(&mut cur));
                    continue;
                }
                if escaped && c != '"' {
                    cur.push('\\');
                }
                cur.push(c);
                escaped = false;
                continue;
            }
            if bt {
                if c == '`' {
                    bt = false;
                    in_tok = false;
                    toks.push(std::mem::take(&mut cur));
                } else {
                    cur.push(c);
                }
                continue;
            }
            match c {
                '"' if !in_tok => {
                    quoted = true;
                    in_tok = true;
                }
                '`' if !in_tok => {
                    bt = true;
                    in_tok = true;
                }
                c if c.is_whitespace() => {
                    if in_tok {
                        toks.push(std::mem::take(&mut cur));
                        in_tok = false;
                    }
                }
                c => {
                    in_tok = true;
                    cur.push(c)
                }
            }
        }
        if in_tok {
            toks.push(cur);
        }
        toks
    }

    /// GitHub's expression literal: `''` is the only escape; the literal never ends early.
    #[test]
    fn github_literals_round_trip() {
        for v in NASTY {
            let l = github_literal(v);
            let inner = &l[1..l.len() - 1];
            assert_eq!(inner.replace("''", "'"), *v);
            assert!(!inner.replace("''", "").contains('\''), "{v:?}");
        }
    }
}
