//! An image's size by layer group — base, dependencies, app, generated, other — from its
//! `docker history` and the Dockerfile that built it, and the judgement of that size against
//! a budget. Pure: `build-image`, verify's image stage and `bench` give it what docker printed.
//!
//! A layer of the final stage is grouped by the `COPY` that made it, from that COPY's
//! sources (after `ARG` expansion):
//! - **generated**: a source with a segment generated code lives under (`.prisma`, `prisma`,
//!   `generated`, `__generated__`, …), a source under a path of `extra_generated` (the
//!   config's runtime files), or a COPY from a stage named for code generation (`codegen`,
//!   `generate`, `prisma`);
//! - **dependencies**: from a stage whose name says `dep`, or a source under `node_modules`;
//! - **app**: any other COPY the final stage has (build outputs, package files).
//!
//! The layers before the final stage's own are the **base** (as many as the base image has);
//! anything else (a `RUN`, a COPY the Dockerfile does not explain) is **other**.

use serde::Serialize;

use crate::parse::dockerfile::{self, Dockerfile};
use crate::tools::docker::HistoryEntry;
use crate::units::human_size;

/// What part of the image a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    Base,
    Dependencies,
    App,
    Generated,
    Other,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Base,
        Group::Dependencies,
        Group::App,
        Group::Generated,
        Group::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Base => "base",
            Group::Dependencies => "dependencies",
            Group::App => "app",
            Group::Generated => "generated",
            Group::Other => "other",
        }
    }

    /// The likely cause and the fix when this group is the biggest part of an image over
    /// its budget.
    pub fn advice(self) -> &'static str {
        match self {
            Group::Base => {
                "the Node base image is most of it: use a slimmer base (`cargo xtask config set node.image node:22-alpine`, an -alpine or -slim tag)"
            }
            Group::Dependencies => {
                "the production node_modules is most of it: a hoisted install (`node-linker=hoisted` in .npmrc, `nodeLinker` in pnpm-workspace.yaml) pulls the whole workspace's dependencies; keep the install isolated to the API's closure, see the image checks image/no-dev-deps and image/closure, and move build-only packages to devDependencies"
            }
            Group::App => {
                "the build outputs and package files are most of it: check what the build emits and what the packages' \"files\" ship (source maps, bundled assets: `api.keep_build_files`)"
            }
            Group::Generated => {
                "the generated code and runtime files are most of it: ship only what runs in the image (e.g. Prisma's engines for the image's platform only: `binaryTargets`)"
            }
            Group::Other => {
                "the runtime stage's own layers (RUN, unexplained COPY) are most of it: see the runtime stage of infra/api.Dockerfile"
            }
        }
    }
}

/// Path segments generated code lives under.
const GENERATED_SEGMENTS: &[&str] = &[
    ".prisma",
    "prisma",
    "generated",
    "__generated__",
    ".generated",
];

/// Words in a stage name that say it generates code.
const GENERATED_STAGES: &[&str] = &["codegen", "generate", "prisma"];

/// `COPY --chown=1 a b # buildkit` / `a b` → `a b`: the part `docker history` and the
/// Dockerfile have in common.
pub fn copy_key(text: &str) -> String {
    let t = text.trim();
    let t = t
        .strip_prefix("COPY ")
        .or_else(|| t.strip_prefix("ADD "))
        .unwrap_or(t);
    let t = t.strip_suffix("# buildkit").unwrap_or(t);
    t.split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty() && *s != ".")
}

/// Is `src` under `prefix` (both relative to the monorepo or absolute under /app; compared
/// segment by segment from the end of `src`'s leading `/app`)?
fn under(src: &str, prefix: &str) -> bool {
    let s: Vec<&str> = segments(src).collect();
    let p: Vec<&str> = segments(prefix).collect();
    let s = match s.first() {
        Some(&"app") if p.first() != Some(&"app") => &s[1..],
        _ => &s[..],
    };
    !p.is_empty() && s.len() >= p.len() && s[..p.len()] == p[..]
}

