//! A Caddyfile tokenizer and a structural parser: the global options block, site blocks
//! (addresses and directives, with nested blocks), snippets. Every token keeps its line.
//!
//! As in Caddy, a `{` or `}` is a brace only as a token of its own (`{host}` is a word),
//! `#` starts a comment at the start of a token, `"..."` and `` `...` `` quote.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub line: usize,
    pub quoted: bool,
}

impl Token {
    fn is(&self, s: &str) -> bool {
        !self.quoted && self.text == s
    }
}

pub fn tokenize(src: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == '\n' {
            line += 1;
            chars.next();
            continue;
        }
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            while let Some(&c) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
            }
            continue;
        }
        let start = line;
        let mut text = String::new();
        if c == '"' || c == '`' {
            chars.next();
            while let Some(ch) = chars.next() {
                if ch == c {
                    break;
                }
                if ch == '\\' && c == '"' {
                    if let Some(&n) = chars.peek() {
                        if n == '"' || n == '\\' {
                            text.push(n);
                            chars.next();
                            continue;
                        }
                    }
                }
                if ch == '\n' {
                    line += 1;
                }
                text.push(ch);
            }
            out.push(Token {
                text,
                line: start,
                quoted: true,
            });
            continue;
        }
        while let Some(&ch) = chars.peek() {
            if ch.is_whitespace() {
                break;
            }
            text.push(ch);
            chars.next();
        }
        out.push(Token {
            text,
            line: start,
            quoted: false,
        });
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub line: usize,
    /// Tokens of the directive line (name first), with their lines.
    pub tokens: Vec<Token>,
    pub block: Vec<Directive>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Addresses as written (`:443`, `example.com`, `http://x`), commas removed.
    pub addresses: Vec<String>,
    pub line: usize,
    pub directives: Vec<Directive>,
    /// `(name)` snippets and `&(name)` named routes are not sites.
    pub snippet: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caddyfile {
    pub global: Vec<Directive>,
    pub sites: Vec<Site>,
}

impl Site {
    /// Serves plain HTTP: every address is `http://...` or on port 80.
    pub fn is_http(&self, http_port: u16) -> bool {
        !self.addresses.is_empty()
            && self
                .addresses
                .iter()
                .all(|a| a.starts_with("http://") || address_port(a) == Some(http_port))
    }

    /// Every directive named `name`, at any depth (e.g. inside `handle`).
    pub fn find<'a>(&'a self, name: &str) -> Vec<&'a Directive> {
        fn walk<'a>(ds: &'a [Directive], name: &str, out: &mut Vec<&'a Directive>) {
            for d in ds {
                if d.name == name {
                    out.push(d);
                }
                walk(&d.block, name, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.directives, name, &mut out);
        out
    }
}

/// The port of a site address, if it names one.
pub fn address_port(a: &str) -> Option<u16> {
    let rest = a.split_once("://").map(|(_, r)| r).unwrap_or(a);
    let host_port = rest.split('/').next().unwrap_or(rest);
    let (_, p) = host_port.rsplit_once(':')?;
    p.parse().ok()
}

/// Splits tokens into lines of tokens (a quoted token spanning lines stays on its first).
fn lines_of(tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut out: Vec<Vec<Token>> = Vec::new();
    for t in tokens {
        match out.last_mut() {
            Some(l) if l.last().is_some_and(|p| p.line == t.line) => l.push(t.clone()),
            _ => out.push(vec![t.clone()]),
        }
    }
    out
}

/// Parses directives until the `}` closing the current block (consumed) or the end.
fn directives(lines: &[Vec<Token>], i: &mut usize) -> Vec<Directive> {
    let mut out = Vec::new();
    while *i < lines.len() {
        let l = &lines[*i];
        *i += 1;
        if l.len() == 1 && l[0].is("}") {
            break;
        }
        let opens = l.last().is_some_and(|t| t.is("{"));
        let toks: Vec<Token> = if opens {
            l[..l.len() - 1].to_vec()
        } else {
            l.clone()
        };
        let Some(first) = toks.first() else {
            // a lone `{`: an anonymous block
            let _ = directives(lines, i);
            continue;
        };
        let block = if opens {
            directives(lines, i)
        } else {
            Vec::new()
        };
        out.push(Directive {
            name: first.text.clone(),
            args: toks[1..].iter().map(|t| t.text.clone()).collect(),
            line: first.line,
            tokens: toks.clone(),
            block,
        });
    }
    out
}

