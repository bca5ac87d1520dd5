//! The scaling fixture: a monorepo plus N workspace packages outside the API's closure, each
//! with a heavy (incompressible, ~1 MB) file. Pure file writing: no program runs here; the
//! caller regenerates the lockfile with the host's pnpm.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// Where the extra packages go, relative to the monorepo root.
pub const DIR: &str = "xtask-bench-extra";
/// The size of each package's heavy file.
pub const HEAVY_BYTES: usize = 1_000_000;

/// One extra package written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    /// Directory relative to the root (`xtask-bench-extra/pkg-007`).
    pub dir: String,
    pub name: String,
}

/// `n` packages: `xtask-bench-extra/pkg-001`... named `xtask-bench-extra-001`...
pub fn extras(n: usize) -> Vec<Extra> {
    (1..=n)
        .map(|i| Extra {
            dir: format!("{DIR}/pkg-{i:03}"),
            name: format!("{DIR}-{i:03}"),
        })
        .collect()
}

/// Deterministic bytes that do not compress (xorshift64*, seeded per package).
pub fn heavy_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn manifest(e: &Extra) -> String {
    format!(
        "{{\n  \"name\": \"{}\",\n  \"version\": \"0.0.0\",\n  \"private\": true,\n  \"main\": \"src/index.js\",\n  \"scripts\": {{\n    \"build\": \"node -e \\\"\\\"\"\n  }}\n}}\n",
        e.name
    )
}

/// `pnpm-workspace.yaml` with `glob` added to `packages` (every other key kept; comments
/// are not: this is a throwaway copy).
pub fn workspace_with(text: &str, glob: &str) -> Result<String> {
    let mut v: serde_yaml::Value = if text.trim().is_empty() {
        serde_yaml::Value::Mapping(Default::default())
    } else {
        serde_yaml::from_str(text).context("pnpm-workspace.yaml is not valid YAML")?
    };
    let map = v
        .as_mapping_mut()
        .context("pnpm-workspace.yaml must hold a mapping")?;
    let key = serde_yaml::Value::String("packages".into());
    let entry = map
        .entry(key)
        .or_insert_with(|| serde_yaml::Value::Sequence(Vec::new()));
    if entry.is_null() {
        *entry = serde_yaml::Value::Sequence(Vec::new());
    }
    let Some(seq) = entry.as_sequence_mut() else {
        bail!("pnpm-workspace.yaml: `packages` must be a list of globs");
    };
    if !seq.iter().any(|g| g.as_str() == Some(glob)) {
        seq.push(serde_yaml::Value::String(glob.to_string()));
    }
    serde_yaml::to_string(&v).context("cannot write pnpm-workspace.yaml")
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `n` extra packages (manifest, a small source, `assets/heavy.bin` of `heavy` bytes)
/// into the monorepo at `root` and lets its workspace find them. The lockfile is NOT
/// updated: regenerate it (`pnpm install --lockfile-only`) before building.
pub fn add_packages(root: &Path, n: usize, heavy: usize) -> Result<Vec<Extra>> {
    let ws = root.join("pnpm-workspace.yaml");
    let text =
        std::fs::read_to_string(&ws).with_context(|| format!("cannot read {}", ws.display()))?;
    if root.join(DIR).exists() {
        bail!(
            "{} already exists: the fixture is written into a fresh copy only",
            root.join(DIR).display()
        );
    }
    let all = extras(n);
    for (i, e) in all.iter().enumerate() {
        let d = root.join(&e.dir);
        write(&d.join("package.json"), manifest(e).as_bytes())?;
        write(
            &d.join("src/index.js"),
            format!("module.exports = {{ name: {:?} }};\n", e.name).as_bytes(),
        )?;
        write(
            &d.join("assets/heavy.bin"),
            &heavy_bytes(i as u64 + 1, heavy),
        )?;
    }
    write(&ws, workspace_with(&text, &format!("{DIR}/*"))?.as_bytes())?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::cipherbox_like;

    #[test]
    fn heavy_files_are_deterministic_and_distinct() {
        let a = heavy_bytes(1, 10_000);
        assert_eq!(a.len(), 10_000);
        assert_eq!(a, heavy_bytes(1, 10_000));
        assert_ne!(a, heavy_bytes(2, 10_000));
        // not compressible in any trivial way: every byte value shows up
        let mut seen = [false; 256];
        a.iter().for_each(|&b| seen[b as usize] = true);
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn workspace_glob_is_added_once_and_keys_are_kept() {
        let t = workspace_with(
            "packages:\n  - \"apps/*\"\nonlyBuiltDependencies:\n  - esbuild\n",
            "x/*",
        )
        .expect("ok");
        let v: serde_yaml::Value = serde_yaml::from_str(&t).expect("yaml");
        let pk: Vec<&str> = v["packages"]
            .as_sequence()
            .expect("seq")
            .iter()
            .filter_map(|g| g.as_str())
            .collect();
        assert_eq!(pk, vec!["apps/*", "x/*"]);
        assert_eq!(v["onlyBuiltDependencies"][0].as_str(), Some("esbuild"));
        assert_eq!(workspace_with(&t, "x/*").expect("ok"), t);
        let flow = workspace_with("packages: [a/*]\n", "x/*").expect("ok");
        assert!(flow.contains("x/*"), "{flow}");
        assert!(workspace_with("packages: 3\n", "x/*").is_err());
    }

    #[test]
    fn extra_packages_are_outside_the_closure() {
        let m = cipherbox_like();
        let before = m.model().expect("model");
        let extra = add_packages(&m.root, 3, 2_000).expect("written");
        assert_eq!(
            extra[2],
            Extra {
                dir: "xtask-bench-extra/pkg-003".into(),
                name: "xtask-bench-extra-003".into()
            }
        );
        let heavy = m.root.join("xtask-bench-extra/pkg-002/assets/heavy.bin");
        assert_eq!(std::fs::metadata(&heavy).expect("heavy").len(), 2_000);
        let after = m.model().expect("model");
        assert_eq!(
            after.workspace.packages.len(),
            before.workspace.packages.len() + 3
        );
        assert_eq!(after.closure, before.closure);
        assert!(after
            .stack
            .image
            .outside
            .contains(&"xtask-bench-extra/pkg-001".to_string()));
        let ign = crate::render::dockerfile::render_ignore(&after.stack.image);
        let ign = crate::parse::ignore::parse(&ign);
        assert!(ign.excluded("xtask-bench-extra/pkg-001/assets/heavy.bin"));
        // a second fixture is never written over the first
        assert!(add_packages(&m.root, 1, 10).is_err());
    }
}
