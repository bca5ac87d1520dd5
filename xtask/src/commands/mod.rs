//! Subcommands: each a short function composing the modules below it.

pub mod bench;
pub mod bench_deploy;
pub mod build_image;
pub mod config_cmd;
pub mod deploy;
pub mod engine;
pub mod env;
pub mod gen;
pub mod rehearse;
pub mod smoke;
pub mod standin;
pub mod verify;

pub use crate::context::{Ctx, Model, Outcome};
pub use crate::ops::require_fresh;
