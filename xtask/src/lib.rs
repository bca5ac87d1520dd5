//! `cargo xtask`: the staging infrastructure of a pnpm monorepo (CipherBox by default).
//!
//! Data flows one way: config + monorepo → [`stack`] model → [`render`]ed files →
//! [`rules`] findings → report. Only [`tools`] runs programs.

pub mod actions;
pub mod bench;
pub mod buildlog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod credscan;
pub mod deploy;
pub mod discover;
pub mod envcontract;
pub mod files;
pub mod generated;
pub mod glob;
pub mod health;
pub mod image_check;
pub mod image_size;
pub mod memo;
pub mod ops;
pub mod parse;
pub mod proofs;
pub mod rehearsal;
pub mod render;
pub mod report;
pub mod rules;
pub mod secretfmt;
pub mod secrets;
pub mod stack;
pub mod tempdir;
pub mod text;
pub mod tools;
pub mod units;
pub mod values;
pub mod workspace;

#[cfg(test)]
pub(crate) mod testutil;
#[cfg(test)]
mod tidy;
