//! The `compose` stage: `docker compose config` for real, without and with interpolation,
//! and `docker stack config` on the Swarm file; their errors as findings at file:line.

use super::*;

/// The memo key of the compose stage: the files it reads, the docker CLI and its compose plugin.
pub(super) fn compose_key(ctx: &Ctx) -> Option<Key> {
    let docker = tools::find("docker", "").ok()?;
    let mut k = Key::new("compose");
    k.file_identity(&docker);
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    for dir in [
        home.join(".docker/cli-plugins"),
        PathBuf::from("/usr/local/lib/docker/cli-plugins"),
        PathBuf::from("/usr/local/libexec/docker/cli-plugins"),
        PathBuf::from("/usr/lib/docker/cli-plugins"),
        PathBuf::from("/usr/libexec/docker/cli-plugins"),
    ] {
        k.file_identity(&dir.join("docker-compose"));
    }
    for f in [COMPOSE, ENV_EXAMPLE] {
        k.bytes(
            &crate::files::read_in_bytes(&ctx.root, Path::new(f), crate::files::MAX_GENERATED)
                .ok()?,
        );
    }
    k.bytes(
        &crate::files::read_in_bytes(
            &ctx.root,
            Path::new(stack::SWARM_STACK),
            crate::files::MAX_GENERATED,
        )
        .unwrap_or_default(),
    );
    Some(k)
}

pub(super) fn compose_stage(ctx: &Ctx) -> Stage {
    let t = Instant::now();
    match compose_checks(ctx) {
        Ok(Some(findings)) => {
            Stage::ran("compose", t.elapsed(), COMPOSE_DETAIL.into(), findings, &[])
        }
        Ok(None) => Stage::not_run(
            "compose",
            t.elapsed(),
            Status::Skipped(format!("{COMPOSE} is missing (see the fresh stage)")),
        ),
        Err(e) => error_stage("compose", t, e),
    }
}

pub(super) fn compose_checks(ctx: &Ctx) -> Result<Option<Vec<Finding>>> {
    let file = ctx.root.join(COMPOSE);
    let Some(text) = generated::read_optional(&file)? else {
        return Ok(None);
    };
    // The two runs are independent: run them side by side.
    let (raw, interpolated) = std::thread::scope(|s| {
        let raw = s.spawn(|| {
            tools::compose::config(&tools::compose::Config {
                file: &file,
                env_file: None,
                interpolate: false,
            })
        });
        let interpolated = compose_interpolated(ctx, &text);
        (raw.join(), interpolated)
    });
    let raw = raw.unwrap_or_else(|_| {
        Err(anyhow::anyhow!(
            "docker compose config --no-interpolate panicked (a bug)"
        ))
    })?;
    if !raw.status.success() {
        // interpolation fails the same way: report the plain error once
        return Ok(Some(vec![compose_error_finding(
            &text,
            &String::from_utf8_lossy(&raw.stderr),
            "--no-interpolate",
        )]));
    }
    let mut findings = interpolated?;
    findings.extend(stack_check(ctx)?);
    Ok(Some(findings))
}

/// `docker stack config` of the Swarm stack file, interpolated with the example env file.
pub(super) fn stack_check(ctx: &Ctx) -> Result<Vec<Finding>> {
    let file = ctx.root.join(stack::SWARM_STACK);
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let example = generated::read_optional(&ctx.root.join(ENV_EXAMPLE))?.unwrap_or_default();
    let out = tools::swarm::stack_config(&file, &tools::swarm::parse_env(&example))?;
    if out.ok() {
        return Ok(Vec::new());
    }
    Ok(vec![Finding {
        file: stack::SWARM_STACK.into(),
        line: 1,
        rule: "swarm/stack-config",
        message: format!(
            "docker stack config (interpolated with {ENV_EXAMPLE}): {}",
            out.detail()
        ),
    }])
}

