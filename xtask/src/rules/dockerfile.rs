//! Rules on `infra/api.Dockerfile`.

use super::{unpinned, Input, Out, Rule};
use crate::parse::dockerfile::{is_syntax_line, key_values, Dockerfile, Instruction, Stage};
use crate::stack::DOCKERFILE as F;

pub const RULES: &[Rule] = &[
    Rule {
        id: "dockerfile/multi-stage",
        file: F,
        rationale: "build in one stage, run in a fresh one: compilers, dev dependencies and sources stay out of the image",
        check: multi_stage,
    },
    Rule {
        id: "dockerfile/final-base",
        file: F,
        rationale: "the runtime stage starts FROM ${NODE_IMAGE} whose default is the configured node image, so build-image can swap the base",
        check: final_base,
    },
    Rule {
        id: "dockerfile/pnpm-pinned",
        file: F,
        rationale: "an unpinned pnpm floats to the newest release and is frozen into the layer cache; pin the packageManager version",
        check: pnpm_pinned,
    },
    Rule {
        id: "dockerfile/frozen-lockfile",
        file: F,
        rationale: "every pnpm install uses --frozen-lockfile: the image gets exactly the locked dependencies or the build fails",
        check: frozen_lockfile,
    },
    Rule {
        id: "dockerfile/isolated-install",
        file: F,
        rationale: "every pnpm install lays node_modules out isolated (--config.node-linker=isolated where the monorepo hoists): a hoisted install puts every project's dependencies in the image",
        check: isolated_install,
    },
    Rule {
        id: "dockerfile/non-root",
        file: F,
        rationale: "the final stage's last USER is not root, so a compromise of the API is not root in the container",
        check: non_root,
    },
    Rule {
        id: "dockerfile/expose-port",
        file: F,
        rationale: "the final stage EXPOSEs the port the API listens on (api.port), which compose and Caddy rely on",
        check: expose_port,
    },
    Rule {
        id: "dockerfile/runtime-env",
        file: F,
        rationale: "NODE_ENV=production and PORT=<api.port> are set in the final stage, whatever the deployment passes",
        check: runtime_env,
    },
    Rule {
        id: "dockerfile/cmd-exec-form",
        file: F,
        rationale: "CMD [\"node\", \"<entry>\"] in exec form: node is PID 1 and receives SIGTERM; no shell in between",
        check: cmd_exec_form,
    },
    Rule {
        id: "dockerfile/pinned-base",
        file: F,
        rationale: "every base image has a tag other than latest (or a digest): builds do not change under us",
        check: pinned_base,
    },
    Rule {
        id: "dockerfile/no-syntax-directive",
        file: F,
        rationale: "a `# syntax=` line makes BuildKit pull a frontend image, which fails without a registry (Docker 20.10)",
        check: no_syntax_directive,
    },
    Rule {
        id: "dockerfile/min-lines",
        file: F,
        rationale: "at least 20 instruction lines: a shorter file cannot hold the layered multi-stage plan",
        check: min_lines,
    },
];

/// Least number of instruction lines (comments and blank lines excluded).
pub const MIN_LINES: usize = 20;

fn multi_stage(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    if df.stages.len() < 2 {
        let line = df.stages.first().map(|s| s.line).unwrap_or(1);
        o.at(
            F,
            line,
            format!(
                "{} stage(s): build in a `build` stage and COPY --from it into a fresh runtime stage",
                df.stages.len()
            ),
        );
    }
}

/// The line to blame for a stage's base: the ARG that gave the value, else the FROM.
fn base_line(s: &Stage) -> usize {
    s.base_args.first().map(|(_, l)| *l).unwrap_or(s.line)
}

