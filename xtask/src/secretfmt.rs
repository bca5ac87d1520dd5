//! The format of a secret: what a generated value must look like for the API to accept it.
//!
//! Real APIs validate their secrets at boot: a JWT signing key that must be an RSA PKCS8 PEM
//! (often base64-encoded to fit one env line), a 32-byte hex key, a UUID. A random string
//! crashes them. `[api.env] KEY = { secret = true, format = "rsa-pkcs8-pem-base64" }` names
//! the format; the smoke test, the rehearsal and `env init` generate throwaway or real values
//! of it.
//!
//! Spelling (the config's text, also what [`SecretFormat`]'s `Display` writes):
//!
//! | text | value |
//! | --- | --- |
//! | `hex:N` | N random bytes as 2N lower-case hex digits |
//! | `base64:N` | N random bytes, standard base64 with padding |
//! | `base64url:N` | N random bytes, URL-safe base64 without padding |
//! | `uuid` | a random (version 4) UUID |
//! | `password:N` | N characters from letters and digits |
//! | `rsa-pkcs8-pem[:BITS]` | an RSA private key (default 2048 bits), PKCS8 PEM |
//! | `ec-p256-pem` | an EC P-256 private key, PKCS8 PEM |
//! | `ed25519-pem` | an Ed25519 private key, PKCS8 PEM |
//!
//! A PEM format followed by `-base64` (`rsa-pkcs8-pem-base64`, `rsa-pkcs8-pem-base64:4096`)
//! is the PEM text base64-encoded on one line.
//!
//! Pure: parsing and naming only; generation lives where programs and randomness are.

use std::fmt;

/// Bounds of `N` in the counted formats: a secret of 0 bytes is none, and a 4 kB one is a
/// typo (and would not fit an env line comfortably).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 4096;

/// RSA key sizes accepted (smaller ones are refused by current libraries).
pub const RSA_BITS: &[u16] = &[2048, 3072, 4096];

/// The format of a secret's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretFormat {
    /// N random bytes as hex.
    Hex(usize),
    /// N random bytes, standard base64 (padded).
    Base64(usize),
    /// N random bytes, URL-safe base64 (unpadded).
    Base64Url(usize),
    /// A random UUID (v4).
    Uuid,
    /// N characters of `[A-Za-z0-9]`.
    Password(usize),
    /// A private key in PKCS8 PEM; `base64`: the PEM text base64-encoded on one line.
    Pem { key: KeyKind, base64: bool },
}

/// The kind of a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Rsa(u16),
    EcP256,
    Ed25519,
}

impl SecretFormat {
    /// The format given to a secret that names none: 32 random bytes as hex (64 characters,
    /// long enough for every "at least 32 characters" check met in real apps).
    pub const DEFAULT: SecretFormat = SecretFormat::Hex(32);

    /// Reads the config's spelling. The error says what is accepted.
    pub fn parse(text: &str) -> Result<SecretFormat, String> {
        let t = text.trim();
        let (head, arg) = match t.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (t, None),
        };
        let count = |what: &str| -> Result<usize, String> {
            let a = arg.ok_or_else(|| format!("`{what}` needs a length: `{what}:32`"))?;
            let n: usize = a
                .parse()
                .map_err(|_| format!("`{a}` is not a length (a whole number) in `{what}:N`"))?;
            if !(MIN_LEN..=MAX_LEN).contains(&n) {
                return Err(format!(
                    "`{what}:{n}`: the length must be between {MIN_LEN} and {MAX_LEN}"
                ));
            }
            Ok(n)
        };
        let no_arg = |f: SecretFormat| -> Result<SecretFormat, String> {
            match arg {
                None => Ok(f),
                Some(_) => Err(format!("`{head}` takes no `:` argument")),
            }
        };
        let pem = |key: KeyKind, base64: bool| SecretFormat::Pem { key, base64 };
        let rsa = |base64: bool| -> Result<SecretFormat, String> {
            let bits = match arg {
                None => 2048,
                Some(a) => match a.parse::<u16>() {
                    Ok(b) if RSA_BITS.contains(&b) => b,
                    _ => {
                        return Err(format!(
                            "`{head}:{a}`: RSA key bits must be one of 2048, 3072, 4096"
                        ))
                    }
                },
            };
            Ok(pem(KeyKind::Rsa(bits), base64))
        };
        match head {
            "hex" => Ok(SecretFormat::Hex(count("hex")?)),
            "base64" => Ok(SecretFormat::Base64(count("base64")?)),
            "base64url" => Ok(SecretFormat::Base64Url(count("base64url")?)),
            "password" => Ok(SecretFormat::Password(count("password")?)),
            "uuid" => no_arg(SecretFormat::Uuid),
            "rsa-pkcs8-pem" => rsa(false),
            "rsa-pkcs8-pem-base64" => rsa(true),
            "ec-p256-pem" => no_arg(pem(KeyKind::EcP256, false)),
            "ec-p256-pem-base64" => no_arg(pem(KeyKind::EcP256, true)),
            "ed25519-pem" => no_arg(pem(KeyKind::Ed25519, false)),
            "ed25519-pem-base64" => no_arg(pem(KeyKind::Ed25519, true)),
            _ => Err(format!(
                "`{t}` is not a secret format: use one of hex:N, base64:N, base64url:N, uuid, \
                 password:N, rsa-pkcs8-pem[:BITS], ec-p256-pem, ed25519-pem (a PEM format with \
                 -base64 for its base64 on one line, e.g. rsa-pkcs8-pem-base64)"
            )),
        }
    }

    /// A private key (PEM), generated by a real tool rather than random bytes.
    pub fn is_key(self) -> bool {
        matches!(self, SecretFormat::Pem { .. })
    }

    /// Whether a value could be of this format (a shape check, not a proof: a PEM's header
    /// and base64 body are checked, not the key inside). Used to tell a real value from a
    /// placeholder without printing it.
    pub fn accepts(self, value: &str) -> bool {
        let is_b64 = |s: &str, url: bool| {
            !s.is_empty()
                && s.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || if url {
                            b == b'-' || b == b'_'
                        } else {
                            b == b'+' || b == b'/' || b == b'='
                        }
                })
        };
        match self {
            SecretFormat::Hex(n) => {
                value.len() == 2 * n && value.bytes().all(|b| b.is_ascii_hexdigit())
            }
            SecretFormat::Base64(n) => value.len() == n.div_ceil(3) * 4 && is_b64(value, false),
            SecretFormat::Base64Url(n) => value.len() == (n * 4).div_ceil(3) && is_b64(value, true),
            SecretFormat::Uuid => {
                let parts: Vec<&str> = value.split('-').collect();
                parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
                    && parts
                        .iter()
                        .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
            }
            SecretFormat::Password(n) => {
                value.chars().count() >= n && !value.chars().any(char::is_whitespace)
            }
            SecretFormat::Pem { base64: true, .. } => value.len() > 100 && is_b64(value, false),
            SecretFormat::Pem { base64: false, .. } => {
                value.contains("-----BEGIN ") && value.contains("PRIVATE KEY-----")
            }
        }
    }
}

