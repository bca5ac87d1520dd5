//! Which packages of `pnpm-lock.yaml` only devDependencies bring in, and the names of
//! pnpm's virtual store entries (`node_modules/.pnpm/<entry>`): together they tell whether
//! an image carries a devDependency. Pure.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use anyhow::{Context, Result};
use serde_yaml::Value;

/// A resolved package: (name, version without peer suffix).
pub type PkgId = (String, String);

/// `name@1.2.3(peer@4)` → `("name", "1.2.3")`; a leading `/` (lockfile v6) is dropped.
pub fn split_key(key: &str) -> Option<PkgId> {
    let key = key.strip_prefix('/').unwrap_or(key);
    let base = key.split('(').next().unwrap_or(key);
    let at = base.rfind('@').filter(|&i| i > 0)?;
    let (name, version) = (&base[..at], &base[at + 1..]);
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_string(), version.to_string()))
}

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

/// The snapshot key a dependency resolves to: `None` for workspace links and local files.
fn dep_key(name: &str, version: &str) -> Option<String> {
    if version.starts_with("link:") || version.starts_with("file:") {
        return None;
    }
    // an alias: `npm:real@1.0.0` in the spec, `real@1.0.0` as the resolved version
    match version.find('@') {
        Some(i) if i > 0 && !version.starts_with(|c: char| c.is_ascii_digit()) => {
            Some(version.to_string())
        }
        _ => Some(format!("{name}@{version}")),
    }
}

fn deps_of(v: &Value, fields: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in fields {
        if let Some(m) = v.get(*f).and_then(Value::as_mapping) {
            for (k, val) in m {
                let Some(name) = k.as_str() else { continue };
                // importers (v6+): {specifier, version}; snapshots: a version string
                let version = val
                    .as_str()
                    .or_else(|| val.get("version").and_then(Value::as_str));
                if let Some(version) = version {
                    out.push((name.to_string(), version.to_string()));
                }
            }
        }
    }
    out
}

const RUNTIME: &[&str] = &["dependencies", "optionalDependencies"];
const ALL: &[&str] = &["dependencies", "optionalDependencies", "devDependencies"];

/// The packages reachable from the devDependencies of `all_importers` (and their other
/// dependencies) that the runtime dependencies of `prod_importers` never reach: what a
/// production install must leave out. Importers are lockfile keys (`.`, `apps/api`).
pub fn dev_only(
    lock: &str,
    prod_importers: &[String],
    all_importers: &[String],
) -> Result<BTreeSet<PkgId>> {
    let v: Value = serde_yaml::from_str(lock).context("pnpm-lock.yaml is not valid YAML")?;
    let importers = v.get("importers").and_then(Value::as_mapping);
    // v9 keeps the dependency graph in `snapshots`, v6 in `packages`
    let graph = v
        .get("snapshots")
        .or_else(|| v.get("packages"))
        .and_then(Value::as_mapping);
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(g) = graph {
        for (k, val) in g {
            let Some(k) = k.as_str() else { continue };
            let k = k.strip_prefix('/').unwrap_or(k).to_string();
            let next = deps_of(val, RUNTIME)
                .iter()
                .filter_map(|(n, ver)| dep_key(n, ver))
                .collect();
            edges.insert(k, next);
        }
    }
    let roots = |names: &[String], fields: &[&str]| -> Vec<String> {
        let mut out = Vec::new();
        for imp in names {
            let entry = importers.and_then(|m| m.get(Value::String(imp.clone())));
            if let Some(e) = entry {
                out.extend(
                    deps_of(e, fields)
                        .iter()
                        .filter_map(|(n, ver)| dep_key(n, ver)),
                );
            }
        }
        out
    };
    let reach = |start: Vec<String>| -> BTreeSet<PkgId> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut q: VecDeque<String> = start.into();
        while let Some(k) = q.pop_front() {
            if !seen.insert(k.clone()) {
                continue;
            }
            if let Some(next) = edges.get(&k) {
                q.extend(next.iter().cloned());
            }
        }
        seen.iter().filter_map(|k| split_key(k)).collect()
    };
    let prod = reach(roots(prod_importers, RUNTIME));
    let all = reach(roots(all_importers, ALL));
    Ok(all.difference(&prod).cloned().collect())
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
