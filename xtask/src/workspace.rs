//! The pnpm monorepo: `pnpm-workspace.yaml`, the package manifests, and the API's
//! workspace dependency closure (what `pnpm install --filter <api>...` needs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value as Json;

use crate::glob;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DepKind {
    Prod,
    Optional,
    Dev,
    Peer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub spec: String,
    pub kind: DepKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: Option<String>,
    pub version: Option<String>,
    pub scripts: BTreeMap<String, String>,
    pub deps: Vec<Dep>,
    pub main: Option<String>,
    pub files: Vec<String>,
    pub package_manager: Option<String>,
    /// `pnpm.patchedDependencies` values (patch files, relative to the root).
    pub patches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// Directory relative to the root, with `/`.
    pub dir: String,
    pub manifest: Manifest,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub root_manifest: Manifest,
    /// Every workspace package, sorted by directory.
    pub packages: Vec<Package>,
    /// Patch files that `pnpm install` reads (from package.json or pnpm-workspace.yaml).
    pub patches: Vec<String>,
    /// Root files the packages' builds read (tsconfig*.json and what `extends` reaches).
    pub root_build_files: Vec<String>,
    pub has_npmrc: bool,
    /// Directories the package search did not enter: (dir, why) — a symbolic link (the
    /// build context cannot follow it) or deeper than [`MAX_DEPTH`]. Used to say why a
    /// package is not found.
    pub not_searched: Vec<(String, String)>,
}

/// The API and the workspace packages it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub api: Package,
    /// The API and every workspace package it reaches through any dependency kind,
    /// dependencies before dependents (the order `pnpm --filter <api>... run build` uses).
    pub install: Vec<Package>,
    /// The subset reached through runtime (prod and optional) dependencies, API last.
    pub runtime: Vec<Package>,
}

pub fn parse_manifest(text: &str, file: &str) -> Result<Manifest> {
    if text.starts_with('\u{feff}') {
        bail!(
            "{file} starts with a byte-order mark (U+FEFF), which JSON does not allow and pnpm's \
             readers do not all skip: save it as UTF-8 without a BOM"
        );
    }
    let v: Json =
        serde_json::from_str(text).with_context(|| format!("{file} is not valid JSON"))?;
    let obj = v
        .as_object()
        .with_context(|| format!("{file} must hold a JSON object"))?;
    let str_of = |k: &str| obj.get(k).and_then(Json::as_str).map(str::to_string);
    let mut deps = Vec::new();
    for (field, kind) in [
        ("dependencies", DepKind::Prod),
        ("optionalDependencies", DepKind::Optional),
        ("devDependencies", DepKind::Dev),
        ("peerDependencies", DepKind::Peer),
    ] {
        if let Some(map) = obj.get(field).and_then(Json::as_object) {
            for (name, spec) in map {
                let spec = spec
                    .as_str()
                    .with_context(|| format!("{file}: {field}.{name} must be a string"))?;
                deps.push(Dep {
                    name: name.clone(),
                    spec: spec.to_string(),
                    kind,
                });
            }
        }
    }
    let scripts = obj
        .get("scripts")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let files = obj
        .get("files")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let patches = obj
        .get("pnpm")
        .and_then(|p| p.get("patchedDependencies"))
        .and_then(Json::as_object)
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let package_manager = match obj.get("packageManager") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => bail!(
            "{file}: \"packageManager\" is {}, not a string: write it as \"pnpm@<exact version>\", e.g. \"pnpm@10.34.9\"",
            crate::values::shown(&other.to_string())
        ),
    };
    Ok(Manifest {
        name: str_of("name"),
        version: str_of("version"),
        scripts,
        deps,
        main: str_of("main"),
        files,
        package_manager,
        patches,
    })
}

fn read(path: &Path) -> Result<String> {
    crate::files::read_input(path, crate::files::MAX_INPUT)
}

