//! The web app's Dockerfile (`[web]`) and its ignore file: the package built with pnpm, then a
//! `FROM scratch` stage holding only its output, exported as plain files for Caddy
//! (`--output type=local`). Same BuildKit subset as the API's Dockerfile (Docker 20.10).

use std::fmt::Write;

use super::quote::{dockerfile_word, shell};
use crate::stack::web::{Web, SITE_DIR, WEB_DOCKERFILE};

const STORE: &str = "/pnpm/store";

pub fn render(m: &Web) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# The web app {} ({}), built by its `{}` script; the `site` stage holds only its",
        m.name, m.dir, m.script
    );
    let _ = writeln!(
        w,
        "# output ({}/{}), which Caddy serves. Build from the monorepo root:",
        m.dir, m.output
    );
    let _ = writeln!(
        w,
        "#   docker buildx build -f {WEB_DOCKERFILE} --output type=local,dest={SITE_DIR} ."
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "ARG NODE_IMAGE={}", m.node_image);
    let _ = writeln!(w);
    let _ = writeln!(w, "FROM ${{NODE_IMAGE}} AS build");
    super::dockerfile::pnpm_setup(w, &m.pnpm_version);
    super::dockerfile::copy_manifests(w, &m.root_install_files, &m.patches, &m.install_dirs);
    let _ = writeln!(w, "RUN --mount=type=cache,id=pnpm-store,target={STORE} \\");
    let _ = writeln!(w, "    --mount=type=secret,id=npmrc,target=/app/.npmrc \\");
    let _ = writeln!(
        w,
        "    pnpm install --frozen-lockfile --filter \"{}...\" --ignore-scripts --store-dir {STORE}",
        m.name
    );
    for f in &m.root_build_files {
        let _ = writeln!(w, "COPY {f} {f}");
    }
    for d in &m.install_dirs {
        let _ = writeln!(w, "COPY {d} {d}");
    }
    build_env(w, m);
    // one RUN: the dependencies' builds, in order, then the app's (consecutive RUNs would be
    // hadolint's DL3059, and nothing is COPYed between them)
    let mut builds: Vec<String> = m
        .dep_builds
        .iter()
        .map(|dep| format!("pnpm --filter \"{dep}\" run build"))
        .collect();
    builds.push(format!(
        "pnpm --filter \"{}\" run {}",
        m.name,
        shell(&m.script)
    ));
    let _ = writeln!(w, "RUN {}", builds.join(" \\\n && "));
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Only the built files: exported to {SITE_DIR}, mounted read-only by caddy."
    );
    let _ = writeln!(w, "FROM scratch AS site");
    let _ = writeln!(w, "COPY --from=build /app/{}/{}/ /", m.dir, m.output);
    s
}

/// The public build variables as `ARG NAME="value"` of the build stage (the values in the
/// file: a plain `docker buildx build` gets them too). An ARG is in the environment of the
/// `RUN`s after it and never in the `site` stage, which holds only the output.
fn build_env(w: &mut String, m: &Web) {
    if m.env.vars.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "# Public build variables ([web.env], the web app's env example): the bundler inlines"
    );
    let _ = writeln!(
        w,
        "# them into the JavaScript every browser gets; never a secret."
    );
    for v in &m.env.vars {
        let _ = writeln!(w, "ARG {}={}", v.name, dockerfile_word(&v.value));
    }
}

