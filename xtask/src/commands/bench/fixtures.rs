//! Phase 6: the image of each fixture monorepo of [`SIZE_FIXTURES`], built with its generated
//! Dockerfile and split by layer group (base, dependencies, app, generated, other) against
//! its `[image]` budget, as `build-image` reports it.

use super::*;
use crate::image_size::SizeReport;

/// The fixtures (under this workspace's `tests/fixtures/`, each with its committed `infra/`)
/// whose image the bench splits by layer group: one line each. A Prisma-style fixture (an
/// ORM's generated client in the image) belongs here.
pub(super) const SIZE_FIXTURES: &[&str] = &["nest-realistic", "orm-codegen"];

/// One fixture's image by layer group.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct FixtureSize {
    pub(super) fixture: String,
    pub(super) api: String,
    pub(super) size: SizeReport,
}

/// Builds each fixture's image on the run's base (a copy, the run's label, removed with the
/// run's images) and splits it. `None`: a build failed (said).
pub(super) fn fixture_sizes(setup: &Setup<'_>, run: &Run) -> Result<Option<Vec<FixtureSize>>> {
    let mut out = Vec::new();
    for name in SIZE_FIXTURES {
        let from = crate::context::default_root()
            .join("tests/fixtures")
            .join(name);
        let root = run.copy(&from, &format!("fixture-{name}"))?;
        let ctx = Ctx::new(&root, None);
        let (sub, model) = subject_gen(
            &ctx,
            setup.docker,
            setup.args.node_image.clone(),
            setup.tag,
            &run.id,
        )
        .with_context(|| format!("the fixture {name} ({})", from.display()))?;
        require_fresh(&ctx, &model)
            .with_context(|| format!("the fixture {name}: its committed infra/"))?;
        let b = sub.build(setup.docker, &format!("image of the fixture {name}"), false)?;
        if !b.ok {
            return failed(
                &format!("image build of the fixture {name}"),
                sub.label,
                &sub.plan.mark(),
            )
            .map(|_| None);
        }
        let budget = crate::ops::image_size::budget(&model.config.image, false);
        let size = crate::ops::image_size::measure(
            setup.docker,
            &sub.plan,
            &sub.plan.tags[0],
            None,
            budget,
            &model.config.api.runtime_files,
        )?;
        out.push(FixtureSize {
            fixture: name.to_string(),
            api: model.closure.api.name.clone(),
            size,
        });
    }
    Ok(Some(out))
}

/// The table: one row per fixture, its size by group and the budget's verdict.
pub(super) fn render_fixture_sizes(out: &mut String, m: &All) {
    use std::fmt::Write as _;
    if m.fixtures.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Image size by layer group of each fixture's generated image ([image] budget):"
    );
    let mut header = vec!["fixture", "total"];
    header.extend(crate::image_size::Group::ALL.iter().map(|g| g.name()));
    header.push("budget");
    let mut t = Table::new(&header);
    for f in &m.fixtures {
        let mut row = vec![
            format!("{} ({})", f.fixture, f.api),
            fmt_bytes(f.size.total),
        ];
        row.extend(f.size.groups.iter().map(|g| fmt_bytes(g.bytes)));
        row.push(format!(
            "{} {}",
            fmt_bytes(f.size.budget.total),
            if f.size.over { "OVER" } else { "ok" }
        ));
        t.row(&row);
    }
    out.push_str(&t.render(2));
    for f in m.fixtures.iter().filter_map(|f| f.size.finding.as_ref()) {
        let _ = writeln!(out, "  {}: [{}] {}", f.severity, f.rule, f.message);
    }
}
