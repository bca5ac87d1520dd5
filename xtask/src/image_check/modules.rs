//! What the image's `node_modules` hold, judged against the lockfile's production closure
//! of the API ([`crate::workspace::ProdClosure`]): `image/no-dev-deps` (a package the API's
//! install brought in that it does not need at run time: a devDependency, an optional peer
//! pnpm resolved; named with its chain, size and fix) and `image/closure` (a package outside
//! the API's closure altogether, e.g. another app's through a hoisted install).

use crate::image_check::programs::last_json_line;
use serde::Deserialize;

use super::{CheckResult, Expect};
use crate::units::human_size;
use crate::workspace::Verdict;

/// Run as root as `node -e MODULES_JS`: every package directory (a real directory with a
/// `package.json` naming it and its version) under any `node_modules` below `/app`, pnpm's
/// virtual store included, symbolic links not followed; its size is the bytes of its files
/// (its own `node_modules` not counted). Prints one JSON array of `{n, v, p, b}`.
pub const MODULES_JS: &str = r#"const fs=require('fs'),path=require('path');const out=[];
function ls(d){try{return fs.readdirSync(d,{withFileTypes:true})}catch(e){return []}}
function size(d){let t=0;for(const e of ls(d)){const p=path.join(d,e.name);if(e.isSymbolicLink())continue;
if(e.isDirectory()){if(e.name!=='node_modules')t+=size(p)}else{try{t+=fs.lstatSync(p).size}catch(e){}}}return t}
function pkg(d){let j;try{j=JSON.parse(fs.readFileSync(path.join(d,'package.json'),'utf8'))}catch(e){return}
if(j&&typeof j.name==='string'&&typeof j.version==='string')out.push({n:j.name,v:j.version,p:d,b:size(d)});
modules(path.join(d,'node_modules'))}
function modules(nm){for(const e of ls(nm)){const p=path.join(nm,e.name);if(e.isSymbolicLink()||!e.isDirectory()||e.name==='.bin')continue;
if(e.name==='.pnpm'){for(const s of ls(p)){if(s.isSymbolicLink()||!s.isDirectory())continue;
if(s.name==='node_modules')modules(path.join(p,s.name));else modules(path.join(p,s.name,'node_modules'))}}
else if(e.name.startsWith('@')){for(const s of ls(p)){if(!s.isSymbolicLink()&&s.isDirectory())pkg(path.join(p,s.name))}}
else pkg(p)}}
function walk(d,depth){if(depth>8)return;for(const e of ls(d)){if(e.isSymbolicLink()||!e.isDirectory()||e.name.startsWith('.'))continue;
const p=path.join(d,e.name);if(e.name==='node_modules')modules(p);else walk(p,depth+1)}}
walk('/app',0);console.log(JSON.stringify(out));"#;

/// One package directory [`MODULES_JS`] found.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Found {
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "v")]
    pub version: String,
    #[serde(rename = "p")]
    pub path: String,
    #[serde(rename = "b")]
    pub bytes: u64,
}

/// The same package found in several places (a hoisted layout nests copies): one entry,
/// the sizes summed, the first path kept.
fn merged(found: Vec<Found>) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    for f in found {
        match out
            .iter_mut()
            .find(|o| o.name == f.name && o.version == f.version)
        {
            Some(o) => o.bytes += f.bytes,
            None => out.push(f),
        }
    }
    out
}

fn total(list: &[(Found, String)]) -> u64 {
    list.iter().map(|(f, _)| f.bytes).sum()
}

fn listed(list: &[(Found, String)], limit: usize) -> String {
    let mut s: Vec<String> = list
        .iter()
        .take(limit)
        .map(|(f, why)| {
            format!(
                "{}@{} ({}, {}){why}",
                f.name,
                f.version,
                human_size(f.bytes),
                f.path
            )
        })
        .collect();
    if list.len() > limit {
        s.push(format!("and {} more", list.len() - limit));
    }
    s.join("; ")
}