impl fmt::Display for SecretFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretFormat::Hex(n) => write!(f, "hex:{n}"),
            SecretFormat::Base64(n) => write!(f, "base64:{n}"),
            SecretFormat::Base64Url(n) => write!(f, "base64url:{n}"),
            SecretFormat::Uuid => f.write_str("uuid"),
            SecretFormat::Password(n) => write!(f, "password:{n}"),
            SecretFormat::Pem { key, base64 } => {
                let b = if *base64 { "-base64" } else { "" };
                match key {
                    KeyKind::Rsa(2048) => write!(f, "rsa-pkcs8-pem{b}"),
                    KeyKind::Rsa(bits) => write!(f, "rsa-pkcs8-pem{b}:{bits}"),
                    KeyKind::EcP256 => write!(f, "ec-p256-pem{b}"),
                    KeyKind::Ed25519 => write!(f, "ed25519-pem{b}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads_back_as_it_is_written() {
        for t in [
            "hex:32",
            "base64:48",
            "base64url:32",
            "uuid",
            "password:24",
            "rsa-pkcs8-pem",
            "rsa-pkcs8-pem:4096",
            "rsa-pkcs8-pem-base64",
            "rsa-pkcs8-pem-base64:3072",
            "ec-p256-pem",
            "ec-p256-pem-base64",
            "ed25519-pem",
            "ed25519-pem-base64",
        ] {
            let f = SecretFormat::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(f.to_string(), t);
        }
        assert_eq!(
            SecretFormat::parse("rsa-pkcs8-pem:2048").map(|f| f.to_string()),
            Ok("rsa-pkcs8-pem".to_string())
        );
    }

    #[test]
    fn bad_spellings_are_refused_saying_what_is_accepted() {
        for (t, says) in [
            ("hex", "needs a length"),
            ("hex:x", "not a length"),
            ("hex:4", "between 8 and 4096"),
            ("hex:99999", "between 8 and 4096"),
            ("uuid:4", "takes no"),
            ("rsa-pkcs8-pem:1024", "2048, 3072, 4096"),
            ("rsa", "not a secret format"),
            ("", "not a secret format"),
        ] {
            let e = SecretFormat::parse(t).expect_err(t);
            assert!(e.contains(says), "{t}: {e}");
        }
    }

    #[test]
    fn shapes_accept_their_own_kind_only() {
        let hex = SecretFormat::Hex(8);
        assert!(hex.accepts("00112233aabbccdd"));
        assert!(!hex.accepts("change-me"));
        assert!(SecretFormat::Uuid.accepts("123e4567-e89b-42d3-a456-426614174000"));
        assert!(!SecretFormat::Uuid.accepts("123e4567e89b42d3a456426614174000"));
        let b64 = format!("{}=", "A".repeat(43));
        assert!(SecretFormat::Base64(32).accepts(&b64));
        assert!(!SecretFormat::Base64(32).accepts(&"A".repeat(43)));
        assert!(SecretFormat::Base64Url(32).accepts(&format!("{}A", "a_-".repeat(14))));
        assert!(!SecretFormat::Base64Url(32).accepts(&b64));
        let pem = SecretFormat::parse("rsa-pkcs8-pem").unwrap();
        assert!(pem.accepts("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n"));
        assert!(!pem.accepts("change-me"));
    }
}
