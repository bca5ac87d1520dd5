//! Argument parsing (lexopt: no proc macros, near-zero compile cost), help, dispatch,
//! and the mapping of results to exit codes: 0 pass, 1 a check failed, 2 could not run.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use lexopt::prelude::*;
use lexopt::Arg;

use crate::commands::{
    self, bench, bench_deploy, build_image, config_cmd, deploy, engine, gen, rehearse, smoke,
    standin, verify, Ctx, Outcome,
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

pub use crate::context::default_root;

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

/// `--help` was answered: unwinds a command's parsing to exit 0.
#[derive(Debug)]
struct HelpShown;

impl std::fmt::Display for HelpShown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("help shown")
    }
}

impl std::error::Error for HelpShown {}

/// One argument of a command, owned (lexopt's `Arg` borrows the parser, which a command
/// needs back to read an option's value).
enum Word {
    /// `--name` or `-n`, as written.
    Opt(String),
    Value(String),
}

/// The arguments of one command. Global options are taken on the way; `--help` prints the
/// command's help and ends the parse.
struct Words<'a> {
    p: lexopt::Parser,
    g: &'a mut Global,
    command: &'static str,
    help: &'static str,
}

impl Words<'_> {
    fn next(&mut self) -> Result<Option<Word>> {
        loop {
            let Some(arg) = self.p.next()? else {
                return Ok(None);
            };
            if let Some(o) = Global::which(&arg) {
                self.g.set(o, &mut self.p)?;
                continue;
            }
            return Ok(Some(match arg {
                Short('h') | Long("help") => {
                    print!("{}", self.help);
                    return Err(HelpShown.into());
                }
                Long(l) => Word::Opt(format!("--{l}")),
                Short(c) => Word::Opt(format!("-{c}")),
                Value(v) => Word::Value(v.string()?),
            }));
        }
    }

    /// The value of the option just read.
    fn value(&mut self) -> Result<String> {
        Ok(self.p.value()?.string()?)
    }

    /// The error for a word the command does not take.
    fn unexpected(&self, w: Word) -> anyhow::Error {
        let what = match w {
            Word::Opt(o) => format!("invalid option '{o}'"),
            Word::Value(v) => format!("unexpected argument {v:?}"),
        };
        anyhow::anyhow!("{what} (see `cargo xtask {} --help`)", self.command)
    }

    /// Every remaining word, which must all be plain values (`config set K V`).
    fn values(&mut self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        while let Some(w) = self.next()? {
            match w {
                Word::Value(v) => out.push(v),
                other => return Err(self.unexpected(other)),
            }
        }
        Ok(out)
    }
}

/// The value of number option `opt`, within `range`; else "`opt` "v": `want`".
fn number<T: std::str::FromStr + PartialOrd>(
    w: &mut Words<'_>,
    opt: &str,
    range: std::ops::RangeInclusive<T>,
    want: &str,
) -> Result<T> {
    let v = w.value()?;
    v.parse()
        .ok()
        .filter(|n| range.contains(n))
        .with_context(|| format!("{opt} {v:?}: {want}"))
}

/// Parses and runs one invocation.
pub fn run(args: Vec<OsString>) -> Result<Outcome> {
    match dispatch(args) {
        Err(e) if e.is::<HelpShown>() => Ok(Outcome::Pass),
        other => other,
    }
}

