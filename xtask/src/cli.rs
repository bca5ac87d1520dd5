//! Argument parsing (lexopt: no proc macros, near-zero compile cost), help, dispatch,
//! and the mapping of results to exit codes: 0 pass, 1 a check failed, 2 could not run.
//!
//! Size: one small parse-and-run function per command beside [`COMMANDS`], the table that
//! declares each command once; they read best together.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use lexopt::prelude::*;
use lexopt::Arg;

use crate::commands::{
    bench, bench_deploy, build_image, config_cmd, deploy, engine, env, gen, rehearse, smoke,
    standin, verify, Ctx, Outcome,
};
use crate::tools::docker::Progress;

/// The top of `cargo xtask --help`; the command list comes from [`COMMANDS`].
const HELP_HEAD: &str = "\
cargo xtask: staging infrastructure of a pnpm monorepo's API (CipherBox by default)

USAGE:
    cargo xtask <COMMAND> [OPTIONS]
    cargo xtask <COMMAND> --help      details of one command

COMMANDS:
";

const HELP_TAIL: &str = "
GLOBAL OPTIONS (accepted by every command):
    --root DIR       the pnpm monorepo to work on (default: this workspace's root)
    --config FILE    the config file (default: <root>/infra/stack.toml)
    -h, --help       print help

EXIT CODES:
    0  everything passed        1  a check failed (stale file, finding, failed build or smoke test)
    2  could not run (bad arguments, bad config or monorepo, missing tool, engine unreachable)
";

/// One subcommand, declared once: its name, its line(s) in `cargo xtask --help`, its own
/// `--help`, and its parser-and-runner (reads its options from [`Words`], then runs).
pub struct Command {
    pub name: &'static str,
    /// The command list's entry; a second line continues the first.
    pub summary: &'static str,
    pub help: &'static str,
    run: fn(&mut Words<'_>) -> Result<Outcome>,
}

/// Every subcommand, in the order `--help` lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "gen",
        summary: "write infra/ (Dockerfile, ignore file, compose, Caddyfile) from the config;\n--check prints a diff of stale files and exits 1",
        help: gen::HELP,
        run: cmd_gen,
    },
    Command {
        name: "config",
        summary: "create (init: discovered from the workspace), read or change the config\n(infra/stack.toml), keeping comments",
        help: config_cmd::HELP,
        run: cmd_config,
    },
    Command {
        name: "env",
        summary: "init: write a real infra/.env.staging (0600): every secret freshly generated\nin its format, settings from the config; never printed; --rotate KEY",
        help: env::HELP,
        run: cmd_env,
    },
    Command {
        name: "verify",
        summary: "prove infra/ stage by stage (fresh, rules, compose, caddy, image), findings at\nfile:line with a rule id; --static for the engine-free stages only",
        help: verify::HELP,
        run: cmd_verify,
    },
    Command {
        name: "engine",
        summary: "up|down|status: a Docker engine with buildx and compose v2 (installs and\nstarts one on Debian as root when none answers)",
        help: engine::HELP,
        run: cmd_engine,
    },
    Command {
        name: "standin",
        summary: "build the local STAND-IN base for node:22-alpine (no registry needed)",
        help: standin::HELP,
        run: cmd_standin,
    },
    Command {
        name: "build-image",
        summary: "docker buildx build of the API image from the generated Dockerfile;\n--node-image standin builds on the stand-in; --smoke tests the result",
        help: build_image::HELP,
        run: cmd_build_image,
    },
    Command {
        name: "smoke",
        summary: "smoke-test and inspect a built API image (runs it, GET /health)",
        help: smoke::HELP,
        run: cmd_smoke,
    },
    Command {
        name: "bench",
        summary: "the generated Dockerfile against a hand-written reference, side by side:\nbuild times, image size, context; scaling; command timings",
        help: bench::HELP,
        run: cmd_bench,
    },
    Command {
        name: "rehearse",
        summary: "run the generated staging stack on the local engine (stand-ins where no\nimage can be pulled) and prove HTTPS via caddy, health, redirect, clean down",
        help: rehearse::HELP,
        run: cmd_rehearse,
    },
    Command {
        name: "deploy",
        summary: "put a new API image on the staging host over SSH: health-gated start-first\nrollout, automatic rollback, --rollback, --dry-run",
        help: deploy::HELP,
        run: cmd_deploy,
    },
    Command {
        name: "bench-deploy",
        summary: "how long a deploy takes and how many requests fail, beside a plain\n`docker compose up -d`, on an SSH test host made for the run",
        help: bench_deploy::HELP,
        run: cmd_bench_deploy,
    },
];

/// The names of every subcommand.
pub fn names() -> Vec<&'static str> {
    COMMANDS.iter().map(|c| c.name).collect()
}

