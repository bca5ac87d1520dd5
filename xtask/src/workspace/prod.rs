//! The API's production closure from the lockfile, and the verdict on a package found in an
//! image: needed at run time, dragged in by the API's install (a devDependency, an optional
//! peer pnpm resolved: the chain that brings it and the fix), or outside the API's closure
//! altogether (another importer's, e.g. through a hoisted install). Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::lockfile::{split_key, EdgeKind, Lockfile, Node, PkgId};

/// What the API needs at run time and how everything else in its reach got there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProdClosure {
    /// The API's importer (`apps/api`).
    pub api: String,
    /// Reached from the API along dependencies, optional dependencies and required peers
    /// (through its workspace dependencies' importers too): what the running API loads.
    pub needed: BTreeSet<PkgId>,
    /// Every other package the API reaches (optional peers, devDependencies): the shortest
    /// chain to it, preferring what a production install places.
    chains: BTreeMap<PkgId, Vec<(String, EdgeKind)>>,
    /// Packages of other importers only: the importer that reaches it first (by directory).
    owners: BTreeMap<PkgId, String>,
    /// A package name → the importers listing it, with the section.
    listed_by: BTreeMap<String, Vec<String>>,
}

/// The verdict on one package found in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Needed,
    /// In the API's reach but not needed at run time: the chain from the API (labels with
    /// their edge notes) and the fix.
    NotNeeded {
        chain: String,
        fix: String,
    },
    /// Not in the API's reach: the importer that brings it, if any does.
    Outside {
        importer: Option<String>,
    },
}

fn chain_to(walk: &BTreeMap<Node, Option<(Node, EdgeKind)>>, n: &Node) -> Vec<(String, EdgeKind)> {
    let mut out = vec![];
    let mut cur = n.clone();
    let mut kind = EdgeKind::Dep;
    for _ in 0..walk.len() + 1 {
        out.push((cur.label(), kind));
        match walk.get(&cur) {
            Some(Some((from, k))) => {
                kind = *k;
                cur = from.clone();
            }
            _ => break,
        }
    }
    out.reverse();
    // each edge's kind belongs to the node it reaches
    let kinds: Vec<EdgeKind> = out.iter().map(|(_, k)| *k).collect();
    for i in 0..out.len() {
        out[i].1 = if i == 0 { EdgeKind::Dep } else { kinds[i - 1] };
    }
    out
}

impl Lockfile {
    /// The production closure of the importer `api` ([`ProdClosure`]).
    pub fn prod_closure(&self, api: &str) -> ProdClosure {
        let root = [Node::Importer(api.to_string())];
        let ids = |w: &BTreeMap<Node, Option<(Node, EdgeKind)>>| -> Vec<(PkgId, Node)> {
            w.keys()
                .filter_map(|n| match n {
                    Node::Package(k) => split_key(k).map(|id| (id, n.clone())),
                    Node::Importer(_) => None,
                })
                .collect()
        };
        let needed_walk = self.walk(&root, |k| {
            matches!(k, EdgeKind::Dep | EdgeKind::Optional | EdgeKind::Peer)
        });
        let needed: BTreeSet<PkgId> = ids(&needed_walk).into_iter().map(|(id, _)| id).collect();
        let mut chains = BTreeMap::new();
        // what a production install places first (optional peers), then devDependencies
        for follow in [
            (|k: EdgeKind| k != EdgeKind::Dev) as fn(EdgeKind) -> bool,
            |_| true,
        ] {
            let w = self.walk(&root, follow);
            for (id, n) in ids(&w) {
                if !needed.contains(&id) && !chains.contains_key(&id) {
                    chains.insert(id, chain_to(&w, &n));
                }
            }
        }
        let mut owners = BTreeMap::new();
        for imp in self.importers.iter().flat_map(|m| m.keys()) {
            if imp == api {
                continue;
            }
            let w = self.walk(&[Node::Importer(imp.clone())], |_| true);
            for (id, _) in ids(&w) {
                if !needed.contains(&id) && !chains.contains_key(&id) {
                    owners.entry(id).or_insert_with(|| imp.clone());
                }
            }
        }
        let mut listed_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (imp, deps) in self.importers.iter().flatten() {
            for d in deps {
                listed_by
                    .entry(d.name.clone())
                    .or_default()
                    .push(format!("{imp} ({})", d.section.field()));
            }
        }
        ProdClosure {
            api: api.to_string(),
            needed,
            chains,
            owners,
            listed_by,
        }
    }
}

