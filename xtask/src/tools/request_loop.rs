//! The zero-downtime proof: a bounded loop of HTTPS requests (curl, one per request, each a
//! new connection through Caddy) run beside a rollout. Bounded in count and in time; the
//! caller gives the address, which must be loopback or a namespace it made itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value as Json};

/// Where and how hard to knock.
#[derive(Debug, Clone)]
pub struct Target {
    /// `https://localhost:443/health`: the name in the URL is resolved to `address`.
    pub url: String,
    /// curl's `--resolve host:port:address`.
    pub resolve: String,
    pub cacert: PathBuf,
    /// At most this many requests...
    pub max_requests: usize,
    /// ...and for at most this long.
    pub max_duration: Duration,
    /// Pause between requests.
    pub interval: Duration,
}

/// One request: when it started and ended (seconds since the loop started), and its status
/// (0: no HTTP response).
#[derive(Debug, Clone)]
pub struct Sample {
    pub start: f64,
    pub end: f64,
    pub status: u16,
    pub error: String,
}

#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub sent: usize,
    pub ok: usize,
    /// Non-2xx answers plus requests with no answer.
    pub failed: usize,
    /// The longest time between two consecutive successful responses, in ms.
    pub longest_gap_ms: u64,
    pub secs: f64,
    pub first_failures: Vec<String>,
}

impl LoadReport {
    pub fn from_samples(s: &[Sample], secs: f64) -> LoadReport {
        let ok: Vec<&Sample> = s
            .iter()
            .filter(|x| (200..300).contains(&x.status))
            .collect();
        let longest = ok
            .windows(2)
            .map(|w| w[1].end - w[0].end)
            .fold(0.0f64, f64::max);
        LoadReport {
            sent: s.len(),
            ok: ok.len(),
            failed: s.len() - ok.len(),
            longest_gap_ms: (longest * 1000.0).round() as u64,
            secs,
            first_failures: s
                .iter()
                .filter(|x| !(200..300).contains(&x.status))
                .take(5)
                .map(|x| format!("at {:.2}s: HTTP {} {}", x.start, x.status, x.error.trim()))
                .collect(),
        }
    }

    pub fn to_json(&self) -> Json {
        json!({
            "sent": self.sent, "ok": self.ok, "failed": self.failed,
            "longest_gap_ms": self.longest_gap_ms, "secs": (self.secs * 10.0).round() / 10.0,
            "first_failures": self.first_failures,
        })
    }

    pub fn line(&self) -> String {
        format!(
            "{} requests in {:.1} s, {} failed (non-2xx or no answer), longest gap between answers {} ms",
            self.sent, self.secs, self.failed, self.longest_gap_ms
        )
    }
}

/// A running loop; [`Loop::stop`] ends it and returns its report.
pub struct Loop {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(Vec<Sample>, f64)>>,
}

impl Loop {
    pub fn start(t: Target) -> Result<Loop> {
        let curl = crate::tools::find("curl", "install curl (apt-get install -y curl)")?;
        if t.max_requests == 0 || t.max_duration.is_zero() {
            bail!("a request loop needs a count and a duration above 0");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut out = Vec::new();
            while !flag.load(Ordering::Relaxed)
                && out.len() < t.max_requests
                && t0.elapsed() < t.max_duration
            {
                let start = t0.elapsed().as_secs_f64();
                let r = std::process::Command::new(&curl)
                    .args(["--silent", "--show-error", "--max-time", "5", "--output"])
                    .arg("/dev/null")
                    .args(["--write-out", "%{http_code}", "--resolve", &t.resolve])
                    .arg("--cacert")
                    .arg(&t.cacert)
                    .arg(&t.url)
                    .output();
                let end = t0.elapsed().as_secs_f64();
                let (status, error) = match r {
                    Ok(o) => (
                        String::from_utf8_lossy(&o.stdout)
                            .trim()
                            .parse()
                            .unwrap_or(0),
                        String::from_utf8_lossy(&o.stderr).into_owned(),
                    ),
                    Err(e) => (0, e.to_string()),
                };
                out.push(Sample {
                    start,
                    end,
                    status,
                    error,
                });
                std::thread::sleep(t.interval);
            }
            (out, t0.elapsed().as_secs_f64())
        });
        Ok(Loop {
            stop,
            handle: Some(handle),
        })
    }

    pub fn stop(mut self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(|h| h.join()) {
            Some(Ok((s, secs))) => LoadReport::from_samples(&s, secs),
            _ => LoadReport::default(),
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(end: f64, status: u16) -> Sample {
        Sample {
            start: end - 0.01,
            end,
            status,
            error: String::new(),
        }
    }

    #[test]
    fn report_counts_failures_and_the_longest_gap() {
        let r = LoadReport::from_samples(
            &[
                s(0.1, 200),
                s(0.2, 200),
                s(0.3, 502),
                s(0.4, 0),
                s(0.9, 204),
            ],
            1.0,
        );
        assert_eq!((r.sent, r.ok, r.failed), (5, 3, 2));
        assert_eq!(r.longest_gap_ms, 700);
        assert_eq!(r.first_failures.len(), 2);
        let r = LoadReport::from_samples(&[], 0.0);
        assert_eq!((r.sent, r.failed, r.longest_gap_ms), (0, 0, 0));
    }
}