/// `cargo xtask --help`.
pub fn help_text() -> String {
    let mut out = HELP_HEAD.to_string();
    for c in COMMANDS {
        let mut lines = c.summary.lines();
        out.push_str(&format!(
            "    {:<15}{}\n",
            c.name,
            lines.next().unwrap_or("")
        ));
        for more in lines {
            out.push_str(&format!("    {:<15}{more}\n", ""));
        }
    }
    out.push_str(HELP_TAIL);
    out
}

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
/// `--format human|json` of a command whose report is text or JSON: true for JSON.
fn json_format(w: &mut Words<'_>) -> Result<bool> {
    Ok(w.value()?.parse::<crate::report::Format>()? == crate::report::Format::Json)
}

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
            print!("{}", help_text());
            bail!("no command given");
        };
        if let Some(o) = Global::which(&arg) {
            g.set(o, &mut p)?;
            continue;
        }
        match arg {
            Short('h') | Long("help") => return help(&help_text()),
            Value(v) => break v.string()?,
            other => {
                return Err(anyhow::anyhow!(
                    "{} (see `cargo xtask --help`)",
                    other.unexpected()
                ))
            }
        }
    };
    let Some(c) = COMMANDS.iter().find(|c| c.name == command) else {
        bail!(
            "unknown command {command:?}; commands: {} (see `cargo xtask --help`)",
            names().join(", ")
        );
    };
    let mut w = Words {
        p,
        g: &mut g,
        command: c.name,
        help: c.help,
    };
    (c.run)(&mut w)
}

fn cmd_gen(w: &mut Words<'_>) -> Result<Outcome> {
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
    gen::run(&w.g.ctx()?, &a)
}

fn cmd_config(w: &mut Words<'_>) -> Result<Outcome> {
    let mut words = Vec::new();
    let mut init = config_cmd::InitArgs::default();
    let mut init_opt = None;
    while let Some(word) = w.next()? {
        match &word {
            Word::Value(v) => words.push(v.clone()),
            Word::Opt(o) => {
                match o.as_str() {
                    "--api" => init.api = Some(w.value()?),
                    "--web" => init.web = Some(w.value()?),
                    "--web-domain" => init.web_domain = Some(w.value()?),
                    "--dry-run" => init.dry_run = true,
                    "--force" => init.force = true,
                    "--format" => init.json = json_format(w)?,
                    _ => return Err(w.unexpected(word)),
                }
                init_opt.get_or_insert(o.clone());
            }
        }
    }
    let action = match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["init"] => config_cmd::Action::Init(init),
        ["show"] | [] => config_cmd::Action::Show,
        ["get", k] => config_cmd::Action::Get(k.to_string()),
        ["set", k, v] => config_cmd::Action::Set(k.to_string(), v.to_string()),
        ["keys"] => config_cmd::Action::Keys,
        _ => bail!("usage: cargo xtask config init|show|get KEY|set KEY VALUE|keys (see --help)"),
    };
    if let (Some(o), false) = (init_opt, matches!(action, config_cmd::Action::Init(_))) {
        bail!("{o} is an option of `config init` only (see `cargo xtask config --help`)");
    }
    config_cmd::run(&w.g.ctx()?, &action)
}

fn cmd_env(w: &mut Words<'_>) -> Result<Outcome> {
    let mut a = env::Args::default();
    let mut words = Vec::new();
    while let Some(word) = w.next()? {
        match &word {
            Word::Value(v) => words.push(v.clone()),
            Word::Opt(o) => match o.as_str() {
                "--out" => a.out = Some(PathBuf::from(w.value()?)),
                "--force" => a.force = true,
                "--rotate" => a.rotate.push(w.value()?),
                "--format" => a.json = json_format(w)?,
                _ => return Err(w.unexpected(word)),
            },
        }
    }
    if words != ["init"] {
        bail!("usage: cargo xtask env init [--out FILE] [--force] [--rotate KEY]... (see --help)");
    }
    env::run(&w.g.ctx()?, &a)
}

fn cmd_verify(w: &mut Words<'_>) -> Result<Outcome> {
    let mut a = verify::Args {
        static_only: false,
        format: verify::Format::Human,
        node_image: None,
        no_cache: false,
        sarif: None,
        env_file: None,
        only: None,
    };
    while let Some(word) = w.next()? {
        match &word {
            Word::Opt(o) if o == "--env-file" => {
                a.env_file = Some(std::path::PathBuf::from(w.value()?))
            }
            Word::Opt(o) if o == "--static" => a.static_only = true,
            Word::Opt(o) if o == "--only" => a.only = Some(verify::parse_only(&w.value()?)?),
            Word::Opt(o) if o == "--no-cache" => a.no_cache = true,
            Word::Opt(o) if o == "--node-image" => a.node_image = Some(w.value()?),
            Word::Opt(o) if o == "--format" => a.format = w.value()?.parse()?,
            Word::Opt(o) if o == "--sarif" => a.sarif = Some(w.value()?.into()),
            _ => return Err(w.unexpected(word)),
        }
    }
    verify::run(&w.g.ctx()?, &a)
}

fn cmd_engine(w: &mut Words<'_>) -> Result<Outcome> {
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
        _ => bail!("usage: cargo xtask engine up|down|status (see `cargo xtask engine --help`)"),
    };
    engine::run(&action)
}

