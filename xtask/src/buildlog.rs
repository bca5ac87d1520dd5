//! BuildKit's `--progress=plain` output, parsed: every step (vertex) with its name, whether it
//! came from the cache, its output and its error. Pure. Used to show the failing step of a
//! build and, in `bench`, which steps re-ran.
//!
//! The format: `#N <name>` starts vertex N; `#N 1.234 <text>` is a line of its output;
//! `#N CACHED`, `#N DONE 1.2s`, `#N ERROR: ...`, `#N CANCELED` end it; other `#N <text>`
//! lines are progress notes (transfers, layer exports).

/// One BuildKit vertex.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Step {
    pub num: u32,
    pub name: String,
    pub cached: bool,
    pub done: bool,
    pub secs: Option<f64>,
    pub error: Option<String>,
    /// Lines the step's command printed (timestamps removed).
    pub output: Vec<String>,
}

impl Step {
    /// A Dockerfile instruction (`[stage i/n] RUN ...`), not BuildKit bookkeeping or a FROM.
    pub fn is_instruction(&self) -> bool {
        let Some(rest) = self.name.strip_prefix('[') else {
            return false;
        };
        let Some((label, instr)) = rest.split_once("] ") else {
            return false;
        };
        label != "internal" && label.contains('/') && !instr.starts_with("FROM ")
    }

    /// Ran for real (not served from the cache).
    pub fn ran(&self) -> bool {
        !self.cached && (self.done || self.error.as_deref().is_some_and(|e| e != "canceled"))
    }
}

fn is_timestamp(s: &str) -> bool {
    !s.is_empty() && s.contains('.') && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// A plain progress line `#<vertex> <text>` as (vertex, text); `None` for any other line.
fn vertex_line(line: &str) -> Option<(u32, &str)> {
    let (num, text) = line.strip_prefix('#')?.split_once(' ')?;
    Some((num.parse().ok()?, text))
}

/// Parses plain progress lines into steps, in order of first appearance.
pub fn parse<S: AsRef<str>>(lines: &[S]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in lines {
        let Some((num, text)) = vertex_line(line.as_ref()) else {
            continue;
        };
        let idx = match steps.iter().position(|s| s.num == num) {
            Some(i) => i,
            None => {
                steps.push(Step {
                    num,
                    name: text.to_string(),
                    ..Step::default()
                });
                continue;
            }
        };
        let s = &mut steps[idx];
        if text == s.name {
            continue; // the header repeated when output of parallel steps interleaves
        }
        if text == "CACHED" {
            s.cached = true;
        } else if let Some(t) = text.strip_prefix("DONE") {
            s.done = true;
            s.secs = t.trim().trim_end_matches('s').parse().ok();
        } else if let Some(e) = text
            .strip_prefix("ERROR:")
            .or_else(|| text.strip_prefix("ERROR "))
        {
            s.error = Some(e.trim().to_string());
        } else if text == "CANCELED" {
            s.error.get_or_insert_with(|| "canceled".into());
        } else {
            match text.split_once(' ') {
                Some((ts, out)) if is_timestamp(ts) => s.output.push(out.to_string()),
                None if is_timestamp(text) => s.output.push(String::new()),
                _ => {}
            }
        }
    }
    steps
}

/// The step that failed (the first with an error that is not a cancellation).
pub fn failed(steps: &[Step]) -> Option<&Step> {
    steps
        .iter()
        .find(|s| s.error.as_deref().is_some_and(|e| e != "canceled"))
}

/// Instruction steps that ran (were not cached).
pub fn reran(steps: &[Step]) -> Vec<&Step> {
    steps
        .iter()
        .filter(|s| s.is_instruction() && s.ran())
        .collect()
}

/// A size as BuildKit prints it (`2B`, `15.49kB`, `1.2MB`, `3GiB`) in bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "B" | "" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult).round() as u64)
}

