//! `cargo xtask gen [--check] [--force]`

use anyhow::{bail, Context, Result};

use super::{Ctx, Outcome};
use crate::generated::{self, State, COMMAND};
use crate::render;

pub const HELP: &str = "\
cargo xtask gen: write the staging infra files into infra/

USAGE:
    cargo xtask gen [--check] [--force] [--root DIR] [--config FILE]

Renders, from the config (infra/stack.toml) and the pnpm workspace:
    infra/api.Dockerfile                  multi-stage image of the API
    infra/api.Dockerfile.dockerignore     its build-context filter (BuildKit reads it)
    infra/docker-compose.staging.yml      api, caddy, project.services (default postgres, redis,
                                          ipfs, tee-worker), migrate ([api.migrate]); the api's
                                          environment from its env contract (.env.example)
    infra/Caddyfile                       origin-cert TLS, reverse_proxy to the API
    infra/.env.staging.example            every variable compose interpolates, then the API's
                                          other contract keys, grouped, with their comments
    infra/web.Dockerfile (+ .dockerignore) with [web]: the web app's build; once the config drops
                                          [web], --check names them and gen removes them (one
                                          edited by hand is kept, and said, unless --force)

Each file starts with a header naming this command and a digest of its body, so a
file edited by hand is noticed: gen reports it and leaves it alone unless --force.
Writes are atomic (temporary file + rename); output is byte-identical on every run.

