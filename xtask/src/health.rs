//! The API's health contract, as data: body checks (a JSON pointer, RFC 6901, and the value
//! expected there) from `[api.health.body]`, or, when none is configured, NestJS terminus's
//! shape recognised in the body itself (`/status` = "ok", every `/info/<name>/status` = "up").
//! Nothing here knows any one app's own body format.
//!
//! Pure: the rehearsal fetches the body through Caddy and hands it to [`judge`].

use serde::Serialize;
use serde_json::Value;

/// A JSON pointer (RFC 6901), checked when the config is read: `""` (the whole body) or
/// `/`-separated reference tokens, with `~0` for `~` and `~1` for `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses a pointer; the message says what is wrong and what a pointer looks like.
    pub fn parse(s: &str) -> Result<Pointer, String> {
        if s.is_empty() {
            return Ok(Pointer {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err(format!(
                "{} is not a JSON pointer (RFC 6901): it must start with `/`, e.g. \"/status\" or \"/info/database/status\"",
                crate::values::shown(s)
            ));
        };
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(format!(
                "{} is not a JSON pointer: it contains the control character {c:?}",
                crate::values::shown(s)
            ));
        }
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            let mut t = String::new();
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    t.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => t.push('~'),
                    Some('1') => t.push('/'),
                    other => {
                        return Err(format!(
                            "{} is not a JSON pointer (RFC 6901): `~` must be followed by 0 or 1 (`~0` is `~`, `~1` is `/`), found {}",
                            crate::values::shown(s),
                            other.map_or("the end".to_string(), |c| format!("`~{c}`"))
                        ))
                    }
                }
            }
            tokens.push(t);
        }
        Ok(Pointer {
            text: s.to_string(),
            tokens,
        })
    }

    /// The pointer to a path of keys (each escaped).
    pub fn of(keys: &[&str]) -> Pointer {
        let text = keys
            .iter()
            .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
            .collect();
        Pointer {
            text,
            tokens: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value the pointer refers to (an array index is decimal digits without a leading
    /// zero; `-`, past the end, refers to nothing).
    pub fn resolve<'v>(&self, doc: &'v Value) -> Option<&'v Value> {
        let mut at = doc;
        for t in &self.tokens {
            at = match at {
                Value::Object(m) => m.get(t)?,
                Value::Array(a) => {
                    let ok = !t.is_empty()
                        && t.bytes().all(|b| b.is_ascii_digit())
                        && (t == "0" || !t.starts_with('0'));
                    if !ok {
                        return None;
                    }
                    a.get(t.parse::<usize>().ok()?)?
                }
                _ => return None,
            };
        }
        Some(at)
    }
}

/// One body check: the value expected at a pointer (a string, a number or a boolean).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyCheck {
    pub pointer: Pointer,
    pub expected: Value,
}

impl BodyCheck {
    /// A check; refuses an expected value that is not a string, a number or a boolean.
    pub fn new(pointer: Pointer, expected: Value) -> Result<BodyCheck, String> {
        match expected {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                Ok(BodyCheck { pointer, expected })
            }
            other => Err(format!(
                "the value expected at {} must be a string, a number or true/false, not {}",
                crate::values::shown(pointer.as_str()),
                kind(&other)
            )),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Where the checks of a judgement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `[api.health.body]`, exactly those checks.
    Config,
    /// None configured; the body has NestJS terminus's shape.
    Terminus,
    /// None configured and the body has no shape known here: only the status is checked.
    None,
}

/// One check's outcome, as the rehearsal's JSON report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BodyResult {
    pub pointer: String,
    pub expected: Value,
    /// The value found (`null` with `found: false` when the pointer refers to nothing); an
    /// object or array is summarised, a long string cut, and a value holding a secret of the
    /// run is replaced by `(redacted: …)`.
    pub actual: Value,
    pub found: bool,
    pub ok: bool,
}

/// The judgement of a health body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BodyReport {
    pub source: Source,
    pub checks: Vec<BodyResult>,
    /// Why the body could not be read as JSON, when it could not.
    pub error: Option<String>,
}

impl BodyReport {
    /// Every check passed and the body was JSON (or nothing was to be checked).
    pub fn ok(&self) -> bool {
        (self.error.is_none() || self.source == Source::None) && self.checks.iter().all(|c| c.ok)
    }

    /// One line per check: `/status = "ok"` or `/status = "ok" (found "error")`.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .checks
            .iter()
            .map(|c| {
                if c.ok {
                    format!("{} = {}", c.pointer, c.expected)
                } else if c.found {
                    format!("{} = {} (found {})", c.pointer, c.expected, c.actual)
                } else {
                    format!("{} = {} (not in the body)", c.pointer, c.expected)
                }
            })
            .collect();
        if let Some(e) = &self.error {
            out.push(e.clone());
        }
        out
    }
}

