//! `cargo xtask config init|get|set|show|keys`

use anyhow::{bail, Context, Result};

use super::{Ctx, Outcome};
use crate::config;
use crate::generated::write_atomic;

pub const HELP: &str = "\
cargo xtask config: create, read or change the config (infra/stack.toml)

USAGE:
    cargo xtask config init            discover the monorepo and write the commented config
    cargo xtask config show            print the effective config file (or the defaults)
    cargo xtask config get KEY         print one effective value, e.g. project.owner
    cargo xtask config set KEY VALUE   change one value, keeping comments and layout
    cargo xtask config keys            list every key

Lists (caddy.domains) are given comma-separated; api.migrate.command as a TOML array,
e.g. '[\"node\", \"dist/run-migrations.js\"]'. The tables below [api] are reached too:
api.env.NAME (its staging value), api.env.NAME.secret|optional|comment|format|value,
api.health.path|status, api.health.body./json/pointer. Every value is validated before the
file is written; the write is atomic.

`config init` reads the workspace (pnpm-workspace.yaml, every package.json, the API's
.env.example, the root's `repository`) and writes the template with what it found, printing
each key, its value and why on stderr:
    api.package        the one package that is a server: a `build` script and a server
                       framework (@nestjs/core, express, fastify, koa, hono...) among its
                       dependencies, in a package no other package runs (a library); else such
                       a package whose `start` script runs `node FILE`. Several, or none:
                       refused (exit 2); --api names it
    api.entry          what its `start:prod`/`start` script runs with node, else its `main`
    project.services   postgres, redis, ipfs from the client libraries of the API's runtime
                       dependencies (pg, typeorm, prisma...; ioredis, bullmq...; kubo-rpc-client,
                       helia...), the hosts its .env.example names (DB_HOST, REDIS_URL...,
                       commented out or not) and the service URLs its src/ defaults to
                       localhost (then listed in [api.env] so the stack wires them);
                       tee-worker when a workspace package is one, a tee-worker/ directory sits
                       outside the workspace globs, or TEE_WORKER_URL is asked for
    project.owner      the GitHub owner of package.json `repository` or of .git/config's origin
                       (read as a file; nothing is run); else the OWNER placeholder stays
    [api.migrate]      a `migration:run`/`migrate` script that is a plain `node FILE`, else a
                       compiled runner (src/run-migrations.ts) beside the entry; else reported
                       with the command to use: the TypeORM CLI on the built data source, a
                       workspace library's migrations script, a scripts/migrate.*
    api.health.path    the health route the API's src/ names (@Controller('health') under
                       setGlobalPrefix, a '/…/healthz' route literal); else /health stays
    [web]              the static web app (see --web-domain)
project.name and api.image are left unset: gen derives them from the workspace.

INIT OPTIONS:
    --api NAME|DIR   the API package (skips the search; for a workspace with several servers)
    --web-domain HOST   the web app's site: writes [web] for the one web app found (a `build`
                     script and vite, react-scripts, @angular/core... or an index.html);
                     without it [web] stays a commented example naming that package, which
                     `config set web.domain HOST` later makes real the same way
    --web NAME|DIR   the web app (for a workspace with several)
    --dry-run        print the file on stdout; write nothing
    --force          replace an existing config; the old one is kept as <config>.bak (an
                     older .bak is replaced)
    --format json    the report as JSON on stdout (keys with value, set, reason,
                     suggested; candidates; env: what the API's env example says of each
                     key: a secret's format, required in production, empty allowed, a dev
                     value replaced, each with its reason)

