//! The typed model of the staging stack: the one source of truth every rendered file and
//! every rule is derived from. Built from the config and the monorepo; pure data.

use anyhow::Result;

use crate::config::{BuildRunner, Config};
use crate::envcontract::{self, Contract, Example};
use crate::workspace::{Closure, Workspace};

pub mod web;

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
}

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
fn check_dockerfile_path(path: &str, what: &str) -> Result<()> {
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

/// A value in compose's `environment:` or an interpolated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Lit(String),
    /// `${NAME:?message}`: fails loudly when unset or empty.
    Required {
        var: String,
        hint: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// `None`: published on every interface (public).
    pub host_ip: Option<String>,
    pub host: u16,
    pub container: u16,
    pub proto: Proto,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Volume {
        name: String,
        target: String,
    },
    Bind {
        source: String,
        target: String,
        read_only: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub memory: String,
    /// Only where the seed gives one (ipfs).
    pub cpus: Option<String>,
}

/// The one logging setup every service shares (`x-logging: &logging`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    pub driver: String,
    pub max_size: String,
    pub max_file: u32,
}

/// The proxy's network: caddy and what it serves (api, web).
pub const EDGE_NET: &str = "edge";
/// The back end's network: the API and what it talks to; the proxy is not on it.
pub const DATA_NET: &str = "data";

/// The networks a service joins, by its name: caddy only `edge`, the API both, the rest `data`.
pub fn networks_of(service: &str) -> Vec<String> {
    let nets: &[&str] = match service {
        "caddy" | "web" => &[EDGE_NET],
        "api" => &[EDGE_NET, DATA_NET],
        _ => &[DATA_NET],
    };
    nets.iter().map(|n| n.to_string()).collect()
}

/// The variable naming the image owner in our image references (`${IMAGE_OWNER:-<owner>}`),
/// so one compose file serves forks and CI.
pub const OWNER_VAR: &str = "IMAGE_OWNER";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// The image; may hold `${TAG:-latest}`.
    pub image: String,
    /// Overrides the image's entrypoint (empty: the image's own).
    pub entrypoint: Vec<String>,
    pub command: Vec<String>,
    pub env_file: Option<String>,
    pub environment: Vec<(String, Val)>,
    pub ports: Vec<Port>,
    pub volumes: Vec<Mount>,
    /// (service, condition)
    pub depends_on: Vec<(String, String)>,
    pub healthcheck: Option<Healthcheck>,
    pub limits: Option<Limits>,
    /// `init: true`: PID 1 (node) neither reaps children nor forwards signals well.
    pub init: bool,
    pub networks: Vec<String>,
    /// Runs once and exits (`restart: "no"`): the migrations.
    pub one_shot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    pub project: String,
    pub services: Vec<Service>,
    pub volumes: Vec<String>,
    /// Every service logs through this (`logging: *logging`).
    pub logging: Logging,
    /// Top-level networks, in order.
    pub networks: Vec<String>,
    /// Variables read by interpolation with a default: (name, default).
    pub defaulted_vars: Vec<(String, String)>,
}

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

impl Compose {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Every variable the compose file interpolates as required, in order of first use.
    pub fn required_vars(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for s in &self.services {
            for (_, v) in &s.environment {
                if let Val::Required { var, hint } = v {
                    if !out.iter().any(|(n, _)| n == var) {
                        out.push((var.clone(), hint.clone()));
                    }
                }
            }
        }
        out
    }
}

impl ApiImage {
    /// The local tag `build-image` gives the image.
    pub fn local_tag(cfg: &Config, tag: &str) -> String {
        format!("{}:{tag}", cfg.api.image)
    }
}

fn required(var: &str) -> Val {
    Val::Required {
        var: var.into(),
        hint: format!("set {var} in .env.staging (see .env.staging.example)"),
    }
}

fn lit(s: impl Into<String>) -> Val {
    Val::Lit(s.into())
}

fn loopback(host: u16, container: u16) -> Port {
    Port {
        host_ip: Some("127.0.0.1".into()),
        host,
        container,
        proto: Proto::Tcp,
    }
}

fn public(host: u16, container: u16, proto: Proto) -> Port {
    Port {
        host_ip: None,
        host,
        container,
        proto,
    }
}

