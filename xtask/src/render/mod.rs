//! Pure renderers: model → file text. No I/O, no programs, deterministic.

pub mod caddy;
pub mod compose;
pub mod dockerfile;
pub mod env_example;
pub mod quote;
pub mod rehearsal;
pub mod stack_swarm;
pub mod web;
pub mod workflow;

use crate::generated::Generated;
use crate::stack::{self, Stack};

/// Files `gen` writes only for some configs: the web app's, with `[web]`.
pub const OPTIONAL: &[&str] = &[stack::web::WEB_DOCKERFILE, stack::web::WEB_DOCKERIGNORE];

/// Every file `gen` writes, in a fixed order, headers included.
pub fn all(stack: &Stack) -> Vec<Generated> {
    let mut files = vec![
        Generated::new(stack::DOCKERFILE, &dockerfile::render(&stack.image)),
        Generated::new(
            stack::DOCKERIGNORE,
            &dockerfile::render_ignore(&stack.image),
        ),
        Generated::new(stack::COMPOSE, &compose::render(&stack.compose)),
        Generated::new(stack::CADDYFILE, &caddy::render(&stack.caddy)),
        Generated::new(
            stack::ENV_EXAMPLE,
            &env_example::render(&stack.compose, &stack.contract),
        ),
        Generated::new(stack::WORKFLOW, &workflow::render(&stack.workflow)),
        Generated::new(stack::SWARM_STACK, &stack_swarm::render(stack)),
    ];
    if let Some(w) = &stack.web {
        files.push(Generated::new(stack::web::WEB_DOCKERFILE, &web::render(w)));
        files.push(Generated::new(
            stack::web::WEB_DOCKERIGNORE,
            &web::render_ignore(w),
        ));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cipherbox_like, Mono};

    fn rendered(m: &Mono) -> Vec<Generated> {
        all(&m.model().expect("model").stack)
    }

    fn text<'a>(files: &'a [Generated], path: &str) -> &'a str {
        &files
            .iter()
            .find(|f| f.path == path)
            .expect("file rendered")
            .contents
    }

    /// The changed lines between two texts, as (-old, +new) pairs.
    fn changed(a: &str, b: &str) -> Vec<String> {
        similar::TextDiff::from_lines(a, b)
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| format!("{}{}", c.tag(), c.value().trim_end()))
            .collect()
    }

    /// The committed files of this repository's sample monorepo (`infra/`, the workflow) are
    /// the golden of every renderer: rendered in-process from the sample, they are the same
    /// bytes. (No snapshot duplicates them; a renderer change shows as this diff, and
    /// `cargo xtask gen` updates the golden.)
    #[test]
    fn the_committed_files_of_the_sample_are_what_the_renderers_write() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask/ has a parent");
        let model = crate::context::Ctx::new(root, None)
            .model()
            .expect("the sample's model");
        let mut stale = Vec::new();
        for f in all(&model.stack) {
            let committed = std::fs::read_to_string(root.join(&f.path)).unwrap_or_default();
            if committed != f.contents {
                stale.push(format!(
                    "{}:\n{}",
                    f.path,
                    changed(&committed, &f.contents).join("\n")
                ));
            }
        }
        assert!(
            stale.is_empty(),
            "committed files differ from what the renderers write (run `cargo xtask gen`):\n{}",
            stale.join("\n")
        );
    }

    #[test]
    fn output_is_deterministic() {
        let m = cipherbox_like();
        assert_eq!(rendered(&m), rendered(&m));
    }

    #[test]
    fn one_config_change_changes_exactly_the_expected_lines() {
        let m = cipherbox_like();
        let before = rendered(&m);
        m.file("infra/stack.toml", "[ports]\nredis = 6380\n");
        let after = rendered(&m);
        for (b, a) in before.iter().zip(&after) {
            let body = |g: &Generated| g.contents.lines().skip(2).collect::<Vec<_>>().join("\n");
            let d = changed(&body(b), &body(a));
            if b.path == stack::COMPOSE {
                assert_eq!(
                    d,
                    vec![
                        "-      - \"127.0.0.1:6379:6379/tcp\"",
                        "+      - \"127.0.0.1:6380:6379/tcp\""
                    ],
                    "{}",
                    b.path
                );
            } else {
                assert!(d.is_empty(), "{} changed: {d:?}", b.path);
            }
        }
        m.file("infra/stack.toml", "[project]\nowner = \"acme\"\n");
        let owned = rendered(&m);
        let d = changed(text(&before, stack::COMPOSE), text(&owned, stack::COMPOSE));
        let added: Vec<&String> = d
            .iter()
            .filter(|l| l.starts_with('+') && !l.contains("xtask-digest"))
            .collect();
        assert_eq!(
            added,
            vec![
                "+    image: \"ghcr.io/${IMAGE_OWNER:-acme}/cipherbox-api:${TAG:-latest}\"",
                "+    image: \"ghcr.io/${IMAGE_OWNER:-acme}/cipherbox-tee-worker:${TAG:-latest}\""
            ]
        );
    }

    #[test]
    fn adding_a_workspace_dependency_adds_its_manifest_copy_line() {
        let m = cipherbox_like();
        let before = rendered(&m);
        m.pkg("packages/storage", "@cipherbox/storage", &[], true);
        m.pkg(
            "apps/api",
            "@cipherbox/api",
            &["@cipherbox/crypto", "@cipherbox/storage"],
            true,
        );
        let after = rendered(&m);
        let d = changed(
            text(&before, stack::DOCKERFILE),
            text(&after, stack::DOCKERFILE),
        );
        let added: Vec<&String> = d
            .iter()
            .filter(|l| l.starts_with('+') && !l.contains("xtask-digest"))
            .collect();
        assert_eq!(
            added,
            vec![
                "+COPY packages/storage/package.json packages/storage/package.json",
                "+COPY packages/storage packages/storage",
                "+RUN cd packages/storage && node --run build",
                "+RUN find packages/crypto/dist packages/storage/dist apps/api/dist \\( -name \"*.tsbuildinfo\" -o -name \"*.map\" -o -name \"*.d.ts\" \\) -type f -exec rm -f {} +",
                "+COPY --from=build /app/packages/storage/dist ./packages/storage/dist",
            ]
        );
        let ign = changed(
            text(&before, stack::DOCKERIGNORE),
            text(&after, stack::DOCKERIGNORE),
        );
        assert!(ign.contains(&"+!packages/storage".to_string()), "{ign:?}");
    }

    #[test]
    fn a_closure_path_the_dockerfile_cannot_carry_is_refused() {
        let m = Mono::new("badpath");
        m.pkg("packages/my crypto", "@cipherbox/crypto", &[], true);
        m.pkg("apps/api", "@cipherbox/api", &["@cipherbox/crypto"], true);
        let e = format!("{:#}", m.model().expect_err("a space in a closure path"));
        assert!(
            e.contains(
                "workspace package @cipherbox/crypto is at \"packages/my crypto\", whose ' '"
            ),
            "{e}"
        );
        // outside the closure it never reaches the Dockerfile: fine
        let m = cipherbox_like();
        m.pkg("apps/web site", "@cipherbox/site", &[], true);
        m.model().expect("an unrelated package may have any name");
    }

    #[test]
    fn api_elsewhere_with_a_transitive_chain_and_dev_only_tooling() {
        let m = Mono::new("layout");
        m.file(
            "pnpm-workspace.yaml",
            "packages:\n  - services/*\n  - libs/**\n  - '!libs/legacy'\n",
        );
        m.file("tsconfig.json", "{}");
        m.pkg(
            "services/backend",
            "@acme/backend",
            &["@acme/a", "dev:@acme/tooling"],
            true,
        );
        m.pkg("libs/a", "@acme/a", &["@acme/b"], true);
        m.pkg("libs/b", "@acme/b", &[], true);
        m.pkg("libs/tooling", "@acme/tooling", &[], true);
        m.pkg("libs/legacy", "@acme/legacy", &[], true);
        m.pkg("services/admin", "@acme/admin", &["@acme/a"], true);
        m.file(
            "infra/stack.toml",
            "[api]\npackage = \"@acme/backend\"\nimage = \"backend\"\n",
        );
        let files = rendered(&m);
        let df = text(&files, stack::DOCKERFILE);
        let manifests: Vec<&str> = df
            .lines()
            .filter(|l| l.ends_with("/package.json"))
            .collect();
        assert_eq!(
            manifests,
            vec![
                "COPY libs/b/package.json libs/b/package.json",
                "COPY libs/a/package.json libs/a/package.json",
                "COPY libs/tooling/package.json libs/tooling/package.json",
                "COPY services/backend/package.json services/backend/package.json",
            ],
            "dependencies first, dev-only workspace deps included for the filtered install"
        );
        let runtime: Vec<&str> = df
            .lines()
            .filter(|l| l.starts_with("COPY --from=build"))
            .collect();
        assert_eq!(
            runtime,
            vec![
                "COPY --from=build /app/libs/b/dist ./libs/b/dist",
                "COPY --from=build /app/libs/a/dist ./libs/a/dist",
                "COPY --from=build /app/services/backend/dist ./services/backend/dist",
            ],
            "dev-only tooling never reaches the runtime stage"
        );
        assert!(df.contains("--filter \"@acme/backend...\""));
        assert!(df.contains("WORKDIR /app/services/backend"));
        assert!(df.contains("COPY tsconfig.json tsconfig.json"));
        let ign = text(&files, stack::DOCKERIGNORE);
        assert!(
            ign.ends_with(
                "# Workspace packages outside @acme/backend's closure:\nservices/admin\n"
            ),
            "{ign}"
        );
        assert!(
            !ign.contains("libs/legacy"),
            "excluded by the workspace's own negation, not a package"
        );
        assert!(text(&files, stack::COMPOSE)
            .contains("ghcr.io/${IMAGE_OWNER:-OWNER}/backend:${TAG:-latest}"));
    }

    #[test]
    fn api_by_path_wins_over_package() {
        let m = cipherbox_like();
        m.file(
            "infra/stack.toml",
            "[api]\npackage = \"nope\"\npath = \"apps/web\"\n",
        );
        let model = m.model().expect("model");
        assert_eq!(model.closure.api.name, "@cipherbox/web");
    }

    #[test]
    fn cycles_are_refused_with_the_path() {
        let m = cipherbox_like();
        m.pkg(
            "packages/crypto",
            "@cipherbox/crypto",
            &["@cipherbox/api"],
            true,
        );
        let e = format!("{:#}", m.model().expect_err("cycle"));
        assert!(
            e.contains("cycle: @cipherbox/api -> @cipherbox/crypto -> @cipherbox/api"),
            "{e}"
        );
    }

    #[test]
    fn pnpm_version_comes_from_package_manager_else_config() {
        let m = cipherbox_like();
        assert!(text(&rendered(&m), stack::DOCKERFILE)
            .contains("corepack prepare pnpm@10.34.9 --activate"));
        m.file("package.json", r#"{"name":"mono","private":true}"#);
        m.file("infra/stack.toml", "[node]\npnpm = \"10.1.0\"\n");
        assert!(text(&rendered(&m), stack::DOCKERFILE)
            .contains("corepack prepare pnpm@10.1.0 --activate"));
    }

    #[test]
    fn build_only_files_leave_the_runtime_outputs_unless_kept() {
        let m = cipherbox_like();
        let prune = |m: &Mono| -> Vec<String> {
            text(&rendered(m), stack::DOCKERFILE)
                .lines()
                .filter(|l| l.starts_with("RUN find "))
                .map(str::to_string)
                .collect()
        };
        let all = "\\( -name \"*.tsbuildinfo\" -o -name \"*.map\" -o -name \"*.d.ts\" \\)";
        assert_eq!(
            prune(&m),
            vec![format!(
                "RUN find packages/crypto/dist apps/api/dist {all} -type f -exec rm -f {{}} +"
            )]
        );
        // in the build stage, before the runtime copies the outputs
        let df = text(&rendered(&m), stack::DOCKERFILE).to_string();
        let at = |needle: &str| df.find(needle).unwrap_or(usize::MAX);
        assert!(at("RUN cd apps/api && node --run build") < at("RUN find "));
        assert!(at("RUN find ") < at("FROM ${NODE_IMAGE} AS runtime"));
        m.file(
            "infra/stack.toml",
            "[api]\nkeep_build_files = [\"*.map\"]\n",
        );
        let kept = prune(&m);
        assert_eq!(kept.len(), 1);
        assert!(
            kept[0].contains("-name \"*.tsbuildinfo\" -o -name \"*.d.ts\""),
            "{kept:?}"
        );
        assert!(!kept[0].contains("*.map"), "{kept:?}");
        m.file(
            "infra/stack.toml",
            "[api]\nkeep_build_files = [\"*.map\", \"*.d.ts\", \"*.tsbuildinfo\"]\n",
        );
        assert!(prune(&m).is_empty());
        m.file("infra/stack.toml", "[api]\nkeep_build_files = [\"*.js\"]\n");
        let e = format!("{:#}", m.model().expect_err("not a build-only pattern"));
        assert!(
            e.contains("`api.keep_build_files`: \"*.js\" is not a build-only file pattern"),
            "{e}"
        );
    }
}
