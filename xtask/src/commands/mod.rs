//! Subcommands: each a short function composing the modules below it.

pub mod bench;
pub mod build_image;
pub mod config_cmd;
pub mod engine;
pub mod gen;
pub mod rehearse;
pub mod smoke;
pub mod standin;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::{self, Config};
use crate::stack::{self, Stack};
use crate::workspace::{self, Closure, Workspace};

/// What every subcommand knows: the monorepo root and the config file.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub root: PathBuf,
    pub config_path: PathBuf,
    /// `--config` was given: the file must exist.
    pub config_explicit: bool,
}

/// The whole derivation: config + monorepo → model.
#[derive(Debug, Clone)]
pub struct Model {
    pub config: Config,
    pub workspace: Workspace,
    pub closure: Closure,
    pub stack: Stack,
}

impl Ctx {
    pub fn new(root: &Path, config: Option<&Path>) -> Ctx {
        Ctx {
            root: root.to_path_buf(),
            config_path: config::path_for(root, config),
            config_explicit: config.is_some(),
        }
    }

    pub fn config(&self) -> Result<Config> {
        config::load(&self.config_path, self.config_explicit)
    }

    pub fn model(&self) -> Result<Model> {
        let config = self.config()?;
        let workspace = workspace::load(&self.root)?;
        let api = workspace
            .find_api(&config.api.package, config.api.path.as_deref())?
            .clone();
        let closure = workspace.closure(&api)?;
        let stack = stack::build(&config, &workspace, &closure)?;
        Ok(Model {
            config,
            workspace,
            closure,
            stack,
        })
    }
}

/// How a command that ran ended: all checks passed, or one failed (exit 1).
/// A command that could not run returns an error instead (exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
}
pub const NAMES: &[&str] = &[
    "gen",
    "config",
    "verify",
    "engine",
    "standin",
    "build-image",
    "smoke",
    "bench",
    "rehearse",
];

/// Refuses to go on when `infra/` is not what `gen` writes now (an image must be built from
/// the generated files, never from stale or hand-edited ones).
pub fn require_fresh(ctx: &Ctx, model: &Model) -> Result<()> {
    use crate::generated::{check_all, State, COMMAND};
    let checked = check_all(&ctx.root, &crate::render::all(&model.stack))?;
    let bad: Vec<String> = checked
        .iter()
        .filter(|c| c.state != State::Fresh)
        .map(|c| {
            let why = match c.state {
                State::Missing => "missing",
                State::HandEdited => "edited by hand",
                _ => "stale",
            };
            format!("{} ({why})", c.file.path)
        })
        .collect();
    if !bad.is_empty() {
        anyhow::bail!(
            "refusing to build from an infra/ that is not what `{COMMAND}` generates now: {}. Run `{COMMAND}` \
             (`{COMMAND} --check` shows the diff; a hand edit belongs in infra/stack.toml)",
            bad.join(", ")
        );
    }
    Ok(())
}
