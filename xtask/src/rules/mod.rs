//! Rules: the files ON DISK (so hand edits are caught) plus the derived model → findings
//! at file:line with a rule id. Pure: no programs, no network; the only file-system access
//! is reading what a rule is about (e.g. does a COPY source exist).
//!
//! Each rule is a small function with an id and a one-line rationale, registered in
//! [`registry`]. Cross-file rules live in [`cross`]. Waivers from the config
//! ([`crate::config::Waiver`]) are applied by [`apply_waivers`].

pub mod caddy;
pub mod compose;
pub mod context;
pub mod cross;
pub mod dockerfile;
pub mod edge;
pub mod env;
pub mod external;
pub mod fixtures;
pub mod ignore;
pub mod ops;
pub mod shape;
pub mod workflow;

#[cfg(test)]
mod linear;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::Waiver;
use crate::context::Model;
use crate::generated::read_optional;
use crate::parse;
use crate::stack;

/// One problem, at a line of a file (1-based; 1 when the file as a whole is at fault).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub rule: &'static str,
    /// Relative to the monorepo root, `/`-separated.
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// How much a finding weighs: an error fails verify; a warning is reported (text, JSON,
/// annotations, SARIF) but does not fail verify on its own. Waivable like any finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// The rules whose findings are warnings; every other rule's are errors.
const WARNING_RULES: &[&str] = &["caddy/wildcard-site", crate::image_size::RULE_WARN];

/// The severity of a rule's findings (error unless the rule is a warning rule).
pub fn severity(rule: &str) -> Severity {
    if WARNING_RULES.contains(&rule) {
        Severity::Warning
    } else {
        Severity::Error
    }
}

impl Finding {
    pub fn severity(&self) -> Severity {
        severity(self.rule)
    }
}

/// A finding suppressed by a `[[waiver]]`, with the waiver's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waived {
    pub finding: Finding,
    pub reason: String,
}

/// A registered rule.
pub struct Rule {
    pub id: &'static str,
    /// The file the rule is about (its findings may point elsewhere for cross-file rules).
    pub file: &'static str,
    pub rationale: &'static str,
    pub check: fn(&Input, &mut Out),
}

/// Collects the findings of one rule.
pub struct Out {
    rule: &'static str,
    pub findings: Vec<Finding>,
}

impl Out {
    pub fn new(rule: &'static str) -> Out {
        Out {
            rule,
            findings: Vec::new(),
        }
    }

    pub fn at(&mut self, file: &str, line: usize, message: impl Into<String>) {
        let f = Finding {
            rule: self.rule,
            file: file.to_string(),
            line: line.max(1),
            message: message.into(),
        };
        if !self.findings.contains(&f) {
            self.findings.push(f);
        }
    }
}

/// The texts of the files the rules read, as they are on disk (`None`: missing).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub dockerfile: Option<String>,
    pub ignore: Option<String>,
    pub compose: Option<String>,
    pub caddyfile: Option<String>,
    pub workflow: Option<String>,
}

impl Sources {
    pub fn read(root: &Path) -> Result<Sources> {
        Ok(Sources {
            dockerfile: read_optional(&root.join(stack::DOCKERFILE))?,
            ignore: read_optional(&root.join(stack::DOCKERIGNORE))?,
            compose: read_optional(&root.join(stack::COMPOSE))?,
            caddyfile: read_optional(&root.join(stack::CADDYFILE))?,
            workflow: read_optional(&root.join(stack::WORKFLOW))?,
        })
    }
}

/// The compose file: its text (for lines) and its value (for meaning).
pub struct ComposeDoc {
    pub text: String,
    pub value: serde_yaml::Value,
    /// The text's lines, parsed once (a rule may ask the line of every key).
    lines: crate::parse::yaml::Lines,
}

impl ComposeDoc {
    pub fn new(text: String, value: serde_yaml::Value) -> ComposeDoc {
        let lines = crate::parse::yaml::Lines::new(&text);
        ComposeDoc { text, value, lines }
    }

    pub fn line(&self, path: &[crate::parse::yaml::Seg]) -> usize {
        self.lines.line_of(path).unwrap_or(1)
    }
}

/// Everything a rule may look at: the parsed files on disk, the model, the root.
pub struct Input<'a> {
    pub model: &'a Model,
    pub root: PathBuf,
    pub dockerfile: Option<parse::dockerfile::Dockerfile>,
    pub dockerfile_text: Option<String>,
    pub ignore: Option<parse::ignore::IgnoreFile>,
    pub compose: Option<ComposeDoc>,
    /// The YAML error of an unreadable compose file: (line, message).
    pub compose_error: Option<(usize, String)>,
    pub caddy: Option<parse::caddyfile::Caddyfile>,
    /// The workflow's text (its rules parse it themselves).
    pub workflow: Option<String>,
}

