//! `cargo xtask env init`: a real `.env.staging`, every secret freshly generated in its
//! format, written 0600 and atomically, never printed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{Ctx, Model, Outcome};
use crate::ops::secretgen;
use crate::render::compose::env_file_value;
use crate::rules::env::{is_placeholder, parse_env_file};
use crate::secretfmt::SecretFormat;
use crate::stack;

pub const HELP: &str = "\
cargo xtask env init: write a real .env.staging (fresh secrets, never printed)

USAGE:
    cargo xtask env init [--out FILE] [--force] [--rotate KEY]... [--format human|json]
                         [--root DIR] [--config FILE]

Writes every variable docker-compose.staging.yml requires (the set `verify --env-file`
checks): each secret freshly generated in its format ([api.env] KEY = { secret = true,
format = \"...\" }; default hex:32; PEM keys made by `openssl genpkey`), each setting from
the config or the API's .env.example. A setting with no value (e.g. a public URL) is
written empty with a comment saying what to put: `verify --env-file` fails on it until you
fill it in. The file is created mode 0600 (temporary file + rename in its directory); no
value is ever printed: the report names keys, their class, format and source only.

OPTIONS:
    --out FILE       where to write (default: <root>/infra/.env.staging). Refused: a symlink,
                     a directory, a FIFO or device, a file inside the image's build context
                     that its ignore file does not leave out, a path inside the monorepo
                     behind a linked directory (e.g. `infra` a symlink)
    --force          replace an existing file; the old one is kept as FILE.bak (mode 0600)
    --rotate KEY     regenerate secret KEY only in the existing file (every other line kept
                     byte for byte; the old file kept as FILE.bak); repeatable
    --format FMT     human (default) or json: the report as data (schema xtask-env-init/1:
                     file, backup, rotated, keys[{name, class, format, source}], to_fill,
                     warnings); source is generated, kept, config, example or to-fill
    -h, --help       print this help

Next: cargo xtask verify --static --env-file FILE (passes once every to_fill key is set);
deploy with `cargo xtask deploy --env-file FILE`.

EXIT: 0 written, 2 could not run (file exists without --force, bad --rotate key, unsafe
path, openssl missing for a PEM format).
";

pub const SCHEMA: &str = "xtask-env-init/1";

#[derive(Debug, Default)]
pub struct Args {
    pub out: Option<PathBuf>,
    pub force: bool,
    pub rotate: Vec<String>,
    pub json: bool,
}

/// Where a variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// A secret, generated in this format.
    Secret(SecretFormat),
    /// A setting's value, and where it was found (`config` or `example`).
    Setting(String, &'static str),
    /// A setting nobody knows: written empty with this hint.
    ToFill(String),
}

/// One variable the file sets.
#[derive(Debug, Clone)]
struct Var {
    name: String,
    comment: String,
    value: Value,
}

/// One key of the report (never its value).
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    class: &'static str,
    format: Option<String>,
    source: &'static str,
}

#[derive(Debug, Serialize)]
struct Report {
    schema: &'static str,
    file: String,
    mode: &'static str,
    backup: Option<String>,
    rotated: Vec<String>,
    keys: Vec<Row>,
    to_fill: Vec<String>,
    warnings: Vec<String>,
}

/// The variables `.env.staging` sets for this model: compose's defaulted variables (the
/// image's owner and tag), then every variable it requires, secrets first.
fn vars(model: &Model) -> Vec<Var> {
    let c = &model.stack.compose;
    let contract = &model.stack.contract;
    let mut out: Vec<Var> = c
        .defaulted_vars
        .iter()
        .map(|(name, default)| Var {
            name: name.clone(),
            comment: String::new(),
            value: Value::Setting(default.clone(), "config"),
        })
        .collect();
    let required = c.required_vars();
    let comment_of = |v: &str| contract.key(v).map(|k| k.comment.clone());
    for (var, _) in required.iter().filter(|(v, _)| contract.is_secret(v)) {
        out.push(Var {
            name: var.clone(),
            comment: comment_of(var).unwrap_or_default(),
            value: Value::Secret(contract.secret_format(var)),
        });
    }
    for (var, _) in required.iter().filter(|(v, _)| !contract.is_secret(v)) {
        let key = contract.key(var);
        let comment = key.map(|k| k.comment.clone()).unwrap_or_default();
        let value = match key {
            // set but empty, as the API's example has it (`${KEY?…}`)
            Some(k) if k.empty_ok() => Value::Setting(String::new(), "example"),
            // a dev value (localhost) never reaches staging: someone fills it in
            Some(k) if k.value_reason.is_some() => {
                Value::ToFill(k.value_reason.clone().unwrap_or_default())
            }
            Some(k) if !is_placeholder(&k.example_value) => {
                Value::Setting(k.example_value.clone(), "example")
            }
            // the stack's own database user and name, from the API's DATABASE_URL example
            _ => match contract.stack_default(var) {
                Some(v) => Value::Setting(v, "example"),
                None => Value::ToFill(if comment.is_empty() {
                    format!("the staging value of {var}")
                } else {
                    comment.clone()
                }),
            },
        };
        out.push(Var {
            name: var.clone(),
            comment,
            value,
        });
    }
    out
}

fn row(v: &Var, rotating: bool, rotated: &[String]) -> Row {
    let (class, format, source) = match &v.value {
        Value::Secret(f) => {
            let src = if rotating && !rotated.contains(&v.name) {
                "kept"
            } else {
                "generated"
            };
            ("secret", Some(f.to_string()), src)
        }
        Value::Setting(_, _) if rotating => ("setting", None, "kept"),
        Value::Setting(_, src) => ("setting", None, *src),
        Value::ToFill(_) if rotating => ("setting", None, "kept"),
        Value::ToFill(_) => ("setting", None, "to-fill"),
    };
    Row {
        name: v.name.clone(),
        class,
        format,
        source,
    }
}

fn comment(w: &mut String, text: &str) {
    if !text.is_empty() {
        w.push_str(&format!("# {}\n", text.replace(['\n', '\r'], " ")));
    }
}

/// The file's text: every value generated now (secrets) or taken from `vars`.
fn render(vars: &[Var]) -> Result<String> {
    let mut w = String::from(
        "# .env.staging written by `cargo xtask env init`: real secrets. Never commit it, never\n\
         # print it. Check it: cargo xtask verify --static --env-file <this file>\n\
         # Regenerate one secret: cargo xtask env init --rotate KEY\n",
    );
    let mut section = "";
    for v in vars {
        let title = match v.value {
            Value::Secret(_) => "secrets: generated, each in its format",
            _ if v.name == "TAG" || v.name == "IMAGE_OWNER" => "image",
            _ => "staging settings compose requires",
        };
        if title != section {
            w.push_str(&format!("\n# --- {title}\n"));
            section = title;
        }
        comment(&mut w, &v.comment);
        match &v.value {
            Value::Secret(f) => {
                w.push_str(&format!("# format: {f}\n"));
                let value = secretgen::generate(*f)
                    .with_context(|| format!("cannot generate {} ({f})", v.name))?;
                w.push_str(&format!("{}={}\n", v.name, env_file_value(&value)));
            }
            Value::Setting(value, _) => {
                w.push_str(&format!("{}={}\n", v.name, env_file_value(value)))
            }
            Value::ToFill(what) => {
                if what != &v.comment {
                    comment(&mut w, what);
                }
                w.push_str(&format!(
                    "# TO FILL: {} has no known staging value; set it before deploying\n{}=\n",
                    v.name, v.name
                ));
            }
        }
    }
    Ok(w)
}

/// `text` with each of `keys` set to a fresh value of its format: the line that sets it
/// replaced (the last one, as compose reads it), or a line appended; every other byte kept.
fn rotate(text: &str, keys: &[(String, SecretFormat)]) -> Result<String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let set = parse_env_file(text);
    for (key, f) in keys {
        let value = secretgen::generate(*f).with_context(|| format!("cannot generate {key}"))?;
        let line = format!("{key}={}\n", env_file_value(&value));
        match set.iter().rev().find(|(k, _, _)| k == key) {
            Some((_, _, n)) => lines[n - 1] = line,
            None => {
                if lines.last().is_some_and(|l| !l.ends_with('\n')) {
                    lines.push("\n".into());
                }
                lines.push(line);
            }
        }
    }
    Ok(lines.concat())
}

