//! Rules on the API's env contract ([`crate::envcontract`]): every key it needs is set for the
//! api service; and, for an env file given to `verify --env-file`, every variable compose
//! requires is there and no secret is left at a placeholder. Messages name keys, never values.

use super::{ComposeDoc, Finding, Input, Out, Rule};
use crate::envcontract::{Contract, Key, Origin};
use crate::parse::yaml::Seg;
use crate::stack::COMPOSE as F;

pub const RULES: &[Rule] = &[Rule {
    id: "env/contract-set",
    file: F,
    rationale: "every key of the API's env contract (its .env.example + [api.env]) is set for the api service: an unset one crashes the API at boot",
    check: contract_set,
}];

/// Ids of the findings of `verify --env-file FILE`.
pub const ENV_FILE_IDS: &[(&str, &str)] = &[
    (
        "env/file-missing",
        "a variable docker-compose.staging.yml requires is missing from (or empty in) the env file given with --env-file; empty is allowed for a key the API's example leaves empty (`${NAME?…}`)",
    ),
    (
        "env/file-placeholder",
        "a secret in the env file given with --env-file is still a placeholder (change-me, example-…, empty)",
    ),
];

fn origin(k: &Key) -> String {
    match &k.origin {
        Origin::Example(file, line) => format!("{file}:{line}"),
        Origin::Config => "[api.env] in the config".into(),
    }
}

/// Contract keys compose must set for the API that the api service on disk does not.
pub fn missing_in_compose<'c>(contract: &'c Contract, compose: &ComposeDoc) -> Vec<&'c Key> {
    let env: std::collections::HashSet<String> = compose
        .environment("api")
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    contract
        .set_keys()
        .filter(|k| !env.contains(&k.name))
        .collect()
}

fn contract_set(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    if c.service("api").is_none() {
        return; // compose/services reports it
    }
    let at = if c
        .service("api")
        .and_then(|s| s.get("environment"))
        .is_some()
    {
        c.line(&[
            Seg::Key("services".into()),
            Seg::Key("api".into()),
            Seg::Key("environment".into()),
        ])
    } else {
        c.line(&[Seg::Key("services".into()), Seg::Key("api".into())])
    };
    for k in missing_in_compose(&i.model.stack.contract, c) {
        o.at(
            F,
            at,
            format!(
                "{} ({}, {}) is not set for the api service: the API needs it to boot; run `cargo xtask gen`",
                k.name,
                k.class.name(),
                origin(k)
            ),
        );
    }
}

/// Values that mean "not filled in yet".
pub fn is_placeholder(v: &str) -> bool {
    let l = v.trim().to_ascii_lowercase();
    l.is_empty()
        || matches!(
            l.as_str(),
            "change-me"
                | "changeme"
                | "change_me"
                | "todo"
                | "xxx"
                | "secret"
                | "password"
                | "replace-me"
                | "fixme"
        )
        || l.starts_with("example-")
        || l.starts_with("your-")
        || l.starts_with("your_")
        || (l.starts_with('<') && l.ends_with('>'))
}

/// `KEY=value` lines of a dotenv file: (key, value, line). Quotes are removed; `export` is
/// accepted.
pub fn parse_env_file(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        let k = k.trim().trim_start_matches("export ").trim();
        let v = v.trim();
        let v = if (v.starts_with('"') && v.ends_with('"') && v.len() >= 2)
            || (v.starts_with('\'') && v.ends_with('\'') && v.len() >= 2)
        {
            &v[1..v.len() - 1]
        } else {
            v.split(" #").next().unwrap_or(v).trim()
        };
        out.push((k.to_string(), v.to_string(), n + 1));
    }
    out
}