fn cmd_standin(w: &mut Words<'_>) -> Result<Outcome> {
    let mut o = crate::tools::node_standin::Options::default();
    while let Some(word) = w.next()? {
        match &word {
            Word::Opt(x) if x == "--force" => o.force = true,
            Word::Opt(x) if x == "--node-version" => o.node_version = w.value()?,
            _ => return Err(w.unexpected(word)),
        }
    }
    standin::run(&o)
}

fn cmd_build_image(w: &mut Words<'_>) -> Result<Outcome> {
    let mut a = build_image::Args::default();
    let mut format = crate::report::Format::Human;
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
            "--strict-size" => a.strict_size = true,
            "--format" => format = w.value()?.parse()?,
            _ => return Err(w.unexpected(word)),
        }
    }
    build_image::run(&w.g.ctx()?, &a, format)
}

fn cmd_smoke(w: &mut Words<'_>) -> Result<Outcome> {
    let (mut image, mut tag) = (None, None);
    let mut format = crate::report::Format::Human;
    while let Some(word) = w.next()? {
        match &word {
            Word::Opt(o) if o == "--image" => image = Some(w.value()?),
            Word::Opt(o) if o == "--tag" => tag = Some(w.value()?),
            Word::Opt(o) if o == "--format" => format = w.value()?.parse()?,
            _ => return Err(w.unexpected(word)),
        }
    }
    smoke::run(&w.g.ctx()?, image.as_deref(), tag.as_deref(), format)
}

fn cmd_bench(w: &mut Words<'_>) -> Result<Outcome> {
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
            "--runs" => a.runs = number(w, "--runs", 1..=100, "a number of runs from 1 to 100")?,
            "--repeat" => {
                a.repeat = number(
                    w,
                    "--repeat",
                    1..=20,
                    "a number of repetitions from 1 to 20",
                )?
            }
            "--no-compile" => a.compile = false,
            "--format" => a.format = w.value()?.parse()?,
            _ => return Err(w.unexpected(word)),
        }
    }
    bench::run(&w.g.ctx()?, &a)
}

fn cmd_bench_deploy(w: &mut Words<'_>) -> Result<Outcome> {
    let mut a = bench_deploy::Args::default();
    while let Some(word) = w.next()? {
        let Word::Opt(o) = &word else {
            return Err(w.unexpected(word));
        };
        match o.as_str() {
            "--node-image" => a.node_image = w.value()?,
            "--format" => a.json = json_format(w)?,
            _ => return Err(w.unexpected(word)),
        }
    }
    bench_deploy::run(&w.g.ctx()?, &a)
}

fn cmd_deploy(w: &mut Words<'_>) -> Result<Outcome> {
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
            "--timeout" => a.timeout = number(w, "--timeout", 1..=3600, "want seconds, 1 to 3600")?,
            "--grace" => a.grace = number(w, "--grace", 0..=600, "want seconds, 0 to 600")?,
            "--ssh-key" => a.ssh_key = Some(PathBuf::from(w.value()?)),
            "--known-hosts" => a.known_hosts = Some(PathBuf::from(w.value()?)),
            "--dry-run" => a.dry_run = true,
            "--swarm" => a.swarm = true,
            "--stack" => a.stack = Some(w.value()?),
            "--format" => a.json = json_format(w)?,
            _ => return Err(w.unexpected(word)),
        }
    }
    deploy::run(&w.g.ctx()?, &a)
}

fn cmd_rehearse(w: &mut Words<'_>) -> Result<Outcome> {
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
                a.timeout = number(w, "--timeout", 1..=u64::MAX, "want a number of seconds > 0")?
            }
            "--keep" => a.keep = true,
            "--build-only" => a.build_only = true,
            "--volumes" => a.volumes = true,
            "--down" => a.down = Some(w.value()?),
            "--format" => a.format = w.value()?.parse()?,
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
    rehearse::run(&w.g.ctx()?, &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn help_lists_every_command_of_the_table_once() {
        let h = help_text();
        for c in COMMANDS {
            assert_eq!(
                h.matches(&format!("\n    {:<15}", c.name)).count(),
                1,
                "{} in:\n{h}",
                c.name
            );
            assert!(
                c.help.contains(&format!("cargo xtask {}", c.name)),
                "{}",
                c.name
            );
        }
        assert!(h.contains("COMMANDS:\n    gen "), "{h}");
        assert!(h.contains("\n\nGLOBAL OPTIONS"), "{h}");
    }

    #[test]
    fn every_command_answers_help() {
        for c in COMMANDS {
            assert!(
                matches!(run(args(&[c.name, "--help"])), Ok(Outcome::Pass)),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn an_unknown_command_is_refused_naming_the_commands() {
        let e = run(args(&["rehearsal"])).expect_err("not a command");
        let msg = format!("{e:#}");
        assert!(msg.contains("unknown command \"rehearsal\""), "{msg}");
        for c in COMMANDS {
            assert!(msg.contains(c.name), "{msg}");
        }
    }
}