/// What is at the output path now.
enum Existing {
    None,
    File(String),
}

/// Refuses an output path that is not a plain file of ours to (re)write: a symlink, a
/// directory, a FIFO or device, a missing directory. Reads the file that is there.
fn existing(path: &Path, shown: &str) -> Result<Existing> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("--out {shown}: cannot inspect it")),
        Ok(m) if m.file_type().is_symlink() => bail!(
            "--out {shown} is a symlink; refusing to write secrets through it (give the real path)"
        ),
        Ok(m) if m.is_dir() => bail!("--out {shown} is a directory; give a file path"),
        Ok(m) if !m.is_file() => {
            bail!("--out {shown} is not a regular file (a FIFO, socket or device); refusing it")
        }
        Ok(m) if m.len() > 1024 * 1024 => {
            bail!("--out {shown} is over 1 MB: not an env file; refusing to touch it")
        }
        Ok(_) => {
            let text = crate::files::read_regular(path, 1024 * 1024).map_err(|r| {
                anyhow::anyhow!(
                    "--out {shown} {}; refusing to touch it",
                    r.phrase(1024 * 1024)
                )
            })?;
            return Ok(Existing::File(text));
        }
    }
    let parent = parent_dir(path);
    if !parent.is_dir() {
        bail!(
            "--out {shown}: its directory {} does not exist",
            parent.display()
        );
    }
    Ok(Existing::None)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses a file the image's build context would take in: inside the monorepo (the
