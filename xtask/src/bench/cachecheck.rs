//! Was a rebuild really warm? Steps that read nothing from the build context (the base
//! stage's setup, the runtime stage's user creation) can only re-run when the engine's
//! build cache lost them — on a shared engine, someone else pruned it mid-run. Pure.

use std::collections::BTreeSet;

use crate::buildlog::Step;
use crate::parse::dockerfile::{Dockerfile, Instruction};

/// BuildKit's label of a stage in plain progress: its name, else `stage-<index>`.
fn label(df: &Dockerfile, i: usize) -> String {
    df.stages[i]
        .name
        .clone()
        .unwrap_or_else(|| format!("stage-{i}"))
}

/// `[base 2/3] RUN x` → `("base", 2)`. BuildKit numbers only the instructions that make a
/// step ([`makes_step`]), and counts the FROM as position 1 when it names an image, not when
/// it names an earlier stage.
pub fn step_pos(name: &str) -> Option<(String, usize)> {
    let rest = name.strip_prefix('[')?;
    let (lab, _) = rest.split_once("] ")?;
    let (stage, frac) = lab.rsplit_once(' ')?;
    let (k, _) = frac.split_once('/')?;
    Some((stage.to_string(), k.parse().ok()?))
}

/// Does this instruction make a BuildKit step (ENV, ARG, USER, CMD... only change metadata)?
pub fn makes_step(ins: &Instruction) -> bool {
    matches!(ins.keyword.as_str(), "RUN" | "COPY" | "ADD" | "WORKDIR")
}

fn reads_context(ins: &Instruction, dependent: &BTreeSet<String>) -> bool {
    match ins.keyword.as_str() {
        "COPY" | "ADD" => match ins.flag("from") {
            None => true,
            Some(f) => dependent.contains(&f.to_ascii_lowercase()),
        },
        "RUN" => ins.flags.iter().any(|(k, v)| {
            k == "mount"
                && v.contains("type=bind")
                && v.split(',')
                    .find_map(|o| o.strip_prefix("from="))
                    .is_none_or(|f| dependent.contains(&f.to_ascii_lowercase()))
        }),
        _ => false,
    }
}

/// `(stage label, position)` of every instruction that depends on no file of the context.
pub fn context_free(df: &Dockerfile) -> BTreeSet<(String, usize)> {
    let mut free = BTreeSet::new();
    // stages (lower-case labels) whose result depends on the context
    let mut dependent: BTreeSet<String> = BTreeSet::new();
    for (i, s) in df.stages.iter().enumerate() {
        let lab = label(df, i);
        let parent = df.parent(s);
        let mut dep =
            parent.is_some_and(|p| dependent.contains(&label(df, p.index).to_ascii_lowercase()));
        let first = if parent.is_some() { 1 } else { 2 };
        for (k, ins) in df.body(s).iter().filter(|i| makes_step(i)).enumerate() {
            dep = dep || reads_context(ins, &dependent);
            if !dep {
                free.insert((lab.clone(), k + first));
            }
        }
        if dep {
            dependent.insert(lab.to_ascii_lowercase());
        }
    }
    free
}

/// The steps of a rebuild that ran although they read nothing from the context.
pub fn ran_without_cause<'a>(df: &Dockerfile, ran: &[&'a Step]) -> Vec<&'a Step> {
    let free = context_free(df);
    ran.iter()
        .copied()
        .filter(|s| step_pos(&s.name).is_some_and(|p| free.contains(&p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::dockerfile;

    const DF: &str = "\
ARG NODE_IMAGE=n
FROM ${NODE_IMAGE} AS base
ENV A=1
ARG B
RUN corepack enable
WORKDIR /app
FROM base AS tools
RUN echo tools
FROM base AS manifests
COPY package.json ./
FROM manifests AS deps
RUN pnpm install
FROM ${NODE_IMAGE} AS runtime
RUN addgroup x
WORKDIR /app
COPY --from=deps /app ./
USER 1
FROM n
RUN --mount=type=bind,target=/s true
FROM n AS build
ARG API=x
ARG API_DIR=y
RUN corepack enable
WORKDIR /app
COPY . .
RUN pnpm install
";

    #[test]
    fn steps_that_read_no_context() {
        let df = dockerfile::parse(DF);
        let free = context_free(&df);
        let want: BTreeSet<(String, usize)> = [
            ("base", 2),
            ("base", 3),
            ("tools", 1),
            ("build", 2),
            ("build", 3),
            ("runtime", 2),
            ("runtime", 3),
        ]
        .iter()
        .map(|(s, k)| (s.to_string(), *k))
        .collect();
        assert_eq!(free, want);
        // ENV and ARG make no step: `COPY . .` is step 4 of `build`, and reads the context
        assert!(!free.contains(&("build".to_string(), 4)));
        assert_eq!(
            step_pos("[base 2/3] RUN corepack enable"),
            Some(("base".into(), 2))
        );
        assert_eq!(step_pos("[stage-5 2/2] RUN x"), Some(("stage-5".into(), 2)));
        assert_eq!(step_pos("[internal] load build context"), None);
        let step = |n: &str| Step {
            name: n.into(),
            done: true,
            ..Step::default()
        };
        let a = step("[base 2/3] RUN corepack enable");
        let b = step("[deps 1/1] RUN pnpm install");
        let c = step("[runtime 4/5] COPY --from=deps /app ./");
        let odd: Vec<&str> = ran_without_cause(&df, &[&a, &b, &c])
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(odd, vec!["[base 2/3] RUN corepack enable"]);
    }
}