fn final_base(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let Some(last) = df.final_stage() else { return };
    let want = &i.model.config.node.image;
    if let Some(parent) = df.parent(last) {
        o.at(
            F,
            last.line,
            format!(
                "the final stage builds FROM stage `{}`, carrying its build tools and sources; start it FROM ${{NODE_IMAGE}} and COPY --from what runs",
                parent.name.as_deref().unwrap_or("?")
            ),
        );
        return;
    }
    if !last.base_args.iter().any(|(a, _)| a == "NODE_IMAGE")
        && !last.unresolved.iter().any(|a| a == "NODE_IMAGE")
    {
        o.at(
            F,
            last.line,
            format!(
                "the final stage is FROM `{}`; write `FROM ${{NODE_IMAGE}}` with `ARG NODE_IMAGE={want}` before the first FROM, so build-image can substitute the base",
                last.base_raw
            ),
        );
        return;
    }
    if last.base != *want {
        let shown = if last.base.is_empty() {
            "(no default)".to_string()
        } else {
            format!("`{}`", last.base)
        };
        o.at(
            F,
            base_line(last),
            format!("the final base is {shown}, but the configured node image is `{want}` (node.image in infra/stack.toml)"),
        );
    }
}

fn runs(df: &Dockerfile) -> impl Iterator<Item = &Instruction> {
    df.instructions.iter().filter(|i| i.keyword == "RUN")
}