OPTIONS:
    --root DIR       the pnpm monorepo (default: this workspace's root)
    --config FILE    the config file (default: <root>/infra/stack.toml)
";

/// `config init`'s options.
#[derive(Debug, Clone, Default)]
pub struct InitArgs {
    pub api: Option<String>,
    pub web: Option<String>,
    pub web_domain: Option<String>,
    pub dry_run: bool,
    pub force: bool,
    pub json: bool,
}

pub enum Action {
    Init(InitArgs),
    Show,
    Get(String),
    Set(String, String),
    Keys,
}

pub fn run(ctx: &Ctx, action: &Action) -> Result<Outcome> {
    let path = &ctx.config_path;
    match action {
        Action::Init(a) => return init(ctx, a),
        Action::Show => match ctx.read_config_file() {
            Ok(t) => print!("{t}"),
            Err(r) if r != crate::files::Refused::Missing => {
                bail!("{} {}", path.display(), r.phrase(crate::files::MAX_INPUT))
            }
            Err(_) => {
                println!(
                    "# {} does not exist: these are the defaults",
                    path.display()
                );
                print!("{}", config::TEMPLATE);
            }
        },
        Action::Get(key) => {
            let mut value = config::get_value(&ctx.config()?, key)?;
            // an image name the config leaves unset is derived from the workspace
            if value == "\"\"" && matches!(key.as_str(), "api.image" | "tee_worker.image") {
                let model = ctx.model()?;
                value = config::get_value(&model.config, key)?;
            }
            println!("{value}");
        }
        Action::Set(key, value) => {
            let text = if path.exists() {
                ctx.read_config_file()
                    .map_err(|r| crate::files::refusal(path, &r, crate::files::MAX_INPUT))?
            } else {
                // a new config starts as `config init` writes it, never naming CipherBox's API
                let ws = crate::workspace::load(&ctx.root)?;
                let found = crate::discover::discover(&ws, config::TEMPLATE, Default::default())
                    .with_context(|| {
                        format!(
                            "{} does not exist, and `config set` starts it as `config init` \
                             would",
                            path.display()
                        )
                    })?;
                eprintln!(
                    "{} did not exist: started from `config init`'s discovery ({})",
                    path.display(),
                    found.api_line()
                );
                found.text
            };
            let text = if key == "web.domain" {
                with_web_found(ctx, text, value)?
            } else {
                text
            };
            let out = config::set_value(&text, key, value, &path.display().to_string())?;
            crate::generated::refuse_links(&ctx.root, path)?;
            if let Some(dir) = path.parent() {
                crate::generated::ensure_dir(dir)?;
            }
            write_atomic(path, &out)?;
            println!(
                "{key} = {} in {}; run `cargo xtask gen` to apply",
                config::get_value(&config::parse(&out, "")?, key)?,
                path.display()
            );
        }
        Action::Keys => {
            for k in config::keys() {
                println!("{k}");
            }
        }
    }
    Ok(Outcome::Pass)
}

/// `config set web.domain` on a config without `[web]`: the web app `config init` found (the
/// commented block names it) becomes `[web]` on that domain, as `config init --web-domain`
/// would; otherwise the text is unchanged and the config check says what `[web]` needs.
fn with_web_found(ctx: &Ctx, text: String, domain: &str) -> Result<String> {
    let cfg = config::parse(&text, &ctx.config_path.display().to_string())?;
    if cfg.web.is_some() {
        return Ok(text);
    }
    let ws = crate::workspace::load(&ctx.root)?;
    let api = ws.find_api(&cfg.api.package, cfg.api.path.as_deref())?;
    Ok(crate::discover::web_for_domain(&ws, api, &text, domain).unwrap_or(text))
}

/// What `config init` did, as data (`--format json`).
#[derive(serde::Serialize)]
struct InitReport<'a> {
    config: String,
    written: bool,
    dry_run: bool,
    /// Where the replaced config was kept (`--force`).
    backup: Option<String>,
    #[serde(flatten)]
    discovery: &'a crate::discover::Discovery,
}

fn init(ctx: &Ctx, a: &InitArgs) -> Result<Outcome> {
    let path = &ctx.config_path;
    let exists = std::fs::symlink_metadata(path).is_ok();
    if exists && !a.force && !a.dry_run {
        bail!(
            "{} already exists; edit it, use `cargo xtask config set`, or replace it with \
             `cargo xtask config init --force` (the old file is kept as .bak)",
            path.display()
        );
    }
    let ws = crate::workspace::load(&ctx.root)?;
    let found = crate::discover::discover(
        &ws,
        config::TEMPLATE,
        crate::discover::Choices {
            api: a.api.as_deref(),
            web: a.web.as_deref(),
            web_domain: a.web_domain.as_deref(),
        },
    )?;
    let mut backup = None;
    if !a.dry_run {
        crate::generated::refuse_links(&ctx.root, path)?;
        if let Some(dir) = path.parent() {
            crate::generated::ensure_dir(dir)?;
        }
        if exists {
            let old = ctx
                .read_config_file()
                .map_err(|r| crate::files::refusal(path, &r, crate::files::MAX_INPUT))?;
            let mut bak = path.clone().into_os_string();
            bak.push(".bak");
            let bak = std::path::PathBuf::from(bak);
            write_atomic(&bak, &old)?;
            backup = Some(bak.display().to_string());
        }
        write_atomic(path, &found.text)?;
    }
    let report = InitReport {
        config: path.display().to_string(),
        written: !a.dry_run,
        dry_run: a.dry_run,
        backup,
        discovery: &found,
    };
    eprintln!("{}", found.api_line());
    for k in &found.keys {
        let how = if k.set { "set" } else { "left" };
        eprintln!("  {how} {} = {}: {}", k.key, k.value, k.reason);
    }
    for n in &found.env {
        eprintln!("  env {}", n.line());
    }
    if found.gen != "ok" {
        eprintln!(
            "warning: `cargo xtask gen` would refuse this config: {}",
            found.gen
        );
    }
    if a.json {
        let mut j = serde_json::to_value(&report)?;
        if a.dry_run {
            j["text"] = found.text.clone().into();
        }
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else if a.dry_run {
        print!("{}", found.text);
    } else {
        if let Some(b) = &report.backup {
            println!("kept the old config as {b}");
        }
        println!("wrote {}; run `cargo xtask gen`", path.display());
    }
    Ok(Outcome::Pass)
}
