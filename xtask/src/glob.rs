//! Path globs as pnpm workspaces and Docker ignore files write them.
//!
//! `*` and `?` stay inside one path segment, `**` spans any number of segments,
//! `[abc]`, `[a-z]` and `[^a]` match one character. Paths use `/`.

/// Does `pattern` match the whole of `path`?
pub fn matches(pattern: &str, path: &str) -> bool {
    match_segments(&segments(pattern), &segments(path))
}

/// A pattern or path split into its segments (empty and `.` segments dropped), to match
/// many times with [`match_segments`] without splitting again.
pub fn segments(s: &str) -> Vec<&str> {
    s.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect()
}

/// [`matches`] on pre-split segments.
pub fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| match_segments(rest, &segs[i..])),
        Some((p, rest)) => match segs.split_first() {
            Some((s, srest)) => {
                match_segment(p.as_bytes(), s.as_bytes()) && match_segments(rest, srest)
            }
            None => false,
        },
    }
}

fn match_segment(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| match_segment(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && match_segment(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(close) = p.iter().skip(1).position(|&c| c == b']').map(|i| i + 1) else {
                return s.first() == Some(&b'[') && match_segment(&p[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let mut class = &p[1..close];
            let negate = matches!(class.first(), Some(b'^') | Some(b'!'));
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && match_segment(&p[close + 1..], &s[1..])
        }
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && match_segment(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && match_segment(&p[1..], &s[1..]),
    }
}

/// `a/./b/../c` → `a/c`; `None` when the path climbs above where it starts.
pub fn normalize(p: &str) -> Option<String> {
    resolve(p, false)
}

/// Like [`normalize`], but a climb above the start stays at the start, as Docker resolves
/// COPY sources inside the build context.
pub fn clean(p: &str) -> String {
    resolve(p, true).unwrap_or_default()
}

fn resolve(p: &str, clamp: bool) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for s in p.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() && !clamp {
                    return None;
                }
            }
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

/// Does the pattern contain glob syntax at all?
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn segments_and_double_star() {
        assert!(matches("apps/*", "apps/api"));
        assert!(!matches("apps/*", "apps/api/src"));
        assert!(matches("packages/**", "packages/a/b"));
        assert!(matches("**/node_modules", "node_modules"));
        assert!(matches("**/node_modules", "apps/api/node_modules"));
        assert!(matches("**/.env*", "apps/api/.env.local"));
        assert!(matches("**/.env*", ".env"));
        assert!(!matches(".env*", "apps/api/.env"));
        assert!(matches("a/**/b", "a/b"));
        assert!(matches("a/**/b", "a/x/y/b"));
    }

    #[test]
    fn paths_are_normalized_or_clamped() {
        assert_eq!(
            super::normalize("apps/api/../../tsconfig.json").as_deref(),
            Some("tsconfig.json")
        );
        assert_eq!(super::normalize("../x"), None);
        assert_eq!(super::clean("../x/./y/"), "x/y");
    }

    #[test]
    fn classes_and_question_mark() {
        assert!(matches("v[0-9].txt", "v7.txt"));
        assert!(!matches("v[^0-9].txt", "v7.txt"));
        assert!(matches("?.md", "a.md"));
        assert!(!matches("?.md", "ab.md"));
    }
}
