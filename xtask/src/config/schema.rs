//! Every key the config knows, with the kind of value it takes.

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) const SCHEMA: &[(&str, &str, Kind)] = &[
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
    ("api", "hoist", Kind::Bool),
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
    ("actions", "upload_artifact", Kind::Pin),
    ("web", "package", Kind::Web),
    ("web", "script", Kind::Web),
    ("web", "output", Kind::Web),
    ("web", "domain", Kind::Web),
    ("web", "assets", Kind::Web),
    ("web", "env", Kind::Web),
];

/// Every key the config knows, as `table.key`; the keys of `[api.env]`, `[api.health]` and
/// `[api.migrate]` as patterns (`api.env.<NAME>.secret`).
pub fn keys() -> Vec<String> {
    SCHEMA
        .iter()
        .map(|(t, k, _)| format!("{t}.{k}"))
        .filter(|k| k != "web.env")
        .chain(super::api_keys::PATTERNS.iter().map(|p| p.to_string()))
        .chain(std::iter::once("web.env.<NAME>".to_string()))
        .collect()
}