/// `a → b → c (optional peer)`.
fn show(chain: &[(String, EdgeKind)]) -> String {
    chain
        .iter()
        .map(|(l, k)| format!("{l}{}", k.note()))
        .collect::<Vec<_>>()
        .join(" → ")
}

fn name_of(label: &str) -> &str {
    split_at_version(label).0
}

fn split_at_version(label: &str) -> (&str, &str) {
    match label.rfind('@').filter(|&i| i > 0) {
        Some(i) => (&label[..i], &label[i + 1..]),
        None => (label, ""),
    }
}

/// How to keep a package a chain brings in out of the production install; `listed_by`: the
/// importers that list a package name, with the section (`apps/api (devDependencies)`).
fn fix_for(
    chain: &[(String, EdgeKind)],
    name: &str,
    listed_by: &BTreeMap<String, Vec<String>>,
) -> String {
    let step = chain
        .iter()
        .position(|(_, k)| matches!(k, EdgeKind::OptionalPeer | EdgeKind::Dev));
    match step.map(|i| (i, chain[i].1)) {
        Some((i, EdgeKind::OptionalPeer)) if i > 0 => {
            let peer = name_of(&chain[i].0);
            let of = name_of(&chain[i - 1].0);
            let from = match listed_by.get(peer) {
                Some(l) => format!("{} list(s) it", l.join(", ")),
                None => "a workspace package lists it".into(),
            };
            format!(
                "{peer} is an optional peer of {of}: {of} runs without it, but pnpm links it where it finds one \
                 ({from}; the root's count for every package unless `resolve-peers-from-workspace-root=false`). \
                 Move {peer} to a package that does not install {of}, or drop the peer in a `.pnpmfile.cjs` \
                 readPackage hook (delete {of}'s peerDependencies[\"{peer}\"] and peerDependenciesMeta[\"{peer}\"]); \
                 then `pnpm install` (an override \"{of}>{peer}\": \"-\" does not remove a peer)"
            )
        }
        Some((_, _)) => format!(
            "{name} comes through a devDependency: the image's install must be `--prod` (`cargo xtask gen` \
             writes it so); if it is needed at run time, move it to \"dependencies\""
        ),
        None => format!("{name} is not needed at run time; run `cargo xtask gen`"),
    }
}

