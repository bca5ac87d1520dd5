//! Bad inputs and faults, each run through the real binary on a real copy of the sample
//! monorepo: one clear message naming the fix, the documented exit code, and no file
//! changed or left half-written. `docs/faults.md` lists the same cases; a test keeps it true.

use std::path::Path;

use xtask_tests::*;

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
            message: "infra/stack.toml:2:1: unknown key `api.prot` (known: package, path, image, port, entry)",
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
            id: "unknown-command",
            setup: |_| {},
            args: &["deploy"],
            code: 2,
            message: "unknown command \"deploy\"",
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
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("cannot write"), "{}", r.stderr);
    assert!(
        r.stderr.contains("docker-compose.staging.yml"),
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
            "iteration {i}: compose file is neither old nor new"
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

/// docs/faults.md lists exactly the cases above, with the message each asserts.
#[test]
fn docs_table_lists_every_case() {
    let doc =
        std::fs::read_to_string(repo_root().join("docs/faults.md")).expect("docs/faults.md exists");
    let mut missing = Vec::new();
    for c in cases() {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", c.id)));
        match row {
            None => missing.push(format!("{}: no row", c.id)),
            Some(r) if !r.contains(&c.message.replace('|', "\\|")) => {
                missing.push(format!("{}: row lacks the message {:?}", c.id, c.message))
            }
            Some(r) if !r.contains(&format!("| {} |", c.code)) => {
                missing.push(format!("{}: row lacks exit code {}", c.id, c.code))
            }
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "docs/faults.md is out of date:\n{}",
        missing.join("\n")
    );
}