/// The group of a COPY from stage `from` (None: the context) of `srcs`.
pub fn group_of_copy(from: Option<&str>, srcs: &[String], extra_generated: &[String]) -> Group {
    let stage = from.unwrap_or("").to_ascii_lowercase();
    let generated = GENERATED_STAGES.iter().any(|w| stage.contains(w))
        || srcs.iter().any(|s| {
            segments(s).any(|seg| GENERATED_SEGMENTS.contains(&seg))
                || extra_generated.iter().any(|g| under(s, g))
        });
    if generated {
        return Group::Generated;
    }
    let modules = srcs
        .iter()
        .any(|s| segments(s).any(|seg| seg == "node_modules"));
    if stage.contains("dep") || modules {
        Group::Dependencies
    } else {
        Group::App
    }
}

/// One COPY (or ADD) of the final stage: its key ([`copy_key`]), its group and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalCopy {
    pub key: String,
    pub group: Group,
    pub line: usize,
}

/// The COPY and ADD instructions of the final stage, each with its group.
pub fn final_copies(
    df: &Dockerfile,
    build_args: &[(String, String)],
    extra_generated: &[String],
) -> Vec<FinalCopy> {
    let Some(stage) = df.final_stage() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in stage.body.clone() {
        let ins = &df.instructions[n];
        if ins.keyword != "COPY" && ins.keyword != "ADD" {
            continue;
        }
        let lookup = |v: &str| {
            build_args
                .iter()
                .find(|(k, _)| k == v)
                .map(|(_, val)| val.clone())
                .or_else(|| df.stage_var(stage, n, v))
        };
        let words: Vec<String> = ins
            .words()
            .iter()
            .map(|w| dockerfile::expand(w, &lookup).0)
            .collect();
        let srcs = &words[..words.len().saturating_sub(1)];
        out.push(FinalCopy {
            key: copy_key(&words.join(" ")),
            group: group_of_copy(ins.flag("from"), srcs, extra_generated),
            line: ins.line,
        });
    }
    out
}

/// One group's share of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSize {
    pub name: Group,
    pub bytes: u64,
    /// The layers with content (history entries of 0 bytes, such as ENV or CMD, not counted).
    pub layers: usize,
}

/// Splits `history` (oldest first) into every group, in [`Group::ALL`]'s order, given how
/// many entries the base image has and the final stage's COPYs ([`final_copies`]). A COPY the
/// Dockerfile does not explain is grouped by its sources when they say generated code or
/// `node_modules`, else it is other.
pub fn split(
    history: &[HistoryEntry],
    base_entries: usize,
    copies: &[FinalCopy],
    extra_generated: &[String],
) -> Vec<GroupSize> {
    let mut out: Vec<GroupSize> = Group::ALL
        .iter()
        .map(|g| GroupSize {
            name: *g,
            bytes: 0,
            layers: 0,
        })
        .collect();
    for (i, h) in history.iter().enumerate() {
        let cb = h.created_by.trim();
        let group = if i < base_entries {
            Group::Base
        } else if cb.starts_with("COPY ") || cb.starts_with("ADD ") {
            let key = copy_key(cb);
            match copies.iter().find(|c| c.key == key) {
                Some(c) => c.group,
                None => {
                    let words: Vec<String> = key.split_whitespace().map(str::to_string).collect();
                    let srcs = &words[..words.len().saturating_sub(1)];
                    match group_of_copy(None, srcs, extra_generated) {
                        Group::App => Group::Other,
                        g => g,
                    }
                }
            }
        } else {
            Group::Other
        };
        let g = &mut out[group as usize];
        g.bytes += h.size;
        g.layers += usize::from(h.size > 0);
    }
    out
}

/// The size an image may have: in all, and per group (none: no limit of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub total: u64,
    pub groups: Vec<GroupBudget>,
    /// Over budget fails the build (`[image] budget_fails`, `--strict-size`), not only warns.
    pub fails: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupBudget {
    pub name: Group,
    pub bytes: u64,
}

