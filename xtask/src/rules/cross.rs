//! Cross-file rules: what no single-file linter can see.

use crate::glob::clean;
use serde_yaml::Value;

use super::compose::k;
use super::{caddy::upstreams, dockerfile::exposed_ports, host_port, Input, Out, Rule};
use crate::glob;
use crate::parse::dockerfile::{Dockerfile, Instruction, Stage};
use crate::parse::ignore::IgnoreFile;
use crate::stack::{self, CADDYFILE, COMPOSE, DOCKERFILE};

pub const RULES: &[Rule] = &[
    Rule {
        id: "cross/caddy-upstream",
        file: CADDYFILE,
        rationale: "Caddy proxies to a compose service, on the port the Dockerfile EXPOSEs",
        check: caddy_upstream,
    },
    Rule {
        id: "cross/copy-sources",
        file: DOCKERFILE,
        rationale: "every COPY source from the context exists and is not excluded by the ignore file",
        check: copy_sources,
    },
    Rule {
        id: "cross/install-manifests",
        file: DOCKERFILE,
        rationale: "the filtered frozen install sees every manifest of the API's closure (and the lockfile) COPYed before it",
        check: install_manifests,
    },
    Rule {
        id: "cross/api-image-tag",
        file: COMPOSE,
        rationale: "compose runs exactly the image build-image tags: <registry>/<owner>/<api.image>:${TAG:-<tag>}",
        check: api_image_tag,
    },
    Rule {
        id: "cross/caddyfile-mount",
        file: COMPOSE,
        rationale: "the Caddyfile compose mounts into caddy is infra/Caddyfile, the file verify checks",
        check: caddyfile_mount,
    },
];

fn caddy_upstream(i: &Input, o: &mut Out) {
    let (Some(cf), Some(c)) = (&i.caddy, &i.compose) else {
        return;
    };
    let services: Vec<String> = c.services().into_iter().map(|(n, _)| n).collect();
    let exposed = i.dockerfile.as_ref().map(exposed_ports).unwrap_or_default();
    let (ports, from) = if exposed.is_empty() {
        (vec![i.model.config.api.port], "api.port")
    } else {
        (exposed, "the Dockerfile's EXPOSE")
    };
    for site in cf.sites.iter().filter(|s| !s.snippet) {
        for rp in site.find("reverse_proxy") {
            for u in upstreams(rp) {
                if u.starts_with('{') {
                    continue;
                }
                let (host, port) = host_port(&u);
                if super::is_local_host(&host) {
                    continue; // caddy/no-localhost-upstream
                }
                if !services.contains(&host) {
                    o.at(
                        CADDYFILE,
                        rp.line,
                        format!(
                            "upstream `{u}`: `{host}` is not a service in {COMPOSE} ({})",
                            services.join(", ")
                        ),
                    );
                } else if let Some(p) = port {
                    if !ports.contains(&p) {
                        let want: Vec<String> = ports.iter().map(u16::to_string).collect();
                        o.at(CADDYFILE, rp.line, format!("upstream `{u}` uses port {p}, but {from} is {}; write `reverse_proxy {host}:{}`", want.join(", "), want[0]));
                    }
                }
            }
        }
    }
}

/// COPY/ADD instructions from the build context (no `--from`), with their stage.
fn context_copies(df: &Dockerfile) -> Vec<(&Stage, usize, &Instruction)> {
    let mut out = Vec::new();
    for s in &df.stages {
        for n in s.body.clone() {
            let ins = &df.instructions[n];
            if (ins.keyword == "COPY" || ins.keyword == "ADD") && ins.flag("from").is_none() {
                out.push((s, n, ins));
            }
        }
    }
    out
}

/// The sources of a COPY (the last word is the destination), variables substituted.
fn sources(df: &Dockerfile, s: &Stage, n: usize, ins: &Instruction) -> Vec<(String, String)> {
    let ws = ins.words();
    if ws.len() < 2 {
        return Vec::new();
    }
    ws[..ws.len() - 1]
        .iter()
        .filter(|w| !w.contains("://"))
        .map(|w| {
            let lookup = |v: &str| df.stage_var(s, n, v);
            (
                w.clone(),
                clean(&crate::parse::dockerfile::expand(w, &lookup).0),
            )
        })
        .collect()
}

/// Files under `dir` (relative to the root), skipping dependency and VCS directories.
fn walk(root: &std::path::Path, dir: &str, out: &mut Vec<String>, budget: &mut usize) {
    let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let name = e.file_name().to_string_lossy().to_string();
        if matches!(name.as_str(), "node_modules" | ".git" | "target") {
            continue;
        }
        let rel = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(root, &rel, out, budget);
        } else {
            out.push(rel);
        }
    }
}

