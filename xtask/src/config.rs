//! The user's config file (`infra/stack.toml`): what differs per deployment or per monorepo.
//!
//! Read with `toml_edit` so that every bad value is reported at its line and column, and
//! updated with `toml_edit` so that `config set` keeps the user's comments and layout.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use toml_edit::{Document, DocumentMut, Item, Value};

use crate::values;

pub mod web;
pub use web::WebConfig;

/// Where the config lives, relative to the monorepo root, unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "infra/stack.toml";

/// The services `project.services` may name (api and caddy are always there).
pub const STACK_SERVICES: &[&str] = &["postgres", "redis", "ipfs", "tee-worker"];

/// Third-party services whose image can be overridden under `[images]`.
pub const IMAGE_SERVICES: &[&str] = &["postgres", "redis", "ipfs", "caddy"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file the values came from (`None`: built-in defaults only).
    pub source: Option<PathBuf>,
    pub registry: String,
    pub owner: String,
    pub tag: String,
    /// `project.name`: the compose project; `None`: `<root package name>-staging`.
    pub project_name: Option<String>,
    /// `project.services`: the stack's services besides api and caddy (CipherBox's set by
    /// default).
    pub services: Vec<String>,
    pub api: ApiConfig,
    pub node: NodeConfig,
    pub tee_worker: TeeWorkerConfig,
    pub images: Images,
    pub caddy: CaddyConfig,
    pub ports: Ports,
    pub logs: LogsConfig,
    pub memory: Memory,
    pub edge: EdgeConfig,
    pub ci: CiConfig,
    /// `[swarm]`: the Docker Swarm stack (`infra/docker-stack.staging.yml`).
    pub swarm: SwarmConfig,
    /// The pinned GitHub Actions of the generated workflow (`[actions]`).
    pub actions: Vec<crate::actions::Pin>,
    pub waivers: Vec<Waiver>,
    /// `[web]`: a static web app Caddy serves on its own domain (`None`: no web site).
    pub web: Option<WebConfig>,
}

/// The generated CI workflow's choices (`[ci]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiConfig {
    pub cache: CiCache,
    /// Render the deploy job (`cargo xtask deploy` to the `staging` environment).
    pub deploy: bool,
}

/// The build cache the workflow's `build-image` step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiCache {
    /// `type=registry,ref=<registry>/<owner>/<image>:buildcache`: works from any `run:`
    /// step after `docker login`.
    Registry,
    /// `type=gha`: GitHub's cache service; the workflow exposes the Actions runtime
    /// (`ACTIONS_RUNTIME_TOKEN`, cache URL) to the step first.
    Gha,
    /// No cache.
    None,
}

impl CiCache {
    pub const NAMES: &'static str = "\"registry\", \"gha\" or \"none\"";

    pub fn name(self) -> &'static str {
        match self {
            CiCache::Registry => "registry",
            CiCache::Gha => "gha",
            CiCache::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<CiCache> {
        match s {
            "registry" => Some(CiCache::Registry),
            "gha" => Some(CiCache::Gha),
            "none" => Some(CiCache::None),
            _ => None,
        }
    }
}

/// `[edge]`: what Caddy does in front of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    /// `Strict-Transport-Security: max-age=<seconds>`.
    pub hsts_max_age: u32,
    /// The largest request body, in bytes (uploads); larger gets 413 from Caddy.
    pub max_body: u64,
    /// As written in the config (`100MB`), for messages.
    pub max_body_text: String,
    /// CIDRs of the CDN / load balancer in front whose client-IP header is believed.
    pub trusted_proxies: Vec<String>,
    /// The header carrying the real client IP from those proxies (`CF-Connecting-IP`).
    pub client_ip_header: String,
}

/// `100MB`, `512KiB`, `1048576` → bytes (go-humanize units as Caddy reads them).
pub fn parse_body_size(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = match &s[digits.len()..] {
        "" | "B" => 1,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(unit).filter(|b| *b > 0)
}

/// An IPv4 or IPv6 CIDR (`173.245.48.0/20`, `2400:cb00::/32`).
pub fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// An HTTP header name (RFC 9110 token).
pub fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// `[swarm]`: how the stack runs on Docker Swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmConfig {
    /// Tasks of the API service (1 to 50).
    pub api_replicas: u32,
}

/// `[logs]`: every service's log driver and rotation (one `x-logging` anchor in compose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsConfig {
    /// `json-file` or `local`: both rotate by size and keep `max_file` files.
    pub driver: String,
    /// Docker size: a number and k, m or g (`10m`).
    pub max_size: String,
    pub max_file: u32,
}

/// `[memory]`: each service's memory limit (`deploy.resources.limits.memory`), Docker units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    pub api: String,
    pub postgres: String,
    pub redis: String,
    pub ipfs: String,
    pub tee_worker: String,
    pub caddy: String,
}

impl Memory {
    /// The limit of a compose service, by its service name.
    pub fn of(&self, service: &str) -> Option<&str> {
        Some(match service {
            "api" => &self.api,
            "postgres" => &self.postgres,
            "redis" => &self.redis,
            "ipfs" => &self.ipfs,
            "tee-worker" => &self.tee_worker,
            "caddy" => &self.caddy,
            _ => return None,
        })
    }
}

/// Log drivers that rotate (`max-size`/`max-file`) and keep `docker logs` working.
pub const LOG_DRIVERS: &[&str] = &["json-file", "local"];

/// A Docker size (`512m`, `2G`, `10m`, `1048576`): digits and one of b, k, m, g.
pub fn is_docker_size(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| "bkmgBKMG".contains(c));
    s.len() - digits.len() <= 1
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.trim_start_matches('0').is_empty()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The API's package name in the workspace.
    pub package: String,
    /// The API's directory, relative to the root; when set it wins over `package`.
    pub path: Option<String>,
    /// Local image name (`<image>:<tag>` and `<registry>/<owner>/<image>:<tag>`); empty
    /// until the model derives it from the API's package name (`Ctx::model`) when the config
    /// sets none.
    pub image: String,
    /// The port the API listens on inside its container.
    pub port: u16,
    /// The entry point, relative to the API's directory.
    pub entry: String,
    /// `[api.env]`: keys added to the API's env contract, staging values, secret marks.
    pub env: Vec<EnvOverride>,
    /// `[api.health]`: where the API answers and what healthy means.
    pub health: HealthConfig,
    /// `[api.migrate] command`: run once before the API starts (empty: no migrations).
    pub migrate: Vec<String>,
    /// `api.keep_build_files`: build-only files the image keeps anyway (a subset of
    /// [`BUILD_ONLY_FILES`]; by default none is kept).
    pub keep_build_files: Vec<String>,
}

/// Files a TypeScript build writes that node never loads: removed from the build outputs the
/// runtime image copies unless `api.keep_build_files` names them.
pub const BUILD_ONLY_FILES: &[&str] = &["*.tsbuildinfo", "*.map", "*.d.ts"];

/// One key of `[api.env]`: `NAME = "staging value"` or
/// `NAME = { value = "...", secret = true|false, optional = true|false, comment = "..." }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvOverride {
    pub name: String,
    pub value: Option<String>,
    pub secret: Option<bool>,
    pub optional: Option<bool>,
    pub comment: Option<String>,
}

/// `[api.health]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// The path the API answers health on.
    pub path: String,
    /// The status that means healthy (the rehearsal's deep check).
    pub status: u16,
    /// `[api.health.body]`: JSON pointer → the value expected there (the rehearsal's deep
    /// check); empty: NestJS terminus's shape when the body has it ([`crate::health`]).
    pub body: Vec<crate::health::BodyCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub image: String,
    /// Used only when the root `package.json` names no `packageManager`.
    pub pnpm: String,
    /// How the image runs each package's `build` script.
    pub build_runner: BuildRunner,
}

