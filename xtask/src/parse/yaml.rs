//! Line numbers for block YAML. `serde_yaml` gives values but no positions; this finds the
//! line of a key path such as `services.api.ports[0]` by indentation, which is enough for
//! the block style compose files are written in. Flow collections (`[a, b]`, `{}`) are
//! located at the line of the key that holds them.

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `services.api.ports[0]` → `[Key(services), Key(api), Key(ports), Index(0)]`.
/// Keys containing dots can be built with [`Seg::Key`] directly.
pub fn path(p: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in p.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key.to_string()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            if let Ok(n) = r[..end].parse() {
                out.push(Seg::Index(n));
            }
            rest = r.get(end + 1..).unwrap_or("");
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Entry<'a> {
    line: usize,
    indent: usize,
    /// `-` for a sequence item marker, else the line's content from the indent on.
    text: &'a str,
}

/// Content lines, with `- x` split into a `-` entry and an entry for `x` two columns in.
fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let t = raw.trim_start();
        if t.is_empty() || t.starts_with('#') || t == "---" || t == "..." {
            continue;
        }
        let mut indent = raw.len() - t.len();
        let mut t = t;
        while t == "-" || t.starts_with("- ") {
            out.push(Entry {
                line: n + 1,
                indent,
                text: "-",
            });
            let after = &t[1..];
            let rest = after.trim_start();
            indent += 1 + (after.len() - rest.len());
            t = rest;
            if t.is_empty() {
                break;
            }
        }
        if !t.is_empty() {
            out.push(Entry {
                line: n + 1,
                indent,
                text: t,
            });
        }
    }
    out
}

fn key_of(text: &str) -> Option<String> {
    let (k, rest) = if let Some(r) = text.strip_prefix('"') {
        let end = r.find('"')?;
        (r[..end].to_string(), &r[end + 1..])
    } else if let Some(r) = text.strip_prefix('\'') {
        let end = r.find('\'')?;
        (r[..end].to_string(), &r[end + 1..])
    } else {
        let i = text
            .find(": ")
            .or_else(|| text.strip_suffix(':').map(|s| s.len()))?;
        (text[..i].trim_end().to_string(), &text[i..])
    };
    let rest = rest.trim_start();
    (rest == ":" || rest.starts_with(": ") || rest.starts_with(":\t")).then_some(k)
}

/// The 1-based line of the deepest part of `path` found in `text`; `None` if not even
/// the first segment is found. For many lookups in one text, parse it once with [`Lines`].
pub fn line_of(text: &str, path: &[Seg]) -> Option<usize> {
    Lines::new(text).line_of(path)
}

/// One entry, owned: its line, indent, whether it is a `-` marker, and its key if any.
#[derive(Debug, Clone)]
struct Owned {
    line: usize,
    indent: usize,
    dash: bool,
    key: Option<String>,
}

/// The children of one block: the first entry of each key, the `-` items in order.
#[derive(Debug, Default)]
struct Block {
    keys: std::collections::HashMap<String, usize>,
    items: Vec<usize>,
}

/// The lines of one YAML text, parsed once. A lookup costs the depth of its path (each
/// block's children are indexed the first time a lookup enters it), not the size of the
/// text: a rule asking the line of each of 30,000 keys stays linear.
#[derive(Debug)]
pub struct Lines {
    es: Vec<Owned>,
    /// Each entry's block end, computed once (see [`Lines::block_end`]).
    ends: Vec<std::sync::OnceLock<usize>>,
    /// Indexed blocks by (first entry, end).
    blocks: std::sync::Mutex<std::collections::HashMap<(usize, usize), Block>>,
}

impl Lines {
    pub fn new(text: &str) -> Lines {
        let es = entries(text)
            .into_iter()
            .map(|e| Owned {
                line: e.line,
                indent: e.indent,
                dash: e.text == "-",
                key: key_of(e.text),
            })
            .collect();
        let es: Vec<Owned> = es;
        Lines {
            ends: (0..es.len()).map(|_| std::sync::OnceLock::new()).collect(),
            es,
            blocks: Default::default(),
        }
    }

