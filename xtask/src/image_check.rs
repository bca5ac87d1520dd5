//! Checks of a built API image, shared by `build-image --smoke`, `smoke` and `verify`.
//!
//! Pure: what the image must look like ([`Expect`], derived from the model), the checks over
//! `docker image inspect` JSON, the small Node programs run inside the image and the
//! parsers of what they print. Running containers is [`crate::ops::smoke`]'s job.

use serde_json::Value as Json;

use crate::stack::ApiImage;
use crate::workspace::{Closure, DepKind};

/// One named check: passed or failed, with a one-line detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Stable id (`image/user`, ...), for reports and waivers.
    pub id: &'static str,
    pub ok: bool,
    pub detail: String,
}

impl CheckResult {
    pub fn pass(id: &'static str, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            id,
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn fail(id: &'static str, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            id,
            ok: false,
            detail: detail.into(),
        }
    }
}

/// What the image built from the model must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub port: u16,
    pub cmd: Vec<String>,
    pub uid: u32,
    /// `/app/<api dir>`
    pub workdir: String,
    /// The API's `dependencies`: each must resolve from `workdir`.
    pub runtime_deps: Vec<String>,
    /// devDependencies of the closure that no runtime package needs: none may be installed.
    pub dev_deps: Vec<String>,
    /// `/app` and `/app/<dir>` of every runtime package, where node_modules links live.
    pub package_dirs: Vec<String>,
}

/// The expectations for the image rendered from `image`, for the API `closure`.
pub fn expect(image: &ApiImage, closure: &Closure) -> Expect {
    let runtime_deps: Vec<String> = closure
        .api
        .manifest
        .deps
        .iter()
        .filter(|d| d.kind == DepKind::Prod)
        .map(|d| d.name.clone())
        .collect();
    let needed_at_runtime = |name: &str| {
        closure.runtime.iter().any(|p| {
            p.manifest
                .deps
                .iter()
                .any(|d| d.name == name && d.kind != DepKind::Dev)
        })
    };
    let mut dev_deps: Vec<String> = Vec::new();
    for p in &closure.install {
        for d in p.manifest.deps.iter().filter(|d| d.kind == DepKind::Dev) {
            if !needed_at_runtime(&d.name) && !dev_deps.contains(&d.name) {
                dev_deps.push(d.name.clone());
            }
        }
    }
    dev_deps.sort();
    let mut package_dirs = vec!["/app".to_string()];
    package_dirs.extend(closure.runtime.iter().map(|p| format!("/app/{}", p.dir)));
    Expect {
        port: image.port,
        cmd: vec!["node".into(), image.entry.clone()],
        uid: image.uid,
        workdir: format!("/app/{}", image.api_dir),
        runtime_deps,
        dev_deps,
        package_dirs,
    }
}

fn config<'a>(inspect: &'a Json, key: &str) -> Option<&'a Json> {
    inspect.get("Config")?.get(key)
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks over `docker image inspect` JSON: user, environment, exposed port, CMD, workdir.
pub fn config_checks(inspect: &Json, e: &Expect) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let user = config(inspect, "User").and_then(Json::as_str).unwrap_or("");
    let uid = user.split(':').next().unwrap_or("");
    out.push(if user.is_empty() || uid == "0" || uid == "root" {
        CheckResult::fail(
            "image/user",
            format!(
                "USER is {:?}: the container would run as root; want uid {}",
                user, e.uid
            ),
        )
    } else if uid == e.uid.to_string() {
        CheckResult::pass(
            "image/user",
            format!("USER {user} (uid {}, not root)", e.uid),
        )
    } else {
        CheckResult::fail(
            "image/user",
            format!("USER is {user:?}, want uid {}", e.uid),
        )
    });

    let env = strings(config(inspect, "Env"));
    let want = [
        ("NODE_ENV", "production".to_string()),
        ("PORT", e.port.to_string()),
    ];
    let mut bad = Vec::new();
    for (k, v) in &want {
        let have = env.iter().find_map(|kv| kv.strip_prefix(&format!("{k}=")));
        if have != Some(v.as_str()) {
            bad.push(format!("{k}={} (want {v})", have.unwrap_or("<unset>")));
        }
    }
    out.push(if bad.is_empty() {
        CheckResult::pass("image/env", format!("NODE_ENV=production PORT={}", e.port))
    } else {
        CheckResult::fail("image/env", bad.join(", "))
    });

    let port = format!("{}/tcp", e.port);
    let exposed: Vec<String> = config(inspect, "ExposedPorts")
        .and_then(Json::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    out.push(if exposed.contains(&port) {
        CheckResult::pass("image/expose", format!("exposes {port}"))
    } else {
        CheckResult::fail("image/expose", format!("exposes {exposed:?}, want {port}"))
    });

    let cmd = strings(config(inspect, "Cmd"));
    out.push(if cmd == e.cmd {
        CheckResult::pass("image/cmd", format!("CMD {cmd:?}"))
    } else {
        CheckResult::fail(
            "image/cmd",
            format!("CMD {cmd:?}, want {:?} (as generated)", e.cmd),
        )
    });

    let wd = config(inspect, "WorkingDir")
        .and_then(Json::as_str)
        .unwrap_or("");
    out.push(if wd == e.workdir {
        CheckResult::pass("image/workdir", format!("WORKDIR {wd}"))
    } else {
        CheckResult::fail(
            "image/workdir",
            format!("WORKDIR {wd:?}, want {}", e.workdir),
        )
    });
    out
}

