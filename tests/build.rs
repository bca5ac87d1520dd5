//! Decides, at build time, which integration tests run here and which are reported as
//! ignored (with their reason) by `cargo test`:
//!
//! - `cfg(tools)`: the tests that run the tools `.ci/install-tools.sh` and `cargo xtask
//!   engine up` install (docker CLI + compose, caddy, openssl, hadolint, actionlint,
//!   shellcheck, unshare/setpriv as root);
//! - `cfg(engine)`: the tests that need a running Docker engine (and those tools).
//!
//! Both are on under `CI=true` (where a missing engine or tool then fails the test, never
//! skips it) and on request elsewhere: `XTASK_TESTS=engine` (both) or `XTASK_TESTS=tools`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(engine)");
    println!("cargo::rustc-check-cfg=cfg(tools)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=XTASK_TESTS");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let asked = std::env::var("XTASK_TESTS").unwrap_or_default();
    let engine = ci || asked == "engine";
    let tools = engine || asked == "tools";
    if engine {
        println!("cargo::rustc-cfg=engine");
    }
    if tools {
        println!("cargo::rustc-cfg=tools");
    }
}