/// How the Dockerfile runs a package's `build` script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildRunner {
    /// `node --run build` where it runs the script as pnpm would, `pnpm run` elsewhere.
    Auto,
    /// Always `node --run build` (no pnpm start-up: about 1 s a package).
    Node,
    /// Always `pnpm --filter <pkg> run build` (npm_* variables, pre/post scripts).
    Pnpm,
}

impl BuildRunner {
    pub const NAMES: &'static str = "\"auto\", \"node\" or \"pnpm\"";

    pub fn name(self) -> &'static str {
        match self {
            BuildRunner::Auto => "auto",
            BuildRunner::Node => "node",
            BuildRunner::Pnpm => "pnpm",
        }
    }

    pub fn parse(s: &str) -> Option<BuildRunner> {
        match s {
            "auto" => Some(BuildRunner::Auto),
            "node" => Some(BuildRunner::Node),
            "pnpm" => Some(BuildRunner::Pnpm),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeeWorkerConfig {
    pub image: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub postgres: String,
    pub redis: String,
    pub ipfs: String,
    pub caddy: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaddyConfig {
    /// Site addresses; empty means any host on `:443`.
    pub domains: Vec<String>,
    pub cert_file: String,
    pub key_file: String,
}

/// Host-side ports. All but `http`, `https` and `ipfs_swarm` are bound to 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports {
    pub api: u16,
    pub tee_worker: u16,
    pub postgres: u16,
    pub redis: u16,
    pub ipfs_api: u16,
    pub ipfs_gateway: u16,
    pub ipfs_swarm: u16,
    pub http: u16,
    pub https: u16,
}

/// A rule waived on purpose, with the reason written down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub rule: String,
    pub file: Option<String>,
    pub reason: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            registry: "ghcr.io".into(),
            owner: "OWNER".into(),
            tag: "latest".into(),
            project_name: None,
            services: STACK_SERVICES.iter().map(|s| s.to_string()).collect(),
            api: ApiConfig {
                package: "@cipherbox/api".into(),
                path: None,
                image: String::new(),
                port: 3000,
                entry: "dist/main.js".into(),
                env: Vec::new(),
                health: HealthConfig {
                    path: "/health".into(),
                    status: 200,
                    body: Vec::new(),
                },
                migrate: Vec::new(),
                keep_build_files: Vec::new(),
            },
            node: NodeConfig {
                image: "node:22-alpine".into(),
                pnpm: "10.34.9".into(),
                build_runner: BuildRunner::Auto,
            },
            tee_worker: TeeWorkerConfig {
                image: String::new(),
                port: 3001,
            },
            images: Images {
                postgres: "postgres:16-alpine".into(),
                redis: "redis:7-alpine".into(),
                ipfs: "ipfs/kubo:v0.34.0".into(),
                caddy: "caddy:2-alpine".into(),
            },
            caddy: CaddyConfig {
                domains: Vec::new(),
                cert_file: "origin.pem".into(),
                key_file: "origin-key.pem".into(),
            },
            ports: Ports {
                api: 3000,
                tee_worker: 3001,
                postgres: 5432,
                redis: 6379,
                ipfs_api: 5001,
                ipfs_gateway: 8080,
                ipfs_swarm: 4001,
                http: 80,
                https: 443,
            },
            logs: LogsConfig {
                driver: "json-file".into(),
                max_size: "10m".into(),
                max_file: 3,
            },
            memory: Memory {
                api: "512M".into(),
                postgres: "512M".into(),
                redis: "256M".into(),
                ipfs: "2G".into(),
                tee_worker: "256M".into(),
                caddy: "256M".into(),
            },
            edge: EdgeConfig {
                hsts_max_age: 31_536_000,
                max_body: 100 * 1000 * 1000,
                max_body_text: "100MB".into(),
                trusted_proxies: Vec::new(),
                client_ip_header: String::new(),
            },
            ci: CiConfig {
                cache: CiCache::Registry,
                deploy: true,
            },
            swarm: SwarmConfig { api_replicas: 2 },
            actions: crate::actions::defaults(),
            waivers: Vec::new(),
            web: None,
        }
    }
}

/// The text `config init` writes: every key, its default, and what it means.
pub const TEMPLATE: &str = r#"# Settings for `cargo xtask gen` (CipherBox staging infra).
# Every key is optional: a missing key takes the default shown here.
# Edit by hand or with `cargo xtask config set KEY VALUE` (comments are kept).

[project]
registry = "ghcr.io"   # where images are pushed
owner = "OWNER"        # images are <registry>/<owner>/<name>
tag = "latest"         # default image tag in compose: ${TAG:-<tag>}
# name = "cipherbox-staging"   # compose project (default: <root package name>-staging)
services = ["postgres", "redis", "ipfs", "tee-worker"]   # besides api and caddy

[api]
package = "@cipherbox/api"   # the API's name in the pnpm workspace
# path = "apps/api"          # or its directory (wins over package)
# image = "cipherbox-api"    # image name; build-image tags <image>:<tag> too (default: the
                             # package's name, its scope joined: @cipherbox/api → cipherbox-api)
port = 3000                  # port the API listens on in its container
entry = "dist/main.js"       # built entry point, relative to the API's directory
# keep_build_files = ["*.map"]   # keep source maps (or "*.d.ts", "*.tsbuildinfo") in the image

# The API's env contract is read from its .env.example (.env.sample, .env.template);
# add keys, give staging values, or mark keys secret here (see README, "The app's contract").
# [api.env]
# IPFS_PROVIDER = "pinata"                       # a staging value
# SESSION_KEY_ID = { secret = false }            # not a secret despite its name
# SENTRY_DSN = { optional = true, comment = "error reporting" }

# [api.migrate]              # a one-shot `migrate` service before the API starts
# command = ["node", "dist/run-migrations.js"]

[api.health]
path = "/health"             # where the API answers; smoke: any HTTP answer = it listens
status = 200                 # the status that means healthy (the rehearsal's deep check)
# [api.health.body]          # the rehearsal's body checks: JSON pointer (RFC 6901) = the value
# "/status" = "ok"           # expected there (string, number, true/false); none configured:
# "/info/database/status" = "up"   # NestJS terminus's shape is checked when the body has it

[node]
image = "node:22-alpine"     # base image of every stage (ARG NODE_IMAGE)
pnpm = "10.34.9"             # used only when package.json has no packageManager
build_runner = "auto"        # how build scripts run: "node" (`node --run build`, no pnpm
                             # start-up), "pnpm" (`pnpm run build`: npm_* variables, pre/post
                             # scripts) or "auto" (node where that runs the script as pnpm would)

[tee_worker]
# image = "cipherbox-tee-worker"   # default: <the API package's scope, else the root
                                   # package's name>-tee-worker
port = 3001

[images]                     # third-party images (pin a tag, never latest)
postgres = "postgres:16-alpine"
redis = "redis:7-alpine"
ipfs = "ipfs/kubo:v0.34.0"
caddy = "caddy:2-alpine"

[caddy]
domains = []                 # site addresses; empty serves any host on :443
cert_file = "origin.pem"     # origin certificate, in infra/certs/
key_file = "origin-key.pem"

[ports]                      # host ports; all but http, https, ipfs_swarm bind 127.0.0.1
api = 3000
tee_worker = 3001
postgres = 5432
redis = 6379
ipfs_api = 5001
ipfs_gateway = 8080
ipfs_swarm = 4001
http = 80
https = 443

[logs]                       # every service's logs, rotated (one x-logging anchor in compose)
driver = "json-file"         # "json-file" or "local"
max_size = "10m"             # rotate at this size (Docker units: k, m, g)
max_file = 3                 # rotated files kept per service

