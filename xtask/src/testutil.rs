//! Test helpers: small pnpm monorepos written into temporary directories.

use std::path::PathBuf;

use crate::context::{Ctx, Model};

/// A temporary directory of files, removed on drop.
pub struct Dir {
    pub root: PathBuf,
}

impl Dir {
    pub fn new(tag: &str) -> Dir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let root =
            std::env::temp_dir().join(format!("xtask-unit-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("mkdir");
        Dir { root }
    }

    pub fn file(&self, rel: &str, text: &str) -> &Self {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
        self
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A temporary monorepo, removed on drop.
pub struct Mono {
    pub root: PathBuf,
}

impl Mono {
    /// An empty monorepo with `package.json` (pnpm 10.34.9), a workspace file and a lockfile.
    pub fn new(tag: &str) -> Mono {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let root =
            std::env::temp_dir().join(format!("xtask-unit-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("mkdir");
        let m = Mono { root };
        m.file(
            "package.json",
            r#"{"name":"mono","private":true,"packageManager":"pnpm@10.34.9"}"#,
        );
        m.file(
            "pnpm-workspace.yaml",
            "packages:\n  - \"apps/*\"\n  - \"packages/*\"\n",
        );
        m.file("pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
        m
    }

    pub fn file(&self, rel: &str, text: &str) -> &Self {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
        self
    }

    /// Adds a package at `dir` named `name` with workspace deps `deps` (`name` or `dev:name`).
    pub fn pkg(&self, dir: &str, name: &str, deps: &[&str], build: bool) -> &Self {
        let mut prod = Vec::new();
        let mut dev = Vec::new();
        for d in deps {
            match d.strip_prefix("dev:") {
                Some(n) => dev.push(format!("\"{n}\":\"workspace:*\"")),
                None => prod.push(format!("\"{d}\":\"workspace:*\"")),
            }
        }
        prod.push("\"left-pad\":\"^1.3.0\"".into());
        dev.push("\"typescript\":\"^5.9.3\"".into());
        let scripts = if build {
            r#""scripts":{"build":"tsc"},"#
        } else {
            ""
        };
        self.file(
            &format!("{dir}/package.json"),
            &format!(
                r#"{{"name":"{name}","version":"1.0.0",{scripts}"main":"dist/index.js","dependencies":{{{}}},"devDependencies":{{{}}}}}"#,
                prod.join(","),
                dev.join(",")
            ),
        );
        self
    }

    pub fn model(&self) -> anyhow::Result<Model> {
        Ctx::new(&self.root, None).model()
    }
}

impl Drop for Mono {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A monorepo shaped like CipherBox: api → crypto, web outside the closure.
pub fn cipherbox_like() -> Mono {
    let m = Mono::new("cbx");
    m.file("tsconfig.base.json", "{}");
    m.pkg("apps/api", "@cipherbox/api", &["@cipherbox/crypto"], true);
    m.pkg("packages/crypto", "@cipherbox/crypto", &[], true);
    m.pkg("apps/web", "@cipherbox/web", &["@cipherbox/crypto"], true);
    m.file("apps/api/.env.example", CIPHERBOX_ENV_EXAMPLE);
    m
}

/// The sample API's env example (apps/api/.env.example of this repository).
pub const CIPHERBOX_ENV_EXAMPLE: &str = include_str!("../../apps/api/.env.example");
