//! The secret files a developer has lying around, as one list: the ignore file excludes
//! them at any depth and in any letter case, the rule `ignore/secret-files` checks the
//! ignore file on disk keeps them out, and the smoke test (`image/no-secret-files`) scans a
//! built image's app directory for the same names. docs/verify.md lists them.

/// A secret name: a glob on one path component (lowercase; matched case-insensitively)
/// and whether it names a directory (everything below it is secret too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    pub glob: &'static str,
    pub dir: bool,
    pub what: &'static str,
}

const fn f(glob: &'static str, what: &'static str) -> Secret {
    Secret {
        glob,
        dir: false,
        what,
    }
}

const fn d(glob: &'static str, what: &'static str) -> Secret {
    Secret {
        glob,
        dir: true,
        what,
    }
}

/// Every secret name, in the order the ignore file lists them.
pub const SECRETS: &[Secret] = &[
    f(".env*", "dotenv files (.env, .env.local, .ENV, ...)"),
    f(".dev.vars", "Cloudflare Wrangler's local secrets"),
    f(
        ".npmrc*",
        "npm config with auth tokens, and its copies (.npmrc.bak)",
    ),
    f("npmrc", "an npmrc without its dot"),
    f(".yarnrc*", "yarn config (npmAuthToken in .yarnrc.yml)"),
    f(".netrc", "machine passwords for curl, git, ..."),
    f("_netrc", "the same, Windows spelling"),
    f(".pgpass", "PostgreSQL passwords"),
    f(".git-credentials", "git's stored credentials"),
    f(".htpasswd", "HTTP basic-auth password hashes"),
    f("credentials.json", "cloud and OAuth client credentials"),
    f("service-account*.json", "Google service-account keys"),
    f("*.tfvars", "Terraform variables (often secrets)"),
    f("*.tfstate", "Terraform state (holds secrets in clear)"),
    f("*.tfstate.*", "Terraform state backups"),
    f("id_rsa*", "SSH keys"),
    f("id_dsa*", "SSH keys"),
    f("id_ecdsa*", "SSH keys"),
    f("id_ed25519*", "SSH keys"),
    f("*.pem", "PEM keys and certificates"),
    f("*.key", "private keys"),
    f("*.p12", "PKCS#12 key stores"),
    f("*.pfx", "PKCS#12 key stores"),
    f("*.der", "DER keys and certificates"),
    f("*.jks", "Java key stores"),
    f("*.keystore", "key stores"),
    d(".ssh", "SSH keys and config"),
    d(".aws", "AWS credentials"),
    d(".docker", "registry logins (config.json)"),
    d(".gnupg", "GnuPG keys"),
    d(".secrets", "secret directories"),
    d("secrets", "secret directories"),
];

/// Matches one path component against a secret glob, ignoring case.
fn component_matches(glob: &str, name: &str) -> bool {
    crate::glob::matches(glob, &name.to_ascii_lowercase())
}

/// The secret a path is (or is under), if any: `apps/api/.SSH/id` → `.ssh`.
pub fn secret_of(path: &str) -> Option<&'static Secret> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Some(s) = SECRETS
            .iter()
            .find(|s| (s.dir || last) && component_matches(s.glob, part))
        {
            return Some(s);
        }
    }
    None
}

