//! The small Node programs run inside the image (entry present, runtime dependencies
//! resolved, no source or secret file) and the parsers of what they print; what the
//! node_modules hold is [`super::modules`]'.

use serde_json::Value as Json;

use super::{CheckResult, Expect};

/// Run as `node -e ENTRY_JS <entry>` in the API's directory: exit 0 when the entry file
/// exists, else exit 3 printing (JSON) the JS files under the entry's top directory.
pub const ENTRY_JS: &str = r#"const fs=require('fs'),path=require('path');const entry=process.argv[1];
if(fs.existsSync(entry)&&fs.statSync(entry).isFile()){console.log('ENTRY-OK');process.exit(0)}
const top=entry.split('/')[0]||'.';const out=[];
function walk(d,depth){if(depth>8||out.length>=200)return;let es;try{es=fs.readdirSync(d,{withFileTypes:true})}catch(e){return}
for(const e of es.sort((a,b)=>a.name<b.name?-1:1)){const p=path.join(d,e.name);if(e.isDirectory()){if(e.name!=='node_modules')walk(p,depth+1)}else if(/\.(c|m)?js$/.test(e.name))out.push(p)}}
walk(top,0);console.log(JSON.stringify(out));process.exit(3)"#;

/// The entry check: `api.entry` exists in the image; if not, the JS files the build produced,
/// and which of them is likely meant.
pub fn parse_entry(code: Option<i32>, stdout: &str, stderr: &str, entry: &str) -> CheckResult {
    const ID: &str = "image/entry";
    if code == Some(0) && stdout.contains("ENTRY-OK") {
        return CheckResult::pass(ID, format!("{entry} is in the image"));
    }
    if code != Some(3) {
        return CheckResult::fail(
            ID,
            format!(
                "could not look for {entry} in the image (exit {code:?}): {}",
                stderr.trim().chars().take(300).collect::<String>()
            ),
        );
    }
    let files: Vec<String> = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Vec<String>>(l.trim()).ok())
        .unwrap_or_default();
    let top = entry.split('/').next().unwrap_or(entry);
    if files.is_empty() {
        return CheckResult::fail(
            ID,
            format!(
                "api.entry = {entry:?} is not in the image, and the build produced no JS file under {top}/: \
                 check the API's build script and its output directory"
            ),
        );
    }
    let base = entry.rsplit('/').next().unwrap_or(entry);
    let likely = files
        .iter()
        .filter(|f| f.rsplit('/').next() == Some(base))
        .min_by_key(|f| f.len());
    let shown: Vec<&str> = files.iter().take(12).map(String::as_str).collect();
    let more = if files.len() > shown.len() {
        format!(" (and {} more)", files.len() - shown.len())
    } else {
        String::new()
    };
    let fix = match likely {
        Some(f) => format!(
            "; the entry is probably {f}: `cargo xtask config set api.entry {f}`, then `cargo xtask gen`"
        ),
        None => "; set api.entry to the built entry point (`cargo xtask config set api.entry …`, then `cargo xtask gen`)".into(),
    };
    CheckResult::fail(
        ID,
        format!(
            "api.entry = {entry:?} is not in the image; the build produced {}{more}{fix}",
            shown.join(", ")
        ),
    )
}

/// Run as `node -e PROBE_JS '<json>'` in the API's directory: resolves the runtime
/// dependencies and looks for the runtime files (`api.runtime_files`).
pub const PROBE_JS: &str = r#"const q=JSON.parse(process.argv[1]);const r={resolve:{},files:{}};
for(const n of q.resolve){try{r.resolve[n]=require.resolve(n)}catch(e1){try{r.resolve[n]=require.resolve(n+'/package.json')}catch(e2){r.resolve[n]=null}}}
for(const f of q.files||[]){r.files[f]=require('fs').existsSync(f)}
console.log(JSON.stringify(r));"#;

/// The argument of [`PROBE_JS`].
pub fn probe_input(e: &Expect) -> String {
    serde_json::json!({"resolve": e.runtime_deps, "files": e.runtime_files}).to_string()
}

