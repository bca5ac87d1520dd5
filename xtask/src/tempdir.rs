//! The one temporary directory of the tool (verify's tool runs, the rehearsal, the bench):
//! created fresh under the system's temp dir, removed when dropped (also on errors and
//! panics), unless kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A fresh `<tmp>/xtask-<tag>-<pid>-<n>-<nanos>`, created.
    pub fn new(tag: &str) -> Result<TempDir> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        TempDir::at(
            std::env::temp_dir().join(format!("xtask-{tag}-{}-{n}-{nanos}", std::process::id())),
        )
    }

    /// `path` (a name unique to this run, under the temp dir) as a fresh temporary
    /// directory: whatever was there is removed first.
    pub fn at(path: PathBuf) -> Result<TempDir> {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| {
            format!(
                "cannot create a temporary directory {}; check TMPDIR and its free space",
                path.display()
            )
        })?;
        Ok(TempDir { path, keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leave the directory when dropped (e.g. `rehearse --keep`).
    pub fn keep(&mut self, keep: bool) {
        self.keep = keep;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_unless_kept() {
        let t = TempDir::new("unit-tempdir").expect("temp dir");
        let p = t.path().to_path_buf();
        assert!(p.is_dir());
        drop(t);
        assert!(!p.exists());
        let mut k = TempDir::new("unit-tempdir").expect("temp dir");
        k.keep(true);
        let p = k.path().to_path_buf();
        drop(k);
        assert!(p.is_dir());
        std::fs::remove_dir_all(&p).expect("clean up");
    }
}