impl ProdClosure {
    /// The verdict on `name@version` found in the image.
    pub fn judge(&self, name: &str, version: &str) -> Verdict {
        let id = (name.to_string(), version.to_string());
        if self.needed.contains(&id) {
            return Verdict::Needed;
        }
        // a version the lockfile names by URL or path (git, tarball): by name
        let by_name = |set: &BTreeSet<PkgId>| {
            set.iter()
                .any(|(n, v)| n == name && !v.starts_with(|c: char| c.is_ascii_digit()))
        };
        if by_name(&self.needed) {
            return Verdict::Needed;
        }
        if let Some(chain) = self.chains.get(&id) {
            return Verdict::NotNeeded {
                chain: show(chain),
                fix: fix_for(chain, name, &self.listed_by),
            };
        }
        Verdict::Outside {
            importer: self.owners.get(&id).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API whose runtime package (typeorm) has a required peer (reflect-metadata, also
    /// a devDependency of the root) and an optional peer (ts-node, a devDependency of the
    /// API) that drags @swc/core in; pg-pool's required peer pg; another app's lodash.
    const LOCK: &str = "\
lockfileVersion: '9.0'
importers:
  .:
    devDependencies:
      reflect-metadata:
        specifier: ^0.2.2
        version: 0.2.2
      typescript:
        specifier: ^5.9.3
        version: 5.9.3
  apps/api:
    dependencies:
      '@x/util':
        specifier: workspace:*
        version: link:../../packages/util
      typeorm:
        specifier: ^0.3.20
        version: 0.3.20(reflect-metadata@0.2.2)(ts-node@10.9.2(@swc/core@1.3.0)(typescript@5.9.3))
    devDependencies:
      ts-node:
        specifier: ^10.9.2
        version: 10.9.2(@swc/core@1.3.0)(typescript@5.9.3)
      '@swc/core':
        specifier: ^1.3.0
        version: 1.3.0
  packages/util:
    dependencies:
      pg:
        specifier: ^8.23.1
        version: 8.23.1
    devDependencies:
      vitest:
        specifier: ^2
        version: 2.0.0
  apps/site:
    dependencies:
      lodash:
        specifier: ^4
        version: 4.18.1
packages:
  typeorm@0.3.20:
    resolution: {integrity: sha512-x}
    peerDependencies:
      reflect-metadata: ^0.1 || ^0.2
      ts-node: ^10
    peerDependenciesMeta:
      ts-node:
        optional: true
  ts-node@10.9.2:
    resolution: {integrity: sha512-x}
    peerDependencies:
      '@swc/core': '>=1.2'
      typescript: '>=2.7'
    peerDependenciesMeta:
      '@swc/core':
        optional: true
  pg-pool@3.14.0:
    resolution: {integrity: sha512-x}
    peerDependencies:
      pg: '>=8.0'
snapshots:
  '@swc/core@1.3.0':
    optionalDependencies:
      '@swc/core-linux-x64-musl': 1.3.0
  '@swc/core-linux-x64-musl@1.3.0': {}
  lodash@4.18.1: {}
  pg@8.23.1:
    dependencies:
      pg-pool: 3.14.0(pg@8.23.1)
  pg-pool@3.14.0(pg@8.23.1):
    dependencies:
      pg: 8.23.1
  reflect-metadata@0.2.2: {}
  ts-node@10.9.2(@swc/core@1.3.0)(typescript@5.9.3):
    dependencies:
      typescript: 5.9.3
    optionalDependencies:
      '@swc/core': 1.3.0
  typeorm@0.3.20(reflect-metadata@0.2.2)(ts-node@10.9.2(@swc/core@1.3.0)(typescript@5.9.3)):
    dependencies:
      reflect-metadata: 0.2.2
    optionalDependencies:
      ts-node: 10.9.2(@swc/core@1.3.0)(typescript@5.9.3)
  typescript@5.9.3: {}
  vitest@2.0.0: {}
";

    fn closure() -> ProdClosure {
        Lockfile::parse(LOCK)
            .expect("parses")
            .prod_closure("apps/api")
    }

    #[test]
    fn a_required_peer_that_is_also_a_devdependency_is_needed() {
        let c = closure();
        // reflect-metadata: typeorm's required peer, and the root's devDependency
        assert_eq!(c.judge("reflect-metadata", "0.2.2"), Verdict::Needed);
        // pg through the workspace link, pg-pool its dependency with pg as required peer
        assert_eq!(c.judge("pg", "8.23.1"), Verdict::Needed);
        assert_eq!(c.judge("pg-pool", "3.14.0"), Verdict::Needed);
        assert_eq!(c.judge("typeorm", "0.3.20"), Verdict::Needed);
    }

    #[test]
    fn an_optional_peer_dragging_a_compiler_in_is_flagged_with_its_chain_and_fix() {
        let c = closure();
        let Verdict::NotNeeded { chain, fix } = c.judge("ts-node", "10.9.2") else {
            panic!("ts-node is not needed: {:?}", c.judge("ts-node", "10.9.2"));
        };
        assert_eq!(
            chain,
            "apps/api → typeorm@0.3.20 → ts-node@10.9.2 (optional peer)"
        );
        assert!(fix.contains("optional peer of typeorm"), "{fix}");
        assert!(
            fix.contains("apps/api (devDependencies) list(s) it"),
            "{fix}"
        );
        assert!(
            fix.contains("delete typeorm's peerDependencies[\"ts-node\"]"),
            "{fix}"
        );
        // and what ts-node brings: its required peer typescript, its optional peer @swc/core
        // and that one's platform binary
        let Verdict::NotNeeded { chain, .. } = c.judge("typescript", "5.9.3") else {
            panic!("typescript flagged")
        };
        assert_eq!(
            chain,
            "apps/api → typeorm@0.3.20 → ts-node@10.9.2 (optional peer) → typescript@5.9.3 (peer)"
        );
        let Verdict::NotNeeded { chain, fix } = c.judge("@swc/core-linux-x64-musl", "1.3.0") else {
            panic!("swc binary flagged")
        };
        assert!(
            chain.ends_with("@swc/core-linux-x64-musl@1.3.0 (optional)"),
            "{chain}"
        );
        assert!(fix.contains("optional peer of typeorm"), "{fix}");
    }

    /// What pnpm 10.34.9 wrote (`install --lockfile-only`) for an API on ws with
    /// utf-8-validate as a devDependency: ws's optional peer, resolved, under the snapshot's
    /// `optionalDependencies`; `install --prod --filter` puts it (and node-gyp-build) in.
    const WS_LOCK: &str = "\
lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .: {}

  apps/api:
    dependencies:
      ws:
        specifier: ^8.18.0
        version: 8.23.1(utf-8-validate@6.1.0)
    devDependencies:
      utf-8-validate:
        specifier: ^6.0.5
        version: 6.1.0

packages:

  node-gyp-build@4.8.4:
    resolution: {integrity: sha512-LA4ZjwlnUblHVgq0oBF3Jl/6h/Nvs5fzBLwdEF4nuxnFdsfajde4WfxtJr3CaiH+F6ewcIB/q4jQ4UzPyid+CQ==}
    hasBin: true

  utf-8-validate@6.1.0:
    resolution: {integrity: sha512-+VqK0s7hdUuvL95ExzfqCqvsuA2A+3KzNYibPeeDnGU9L5onk8CY5/H30kCHLpVMzEh6HV9Dv8uw+E+Mz4X/dA==}
    engines: {node: '>=6.14.2'}

  ws@8.23.1:
    resolution: {integrity: sha512-1rzWDSN0NOi3tpwgHsQExjWRoKUGtjCkJ2gZRaaRtzhYLboMytOI9pj9PU7yCgY37auqdd4OyLofZDbkeuZmPA==}
    engines: {node: '>=10.0.0'}
    peerDependencies:
      bufferutil: ^4.0.1
      utf-8-validate: '>=5.0.2'
    peerDependenciesMeta:
      bufferutil:
        optional: true
      utf-8-validate:
        optional: true

snapshots:

  node-gyp-build@4.8.4: {}

  utf-8-validate@6.1.0:
    dependencies:
      node-gyp-build: 4.8.4

  ws@8.23.1(utf-8-validate@6.1.0):
    optionalDependencies:
      utf-8-validate: 6.1.0
";

    #[test]
    fn a_real_lockfiles_resolved_optional_peer_is_not_needed() {
        let c = Lockfile::parse(WS_LOCK)
            .expect("parses")
            .prod_closure("apps/api");
        assert_eq!(c.judge("ws", "8.23.1"), Verdict::Needed);
        for (name, chain) in [
            ("utf-8-validate", "apps/api → ws@8.23.1 → utf-8-validate@6.1.0 (optional peer)"),
            (
                "node-gyp-build",
                "apps/api → ws@8.23.1 → utf-8-validate@6.1.0 (optional peer) → node-gyp-build@4.8.4",
            ),
        ] {
            let version = if name == "ws" { "8.23.1" } else if name == "utf-8-validate" { "6.1.0" } else { "4.8.4" };
            match c.judge(name, version) {
                Verdict::NotNeeded { chain: got, fix } => {
                    assert_eq!(got, chain);
                    assert!(fix.contains("optional peer of ws"), "{fix}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_dev_dependency_and_another_apps_package_are_told_apart() {
        let c = closure();
        let Verdict::NotNeeded { chain, fix } = c.judge("vitest", "2.0.0") else {
            panic!("vitest")
        };
        assert_eq!(chain, "apps/api → packages/util → vitest@2.0.0 (dev)");
        assert!(fix.contains("--prod"), "{fix}");
        assert_eq!(
            c.judge("lodash", "4.18.1"),
            Verdict::Outside {
                importer: Some("apps/site".into())
            }
        );
        assert_eq!(
            c.judge("left-pad", "1.0.0"),
            Verdict::Outside { importer: None }
        );
        // another version than the locked one is not the needed package
        assert!(matches!(c.judge("pg", "7.0.0"), Verdict::Outside { .. }));
    }
}
