//! Rules on `.github/workflows/staging-infra.yml` (the security linters zizmor and
//! actionlint run in verify's `workflow` stage; these are what they do not know).

use super::{Input, Out, Rule};
use crate::parse::yaml::{line_of, Seg};
use crate::stack::WORKFLOW as F;

pub const RULES: &[Rule] = &[
    Rule {
        id: "workflow/gha-cache-runtime",
        file: F,
        rationale: "buildx's gha cache needs ACTIONS_RUNTIME_TOKEN, which GitHub gives only to actions: a `run:` step using it must follow a step exposing the runtime (crazy-max/ghaction-github-runtime), else the cache silently never engages",
        check: gha_cache_runtime,
    },
    Rule {
        id: "workflow/pinned-actions",
        file: F,
        rationale: "every `uses:` names a full commit hash: a tag or branch can be moved to other code after review",
        check: pinned_actions,
    },
];

/// The action that exports the Actions runtime (token, cache URLs) to later steps.
pub const RUNTIME_ACTION: &str = "crazy-max/ghaction-github-runtime@";

/// Does a `run:` script ask buildx for the gha cache (directly or through build-image)?
pub fn uses_gha_cache(script: &str) -> bool {
    let words: Vec<&str> = script.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        let w = w.trim_matches(['"', '\'']);
        w.contains("type=gha")
            || w == "--cache=gha"
            || (w == "--cache"
                && words
                    .get(i + 1)
                    .is_some_and(|n| n.trim_matches(['"', '\'']) == "gha"))
    })
}

/// (job id, step index, step) of every step of every job, in file order.
fn steps(v: &serde_yaml::Value) -> Vec<(String, usize, &serde_yaml::Value)> {
    let mut out = Vec::new();
    let Some(jobs) = v.get("jobs").and_then(|j| j.as_mapping()) else {
        return out;
    };
    for (id, job) in jobs {
        let Some(id) = id.as_str() else { continue };
        let Some(list) = job.get("steps").and_then(|s| s.as_sequence()) else {
            continue;
        };
        for (i, st) in list.iter().enumerate() {
            out.push((id.to_string(), i, st));
        }
    }
    out
}

fn step_line(text: &str, job: &str, i: usize, key: &str) -> usize {
    line_of(
        text,
        &[
            Seg::Key("jobs".into()),
            Seg::Key(job.into()),
            Seg::Key("steps".into()),
            Seg::Index(i),
            Seg::Key(key.into()),
        ],
    )
    .unwrap_or(1)
}

fn parsed<'a>(i: &'a Input) -> Option<(&'a str, serde_yaml::Value)> {
    let text = i.workflow.as_deref()?;
    let v = serde_yaml::from_str(text).ok()?;
    Some((text, v))
}

fn gha_cache_runtime(i: &Input, o: &mut Out) {
    let Some((text, v)) = parsed(i) else { return };
    let (mut cur, mut exposed) = (String::new(), false);
    for (job, n, st) in steps(&v) {
        if job != cur {
            cur = job.clone();
            exposed = false;
        }
        if st
            .get("uses")
            .and_then(|u| u.as_str())
            .is_some_and(|u| u.starts_with(RUNTIME_ACTION))
        {
            exposed = true;
        }
        let Some(script) = st.get("run").and_then(|r| r.as_str()) else {
            continue;
        };
        let token_in_env = st
            .get("env")
            .and_then(|e| e.get("ACTIONS_RUNTIME_TOKEN"))
            .is_some();
        if uses_gha_cache(script) && !exposed && !token_in_env {
            o.at(
                F,
                step_line(text, &job, n, "run"),
                format!(
                    "job `{job}` step {} uses the gha build cache in a `run:` step, but no earlier step of the job \
                     exposes the Actions runtime: buildx gets no ACTIONS_RUNTIME_TOKEN and the cache never engages. \
                     Use `[ci] cache = \"registry\"` (the default), or `cache = \"gha\"`, which renders {RUNTIME_ACTION}… first",
                    n + 1
                ),
            );
        }
    }
}

fn pinned_actions(i: &Input, o: &mut Out) {
    let Some((text, v)) = parsed(i) else { return };
    for (job, n, st) in steps(&v) {
        let Some(uses) = st.get("uses").and_then(|u| u.as_str()) else {
            continue;
        };
        if uses.starts_with("./") || uses.starts_with("docker://") {
            continue;
        }
        let pinned = uses
            .rsplit_once('@')
            .is_some_and(|(_, r)| r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()));
        if !pinned {
            o.at(
                F,
                step_line(text, &job, n, "uses"),
                format!(
                    "`uses: {uses}` is not pinned by a full commit hash; pins live in [actions] of infra/stack.toml \
                     (`cargo xtask config set actions.<key> \"<sha> # <tag>\"`)"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gha_cache_words() {
        assert!(uses_gha_cache("cargo xtask build-image --cache gha"));
        assert!(uses_gha_cache("x --cache \"gha\""));
        assert!(uses_gha_cache(
            "x --cache-from type=gha --cache-to type=gha,mode=max"
        ));
        assert!(uses_gha_cache("x --cache=gha"));
        assert!(!uses_gha_cache("x --cache registry"));
        assert!(!uses_gha_cache("echo ghastly"));
    }
}