/// The bytes of build context BuildKit sent: the last `transferring context: N` of the
/// `[internal] load build context` step (BuildKit prints 4 significant digits).
pub fn context_bytes<S: AsRef<str>>(lines: &[S]) -> Option<u64> {
    let mut vertex: Option<u32> = None;
    let mut bytes = None;
    for line in lines {
        let Some((num, text)) = vertex_line(line.as_ref()) else {
            continue;
        };
        if text == "[internal] load build context" {
            vertex = Some(num);
        } else if vertex == Some(num) {
            if let Some(t) = text.strip_prefix("transferring context:") {
                if let Some(size) = t.split_whitespace().next().and_then(parse_size) {
                    bytes = Some(size);
                }
            }
        }
    }
    bytes
}

/// Does this step install dependencies (`pnpm install`/`i`/`deploy`/`fetch`, `npm ci`,
/// `npm install`, `yarn install`)?
pub fn is_install(step: &Step) -> bool {
    if !step.is_instruction() {
        return false;
    }
    let Some((_, instr)) = step.name.split_once("] ") else {
        return false;
    };
    let Some(cmd) = instr.strip_prefix("RUN ") else {
        return false;
    };
    let words: Vec<&str> = cmd
        .split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|')
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).any(|w| {
        matches!(w[0], "pnpm" | "npm" | "yarn")
            && matches!(w[1], "install" | "i" | "ci" | "deploy" | "fetch" | "add")
    }) || words.iter().enumerate().any(|(i, w)| {
        // `pnpm --filter x install`, `pnpm --filter x deploy ...`
        *w == "pnpm"
            && words[i + 1..]
                .iter()
                .take(6)
                .any(|x| matches!(*x, "install" | "deploy"))
    })
}

/// `ERROR: failed to solve: ...`, buildx's one-line verdict, if present.
pub fn verdict<S: AsRef<str>>(lines: &[S]) -> Option<String> {
    lines
        .iter()
        .rev()
        .map(|l| l.as_ref())
        .find(|l| l.starts_with("ERROR:") || l.starts_with("error:"))
        .map(str::to_string)
}

/// A build step that failed to download a binary from a host other than the package
/// registry (an engine, a prebuilt native module): what, from where, and the setting to use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DownloadFailure {
    /// The package whose binary it is (`prisma`, `sharp`, `bcrypt`…).
    pub package: String,
    /// The host it tried.
    pub host: String,
    /// What kind of host that is (not a package registry).
    pub host_kind: String,
    /// The setting that points the download elsewhere or makes it unnecessary.
    pub setting: String,
    /// The log line that showed it.
    pub line: String,
}

impl DownloadFailure {
    /// One sentence for a build's failure report.
    pub fn message(&self) -> String {
        format!(
            "download: {} could not download its binary from {} ({}), which this build cannot reach: {}",
            self.package, self.host, self.host_kind, self.setting
        )
    }
}

/// Words that mark a line as a failed download (with a URL on it or near it).
const FAILED: &[&str] = &[
    "error",
    "fail",
    "enotfound",
    "econnrefused",
    "econnreset",
    "etimedout",
    "eai_again",
    "getaddrinfo",
    "tried to download",
    "could not",
    "cannot download",
    "unable to",
    "403",
    "404",
];

/// The host of the first `http(s)://` URL on `line`.
fn url_host(line: &str) -> Option<(String, String)> {
    let at = line.find("https://").or_else(|| line.find("http://"))?;
    let url: String = line[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !"\"'`)>,".contains(*c))
        .collect();
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', ':']).next()?.to_ascii_lowercase();
    (!host.is_empty()).then_some((host, url))
}

