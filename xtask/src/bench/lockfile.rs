//! Which packages of `pnpm-lock.yaml` only devDependencies bring in (read by the one
//! lockfile reader, [`crate::workspace::lockfile`]), and the names of
//! pnpm's virtual store entries (`node_modules/.pnpm/<entry>`): together they tell whether
//! an image carries a devDependency. Pure.

use std::collections::BTreeSet;

use anyhow::Result;

pub use crate::workspace::lockfile::{split_key, PkgId};

/// A virtual store entry (`@types+node@22.20.5`, `pg-pool@3.14.0_pg@8.23.1`) → its package;
/// `None` for pnpm's own files (`lock.yaml`, `node_modules`) and local packages
/// (`@scope+x@file+packages+x`).
pub fn store_entry(entry: &str) -> Option<PkgId> {
    let (scope, rest) = match entry.strip_prefix('@') {
        Some(r) => {
            let (s, rest) = r.split_once('+')?;
            (Some(s), rest)
        }
        None => (None, entry),
    };
    let (name, version) = rest.split_once('@')?;
    let version = version.split(['_', '(']).next().unwrap_or(version);
    if version.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let name = match scope {
        Some(s) => format!("@{s}/{name}"),
        None => name.to_string(),
    };
    Some((name, version.to_string()))
}

/// The packages reachable from the devDependencies of `all_importers` (and their other
/// dependencies) that the runtime dependencies of `prod_importers` never reach: what a
/// production install must leave out ([`crate::workspace::Lockfile::dev_only`]).
pub fn dev_only(
    lock: &str,
    prod_importers: &[String],
    all_importers: &[String],
) -> Result<BTreeSet<PkgId>> {
    Ok(crate::workspace::Lockfile::parse(lock)?.dev_only(prod_importers, all_importers))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "\
lockfileVersion: '9.0'
importers:
  .:
    devDependencies:
      husky:
        specifier: ^9.0.0
        version: 9.1.7
  apps/api:
    dependencies:
      '@cipherbox/crypto':
        specifier: workspace:*
        version: link:../../packages/crypto
      pg:
        specifier: ^8.23.1
        version: 8.23.1
      short:
        specifier: npm:ms@^2.1.3
        version: ms@2.1.3
    devDependencies:
      '@types/pg':
        specifier: ^8.23.1
        version: 8.23.1
      typescript:
        specifier: ^5.9.3
        version: 5.9.3
  apps/web:
    devDependencies:
      vite:
        specifier: ^5
        version: 5.0.0
packages:
  pg@8.23.1:
    resolution: {integrity: sha512-x}
snapshots:
  '@types/node@22.20.5':
    dependencies:
      undici-types: 6.21.0
  '@types/pg@8.23.1':
    dependencies:
      '@types/node': 22.20.5
      pg-protocol: 1.16.1
  husky@9.1.7: {}
  ms@2.1.3: {}
  pg@8.23.1:
    dependencies:
      pg-pool: 3.14.0(pg@8.23.1)
      pg-protocol: 1.16.1
  pg-pool@3.14.0(pg@8.23.1):
    dependencies:
      pg: 8.23.1
  pg-protocol@1.16.1: {}
  typescript@5.9.3: {}
  undici-types@6.21.0: {}
  vite@5.0.0: {}
";

    fn id(n: &str, v: &str) -> PkgId {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn dev_only_packages_of_the_closure() {
        let prod = vec!["apps/api".to_string()];
        let all = vec![".".to_string(), "apps/api".to_string()];
        let d = dev_only(LOCK, &prod, &all).expect("parses");
        let want: BTreeSet<PkgId> = [
            id("@types/node", "22.20.5"),
            id("@types/pg", "8.23.1"),
            id("husky", "9.1.7"),
            id("typescript", "5.9.3"),
            id("undici-types", "6.21.0"),
        ]
        .into_iter()
        .collect();
        // pg-protocol is reached by @types/pg too, but also by pg: not dev-only; vite
        // belongs to a package outside the closure
        assert_eq!(d, want);
        assert!(dev_only("a: [", &prod, &all).is_err());
    }

    #[test]
    fn keys_and_store_entries() {
        assert_eq!(
            split_key("pg-pool@3.14.0(pg@8.23.1)"),
            Some(id("pg-pool", "3.14.0"))
        );
        assert_eq!(
            split_key("/@types/node@20.1.0"),
            Some(id("@types/node", "20.1.0"))
        );
        assert_eq!(split_key("nope"), None);
        assert_eq!(
            store_entry("@types+node@22.20.5"),
            Some(id("@types/node", "22.20.5"))
        );
        assert_eq!(
            store_entry("pg-pool@3.14.0_pg@8.23.1"),
            Some(id("pg-pool", "3.14.0"))
        );
        assert_eq!(store_entry("@cipherbox+crypto@file+packages+crypto"), None);
        assert_eq!(store_entry("lock.yaml"), None);
        assert_eq!(store_entry("node_modules"), None);
    }
}
