//! Downloads from the npm registry (curl, else wget; on Debian as root curl is installed
//! when neither is there), with the tarball's `dist.integrity` (sha512) verified.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;
use xshell::Shell;

use super::{apt, capture, find, find_opt, shell};

/// The npm registry: `$npm_config_registry` / `$NPM_CONFIG_REGISTRY`, else registry.npmjs.org.
pub fn registry() -> String {
    for k in ["npm_config_registry", "NPM_CONFIG_REGISTRY"] {
        if let Ok(v) = std::env::var(k) {
            if !v.trim().is_empty() {
                return v.trim().trim_end_matches('/').to_string();
            }
        }
    }
    "https://registry.npmjs.org".to_string()
}

enum Kind {
    Curl,
    Wget,
}

/// An HTTP(S) downloader program.
pub struct Downloader {
    sh: Shell,
    bin: PathBuf,
    kind: Kind,
}

impl Downloader {
    /// curl, else wget; on Debian as root, installs curl when neither is there.
    pub fn find_or_install() -> Result<Downloader> {
        let sh = shell()?;
        if let Some(bin) = find_opt("curl") {
            return Ok(Downloader {
                sh,
                bin,
                kind: Kind::Curl,
            });
        }
        if let Some(bin) = find_opt("wget") {
            return Ok(Downloader {
                sh,
                bin,
                kind: Kind::Wget,
            });
        }
        apt::require_debian_root("curl (needed to download Node from the npm registry)")
            .context("neither curl nor wget is on PATH: install curl")?;
        let a = apt::Apt::system()?;
        if a.install(&["curl"]).is_err() {
            a.update()?;
            a.install(&["curl"])?;
        }
        let bin = find(
            "curl",
            "apt-get installed curl but it is not on PATH; check `dpkg -L curl`",
        )?;
        Ok(Downloader {
            sh,
            bin,
            kind: Kind::Curl,
        })
    }

    fn fetch(&self, url: &str, dest: Option<&Path>, accept: Option<&str>) -> Result<String> {
        let mut cmd = self.sh.cmd(&self.bin);
        match self.kind {
            Kind::Curl => {
                cmd = cmd.args(["-fsSL", "--retry", "3", "--connect-timeout", "20"]);
                if let Some(a) = accept {
                    cmd = cmd.arg("-H").arg(format!("Accept: {a}"));
                }
                if let Some(d) = dest {
                    cmd = cmd.arg("-o").arg(d);
                }
            }
            Kind::Wget => {
                cmd = cmd.args(["-q", "--tries=3", "--timeout=20"]);
                if let Some(a) = accept {
                    cmd = cmd.arg(format!("--header=Accept: {a}"));
                }
                cmd = match dest {
                    Some(d) => cmd.arg("-O").arg(d),
                    None => cmd.args(["-O", "-"]),
                };
            }
        }
        let c = capture(cmd.arg(url))?;
        if !c.ok() {
            bail!(
                "download of {url} failed ({}): check network access to the npm registry (proxy, CA bundle \
                 /etc/ssl/certs/ca-certificates.crt) or set npm_config_registry to a mirror",
                if c.detail().is_empty() { format!("exit {:?}", c.code) } else { c.detail() }
            );
        }
        Ok(c.stdout)
    }

    pub fn text(&self, url: &str, accept: Option<&str>) -> Result<String> {
        self.fetch(url, None, accept)
    }

    pub fn file(&self, url: &str, dest: &Path) -> Result<()> {
        self.fetch(url, Some(dest), None).map(|_| ())
    }
}

/// `dist` of one version of an npm package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    pub tarball: String,
    pub integrity: Option<String>,
}

pub fn parse_dist(doc: &Json, what: &str) -> Result<Dist> {
    let dist = doc
        .get("dist")
        .with_context(|| format!("{what}: registry metadata has no `dist`"))?;
    let tarball = dist
        .get("tarball")
        .and_then(Json::as_str)
        .with_context(|| format!("{what}: no dist.tarball"))?
        .to_string();
    let integrity = dist
        .get("integrity")
        .and_then(Json::as_str)
        .map(str::to_string);
    Ok(Dist { tarball, integrity })
}

