//! `cargo xtask config init|get|set|show|keys`

use anyhow::{bail, Result};

use super::{Ctx, Outcome};
use crate::config;
use crate::generated::write_atomic;

pub const HELP: &str = "\
cargo xtask config: create, read or change the config (infra/stack.toml)

USAGE:
    cargo xtask config init            write the commented default config (refuses to overwrite)
    cargo xtask config show            print the effective config file (or the defaults)
    cargo xtask config get KEY         print one effective value, e.g. project.owner
    cargo xtask config set KEY VALUE   change one value, keeping comments and layout
    cargo xtask config keys            list every key

Lists (caddy.domains) are given comma-separated. Every value is validated before the
file is written; the write is atomic.

OPTIONS:
    --root DIR       the pnpm monorepo (default: this workspace's root)
    --config FILE    the config file (default: <root>/infra/stack.toml)
";

pub enum Action {
    Init,
    Show,
    Get(String),
    Set(String, String),
    Keys,
}

pub fn run(ctx: &Ctx, action: &Action) -> Result<Outcome> {
    let path = &ctx.config_path;
    match action {
        Action::Init => {
            if path.exists() {
                bail!(
                    "{} already exists; edit it, or use `cargo xtask config set`",
                    path.display()
                );
            }
            if let Some(dir) = path.parent() {
                crate::generated::ensure_dir(dir)?;
            }
            write_atomic(path, config::TEMPLATE)?;
            println!("wrote {}", path.display());
        }
        Action::Show => match crate::files::read_regular(path, crate::files::MAX_INPUT) {
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
                crate::files::read_input(path, crate::files::MAX_INPUT)?
            } else {
                config::TEMPLATE.to_string()
            };
            let out = config::set_value(&text, key, value, &path.display().to_string())?;
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