fn hc(test: &[&str], start_period: &str) -> Healthcheck {
    Healthcheck {
        test: test.iter().map(|s| s.to_string()).collect(),
        interval: "10s".into(),
        timeout: "5s".into(),
        retries: 5,
        start_period: start_period.into(),
    }
}

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
    let image = api_image(cfg, ws, closure, pnpm_version);
    let has = |s: &str| cfg.services.iter().any(|x| x == s);
    let offer = envcontract::Offer {
        api_port: cfg.api.port,
        postgres: has("postgres"),
        redis: has("redis"),
        ipfs: has("ipfs"),
        tee_worker: has("tee-worker").then_some(cfg.tee_worker.port),
        web_origin: web.as_ref().map(|w| format!("https://{}", w.domain)),
    };
    let contract = envcontract::build(cfg, example, &offer);
    let project = cfg
        .project_name
        .clone()
        .unwrap_or_else(|| default_project(ws, closure));
    let stateful_label = stateful_label(&project);
    let mut compose = compose(cfg, &contract, project);
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

fn api_image(cfg: &Config, ws: &Workspace, closure: &Closure, pnpm_version: String) -> ApiImage {
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
    }
}

/// `<registry>/${IMAGE_OWNER:-<owner>}/<name>:${TAG:-<tag>}`
pub fn published_image(cfg: &Config, name: &str) -> String {
    format!(
        "{}/${{{OWNER_VAR}:-{}}}/{}:${{TAG:-{}}}",
        cfg.registry, cfg.owner, name, cfg.tag
    )
}

/// The API's `environment:`: NODE_ENV and PORT, then every contract key compose sets.
fn api_environment(cfg: &Config, contract: &Contract) -> Vec<(String, Val)> {
    let mut env = vec![
        ("NODE_ENV".to_string(), lit("production")),
        ("PORT".to_string(), lit(cfg.api.port.to_string())),
    ];

    for k in contract.set_keys() {
        let Some(v) = &k.value else { continue };
        match env.iter_mut().find(|(n, _)| *n == k.name) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.name.clone(), v.clone())),
        }
    }
    // redis always requires its password: the API gets it even where its example is silent
    if let Some(var) = &contract.wiring.redis_password {
        if !env.iter().any(|(n, _)| n == var) {
            env.push((var.clone(), required(var)));
        }
    }
    env
}

/// The one-shot service running `[api.migrate] command`.
pub const MIGRATE: &str = "migrate";

/// `<root package name>-staging` (scope dropped, lowercase, `[a-z0-9_-]` only), else the
/// API's package name.
/// The Swarm node label the stateful services are pinned to: `<project>.stateful`, the
/// project name without its `-staging` (`cipherbox-staging` → `cipherbox.stateful`).
fn stateful_label(project: &str) -> String {
    let base = project.strip_suffix("-staging").unwrap_or(project);
    let base = if base.is_empty() { project } else { base };
    format!("{base}.stateful")
}

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