/// The default budget (`[image] budget`), 500 MB: why, at [`crate::config::image::DEFAULT_BUDGET`].
pub const DEFAULT_BUDGET: u64 = crate::config::image::DEFAULT_BUDGET;

impl Default for Budget {
    fn default() -> Self {
        Budget {
            total: DEFAULT_BUDGET,
            groups: Vec::new(),
            fails: false,
        }
    }
}

/// The rule id of an image over its budget: a warning, unless the budget fails the build.
pub const RULE_WARN: &str = "image/size-budget";
/// The same, when `[image] budget_fails` (or `--strict-size`) makes it an error.
pub const RULE_FAIL: &str = "image/size-budget-fails";

/// An image over its budget: what is over, the biggest group and its likely cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overrun {
    /// [`RULE_WARN`] or [`RULE_FAIL`].
    pub rule: &'static str,
    /// `warning` or `error`.
    pub severity: &'static str,
    /// The Dockerfile line of the biggest group (its first COPY; the final FROM for base).
    pub line: usize,
    pub message: String,
}

/// An image's size report: `size` in build-image's and verify's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizeReport {
    /// The image's size as the engine reports it (`docker image inspect`'s Size).
    pub total: u64,
    pub groups: Vec<GroupSize>,
    pub budget: Budget,
    pub over: bool,
    /// Set when over: the finding (rule, severity, line, message).
    pub finding: Option<Overrun>,
}

/// Judges an image of `total` bytes split into `groups` against `budget`; `lines` gives the
/// Dockerfile line of each group (for the finding).
pub fn judge(
    total: u64,
    groups: Vec<GroupSize>,
    budget: Budget,
    lines: &dyn Fn(Group) -> usize,
) -> SizeReport {
    let mut over: Vec<String> = Vec::new();
    if total > budget.total {
        over.push(format!(
            "the image is {}, over its budget of {} (image.budget) by {}",
            human_size(total),
            human_size(budget.total),
            human_size(total - budget.total)
        ));
    }
    let mut worst: Option<Group> = None;
    for gb in &budget.groups {
        let bytes = groups
            .iter()
            .find(|g| g.name == gb.name)
            .map(|g| g.bytes)
            .unwrap_or(0);
        if bytes > gb.bytes {
            over.push(format!(
                "{} is {}, over its budget of {} (image.budget_{})",
                gb.name.name(),
                human_size(bytes),
                human_size(gb.bytes),
                gb.name.name()
            ));
            worst.get_or_insert(gb.name);
        }
    }
    let biggest = groups
        .iter()
        .max_by_key(|g| g.bytes)
        .map(|g| g.name)
        .unwrap_or(Group::Other);
    let blamed = if total > budget.total {
        biggest
    } else {
        worst.unwrap_or(biggest)
    };
    let finding = (!over.is_empty()).then(|| {
        let bytes = groups
            .iter()
            .find(|g| g.name == blamed)
            .map(|g| g.bytes)
            .unwrap_or(0);
        let share = if total > 0 {
            (bytes as f64 * 100.0 / total as f64).round() as u64
        } else {
            0
        };
        let (rule, severity) = if budget.fails {
            (RULE_FAIL, "error")
        } else {
            (RULE_WARN, "warning")
        };
        Overrun {
            rule,
            severity,
            line: lines(blamed),
            message: format!(
                "{}; the biggest group is {} ({}, {share}% of the image): {}",
                over.join("; "),
                blamed.name(),
                human_size(bytes),
                blamed.advice()
            ),
        }
    });
    SizeReport {
        total,
        groups,
        budget,
        over: finding.is_some(),
        finding,
    }
}

/// The Dockerfile line of each group: its first COPY in the final stage, else the final
/// stage's FROM.
pub fn group_line(df: &Dockerfile, copies: &[FinalCopy], g: Group) -> usize {
    let from = df.final_stage().map(|s| s.line).unwrap_or(1);
    if g == Group::Base {
        return from;
    }
    copies
        .iter()
        .find(|c| c.group == g)
        .map(|c| c.line)
        .unwrap_or(from)
}