fn copy_sources(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let empty = IgnoreFile::default();
    let ign = i.ignore.as_ref().unwrap_or(&empty);
    let why = |line: Option<usize>| {
        let l = line.unwrap_or(1);
        let pat = ign
            .patterns
            .iter()
            .find(|p| p.line == l)
            .map(|p| p.glob.as_str())
            .unwrap_or("?");
        format!("{}:{l} (`{pat}`)", stack::DOCKERIGNORE)
    };
    for (s, n, ins) in context_copies(df) {
        for (written, src) in sources(df, s, n, ins) {
            let line = ins.line_of(&written);
            if src.is_empty() {
                continue; // `.`: the whole context
            }
            if glob::is_glob(&src) {
                let base: Vec<&str> = src
                    .split('/')
                    .take_while(|seg| !glob::is_glob(seg))
                    .collect();
                let mut files = Vec::new();
                walk(&i.root, &base.join("/"), &mut files, &mut 20_000);
                let hits: Vec<&String> = files.iter().filter(|f| glob::matches(&src, f)).collect();
                if hits.is_empty() {
                    o.at(
                        DOCKERFILE,
                        line,
                        format!("COPY source `{written}` matches no file in the monorepo"),
                    );
                } else if hits.iter().all(|f| ign.excluded(f)) {
                    o.at(
                        DOCKERFILE,
                        line,
                        format!(
                            "every file COPY source `{written}` matches is excluded by {}",
                            why(ign.decide(hits[0]).line)
                        ),
                    );
                }
                continue;
            }
            let path = i.root.join(&src);
            if !path.exists() {
                o.at(
                    DOCKERFILE,
                    line,
                    format!("COPY source `{written}` does not exist in the monorepo"),
                );
                continue;
            }
            let d = ign.decide(&src);
            if d.excluded {
                o.at(DOCKERFILE, line, format!("COPY source `{written}` is excluded from the build context by {}; the build fails", why(d.line)));
            } else if path.is_dir() && path.join("package.json").is_file() {
                let d = ign.decide(&format!("{src}/package.json"));
                if d.excluded {
                    o.at(
                        DOCKERFILE,
                        line,
                        format!(
                            "`{src}/package.json` inside COPY source `{written}` is excluded by {}",
                            why(d.line)
                        ),
                    );
                }
            }
        }
    }
}

/// Does a COPY source (cleaned) bring `file` (relative to the root)?
fn covers(src: &str, file: &str) -> bool {
    src.is_empty()
        || src == file
        || file.starts_with(&format!("{src}/"))
        || (glob::is_glob(src) && glob::matches(src, file))
}

fn install_manifests(i: &Input, o: &mut Out) {
    let Some(df) = &i.dockerfile else { return };
    let img = &i.model.stack.image;
    let mut needed: Vec<String> = img.root_install_files.clone();
    needed.extend(img.patches.iter().cloned());
    needed.extend(img.install_dirs.iter().map(|d| format!("{d}/package.json")));
    for s in &df.stages {
        for n in s.body.clone() {
            let ins = &df.instructions[n];
            if ins.keyword != "RUN" || !super::dockerfile::runs_pnpm_install(ins) {
                continue;
            }
            // COPYs from the context in this stage before the install, and in its ancestors
            let mut copied: Vec<String> = Vec::new();
            let mut chain: Vec<(&Stage, usize)> = vec![(s, n)];
            let mut cur = s;
            while let Some(p) = df.parent(cur) {
                chain.push((p, p.body.end));
                cur = p;
            }
            for (st, upto) in chain {
                for m in st.body.start..upto {
                    let c = &df.instructions[m];
                    if (c.keyword == "COPY" || c.keyword == "ADD") && c.flag("from").is_none() {
                        copied.extend(sources(df, st, m, c).into_iter().map(|(_, s)| s));
                    }
                }
            }
            for f in &needed {
                if !copied.iter().any(|s| covers(s, f)) {
                    o.at(
                        DOCKERFILE,
                        ins.line_of("install"),
                        format!("`{f}` is not COPYed before this `pnpm install --frozen-lockfile`; the filtered install needs every manifest of {}'s closure", img.api_name),
                    );
                }
            }
        }
    }
}

fn api_image_tag(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let Some(image) = c
        .service("api")
        .and_then(|s| s.get("image"))
        .and_then(Value::as_str)
    else {
        return;
    };
    let want = stack::published_image(&i.model.config, &i.model.config.api.image);
    if image != want {
        o.at(
            COMPOSE,
            c.line(&[k("services"), k("api"), k("image")]),
            format!("compose runs `{image}`, but build-image tags and pushes `{want}` (project.registry/owner, api.image, project.tag)"),
        );
    }
}

fn caddyfile_mount(i: &Input, o: &mut Out) {
    let Some(c) = &i.compose else { return };
    let target = &i.model.stack.caddy.config_path;
    let Some(m) = c.mounts("caddy").into_iter().find(|m| m.target == *target) else {
        return;
    };
    let Some(src) = &m.source else { return };
    let compose_dir = std::path::Path::new(COMPOSE)
        .parent()
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default();
    let resolved = if src.starts_with('/') {
        src.clone()
    } else {
        clean(&format!("{compose_dir}/{src}"))
    };
    if resolved != CADDYFILE {
        o.at(
            COMPOSE,
            c.line(&m.path),
            format!("caddy mounts `{src}` (= {resolved}) as its config, but the Caddyfile is {CADDYFILE}; mount `./Caddyfile`"),
        );
    } else if !i.root.join(CADDYFILE).is_file() {
        o.at(
            COMPOSE,
            c.line(&m.path),
            format!("caddy mounts {CADDYFILE}, which does not exist; run `cargo xtask gen`"),
        );
    }
}
