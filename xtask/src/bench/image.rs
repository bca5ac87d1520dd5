//! An image's size by origin — base, dependencies, app, generated, setup — as the bench
//! tables show it (split by [`crate::image_size`]); and what its virtual store holds. Pure.

use std::collections::BTreeSet;

use crate::image_size::{self, Group, GroupSize};
use crate::parse::dockerfile::Dockerfile;
use crate::tools::docker::HistoryEntry;

use super::lockfile::{self, PkgId};

/// An image's size by group ([`crate::image_size`]: the one split of build-image, verify and
/// the bench).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    pub base: u64,
    pub deps: u64,
    pub app: u64,
    /// Generated code and runtime files (an ORM's client).
    pub generated: u64,
    /// Everything else the final stage adds (users, directories, unexplained COPYs).
    pub setup: u64,
}

impl Sizes {
    pub fn total(&self) -> u64 {
        self.base + self.deps + self.app + self.generated + self.setup
    }

    /// From the groups of [`image_size::split`].
    pub fn of(groups: &[GroupSize]) -> Sizes {
        let mut s = Sizes::default();
        for g in groups {
            let slot = match g.name {
                Group::Base => &mut s.base,
                Group::Dependencies => &mut s.deps,
                Group::App => &mut s.app,
                Group::Generated => &mut s.generated,
                Group::Other => &mut s.setup,
            };
            *slot += g.bytes;
        }
        s
    }
}

/// Splits `history` (oldest first) given how many entries the base image has and the
/// Dockerfile that built it (with its build args).
pub fn split_sizes(
    history: &[HistoryEntry],
    base_entries: usize,
    df: &Dockerfile,
    build_args: &[(String, String)],
) -> Sizes {
    let copies = image_size::final_copies(df, build_args, &[]);
    Sizes::of(&image_size::split(history, base_entries, &copies, &[]))
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
    fn the_bench_sizes_are_the_shared_groups() {
        let df = crate::parse::dockerfile::parse(
            "FROM n AS build\nFROM n\nCOPY --from=build /deploy/node_modules ./node_modules\nCOPY --from=build /app/dist ./dist\nCOPY --from=build /app/node_modules/.prisma ./node_modules/.prisma\nRUN x\n",
        );
        let hist = vec![
            h("", 100),
            h("COPY /deploy/node_modules ./node_modules # buildkit", 400),
            h("COPY /app/dist ./dist # buildkit", 9),
            h(
                "COPY /app/node_modules/.prisma ./node_modules/.prisma # buildkit",
                50,
            ),
            h("RUN x # buildkit", 3),
        ];
        let s = split_sizes(&hist, 1, &df, &[]);
        assert_eq!(
            s,
            Sizes {
                base: 100,
                deps: 400,
                app: 9,
                generated: 50,
                setup: 3
            }
        );
        assert_eq!(s.total(), 562);
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
