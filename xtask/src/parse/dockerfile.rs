//! A Dockerfile parser that keeps line numbers: parser directives, instructions (with `\`
//! continuations, comment and blank lines inside them skipped as BuildKit does), flags,
//! exec (JSON) form, stages, and `ARG`-before-`FROM` default substitution.

/// One instruction, possibly spread over several physical lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// First physical line (1-based).
    pub line: usize,
    /// Upper-case keyword: `FROM`, `RUN`, ...
    pub keyword: String,
    /// Leading `--name[=value]` flags (FROM, RUN, COPY, ADD).
    pub flags: Vec<(String, String)>,
    /// The arguments after the flags, continuation lines joined.
    pub args: String,
    /// Exec form (`["node", "x.js"]`) when the arguments are a JSON array of strings.
    pub json: Option<Vec<String>>,
    /// The physical lines this instruction spans, with their numbers.
    pub physical: Vec<(usize, String)>,
}

impl Instruction {
    /// The first physical line that contains `needle`, else the instruction's first line.
    pub fn line_of(&self, needle: &str) -> usize {
        self.physical
            .iter()
            .find(|(_, t)| t.contains(needle))
            .map(|(n, _)| *n)
            .unwrap_or(self.line)
    }

    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Shell-form arguments split into words (quotes removed), or the exec-form array.
    pub fn words(&self) -> Vec<String> {
        match &self.json {
            Some(v) => v.clone(),
            None => super::words(&self.args),
        }
    }
}

/// A build stage: a `FROM` and the instructions up to the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// Line of the `FROM`.
    pub line: usize,
    /// The base as written, e.g. `${NODE_IMAGE}`.
    pub base_raw: String,
    /// The base after substituting the global `ARG` defaults.
    pub base: String,
    /// Global ARGs the base refers to, with the line that gave them their value.
    pub base_args: Vec<(String, usize)>,
    /// Variables the base refers to that have no value.
    pub unresolved: Vec<String>,
    /// Indices into [`Dockerfile::instructions`] of this stage's instructions (FROM excluded).
    pub body: std::ops::Range<usize>,
}

/// A global `ARG` (declared before the first `FROM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub name: String,
    pub default: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives at the top (`# syntax=...`, `# escape=...`): (key, value, line).
    pub directives: Vec<(String, String, usize)>,
    pub instructions: Vec<Instruction>,
    pub global_args: Vec<Arg>,
    pub stages: Vec<Stage>,
    /// Physical lines in the file.
    pub line_count: usize,
}

impl Dockerfile {
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    pub fn body<'a>(&'a self, stage: &Stage) -> &'a [Instruction] {
        &self.instructions[stage.body.clone()]
    }

    pub fn stage_named(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// The stage this one builds on (`FROM <stage name>`), if any.
    pub fn parent(&self, stage: &Stage) -> Option<&Stage> {
        self.stages[..stage.index].iter().rev().find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&stage.base))
        })
    }

    /// Is `image` the name of an earlier stage?
    pub fn is_stage_ref(&self, stage: &Stage) -> bool {
        self.parent(stage).is_some()
    }

    pub fn global_arg(&self, name: &str) -> Option<&Arg> {
        self.global_args.iter().rev().find(|a| a.name == name)
    }

    /// The value of `$VAR` inside `stage`: the last `ARG`/`ENV` default before instruction
    /// `before`, an `ARG NAME` without default inheriting the global default.
    pub fn stage_var(&self, stage: &Stage, before: usize, var: &str) -> Option<String> {
        for ins in self.instructions[stage.body.start..before.min(stage.body.end)]
            .iter()
            .rev()
        {
            if ins.keyword == "ARG" || ins.keyword == "ENV" {
                for (k, v) in key_values(&ins.keyword, &ins.args) {
                    if k == var {
                        return match v {
                            Some(v) => Some(v),
                            None => self.global_arg(var).and_then(|a| a.default.clone()),
                        };
                    }
                }
            }
        }
        None
    }
}

