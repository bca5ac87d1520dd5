//! What the example says about a key beyond its value: the format of a secret (from its
//! comment and the shape of its value) and whether a commented-out key is required in
//! production. Each inference carries its reason: the words that decided it.
//!
//! Pure: text in, a decision and its reason out.

use crate::secretfmt::{KeyKind, SecretFormat, MAX_LEN, MIN_LEN};

/// A format read from the example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inferred {
    pub format: SecretFormat,
    /// `from the comment: "…"` or `from the example's value: …` (never the value itself).
    pub reason: String,
    /// The example shows a private key or a generation command: a secret whatever its name.
    pub secret: bool,
}

/// The words of a comment that decided: their clause (between `.`, `;` and parentheses),
/// at most 80 characters.
fn quote(comment: &str, at: usize, len: usize) -> String {
    const AROUND: usize = 40;
    let boundary = |mut i: usize| {
        while !comment.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    // the clause, at most AROUND bytes either side of the words, cut at a space
    let floor = boundary(at.saturating_sub(AROUND));
    let start = match comment[..at].rfind(['.', ';', '(', ')', '#']) {
        Some(i) if i + 1 >= floor => i + 1,
        _ if floor == 0 => 0,
        _ => comment[floor..at]
            .find(' ')
            .map_or(floor, |i| floor + i + 1),
    };
    let ceil = boundary((at + len + AROUND).min(comment.len()));
    let end = match comment[at + len..].find(['.', ';', '(', ')', '#']) {
        Some(i) if at + len + i <= ceil => at + len + i,
        _ if ceil == comment.len() => ceil,
        _ => comment[at + len..ceil]
            .rfind(' ')
            .map_or(ceil, |i| at + len + i),
    };
    // a span across a parenthesis takes its other half too
    let (mut start, mut end) = (start, end);
    let open = |t: &str| t.matches('(').count() as i64 - t.matches(')').count() as i64;
    if open(&comment[start..end]) > 0 && comment[end..].starts_with(')') {
        end += 1;
    }
    if open(&comment[start..end]) < 0 && comment[..start].ends_with('(') {
        start -= 1;
    }
    let s = comment[start..end].trim();
    format!("from the comment: \"{}\"", s.replace('"', "'"))
}

/// The first of `words` in `lower` (a lower-cased text), as (position, length).
fn find_any(lower: &str, words: &[&str]) -> Option<(usize, usize)> {
    words
        .iter()
        .filter_map(|w| lower.find(w).map(|i| (i, w.len())))
        .min_by_key(|(i, _)| *i)
}

/// The number right after `needle` (`openssl rand -hex 32` → 32).
fn number_after(lower: &str, needle: &str) -> Option<(usize, usize, usize)> {
    let i = lower.find(needle)?;
    let rest = &lower[i + needle.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n = digits.parse().ok()?;
    Some((
        i,
        needle.len() + (rest.len() - rest.trim_start().len()) + digits.len(),
        n,
    ))
}

fn in_range(n: usize) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&n)
}

/// The key kind a text names, if any: Ed25519, EC P-256, RSA (in that order of precedence).
fn key_kind(lower: &str) -> Option<(KeyKind, (usize, usize))> {
    if let Some(at) = find_any(lower, &["ed25519", "eddsa"]) {
        return Some((KeyKind::Ed25519, at));
    }
    if let Some(at) = find_any(
        lower,
        &["es256", "p-256", "p256", "prime256v1", "secp256r1", "ecdsa"],
    ) {
        return Some((KeyKind::EcP256, at));
    }
    let bits = [4096u16, 3072]
        .into_iter()
        .find(|b| lower.contains(&b.to_string()))
        .unwrap_or(2048);
    find_any(
        lower,
        &[
            "pkcs8",
            "pkcs#8",
            "rs256",
            "rs384",
            "rs512",
            "ps256",
            "genpkey",
            "genrsa",
            "rsa",
            "pem",
            "begin private key",
        ],
    )
    .map(|at| (KeyKind::Rsa(bits), at))
}

