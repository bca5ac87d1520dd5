//! The rehearsal's report: its checks as data, printed as they are decided (text) or at the
//! end (JSON), and the logs shown on failure.

use super::*;

/// The rehearsal's report: one set of data, two renderings. As text, each check is printed
/// as a PASS/FAIL line on stdout the moment it is decided; as JSON (`--format json`), the
/// whole report is printed at the end and the text lines go to stderr as progress.
#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(skip)]
    format: Format,
    /// The compose project (`xtask-rehearse-<pid>-<hex>`).
    pub project: String,
    /// `pass` or `fail`.
    pub outcome: &'static str,
    /// One line per started service: its image and where it came from.
    pub services: Vec<String>,
    /// Services of the staging file the rehearsal does not start.
    pub not_started: Vec<String>,
    pub checks: Vec<Check>,
    /// The health body's checks through Caddy: pointer, expected, actual (never a secret).
    pub health_body: Option<crate::health::BodyReport>,
    /// The logs shown on failure (the failing services' last lines), as data.
    pub logs: Vec<ServiceLogs>,
    pub timings: Timings,
    /// `--keep`: the stack is still up.
    pub kept: bool,
    /// With `[web]`: the web app's build.
    pub web: Option<WebBuild>,
}

/// The web app's build as the rehearsal made it.
#[derive(Debug, Serialize)]
pub struct WebBuild {
    /// The Node base it was built on.
    pub base: String,
    /// What the base stands in for, when it is a STAND-IN (else null).
    pub standin_for: Option<String>,
    /// The public build variables passed (name → value; never a secret).
    pub env: std::collections::BTreeMap<String, String>,
    /// Those whose value is in a built file.
    pub inlined: Vec<String>,
    pub seconds: f64,
}

impl WebBuild {
    pub(super) fn of(b: &crate::ops::web::Built) -> WebBuild {
        WebBuild {
            base: b.base.clone(),
            standin_for: b.standin_for.clone(),
            env: b.env.iter().cloned().collect(),
            inlined: b.inlined.clone(),
            seconds: b.seconds,
        }
    }
}

/// One check: a stable id (see `cargo xtask rehearse --help`), whether it passed, what it
/// found, and notes (e.g. the /health body when it failed).
#[derive(Debug, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub ok: bool,
    pub message: String,
    pub notes: Vec<String>,
}

impl Report {
    pub(super) fn new(format: Format, project: &str) -> Report {
        Report {
            format,
            project: project.to_string(),
            outcome: "pass",
            services: Vec::new(),
            not_started: Vec::new(),
            checks: Vec::new(),
            health_body: None,
            logs: Vec::new(),
            timings: Timings::default(),
            kept: false,
            web: None,
        }
    }
    /// A line of the text rendering: stdout, or stderr (progress) when the report is JSON.
    pub(super) fn say(&self, line: impl AsRef<str>) {
        match self.format {
            Format::Human => println!("{}", line.as_ref()),
            Format::Json => eprintln!("{}", line.as_ref()),
        }
    }
    pub(super) fn check(&mut self, id: &'static str, ok: bool, message: String) {
        self.say(format!("{}  {message}", if ok { "PASS" } else { "FAIL" }));
        if !ok {
            self.outcome = "fail";
        }
        self.checks.push(Check {
            id,
            ok,
            message,
            notes: Vec::new(),
        });
    }
    pub(super) fn pass(&mut self, id: &'static str, msg: impl Into<String>) {
        self.check(id, true, msg.into());
    }
    pub(super) fn fail(&mut self, id: &'static str, msg: impl Into<String>) {
        self.check(id, false, msg.into());
    }
    /// A note on the last check.
    pub(super) fn note(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        self.say(format!("      {msg}"));
        if let Some(c) = self.checks.last_mut() {
            c.notes.push(msg);
        }
    }
    pub(super) fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }
    /// The end: the closing line (text) or the whole report (JSON); the outcome.
    pub(super) fn finish(&self) -> Result<Outcome> {
        match self.format {
            Format::Human if self.failed() == 0 => println!("rehearsal passed"),
            Format::Human => println!("rehearsal FAILED: {} check(s) failed", self.failed()),
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(self).context("cannot serialise the report")?
            ),
        }
        Ok(if self.failed() == 0 {
            Outcome::Pass
        } else {
            Outcome::Fail
        })
    }
}

/// One service's logs as shown on failure: its container's state and its last lines.
#[derive(Debug, Serialize)]
pub struct ServiceLogs {
    pub service: String,
    /// The container's state and last healthcheck output, when it has a container.
    pub container: Option<String>,
    /// The last lines of `docker compose logs` (prefix `<container> | ` kept), escapes stripped.
    pub lines: Vec<String>,
}

impl ServiceLogs {
    pub(super) fn of(service: &str, container: Option<String>, text: String) -> ServiceLogs {
        ServiceLogs {
            service: service.to_string(),
            container,
            lines: text.lines().map(str::to_string).collect(),
        }
    }
}