/// `ARG`/`ENV` arguments as (key, value): `K=V K2="v 2"`, `K`, or the legacy `ENV K value`.
pub fn key_values(keyword: &str, args: &str) -> Vec<(String, Option<String>)> {
    let ws = super::words(args);
    if keyword.eq_ignore_ascii_case("ENV") && ws.len() >= 2 && !ws[0].contains('=') {
        let t = args.trim_start();
        let rest = t[t.find(char::is_whitespace).unwrap_or(t.len())..].trim();
        return vec![(ws[0].clone(), Some(super::words(rest).join(" ")))];
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

/// Substitutes `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`.
/// Returns the text, the variables that had a value, and those that had none.
pub fn expand(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (String, Vec<String>, Vec<String>) {
    let mut out = String::new();
    let (mut used, mut missing) = (Vec::new(), Vec::new());
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < s.len() && b[i + 1] == b'$' {
            out.push('$');
            i += 2;
            continue;
        }
        if c != b'$' {
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let rest = &s[i + 1..];
        if let Some(inner) = rest.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                out.push_str(&s[i..]);
                break;
            };
            let expr = &inner[..end];
            let name_len = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_len);
            let val = lookup(name);
            let set_nonempty = val.as_deref().is_some_and(|v| !v.is_empty());
            let text = if let Some(w) = op.strip_prefix(":-") {
                if set_nonempty {
                    val.clone()
                } else {
                    Some(w.to_string())
                }
            } else if let Some(w) = op.strip_prefix('-') {
                val.clone().or_else(|| Some(w.to_string()))
            } else if let Some(w) = op.strip_prefix(":+") {
                Some(if set_nonempty {
                    w.to_string()
                } else {
                    String::new()
                })
            } else if let Some(w) = op.strip_prefix('+') {
                Some(if val.is_some() {
                    w.to_string()
                } else {
                    String::new()
                })
            } else {
                val.clone()
            };
            match text {
                Some(t) => {
                    if val.is_some() {
                        used.push(name.to_string());
                    }
                    out.push_str(&t);
                }
                None => missing.push(name.to_string()),
            }
            i += 1 + 1 + end + 1;
        } else {
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if name_len == 0 {
                out.push('$');
                i += 1;
                continue;
            }
            let name = &rest[..name_len];
            match lookup(name) {
                Some(v) => {
                    used.push(name.to_string());
                    out.push_str(&v);
                }
                None => missing.push(name.to_string()),
            }
            i += 1 + name_len;
        }
    }
    (out, used, missing)
}

/// Is this comment line a `# syntax=` line (a parser directive that pulls a frontend image)?
pub fn is_syntax_line(line: &str) -> bool {
    let t = line.trim_start();
    let Some(rest) = t.strip_prefix('#') else {
        return false;
    };
    let rest = rest.trim_start();
    rest.len() >= 6
        && rest[..6].eq_ignore_ascii_case("syntax")
        && rest[6..].trim_start().starts_with('=')
}

fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (k, v) = rest.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    matches!(k.as_str(), "syntax" | "escape" | "check").then(|| (k, v.trim().to_string()))
}

fn split_flags(keyword: &str, args: &str) -> (Vec<(String, String)>, String) {
    let mut flags = Vec::new();
    if !matches!(keyword, "FROM" | "RUN" | "COPY" | "ADD") {
        return (flags, args.to_string());
    }
    let mut rest = args.trim_start();
    while let Some(f) = rest.strip_prefix("--") {
        let end = f.find(char::is_whitespace).unwrap_or(f.len());
        let flag = &f[..end];
        let (k, v) = flag.split_once('=').unwrap_or((flag, ""));
        flags.push((k.to_string(), v.to_string()));
        rest = f[end..].trim_start();
    }
    (flags, rest.to_string())
}

fn finish(keyword_line: usize, text: &str, physical: Vec<(usize, String)>) -> Instruction {
    let text = text.trim();
    let (kw, args) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    };
    let keyword = kw.to_ascii_uppercase();
    let (flags, args) = split_flags(&keyword, args);
    let json = if args.trim_start().starts_with('[')
        && matches!(
            keyword.as_str(),
            "RUN" | "CMD" | "ENTRYPOINT" | "COPY" | "ADD" | "SHELL" | "VOLUME"
        ) {
        serde_json::from_str::<Vec<String>>(args.trim()).ok()
    } else {
        None
    };
    Instruction {
        line: keyword_line,
        keyword,
        flags,
        args,
        json,
        physical,
    }
}

/// An instruction being read: first line, joined text, physical lines.
type Pending = (usize, String, Vec<(usize, String)>);