impl<'a> Input<'a> {
    pub fn new(model: &'a Model, root: &Path, src: &Sources) -> Input<'a> {
        let (compose, compose_error) = match &src.compose {
            None => (None, None),
            Some(text) => match serde_yaml::from_str::<serde_yaml::Value>(text) {
                Ok(value) => (Some(ComposeDoc::new(text.clone(), value)), None),
                Err(e) => {
                    let line = e.location().map(|l| l.line()).unwrap_or(1);
                    (None, Some((line, e.to_string())))
                }
            },
        };
        Input {
            model,
            root: root.to_path_buf(),
            dockerfile: src.dockerfile.as_deref().map(parse::dockerfile::parse),
            dockerfile_text: src.dockerfile.clone(),
            ignore: src.ignore.as_deref().map(parse::ignore::parse),
            compose,
            compose_error,
            caddy: src.caddyfile.as_deref().map(parse::caddyfile::parse),
            workflow: src.workflow.clone(),
        }
    }
}

/// Every rule, in report order.
pub fn registry() -> Vec<&'static Rule> {
    dockerfile::RULES
        .iter()
        .chain(ignore::RULES)
        .chain(context::RULES)
        .chain(compose::RULES)
        .chain(ops::RULES)
        .chain(caddy::RULES)
        .chain(edge::RULES)
        .chain(cross::RULES)
        .chain(workflow::RULES)
        .chain(env::RULES)
        .chain(shape::RULES)
        .collect()
}

/// Ids of findings produced outside the rules stage (by `verify`'s other stages).
pub const STAGE_IDS: &[(&str, &str)] = &[
    (
        "fresh/generated",
        "a generated file differs from what `cargo xtask gen` writes now",
    ),
    (
        "compose/config",
        "`docker compose config` rejects the file (with and without interpolation)",
    ),
    (
        "swarm/stack-config",
        "`docker stack config` rejects the Swarm stack file (interpolated with .env.staging.example)",
    ),
    (
        "compose/env-example",
        "a variable the compose file requires is missing from .env.staging.example",
    ),
    ("caddy/adapt", "`caddy adapt` rejects the Caddyfile"),
    (
        "caddy/validate",
        "`caddy validate` rejects the Caddyfile with certificates in place",
    ),
    (
        "image/build",
        "`docker buildx build` of the API image fails",
    ),
    (
        "image/user",
        "the image's configured user is root or not the generated one",
    ),
    (
        "image/runtime-user",
        "the container does not run as the generated non-root uid",
    ),
    (
        "image/env",
        "NODE_ENV=production and PORT are not set in the image",
    ),
    ("image/expose", "the image does not expose the API port"),
    (
        "image/cmd",
        "the image's CMD is not the generated exec-form entry point",
    ),
    (
        "image/workdir",
        "the image's working directory is not the API's directory",
    ),
    (
        "image/node",
        "`node -e \"console.log('ok')\"` does not print ok in the image",
    ),
    (
        "image/runtime-deps",
        "a runtime dependency of the API does not resolve in the image",
    ),
    (
        "image/no-dev-deps",
        "a package the API's install brought in is not needed at run time (outside the lockfile's production closure: a devDependency, an optional peer pnpm resolved); named with its chain, size and fix",
    ),
    (
        "image/closure",
        "the image's node_modules hold packages outside the API's production closure (e.g. other apps' dependencies through a hoisted install), with their sizes",
    ),
    (
        "image/no-source-files",
        "`.env*`, `.git` or `.ts` sources are in the final image",
    ),
    (
        "image/no-secret-files",
        "a secret file (the list in docs/verify.md) is under /app in the final image",
    ),
    (
        "image/no-credentials",
        "a file of the final image (under /app, the home directories, /tmp; node_modules left out) holds a private key, cloud credential or token, found by its content; named with its kind, never its value",
    ),
    (
        "context/git-ignored",
        "a file git ignores (and does not track) would enter the build context: a clean checkout has no such file; the build is refused before it starts",
    ),
    (
        "context/credentials",
        "a file of the build context holds a private key, cloud credential or token, found by its content whatever its name; the build is refused before it starts, the file named with its line and kind, never the value",
    ),
    (
        "image/entry",
        "api.entry is not in the built image (checked before any tag; the message names the JS files the build produced)",
    ),
    (
        "image/services",
        "a service the API's contract wires did not start or turn healthy on the smoke test's private network",
    ),
    (
        "image/migrate",
        "[api.migrate] command, run in the image before the API, did not exit 0 (the message names what its log names)",
    ),
    (
        "image/health",
        "the API exits at boot, or right after its first answer, with its contract's env and services (the message names what its log names), or gives no HTTP answer on its health path ([api.health])",
    ),
];