/// Shell command segments (split on `&&`, `||`, `;`, `|`) of a RUN, as words.
fn segments(ins: &Instruction) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for w in ins.words() {
        if matches!(w.as_str(), "&&" | "||" | ";" | "|") {
            out.push(Vec::new());
        } else if let Some(stripped) = w.strip_suffix(';') {
            if let Some(last) = out.last_mut() {
                last.push(stripped.to_string());
            }
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(w);
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Is this segment a `pnpm install` (`pnpm i`, `pnpm --filter x install`)?
fn is_pnpm_install(seg: &[String]) -> bool {
    let Some(p) = seg.iter().position(|w| w == "pnpm") else {
        return false;
    };
    let rest = &seg[p + 1..];
    // the first word that is not a flag or a flag's value
    let mut k = 0;
    while k < rest.len() {
        let w = &rest[k];
        if w.starts_with('-') {
            let takes_value = matches!(
                w.as_str(),
                "--filter" | "-F" | "--dir" | "-C" | "--store-dir"
            );
            k += if takes_value { 2 } else { 1 };
            continue;
        }
        return w == "install" || w == "i";
    }
    false
}

/// Does this RUN run `pnpm install`?
pub fn runs_pnpm_install(ins: &Instruction) -> bool {
    segments(ins).iter().any(|s| is_pnpm_install(s))
}

fn pnpm_pinned(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let want = &i.model.stack.image.pnpm_version;
    let mut pins = 0;
    for ins in runs(df) {
        for w in ins.words() {
            let Some(v) = w.strip_prefix("pnpm@") else {
                continue;
            };
            pins += 1;
            let line = ins.line_of(&format!("pnpm@{v}"));
            let core = v.split('+').next().unwrap_or(v);
            if !crate::config::is_exact_version(core) {
                o.at(F, line, format!("pnpm@{v} is not an exact version; pin pnpm@{want} (the root package.json's packageManager)"));
            } else if core != want {
                o.at(F, line, format!("pnpm@{core} differs from the monorepo's pnpm {want} (packageManager in package.json, else node.pnpm)"));
            }
        }
    }
    if pins == 0 {
        let line = runs(df)
            .find(|r| r.args.contains("pnpm") || r.args.contains("corepack"))
            .map(|r| r.line_of("pnpm"))
            .unwrap_or(1);
        o.at(
            F,
            line,
            format!("pnpm is not pinned; add `corepack prepare pnpm@{want} --activate`"),
        );
    }
}

fn frozen_lockfile(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let mut installs = 0;
    for ins in runs(df) {
        for seg in segments(ins) {
            if !is_pnpm_install(&seg) {
                continue;
            }
            installs += 1;
            // the last of the flags wins, as in pnpm's argument parser
            let frozen = seg.iter().rev().find_map(|w| match w.as_str() {
                "--frozen-lockfile" | "--frozen-lockfile=true" => Some(true),
                "--no-frozen-lockfile" | "--frozen-lockfile=false" => Some(false),
                _ => None,
            });
            if frozen != Some(true) {
                o.at(
                    F,
                    ins.line_of("install"),
                    "`pnpm install` without --frozen-lockfile may resolve versions other than pnpm-lock.yaml's; add --frozen-lockfile",
                );
            }
        }
    }
    if installs == 0 {
        o.at(
            F,
            1,
            "no `pnpm install --frozen-lockfile`: the image must install the locked dependencies",
        );
    }
}

/// The `node-linker` an install's flags set (the last wins), if any.
fn linker_flag(seg: &[String]) -> Option<&str> {
    seg.iter().rev().find_map(|w| {
        w.strip_prefix("--config.node-linker=")
            .or_else(|| w.strip_prefix("--node-linker="))
    })
}

fn isolated_install(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    if i.model.config.api.hoist {
        return;
    }
    let repo = i.model.workspace.pnpm_settings.hoisting();
    for ins in runs(df) {
        for seg in segments(ins) {
            if !is_pnpm_install(&seg) {
                continue;
            }
            let msg = match (linker_flag(&seg), &repo) {
                (Some("isolated"), _) => continue,
                (Some(other), _) => format!(
                    "this install passes node-linker={other}: pnpm lays out every project's dependencies \
                     (other apps' included) whatever --filter says; pass {} (`cargo xtask gen` writes it), or set \
                     `api.hoist = true` if the API needs a hoisted layout",
                    crate::stack::ISOLATED_FLAG
                ),
                (None, Some(setting)) => format!(
                    "the monorepo sets {setting} and this install does not pass {}: pnpm would lay out every \
                     project's dependencies (other apps' included) in the image; run `cargo xtask gen`, or set \
                     `api.hoist = true` if the API needs the hoisted layout",
                    crate::stack::ISOLATED_FLAG
                ),
                (None, None) => continue,
            };
            let line = if linker_flag(&seg).is_some() {
                ins.line_of("node-linker")
            } else {
                ins.line_of("install")
            };
            o.at(F, line, msg);
        }
    }
}

fn non_root(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let Some(last) = df.final_stage() else { return };
    let Some(user) = df.body(last).iter().rev().find(|i| i.keyword == "USER") else {
        o.at(F, last.line, "the final stage sets no USER, so the API runs as root; add `USER 1001:1001` after creating the user");
        return;
    };
    let spec = user.args.trim();
    let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
    if u.is_empty() || u == "root" || u == "0" {
        o.at(
            F,
            user.line,
            format!(
                "`USER {spec}` runs the API as root; use a non-root user such as `USER 1001:1001`"
            ),
        );
    } else if g == "0" || g == "root" {
        o.at(F, user.line, format!("`USER {spec}` runs the API in the root group; use a non-root group such as `USER 1001:1001`"));
    } else if u.contains('$') {
        o.at(F, user.line, format!("`USER {spec}` cannot be checked; name the non-root user literally (e.g. `USER 1001:1001`)"));
    }
}

fn expose_port(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let Some(last) = df.final_stage() else { return };
    let port = i.model.config.api.port;
    let exposes: Vec<&Instruction> = df
        .body(last)
        .iter()
        .filter(|i| i.keyword == "EXPOSE")
        .collect();
    let Some(at) = exposes.last() else {
        o.at(
            F,
            last.line,
            format!("the final stage has no `EXPOSE {port}` (api.port)"),
        );
        return;
    };
    if !exposed_ports(df).contains(&port) {
        o.at(
            F,
            at.line,
            format!(
                "EXPOSE {}, but the API listens on {port} (api.port); write `EXPOSE {port}`",
                at.args.trim()
            ),
        );
    }
}

/// The TCP ports the final stage EXPOSEs.
pub fn exposed_ports(df: &Dockerfile) -> Vec<u16> {
    let Some(last) = df.final_stage() else {
        return Vec::new();
    };
    df.body(last)
        .iter()
        .filter(|i| i.keyword == "EXPOSE")
        .flat_map(|i| i.words())
        .filter(|w| !w.ends_with("/udp"))
        .filter_map(|w| w.trim_end_matches("/tcp").parse().ok())
        .collect()
}

/// The physical line of an instruction where `key` is set.
fn key_line(ins: &Instruction, key: &str) -> usize {
    for (k, (n, text)) in ins.physical.iter().enumerate() {
        let t = if k == 0 {
            text.trim_start().get(ins.keyword.len()..).unwrap_or("")
        } else {
            text.as_str()
        };
        if crate::parse::words(t)
            .iter()
            .any(|w| w == key || w.starts_with(&format!("{key}=")))
        {
            return *n;
        }
    }
    ins.line
}

fn runtime_env(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let Some(last) = df.final_stage() else { return };
    let port = i.model.config.api.port.to_string();
    for (key, want) in [("NODE_ENV", "production"), ("PORT", port.as_str())] {
        let mut found: Option<(String, usize)> = None;
        for ins in df.body(last).iter().filter(|i| i.keyword == "ENV") {
            for (k, v) in key_values("ENV", &ins.args) {
                if k == key {
                    found = Some((v.unwrap_or_default(), key_line(ins, key)));
                }
            }
        }
        match found {
            None => o.at(
                F,
                last.line,
                format!("the final stage does not set {key}; add `ENV {key}={want}`"),
            ),
            Some((v, line)) if v != want => o.at(
                F,
                line,
                format!("{key}={v}, but it must be {want}; write `ENV {key}={want}`"),
            ),
            _ => {}
        }
    }
}

fn cmd_exec_form(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let Some(last) = df.final_stage() else { return };
    let entry = &i.model.config.api.entry;
    let want = format!("CMD [\"node\", \"{entry}\"]");
    let body = df.body(last);
    if let Some(ep) = body.iter().rev().find(|i| i.keyword == "ENTRYPOINT") {
        o.at(
            F,
            ep.line,
            format!("ENTRYPOINT wraps the CMD; remove it and use {want}"),
        );
    }
    let Some(cmd) = body.iter().rev().find(|i| i.keyword == "CMD") else {
        o.at(
            F,
            last.line,
            format!("the final stage has no CMD; add {want}"),
        );
        return;
    };
    match &cmd.json {
        None => o.at(
            F,
            cmd.line,
            format!("CMD in shell form runs node under /bin/sh, which does not forward SIGTERM; use the exec form {want}"),
        ),
        Some(v) if v.len() != 2 || v[0] != "node" || v[1] != *entry => {
            o.at(F, cmd.line, format!("CMD {v:?} does not start the configured entry (api.entry); use {want}"))
        }
        _ => {}
    }
}

fn pinned_base(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    for s in &df.stages {
        if df.is_stage_ref(s) {
            continue;
        }
        if !s.unresolved.is_empty() {
            o.at(
                F,
                s.line,
                format!("the base `{}` uses ARG {} which has no default before the first FROM; give it a pinned default", s.base_raw, s.unresolved.join(", ")),
            );
            continue;
        }
        if let Some(why) = unpinned(&s.base) {
            o.at(
                F,
                base_line(s),
                format!("{why}; pin a tag (e.g. node:22-alpine) or a digest"),
            );
        }
    }
}

fn no_syntax_directive(i: &Input, o: &mut Out) {
    let Some(text) = &i.dockerfile_text else {
        return;
    };
    for (n, l) in text.lines().enumerate() {
        if is_syntax_line(l) {
            o.at(F, n + 1, "remove the `# syntax=` line: it pulls a frontend image, which fails without a registry");
        }
    }
}

fn min_lines(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let n: usize = df.instructions.iter().map(|i| i.physical.len()).sum();
    if n < MIN_LINES {
        o.at(F, 1, format!("only {n} instruction line(s); a complete multi-stage build needs at least {MIN_LINES}"));
    }
}
