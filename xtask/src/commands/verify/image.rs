//! The `image` stage: the image built, smoke-tested and inspected; its checks as findings
//! at the Dockerfile's lines.

use super::*;

/// Stage 5: build the image with buildx (as `build-image` does, tagged `<api.image>:verify`),
/// then the smoke test and the image inspection; a failed check is a finding at the
/// Dockerfile instruction it concerns.
pub(super) fn image_stage(ctx: &Ctx, model: &Model, args: &Args) -> Stage {
    if args.static_only {
        return Stage::not_run(
            "image",
            Duration::ZERO,
            Status::Skipped("--static: the image stage needs a Docker engine".into()),
        );
    }
    let t = Instant::now();
    match image_checks(ctx, model, args) {
        Ok(Checked {
            detail,
            findings,
            checks,
            size,
        }) => Stage {
            checks,
            size,
            ..Stage::ran("image", t.elapsed(), detail, findings, &[])
        },
        Err(e) => error_stage("image", t, e),
    }
}

/// What the image stage found.
pub(super) struct Checked {
    detail: String,
    /// The build's failed step, or each failed check, or the image over its size budget.
    findings: Vec<Finding>,
    /// Every smoke and inspection check it ran.
    checks: Vec<CheckResult>,
    /// The image's size by layer group against `[image]`'s budget.
    size: Option<crate::image_size::SizeReport>,
}

/// Builds, smoke-tests, inspects and measures the image.
pub(super) fn image_checks(ctx: &Ctx, model: &Model, args: &Args) -> Result<Checked> {
    use crate::ops::build as build_image;
    use crate::tools::docker::{Docker, Progress};
    let docker = Docker::find()?;
    docker.require_engine()?;
    docker.require_buildx()?;
    let bargs = build_image::Args {
        tag: Some("verify".into()),
        node_image: args.node_image.clone(),
        ..build_image::Args::default()
    };
    let plan = build_image::plan(ctx, model, &bargs, &docker)?;
    let mark = plan.mark();
    for n in &plan.context.notes {
        eprintln!("verify: image: note: {n}");
    }
    if plan.context.refused() {
        return Ok(Checked {
            detail: format!("not built: the build context failed its guard{mark}"),
            findings: context_findings(&plan.context),
            checks: plan.context.checks.clone(),
            size: None,
        });
    }
    eprintln!(
        "verify: image: building {} with buildx (progress below){mark}",
        plan.tags[0]
    );
    let built = build_image::build(&docker, &plan, Progress::Plain, true)?;
    let dockerfile = crate::files::read_input_in(
        &ctx.root,
        Path::new(stack::DOCKERFILE),
        crate::files::MAX_GENERATED,
    )?;
    if !built.ok {
        eprint!("{}", build_image::failure_report(&built));
        let step = crate::buildlog::failed(&built.steps);
        let name = step.map(|s| s.name.clone()).unwrap_or_default();
        let line = line_of_step(&dockerfile, &name);
        let why = step
            .and_then(|s| s.error.clone())
            .unwrap_or_else(|| "the build failed".into());
        let finding = Finding {
            rule: "image/build",
            file: stack::DOCKERFILE.into(),
            line,
            message: format!("{name}: {why}"),
        };
        return Ok(Checked {
            detail: format!("buildx build failed{mark}"),
            findings: vec![finding],
            checks: Vec::new(),
            size: None,
        });
    }
    let budget = crate::ops::image_size::budget(&model.config.image, false);
    let size = crate::ops::image_size::measure(
        &docker,
        &plan,
        &plan.tags[0],
        built.size,
        budget,
        &model.config.api.runtime_files,
    )?;
    let timeout = Duration::from_secs(crate::ops::smoke::timeout());
    let mut results = plan.context.checks.clone();
    results.extend(crate::ops::smoke::check(&docker, &plan.tags[0], model, timeout)?.checks);
    let passed = results.iter().filter(|r| r.ok).count();
    let mut findings: Vec<Finding> = results
        .iter()
        .filter(|r| !r.ok)
        .map(|r| Finding {
            rule: r.id,
            file: stack::DOCKERFILE.into(),
            line: line_of_check(&dockerfile, r.id),
            message: r.detail.clone(),
        })
        .collect();
    if let Some(f) = &size.finding {
        findings.push(Finding {
            rule: f.rule,
            file: stack::DOCKERFILE.into(),
            line: f.line,
            message: f.message.clone(),
        });
    }
    let detail = format!(
        "buildx built {} in {:.1}s, {} ({}budget {}); {passed} of {} smoke and inspection checks passed{mark}",
        plan.tags[0],
        built.secs,
        crate::units::human_size(size.total),
        if size.over { "OVER its " } else { "" },
        crate::units::human_size(size.budget.total),
        results.len()
    );
    Ok(Checked {
        detail,
        findings,
        checks: results,
        size: Some(size),
    })
}

