//! `pnpm-lock.yaml`, read once (lockfile v6 and v9): its importers and its package graph,
//! each edge with its kind (dependency, optional, peer, optional peer, dev). The lockfile
//! check against the manifests, the production closure ([`super::prod`]) and the
//! benchmark's dev-only packages are all read from this one parse.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_yaml::Value;

use super::{Closure, DepKind, Workspace};

/// A resolved package: (name, version without peer suffix).
pub type PkgId = (String, String);

/// `name@1.2.3(peer@4)` → `("name", "1.2.3")`; a leading `/` (lockfile v6) is dropped.
pub fn split_key(key: &str) -> Option<PkgId> {
    let base = base_key(key);
    let at = base.rfind('@').filter(|&i| i > 0)?;
    let (name, version) = (&base[..at], &base[at + 1..]);
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_string(), version.to_string()))
}

/// `/name@1.2.3(peer@4)` → `name@1.2.3`.
fn base_key(key: &str) -> &str {
    let key = key.strip_prefix('/').unwrap_or(key);
    key.split('(').next().unwrap_or(key)
}

/// An importer's dependency section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Prod,
    Optional,
    Dev,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Prod, Section::Optional, Section::Dev];

    pub fn field(self) -> &'static str {
        match self {
            Section::Prod => "dependencies",
            Section::Optional => "optionalDependencies",
            Section::Dev => "devDependencies",
        }
    }
}

/// One dependency of an importer: its specifier (lockfile v6+) and resolved version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImporterDep {
    pub section: Section,
    pub name: String,
    pub specifier: Option<String>,
    pub version: String,
}

/// Why one node of the graph brings in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    Dep,
    Optional,
    /// A resolved peer the package declares required.
    Peer,
    /// A resolved peer the package declares optional (`peerDependenciesMeta`): pnpm links
    /// it when it finds one, but the package runs without it.
    OptionalPeer,
    Dev,
}

impl EdgeKind {
    /// The words a chain shows after the package (`""` for a plain dependency).
    pub fn note(self) -> &'static str {
        match self {
            EdgeKind::Dep => "",
            EdgeKind::Optional => " (optional)",
            EdgeKind::Peer => " (peer)",
            EdgeKind::OptionalPeer => " (optional peer)",
            EdgeKind::Dev => " (dev)",
        }
    }
}

/// A node of the graph: a workspace importer (its directory, `.` the root) or a package
/// (its snapshot key, `name@1.2.3(peer@4)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    Importer(String),
    Package(String),
}

impl Node {
    /// `apps/api`, `typeorm@0.3.20`.
    pub fn label(&self) -> String {
        match self {
            Node::Importer(d) => d.clone(),
            Node::Package(k) => base_key(k).to_string(),
        }
    }
}

/// The parsed lockfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lockfile {
    /// Importer directory → its dependencies; `None` before lockfile v6 (no `importers`).
    pub importers: Option<BTreeMap<String, Vec<ImporterDep>>>,
    /// Every node → what it brings in.
    pub edges: BTreeMap<Node, Vec<(Node, EdgeKind)>>,
}

/// The node a dependency resolves to: a package's snapshot key, or another importer for a
/// workspace link (`link:../x`, relative to `from`); `None` for local files.
fn target(from: &str, name: &str, version: &str) -> Option<Node> {
    if let Some(rel) = version.strip_prefix("link:") {
        let joined = if from == "." {
            rel.to_string()
        } else {
            format!("{from}/{rel}")
        };
        return crate::glob::normalize(&joined)
            .map(|d| Node::Importer(if d.is_empty() { ".".into() } else { d }));
    }
    if version.starts_with("file:") {
        return None;
    }
    // an alias: `npm:real@1.0.0` in the spec, `real@1.0.0` as the resolved version
    match version.find('@') {
        Some(i) if i > 0 && !version.starts_with(|c: char| c.is_ascii_digit()) => {
            Some(Node::Package(version.to_string()))
        }
        _ => Some(Node::Package(format!("{name}@{version}"))),
    }
}

fn entries<'a>(v: &'a Value, field: &str) -> Vec<(String, &'a Value)> {
    v.get(field)
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v)))
                .collect()
        })
        .unwrap_or_default()
}

/// The peers a package declares: (required, optional) names.
fn peers_of(meta: Option<&Value>) -> (BTreeSet<String>, BTreeSet<String>) {
    let Some(m) = meta else {
        return Default::default();
    };
    let optional: BTreeSet<String> = entries(m, "peerDependenciesMeta")
        .into_iter()
        .filter(|(_, v)| v.get("optional").and_then(Value::as_bool) == Some(true))
        .map(|(k, _)| k)
        .collect();
    let required = entries(m, "peerDependencies")
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !optional.contains(k))
        .collect();
    (required, optional)
}

