//! `[api.generate]` (code generators the image runs after the install, before the first
//! package build) and `api.runtime_files` (generated or runtime files the runtime image
//! carries besides the packages' build outputs).

use toml_edit::Item;

use super::Config;
use crate::values;

/// One code generator: run in the build stage, in the workspace package at `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generate {
    /// The package's directory, relative to the monorepo root.
    pub dir: String,
    pub run: GenerateRun,
}

/// How a generator runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerateRun {
    /// A script of the package (`"db:generate"`), run by `pnpm --filter <name> run`.
    Script(String),
    /// A command (`["prisma", "generate", "--schema", "prisma/schema.prisma"]`), run by
    /// `pnpm exec` in the package's directory (its dependencies' binaries on the PATH).
    Command(Vec<String>),
}

impl GenerateRun {
    /// As the user would type it (`pnpm run db:generate`, `prisma generate`).
    pub fn shown(&self) -> String {
        match self {
            GenerateRun::Script(s) => format!("pnpm run {s}"),
            GenerateRun::Command(w) => w.join(" "),
        }
    }
}

/// A package script's name: what `pnpm run` takes (letters, digits and `: . _ -`).
pub fn is_script_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":._-".contains(c))
        && !s.starts_with('-')
}

/// `[api.generate] "<package dir>" = "<script>"` or `= ["command", "args"…]`.
pub(super) fn apply_generate(c: &mut Config, dir: &str, item: &Item) -> Result<(), String> {
    let key = format!("api.generate.\"{dir}\"");
    values::rel_path(dir).map_err(|m| {
        format!("`{key}`: {m}; the key is the directory of the package that owns the generator")
    })?;
    let run = if let Some(s) = item.as_str() {
        if !is_script_name(s) {
            return Err(format!(
                "`{key}` = {}: not a script name (letters, digits and : . _ -); give a command as an array, e.g. [\"prisma\", \"generate\"]",
                values::shown(s)
            ));
        }
        GenerateRun::Script(s.to_string())
    } else if let Some(arr) = item.as_array() {
        let mut words = Vec::new();
        for v in arr.iter() {
            let s = v
                .as_str()
                .ok_or_else(|| format!("`{key}` must contain only strings"))?;
            if s.is_empty() || s.contains(['\n', '\r', '\0']) {
                return Err(format!(
                    "`{key}`: every word must be non-empty, on one line"
                ));
            }
            words.push(s.to_string());
        }
        if words.is_empty() {
            return Err(format!(
                "`{key}` must not be empty (remove the key for none)"
            ));
        }
        GenerateRun::Command(words)
    } else {
        return Err(format!(
            "`{key}` must be a script name (\"db:generate\") or a command ([\"prisma\", \"generate\"])"
        ));
    };
    let dir = dir
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    c.api.generate.retain(|g| g.dir != dir);
    c.api.generate.push(Generate { dir, run });
    Ok(())
}

/// `api.runtime_files`: paths relative to the monorepo root, no globs.
pub(super) fn apply_runtime_files(c: &mut Config, item: &Item, full: &str) -> Result<(), String> {
    let arr = item.as_array().ok_or_else(|| {
        format!("`{full}` must be an array of paths, e.g. [\"packages/db/prisma/migrations\"]")
    })?;
    let mut out: Vec<String> = Vec::new();
    for v in arr.iter() {
        let s = v
            .as_str()
            .ok_or_else(|| format!("`{full}` must contain only strings"))?;
        values::rel_path(s)
            .map_err(|m| format!("`{full}`: {m}; each is a path relative to the monorepo root"))?;
        let p = s.trim_start_matches("./").trim_end_matches('/').to_string();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    c.api.runtime_files = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{get_value, parse, set_value, TEMPLATE};
    use super::*;

    #[test]
    fn generate_takes_a_script_or_a_command_per_package() {
        let c = parse(
            "[api]\nruntime_files = [\"packages/db/node_modules/.quill/client\", \"./packages/db/migrations/\"]\n\n[api.generate]\n\"packages/db\" = \"db:generate\"\n\"packages/orm\" = [\"prisma\", \"generate\", \"--schema\", \"prisma/schema.prisma\"]\n",
            "c.toml",
        )
        .expect("parses");
        assert_eq!(
            c.api.generate,
            [
                Generate {
                    dir: "packages/db".into(),
                    run: GenerateRun::Script("db:generate".into())
                },
                Generate {
                    dir: "packages/orm".into(),
                    run: GenerateRun::Command(
                        ["prisma", "generate", "--schema", "prisma/schema.prisma"]
                            .map(String::from)
                            .to_vec()
                    )
                }
            ]
        );
        assert_eq!(
            c.api.runtime_files,
            [
                "packages/db/node_modules/.quill/client",
                "packages/db/migrations"
            ]
        );
        for (text, want) in [
            (
                "[api.generate]\n\"../x\" = \"gen\"\n",
                "leaves its directory",
            ),
            (
                "[api.generate]\n\"db\" = \"gen; rm -rf /\"\n",
                "not a script name",
            ),
            ("[api.generate]\n\"db\" = []\n", "must not be empty"),
            ("[api.generate]\n\"db\" = 3\n", "must be a script name"),
            ("[api]\nruntime_files = [\"/abs\"]\n", "is absolute"),
            ("[api]\nruntime_files = \"x\"\n", "must be an array"),
        ] {
            let e = format!("{:#}", parse(text, "c.toml").expect_err(text));
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn config_set_and_get_generate_and_runtime_files() {
        let t = set_value(TEMPLATE, "api.generate.packages/db", "db:generate", "c").expect("set");
        let t = set_value(
            &t,
            "api.generate.packages/orm",
            "[\"prisma\", \"generate\"]",
            "c",
        )
        .expect("set command");
        let t = set_value(
            &t,
            "api.runtime_files",
            "packages/db/migrations, packages/db/node_modules/.quill/client",
            "c",
        )
        .expect("set files");
        let c = parse(&t, "c").expect("parses");
        assert_eq!(c.api.generate.len(), 2, "{t}");
        assert_eq!(
            get_value(&c, "api.generate.packages/db").expect("get"),
            "\"db:generate\""
        );
        assert_eq!(
            get_value(&c, "api.generate.packages/orm").expect("get"),
            "[\"prisma\", \"generate\"]"
        );
        assert_eq!(
            get_value(&c, "api.generate.packages/none").expect("get"),
            "(unset)"
        );
        assert_eq!(c.api.runtime_files.len(), 2);
        assert!(set_value(TEMPLATE, "api.generate.packages/db", "a b", "c").is_err());
        assert!(set_value(TEMPLATE, "api.runtime_files", "../x", "c").is_err());
    }
}
