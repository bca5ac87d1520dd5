//! Credentials found by their *content*, whatever the file is called: a deny list by name
//! ([`crate::secrets`]) always misses one (`prod-creds.json`, `deploy.key.txt`). One table of
//! shapes serves two scans that must agree: the build context's files before a build
//! ([`scan`], `context/credentials`) and the built image's files (the node program
//! [`scan_js`], `image/no-credentials`). A hit names the file, its line and the kind, never
//! the value or the line's text.
//!
//! The shapes are the common ones with a fixed, recognisable form (PEM private keys, cloud
//! access keys, service-account JSON, the token formats of GitHub, GitLab, Slack, Stripe,
//! npm), written in the subset of regular-expression syntax Rust's `regex` (bytes, Unicode
//! off: linear time) and JavaScript read alike.

use std::sync::OnceLock;

/// One kind of credential: every pattern in `all` must match somewhere in the file, by a
/// match that does not contain `unless` (documentation's placeholder keys: `…EXAMPLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub id: &'static str,
    pub what: &'static str,
    pub all: &'static [&'static str],
    pub unless: &'static str,
}

const fn k(id: &'static str, what: &'static str, all: &'static [&'static str]) -> Kind {
    Kind {
        id,
        what,
        all,
        unless: "",
    }
}

const fn k_unless(
    id: &'static str,
    what: &'static str,
    all: &'static [&'static str],
    unless: &'static str,
) -> Kind {
    Kind {
        id,
        what,
        all,
        unless,
    }
}

/// Every credential shape, in the order hits are reported.
pub const KINDS: &[Kind] = &[
    k(
        "pem-private-key",
        "a PEM private key (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted)",
        // the header followed by key material (after PEM headers such as `Proc-Type:`, and
        // newlines written as `\n` in a JSON string): code checking for the header is no key
        &[r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:\s|\\[rn])+(?:[A-Za-z-]+: [^\n]*(?:\s|\\[rn])+)*[A-Za-z0-9+/]{20,}"],
    ),
    k(
        "pgp-private-key",
        "a PGP private key block",
        &[r"-----BEGIN PGP PRIVATE KEY BLOCK-----(?:\s|\\[rn])+(?:[A-Za-z-]+: [^\n]*(?:\s|\\[rn])+)*[A-Za-z0-9+/]{20,}"],
    ),
    k_unless(
        "aws-access-key-id",
        "an AWS access key id (AKIA/ASIA...; AWS's documented AKIA...EXAMPLE is none)",
        &["(?:^|[^0-9A-Za-z])(?:AKIA|ASIA)[0-9A-Z]{16}(?:[^0-9A-Za-z]|$)"],
        "EXAMPLE",
    ),
    k_unless(
        "aws-secret-access-key",
        "an AWS secret access key assigned by name (AWS's documented ...EXAMPLEKEY is none)",
        &["(?i:aws_?secret_?access_?key)[\"']?\\s*[:=]\\s*[\"']?[A-Za-z0-9/+]{40}(?:[^A-Za-z0-9/+]|$)"],
        "EXAMPLE",
    ),
    k(
        "gcp-service-account",
        "a Google service-account key (JSON with type service_account and a private_key)",
        &[
            "\"type\"\\s*:\\s*\"service_account\"",
            "\"private_key\"\\s*:\\s*\"",
        ],
    ),
    k(
        "github-token",
        "a GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)",
        &["(?:^|[^0-9A-Za-z_])gh[pousr]_[A-Za-z0-9]{36}(?:[^A-Za-z0-9]|$)"],
    ),
    k(
        "github-fine-grained-token",
        "a GitHub fine-grained personal access token (github_pat_)",
        &["github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"],
    ),
    k(
        "gitlab-token",
        "a GitLab personal access token (glpat-)",
        &["glpat-[A-Za-z0-9_-]{20,}"],
    ),
    k(
        "slack-token",
        "a Slack token (xoxb-, xoxa-, xoxp-, xoxr-)",
        &["xox[abpr]-[0-9]{6,}-[0-9A-Za-z-]{6,}"],
    ),
    k(
        "stripe-live-key",
        "a Stripe live secret or restricted key (sk_live_, rk_live_)",
        &["[sr]k_live_[0-9A-Za-z]{20,}"],
    ),
    k(
        "npm-token",
        "an npm access token (npm_)",
        &["(?:^|[^0-9A-Za-z_])npm_[A-Za-z0-9]{36}(?:[^A-Za-z0-9]|$)"],
    ),
];