/// The npm package a prebuilt-binary URL or a node-pre-gyp/prebuild-install line names.
fn native_package(line: &str, url: &str) -> String {
    let low = line.to_ascii_lowercase();
    for (repo, pkg) in [
        ("node.bcrypt.js", "bcrypt"),
        ("node-argon2", "argon2"),
        ("sharp-libvips", "sharp"),
        ("lovell/sharp", "sharp"),
        ("better-sqlite3", "better-sqlite3"),
        ("node-canvas", "canvas"),
    ] {
        if url.contains(repo) || low.contains(repo) {
            return pkg.to_string();
        }
    }
    // `Pre-built binaries not found for bcrypt@5.1.1 and node@22…`
    if let Some(at) = line.find(" for ") {
        let w = line[at + 5..].split_whitespace().next().unwrap_or("");
        let name = w.rsplit_once('@').map(|(n, _)| n).unwrap_or(w);
        if !name.is_empty() && name != "node" {
            return name.to_string();
        }
    }
    // github.com/<owner>/<repo>/releases/…
    url.split('/')
        .nth(4)
        .map(|r| {
            r.trim_start_matches("node-")
                .trim_end_matches(".js")
                .to_string()
        })
        .unwrap_or_else(|| "a native module".into())
}

fn var_of(package: &str) -> String {
    package
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What the failed download was, from a build's log (or a failed step's output): Prisma's
/// engines (`binaries.prisma.sh`), sharp's libvips (GitHub releases), node-pre-gyp and
/// prebuild-install binaries; `None` when no line shows a failed download from such a host.
pub fn download_failure<S: AsRef<str>>(lines: &[S]) -> Option<DownloadFailure> {
    for (i, l) in lines.iter().enumerate() {
        let line = l.as_ref();
        let Some((host, url)) = url_host(line) else {
            continue;
        };
        let near = |w: &str| {
            lines[i.saturating_sub(2)..(i + 3).min(lines.len())]
                .iter()
                .any(|x| x.as_ref().to_ascii_lowercase().contains(w))
        };
        if !FAILED.iter().any(|w| near(w)) {
            continue;
        }
        let low = line.to_ascii_lowercase();
        let (package, host_kind, setting) = if host.ends_with("prisma.sh") {
            (
                "prisma".to_string(),
                "Prisma's engine host".to_string(),
                "set PRISMA_ENGINES_MIRROR to a mirror the build reaches (a build ARG/ENV of the \
                 generate step), or provide the engines and point PRISMA_QUERY_ENGINE_LIBRARY / \
                 PRISMA_SCHEMA_ENGINE_BINARY at them; on an Alpine (musl) base the schema's \
                 generator block needs binaryTargets = [\"native\", \"linux-musl-openssl-3.0.x\"]"
                    .to_string(),
            )
        } else if low.contains("sharp") || url.contains("sharp") {
            (
                "sharp".to_string(),
                format!("{} (sharp's prebuilt libvips)", kind_of(&host)),
                "install sharp's prebuilt binaries from the registry instead: sharp ≥ 0.33 ships \
                 them as @img/sharp-* packages, chosen by the install's platform (pnpm-workspace.yaml \
                 `supportedArchitectures: { os: [linux], cpu: [x64], libc: [musl] }` for \
                 node:*-alpine, or npm's `--os=linux --cpu=x64 --libc=musl`); older sharp reads \
                 npm_config_sharp_libvips_binary_host"
                    .to_string(),
            )
        } else if host == "registry.npmjs.org" || host.ends_with("npmjs.org") {
            continue;
        } else if [
            "node-pre-gyp",
            "prebuild-install",
            "prebuilt",
            "pre-built",
            "/releases/",
        ]
        .iter()
        .any(|w| low.contains(w) || url.contains(w))
        {
            let pkg = native_package(line, &url);
            let var = var_of(&pkg);
            (
                pkg.clone(),
                format!("{} (a prebuilt native binary)", kind_of(&host)),
                format!(
                    "point the download at a reachable mirror with npm_config_{var}_binary_host_mirror \
                     (node-pre-gyp) or npm_config_{var}_binary_host (prebuild-install), or build it \
                     from source in the image (python3, make and g++ in the build stage; the install \
                     runs with --ignore-scripts, so rebuild it: `pnpm rebuild {pkg}`)"
                ),
            )
        } else {
            continue;
        };
        return Some(DownloadFailure {
            package,
            host,
            host_kind,
            setting,
            line: line.trim().to_string(),
        });
    }
    None
}