/// `docker compose config` interpolated with the example env file, on a temporary copy of
/// infra/ whose `.env.staging` (the compose file's `env_file:`) is the example. A required
/// variable missing from the example is a finding; it then gets a placeholder, and the run
/// is repeated to find the next one.
pub(super) fn compose_interpolated(ctx: &Ctx, text: &str) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let tmp = TempDir::new("verify-compose")?;
    let infra = ctx.root.join(stack::INFRA_DIR);
    for e in
        std::fs::read_dir(&infra).with_context(|| format!("cannot list {}", infra.display()))?
    {
        let e = e.with_context(|| format!("cannot list {}", infra.display()))?;
        if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
            std::fs::copy(e.path(), tmp.path().join(e.file_name())).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    e.path().display(),
                    tmp.path().display()
                )
            })?;
        }
    }
    let example = generated::read_optional(&ctx.root.join(ENV_EXAMPLE))?.unwrap_or_default();
    let env_path = tmp.path().join(".env.staging");
    let mut env = example;
    let copy = tmp
        .path()
        .join(Path::new(COMPOSE).file_name().unwrap_or_default());
    for _ in 0..32 {
        std::fs::write(&env_path, &env)
            .with_context(|| format!("cannot write {}", env_path.display()))?;
        let out = tools::compose::config(&tools::compose::Config {
            file: &copy,
            env_file: Some(&env_path),
            interpolate: true,
        })?;
        if out.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        // "error while interpolating services.api.environment.DB_PASSWORD: required variable DB_PASSWORD is missing a value: ..."
        let Some(var) = stderr
            .split("required variable ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        else {
            findings.push(compose_error_finding(
                text,
                &stderr,
                &format!("interpolated with {ENV_EXAMPLE}"),
            ));
            break;
        };
        // compose names whichever use it met first (Go map order: it varies from run to
        // run); report the first use in the file, which is stable
        let first_use = format!("${{{var}");
        let line = text
            .lines()
            .position(|l| l.contains(&first_use))
            .map(|i| i + 1)
            .or_else(|| {
                stderr
                    .split("error while interpolating ")
                    .nth(1)
                    .and_then(|r| r.split(':').next())
                    .map(|p| compose_line(text, p.trim()))
            })
            .unwrap_or(1);
        findings.push(Finding {
            rule: "compose/env-example",
            file: COMPOSE.into(),
            line,
            message: format!("{var} is required here but missing from (or empty in) {ENV_EXAMPLE}; add `{var}=<placeholder>` there (via the model: `cargo xtask gen`)"),
        });
        let placeholder = format!("\n{var}=x-verify\n");
        if env.contains(&placeholder) {
            break; // the placeholder did not help: stop rather than loop
        }
        env.push_str(&placeholder);
    }
    Ok(findings)
}

/// A temporary directory, removed on drop.
/// The line of a compose key path that compose names in an error (`services.api.ports.0`).
pub(super) fn compose_line(text: &str, dotted: &str) -> usize {
    let segs: Vec<Seg> = dotted
        .split('.')
        .map(|p| match p.parse::<usize>() {
            Ok(n) => Seg::Index(n),
            Err(_) => Seg::Key(p.to_string()),
        })
        .collect();
    yaml::line_of(text, &segs).unwrap_or(1)
}

/// A finding for a `docker compose config` error message.
pub(super) fn compose_error_finding(text: &str, stderr: &str, how: &str) -> Finding {
    let msg = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("failed without a message")
        .to_string();
    let mut line = 1;
    if let Some(i) = msg.find("line ") {
        let digits: String = msg[i + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        line = digits.parse().unwrap_or(1);
    } else if let Some(path) = msg
        .split_whitespace()
        .find(|w| w.starts_with("services.") || w.starts_with("volumes."))
    {
        let path = path.trim_end_matches(':');
        // "services.caddy Additional property restrat is not allowed" names the key too
        let full = match msg.split_once("Additional property ") {
            Some((_, rest)) => format!("{path}.{}", rest.split_whitespace().next().unwrap_or("")),
            None => path.to_string(),
        };
        line = compose_line(text, &full);
    }
    Finding {
        rule: "compose/config",
        file: COMPOSE.into(),
        line,
        message: format!("docker compose config ({how}): {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_errors_point_at_lines() {
        let text = "services:\n  caddy:\n    image: x\n    restrat: no\n";
        let f = compose_error_finding(
            text,
            "validating /t/c.yml: services.caddy Additional property restrat is not allowed\n",
            "x",
        );
        assert_eq!(f.line, 4);
        let f = compose_error_finding(
            text,
            "yaml: line 3: found character that cannot start any token\n",
            "x",
        );
        assert_eq!(f.line, 3);
    }
}
