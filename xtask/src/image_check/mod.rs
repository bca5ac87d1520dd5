//! Checks of a built API image, shared by `build-image --smoke`, `smoke` and `verify`.
//!
//! Pure: what the image must look like ([`Expect`], derived from the model), the checks over
//! `docker image inspect` JSON, the small Node programs run inside the image and the
//! parsers of what they print. Running containers is [`crate::ops::smoke`]'s job.

use serde_json::Value as Json;

use crate::stack::{ApiImage, InstallLayout};
use crate::workspace::{Closure, DepKind, ProdClosure};

mod boot;
mod modules;
mod programs;
mod world;

pub use boot::*;
pub use modules::*;
pub use programs::*;
pub use world::*;

/// One named check: passed or failed, with a one-line detail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    /// `api.runtime_files` as absolute paths (`/app/<file>`): each must exist in the image.
    pub runtime_files: Vec<String>,
    /// The lockfile's production closure of the API (or why it is unknown): every package
    /// in the image's node_modules is judged against it ([`parse_modules`]).
    pub closure: Result<ProdClosure, String>,
    /// Workspace packages' names (linked, not installed: never judged).
    pub workspace_names: Vec<String>,
    /// `api.hoist = true` keeps this hoisting setting: packages outside the closure are its
    /// cost, reported, not a failure.
    pub hoisted: Option<String>,
    /// `/app` and `/app/<dir>` of every runtime package, where node_modules links live.
    pub package_dirs: Vec<String>,
    /// `[api.health]`: the path the API answers on and the status that means healthy.
    pub health_path: String,
    pub health_status: u16,
    /// The API's env contract keys (to name the one a boot failure's log names).
    pub contract_keys: Vec<String>,
    /// The services started around the API (empty: it boots alone).
    pub dependencies: Vec<String>,
}

/// The expectations for the image rendered from `image`, for the API `closure` and the
/// lockfile's production closure `prod`.
pub fn expect(image: &ApiImage, closure: &Closure, prod: Result<ProdClosure, String>) -> Expect {
    let runtime_deps: Vec<String> = closure
        .api
        .manifest
        .deps
        .iter()
        .filter(|d| d.kind == DepKind::Prod)
        .map(|d| d.name.clone())
        .collect();
    let mut package_dirs = vec!["/app".to_string()];
    package_dirs.extend(closure.runtime.iter().map(|p| format!("/app/{}", p.dir)));
    Expect {
        port: image.port,
        cmd: vec!["node".into(), image.entry.clone()],
        uid: image.uid,
        workdir: format!("/app/{}", image.api_dir),
        runtime_deps,
        runtime_files: image
            .codegen
            .runtime_files
            .iter()
            .map(|f| format!("/app/{f}"))
            .collect(),
        closure: prod,
        workspace_names: closure.install.iter().map(|p| p.name.clone()).collect(),
        hoisted: match &image.layout {
            InstallLayout::Hoisted { setting } => Some(setting.clone()),
            _ => None,
        },
        package_dirs,
        health_path: "/health".into(),
        health_status: 200,
        contract_keys: Vec::new(),
        dependencies: Vec::new(),
    }
}

/// The expectations for the model's image, with its health contract and env keys.
pub fn expect_for(model: &crate::context::Model) -> Expect {
    let prod = crate::workspace::Lockfile::read(&model.workspace.root)
        .map(|l| l.prod_closure(&model.closure.api.dir))
        .map_err(|e| format!("{e:#}"));
    let mut e = expect(&model.stack.image, &model.closure, prod);
    e.workspace_names = model
        .workspace
        .packages
        .iter()
        .map(|p| p.name.clone())
        .collect();
    e.health_path = model.config.api.health.path.clone();
    e.health_status = model.config.api.health.status;
    e.contract_keys = model
        .stack
        .contract
        .keys
        .iter()
        .map(|k| k.name.clone())
        .collect();
    e
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

/// JSON schema id of [`SmokeReport`] (`cargo xtask smoke --format json`); changes on any
/// incompatible change, fields may be added.
pub const SMOKE_SCHEMA: &str = "xtask-smoke/1";

/// One smoke run of an image: the data both renderings (text, JSON) are made of.
///
/// ```text
/// { "schema": "xtask-smoke/1", "image": string,
///   "standin_for": string | null,     // the real base the image's STAND-IN base stands in for
///   "result": "pass" | "fail", "passed": integer, "total": integer,
///   "checks": [ { "id": "image/user", "ok": bool, "detail": string } ],
///   "boot": { "network": string | null,   // the private network of the services and the API
///             "services": [ { "name": "postgres", "image": string,
///                             "source": "real" | "pulled" | "STAND-IN",
///                             "stands_in_for": string | null, "provides": string | null,
///                             "ready_ms": integer | null } ],
///             "not_started": [ { "name": "ipfs", "why": string } ],
///             "migrate": { "command": [string], "ok": bool, "exit": integer | null,
///                          "ms": integer } | null,
///             "health_status": integer | null, "healthy": bool,
///             "timings": { "images_ms", "services_ms", "migrate_ms", "health_ms" } } }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SmokeReport {
    pub schema: &'static str,
    pub image: String,
    pub standin_for: Option<String>,
    pub result: &'static str,
    pub passed: usize,
    pub total: usize,
    pub checks: Vec<CheckResult>,
    /// How the API was booted (its services, migration and health answer).
    pub boot: Boot,
}

