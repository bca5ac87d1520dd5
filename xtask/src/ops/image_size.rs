//! The size of a built API image by layer group, judged against `[image]`'s budget: what
//! `build-image` and verify's image stage report ([`crate::image_size`] does the split).

use anyhow::Result;

use crate::config::ImageConfig;
use crate::image_size::{self, Budget, Group, GroupBudget, SizeReport};
use crate::ops::build::Plan;
use crate::parse::dockerfile;
use crate::tools::docker::Docker;

/// The budget `[image]` sets; `strict` (`--strict-size`) makes it fail as `budget_fails` does.
pub fn budget(c: &ImageConfig, strict: bool) -> Budget {
    Budget {
        total: c.budget,
        groups: c
            .group_budgets
            .iter()
            .filter_map(|(name, bytes)| {
                Group::ALL
                    .into_iter()
                    .find(|g| g.name() == *name)
                    .map(|g| GroupBudget {
                        name: g,
                        bytes: *bytes,
                    })
            })
            .collect(),
        fails: c.budget_fails || strict,
    }
}

/// The loaded image `image` built from `plan`: its history and its base's split by the
/// plan's Dockerfile, judged against `budget`. `total`: the engine's size of the image (the
/// sum of its layers when unknown).
pub fn measure(
    docker: &Docker,
    plan: &Plan,
    image: &str,
    total: Option<u64>,
    budget: Budget,
    runtime_files: &[String],
) -> Result<SizeReport> {
    let history = docker.history(image)?;
    let base = docker.history(&plan.node_image)?;
    let text = crate::files::read_input(&plan.dockerfile, crate::files::MAX_GENERATED)?;
    let df = dockerfile::parse(&text);
    let args = [("NODE_IMAGE".to_string(), plan.node_image.clone())];
    // Generated files are recognised by their paths (`node_modules/.prisma`, `generated`)
    // and by the config's runtime files (`api.runtime_files`, as the runtime stage copies them).
    let extra = runtime_files;
    let copies = image_size::final_copies(&df, &args, extra);
    let groups = image_size::split(&history, base.len(), &copies, extra);
    let total = total.unwrap_or_else(|| groups.iter().map(|g| g.bytes).sum());
    Ok(image_size::judge(total, groups, budget, &|g| {
        image_size::group_line(&df, &copies, g)
    }))
}
