//! Reading files that are not to be trusted: only regular files are read (a FIFO would hang,
//! a device never ends, a `/proc` or `/sys` entry holds the environment or kernel state), and
//! never more than a cap. Opened with `O_NONBLOCK`, so even a FIFO is only looked at.
//!
//! Every input of the monorepo is read with [`read_in`] (or [`read_input_in`]): the path is
//! resolved (symbolic links followed) and refused when it leads outside the root, or when a
//! link inside the root leads to a secret file (`apps/api/.env.example` → `.env`). A link
//! inside the root to a regular file inside the root is read. [`read_regular`] (no root) is
//! for a path the user names on the command line (`--config`, `--env-file`), which may be
//! anywhere, and for this tool's own files.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The most any input file (config, manifest, workspace file, tsconfig) may hold.
pub const MAX_INPUT: u64 = 8 << 20;
/// The most a lockfile may hold (large monorepos have large lockfiles).
pub const MAX_LOCKFILE: u64 = 256 << 20;
/// The most a generated file may hold on disk (ours are a few kB).
pub const MAX_GENERATED: u64 = 4 << 20;

/// Why a path cannot be read as a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    Missing,
    Directory,
    /// A FIFO, socket, device, a `/proc` or `/sys` entry: what it is.
    Special(String),
    TooBig(u64),
    NotUtf8,
    /// Any other I/O error, with its text.
    Io(String),
    /// It resolves (through a symbolic link) outside the root: where to.
    OutsideRoot(String),
    /// A symbolic link inside the root that leads to a secret file: where to (root-relative).
    LinkToSecret(String),
}

impl Refused {
    /// One phrase for a message: "is a FIFO (named pipe)", "is larger than 8 MiB", ...
    pub fn phrase(&self, cap: u64) -> String {
        match self {
            Refused::Missing => "does not exist".into(),
            Refused::Directory => "is a directory".into(),
            Refused::Special(what) => format!("is {what}, not a regular file"),
            Refused::TooBig(n) if cap < 1 << 20 => format!(
                "holds {n} bytes, more than the {} KiB this tool reads",
                cap >> 10
            ),
            Refused::TooBig(n) => format!(
                "holds {n} bytes, more than the {} MiB this tool reads",
                cap >> 20
            ),
            Refused::NotUtf8 => "is not UTF-8 text".into(),
            Refused::Io(e) => format!("cannot be read: {e}"),
            Refused::OutsideRoot(to) => format!(
                "leads through a symbolic link to {}, outside the monorepo root (inputs are read only inside it)",
                crate::values::shown(to)
            ),
            Refused::LinkToSecret(to) => format!(
                "is a symbolic link to {}, a secret file (inputs never read a secret through a link)",
                crate::values::shown(to)
            ),
        }
    }
}

/// What a file type is, in words, when it is not a regular file or a directory.
pub fn special_kind(ft: &std::fs::FileType) -> Option<&'static str> {
    if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_symlink() {
        Some("a symbolic link")
    } else {
        None
    }
}

/// A pseudo file system whose "files" are kernel state (`/proc`, `/sys`, ...).
fn pseudo_fs(f: &File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes into `st`, a valid statfs, for a file descriptor we own.
    if unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)]
    match st.f_type as i64 {
        0x9fa0 => Some("a /proc entry"),
        0x6265_6572 => Some("a /sys entry"),
        0x6462_6720 => Some("a debugfs entry"),
        0x7472_6163 => Some("a tracefs entry"),
        0x1cd1 => Some("a devpts entry"),
        _ => None,
    }
}

/// Reads `path` (symbolic links followed) if it is a regular file on a real file system and
/// holds at most `cap` bytes of UTF-8.
pub fn read_regular(path: &Path, cap: u64) -> Result<String, Refused> {
    let bytes = read_regular_bytes(path, cap)?;
    String::from_utf8(bytes).map_err(|_| Refused::NotUtf8)
}

/// [`read_regular`] without the UTF-8 check.
pub fn read_regular_bytes(path: &Path, cap: u64) -> Result<Vec<u8>, Refused> {
    read_opened(path, cap, 0)
}

/// Reads `path` (relative to `root`, or absolute) as [`read_regular`] does, and only when it
/// resolves inside `root`: a symbolic link (of the file or a directory on its way) leading
/// outside is refused ([`Refused::OutsideRoot`]), so is a link to a secret file inside it
/// ([`Refused::LinkToSecret`]); the resolved path is opened without following links again.
pub fn read_in(root: &Path, path: &Path, cap: u64) -> Result<String, Refused> {
    let bytes = read_in_bytes(root, path, cap)?;
    String::from_utf8(bytes).map_err(|_| Refused::NotUtf8)
}

/// [`read_in`] without the UTF-8 check.
pub fn read_in_bytes(root: &Path, path: &Path, cap: u64) -> Result<Vec<u8>, Refused> {
    let resolved = resolve_in(root, path)?;
    read_opened(&resolved, cap, libc::O_NOFOLLOW)
}

