//! Units for people: sizes (and nothing that runs or reads anything).

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
