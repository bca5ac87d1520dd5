//! Ratios, durations, sizes and aligned text tables for the benchmark's output. Pure.

/// `a / b`, or `None` when `b` is not positive (nothing to compare with).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// `0.45x`; more digits when the ratio is close to 1 (sizes) or small.
pub fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        None => "n/a".into(),
        Some(r) if r >= 10.0 => format!("{r:.0}x"),
        Some(r) if (r - 1.0).abs() < 0.01 => format!("{r:.4}x"),
        Some(r) if r >= 0.095 => format!("{r:.2}x"),
        Some(r) if r > 0.0 => {
            // two significant digits
            let d = (-r.log10()).ceil() as usize + 1;
            format!("{r:.d$}x")
        }
        Some(r) => format!("{r}x"),
    }
}

/// `6.4 s`, `12 ms`.
pub fn fmt_secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.1} s")
    }
}

/// Decimal sizes as Docker prints them (`15.5 kB`, `127.8 MB`).
pub fn fmt_bytes(b: u64) -> String {
    crate::units::human_size(b)
}

/// `+3.0 kB` / `-512 B`: a signed size difference.
pub fn fmt_delta(a: u64, b: u64) -> String {
    if a >= b {
        format!("+{}", fmt_bytes(a - b))
    } else {
        format!("-{}", fmt_bytes(b - a))
    }
}

/// `met` or `MISSED`.
pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// The median of some measurements (`None` when there are none).
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// A text table: the first column left-aligned, the others right-aligned.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: AsRef<str>>(header: &[S]) -> Table {
        Table {
            rows: vec![header.iter().map(|s| s.as_ref().to_string()).collect()],
        }
    }

    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> &mut Self {
        self.rows
            .push(cells.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// Every row indented by `indent` spaces, columns two spaces apart, no trailing blanks.
    pub fn render(&self, indent: usize) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let width = |c: usize| {
            self.rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        let mut out = String::new();
        for r in &self.rows {
            let mut line = " ".repeat(indent);
            for (c, w) in widths.iter().enumerate() {
                let cell = r.get(c).map(String::as_str).unwrap_or("");
                if c == 0 {
                    line.push_str(&format!("{cell:<w$}"));
                } else {
                    line.push_str(&format!("  {cell:>w$}"));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_units() {
        assert_eq!(fmt_ratio(ratio(6.4, 14.1)), "0.45x");
        assert_eq!(fmt_ratio(ratio(127_787_426.0, 127_784_453.0)), "1.0000x");
        assert_eq!(fmt_ratio(ratio(15_490.0, 60_000_000.0)), "0.00026x");
        assert_eq!(fmt_ratio(Some(0.05)), "0.050x");
        assert_eq!(fmt_ratio(ratio(1.0, 0.0)), "n/a");
        assert_eq!(fmt_ratio(ratio(300.0, 2.0)), "150x");
        assert_eq!(fmt_secs(0.0421), "42 ms");
        assert_eq!(fmt_secs(6.44), "6.4 s");
        assert_eq!(fmt_bytes(15_490), "15.5 kB");
        assert_eq!(fmt_delta(10, 3_010), "-3.0 kB");
        assert_eq!(fmt_delta(512, 0), "+512 B");
        assert_eq!(verdict(false), "MISSED");
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["", "generated", "reference", "ratio"]);
        t.row(&["warm rebuild", "6.4 s", "14.1 s", "0.45x"]);
        t.row(&["context", "15.5 kB", "35.2 kB"]);
        assert_eq!(
            t.render(2),
            "                generated  reference  ratio\n  warm rebuild      6.4 s     14.1 s  0.45x\n  context         15.5 kB    35.2 kB\n"
        );
    }
}
