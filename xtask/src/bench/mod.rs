//! The pure parts of `cargo xtask bench` (the command is `commands::bench`): the scaling
//! fixture, the bytes a Dockerfile COPYs from its context, devDependencies from the
//! lockfile, image sizes by origin, the edits made to the benchmark's copies, and the
//! tables. Nothing here runs a program.

pub mod cachecheck;
pub mod context;
pub mod edit;
pub mod fixture;
pub mod image;
pub mod lockfile;
pub mod table;

/// The hand-written reference Dockerfile the generated one is compared with, and its
/// ignore file (written beside it, outside the build context).
pub const REFERENCE_DOCKERFILE: &str = include_str!("../../assets/reference.Dockerfile");
pub const REFERENCE_IGNORE: &str = include_str!("../../assets/reference.Dockerfile.dockerignore");
