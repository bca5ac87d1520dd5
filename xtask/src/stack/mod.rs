//! The typed model of the staging stack: the one source of truth every rendered file and
//! every rule is derived from. Built from the config and the monorepo; pure data.
//!
//! [`build`] assembles it: the API's image ([`image`]), the compose model ([`compose`]), the
//! edge (Caddy), the CI workflow, the Swarm settings and the web app ([`web`]).

use anyhow::Result;

use crate::config::Config;
use crate::envcontract::{self, Contract, Example};
use crate::workspace::{Closure, Workspace};

mod codegen;
mod compose;
mod image;
pub mod web;
pub mod web_env;

pub use codegen::{Codegen, GenerateStep};
pub use compose::{
    networks_of, published_image, runs_node, Compose, Healthcheck, Limits, Logging, Mount, Port,
    Proto, Service, Val, DATA_NET, EDGE_NET, IPFS_NET, MIGRATE, OWNER_VAR, REDIS_ENTRYPOINT,
};
use image::{api_image, check_dockerfile_path};
pub use image::{
    check_node_run_base, node_major, ApiImage, BuildStep, InstallLayout, Run, ISOLATED_FLAG,
    NODE_RUN_MAJOR,
};

/// Where the generated files live, relative to the monorepo root.
pub const INFRA_DIR: &str = "infra";
pub const DOCKERFILE: &str = "infra/api.Dockerfile";
/// BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile instead of the root's.
pub const DOCKERIGNORE: &str = "infra/api.Dockerfile.dockerignore";
pub const COMPOSE: &str = "infra/docker-compose.staging.yml";
pub const CADDYFILE: &str = "infra/Caddyfile";
pub const ENV_EXAMPLE: &str = "infra/.env.staging.example";
pub const WORKFLOW: &str = ".github/workflows/staging-infra.yml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub image: ApiImage,
    pub compose: Compose,
    pub caddy: Caddy,
    pub workflow: Workflow,
    /// The API's env contract (what it needs to boot).
    pub contract: Contract,
    pub swarm: Swarm,
    /// `[web]`: the web app Caddy serves on its own domain (`None`: no web site).
    pub web: Option<web::Web>,
}

/// The Docker Swarm stack (`infra/docker-stack.staging.yml`): the compose model plus these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swarm {
    pub api_replicas: u32,
    /// Stateful services run only on a node with this label set to `true`.
    pub stateful_label: String,
}

pub const SWARM_STACK: &str = "infra/docker-stack.staging.yml";

/// The CI workflow: checks on pull requests, build and push on the main branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    pub branch: String,
    pub registry: String,
    /// The API image name (pushed as `<registry>/<owner>/<image>`).
    pub image: String,
    /// The build cache of the publish step.
    pub cache: crate::config::CiCache,
    /// Every action the workflow uses, pinned (the one table: [`crate::actions`]).
    pub actions: Vec<crate::actions::Pin>,
    /// The monorepo has `.ci/install-tools.sh` (else the workflow installs the tools itself).
    pub install_script: bool,
    /// The monorepo has a `Cargo.lock` (else the cargo cache is keyed on the manifests).
    pub cargo_lock: bool,
    /// Render the deploy job.
    pub deploy: bool,
}

/// The script the workflow runs to install verify's tools, when the monorepo has it.
pub const INSTALL_SCRIPT: &str = ".ci/install-tools.sh";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caddy {
    /// Site addresses for the TLS site (`:443` when no domain is configured).
    pub sites: Vec<String>,
    pub http_port: u16,
    pub cert: String,
    pub key: String,
    pub upstream: String,
    /// Where compose mounts the Caddyfile and the certificates in the container.
    pub config_path: String,
    pub certs_dir: String,
    pub edge: Edge,
    /// The web app's site (`[web]`), beside the API's.
    pub web: Option<web::Site>,
}

/// The edge's hardening: headers, body limit, real client IPs, the answer while the API is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub hsts_max_age: u32,
    /// Bytes.
    pub max_body: u64,
    pub trusted_proxies: Vec<String>,
    /// Empty: none (the peer address is the client).
    pub client_ip_header: String,
}

/// What Caddy answers (503) while the API cannot be reached.
pub const API_DOWN_PAGE: &str =
    "The service is temporarily unavailable (the API is restarting or down). Please try again in a minute.";

