//! `config init`'s discovery: what the config should say about a monorepo this tool has never
//! seen, read from the workspace, each value with the reason it was chosen.
//!
//! - `api.package`: the one workspace package that is a server (a `build` script, a runnable
//!   entry, and a server framework among its dependencies — else, when no package has one, a
//!   `start` script running `node FILE` in a package no other package depends on); several
//!   or none is a refusal naming `--api`;
//! - `api.entry`: what its `start:prod`/`start` script runs with `node`, else its `main`;
//! - `project.services`: from the dependencies of the API's runtime closure (pg, typeorm… →
//!   postgres; ioredis, bullmq… → redis; kubo-rpc-client, helia… → ipfs), the hosts its env
//!   example asks for (`DB_HOST`, `REDIS_URL`, `IPFS_API_URL`, `TEE_WORKER_URL`), commented out
//!   or not, and those its sources default to a local URL ([`code`]; such a key is listed in
//!   `[api.env]` so that the stack wires it); tee-worker also when a workspace package is one
//!   or a `tee-worker/` directory sits outside the workspace globs;
//! - `project.owner`: the root package.json's `repository` (GitHub), else the local
//!   `.git/config`'s `origin` (read as a file: no program, no network), else the placeholder;
//! - `[api.migrate]`: see [`migrate`] (a script the image can run, else a runner beside the
//!   entry, else reported with the command to use).
//!
//! Every input is untrusted: a value reaches the file only through [`config::set_value`]
//! (which validates it) and the result is parsed again by [`config::parse`].

mod api;
mod code;
mod codegen;
mod health;
mod migrate;
mod needs;
mod web;

use anyhow::{Context, Result};
use serde::Serialize;
use toml_edit::DocumentMut;

use crate::config;
use crate::workspace::{Package, Workspace};

pub use api::{choose_api, node_command, Candidate, SERVER_DEPS};
pub use codegen::{GENERATE_SCRIPTS, PRISMA_MUSL_TARGET};
pub use migrate::MIGRATE_SCRIPTS;
pub use needs::{github_owner, SERVICE_DEPS};
pub use web::{for_domain as web_for_domain, WEB_DEPS};

/// What the user chose on the command line (`--api`, `--web`, `--web-domain`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Choices<'a> {
    pub api: Option<&'a str>,
    pub web: Option<&'a str>,
    pub web_domain: Option<&'a str>,
}

/// One key `config init` looked for.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Found {
    pub key: String,
    /// The value in the written file (as JSON), or the default it keeps.
    pub value: serde_json::Value,
    /// Set in the file (`false`: the template's default or placeholder stays).
    pub set: bool,
    pub reason: String,
    /// Reported, not set: the value to use (e.g. the command that would run the migrations
    /// in the image), with `config set`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested: Option<serde_json::Value>,
}

/// What discovery found: the keys and the file text.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    pub api: Candidate,
    /// Every package that qualified as the API (one, or the one `--api` named).
    pub candidates: Vec<Candidate>,
    pub keys: Vec<Found>,
    /// `gen` on this config: "ok", or the reason it would refuse.
    pub gen: String,
    /// What the API's env example says beyond its values (formats of secrets, keys required
    /// in production, values left empty, dev values), each with its reason.
    pub env: Vec<EnvNote>,
    #[serde(skip)]
    pub text: String,
}

impl Discovery {
    /// The API chosen and why, one line.
    pub fn api_line(&self) -> String {
        format!(
            "API: {} ({}): {}",
            self.api.name, self.api.dir, self.api.reason
        )
    }
}

/// One key of the API's env contract with something inferred about it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnvNote {
    pub name: String,
    /// secret, wired or config.
    pub class: &'static str,
    /// A secret's format (`hex:32`, `rsa-pkcs8-pem-base64`…), when something says it.
    pub format: Option<String>,
    pub format_reason: Option<String>,
    /// A commented-out key its comment says is required in production.
    pub required_reason: Option<String>,
    /// Set but possibly empty (`${KEY?…}`): the example leaves it empty.
    pub empty_ok: bool,
    /// A dev value (localhost) derived from the config or required from .env.staging.
    pub value_reason: Option<String>,
}

