//! Finding packages by name and the API's workspace dependency closure: what `pnpm install
//! --filter <api>...` installs and what the running API needs.

use anyhow::{anyhow, bail, Context, Result};

use super::{parse_manifest, pnpm_version_of, Closure, DepKind, Package, Workspace, SKIP_DIRS};
use crate::glob;

impl Workspace {
    /// Why no package named `name` was found, when a directory the search skipped holds it.
    pub fn why_not_found(&self, name: &str) -> Option<String> {
        for (dir, why) in &self.not_searched {
            // look a few levels into the skipped directory for a manifest with that name
            let mut stack = vec![(self.root.join(dir), 0usize)];
            while let Some((d, depth)) = stack.pop() {
                let m = d.join("package.json");
                if let Ok(text) = crate::files::read_in(&self.root, &m, crate::files::MAX_INPUT) {
                    if parse_manifest(&text, "package.json")
                        .ok()
                        .and_then(|m| m.name)
                        .as_deref()
                        == Some(name)
                    {
                        let at = d
                            .strip_prefix(&self.root)
                            .unwrap_or(&d)
                            .display()
                            .to_string();
                        return Some(format!("{name} is at {at}, but {dir} {why}"));
                    }
                }
                if depth < 6 {
                    if let Ok(rd) = std::fs::read_dir(&d) {
                        for e in rd.filter_map(|e| e.ok()) {
                            let n = e.file_name().to_string_lossy().to_string();
                            if e.file_type().is_ok_and(|t| t.is_dir())
                                && !SKIP_DIRS.contains(&n.as_str())
                                && !n.starts_with('.')
                            {
                                stack.push((e.path(), depth + 1));
                            }
                        }
                    }
                }
            }
        }
        None
    }