/// The names of env templates: a link to one is not a link to a secret.
const TEMPLATE_SUFFIXES: &[&str] = &[".example", ".sample", ".template"];

/// `root.join(path)` with every link resolved, when that stays inside `root` (see [`read_in`]).
pub fn resolve_in(root: &Path, path: &Path) -> Result<PathBuf, Refused> {
    let io = |e: std::io::Error| Refused::Io(e.to_string());
    let full = root.join(path);
    let croot = root.canonicalize().map_err(io)?;
    let canon = match full.canonicalize() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refused::Missing),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Err(Refused::Missing),
        Err(e) => return Err(io(e)),
    };
    let Ok(target) = canon.strip_prefix(&croot) else {
        return Err(Refused::OutsideRoot(canon.display().to_string()));
    };
    // the path as written, without links: where it would be if nothing on its way were one
    let rel = full.strip_prefix(root).unwrap_or(&full);
    let lexical: PathBuf = croot.join(rel).components().collect();
    if canon != lexical {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
        };
        let to = target.to_string_lossy().to_string();
        let template =
            name(&canon).is_some_and(|n| TEMPLATE_SUFFIXES.iter().any(|s| n.ends_with(s)));
        if name(&canon) != name(&lexical) && !template && crate::secrets::secret_of(&to).is_some() {
            return Err(Refused::LinkToSecret(to));
        }
    }
    Ok(canon)
}

/// An input inside `root`, read or refused with a message that names it (relative to the
/// root) and the fix.
pub fn read_input_in(root: &Path, path: &Path, cap: u64) -> anyhow::Result<String> {
    let shown = path.strip_prefix(root).unwrap_or(path);
    read_in(root, path, cap).map_err(|r| refusal(shown, &r, cap))
}

fn read_opened(path: &Path, cap: u64, flags: libc::c_int) -> Result<Vec<u8>, Refused> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Refused::Missing,
            std::io::ErrorKind::IsADirectory => Refused::Directory,
            _ => Refused::Io(e.to_string()),
        })?;
    let meta = f.metadata().map_err(|e| Refused::Io(e.to_string()))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(Refused::Directory);
    }
    if let Some(what) = special_kind(&ft) {
        return Err(Refused::Special(what.into()));
    }
    if let Some(what) = pseudo_fs(&f) {
        return Err(Refused::Special(what.into()));
    }
    if meta.len() > cap {
        return Err(Refused::TooBig(meta.len()));
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| Refused::Io(e.to_string()))?;
    if out.len() as u64 > cap {
        return Err(Refused::TooBig(out.len() as u64));
    }
    Ok(out)
}

/// An input file, read or refused with a message that names it and the fix.
pub fn read_input(path: &Path, cap: u64) -> anyhow::Result<String> {
    read_regular(path, cap).map_err(|r| refusal(path, &r, cap))
}