fn compose(cfg: &Config, contract: &Contract, project: String) -> Compose {
    let w = &contract.wiring;
    let p = &cfg.ports;
    let api_port = cfg.api.port;
    let tee_port = cfg.tee_worker.port;
    let node_health = format!(
        "require('http').get('http://127.0.0.1:{api_port}{path}',r=>process.exit(r.statusCode==={status}?0:1)).on('error',()=>process.exit(1))",
        path = cfg.api.health.path,
        status = cfg.api.health.status,
    );
    let tee_health = format!(
        "require('http').get('http://127.0.0.1:{tee_port}/health',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
    );
    let api = Service {
        name: "api".into(),
        image: published_image(cfg, &cfg.api.image),
        entrypoint: vec![],
        command: vec![],
        env_file: Some(".env.staging".into()),
        environment: api_environment(cfg, contract),
        ports: vec![loopback(p.api, api_port)],
        volumes: vec![],
        depends_on: vec![
            ("postgres".into(), "service_healthy".into()),
            ("redis".into(), "service_healthy".into()),
        ],
        healthcheck: Some(hc(&["CMD", "node", "-e", &node_health], "20s")),
        limits: None,
        init: false,
        networks: vec![],
        one_shot: false,
    };
    let postgres = Service {
        name: "postgres".into(),
        image: cfg.images.postgres.clone(),
        entrypoint: vec![],
        command: vec![],
        env_file: None,
        environment: vec![
            ("POSTGRES_USER".into(), required(&w.db_user)),
            ("POSTGRES_PASSWORD".into(), required(&w.db_password)),
            ("POSTGRES_DB".into(), required(&w.db_name)),
        ],
        ports: vec![loopback(p.postgres, 5432)],
        volumes: vec![Mount::Volume {
            name: "postgres_staging".into(),
            target: "/var/lib/postgresql/data".into(),
        }],
        depends_on: vec![],
        healthcheck: Some(hc(
            &[
                "CMD-SHELL",
                "pg_isready -U \"$${POSTGRES_USER}\" -d \"$${POSTGRES_DB}\"",
            ],
            "10s",
        )),
        limits: None,
        init: false,
        networks: vec![],
        one_shot: false,
    };
    let redis = Service {
        name: "redis".into(),
        image: cfg.images.redis.clone(),
        // the password reaches redis-server through the environment at run time, never the
        // compose file or `docker inspect`'s Entrypoint/Cmd (they hold `$REDIS_PASSWORD`);
        // redis-server overwrites its argv, so ps shows `redis-server *:6379`; the image's
        // entrypoint still drops root
        entrypoint: vec!["sh".into(), "-c".into(), REDIS_ENTRYPOINT.into()],
        command: vec![],
        env_file: None,
        environment: vec![("REDIS_PASSWORD".into(), required("REDIS_PASSWORD"))],
        ports: vec![loopback(p.redis, 6379)],
        volumes: vec![Mount::Volume {
            name: "redis_staging".into(),
            target: "/data".into(),
        }],
        depends_on: vec![],
        // REDISCLI_AUTH, not `-a`: the password stays off the command line
        healthcheck: Some(hc(
            &[
                "CMD-SHELL",
                "REDISCLI_AUTH=\"$$REDIS_PASSWORD\" redis-cli ping | grep -qx PONG",
            ],
            "5s",
        )),
        limits: None,
        init: false,
        networks: vec![],
        one_shot: false,
    };
    let ipfs = Service {
        name: "ipfs".into(),
        image: cfg.images.ipfs.clone(),
        entrypoint: vec![],
        command: vec![],
        env_file: None,
        environment: vec![("IPFS_PROFILE".into(), lit("server"))],
        ports: vec![
            public(p.ipfs_swarm, 4001, Proto::Tcp),
            public(p.ipfs_swarm, 4001, Proto::Udp),
            loopback(p.ipfs_api, 5001),
            loopback(p.ipfs_gateway, 8080),
        ],
        volumes: vec![Mount::Volume {
            name: "ipfs_staging".into(),
            target: "/data/ipfs".into(),
        }],
        depends_on: vec![],
        healthcheck: Some(hc(
            &["CMD", "ipfs", "--api=/ip4/127.0.0.1/tcp/5001", "id"],
            "30s",
        )),
        limits: Some(Limits {
            memory: "2G".into(),
            cpus: Some("1.0".into()),
        }),
        init: false,
        networks: vec![],
        one_shot: false,
    };
    let tee = Service {
        name: "tee-worker".into(),
        image: published_image(cfg, &cfg.tee_worker.image),
        entrypoint: vec![],
        command: vec![],
        env_file: None,
        environment: vec![
            ("NODE_ENV".into(), lit("production")),
            ("PORT".into(), lit(tee_port.to_string())),
            ("TEE_MODE".into(), lit("simulator")),
            ("CIPHERBOX_ENVIRONMENT".into(), lit("staging")),
            ("TEE_WORKER_SECRET".into(), required("TEE_WORKER_SECRET")),
        ],
        ports: vec![loopback(p.tee_worker, tee_port)],
        volumes: vec![],
        depends_on: vec![],
        // our Node image: node itself probes /health (no curl or wget needed in the image)
        healthcheck: Some(hc(&["CMD", "node", "-e", &tee_health], "20s")),
        limits: None,
        init: false,
        networks: vec![],
        one_shot: false,
    };
    let caddy = Service {
        name: "caddy".into(),
        image: cfg.images.caddy.clone(),
        entrypoint: vec![],
        command: vec![],
        env_file: None,
        environment: vec![],
        ports: vec![
            public(p.http, 80, Proto::Tcp),
            public(p.https, 443, Proto::Tcp),
        ],
        volumes: vec![
            Mount::Bind {
                source: "./Caddyfile".into(),
                target: "/etc/caddy/Caddyfile".into(),
                read_only: true,
            },
            Mount::Bind {
                source: "./certs".into(),
                target: "/etc/caddy/certs".into(),
                read_only: true,
            },
            Mount::Volume {
                name: "caddy_data".into(),
                target: "/data".into(),
            },
            Mount::Volume {
                name: "caddy_config".into(),
                target: "/config".into(),
            },
        ],
        // service_started, not service_healthy: caddy must come up (and stay up) while the API
        // is unhealthy, serving the 502/503 page; it resolves `api` at request time
        depends_on: vec![("api".into(), "service_started".into())],
        // busybox wget of caddy:2-alpine against Caddy's admin endpoint (localhost only):
        // the process is up and its config loaded, whatever the API's state
        healthcheck: Some(hc(
            &[
                "CMD",
                "wget",
                "-q",
                "-O",
                "/dev/null",
                "http://127.0.0.1:2019/config/",
            ],
            "10s",
        )),
        limits: None,
        init: false,
        networks: vec![],
        one_shot: false,
    };
    let mut services = vec![api, postgres, redis, ipfs, tee, caddy];
    if !cfg.api.migrate.is_empty() {
        // the migrations: a one-shot of the API's image with the API's env, after postgres is
        // healthy; the API starts only once it exited 0
        let api = &services[0];
        let migrate = Service {
            name: MIGRATE.into(),
            image: api.image.clone(),
            entrypoint: vec![],
            command: cfg.api.migrate.clone(),
            env_file: api.env_file.clone(),
            environment: api.environment.clone(),
            ports: vec![],
            volumes: vec![],
            depends_on: vec![("postgres".into(), "service_healthy".into())],
            healthcheck: None,
            limits: None,
            init: false,
            networks: vec![],
            one_shot: true,
        };
        services[0]
            .depends_on
            .push((MIGRATE.into(), "service_completed_successfully".into()));
        services.insert(1, migrate);
    }
    Compose {
        project,
        services,
        volumes: [
            "postgres_staging",
            "redis_staging",
            "ipfs_staging",
            "caddy_data",
            "caddy_config",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        logging: Logging {
            driver: cfg.logs.driver.clone(),
            max_size: cfg.logs.max_size.clone(),
            max_file: cfg.logs.max_file,
        },
        networks: vec![EDGE_NET.into(), DATA_NET.into()],
        defaulted_vars: vec![
            (OWNER_VAR.into(), cfg.owner.clone()),
            ("TAG".into(), cfg.tag.clone()),
        ],
    }
    .finish(cfg)
}

/// Redis's entrypoint: the image's own (it drops root) with the password from the environment.
pub const REDIS_ENTRYPOINT: &str =
    "exec docker-entrypoint.sh redis-server --appendonly yes --requirepass \"$$REDIS_PASSWORD\"";

/// Which services run node as PID 1 (our images: `CMD ["node", ...]`).
pub fn runs_node(service: &str) -> bool {
    matches!(service, "api" | "tee-worker")
}

impl Compose {
    /// Per-service settings that follow from the service's name and the config alone:
    /// networks, memory limits, `init`.
    fn finish(mut self, cfg: &Config) -> Compose {
        // the stack the app needs, nothing else: api, caddy and `project.services`
        let wanted = |n: &str| {
            n == "api" || n == "caddy" || n == MIGRATE || cfg.services.iter().any(|s| s == n)
        };
        self.services.retain(|s| wanted(&s.name));
        for s in &mut self.services {
            s.depends_on.retain(|(d, _)| wanted(d));
        }
        let mounted: Vec<String> = self
            .services
            .iter()
            .flat_map(|s| s.volumes.iter())
            .filter_map(|m| match m {
                Mount::Volume { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        self.volumes.retain(|v| mounted.contains(v));
        for s in &mut self.services {
            s.networks = networks_of(&s.name);
            s.init = runs_node(&s.name);
            if let Some(mem) = cfg.memory.of(&s.name) {
                let cpus = s.limits.as_ref().and_then(|l| l.cpus.clone());
                s.limits = Some(Limits {
                    memory: mem.to_string(),
                    cpus,
                });
            }
        }
        self
    }
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
