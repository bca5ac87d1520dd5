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

    /// The config file's text: the default one only inside the root, one named by `--config`
    /// anywhere (see [`config::load`]); a regular file either way.
    pub fn read_config_file(&self) -> Result<String, crate::files::Refused> {
        let cap = crate::files::MAX_INPUT;
        if self.config_explicit {
            crate::files::read_regular(&self.config_path, cap)
        } else {
            crate::files::read_in(&self.root, &self.config_path, cap)
        }
    }

    pub fn config(&self) -> Result<Config> {
        config::load(
            &self.config_path,
            (!self.config_explicit).then_some(self.root.as_path()),
        )
    }

    pub fn model(&self) -> Result<Model> {
        let mut config = self.config()?;
        let workspace = workspace::load(&self.root)?;
        let api = workspace
            .find_api(&config.api.package, config.api.path.as_deref())?
            .clone();
        derive_image_names(
            &mut config,
            &api.name,
            workspace.root_manifest.name.as_deref(),
        );
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

/// The image names the config leaves unset, from the workspace (never a fixed product name):
/// `api.image` = the API package's name with its scope joined (`@ledger/server` →
/// `ledger-server`); `tee_worker.image` = `<the API package's scope, else the root package's
/// name>-tee-worker`. A name that sanitises to nothing falls back to `api` / `tee-worker`.
pub fn derive_image_names(config: &mut Config, api_package: &str, root_name: Option<&str>) {
    use crate::values::image_name_from_package as from;
    if config.api.image.is_empty() {
        config.api.image = from(api_package).unwrap_or_else(|| "api".into());
    }
    if config.tee_worker.image.is_empty() {
        let scope = api_package
            .strip_prefix('@')
            .and_then(|s| s.split_once('/'))
            .map(|(scope, _)| scope);
        let prefix = scope.or(root_name).and_then(from);
        config.tee_worker.image = match prefix {
            Some(p) => format!("{p}-tee-worker"),
            None => "tee-worker".into(),
        };
    }
}

/// How a command that ran ended: all checks passed, or one failed (exit 1).
/// A command that could not run returns an error instead (exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_image_names_come_from_the_workspace_set_ones_stay() {
        let mut c = Config::default();
        derive_image_names(&mut c, "@ledger/server", Some("ledger-mono"));
        assert_eq!(
            (c.api.image.as_str(), c.tee_worker.image.as_str()),
            ("ledger-server", "ledger-tee-worker")
        );
        let mut c = Config::default();
        derive_image_names(&mut c, "backend", Some("@Acme/Mono"));
        assert_eq!(
            (c.api.image.as_str(), c.tee_worker.image.as_str()),
            ("backend", "acme-mono-tee-worker")
        );
        let mut c = Config::default();
        derive_image_names(&mut c, "~", None);
        assert_eq!(
            (c.api.image.as_str(), c.tee_worker.image.as_str()),
            ("api", "tee-worker")
        );
        let mut c = Config::default();
        c.api.image = "mine".into();
        c.tee_worker.image = "worker".into();
        derive_image_names(&mut c, "@ledger/server", None);
        assert_eq!(
            (c.api.image.as_str(), c.tee_worker.image.as_str()),
            ("mine", "worker")
        );
    }
}
