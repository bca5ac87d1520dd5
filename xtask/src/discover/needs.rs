//! What the API needs around it: the stack services and the image owner.

use std::path::Path;

use crate::config;
use crate::workspace::{Package, Workspace};

use super::api::{dep_matches, disp, runtime_deps};

/// Client libraries that mean the API talks to a stack service (a name ending in `/` is a
/// scope: any package in it).
pub const SERVICE_DEPS: &[(&str, &[&str])] = &[
    (
        "postgres",
        &[
            "pg",
            "postgres",
            "pg-promise",
            "typeorm",
            "@nestjs/typeorm",
            "@prisma/client",
            "prisma",
            "knex",
            "sequelize",
            "drizzle-orm",
            "@mikro-orm/postgresql",
            "slonik",
        ],
    ),
    (
        "redis",
        &[
            "ioredis",
            "redis",
            "bullmq",
            "bull",
            "@nestjs/bull",
            "@nestjs/bullmq",
            "@keyv/redis",
            "connect-redis",
            "cache-manager-redis-yet",
            "cache-manager-ioredis-yet",
        ],
    ),
    (
        "ipfs",
        &[
            "kubo-rpc-client",
            "ipfs-http-client",
            "ipfs-core",
            "helia",
            "@helia/",
        ],
    ),
];

/// The services the API needs, each with its reasons.
pub(super) fn services(
    ws: &Workspace,
    runtime: &[Package],
    example: &crate::envcontract::Example,
    defaults: &[super::code::CodeDefault],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for service in config::STACK_SERVICES {
        let mut why: Vec<String> = Vec::new();
        if let Some((_, libs)) = SERVICE_DEPS.iter().find(|(s, _)| s == service) {
            for p in runtime {
                for d in runtime_deps(p).filter(|d| dep_matches(d, libs)) {
                    why.push(format!("{} depends on {}", disp(&p.name), disp(d)));
                }
            }
        }
        if *service == "tee-worker" {
            for p in &ws.packages {
                let base = p.name.rsplit('/').next().unwrap_or(&p.name);
                if base.ends_with("tee-worker") || p.dir.ends_with("tee-worker") {
                    why.push(format!(
                        "the workspace has {} ({})",
                        disp(&p.name),
                        disp(&p.dir)
                    ));
                }
            }
            why.extend(outside_workspace(ws, "tee-worker"));
        }
        for k in &example.keys {
            if crate::envcontract::service_of_key(&k.name) == Some(service) {
                let how = if k.optional {
                    " (commented out: optional, but the app uses it when set)"
                } else {
                    ""
                };
                why.push(format!("{}:{} asks for {}{how}", k.file, k.line, k.name));
            }
        }
        for d in defaults {
            if crate::envcontract::service_of_key(&d.key) == Some(service) {
                why.push(format!(
                    "{}:{} defaults {} to {}",
                    d.file,
                    d.line,
                    d.key,
                    shown(&d.value)
                ));
            }
        }
        if !why.is_empty() {
            out.push((service.to_string(), why.join(", ")));
        }
    }
    out
}

/// Directories at the root, or one level below, named like `service` (`tee-worker/`,
/// `services/acme-tee-worker/`) with a package.json or a Dockerfile, that pnpm-workspace.yaml's
/// globs do not match: a service built outside the workspace. Symbolic links, hidden
/// directories and node_modules are not entered.
fn outside_workspace(ws: &Workspace, service: &str) -> Vec<String> {
    let dirs = |rel: &str| -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(ws.root.join(rel)) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .take(1000)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.') && n != "node_modules")
            .map(|n| {
                if rel.is_empty() {
                    n
                } else {
                    format!("{rel}/{n}")
                }
            })
            .collect();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for top in dirs("") {
        let mut here = vec![top.clone()];
        here.extend(dirs(&top));
        for d in here {
            let base = d.rsplit('/').next().unwrap_or(&d);
            if !base.ends_with(service) || ws.packages.iter().any(|p| p.dir == d) {
                continue;
            }
            let has = ["package.json", "Dockerfile"].into_iter().find(|f| {
                std::fs::symlink_metadata(ws.root.join(&d).join(f)).is_ok_and(|m| m.is_file())
            });
            if let Some(f) = has {
                out.push(format!(
                    "{}/ has a {f} but is outside pnpm-workspace.yaml's globs (a service built \
                     on its own)",
                    disp(&d)
                ));
            }
        }
    }
    out
}

/// `owner` of `github:owner/repo`, `owner/repo`, `https://github.com/owner/repo(.git)`,
/// `git+https://…`, `git@github.com:owner/repo.git`, `ssh://git@github.com/owner/repo`;
/// lowercased (image names are). `None` for another host.
pub fn github_owner(url: &str) -> Option<String> {
    let u = url.trim();
    let rest = if let Some(r) = u.strip_prefix("github:") {
        r
    } else if let Some(i) = u.find("github.com") {
        u[i + "github.com".len()..].trim_start_matches([':', '/'])
    } else if !u.contains(':') && u.matches('/').count() == 1 {
        u
    } else {
        return None;
    };
    let owner = rest.split('/').next()?.to_ascii_lowercase();
    crate::values::owner(&owner)
        .ok()
        .filter(|_| !owner.is_empty() && owner != "owner")
        .map(|_| owner)
}

/// The `repository` of the root package.json (a string, or `{ "url": … }`).
fn repository_field(root: &Path) -> Option<String> {
    let text =
        crate::files::read_in(root, Path::new("package.json"), crate::files::MAX_INPUT).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let r = v.get("repository")?;
    r.as_str()
        .or_else(|| r.get("url").and_then(|u| u.as_str()))
        .map(str::to_string)
}

/// The `url` of `[remote "origin"]` in the root's `.git/config` (a file read, nothing run).
fn git_origin(root: &Path) -> Option<String> {
    let text = crate::files::read_in(root, Path::new(".git/config"), 1 << 20).ok()?;
    let mut in_origin = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_origin = l == "[remote \"origin\"]";
        } else if in_origin {
            if let Some((k, v)) = l.split_once('=') {
                if k.trim() == "url" {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

pub(super) fn owner(root: &Path) -> (Option<String>, String) {
    if let Some(r) = repository_field(root) {
        return match github_owner(&r) {
            Some(o) => (
                Some(o),
                format!("package.json `repository` is {}", shown(&r)),
            ),
            None => (
                None,
                format!(
                    "package.json `repository` ({}) is not on GitHub: set the registry account \
                     with `cargo xtask config set project.owner <name>`",
                    shown(&r)
                ),
            ),
        };
    }
    if let Some(o) = git_origin(root).as_deref().and_then(github_owner) {
        return (Some(o), "the GitHub remote `origin` in .git/config".into());
    }
    (
        None,
        "no `repository` in package.json and no GitHub remote in .git/config: the placeholder \
         stays; set it with `cargo xtask config set project.owner <name>` (CI passes --owner)"
            .into(),
    )
}

fn shown(s: &str) -> String {
    crate::values::shown(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_github_repository_gives_the_owner_lowercased() {
        for u in [
            "github:Ledger-Co/ledger",
            "ledger-co/ledger",
            "https://github.com/Ledger-Co/ledger.git",
            "git+https://github.com/ledger-co/ledger.git",
            "git@github.com:ledger-co/ledger.git",
            "ssh://git@github.com/ledger-co/ledger",
        ] {
            assert_eq!(github_owner(u).as_deref(), Some("ledger-co"), "{u}");
        }
        assert_eq!(github_owner("https://gitlab.com/a/b.git"), None);
        assert_eq!(github_owner("github:bad owner/x"), None);
    }
}