/// The findings on an env file meant for the stack (`label` names it in findings): every
/// `required` variable set and non-empty, no secret at a placeholder. Never echoes a value.
pub fn check_env_file(
    contract: &Contract,
    required: &[String],
    label: &str,
    text: &str,
) -> Vec<Finding> {
    let vars = parse_env_file(text);
    let mut out = Vec::new();
    for var in required {
        let set = vars.iter().rev().find(|(k, _, _)| k == var);
        let secret = contract.is_secret(var);
        match set {
            None => out.push(Finding {
                rule: "env/file-missing",
                file: label.to_string(),
                line: 1,
                message: format!(
                    "{var} is not set; docker-compose.staging.yml requires it{}",
                    if secret { " (a secret)" } else { "" }
                ),
            }),
            Some((_, v, line)) if secret && is_placeholder(v) => out.push(Finding {
                rule: "env/file-placeholder",
                file: label.to_string(),
                line: *line,
                message: format!(
                    "{var} is a secret left at a placeholder or empty; set a real random value (e.g. `openssl rand -hex 32`)"
                ),
            }),
            Some((_, v, line)) if v.is_empty() && !contract.key(var).is_some_and(Key::empty_ok) => out.push(Finding {
                rule: "env/file-missing",
                file: label.to_string(),
                line: *line,
                message: format!("{var} is empty; docker-compose.staging.yml requires a value"),
            }),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envcontract::{build, parse_example, Example, Offer};

    fn contract() -> Contract {
        let ex = Example {
            files: vec!["apps/api/.env.example".into()],
            keys: parse_example(
                "DB_PASSWORD=\nJWT_SECRET=\nWEB_URL=http://localhost:5173\nLOG_LEVEL=info\nDATABASE_CA=\n",
                "apps/api/.env.example",
            ),
        };
        let offer = Offer {
            api_port: 3000,
            postgres: true,
            redis: true,
            ipfs: false,
            tee_worker: None,
            web_domain: None,
            api_domains: Vec::new(),
        };
        build(&crate::config::Config::default(), &ex, &offer)
    }

    #[test]
    fn placeholders_and_missing_keys_are_named_never_their_values() {
        let c = contract();
        let required: Vec<String> = ["DB_PASSWORD", "JWT_SECRET", "WEB_URL", "DB_USERNAME"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text =
            "# staging\nDB_PASSWORD=change-me\nJWT_SECRET='s3cr3t-real-value-123'\nWEB_URL=\n";
        let f = check_env_file(&c, &required, ".env.staging", text);
        let got: Vec<(&str, usize, bool)> = f
            .iter()
            .map(|f| (f.rule, f.line, f.message.starts_with(&required[0][..0])))
            .collect();
        assert_eq!(
            got,
            vec![
                ("env/file-placeholder", 2, true),
                ("env/file-missing", 4, true),
                ("env/file-missing", 1, true)
            ]
        );
        assert!(f[0].message.starts_with("DB_PASSWORD "), "{}", f[0].message);
        assert!(f[1].message.starts_with("WEB_URL "), "{}", f[1].message);
        assert!(f[2].message.starts_with("DB_USERNAME "), "{}", f[2].message);
        for x in &f {
            assert!(!x.message.contains("change-me") && !x.message.contains("s3cr3t"));
        }
        let good = "DB_PASSWORD=9f8e7d\nJWT_SECRET=abc123def\nWEB_URL=https://app.example.com\nDB_USERNAME=app\n";
        assert!(check_env_file(&c, &required, "e", good).is_empty());
        // a key the API's example leaves empty must be set, and may be empty
        let ca = vec!["DATABASE_CA".to_string()];
        assert!(check_env_file(&c, &ca, "e", "DATABASE_CA=\n").is_empty());
        let f = check_env_file(&c, &ca, "e", "");
        assert_eq!(
            f.iter().map(|f| f.rule).collect::<Vec<_>>(),
            ["env/file-missing"]
        );
    }

    #[test]
    fn placeholder_values() {
        for p in [
            "",
            "change-me",
            "CHANGEME",
            "example-db-password",
            "<your token>",
            "your-secret",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for v in ["9f8e7d6c", "s3cr3t-real"] {
            assert!(!is_placeholder(v), "{v}");
        }
    }
}
