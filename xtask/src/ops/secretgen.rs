//! Generation of secret values, each in its [`SecretFormat`]: the smoke test's and the
//! rehearsal's throwaway secrets and `env init`'s real ones.
//!
//! Random bytes come from the operating system (the `getrandom` crate); a failure to get
//! them is an error, never a weaker fallback. Private keys are made by the real `openssl`
//! ([`crate::tools::openssl`]), read from its stdout: key material is never written to a
//! file of its own here nor printed. Keys take tens of milliseconds (RSA 2048: ~50-200 ms),
//! so a caller generates only the values it needs.

use anyhow::{Context, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::secretfmt::{KeyKind, SecretFormat};
use crate::tools::openssl::Openssl;

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("the operating system gave no random bytes (getrandom)")?;
    Ok(buf)
}

/// `n` random bytes as lower-case hex (2n characters).
pub fn random_hex(n: usize) -> Result<String> {
    Ok(hex(&random_bytes(n)?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` characters of `[A-Za-z0-9]`, uniform (bytes ≥ 248 are drawn again: 248 = 4 × 62).
fn password(n: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n)? {
            if b < 248 && out.len() < n {
                out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// A version 4 (random) UUID, RFC 9562 §5.4.
fn uuid_v4() -> Result<String> {
    let mut b = random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A private key of `kind`, PKCS8 PEM, from openssl.
fn key(kind: KeyKind) -> Result<String> {
    let openssl = Openssl::find()?;
    match kind {
        KeyKind::Rsa(bits) => openssl.genpkey("RSA", &[format!("rsa_keygen_bits:{bits}").as_str()]),
        KeyKind::EcP256 => openssl.genpkey(
            "EC",
            &["ec_paramgen_curve:P-256", "ec_param_enc:named_curve"],
        ),
        KeyKind::Ed25519 => openssl.genpkey("ED25519", &[]),
    }
}

/// A fresh value of `format`.
pub fn generate(format: SecretFormat) -> Result<String> {
    Ok(match format {
        SecretFormat::Hex(n) => random_hex(n)?,
        SecretFormat::Base64(n) => STANDARD.encode(random_bytes(n)?),
        SecretFormat::Base64Url(n) => URL_SAFE_NO_PAD.encode(random_bytes(n)?),
        SecretFormat::Uuid => uuid_v4()?,
        SecretFormat::Password(n) => password(n)?,
        SecretFormat::Pem { key: k, base64 } => {
            let pem = key(k)?;
            if base64 {
                STANDARD.encode(pem.as_bytes())
            } else {
                pem
            }
        }
    })
}

/// The strings whose presence in a report means a secret leaked: the value itself, and for
/// a PEM key (also one given as its base64) its `\n`-escaped form and each line of its body
/// (a log or a body may show a key line by line, escaped, or decoded).
pub fn redaction_needles(value: &str) -> Vec<String> {
    fn pem_forms(text: &str, out: &mut Vec<String>) {
        if text.contains('\n') {
            out.push(text.replace('\n', "\\n"));
            out.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
                    .map(str::to_string),
            );
        }
    }
    let mut out = vec![value.to_string()];
    pem_forms(value, &mut out);
    if !value.contains('\n') && value.len() > 100 {
        if let Some(decoded) = STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|t| t.contains("PRIVATE KEY-----"))
        {
            out.push(decoded.clone());
            pem_forms(&decoded, &mut out);
        }
    }
    out.retain(|s| !s.is_empty());
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &[
        "hex:32",
        "hex:8",
        "base64:32",
        "base64:33",
        "base64url:32",
        "base64url:64",
        "uuid",
        "password:24",
        "rsa-pkcs8-pem",
        "rsa-pkcs8-pem-base64",
        "ec-p256-pem",
        "ec-p256-pem-base64",
        "ed25519-pem",
        "ed25519-pem-base64",
    ];

    fn fmt(t: &str) -> SecretFormat {
        SecretFormat::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    /// The real openssl reads the key back (`openssl pkey -noout`, key on stdin) and names
    /// its type (`-text_pub`'s first line).
    fn openssl_reads(pem: &str) -> String {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("openssl")
            .args(["pkey", "-noout", "-text_pub"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(pem.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("openssl ends");
        assert!(
            out.status.success(),
            "openssl pkey refused the key: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn every_format_gives_a_value_it_accepts_and_two_values_differ() {
        for t in ALL {
            let f = fmt(t);
            let a = generate(f).unwrap_or_else(|e| panic!("{t}: {e:#}"));
            let b = generate(f).unwrap_or_else(|e| panic!("{t}: {e:#}"));
            assert!(f.accepts(&a), "{t}: its own value is refused");
            assert_ne!(a, b, "{t}: two generations are equal");
        }
    }

    #[test]
    fn exact_shapes() {
        let v = generate(fmt("hex:32")).expect("hex");
        assert_eq!(v.len(), 64);
        assert!(v
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(
            STANDARD
                .decode(generate(fmt("base64:48")).expect("b64"))
                .expect("decodes")
                .len(),
            48
        );
        let url = generate(fmt("base64url:32")).expect("url");
        assert!(!url.contains(['+', '/', '=']), "{url}");
        assert_eq!(URL_SAFE_NO_PAD.decode(&url).expect("decodes").len(), 32);
        let p = generate(fmt("password:40")).expect("pw");
        assert_eq!(p.len(), 40);
        assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()), "{p}");
        let u = generate(SecretFormat::Uuid).expect("uuid");
        assert_eq!(&u[14..15], "4", "version 4: {u}");
        assert!("89ab".contains(&u[19..20]), "RFC variant: {u}");
    }

    #[test]
    fn keys_are_pkcs8_pem_that_openssl_reads_back_as_their_kind() {
        for (t, kind) in [
            ("rsa-pkcs8-pem", "Public-Key: (2048 bit)"),
            ("ec-p256-pem", "NIST CURVE: P-256"),
            ("ed25519-pem", "ED25519 Public-Key"),
        ] {
            let pem = generate(fmt(t)).expect(t);
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{t}");
            assert!(pem.ends_with("-----END PRIVATE KEY-----\n"), "{t}");
            let text = openssl_reads(&pem);
            assert!(text.contains(kind), "{t}: {text}");
        }
        let b64 = generate(fmt("ec-p256-pem-base64")).expect("b64");
        assert!(!b64.contains('\n'));
        let pem = String::from_utf8(STANDARD.decode(&b64).expect("base64")).expect("utf8");
        assert!(openssl_reads(&pem).contains("P-256"));
    }

    #[test]
    fn redaction_covers_a_pem_line_by_line_escaped_and_through_its_base64() {
        let pem = generate(fmt("ec-p256-pem")).expect("pem");
        let needles = redaction_needles(&pem);
        let body_line = pem.lines().nth(1).expect("a body line");
        assert!(needles.iter().any(|n| n == body_line));
        assert!(needles.contains(&pem.replace('\n', "\\n")));
        assert!(
            !needles.iter().any(|n| n.ends_with("PRIVATE KEY-----")),
            "a header line alone is no secret (it would redact every PEM)"
        );
        let b64 = STANDARD.encode(pem.as_bytes());
        let needles = redaction_needles(&b64);
        assert!(needles.contains(&b64));
        assert!(needles.contains(&pem));
        assert!(needles.iter().any(|n| n == body_line));
        assert_eq!(redaction_needles("abc"), vec!["abc".to_string()]);
    }
}
