//! Argument parsing (lexopt: no proc macros, near-zero compile cost), help, dispatch,
//! and the mapping of results to exit codes: 0 pass, 1 a check failed, 2 could not run.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use lexopt::prelude::*;
use lexopt::Arg;

use crate::commands::{
    self, bench, build_image, config_cmd, engine, gen, rehearse, smoke, standin, verify, Ctx,
    Outcome,
};
use crate::tools::docker::Progress;

pub const HELP: &str = "\
cargo xtask: staging infrastructure of a pnpm monorepo's API (CipherBox by default)

USAGE:
    cargo xtask <COMMAND> [OPTIONS]
    cargo xtask <COMMAND> --help      details of one command

COMMANDS:
    gen            write infra/ (Dockerfile, ignore file, compose, Caddyfile) from the config;
                   --check prints a diff of stale files and exits 1
    config         create, read or change the config (infra/stack.toml), keeping comments
    verify         prove infra/ stage by stage (fresh, rules, compose, caddy, image), findings at
                   file:line with a rule id; --static for the engine-free stages only
    engine         up|down|status: a Docker engine with buildx and compose v2 (installs and
                   starts one on Debian as root when none answers)
    standin        build the local STAND-IN base for node:22-alpine (no registry needed)
    build-image    docker buildx build of the API image from the generated Dockerfile;
                   --node-image standin builds on the stand-in; --smoke tests the result
    smoke          smoke-test and inspect a built API image (runs it, GET /health)
    bench          the generated Dockerfile against a hand-written reference, side by side:
                   build times, image size, context; scaling; command timings
    rehearse       run the generated staging stack on the local engine (stand-ins where no
                   image can be pulled) and prove HTTPS via caddy, health, redirect, clean down