/// The message for a refused input: the path, why, the fix.
pub fn refusal(path: &Path, r: &Refused, cap: u64) -> anyhow::Error {
    let fix = match r {
        Refused::Special(_) => "; replace it with a regular file",
        Refused::TooBig(_) => "; is it the right file?",
        Refused::NotUtf8 => "; save it as UTF-8",
        Refused::OutsideRoot(_) => "; replace the link with the file itself, inside the monorepo",
        Refused::LinkToSecret(_) => "; replace the link with a file that holds no secret",
        _ => "",
    };
    anyhow::anyhow!("{} {}{fix}", path.display(), r.phrase(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn only_regular_files_are_read() {
        let d = tmp("kinds");
        std::fs::write(d.join("ok"), "text").expect("write");
        assert_eq!(read_regular(&d.join("ok"), 100), Ok("text".into()));
        assert_eq!(read_regular(&d.join("none"), 100), Err(Refused::Missing));
        assert_eq!(read_regular(&d, 100), Err(Refused::Directory));
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("c");
        // SAFETY: a valid C string path
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // no writer: a blocking open would hang here
        assert_eq!(
            read_regular(&fifo, 100),
            Err(Refused::Special("a FIFO (named pipe)".into()))
        );
        std::os::unix::fs::symlink("/dev/zero", d.join("zero")).expect("link");
        assert_eq!(
            read_regular(&d.join("zero"), 100),
            Err(Refused::Special("a character device".into()))
        );
        std::os::unix::fs::symlink("/proc/self/environ", d.join("env")).expect("link");
        assert_eq!(
            read_regular(&d.join("env"), 100),
            Err(Refused::Special("a /proc entry".into()))
        );
        std::fs::write(d.join("big"), vec![b'x'; 101]).expect("write");
        assert_eq!(read_regular(&d.join("big"), 100), Err(Refused::TooBig(101)));
        std::fs::write(d.join("latin1"), b"caf\xe9").expect("write");
        assert_eq!(read_regular(&d.join("latin1"), 100), Err(Refused::NotUtf8));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn inputs_are_read_only_inside_the_root() {
        use std::os::unix::fs::symlink;
        let d = tmp("root");
        let (root, out) = (d.join("repo"), d.join("elsewhere"));
        std::fs::create_dir_all(root.join("apps/api")).expect("mkdir");
        std::fs::create_dir_all(root.join("shared")).expect("mkdir");
        std::fs::create_dir_all(&out).expect("mkdir");
        std::fs::write(out.join("secret.txt"), "TOKEN=x").expect("write");
        std::fs::write(root.join("shared/.env.example"), "A=1").expect("write");
        std::fs::write(root.join("shared/base.json"), "{}").expect("write");
        std::fs::write(root.join("apps/api/.env"), "DB_PASSWORD=real").expect("write");
        std::fs::write(root.join(".npmrc"), "x=1").expect("write");
        let api = root.join("apps/api");
        // a link inside the root to a regular file inside the root is read
        symlink("../../shared/base.json", api.join("base.json")).expect("ln");
        assert_eq!(
            read_in(&root, Path::new("apps/api/base.json"), 100),
            Ok("{}".into())
        );
        symlink("../../shared/.env.example", api.join(".env.example")).expect("ln");
        assert_eq!(
            read_in(&root, &api.join(".env.example"), 100),
            Ok("A=1".into())
        );
        // a file named like a secret, read as itself, is read (.npmrc is an input)
        assert_eq!(read_in(&root, Path::new(".npmrc"), 100), Ok("x=1".into()));
        // a link out of the root, to /proc, through a directory link, into the ignored .env
        symlink(out.join("secret.txt"), api.join("out.txt")).expect("ln");
        let outside = out.canonicalize().expect("canon").join("secret.txt");
        assert_eq!(
            read_in(&root, Path::new("apps/api/out.txt"), 100),
            Err(Refused::OutsideRoot(outside.display().to_string()))
        );
        symlink("/proc/self/environ", api.join(".env.sample")).expect("ln");
        assert!(matches!(
            read_in(&root, Path::new("apps/api/.env.sample"), 100),
            Err(Refused::OutsideRoot(to)) if to.starts_with("/proc/")
        ));
        symlink(&out, root.join("linked")).expect("ln");
        assert_eq!(
            read_in(&root, Path::new("linked/secret.txt"), 100),
            Err(Refused::OutsideRoot(outside.display().to_string()))
        );
        symlink(".env", api.join(".env.template")).expect("ln");
        assert_eq!(
            read_in(&root, Path::new("apps/api/.env.template"), 100),
            Err(Refused::LinkToSecret("apps/api/.env".into()))
        );
        // still only regular files, and a missing one (or a dangling link) is missing
        assert_eq!(
            read_in(&root, Path::new("shared"), 100),
            Err(Refused::Directory)
        );
        symlink("nowhere", api.join("dangling")).expect("ln");
        assert_eq!(
            read_in(&root, Path::new("apps/api/dangling"), 100),
            Err(Refused::Missing)
        );
        let msg = read_input_in(&root, &api.join("out.txt"), 100).expect_err("refused");
        assert!(
            msg.to_string()
                .starts_with("apps/api/out.txt leads through a symbolic link to"),
            "{msg}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Copies the tree `from` into `to` (created), leaving out entries named in `skip` at any
/// depth; a symlink is copied as a symlink (never followed), so the copy reads nothing
/// outside `from`. Used by `bench` (its two working copies) and the integration tests.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let e = e.with_context(|| format!("cannot list {}", from.display()))?;
        let name = e.file_name();
        if skip.contains(&name.to_string_lossy().as_ref()) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        let ft = e
            .file_type()
            .with_context(|| format!("cannot stat {}", src.display()))?;
        if ft.is_symlink() {
            let target = std::fs::read_link(&src)
                .with_context(|| format!("cannot read link {}", src.display()))?;
            std::os::unix::fs::symlink(target, &dst)
                .with_context(|| format!("cannot link {}", dst.display()))?;
        } else if ft.is_dir() {
            copy_tree(&src, &dst, skip)?;
        } else {
            std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod copy_tree_tests {
    use super::copy_tree;

    #[test]
    fn copies_files_dirs_and_symlinks_and_skips_named_dirs() {
        let base = std::env::temp_dir().join(format!("xtask-copy-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (from, to) = (base.join("from"), base.join("to"));
        std::fs::create_dir_all(from.join("a/node_modules/x")).expect("mkdir");
        std::fs::write(from.join("a/f.txt"), "f").expect("write");
        std::fs::write(from.join("a/node_modules/x/g"), "g").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", from.join("a/link")).expect("symlink");
        copy_tree(&from, &to, &["node_modules"]).expect("copy");
        assert_eq!(
            std::fs::read_to_string(to.join("a/f.txt")).expect("read"),
            "f"
        );
        assert!(!to.join("a/node_modules").exists());
        let link = std::fs::symlink_metadata(to.join("a/link")).expect("link");
        assert!(link.file_type().is_symlink());
        assert_eq!(
            std::fs::read_link(to.join("a/link")).expect("readlink"),
            std::path::Path::new("/etc/passwd")
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