impl Lockfile {
    /// Parses a lockfile's text.
    pub fn parse(text: &str) -> Result<Lockfile> {
        let v: Value = serde_yaml::from_str(text).context("pnpm-lock.yaml is not valid YAML")?;
        let mut lock = Lockfile::default();
        if let Some(imps) = v.get("importers").and_then(Value::as_mapping) {
            let mut out = BTreeMap::new();
            for (k, imp) in imps {
                let Some(dir) = k.as_str() else { continue };
                let mut deps = Vec::new();
                let mut edges = Vec::new();
                for section in Section::ALL {
                    for (name, val) in entries(imp, section.field()) {
                        // v6+: {specifier, version}; v5: a version string
                        let version = val
                            .as_str()
                            .or_else(|| val.get("version").and_then(Value::as_str));
                        let Some(version) = version else { continue };
                        let kind = match section {
                            Section::Prod => EdgeKind::Dep,
                            Section::Optional => EdgeKind::Optional,
                            Section::Dev => EdgeKind::Dev,
                        };
                        if let Some(t) = target(dir, &name, version) {
                            edges.push((t, kind));
                        }
                        deps.push(ImporterDep {
                            section,
                            specifier: val
                                .get("specifier")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                            name,
                            version: version.to_string(),
                        });
                    }
                }
                lock.edges.insert(Node::Importer(dir.to_string()), edges);
                out.insert(dir.to_string(), deps);
            }
            lock.importers = Some(out);
        }
        // v9 keeps the graph in `snapshots` and the declarations in `packages`; v6 both in
        // `packages`
        let packages = v.get("packages").and_then(Value::as_mapping);
        let graph = v.get("snapshots").and_then(Value::as_mapping).or(packages);
        let meta = |key: &str| -> Option<&Value> {
            let p = packages?;
            p.get(Value::String(key.to_string()))
                .or_else(|| p.get(Value::String(base_key(key).to_string())))
                .or_else(|| p.get(Value::String(format!("/{}", base_key(key)))))
        };
        for (k, val) in graph.into_iter().flatten() {
            let Some(key) = k.as_str() else { continue };
            let (required, optional) = peers_of(meta(key));
            let mut edges = Vec::new();
            for (field, plain) in [
                ("dependencies", EdgeKind::Dep),
                ("optionalDependencies", EdgeKind::Optional),
            ] {
                for (name, ver) in entries(val, field) {
                    let Some(ver) = ver.as_str() else { continue };
                    let kind = if optional.contains(&name) {
                        EdgeKind::OptionalPeer
                    } else if required.contains(&name) {
                        EdgeKind::Peer
                    } else {
                        plain
                    };
                    if let Some(Node::Package(t)) = target(".", &name, ver) {
                        edges.push((Node::Package(t), kind));
                    }
                }
            }
            let key = key.strip_prefix('/').unwrap_or(key).to_string();
            lock.edges.insert(Node::Package(key), edges);
        }
        Ok(lock)
    }

    /// Reads `<root>/pnpm-lock.yaml`.
    pub fn read(root: &Path) -> Result<Lockfile> {
        let path = root.join("pnpm-lock.yaml");
        let text = crate::files::read_input_in(root, &path, crate::files::MAX_LOCKFILE)?;
        Lockfile::parse(&text).with_context(|| {
            format!(
                "{} is not a lockfile pnpm wrote; run `pnpm install` to rewrite it",
                path.display()
            )
        })
    }

    /// Breadth first from `roots` along the edges `follow` accepts: each node reached →
    /// the node and edge it was first reached by (`None` for a root). Breadth first, so the
    /// chain back to a root is a shortest one.
    pub fn walk(
        &self,
        roots: &[Node],
        follow: impl Fn(EdgeKind) -> bool,
    ) -> BTreeMap<Node, Option<(Node, EdgeKind)>> {
        let mut seen: BTreeMap<Node, Option<(Node, EdgeKind)>> = BTreeMap::new();
        let mut q: VecDeque<Node> = VecDeque::new();
        for r in roots {
            if !seen.contains_key(r) {
                seen.insert(r.clone(), None);
                q.push_back(r.clone());
            }
        }
        while let Some(n) = q.pop_front() {
            for (to, kind) in self.edges.get(&n).into_iter().flatten() {
                if follow(*kind) && !seen.contains_key(to) {
                    seen.insert(to.clone(), Some((n.clone(), *kind)));
                    q.push_back(to.clone());
                }
            }
        }
        seen
    }