/// The newest `major.x.y` release among an abbreviated packument's versions.
pub fn newest_of_major(doc: &Json, major: u64) -> Option<String> {
    let versions = doc.get("versions")?.as_object()?;
    versions
        .keys()
        .filter_map(|v| {
            let parts: Vec<u64> = v
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u64>>>()?;
            (parts.len() == 3 && parts[0] == major).then(|| (parts, v.clone()))
        })
        .max()
        .map(|(_, v)| v)
}

/// The newest `<major>.x.y` of an npm package.
pub fn newest_version(dl: &Downloader, pkg: &str, major: u64) -> Result<String> {
    let url = format!("{}/{pkg}", registry());
    let text = dl.text(&url, Some("application/vnd.npm.install-v1+json"))?;
    let doc: Json =
        serde_json::from_str(&text).with_context(|| format!("{url} did not return JSON"))?;
    newest_of_major(&doc, major)
        .with_context(|| format!("{pkg} has no {major}.x.y release on {}", registry()))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn hex_to_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `sha512-<base64>` of a file (as npm's `dist.integrity` writes it), via `sha512sum`.
pub fn sha512_integrity(path: &Path) -> Result<String> {
    let sh = shell()?;
    let bin = find("sha512sum", "install coreutils")?;
    let c = capture(sh.cmd(bin).arg(path))?;
    if !c.ok() {
        bail!("sha512sum {} failed: {}", path.display(), c.detail());
    }
    let hex = c.stdout.split_whitespace().next().unwrap_or("");
    let bytes = hex_to_bytes(hex)
        .with_context(|| format!("sha512sum printed no digest for {}", path.display()))?;
    Ok(format!("sha512-{}", base64(&bytes)))
}

/// `<cache>/<pkg>-<version>.tgz`, downloaded from the registry (integrity checked) unless
/// already there.
pub fn npm_tarball(dl: &Downloader, cache: &Path, pkg: &str, version: &str) -> Result<PathBuf> {
    let file = cache.join(format!("{pkg}-{version}.tgz"));
    if file.metadata().map(|m| m.len() > 0).unwrap_or(false) {
        return Ok(file);
    }
    let url = format!("{}/{pkg}/{version}", registry());
    eprintln!("standin: fetching {pkg}@{version} from {}", registry());
    let text = dl.text(&url, None)?;
    let doc: Json =
        serde_json::from_str(&text).with_context(|| format!("{url} did not return JSON"))?;
    let dist = parse_dist(&doc, &format!("{pkg}@{version}"))?;
    let part = cache.join(format!(".{pkg}-{version}.tgz.part"));
    dl.file(&dist.tarball, &part)?;
    if let Some(want) = &dist.integrity {
        if want.starts_with("sha512-") {
            let got = sha512_integrity(&part)?;
            if &got != want {
                let _ = std::fs::remove_file(&part);
                bail!("{pkg}@{version}: downloaded tarball has integrity {got}, the registry says {want}; the download was altered or cut; rerun");
            }
        }
    }
    std::fs::rename(&part, &file)
        .with_context(|| format!("cannot move the download to {}", file.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(hex_to_bytes("00ff10"), Some(vec![0, 255, 16]));
    }

    #[test]
    fn newest_release_of_a_major() {
        let doc = serde_json::json!({"versions": {"22.9.0": {}, "22.10.1": {}, "23.1.0": {}, "22.11.0-rc.1": {}}});
        assert_eq!(newest_of_major(&doc, 22).as_deref(), Some("22.10.1"));
        assert_eq!(newest_of_major(&doc, 20), None);
    }

    #[test]
    fn dist_fields() {
        let doc =
            serde_json::json!({"dist": {"tarball": "https://r/x.tgz", "integrity": "sha512-abc"}});
        assert_eq!(
            parse_dist(&doc, "x").expect("dist"),
            Dist {
                tarball: "https://r/x.tgz".into(),
                integrity: Some("sha512-abc".into())
            }
        );
        assert!(parse_dist(&serde_json::json!({}), "x").is_err());
    }
}