/// The ignore file: nothing enters the web build's context unless the Dockerfile COPYs it.
pub fn render_ignore(m: &Web) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# Build context of {WEB_DOCKERFILE}: everything is excluded, then only what the"
    );
    let _ = writeln!(w, "# Dockerfile COPYs is let back in.");
    let _ = writeln!(w, "*");
    for f in m
        .root_install_files
        .iter()
        .chain(&m.patches)
        .chain(&m.root_build_files)
        .chain(&m.install_dirs)
    {
        let _ = writeln!(w, "!{f}");
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Never, at any depth, even inside the packages let in above (the build makes its output):"
    );
    for p in [
        "**/node_modules",
        &format!("{}/{}", m.dir, m.output),
        "**/dist",
        "**/.turbo",
        "**/*.tsbuildinfo",
        "**/.git",
        "**/.DS_Store",
    ] {
        let _ = writeln!(w, "{p}");
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# Secret files, at any depth and in any letter case (docs/verify.md lists them):"
    );
    for l in crate::secrets::ignore_lines() {
        let _ = writeln!(w, "{l}");
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "# Version control, docs and repository tooling:");
    for d in [".git", "docs", "coverage", ".github", "infra", "target"] {
        let _ = writeln!(w, "{d}");
    }
    if !m.outside.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(w, "# Workspace packages outside {}'s closure:", m.name);
        for d in &m.outside {
            let _ = writeln!(w, "{d}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use crate::generated::Generated;
    use crate::stack::{self, web};
    use crate::testutil::cipherbox_like;

    const WEB: &str = "[caddy]\ndomains = [\"api.example.com\"]\n[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n";

    fn text<'a>(files: &'a [Generated], path: &str) -> &'a str {
        &files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path} rendered"))
            .contents
    }

    #[test]
    fn without_web_there_is_no_web_file_site_or_mount() {
        let m = cipherbox_like();
        let files = crate::render::all(&m.model().expect("model").stack);
        assert!(!files.iter().any(|f| f.path.contains("web.Dockerfile")));
        assert!(!text(&files, stack::CADDYFILE).contains("/srv/web"));
        assert!(!text(&files, stack::COMPOSE).contains("/srv/web"));
    }

    #[test]
    fn web_adds_its_dockerfile_its_site_and_the_read_only_mount() {
        let m = cipherbox_like();
        m.file("infra/stack.toml", WEB);
        let model = m.model().expect("model");
        let files = crate::render::all(&model.stack);
        let df = text(&files, web::WEB_DOCKERFILE);
        // the workspace dependency is built before the app, then only the output is kept
        let dep = df
            .find("RUN pnpm --filter \"@cipherbox/crypto\" run build \\\n")
            .expect("dependency built");
        let app = df
            .find(" && pnpm --filter \"@cipherbox/web\" run build\n")
            .expect("app built");
        assert!(dep < app, "{df}");
        // in one RUN: hadolint's DL3059 flags consecutive RUN instructions
        let lines: Vec<&str> = df.lines().collect();
        assert!(
            !lines
                .windows(2)
                .any(|p| p[0].starts_with("RUN ") && p[1].starts_with("RUN ")),
            "{df}"
        );
        assert!(df.contains("pnpm install --frozen-lockfile --filter \"@cipherbox/web...\""));
        assert!(df.contains("FROM scratch AS site\nCOPY --from=build /app/apps/web/dist/ /\n"));
        assert!(
            !df.contains("apps/api"),
            "the API is outside the web app's closure"
        );
        let caddy = text(&files, stack::CADDYFILE);
        let site = caddy
            .split("\napp.example.com:443 {\n")
            .nth(1)
            .expect("the web site")
            .split("\n}\n")
            .next()
            .expect("its block");
        for line in [
            "\troot * /srv/web",
            "\t\ttry_files {path} /index.html",
            "\t\tfile_server",
            "\theader @hashed Cache-Control \"public, max-age=31536000, immutable\"",
            "\theader @app Cache-Control \"no-cache\"",
            "\t\tX-Frame-Options \"DENY\"",
        ] {
            assert!(site.contains(line), "{line:?} missing from:\n{site}");
        }
        assert!(!site.contains("reverse_proxy"), "{site}");
        assert!(caddy.contains("\napi.example.com:443 {\n"));
        assert!(text(&files, stack::COMPOSE).contains("      - \"./web:/srv/web:ro\"\n"));
        // the model carries the web domain (the API's web-origin keys are wired to it)
        assert_eq!(
            model.stack.web.as_ref().map(|w| w.domain.as_str()),
            Some("app.example.com")
        );
    }

    #[test]
    fn the_web_build_context_keeps_secrets_and_the_api_out() {
        let m = cipherbox_like();
        m.file("infra/stack.toml", WEB);
        let files = crate::render::all(&m.model().expect("model").stack);
        let ig = crate::parse::ignore::parse(text(&files, web::WEB_DOCKERIGNORE));
        for out in [
            "apps/web/.env",
            "apps/web/.env.local",
            "apps/web/node_modules/x.js",
            "apps/web/dist/index.html",
            "apps/web/certs/origin-key.pem",
            ".npmrc",
            "apps/api/src/main.ts",
            "infra/web/index.html",
        ] {
            assert!(ig.excluded(out), "{out} must stay out of the context");
        }
        for kept in [
            "apps/web/index.html",
            "apps/web/package.json",
            "packages/crypto/package.json",
            "pnpm-lock.yaml",
        ] {
            assert!(!ig.excluded(kept), "{kept} is needed by the build");
        }
    }

    #[test]
    fn a_missing_package_or_script_is_refused_naming_the_fix() {
        let m = cipherbox_like();
        m.file(
            "infra/stack.toml",
            "[web]\npackage = \"@cipherbox/site\"\ndomain = \"app.example.com\"\n",
        );
        let e = format!("{:#}", m.model().expect_err("no such package"));
        assert!(
            e.contains("`web.package` = \"@cipherbox/site\" is not a package"),
            "{e}"
        );
        m.file(
            "infra/stack.toml",
            "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\nscript = \"build:prod\"\n",
        );
        let e = format!("{:#}", m.model().expect_err("no such script"));
        assert!(
            e.contains("apps/web/package.json has no \"build:prod\" script"),
            "{e}"
        );
    }

    #[test]
    fn public_build_variables_are_args_of_the_build_stage_only() {
        let m = cipherbox_like();
        m.file("infra/stack.toml", WEB);
        m.file(
            "apps/web/.env.example",
            "VITE_API_URL=http://localhost:3000\nVITE_TITLE='a \"b\" $HOME'\nVITE_STRIPE_SECRET=\nDB_URL=x\n",
        );
        let files = crate::render::all(&m.model().expect("model").stack);
        let df = text(&files, web::WEB_DOCKERFILE);
        let args = "ARG VITE_API_URL=\"https://api.example.com\"\nARG VITE_TITLE=\"a \\\"b\\\" \\$HOME\"\nRUN pnpm";
        let at = df.find(args).unwrap_or_else(|| panic!("{df}"));
        // after every COPY of sources (a value change keeps the install cached), before the site
        assert!(
            at > df.find("COPY apps/web apps/web").expect("copied"),
            "{df}"
        );
        assert!(at < df.find("FROM scratch AS site").expect("site"), "{df}");
        assert!(!df.contains("STRIPE") && !df.contains("DB_URL"), "{df}");
        // without the API's domain the URL cannot be derived: refused with the fix
        m.file(
            "infra/stack.toml",
            "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n",
        );
        let e = format!("{:#}", m.model().expect_err("no value"));
        assert!(
            e.contains("VITE_API_URL (apps/web/.env.example:1)")
                && e.contains("config set web.env.VITE_API_URL"),
            "{e}"
        );
    }
}