pub fn parse(text: &str) -> Dockerfile {
    let lines: Vec<&str> = text.lines().collect();
    let mut df = Dockerfile {
        line_count: lines.len(),
        ..Dockerfile::default()
    };
    let mut escape = '\\';
    let mut i = 0;
    while i < lines.len() {
        let Some((k, v)) = directive(lines[i]) else {
            break;
        };
        if k == "escape" && (v == "`" || v == "\\") {
            escape = v.chars().next().unwrap_or('\\');
        }
        df.directives.push((k, v, i + 1));
        i += 1;
    }
    let mut cur: Option<Pending> = None;
    for (n, raw) in lines.iter().enumerate().skip(i) {
        let no = n + 1;
        let t = raw.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue; // comments and blank lines, also inside a continuation
        }
        let content = raw.trim_end();
        let (body, continues) = match content.strip_suffix(escape) {
            Some(b) => (b, true),
            None => (content, false),
        };
        let entry = cur.get_or_insert_with(|| (no, String::new(), Vec::new()));
        entry.1.push_str(if entry.2.is_empty() {
            body.trim_start()
        } else {
            body
        });
        entry.2.push((no, raw.to_string()));
        if !continues {
            if let Some((l, text, phys)) = cur.take() {
                df.instructions.push(finish(l, &text, phys));
            }
        }
    }
    if let Some((l, text, phys)) = cur.take() {
        df.instructions.push(finish(l, &text, phys));
    }
    // global ARGs and stages
    let first_from = df
        .instructions
        .iter()
        .position(|i| i.keyword == "FROM")
        .unwrap_or(df.instructions.len());
    for ins in &df.instructions[..first_from] {
        if ins.keyword == "ARG" {
            for (name, default) in key_values("ARG", &ins.args) {
                df.global_args.push(Arg {
                    name,
                    default,
                    line: ins.line,
                });
            }
        }
    }
    let froms: Vec<usize> = df
        .instructions
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "FROM")
        .map(|(n, _)| n)
        .collect();
    for (k, &at) in froms.iter().enumerate() {
        let ins = &df.instructions[at];
        let ws = super::words(&ins.args);
        let base_raw = ws.first().cloned().unwrap_or_default();
        let name = match (ws.get(1), ws.get(2)) {
            (Some(a), Some(n)) if a.eq_ignore_ascii_case("as") => Some(n.clone()),
            _ => None,
        };
        let args = &df.global_args;
        let lookup = |v: &str| {
            args.iter()
                .rev()
                .find(|a| a.name == v)
                .and_then(|a| a.default.clone())
        };
        let (base, used, unresolved) = expand(&base_raw, &lookup);
        let base_args = used
            .into_iter()
            .map(|u| {
                let line = args
                    .iter()
                    .rev()
                    .find(|a| a.name == u)
                    .map(|a| a.line)
                    .unwrap_or(ins.line);
                (u, line)
            })
            .collect();
        let end = froms.get(k + 1).copied().unwrap_or(df.instructions.len());
        df.stages.push(Stage {
            index: k,
            name,
            line: ins.line,
            base_raw,
            base,
            base_args,
            unresolved,
            body: at + 1..end,
        });
    }
    df
}

#[cfg(test)]
mod tests {
    use super::*;

    const DF: &str = "\
# syntax=docker/dockerfile:1
# a comment
ARG NODE_IMAGE=node:22-alpine
ARG OTHER

FROM ${NODE_IMAGE} AS base
ENV A=1 \\
    # a comment inside a continuation
    B=\"two words\"
RUN --mount=type=cache,target=/x \\
    echo hi
FROM base AS build
COPY --from=base /a ./b
FROM $NODE_IMAGE
ENV NODE_ENV production
CMD [\"node\", \"dist/main.js\"]
";

    #[test]
    fn instructions_with_lines_and_continuations() {
        let df = parse(DF);
        assert_eq!(
            df.directives,
            vec![("syntax".into(), "docker/dockerfile:1".into(), 1)]
        );
        let kws: Vec<(&str, usize)> = df
            .instructions
            .iter()
            .map(|i| (i.keyword.as_str(), i.line))
            .collect();
        assert_eq!(
            kws,
            vec![
                ("ARG", 3),
                ("ARG", 4),
                ("FROM", 6),
                ("ENV", 7),
                ("RUN", 10),
                ("FROM", 12),
                ("COPY", 13),
                ("FROM", 14),
                ("ENV", 15),
                ("CMD", 16)
            ]
        );
        let env = &df.instructions[3];
        assert_eq!(
            key_values("ENV", &env.args),
            vec![
                ("A".into(), Some("1".into())),
                ("B".into(), Some("two words".into()))
            ]
        );
        assert_eq!(env.line_of("B="), 9);
        let run = &df.instructions[4];
        assert_eq!(run.flag("mount"), Some("type=cache,target=/x"));
        assert_eq!(run.args.trim(), "echo hi");
        assert_eq!(
            df.instructions[9].json,
            Some(vec!["node".to_string(), "dist/main.js".to_string()])
        );
        assert_eq!(
            key_values("ENV", &df.instructions[8].args),
            vec![("NODE_ENV".into(), Some("production".into()))]
        );
    }

    #[test]
    fn stages_resolve_global_args() {
        let df = parse(DF);
        assert_eq!(df.stages.len(), 3);
        assert_eq!(df.stages[0].base, "node:22-alpine");
        assert_eq!(df.stages[0].base_args, vec![("NODE_IMAGE".to_string(), 3)]);
        assert_eq!(df.stages[0].name.as_deref(), Some("base"));
        assert!(df.is_stage_ref(&df.stages[1]));
        assert_eq!(df.stages[2].base, "node:22-alpine");
        assert_eq!(df.body(&df.stages[2]).len(), 2);
        assert!(is_syntax_line("#  SYNTAX = x"));
        assert!(!is_syntax_line("# the syntax of"));
    }

    #[test]
    fn expansion_forms() {
        let l = |v: &str| (v == "A").then(|| "a".to_string());
        assert_eq!(
            expand("${A}-$A-${B:-b}-${A:+y}-${B:+y}-\\$A", &l).0,
            "a-a-b-y--$A"
        );
        assert_eq!(expand("${B}", &l).2, vec!["B".to_string()]);
    }
}
