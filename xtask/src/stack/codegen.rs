//! The API image's code generation (`[api.generate]`) and runtime files
//! (`api.runtime_files`): which closure package runs each generator, which files the build
//! stage needs from outside the closure's packages, which the runtime stage carries.

use anyhow::{bail, Result};

use super::image::check_dockerfile_path;
use crate::config::{Config, GenerateRun};
use crate::workspace::Closure;

/// One generator in the build stage: after the install, before the first package build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateStep {
    /// The owning package's directory and name.
    pub dir: String,
    pub name: String,
    pub run: GenerateRun,
}

/// What the image does about generated and runtime files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Codegen {
    pub generate: Vec<GenerateStep>,
    /// Runtime files (relative to the root) the runtime stage copies from the build stage.
    pub runtime_files: Vec<String>,
    /// Runtime files outside every closure package and outside `node_modules`: the build
    /// stage copies them from the context (the ignore file lets them in).
    pub context_files: Vec<String>,
}

/// Whether `path` is `dir` or below it.
fn under(path: &str, dir: &str) -> bool {
    dir == "." || path == dir || path.starts_with(&format!("{dir}/"))
}

/// The image's generators and runtime files from the config, checked against the closure.
pub(super) fn codegen(cfg: &Config, closure: &Closure) -> Result<Codegen> {
    let mut generate = Vec::new();
    for g in &cfg.api.generate {
        let Some(p) = closure.install.iter().find(|p| p.dir == g.dir) else {
            let dirs: Vec<&str> = closure.install.iter().map(|p| p.dir.as_str()).collect();
            bail!(
                "[api.generate] names {:?}, which is no package of {}'s closure ({}): the image \
                 holds only those; name the directory of the package that owns the generator",
                g.dir,
                closure.api.name,
                dirs.join(", ")
            );
        };
        if let GenerateRun::Script(s) = &g.run {
            if !p.manifest.scripts.contains_key(s) {
                bail!(
                    "[api.generate] runs the script {s:?} of {} ({}), which has no such script \
                     (it has: {}); name one of its scripts or give the command as an array",
                    p.name,
                    p.dir,
                    p.manifest
                        .scripts
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        generate.push(GenerateStep {
            dir: p.dir.clone(),
            name: p.name.clone(),
            run: g.run.clone(),
        });
    }
    let mut context_files = Vec::new();
    for f in &cfg.api.runtime_files {
        check_dockerfile_path(f, "api.runtime_files names")?;
        let in_package = closure.install.iter().any(|p| under(f, &p.dir));
        let generated = f.split('/').any(|part| part == "node_modules");
        if !in_package && !generated {
            context_files.push(f.clone());
        }
    }
    Ok(Codegen {
        generate,
        runtime_files: cfg.api.runtime_files.clone(),
        context_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closure() -> (crate::testutil::Mono, Closure) {
        let m = crate::testutil::Mono::new("codegen");
        m.file(
            "apps/api/package.json",
            r#"{"name":"@x/api","scripts":{"build":"tsc"},"dependencies":{"@x/db":"workspace:*"}}"#,
        );
        m.file(
            "packages/db/package.json",
            r#"{"name":"@x/db","main":"dist/index.js","scripts":{"build":"tsc","db:generate":"prisma generate"}}"#,
        );
        let ws = crate::workspace::load(&m.root).expect("workspace");
        let api = ws
            .packages
            .iter()
            .find(|p| p.name == "@x/api")
            .expect("api")
            .clone();
        let c = ws.closure(&api).expect("closure");
        (m, c)
    }

    #[test]
    fn generators_belong_to_closure_packages_and_files_outside_them_come_from_the_context() {
        let (_t, c) = closure();
        let mut cfg = Config::default();
        cfg.api.generate = vec![crate::config::Generate {
            dir: "packages/db".into(),
            run: GenerateRun::Script("db:generate".into()),
        }];
        cfg.api.runtime_files = vec![
            "node_modules/.prisma/client".into(),
            "packages/db/prisma".into(),
            "prisma.config.ts".into(),
        ];
        let g = codegen(&cfg, &c).expect("codegen");
        assert_eq!(g.generate[0].name, "@x/db");
        assert_eq!(g.context_files, ["prisma.config.ts"]);
        cfg.api.generate[0].dir = "packages/ui".into();
        let e = format!("{:#}", codegen(&cfg, &c).expect_err("not in the closure"));
        assert!(e.contains("no package of @x/api's closure"), "{e}");
        cfg.api.generate[0] = crate::config::Generate {
            dir: "packages/db".into(),
            run: GenerateRun::Script("codegen".into()),
        };
        let e = format!("{:#}", codegen(&cfg, &c).expect_err("no such script"));
        assert!(
            e.contains("has no such script (it has: build, db:generate)"),
            "{e}"
        );
    }
}
