//! Requests to the running stack (curl) and the test's origin certificate (openssl).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

pub struct Curl {
    bin: PathBuf,
}

impl Curl {
    pub fn find() -> Result<Curl> {
        Ok(Curl {
            bin: super::find("curl", "install curl (apt-get install -y curl)")?,
        })
    }

    /// GET `url` without following redirects, retrying connection errors and transient
    /// statuses (502/503/504) for up to `retries` seconds. `resolve` is curl's
    /// `host:port:address`, `cacert` the only trusted certificate. The body goes to `body`.
    /// Returns what curl printed: its `--write-out '%{json}'` (parsed by the caller with
    /// [`crate::rehearsal::parse_curl`]), its stderr, and the body.
    pub fn get(
        &self,
        sh: &Shell,
        url: &str,
        resolve: &str,
        cacert: Option<&Path>,
        body: &Path,
        retries: u32,
    ) -> Result<CurlOut> {
        let c = &self.bin;
        let write_out = "%{json}";
        let retries = retries.to_string();
        let mut tls: Vec<String> = Vec::new();
        if let Some(ca) = cacert {
            tls.push("--cacert".into());
            tls.push(ca.display().to_string());
        }
        let _ = std::fs::remove_file(body);
        let out = cmd!(
            sh,
            "{c} --silent --show-error --max-time 10 --retry {retries} --retry-delay 1 --retry-all-errors --resolve {resolve} {tls...} --output {body} --write-out {write_out} {url}"
        )
        .quiet()
        .ignore_status()
        .output()
        .context("cannot run curl")?;
        Ok(CurlOut {
            write_out: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            body: std::fs::read_to_string(body).unwrap_or_default(),
        })
    }
}

/// One request to the running stack: where it goes and what it sends.
pub struct Request<'a> {
    pub url: &'a str,
    /// curl's `host:port:address`.
    pub resolve: &'a str,
    /// The only trusted certificate.
    pub cacert: Option<&'a Path>,
    /// Extra curl arguments (`-X POST`, `-H ...`, `--data-binary ...`).
    pub extra: &'a [String],
}

impl Curl {
    /// One request, no retries; the response headers go to `headers`, the body to `body`.
    pub fn request(
        &self,
        sh: &Shell,
        req: &Request<'_>,
        headers: &Path,
        body: &Path,
    ) -> Result<(CurlOut, String)> {
        let c = &self.bin;
        let write_out = "%{json}";
        let (url, resolve, extra) = (req.url, req.resolve, req.extra);
        let mut tls: Vec<String> = Vec::new();
        if let Some(ca) = req.cacert {
            tls.push("--cacert".into());
            tls.push(ca.display().to_string());
        }
        let _ = std::fs::remove_file(body);
        let _ = std::fs::remove_file(headers);
        let out = cmd!(
            sh,
            "{c} --silent --show-error --max-time 10 --resolve {resolve} {tls...} --dump-header {headers} --output {body} --write-out {write_out} {extra...} {url}"
        )
        .quiet()
        .ignore_status()
        .output()
        .context("cannot run curl")?;
        Ok((
            CurlOut {
                write_out: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                body: std::fs::read_to_string(body).unwrap_or_default(),
            },
            std::fs::read_to_string(headers).unwrap_or_default(),
        ))
    }
}

/// What one curl request printed.
pub struct CurlOut {
    pub write_out: String,
    pub stderr: String,
    pub body: String,
}

/// A self-signed origin certificate for the rehearsal: EC P-256, valid 2 days, SANs `hosts`
/// (DNS names) and 127.0.0.1, written as `dir/cert` and `dir/key`.
pub fn self_signed_cert(
    sh: &Shell,
    dir: &Path,
    cert: &str,
    key: &str,
    hosts: &[String],
) -> Result<()> {
    let openssl = super::find("openssl", "install openssl (apt-get install -y openssl)")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cn = hosts.first().map(String::as_str).unwrap_or("localhost");
    let subj = format!("/CN={cn}");
    let mut sans: Vec<String> = hosts.iter().map(|h| format!("DNS:{h}")).collect();
    sans.push("IP:127.0.0.1".into());
    let ext = format!("subjectAltName={}", sans.join(","));
    let (cert_path, key_path) = (dir.join(cert), dir.join(key));
    let out = cmd!(
        sh,
        "{openssl} req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj {subj} -addext {ext} -keyout {key_path} -out {cert_path}"
    )
    .quiet()
    .ignore_status()
    .output()
    .context("cannot run openssl")?;
    if !out.status.success() {
        anyhow::bail!(
            "openssl could not make the test certificate: {}; openssl >= 1.1.1 is needed (-addext)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