    pub fn find_by_name(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// The pnpm version to pin: `packageManager` when it names one, else the fallback.
    pub fn pnpm_version(&self, fallback: &str) -> Result<String> {
        match &self.root_manifest.package_manager {
            Some(pm) => pnpm_version_of(pm).context("in the root package.json"),
            None => Ok(fallback.to_string()),
        }
    }

    /// Finds the API by directory (when given) or by package name.
    pub fn find_api(&self, name: &str, path: Option<&str>) -> Result<&Package> {
        let names = || {
            self.packages
                .iter()
                .map(|p| format!("{} ({})", p.name, p.dir))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found = match path {
            Some(dir) => {
                let dir = dir.trim_start_matches("./").trim_end_matches('/');
                crate::values::inside_root(&self.root, dir).map_err(|m| {
                    anyhow!("api.path {m}: the image is built from the monorepo root; point api.path at the package's real directory")
                })?;
                self.packages.iter().find(|p| p.dir == dir).ok_or_else(|| {
                    anyhow!(
                        "no workspace package at {dir:?} (api.path): workspace packages are {}; fix api.path in the config",
                        names()
                    )
                })?
            }
            None => self.find_by_name(name).ok_or_else(|| {
                if let Some(why) = self.why_not_found(name) {
                    return anyhow!("no workspace package is named {name:?} (api.package): {why}");
                }
                anyhow!(
                    "no workspace package is named {name:?} (api.package): workspace packages are {}; set api.package or api.path in the config, or let `cargo xtask config init` write one from the workspace",
                    names()
                )
            })?,
        };
        if !found.manifest.scripts.contains_key("build") {
            bail!(
                "the API package {} ({}) has no \"build\" script in its package.json: the image builds it with that script; add one (e.g. \"build\": \"tsc -p tsconfig.json\")",
                found.name,
                found.dir
            );
        }
        Ok(found)
    }

    /// The workspace packages a dependency links to (`workspace:` protocol).
    fn workspace_deps<'a>(&'a self, p: &'a Package, kinds: &[DepKind]) -> Result<Vec<&'a Package>> {
        let mut out = Vec::new();
        for d in &p.manifest.deps {
            if !kinds.contains(&d.kind) {
                continue;
            }
            if let Some(path) = d
                .spec
                .strip_prefix("link:")
                .or_else(|| d.spec.strip_prefix("file:"))
            {
                let target = glob::normalize(&format!("{}/{}", p.dir, path.trim_end_matches('/')));
                match target.and_then(|t| self.packages.iter().find(|q| q.dir == t)) {
                    Some(dep) => {
                        if !out.iter().any(|q: &&Package| q.name == dep.name) {
                            out.push(dep);
                        }
                    }
                    None => bail!(
                        "{} ({}) depends on {} with {}, which is not a workspace package: the image's build context \
                         holds only workspace packages; add its directory to pnpm-workspace.yaml and depend on it with \
                         \"workspace:*\"",
                        p.name,
                        p.dir,
                        d.name,
                        crate::values::shown(&d.spec)
                    ),
                }
                continue;
            }
            let Some(spec) = d.spec.strip_prefix("workspace:") else {
                continue;
            };
            // `workspace:other-name@*` aliases another package
            let target = match spec.rsplit_once('@') {
                Some((alias, _)) if !alias.is_empty() => alias.to_string(),
                _ => d.name.clone(),
            };
            let dep = self.find_by_name(&target).ok_or_else(|| {
                if let Some(why) = self.why_not_found(&target) {
                    return anyhow!(
                        "{} ({}) depends on {} with {:?}, but no workspace package has that name: {why}",
                        p.name,
                        p.dir,
                        target,
                        d.spec
                    );
                }
                anyhow!(
                    "{} ({}) depends on {} with {:?}, but no workspace package has that name",
                    p.name,
                    p.dir,
                    target,
                    d.spec
                )
            })?;
            if !out.iter().any(|q: &&Package| q.name == dep.name) {
                out.push(dep);
            }
        }
        Ok(out)
    }

    /// The API's closure, ordered dependencies first; fails on a dependency cycle.
    pub fn closure(&self, api: &Package) -> Result<Closure> {
        let all = [
            DepKind::Prod,
            DepKind::Optional,
            DepKind::Dev,
            DepKind::Peer,
        ];
        let runtime_kinds = [DepKind::Prod, DepKind::Optional, DepKind::Peer];
        let install = self.topo(api, &all)?;
        let runtime = self.topo(api, &runtime_kinds)?;
        for p in &runtime {
            self.check_runtime_files(p, p.name == api.name)?;
        }
        Ok(Closure {
            api: api.clone(),
            install,
            runtime,
        })
    }

    /// A runtime package's `files` entries are paths inside it (no `..`, not absolute, no
    /// secret file, only what the Dockerfile can carry), and a dependency without a build
    /// script ships something that exists in its sources (`files` or `main`), since no stage
    /// makes its outputs.
    fn check_runtime_files(&self, p: &Package, is_api: bool) -> Result<()> {
        for f in &p.manifest.files {
            let entry = f.trim_start_matches('!');
            let plain = entry.trim_start_matches("./").trim_end_matches('/');
            let top = plain.split('/').next().unwrap_or(plain);
            let bad = if entry.starts_with('/') {
                Some("is absolute".to_string())
            } else if plain.split('/').any(|c| c == "..") || plain.is_empty() || plain == "." {
                Some("leaves the package (`..`, or the package directory itself)".to_string())
            } else if crate::secrets::secret_of(plain).is_some() {
                Some("names a secret file (see the list in docs/verify.md)".to_string())
            } else if glob::is_glob(top) {
                None
            } else {
                crate::values::rel_path(top).err()
            };
            if let Some(why) = bad {
                bail!(
                    "{}/package.json: the \"files\" entry {} {why}: the image copies these paths from the package; \
                     list only the package's own outputs (e.g. \"dist\")",
                    p.dir,
                    crate::values::shown(f)
                );
            }
        }
        if is_api || p.manifest.scripts.contains_key("build") {
            return Ok(());
        }
        let paths = p.runtime_paths();
        let shipped = paths
            .iter()
            .any(|r| r != "dist" && self.root.join(&p.dir).join(r).exists());
        if !shipped {
            bail!(
                "{} ({}) is a runtime dependency of the API with no \"build\" script, and none of what it ships \
                 ({}) exists in its sources: the image would copy files no stage makes. Add a \"build\" script, or \
                 point \"main\"/\"files\" at files that are in the repository",
                p.name,
                p.dir,
                paths.join(", ")
            );
        }
        Ok(())
    }

    fn topo(&self, start: &Package, kinds: &[DepKind]) -> Result<Vec<Package>> {
        let mut order: Vec<Package> = Vec::new();
        let mut stack: Vec<String> = Vec::new();
        self.visit(start, kinds, &mut stack, &mut order)?;
        Ok(order)
    }

    fn visit(
        &self,
        p: &Package,
        kinds: &[DepKind],
        stack: &mut Vec<String>,
        order: &mut Vec<Package>,
    ) -> Result<()> {
        if let Some(i) = stack.iter().position(|n| *n == p.name) {
            let mut cycle: Vec<String> = stack[i..].to_vec();
            cycle.push(p.name.clone());
            bail!(
                "workspace dependency cycle: {}; break the cycle (pnpm cannot build the packages in order)",
                cycle.join(" -> ")
            );
        }
        if order.iter().any(|q| q.name == p.name) {
            return Ok(());
        }
        stack.push(p.name.clone());
        for dep in self.workspace_deps(p, kinds)? {
            self.visit(dep, kinds, stack, order)?;
        }
        stack.pop();
        order.push(p.clone());
        Ok(())
    }
}

impl Package {
    /// What of this package the running API needs besides its manifest and node_modules:
    /// the `files` entries, else the directory of `main`, else `dist`.
    pub fn runtime_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in &self.manifest.files {
            if f.starts_with('!') {
                continue;
            }
            let f = f.trim_start_matches("./").trim_end_matches('/');
            let top = if glob::is_glob(f) {
                f.split('/').next().unwrap_or(f)
            } else {
                f
            };
            if !top.is_empty()
                && !glob::is_glob(top)
                && top != "package.json"
                && !out.iter().any(|o| o == top)
            {
                out.push(top.to_string());
            }
        }
        if out.is_empty() {
            if let Some(main) = &self.manifest.main {
                let main = main.trim_start_matches("./");
                let top = main.split('/').next().unwrap_or(main);
                if !top.is_empty() {
                    out.push(top.to_string());
                }
            }
        }
        if out.is_empty() {
            out.push("dist".into());
        }
        out
    }
}