/// The checks NestJS terminus's body implies: `/status` = "ok" and `/info/<name>/status` =
/// "up" for every indicator it reports (in `info`, and those only in `error`, which then are
/// not in `info`); `None` when the body is not that shape (`status` a string and `info` or
/// `details` an object).
pub fn terminus_checks(v: &Value) -> Option<Vec<BodyCheck>> {
    v.get("status")?.as_str()?;
    let info = v.get("info").and_then(Value::as_object);
    let details = v.get("details").and_then(Value::as_object);
    if info.is_none() && details.is_none() {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    for m in [info, v.get("error").and_then(Value::as_object), details]
        .into_iter()
        .flatten()
    {
        for k in m.keys() {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
    }
    let mut out = vec![BodyCheck {
        pointer: Pointer::of(&["status"]),
        expected: Value::from("ok"),
    }];
    for n in names {
        out.push(BodyCheck {
            pointer: Pointer::of(&["info", n, "status"]),
            expected: Value::from("up"),
        });
    }
    Some(out)
}

/// Judges a health body: the configured checks, exactly those; with none, terminus's checks
/// when the body has its shape; else nothing (the status alone decides). `secrets` are the
/// run's secret values: an actual value holding one is never shown.
pub fn judge(body: &str, configured: &[BodyCheck], secrets: &[String]) -> BodyReport {
    let parsed: Result<Value, String> = serde_json::from_str(body)
        .map_err(|e| format!("the body is not JSON ({e}), {} bytes", body.len()));
    let (source, checks) = match (&parsed, configured.is_empty()) {
        (_, false) => (Source::Config, configured.to_vec()),
        (Ok(v), true) => match terminus_checks(v) {
            Some(c) => (Source::Terminus, c),
            None => (Source::None, Vec::new()),
        },
        (Err(_), true) => (Source::None, Vec::new()),
    };
    let doc = parsed.as_ref().ok();
    let checks = checks
        .iter()
        .map(|c| {
            let actual = doc.and_then(|d| c.pointer.resolve(d));
            BodyResult {
                pointer: c.pointer.as_str().to_string(),
                expected: c.expected.clone(),
                actual: actual.map_or(Value::Null, |a| shown_value(a, secrets)),
                found: actual.is_some(),
                ok: actual.is_some_and(|a| matches(&c.expected, a)),
            }
        })
        .collect();
    BodyReport {
        source,
        checks,
        error: parsed.err(),
    }
}

/// Equal as JSON values; numbers by value (`1` matches `1.0`).
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => {
            if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
                x == y
            } else {
                a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| x == y)
            }
        }
        _ => expected == actual,
    }
}

/// The longest string shown whole as an actual value.
const ACTUAL_MAX: usize = 200;

