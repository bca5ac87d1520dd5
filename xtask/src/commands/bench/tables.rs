//! The human rendering of the report: the tables `bench` prints.

use super::*;

/// What was compared, on what machine and base.
pub(super) fn render_header(out: &mut String, model: &Model, machine: &Machine) {
    use std::fmt::Write as _;
    let Machine {
        cores,
        mem,
        os,
        server,
        load_before,
        load_after,
        subject,
        mark,
    } = machine;
    let _ = writeln!(
        out,
        "bench: {} — generated {} vs reference xtask/assets/reference.Dockerfile{mark}",
        model.closure.api.name,
        crate::stack::DOCKERFILE,
    );
    let _ = writeln!(
        out,
        "  machine: {cores} cores, {} RAM, {os}, Docker {server}; load average {load_before} -> {load_after}\n  base: {subject}",
        mem.map(|b| format!("{:.0} GiB", b as f64 / (1u64 << 30) as f64))
            .unwrap_or_else(|| "?".into())
    );
    let _ = writeln!(out, "  cold = --no-cache with empty private cache mounts (the engine's shared cache untouched); base image local, packages from the registry");
    let _ = writeln!(out);
}

pub(super) fn ctxs(b: &Build) -> String {
    b.context().map(fmt_bytes).unwrap_or_else(|| "?".into())
}

/// The main table: times, image size by origin, context, re-run installs.
pub(super) fn render_main_table(out: &mut String, args: &Args, m: &All, ratios: &Ratios) {
    let (g, r) = (&m.gen, &m.reference);
    let mut t = Table::new(&[
        if args.repeat > 1 {
            "ratios, generated / reference (medians)"
        } else {
            "ratios, generated / reference"
        },
        "generated",
        "reference",
        "ratio",
    ]);
    let secs = |t: &mut Table, name: &str, a: f64, b: f64, x: Option<f64>| {
        t.row(&[name, &fmt_secs(a), &fmt_secs(b), &fmt_ratio(x)]);
    };
    let bytes = |t: &mut Table, name: &str, a: u64, b: u64, x: Option<f64>| {
        t.row(&[name, &fmt_bytes(a), &fmt_bytes(b), &fmt_ratio(x)]);
    };
    let (gs, rs) = (&g.image.sizes, &r.image.sizes);
    let of = |a: u64, b: u64| ratio(a as f64, b as f64);
    secs(
        &mut t,
        &format!("warm rebuild, source-only change ({})", m.changed),
        g.warm_secs(),
        r.warm_secs(),
        ratios.warm_source_change,
    );
    secs(
        &mut t,
        &format!("rebuild after a dependency change (+{})", m.dep_added),
        g.dep.secs,
        r.dep.secs,
        ratios.dependency_change,
    );
    secs(
        &mut t,
        "cold build",
        g.cold_secs(),
        r.cold_secs(),
        ratios.cold,
    );
    bytes(
        &mut t,
        "final image size",
        gs.total(),
        rs.total(),
        ratios.image_size,
    );
    bytes(
        &mut t,
        "  dependencies (node_modules, manifests)",
        gs.deps,
        rs.deps,
        of(gs.deps, rs.deps),
    );
    bytes(
        &mut t,
        "  app (build outputs)",
        gs.app,
        rs.app,
        of(gs.app, rs.app),
    );
    t.row(&[
        "  generated (code, runtime files)",
        &fmt_bytes(gs.generated),
        &fmt_bytes(rs.generated),
        "",
    ]);
    t.row(&[
        "  setup (user, directories)",
        &fmt_bytes(gs.setup),
        &fmt_bytes(rs.setup),
        "",
    ]);
    t.row(&["  base", &fmt_bytes(gs.base), &fmt_bytes(rs.base), ""]);
    t.row(&[
        "build context sent (cold)",
        &ctxs(g.cold()),
        &ctxs(r.cold()),
        &fmt_ratio(ratios.context_sent),
    ]);
    bytes(
        &mut t,
        "bytes COPYed from the context",
        g.copied.bytes,
        r.copied.bytes,
        of(g.copied.bytes, r.copied.bytes),
    );
    let per_copied = |me: &Measured| {
        me.cold()
            .context()
            .and_then(|c| ratio(c as f64, me.copied.bytes as f64))
    };
    t.row(&[
        "context / bytes COPYed",
        &fmt_ratio(per_copied(g)),
        &fmt_ratio(per_copied(r)),
        "",
    ]);
    count_rows(&mut t, m);
    out.push_str(&t.render(2));
}

