//! What `bench` measures, as data: builds (time, steps re-run, context sent), images
//! (size by origin, devDependencies), command timings, and all of them for one run.

use super::*;

/// One build, as measured.
#[derive(Debug, Clone)]
pub(super) struct Build {
    pub(super) ok: bool,
    pub(super) secs: f64,
    pub(super) steps: Vec<Step>,
    pub(super) lines: Vec<String>,
    /// what went wrong with the measurement, if anything
    pub(super) note: Option<String>,
}

impl Build {
    pub(super) fn total(&self) -> usize {
        self.steps.iter().filter(|s| s.is_instruction()).count()
    }

    pub(super) fn ran(&self) -> Vec<&Step> {
        buildlog::reran(&self.steps)
    }

    pub(super) fn installs(&self) -> Vec<String> {
        self.ran()
            .into_iter()
            .filter(|s| buildlog::is_install(s))
            .map(|s| s.name.clone())
            .collect()
    }

    pub(super) fn context(&self) -> Option<u64> {
        buildlog::context_bytes(&self.lines)
    }

    pub(super) fn json(&self) -> Json {
        json!({
            "secs": self.secs,
            "steps_total": self.total(),
            "steps_ran": self.ran().iter().map(|s| json!({"name": s.name, "secs": s.secs})).collect::<Vec<_>>(),
            "installs_ran": self.installs(),
            "context_bytes": self.context(),
            "note": self.note,
        })
    }
}

#[derive(Debug, Clone)]
pub(super) struct Image {
    pub(super) sizes: Sizes,
    /// packages in node_modules/.pnpm
    pub(super) store: usize,
    pub(super) dev: Vec<String>,
}

impl Image {
    pub(super) fn json(&self) -> Json {
        json!({
            "total": self.sizes.total(),
            "base": self.sizes.base,
            "dependencies": self.sizes.deps,
            "app": self.sizes.app,
            "generated": self.sizes.generated,
            "setup": self.sizes.setup,
            "store_packages": self.store,
            "dev_dependencies": self.dev,
        })
    }
}

/// Everything measured for one subject on the sample.
pub(super) struct Measured {
    /// `--repeat` cold builds; the first sent the whole context
    pub(super) colds: Vec<Build>,
    /// `--repeat` warm rebuilds, each after its own source-only change
    pub(super) warms: Vec<Build>,
    pub(super) dep: Build,
    pub(super) image: Image,
    pub(super) copied: context::Copied,
}

impl Measured {
    pub(super) fn cold(&self) -> &Build {
        &self.colds[0]
    }

    pub(super) fn warm(&self) -> &Build {
        &self.warms[0]
    }

    pub(super) fn warm_secs(&self) -> f64 {
        secs_of(&self.warms)
    }

    pub(super) fn cold_secs(&self) -> f64 {
        secs_of(&self.colds)
    }

    /// dependency installs one warm rebuild re-ran (the most of any of the --repeat runs)
    pub(super) fn warm_installs(&self) -> usize {
        self.warms
            .iter()
            .map(|b| b.installs().len())
            .max()
            .unwrap_or(0)
    }

    pub(super) fn json(&self) -> Json {
        json!({
            "cold": series_json(&self.colds),
            "warm_source_change": series_json(&self.warms),
            "dependency_change": self.dep.json(),
            "image": self.image.json(),
            "copied": {"files": self.copied.files, "bytes": self.copied.bytes, "sources": self.copied.sources},
            "context_over_copied": self.cold().context().and_then(|c| ratio(c as f64, self.copied.bytes as f64)),
        })
    }
}

/// The median wall time of some builds.
pub(super) fn secs_of(b: &[Build]) -> f64 {
    median(&b.iter().map(|b| b.secs).collect::<Vec<_>>()).unwrap_or(f64::NAN)
}

pub(super) fn series_json(b: &[Build]) -> Json {
    let mut j = b.first().map(Build::json).unwrap_or(Json::Null);
    j["secs"] = json!(secs_of(b));
    j["runs_secs"] = json!(b.iter().map(|b| b.secs).collect::<Vec<_>>());
    j["installs_ran"] = json!(b.iter().flat_map(Build::installs).collect::<Vec<_>>());
    j["notes"] = json!(b.iter().filter_map(|b| b.note.clone()).collect::<Vec<_>>());
    j
}

/// `gen`, `gen --check`, `verify --static` timings on one monorepo (medians, seconds).
#[derive(Debug, Clone)]
pub(super) struct CliTimes {
    pub(super) packages: usize,
    pub(super) workspace_packages: usize,
    pub(super) gen: f64,
    pub(super) check: f64,
    pub(super) verify: f64,
    /// verify's own duration minus its external tools (compose and caddy, run in parallel)
    pub(super) verify_in_process: f64,
    pub(super) verify_exit: Option<i32>,
}

/// The scaling fixture's builds: the generated Dockerfile cold and warm, the reference cold.
pub(super) struct ScaleBuild {
    pub(super) packages: usize,
    pub(super) heavy_bytes: u64,
    pub(super) gen_cold: Build,
    pub(super) gen_warm: Build,
    pub(super) gen_copied: context::Copied,
    pub(super) ref_cold: Build,
}

/// Everything `run` measures.
pub(super) struct All {
    pub(super) gen: Measured,
    pub(super) reference: Measured,
    pub(super) changed: String,
    pub(super) dep_added: String,
    pub(super) scale_build: Option<ScaleBuild>,
    pub(super) cli: Vec<CliTimes>,
    pub(super) compile: Option<f64>,
    /// devDependencies the same check finds in the generated `deps` stage (all
    /// dependencies): proof that it sees them when they are there
    pub(super) control: Option<usize>,
    pub(super) smoke: SmokeTimes,
    /// Each fixture's image by layer group.
    pub(super) fixtures: Vec<FixtureSize>,
}

/// The smoke test of the generated image, timed alone (the API without its services, as
/// before issue 20) and as it runs now (the services its contract wires, its migration).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(super) struct SmokeTimes {
    /// Median seconds of `--repeat` runs each.
    pub(super) alone_secs: f64,
    pub(super) with_services_secs: f64,
    /// with_services - alone
    pub(super) added_secs: f64,
    /// with_services / alone
    pub(super) ratio: Option<f64>,
    /// The services started, as the smoke report names them (`postgres (STAND-IN ...)`).
    pub(super) services: Vec<String>,
    /// Each run's result: `pass` or `fail`.
    pub(super) alone_result: String,
    pub(super) with_services_result: String,
    /// The phases of the last run with services (`xtask-smoke/1`'s `boot.timings`).
    pub(super) boot_timings: Option<Json>,
}

/// The re-ran step that took longest: (its instruction, seconds).
pub(super) fn longest(b: &Build) -> Option<(String, f64)> {
    b.ran()
        .iter()
        .filter_map(|s| s.secs.map(|x| (s.name.clone(), x)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}