/// A finding at each file the build context must not carry: the git-ignored path, or the
/// line of the first credential (its kind named, never its value).
fn context_findings(g: &crate::ops::context_guard::Guard) -> Vec<Finding> {
    use crate::ops::context_guard::GIT_IGNORED;
    g.leaks
        .iter()
        .map(|l| Finding {
            rule: l.id,
            file: l.path.trim_end_matches('/').into(),
            line: l.line,
            message: if l.id == GIT_IGNORED {
                format!(
                    "git ignores {} but the ignore file lets it into the build context: a clean checkout has \
                     no such file; delete it or move it out, or commit it (`git add -f`) if it belongs in the image",
                    if l.path.ends_with('/') { "this directory" } else { "this file" }
                )
            } else {
                format!(
                    "holds a credential ({}) from this line: take it out of the file (an env variable or a build \
                     secret carries it) and revoke it if it was ever committed",
                    l.kinds.join(", ")
                )
            },
        })
        .collect()
}

/// The Dockerfile line of a BuildKit step such as `[build 5/5] RUN pnpm ...`.
pub(super) fn line_of_step(dockerfile: &str, step: &str) -> usize {
    let text = step.split_once("] ").map(|(_, t)| t).unwrap_or(step);
    dockerfile
        .lines()
        .position(|l| {
            let l = l.trim().trim_end_matches('\\').trim();
            !l.is_empty() && !l.starts_with('#') && text.starts_with(l)
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

/// The Dockerfile line an image check concerns (the last matching instruction: the final stage).
pub(super) fn line_of_check(dockerfile: &str, id: &str) -> usize {
    let prefix = match id {
        "image/user" | "image/runtime-user" => "USER ",
        "image/env" => "ENV NODE_ENV",
        "image/expose" => "EXPOSE ",
        "image/cmd" | "image/health" | "image/services" | "image/migrate" => "CMD ",
        "image/workdir" => "WORKDIR ",
        "image/runtime-deps" | "image/no-dev-deps" => "COPY --from=prod-deps",
        "image/no-source-files" => "COPY --from=build",
        _ => "FROM ",
    };
    dockerfile
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(prefix))
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::context_guard::{Guard, Leak, CREDENTIALS, GIT_IGNORED};

    #[test]
    fn each_leak_is_a_finding_at_its_file_and_line_without_a_value() {
        let g = Guard {
            leaks: vec![
                Leak {
                    id: GIT_IGNORED,
                    path: "apps/api/local/".into(),
                    line: 1,
                    kinds: vec![],
                },
                Leak {
                    id: CREDENTIALS,
                    path: "apps/api/deploy.key.txt".into(),
                    line: 4,
                    kinds: vec!["pem-private-key"],
                },
            ],
            ..Guard::default()
        };
        let f = context_findings(&g);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].rule, f[0].file.as_str(), f[0].line),
            (GIT_IGNORED, "apps/api/local", 1)
        );
        assert!(f[0].message.contains("this directory") && f[0].message.contains("git add -f"));
        assert_eq!(
            (f[1].rule, f[1].file.as_str(), f[1].line),
            (CREDENTIALS, "apps/api/deploy.key.txt", 4)
        );
        assert!(
            f[1].message.contains("(pem-private-key)"),
            "{}",
            f[1].message
        );
        for id in [GIT_IGNORED, CREDENTIALS, "image/no-credentials"] {
            assert!(crate::rules::known_id(id), "{id}");
        }
    }
}
