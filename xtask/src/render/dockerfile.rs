//! The API's multi-stage Dockerfile and its ignore file.
//!
//! Only features the Docker 20.10 built-in BuildKit frontend accepts: no `# syntax=` line,
//! no heredocs, no `COPY --link`, no `RUN --network`. Layer plan:
//!   base      node + corepack-pinned pnpm           (changes with the pnpm version)
//!   manifests lockfile + the manifests the filter needs
//!   deps      all deps of the closure               (keyed on manifests only)
//!   prod-deps production deps only                  (keyed on manifests only; runs in parallel with build;
//!             the lockfile and pnpm's bookkeeping removed: the runtime copies its /app whole)
//!   build     per package: sources + its build script, by `node --run` (or pnpm where a
//!             script needs pnpm's environment); a source change re-runs from that package on
//!   runtime   node + prod node_modules + build outputs, non-root

use std::fmt::Write;

use crate::config::GenerateRun;
use crate::stack::{ApiImage, InstallLayout, Run, ISOLATED_FLAG};

const STORE: &str = "/pnpm/store";

fn install_cmd(m: &ApiImage, prod: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "RUN --mount=type=cache,id=pnpm-store,target={STORE} \\");
    if m.npmrc_secret {
        s.push_str("    --mount=type=secret,id=npmrc,target=/app/.npmrc \\\n");
    }
    let _ = write!(
        s,
        "    pnpm install --frozen-lockfile{} --filter \"{}...\" --ignore-scripts --store-dir {STORE}{}",
        if prod { " --prod" } else { "" },
        m.api_name,
        match m.layout {
            InstallLayout::Isolated { .. } => format!(" {ISOLATED_FLAG}"),
            _ => String::new(),
        }
    );
    if prod {
        // What only the install reads (the lockfile, the workspace file, patches) and pnpm's
        // own bookkeeping never run: the runtime image copies this stage's /app whole.
        let mut gone: Vec<&str> = vec!["pnpm-lock.yaml", "pnpm-workspace.yaml"];
        gone.extend(m.patches.iter().map(String::as_str));
        gone.extend(PNPM_STATE);
        let _ = write!(s, " \\\n && rm -f {}", gone.join(" "));
        // Files node never loads from production dependencies: docs (licences kept), source
        // maps, TypeScript sources and declarations (about 40% of a small API's deps).
        let _ = write!(
            s,
            " \\\n && if [ -d node_modules/.pnpm ]; then find node_modules/.pnpm \\( -name \"*.md\" ! -iname \"licen[cs]e*\" \
             -o -name \"*.map\" -o -name \"*.ts\" -o -name \"*.mts\" -o -name \"*.cts\" \\) -type f -exec rm -f {{}} +; fi"
        );
    }
    s.push('\n');
    s
}

/// Removes what node never loads from the build outputs the runtime copies (incremental
/// build info, source maps, declarations), unless `api.keep_build_files` keeps them.
fn prune_build_files(m: &ApiImage) -> String {
    let paths: Vec<String> = m
        .runtime
        .iter()
        .flat_map(|(dir, ps)| ps.iter().map(move |p| format!("{dir}/{p}")))
        .filter(|p| !p.ends_with("/package.json"))
        .collect();
    if m.prune_build_files.is_empty() || paths.is_empty() {
        return String::new();
    }
    let names: Vec<String> = m
        .prune_build_files
        .iter()
        .map(|p| format!("-name \"{p}\""))
        .collect();
    format!(
        "# Build-only files node never loads ({}) leave the outputs the runtime copies.\n\
         RUN find {} \\( {} \\) -type f -exec rm -f {{}} +\n",
        m.prune_build_files.join(", "),
        paths.join(" "),
        names.join(" -o ")
    )
}

