//! The API's image as the Dockerfile and its ignore file are rendered from it: the closure's
//! packages, how each builds (`node --run` or pnpm), what the runtime stage carries.

use anyhow::Result;

use super::DOCKERFILE;
use crate::config::{BuildRunner, Config};
use crate::workspace::{Closure, Workspace};

/// Everything the API's Dockerfile and ignore file are rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiImage {
    pub node_image: String,
    pub pnpm_version: String,
    /// The package name passed to `--filter`.
    pub api_name: String,
    pub api_dir: String,
    /// Root files `pnpm install` reads.
    pub root_install_files: Vec<String>,
    /// Patch files `pnpm install` reads (pnpm.patchedDependencies).
    pub patches: Vec<String>,
    /// Workspace packages whose manifests the filtered install needs (dependencies first).
    pub install_dirs: Vec<String>,
    /// Every closure package, dependencies first: each is copied and built in its own
    /// layer, so a change to one package rebuilds it and its dependents only.
    pub build_steps: Vec<BuildStep>,
    /// Root files the build reads (tsconfig.base.json, ...).
    pub root_build_files: Vec<String>,
    /// (package dir, runtime paths) for every package the running API loads, API last.
    pub runtime: Vec<(String, Vec<String>)>,
    /// Workspace packages outside the closure (kept out of the build context).
    pub outside: Vec<String>,
    pub port: u16,
    pub entry: String,
    pub user: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    /// Pass `.npmrc` as a build secret (never copied) when the monorepo has one.
    pub npmrc_secret: bool,
    /// Build-only files (`*.tsbuildinfo`, `*.map`, `*.d.ts`) removed from the runtime paths
    /// before the runtime stage copies them: all but `api.keep_build_files`.
    pub prune_build_files: Vec<String>,
    /// How the installs lay out node_modules against the monorepo's settings.
    pub layout: InstallLayout,
    /// `[api.generate]` and `api.runtime_files`: generators run before the first package
    /// build, files the runtime carries besides the build outputs.
    pub codegen: super::Codegen,
}

/// The image's install layout when the monorepo's settings would hoist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallLayout {
    /// The monorepo's settings give an isolated layout already: nothing to pass.
    AsConfigured,
    /// The monorepo hoists (the setting and where it is set, `node-linker=hoisted
    /// (.npmrc:1)`): the installs pass `--config.node-linker=isolated`, so the image holds
    /// the API's closure only.
    Isolated { over: String },
    /// `api.hoist = true` keeps the monorepo's hoisted layout (every project's dependencies).
    Hoisted { setting: String },
}

/// The flag that gives an install the isolated layout whatever `.npmrc` and
/// `pnpm-workspace.yaml` say.
pub const ISOLATED_FLAG: &str = "--config.node-linker=isolated";

/// One workspace package of the API's closure in the build stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildStep {
    pub dir: String,
    pub name: String,
    /// How its `build` script runs; `None`: it has none (its sources are copied only).
    pub run: Option<Run>,
}

/// How a package's `build` script runs in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// `node --run build` in the package's directory: no pnpm start-up (about 1 s).
    Node,
    /// `pnpm --filter <name> run build`, and why node's runner would not do.
    Pnpm { why: String },
}

/// The `node --run` runner came with Node 22 (stable from 22.3; node:22 images are later).
pub const NODE_RUN_MAJOR: u32 = 22;

/// The Node major version an image reference's tag names (`node:22-alpine` → 22,
/// `registry/x/node:22.11.0-bookworm@sha256:..` → 22); `None` when its tag does not say.
pub fn node_major(image: &str) -> Option<u32> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    let (_, tag) = last.split_once(':')?;
    let digits: String = tag.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Refuses a base image whose tag names a Node older than `node --run` when the Dockerfile
/// runs build scripts with it (the build would fail at its first package, after the installs).
pub fn check_node_run_base(image: &ApiImage, base: &str) -> Result<()> {
    if !image.build_steps.iter().any(|s| s.run == Some(Run::Node)) {
        return Ok(());
    }
    match node_major(base) {
        Some(m) if m < NODE_RUN_MAJOR => anyhow::bail!(
            "{base} is Node {m}, but {DOCKERFILE} runs build scripts with `node --run` (Node {NODE_RUN_MAJOR} or later). \
             Build on that base for good with `cargo xtask config set node.image {base}` and `cargo xtask gen` \
             (gen then runs them with pnpm), or run them with pnpm on any base: `cargo xtask config set node.build_runner pnpm` and `cargo xtask gen`"
        ),
        _ => Ok(()),
    }
}

