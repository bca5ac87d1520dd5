//! The monorepo's install layout settings: `node-linker`, `shamefully-hoist`,
//! `public-hoist-pattern`, `hoist-pattern` and `dedupe-peer-dependents`, from the root
//! `.npmrc` and `pnpm-workspace.yaml` (`nodeLinker`, ...; it wins over `.npmrc`, as in
//! pnpm 10). `.npmrc` can hold registry tokens: only these keys are read from it, no other
//! line is kept or shown.

use std::path::Path;

use anyhow::Result;

/// How pnpm lays `node_modules` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// pnpm's default: each project's `node_modules` links only its own dependencies into
    /// the virtual store; `--filter` installs the filtered projects' closure only.
    Isolated,
    /// npm-like flat `node_modules` (`node-linker=hoisted`, or `pnp`): pnpm lays out the
    /// whole lockfile, other projects' dependencies included, whatever `--filter` says.
    Hoisted,
}

/// One layout setting as the monorepo sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The `.npmrc` spelling (`node-linker`).
    pub key: &'static str,
    pub value: String,
    /// `.npmrc:3` or `pnpm-workspace.yaml`.
    pub source: String,
}

/// The layout settings the monorepo sets (none: pnpm's defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PnpmSettings {
    pub settings: Vec<Setting>,
}

/// (`.npmrc` key, `pnpm-workspace.yaml` key).
const KEYS: &[(&str, &str)] = &[
    ("node-linker", "nodeLinker"),
    ("shamefully-hoist", "shamefullyHoist"),
    ("public-hoist-pattern", "publicHoistPattern"),
    ("hoist-pattern", "hoistPattern"),
    ("dedupe-peer-dependents", "dedupePeerDependents"),
];

/// The layout keys of an `.npmrc` text: (key, value, line). Other lines are skipped unread.
fn from_npmrc(text: &str) -> Vec<(&'static str, String, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with(['#', ';']) {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        // `public-hoist-pattern[]=x` appends to a list
        let base = k.trim_end_matches("[]");
        if let Some((key, _)) = KEYS.iter().find(|(n, _)| *n == base) {
            let v = v.trim().trim_matches(['"', '\'']).to_string();
            out.push((*key, v, i + 1));
        }
    }
    out
}

impl PnpmSettings {
    /// Reads `<root>/.npmrc` (when it is a regular file) and the parsed `pnpm-workspace.yaml`.
    pub fn read(root: &Path, ws_yaml: &serde_yaml::Value) -> Result<PnpmSettings> {
        let mut settings = Vec::new();
        let npmrc = root.join(".npmrc");
        if npmrc.is_file() {
            let text = crate::files::read_input_in(root, &npmrc, crate::files::MAX_INPUT)?;
            for (key, value, line) in from_npmrc(&text) {
                let source = format!(".npmrc:{line}");
                // a list key repeated (`[]=`) joins its values
                match settings.iter_mut().find(|s: &&mut Setting| s.key == key) {
                    Some(s) if key.ends_with("pattern") => {
                        s.value = format!("{},{value}", s.value);
                    }
                    Some(s) => {
                        s.value = value;
                        s.source = source;
                    }
                    None => settings.push(Setting { key, value, source }),
                }
            }
        }
        for (key, yaml_key) in KEYS {
            let Some(v) = ws_yaml.get(*yaml_key) else {
                continue;
            };
            let value = match v {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                serde_yaml::Value::Sequence(items) => items
                    .iter()
                    .filter_map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                _ => continue,
            };
            let s = Setting {
                key,
                value,
                source: "pnpm-workspace.yaml".into(),
            };
            settings.retain(|o| o.key != *key);
            settings.push(s);
        }
        Ok(PnpmSettings { settings })
    }

    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }

    /// The layout an install honouring these settings makes.
    pub fn layout(&self) -> Layout {
        match self.get("node-linker").map(|s| s.value.as_str()) {
            Some("hoisted") | Some("pnp") => Layout::Hoisted,
            _ => Layout::Isolated,
        }
    }

    /// `node-linker=hoisted (.npmrc:1)`, or `None` when the layout is isolated.
    pub fn hoisting(&self) -> Option<String> {
        if self.layout() == Layout::Isolated {
            return None;
        }
        self.get("node-linker")
            .map(|s| format!("{}={} ({})", s.key, s.value, s.source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_layout_keys_are_read_from_npmrc() {
        let text = "//registry.npmjs.org/:_authToken=npm_SECRET\n; a comment\nnode-linker = hoisted\n\
                    public-hoist-pattern[]=*eslint*\npublic-hoist-pattern[]=*prettier*\nshamefully-hoist=true\n";
        let got = from_npmrc(text);
        assert!(!format!("{got:?}").contains("SECRET"), "{got:?}");
        assert_eq!(got[0], ("node-linker", "hoisted".to_string(), 3));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn the_workspace_file_wins_and_the_layout_follows_node_linker() {
        let dir = crate::tempdir::TempDir::new("settings").expect("tempdir");
        std::fs::write(
            dir.path().join(".npmrc"),
            "node-linker=hoisted\npublic-hoist-pattern[]=a\npublic-hoist-pattern[]=b\n",
        )
        .expect("write");
        let none = serde_yaml::Value::Null;
        let s = PnpmSettings::read(dir.path(), &none).expect("reads");
        assert_eq!(s.layout(), Layout::Hoisted);
        assert_eq!(
            s.hoisting().as_deref(),
            Some("node-linker=hoisted (.npmrc:1)")
        );
        assert_eq!(
            s.get("public-hoist-pattern").map(|s| s.value.as_str()),
            Some("a,b")
        );
        let yaml: serde_yaml::Value =
            serde_yaml::from_str("packages: [\"apps/*\"]\nnodeLinker: isolated\n").expect("yaml");
        let s = PnpmSettings::read(dir.path(), &yaml).expect("reads");
        assert_eq!(s.layout(), Layout::Isolated);
        assert_eq!(
            s.get("node-linker").map(|s| s.source.as_str()),
            Some("pnpm-workspace.yaml")
        );
        let yaml: serde_yaml::Value = serde_yaml::from_str("nodeLinker: hoisted\n").expect("yaml");
        let s = PnpmSettings::read(Path::new("/nonexistent"), &yaml).expect("reads");
        assert_eq!(s.layout(), Layout::Hoisted);
    }
}
