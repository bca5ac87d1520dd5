//! The core every layer above starts from: where the monorepo and its config are ([`Ctx`]),
//! the whole derivation config + monorepo → [`Model`], and how a run ended ([`Outcome`]).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::{self, Config};
use crate::stack::{self, Stack};
use crate::workspace::{self, Closure, Workspace};

/// The workspace this xtask was built in: the default monorepo root.
pub fn default_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

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
        let example = crate::envcontract::read_example(&self.root, &closure.api.dir)?;
        let stack = stack::build(&config, &workspace, &closure, &example)?;
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
