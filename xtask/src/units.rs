//! Units for people: sizes and dates (and nothing that runs or reads anything).

/// `1234567` → `1.2 MB` (decimal units, as docker prints them).
pub fn human_size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else if bytes >= 1_000 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian; Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Seconds since the epoch as RFC 3339 UTC (`2024-05-01T12:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// The largest size [`parse_size`] takes: 1 TB (an image budget beyond it is a typo).
pub const MAX_SIZE: u64 = 1_000_000_000_000;

/// A size as people write it, in docker's decimal units or binary ones: `400 MB`, `400MB`,
/// `1.5 GB`, `512 MiB`, `750kB`, `1000000` (bytes). The unit is case-insensitive except that
/// `b` alone is bytes; the value must be above zero and at most [`MAX_SIZE`].
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let example = "a size like \"400 MB\" (B, kB, MB, GB, KiB, MiB or GiB)";
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1
    {
        return Err(format!("{s:?} is not {example}"));
    }
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}; use {example}")),
    };
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not {example}"))?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("{s:?} must be above zero ({example})"));
    }
    if bytes > MAX_SIZE as f64 {
        return Err(format!("{s:?} is over 1 TB; {example}"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_people_write_them() {
        assert_eq!(parse_size("400 MB"), Ok(400_000_000));
        assert_eq!(parse_size("400MB"), Ok(400_000_000));
        assert_eq!(parse_size(" 1.5 GB "), Ok(1_500_000_000));
        assert_eq!(parse_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_size("750kB"), Ok(750_000));
        assert_eq!(parse_size("10 mb"), Ok(10_000_000));
        assert_eq!(parse_size("1000000"), Ok(1_000_000));
        assert_eq!(parse_size("1 TB"), Ok(MAX_SIZE));
        for bad in [
            "",
            "MB",
            "ten MB",
            "-5 MB",
            "0",
            "0 MB",
            "0.0000001 B",
            "400 XB",
            "1.2.3 MB",
            ".5 GB",
            "2 TB",
            "400 MB extra",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} was taken");
        }
        assert_eq!(
            parse_size("400 XB").unwrap_err(),
            "\"400 XB\": unknown unit \"XB\"; use a size like \"400 MB\" (B, kB, MB, GB, KiB, MiB or GiB)"
        );
        assert_eq!(
            human_size(parse_size("400 MB").expect("a size")),
            "400.0 MB"
        );
    }
}