pub fn parse(src: &str) -> Caddyfile {
    let lines = lines_of(&tokenize(src));
    let mut cf = Caddyfile::default();
    let mut i = 0;
    if lines.first().is_some_and(|l| l.len() == 1 && l[0].is("{")) {
        i = 1;
        cf.global = directives(&lines, &mut i);
    }
    while i < lines.len() {
        // addresses, possibly over several lines ending in ','
        let mut addrs: Vec<Token> = Vec::new();
        let mut opens = false;
        while i < lines.len() {
            let l = &lines[i];
            i += 1;
            opens = l.last().is_some_and(|t| t.is("{"));
            let toks = if opens { &l[..l.len() - 1] } else { &l[..] };
            addrs.extend(toks.iter().cloned());
            let more = toks.last().is_some_and(|t| t.text.ends_with(','));
            if opens || !more {
                break;
            }
        }
        let line = addrs.first().map(|t| t.line).unwrap_or(1);
        let addresses: Vec<String> = addrs
            .iter()
            .flat_map(|t| t.text.split(',').map(str::to_string).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        let snippet = addresses
            .first()
            .is_some_and(|a| a.starts_with('(') || a.starts_with("&("));
        let directives = if opens {
            directives(&lines, &mut i)
        } else {
            // a single site without braces: the rest of the file is its body
            let d = directives(&lines, &mut i);
            i = lines.len();
            d
        };
        cf.sites.push(Site {
            addresses,
            line,
            directives,
            snippet,
        });
    }
    cf
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &str = "\
# header
{
\tauto_https off
}

a.example.com:443, b.example.com {
\ttls /etc/caddy/certs/c.pem /etc/caddy/certs/k.pem
\thandle /api/* {
\t\treverse_proxy api:3000 {
\t\t\thealth_uri /health
\t\t}
\t}
\theader X-A \"a b\" # trailing comment
}

(snip) {
\tlog
}

:80 {
\tredir https://{host}{uri} permanent
}
";

    #[test]
    fn sites_directives_lines() {
        let cf = parse(CF);
        assert_eq!(cf.global.len(), 1);
        assert_eq!(cf.global[0].name, "auto_https");
        assert_eq!(cf.sites.len(), 3);
        let s = &cf.sites[0];
        assert_eq!(s.addresses, vec!["a.example.com:443", "b.example.com"]);
        assert_eq!(s.line, 6);
        assert_eq!(
            s.directives[0].args,
            vec!["/etc/caddy/certs/c.pem", "/etc/caddy/certs/k.pem"]
        );
        let rp = s.find("reverse_proxy");
        assert_eq!(rp.len(), 1);
        assert_eq!(
            (rp[0].line, rp[0].args.clone()),
            (9, vec!["api:3000".to_string()])
        );
        assert_eq!(s.directives[2].args, vec!["X-A", "a b"]);
        assert!(cf.sites[1].snippet);
        let http = &cf.sites[2];
        assert!(http.is_http(80));
        assert!(!s.is_http(80));
        assert_eq!(
            http.directives[0].args,
            vec!["https://{host}{uri}", "permanent"]
        );
        assert_eq!(http.directives[0].line, 21);
    }

    #[test]
    fn single_site_without_braces() {
        let cf = parse("localhost:8080\nreverse_proxy 127.0.0.1:3000\n");
        assert_eq!(cf.sites.len(), 1);
        assert_eq!(cf.sites[0].directives[0].name, "reverse_proxy");
        assert_eq!(address_port("https://x:8443/p"), Some(8443));
        assert_eq!(address_port("x.example"), None);
    }
}