OPTIONS:
    --check          write nothing; print a unified diff per stale file and exit 1
                     (and name every key of the API's env contract compose lacks)
    --force          overwrite files that were edited by hand
    --root DIR       the pnpm monorepo (default: this workspace's root)
    --config FILE    the config file (default: <root>/infra/stack.toml)
    -h, --help       print this help

Only regular files are read: a symbolic link, FIFO or device where a generated file belongs
is reported (its content never shown) and kept unless --force replaces it. A file that
differs only by Windows line endings (CRLF) is rewritten without --force. Every file is
checked to be replaceable (permissions, chattr +i/+a) before any is written. Nothing is
written through a symbolic link: a linked directory on the way (`infra`, `.github`) is refused.

EXIT: 0 fresh or written; 1 (--check) a file is missing, stale or edited by hand;
      2 could not run: bad config or monorepo, a file edited by hand kept (nothing
      written; --force overwrites it), a file that cannot be replaced.
";

pub struct Args {
    pub check: bool,
    pub force: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let model = ctx.model()?;
    crate::workspace::check_lockfile(&model.workspace, &model.closure)?;
    crate::stack::web::check_lockfile(&model.workspace, model.stack.web.as_ref())?;
    let files = render::all(&model.stack);
    // every path first: a link on the way refuses the run before anything is read or written
    for path in files
        .iter()
        .map(|f| f.path.as_str())
        .chain(render::OPTIONAL.iter().copied())
    {
        generated::refuse_links(&ctx.root, &ctx.root.join(path))?;
    }
    let checked = generated::check_all(&ctx.root, &files)?;
    let orphans = generated::no_longer_generated(&ctx.root, render::OPTIONAL, &files)?;
    if args.check {
        report_contract(&checked, &model.stack.contract);
        let orphaned = report_orphans(&orphans);
        let outcome = report_check(&checked);
        return Ok(if orphaned { Outcome::Fail } else { outcome });
    }
    let edited: Vec<&str> = checked
        .iter()
        .filter(|c| c.state == State::HandEdited)
        .map(|c| c.file.path.as_str())
        .collect();
    if !edited.is_empty() && !args.force {
        let mut foreign = Vec::new();
        let mut by_hand = Vec::new();
        for c in checked.iter().filter(|c| c.state == State::HandEdited) {
            match c.shown_diff() {
                Some(d) => {
                    eprintln!("{d}");
                    by_hand.push(c.file.path.as_str());
                }
                None => {
                    eprintln!("{}", c.hidden_why());
                    foreign.push(c.file.path.as_str());
                }
            }
        }
        let them = |v: &[&str]| if v.len() == 1 { "it" } else { "them" };
        if !by_hand.is_empty() {
            bail!(
                "{} edited by hand since `{COMMAND}` wrote {}; nothing was written. Move the change into infra/stack.toml \
                 (or the workspace), or rerun with --force to overwrite (the diff above shows what would be lost)",
                by_hand.join(", "),
                them(&by_hand)
            );
        }
        bail!(
            "{} not written by `{COMMAND}` (see above); nothing was written. Remove {}, or rerun with --force to replace {} \
             with the generated file",
            foreign.join(", "),
            them(&foreign),
            them(&foreign)
        );
    }
    let infra = ctx.root.join(crate::stack::INFRA_DIR);
    generated::ensure_dir(&infra)?;
    let targets: Vec<std::path::PathBuf> = checked
        .iter()
        .filter(|c| c.state != State::Fresh)
        .map(|c| ctx.root.join(&c.file.path))
        .collect();
    generated::preflight(&targets.iter().map(|p| p.as_path()).collect::<Vec<_>>())?;
    for name in generated::remove_leftovers(&infra)? {
        eprintln!("removed {name}, left by an interrupted run");
    }
    let mut written = 0;
    for c in &checked {
        let path = ctx.root.join(&c.file.path);
        if c.state == State::Fresh {
            println!("unchanged  {}", c.file.path);
            continue;
        }
        if let Some(parent) = path.parent() {
            generated::ensure_dir(parent)?;
        }
        generated::write_atomic(&path, &c.file.contents)?;
        written += 1;
        let what = match c.state {
            State::Missing => "created  ",
            State::HandEdited => "overwrote",
            State::LineEndings => "LF ends  ",
            _ => "updated  ",
        };
        println!("{what}  {}", c.file.path);
    }
    println!(
        "{written} file(s) written, {} unchanged",
        checked.len() - written
    );
    remove_orphans(ctx, &orphans, args.force)?;
    Ok(Outcome::Pass)
}

/// `--check`: names each file `gen` wrote that the config no longer asks for; true if any.
fn report_orphans(orphans: &[(String, bool)]) -> bool {
    for (path, _) in orphans {
        println!(
            "{path}: no longer generated (the config has no [web]); run `{COMMAND}` to remove it"
        );
    }
    !orphans.is_empty()
}

/// Removes what `gen` wrote and the config no longer asks for (e.g. the web app's files once
/// `[web]` is gone); one edited by hand since is kept, and said, unless --force.
fn remove_orphans(ctx: &Ctx, orphans: &[(String, bool)], force: bool) -> Result<()> {
    for (path, untouched) in orphans {
        if !untouched && !force {
            eprintln!(
                "kept     {path}: no longer generated (no [web]), but edited by hand since `{COMMAND}` wrote it; remove it, or rerun with --force"
            );
            continue;
        }
        std::fs::remove_file(ctx.root.join(path))
            .with_context(|| format!("cannot remove {path}, which `{COMMAND}` no longer writes"))?;
        println!("removed    {path} (no longer generated: no [web])");
    }
    Ok(())
}

/// Names every key of the API's contract the compose file on disk does not set (a key added
/// to the API's `.env.example` since the last `gen`), with where it was learnt.
fn report_contract(checked: &[generated::Checked], contract: &crate::envcontract::Contract) {
    let Some(text) = checked
        .iter()
        .find(|c| c.file.path == crate::stack::COMPOSE)
        .and_then(|c| c.on_disk.as_deref())
    else {
        return;
    };
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return;
    };
    let doc = crate::rules::ComposeDoc::new(text.to_string(), value);
    for k in crate::rules::env::missing_in_compose(contract, &doc) {
        let from = match &k.origin {
            crate::envcontract::Origin::Example(f, l) => format!("{f}:{l}"),
            crate::envcontract::Origin::Config => "[api.env]".into(),
        };
        println!(
            "{from}: {} ({}) is in the API's env contract but not in {}; run `{COMMAND}`",
            k.name,
            k.class.name(),
            crate::stack::COMPOSE
        );
    }
}

fn report_check(checked: &[generated::Checked]) -> Outcome {
    let mut bad = 0;
    for c in checked {
        match c.state {
            State::Fresh => {}
            State::Missing => {
                bad += 1;
                println!("missing: {} (run `{COMMAND}`)", c.file.path);
            }
            State::LineEndings => {
                bad += 1;
                println!(
                    "{}: has Windows line endings (CRLF; git's core.autocrlf?), otherwise fresh: run `{COMMAND}` \
                     (and keep LF with `infra/** text eol=lf` in .gitattributes)",
                    c.file.path
                );
            }
            State::HandEdited if c.shown_diff().is_none() => {
                bad += 1;
                println!(
                    "{}; remove it, or `{COMMAND} --force` replaces it",
                    c.hidden_why()
                );
            }
            State::Stale | State::HandEdited => {
                bad += 1;
                let how = if c.state == State::HandEdited {
                    format!(
                        "edited by hand; move the change into the config, then `{COMMAND} --force`"
                    )
                } else {
                    format!("stale; run `{COMMAND}`")
                };
                println!("{}: {how}", c.file.path);
                print!("{}", c.shown_diff().unwrap_or_default());
            }
        }
    }
    if bad == 0 {
        println!("{} generated file(s) fresh", checked.len());
        Outcome::Pass
    } else {
        println!(
            "{bad} of {} generated file(s) not fresh; fix: `{COMMAND}`",
            checked.len()
        );
        Outcome::Fail
    }
}