/// The main table's counts: installs re-run, devDependencies, packages in the store.
pub(super) fn count_rows(t: &mut Table, m: &All) {
    let (g, r) = (&m.gen, &m.reference);
    let count = |t: &mut Table, name: &str, a: usize, b: usize| {
        t.row(&[name, &a.to_string(), &b.to_string(), ""]);
    };
    count(
        t,
        "dependency installs re-run per warm rebuild",
        g.warm_installs(),
        r.warm_installs(),
    );
    count(
        t,
        "devDependencies in the final image",
        g.image.dev.len(),
        r.image.dev.len(),
    );
    if let Some(n) = m.control {
        t.row(&[
            "  control: devDependencies the check finds in the deps stage",
            &n.to_string(),
            "",
            "",
        ]);
    }
    count(
        t,
        "packages in node_modules/.pnpm",
        g.image.store,
        r.image.store,
    );
}

/// The targets with their verdicts, then the steps each rebuild re-ran and any notes.
pub(super) fn render_targets_and_steps(out: &mut String, m: &All, targets: &[Target]) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "\n  targets (issues 6 and 20):");
    for t in targets {
        let _ = writeln!(
            out,
            "    {:<6} {}: {}",
            verdict(t.met),
            t.target,
            t.measured
        );
    }
    let _ = writeln!(out);
    for (label, me) in [("generated", &m.gen), ("reference", &m.reference)] {
        for (what, b) in [("warm rebuild", me.warm()), ("dependency change", &me.dep)] {
            let _ = writeln!(
                out,
                "  {label}, {what}: {} of {} steps re-ran{}",
                b.ran().len(),
                b.total(),
                if b.installs().is_empty() {
                    String::from(", no dependency install")
                } else {
                    format!(", {} dependency install(s)", b.installs().len())
                }
            );
            for s in b.ran() {
                let _ = writeln!(
                    out,
                    "    {:>6}  {}",
                    s.secs.map(|x| format!("{x:.1}s")).unwrap_or_default(),
                    s.name
                );
            }
        }
        if !me.image.dev.is_empty() {
            let _ = writeln!(
                out,
                "  {label}: devDependencies in the image: {}",
                me.image.dev.join(", ")
            );
        }
        for b in me.colds.iter().chain(&me.warms).chain([&me.dep]) {
            if let Some(n) = &b.note {
                let _ = writeln!(out, "  {label}: NOTE: {n}");
            }
        }
    }
    if let Some(n) = m
        .scale_build
        .as_ref()
        .and_then(|s| s.gen_warm.note.as_ref())
    {
        let _ = writeln!(
            out,
            "  generated, warm rebuild of the scaling fixture: NOTE: {n}"
        );
    }
}

