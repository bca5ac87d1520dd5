//! A Docker ignore file (`.dockerignore`, `X.Dockerfile.dockerignore`) with BuildKit's
//! semantics: patterns are cleaned (`./a/` → `a`, a leading `/` dropped), `#` lines are
//! comments, `!` re-includes, the last pattern that matches a path or one of its parent
//! directories decides, and a path no pattern matches is in the context.

use crate::glob;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub line: usize,
    /// `!pattern`: re-includes what it matches.
    pub negated: bool,
    pub glob: String,
    /// No glob syntax: matched by comparing strings (decided once, at parse time).
    literal: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreFile {
    pub patterns: Vec<Pattern>,
}

/// What the ignore file does to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub excluded: bool,
    /// Line of the deciding pattern; `None` when no pattern matches (the path is included).
    pub line: Option<usize>,
}

fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

pub fn parse(text: &str) -> IgnoreFile {
    let mut patterns = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (negated, body) = match t.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, t),
        };
        let glob = clean(body);
        if glob.is_empty() {
            continue;
        }
        let literal = !glob::is_glob(&glob) && !glob.contains('\\');
        patterns.push(Pattern {
            line: n + 1,
            negated,
            glob,
            literal,
        });
    }
    IgnoreFile { patterns }
}

impl IgnoreFile {
    /// Is `path` (relative to the context root, `/`-separated) left out of the build context?
    pub fn decide(&self, path: &str) -> Decision {
        let path = clean(path);
        let segs = glob::segments(&path);
        // the last pattern that matches decides: look from the end, stop at the first hit
        for p in self.patterns.iter().rev() {
            // the path or one of its parent directories
            let hit = if p.literal {
                // a literal (most lines, e.g. one per package kept out): a prefix compare
                path == p.glob
                    || (path.len() > p.glob.len()
                        && path.starts_with(p.glob.as_str())
                        && path.as_bytes()[p.glob.len()] == b'/')
            } else {
                let pat = glob::segments(&p.glob);
                if segs.is_empty() {
                    glob::match_segments(&pat, &[])
                } else {
                    (1..=segs.len()).any(|k| glob::match_segments(&pat, &segs[..k]))
                }
            };
            if hit {
                return Decision {
                    excluded: !p.negated,
                    line: Some(p.line),
                };
            }
        }
        Decision {
            excluded: false,
            line: None,
        }
    }

    pub fn excluded(&self, path: &str) -> bool {
        self.decide(path).excluded
    }

    /// Is the directory `dir` left out with everything below it? Excluded itself, and no
    /// `!` pattern could let something under it back in (a negated glob might: not pruned).
    pub fn prunes(&self, dir: &str) -> bool {
        let dir = clean(dir);
        let below = format!("{dir}/");
        self.excluded(&dir)
            && !self
                .patterns
                .iter()
                .any(|p| p.negated && (!p.literal || p.glob.starts_with(&below)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_pruned_only_when_nothing_below_it_comes_back() {
        let f = parse("*\n!apps/api\n**/node_modules\n");
        assert!(f.prunes("apps/web"));
        assert!(!f.prunes("apps"), "apps/api is let back in");
        assert!(f.prunes("apps/api/node_modules/"));
        assert!(!f.prunes("apps/api/src"));
        let g = parse("*\n!**/keep\n");
        assert!(!g.prunes("x"), "a negated glob may match below");
    }

    #[test]
    fn last_match_wins_and_parents_count() {
        let f = parse("# c\n*\n!apps/api\n**/node_modules\n!apps/api/node_modules/keep\n/.git/\n");
        assert!(f.excluded("README.md"));
        assert!(!f.excluded("apps/api/src/main.ts"));
        assert_eq!(
            f.decide("apps/api/src/main.ts"),
            Decision {
                excluded: false,
                line: Some(3)
            }
        );
        assert!(f.excluded("apps/api/node_modules/x/index.js"));
        assert!(!f.excluded("apps/api/node_modules/keep/a"));
        assert!(f.excluded("apps/web/package.json"));
        assert_eq!(
            f.decide(".git/HEAD"),
            Decision {
                excluded: true,
                line: Some(6)
            }
        );
        assert_eq!(
            parse("a\n").decide("b"),
            Decision {
                excluded: false,
                line: None
            }
        );
    }

    #[test]
    fn root_only_vs_any_depth() {
        let f = parse(".env*\n");
        assert!(f.excluded(".env.local"));
        assert!(!f.excluded("apps/api/.env"));
        let f = parse("**/.env*\n");
        assert!(f.excluded("apps/api/.env.production"));
    }
}
