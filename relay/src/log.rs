//! Log lines in the shape sendmail operators grep, or the same fields as
//! JSON.
//!
//! ```text
//! 2026-11-23T14:45:38Z smarthost[812]: 01JD0K8Q4W7ZQ3X2: from=<alice@example.net>, size=412, nrcpts=1, proto=ESMTPSA, relay=laptop.lan [192.0.2.7]
//! 2026-11-23T14:45:39Z smarthost[812]: 01JD0K8Q4W7ZQ3X2: to=<bob@example.org>, delay=00:00:01, xdelay=00:00:01, mailer=relay, relay=smtp.isp.example [198.51.100.25], dsn=2.0.0, stat=Sent (2.0.0 Ok: queued as 4Xz), maps=3f2a9c01
//! ```
//!
//! With `--log-format json` each line is one object with the same names:
//! `{"time":"…","id":"…","to":"bob@example.org","delay":"00:00:01",…}`.
//! Secrets never reach this module: AUTH exchanges are not logged, and a
//! login name is logged as `authid=`, as sendmail does.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::config::LogFormat;

/// Where log lines go: standard error (the service manager's journal), or
/// a buffer in tests.
pub struct Log {
    format: LogFormat,
    sink: Mutex<Sink>,
    pid: u32,
}

enum Sink {
    Stderr,
    Memory(Vec<String>),
}

/// One field of a log line.
pub type Field<'a> = (&'static str, &'a dyn std::fmt::Display);

impl Log {
    /// Lines to standard error.
    pub fn stderr(format: LogFormat) -> Self {
        Log { format, sink: Mutex::new(Sink::Stderr), pid: std::process::id() }
    }

    /// Lines kept in memory, for tests ([`Log::lines`]).
    pub fn memory(format: LogFormat) -> Self {
        Log { format, sink: Mutex::new(Sink::Memory(Vec::new())), pid: std::process::id() }
    }

    /// The lines logged so far by a [`Log::memory`].
    pub fn lines(&self) -> Vec<String> {
        match &*self.sink.lock().unwrap_or_else(|p| p.into_inner()) {
            Sink::Memory(lines) => lines.clone(),
            Sink::Stderr => Vec::new(),
        }
    }

    /// A line about message `id` (or about the daemon when `None`): the
    /// fields in order, `name=value, name=value`.
    pub fn event(&self, id: Option<&str>, fields: &[Field<'_>]) {
        let mut line = String::with_capacity(160);
        let time = rfc3339(SystemTime::now());
        match self.format {
            LogFormat::Text => {
                let _ = write!(line, "{time} smarthost[{}]: ", self.pid);
                if let Some(id) = id {
                    let _ = write!(line, "{id}: ");
                }
                for (index, (name, value)) in fields.iter().enumerate() {
                    if index > 0 {
                        line.push_str(", ");
                    }
                    let _ = write!(line, "{name}={value}");
                }
            }
            LogFormat::Json => {
                let _ = write!(line, "{{\"time\":\"{time}\"");
                if let Some(id) = id {
                    let _ = write!(line, ",\"id\":{}", json_string(id));
                }
                for (name, value) in fields {
                    let value = value.to_string();
                    // `<a@b>` is the text form's quoting of an address.
                    let value = match (value.strip_prefix('<'), value.strip_suffix('>')) {
                        (Some(_), Some(_)) if matches!(*name, "from" | "to" | "ctladdr" | "orcpt") => {
                            value[1..value.len() - 1].to_owned()
                        }
                        _ => value,
                    };
                    let _ = write!(line, ",{}:{}", json_string(name), json_string(&value));
                }
                line.push('}');
            }
        }
        self.write(line);
    }

    /// A line about the daemon itself: `notice=...` in text, `msg` in JSON.
    pub fn notice(&self, text: &str) {
        match self.format {
            LogFormat::Text => {
                let line = format!("{} smarthost[{}]: {text}", rfc3339(SystemTime::now()), self.pid);
                self.write(line);
            }
            LogFormat::Json => self.event(None, &[("msg", &text)]),
        }
    }

    fn write(&self, mut line: String) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *sink {
            Sink::Stderr => {
                // One write a line: whole lines under concurrent writers, and
                // one system call.
                line.push('\n');
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::Memory(lines) => lines.push(line),
        }
    }
}

/// sendmail's `delay=` form: `HH:MM:SS`, with `D+` in front past a day.
pub fn delay(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let clock = format!("{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    if days > 0 { format!("{days}+{clock}") } else { clock }
}

/// `relay=name [addr]` as sendmail writes it; the name alone, or the
/// bracketed address alone, when only one is known.
pub fn relay(name: Option<&str>, addr: Option<std::net::IpAddr>) -> String {
    match (name, addr) {
        (Some(name), Some(addr)) => format!("{name} [{addr}]"),
        (Some(name), None) => name.to_owned(),
        (None, Some(addr)) => format!("[{addr}]"),
        (None, None) => "localhost".to_owned(),
    }
}

/// Keeps a remote reply on one line and bounded, for `stat=`.
pub fn one_line(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(300).collect();
    out.truncate(out.trim_end().len());
    out
}

/// `text` as a JSON string literal (RFC 8259 §7): quotes, backslashes and
/// control characters escaped, everything else as it is.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `2026-11-23T14:45:38Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    smarthost_smtp_core::date::UtcTime::from_system(time).rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_have_sendmails_shape() {
        let log = Log::memory(LogFormat::Text);
        log.event(Some("ABC"), &[("from", &"<a@example.net>"), ("size", &412), ("nrcpts", &1)]);
        let line = &log.lines()[0];
        assert!(line.ends_with("]: ABC: from=<a@example.net>, size=412, nrcpts=1"), "{line}");
    }

    #[test]
    fn json_lines_carry_the_same_fields() {
        let log = Log::memory(LogFormat::Json);
        log.event(Some("ABC"), &[("to", &"<b@example.org>"), ("stat", &"Sent (ok \"q\")")]);
        let line = &log.lines()[0];
        assert!(line.contains(r#""id":"ABC","to":"b@example.org","stat":"Sent (ok \"q\")"}"#), "{line}");
    }

    #[test]
    fn delays_are_clock_times() {
        assert_eq!(delay(Duration::from_secs(3725)), "01:02:05");
        assert_eq!(delay(Duration::from_secs(2 * 86_400 + 61)), "2+00:01:01");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
    }
}