[memory]                     # memory limit per service (deploy.resources.limits.memory)
api = "512M"
postgres = "512M"
redis = "256M"
ipfs = "2G"
tee_worker = "256M"
caddy = "256M"

[edge]                       # what Caddy does in front of the API
hsts_max_age = 31536000      # Strict-Transport-Security max-age, seconds (0: tell browsers to forget)
max_body = "100MB"           # largest request body (uploads): larger gets 413 from Caddy
trusted_proxies = []         # CIDRs of a CDN in front, e.g. Cloudflare's published ranges
                             # ("173.245.48.0/20", ...); empty: the peer address is the client
client_ip_header = ""        # the real client IP header those proxies send, e.g. "CF-Connecting-IP"

[ci]                         # the generated .github/workflows/staging-infra.yml
cache = "registry"           # build cache: "registry" (<registry>/<owner>/<image>:buildcache,
                             # works from a run: step after docker login), "gha" (GitHub's
                             # cache; the workflow exposes the Actions runtime to the step)
                             # or "none"
deploy = true                # a deploy job (`cargo xtask deploy`, environment staging;
                             # secrets STAGING_SSH_HOST, _SSH_KEY, _SSH_KNOWN_HOSTS, _ENV_FILE)

[swarm]                      # infra/docker-stack.staging.yml (`cargo xtask deploy --swarm`)
api_replicas = 2             # tasks of the API service, rolled start-first one at a time

# The workflow's actions, pinned by full commit hash ("<sha> # <tag>"); the defaults are
# built in (`cargo xtask config get actions.checkout`). Update one with
# `cargo xtask config set actions.checkout "<sha> # <tag>"`.
# [actions]
# checkout = "08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"

# A static web app (an SPA) Caddy serves on its own domain; no [web], no web site.
# [web]
# package = "@acme/web"               # its name in the pnpm workspace (required)
# script = "build"                    # the package.json script that builds it
# output = "dist"                     # what the script writes, relative to the package
# domain = "app.staging.example.com"  # its site (required); the API keeps caddy.domains
# assets = "assets"                   # under output: content-hashed files, cached a year

# A rule can be waived only with a reason; waivers are listed in every verify output.
# [[waiver]]
# rule = "compose/port-loopback"
# file = "infra/docker-compose.staging.yml"   # optional
# reason = "why this is fine here"
"#;

/// A config problem at a position in the file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Services,
    Registry,
    Owner,
    Tag,
    NpmName,
    FileName,
    Port,
    Image,
    ImageName,
    RelPath,
    Version,
    StrList,
    BuildFiles,
    Runner,
    LogDriver,
    Count,
    Size,
    Seconds,
    BodySize,
    Cidrs,
    Header,
    CiCache,
    Bool,
    Pin,
    Replicas,
    Web,
}

/// Every key the config knows: (table, key, kind).
const SCHEMA: &[(&str, &str, Kind)] = &[
    ("project", "registry", Kind::Registry),
    ("swarm", "api_replicas", Kind::Replicas),
    ("project", "owner", Kind::Owner),
    ("project", "tag", Kind::Tag),
    ("project", "name", Kind::ImageName),
    ("project", "services", Kind::Services),
    ("api", "package", Kind::NpmName),
    ("api", "path", Kind::RelPath),
    ("api", "image", Kind::ImageName),
    ("api", "port", Kind::Port),
    ("api", "entry", Kind::RelPath),
    ("api", "keep_build_files", Kind::BuildFiles),
    ("node", "image", Kind::Image),
    ("node", "pnpm", Kind::Version),
    ("node", "build_runner", Kind::Runner),
    ("tee_worker", "image", Kind::ImageName),
    ("tee_worker", "port", Kind::Port),
    ("images", "postgres", Kind::Image),
    ("images", "redis", Kind::Image),
    ("images", "ipfs", Kind::Image),
    ("images", "caddy", Kind::Image),
    ("caddy", "domains", Kind::StrList),
    ("caddy", "cert_file", Kind::FileName),
    ("caddy", "key_file", Kind::FileName),
    ("ports", "api", Kind::Port),
    ("ports", "tee_worker", Kind::Port),
    ("ports", "postgres", Kind::Port),
    ("ports", "redis", Kind::Port),
    ("ports", "ipfs_api", Kind::Port),
    ("ports", "ipfs_gateway", Kind::Port),
    ("ports", "ipfs_swarm", Kind::Port),
    ("ports", "http", Kind::Port),
    ("ports", "https", Kind::Port),
    ("logs", "driver", Kind::LogDriver),
    ("logs", "max_size", Kind::Size),
    ("logs", "max_file", Kind::Count),
    ("memory", "api", Kind::Size),
    ("memory", "postgres", Kind::Size),
    ("memory", "redis", Kind::Size),
    ("memory", "ipfs", Kind::Size),
    ("memory", "tee_worker", Kind::Size),
    ("memory", "caddy", Kind::Size),
    ("edge", "hsts_max_age", Kind::Seconds),
    ("edge", "max_body", Kind::BodySize),
    ("edge", "trusted_proxies", Kind::Cidrs),
    ("edge", "client_ip_header", Kind::Header),
    ("ci", "cache", Kind::CiCache),
    ("ci", "deploy", Kind::Bool),
    ("actions", "checkout", Kind::Pin),
    ("actions", "cache", Kind::Pin),
    ("actions", "setup_buildx", Kind::Pin),
    ("actions", "login", Kind::Pin),
    ("actions", "github_runtime", Kind::Pin),
    ("actions", "upload_sarif", Kind::Pin),
    ("web", "package", Kind::Web),
    ("web", "script", Kind::Web),
    ("web", "output", Kind::Web),
    ("web", "domain", Kind::Web),
    ("web", "assets", Kind::Web),
];

/// The config file path for a root and an optional `--config`.
pub fn path_for(root: &Path, explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf()),
        None => root.join(DEFAULT_PATH),
    }
}