fn dispatch(args: Vec<OsString>) -> Result<Outcome> {
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
            other => {
                return Err(anyhow::anyhow!(
                    "{} (see `cargo xtask --help`)",
                    other.unexpected()
                ))
            }
        }
    };
    let (name, help_text): (&'static str, &'static str) = match command.as_str() {
        "gen" => ("gen", gen::HELP),
        "config" => ("config", config_cmd::HELP),
        "verify" => ("verify", verify::HELP),
        "engine" => ("engine", engine::HELP),
        "standin" => ("standin", standin::HELP),
        "build-image" => ("build-image", build_image::HELP),
        "smoke" => ("smoke", smoke::HELP),
        "bench" => ("bench", bench::HELP),
        "rehearse" => ("rehearse", rehearse::HELP),
        "deploy" => ("deploy", deploy::HELP),
        "bench-deploy" => ("bench-deploy", bench_deploy::HELP),
        other => bail!(
            "unknown command {other:?}; commands: {} (see `cargo xtask --help`)",
            commands::NAMES.join(", ")
        ),
    };
    let mut w = Words {
        p,
        g: &mut g,
        command: name,
        help: help_text,
    };
    match name {
        "gen" => {
            let mut a = gen::Args {
                check: false,
                force: false,
            };
            while let Some(word) = w.next()? {
                match &word {
                    Word::Opt(o) if o == "--check" => a.check = true,
                    Word::Opt(o) if o == "--force" => a.force = true,
                    _ => return Err(w.unexpected(word)),
                }
            }
            gen::run(&g.ctx()?, &a)
        }
        "config" => {
            let words = w.values()?;
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
                sarif: None,
                env_file: None,
            };
            while let Some(word) = w.next()? {
                match &word {
                    Word::Opt(o) if o == "--env-file" => {
                        a.env_file = Some(std::path::PathBuf::from(w.value()?))
                    }
                    Word::Opt(o) if o == "--static" => a.static_only = true,
                    Word::Opt(o) if o == "--no-cache" => a.no_cache = true,
                    Word::Opt(o) if o == "--node-image" => a.node_image = Some(w.value()?),
                    Word::Opt(o) if o == "--format" => a.format = w.value()?.parse()?,
                    Word::Opt(o) if o == "--sarif" => a.sarif = Some(w.value()?.into()),
                    _ => return Err(w.unexpected(word)),
                }
            }
            verify::run(&g.ctx()?, &a)
        }
        "engine" => {
            let words = w.values()?;
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
            while let Some(word) = w.next()? {
                match &word {
                    Word::Opt(x) if x == "--force" => o.force = true,
                    Word::Opt(x) if x == "--node-version" => o.node_version = w.value()?,
                    _ => return Err(w.unexpected(word)),
                }
            }
            standin::run(&o)
        }
        "build-image" => {
            let mut a = build_image::Args::default();
            while let Some(word) = w.next()? {
                let Word::Opt(o) = &word else {
                    return Err(w.unexpected(word));
                };
                match o.as_str() {
                    "--tag" => {
                        let t = w.value()?;
                        match a.tag {
                            None => a.tag = Some(t),
                            Some(_) => a.extra_tags.push(t),
                        }
                    }
                    "--owner" => a.owner = Some(w.value()?),
                    "--registry" => a.registry = Some(w.value()?),
                    "--node-image" => a.node_image = Some(w.value()?),
                    "--platform" => a.platform = Some(w.value()?),
                    "--push" => a.push = true,
                    "--cache-from" => a.cache_from.push(w.value()?),
                    "--cache-to" => a.cache_to.push(w.value()?),
                    "--cache" => {
                        let v = w.value()?;
                        a.cache = crate::config::CiCache::parse(&v).ok_or_else(|| {
                            anyhow::anyhow!("--cache {v:?}: use {}", crate::config::CiCache::NAMES)
                        })?;
                    }
                    "--progress" => a.progress = Progress::parse(&w.value()?)?,
                    "--smoke" => a.smoke = true,
                    _ => return Err(w.unexpected(word)),
                }
            }
            build_image::run(&g.ctx()?, &a)
        }
        "smoke" => {
            let (mut image, mut tag) = (None, None);
            while let Some(word) = w.next()? {
                match &word {
                    Word::Opt(o) if o == "--image" => image = Some(w.value()?),
                    Word::Opt(o) if o == "--tag" => tag = Some(w.value()?),
                    _ => return Err(w.unexpected(word)),
                }
            }
            smoke::run(&g.ctx()?, image.as_deref(), tag.as_deref())
        }
        "bench" => {
            let mut a = bench::Args::default();
            while let Some(word) = w.next()? {
                let Word::Opt(o) = &word else {
                    return Err(w.unexpected(word));
                };
                match o.as_str() {
                    "--node-image" => a.node_image = Some(w.value()?),
                    "--out" => a.out = Some(PathBuf::from(w.value()?)),
                    "--scale" => a.scale = bench::parse_scale(&w.value()?)?,
                    "--no-scaling" => a.scale.clear(),
                    "--runs" => {
                        a.runs =
                            number(&mut w, "--runs", 1..=100, "a number of runs from 1 to 100")?
                    }
                    "--repeat" => {
                        a.repeat = number(
                            &mut w,
                            "--repeat",
                            1..=20,
                            "a number of repetitions from 1 to 20",
                        )?
                    }
                    "--no-compile" => a.compile = false,
                    _ => return Err(w.unexpected(word)),
                }
            }
            bench::run(&g.ctx()?, &a)
        }
        "bench-deploy" => {
            let mut a = bench_deploy::Args::default();
            while let Some(word) = w.next()? {
                let Word::Opt(o) = &word else {
                    return Err(w.unexpected(word));
                };
                match o.as_str() {
                    "--node-image" => a.node_image = w.value()?,
                    "--format" => {
                        a.json = match w.value()?.as_str() {
                            "json" => true,
                            "human" => false,
                            other => bail!("--format {other:?}: want human or json"),
                        }
                    }
                    _ => return Err(w.unexpected(word)),
                }
            }
            bench_deploy::run(&g.ctx()?, &a)
        }
        "deploy" => {
            let mut a = deploy::Args::default();
            while let Some(word) = w.next()? {
                let Word::Opt(o) = &word else {
                    return Err(w.unexpected(word));
                };
                match o.as_str() {
                    "--host" => a.host = Some(w.value()?),
                    "--context" => a.context = Some(w.value()?),
                    "--image" => a.image = Some(w.value()?),
                    "--tag" => a.tag = Some(w.value()?),
                    "--rollback" => a.rollback = true,
                    "--dir" => a.dir = Some(w.value()?),
                    "--env-file" => a.env_file = Some(PathBuf::from(w.value()?)),
                    "--certs" => a.certs = Some(PathBuf::from(w.value()?)),
                    "--compose-file" => a.compose_files.push(PathBuf::from(w.value()?)),
                    "--migrate" => a.migrate = Some(w.value()?),
                    "--services" => {
                        a.services = w
                            .value()?
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    }
                    "--timeout" => {
                        a.timeout =
                            number(&mut w, "--timeout", 1..=3600, "want seconds, 1 to 3600")?
                    }
                    "--grace" => {
                        a.grace = number(&mut w, "--grace", 0..=600, "want seconds, 0 to 600")?
                    }
                    "--ssh-key" => a.ssh_key = Some(PathBuf::from(w.value()?)),
                    "--known-hosts" => a.known_hosts = Some(PathBuf::from(w.value()?)),
                    "--dry-run" => a.dry_run = true,
                    "--format" => {
                        a.json = match w.value()?.as_str() {
                            "json" => true,
                            "human" => false,
                            other => bail!("--format {other:?}: want human or json"),
                        }
                    }
                    _ => return Err(w.unexpected(word)),
                }
            }
            deploy::run(&g.ctx()?, &a)
        }
        _ => {
            let mut a = rehearse::Args::default();
            while let Some(word) = w.next()? {
                let Word::Opt(o) = &word else {
                    return Err(w.unexpected(word));
                };
                match o.as_str() {
                    "--real-images" => a.images = rehearse::Images::Real,
                    "--standins" => a.images = rehearse::Images::Standins,
                    "--rebuild-standins" => a.rebuild_standins = true,
                    "--api-image" => a.api_image = Some(w.value()?),
                    "--node-image" => a.node_image = Some(w.value()?),
                    "--timeout" => {
                        a.timeout = number(
                            &mut w,
                            "--timeout",
                            1..=u64::MAX,
                            "want a number of seconds > 0",
                        )?
                    }
                    "--keep" => a.keep = true,
                    "--build-only" => a.build_only = true,
                    "--volumes" => a.volumes = true,
                    "--down" => a.down = Some(w.value()?),
                    _ => return Err(w.unexpected(word)),
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
    }
}