/// Is `id` a rule or stage id `verify` can report?
pub fn known_id(id: &str) -> bool {
    registry().iter().any(|r| r.id == id)
        || STAGE_IDS.iter().any(|(i, _)| *i == id)
        || env::ENV_FILE_IDS.iter().any(|(i, _)| *i == id)
        || external::is_external_id(id)
}

/// The one-line rationale of a rule or stage id.
pub fn rationale(id: &str) -> Option<&'static str> {
    registry()
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.rationale)
        .or_else(|| STAGE_IDS.iter().find(|(i, _)| *i == id).map(|(_, r)| *r))
}

/// Runs every rule.
pub fn run(input: &Input) -> Vec<Finding> {
    let mut all = Vec::new();
    for r in registry() {
        let mut out = Out::new(r.id);
        (r.check)(input, &mut out);
        all.extend(out.findings);
    }
    all
}

/// Does `w` waive `f`? Its rule id, and its file when it names one (both sides without a
/// leading `./`). The one match [`apply_waivers`] and [`unused_waivers`] share.
pub fn waives(w: &Waiver, f: &Finding) -> bool {
    let norm = |p: &str| p.trim_start_matches("./").to_string();
    w.rule == f.rule
        && w.file
            .as_deref()
            .is_none_or(|file| norm(file) == norm(&f.file))
}

/// Splits findings into (kept, waived) by the config's waivers; a waiver matches a finding
/// with its rule id and, when it names one, its file ([`waives`]).
pub fn apply_waivers(findings: Vec<Finding>, waivers: &[Waiver]) -> (Vec<Finding>, Vec<Waived>) {
    let mut kept = Vec::new();
    let mut waived = Vec::new();
    for f in findings {
        match waivers.iter().find(|w| waives(w, &f)) {
            Some(w) => waived.push(Waived {
                finding: f,
                reason: w.reason.clone(),
            }),
            None => kept.push(f),
        }
    }
    (kept, waived)
}

/// Waivers that matched nothing (stale, or a typo in the rule id).
pub fn unused_waivers<'w>(waivers: &'w [Waiver], waived: &[Waived]) -> Vec<&'w Waiver> {
    waivers
        .iter()
        .filter(|w| !waived.iter().any(|d| waives(w, &d.finding)))
        .collect()
}

/// Is this host a loopback or wildcard address (never right between containers)?
pub fn is_local_host(host: &str) -> bool {
    crate::envcontract::is_local_host(host)
}

/// `scheme://host:port/...` or `host:port` → (host, port).
pub fn host_port(addr: &str) -> (String, Option<u16>) {
    let rest = addr.split_once("://").map(|(_, r)| r).unwrap_or(addr);
    let hp = rest.split(['/', '?']).next().unwrap_or(rest);
    let hp = hp.rsplit_once('@').map(|(_, h)| h).unwrap_or(hp);
    if let Some(r) = hp.strip_prefix('[') {
        let (h, after) = r.split_once(']').unwrap_or((r, ""));
        return (
            h.to_string(),
            after.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match hp.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().ok()),
        None => (hp.to_string(), None),
    }
}

/// `[registry/]path[:tag][@digest]` → (repository, tag, digest).
pub fn split_image(image: &str) -> (String, Option<String>, Option<String>) {
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (image, None),
    };
    let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name_tag[last_slash..].find(':') {
        Some(i) => (
            name_tag[..last_slash + i].to_string(),
            Some(name_tag[last_slash + i + 1..].to_string()),
            digest,
        ),
        None => (name_tag.to_string(), None, digest),
    }
}

/// Why an image reference is not pinned, if it is not.
pub fn unpinned(image: &str) -> Option<String> {
    if image == "scratch" {
        return None;
    }
    match split_image(image) {
        (_, _, Some(_)) => None,
        (_, None, None) => Some(format!("`{image}` has no tag, which means `latest`")),
        (_, Some(t), None) if t == "latest" => {
            Some(format!("`{image}` uses the moving `latest` tag"))
        }
        (_, Some(t), None) if t.is_empty() => Some(format!("`{image}` has an empty tag")),
        _ => None,
    }
}