    /// The end (exclusive) of the block that belongs to entry `i`, computed once.
    fn block_end(&self, i: usize) -> usize {
        *self.ends[i].get_or_init(|| self.find_block_end(i))
    }

    fn find_block_end(&self, i: usize) -> usize {
        let es = &self.es;
        let ind = es[i].indent;
        let mut j = i + 1;
        // a compact sequence under a key may sit at the key's own indent
        let compact = !es[i].dash && es.get(j).is_some_and(|e| e.indent == ind && e.dash);
        while j < es.len() {
            let e = &es[j];
            if e.indent > ind || (compact && e.indent == ind && e.dash) || e.line == es[i].line {
                j += 1;
                continue;
            }
            break;
        }
        j
    }

    /// The entry `seg` names among the children of block `lo..hi`.
    fn child(&self, lo: usize, hi: usize, seg: &Seg) -> Option<usize> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let b = blocks.entry((lo, hi)).or_insert_with(|| {
            let child = self.es[lo].indent;
            let mut b = Block::default();
            for i in lo..hi {
                let e = &self.es[i];
                if e.indent != child {
                    continue;
                }
                if e.dash {
                    b.items.push(i);
                } else if let Some(k) = &e.key {
                    b.keys.entry(k.clone()).or_insert(i);
                }
            }
            b
        });
        match seg {
            Seg::Key(k) => b.keys.get(k).copied(),
            Seg::Index(n) => b.items.get(*n).copied(),
        }
    }

    /// The 1-based line of the deepest part of `path`; `None` if not even the first
    /// segment is found.
    pub fn line_of(&self, path: &[Seg]) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.es.len());
        let mut found: Option<usize> = None;
        for seg in path {
            if lo >= hi {
                break;
            }
            let Some(i) = self.child(lo, hi, seg) else {
                break;
            };
            found = Some(self.es[i].line);
            lo = i + 1;
            hi = self.block_end(i).min(hi);
        }
        found
    }
}

/// [`line_of`] with a dotted path, falling back to line 1.
pub fn line(text: &str, dotted: &str) -> usize {
    line_of(text, &path(dotted)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Y: &str = "\
# comment
name: x
services:
  api:
    image: \"a:1\"
    ports:
      - \"127.0.0.1:3000:3000\"
      - \"80:80\"
    environment:
      A: b
    volumes:
      - type: bind
        source: ./x
        target: /y
  db:
    ports:
    - \"1:1\"
    - \"2:2\"
    test: [\"CMD\", \"x\"]
volumes:
  data: {}
";

    #[test]
    fn finds_keys_and_items_by_indentation() {
        assert_eq!(line(Y, "name"), 2);
        assert_eq!(line(Y, "services.api.image"), 5);
        assert_eq!(line(Y, "services.api.ports[0]"), 7);
        assert_eq!(line(Y, "services.api.ports[1]"), 8);
        assert_eq!(line(Y, "services.api.environment.A"), 10);
        assert_eq!(line(Y, "services.api.volumes[0].source"), 13);
        assert_eq!(line(Y, "services.api.volumes[0].type"), 12);
        assert_eq!(line(Y, "services.db.ports[1]"), 18);
        assert_eq!(line(Y, "services.db.test[1]"), 19);
        assert_eq!(line(Y, "volumes.data"), 21);
        // deepest found part
        assert_eq!(line(Y, "services.db.nope"), 15);
        assert_eq!(line_of(Y, &path("nope")), None);
    }

    #[test]
    fn paths() {
        assert_eq!(
            path("a.b[2]"),
            vec![Seg::Key("a".into()), Seg::Key("b".into()), Seg::Index(2)]
        );
    }
}