/// `node -e "console.log('ok')"` must print exactly `ok`.
pub const NODE_OK: &str = "console.log('ok')";

pub fn check_node_ok(code: Option<i32>, stdout: &str, stderr: &str) -> CheckResult {
    if code == Some(0) && stdout == "ok\n" {
        CheckResult::pass("image/node", "`node -e \"console.log('ok')\"` printed ok")
    } else {
        CheckResult::fail(
            "image/node",
            format!("`node -e \"console.log('ok')\"` exited {code:?} and printed {stdout:?} (stderr {:?})", stderr.trim()),
        )
    }
}

/// `id -u` in a container of the image must print the expected uid.
pub fn check_runtime_uid(code: Option<i32>, stdout: &str, e: &Expect) -> CheckResult {
    let got = stdout.trim();
    if code == Some(0) && got == e.uid.to_string() {
        CheckResult::pass(
            "image/runtime-user",
            format!("a container runs as uid {got}"),
        )
    } else {
        CheckResult::fail(
            "image/runtime-user",
            format!(
                "`id -u` in a container printed {got:?} (exit {code:?}), want {}",
                e.uid
            ),
        )
    }
}

/// Run as `node -e PROBE_JS '<json>'` in the API's directory: resolves the runtime
/// dependencies and looks for installed devDependencies.
pub const PROBE_JS: &str = r#"const fs=require('fs'),path=require('path');
const q=JSON.parse(process.argv[1]);const r={resolve:{},dev:{}};
for(const n of q.resolve){try{r.resolve[n]=require.resolve(n)}catch(e1){try{r.resolve[n]=require.resolve(n+'/package.json')}catch(e2){r.resolve[n]=null}}}
for(const n of q.dev){const hits=[];try{hits.push(require.resolve(n))}catch(e){}
for(const d of q.dirs){const p=path.join(d,'node_modules',n);try{fs.lstatSync(p);hits.push(p)}catch(e){}}
r.dev[n]=[...new Set(hits)]}
console.log(JSON.stringify(r));"#;

/// The argument of [`PROBE_JS`].
pub fn probe_input(e: &Expect) -> String {
    serde_json::json!({"resolve": e.runtime_deps, "dev": e.dev_deps, "dirs": e.package_dirs})
        .to_string()
}

