//! The pnpm monorepo: `pnpm-workspace.yaml`, the package manifests, and the API's
//! workspace dependency closure (what `pnpm install --filter <api>...` needs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::glob;

mod closure;
pub mod lockfile;
mod manifest;
pub mod prod;
mod settings;

pub use lockfile::{check_lockfile, Lockfile};
pub use manifest::parse_manifest;
pub use prod::{ProdClosure, Verdict};
pub use settings::{Layout, PnpmSettings, Setting};

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
    /// `bin`: (command, file) pairs (a string `bin` is named after the package).
    pub bin: Vec<(String, String)>,
    /// Top-level objects naming a `schema` (a tool's settings: `prisma`, an ORM's own key):
    /// (key, (field, string value)) for the object's string fields.
    pub tool_settings: Vec<(String, BTreeMap<String, String>)>,
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
    /// The install layout settings (`.npmrc`, `pnpm-workspace.yaml`).
    pub pnpm_settings: PnpmSettings,
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

fn read(root: &Path, path: &Path) -> Result<String> {
    crate::files::read_input_in(root, path, crate::files::MAX_INPUT)
}

/// Reads the monorepo at `root`.
pub fn load(root: &Path) -> Result<Workspace> {
    let ws_file = require_pnpm_root(root)?;
    let ws_text = read(root, &ws_file)?;
    let ws_yaml: serde_yaml::Value = serde_yaml::from_str(&ws_text)
        .with_context(|| format!("{} is not valid YAML", ws_file.display()))?;
    let patterns = package_globs(&ws_file, &ws_yaml)?;
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
    let root_manifest = parse_manifest(&read(root, &root_pkg)?, "package.json")?;
    patches.extend(root_manifest.patches.iter().cloned());
    patches.sort();
    patches.dedup();

    let (packages, not_searched) = find_packages(root, &patterns)?;
    let has_npmrc = root.join(".npmrc").is_file();
    let pnpm_settings = PnpmSettings::read(root, &ws_yaml)?;
    let mut ws = Workspace {
        root: root.to_path_buf(),
        root_manifest,
        packages,
        patches,
        root_build_files: Vec::new(),
        has_npmrc,
        pnpm_settings,
        not_searched,
    };
    ws.root_build_files = root_build_files(&ws)?;
    Ok(ws)
}

/// `root` is a pnpm monorepo with a lockfile: its `pnpm-workspace.yaml`, or an error naming
/// the fix (and the package manager it looks managed by).
fn require_pnpm_root(root: &Path) -> Result<PathBuf> {
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
    Ok(ws_file)
}

/// The `packages:` globs of `pnpm-workspace.yaml`: at least one that includes, none reaching
/// outside the root.
fn package_globs(ws_file: &Path, ws_yaml: &serde_yaml::Value) -> Result<Vec<String>> {
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
    Ok(patterns)
}

/// (dir, why) of the directories the package search did not enter.
type NotSearched = Vec<(String, String)>;

/// The workspace packages the globs select (sorted by directory, names unique), and the
/// directories the search did not enter, with why.
fn find_packages(root: &Path, patterns: &[String]) -> Result<(Vec<Package>, NotSearched)> {
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
        let text = match crate::files::read_in(root, Path::new(&file), crate::files::MAX_INPUT) {
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
    Ok((packages, not_searched))
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
            let Ok(text) = crate::files::read_in(
                &ws.root,
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
                bin: vec![],
                tool_settings: vec![],
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