impl SizeReport {
    /// `  layers base 127.0 MB (3), dependencies …; budget 500.0 MB` and, when over, the
    /// warning line.
    pub fn render_human(&self, indent: &str) -> String {
        let parts: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{} {} ({} layer{})",
                    g.name.name(),
                    human_size(g.bytes),
                    g.layers,
                    if g.layers == 1 { "" } else { "s" }
                )
            })
            .collect();
        let mut s = format!(
            "{indent}groups {}; budget {}{}\n",
            parts.join(", "),
            human_size(self.budget.total),
            if self.over { " (OVER)" } else { "" }
        );
        if let Some(f) = &self.finding {
            s.push_str(&format!("{}: [{}] {}\n", f.severity, f.rule, f.message));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(created_by: &str, size: u64) -> HistoryEntry {
        HistoryEntry {
            created_by: created_by.into(),
            size,
        }
    }

    fn bytes(groups: &[GroupSize]) -> Vec<(&'static str, u64, usize)> {
        groups
            .iter()
            .map(|g| (g.name.name(), g.bytes, g.layers))
            .collect()
    }

    /// `docker history --no-trunc --human=false` of the sample's image built on the STAND-IN
    /// base, as captured (oldest first; the base had 3 entries).
    fn sample_history() -> Vec<HistoryEntry> {
        vec![
            h("/bin/sh -c #(nop) ADD file:abc in / ", 8_600_000),
            h("/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", 0),
            h("COPY /node /usr/local/ # buildkit", 118_400_000),
            h("ENV NODE_ENV=production PORT=3000", 0),
            h(
                "RUN /bin/sh -c addgroup -g 1001 -S appgroup  && adduser -S -D -H -u 1001 -G appgroup appuser # buildkit",
                4_838,
            ),
            h("WORKDIR /app", 0),
            h("COPY /app ./ # buildkit", 481_926),
            h(
                "COPY /app/packages/crypto/dist ./packages/crypto/dist # buildkit",
                1_372,
            ),
            h("COPY /app/apps/api/dist ./apps/api/dist # buildkit", 9_041),
            h("WORKDIR /app/apps/api", 0),
            h("USER 1001:1001", 0),
            h("EXPOSE map[3000/tcp:{}]", 0),
            h("CMD [\"node\" \"dist/main.js\"]", 0),
        ]
    }

    const SAMPLE_RUNTIME: &str = "ARG NODE_IMAGE=n\nFROM n AS prod-deps\nFROM n AS build\nFROM ${NODE_IMAGE} AS runtime\nRUN addgroup x\nWORKDIR /app\nCOPY --from=prod-deps /app ./\nCOPY --from=build /app/packages/crypto/dist ./packages/crypto/dist\nCOPY --from=build /app/apps/api/dist ./apps/api/dist\n";

    #[test]
    fn the_generated_image_splits_into_its_groups() {
        let df = dockerfile::parse(SAMPLE_RUNTIME);
        let copies = final_copies(&df, &[], &[]);
        let groups: Vec<(&str, Group, usize)> = copies
            .iter()
            .map(|c| (c.key.as_str(), c.group, c.line))
            .collect();
        assert_eq!(
            groups,
            vec![
                ("/app ./", Group::Dependencies, 7),
                (
                    "/app/packages/crypto/dist ./packages/crypto/dist",
                    Group::App,
                    8
                ),
                ("/app/apps/api/dist ./apps/api/dist", Group::App, 9),
            ]
        );
        let s = split(&sample_history(), 3, &copies, &[]);
        assert_eq!(
            bytes(&s),
            vec![
                ("base", 127_000_000, 2),
                ("dependencies", 481_926, 1),
                ("app", 10_413, 2),
                ("generated", 0, 0),
                ("other", 4_838, 1),
            ]
        );
        let sum: u64 = s.iter().map(|g| g.bytes).sum();
        let all: u64 = sample_history().iter().map(|e| e.size).sum();
        assert_eq!(sum, all, "every layer is in one group");
    }

    #[test]
    fn a_new_copy_of_generated_files_is_generated_with_no_change_here() {
        // what a code-generation step adds to the runtime stage: the ORM's client and a
        // runtime file named in the config
        let df = dockerfile::parse(&format!(
            "{SAMPLE_RUNTIME}COPY --from=build /app/node_modules/.prisma ./node_modules/.prisma\nCOPY --from=build /app/apps/api/schema.graphql ./apps/api/schema.graphql\nCOPY --from=codegen /out ./apps/api/out\nCOPY --from=build /app/apps/api/assets ./apps/api/assets\n"
        ));
        let extra = vec!["apps/api/schema.graphql".to_string()];
        let copies = final_copies(&df, &[], &extra);
        let g: Vec<Group> = copies.iter().map(|c| c.group).collect();
        assert_eq!(
            g,
            vec![
                Group::Dependencies,
                Group::App,
                Group::App,
                Group::Generated,
                Group::Generated,
                Group::Generated,
                Group::App
            ]
        );
        let mut hist = sample_history();
        hist.push(h(
            "COPY /app/node_modules/.prisma ./node_modules/.prisma # buildkit",
            17_000_000,
        ));
        hist.push(h(
            "COPY /app/apps/api/schema.graphql ./apps/api/schema.graphql # buildkit",
            2_000,
        ));
        // a COPY the Dockerfile does not explain: its sources decide, else other
        hist.push(h("COPY /x/generated/y ./y # buildkit", 5));
        hist.push(h("COPY /x/node_modules/z ./z # buildkit", 7));
        hist.push(h("COPY /somewhere ./else # buildkit", 11));
        let s = split(&hist, 3, &copies, &extra);
        assert_eq!(
            bytes(&s),
            vec![
                ("base", 127_000_000, 2),
                ("dependencies", 481_933, 2),
                ("app", 10_413, 2),
                ("generated", 17_002_005, 3),
                ("other", 4_849, 2),
            ]
        );
    }

    #[test]
    fn the_reference_dockerfile_splits_with_its_build_args() {
        let df = dockerfile::parse(
            "FROM n AS build\nFROM n\nARG API_DIR=apps/api\nCOPY --from=build /deploy/node_modules ./node_modules\nCOPY --from=build /app/${API_DIR}/dist ./dist\nCOPY --from=build --chown=1:1 /deploy/package.json ./package.json\n",
        );
        let copies = final_copies(&df, &[("API_DIR".into(), "services/x".into())], &[]);
        assert_eq!(copies[1].key, "/app/services/x/dist ./dist");
        let hist = vec![
            h("", 100),
            h("COPY /deploy/node_modules ./node_modules # buildkit", 400),
            h("COPY /app/services/x/dist ./dist # buildkit", 9),
            h(
                "COPY --chown=1:1 /deploy/package.json ./package.json # buildkit",
                1,
            ),
            h("USER node", 0),
        ];
        let s = split(&hist, 1, &copies, &[]);
        assert_eq!(
            bytes(&s),
            vec![
                ("base", 100, 1),
                ("dependencies", 400, 1),
                ("app", 10, 2),
                ("generated", 0, 0),
                ("other", 0, 0),
            ]
        );
    }

    fn groups(base: u64, deps: u64, app: u64) -> Vec<GroupSize> {
        [
            (Group::Base, base),
            (Group::Dependencies, deps),
            (Group::App, app),
        ]
        .iter()
        .map(|(g, b)| GroupSize {
            name: *g,
            bytes: *b,
            layers: 1,
        })
        .collect()
    }

    fn line(g: Group) -> usize {
        g as usize + 10
    }

    #[test]
    fn under_budget_is_quiet_and_over_names_the_biggest_group_with_its_fix() {
        let r = judge(
            140_000_000,
            groups(130_000_000, 9_000_000, 1_000_000),
            Budget::default(),
            &line,
        );
        assert!(!r.over && r.finding.is_none(), "{r:?}");
        assert!(!r.render_human("  ").contains("warning"));

        // the monorepo that motivated it: a hoisted install of the whole workspace
        let r = judge(
            1_050_000_000,
            groups(130_000_000, 900_000_000, 20_000_000),
            Budget::default(),
            &line,
        );
        assert!(r.over);
        let f = r.finding.as_ref().expect("a finding");
        assert_eq!((f.rule, f.severity, f.line), (RULE_WARN, "warning", 11));
        assert!(
            f.message.starts_with("the image is 1050.0 MB, over its budget of 500.0 MB (image.budget) by 550.0 MB; the biggest group is dependencies (900.0 MB, 86% of the image): "),
            "{}",
            f.message
        );
        assert!(f.message.contains("node-linker=hoisted"), "{}", f.message);
        assert!(f.message.contains("image/no-dev-deps"), "{}", f.message);
        let text = r.render_human("  ");
        assert!(
            text.contains("budget 500.0 MB (OVER)\nwarning: [image/size-budget] the image is"),
            "{text}"
        );
        let j = serde_json::to_value(&r).expect("json");
        assert_eq!(j["over"], true);
        assert_eq!(j["budget"]["total"], 500_000_000);
        assert_eq!(j["groups"][1]["name"], "dependencies");
        assert_eq!(j["finding"]["severity"], "warning");

        // a base over a small budget: the base is blamed, at the final FROM's line
        let r = judge(
            140_000_000,
            groups(130_000_000, 9_000_000, 1_000_000),
            Budget {
                total: 10_000_000,
                groups: Vec::new(),
                fails: true,
            },
            &line,
        );
        let f = r.finding.expect("a finding");
        assert_eq!((f.rule, f.severity, f.line), (RULE_FAIL, "error", 10));
        assert!(f.message.contains("node.image"), "{}", f.message);
    }

    #[test]
    fn a_group_over_its_own_budget_is_named_even_under_the_total() {
        let budget = Budget {
            total: DEFAULT_BUDGET,
            groups: vec![GroupBudget {
                name: Group::App,
                bytes: 500_000,
            }],
            fails: false,
        };
        let r = judge(
            140_000_000,
            groups(130_000_000, 9_000_000, 1_000_000),
            budget,
            &line,
        );
        let f = r.finding.expect("a finding");
        assert_eq!(f.line, 12);
        assert!(
            f.message.starts_with("app is 1.0 MB, over its budget of 500.0 kB (image.budget_app); the biggest group is app"),
            "{}",
            f.message
        );
    }

    #[test]
    fn group_lines_are_their_first_copy_or_the_final_from() {
        let df = dockerfile::parse(SAMPLE_RUNTIME);
        let copies = final_copies(&df, &[], &[]);
        assert_eq!(group_line(&df, &copies, Group::Base), 4);
        assert_eq!(group_line(&df, &copies, Group::Dependencies), 7);
        assert_eq!(group_line(&df, &copies, Group::App), 8);
        assert_eq!(group_line(&df, &copies, Group::Generated), 4);
    }

    /// `api.runtime_files` (root-relative) make their COPYs generated, even under
    /// node_modules or beside the app's files.
    #[test]
    fn runtime_files_are_generated() {
        let files = [
            "packages/db/node_modules/.quill/client".to_string(),
            "packages/db/migrations".to_string(),
        ];
        for src in [
            "/app/packages/db/node_modules/.quill/client",
            "/app/packages/db/migrations",
        ] {
            assert_eq!(
                group_of_copy(Some("build"), &[src.to_string()], &files),
                Group::Generated,
                "{src}"
            );
            assert_ne!(
                group_of_copy(Some("build"), &[src.to_string()], &[]),
                Group::Generated,
                "{src} without the config"
            );
        }
    }
}