/// Reads the monorepo at `root`.
pub fn load(root: &Path) -> Result<Workspace> {
    if !root.is_dir() {
        bail!(
            "monorepo root {} is not a directory (pass --root DIR)",
            root.display()
        );
    }
    let ws_file = root.join("pnpm-workspace.yaml");
    if !ws_file.is_file() {
        let other = [
            ("package-lock.json", "npm"),
            ("yarn.lock", "yarn"),
            ("bun.lockb", "bun"),
        ]
        .iter()
        .find(|(f, _)| root.join(f).exists())
        .map(|(f, tool)| {
            format!(
                " It looks like a project managed by {tool} ({f}); this tool supports pnpm workspaces only."
            )
        })
        .unwrap_or_default();
        bail!(
            "{} has no pnpm-workspace.yaml, so it is not a pnpm monorepo.{other} Pass --root with the monorepo's root directory.",
            root.display()
        );
    }
    if !root.join("pnpm-lock.yaml").is_file() {
        bail!(
            "{} has no pnpm-lock.yaml: the image installs with --frozen-lockfile. Run `pnpm install` at the root and commit the lockfile.",
            root.display()
        );
    }
    let ws_text = read(&ws_file)?;
    let ws_yaml: serde_yaml::Value = serde_yaml::from_str(&ws_text)
        .with_context(|| format!("{} is not valid YAML", ws_file.display()))?;
    let patterns: Vec<String> = match ws_yaml.get("packages") {
        Some(serde_yaml::Value::Sequence(seq)) => seq
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .context("pnpm-workspace.yaml: packages must be strings")
            })
            .collect::<Result<_>>()?,
        None | Some(serde_yaml::Value::Null) => Vec::new(),
        Some(_) => bail!("pnpm-workspace.yaml: `packages` must be a list of globs"),
    };
    if !patterns.iter().any(|p| !p.starts_with('!')) {
        bail!(
            "{} lists no workspace packages (`packages:` is missing or empty): list the package \
             directories, e.g. `packages: [\"apps/*\", \"packages/*\"]`",
            ws_file.display()
        );
    }
    for p in &patterns {
        let body = p.trim_start_matches('!').trim_start_matches("./");
        if body.starts_with('/') || body.split('/').any(|c| c == "..") {
            bail!(
                "pnpm-workspace.yaml: the package glob {} reaches outside the monorepo root: the image is built \
                 from the root, so every workspace package must be inside it; move the package into the root, \
                 or pass --root with a directory that holds them all",
                crate::values::shown(p)
            );
        }
    }
    let mut patches: Vec<String> = ws_yaml
        .get("patchedDependencies")
        .and_then(|m| m.as_mapping())
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();

    let root_pkg = root.join("package.json");
    if !root_pkg.is_file() {
        bail!("{} has no package.json at its root", root.display());
    }
    let root_manifest = parse_manifest(&read(&root_pkg)?, "package.json")?;
    patches.extend(root_manifest.patches.iter().cloned());
    patches.sort();
    patches.dedup();

    let (include, exclude): (Vec<&String>, Vec<&String>) =
        patterns.iter().partition(|p| !p.starts_with('!'));
    let mut dirs = Vec::new();
    let mut not_searched = Vec::new();
    collect_dirs(root, "", 0, &mut dirs, &mut not_searched)?;
    let mut packages = Vec::new();
    for dir in dirs {
        let norm = |p: &str| p.trim_start_matches("./").trim_end_matches('/').to_string();
        let inc = include.iter().any(|p| glob::matches(&norm(p), &dir));
        let exc = exclude.iter().any(|p| glob::matches(&norm(&p[1..]), &dir));
        if !inc || exc {
            continue;
        }
        let file = format!("{dir}/package.json");
        let text = match crate::files::read_regular(&root.join(&file), crate::files::MAX_INPUT) {
            Ok(t) => t,
            Err(crate::files::Refused::Missing) => continue,
            Err(r) => bail!(
                "{file} {}; a workspace package's manifest must be a regular UTF-8 file: replace it",
                r.phrase(crate::files::MAX_INPUT)
            ),
        };
        let manifest = parse_manifest(&text, &file)?;
        let Some(name) = manifest.name.clone() else {
            continue;
        };
        packages.push(Package {
            name,
            dir,
            manifest,
        });
    }
    packages.sort_by(|a, b| a.dir.cmp(&b.dir));
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for p in &packages {
        if let Some(other) = seen.insert(&p.name, &p.dir) {
            bail!(
                "two workspace packages are named {}: {} and {}; names must be unique",
                p.name,
                other,
                p.dir
            );
        }
    }
    let has_npmrc = root.join(".npmrc").is_file();
    let mut ws = Workspace {
        root: root.to_path_buf(),
        root_manifest,
        packages,
        patches,
        root_build_files: Vec::new(),
        has_npmrc,
        not_searched,
    };
    ws.root_build_files = root_build_files(&ws)?;
    Ok(ws)
}

/// Directories never searched for workspace packages (outputs, dependencies, VCS).
pub const SKIP_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    "target",
    "dist",
    ".turbo",
    ".next",
    "coverage",
];

/// How deep the package search goes below the root.
pub const MAX_DEPTH: usize = 7;

