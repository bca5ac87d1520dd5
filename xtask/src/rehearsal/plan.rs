//! The plan: which image each started service runs and where it came from, the proxy's
//! loopback ports, and the check that compose merged the override as planned.

use super::file::find;
use super::*;

/// Where a started service's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The image the staging file names, used as is.
    Real,
    /// A locally assembled stand-in for `stands_in_for` (usually the image the staging file
    /// names; the staging file may also name a stand-in itself).
    Standin {
        kind: Kind,
        provides: String,
        stands_in_for: String,
    },
    /// The API image built (or given) for this rehearsal; `standin_base`: built on a stand-in.
    Api {
        note: String,
        standin_base: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub name: String,
    /// What the staging file names.
    pub staging_image: String,
    /// What runs in the rehearsal.
    pub image: String,
    pub source: Source,
    /// The staging file publishes host ports for it (the rehearsal drops or remaps them).
    pub has_ports: bool,
}

impl ServicePlan {
    pub fn is_standin(&self) -> bool {
        matches!(self.source, Source::Standin { .. })
    }

    /// The service's name as every output line shows it: stand-ins are always named as such.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Standin { .. } => format!("{} (STAND-IN {})", self.name, self.image),
            Source::Api {
                standin_base: Some(base),
                ..
            } => format!("{} (on STAND-IN base {base})", self.name),
            _ => self.name.clone(),
        }
    }

    /// One line describing the image, for the summary.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Real => format!("{:<9} {} (the staging file's image)", self.name, self.image),
            Source::Standin {
                provides,
                stands_in_for,
                ..
            } => format!(
                "{:<9} STAND-IN {} for {stands_in_for}: {provides}{}",
                self.name,
                self.image,
                if self.image == self.staging_image {
                    " (named by the staging file itself)"
                } else {
                    ""
                }
            ),
            Source::Api { note, .. } => format!(
                "{:<9} {} instead of {} ({note})",
                self.name, self.image, self.staging_image
            ),
        }
    }
}

/// A port of the proxy, published on loopback for the rehearsal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loopback {
    pub host: u16,
    pub target: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub project: String,
    /// Started services, dependencies first.
    pub services: Vec<ServicePlan>,
    /// The proxy's service name (Caddy).
    pub proxy: String,
    /// The proxy's ports on 127.0.0.1 instead of the staging file's public ones.
    pub proxy_ports: Vec<Loopback>,
}

impl Plan {
    pub fn service(&self, name: &str) -> Option<&ServicePlan> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn label(&self, name: &str) -> String {
        self.service(name)
            .map(ServicePlan::label)
            .unwrap_or_else(|| name.to_string())
    }

    pub fn names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.name.clone()).collect()
    }

    /// Every image is local: compose must never try to pull.
    pub fn all_local(&self) -> bool {
        self.services
            .iter()
            .all(|s| !matches!(s.source, Source::Real))
    }

    /// The host port the proxy's container port `target` is published on.
    pub fn proxy_port(&self, target: u16) -> Option<u16> {
        self.proxy_ports
            .iter()
            .find(|p| p.target == target && p.protocol == "tcp")
            .map(|p| p.host)
    }
}

/// What the merged config must say for the plan to be in effect (images swapped, the proxy on
/// loopback only, no other host port): the override was applied as intended.
pub fn verify_merged(plan: &Plan, merged: &[FileService]) -> Vec<String> {
    let mut problems = Vec::new();
    for s in &plan.services {
        let Ok(m) = find(merged, &s.name) else {
            problems.push(format!("{} is missing from the merged config", s.name));
            continue;
        };
        if m.image != s.image {
            problems.push(format!(
                "{} runs {} instead of {}",
                s.name, m.image, s.image
            ));
        }
        if s.name == plan.proxy {
            for p in &m.ports {
                if p.host_ip.as_deref() != Some("127.0.0.1") {
                    problems.push(format!(
                        "{} publishes {}/{} beyond loopback",
                        s.name, p.target, p.protocol
                    ));
                }
            }
            if m.ports.len() != plan.proxy_ports.len() {
                problems.push(format!(
                    "{} publishes {} port(s), the plan {}",
                    s.name,
                    m.ports.len(),
                    plan.proxy_ports.len()
                ));
            }
        } else if !m.ports.is_empty() {
            problems.push(format!("{} still publishes host ports", s.name));
        }
    }
    problems
}