/// The kind of a download host, for the message.
fn kind_of(host: &str) -> String {
    match host {
        "github.com" | "objects.githubusercontent.com" | "release-assets.githubusercontent.com" => {
            "GitHub releases".into()
        }
        h if h.contains("amazonaws.com") => "an S3 bucket".into(),
        _ => "the package's own download host".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "#0 building with \"default\" instance using docker driver

#1 [internal] load build definition from api.Dockerfile
#1 transferring dockerfile: 2.89kB done
#1 DONE 0.0s

#4 [base 1/3] FROM xtask.local/node:22-standin
#4 DONE 0.0s

#7 [base 2/3] RUN corepack enable && corepack prepare pnpm@10.34.9 --activate
#7 CACHED

#14 [build 3/4] COPY apps/api apps/api
#14 DONE 0.2s

#15 [build 4/4] RUN pnpm --filter \"@cipherbox/api...\" run build
#15 1.148 Scope: 2 of 3 workspace projects
#15 5.126 apps/api build: src/main.ts(245,7): error TS2322: Type 'string' is not assignable to type 'number'.
#15 [build 4/4] RUN pnpm --filter \"@cipherbox/api...\" run build
#15 5.183 Exit status 2
#15 ERROR: executor failed running [/bin/sh -c pnpm --filter \"@cipherbox/api...\" run build]: exit code: 2

#16 [prod-deps 1/1] RUN pnpm install --prod
#16 CANCELED
------
 > [build 4/4] RUN pnpm --filter \"@cipherbox/api...\" run build:
------
ERROR: failed to solve: executor failed running [/bin/sh -c pnpm]: exit code: 2";

    #[test]
    fn steps_states_and_output() {
        let lines: Vec<&str> = LOG.lines().collect();
        let steps = parse(&lines);
        assert_eq!(steps.len(), 7);
        assert!(!steps[0].is_instruction(), "#0 building with");
        assert!(!steps[1].is_instruction(), "internal");
        assert!(!steps[2].is_instruction(), "FROM");
        assert!(steps[3].is_instruction() && steps[3].cached && !steps[3].ran());
        assert!(steps[4].ran() && steps[4].secs == Some(0.2));
        let f = failed(&steps).expect("a failed step");
        assert_eq!(
            f.name,
            "[build 4/4] RUN pnpm --filter \"@cipherbox/api...\" run build"
        );
        assert_eq!(f.output.len(), 3);
        assert!(f.output[1].contains("error TS2322"));
        assert_eq!(steps[6].error.as_deref(), Some("canceled"));
        let names: Vec<&str> = reran(&steps).iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "[build 3/4] COPY apps/api apps/api",
                "[build 4/4] RUN pnpm --filter \"@cipherbox/api...\" run build"
            ]
        );
        assert!(verdict(&lines)
            .expect("verdict")
            .starts_with("ERROR: failed to solve"));
    }

    #[test]
    fn sizes_and_context_bytes() {
        assert_eq!(parse_size("2B"), Some(2));
        assert_eq!(parse_size("15.49kB"), Some(15_490));
        assert_eq!(parse_size("60.06MB"), Some(60_060_000));
        assert_eq!(parse_size("1.5GB"), Some(1_500_000_000));
        assert_eq!(parse_size("1KiB"), Some(1024));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("kB"), None);
        let log = "#2 [internal] load .dockerignore