/// context) and not left out by the image's ignore file (the one on disk, else what `gen`
/// writes; the web app's too when there is one).
fn check_context(ctx: &Ctx, model: &Model, path: &Path, label: &str) -> Result<()> {
    let (Ok(root), Ok(dir)) = (
        std::fs::canonicalize(&ctx.root),
        std::fs::canonicalize(parent_dir(path)),
    ) else {
        return Ok(());
    };
    let Ok(rel_dir) = dir.strip_prefix(&root) else {
        return Ok(()); // outside the build context
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let rel = rel_dir
        .join(name.unwrap_or_default())
        .to_string_lossy()
        .replace('\\', "/");
    let rendered = crate::render::all(&model.stack);
    for ignore in [stack::DOCKERIGNORE, stack::web::WEB_DOCKERIGNORE] {
        let text = match crate::files::read_in(&root, Path::new(ignore), crate::files::MAX_INPUT) {
            Ok(t) => t,
            Err(_) => match rendered.iter().find(|g| g.path == ignore) {
                Some(g) => g.contents.clone(),
                None => continue,
            },
        };
        if !crate::parse::ignore::parse(&text).excluded(&rel) {
            bail!(
                "--out {label}: {rel} is inside the image's build context and {ignore} does not \
                 leave it out: the secrets would be sent to the builder. Write it under a name \
                 starting with .env (left out at any depth), or outside the monorepo"
            );
        }
    }
    Ok(())
}

/// Creates `path` with `text`, mode 0600 from creation: a new file in the same directory,
/// then renamed over `path` (never a half-written file, never a moment with wider mode).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent_dir(path).join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        secretgen::random_hex(6)?
    ));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// The backup written beside `out`, if any.
fn report_backup_path(before: &Existing, out: &Path) -> Option<PathBuf> {
    matches!(before, Existing::File(_)).then(|| bak_of(out))
}

fn bak_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".bak");
    PathBuf::from(s)
}

