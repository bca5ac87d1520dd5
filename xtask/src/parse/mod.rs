//! Pure parsers of the files `verify` reads from disk, each keeping line numbers so that a
//! finding points at the line to change. No I/O, no programs.
//!
//! - [`dockerfile`]: instructions, `\` continuations, stages, `ARG` substitution, exec form
//! - [`ignore`]: Docker ignore-file semantics (last match wins, `!` re-includes, parents)
//! - [`yaml`]: the line of a key path (`services.api.ports[0]`) in block YAML
//! - [`caddyfile`]: tokens, sites, directives

pub mod caddyfile;
pub mod dockerfile;
pub mod ignore;
pub mod yaml;

/// Splits `s` into words on white space, keeping quoted parts (`"a b"`, `'a b'`) together
/// and removing the quotes; `\` escapes the next character outside single quotes.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn words_keep_quotes_together() {
        assert_eq!(
            super::words(r#"a "b c" 'd e'  f\ g"#),
            vec!["a", "b c", "d e", "f g"]
        );
        assert_eq!(super::words("  "), Vec::<String>::new());
        assert_eq!(super::words(r#"K="" x"#), vec!["K=", "x"]);
    }
}
