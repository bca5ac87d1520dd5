//! What the stack wires: the keys it sets itself (database, redis, IPFS, tee-worker, ports),
//! named as the API names them.

use super::{lit, req, Offer, Wiring};
use crate::stack::Val;

fn any_of(name: &str, names: &[&str]) -> bool {
    names.contains(&name)
}

pub const DB_USER: &[&str] = &[
    "DB_USER",
    "DB_USERNAME",
    "DATABASE_USER",
    "DATABASE_USERNAME",
    "POSTGRES_USER",
    "PGUSER",
    "TYPEORM_USERNAME",
];
pub const DB_PASSWORD: &[&str] = &[
    "DB_PASSWORD",
    "DB_PASS",
    "DATABASE_PASSWORD",
    "POSTGRES_PASSWORD",
    "PGPASSWORD",
    "TYPEORM_PASSWORD",
];
pub const DB_NAME: &[&str] = &[
    "DB_NAME",
    "DB_DATABASE",
    "DATABASE_NAME",
    "POSTGRES_DB",
    "POSTGRES_DATABASE",
    "PGDATABASE",
    "TYPEORM_DATABASE",
];
const DB_HOST: &[&str] = &[
    "DB_HOST",
    "DATABASE_HOST",
    "POSTGRES_HOST",
    "PGHOST",
    "TYPEORM_HOST",
];
pub const DB_PORT: &[&str] = &[
    "DB_PORT",
    "DATABASE_PORT",
    "POSTGRES_PORT",
    "PGPORT",
    "TYPEORM_PORT",
];
pub(super) const DB_URL: &[&str] = &["DATABASE_URL", "POSTGRES_URL", "DB_URL", "PG_URL"];

/// The stack service a key of the API's env example asks for by naming its host (`DB_HOST`,
/// `DATABASE_URL` → postgres, `REDIS_URL` → redis, `IPFS_API_URL` → ipfs, `TEE_WORKER_URL` →
/// tee-worker): what `config init` reads to choose `project.services`.
pub fn service_of_key(name: &str) -> Option<&'static str> {
    match name {
        _ if any_of(name, DB_HOST) || any_of(name, DB_URL) => Some("postgres"),
        "REDIS_HOST" | "REDIS_URL" => Some("redis"),
        "IPFS_API_URL" | "IPFS_LOCAL_API_URL" | "IPFS_URL" | "KUBO_API_URL" => Some("ipfs"),
        "TEE_WORKER_URL" => Some("tee-worker"),
        _ => None,
    }
}

/// A key that says where a stack service is (its host or URL): wired whenever the service is
/// in the stack, commented out in the example or not (the app's default, often localhost,
/// would point at the API's own container).
pub(super) fn locates(name: &str) -> bool {
    service_of_key(name).is_some() || matches!(name, "IPFS_GATEWAY_URL" | "IPFS_LOCAL_GATEWAY_URL")
}

/// The first key of `keys` named one of `names`, else `default`.
pub(super) fn pick(keys: &[(String, bool)], names: &[&str], default: &str) -> String {
    keys.iter()
        .find(|(k, _)| names.contains(&k.as_str()))
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| default.to_string())
}

/// What the stack sets `name` to, if it wires it.
pub(super) fn wired(name: &str, offer: &Offer, w: &Wiring) -> Option<Val> {
    let r = |v: &str| Some(req(v));
    match name {
        "NODE_ENV" => Some(lit("production")),
        "PORT" | "APP_PORT" | "API_PORT" | "HTTP_PORT" => Some(lit(&offer.api_port.to_string())),
        _ if offer.postgres && any_of(name, DB_HOST) => Some(lit("postgres")),
        _ if offer.postgres && any_of(name, DB_PORT) => Some(lit("5432")),
        _ if offer.postgres && any_of(name, DB_USER) => r(&w.db_user),
        _ if offer.postgres && any_of(name, DB_PASSWORD) => r(&w.db_password),
        _ if offer.postgres && any_of(name, DB_NAME) => r(&w.db_name),
        _ if offer.postgres && any_of(name, DB_URL) => Some(Val::Lit(format!(
            "postgres://{}:{}@postgres:5432/{}",
            interp(&w.db_user),
            interp(&w.db_password),
            interp(&w.db_name)
        ))),
        "REDIS_HOST" if offer.redis => Some(lit("redis")),
        "REDIS_PORT" if offer.redis => Some(lit("6379")),
        "REDIS_PASSWORD" if offer.redis => r("REDIS_PASSWORD"),
        "REDIS_URL" if offer.redis => Some(Val::Lit(match &w.redis_password {
            Some(p) => format!("redis://:{}@redis:6379", interp(p)),
            None => "redis://redis:6379".into(),
        })),
        "IPFS_API_URL" | "IPFS_LOCAL_API_URL" | "IPFS_URL" | "KUBO_API_URL" if offer.ipfs => {
            Some(lit("http://ipfs:5001"))
        }
        "IPFS_GATEWAY_URL" | "IPFS_LOCAL_GATEWAY_URL" if offer.ipfs => {
            Some(lit("http://ipfs:8080"))
        }
        "TEE_WORKER_URL" => offer
            .tee_worker
            .map(|p| lit(&format!("http://tee-worker:{p}"))),
        _ => None,
    }
}

/// `${NAME:?…}` as text (inside a longer compose value).
fn interp(var: &str) -> String {
    format!("${{{var}:?set {var} in .env.staging}}")
}

/// The user and the database name of a postgres URL (`postgres://user:pass@host:5432/db`):
/// the example's, a fine staging value for the stack's own postgres.
pub(super) fn url_user_and_db(url: &str) -> (Option<String>, Option<String>) {
    let Some((_, rest)) = url.split_once("://") else {
        return (None, None);
    };
    let (auth, path) = match rest.split_once('@') {
        Some((a, p)) => (Some(a), p),
        None => (None, rest),
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let user = auth
        .map(|a| a.split(':').next().unwrap_or(a))
        .filter(|u| ok(u))
        .map(str::to_string);
    let db = path
        .split_once('/')
        .map(|(_, d)| d.split(['?', '#']).next().unwrap_or(d))
        .filter(|d| ok(d))
        .map(str::to_string);
    (user, db)
}