/// Each closure package: its sources, then its build script.
fn build_steps(w: &mut String, m: &ApiImage) {
    for step in &m.build_steps {
        let dir = &step.dir;
        // a generator's package is in place already (copied before the generators ran)
        if !m.codegen.generate.iter().any(|g| g.dir == *dir) {
            let _ = writeln!(w, "COPY {dir} {dir}");
        }
        match &step.run {
            None => {}
            Some(Run::Node) => {
                let _ = writeln!(w, "RUN cd {dir} && node --run build");
            }
            Some(Run::Pnpm { why }) => {
                let _ = writeln!(w, "# pnpm runs this one: {why}");
                let _ = writeln!(w, "RUN pnpm --filter \"{}\" run build", step.name);
            }
        }
    }
}

/// `[api.generate]`: each generator after the install, before the first package build, with
/// its package's sources (and the runtime files from outside the packages) copied first: a
/// change there re-runs it and the builds after it, as a package's own change does.
fn generate_steps(m: &ApiImage) -> String {
    let g = &m.codegen;
    if g.generate.is_empty() && g.context_files.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "# Code generation ([api.generate]): after the install, before the first package build.\n",
    );
    for f in &g.context_files {
        let _ = writeln!(s, "COPY {f} {f}");
    }
    for step in &g.generate {
        let dir = &step.dir;
        let _ = writeln!(s, "COPY {dir} {dir}");
        match &step.run {
            GenerateRun::Script(name) => {
                let _ = writeln!(
                    s,
                    "RUN pnpm --filter \"{}\" run {}",
                    step.name,
                    super::quote::shell(name)
                );
            }
            GenerateRun::Command(words) => {
                let words: Vec<String> = words.iter().map(|w| super::quote::shell(w)).collect();
                let _ = writeln!(s, "RUN cd {dir} && pnpm exec {}", words.join(" "));
            }
        }
    }
    s
}

/// `api.runtime_files`: what the generators wrote and what the migrations need, from the
/// build stage into the runtime (read-only, owned by root like the rest of /app).
fn runtime_files(m: &ApiImage) -> String {
    if m.codegen.runtime_files.is_empty() {
        return String::new();
    }
    let mut s = String::from("# Generated and runtime files (api.runtime_files):\n");
    for f in &m.codegen.runtime_files {
        let _ = writeln!(s, "COPY --from=build /app/{f} ./{f}");
    }
    s
}

/// pnpm's records of an install, read by pnpm only (never by node).
const PNPM_STATE: &[&str] = &[
    "node_modules/.modules.yaml",
    "node_modules/.pnpm/lock.yaml",
    "node_modules/.pnpm-workspace-state*.json",
];