/// What [`PROBE_JS`] printed → `image/runtime-deps`.
pub fn parse_probe(code: Option<i32>, stdout: &str, stderr: &str, e: &Expect) -> CheckResult {
    let parsed: Option<Json> = last_json_line(code, stdout);
    let Some(v) = parsed else {
        return CheckResult::fail(
            "image/runtime-deps",
            format!("the probe exited {code:?}: {}", stderr.trim()),
        );
    };
    let mut missing = Vec::new();
    for n in &e.runtime_deps {
        if v.get("resolve")
            .and_then(|r| r.get(n))
            .and_then(Json::as_str)
            .is_none()
        {
            missing.push(n.clone());
        }
    }
    let gone: Vec<&str> = e
        .runtime_files
        .iter()
        .filter(|f| {
            v.get("files")
                .and_then(|r| r.get(f.as_str()))
                .and_then(Json::as_bool)
                != Some(true)
        })
        .map(String::as_str)
        .collect();
    if !gone.is_empty() {
        return CheckResult::fail(
            "image/runtime-deps",
            format!(
                "runtime files (api.runtime_files) missing from the image: {}; a generator that \
                 did not run ([api.generate]) or wrote elsewhere",
                gone.join(", ")
            ),
        );
    }
    let deps = if missing.is_empty() {
        CheckResult::pass(
            "image/runtime-deps",
            format!(
                "{} runtime dependenc{} resolve from {}: {}",
                e.runtime_deps.len(),
                if e.runtime_deps.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                e.workdir,
                e.runtime_deps.join(", ")
            ) + &if e.runtime_files.is_empty() {
                String::new()
            } else {
                format!("; runtime files present: {}", e.runtime_files.join(", "))
            },
        )
    } else {
        CheckResult::fail(
            "image/runtime-deps",
            format!(
                "cannot require.resolve from {}: {}",
                e.workdir,
                missing.join(", ")
            ),
        )
    };
    deps
}

/// Run as root as `node -e SCAN_JS`: every `.env*`, `.git` and TypeScript source (not
/// `.d.ts`) outside `node_modules` (whose contents come from the registry, not the repo).
pub const SCAN_JS: &str = r#"const fs=require('fs'),path=require('path');
const bad=[];const skip=new Set(['/proc','/sys','/dev']);
function walk(d){let es;try{es=fs.readdirSync(d,{withFileTypes:true})}catch(e){return}
for(const e of es){const p=path.join(d,e.name);if(skip.has(p)||e.name==='node_modules')continue;
if(e.name.startsWith('.env')||e.name==='.git')bad.push(p);
else if(!e.isDirectory()&&/\.(tsx|[cm]?ts)$/.test(e.name)&&!/\.d\.[cm]?ts$/.test(e.name))bad.push(p);
if(e.isDirectory()&&!e.isSymbolicLink()&&bad.length<200)walk(p)}}
walk('/');console.log(JSON.stringify(bad));"#;

/// What [`SCAN_JS`] printed → `image/no-source-files`.
pub fn parse_scan(code: Option<i32>, stdout: &str, stderr: &str) -> CheckResult {
    let list: Option<Vec<String>> = last_json_line(code, stdout);
    match list {
        None => CheckResult::fail(
            "image/no-source-files",
            format!("the scan exited {code:?}: {}", stderr.trim()),
        ),
        Some(l) if l.is_empty() => CheckResult::pass(
            "image/no-source-files",
            "no .env*, .git or .ts source outside node_modules",
        ),
        Some(l) => {
            let shown: Vec<&str> = l.iter().take(15).map(String::as_str).collect();
            CheckResult::fail(
                "image/no-source-files",
                format!(
                    "{} forbidden file(s) in the image: {}{}",
                    l.len(),
                    shown.join(", "),
                    if l.len() > 15 { ", ..." } else { "" }
                ),
            )
        }
    }
}

/// What [`crate::secrets::scan_js`] printed → `image/no-secret-files`, naming each hit.
pub fn parse_secret_scan(code: Option<i32>, stdout: &str, stderr: &str) -> CheckResult {
    const ID: &str = "image/no-secret-files";
    let list: Option<Vec<String>> = last_json_line(code, stdout);
    match list {
        None => CheckResult::fail(
            ID,
            format!(
                "the secret scan exited {code:?}: {}",
                crate::values::shown(stderr.trim())
            ),
        ),
        Some(l) if l.is_empty() => CheckResult::pass(
            ID,
            "no secret file (keys, key stores, credentials, .env*, .npmrc*, ...) under /app",
        ),
        Some(l) => {
            let shown: Vec<&str> = l.iter().take(20).map(String::as_str).collect();
            CheckResult::fail(
                ID,
                format!(
                    "{} secret file(s) in the image: {}{}; they came from the build context: \
                     check the ignore file (`cargo xtask gen`, `cargo xtask verify`)",
                    l.len(),
                    shown.join(", "),
                    if l.len() > 20 { ", ..." } else { "" }
                ),
            )
        }
    }
}