GLOBAL OPTIONS (accepted by every command):
    --root DIR       the pnpm monorepo to work on (default: this workspace's root)
    --config FILE    the config file (default: <root>/infra/stack.toml)
    -h, --help       print help

EXIT CODES:
    0  everything passed        1  a check failed (stale file, finding, failed build or smoke test)
    2  could not run (bad arguments, bad config or monorepo, missing tool, engine unreachable)
";

/// The workspace this xtask was built in: the default monorepo root.
pub fn default_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

pub fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(Outcome::Pass) => ExitCode::SUCCESS,
        Ok(Outcome::Fail) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[derive(Clone, Copy)]
enum GlobalOpt {
    Root,
    Config,
}

/// Options every command takes.
#[derive(Default)]
struct Global {
    root: Option<PathBuf>,
    config: Option<PathBuf>,
}

impl Global {
    /// Is `arg` a global option? Its value is read by [`Global::set`].
    fn which(arg: &Arg<'_>) -> Option<GlobalOpt> {
        match arg {
            Long("root") => Some(GlobalOpt::Root),
            Long("config") => Some(GlobalOpt::Config),
            _ => None,
        }
    }

    fn set(&mut self, opt: GlobalOpt, p: &mut lexopt::Parser) -> Result<()> {
        let v: PathBuf = p.value()?.into();
        match opt {
            GlobalOpt::Root => self.root = Some(v),
            GlobalOpt::Config => self.config = Some(v),
        }
        Ok(())
    }

    fn ctx(&self) -> Result<Ctx> {
        let root = match &self.root {
            Some(r) => {
                let abs = if r.is_absolute() {
                    r.clone()
                } else {
                    std::env::current_dir()?.join(r)
                };
                if !abs.is_dir() {
                    bail!("--root {}: no such directory", r.display());
                }
                std::fs::canonicalize(&abs).unwrap_or(abs)
            }
            None => default_root(),
        };
        Ok(Ctx::new(&root, self.config.as_deref()))
    }
}

fn help(text: &str) -> Result<Outcome> {
    print!("{text}");
    Ok(Outcome::Pass)
}

fn unexpected(arg: Arg<'_>, command: &str) -> anyhow::Error {
    let e = arg.unexpected();
    anyhow::anyhow!("{e} (see `cargo xtask {command} --help`)")
}

/// Parses and runs one invocation.
pub fn run(args: Vec<OsString>) -> Result<Outcome> {
    let mut p = lexopt::Parser::from_args(args);
    let mut g = Global::default();
    let command = loop {
        let Some(arg) = p.next()? else {
            print!("{HELP}");
            bail!("no command given");
        };
        if let Some(o) = Global::which(&arg) {
            g.set(o, &mut p)?;
            continue;
        }
        match arg {
            Short('h') | Long("help") => return help(HELP),
            Value(v) => break v.string()?,
            other => return Err(unexpected(other, "")),
        }
    };
    match command.as_str() {
        "gen" => {
            let mut a = gen::Args {
                check: false,
                force: false,
            };
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Long("check") => a.check = true,
                    Long("force") => a.force = true,
                    Short('h') | Long("help") => return help(gen::HELP),
                    other => return Err(unexpected(other, "gen")),
                }
            }
            gen::run(&g.ctx()?, &a)
        }
        "config" => {
            let mut words: Vec<String> = Vec::new();
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Short('h') | Long("help") => return help(config_cmd::HELP),
                    Value(v) => words.push(v.string()?),
                    other => return Err(unexpected(other, "config")),
                }
            }
            let action = match words
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["init"] => config_cmd::Action::Init,
                ["show"] | [] => config_cmd::Action::Show,
                ["get", k] => config_cmd::Action::Get(k.to_string()),
                ["set", k, v] => config_cmd::Action::Set(k.to_string(), v.to_string()),
                ["keys"] => config_cmd::Action::Keys,
                _ => bail!(
                    "usage: cargo xtask config init|show|get KEY|set KEY VALUE|keys (see --help)"
                ),
            };
            config_cmd::run(&g.ctx()?, &action)
        }
        "verify" => {
            let mut a = verify::Args {
                static_only: false,
                format: verify::Format::Human,
                node_image: None,
                no_cache: false,
            };
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Long("static") => a.static_only = true,
                    Long("no-cache") => a.no_cache = true,
                    Long("node-image") => a.node_image = Some(p.value()?.string()?),
                    Long("format") => a.format = p.value()?.string()?.parse()?,
                    Short('h') | Long("help") => return help(verify::HELP),
                    other => return Err(unexpected(other, "verify")),
                }
            }
            verify::run(&g.ctx()?, &a)
        }
        "engine" => {
            let mut words: Vec<String> = Vec::new();
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Short('h') | Long("help") => return help(engine::HELP),
                    Value(v) => words.push(v.string()?),
                    other => return Err(unexpected(other, "engine")),
                }
            }
            let action = match words
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["up"] => engine::Action::Up,
                ["down"] => engine::Action::Down,
                ["status"] | [] => engine::Action::Status,
                _ => bail!(
                    "usage: cargo xtask engine up|down|status (see `cargo xtask engine --help`)"
                ),
            };
            engine::run(&action)
        }
        "standin" => {
            let mut o = crate::tools::standin::Options::default();
            while let Some(arg) = p.next()? {
                if let Some(opt) = Global::which(&arg) {
                    g.set(opt, &mut p)?;
                    continue;
                }
                match arg {
                    Long("force") => o.force = true,
                    Long("node-version") => o.node_version = p.value()?.string()?,
                    Short('h') | Long("help") => return help(standin::HELP),
                    other => return Err(unexpected(other, "standin")),
                }
            }
            standin::run(&o)
        }
        "build-image" => {
            let mut a = build_image::Args::default();
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Long("tag") => {
                        let t = p.value()?.string()?;
                        match a.tag {
                            None => a.tag = Some(t),
                            Some(_) => a.extra_tags.push(t),
                        }
                    }
                    Long("owner") => a.owner = Some(p.value()?.string()?),
                    Long("node-image") => a.node_image = Some(p.value()?.string()?),
                    Long("platform") => a.platform = Some(p.value()?.string()?),
                    Long("push") => a.push = true,
                    Long("cache-from") => a.cache_from.push(p.value()?.string()?),
                    Long("cache-to") => a.cache_to.push(p.value()?.string()?),
                    Long("progress") => a.progress = Progress::parse(&p.value()?.string()?)?,
                    Long("smoke") => a.smoke = true,
                    Short('h') | Long("help") => return help(build_image::HELP),
                    other => return Err(unexpected(other, "build-image")),
                }
            }
            build_image::run(&g.ctx()?, &a)
        }
        "smoke" => {
            let (mut image, mut tag) = (None, None);
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Long("image") => image = Some(p.value()?.string()?),
                    Long("tag") => tag = Some(p.value()?.string()?),
                    Short('h') | Long("help") => return help(smoke::HELP),
                    other => return Err(unexpected(other, "smoke")),
                }
            }
            smoke::run(&g.ctx()?, image.as_deref(), tag.as_deref())
        }
        "bench" => {
            let mut a = bench::Args::default();
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Long("node-image") => a.node_image = Some(p.value()?.string()?),
                    Long("out") => a.out = Some(PathBuf::from(p.value()?)),
                    Long("scale") => a.scale = bench::parse_scale(&p.value()?.string()?)?,
                    Long("no-scaling") => a.scale.clear(),
                    Long("runs") => {
                        let v = p.value()?.string()?;
                        a.runs = v
                            .parse()
                            .ok()
                            .filter(|n| (1..=100).contains(n))
                            .with_context(|| {
                                format!("--runs {v:?}: a number of runs from 1 to 100")
                            })?;
                    }
                    Long("repeat") => {
                        let v = p.value()?.string()?;
                        a.repeat = v
                            .parse()
                            .ok()
                            .filter(|n| (1..=20).contains(n))
                            .with_context(|| {
                                format!("--repeat {v:?}: a number of repetitions from 1 to 20")
                            })?;
                    }
                    Long("no-compile") => a.compile = false,
                    Short('h') | Long("help") => return help(bench::HELP),
                    other => return Err(unexpected(other, "bench")),
                }
            }
            bench::run(&g.ctx()?, &a)
        }
        "rehearse" => {
            let mut a = rehearse::Args::default();
            while let Some(arg) = p.next()? {
                if let Some(o) = Global::which(&arg) {
                    g.set(o, &mut p)?;
                    continue;
                }
                match arg {
                    Long("real-images") => a.images = rehearse::Images::Real,
                    Long("standins") => a.images = rehearse::Images::Standins,
                    Long("rebuild-standins") => a.rebuild_standins = true,
                    Long("api-image") => a.api_image = Some(p.value()?.string()?),
                    Long("node-image") => a.node_image = Some(p.value()?.string()?),
                    Long("timeout") => {
                        let v = p.value()?.string()?;
                        a.timeout = match v.parse::<u64>() {
                            Ok(n) if n > 0 => n,
                            _ => bail!("--timeout {v:?}: want a number of seconds > 0"),
                        };
                    }
                    Long("keep") => a.keep = true,
                    Long("build-only") => a.build_only = true,
                    Long("volumes") => a.volumes = true,
                    Long("down") => a.down = Some(p.value()?.string()?),
                    Short('h') | Long("help") => return help(rehearse::HELP),
                    other => return Err(unexpected(other, "rehearse")),
                }
            }
            if a.down.is_some()
                && (a.keep
                    || a.build_only
                    || a.api_image.is_some()
                    || a.node_image.is_some()
                    || a.rebuild_standins
                    || a.images != rehearse::Images::Auto)
            {
                bail!("--down PROJECT takes only --volumes (see `cargo xtask rehearse --help`)");
            }
            if a.build_only && a.keep {
                bail!("--build-only starts nothing, so there is nothing to --keep");
            }
            rehearse::run(&g.ctx()?, &a)
        }
        other => {
            bail!(
                "unknown command {other:?}; commands: {} (see `cargo xtask --help`)",
                commands::NAMES.join(", ")
            )
        }
    }
}