impl SmokeReport {
    pub fn new(image: &str, standin_for: Option<String>, checks: Vec<CheckResult>) -> SmokeReport {
        let passed = checks.iter().filter(|r| r.ok).count();
        SmokeReport {
            schema: SMOKE_SCHEMA,
            image: image.to_string(),
            standin_for,
            result: if passed == checks.len() {
                "pass"
            } else {
                "fail"
            },
            passed,
            total: checks.len(),
            checks,
            boot: Boot::default(),
        }
    }

    pub fn ok(&self) -> bool {
        self.passed == self.total
    }

    /// The image as every output names it (a stand-in base is said on each line).
    pub fn subject(&self) -> String {
        match &self.standin_for {
            Some(of) => format!("{}, STAND-IN base for {of}", self.image),
            None => self.image.clone(),
        }
    }

    /// The text rendering: one PASS/FAIL line per check, then the count.
    pub fn render_human(&self) -> String {
        let subject = self.subject();
        let w = self.checks.iter().map(|r| r.id.len()).max().unwrap_or(0);
        let mut s = String::new();
        for r in &self.checks {
            s.push_str(&format!(
                "{}  {:w$}  {}  [{subject}]\n",
                if r.ok { "PASS" } else { "FAIL" },
                r.id,
                r.detail
            ));
        }
        s.push_str(&format!("boot: {}  [{subject}]\n", self.boot.summary()));
        s.push_str(&format!(
            "{} of {} image check(s) passed [{subject}]\n",
            self.passed, self.total
        ));
        s
    }