    /// The packages reachable from the devDependencies of `all_importers` (and their other
    /// dependencies) that what a production install of `prod_importers` places never
    /// reaches: what such an install leaves out. Importers are lockfile keys (`.`, `apps/api`).
    pub fn dev_only(&self, prod_importers: &[String], all_importers: &[String]) -> BTreeSet<PkgId> {
        let ids = |w: BTreeMap<Node, Option<(Node, EdgeKind)>>| -> BTreeSet<PkgId> {
            w.keys()
                .filter_map(|n| match n {
                    Node::Package(k) => split_key(k),
                    Node::Importer(_) => None,
                })
                .collect()
        };
        let nodes = |names: &[String]| -> Vec<Node> {
            names.iter().map(|n| Node::Importer(n.clone())).collect()
        };
        // the named importers only: their workspace links are not followed
        let installed = |k: EdgeKind| k != EdgeKind::Dev;
        let no_links = |l: &Lockfile| Lockfile {
            importers: None,
            edges: l
                .edges
                .iter()
                .map(|(n, es)| {
                    let es = es
                        .iter()
                        .filter(|(t, _)| matches!(t, Node::Package(_)))
                        .cloned()
                        .collect();
                    (n.clone(), es)
                })
                .collect(),
        };
        let flat = no_links(self);
        let prod = ids(flat.walk(&nodes(prod_importers), installed));
        let all = ids(flat.walk(&nodes(all_importers), |_| true));
        all.difference(&prod).cloned().collect()
    }
}

/// Checks that `pnpm-lock.yaml` matches the manifests of the API's install closure: every
/// package has its importer, and every dependency its entry with the same specifier. The
/// image installs with `--frozen-lockfile`, which otherwise fails only inside the build.
/// Lockfiles without `importers` specifiers (before lockfile v6) are not checked.
pub fn check_lockfile(ws: &Workspace, closure: &Closure) -> Result<()> {
    let path = ws.root.join("pnpm-lock.yaml");
    let text = crate::files::read_input_in(&ws.root, &path, crate::files::MAX_LOCKFILE)?;
    let lock = Lockfile::parse(&text).with_context(|| {
        format!(
            "{} is not valid YAML; run `pnpm install` to rewrite it",
            path.display()
        )
    })?;
    let Some(importers) = &lock.importers else {
        return Ok(());
    };
    let fix = "run `pnpm install` at the root and commit pnpm-lock.yaml (the image installs with \
               --frozen-lockfile, which would fail inside the build)";
    for p in &closure.install {
        let Some(imp) = importers.get(p.dir.as_str()) else {
            bail!("pnpm-lock.yaml is out of date: it has no entry for the workspace package {} ({}); {fix}", p.name, p.dir);
        };
        // the importer's entries and the manifest's names, indexed: linear in their sizes
        let by_key: std::collections::HashMap<(&str, &str), _> = imp
            .iter()
            .map(|e| ((e.section.field(), e.name.as_str()), e))
            .rev()
            .collect();
        let listed: std::collections::HashSet<&str> =
            p.manifest.deps.iter().map(|d| d.name.as_str()).collect();
        for d in &p.manifest.deps {
            let section = match d.kind {
                DepKind::Prod => Section::Prod,
                DepKind::Optional => Section::Optional,
                DepKind::Dev => Section::Dev,
                DepKind::Peer => continue,
            };
            let field = section.field();
            let entry = by_key.get(&(field, d.name.as_str())).copied();
            let Some(entry) = entry else {
                bail!(
                    "pnpm-lock.yaml is out of date: {}/package.json has {field} {} {}, the lockfile does not; {fix}",
                    p.dir,
                    d.name,
                    crate::values::shown(&d.spec)
                );
            };
            // lockfile v6+: `{ specifier, version }`
            if let Some(spec) = &entry.specifier {
                if *spec != d.spec {
                    bail!(
                        "pnpm-lock.yaml is out of date: {}/package.json has {field} {} {}, the lockfile {}; {fix}",
                        p.dir,
                        d.name,
                        crate::values::shown(&d.spec),
                        crate::values::shown(spec)
                    );
                }
            }
        }
        // and nothing the manifest no longer has
        for e in imp {
            if !listed.contains(e.name.as_str()) {
                bail!(
                    "pnpm-lock.yaml is out of date: it has {} {} for {}, which {}/package.json no longer lists; {fix}",
                    e.section.field(),
                    e.name,
                    p.dir,
                    p.dir
                );
            }
        }
    }
    Ok(())
}
