//! `[image]`: the API image's size budget (`build-image`, verify's image stage).

use toml_edit::Item;

use crate::units::{human_size, parse_size};

/// The layer groups a budget can be given for (`budget_<group>`), as `image_size` names them.
pub const GROUPS: &[&str] = &["base", "dependencies", "app", "generated", "other"];

/// The default budget, 500 MB: a Node alpine base (~130-160 MB) plus a server's production
/// dependencies (typically 50-250 MB) and an ORM's engines fit; a hoisted install of a whole
/// workspace's dependencies (the 1 GB images this guards against) does not.
pub const DEFAULT_BUDGET: u64 = 500_000_000;

/// `[image]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// `budget`: the largest the image may be, in bytes.
    pub budget: u64,
    /// `budget_<group>`: a group's own limit, in bytes (group names from [`GROUPS`]).
    pub group_budgets: Vec<(&'static str, u64)>,
    /// `budget_fails`: over budget fails build-image and verify (default: a warning).
    pub budget_fails: bool,
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            budget: DEFAULT_BUDGET,
            group_budgets: Vec::new(),
            budget_fails: false,
        }
    }
}

/// The group a `budget_<group>` key names.
fn group_of(key: &str) -> Option<&'static str> {
    let g = key.strip_prefix("budget_")?;
    GROUPS.iter().find(|n| **n == g).copied()
}

/// The keys of `[image]`, for the schema's messages.
pub fn is_key(key: &str) -> bool {
    key == "budget" || key == "budget_fails" || group_of(key).is_some()
}

/// One `[image]` key into the config.
pub fn apply(c: &mut ImageConfig, key: &str, item: &Item) -> Result<(), String> {
    let full = format!("image.{key}");
    if key == "budget_fails" {
        c.budget_fails = item
            .as_bool()
            .ok_or_else(|| format!("`{full}` must be true or false"))?;
        return Ok(());
    }
    let s = item
        .as_str()
        .ok_or_else(|| format!("`{full}` must be a string like \"400 MB\""))?;
    let bytes = parse_size(s).map_err(|m| format!("`{full}` = {m}"))?;
    if key == "budget" {
        c.budget = bytes;
        return Ok(());
    }
    let g = group_of(key).ok_or_else(|| format!("internal: no slot for `{full}`"))?;
    c.group_budgets.retain(|(n, _)| *n != g);
    c.group_budgets.push((g, bytes));
    Ok(())
}

/// `config get image.<key>`.
pub fn get(c: &ImageConfig, key: &str) -> Option<String> {
    if key == "budget" {
        return Some(format!("{:?}", human_size(c.budget)));
    }
    if key == "budget_fails" {
        return Some(c.budget_fails.to_string());
    }
    let g = group_of(key)?;
    Some(
        c.group_budgets
            .iter()
            .find(|(n, _)| *n == g)
            .map(|(_, b)| format!("{:?}", human_size(*b)))
            .unwrap_or_else(|| "(unset: no limit of its own)".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{get_value, parse, set_value, TEMPLATE};

    #[test]
    fn the_budget_is_a_size_and_config_set_takes_it() {
        let c = parse(TEMPLATE, "t").expect("template");
        assert_eq!(c.image.budget, 500_000_000);
        let text = set_value(TEMPLATE, "image.budget", "10 MB", "t").expect("set");
        let c = parse(&text, "t").expect("parses");
        assert_eq!(c.image.budget, 10_000_000);
        assert_eq!(get_value(&c, "image.budget").expect("get"), "\"10.0 MB\"");
        let text = set_value(&text, "image.budget_dependencies", "300MiB", "t").expect("set");
        let text = set_value(&text, "image.budget_fails", "true", "t").expect("set");
        let c = parse(&text, "t").expect("parses");
        assert_eq!(c.image.group_budgets, vec![("dependencies", 300 << 20)]);
        assert!(c.image.budget_fails);
        assert_eq!(
            get_value(&c, "image.budget_app").expect("get"),
            "(unset: no limit of its own)"
        );
        for (key, bad, says) in [
            (
                "image.budget",
                "ten MB",
                "`image.budget` = \"ten MB\" is not a size like \"400 MB\"",
            ),
            (
                "image.budget",
                "0",
                "`image.budget` = \"0\" must be above zero",
            ),
            ("image.budget", "400 XB", "unknown unit \"XB\""),
            (
                "image.budget_app",
                "-1 MB",
                "`image.budget_app` = \"-1 MB\" is not a size",
            ),
        ] {
            let e = format!("{:#}", set_value(TEMPLATE, key, bad, "t").unwrap_err());
            assert!(e.contains(says), "{key} {bad}: {e}");
        }
        let e = set_value(TEMPLATE, "image.budget_fails", "maybe", "t").unwrap_err();
        assert!(format!("{e:#}").contains("true or false"), "{e:#}");
        let e = parse("[image]\nbudget_deps = \"1 MB\"\n", "t").unwrap_err();
        assert!(
            e.to_string().contains("unknown key `image.budget_deps`"),
            "{e}"
        );
        let e = parse("[image]\nbudget = 400\n", "t").unwrap_err();
        assert!(
            e.to_string()
                .contains("`image.budget` must be a string like \"400 MB\""),
            "{e}"
        );
    }
}
