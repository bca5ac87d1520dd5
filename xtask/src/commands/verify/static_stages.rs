//! The stages that need no tool: `fresh` (infra/ is what `gen` writes now) and `rules`
//! (every rule on the files on disk, and `--env-file`).

use super::*;

/// Stage 1: the same comparison as `gen --check`.
pub(super) fn fresh(ctx: &Ctx, model: &Model) -> Stage {
    let t = Instant::now();
    let files = crate::render::all(&model.stack);
    let checked = match generated::check_all(&ctx.root, &files) {
        Ok(c) => c,
        Err(e) => return error_stage("fresh", t, e),
    };
    let mut findings = Vec::new();
    for c in &checked {
        let (line, msg) = match (&c.state, &c.on_disk, &c.foreign) {
            (State::Fresh, _, _) => continue,
            (_, _, Some(why)) => (
                1,
                format!("{why}; its content is not read: remove it, then `{COMMAND}` (or `{COMMAND} --force`)"),
            ),
            (State::Missing, _, _) | (_, None, _) => (1, format!("missing; run `{COMMAND}`")),
            (State::LineEndings, Some(_), _) => (
                1,
                format!("has Windows line endings (CRLF; git's core.autocrlf?), otherwise what `{COMMAND}` writes: run `{COMMAND}`, and keep LF with `infra/** text eol=lf` in .gitattributes"),
            ),
            (State::Stale, Some(d), _) => (first_diff_line(d, &c.file.contents), format!("stale (differs from here on); run `{COMMAND}`")),
            (State::HandEdited, Some(d), _) => (
                first_diff_line(d, &c.file.contents),
                format!("edited by hand (differs from here on); move the change into infra/stack.toml, then `{COMMAND} --force`"),
            ),
        };
        findings.push(Finding {
            rule: "fresh/generated",
            file: c.file.path.clone(),
            line,
            message: msg,
        });
    }
    let detail = format!(
        "{} of {} generated file(s) fresh",
        checked.len() - findings.len(),
        checked.len()
    );
    Stage::ran("fresh", t.elapsed(), detail, findings, &[])
}

/// Stage 2: every rule on the files on disk.
pub(super) fn rules_stage(ctx: &Ctx, model: &Model, env_file: Option<&Path>) -> Stage {
    let t = Instant::now();
    let src = match Sources::read(&ctx.root) {
        Ok(s) => s,
        Err(e) => return error_stage("rules", t, e),
    };
    let input = Input::new(model, &ctx.root, &src);
    let mut findings = rules::run(&input);
    let mut detail = format!("{} rules on the files on disk", rules::registry().len());
    if let Some(path) = env_file {
        let text = match read_env_file(path) {
            Ok(t) => t,
            Err(e) => return error_stage("rules", t, e),
        };
        let required: Vec<String> = model
            .stack
            .compose
            .required_vars()
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        let label = path.display().to_string();
        findings.extend(rules::env::check_env_file(
            &model.stack.contract,
            &required,
            &label,
            &text,
        ));
        detail.push_str(&format!(
            "; {label}: {} required variable(s) checked (values never printed)",
            required.len()
        ));
    }
    Stage::ran("rules", t.elapsed(), detail, findings, &[])
}

/// Reads the file given with `--env-file`: a regular file (never a FIFO or device), at most
/// 1 MB, UTF-8. Errors name the file, never its contents.
pub(super) fn read_env_file(path: &Path) -> Result<String> {
    // a path the user names: it may be outside the monorepo (the env file lives on the
    // deploy host's side), but only a regular file is read (never a FIFO or /proc)
    crate::files::read_regular(path, 1024 * 1024)
        .map_err(|r| anyhow::anyhow!("--env-file {} {}", path.display(), r.phrase(1024 * 1024)))
}