fn collect_dirs(
    root: &Path,
    rel: &str,
    depth: usize,
    out: &mut Vec<String>,
    not_searched: &mut Vec<(String, String)>,
) -> Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut names: Vec<(String, bool)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let ft = e.file_type().ok()?;
            let link_to_dir = ft.is_symlink() && e.path().is_dir();
            (ft.is_dir() || link_to_dir)
                .then(|| Some((e.file_name().into_string().ok()?, link_to_dir)))?
        })
        .filter(|(n, _)| !SKIP_DIRS.contains(&n.as_str()) && !n.starts_with('.'))
        .collect();
    names.sort();
    for (n, link) in names {
        let child = if rel.is_empty() {
            n
        } else {
            format!("{rel}/{n}")
        };
        if link {
            let to = std::fs::read_link(root.join(&child))
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            not_searched.push((
                child,
                format!(
                    "is a symbolic link (to {}): a package directory must be a real directory inside the root, since the \
                     build context does not follow links; replace the link with the directory",
                    crate::values::shown(&to)
                ),
            ));
            continue;
        }
        if depth + 1 > MAX_DEPTH {
            not_searched.push((
                child,
                format!(
                    "is deeper than the {MAX_DEPTH} levels this tool searches for packages: move the package up"
                ),
            ));
            continue;
        }
        out.push(child.clone());
        collect_dirs(root, &child, depth + 1, out, not_searched)?;
    }
    Ok(())
}

