//! The linter stages: `workflow` (actionlint, zizmor --offline) and `hadolint`.

use super::*;

/// The memo key of a linter stage: the file it reads and every linter binary.
pub(super) fn lint_key(ctx: &Ctx, name: &str, file: &str) -> Option<Key> {
    let mut k = Key::new(name);
    for b in tools::lint::binaries() {
        k.file_identity(&b);
    }
    k.bytes(
        &crate::files::read_in_bytes(&ctx.root, Path::new(file), crate::files::MAX_GENERATED)
            .ok()?,
    );
    Some(k)
}

/// Why a linter stage does not run on `file`: missing, or not a regular file (a FIFO,
/// device or /proc entry is never handed to a linter, which would block on it or read
/// what it must not); the fresh stage names it.
pub(super) fn lint_input_refused(ctx: &Ctx, file: &str) -> Option<String> {
    // a symbolic link is refused too: a linter would follow it out of the repository
    match generated::read_generated(&ctx.root.join(file)) {
        Ok(generated::OnDisk::Text(_)) => None,
        Ok(generated::OnDisk::Missing) => Some(format!("{file} is missing (see the fresh stage)")),
        Ok(generated::OnDisk::Foreign(why)) => Some(format!("{file} {why} (see the fresh stage)")),
        Err(e) => Some(format!("{e:#}")),
    }
}

/// `workflow`: actionlint (syntax, expressions, shellcheck of `run:` scripts) and zizmor
/// (security audits, offline) on the generated workflow; their findings as `actionlint/*`
/// and `zizmor/*` at the file's lines.
pub(super) fn workflow_stage(ctx: &Ctx) -> Stage {
    let t = Instant::now();
    let file = stack::WORKFLOW;
    if let Some(why) = lint_input_refused(ctx, file) {
        return Stage::not_run("workflow", t.elapsed(), Status::Skipped(why));
    }
    let run = || -> Result<Vec<Finding>> {
        let (al, zz) = std::thread::scope(|s| {
            let al = s.spawn(|| tools::lint::actionlint(&ctx.root, file));
            let zz = tools::lint::zizmor(&ctx.root, file);
            (al.join(), zz)
        });
        let al = al.map_err(|_| anyhow::anyhow!("actionlint panicked (a bug)"))??;
        let zz = zz?;
        let mut findings = rules::external::actionlint(&al.stdout, file).map_err(|e| {
            anyhow::anyhow!("{e}; actionlint said: {}", tools::indent(&al.detail()))
        })?;
        match rules::external::zizmor(&zz.stdout, file) {
            Ok(f) => findings.extend(f),
            // zizmor cannot load a workflow that is not valid: actionlint says why
            Err(_) if !findings.is_empty() => {}
            Err(e) => bail!("{e}; zizmor said: {}", tools::indent(&zz.detail())),
        }
        Ok(findings)
    };
    match run() {
        Ok(f) => Stage::ran("workflow", t.elapsed(), WORKFLOW_DETAIL.into(), f, &[]),
        Err(e) => error_stage("workflow", t, e),
    }
}

/// The Dockerfiles hadolint checks: the API's, and the web app's with `[web]`.
fn hadolint_files(model: &Model) -> Vec<&'static str> {
    let mut files = vec![stack::DOCKERFILE];
    if model.stack.web.is_some() {
        files.push(stack::web::WEB_DOCKERFILE);
    }
    files
}

/// The memo key of the hadolint stage: every Dockerfile it reads and the linter binaries.
pub(super) fn hadolint_key(ctx: &Ctx, model: &Model) -> Option<Key> {
    let files = hadolint_files(model);
    let mut k = lint_key(ctx, "hadolint", files[0])?;
    for f in &files[1..] {
        k.bytes(
            &crate::files::read_in_bytes(&ctx.root, Path::new(f), crate::files::MAX_GENERATED)
                .ok()?,
        );
    }
    Some(k)
}

/// `hadolint`: the Dockerfile linter on each generated Dockerfile; its findings as
/// `hadolint/<code>`.
pub(super) fn hadolint_stage(ctx: &Ctx, model: &Model) -> Stage {
    let t = Instant::now();
    let files = hadolint_files(model);
    for file in &files {
        if let Some(why) = lint_input_refused(ctx, file) {
            return Stage::not_run("hadolint", t.elapsed(), Status::Skipped(why));
        }
    }
    let run = || -> Result<Vec<Finding>> {
        let mut findings = Vec::new();
        for file in &files {
            let out = tools::lint::hadolint(&ctx.root, file)?;
            findings.extend(rules::external::hadolint(&out.stdout, file).map_err(|e| {
                anyhow::anyhow!("{e}; hadolint said: {}", tools::indent(&out.detail()))
            })?);
        }
        Ok(findings)
    };
    match run() {
        Ok(f) => Stage::ran("hadolint", t.elapsed(), HADOLINT_DETAIL.into(), f, &[]),
        Err(e) => error_stage("hadolint", t, e),
    }
}