/// The most one file may hold to be read by a scan: larger files are bundles, images,
/// archives; a key or token file is small.
pub const MAX_FILE: u64 = 1 << 20;
/// The most a scan reads in all (a huge tree is not a reason to hang); said when reached.
pub const MAX_TOTAL: u64 = 128 << 20;

/// One credential found: the kind and the 1-based line of its first match. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    pub kind: &'static str,
    pub line: usize,
}

fn compiled() -> &'static Vec<Vec<regex::bytes::Regex>> {
    static RE: OnceLock<Vec<Vec<regex::bytes::Regex>>> = OnceLock::new();
    RE.get_or_init(|| {
        KINDS
            .iter()
            .map(|kind| {
                kind.all
                    .iter()
                    .map(|p| {
                        regex::bytes::RegexBuilder::new(p)
                            .unicode(false)
                            .build()
                            // the table is constant; its unit test compiles every pattern
                            .unwrap_or_else(|e| panic!("credscan pattern {p:?}: {e}"))
                    })
                    .collect()
            })
            .collect()
    })
}

/// The credentials in `bytes` (a file's content), each kind once, at its first line.
pub fn scan(bytes: &[u8]) -> Vec<Hit> {
    let mut out = Vec::new();
    for (kind, res) in KINDS.iter().zip(compiled()) {
        let mut first: Option<usize> = None;
        let mut all = true;
        for re in res {
            let unless = kind.unless.as_bytes();
            let counted = re.find_iter(bytes).find(|m| {
                unless.is_empty() || !m.as_bytes().windows(unless.len()).any(|w| w == unless)
            });
            match counted {
                Some(m) => {
                    let at = m.start();
                    first = Some(first.map_or(at, |f| f.min(at)));
                }
                None => {
                    all = false;
                    break;
                }
            }
        }
        if let (true, Some(at)) = (all, first) {
            let line = 1 + bytes[..at].iter().filter(|b| **b == b'\n').count();
            out.push(Hit {
                kind: kind.id,
                line,
            });
        }
    }
    out
}

/// The image scan, run as root in the image as `node -e`: walks `roots` (symbolic links
/// and every `node_modules` left out: registry packages ship example keys in their tests),
/// reads files of at most [`MAX_FILE`] bytes, [`MAX_TOTAL`] in all, and prints one JSON
/// object: `{"hits":[{"path","kinds":[id]}],"files":n,"bytes":n,"skipped_big":n,
/// "truncated":bool}`. Built from [`KINDS`]; prints no content.
pub fn scan_js(roots: &[&str]) -> String {
    let kinds: Vec<String> = KINDS
        .iter()
        .map(|k| {
            let res: Vec<String> = k
                .all
                .iter()
                .map(|p| format!("new RegExp({},'g')", js_string(&js_pattern(p))))
                .collect();
            format!(
                "[{},[{}],{}]",
                js_string(k.id),
                res.join(","),
                js_string(k.unless)
            )
        })
        .collect();
    let roots: Vec<String> = roots.iter().map(|r| js_string(r)).collect();
    format!(
        r#"const fs=require('fs'),path=require('path');
const K=[{kinds}],MF={MAX_FILE},MT={MAX_TOTAL},hits=[];let files=0,bytes=0,big=0,trunc=false;
function look(p,st){{if(st.size>MF){{big++;return}}if(bytes+st.size>MT){{trunc=true;return}}
let t;try{{t=fs.readFileSync(p).toString('latin1')}}catch(e){{return}}files++;bytes+=t.length;
const ks=K.filter(([id,rs,u])=>rs.every(r=>(t.match(r)||[]).some(m=>!u||!m.includes(u)))).map(([id])=>id);if(ks.length)hits.push({{path:p,kinds:ks}})}}
function walk(d){{let es;try{{es=fs.readdirSync(d,{{withFileTypes:true}})}}catch(e){{return}}
for(const e of es){{if(trunc||hits.length>=200)return;const p=path.join(d,e.name);
if(e.isSymbolicLink()||e.name==='node_modules')continue;
if(e.isDirectory())walk(p);else if(e.isFile()){{let st;try{{st=fs.statSync(p)}}catch(x){{continue}}look(p,st)}}}}}}
for(const r of [{roots}])walk(r);
console.log(JSON.stringify({{hits,files,bytes,skipped_big:big,truncated:trunc}}));"#,
        kinds = kinds.join(","),
        roots = roots.join(","),
    )
}