/// The format the example's comment and value say, if they say one.
pub fn infer_format(value: &str, comment: &str) -> Option<Inferred> {
    let lower = comment.to_ascii_lowercase();
    let public = lower.contains("public key") || value.contains("PUBLIC KEY");
    let from_value = |format: SecretFormat, what: &str| Inferred {
        format,
        reason: format!("from the example's value: {what}"),
        secret: format.is_key(),
    };
    // the value itself is a PEM private key, or one base64-encoded ("-----BEGIN" → "LS0tLS1CRUdJTi")
    if !public && value.contains("-----BEGIN") && value.contains("PRIVATE KEY") {
        let key = if value.contains("EC PRIVATE KEY") {
            KeyKind::EcP256
        } else {
            key_kind(&lower).map_or(KeyKind::Rsa(2048), |(k, _)| k)
        };
        let f = SecretFormat::Pem { key, base64: false };
        return Some(from_value(f, "a PEM private key"));
    }
    if !public && value.trim().starts_with("LS0tLS1CRUdJTi") {
        let key = key_kind(&lower).map_or(KeyKind::Rsa(2048), |(k, _)| k);
        let f = SecretFormat::Pem { key, base64: true };
        return Some(from_value(f, "a base64-encoded PEM"));
    }
    if let Some(i) = from_comment(&lower, comment, public) {
        return Some(i);
    }
    from_shape(value).map(|f| from_value(f.0, f.1))
}

/// The format a comment says: a private key's kind and encoding, a generation command, a UUID.
fn from_comment(lower: &str, comment: &str, public: bool) -> Option<Inferred> {
    let make = |format: SecretFormat, at: (usize, usize), secret: bool| Inferred {
        format,
        reason: quote(comment, at.0, at.1),
        secret,
    };
    // a generation command or its description: `openssl rand -hex 32`, `randomBytes(32).toString('hex')`
    for (needle, ctor) in [
        ("rand -hex", SecretFormat::Hex as fn(usize) -> SecretFormat),
        ("rand -base64", SecretFormat::Base64),
    ] {
        if let Some((i, len, n)) = number_after(lower, needle).filter(|x| in_range(x.2)) {
            return Some(make(ctor(n), (i, len), true));
        }
    }
    if let Some((i, len, n)) = number_after(lower, "randombytes(") {
        let tail = &lower[i + len..];
        let f = if tail.contains("base64url") {
            SecretFormat::Base64Url(n)
        } else if tail.contains("base64") {
            SecretFormat::Base64(n)
        } else {
            SecretFormat::Hex(n)
        };
        if in_range(n) {
            return Some(make(f, (i, len), true));
        }
    }
    if !public {
        if let Some((key, at)) = key_kind(lower) {
            // a private key, not an algorithm's name (`JWT_ALGORITHM=ES256`) nor a certificate
            let keyish = [
                "private key",
                "privatekey",
                "signing key",
                "genpkey",
                "genrsa",
                "pkcs8",
                "pkcs#8",
            ]
            .iter()
            .any(|w| lower.contains(w))
                || (lower.contains("pem") && lower.contains("key"));
            let not_pem = (lower.contains("certificate") || lower.contains("cert "))
                && !lower.contains("private key");
            // an Ethereum-style key (secp256k1, hex) is no PEM
            let not_pem = not_pem
                || ["secp256k1", "ethereum", "wallet"]
                    .iter()
                    .any(|w| lower.contains(w));
            if keyish && !not_pem {
                let base64 = lower.contains("base64") && !lower.contains("rand -base64");
                let f = SecretFormat::Pem { key, base64 };
                let at = match find_any(lower, &["base64"]).filter(|_| base64) {
                    Some(b) if b.0 > at.0 => (at.0, b.0 + b.1 - at.0),
                    _ => at,
                };
                return Some(make(f, at, true));
            }
        }
    }
    if let Some(at) = find_any(lower, &["uuid"]) {
        return Some(make(SecretFormat::Uuid, at, false));
    }
    // "64 hex characters", "32-byte hex", "32 bytes, base64"
    let (n, unit, at) = counted(lower)?;
    let hexish = lower.contains("hex");
    let b64 = lower.contains("base64");
    let chars = unit == "char";
    let bytes = if chars { n / 2 } else { n };
    if hexish && in_range(bytes) {
        return Some(make(SecretFormat::Hex(bytes), at, false));
    }
    if b64 && !chars && in_range(n) {
        return Some(make(SecretFormat::Base64(n), at, false));
    }
    if chars && n > 64 && in_range(n.div_ceil(2)) {
        // "at least 100 characters": hex of enough bytes (the default gives 64)
        return Some(make(SecretFormat::Hex(n.div_ceil(2)), at, false));
    }
    None
}