/// What [`PROBE_JS`] printed → `image/runtime-deps` and `image/no-dev-deps`.
pub fn parse_probe(code: Option<i32>, stdout: &str, stderr: &str, e: &Expect) -> Vec<CheckResult> {
    let parsed: Option<Json> = if code == Some(0) {
        stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
    } else {
        None
    };
    let Some(v) = parsed else {
        let d = format!("the probe exited {code:?}: {}", stderr.trim());
        return vec![
            CheckResult::fail("image/runtime-deps", d.clone()),
            CheckResult::fail("image/no-dev-deps", d),
        ];
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
            ),
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
    let mut present = Vec::new();
    for n in &e.dev_deps {
        let hits = strings(v.get("dev").and_then(|d| d.get(n)));
        if !hits.is_empty() {
            present.push(format!("{n} ({})", hits.join(", ")));
        }
    }
    let dev = if present.is_empty() {
        CheckResult::pass(
            "image/no-dev-deps",
            format!(
                "none of {} devDependenc{} installed ({})",
                e.dev_deps.len(),
                if e.dev_deps.len() == 1 {
                    "y is"
                } else {
                    "ies are"
                },
                e.dev_deps.join(", ")
            ),
        )
    } else {
        CheckResult::fail(
            "image/no-dev-deps",
            format!("devDependencies in the image: {}", present.join("; ")),
        )
    };
    vec![deps, dev]
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
    let list: Option<Vec<String>> = if code == Some(0) {
        stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
    } else {
        None
    };
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
    let list: Option<Vec<String>> = if code == Some(0) {
        stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
    } else {
        None
    };
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

/// One line per check; `subject` names the image (and says when its base is a stand-in).
pub fn render(results: &[CheckResult], subject: &str) -> String {
    let w = results.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let mut s = String::new();
    for r in results {
        s.push_str(&format!(
            "{}  {:w$}  {}  [{subject}]\n",
            if r.ok { "PASS" } else { "FAIL" },
            r.id,
            r.detail
        ));
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    s.push_str(&format!(
        "{} of {} image check(s) passed [{subject}]\n",
        results.len() - failed,
        results.len()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e() -> Expect {
        Expect {
            port: 3000,
            cmd: vec!["node".into(), "dist/main.js".into()],
            uid: 1001,
            workdir: "/app/apps/api".into(),
            runtime_deps: vec!["pg".into(), "@cipherbox/crypto".into()],
            dev_deps: vec!["typescript".into()],
            package_dirs: vec!["/app".into(), "/app/apps/api".into()],
        }
    }

    fn inspect(user: &str, env: &[&str], port: &str, cmd: &[&str], wd: &str) -> Json {
        let mut ports = serde_json::Map::new();
        ports.insert(port.into(), serde_json::json!({}));
        serde_json::json!({"Config": {"User": user, "Env": env, "ExposedPorts": ports, "Cmd": cmd, "WorkingDir": wd}})
    }

    #[test]
    fn a_good_image_passes_every_config_check() {
        let j = inspect(
            "1001:1001",
            &["PATH=/bin", "NODE_ENV=production", "PORT=3000"],
            "3000/tcp",
            &["node", "dist/main.js"],
            "/app/apps/api",
        );
        let r = config_checks(&j, &e());
        assert!(r.iter().all(|c| c.ok), "{r:?}");
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn root_user_wrong_env_port_cmd_fail() {
        let j = inspect(
            "",
            &["NODE_ENV=development"],
            "8080/tcp",
            &["npm", "start"],
            "/app",
        );
        let r = config_checks(&j, &e());
        assert!(r.iter().all(|c| !c.ok), "{r:?}");
        assert!(r[0].detail.contains("root"), "{}", r[0].detail);
        assert!(r[1].detail.contains("PORT=<unset>"), "{}", r[1].detail);
        let r = config_checks(&inspect("0:0", &[], "3000/tcp", &[], ""), &e());
        assert!(!r[0].ok);
    }

    #[test]
    fn node_ok_is_exact() {
        assert!(check_node_ok(Some(0), "ok\n", "").ok);
        assert!(!check_node_ok(Some(0), "ok\nmore\n", "").ok);
        assert!(!check_node_ok(Some(127), "", "node: not found").ok);
        assert!(check_runtime_uid(Some(0), "1001\n", &e()).ok);
        assert!(!check_runtime_uid(Some(0), "0\n", &e()).ok);
    }

    #[test]
    fn probe_output_is_judged() {
        let good = r#"{"resolve":{"pg":"/app/node_modules/pg/lib/index.js","@cipherbox/crypto":"/app/packages/crypto/dist/index.js"},"dev":{"typescript":[]}}"#;
        let r = parse_probe(Some(0), good, "", &e());
        assert!(r.iter().all(|c| c.ok), "{r:?}");
        let bad = r#"{"resolve":{"pg":null,"@cipherbox/crypto":"/x"},"dev":{"typescript":["/app/apps/api/node_modules/typescript"]}}"#;
        let r = parse_probe(Some(0), bad, "", &e());
        assert!(!r[0].ok && r[0].detail.contains("pg"), "{r:?}");
        assert!(!r[1].ok && r[1].detail.contains("typescript"), "{r:?}");
        assert!(parse_probe(Some(1), "", "boom", &e()).iter().all(|c| !c.ok));
        assert!(probe_input(&e()).contains("\"dirs\""));
    }

    #[test]
    fn scan_output_is_judged() {
        assert!(parse_scan(Some(0), "[]\n", "").ok);
        let r = parse_scan(
            Some(0),
            "[\"/app/apps/api/.env\",\"/app/apps/api/src/main.ts\"]\n",
            "",
        );
        assert!(
            !r.ok && r.detail.contains(".env") && r.detail.contains("main.ts"),
            "{}",
            r.detail
        );
        assert!(!parse_scan(Some(2), "", "x").ok);
    }

    #[test]
    fn secret_scan_output_is_judged() {
        assert!(parse_secret_scan(Some(0), "[]\n", "").ok);
        let r = parse_secret_scan(
            Some(0),
            "[\"/app/apps/api/server.PEM\",\"/app/.aws/\"]\n",
            "",
        );
        assert!(
            !r.ok
                && r.detail.contains("/app/apps/api/server.PEM")
                && r.detail.contains("/app/.aws/")
        );
        assert!(!parse_secret_scan(Some(1), "", "boom").ok);
    }

    #[test]
    fn render_names_the_subject_on_every_line() {
        let r = vec![
            CheckResult::pass("image/a", "fine"),
            CheckResult::fail("image/bb", "broken"),
        ];
        let s = render(&r, "x:1, STAND-IN base");
        assert!(s.lines().all(|l| l.contains("STAND-IN base")), "{s}");
        assert!(s.contains("1 of 2 image check(s) passed"), "{s}");
    }
}
