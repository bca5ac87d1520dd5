//! An image's size split by origin — base, dependencies, app, setup — from its `docker
//! history` and the Dockerfile that built it; and what its virtual store holds. Pure.

use std::collections::BTreeSet;

use crate::parse::dockerfile::{self, Dockerfile};
use crate::tools::docker::HistoryEntry;

use super::lockfile::{self, PkgId};

/// What a layer of the final stage carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// node_modules and the manifests next to them
    Deps,
    /// build outputs and the app's own files
    App,
}

/// An image's size by origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    pub base: u64,
    pub deps: u64,
    pub app: u64,
    /// Everything else the final stage adds (users, directories).
    pub setup: u64,
}

impl Sizes {
    pub fn total(&self) -> u64 {
        self.base + self.deps + self.app + self.setup
    }
}

/// `COPY --chown=1 a b # buildkit` / `a b` → `a b`: the part `docker history` and the
/// Dockerfile have in common.
pub fn copy_key(text: &str) -> String {
    let t = text.trim();
    let t = t.strip_prefix("COPY ").unwrap_or(t);
    let t = t.strip_suffix("# buildkit").unwrap_or(t);
    t.split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The COPY instructions of the final stage with their origin: from a stage whose name
/// says `deps`, or of a `node_modules` path, is dependencies; anything else is app.
pub fn final_copies(df: &Dockerfile, build_args: &[(String, String)]) -> Vec<(String, Origin)> {
    let Some(stage) = df.final_stage() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in stage.body.clone() {
        let ins = &df.instructions[n];
        if ins.keyword != "COPY" {
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
        let from_deps = ins
            .flag("from")
            .is_some_and(|f| f.to_ascii_lowercase().contains("dep"));
        let srcs = &words[..words.len().saturating_sub(1)];
        let modules = srcs
            .iter()
            .any(|s| s.split('/').any(|seg| seg == "node_modules"));
        let origin = if from_deps || modules {
            Origin::Deps
        } else {
            Origin::App
        };
        out.push((copy_key(&words.join(" ")), origin));
    }
    out
}

/// Splits `history` (oldest first) given how many entries the base image has and the
/// final stage's COPYs ([`final_copies`]); a COPY the Dockerfile does not explain is
/// dependencies when it names `node_modules`, else app.
pub fn split_sizes(
    history: &[HistoryEntry],
    base_entries: usize,
    copies: &[(String, Origin)],
) -> Sizes {
    let mut s = Sizes::default();
    for (i, h) in history.iter().enumerate() {
        let cb = h.created_by.trim();
        if i < base_entries {
            s.base += h.size;
            continue;
        }
        if !cb.starts_with("COPY ") {
            s.setup += h.size;
            continue;
        }
        let key = copy_key(cb);
        let origin = copies
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, o)| *o)
            .unwrap_or(if key.contains("node_modules") {
                Origin::Deps
            } else {
                Origin::App
            });
        match origin {
            Origin::Deps => s.deps += h.size,
            Origin::App => s.app += h.size,
        }
    }
    s
}

/// The store entries of an image that are dev-only packages, sorted, each once.
pub fn dev_in_store(entries: &[String], dev_only: &BTreeSet<PkgId>) -> Vec<String> {
    let mut out: Vec<String> = entries
        .iter()
        .filter(|e| lockfile::store_entry(e).is_some_and(|id| dev_only.contains(&id)))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
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

    #[test]
    fn generated_image_split_by_origin() {
        let df = dockerfile::parse(
            "ARG NODE_IMAGE=n\nFROM n AS prod-deps\nFROM n AS build\nFROM ${NODE_IMAGE} AS runtime\nRUN addgroup x\nWORKDIR /app\nCOPY --from=prod-deps /app ./\nCOPY --from=build /app/packages/crypto/dist ./packages/crypto/dist\nCOPY --from=build /app/apps/api/dist ./apps/api/dist\n",
        );
        let copies = final_copies(&df, &[]);
        assert_eq!(
            copies,
            vec![
                ("/app ./".to_string(), Origin::Deps),
                (
                    "/app/packages/crypto/dist ./packages/crypto/dist".to_string(),
                    Origin::App
                ),
                (
                    "/app/apps/api/dist ./apps/api/dist".to_string(),
                    Origin::App
                ),
            ]
        );
        let hist = vec![
            h("", 127_000_000),
            h("ENV NODE_ENV=production PORT=3000", 0),
            h(
                "RUN /bin/sh -c addgroup -g 1001 -S appgroup # buildkit",
                532,
            ),
            h("WORKDIR /app", 0),
            h("COPY /app ./ # buildkit", 481_926),
            h(
                "COPY /app/packages/crypto/dist ./packages/crypto/dist # buildkit",
                1372,
            ),
            h("COPY /app/apps/api/dist ./apps/api/dist # buildkit", 9041),
            h("CMD [\"node\" \"dist/main.js\"]", 0),
        ];
        let s = split_sizes(&hist, 1, &copies);
        assert_eq!(
            s,
            Sizes {
                base: 127_000_000,
                deps: 481_926,
                app: 10_413,
                setup: 532
            }
        );
        assert_eq!(s.total(), 127_000_000 + 481_926 + 10_413 + 532);
    }

    #[test]
    fn reference_image_split_by_origin() {
        let df = dockerfile::parse(
            "FROM n AS build\nFROM n\nARG API_DIR=apps/api\nCOPY --from=build /deploy/node_modules ./node_modules\nCOPY --from=build /app/${API_DIR}/dist ./dist\nCOPY --from=build --chown=1:1 /deploy/package.json ./package.json\n",
        );
        let copies = final_copies(&df, &[("API_DIR".into(), "services/x".into())]);
        assert_eq!(copies[1].0, "/app/services/x/dist ./dist");
        let hist = vec![
            h("", 100),
            h("COPY /deploy/node_modules ./node_modules # buildkit", 400),
            h("COPY /app/services/x/dist ./dist # buildkit", 9),
            h(
                "COPY --chown=1:1 /deploy/package.json ./package.json # buildkit",
                1,
            ),
            h("COPY /somewhere/node_modules/x ./x # buildkit", 7),
            h("USER node", 0),
        ];
        let s = split_sizes(&hist, 1, &copies);
        assert_eq!((s.base, s.deps, s.app, s.setup), (100, 407, 10, 0));
    }

    #[test]
    fn dev_packages_in_the_store() {
        let dev: BTreeSet<PkgId> = [("typescript".to_string(), "5.9.3".to_string())]
            .into_iter()
            .collect();
        let entries: Vec<String> = [
            "pg@8.23.1",
            "typescript@5.9.3",
            "lock.yaml",
            "typescript@5.9.3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(dev_in_store(&entries, &dev), vec!["typescript@5.9.3"]);
    }
}
