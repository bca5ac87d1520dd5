//! The web app (`[web]`): a static SPA of the workspace, built by its own generated Dockerfile
//! into plain files that Caddy serves on the web domain.
//!
//! How the files reach Caddy: `infra/web.Dockerfile` builds the package with pnpm and ends in
//! a `FROM scratch` stage holding only the build output; `docker buildx build --output
//! type=local,dest=infra/web` writes those files beside the compose file, and the caddy
//! service mounts `./web` read-only at `/srv/web`, as it mounts the Caddyfile and the
//! certificates. Caddy's image stays the third-party one (its stand-in here, the real one on
//! a host), and no image of ours carries the site.

use anyhow::{Context, Result};

use crate::config::Config;
use crate::stack::{Compose, Mount};
use crate::workspace::Workspace;

pub const WEB_DOCKERFILE: &str = "infra/web.Dockerfile";
/// BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile.
pub const WEB_DOCKERIGNORE: &str = "infra/web.Dockerfile.dockerignore";
/// Where the built site goes, relative to the monorepo root (beside the compose file).
pub const SITE_DIR: &str = "infra/web";
/// The built site as the compose file names it (relative to the compose file).
pub const SITE_SOURCE: &str = "./web";
/// Where Caddy finds the site in its container.
pub const SITE_ROOT: &str = "/srv/web";

/// Everything the web Dockerfile, its ignore file and the Caddy site are rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Web {
    pub name: String,
    pub dir: String,
    pub script: String,
    /// The build output, relative to `dir`.
    pub output: String,
    pub domain: String,
    /// Under the output: content-hashed files (long, immutable cache).
    pub assets: String,
    pub node_image: String,
    pub pnpm_version: String,
    pub root_install_files: Vec<String>,
    pub patches: Vec<String>,
    /// The web app's workspace closure, dependencies first (manifests and sources copied).
    pub install_dirs: Vec<String>,
    /// Workspace dependencies with a `build` script, dependencies first (built before the app).
    pub dep_builds: Vec<String>,
    pub root_build_files: Vec<String>,
    /// Workspace packages outside the web app's closure (kept out of its build context).
    pub outside: Vec<String>,
    /// The public build-time variables (`[web.env]`, the web app's env example), by name:
    /// build args of its build stage, never in the site.
    pub env: super::web_env::BuildEnv,
}

/// The web app of `[web]`, or `None` without one. Refuses a package the workspace lacks and a
/// script its `package.json` does not define.
pub fn build(cfg: &Config, ws: &Workspace, pnpm_version: &str) -> Result<Option<Web>> {
    let Some(w) = &cfg.web else {
        return Ok(None);
    };
    let Some(pkg) = ws.find_by_name(&w.package) else {
        let names: Vec<&str> = ws.packages.iter().map(|p| p.name.as_str()).collect();
        let why = ws
            .why_not_found(&w.package)
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        anyhow::bail!(
            "`web.package` = {:?} is not a package of the pnpm workspace{why} (packages: {}); set `web.package` to the web app's name",
            w.package,
            names.join(", ")
        );
    };
    if !pkg.manifest.scripts.contains_key(&w.script) {
        let scripts: Vec<&str> = pkg.manifest.scripts.keys().map(String::as_str).collect();
        anyhow::bail!(
            "{}/package.json has no {:?} script (`web.script`; its scripts: {}): the web app is built with `pnpm run {}`; add the script or set `web.script`",
            pkg.dir,
            w.script,
            if scripts.is_empty() { "none".to_string() } else { scripts.join(", ") },
            w.script
        );
    }
    let closure = ws
        .closure(pkg)
        .with_context(|| format!("the web app {}'s workspace closure", pkg.name))?;
    for p in &closure.install {
        super::check_dockerfile_path(&p.dir, &format!("workspace package {} is at", p.name))?;
    }
    let in_closure = |dir: &str| closure.install.iter().any(|p| p.dir == dir);
    let examples = super::web_env::read(&ws.root, &pkg.dir)?;
    let env = super::web_env::resolve(cfg, &examples).map_err(anyhow::Error::msg)?;
    Ok(Some(Web {
        name: pkg.name.clone(),
        dir: pkg.dir.clone(),
        script: w.script.clone(),
        output: w.output.clone(),
        domain: w.domain.clone(),
        assets: w.assets.clone(),
        node_image: cfg.node.image.clone(),
        pnpm_version: pnpm_version.to_string(),
        root_install_files: vec![
            "package.json".into(),
            "pnpm-lock.yaml".into(),
            "pnpm-workspace.yaml".into(),
        ],
        patches: ws.patches.clone(),
        install_dirs: closure.install.iter().map(|p| p.dir.clone()).collect(),
        dep_builds: closure
            .install
            .iter()
            .filter(|p| p.name != pkg.name && p.manifest.scripts.contains_key("build"))
            .map(|p| p.name.clone())
            .collect(),
        root_build_files: ws.root_build_files.clone(),
        outside: ws
            .packages
            .iter()
            .filter(|p| !in_closure(&p.dir))
            .map(|p| p.dir.clone())
            .collect(),
        env,
    }))
}

/// The caddy service mounts the built site read-only.
pub fn mount_site(compose: &mut Compose) {
    if let Some(caddy) = compose.services.iter_mut().find(|s| s.name == "caddy") {
        let at = caddy.volumes.len().min(2);
        caddy.volumes.insert(
            at,
            Mount::Bind {
                source: SITE_SOURCE.into(),
                target: SITE_ROOT.into(),
                read_only: true,
            },
        );
    }
}

/// The web app's Caddy site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The site address (`<domain>:443`).
    pub address: String,
    pub root: String,
    /// The path matcher of the content-hashed files (`/<assets>/*`).
    pub assets: String,
}

pub fn site(w: &Web) -> Site {
    Site {
        address: format!("{}:443", w.domain),
        root: SITE_ROOT.into(),
        assets: format!("/{}/*", w.assets),
    }
}

/// `pnpm-lock.yaml` matches the manifests of the web app's closure too (its build installs
/// with `--frozen-lockfile`): the same check as the API's, refused before any build.
pub fn check_lockfile(ws: &Workspace, web: Option<&Web>) -> Result<()> {
    let Some(web) = web else {
        return Ok(());
    };
    let pkg = ws
        .find_by_name(&web.name)
        .with_context(|| format!("the web app {} is no longer in the workspace", web.name))?;
    crate::workspace::check_lockfile(ws, &ws.closure(pkg)?)
}