/// What [`MODULES_JS`] printed → `image/no-dev-deps` and `image/closure`.
pub fn parse_modules(
    code: Option<i32>,
    stdout: &str,
    stderr: &str,
    e: &Expect,
) -> Vec<CheckResult> {
    const DEV: &str = "image/no-dev-deps";
    const OUT: &str = "image/closure";
    let parsed: Option<Vec<Found>> = last_json_line(code, stdout);
    let fail_both = |d: String| vec![CheckResult::fail(DEV, d.clone()), CheckResult::fail(OUT, d)];
    let Some(found) = parsed else {
        return fail_both(format!(
            "the node_modules listing exited {code:?}: {}",
            crate::values::shown(stderr.trim())
        ));
    };
    let closure = match &e.closure {
        Ok(c) => c,
        Err(m) => return fail_both(format!("the lockfile's production closure is unknown: {m}")),
    };
    let found = merged(found);
    let (mut needed, mut dev, mut outside) = (0usize, Vec::new(), Vec::new());
    for f in found {
        if e.workspace_names.contains(&f.name) {
            continue;
        }
        match closure.judge(&f.name, &f.version) {
            Verdict::Needed => needed += 1,
            Verdict::NotNeeded { chain, fix } => {
                dev.push((f, format!(": {chain}; fix: {fix}")));
            }
            Verdict::Outside { importer } => {
                let why = match importer {
                    Some(i) => format!(" from {i}'s dependencies"),
                    None => " (in no importer's closure)".into(),
                };
                outside.push((f, why));
            }
        }
    }
    // the largest first: what to fix first
    dev.sort_by_key(|d| std::cmp::Reverse(d.0.bytes));
    outside.sort_by_key(|d| std::cmp::Reverse(d.0.bytes));
    let dev = if dev.is_empty() {
        CheckResult::pass(
            DEV,
            format!(
                "the {needed} installed package(s) are all in the API's production closure (the lockfile's \
                 dependencies, optional dependencies and required peers from {})",
                closure.api
            ),
        )
    } else {
        CheckResult::fail(
            DEV,
            format!(
                "{} package(s), {}, installed that the API does not need at run time: {}",
                dev.len(),
                human_size(total(&dev)),
                listed(&dev, 8)
            ),
        )
    };
    let out = if outside.is_empty() {
        CheckResult::pass(
            OUT,
            format!(
                "node_modules hold nothing outside {}'s closure",
                closure.api
            ),
        )
    } else {
        let what = format!(
            "{} package(s), {}, outside {}'s production closure: {}",
            outside.len(),
            human_size(total(&outside)),
            closure.api,
            listed(&outside, 12)
        );
        match &e.hoisted {
            Some(setting) => CheckResult::pass(
                OUT,
                format!("api.hoist = true keeps {setting}; what it costs: {what}"),
            ),
            None => CheckResult::fail(
                OUT,
                format!(
                    "{what}. A hoisted install lays out every project's dependencies: `cargo xtask gen` writes \
                     the install with {} (`dockerfile/isolated-install`)",
                    crate::stack::ISOLATED_FLAG
                ),
            ),
        }
    };
    vec![dev, out]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::Lockfile;

    const LOCK: &str = "\
lockfileVersion: '9.0'
importers:
  apps/api:
    dependencies:
      typeorm:
        specifier: ^0.3.20
        version: 0.3.20(ts-node@10.9.2)
    devDependencies:
      ts-node:
        specifier: ^10.9.2
        version: 10.9.2
  apps/site:
    dependencies:
      lodash:
        specifier: ^4
        version: 4.18.1
packages:
  typeorm@0.3.20:
    resolution: {integrity: sha512-x}
    peerDependencies:
      ts-node: ^10
    peerDependenciesMeta:
      ts-node:
        optional: true
snapshots:
  lodash@4.18.1: {}
  ts-node@10.9.2: {}
  typeorm@0.3.20(ts-node@10.9.2):
    optionalDependencies:
      ts-node: 10.9.2
";

    fn expect(hoisted: Option<&str>) -> Expect {
        let mut e = super::super::tests::e();
        e.closure = Ok(Lockfile::parse(LOCK)
            .expect("lock")
            .prod_closure("apps/api"));
        e.workspace_names = vec!["@x/api".into()];
        e.hoisted = hoisted.map(str::to_string);
        e
    }

    fn listing(items: &[(&str, &str, u64)]) -> String {
        let v: Vec<serde_json::Value> = items
            .iter()
            .map(|(n, v, b)| serde_json::json!({"n": n, "v": v, "p": format!("/app/node_modules/{n}"), "b": b}))
            .collect();
        serde_json::to_string(&v).expect("json")
    }

    #[test]
    fn needed_packages_pass_both_checks() {
        let out = listing(&[("typeorm", "0.3.20", 1000), ("@x/api", "0.1.0", 5)]);
        let r = parse_modules(Some(0), &out, "", &expect(None));
        assert!(r.iter().all(|c| c.ok), "{r:?}");
        assert!(
            r[0].detail.contains("the 1 installed package(s)"),
            "{}",
            r[0].detail
        );
    }

    #[test]
    fn an_optional_peer_and_another_apps_package_fail_with_chain_size_and_fix() {
        let out = listing(&[
            ("typeorm", "0.3.20", 1000),
            ("ts-node", "10.9.2", 3_000_000),
            ("lodash", "4.18.1", 1_400_000),
            ("lodash", "4.18.1", 100_000),
        ]);
        let r = parse_modules(Some(0), &out, "", &expect(None));
        assert_eq!((r[0].id, r[0].ok), ("image/no-dev-deps", false));
        let d = &r[0].detail;
        assert!(d.contains("ts-node@10.9.2 (3.0 MB"), "{d}");
        assert!(
            d.contains("apps/api → typeorm@0.3.20 → ts-node@10.9.2 (optional peer)"),
            "{d}"
        );
        assert!(
            d.contains("delete typeorm's peerDependencies[\"ts-node\"]"),
            "{d}"
        );
        assert_eq!((r[1].id, r[1].ok), ("image/closure", false));
        let d = &r[1].detail;
        assert!(d.contains("1 package(s), 1.5 MB"), "{d}");
        assert!(
            d.contains(
                "lodash@4.18.1 (1.5 MB, /app/node_modules/lodash) from apps/site's dependencies"
            ),
            "{d}"
        );
        assert!(d.contains("--config.node-linker=isolated"), "{d}");
        // kept on purpose: the cost is said, the check passes
        let r = parse_modules(
            Some(0),
            &out,
            "",
            &expect(Some("node-linker=hoisted (.npmrc:1)")),
        );
        assert!(
            r[1].ok && r[1].detail.contains("what it costs"),
            "{}",
            r[1].detail
        );
        assert!(!r[0].ok);
    }

    #[test]
    fn a_failed_listing_or_an_unknown_closure_fails_both() {
        let r = parse_modules(Some(1), "", "boom", &expect(None));
        assert!(r.iter().all(|c| !c.ok), "{r:?}");
        let mut e = expect(None);
        e.closure = Err("no lockfile".into());
        let r = parse_modules(Some(0), "[]", "", &e);
        assert!(
            r.iter().all(|c| !c.ok && c.detail.contains("no lockfile")),
            "{r:?}"
        );
    }
}