/// A pattern of the table for JavaScript: the inline case-insensitive group `(?i:...)`,
/// which JavaScript lacks, spelled out as character classes.
fn js_pattern(p: &str) -> String {
    let mut out = String::new();
    let mut rest = p;
    while let Some(i) = rest.find("(?i:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let end = after.find(')').unwrap_or(after.len());
        out.push_str("(?:");
        for c in after[..end].chars() {
            if c.is_ascii_alphabetic() {
                out.push('[');
                out.push(c.to_ascii_lowercase());
                out.push(c.to_ascii_uppercase());
                out.push(']');
            } else {
                out.push(c);
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A JavaScript string literal (JSON's escaping is JavaScript's).
fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The names of the kinds, for messages: `pem-private-key, aws-access-key-id`.
pub fn names(hits: &[Hit]) -> String {
    hits.iter().map(|h| h.kind).collect::<Vec<_>>().join(", ")
}

/// Samples of every kind, for the tests of the modules that scan.
#[cfg(test)]
pub(crate) mod fixtures {
    /// One sample of each kind, made at run time so that no credential-shaped string sits
    /// in the source (secret scanners of hosting sites would flag it).
    pub fn samples() -> Vec<(&'static str, String)> {
        let r = |n: usize| "Q7xV2lR9tZ4wM1kS8hD3nF6bC0yP5jA".repeat(4)[..n].to_string();
        let up = |n: usize| "Q7XV2LR9TZ4WM1KS8HD3NF6BC0YP5JA".repeat(2)[..n].to_string();
        let dash = "-----";
        vec![
            (
                "pem-private-key",
                format!("{dash}BEGIN RSA PRIVATE KEY{dash}\nMIIEowIBAAKCAQEA{}\n{dash}END RSA PRIVATE KEY{dash}\n", r(40)),
            ),
            (
                "pem-private-key",
                format!("x\n{dash}BEGIN OPENSSH PRIVATE KEY{dash}\nb3BlbnNzaC1rZXktdjEAAAAA{}\n", r(30)),
            ),
            (
                "pem-private-key",
                format!("{{\"k\": \"{dash}BEGIN PRIVATE KEY{dash}\\nMIIEvQIBADANBgkqhkiG9w0B{}\\n\"}}", r(20)),
            ),
            (
                "pem-private-key",
                format!("{dash}BEGIN ENCRYPTED PRIVATE KEY{dash}\r\nMIIFHzBJBgkqhkiG9w0BBQ0w{}\r\n", r(20)),
            ),
            (
                "pem-private-key",
                format!("{dash}BEGIN RSA PRIVATE KEY{dash}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B\n\n{}\n", r(64)),
            ),
            (
                "pgp-private-key",
                format!("{dash}BEGIN PGP PRIVATE KEY BLOCK{dash}\nVersion: x\n\nlQdGBF{}\n", r(40)),
            ),
            ("aws-access-key-id", format!("key=AKIA{}\n", up(16))),
            (
                "aws-secret-access-key",
                format!("[default]\naws_secret_access_key = {}\n", r(40)),
            ),
            (
                "gcp-service-account",
                format!(
                    "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n  \"private_key\": \"{dash}x\"\n}}"
                ),
            ),
            ("github-token", format!("token: ghp_{}\n", r(36))),
            ("github-token", format!("GH=ghs_{}", r(36))),
            (
                "github-fine-grained-token",
                format!("github_pat_{}_{}", r(22), r(59)),
            ),
            ("gitlab-token", format!("glpat-{}", r(20))),
            ("slack-token", format!("xoxb-123456789012-{}", r(24))),
            ("stripe-live-key", format!("sk_live_{}", r(24))),
            ("npm-token", format!("//registry/:_authToken=npm_{}\n", r(36))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::samples;
    use super::*;

    #[test]
    fn every_pattern_compiles_and_every_kind_is_found() {
        assert_eq!(compiled().len(), KINDS.len());
        for (kind, text) in samples() {
            let hits = scan(text.as_bytes());
            assert!(
                hits.iter().any(|h| h.kind == kind),
                "{kind} not found in {text:?}: {hits:?}"
            );
        }
        for k in KINDS {
            assert!(
                samples().iter().any(|(id, _)| *id == k.id),
                "{} untested",
                k.id
            );
        }
    }

    #[test]
    fn hits_name_the_line_and_plain_code_is_no_credential() {
        let (_, pem) = &samples()[1];
        assert_eq!(
            scan(pem.as_bytes()),
            vec![Hit {
                kind: "pem-private-key",
                line: 2
            }]
        );
        for ok in [
            "const key = process.env.PRIVATE_KEY;\n",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
            "-----BEGIN CERTIFICATE-----\n",
            "{\"type\": \"service_account\"}",
            "AKIAEXAMPLE",
            "XAKIAQ7XV2LR9TZ4WM1KS8X",
            "ghp_short",
            "sk_test_Q7xV2lR9tZ4wM1kS8hD3nF6b",
            "xoxb-not-a-token",
            "glpat-short",
            "aws_secret_access_key = ${AWS_SECRET}",
            "if (line.startsWith('-----BEGIN ')) parse(line)",
            // code that checks a key's format (tests/fixtures/nest-boot does)
            "if (!pem.includes(\"-----BEGIN PRIVATE KEY-----\")) {\n  throw new Error('x');\n}",
            "const H = '-----BEGIN RSA PRIVATE KEY-----';\nconst F = '-----END RSA PRIVATE KEY-----';",
            // AWS's documented examples
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        ] {
            assert_eq!(scan(ok.as_bytes()), vec![], "{ok:?}");
        }
        // binary content is scanned as bytes
        let mut b = vec![0xffu8, 0, 1, b'\n'];
        b.extend_from_slice(samples()[0].1.as_bytes());
        assert_eq!(scan(&b)[0].line, 2);
    }

    /// No false positive on real code: the sample monorepo and every test fixture (their
    /// sources check key formats, e.g. nest-boot's `pem.includes("-----BEGIN …")`).
    #[test]
    fn the_sample_and_the_fixtures_hold_no_credential() {
        fn walk(d: &std::path::Path, hits: &mut Vec<String>, n: &mut usize) {
            let Ok(rd) = std::fs::read_dir(d) else { return };
            for e in rd.flatten() {
                let p = e.path();
                let name = e.file_name();
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() && name != "node_modules" && name != "dist" {
                    walk(&p, hits, n);
                } else if ft.is_file() {
                    if let Ok(b) = crate::files::read_regular_bytes(&p, MAX_FILE) {
                        *n += 1;
                        let h = scan(&b);
                        if !h.is_empty() {
                            hits.push(format!("{} {h:?}", p.display()));
                        }
                    }
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (mut hits, mut n) = (Vec::new(), 0);
        for d in ["apps", "packages", "infra", "tests/fixtures"] {
            walk(&root.join(d), &mut hits, &mut n);
        }
        assert!(n > 50, "the walk read {n} files");
        assert!(hits.is_empty(), "{hits:#?}");
    }

    #[test]
    fn the_javascript_patterns_are_the_table() {
        assert_eq!(
            js_pattern("(?i:aws_?key)x"),
            "(?:[aA][wW][sS]_?[kK][eE][yY])x"
        );
        let js = scan_js(&["/app"]);
        for k in KINDS {
            assert!(js.contains(&js_string(k.id)), "{}", k.id);
        }
        assert!(!js.contains("(?i:"), "{js}");
    }

    /// The image's scan, run by node when it is installed (CI has it): the same hits as the
    /// Rust scan on every sample, node_modules and links left out, no content printed.
    #[test]
    fn the_image_scan_finds_what_the_context_scan_finds() {
        let Ok(node) = which::which("node") else {
            eprintln!("node not on PATH: the image's smoke test runs this scan");
            return;
        };
        let d = std::env::temp_dir().join(format!("xtask-credscan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("app/node_modules/x/test")).expect("mkdir");
        let samples = samples();
        for (i, (_, text)) in samples.iter().enumerate() {
            std::fs::write(d.join(format!("app/f{i}.txt")), text).expect("write");
        }
        std::fs::write(d.join("app/node_modules/x/test/k.txt"), &samples[0].1).expect("write");
        std::fs::write(d.join("app/main.js"), "console.log(1)").expect("write");
        let app = d.join("app").display().to_string();
        let out = std::process::Command::new(node)
            .args(["-e", &scan_js(&[&app])])
            .output()
            .expect("node");
        let _ = std::fs::remove_dir_all(&d);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
        let hits = v["hits"].as_array().expect("hits");
        assert_eq!(hits.len(), samples.len(), "{v:#}");
        for (i, (kind, _)) in samples.iter().enumerate() {
            let h = hits
                .iter()
                .find(|h| {
                    h["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with(&format!("/f{i}.txt")))
                })
                .unwrap_or_else(|| panic!("f{i} ({kind}) not found: {v:#}"));
            assert!(
                h["kinds"]
                    .as_array()
                    .expect("kinds")
                    .iter()
                    .any(|k| k == kind),
                "{h}"
            );
        }
        assert!(
            !stdout.contains("PRIVATE KEY") && !stdout.contains("ghp_"),
            "{stdout}"
        );
    }
}