/// The staging stack for this config and monorepo.
pub fn build(cfg: &Config, ws: &Workspace, closure: &Closure, example: &Example) -> Result<Stack> {
    let pnpm_version = ws.pnpm_version(&cfg.node.pnpm)?;
    for p in &closure.install {
        check_dockerfile_path(&p.dir, &format!("workspace package {} is at", p.name))?;
        crate::values::npm_name(&p.name).map_err(|m| {
            anyhow::anyhow!(
                "{}/package.json: \"name\" = {m}; the Dockerfile names it in `pnpm --filter`: rename the package",
                p.dir
            )
        })?;
    }
    for f in ws.root_build_files.iter().chain(&ws.patches) {
        check_dockerfile_path(f, "the build reads")?;
    }
    let web = web::build(cfg, ws, &pnpm_version)?;
    let codegen = codegen::codegen(cfg, closure)?;
    let image = api_image(cfg, ws, closure, pnpm_version, codegen);
    let has = |s: &str| cfg.services.iter().any(|x| x == s);
    let offer = envcontract::Offer {
        api_port: cfg.api.port,
        postgres: has("postgres"),
        redis: has("redis"),
        ipfs: has("ipfs"),
        tee_worker: has("tee-worker").then_some(cfg.tee_worker.port),
        web_domain: web.as_ref().map(|w| w.domain.clone()),
        api_domains: cfg
            .caddy
            .domains
            .iter()
            .filter(|d| !d.starts_with("*."))
            .cloned()
            .collect(),
    };
    let contract = envcontract::build(cfg, example, &offer);
    let project = cfg
        .project_name
        .clone()
        .unwrap_or_else(|| default_project(ws, closure));
    let stateful_label = stateful_label(&project);
    let mut compose = compose::build(cfg, &contract, project);
    let mut caddy = caddy(cfg);
    if let Some(w) = &web {
        web::mount_site(&mut compose);
        caddy.web = Some(web::site(w));
    }
    let workflow = Workflow {
        branch: "main".into(),
        registry: cfg.registry.clone(),
        image: cfg.api.image.clone(),
        cache: cfg.ci.cache,
        actions: cfg.actions.clone(),
        install_script: ws.root.join(INSTALL_SCRIPT).is_file(),
        cargo_lock: ws.root.join("Cargo.lock").is_file(),
        deploy: cfg.ci.deploy,
    };
    Ok(Stack {
        image,
        compose,
        caddy,
        workflow,
        contract,
        swarm: Swarm {
            api_replicas: cfg.swarm.api_replicas,
            stateful_label,
        },
        web,
    })
}

/// The Swarm node label the stateful services are pinned to: `<project>.stateful`, the
/// project name without its `-staging` (`cipherbox-staging` → `cipherbox.stateful`).
fn stateful_label(project: &str) -> String {
    let base = project.strip_suffix("-staging").unwrap_or(project);
    let base = if base.is_empty() { project } else { base };
    format!("{base}.stateful")
}

/// `<root package name>-staging` (scope dropped, lowercase, `[a-z0-9_-]` only), else the
/// API's package name.
fn default_project(ws: &Workspace, closure: &Closure) -> String {
    let from = |n: &str| -> String {
        let n = n.rsplit('/').next().unwrap_or(n).trim_start_matches('@');
        n.to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches(['-', '_'])
            .to_string()
    };
    let base = ws
        .root_manifest
        .name
        .as_deref()
        .map(from)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| from(&closure.api.name));
    let base = if base.is_empty() { "app".into() } else { base };
    format!("{base}-staging")
}

fn caddy(cfg: &Config) -> Caddy {
    let sites = if cfg.caddy.domains.is_empty() {
        vec![":443".to_string()]
    } else {
        cfg.caddy
            .domains
            .iter()
            .map(|d| format!("{d}:443"))
            .collect()
    };
    Caddy {
        sites,
        http_port: 80,
        cert: format!("/etc/caddy/certs/{}", cfg.caddy.cert_file),
        key: format!("/etc/caddy/certs/{}", cfg.caddy.key_file),
        upstream: format!("api:{}", cfg.api.port),
        config_path: "/etc/caddy/Caddyfile".into(),
        certs_dir: "/etc/caddy/certs".into(),
        edge: Edge {
            hsts_max_age: cfg.edge.hsts_max_age,
            max_body: cfg.edge.max_body,
            trusted_proxies: cfg.edge.trusted_proxies.clone(),
            client_ip_header: cfg.edge.client_ip_header.clone(),
        },
        web: None,
    }
}
