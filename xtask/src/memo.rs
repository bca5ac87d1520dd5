//! A content-addressed memo of external tool runs that PASSED, so `verify --static` (a
//! pre-commit hook) does not rerun `docker compose config` and `caddy` on inputs those very
//! tools already accepted. The key covers the input bytes, the tool binaries (path, size,
//! modification time) and this xtask binary; only passes are recorded, so a failure is always
//! reported by a real run. `--no-cache` (or `XTASK_NO_CACHE=1`) turns it off. Pure except for
//! reading and touching marker files; it runs no program.

use std::path::{Path, PathBuf};

/// Where markers live: `$XTASK_CACHE_DIR`, else `$XDG_CACHE_HOME/xtask/verify`, else
/// `~/.cache/xtask/verify`; `None` when turned off or no home is known.
#[derive(Debug, Clone)]
pub struct Memo {
    dir: Option<PathBuf>,
}

/// What a key is made of.
#[derive(Debug, Default)]
pub struct Key {
    h: u64,
}

impl Key {
    pub fn new(stage: &str) -> Key {
        let mut k = Key {
            h: 0xcbf2_9ce4_8422_2325,
        };
        k.bytes(stage.as_bytes());
        k.bytes(env!("CARGO_PKG_VERSION").as_bytes());
        if let Ok(exe) = std::env::current_exe() {
            k.file_identity(&exe);
        }
        k
    }

    /// FNV-1a over `b`, with a separator so that ("ab","c") and ("a","bc") differ.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Key {
        for x in b.iter().chain([0xffu8, 0x00].iter()) {
            self.h ^= u64::from(*x);
            self.h = self.h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    /// A program or file: its path, size and modification time (a new version changes them).
    pub fn file_identity(&mut self, p: &Path) -> &mut Key {
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        self.bytes(real.to_string_lossy().as_bytes());
        if let Ok(m) = std::fs::metadata(&real) {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            self.bytes(&m.len().to_le_bytes());
            self.bytes(&mtime.to_le_bytes());
        }
        self
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.h)
    }
}

impl Memo {
    pub fn open(enabled: bool) -> Memo {
        let off = !enabled || std::env::var_os("XTASK_NO_CACHE").is_some_and(|v| v != "0");
        let dir = if off {
            None
        } else if let Some(d) = std::env::var_os("XTASK_CACHE_DIR").filter(|d| !d.is_empty()) {
            Some(PathBuf::from(d))
        } else if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            Some(PathBuf::from(d).join("xtask/verify"))
        } else {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".cache/xtask/verify"))
        };
        Memo { dir }
    }

    fn marker(&self, key: &Key) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("pass-{}", key.hex())))
    }

    /// Did a real run on exactly these inputs pass before?
    pub fn passed_before(&self, key: &Key) -> bool {
        self.marker(key).is_some_and(|m| m.is_file())
    }

    /// Records a pass (best effort: a cache that cannot be written only costs time).
    pub fn record_pass(&self, key: &Key) {
        if let (Some(dir), Some(m)) = (&self.dir, self.marker(key)) {
            if std::fs::create_dir_all(dir).is_ok() {
                let _ = crate::generated::write_atomic(&m, "");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_part_and_passes_are_remembered() {
        let a = Key::new("compose").bytes(b"ab").bytes(b"c").hex();
        let b = Key::new("compose").bytes(b"a").bytes(b"bc").hex();
        let c = Key::new("caddy").bytes(b"ab").bytes(b"c").hex();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, Key::new("compose").bytes(b"ab").bytes(b"c").hex());

        let dir = std::env::temp_dir().join(format!("xtask-memo-{}", std::process::id()));
        let memo = Memo {
            dir: Some(dir.clone()),
        };
        let mut k = Key::new("compose");
        k.bytes(b"file");
        assert!(!memo.passed_before(&k));
        memo.record_pass(&k);
        assert!(memo.passed_before(&k));
        let mut other = Key::new("compose");
        other.bytes(b"file, edited");
        assert!(!memo.passed_before(&other));
        assert!(
            !Memo::open(false).passed_before(&k),
            "--no-cache never hits"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