/// A count of bytes or characters: `64 hex characters`, `32-byte`, `32 random bytes`:
/// (count, "byte" or "char", the words' span).
fn counted(lower: &str) -> Option<(usize, &'static str, (usize, usize))> {
    let words: Vec<(usize, &str)> = lower
        .match_indices(|c: char| c.is_ascii_alphanumeric())
        .fold(Vec::<(usize, usize)>::new(), |mut acc, (i, _)| {
            match acc.last_mut() {
                Some((s, e)) if *e == i => *e = i + 1,
                _ => acc.push((i, i + 1)),
            }
            acc
        })
        .into_iter()
        .map(|(s, e)| (s, &lower[s..e]))
        .collect();
    for (k, (start, w)) in words.iter().enumerate() {
        let Ok(n) = w.parse::<usize>() else { continue };
        for (end, next) in words.iter().skip(k + 1).take(2) {
            for unit in ["byte", "char"] {
                if next.starts_with(unit) {
                    return Some((n, unit, (*start, end + next.len() - start)));
                }
            }
        }
    }
    None
}

/// The format the value's shape shows: a hex string, a UUID.
fn from_shape(value: &str) -> Option<(SecretFormat, &'static str)> {
    let v = value.trim();
    if SecretFormat::Uuid.accepts(v) {
        return Some((SecretFormat::Uuid, "a UUID"));
    }
    let hex = v.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && v.len().is_multiple_of(2) && v.len() >= 32 && in_range(v.len() / 2) {
        return Some((SecretFormat::Hex(v.len() / 2), "hex digits"));
    }
    None
}

/// Words saying a requirement, and where it applies.
const REQUIRED_WORDS: &[&str] = &[
    "required",
    "must be set",
    "must set",
    "mandatory",
    "needed",
    "must be provided",
    "must be configured",
];
const PROD_WORDS: &[&str] = &["production", "prod", "staging", "deployed", "deployment"];