pub fn render(m: &ApiImage) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# Stages: base -> manifests -> deps -> build, manifests -> prod-deps; runtime takes"
    );
    let _ = writeln!(
        w,
        "# prod-deps' node_modules and build's outputs. A source-only change re-runs `build` only."
    );
    let _ = writeln!(
        w,
        "# Build from the monorepo root: docker buildx build -f {} .",
        crate::stack::DOCKERFILE
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "ARG NODE_IMAGE={}", m.node_image);
    let _ = writeln!(w);
    let _ = writeln!(w, "FROM ${{NODE_IMAGE}} AS base");
    pnpm_setup(w, &m.pnpm_version);
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Only what `pnpm install --frozen-lockfile --filter \"{}...\"` reads.",
        m.api_name
    );
    let _ = writeln!(w, "FROM base AS manifests");
    copy_manifests(w, &m.root_install_files, &m.patches, &m.install_dirs);
    let _ = writeln!(w);
    match &m.layout {
        InstallLayout::AsConfigured => {}
        InstallLayout::Isolated { over } => {
            let _ = writeln!(
                w,
                "# The monorepo sets {over}: a hoisted install lays out every project's dependencies,"
            );
            let _ = writeln!(
                w,
                "# whatever --filter says. {ISOLATED_FLAG} installs the API's closure only."
            );
        }
        InstallLayout::Hoisted { setting } => {
            let _ = writeln!(
                w,
                "# api.hoist = true keeps {setting}: the install lays out every project's dependencies"
            );
            let _ = writeln!(
                w,
                "# (the image check image/closure lists what lies outside the API's closure, with sizes)."
            );
        }
    }
    let _ = writeln!(w, "FROM manifests AS deps");
    w.push_str(&install_cmd(m, false));
    let _ = writeln!(w);
    let _ = writeln!(w, "FROM manifests AS prod-deps");
    w.push_str(&install_cmd(m, true));
    let _ = writeln!(w);
    let _ = writeln!(w, "# One layer per package, dependencies first: a change rebuilds that package and its dependents.");
    if m.build_steps.iter().any(|s| s.run == Some(Run::Node)) {
        let _ = writeln!(
            w,
            "# `node --run build` runs a package's build script without pnpm's start-up (~1 s);"
        );
        let _ = writeln!(
            w,
            "# `cd <dir> &&` names the package in the step (hadolint's DL3003 prefers WORKDIR)."
        );
        let _ = writeln!(w, "# hadolint global ignore=DL3003");
    }
    let _ = writeln!(w, "FROM deps AS build");
    for f in &m.root_build_files {
        let _ = writeln!(w, "COPY {f} {f}");
    }
    w.push_str(&generate_steps(m));
    build_steps(w, m);
    w.push_str(&prune_build_files(m));
    let _ = writeln!(w);
    let _ = writeln!(w, "FROM ${{NODE_IMAGE}} AS runtime");
    let _ = writeln!(w, "ENV NODE_ENV=production \\");
    let _ = writeln!(w, "    PORT={}", m.port);
    let _ = writeln!(w, "RUN addgroup -g {} -S {} \\", m.gid, m.group);
    let _ = writeln!(
        w,
        " && adduser -S -D -H -u {} -G {} {}",
        m.uid, m.group, m.user
    );
    let _ = writeln!(w, "WORKDIR /app");
    let _ = writeln!(
        w,
        "# Manifests and production node_modules only; owned by root, read-only for the app."
    );
    let _ = writeln!(w, "COPY --from=prod-deps /app ./");
    for (dir, paths) in &m.runtime {
        for p in paths {
            let _ = writeln!(w, "COPY --from=build /app/{dir}/{p} ./{dir}/{p}");
        }
    }
    w.push_str(&runtime_files(m));
    let _ = writeln!(w, "WORKDIR /app/{}", m.api_dir);
    let _ = writeln!(w, "# {}:{}", m.user, m.group);
    let _ = writeln!(w, "USER {}:{}", m.uid, m.gid);
    let _ = writeln!(w, "EXPOSE {}", m.port);
    let entry = super::quote::json_string(&m.entry);
    let _ = writeln!(w, "CMD [\"node\", {entry}]");
    s
}

/// The ignore file: nothing enters the build context unless the Dockerfile COPYs it.
pub fn render_ignore(m: &ApiImage) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# Build context of {}: everything is excluded, then only what the",
        crate::stack::DOCKERFILE
    );
    let _ = writeln!(w, "# Dockerfile COPYs is let back in.");
    let _ = writeln!(w, "*");
    for f in &m.root_install_files {
        let _ = writeln!(w, "!{f}");
    }
    for f in &m.patches {
        let _ = writeln!(w, "!{f}");
    }
    for f in &m.root_build_files {
        let _ = writeln!(w, "!{f}");
    }
    for d in &m.install_dirs {
        let _ = writeln!(w, "!{d}");
    }
    for f in &m.codegen.context_files {
        let _ = writeln!(w, "!{f}");
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Never, at any depth, even inside the packages let in above:"
    );
    for p in [
        "**/node_modules",
        "**/dist",
        "**/.turbo",
        "**/*.tsbuildinfo",
        "**/.git",
        "**/*.md",
        "**/.DS_Store",
    ] {
        let _ = writeln!(w, "{p}");
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Secret files, at any depth and in any letter case (docs/verify.md lists them):"
    );
    let names: Vec<&str> = crate::secrets::SECRETS.iter().map(|s| s.glob).collect();
    for chunk in names.chunks(10) {
        let _ = writeln!(w, "#   {}", chunk.join(" "));
    }
    for l in crate::secrets::ignore_lines() {
        let _ = writeln!(w, "{l}");
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "# Version control, docs and repository tooling:");
    let _ = writeln!(w, ".git");
    let _ = writeln!(w, "docs");
    let _ = writeln!(w, "coverage");
    let _ = writeln!(w, ".github");
    let _ = writeln!(w, "infra");
    let _ = writeln!(w, "target");
    if !m.outside.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(w, "# Workspace packages outside {}'s closure:", m.api_name);
        for d in &m.outside {
            let _ = writeln!(w, "{d}");
        }
    }
    s
}

