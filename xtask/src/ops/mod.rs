//! Operations several commands share: building the API image ([`build`]), smoke-testing it
//! ([`smoke`]), and refusing a stale `infra/` ([`require_fresh`]). Above the pure layers and
//! `tools/`, below `commands/`; an operation never imports a command.

pub mod build;
pub mod context_guard;
pub mod deploy;
pub mod deploy_bench;
pub mod deploy_report;
pub mod deploy_site;
pub mod deploy_swarm;
pub mod image_size;
pub mod secretgen;
pub mod services;
pub mod smoke;
pub mod smoke_boot;
pub mod web;

use anyhow::Result;

use crate::context::{Ctx, Model};

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
                State::LineEndings => "CRLF line endings",
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