#2 transferring context: 2B done
#2 DONE 0.0s
#5 [internal] load build context
#5 transferring context: 12.5MB 2.0s
#6 [base 1/3] FROM x
#5 transferring context: 60.06MB 4.1s done
#5 DONE 4.2s";
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(context_bytes(&lines), Some(60_060_000));
        assert_eq!(context_bytes(&lines[..3]), None);
    }

    #[test]
    fn install_steps() {
        let step = |name: &str| Step {
            name: name.into(),
            ..Step::default()
        };
        assert!(is_install(&step("[deps 1/1] RUN --mount=type=cache,id=s,target=/s     pnpm install --frozen-lockfile --filter \"@a/api...\"")));
        assert!(is_install(&step(
            "[build 5/7] RUN pnpm install --frozen-lockfile"
        )));
        assert!(is_install(&step(
            "[build 7/7] RUN pnpm --filter \"@a/api\" deploy --prod --legacy /deploy && cp -r x y"
        )));
        assert!(is_install(&step("[b 2/3] RUN npm ci --omit=dev")));
        assert!(!is_install(&step(
            "[build 5/5] RUN pnpm --filter \"@a/api\" run build"
        )));
        assert!(!is_install(&step("[build 2/5] COPY pnpm-lock.yaml ./")));
        assert!(!is_install(&step("[internal] load build context")));
    }

    #[test]
    fn download_failures_name_the_package_the_host_kind_and_the_setting() {
        let prisma = [
            "#14 3.2 Prisma schema loaded from prisma/schema.prisma",
            "#14 4.1 Error: request to https://binaries.prisma.sh/all_commits/5dbef10b/linux-musl-openssl-3.0.x/libquery_engine.so.node.gz.sha256 failed, reason: getaddrinfo ENOTFOUND binaries.prisma.sh",
        ];
        let d = download_failure(&prisma).expect("prisma");
        assert_eq!(
            (d.package.as_str(), d.host.as_str(), d.host_kind.as_str()),
            ("prisma", "binaries.prisma.sh", "Prisma's engine host")
        );
        assert!(d.setting.contains("PRISMA_ENGINES_MIRROR"), "{d:?}");
        assert!(d.setting.contains("linux-musl-openssl-3.0.x"), "{d:?}");
        assert!(
            d.message()
                .starts_with("download: prisma could not download"),
            "{}",
            d.message()
        );

        let sharp = [
            "sharp: Downloading https://github.com/lovell/sharp-libvips/releases/download/v8.14.5/libvips-8.14.5-linuxmusl-x64.tar.br",
            "sharp: Installation error: connect ETIMEDOUT 140.82.121.4:443",
        ];
        let d = download_failure(&sharp).expect("sharp");
        assert_eq!(
            (d.package.as_str(), d.host.as_str()),
            ("sharp", "github.com")
        );
        assert!(d.host_kind.starts_with("GitHub releases"), "{d:?}");
        assert!(d.setting.contains("--libc=musl"), "{d:?}");

        let bcrypt = [
            "node-pre-gyp WARN Tried to download(undefined): https://github.com/kelektiv/node.bcrypt.js/releases/download/v5.1.1/bcrypt_lib-v5.1.1-napi-v3-linux-x64-musl.tar.gz",
            "node-pre-gyp WARN Pre-built binaries not found for bcrypt@5.1.1 and node@22.11.0 (node-v127 ABI, musl) (falling back to source compile with node-gyp)",
        ];
        let d = download_failure(&bcrypt).expect("bcrypt");
        assert_eq!(d.package, "bcrypt");
        assert!(
            d.setting.contains("npm_config_bcrypt_binary_host_mirror"),
            "{d:?}"
        );

        let argon2 = ["prebuild-install warn install request to https://github.com/ranisalt/node-argon2/releases/download/v0.31.2/argon2-v0.31.2-napi-v3-linux-x64-musl.tar.gz failed, reason: connect ECONNREFUSED"];
        assert_eq!(download_failure(&argon2).expect("argon2").package, "argon2");

        // a registry URL, or a URL on a line that reports no failure, is no such download
        for quiet in [
            &["ERR_PNPM_FETCH_404 GET https://registry.npmjs.org/nope: Not Found - 404"][..],
            &["#9 0.8 see https://pris.ly/d/prisma-schema for the schema"][..],
            &["#9 1.0 done in 2s"][..],
        ] {
            assert_eq!(download_failure(quiet), None, "{quiet:?}");
        }
    }
}