/// After a `FROM` of the Node base: pnpm through corepack at the pinned version, in /app
/// (the API's and the web app's Dockerfiles start alike).
pub(crate) fn pnpm_setup(w: &mut String, pnpm_version: &str) {
    let _ = writeln!(w, "ENV PNPM_HOME=/pnpm \\");
    let _ = writeln!(w, "    PATH=/pnpm:$PATH \\");
    let _ = writeln!(w, "    COREPACK_ENABLE_DOWNLOAD_PROMPT=0 \\");
    let _ = writeln!(w, "    CI=true");
    let _ = writeln!(
        w,
        "RUN corepack enable && corepack prepare pnpm@{pnpm_version} --activate"
    );
    let _ = writeln!(w, "WORKDIR /app");
}

/// Only what `pnpm install --frozen-lockfile` reads: the root's install files, the patches
/// and each installed package's manifest.
pub(crate) fn copy_manifests(
    w: &mut String,
    root_install_files: &[String],
    patches: &[String],
    install_dirs: &[String],
) {
    let _ = writeln!(w, "COPY {} ./", root_install_files.join(" "));
    for p in patches {
        let _ = writeln!(w, "COPY {p} {p}");
    }
    for d in install_dirs {
        let _ = writeln!(w, "COPY {d}/package.json {d}/package.json");
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::cipherbox_like;

    /// A generator command's words reach the RUN line through shell quoting; a runtime file
    /// outside the packages is copied into the build stage and let into the context; the
    /// runtime copies every runtime file from the build stage, after the build outputs.
    #[test]
    fn generators_run_before_the_first_build_and_runtime_files_reach_the_runtime() {
        let m = cipherbox_like();
        m.file(
            "infra/stack.toml",
            "[api]\npackage = \"@cipherbox/api\"\nruntime_files = [\"packages/crypto/prisma\", \"node_modules/.prisma/client\", \"prisma.config.ts\"]\n\n[api.generate]\n\"packages/crypto\" = [\"prisma\", \"generate\", \"--schema\", \"prisma/schema.prisma\", \"it's\"]\n",
        );
        let stack = m.model().expect("model").stack;
        let df = super::render(&stack.image);
        let at = |s: &str| df.find(s).unwrap_or_else(|| panic!("no {s:?} in:\n{df}"));
        let gen = at("RUN cd packages/crypto && pnpm exec prisma generate --schema prisma/schema.prisma 'it'\\''s'\n");
        assert!(at("FROM deps AS build") < at("COPY prisma.config.ts prisma.config.ts"));
        assert!(at("COPY prisma.config.ts prisma.config.ts") < gen);
        assert!(gen < at("RUN cd packages/crypto && node --run build"));
        assert_eq!(
            df.matches("COPY packages/crypto packages/crypto\n").count(),
            1,
            "the generator's package is copied once:\n{df}"
        );
        let runtime = at("FROM ${NODE_IMAGE} AS runtime");
        for f in [
            "packages/crypto/prisma",
            "node_modules/.prisma/client",
            "prisma.config.ts",
        ] {
            assert!(
                runtime < at(&format!("COPY --from=build /app/{f} ./{f}\n")),
                "{f}"
            );
        }
        let ignore = super::render_ignore(&stack.image);
        assert!(ignore.contains("\n!prisma.config.ts\n"), "{ignore}");
        assert!(!ignore.contains("!node_modules"), "{ignore}");
    }
}