/// Does a commented-out key's comment say it is required where the stack runs
/// (`NODE_ENV=production`)? The reason quotes the words.
pub fn required_in_production(comment: &str) -> Option<String> {
    let lower = comment.to_ascii_lowercase();
    let mut offset = 0;
    for sentence in lower.split_inclusive(['.', ';', '!', ',']) {
        let at = offset;
        offset += sentence.len();
        let Some((i, len)) = find_any(sentence, REQUIRED_WORDS) else {
            continue;
        };
        let before = sentence[..i].trim_end();
        if before.ends_with("not") || before.ends_with("n't") {
            continue;
        }
        let after = &sentence[i + len..];
        let prod = PROD_WORDS.iter().any(|w| {
            after
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|x| x == *w)
                || before
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|x| x == *w)
        });
        if prod {
            let s = comment[at..at + sentence.len()]
                .trim()
                .trim_end_matches(['.', ';', '!', ','])
                .trim();
            let s: String = s.chars().take(80).collect();
            return Some(format!("the comment says: \"{}\"", s.replace('"', "'")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(value: &str, comment: &str) -> Option<String> {
        infer_format(value, comment).map(|i| i.format.to_string())
    }

    #[test]
    fn formats_from_real_comments() {
        for (comment, want) in [
            (
                "RS256 private key, PKCS8 PEM, base64-encoded",
                "rsa-pkcs8-pem-base64",
            ),
            (
                "RSA private key (PKCS8 PEM, base64-encoded)",
                "rsa-pkcs8-pem-base64",
            ),
            ("RS256 private key (PEM)", "rsa-pkcs8-pem"),
            (
                "Generate with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
                "rsa-pkcs8-pem",
            ),
            (
                "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 | base64 -w0",
                "rsa-pkcs8-pem-base64:4096",
            ),
            ("Generate with: openssl rand -hex 32", "hex:32"),
            ("openssl rand -base64 48", "base64:48"),
            (
                "node -e \"console.log(require('crypto').randomBytes(32).toString('hex'))\"",
                "hex:32",
            ),
            ("randomBytes(64).toString('base64url')", "base64url:64"),
            ("A UUID identifying this instance", "uuid"),
            ("ES256 signing key (PEM)", "ec-p256-pem"),
            ("EC private key on prime256v1, PKCS8 PEM", "ec-p256-pem"),
            ("P-256 private key, PEM, base64", "ec-p256-pem-base64"),
            ("Ed25519 private key (PKCS8 PEM)", "ed25519-pem"),
            ("EdDSA signing key", "ed25519-pem"),
            ("64 hex characters", "hex:32"),
            ("32-byte key, hex-encoded", "hex:32"),
            ("at least 100 characters", "hex:50"),
        ] {
            assert_eq!(fmt("", comment).as_deref(), Some(want), "{comment}");
        }
    }

    #[test]
    fn formats_from_values_and_nothing_from_prose() {
        assert_eq!(
            fmt("-----BEGIN PRIVATE KEY-----\\nMIIE...", "").as_deref(),
            Some("rsa-pkcs8-pem")
        );
        assert_eq!(
            fmt("-----BEGIN EC PRIVATE KEY-----", "").as_deref(),
            Some("ec-p256-pem")
        );
        assert_eq!(
            fmt("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t", "").as_deref(),
            Some("rsa-pkcs8-pem-base64")
        );
        assert_eq!(fmt(&"ab".repeat(32), "").as_deref(), Some("hex:32"));
        assert_eq!(
            fmt("123e4567-e89b-42d3-a456-426614174000", "").as_deref(),
            Some("uuid")
        );
        for (v, c) in [
            ("", "Signs the access tokens"),
            ("change-me", ""),
            ("", "the RSA public key (PEM) of the issuer"),
            ("-----BEGIN PUBLIC KEY-----", ""),
            ("", "only with IPFS_PROVIDER=pinata"),
            ("", "Pinata API key"),
            ("", "CA certificate of the database (PEM)"),
            ("ES256", "the JWT algorithm: RS256 or ES256"),
            ("", "TLS certificate (PEM) with its RSA key"),
            ("", "ECDSA private key of the signer wallet (secp256k1)"),
            ("12345", ""),
        ] {
            assert_eq!(fmt(v, c), None, "{v:?} {c:?}");
        }
        let i = infer_format(
            "",
            "Token signing. RS256 PKCS8 PEM, base64-encoded. Rotate yearly",
        )
        .expect("inferred");
        assert_eq!(
            i.reason,
            "from the comment: \"RS256 PKCS8 PEM, base64-encoded\""
        );
        assert!(i.secret);
        let i = infer_format(
            "",
            "RS256 private key for tokens (PKCS8 PEM, base64-encoded)",
        )
        .expect("inferred");
        assert_eq!(
            i.reason,
            "from the comment: \"RS256 private key for tokens (PKCS8 PEM, base64-encoded)\""
        );
        let long = "Used by the identity service to sign the tokens it hands out to every \
                    client of the platform: RS256 PKCS8 PEM, base64-encoded, and rotated by \
                    the ops team every year through the vault";
        let i = infer_format("", long).expect("inferred");
        assert_eq!(
            i.reason,
            "from the comment: \"out to every client of the platform: RS256 PKCS8 PEM, \
             base64-encoded, and rotated by the ops team\"",
            "the words that decided, not the whole comment"
        );
    }

    #[test]
    fn required_in_production_from_comments() {
        for c in [
            "required in production",
            "Google OAuth. Required in production",
            "Optional in development, required in production.",
            "must be set in production",
            "REQUIRED in prod",
            "Mandatory for staging and production",
            "required (production)",
        ] {
            assert!(required_in_production(c).is_some(), "{c}");
        }
        for c in [
            "",
            "not required in production",
            "only for local development",
            "required for the pinata provider",
            "Where files go: local or pinata",
        ] {
            assert_eq!(required_in_production(c), None, "{c}");
        }
        assert_eq!(
            required_in_production("Google OAuth. Required in production.").as_deref(),
            Some("the comment says: \"Required in production\"")
        );
    }
}