/// Where the image's credential scan looks: the app, the home directories, /tmp (every
/// `node_modules` left out: registry packages ship example keys in their tests).
pub const CREDENTIAL_ROOTS: &[&str] = &["/app", "/root", "/home", "/tmp"];

/// What [`crate::credscan::scan_js`] printed → `image/no-credentials`: each file holding a
/// credential named with its kinds, never the value; a scan cut short is said.
pub fn parse_credential_scan(code: Option<i32>, stdout: &str, stderr: &str) -> CheckResult {
    const ID: &str = "image/no-credentials";
    let v: Option<serde_json::Value> = last_json_line(code, stdout);
    let Some(v) = v.filter(|v| v["hits"].is_array()) else {
        return CheckResult::fail(
            ID,
            format!(
                "the credential scan exited {code:?}: {}",
                crate::values::shown(stderr.trim())
            ),
        );
    };
    let files = v["files"].as_u64().unwrap_or(0);
    let mut tail = String::new();
    if v["truncated"].as_bool() == Some(true) {
        tail.push_str(&format!(
            "; the scan stopped after {} bytes (the rest was not read)",
            v["bytes"].as_u64().unwrap_or(0)
        ));
    }
    if let Some(n) = v["skipped_big"].as_u64().filter(|n| *n > 0) {
        tail.push_str(&format!(
            "; {n} file(s) over {} KiB not read",
            crate::credscan::MAX_FILE >> 10
        ));
    }
    let hits: Vec<String> = v["hits"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    let path = h["path"].as_str().unwrap_or("?");
                    let kinds: Vec<&str> = h["kinds"]
                        .as_array()
                        .map(|k| k.iter().filter_map(|x| x.as_str()).collect())
                        .unwrap_or_default();
                    let path = if path.chars().any(char::is_control) {
                        crate::values::shown(path)
                    } else {
                        path.to_string()
                    };
                    format!("{path} ({})", kinds.join(", "))
                })
                .collect()
        })
        .unwrap_or_default();
    if hits.is_empty() {
        CheckResult::pass(
            ID,
            format!(
                "no private key, cloud credential or token in the {files} file(s) under {} (node_modules left out){tail}",
                CREDENTIAL_ROOTS.join(", ")
            ),
        )
    } else {
        CheckResult::fail(
            ID,
            format!(
                "{} file(s) in the image hold credentials: {}{}{tail}; they came from the build context or a build \
                 step: take the credential out (the API reads it from its environment) and revoke it",
                hits.len(),
                hits.iter().take(20).cloned().collect::<Vec<_>>().join(", "),
                if hits.len() > 20 { ", ..." } else { "" }
            ),
        )
    }
}

/// The JSON document on the last line a node program printed, when it exited 0 (the
/// inspection programs print their result last): `None` otherwise, or when it does not parse.
pub(crate) fn last_json_line<T: serde::de::DeserializeOwned>(
    code: Option<i32>,
    stdout: &str,
) -> Option<T> {
    if code != Some(0) {
        return None;
    }
    stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
}

#[cfg(test)]
mod credential_scan_tests {
    use super::*;

    #[test]
    fn the_credential_scan_is_judged_and_names_files_and_kinds() {
        let ok = r#"{"hits":[],"files":12,"bytes":3400,"skipped_big":0,"truncated":false}"#;
        let r = parse_credential_scan(Some(0), ok, "");
        assert!(r.ok && r.detail.contains("12 file(s)"), "{r:?}");
        let bad = r#"{"hits":[{"path":"/app/apps/api/src/config/prod-creds.json","kinds":["gcp-service-account"]}],"files":12,"bytes":3400,"skipped_big":1,"truncated":true}"#;
        let r = parse_credential_scan(Some(0), bad, "");
        assert!(!r.ok, "{r:?}");
        assert!(
            r.detail
                .contains("/app/apps/api/src/config/prod-creds.json (gcp-service-account)"),
            "{r:?}"
        );
        assert!(
            r.detail.contains("stopped") && r.detail.contains("not read"),
            "{r:?}"
        );
        assert!(!parse_credential_scan(Some(1), "", "boom").ok);
        assert!(!parse_credential_scan(Some(0), "[]", "").ok);
    }
}
