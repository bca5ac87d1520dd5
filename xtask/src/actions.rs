//! The GitHub Actions the generated workflow uses: ONE table of pins (full commit hash +
//! the release tag it was taken from). The workflow renders `uses: <repo>@<sha> # <tag>`
//! (the format Dependabot and zizmor read) from this table only.
//!
//! Update a pin with `cargo xtask config set actions.<key> "<40-hex sha> # <tag>"` (kept in
//! `infra/stack.toml` under `[actions]`), then `cargo xtask gen`. The defaults below are
//! the releases this xtask was tested with.

/// One pinned action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The config key under `[actions]`.
    pub key: &'static str,
    /// `owner/repo[/path]`.
    pub repo: &'static str,
    /// The full 40-hex commit hash.
    pub sha: String,
    /// The tag the hash was taken from (a comment in the workflow).
    pub tag: String,
}

impl Pin {
    /// `owner/repo@sha # tag`: the value of a step's `uses:`.
    pub fn uses(&self) -> String {
        format!("{}@{} # {}", self.repo, self.sha, self.tag)
    }

    /// The config value form: `sha # tag`.
    pub fn value(&self) -> String {
        format!("{} # {}", self.sha, self.tag)
    }
}

/// (key, repo, sha, tag): the defaults.
const DEFAULTS: &[(&str, &str, &str, &str)] = &[
    (
        "checkout",
        "actions/checkout",
        "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
        "v5.0.0",
    ),
    (
        "cache",
        "actions/cache",
        "0057852bfaa89a56745cba8c7296529d2fc39830",
        "v4.3.0",
    ),
    (
        "setup_buildx",
        "docker/setup-buildx-action",
        "e468171a9de216ec08956ac3ada2f0791b6bd435",
        "v3.11.1",
    ),
    (
        "login",
        "docker/login-action",
        "74a5d142397b4f367a81961eba4e8cd7edddf772",
        "v3.4.0",
    ),
    (
        "github_runtime",
        "crazy-max/ghaction-github-runtime",
        "04d248b84655b509d8c44dc1d6f990c879747487",
        "v4.0.0",
    ),
    (
        "upload_sarif",
        "github/codeql-action/upload-sarif",
        "ff0a06e83cb2de871e5a09832bc6a81e7276941f",
        "v3.28.18",
    ),
    (
        "upload_artifact",
        "actions/upload-artifact",
        "ea165f8d65b6e75b540449e92b4886f43607fa02",
        "v4.6.2",
    ),
];

/// The default pins, in table order.
pub fn defaults() -> Vec<Pin> {
    DEFAULTS
        .iter()
        .map(|(key, repo, sha, tag)| Pin {
            key,
            repo,
            sha: sha.to_string(),
            tag: tag.to_string(),
        })
        .collect()
}

/// The keys `[actions]` accepts.
pub fn keys() -> impl Iterator<Item = &'static str> {
    DEFAULTS.iter().map(|(k, _, _, _)| *k)
}

/// The repository a key pins.
pub fn repo_of(key: &str) -> Option<&'static str> {
    DEFAULTS
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|(_, r, ..)| *r)
}

/// Parses a config value `"<40-hex sha> # <tag>"` into (sha, tag).
pub fn parse_value(s: &str) -> Result<(String, String), String> {
    let (sha, tag) = s
        .split_once('#')
        .map(|(a, b)| (a.trim(), b.trim()))
        .ok_or_else(|| "must be \"<40-hex commit sha> # <tag>\", e.g. \"08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\"".to_string())?;
    if sha.len() != 40
        || !sha
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        return Err(format!(
            "{sha:?} is not a full commit hash (40 lowercase hex digits): a tag or a short hash can be moved"
        ));
    }
    if tag.is_empty()
        || !tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
    {
        return Err(format!(
            "the tag {tag:?} must be a release name like v5.0.0 (letters, digits, . - _ +)"
        ));
    }
    Ok((sha.to_string(), tag.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_full_hashes_with_tags() {
        for p in defaults() {
            let (sha, tag) = parse_value(&p.value()).expect("default parses");
            assert_eq!((sha, tag), (p.sha.clone(), p.tag.clone()));
            assert!(p.uses().starts_with(&format!("{}@", p.repo)));
        }
    }

    #[test]
    fn moving_refs_are_refused() {
        for bad in [
            "v5",
            "08c6903 # v5",
            "main # main",
            "08C6903CD8C0FDE910A37F88322EDCFB5DD907A8 # v5",
            "08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5 ; curl",
            "08c6903cd8c0fde910a37f88322edcfb5dd907a8 #",
        ] {
            assert!(parse_value(bad).is_err(), "{bad}");
        }
    }
}
