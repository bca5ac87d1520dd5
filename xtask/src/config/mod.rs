//! The user's config file (`infra/stack.toml`): what differs per deployment or per monorepo.
//!
//! Read with `toml_edit` so that every bad value is reported at its line and column, and
//! updated with `toml_edit` so that `config set` keeps the user's comments and layout.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::values;

mod access;
mod api_keys;
mod apply;
mod codegen;
pub mod image;
mod parse;
mod schema;
mod template;
pub mod web;

pub use access::{get_value, set_value};
pub use codegen::{is_script_name, Generate, GenerateRun};
pub use image::ImageConfig;
pub use parse::parse;
pub use schema::keys;
pub use template::TEMPLATE;
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
    /// `[image]`: the API image's size budget.
    pub image: ImageConfig,
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
    /// `api.hoist`: the image's install keeps the monorepo's hoisted layout
    /// (`node-linker=hoisted`) instead of an isolated one; by default it does not.
    pub hoist: bool,
    /// `[api.generate]`: code generators run after the install, before the first build.
    pub generate: Vec<Generate>,
    /// `api.runtime_files`: generated or runtime files (relative to the root) the runtime
    /// image carries from the build stage besides the packages' build outputs.
    pub runtime_files: Vec<String>,
}

/// Files a TypeScript build writes that node never loads: removed from the build outputs the
/// runtime image copies unless `api.keep_build_files` names them.
pub const BUILD_ONLY_FILES: &[&str] = &["*.tsbuildinfo", "*.map", "*.d.ts"];

/// One key of `[api.env]`: `NAME = "staging value"` or
/// `NAME = { value = "...", secret = true|false, optional = true|false, comment = "...",
/// format = "hex:32" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvOverride {
    pub name: String,
    pub value: Option<String>,
    pub secret: Option<bool>,
    pub optional: Option<bool>,
    pub comment: Option<String>,
    /// A secret's format (e.g. `hex:32`), kept as written.
    pub format: Option<String>,
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
                hoist: false,
                generate: Vec::new(),
                runtime_files: Vec::new(),
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
            image: ImageConfig::default(),
        }
    }
}

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
/// `within`: the monorepo root for the default path (read only inside it, see
/// [`crate::files::read_in`]); `None` for a file named by `--config`, which must exist and
/// may be anywhere the user keeps it (still a regular file, never a FIFO or `/proc`).
pub fn load(path: &Path, within: Option<&Path>) -> Result<Config> {
    let required = within.is_none();
    if !path.exists() {
        if required {
            bail!(
                "config file {} does not exist; create it with `cargo xtask config init`",
                path.display()
            );
        }
        return Ok(Config::default());
    }
    let text = match within {
        Some(root) => crate::files::read_input_in(root, path, crate::files::MAX_INPUT),
        None => crate::files::read_input(path, crate::files::MAX_INPUT),
    }
    .context("cannot read the config file")?;
    let mut config = parse(&text, &path.display().to_string())?;
    config.source = Some(path.to_path_buf());
    Ok(config)
}

/// `10.34.9`: an exact semantic version (no range, no tag); see [`values::semver`].
pub fn is_exact_version(s: &str) -> bool {
    values::semver(s).is_ok()
}

/// `[host[:port]/]path[:tag][@digest]`, by the OCI reference grammar ([`values::image_ref`]).
pub fn validate_image_ref(s: &str) -> Result<(), String> {
    values::image_ref(s)
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
        let c = parse("[api.env]\nLOG_LEVEL = \"info\"\n", "c").expect("parse");
        for k in keys() {
            let k = k
                .replace("<NAME>", "LOG_LEVEL")
                .replace("\"<JSON pointer>\"", "/status");
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