/// The scaling table: the same builds with N unrelated packages added.
pub(super) fn render_scaling(out: &mut String, m: &All) {
    use std::fmt::Write as _;
    let Some(s) = &m.scale_build else { return };
    let (g, r) = (&m.gen, &m.reference);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  scaling: + {} workspace packages outside the closure ({} of heavy files), lockfile rewritten on the host",
        s.packages,
        fmt_bytes(s.heavy_bytes)
    );
    let mut t = Table::new(&["extra packages", "0", &s.packages.to_string(), "growth"]);
    let both = |a: &Build, b: &Build| match (a.context(), b.context()) {
        (Some(a), Some(b)) => fmt_delta(b, a),
        _ => "?".into(),
    };
    t.row(&[
        "generated: context sent",
        &ctxs(g.cold()),
        &ctxs(&s.gen_cold),
        &both(g.cold(), &s.gen_cold),
    ]);
    t.row(&[
        "generated: bytes COPYed",
        &fmt_bytes(g.copied.bytes),
        &fmt_bytes(s.gen_copied.bytes),
        &fmt_delta(s.gen_copied.bytes, g.copied.bytes),
    ]);
    let secs = |t: &mut Table, name: &str, a: f64, b: f64| {
        t.row(&[name, &fmt_secs(a), &fmt_secs(b), &fmt_ratio(ratio(b, a))]);
    };
    secs(
        &mut t,
        "generated: cold build",
        g.cold_secs(),
        s.gen_cold.secs,
    );
    secs(
        &mut t,
        "generated: warm rebuild (source-only)",
        g.warm_secs(),
        s.gen_warm.secs,
    );
    t.row(&[
        "reference: context sent",
        &ctxs(r.cold()),
        &ctxs(&s.ref_cold),
        &both(r.cold(), &s.ref_cold),
    ]);
    secs(
        &mut t,
        "reference: cold build",
        r.cold_secs(),
        s.ref_cold.secs,
    );
    out.push_str(&t.render(4));
}

/// The commands table (`gen`, `gen --check`, `verify --static` by package count) and the
/// first compile.
pub(super) fn render_commands(out: &mut String, args: &Args, m: &All) {
    use std::fmt::Write as _;
    if !m.cli.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  commands, median of {} warm runs (process start to exit; `cargo xtask` adds cargo's own check):",
            args.runs.max(1)
        );
        let mut t = Table::new(&[
            "extra packages (workspace)",
            "gen",
            "gen --check",
            "verify --static",
            "in-process",
        ]);
        for c in &m.cli {
            t.row(&[
                format!("{} ({} packages)", c.packages, c.workspace_packages),
                fmt_secs(c.gen),
                fmt_secs(c.check),
                format!(
                    "{}{}",
                    fmt_secs(c.verify),
                    match c.verify_exit {
                        Some(0) => String::new(),
                        Some(n) => format!(" (exit {n})"),
                        None => " (killed)".into(),
                    }
                ),
                fmt_secs(c.verify_in_process),
            ]);
        }
        out.push_str(&t.render(4));
        let _ = writeln!(
            out,
            "    in-process = verify's own duration minus its docker compose config and caddy runs"
        );
    }
    let _ = match m.compile {
        Some(s) => writeln!(
            out,
            "\n  first `cargo xtask` compile from an empty target dir (cargo build -p xtask, dev profile): {}",
            fmt_secs(s)
        ),
        None => writeln!(out, "\n  first `cargo xtask` compile: skipped (--no-compile)"),
    };
}

/// The smoke test of the generated image alone and with its services, side by side.
pub(super) fn render_smoke(out: &mut String, m: &All) {
    let s = &m.smoke;
    let mut t = Table::new(&[
        "smoke test of the generated image",
        "alone",
        "with services",
        "ratio",
    ]);
    t.row(&[
        "time (median)",
        &fmt_secs(s.alone_secs),
        &fmt_secs(s.with_services_secs),
        &fmt_ratio(s.ratio),
    ]);
    t.row(&[
        "result",
        s.alone_result.as_str(),
        s.with_services_result.as_str(),
        "",
    ]);
    out.push('\n');
    out.push_str(&t.render(2));
    let started = if s.services.is_empty() {
        "none (the contract wires no service)".to_string()
    } else {
        s.services.join(", ")
    };
    out.push_str(&format!(
        "  services started: {started}; added {}\n",
        fmt_secs(s.added_secs)
    ));
}
