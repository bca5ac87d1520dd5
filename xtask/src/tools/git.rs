//! git: the commit an image is built from (OCI labels revision, created, source).

use std::path::Path;

use super::{capture, find_opt, shell};

/// What the build labels need from git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitInfo {
    pub revision: String,
    /// Committer time of HEAD, seconds since the epoch.
    pub commit_time: i64,
    /// `origin` as an https URL without credentials.
    pub source: Option<String>,
    /// Tracked files differ from HEAD.
    pub dirty: bool,
}

/// HEAD of the repository `root` is in; `Err(reason)` when there is none (no git, not a
/// repository, no commit yet), said so that the caller can print a clear fallback.
pub fn info(root: &Path) -> Result<GitInfo, String> {
    let Some(git) = find_opt("git") else {
        return Err("git is not installed".into());
    };
    let sh = shell().map_err(|e| format!("{e:#}"))?;
    let run = |args: &[&str]| -> Result<String, String> {
        let c =
            capture(sh.cmd(&git).arg("-C").arg(root).args(args)).map_err(|e| format!("{e:#}"))?;
        if c.ok() {
            Ok(c.stdout.trim().to_string())
        } else {
            Err(c.detail())
        }
    };
    let revision = run(&["rev-parse", "--verify", "HEAD"]).map_err(|e| {
        if e.contains("not a git repository") {
            format!("{} is not in a git repository", root.display())
        } else {
            format!("git rev-parse HEAD failed: {e}")
        }
    })?;
    let commit_time = run(&["log", "-1", "--format=%ct", "HEAD"])?
        .parse::<i64>()
        .map_err(|_| "git log printed no commit time".to_string())?;
    let source = run(&["remote", "get-url", "origin"])
        .ok()
        .and_then(|u| https_url(&u));
    let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    Ok(GitInfo {
        revision,
        commit_time,
        source,
        dirty,
    })
}

/// Is `path` ignored by the git repository it is in (`git check-ignore -q`)? `Err(reason)`
/// when that cannot be told (no git, not in a repository).
pub fn is_ignored(path: &Path) -> Result<bool, String> {
    let Some(git) = find_opt("git") else {
        return Err("git is not installed".into());
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let sh = shell().map_err(|e| format!("{e:#}"))?;
    let c = capture(
        sh.cmd(&git)
            .arg("-C")
            .arg(dir)
            .args(["check-ignore", "-q", "--"])
            .arg(path),
    )
    .map_err(|e| format!("{e:#}"))?;
    match c.code {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ if c.stderr.contains("not a git repository") => {
            Err(format!("{} is not in a git repository", dir.display()))
        }
        _ => Err(format!("git check-ignore failed: {}", c.detail())),
    }
}

/// The files and directories under `root` that git ignores and does not track
/// (`git ls-files --others --ignored --exclude-standard --directory -z`): a wholly ignored
/// directory is one entry ending in `/`; paths are relative to `root`. `Err(reason)` when
/// that cannot be told (no git, `root` not in a work tree).
pub fn ignored(root: &Path) -> Result<Vec<String>, String> {
    let Some(git) = find_opt("git") else {
        return Err("git is not installed".into());
    };
    let sh = shell().map_err(|e| format!("{e:#}"))?;
    let c = capture(
        sh.cmd(&git)
            .arg("-C")
            .arg(root)
            .args([
                "ls-files",
                "-z",
                "--others",
                "--ignored",
                "--exclude-standard",
                "--directory",
                "--",
                ".",
            ])
            .env("GIT_LITERAL_PATHSPECS", "1"),
    )
    .map_err(|e| format!("{e:#}"))?;
    if !c.ok() {
        return Err(if c.stderr.contains("not a git repository") {
            format!("{} is not in a git work tree", root.display())
        } else {
            format!("git ls-files failed: {}", c.detail())
        });
    }
    Ok(c.stdout
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

/// A remote URL as a browsable https URL, credentials and `.git` removed:
/// `git@github.com:o/r.git` → `https://github.com/o/r`. `None` for local paths.
pub fn https_url(remote: &str) -> Option<String> {
    let r = remote.trim();
    let (host, path) = if let Some(rest) = r
        .strip_prefix("https://")
        .or_else(|| r.strip_prefix("http://"))
    {
        rest.split_once('/')?
    } else if let Some(rest) = r
        .strip_prefix("ssh://")
        .or_else(|| r.strip_prefix("git://"))
    {
        rest.split_once('/')?
    } else if !r.contains("://") && r.contains(':') && !r.starts_with('/') {
        r.split_once(':')?
    } else {
        return None;
    };
    let host = host.rsplit('@').next()?; // drop user[:token]@
    let host = host.split(':').next()?; // drop an ssh port
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    if host.is_empty() || path.is_empty() {
        return None;
    }
    Some(format!("https://{host}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_become_https_without_credentials() {
        assert_eq!(
            https_url("git@github.com:acme/cipherbox.git").as_deref(),
            Some("https://github.com/acme/cipherbox")
        );
        assert_eq!(
            https_url("https://x-access-token:ghp_SECRET@github.com/acme/cipherbox.git").as_deref(),
            Some("https://github.com/acme/cipherbox")
        );
        assert_eq!(
            https_url("ssh://git@gitlab.example:2222/a/b.git").as_deref(),
            Some("https://gitlab.example/a/b")
        );
        assert_eq!(https_url("/srv/git/repo.git"), None);
        assert_eq!(https_url("../other"), None);
    }

    #[test]
    fn a_directory_outside_git_is_a_clear_reason() {
        let dir = std::env::temp_dir().join(format!("xtask-nogit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let r = info(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let e = r.expect_err("no repository");
        assert!(
            e.contains("not in a git repository") || e.contains("git"),
            "{e}"
        );
    }
}
