//! `pnpm-lock.yaml` against the manifests of the API's install closure.

use anyhow::{bail, Context, Result};

use super::{Closure, DepKind, Workspace};

/// Checks that `pnpm-lock.yaml` matches the manifests of the API's install closure: every
/// package has its importer, and every dependency its entry with the same specifier. The
/// image installs with `--frozen-lockfile`, which otherwise fails only inside the build.
/// Lockfiles without `importers` specifiers (before lockfile v6) are not checked.
pub fn check_lockfile(ws: &Workspace, closure: &Closure) -> Result<()> {
    let path = ws.root.join("pnpm-lock.yaml");
    let text = crate::files::read_input(&path, crate::files::MAX_LOCKFILE)?;
    let lock: serde_yaml::Value = serde_yaml::from_str(&text).with_context(|| {
        format!(
            "{} is not valid YAML; run `pnpm install` to rewrite it",
            path.display()
        )
    })?;
    let Some(importers) = lock.get("importers").and_then(|i| i.as_mapping()) else {
        return Ok(());
    };
    let fix = "run `pnpm install` at the root and commit pnpm-lock.yaml (the image installs with \
               --frozen-lockfile, which would fail inside the build)";
    for p in &closure.install {
        let Some(imp) = importers.get(p.dir.as_str()) else {
            bail!("pnpm-lock.yaml is out of date: it has no entry for the workspace package {} ({}); {fix}", p.name, p.dir);
        };
        for d in &p.manifest.deps {
            let section = match d.kind {
                DepKind::Prod => "dependencies",
                DepKind::Optional => "optionalDependencies",
                DepKind::Dev => "devDependencies",
                DepKind::Peer => continue,
            };
            let entry = imp.get(section).and_then(|s| s.get(d.name.as_str()));
            let Some(entry) = entry else {
                bail!(
                    "pnpm-lock.yaml is out of date: {}/package.json has {section} {} {}, the lockfile does not; {fix}",
                    p.dir,
                    d.name,
                    crate::values::shown(&d.spec)
                );
            };
            // lockfile v6+: `{ specifier, version }`
            if let Some(spec) = entry.get("specifier").and_then(|s| s.as_str()) {
                if spec != d.spec {
                    bail!(
                        "pnpm-lock.yaml is out of date: {}/package.json has {section} {} {}, the lockfile {}; {fix}",
                        p.dir,
                        d.name,
                        crate::values::shown(&d.spec),
                        crate::values::shown(spec)
                    );
                }
            }
        }
        // and nothing the manifest no longer has
        for section in ["dependencies", "optionalDependencies", "devDependencies"] {
            if let Some(m) = imp.get(section).and_then(|s| s.as_mapping()) {
                for name in m.keys().filter_map(|k| k.as_str()) {
                    if !p.manifest.deps.iter().any(|d| d.name == name) {
                        bail!(
                            "pnpm-lock.yaml is out of date: it has {section} {name} for {}, which {}/package.json no longer lists; {fix}",
                            p.dir,
                            p.dir
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