fn shown_value(v: &Value, secrets: &[String]) -> Value {
    let holds_secret = |s: &str| {
        secrets
            .iter()
            .any(|x| !x.is_empty() && s.contains(x.as_str()))
    };
    match v {
        Value::String(s) if holds_secret(s) => {
            Value::from("(redacted: holds a secret of the rehearsal's env)")
        }
        Value::String(s) if s.chars().count() > ACTUAL_MAX => {
            let head: String = s.chars().take(ACTUAL_MAX).collect();
            Value::from(format!("{head}… ({} bytes in all)", s.len()))
        }
        Value::Object(m) => Value::from(format!("(an object with {} key(s))", m.len())),
        Value::Array(a) => Value::from(format!("(an array of {} item(s))", a.len())),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_follow_rfc_6901() {
        // the RFC's own examples (section 5)
        let doc = json!({"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3,
            "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8});
        let at = |p: &str| Pointer::parse(p).expect(p).resolve(&doc).cloned();
        assert_eq!(at(""), Some(doc.clone()));
        assert_eq!(at("/foo"), Some(json!(["bar", "baz"])));
        assert_eq!(at("/foo/0"), Some(json!("bar")));
        for (p, n) in [
            ("/", 0),
            ("/a~1b", 1),
            ("/c%d", 2),
            ("/e^f", 3),
            ("/g|h", 4),
            ("/i\\j", 5),
            ("/k\"l", 6),
            ("/ ", 7),
            ("/m~0n", 8),
        ] {
            assert_eq!(at(p), Some(json!(n)), "{p}");
        }
        // array indexes: digits, no leading zero; `-` and past the end refer to nothing
        for p in ["/foo/01", "/foo/-", "/foo/2", "/foo/x", "/foo/0/x", "/nope"] {
            assert_eq!(at(p), None, "{p}");
        }
        // `~01` is `~1` (decoded once, left to right), not `/`
        let d = json!({"~1": true});
        assert_eq!(
            Pointer::parse("/~01").expect("ok").resolve(&d),
            Some(&json!(true))
        );
        assert_eq!(Pointer::of(&["a/b", "m~n"]).as_str(), "/a~1b/m~0n");
    }

    #[test]
    fn malformed_pointers_are_refused_with_the_reason() {
        for (p, why) in [
            ("status", "must start with `/`"),
            ("/a~2", "`~` must be followed by 0 or 1"),
            ("/a~", "found the end"),
            ("/a\nb", "control character"),
        ] {
            let e = Pointer::parse(p).expect_err(p);
            assert!(e.contains(why), "{p}: {e}");
        }
    }

    #[test]
    fn expected_values_are_strings_numbers_or_booleans() {
        let p = || Pointer::parse("/x").expect("ok");
        for ok in [json!("up"), json!(1), json!(2.5), json!(false)] {
            BodyCheck::new(p(), ok).expect("scalar");
        }
        for bad in [json!(null), json!([1]), json!({"a": 1})] {
            let e = BodyCheck::new(p(), bad).expect_err("not scalar");
            assert!(
                e.contains("must be a string, a number or true/false"),
                "{e}"
            );
        }
    }

    fn check(p: &str, v: Value) -> BodyCheck {
        BodyCheck::new(Pointer::parse(p).expect(p), v).expect("check")
    }

    const TERMINUS_UP: &str = r#"{"status":"ok","info":{"database":{"status":"up","migrations":2},"redis":{"status":"up"}},"error":{},"details":{"database":{"status":"up","migrations":2},"redis":{"status":"up"}}}"#;
    const TERMINUS_DOWN: &str = r#"{"status":"error","info":{"redis":{"status":"up"}},"error":{"database":{"status":"down","message":"relation \"schema_migrations\" does not exist"}},"details":{"database":{"status":"down","message":"relation \"schema_migrations\" does not exist"},"redis":{"status":"up"}}}"#;

    #[test]
    fn terminus_is_recognised_when_nothing_is_configured() {
        let r = judge(TERMINUS_UP, &[], &[]);
        assert_eq!(r.source, Source::Terminus);
        assert!(r.ok(), "{r:?}");
        assert_eq!(
            r.lines(),
            [
                "/status = \"ok\"",
                "/info/database/status = \"up\"",
                "/info/redis/status = \"up\""
            ]
        );
        let r = judge(TERMINUS_DOWN, &[], &[]);
        assert_eq!(r.source, Source::Terminus);
        assert!(!r.ok());
        assert_eq!(
            r.lines(),
            [
                "/status = \"ok\" (found \"error\")",
                "/info/redis/status = \"up\"",
                "/info/database/status = \"up\" (not in the body)"
            ]
        );
    }

    #[test]
    fn configured_checks_are_exactly_those() {
        // configured: terminus's own shape is not added
        let only = [check("/info/redis/status", json!("up"))];
        let r = judge(TERMINUS_DOWN, &only, &[]);
        assert_eq!(r.source, Source::Config);
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.checks.len(), 1);
        // any shape: numbers by value, booleans, strings, array items
        let body =
            r#"{"checks":{"postgres":{"host":"postgres","port":5432,"reachable":true}},"v":[1.0]}"#;
        let r = judge(
            body,
            &[
                check("/checks/postgres/host", json!("postgres")),
                check("/checks/postgres/port", json!(5432)),
                check("/checks/postgres/reachable", json!(true)),
                check("/v/0", json!(1)),
            ],
            &[],
        );
        assert!(r.ok(), "{r:?}");
        let r = judge(
            body,
            &[
                check("/checks/postgres/reachable", json!("true")),
                check("/checks/redis/reachable", json!(true)),
                check("/checks/postgres", json!("x")),
            ],
            &[],
        );
        assert!(!r.ok());
        assert_eq!(
            r.checks
                .iter()
                .map(|c| (c.found, c.actual.clone()))
                .collect::<Vec<_>>(),
            [
                (true, json!(true)),
                (false, Value::Null),
                (true, json!("(an object with 3 key(s))"))
            ]
        );
    }

    #[test]
    fn an_unknown_shape_is_judged_by_its_status_alone_and_non_json_fails_configured_checks() {
        let r = judge(r#"{"ok":true}"#, &[], &[]);
        assert_eq!((r.source, r.checks.len(), r.ok()), (Source::None, 0, true));
        let r = judge("<html>", &[], &[]);
        assert_eq!((r.source, r.ok()), (Source::None, true));
        let r = judge("<html>", &[check("/status", json!("ok"))], &[]);
        assert!(!r.ok());
        assert!(
            r.error.as_deref().unwrap_or("").contains("not JSON"),
            "{r:?}"
        );
    }

    #[test]
    fn actual_values_never_show_a_secret() {
        let secret = "3f9a0c1d2e".to_string();
        let body = r#"{"dsn":"postgres://app:3f9a0c1d2e@postgres/app","long":"#.to_string()
            + &format!("\"{}\"}}", "x".repeat(300));
        let r = judge(
            &body,
            &[check("/dsn", json!("x")), check("/long", json!("x"))],
            std::slice::from_ref(&secret),
        );
        let shown = serde_json::to_string(&r).expect("json");
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.contains("(redacted"), "{shown}");
        assert!(shown.contains("(300 bytes in all)"), "{shown}");
    }
}