/// Loads the config: defaults when the file does not exist and was not asked for by name.
pub fn load(path: &Path, required: bool) -> Result<Config> {
    if !path.exists() {
        if required {
            bail!(
                "config file {} does not exist; create it with `cargo xtask config init`",
                path.display()
            );
        }
        return Ok(Config::default());
    }
    let text = crate::files::read_input(path, crate::files::MAX_INPUT)
        .context("cannot read the config file")?;
    let mut config = parse(&text, &path.display().to_string())?;
    config.source = Some(path.to_path_buf());
    Ok(config)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// Parses and validates config text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Config> {
    let doc = Document::parse(text.to_owned()).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError {
            file: file.into(),
            line,
            column,
            message: format!("malformed TOML: {}", e.message()),
        }
    })?;
    let at = |span: Option<std::ops::Range<usize>>, message: String| -> anyhow::Error {
        let (line, column) = span.map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError {
            file: file.into(),
            line,
            column,
            message,
        }
        .into()
    };
    let mut c = Config::default();
    for (table_name, item) in doc.as_table().iter() {
        let key_span = doc.as_table().key(table_name).and_then(|k| k.span());
        if table_name == "waiver" {
            let Some(arr) = item.as_array_of_tables() else {
                return Err(at(
                    key_span,
                    "`waiver` must be an array of tables: [[waiver]]".into(),
                ));
            };
            for t in arr.iter() {
                let mut w = Waiver {
                    rule: String::new(),
                    file: None,
                    reason: String::new(),
                };
                for (k, v) in t.iter() {
                    let span = t.key(k).and_then(|k| k.span());
                    let s = v
                        .as_str()
                        .ok_or_else(|| at(span.clone(), format!("waiver.{k} must be a string")))?;
                    match k {
                        "rule" => w.rule = s.into(),
                        "file" => w.file = Some(s.into()),
                        "reason" => w.reason = s.into(),
                        _ => {
                            return Err(at(
                                span,
                                format!("unknown key `waiver.{k}` (known: rule, file, reason)"),
                            ))
                        }
                    }
                }
                if w.rule.is_empty() || w.reason.trim().is_empty() {
                    return Err(at(
                        t.span(),
                        "a [[waiver]] needs both `rule` and a non-empty `reason`".into(),
                    ));
                }
                c.waivers.push(w);
            }
            continue;
        }
        let Some(table) = item.as_table_like() else {
            return Err(at(
                key_span,
                format!("`{table_name}` must be a table ([{table_name}])"),
            ));
        };
        if !SCHEMA.iter().any(|(t, _, _)| *t == table_name) {
            let known: Vec<&str> = dedup(SCHEMA.iter().map(|(t, _, _)| *t));
            let hint = if table_name == "services" {
                " (third-party images are set under [images])".to_string()
            } else {
                String::new()
            };
            return Err(at(
                key_span,
                format!(
                    "unknown table `[{table_name}]`{hint} (known: {}, waiver)",
                    known.join(", ")
                ),
            ));
        }
        if table_name == "web" {
            c.web.get_or_insert_with(WebConfig::default);
        }
        for (key, value) in table.iter() {
            let kspan = table.key(key).and_then(|k| k.span());
            let span = value.span().or(kspan.clone());
            if table_name == "api" && (key == "env" || key == "health" || key == "migrate") {
                let Some(sub) = value.as_table_like() else {
                    return Err(at(
                        kspan,
                        format!("`api.{key}` must be a table ([api.{key}])"),
                    ));
                };
                for (k, v) in sub.iter() {
                    let ks = sub.key(k).and_then(|x| x.span());
                    let vs = v.span().or(ks.clone());
                    let r = if key == "env" {
                        apply_env(&mut c, k, v).map_err(|m| at(ks.clone(), m))
                    } else if key == "migrate" {
                        apply_migrate(&mut c, k, v).map_err(|m| at(vs, m))
                    } else if k == "body" {
                        apply_health_body(&mut c, v).map_err(|(s, m)| at(s.or(vs), m))
                    } else {
                        apply_health(&mut c, k, v).map_err(|m| at(vs, m))
                    };
                    r?;
                }
                continue;
            }
            let Some(&(_, _, kind)) = SCHEMA
                .iter()
                .find(|(t, k, _)| *t == table_name && *k == key)
            else {
                let known: Vec<&str> = SCHEMA
                    .iter()
                    .filter(|(t, _, _)| *t == table_name)
                    .map(|(_, k, _)| *k)
                    .collect();
                let what = if table_name == "images" {
                    "unknown service"
                } else {
                    "unknown key"
                };
                return Err(at(
                    kspan,
                    format!("{what} `{table_name}.{key}` (known: {})", known.join(", ")),
                ));
            };
            apply(&mut c, table_name, key, kind, value).map_err(|m| at(span, m))?;
        }
    }
    if let Some(w) = &c.web {
        let span = doc.as_table().key("web").and_then(|k| k.span());
        web::check(w, &c.caddy.domains).map_err(|m| at(span, m))?;
    }
    if let Some((first, second, port)) = values::port_collisions(&host_ports(&c)) {
        let span_of = |key: &str| {
            let (t, k) = key.split_once('.')?;
            doc.get(t)?.as_table_like()?.get(k)?.span()
        };
        // name the key written in the file (the later one when both are)
        let (key, other, span) = match (span_of(second), span_of(first)) {
            (Some(s), _) => (second, first, Some(s)),
            (None, Some(s)) => (first, second, Some(s)),
            (None, None) => (second, first, None),
        };
        return Err(at(span, values::port_collision_message(key, other, port)));
    }
    Ok(c)
}

/// One `[api.env]` entry.
fn apply_env(c: &mut Config, name: &str, item: &Item) -> Result<(), String> {
    if !crate::envcontract::is_var_name(name) {
        return Err(format!(
            "`api.env.{name}` is not a variable name (letters, digits and _, not starting with a digit)"
        ));
    }
    let text = |v: &Value, what: &str| -> Result<String, String> {
        let s = v
            .as_str()
            .ok_or_else(|| format!("`api.env.{name}`{what} must be a string"))?;
        if s.contains(['\n', '\r', '\0']) {
            return Err(format!(
                "`api.env.{name}`{what} must be one line (no newline or NUL)"
            ));
        }
        Ok(s.to_string())
    };
    let mut o = EnvOverride {
        name: name.to_string(),
        value: None,
        secret: None,
        optional: None,
        comment: None,
    };
    if let Some(v) = item.as_value().filter(|v| !v.is_inline_table()) {
        o.value = Some(text(v, "")?);
    } else if let Some(t) = item.as_table_like() {
        for (k, v) in t.iter() {
            let v = v
                .as_value()
                .ok_or_else(|| format!("`api.env.{name}.{k}` must be a value"))?;
            let flag = |v: &Value| {
                v.as_bool()
                    .ok_or_else(|| format!("`api.env.{name}.{k}` must be true or false"))
            };
            match k {
                "value" => o.value = Some(text(v, ".value")?),
                "comment" => o.comment = Some(text(v, ".comment")?),
                "secret" => o.secret = Some(flag(v)?),
                "optional" => o.optional = Some(flag(v)?),
                _ => {
                    return Err(format!(
                        "unknown key `api.env.{name}.{k}` (known: value, secret, optional, comment)"
                    ))
                }
            }
        }
    } else {
        return Err(format!(
            "`api.env.{name}` must be a string (its staging value) or a table like {{ secret = true }}"
        ));
    }
    if o.secret == Some(true) && o.value.is_some() {
        return Err(format!(
            "`api.env.{name}` is a secret with a value in the config; a secret's value belongs in .env.staging only (drop `value`)"
        ));
    }
    c.api.env.retain(|e| e.name != name);
    c.api.env.push(o);
    Ok(())
}

/// `[api.migrate] command = ["node", "dist/run-migrations.js"]`.
fn apply_migrate(c: &mut Config, key: &str, item: &Item) -> Result<(), String> {
    if key != "command" {
        return Err(format!("unknown key `api.migrate.{key}` (known: command)"));
    }
    let arr = item.as_array().ok_or(
        "`api.migrate.command` must be an array of strings (exec form), e.g. [\"node\", \"dist/run-migrations.js\"]",
    )?;
    let mut out = Vec::new();
    for v in arr.iter() {
        let s = v
            .as_str()
            .ok_or("`api.migrate.command` must contain only strings")?;
        if s.is_empty() || s.contains(['\n', '\r', '\0']) {
            return Err("`api.migrate.command`: every word must be non-empty, on one line".into());
        }
        out.push(s.to_string());
    }
    if out.is_empty() {
        return Err(
            "`api.migrate.command` must not be empty (remove [api.migrate] for none)".into(),
        );
    }
    c.api.migrate = out;
    Ok(())
}

/// One `[api.health]` entry.
fn apply_health(c: &mut Config, key: &str, item: &Item) -> Result<(), String> {
    match key {
        "path" => {
            let s = item
                .as_str()
                .ok_or("`api.health.path` must be a string like \"/health\"")?;
            let ok = s.starts_with('/')
                && s.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "/-._~%?=&".contains(ch));
            if !ok {
                return Err(format!(
                    "`api.health.path` = {s:?} must be a URL path starting with / (letters, digits, - . _ ~ % ? = &)"
                ));
            }
            c.api.health.path = s.to_string();
        }
        "status" => {
            let n = item
                .as_integer()
                .ok_or("`api.health.status` must be an HTTP status (an integer)")?;
            c.api.health.status = u16::try_from(n)
                .ok()
                .filter(|n| (100..600).contains(n))
                .ok_or_else(|| {
                    format!("`api.health.status` = {n} is not an HTTP status (100-599)")
                })?;
        }
        _ => {
            return Err(format!(
                "unknown key `api.health.{key}` (known: path, status, body)"
            ))
        }
    }
    Ok(())
}

