//! `cargo xtask deploy`: put an API image on a compose host with a health-gated, start-first
//! rollout and automatic rollback (see [`crate::deploy`]).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{Ctx, Outcome};
use crate::deploy::{self, Upload};
use crate::ops::deploy as rollout;
use crate::tools::ssh::{Ssh, Target};

pub const HELP: &str = "\
cargo xtask deploy: put a new API image on the staging host, health-gated, rolled back on failure

USAGE:
    cargo xtask deploy --host ssh://USER@HOST[:PORT] --image REF [OPTIONS]
    cargo xtask deploy --host ssh://USER@HOST --rollback
    cargo xtask deploy --host ... --dry-run            print the plan, touch nothing

Over one SSH connection to a host with Docker and the compose v2 plugin:
  1. uploads infra/docker-compose.staging.yml, the Caddyfile, infra/certs/* and the env file
     (mode 600; its content is never printed) into the deploy directory (atomic writes);
  2. pulls the image on the host;
  3. runs the migration service (--migrate, when the compose files define it);
  4. first deploy: `docker compose up -d --wait`; later deploys roll the API start-first:
     a new container beside the old one, gated on its healthcheck; Caddy routes to both by the
     service name; then the old one is stopped (SIGTERM, --grace) and removed;
  5. on any failure (pull, migration, exited, restarting, unhealthy or not healthy within
     --timeout) the new container's logs are shown, it is stopped and removed, the old one
     (never stopped) keeps serving, and the exit code is 1;
  6. the deployed images are kept in <dir>/.xtask-deploy/history on the host: --rollback
     deploys the previous one the same way (health-gated) and drops the current entry.
With [web], the static site goes with the API: built here first (`docker buildx build -f
infra/web.Dockerfile --target site --output type=local`, on node.image or its stand-in),
uploaded as a release <dir>/web.<digest of its files> (kept), and once the API is live
<dir>/web (caddy's mount) is switched to it: files renamed in one by one, index.html last,
then files the release lacks removed. A failed API leaves the site as it was; --rollback
switches back to the release recorded with the target entry. Not with --swarm (refused).
The API's host port is dropped on the host (docker-compose.deploy.yml, written by deploy): two
API containers cannot bind one port during a rollout, and Caddy is the way in. Only the API is
rolled; other services are started when missing and otherwise left running.

OPTIONS:
    --host ssh://USER@HOST[:PORT]   the compose host
    --context NAME         a docker context whose endpoint is ssh://... (instead of --host)
    --image REF            the image to deploy (default: <registry>/<owner>/<api.image>:<tag>
                           from the config); use a digest or a unique tag, never latest
    --tag TAG              shorthand for --image <registry>/<owner>/<api.image>:TAG
    --rollback             return to the previous image in the host's history
    --dir DIR              deploy directory on the host (default /srv/<compose project name>)
    --env-file FILE        the env file uploaded as .env.staging (default infra/.env.staging)
    --certs DIR            the origin certificate and key, uploaded to certs/ (mode 600;
                           default infra/certs, when it exists)
    --compose-file FILE    an extra compose file applied after the staging file (repeatable),
                           e.g. the host's image mirror or resource overrides
    --migrate SERVICE      run this one-shot compose service before the API is rolled
                           (default: `migrate`, when the compose files define it)
    --services LIST        comma-separated services the first deploy starts (default: all)
    --timeout SECS         how long the new API may take to become healthy (default 120)
    --grace SECS           how long the old API gets to finish its requests (default 10)
    --ssh-key FILE         identity file (default: ssh's own)
    --known-hosts FILE     the only known-hosts file to trust (default: ssh's own)
    --swarm                deploy infra/docker-stack.staging.yml to a Swarm manager instead
                           (`docker stack deploy`, then wait until every service converged
                           healthy or Swarm rolled the update back: exit 1); secrets from the
                           env file become swarm secrets (secrets/<VAR>, mode 600)
    --stack NAME           the Swarm stack name (default: the compose project name)
    --dry-run              print the plan and exit 0; nothing is contacted
    --format human|json    json: the report on stdout (steps, result, previous image, logs)
    --root DIR             the pnpm monorepo (default: this workspace's root)
    --config FILE          the config file (default: <root>/infra/stack.toml)
    -h, --help             print this help

EXIT: 0 deployed, 1 the new image failed and the old one was kept (or the first deploy failed),
      2 could not run (bad option, stale infra/, host unreachable, no compose on the host,
        nothing to roll back to).
";

#[derive(Debug, Clone)]
pub struct Args {
    pub host: Option<String>,
    pub context: Option<String>,
    pub image: Option<String>,
    pub tag: Option<String>,
    pub rollback: bool,
    pub dir: Option<String>,
    pub env_file: Option<PathBuf>,
    pub certs: Option<PathBuf>,
    pub compose_files: Vec<PathBuf>,
    pub migrate: Option<String>,
    pub services: Vec<String>,
    pub timeout: u64,
    pub grace: u64,
    pub ssh_key: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub dry_run: bool,
    pub json: bool,
    /// Deploy `infra/docker-stack.staging.yml` to a Swarm manager instead.
    pub swarm: bool,
    pub stack: Option<String>,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            host: None,
            context: None,
            image: None,
            tag: None,
            rollback: false,
            dir: None,
            env_file: None,
            certs: None,
            compose_files: Vec::new(),
            migrate: None,
            services: Vec::new(),
            timeout: 120,
            grace: 10,
            ssh_key: None,
            known_hosts: None,
            dry_run: false,
            json: false,
            swarm: false,
            stack: None,
        }
    }
}

/// `--context NAME` → its ssh:// endpoint.
fn context_host(name: &str) -> Result<String> {
    let docker = crate::tools::docker::Docker::find()?;
    let c = docker.capture([
        "context",
        "inspect",
        name,
        "--format",
        "{{.Endpoints.docker.Host}}",
    ])?;
    if !c.ok() {
        bail!("--context {name:?}: {}", c.detail());
    }
    let host = c.stdout.trim().to_string();
    if !host.starts_with("ssh://") {
        bail!("--context {name:?} points at {host}, not an ssh:// host: deploy uploads files and runs compose over SSH (create one with `docker context create NAME --docker host=ssh://user@host`)");
    }
    Ok(host)
}

fn plain_name(p: &std::path::Path) -> Result<String> {
    let n = p
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a file name", p.display()))?;
    if !n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        || n.starts_with('.')
    {
        bail!(
            "{}: use a plain file name (letters, digits, . _ -)",
            p.display()
        );
    }
    Ok(n.to_string())
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    let model = ctx.model()?;
    if let (true, Some(web)) = (args.swarm, &model.stack.web) {
        bail!(
            "deploy --swarm does not deploy the web app ([web] {}) yet: the stack's caddy mounts ./web from the node it runs on, and deploy uploads the built site only to a compose host; deploy the compose host (without --swarm), or put the built site (`docker buildx build -f {} --target site --output type=local,dest=web .`) on caddy's node by hand and drop [web] for the swarm deploy",
            web.domain,
            crate::stack::web::WEB_DOCKERFILE
        );
    }
    super::require_fresh(ctx, &model)?;
    let target = Target::parse(&host_url(args)?)?;
    let image = image(&model, args)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| format!("/srv/{}", model.stack.compose.project));
    if !dir.starts_with('/') || dir.contains("..") || dir.chars().any(|c| c.is_control()) {
        bail!("--dir {dir:?}: want an absolute path on the host");
    }
    let (files, compose_files) = uploads(ctx, args)?;
    let o = rollout::Options {
        dir: dir.clone(),
        image: image.clone(),
        rollback: args.rollback,
        files,
        compose_files,
        migrate: Some(args.migrate.clone().unwrap_or_else(|| "migrate".into())),
        services: args.services.clone(),
        timeout: Duration::from_secs(args.timeout),
        grace_secs: args.grace,
        site: None,
        echo: true,
    };
    if args.dry_run {
        return print_plan(&target, args, &o, model.stack.web.is_some());
    }
    // With [web], a deploy builds the site here first (a failed build touches no host).
    let mut o = o;
    let _site_dir = match (&model.stack.web, args.rollback) {
        (Some(_), true) => {
            o.site = Some(rollout::Site::FromHistory);
            None
        }
        (Some(web), false) => {
            let t = crate::tempdir::TempDir::new("deploy-web")?;
            let node = site_base(&model)?;
            crate::ops::web::build_site(ctx, web, &node, t.path(), "deploy")?;
            let id = crate::ops::web::site_id(t.path())?;
            eprintln!(
                "deploy: web app {} built on {node}: release {}",
                web.name,
                deploy::site_release(&id)
            );
            o.site = Some(rollout::Site::Built {
                dir: t.path().to_path_buf(),
                id,
            });
            Some(t)
        }
        (None, _) => None,
    };
    let ssh = Ssh::new(target, args.ssh_key.as_deref(), args.known_hosts.as_deref())?;
    let report = if args.swarm {
        crate::ops::deploy_swarm::run(&ssh, &swarm_options(ctx, &model, args, o)?)?
    } else {
        rollout::run(&ssh, &o)?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    }
    Ok(print_outcome(args, &report))
}

/// The Node base the site is built on: the config's `node.image` when the engine has it, else
/// its stand-in when built (said: the site's files are the same), else the real one (buildx
/// pulls it).
fn site_base(model: &crate::context::Model) -> Result<String> {
    let docker = crate::tools::docker::Docker::find()?;
    let real = &model.config.node.image;
    if docker.inspect_image(real)?.is_some() {
        return Ok(real.clone());
    }
    let standin = crate::rehearsal::standin_name(real);
    if docker.inspect_image(&standin)?.is_some() {
        eprintln!("deploy: {real} is not in the local engine: the web app is built on its STAND-IN {standin}");
        return Ok(standin);
    }
    Ok(real.clone())
}

/// `--host` or `--context`: the ssh:// URL of the host.
fn host_url(args: &Args) -> Result<String> {
    Ok(match (&args.host, &args.context) {
        (Some(_), Some(_)) => bail!("give --host or --context, not both"),
        (Some(h), None) => h.clone(),
        (None, Some(c)) => context_host(c)?,
        (None, None) => bail!("deploy needs a host: --host ssh://user@host (or --context NAME); see `cargo xtask deploy --help`"),
    })
}

/// The image to deploy (`--image`, `--tag` or the config's), none for `--rollback`.
fn image(model: &crate::context::Model, args: &Args) -> Result<Option<String>> {
    if args.rollback && (args.image.is_some() || args.tag.is_some()) {
        bail!("--rollback returns to the host's previous image: it takes no --image or --tag");
    }
    if args.rollback {
        return Ok(None);
    }
    let img = match (&args.image, &args.tag) {
        (Some(_), Some(_)) => bail!("give --image or --tag, not both"),
        (Some(i), None) => i.clone(),
        (None, t) => {
            let cfg = &model.config;
            if cfg.owner == "OWNER" && args.image.is_none() {
                bail!("no --image, and project.owner is the placeholder OWNER: pass --image REF or set project.owner");
            }
            format!(
                "{}/{}/{}:{}",
                cfg.registry,
                cfg.owner,
                cfg.api.image,
                t.as_deref().unwrap_or(&cfg.tag)
            )
        }
    };
    crate::config::validate_image_ref(&img).map_err(|m| anyhow::anyhow!("--image {img:?}: {m}"))?;
    Ok(Some(img))
}

/// What goes up: the compose file, the Caddyfile, the env file, the certificates and the
/// extra compose files; and the compose files in the order compose applies them.
fn uploads(ctx: &Ctx, args: &Args) -> Result<(Vec<rollout::LocalFile>, Vec<String>)> {
    let infra = ctx.root.join(crate::stack::INFRA_DIR);
    let env_file = args
        .env_file
        .clone()
        .unwrap_or_else(|| infra.join(deploy::ENV_FILE));
    if !env_file.is_file() {
        bail!(
            "the env file {} does not exist: copy infra/.env.staging.example, fill in the secrets (or pass --env-file FILE)",
            env_file.display()
        );
    }
    let file = |local, name: String, mode, secret| rollout::LocalFile {
        local,
        upload: Upload { name, mode, secret },
    };
    let mut files = vec![
        file(
            ctx.root.join(crate::stack::COMPOSE),
            "docker-compose.staging.yml".into(),
            "644",
            false,
        ),
        file(
            ctx.root.join(crate::stack::CADDYFILE),
            "Caddyfile".into(),
            "644",
            false,
        ),
        file(env_file, deploy::ENV_FILE.into(), "600", true),
    ];
    let certs = args.certs.clone().unwrap_or_else(|| infra.join("certs"));
    if args.certs.is_some() && !certs.is_dir() {
        bail!("--certs {}: no such directory", certs.display());
    }
    if certs.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(&certs)
            .with_context(|| format!("cannot list {}", certs.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.path())
            .collect();
        names.sort();
        for p in names {
            let n = plain_name(&p)?;
            files.push(file(p, format!("certs/{n}"), "600", true));
        }
    }
    let mut compose_files = vec!["docker-compose.staging.yml".to_string()];
    for f in &args.compose_files {
        if !f.is_file() {
            bail!("--compose-file {}: no such file", f.display());
        }
        let n = plain_name(f)?;
        if compose_files.contains(&n) || n == deploy::OVERRIDE_FILE {
            bail!(
                "--compose-file {}: that name is taken on the host",
                f.display()
            );
        }
        files.push(file(f.clone(), n.clone(), "644", false));
        compose_files.push(n);
    }
    Ok((files, compose_files))
}

/// `--dry-run`: the plan, printed; nothing is contacted.
fn print_plan(target: &Target, args: &Args, o: &rollout::Options, web: bool) -> Result<Outcome> {
    let uploads: Vec<Upload> = o.files.iter().map(|f| f.upload.clone()).collect();
    let plan = deploy::plan(&deploy::PlanInput {
        host: &target.url(),
        dir: &o.dir,
        image: o.image.as_deref(),
        rollback: args.rollback,
        uploads: &uploads,
        migrate: o.migrate.as_deref(),
        services: &args.services,
        timeout_secs: args.timeout,
        compose_args: &rollout::compose_args_shown(o),
        web: web.then_some(crate::stack::web::WEB_DOCKERFILE),
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"dry_run": true, "plan": plan}))?
        );
    } else {
        println!("deploy plan (--dry-run: nothing is contacted or changed):");
        for (i, s) in plan.iter().enumerate() {
            println!("  {:>2}. {s}", i + 1);
        }
    }
    Ok(Outcome::Pass)
}

/// The verdict line (and the failing container's logs) on stderr.
fn print_outcome(args: &Args, report: &rollout::Report) -> Outcome {
    if report.result == "deployed" {
        eprintln!(
            "PASS  {} {} on {} in {:.1} s (before: {})",
            if args.rollback {
                "rolled back to"
            } else {
                "deployed"
            },
            report.image,
            report.host,
            report.secs,
            report.previous.as_deref().unwrap_or("nothing")
        );
        return Outcome::Pass;
    }
    if !args.json && !report.logs.trim().is_empty() {
        eprintln!(
            "logs of the failing container:\n{}",
            crate::tools::indent(report.logs.trim())
        );
    }
    eprintln!(
        "FAIL  {} did not go live on {} ({}): {}",
        report.image,
        report.host,
        report.failed_step.as_deref().unwrap_or("?"),
        if report.old_kept_serving {
            format!(
                "the previous API ({}) kept serving",
                report.previous.as_deref().unwrap_or("?")
            )
        } else {
            "nothing was serving before".to_string()
        }
    );
    Outcome::Fail
}

/// The Swarm variant of the options: the stack file instead of the compose file, the secret
/// variables' values out of the env file, and content digests naming secrets and configs.
fn swarm_options(
    ctx: &Ctx,
    model: &crate::context::Model,
    args: &Args,
    o: rollout::Options,
) -> Result<crate::ops::deploy_swarm::Options> {
    use crate::render::stack_swarm::{secret_name, secret_vars};
    let short = |bytes: &[u8]| {
        crate::generated::digest(&String::from_utf8_lossy(bytes))
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
    };
    let mut files = Vec::new();
    let mut stack_files = vec!["docker-stack.staging.yml".to_string()];
    let mut digests = Vec::new();
    let mut env_text = String::new();
    for f in o.files {
        let name = f.upload.name.clone();
        // a regular file only (a generated file, or the env file the user names)
        let bytes = crate::files::read_regular_bytes(&f.local, crate::files::MAX_INPUT)
            .map_err(|r| crate::files::refusal(&f.local, &r, crate::files::MAX_INPUT))?;
        if name == "docker-compose.staging.yml" {
            files.push(rollout::LocalFile {
                local: ctx.root.join(crate::stack::SWARM_STACK),
                upload: Upload {
                    name: "docker-stack.staging.yml".into(),
                    mode: "644",
                    secret: false,
                },
            });
            continue;
        }
        if name == deploy::ENV_FILE {
            env_text = String::from_utf8_lossy(&bytes).into_owned();
        } else if name == "Caddyfile" {
            digests.push(("XTASK_DIGEST_CADDYFILE".to_string(), short(&bytes)));
        } else if let Some(cert) = name.strip_prefix("certs/") {
            let which = if cert == model.config.caddy.cert_file {
                Some("ORIGIN_CERT")
            } else if cert == model.config.caddy.key_file {
                Some("ORIGIN_KEY")
            } else {
                None
            };
            if let Some(w) = which {
                digests.push((format!("XTASK_DIGEST_{w}"), short(&bytes)));
            }
        } else if o.compose_files.contains(&name) {
            stack_files.push(name.clone());
        }
        files.push(f);
    }
    let env = crate::tools::swarm::parse_env(&env_text);
    let mut secrets = Vec::new();
    for var in secret_vars(&model.stack) {
        let value = env
            .iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .with_context(|| {
                format!("the env file sets no {var}: the Swarm stack needs it as a secret")
            })?;
        digests.push((
            format!("XTASK_DIGEST_{}", secret_name(&var).to_ascii_uppercase()),
            short(value.as_bytes()),
        ));
        secrets.push((var, value));
    }
    Ok(crate::ops::deploy_swarm::Options {
        dir: o.dir,
        stack: args
            .stack
            .clone()
            .unwrap_or_else(|| model.stack.compose.project.clone()),
        image: o.image,
        rollback: o.rollback,
        files,
        stack_files,
        secrets,
        digests,
        stateful_label: model.stack.swarm.stateful_label.clone(),
        timeout: o.timeout,
        echo: o.echo,
    })
}
