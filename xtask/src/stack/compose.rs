//! The compose model: the stack's services (api, its migrations, postgres, redis, ipfs,
//! tee-worker, caddy), their ports, volumes, health checks, networks and limits.

use crate::config::Config;
use crate::envcontract::Contract;

/// A value in compose's `environment:` or an interpolated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Lit(String),
    /// `${NAME:?message}`: fails loudly when unset or empty; with `empty_ok`,
    /// `${NAME?message}`: fails when unset, an empty value passes (a key the API's example
    /// leaves empty).
    Required {
        var: String,
        hint: String,
        empty_ok: bool,
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

/// IPFS's own network: the API and IPFS only, so no other service (the tee-worker included)
/// reaches IPFS's RPC API, which has no authentication.
pub const IPFS_NET: &str = "ipfs";

/// The networks a service joins, by its name (`with_ipfs`: the stack has an ipfs service):
/// caddy only `edge`; ipfs only `ipfs`; the API all of them; the rest `data`.
pub fn networks_of(service: &str, with_ipfs: bool) -> Vec<String> {
    let nets: &[&str] = match service {
        "caddy" | "web" => &[EDGE_NET],
        "ipfs" => &[IPFS_NET],
        "api" if with_ipfs => &[EDGE_NET, DATA_NET, IPFS_NET],
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

impl Compose {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Every variable the compose file interpolates as required, in order of first use.
    pub fn required_vars(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in &self.services {
            for (_, v) in &s.environment {
                if let Val::Required { var, hint, .. } = v {
                    if seen.insert(var.as_str()) {
                        out.push((var.clone(), hint.clone()));
                    }
                }
            }
        }
        out
    }
}

fn required(var: &str) -> Val {
    Val::Required {
        var: var.into(),
        hint: format!("set {var} in .env.staging (see .env.staging.example)"),
        empty_ok: false,
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

/// The healthcheck of our Node images (`node -e`: no curl or wget needed in the image):
/// `GET http://127.0.0.1:<port><path>`, healthy on `status`. It prints what it got, so
/// `docker inspect`'s health log (and the rehearsal's report) says it: `GET /health -> 503`,
/// or why there was no answer (`GET /health: ECONNREFUSED`, `... no answer within 4 s`, inside
/// the healthcheck's 5 s timeout). `path` is a validated URL path (`config::apply`: no quote).
pub fn node_probe(port: u16, path: &str, status: u16) -> String {
    format!(
        "const p='{path}';require('http').get({{host:'127.0.0.1',port:{port},path:p,timeout:4000}},r=>{{console.log('GET '+p+' -> '+r.statusCode);process.exit(r.statusCode==={status}?0:1)}}).on('timeout',function(){{this.destroy(new Error('no answer within 4 s'))}}).on('error',e=>{{console.log('GET '+p+': '+(e.code||e.message));process.exit(1)}})"
    )
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

    // each name's place in `env`: one lookup per key, linear in the contract's size
    let mut at: std::collections::HashMap<String, usize> = env
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.clone(), i))
        .collect();
    for k in contract.set_keys() {
        let Some(v) = &k.value else { continue };
        match at.get(&k.name) {
            Some(&i) => env[i].1 = v.clone(),
            None => {
                at.insert(k.name.clone(), env.len());
                env.push((k.name.clone(), v.clone()));
            }
        }
    }
    // redis always requires its password: the API gets it even where its example is silent
    if let Some(var) = &contract.wiring.redis_password {
        if !at.contains_key(var) {
            env.push((var.clone(), required(var)));
        }
    }
    env
}

/// The one-shot service running `[api.migrate] command`.
pub const MIGRATE: &str = "migrate";

/// The compose model for this config: every service the stack may run, then only those the
/// config wants ([`Compose::finish`]).
pub(super) fn build(cfg: &Config, contract: &Contract, project: String) -> Compose {
    let mut services = vec![
        api(cfg, contract),
        postgres(cfg, contract),
        redis(cfg),
        ipfs(cfg),
        tee_worker(cfg),
        caddy(cfg),
    ];
    if !cfg.api.migrate.is_empty() {
        // the API starts only once the migrations exited 0
        let migrate = migrate(cfg, &services[0]);
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

/// The API: our image, its env from the contract, healthy when its health route answers.
fn api(cfg: &Config, contract: &Contract) -> Service {
    let api_port = cfg.api.port;
    let node_health = node_probe(api_port, &cfg.api.health.path, cfg.api.health.status);
    Service {
        name: "api".into(),
        image: published_image(cfg, &cfg.api.image),
        entrypoint: vec![],
        command: vec![],
        env_file: Some(".env.staging".into()),
        environment: api_environment(cfg, contract),
        ports: vec![loopback(cfg.ports.api, api_port)],
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
    }
}

/// postgres: its user, password and database from the variables the API reads them from.
fn postgres(cfg: &Config, contract: &Contract) -> Service {
    let w = &contract.wiring;
    Service {
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
        ports: vec![loopback(cfg.ports.postgres, 5432)],
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
    }
}

/// redis: password required, from the environment at run time.
fn redis(cfg: &Config) -> Service {
    Service {
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
        ports: vec![loopback(cfg.ports.redis, 6379)],
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
    }
}

/// ipfs (kubo): its swarm port public, its API and gateway on loopback.
fn ipfs(cfg: &Config) -> Service {
    Service {
        name: "ipfs".into(),
        image: cfg.images.ipfs.clone(),
        entrypoint: vec![],
        command: vec![],
        env_file: None,
        environment: vec![("IPFS_PROFILE".into(), lit("server"))],
        ports: vec![
            public(cfg.ports.ipfs_swarm, 4001, Proto::Tcp),
            public(cfg.ports.ipfs_swarm, 4001, Proto::Udp),
            loopback(cfg.ports.ipfs_api, 5001),
            loopback(cfg.ports.ipfs_gateway, 8080),
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
    }
}

/// The TEE worker: our image, in simulator mode on staging.
fn tee_worker(cfg: &Config) -> Service {
    let tee_port = cfg.tee_worker.port;
    let tee_health = node_probe(tee_port, "/health", 200);
    Service {
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
        ports: vec![loopback(cfg.ports.tee_worker, tee_port)],
        volumes: vec![],
        depends_on: vec![],
        // our Node image: node itself probes /health (no curl or wget needed in the image)
        healthcheck: Some(hc(&["CMD", "node", "-e", &tee_health], "20s")),
        limits: None,
        init: false,
        networks: vec![],
        one_shot: false,
    }
}

/// caddy: the only public HTTP(S) ports; the Caddyfile and certificates mounted read-only.
fn caddy(cfg: &Config) -> Service {
    Service {
        name: "caddy".into(),
        image: cfg.images.caddy.clone(),
        entrypoint: vec![],
        command: vec![],
        env_file: None,
        environment: vec![],
        ports: vec![
            public(cfg.ports.http, 80, Proto::Tcp),
            public(cfg.ports.https, 443, Proto::Tcp),
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
    }
}

/// The migrations: a one-shot of the API's image with the API's env, after postgres is
/// healthy.
fn migrate(cfg: &Config, api: &Service) -> Service {
    Service {
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
    }
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
        let with_ipfs = self.services.iter().any(|s| s.name == "ipfs");
        if with_ipfs {
            self.networks.push(IPFS_NET.into());
        }
        for s in &mut self.services {
            s.networks = networks_of(&s.name, with_ipfs);
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