/// `[api.health.body]`: `"/json/pointer" = expected`. An error carries the span of the key
/// (or value) at fault.
fn apply_health_body(
    c: &mut Config,
    item: &Item,
) -> Result<(), (Option<std::ops::Range<usize>>, String)> {
    use crate::health::{BodyCheck, Pointer};
    let Some(t) = item.as_table_like() else {
        return Err((
            None,
            "`api.health.body` must be a table: [api.health.body] with lines like \"/status\" = \"ok\"".into(),
        ));
    };
    let mut checks = Vec::new();
    for (k, v) in t.iter() {
        let ks = t.key(k).and_then(|x| x.span());
        let key = format!("`api.health.body.{}`", crate::values::shown(k));
        let pointer = Pointer::parse(k).map_err(|m| (ks.clone(), format!("{key}: {m}")))?;
        let expected = match v.as_value() {
            Some(Value::String(s)) => serde_json::Value::from(s.value().as_str()),
            Some(Value::Integer(n)) => serde_json::Value::from(*n.value()),
            Some(Value::Boolean(b)) => serde_json::Value::from(*b.value()),
            Some(Value::Float(f)) => serde_json::Number::from_f64(*f.value())
                .map(serde_json::Value::Number)
                .ok_or_else(|| (v.span(), format!("{key}: a number must be finite")))?,
            _ => {
                return Err((
                    v.span().or(ks),
                    format!("{key} must be a string, a number or true/false (the value expected at that pointer)"),
                ))
            }
        };
        checks.push(BodyCheck::new(pointer, expected).map_err(|m| (ks.clone(), m))?);
    }
    c.api.health.body = checks;
    Ok(())
}

fn dedup<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// `project.services` and `project.name`.
fn apply_project(c: &mut Config, kind: Kind, item: &Item, full: &str) -> Result<(), String> {
    if kind == Kind::Services {
        let arr = item
            .as_array()
            .ok_or_else(|| format!("`{full}` must be an array, e.g. [\"postgres\", \"redis\"]"))?;
        let mut out: Vec<String> = Vec::new();
        for v in arr.iter() {
            let s = v
                .as_str()
                .ok_or_else(|| format!("`{full}` must contain only strings"))?;
            if !STACK_SERVICES.contains(&s) {
                return Err(format!(
                    "`{full}`: unknown service {s:?} (known: {}; api and caddy are always there)",
                    STACK_SERVICES.join(", ")
                ));
            }
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
        c.services = STACK_SERVICES
            .iter()
            .filter(|s| out.iter().any(|o| o == *s))
            .map(|s| s.to_string())
            .collect();
        return Ok(());
    }
    {
        let v = item
            .as_str()
            .ok_or_else(|| format!("`{full}` must be a string"))?;
        let ok = !v.is_empty()
            && v.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
            && v.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit());
        if !ok {
            return Err(format!(
                "`{full}` = {v:?} is not a compose project name (lowercase letters, digits, - and _, starting with a letter or digit)"
            ));
        }
        c.project_name = Some(v.to_string());
        Ok(())
    }
}