impl EnvNote {
    /// One line for the human report.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if let (Some(f), Some(why)) = (&self.format, &self.format_reason) {
            parts.push(format!("format {f} ({why})"));
        }
        if let Some(why) = &self.required_reason {
            parts.push(format!("required in production ({why})"));
        }
        if self.empty_ok {
            parts.push("may be empty (the example leaves it empty)".into());
        }
        if let Some(why) = &self.value_reason {
            parts.push(why.clone());
        }
        format!("{} ({}): {}", self.name, self.class, parts.join("; "))
    }
}

/// The keys of the contract with an inference to report.
pub fn env_notes(contract: &crate::envcontract::Contract) -> Vec<EnvNote> {
    contract
        .keys
        .iter()
        .filter(|k| {
            k.format_reason.is_some()
                || k.required_reason.is_some()
                || k.value_reason.is_some()
                || k.empty_ok()
        })
        .map(|k| EnvNote {
            name: k.name.clone(),
            class: k.class.name(),
            format: k.format.map(|f| f.to_string()),
            format_reason: k.format_reason.clone(),
            required_reason: k.required_reason.clone(),
            empty_ok: k.empty_ok(),
            value_reason: k.value_reason.clone(),
        })
        .collect()
}

/// The file being built and the keys found so far.
struct Draft {
    text: String,
    keys: Vec<Found>,
}

const FILE: &str = "the template";

impl Draft {
    /// Sets `key` to `value` (as `config set` takes it) in the file.
    fn set(
        &mut self,
        key: &str,
        value: &str,
        json: serde_json::Value,
        reason: String,
    ) -> Result<()> {
        self.text = config::set_value(&self.text, key, value, FILE)?;
        self.found(key, json, true, reason);
        Ok(())
    }

    fn found(&mut self, key: &str, value: serde_json::Value, set: bool, reason: String) {
        self.keys.push(Found {
            key: key.into(),
            value,
            set,
            reason,
            suggested: None,
        });
    }

    /// The last key found gets a suggested value.
    fn suggest(&mut self, value: serde_json::Value) {
        if let Some(k) = self.keys.last_mut() {
            k.suggested = Some(value);
        }
    }
}