/// The Dockerfile names workspace paths unquoted (COPY, `cd`) and the ignore file names them as
/// patterns: refuse a path that would change meaning there instead of writing a broken file.
pub(super) fn check_dockerfile_path(path: &str, what: &str) -> Result<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._-@+/".contains(c);
    if let Some(bad) = path.chars().find(|c| !ok(*c)) {
        anyhow::bail!(
            "{what} {path:?}, whose {bad:?} {DOCKERFILE} cannot carry (COPY and RUN lines, ignore \
             patterns): rename it with letters, digits and . _ - @ + only"
        );
    }
    Ok(())
}

/// How a package's build script runs under `[node] build_runner`.
fn build_run(
    runner: BuildRunner,
    node_image: &str,
    scripts: &std::collections::BTreeMap<String, String>,
) -> Option<Run> {
    let script = scripts.get("build")?;
    let pnpm = |why: String| Some(Run::Pnpm { why });
    match runner {
        BuildRunner::Node => return Some(Run::Node),
        BuildRunner::Pnpm => return pnpm("[node] build_runner = \"pnpm\"".into()),
        BuildRunner::Auto => {}
    }
    match node_major(node_image) {
        Some(m) if m >= NODE_RUN_MAJOR => {}
        Some(m) => {
            return pnpm(format!(
                "`node --run` needs Node {NODE_RUN_MAJOR}; {node_image} is Node {m}"
            ))
        }
        None => {
            return pnpm(format!(
                "the tag of {node_image} does not name its Node version"
            ))
        }
    }
    for hook in ["prebuild", "postbuild"] {
        if scripts.contains_key(hook) {
            return pnpm(format!("it has a \"{hook}\" script"));
        }
    }
    if script.contains("npm_") {
        return pnpm("its build script reads npm_* variables".into());
    }
    Some(Run::Node)
}

impl ApiImage {
    /// The local tag `build-image` gives the image.
    pub fn local_tag(cfg: &Config, tag: &str) -> String {
        format!("{}:{tag}", cfg.api.image)
    }
}