/// `api.keep_build_files`: only names from [`BUILD_ONLY_FILES`].
fn apply_build_files(c: &mut Config, item: &Item, full: &str) -> Result<(), String> {
    let known = BUILD_ONLY_FILES.join("\", \"");
    let arr = item.as_array().ok_or_else(|| {
        format!("`{full}` must be an array, e.g. [\"*.map\"] (known: \"{known}\")")
    })?;
    let mut out: Vec<String> = Vec::new();
    for v in arr.iter() {
        let s = v
            .as_str()
            .ok_or_else(|| format!("`{full}` must contain only strings"))?;
        if !BUILD_ONLY_FILES.contains(&s) {
            return Err(format!(
                "`{full}`: {s:?} is not a build-only file pattern (known: \"{known}\")"
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    c.api.keep_build_files = out;
    Ok(())
}

fn apply(c: &mut Config, table: &str, key: &str, kind: Kind, item: &Item) -> Result<(), String> {
    let full = format!("{table}.{key}");
    if kind == Kind::Web {
        return web::apply(c.web.get_or_insert_with(WebConfig::default), key, item);
    }
    if kind == Kind::Replicas {
        let n = item
            .as_integer()
            .filter(|n| (1..=50).contains(n))
            .ok_or_else(|| format!("`{full}` must be a whole number from 1 to 50"))?;
        c.swarm.api_replicas = n as u32;
        return Ok(());
    }
    if matches!(kind, Kind::LogDriver | Kind::Count | Kind::Size) {
        return apply_ops(c, table, key, kind, item, &full);
    }
    if matches!(
        kind,
        Kind::Seconds | Kind::BodySize | Kind::Cidrs | Kind::Header
    ) {
        return apply_edge(c, kind, item, &full);
    }
    if kind == Kind::Services || (table, key) == ("project", "name") {
        return apply_project(c, kind, item, &full);
    }
    if kind == Kind::BuildFiles {
        return apply_build_files(c, item, &full);
    }
    if kind == Kind::StrList {
        let arr = item.as_array().ok_or_else(|| {
            format!("`{full}` must be an array of strings, e.g. [\"staging.example.com\"]")
        })?;
        let mut out = Vec::new();
        for v in arr.iter() {
            let s = v
                .as_str()
                .ok_or_else(|| format!("`{full}` must contain only strings"))?;
            values::host_name(s).map_err(|m| format!("`{full}`: {m}"))?;
            out.push(s.to_string());
        }
        c.caddy.domains = out;
        return Ok(());
    }
    if kind == Kind::Bool {
        c.ci.deploy = item
            .as_bool()
            .ok_or_else(|| format!("`{full}` must be true or false"))?;
        return Ok(());
    }
    if kind == Kind::Port {
        let n = item.as_integer().ok_or_else(|| {
            format!("`{full}` must be a port number (an integer from 1 to 65535)")
        })?;
        let port = u16::try_from(n)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{full}` = {n} is out of range: a port is from 1 to 65535"))?;
        set_port(c, table, key, port);
        return Ok(());
    }
    let s = item
        .as_str()
        .ok_or_else(|| format!("`{full}` must be a string"))?
        .to_string();
    match kind {
        Kind::CiCache => {
            c.ci.cache = CiCache::parse(&s)
                .ok_or_else(|| format!("`{full}` = {s:?} must be {}", CiCache::NAMES))?;
            return Ok(());
        }
        Kind::Pin => {
            let (sha, tag) =
                crate::actions::parse_value(&s).map_err(|m| format!("`{full}` = {s:?} {m}"))?;
            let pin = c
                .actions
                .iter_mut()
                .find(|p| p.key == key)
                .ok_or_else(|| format!("internal: no pin for `{full}`"))?;
            pin.sha = sha;
            pin.tag = tag;
            return Ok(());
        }
        _ => {}
    }
    if kind == Kind::Runner {
        c.node.build_runner = BuildRunner::parse(&s).ok_or_else(|| {
            format!(
                "`{full}` = {} must be {}",
                values::shown(&s),
                BuildRunner::NAMES
            )
        })?;
        return Ok(());
    }
    check_value(kind, &full, &s)?;
    let slot: &mut String = match (table, key) {
        ("project", "registry") => &mut c.registry,
        ("project", "owner") => &mut c.owner,
        ("project", "tag") => &mut c.tag,
        ("api", "package") => &mut c.api.package,
        ("api", "path") => {
            c.api.path = Some(s);
            return Ok(());
        }
        ("api", "image") => &mut c.api.image,
        ("api", "entry") => &mut c.api.entry,
        ("node", "image") => &mut c.node.image,
        ("node", "pnpm") => &mut c.node.pnpm,
        ("tee_worker", "image") => &mut c.tee_worker.image,
        ("images", "postgres") => &mut c.images.postgres,
        ("images", "redis") => &mut c.images.redis,
        ("images", "ipfs") => &mut c.images.ipfs,
        ("images", "caddy") => &mut c.images.caddy,
        ("caddy", "cert_file") => &mut c.caddy.cert_file,
        ("caddy", "key_file") => &mut c.caddy.key_file,
        _ => return Err(format!("internal: no slot for `{full}`")),
    };
    *slot = s;
    Ok(())
}

/// `[logs]` and `[memory]`: how the stack lives on a VPS.
fn apply_ops(
    c: &mut Config,
    table: &str,
    key: &str,
    kind: Kind,
    item: &Item,
    full: &str,
) -> Result<(), String> {
    if kind == Kind::Count {
        let n = item
            .as_integer()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| format!("`{full}` must be a whole number from 1 to 100"))?;
        c.logs.max_file = n as u32;
        return Ok(());
    }
    let s = item
        .as_str()
        .ok_or_else(|| format!("`{full}` must be a string"))?
        .to_string();
    if kind == Kind::LogDriver {
        if !LOG_DRIVERS.contains(&s.as_str()) {
            return Err(format!(
                "`{full}` = {s:?} must be \"json-file\" or \"local\" (drivers that rotate and keep `docker logs`)"
            ));
        }
        c.logs.driver = s;
        return Ok(());
    }
    if !is_docker_size(&s) {
        return Err(format!(
            "`{full}` = {s:?} must be a Docker size: a number and k, m or g (e.g. \"512m\", \"2g\")"
        ));
    }
    let m = &mut c.memory;
    let slot = match (table, key) {
        ("logs", "max_size") => &mut c.logs.max_size,
        ("memory", "api") => &mut m.api,
        ("memory", "postgres") => &mut m.postgres,
        ("memory", "redis") => &mut m.redis,
        ("memory", "ipfs") => &mut m.ipfs,
        ("memory", "tee_worker") => &mut m.tee_worker,
        ("memory", "caddy") => &mut m.caddy,
        _ => return Err(format!("internal: no slot for `{full}`")),
    };
    *slot = s;
    Ok(())
}

/// Every string value goes through its type in [`values`] before it reaches the model.
fn check_value(kind: Kind, full: &str, s: &str) -> Result<(), String> {
    let v = values::shown(s);
    let r = match kind {
        Kind::Registry => values::registry(s),
        Kind::Owner => values::owner(s),
        Kind::Tag => values::tag(s),
        Kind::NpmName => values::npm_name(s),
        Kind::FileName => values::file_name(s),
        Kind::Image => {
            values::image_ref(s).map_err(|m| format!("{v} is not an image reference: {m}"))
        }
        Kind::ImageName => values::image_name(s),
        Kind::RelPath => values::rel_path(s)
            .map_err(|m| format!("{m}; it must be a relative path inside the monorepo")),
        Kind::Version => values::semver(s),
        Kind::Port
        | Kind::StrList
        | Kind::BuildFiles
        | Kind::Services
        | Kind::Runner
        | Kind::LogDriver
        | Kind::Count
        | Kind::Size
        | Kind::Seconds
        | Kind::BodySize
        | Kind::Cidrs
        | Kind::Header
        | Kind::CiCache
        | Kind::Bool
        | Kind::Pin
        | Kind::Replicas
        | Kind::Web => Ok(()),
    };
    r.map_err(|m| {
        if m.starts_with(&v) {
            format!("`{full}` = {m}")
        } else {
            format!("`{full}` = {v}: {m}")
        }
    })
}

/// `[edge]`.
fn apply_edge(c: &mut Config, kind: Kind, item: &Item, full: &str) -> Result<(), String> {
    let e = &mut c.edge;
    match kind {
        Kind::Seconds => {
            e.hsts_max_age = item
                .as_integer()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    format!("`{full}` must be a whole number of seconds (e.g. 31536000, a year)")
                })?;
        }
        Kind::BodySize => {
            let s = item
                .as_str()
                .ok_or_else(|| format!("`{full}` must be a string like \"100MB\""))?;
            e.max_body = parse_body_size(s).ok_or_else(|| {
                format!("`{full}` = {s:?} must be a size: digits and B, KB, MB, GB, KiB, MiB or GiB (e.g. \"100MB\")")
            })?;
            e.max_body_text = s.to_string();
        }
        Kind::Cidrs => {
            let arr = item.as_array().ok_or_else(|| {
                format!("`{full}` must be an array of CIDRs, e.g. [\"173.245.48.0/20\"]")
            })?;
            let mut out = Vec::new();
            for v in arr.iter() {
                let s = v.as_str().unwrap_or_default();
                if !is_cidr(s) {
                    return Err(format!(
                        "`{full}`: {s:?} is not a CIDR like 173.245.48.0/20 or 2400:cb00::/32"
                    ));
                }
                if s.ends_with("/0") {
                    return Err(format!("`{full}`: {s:?} trusts every address, so any client could forge its IP; list the CDN's ranges"));
                }
                out.push(s.to_string());
            }
            e.trusted_proxies = out;
        }
        _ => {
            let s = item
                .as_str()
                .ok_or_else(|| format!("`{full}` must be a string"))?;
            if !s.is_empty() && !is_header_name(s) {
                return Err(format!(
                    "`{full}` = {s:?} is not an HTTP header name (e.g. \"CF-Connecting-IP\")"
                ));
            }
            e.client_ip_header = s.to_string();
        }
    }
    Ok(())
}

fn set_port(c: &mut Config, table: &str, key: &str, port: u16) {
    let p = &mut c.ports;
    let slot = match (table, key) {
        ("api", "port") => &mut c.api.port,
        ("tee_worker", "port") => &mut c.tee_worker.port,
        (_, "api") => &mut p.api,
        (_, "tee_worker") => &mut p.tee_worker,
        (_, "postgres") => &mut p.postgres,
        (_, "redis") => &mut p.redis,
        (_, "ipfs_api") => &mut p.ipfs_api,
        (_, "ipfs_gateway") => &mut p.ipfs_gateway,
        (_, "ipfs_swarm") => &mut p.ipfs_swarm,
        (_, "http") => &mut p.http,
        _ => &mut p.https,
    };
    *slot = port;
}

/// `10.34.9`: an exact semantic version (no range, no tag); see [`values::semver`].
pub fn is_exact_version(s: &str) -> bool {
    values::semver(s).is_ok()
}

/// `[host[:port]/]path[:tag][@digest]`, by the OCI reference grammar ([`values::image_ref`]).
pub fn validate_image_ref(s: &str) -> Result<(), String> {
    values::image_ref(s)
}

/// The host ports the stack publishes, by key, with their protocols.
fn host_ports(c: &Config) -> Vec<(&'static str, u16, &'static [&'static str])> {
    const TCP: &[&str] = &["tcp"];
    const BOTH: &[&str] = &["tcp", "udp"];
    let p = &c.ports;
    vec![
        ("ports.api", p.api, TCP),
        ("ports.tee_worker", p.tee_worker, TCP),
        ("ports.postgres", p.postgres, TCP),
        ("ports.redis", p.redis, TCP),
        ("ports.ipfs_api", p.ipfs_api, TCP),
        ("ports.ipfs_gateway", p.ipfs_gateway, TCP),
        ("ports.ipfs_swarm", p.ipfs_swarm, BOTH),
        ("ports.http", p.http, TCP),
        ("ports.https", p.https, TCP),
    ]
}

/// `config set`: change one key, keeping every comment and the layout; validates the result.
pub fn set_value(text: &str, key: &str, raw_value: &str, file: &str) -> Result<String> {
    let (table, field) = key
        .split_once('.')
        .with_context(|| format!("key {key:?} must be TABLE.KEY, e.g. project.owner"))?;
    let Some(&(_, _, kind)) = SCHEMA.iter().find(|(t, k, _)| *t == table && *k == field) else {
        let known: Vec<String> = SCHEMA.iter().map(|(t, k, _)| format!("{t}.{k}")).collect();
        bail!("unknown config key {key:?} (known: {})", known.join(", "));
    };
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{file} is not valid TOML; fix it before `config set`"))?;
    let value: Value = match kind {
        Kind::Port | Kind::Count => {
            let n: i64 = raw_value
                .parse()
                .with_context(|| format!("{key} must be a whole number, got {raw_value:?}"))?;
            n.into()
        }
        Kind::Bool => {
            let b: bool = raw_value
                .parse()
                .with_context(|| format!("{key} must be true or false, got {raw_value:?}"))?;
            b.into()
        }
        Kind::Seconds => {
            let n: i64 = raw_value
                .parse()
                .with_context(|| format!("{key} must be a whole number, got {raw_value:?}"))?;
            n.into()
        }
        Kind::StrList | Kind::Cidrs | Kind::Services | Kind::BuildFiles => {
            let mut arr = toml_edit::Array::new();
            for d in raw_value
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
            {
                arr.push(d);
            }
            Value::Array(arr)
        }
        _ => raw_value.into(),
    };
    if !doc.contains_key(table) {
        doc[table] = toml_edit::table();
    }
    let tbl = doc[table]
        .as_table_like_mut()
        .with_context(|| format!("`{table}` in {file} is not a table"))?;
    match tbl.get_mut(field) {
        Some(Item::Value(old)) => {
            // keep the old value's surrounding whitespace and trailing comment
            let decor = old.decor().clone();
            *old = value;
            *old.decor_mut() = decor;
        }
        _ => {
            tbl.insert(field, Item::Value(value));
        }
    }
    let out = doc.to_string();
    parse(&out, file)?;
    Ok(out)
}

/// `config get`: the effective value of one key, as TOML.
pub fn get_value(c: &Config, key: &str) -> Result<String> {
    let s = |v: &str| format!("{v:?}");
    Ok(match key {
        "project.registry" => s(&c.registry),
        "project.name" => c
            .project_name
            .as_deref()
            .map(s)
            .unwrap_or_else(|| "(unset: <root package name>-staging)".into()),
        "project.services" => format!("{:?}", c.services),
        "project.owner" => s(&c.owner),
        "project.tag" => s(&c.tag),
        "api.package" => s(&c.api.package),
        "api.path" => c
            .api
            .path
            .as_deref()
            .map(s)
            .unwrap_or_else(|| "(unset)".into()),
        "api.image" => s(&c.api.image),
        "api.port" => c.api.port.to_string(),
        "api.entry" => s(&c.api.entry),
        "api.keep_build_files" => format!("{:?}", c.api.keep_build_files),
        "node.image" => s(&c.node.image),
        "node.pnpm" => s(&c.node.pnpm),
        "node.build_runner" => s(c.node.build_runner.name()),
        "tee_worker.image" => s(&c.tee_worker.image),
        "tee_worker.port" => c.tee_worker.port.to_string(),
        "images.postgres" => s(&c.images.postgres),
        "images.redis" => s(&c.images.redis),
        "images.ipfs" => s(&c.images.ipfs),
        "images.caddy" => s(&c.images.caddy),
        "caddy.domains" => format!("{:?}", c.caddy.domains),
        "caddy.cert_file" => s(&c.caddy.cert_file),
        "caddy.key_file" => s(&c.caddy.key_file),
        "ports.api" => c.ports.api.to_string(),
        "ports.tee_worker" => c.ports.tee_worker.to_string(),
        "ports.postgres" => c.ports.postgres.to_string(),
        "ports.redis" => c.ports.redis.to_string(),
        "ports.ipfs_api" => c.ports.ipfs_api.to_string(),
        "ports.ipfs_gateway" => c.ports.ipfs_gateway.to_string(),
        "ports.ipfs_swarm" => c.ports.ipfs_swarm.to_string(),
        "ports.http" => c.ports.http.to_string(),
        "ports.https" => c.ports.https.to_string(),
        "logs.driver" => s(&c.logs.driver),
        "logs.max_size" => s(&c.logs.max_size),
        "logs.max_file" => c.logs.max_file.to_string(),
        "memory.api" => s(&c.memory.api),
        "memory.postgres" => s(&c.memory.postgres),
        "memory.redis" => s(&c.memory.redis),
        "memory.ipfs" => s(&c.memory.ipfs),
        "memory.tee_worker" => s(&c.memory.tee_worker),
        "memory.caddy" => s(&c.memory.caddy),
        "edge.hsts_max_age" => c.edge.hsts_max_age.to_string(),
        "edge.max_body" => s(&c.edge.max_body_text),
        "edge.trusted_proxies" => format!("{:?}", c.edge.trusted_proxies),
        "edge.client_ip_header" => s(&c.edge.client_ip_header),
        "ci.cache" => s(c.ci.cache.name()),
        "swarm.api_replicas" => c.swarm.api_replicas.to_string(),
        "ci.deploy" => c.ci.deploy.to_string(),
        k if k.starts_with("web.") => web::get(c.web.as_ref(), &k[4..])
            .with_context(|| format!("unknown config key {key:?}"))?,
        k if k.starts_with("actions.") => {
            let pin = c
                .actions
                .iter()
                .find(|p| k == format!("actions.{}", p.key))
                .with_context(|| format!("unknown config key {key:?}"))?;
            s(&pin.value())
        }
        _ => {
            let known: Vec<String> = SCHEMA.iter().map(|(t, k, _)| format!("{t}.{k}")).collect();
            bail!("unknown config key {key:?} (known: {})", known.join(", "))
        }
    })
}

/// Every key the schema knows, as `table.key`.
pub fn keys() -> Vec<String> {
    SCHEMA.iter().map(|(t, k, _)| format!("{t}.{k}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let c = parse(TEMPLATE, "t.toml").expect("template parses");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn action_pins_are_one_table_updatable_by_config_set() {
        let sha = "1111111111111111111111111111111111111111";
        let text = set_value(
            TEMPLATE,
            "actions.checkout",
            &format!("{sha} # v9.9.9"),
            "t",
        )
        .expect("set");
        let c = parse(&text, "t").expect("parses");
        let pin = c.actions.iter().find(|p| p.key == "checkout").expect("pin");
        assert_eq!((pin.sha.as_str(), pin.tag.as_str()), (sha, "v9.9.9"));
        assert_eq!(
            get_value(&c, "actions.checkout").expect("get"),
            format!("\"{sha} # v9.9.9\"")
        );
        assert!(set_value(TEMPLATE, "actions.checkout", "v5", "t").is_err());
        let text = set_value(TEMPLATE, "ci.cache", "gha", "t").expect("set");
        assert_eq!(parse(&text, "t").expect("parses").ci.cache, CiCache::Gha);
        assert!(set_value(TEMPLATE, "ci.cache", "s3", "t").is_err());
        let text = set_value(TEMPLATE, "ci.deploy", "false", "t").expect("set");
        assert!(!parse(&text, "t").expect("parses").ci.deploy);
    }

    #[test]
    fn every_schema_key_has_a_getter() {
        let c = Config::default();
        for k in keys() {
            get_value(&c, &k).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text, "c.toml").expect_err("must fail"))
    }

    #[test]
    fn malformed_toml_has_line_and_column() {
        let e = err("[api]\nport = = 3\n");
        assert!(e.starts_with("c.toml:2:"), "{e}");
        assert!(e.contains("malformed TOML"), "{e}");
    }

    #[test]
    fn unknown_key_is_named_with_position() {
        let e = err("[api]\nport = 3000\nprot = 1\n");
        assert!(e.starts_with("c.toml:3:1: unknown key `api.prot`"), "{e}");
    }

    #[test]
    fn build_runner_values() {
        for r in [BuildRunner::Auto, BuildRunner::Node, BuildRunner::Pnpm] {
            let c = parse(
                &format!("[node]\nbuild_runner = \"{}\"\n", r.name()),
                "c.toml",
            )
            .expect("parses");
            assert_eq!(c.node.build_runner, r);
        }
        let e = err("[node]\nbuild_runner = \"npm\"\n");
        assert!(
            e.starts_with(
                "c.toml:2:16: `node.build_runner` = \"npm\" must be \"auto\", \"node\" or \"pnpm\""
            ),
            "{e}"
        );
    }

    #[test]
    fn port_out_of_range() {
        let e = err("[ports]\npostgres = 70000\n");
        assert!(e.starts_with("c.toml:2:12:"), "{e}");
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn bad_image_reference() {
        let e = err("[images]\nredis = \"Redis:7 alpine\"\n");
        assert!(e.contains("not an image reference"), "{e}");
    }

    #[test]
    fn unknown_service_name() {
        let e = err("[images]\nmongo = \"mongo:7\"\n");
        assert!(e.contains("unknown service `images.mongo`"), "{e}");
    }

    #[test]
    fn image_refs() {
        for ok in [
            "node:22-alpine",
            "ghcr.io/a/b:1.2",
            "localhost:5000/x/y:t",
            "ipfs/kubo:v0.34.0",
            "x@sha256:0123456789abcdef0123456789abcdef",
        ] {
            validate_image_ref(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "Node:22", "node:", "a b", "node:22:x:y", "-x:1"] {
            assert!(validate_image_ref(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_keeps_comments_and_layout() {
        let text =
            "# my notes\n[project]\nowner = \"OWNER\"   # who owns it\n\n[api]\nport = 3000\n";
        let out = set_value(text, "project.owner", "acme", "c.toml").expect("set");
        assert_eq!(
            out,
            "# my notes\n[project]\nowner = \"acme\"   # who owns it\n\n[api]\nport = 3000\n"
        );
        let out = set_value(&out, "ports.redis", "6380", "c.toml").expect("set new table");
        assert!(
            out.starts_with("# my notes\n[project]\nowner = \"acme\"   # who owns it\n"),
            "{out}"
        );
        assert_eq!(parse(&out, "c").expect("valid").ports.redis, 6380);
    }

    #[test]
    fn set_rejects_bad_values_and_keys() {
        assert!(set_value("", "ports.redis", "0", "c").is_err());
        assert!(set_value("", "nope.x", "1", "c").is_err());
        assert!(set_value("", "images.redis", "UPPER", "c").is_err());
    }

    #[test]
    fn logs_and_memory_are_validated() {
        let c = parse(
            "[logs]\ndriver = \"local\"\nmax_size = \"50m\"\nmax_file = 5\n[memory]\napi = \"1g\"\n",
            "c",
        )
        .expect("valid");
        assert_eq!(c.logs.driver, "local");
        assert_eq!(c.logs.max_file, 5);
        assert_eq!(c.memory.of("api"), Some("1g"));
        let e = err("[logs]\ndriver = \"syslog\"\n");
        assert!(
            e.starts_with("c.toml:2:10:") && e.contains("json-file"),
            "{e}"
        );
        let e = err("[memory]\nredis = \"lots\"\n");
        assert!(e.contains("Docker size"), "{e}");
        let e = err("[logs]\nmax_file = 0\n");
        assert!(e.contains("from 1 to 100"), "{e}");
        for ok in ["10m", "2G", "1048576", "512k"] {
            assert!(is_docker_size(ok), "{ok}");
        }
        for bad in ["", "m", "0m", "1.5g", "10mb", "-1m", "1 m"] {
            assert!(!is_docker_size(bad), "{bad}");
        }
    }

    #[test]
    fn edge_values_are_validated() {
        let c = parse(
            "[edge]\nhsts_max_age = 600\nmax_body = \"5MiB\"\ntrusted_proxies = [\"173.245.48.0/20\", \"2400:cb00::/32\"]\nclient_ip_header = \"CF-Connecting-IP\"\n",
            "c",
        )
        .expect("valid");
        assert_eq!(c.edge.max_body, 5 << 20);
        assert_eq!(c.edge.trusted_proxies.len(), 2);
        for (bad, want) in [
            ("max_body = \"lots\"", "must be a size"),
            ("trusted_proxies = [\"0.0.0.0/0\"]", "trusts every address"),
            ("trusted_proxies = [\"10.0.0.1\"]", "not a CIDR"),
            ("client_ip_header = \"X Real\"", "not an HTTP header name"),
            ("hsts_max_age = -1", "whole number of seconds"),
        ] {
            let e = err(&format!("[edge]\n{bad}\n"));
            assert!(e.starts_with("c.toml:2:") && e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn waivers_need_reasons() {
        let e = err("[[waiver]]\nrule = \"x\"\n");
        assert!(e.contains("non-empty `reason`"), "{e}");
        let c = parse("[[waiver]]\nrule = \"x\"\nreason = \"because\"\n", "c").expect("ok");
        assert_eq!(c.waivers.len(), 1);
    }

    #[test]
    fn health_body_checks_are_json_pointers_to_scalars() {
        let c = parse(
            "[api.health]\nstatus = 200\n\n[api.health.body]\n\"/status\" = \"ok\"\n\"/info/database/status\" = \"up\"\n\"/checks/a~1b/port\" = 5432\n\"/ratio\" = 0.5\n\"/ready\" = true\n",
            "t.toml",
        )
        .expect("parses");
        let got: Vec<(String, serde_json::Value)> = c
            .api
            .health
            .body
            .iter()
            .map(|b| (b.pointer.as_str().to_string(), b.expected.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("/status".to_string(), serde_json::json!("ok")),
                ("/info/database/status".to_string(), serde_json::json!("up")),
                ("/checks/a~1b/port".to_string(), serde_json::json!(5432)),
                ("/ratio".to_string(), serde_json::json!(0.5)),
                ("/ready".to_string(), serde_json::json!(true)),
            ]
        );
        assert_eq!(
            parse("[api.health]\nbody = { \"/status\" = \"ok\" }\n", "t")
                .expect("inline")
                .api
                .health
                .body
                .len(),
            1
        );
        assert!(Config::default().api.health.body.is_empty());
        // refusals name the key and its line
        for (text, line, want) in [
            (
                "[api]\nport = 3000\n[api.health.body]\n\"status\" = \"ok\"\n",
                4,
                "`api.health.body.\"status\"`: \"status\" is not a JSON pointer (RFC 6901): it must start with `/`",
            ),
            (
                "[api.health.body]\n\"/a\" = 1\n\"/a~2\" = 1\n",
                3,
                "`~` must be followed by 0 or 1",
            ),
            (
                "[api.health.body]\n\"/a\" = [1]\n",
                2,
                "`api.health.body.\"/a\"` must be a string, a number or true/false",
            ),
            (
                "[api.health.body]\n\"/a\" = nan\n",
                2,
                "a number must be finite",
            ),
            (
                "[api.health]\nbody = \"ok\"\n",
                2,
                "`api.health.body` must be a table",
            ),
        ] {
            let e = parse(text, "t.toml").expect_err(text);
            let e = e.downcast_ref::<ConfigError>().expect("a ConfigError");
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(want), "{text}: {e}");
        }
    }
}