/// Root-level files that builds read: every root `tsconfig*.json`, and what the workspace
/// packages' tsconfig files `extends` outside their own directory.
fn root_build_files(ws: &Workspace) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&ws.root) {
        for e in rd.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("tsconfig") && name.ends_with(".json") && e.path().is_file() {
                out.push(name);
            }
        }
    }
    for p in &ws.packages {
        for cfg in ["tsconfig.json", "tsconfig.build.json"] {
            let Ok(text) = crate::files::read_regular(
                &ws.root.join(&p.dir).join(cfg),
                crate::files::MAX_INPUT,
            ) else {
                continue;
            };
            if let Some(ext) = extends_of(&text) {
                let Some(rel) = glob::normalize(&format!("{}/{}", p.dir, ext)) else {
                    bail!(
                        "{}/{cfg} extends {}, outside the monorepo root: the image is built from the root and could \
                         not read it; move that config inside the root (e.g. a tsconfig.base.json at the root)",
                        p.dir,
                        crate::values::shown(&ext)
                    );
                };
                {
                    let inside_pkg = ws
                        .packages
                        .iter()
                        .any(|q| rel.starts_with(&format!("{}/", q.dir)));
                    if !inside_pkg && ws.root.join(&rel).is_file() && !out.contains(&rel) {
                        out.push(rel);
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The string value of `"extends"` in a tsconfig (which may hold comments).
fn extends_of(text: &str) -> Option<String> {
    let i = text.find("\"extends\"")?;
    let rest = &text[i + 9..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let end = rest.find('"')?;
    let v = &rest[..end];
    (v.starts_with("./") || v.starts_with("../")).then(|| v.to_string())
}

/// A `packageManager` field, checked: it must be pnpm at an exact version.
pub fn pnpm_version_of(field: &str) -> Result<String> {
    let shown = crate::values::shown(field);
    let (tool, rest) = field.split_once('@').ok_or_else(|| {
        anyhow!("packageManager {shown} must be pnpm@<exact version>, e.g. pnpm@10.34.9")
    })?;
    if tool != "pnpm" {
        bail!("packageManager is {shown}, not pnpm: this tool builds pnpm monorepos only");
    }
    let version = rest.split('+').next().unwrap_or(rest);
    if let Err(why) = crate::values::semver(version) {
        bail!(
            "packageManager {shown} is not an exact version: pin it, e.g. \"pnpm@10.34.9\" ({why})"
        );
    }
    Ok(version.to_string())
}

/// Checks that `pnpm-lock.yaml` matches the manifests of the API's install closure: every
/// package has its importer, and every dependency its entry with the same specifier. The
/// image installs with `--frozen-lockfile`, which otherwise fails only inside the build.
/// Lockfiles without `importers` specifiers (before lockfile v6) are not checked.
pub fn check_lockfile(ws: &Workspace, closure: &Closure) -> Result<()> {
    let path = ws.root.join("pnpm-lock.yaml");
    let text = crate::files::read_input(&path, crate::files::MAX_LOCKFILE)?;
    let lock: serde_yaml::Value = serde_yaml::from_str(&text).with_context(|| {
        format!(
            "{} is not valid YAML; run `pnpm install` to rewrite it",
            path.display()
        )
    })?;
    let Some(importers) = lock.get("importers").and_then(|i| i.as_mapping()) else {
        return Ok(());
    };
    let fix = "run `pnpm install` at the root and commit pnpm-lock.yaml (the image installs with \
               --frozen-lockfile, which would fail inside the build)";
    for p in &closure.install {
        let Some(imp) = importers.get(p.dir.as_str()) else {
            bail!("pnpm-lock.yaml is out of date: it has no entry for the workspace package {} ({}); {fix}", p.name, p.dir);
        };
        for d in &p.manifest.deps {
            let section = match d.kind {
                DepKind::Prod => "dependencies",
                DepKind::Optional => "optionalDependencies",
                DepKind::Dev => "devDependencies",
                DepKind::Peer => continue,
            };
            let entry = imp.get(section).and_then(|s| s.get(d.name.as_str()));
            let Some(entry) = entry else {
                bail!(
                    "pnpm-lock.yaml is out of date: {}/package.json has {section} {} {}, the lockfile does not; {fix}",
                    p.dir,
                    d.name,
                    crate::values::shown(&d.spec)
                );
            };
            // lockfile v6+: `{ specifier, version }`
            if let Some(spec) = entry.get("specifier").and_then(|s| s.as_str()) {
                if spec != d.spec {
                    bail!(
                        "pnpm-lock.yaml is out of date: {}/package.json has {section} {} {}, the lockfile {}; {fix}",
                        p.dir,
                        d.name,
                        crate::values::shown(&d.spec),
                        crate::values::shown(spec)
                    );
                }
            }
        }
        // and nothing the manifest no longer has
        for section in ["dependencies", "optionalDependencies", "devDependencies"] {
            if let Some(m) = imp.get(section).and_then(|s| s.as_mapping()) {
                for name in m.keys().filter_map(|k| k.as_str()) {
                    if !p.manifest.deps.iter().any(|d| d.name == name) {
                        bail!(
                            "pnpm-lock.yaml is out of date: it has {section} {name} for {}, which {}/package.json no longer lists; {fix}",
                            p.dir,
                            p.dir
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

impl Workspace {
    /// Why no package named `name` was found, when a directory the search skipped holds it.
    pub fn why_not_found(&self, name: &str) -> Option<String> {
        for (dir, why) in &self.not_searched {
            // look a few levels into the skipped directory for a manifest with that name
            let mut stack = vec![(self.root.join(dir), 0usize)];
            while let Some((d, depth)) = stack.pop() {
                let m = d.join("package.json");
                if let Ok(text) = crate::files::read_regular(&m, crate::files::MAX_INPUT) {
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
                    "no workspace package is named {name:?} (api.package): workspace packages are {}; set api.package or api.path in the config",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_manager_field() {
        assert_eq!(pnpm_version_of("pnpm@10.34.9").expect("ok"), "10.34.9");
        assert_eq!(
            pnpm_version_of("pnpm@10.34.9+sha512.abc").expect("ok"),
            "10.34.9"
        );
        assert!(format!("{:#}", pnpm_version_of("yarn@4.1.0").unwrap_err()).contains("not pnpm"));
        assert!(format!("{:#}", pnpm_version_of("pnpm@10").unwrap_err())
            .contains("not an exact version"));
        assert!(pnpm_version_of("pnpm@^10.2.0").is_err());
    }

    #[test]
    fn extends_and_paths() {
        assert_eq!(
            extends_of("{ // c\n \"extends\" : \"../../tsconfig.base.json\" }").as_deref(),
            Some("../../tsconfig.base.json")
        );
        assert_eq!(extends_of("{\"extends\": \"@tsconfig/node22\"}"), None);
        assert_eq!(
            glob::normalize("apps/api/../../tsconfig.base.json").as_deref(),
            Some("tsconfig.base.json")
        );
        assert_eq!(glob::normalize("../x"), None);
    }

    #[test]
    fn runtime_paths_from_files_main_or_dist() {
        let mk = |files: &[&str], main: Option<&str>| Package {
            name: "p".into(),
            dir: "p".into(),
            manifest: Manifest {
                name: Some("p".into()),
                version: None,
                scripts: BTreeMap::new(),
                deps: vec![],
                main: main.map(str::to_string),
                files: files.iter().map(|s| s.to_string()).collect(),
                package_manager: None,
                patches: vec![],
            },
        };
        assert_eq!(
            mk(&["dist", "!dist/*.map"], None).runtime_paths(),
            vec!["dist"]
        );
        assert_eq!(
            mk(&["lib/**/*.js", "README.md"], None).runtime_paths(),
            vec!["lib", "README.md"]
        );
        assert_eq!(
            mk(&[], Some("./build/index.js")).runtime_paths(),
            vec!["build"]
        );
        assert_eq!(mk(&[], None).runtime_paths(), vec!["dist"]);
    }
}
