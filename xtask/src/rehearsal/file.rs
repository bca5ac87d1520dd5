//! What the staging file says: its services, as `docker compose config --format json`
//! prints them, and the set the rehearsal starts (the proxy and its dependencies).

use super::*;

/// One published port, as `docker compose config --format json` normalises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub host_ip: Option<String>,
    pub published: Option<u16>,
    pub target: u16,
    pub protocol: String,
}

/// One service of the (merged) compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileService {
    pub name: String,
    pub image: String,
    /// (dependency, condition)
    pub depends_on: Vec<(String, String)>,
    pub healthcheck: bool,
    pub ports: Vec<Published>,
    pub environment: BTreeMap<String, String>,
}

/// Parses `docker compose config --format json`.
pub fn parse_config(v: &Value) -> Result<Vec<FileService>> {
    let services = v
        .get("services")
        .and_then(Value::as_object)
        .context("`docker compose config` printed no services")?;
    let mut out = Vec::new();
    for (name, s) in services {
        let image = s
            .get("image")
            .and_then(Value::as_str)
            .with_context(|| format!("service {name} has no image in the compose file"))?
            .to_string();
        let mut depends_on: Vec<(String, String)> = s
            .get("depends_on")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(dep, d)| {
                        let cond = d
                            .get("condition")
                            .and_then(Value::as_str)
                            .unwrap_or("service_started");
                        (dep.clone(), cond.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        depends_on.sort();
        let healthcheck = match s.get("healthcheck") {
            None | Some(Value::Null) => false,
            Some(h) => {
                let disabled = h.get("disable").and_then(Value::as_bool).unwrap_or(false);
                let none = h
                    .get("test")
                    .and_then(Value::as_array)
                    .and_then(|t| t.first())
                    .and_then(Value::as_str)
                    == Some("NONE");
                !disabled && !none && h.get("test").is_some()
            }
        };
        let ports = s
            .get("ports")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| Published {
                        host_ip: p.get("host_ip").and_then(Value::as_str).map(String::from),
                        published: p.get("published").and_then(|x| match x {
                            Value::String(s) => s.parse().ok(),
                            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                            _ => None,
                        }),
                        target: p
                            .get("target")
                            .and_then(Value::as_u64)
                            .and_then(|n| u16::try_from(n).ok())
                            .unwrap_or(0),
                        protocol: p
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("tcp")
                            .to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let environment = s
            .get("environment")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(FileService {
            name: name.clone(),
            image,
            depends_on,
            healthcheck,
            ports,
            environment,
        });
    }
    Ok(out)
}

pub(super) fn find<'a>(services: &'a [FileService], name: &str) -> Result<&'a FileService> {
    services.iter().find(|s| s.name == name).with_context(|| {
        format!("the staging compose file has no service {name:?}; run `cargo xtask gen`")
    })
}

/// The services to start: the proxy and everything it depends on, transitively, dependencies
/// first (the order compose starts them in).
pub fn start_set(services: &[FileService], proxy: &str) -> Result<Vec<String>> {
    fn visit(
        services: &[FileService],
        name: &str,
        path: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if out.iter().any(|n| n == name) {
            return Ok(());
        }
        if path.iter().any(|n| n == name) {
            bail!("depends_on cycle: {} -> {name}", path.join(" -> "));
        }
        let s = find(services, name)?;
        path.push(name.to_string());
        for (dep, _) in &s.depends_on {
            visit(services, dep, path, out)?;
        }
        path.pop();
        out.push(name.to_string());
        Ok(())
    }
    let mut out = Vec::new();
    visit(services, proxy, &mut Vec::new(), &mut out)?;
    Ok(out)
}