pub fn run(ctx: &Ctx, args: &Args) -> Result<Outcome> {
    if args.force && !args.rotate.is_empty() {
        bail!("--rotate keeps the file and changes only its keys; it takes no --force");
    }
    let model = ctx.model()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| ctx.root.join(stack::INFRA_DIR).join(".env.staging"));
    let vars = vars(&model);
    let mut rotate_keys = Vec::new();
    for key in &args.rotate {
        match vars.iter().find(|v| v.name == *key) {
            Some(Var {
                value: Value::Secret(f),
                ..
            }) => rotate_keys.push((key.clone(), *f)),
            Some(_) => bail!(
                "--rotate {key}: a setting, not a secret; only secrets are generated (edit the \
                 setting by hand)"
            ),
            None => bail!(
                "--rotate {key}: not a variable .env.staging sets; its secrets: {}",
                vars.iter()
                    .filter(|v| matches!(v.value, Value::Secret(_)))
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    // messages name the file relative to the monorepo when it is inside it
    let label = out
        .strip_prefix(&ctx.root)
        .unwrap_or(&out)
        .display()
        .to_string();
    // inside the monorepo, never through a linked directory (`infra` pointing elsewhere)
    crate::generated::refuse_links(&ctx.root, &out)?;
    let before = existing(&out, &label)?;
    check_context(ctx, &model, &out, &label)?;
    check_context(ctx, &model, &bak_of(&out), &format!("{label} (its backup)"))?;
    let text = match (&before, rotate_keys.is_empty()) {
        (Existing::File(_), true) if !args.force => bail!(
            "{label} exists; refusing to overwrite its secrets. `--force` replaces it (the old \
             file kept as {label}.bak), `--rotate KEY` regenerates one secret"
        ),
        (Existing::None, false) => {
            bail!("--rotate: {label} does not exist; run `cargo xtask env init` first")
        }
        (Existing::File(old), false) => rotate(old, &rotate_keys)?,
        (_, true) => render(&vars)?,
    };
    let backup = match &before {
        Existing::File(old) => {
            let bak = bak_of(&out);
            if std::fs::symlink_metadata(&bak).is_ok_and(|m| !m.is_file()) {
                bail!(
                    "{} exists and is not a regular file; refusing to write the backup there",
                    bak.display()
                );
            }
            write_private(&bak, old)?;
            Some(bak.display().to_string())
        }
        Existing::None => None,
    };
    write_private(&out, &text)?;
    let mut warnings = Vec::new();
    let written = std::iter::once(out.clone()).chain(report_backup_path(&before, &out));
    for path in written {
        match crate::tools::git::is_ignored(&path) {
            Ok(true) => {}
            Ok(false) => warnings.push(format!(
                "{} is not ignored by git: add it to .gitignore (a staging secret file must \
                 never be committed)",
                path.display()
            )),
            Err(why) => {
                warnings.push(format!("git ignore not checked: {why}"));
                break;
            }
        }
    }
    let rotating = !rotate_keys.is_empty();
    let report = Report {
        schema: SCHEMA,
        file: out.display().to_string(),
        mode: "0600",
        backup,
        rotated: args.rotate.clone(),
        keys: vars
            .iter()
            .map(|v| row(v, rotating, &args.rotate))
            .collect(),
        to_fill: vars
            .iter()
            .filter(|v| !rotating && matches!(v.value, Value::ToFill(_)))
            .map(|v| v.name.clone())
            .collect(),
        warnings,
    };
    print_report(&report, args.json)?;
    Ok(Outcome::Pass)
}

fn print_report(r: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let what = if r.rotated.is_empty() {
        "wrote"
    } else {
        "rotated"
    };
    println!("env init: {what} {} (mode {})", r.file, r.mode);
    if let Some(b) = &r.backup {
        println!("  previous file kept as {b}");
    }
    for k in &r.keys {
        let f = k
            .format
            .as_deref()
            .map(|f| format!(" {f}"))
            .unwrap_or_default();
        println!("  {:<28} {}{f} ({})", k.name, k.class, k.source);
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if r.to_fill.is_empty() {
        println!("next: cargo xtask verify --static --env-file {}", r.file);
    } else {
        println!(
            "to fill in by hand (verify --env-file fails until then): {}",
            r.to_fill.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_written_on_one_line_that_reads_back_as_its_format() {
        let vars: Vec<Var> = [
            "hex:32",
            "base64:32",
            "base64url:32",
            "uuid",
            "password:24",
            "ec-p256-pem",
            "ed25519-pem-base64",
        ]
        .iter()
        .enumerate()
        .map(|(i, f)| Var {
            name: format!("K{i}"),
            comment: String::new(),
            value: Value::Secret(SecretFormat::parse(f).expect("format")),
        })
        .collect();
        let text = render(&vars).expect("render");
        let set = parse_env_file(&text);
        assert_eq!(set.len(), vars.len(), "{}", set.len());
        for (v, (k, raw, _)) in vars.iter().zip(&set) {
            let Value::Secret(f) = v.value else {
                unreachable!()
            };
            assert_eq!(*k, v.name);
            // compose's double-quoted escapes, as its dotenv reads them back
            let value = raw.replace("\\n", "\n");
            assert!(
                f.accepts(&value),
                "{f}: {k} does not read back as its format"
            );
        }
    }

    #[test]
    fn rotation_replaces_one_line_and_keeps_every_other_byte() {
        let old = "# c\nA=1\nS=old\r\nB='x y'\nS=older\nT=z";
        let new = rotate(old, &[("S".into(), SecretFormat::Hex(8))]).expect("rotate");
        let lines: Vec<&str> = new.split_inclusive('\n').collect();
        assert_eq!(lines[..4], ["# c\n", "A=1\n", "S=old\r\n", "B='x y'\n"]);
        assert!(lines[4].starts_with("S=") && lines[4] != "S=older\n");
        assert_eq!(lines[5], "T=z");
        let added = rotate("A=1", &[("N".into(), SecretFormat::Hex(8))]).expect("rotate");
        assert!(added.starts_with("A=1\nN="), "{added}");
    }
}