    /// The JSON rendering (pretty, one trailing newline).
    pub fn render_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn e() -> Expect {
        Expect {
            port: 3000,
            cmd: vec!["node".into(), "dist/main.js".into()],
            uid: 1001,
            workdir: "/app/apps/api".into(),
            runtime_deps: vec!["pg".into(), "@cipherbox/crypto".into()],
            runtime_files: vec![],
            closure: Ok(ProdClosure::default()),
            workspace_names: vec![],
            hoisted: None,
            package_dirs: vec!["/app".into(), "/app/apps/api".into()],
            health_path: "/health".into(),
            health_status: 200,
            contract_keys: vec![],
            dependencies: vec![],
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
        let good = r#"{"resolve":{"pg":"/app/node_modules/pg/lib/index.js","@cipherbox/crypto":"/app/packages/crypto/dist/index.js"}}"#;
        let r = parse_probe(Some(0), good, "", &e());
        assert!(r.ok, "{r:?}");
        let bad = r#"{"resolve":{"pg":null,"@cipherbox/crypto":"/x"}}"#;
        let r = parse_probe(Some(0), bad, "", &e());
        assert!(!r.ok && r.detail.contains("pg"), "{r:?}");
        assert!(!parse_probe(Some(1), "", "boom", &e()).ok);
        assert!(probe_input(&e()).contains("\"resolve\""));
        // the runtime files ([api] runtime_files) must exist in the image
        let mut with_files = e();
        with_files.runtime_files = vec!["/app/packages/db/node_modules/.quill/client".into()];
        assert!(probe_input(&with_files)
            .contains("\"files\":[\"/app/packages/db/node_modules/.quill/client\"]"));
        let r = parse_probe(Some(0), good, "", &with_files);
        assert!(
            !r.ok
                && r.detail.contains(
                    "missing from the image: /app/packages/db/node_modules/.quill/client"
                ),
            "{r:?}"
        );
        let found = r#"{"resolve":{"pg":"/a","@cipherbox/crypto":"/b"},"files":{"/app/packages/db/node_modules/.quill/client":true}}"#;
        let r = parse_probe(Some(0), found, "", &with_files);
        assert!(r.ok && r.detail.contains("runtime files present"), "{r:?}");
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
        let report = SmokeReport::new("x:1", Some("node:22-alpine".into()), r);
        let s = report.render_human();
        assert!(s.lines().all(|l| l.contains("STAND-IN base")), "{s}");
        assert!(s.contains("1 of 2 image check(s) passed"), "{s}");
    }

    #[test]
    fn smoke_json_is_the_same_data_as_the_text() {
        let r = vec![
            CheckResult::pass("image/a", "fine"),
            CheckResult::fail("image/bb", "broken"),
        ];
        let report = SmokeReport::new("x:1", None, r);
        let j: Json = serde_json::from_str(&report.render_json()).expect("json");
        assert_eq!(j["schema"], SMOKE_SCHEMA);
        assert_eq!(j["result"], "fail");
        assert_eq!(
            (j["passed"].as_u64(), j["total"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(j["standin_for"], Json::Null);
        assert_eq!(j["checks"][1]["id"], "image/bb");
        assert_eq!(j["checks"][1]["ok"], false);
        assert_eq!(j["checks"][1]["detail"], "broken");
        assert!(!report.ok());
    }

    fn with_keys(keys: &[&str]) -> Expect {
        Expect {
            port: 3000,
            cmd: vec![],
            uid: 1001,
            workdir: "/app".into(),
            runtime_deps: vec![],
            runtime_files: vec![],
            closure: Ok(ProdClosure::default()),
            workspace_names: vec![],
            hoisted: None,
            package_dirs: vec![],
            health_path: "/healthz".into(),
            health_status: 204,
            contract_keys: keys.iter().map(|k| k.to_string()).collect(),
            dependencies: vec![],
        }
    }

    #[test]
    fn any_http_answer_ends_the_wait_the_configured_status_is_healthy() {
        let e = with_keys(&[]);
        let r = judge_health(&HealthProbe::Answer(204, String::new()), &e, "a:1", 1.0)
            .expect("definite");
        assert!(r.ok && r.detail.contains("(healthy)"), "{}", r.detail);
        let r = judge_health(
            &HealthProbe::Answer(
                503,
                r#"{"status":"error","error":{"database":{"status":"down"}}}"#.into(),
            ),
            &e,
            "a:1",
            1.0,
        )
        .expect("definite");
        assert!(r.ok && r.detail.contains("listens"), "{}", r.detail);
        let r = judge_health(
            &HealthProbe::Answer(404, "Not Found".into()),
            &e,
            "a:1",
            1.0,
        )
        .expect("no health route: it listens");
        assert!(r.ok);
        assert_eq!(
            judge_health(&HealthProbe::NoAnswer("refused".into()), &e, "a:1", 1.0),
            None
        );
    }

    #[test]
    fn a_boot_failure_names_the_variable_or_module_its_log_names() {
        let keys = vec!["JWT_SECRET".to_string(), "WEB_URL".to_string()];
        // NestJS ConfigModule with a Joi schema
        let log = "[Nest] 1  - LOG [NestFactory] Starting Nest application...\n\
                   Error: Config validation error: \"JWT_SECRET\" is required\n    at Function.forRoot (/app/node_modules/@nestjs/config/dist/config.module.js:67:23)\n";
        let m = boot_failure(log, &keys);
        assert!(m.contains("its log names JWT_SECRET"), "{m}");
        // a hand-written check, a name outside the contract
        let m = boot_failure("fatal: missing environment variable SMTP_HOST\n", &keys);
        assert!(m.contains("names SMTP_HOST"), "{m}");
        let m = boot_failure(
            "node:internal/modules/cjs/loader:1228\n  throw err;\nError: Cannot find module '/app/apps/api/dist/main.js'\n  code: 'MODULE_NOT_FOUND'\n",
            &keys,
        );
        assert!(
            m.contains("cannot find module \"/app/apps/api/dist/main.js\""),
            "{m}"
        );
        let m = boot_failure("Segmentation fault\n", &keys);
        assert!(m.contains("Segmentation fault"), "{m}");
    }

    #[test]
    fn a_missing_entry_names_the_files_the_build_produced() {
        let ok = parse_entry(Some(0), "ENTRY-OK\n", "", "dist/main.js");
        assert!(ok.ok);
        let r = parse_entry(
            Some(3),
            "[\"dist/src/app.module.js\",\"dist/src/main.js\",\"dist/tools/main.js.bak.js\"]\n",
            "",
            "dist/main.js",
        );
        assert!(!r.ok);
        assert!(
            r.detail
                .contains("the build produced dist/src/app.module.js, dist/src/main.js"),
            "{}",
            r.detail
        );
        assert!(
            r.detail.contains("config set api.entry dist/src/main.js"),
            "{}",
            r.detail
        );
        let r = parse_entry(Some(3), "[]\n", "", "dist/main.js");
        assert!(
            !r.ok && r.detail.contains("no JS file under dist/"),
            "{}",
            r.detail
        );
        let r = parse_entry(Some(125), "", "docker: error", "dist/main.js");
        assert!(!r.ok && r.detail.contains("could not look"), "{}", r.detail);
    }
}
