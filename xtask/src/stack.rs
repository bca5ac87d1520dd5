//! The typed model of the staging stack: the one source of truth every rendered file and
//! every rule is derived from. Built from the config and the monorepo; pure data.

use anyhow::Result;

use crate::config::Config;
use crate::workspace::{Closure, Workspace};

/// Where the generated files live, relative to the monorepo root.
pub const INFRA_DIR: &str = "infra";
pub const DOCKERFILE: &str = "infra/api.Dockerfile";
/// BuildKit reads `<Dockerfile>.dockerignore` beside the Dockerfile instead of the root's.
pub const DOCKERIGNORE: &str = "infra/api.Dockerfile.dockerignore";
pub const COMPOSE: &str = "infra/docker-compose.staging.yml";
pub const CADDYFILE: &str = "infra/Caddyfile";
pub const ENV_EXAMPLE: &str = "infra/.env.staging.example";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub image: ApiImage,
    pub compose: Compose,
    pub caddy: Caddy,
}

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
    pub cpus: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// The image; may hold `${TAG:-latest}`.
    pub image: String,
    pub command: Vec<String>,
    pub env_file: Option<String>,
    pub environment: Vec<(String, Val)>,
    pub ports: Vec<Port>,
    pub volumes: Vec<Mount>,
    /// (service, condition)
    pub depends_on: Vec<(String, String)>,
    pub healthcheck: Option<Healthcheck>,
    pub limits: Option<Limits>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    pub project: String,
    pub services: Vec<Service>,
    pub volumes: Vec<String>,
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
}

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
pub fn build(cfg: &Config, ws: &Workspace, closure: &Closure) -> Result<Stack> {
    let pnpm_version = ws.pnpm_version(&cfg.node.pnpm)?;
    let image = api_image(cfg, ws, closure, pnpm_version);
    let compose = compose(cfg);
    let caddy = caddy(cfg);
    Ok(Stack {
        image,
        compose,
        caddy,
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
        root_build_files: ws.root_build_files.clone(),
        runtime,
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

/// `<registry>/<owner>/<name>:${TAG:-<tag>}`
pub fn published_image(cfg: &Config, name: &str) -> String {
    format!(
        "{}/{}/{}:${{TAG:-{}}}",
        cfg.registry, cfg.owner, name, cfg.tag
    )
}

fn compose(cfg: &Config) -> Compose {
    let p = &cfg.ports;
    let api_port = cfg.api.port;
    let tee_port = cfg.tee_worker.port;
    let node_health = format!(
        "require('http').get('http://127.0.0.1:{api_port}/health',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
    );
    let api = Service {
        name: "api".into(),
        image: published_image(cfg, &cfg.api.image),
        command: vec![],
        env_file: Some(".env.staging".into()),
        environment: vec![
            ("NODE_ENV".into(), lit("production")),
            ("PORT".into(), lit(api_port.to_string())),
            ("DB_HOST".into(), lit("postgres")),
            ("DB_PORT".into(), lit("5432")),
            ("DB_USERNAME".into(), required("DB_USERNAME")),
            ("DB_PASSWORD".into(), required("DB_PASSWORD")),
            ("DB_DATABASE".into(), required("DB_DATABASE")),
            ("REDIS_HOST".into(), lit("redis")),
            ("REDIS_PORT".into(), lit("6379")),
            ("IPFS_LOCAL_API_URL".into(), lit("http://ipfs:5001")),
            (
                "TEE_WORKER_URL".into(),
                lit(format!("http://tee-worker:{tee_port}")),
            ),
            ("TEE_WORKER_SECRET".into(), required("TEE_WORKER_SECRET")),
        ],
        ports: vec![loopback(p.api, api_port)],
        volumes: vec![],
        depends_on: vec![
            ("postgres".into(), "service_healthy".into()),
            ("redis".into(), "service_healthy".into()),
        ],
        healthcheck: Some(hc(&["CMD", "node", "-e", &node_health], "20s")),
        limits: None,
    };
    let postgres = Service {
        name: "postgres".into(),
        image: cfg.images.postgres.clone(),
        command: vec![],
        env_file: None,
        environment: vec![
            ("POSTGRES_USER".into(), required("DB_USERNAME")),
            ("POSTGRES_PASSWORD".into(), required("DB_PASSWORD")),
            ("POSTGRES_DB".into(), required("DB_DATABASE")),
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
    };
    let redis = Service {
        name: "redis".into(),
        image: cfg.images.redis.clone(),
        command: vec!["redis-server".into(), "--appendonly".into(), "yes".into()],
        env_file: None,
        environment: vec![],
        ports: vec![loopback(p.redis, 6379)],
        volumes: vec![Mount::Volume {
            name: "redis_staging".into(),
            target: "/data".into(),
        }],
        depends_on: vec![],
        healthcheck: Some(hc(&["CMD", "redis-cli", "ping"], "5s")),
        limits: None,
    };
    let ipfs = Service {
        name: "ipfs".into(),
        image: cfg.images.ipfs.clone(),
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
            cpus: "1.0".into(),
        }),
    };
    let tee = Service {
        name: "tee-worker".into(),
        image: published_image(cfg, &cfg.tee_worker.image),
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
        healthcheck: None,
        limits: None,
    };
    let caddy = Service {
        name: "caddy".into(),
        image: cfg.images.caddy.clone(),
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
        depends_on: vec![("api".into(), "service_healthy".into())],
        healthcheck: None,
        limits: None,
    };
    Compose {
        project: "cipherbox-staging".into(),
        services: vec![api, postgres, redis, ipfs, tee, caddy],
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
        defaulted_vars: vec![("TAG".into(), cfg.tag.clone())],
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
    }
}