pub(super) fn api_image(
    cfg: &Config,
    ws: &Workspace,
    closure: &Closure,
    pnpm_version: String,
    codegen: super::Codegen,
) -> ApiImage {
    let in_closure = |dir: &str| closure.install.iter().any(|p| p.dir == dir);
    let mut runtime: Vec<(String, Vec<String>)> = closure
        .runtime
        .iter()
        .filter(|p| p.dir != closure.api.dir)
        .map(|p| (p.dir.clone(), p.runtime_paths()))
        .collect();
    let entry_top = cfg
        .api
        .entry
        .split('/')
        .next()
        .unwrap_or("dist")
        .to_string();
    let mut api_paths = vec![entry_top];
    for extra in closure.api.runtime_paths() {
        if !api_paths.contains(&extra) && extra != "package.json" {
            // the API's own `files`/`main` (e.g. assets next to dist) travel too
            if closure
                .api
                .manifest
                .files
                .iter()
                .any(|f| f.trim_end_matches('/') == extra)
            {
                api_paths.push(extra);
            }
        }
    }
    runtime.push((closure.api.dir.clone(), api_paths));
    ApiImage {
        node_image: cfg.node.image.clone(),
        pnpm_version,
        api_name: closure.api.name.clone(),
        api_dir: closure.api.dir.clone(),
        root_install_files: vec![
            "package.json".into(),
            "pnpm-lock.yaml".into(),
            "pnpm-workspace.yaml".into(),
        ],
        patches: ws.patches.clone(),
        install_dirs: closure.install.iter().map(|p| p.dir.clone()).collect(),
        build_steps: closure
            .install
            .iter()
            .map(|p| BuildStep {
                dir: p.dir.clone(),
                name: p.name.clone(),
                run: build_run(cfg.node.build_runner, &cfg.node.image, &p.manifest.scripts),
            })
            .collect(),
        root_build_files: ws.root_build_files.clone(),
        runtime,
        prune_build_files: crate::config::BUILD_ONLY_FILES
            .iter()
            .filter(|p| !cfg.api.keep_build_files.iter().any(|k| k == *p))
            .map(|p| p.to_string())
            .collect(),
        outside: ws
            .packages
            .iter()
            .filter(|p| !in_closure(&p.dir))
            .map(|p| p.dir.clone())
            .collect(),
        port: cfg.api.port,
        entry: cfg.api.entry.clone(),
        user: "appuser".into(),
        group: "appgroup".into(),
        uid: 1001,
        gid: 1001,
        npmrc_secret: true,
        layout: match ws.pnpm_settings.hoisting() {
            None => InstallLayout::AsConfigured,
            Some(setting) if cfg.api.hoist => InstallLayout::Hoisted { setting },
            Some(over) => InstallLayout::Isolated { over },
        },
        codegen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn node_major_reads_the_tag() {
        assert_eq!(node_major("node:22-alpine"), Some(22));
        assert_eq!(node_major("node:20.18.1-bookworm-slim"), Some(20));
        assert_eq!(node_major("xtask.local/node:22-standin"), Some(22));
        assert_eq!(
            node_major("mirror.example:5000/library/node:24-alpine@sha256:abc"),
            Some(24),
            "the registry's port is not the tag"
        );
        assert_eq!(node_major("node:lts-alpine"), None);
        assert_eq!(node_major("node"), None);
        assert_eq!(node_major("mirror.example:5000/node"), None);
    }

    fn scripts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn why(run: Option<Run>) -> String {
        match run {
            Some(Run::Pnpm { why }) => why,
            other => panic!("expected pnpm, got {other:?}"),
        }
    }

    #[test]
    fn auto_runs_plain_build_scripts_with_node() {
        let s = scripts(&[("build", "tsc -p tsconfig.json"), ("test", "vitest")]);
        assert_eq!(
            build_run(BuildRunner::Auto, "node:22-alpine", &s),
            Some(Run::Node)
        );
        assert_eq!(
            build_run(BuildRunner::Auto, "node:22-alpine", &scripts(&[])),
            None
        );
    }

    #[test]
    fn auto_falls_back_to_pnpm_where_node_would_differ() {
        let plain = scripts(&[("build", "tsc")]);
        assert!(why(build_run(BuildRunner::Auto, "node:20-alpine", &plain)).contains("Node 22"));
        assert!(why(build_run(BuildRunner::Auto, "node:lts", &plain)).contains("does not name"));
        let hooked = scripts(&[("build", "tsc"), ("postbuild", "cp a b")]);
        assert!(why(build_run(BuildRunner::Auto, "node:22", &hooked)).contains("postbuild"));
        let env = scripts(&[("build", "tsc && echo $npm_package_version > dist/v")]);
        assert!(why(build_run(BuildRunner::Auto, "node:22", &env)).contains("npm_*"));
    }

    #[test]
    fn an_older_node_base_is_refused_where_the_dockerfile_uses_node_run() {
        let step = |run| BuildStep {
            dir: "apps/api".into(),
            name: "@x/api".into(),
            run,
        };
        let mut image = ApiImage {
            node_image: "node:22-alpine".into(),
            pnpm_version: "10.0.0".into(),
            api_name: "@x/api".into(),
            api_dir: "apps/api".into(),
            root_install_files: vec![],
            patches: vec![],
            install_dirs: vec![],
            build_steps: vec![step(Some(Run::Node))],
            root_build_files: vec![],
            runtime: vec![],
            prune_build_files: vec![],
            outside: vec![],
            port: 3000,
            entry: "dist/main.js".into(),
            user: "appuser".into(),
            group: "appgroup".into(),
            uid: 1001,
            gid: 1001,
            npmrc_secret: true,
            layout: InstallLayout::AsConfigured,
            codegen: Default::default(),
        };
        let e = check_node_run_base(&image, "node:20-alpine").expect_err("node 20 refused");
        let e = format!("{e:#}");
        assert!(e.contains("node:20-alpine is Node 20"), "{e}");
        assert!(e.contains("config set node.build_runner pnpm"), "{e}");
        for ok in [
            "node:22-alpine",
            "node:24",
            "node:lts",
            "xtask.local/node:22-standin",
        ] {
            check_node_run_base(&image, ok).unwrap_or_else(|e| panic!("{ok}: {e:#}"));
        }
        image.build_steps = vec![step(Some(Run::Pnpm { why: "x".into() })), step(None)];
        check_node_run_base(&image, "node:18").expect("no node --run, any base");
    }

    #[test]
    fn explicit_runner_wins() {
        let hooked = scripts(&[("build", "tsc"), ("prebuild", "rm -rf dist")]);
        assert_eq!(
            build_run(BuildRunner::Node, "node:lts", &hooked),
            Some(Run::Node)
        );
        assert!(why(build_run(
            BuildRunner::Pnpm,
            "node:22",
            &scripts(&[("build", "tsc")])
        ))
        .contains("build_runner"));
    }
}