/// Discovers the config of the monorepo `ws` and renders it from `template`.
pub fn discover(ws: &Workspace, template: &str, choices: Choices<'_>) -> Result<Discovery> {
    let (api, candidates) = choose_api(ws, choices.api)?;
    crate::values::npm_name(&api.name).map_err(|m| {
        anyhow::anyhow!(
            "{}/package.json: the package name {m}; fix it before `config init`",
            api.dir
        )
    })?;
    let chosen = candidates[0].clone();
    let closure = ws.closure(api)?;
    let example = crate::envcontract::read_example(&ws.root, &api.dir)?;
    let mut d = Draft {
        text: template.to_string(),
        keys: Vec::new(),
    };
    d.set(
        "api.package",
        &api.name,
        api.name.clone().into(),
        format!("{}: {}", api::disp(&api.dir), chosen.reason),
    )?;
    let entry = entry_key(&mut d, api)?;
    let defaults = code::defaults(&ws.root, &api.dir);
    let services = services_key(&mut d, ws, &closure.runtime, &example, &defaults)?;
    env_keys(&mut d, &example, &defaults, &services)?;
    owner_key(&mut d, ws)?;
    web_key(&mut d, ws, api, choices)?;
    let node_image = config::Config::default().node.image;
    let cg = codegen::discover(ws, &closure.install, api, &node_image);
    codegen::keys(&mut d, &cg)?;
    let mut m = migrate::migrate(ws, api, &entry);
    if let (None, Some((cmd, why))) = (&m.command, &cg.migrate) {
        m = migrate::Migrate {
            command: Some(cmd.clone()),
            reason: why.clone(),
            suggested: None,
        };
    }
    if let Some(c) = &m.command {
        d.text = set_migrate(&d.text, c)?;
    }
    d.found(
        "api.migrate.command",
        m.command
            .clone()
            .map(Into::into)
            .unwrap_or(serde_json::Value::Null),
        m.command.is_some(),
        m.reason,
    );
    if let Some(s) = m.suggested {
        d.suggest(s.into());
    }
    health_key(&mut d, ws, api)?;
    if let Some(setting) = ws.pnpm_settings.hoisting() {
        d.found(
            "api.hoist",
            false.into(),
            false,
            format!(
                "the monorepo sets {setting}: the image installs the API's closure isolated ({}); \
                 set api.hoist = true only if the API needs the hoisted layout (image/closure then reports what it costs)",
                crate::stack::ISOLATED_FLAG
            ),
        );
    }

    // what gen makes of it: the project and image names, or why it would refuse
    let mut cfg = config::parse(&d.text, FILE)?;
    crate::context::derive_image_names(&mut cfg, &api.name, ws.root_manifest.name.as_deref());
    for (key, value, reason) in web::env_report(ws, &cfg)? {
        d.found(&key, value, false, reason);
    }
    let built = crate::stack::build(&cfg, ws, &closure, &example);
    let project = built.as_ref().ok().map(|s| s.compose.project.clone());
    let gen = match &built {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{e:#}"),
    };
    let env = built
        .as_ref()
        .map(|s| env_notes(&s.contract))
        .unwrap_or_default();
    d.found(
        "project.name",
        project.clone().map(Into::into).unwrap_or_default(),
        false,
        "derived by gen from the root package.json's name (left unset)".into(),
    );
    d.found(
        "api.image",
        cfg.api.image.clone().into(),
        false,
        "derived by gen from the API package's name (left unset)".into(),
    );
    let text = rename_examples(&d.text, ws, api, &cfg, project.as_deref());
    config::parse(&text, FILE).context("the discovered config does not parse")?;
    Ok(Discovery {
        api: chosen,
        candidates,
        keys: d.keys,
        gen,
        env,
        text,
    })
}

/// `api.health.path`: the health route the API's sources name, else the default stays.
fn health_key(d: &mut Draft, ws: &Workspace, api: &Package) -> Result<()> {
    match health::path(&ws.root, &api.dir) {
        Ok((p, why)) => d.set("api.health.path", &p, p.clone().into(), why),
        Err(why) => {
            let p = config::Config::default().api.health.path;
            d.found("api.health.path", p.into(), false, why);
            Ok(())
        }
    }
}

/// `api.entry`: what the API runs, else the default stays. Returns the entry.
fn entry_key(d: &mut Draft, api: &Package) -> Result<String> {
    Ok(match api::entry_of(api) {
        Some((e, why)) => {
            d.set("api.entry", &e, e.clone().into(), why)?;
            e
        }
        None => {
            let e = config::Config::default().api.entry;
            d.found(
                "api.entry",
                e.clone().into(),
                false,
                "neither a `start:prod`/`start` script running node nor `main` names the built \
                 entry: the default stays"
                    .into(),
            );
            e
        }
    })
}

/// `project.services`; returns them.
fn services_key(
    d: &mut Draft,
    ws: &Workspace,
    runtime: &[Package],
    example: &crate::envcontract::Example,
    defaults: &[code::CodeDefault],
) -> Result<Vec<String>> {
    let svc = needs::services(ws, runtime, example, defaults);
    let names: Vec<&str> = svc.iter().map(|(s, _)| s.as_str()).collect();
    let reason = if svc.is_empty() {
        "no client library of postgres, redis or IPFS among the API's runtime dependencies, no \
         such host in its env example and no tee-worker package: api and caddy only"
            .into()
    } else {
        svc.iter()
            .map(|(s, w)| format!("{s}: {w}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    d.set(
        "project.services",
        &names.join(","),
        names.clone().into(),
        reason,
    )?;
    Ok(names.into_iter().map(str::to_string).collect())
}

/// `[api.env]`: a key the sources default to a local address, for a service in the stack,
/// that the env example does not name, is listed (optional) so that the stack wires it.
fn env_keys(
    d: &mut Draft,
    example: &crate::envcontract::Example,
    defaults: &[code::CodeDefault],
    services: &[String],
) -> Result<()> {
    for c in defaults {
        let Some(svc) = crate::envcontract::service_of_key(&c.key) else {
            continue;
        };
        if !services.iter().any(|s| s == svc) || example.keys.iter().any(|k| k.name == c.key) {
            continue;
        }
        let key = format!("api.env.{}", c.key);
        let comment = format!(
            "read by {}:{} (default {}); wired by the stack",
            c.file, c.line, c.value
        );
        d.text = config::set_value(&d.text, &format!("{key}.optional"), "true", FILE)?;
        d.text = config::set_value(&d.text, &format!("{key}.comment"), &comment, FILE)?;
        d.found(
            &key,
            serde_json::json!({ "optional": true, "comment": comment }),
            true,
            format!(
                "{}:{} defaults {} to {}, a local address inside the API's container, and the \
                 env example does not name it: listed so the stack wires it to {svc}",
                c.file,
                c.line,
                c.key,
                crate::values::shown(&c.value)
            ),
        );
    }
    Ok(())
}

fn owner_key(d: &mut Draft, ws: &Workspace) -> Result<()> {
    match needs::owner(&ws.root) {
        (Some(o), why) => d.set("project.owner", &o, o.clone().into(), why),
        (None, why) => {
            d.text = placeholder_comment(&d.text)?;
            d.found("project.owner", "OWNER".into(), false, why);
            Ok(())
        }
    }
}

/// `[web]`: set when one web app is found (or named) and `--web-domain` gives its site;
/// else its package is named in the template's commented example and the report says how.
fn web_key(d: &mut Draft, ws: &Workspace, api: &Package, c: Choices<'_>) -> Result<()> {
    if let Some(dom) = c.web_domain {
        crate::values::host_name(dom)
            .map_err(|m| anyhow::anyhow!("--web-domain {}: {m}", crate::values::shown(dom)))?;
    }
    let apps = web::find(ws, api, c.web)?;
    let names = || {
        apps.iter()
            .map(|a| api::disp(&a.package.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (apps.as_slice(), c.web_domain) {
        ([], None) => d.found(
            "web.package",
            serde_json::Value::Null,
            false,
            format!(
                "no workspace package looks like a static web app (a `build` script and a \
                 dependency on {} or an index.html): no [web]",
                web::WEB_DEPS[..3].join(", ")
            ),
        ),
        ([], Some(_)) => anyhow::bail!(
            "--web-domain is given, but no workspace package looks like a static web app (a \
             `build` script and a dependency on {} or an index.html): name it with `--web <name \
             or dir>`",
            web::WEB_DEPS[..3].join(", ")
        ),
        ([app], None) => {
            let quoted = toml_edit::Value::from(app.package.name.as_str()).to_string();
            d.text = web::name_in_block(&d.text, &quoted);
            d.found(
                "web.package",
                app.package.name.clone().into(),
                false,
                format!(
                    "{} ({}) {}; [web] needs the site's domain too: `cargo xtask config init \
                     --force --web-domain <host>`, or uncomment [web] and set `domain`",
                    app.package.name,
                    api::disp(&app.package.dir),
                    app.reason
                ),
            );
        }
        ([app], Some(dom)) => {
            d.text = web::uncomment(&d.text, &app.package.name, dom, app.output)
                .context("the template has no commented [web] block to fill in")?;
            config::parse(&d.text, FILE)?;
            d.found(
                "web.package",
                app.package.name.clone().into(),
                true,
                format!(
                    "{} ({}) {}",
                    app.package.name,
                    api::disp(&app.package.dir),
                    app.reason
                ),
            );
            d.found(
                "web.domain",
                dom.into(),
                true,
                "given with --web-domain".into(),
            );
            if let Some(o) = app.output {
                d.found(
                    "web.output",
                    o.into(),
                    true,
                    "react-scripts builds into build/".into(),
                );
            }
        }
        (_, None) => d.found(
            "web.package",
            serde_json::Value::Null,
            false,
            format!(
                "{} packages look like a static web app ({}): choose one with `--web <name>` \
                 and `--web-domain <host>`",
                apps.len(),
                names()
            ),
        ),
        (_, Some(_)) => anyhow::bail!(
            "{} workspace packages look like a static web app ({}): choose one with `--web \
             <name>`",
            apps.len(),
            names()
        ),
    }
    Ok(())
}

/// The template's examples name CipherBox: name this monorepo's instead.
fn rename_examples(
    text: &str,
    ws: &Workspace,
    api: &Package,
    cfg: &config::Config,
    project: Option<&str>,
) -> String {
    let root_name = ws
        .root_manifest
        .name
        .as_deref()
        .and_then(crate::values::image_name_from_package)
        .unwrap_or_else(|| cfg.api.image.clone());
    let mut subs = vec![
        (
            "CipherBox staging infra",
            format!("{root_name} staging infra"),
        ),
        (
            "@cipherbox/api → cipherbox-api",
            format!("{} → {}", api.name, cfg.api.image),
        ),
        ("\"@cipherbox/api\"", format!("\"{}\"", api.name)),
        ("cipherbox-tee-worker", cfg.tee_worker.image.clone()),
        ("cipherbox-api", cfg.api.image.clone()),
    ];
    if crate::values::rel_path(&api.dir).is_ok() {
        subs.push(("\"apps/api\"", format!("\"{}\"", api.dir)));
    }
    if let Some(p) = project {
        subs.push(("cipherbox-staging", p.to_string()));
    }
    let mut text = text.to_string();
    for (from, to) in subs {
        text = text.replace(from, &to);
    }
    text
}

/// The `owner` line says it is a placeholder and how to set it.
fn placeholder_comment(text: &str) -> Result<String> {
    let mut doc: DocumentMut = text.parse()?;
    if let Some(v) = doc
        .get_mut("project")
        .and_then(|t| t.as_table_like_mut())
        .and_then(|t| t.get_mut("owner"))
        .and_then(|i| i.as_value_mut())
    {
        v.decor_mut().set_suffix(
            "        # placeholder: your registry account, `cargo xtask config set project.owner NAME`",
        );
    }
    Ok(doc.to_string())
}

/// `[api.migrate] command = [...]`: the template's commented example made real when it is
/// there, else a table of its own.
fn set_migrate(text: &str, command: &[String]) -> Result<String> {
    let mut arr = toml_edit::Array::new();
    for w in command {
        arr.push(w.as_str());
    }
    let mut value = toml_edit::Value::Array(arr);
    value.decor_mut().clear();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .windows(2)
        .position(|w| w[0].starts_with("# [api.migrate]") && w[1].starts_with("# command = "));
    let out = if let Some(i) = at {
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        out[i] = lines[i].trim_start_matches("# ").to_string();
        out[i + 1] = format!("command = {value}");
        out.join("\n") + "\n"
    } else {
        let mut doc: DocumentMut = text.parse()?;
        let api = doc
            .get_mut("api")
            .and_then(|a| a.as_table_mut())
            .context("the template has no [api] table")?;
        let mut t = toml_edit::Table::new();
        t.insert("command", toml_edit::Item::Value(value));
        api.insert("migrate", toml_edit::Item::Table(t));
        doc.to_string()
    };
    config::parse(&out, "the template")?;
    Ok(out)
}