/// A glob that matches `glob` in any letter case, in the ignore file's syntax
/// (`.env*` → `.[eE][nN][vV]*`).
pub fn any_case(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        if c.is_ascii_alphabetic() {
            out.push('[');
            out.push(c.to_ascii_lowercase());
            out.push(c.to_ascii_uppercase());
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

/// The ignore-file lines that keep every secret out of the context, at any depth.
pub fn ignore_lines() -> Vec<String> {
    let mut v = Vec::new();
    for s in SECRETS {
        v.push(format!("**/{}", any_case(s.glob)));
        if s.dir {
            v.push(format!("**/{}/**", any_case(s.glob)));
        }
    }
    v
}

/// Example paths of every secret under `dir` (`""`: the root), at depth 0 and 2, in the
/// spellings people use: for the rule that checks an ignore file keeps them out.
pub fn samples(dir: &str) -> Vec<String> {
    let under = |p: &str| {
        if dir.is_empty() {
            p.to_string()
        } else {
            format!("{dir}/{p}")
        }
    };
    let mut v = Vec::new();
    for s in SECRETS {
        let name = s.glob.replace('*', "1");
        let leaf = if s.dir {
            format!("{name}/credentials")
        } else {
            name
        };
        v.push(under(&leaf));
        v.push(under(&format!("src/deep/{}", leaf.to_ascii_uppercase())));
    }
    v
}

/// The smoke test's scan, run as root in the image as `node -e`: prints a JSON list of every
/// path under `/app` (node_modules left out: it comes from the registry) whose name is a
/// secret, in any case. Built from [`SECRETS`].
pub fn scan_js() -> String {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for s in SECRETS {
        let re = glob_regex(s.glob);
        if s.dir {
            dirs.push(re);
        } else {
            files.push(re);
        }
    }
    format!(
        r#"const fs=require('fs'),path=require('path');
const F=/^(?:{})$/i,D=/^(?:{})$/i,bad=[];
function walk(d){{let es;try{{es=fs.readdirSync(d,{{withFileTypes:true}})}}catch(e){{return}}
for(const e of es){{const p=path.join(d,e.name);if(e.name==='node_modules')continue;
if(e.isDirectory()&&!e.isSymbolicLink()){{if(D.test(e.name))bad.push(p+'/');else if(bad.length<200)walk(p)}}
else if(F.test(e.name)||D.test(e.name))bad.push(p)}}}}
walk('/app');console.log(JSON.stringify(bad));"#,
        files.join("|"),
        dirs.join("|")
    )
}

/// A component glob as a JavaScript regular expression body.
fn glob_regex(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name the issue lists, and the spellings seen in real repositories.
    pub const NAMED: &[&str] = &[
        "id_ecdsa",
        "id_dsa",
        "id_rsa.pub",
        ".ssh/config",
        "server.PEM",
        "cert.p12",
        "cert.pfx",
        "cert.der",
        ".npmrc.bak",
        "npmrc",
        ".yarnrc.yml",
        ".netrc",
        ".pgpass",
        ".git-credentials",
        ".aws/credentials",
        ".docker/config.json",
        "credentials.json",
        "service-account.json",
        "terraform.tfvars",
        ".dev.vars",
        ".ENV",
        ".env.production",
        "secrets/db_password",
        "Secrets/x",
    ];

    #[test]
    fn every_named_secret_is_known_at_any_depth() {
        for n in NAMED {
            for p in [n.to_string(), format!("apps/api/src/deep/{n}")] {
                assert!(secret_of(&p).is_some(), "{p}");
            }
        }
        for ok in [
            "apps/api/src/main.ts",
            "package.json",
            "apps/api/src/secret.service.ts",
            "apps/api/src/keys.ts",
            "environment.ts",
        ] {
            assert_eq!(secret_of(ok), None, "{ok}");
        }
    }

    #[test]
    fn the_ignore_lines_exclude_every_named_secret_in_any_case() {
        let mut text = String::from("*\n!apps/api\n");
        for l in ignore_lines() {
            text.push_str(&l);
            text.push('\n');
        }
        let ign = crate::parse::ignore::parse(&text);
        for n in NAMED {
            for p in [
                format!("apps/api/{n}"),
                format!("apps/api/src/a/b/{n}"),
                format!("apps/api/{}", n.to_ascii_uppercase()),
            ] {
                assert!(ign.excluded(&p), "{p} would enter the context");
            }
        }
        assert!(!ign.excluded("apps/api/src/main.ts"));
        for s in samples("apps/api") {
            assert!(ign.excluded(&s), "sample {s}");
            assert!(secret_of(&s).is_some(), "sample {s} is a secret");
        }
    }

    /// The scan's regular expressions, run by node when it is installed (CI has it).
    #[test]
    fn the_scan_names_every_secret_and_nothing_else() {
        let Ok(node) = which::which("node") else {
            eprintln!("node not on PATH: the image's smoke test runs this scan");
            return;
        };
        let d = std::env::temp_dir().join(format!("xtask-scan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let app = d.join("app");
        for n in NAMED {
            let p = app.join("apps/api").join(n);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, "x").expect("plant");
        }
        std::fs::create_dir_all(app.join("apps/api/src")).expect("mkdir");
        std::fs::write(app.join("apps/api/src/main.js"), "x").expect("write");
        std::fs::create_dir_all(app.join("node_modules/x")).expect("mkdir");
        std::fs::write(app.join("node_modules/x/test.pem"), "x").expect("write");
        let js = scan_js().replace(
            "walk('/app')",
            &format!("walk({:?})", app.display().to_string()),
        );
        let out = std::process::Command::new(node)
            .args(["-e", &js])
            .output()
            .expect("node");
        let list: Vec<String> =
            serde_json::from_slice(&out.stdout).expect("the scan prints a JSON list");
        let _ = std::fs::remove_dir_all(&d);
        for n in NAMED {
            let top = n.split('/').next().unwrap_or(n);
            assert!(
                list.iter().any(|p| p.contains(&format!("/apps/api/{top}"))),
                "{n} not found in {list:?}"
            );
        }
        assert!(
            !list
                .iter()
                .any(|p| p.contains("node_modules") || p.ends_with("main.js")),
            "{list:?}"
        );
    }
}
