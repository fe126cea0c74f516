//! Client transcripts as data (`tests/vectors/client/*.txt`) and the harness
//! that plays them against a `ClientSession`.
//!
//! A vector is a list of lines:
//!
//! ```text
//! # comment
//! @config tls=disabled bdat=on auth=user:secret mechs=PLAIN,LOGIN max-rcpts=200 chunk=10 no-quit
//! @message <a@example.org> RET=HDRS        a message: reverse-path and MAIL parameters
//! @rcpt <b@example.net> NOTIFY=SUCCESS     a recipient of the last message, with RCPT parameters
//! @rcpts 101 user{}@example.net            101 recipients, {} numbered from 1
//! @line Subject: x                         a content line (CR LF added)
//! @raw a\nb\x80                            content bytes with escapes (\r \n \t \\ \xHH)
//! @long 1200                               a content line of 1200 `x`
//! S: 220 mx.example.net ESMTP              a server line (CR LF added); consecutive S lines are one read
//! C: EHLO client.example.org               a line the client must send
//! C: [starttls]  C: [close]                the client asks for the handshake / to close
//! @wait 600                                600 s pass, then handle_timeout
//! @eof                                     the connection is lost
//! @tls-failed                              the handshake the client asked for fails
//! R: b@example.net delivered 250 2.0.0     the next recipient result: path, kind, code, status [local]
//! R: *100 delivered 250 2.0.0              the next 100 recipient results, any path
//! M: 0 possible-duplicate headers-only next-hop-dsn   the exact flags of message 0
//! ```
//!
//! Unless `no-quit` is configured, the harness calls `quit` after adding the
//! messages. A `C: [starttls]` line is answered with `handle_tls_established`
//! there, unless `@tls-failed` comes next; server bytes before it, even those
//! after STARTTLS's 220, are plaintext.

#![allow(dead_code)] // each test file uses its own subset

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use smarthost_authinfo::{AuthPolicy, Credentials};
use smarthost_smtp_core::{
    ClientAuth, ClientConfig, ClientOutput, ClientSession, Envelope, FailureKind, MailParams, MessageResult,
    RcptParams, TlsPolicy,
};

/// One parsed vector.
#[derive(Clone, Debug)]
pub(crate) struct Vector {
    pub(crate) name: String,
    pub(crate) config: ClientConfig,
    pub(crate) quit: bool,
    pub(crate) messages: Vec<(Envelope, Vec<u8>)>,
    pub(crate) steps: Vec<Step>,
    pub(crate) results: Vec<ExpectedResult>,
    pub(crate) flags: Vec<(u64, Vec<String>)>,
}

/// What happens, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Bytes from the server, in one read.
    Server(Vec<u8>),
    /// A line the client must send (or `[starttls]`, `[close]`).
    Client(String),
    Wait(u64),
    Eof,
    TlsFailed,
}

/// An `R:` line.
#[derive(Clone, Debug)]
pub(crate) struct ExpectedResult {
    pub(crate) path: Option<String>,
    pub(crate) count: usize,
    pub(crate) outcome: String,
    pub(crate) code: u16,
    pub(crate) status: String,
    pub(crate) local: bool,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// Client lines, `[starttls]` and `[close]` included.
    pub(crate) lines: Vec<String>,
    pub(crate) results: Vec<MessageResult>,
}

impl Vector {
    pub(crate) fn load(path: &Path) -> Vector {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Vector::parse(&path.file_stem().unwrap().to_string_lossy(), &text)
    }

    pub(crate) fn parse(name: &str, text: &str) -> Vector {
        let mut vector = Vector {
            name: name.to_owned(),
            config: ClientConfig::new("client.example.org"),
            quit: true,
            messages: Vec::new(),
            steps: Vec::new(),
            results: Vec::new(),
            flags: Vec::new(),
        };
        for (number, line) in text.lines().enumerate() {
            let at = || format!("{name}:{}", number + 1);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(server) = line.strip_prefix("S: ").or(line.strip_prefix("S:")) {
                let bytes = format!("{server}\r\n").into_bytes();
                match vector.steps.last_mut() {
                    Some(Step::Server(previous)) => previous.extend(bytes),
                    _ => vector.steps.push(Step::Server(bytes)),
                }
            } else if let Some(client) = line.strip_prefix("C: ").or(line.strip_prefix("C:")) {
                vector.steps.push(Step::Client(client.to_owned()));
            } else if let Some(result) = line.strip_prefix("R: ") {
                vector.results.push(parse_result(result, &at()));
            } else if let Some(flags) = line.strip_prefix("M: ") {
                let mut words = flags.split_whitespace();
                let index = words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("{}", at()));
                vector.flags.push((index, words.map(str::to_owned).collect()));
            } else if let Some(directive) = line.strip_prefix('@') {
                vector.directive(directive, &at());
            } else {
                panic!("{}: unknown line {line:?}", at());
            }
        }
        vector
    }

    fn directive(&mut self, directive: &str, at: &str) {
        let (word, rest) = directive.split_once(' ').unwrap_or((directive, ""));
        match word {
            "config" => {
                for setting in rest.split_whitespace() {
                    self.setting(setting, at);
                }
            }
            "message" => {
                let (path, params) = split_path(rest, at);
                let mail_params = MailParams::parse(params).unwrap_or_else(|e| panic!("{at}: {e}"));
                let envelope = Envelope { reverse_path: path, mail_params, recipients: Vec::new() };
                self.messages.push((envelope, Vec::new()));
            }
            "rcpt" => {
                let (path, params) = split_path(rest, at);
                let params = RcptParams::parse(params).unwrap_or_else(|e| panic!("{at}: {e}"));
                self.message(at).0.recipients.push((path, params));
            }
            "rcpts" => {
                let (count, pattern) =
                    rest.split_once(' ').unwrap_or_else(|| panic!("{at}: @rcpts N pattern"));
                let count: usize = count.parse().unwrap_or_else(|_| panic!("{at}: count"));
                for n in 1..=count {
                    let path = pattern.replace("{}", &n.to_string());
                    self.message(at).0.recipients.push((path, RcptParams::default()));
                }
            }
            "line" => {
                let content = &mut self.message(at).1;
                content.extend_from_slice(rest.as_bytes());
                content.extend_from_slice(b"\r\n");
            }
            "raw" => {
                let bytes = unescape(rest, at);
                self.message(at).1.extend(bytes);
            }
            "long" => {
                let length: usize = rest.trim().parse().unwrap_or_else(|_| panic!("{at}: length"));
                let content = &mut self.message(at).1;
                content.extend(std::iter::repeat_n(b'x', length));
                content.extend_from_slice(b"\r\n");
            }
            "wait" => {
                self.steps.push(Step::Wait(rest.trim().parse().unwrap_or_else(|_| panic!("{at}: seconds"))))
            }
            "eof" => self.steps.push(Step::Eof),
            "tls-failed" => self.steps.push(Step::TlsFailed),
            _ => panic!("{at}: unknown directive @{word}"),
        }
    }

    fn setting(&mut self, setting: &str, at: &str) {
        let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
        let config = &mut self.config;
        match key {
            "ehlo" => config.ehlo_name = value.to_owned(),
            "tls" => {
                config.tls = match value {
                    "disabled" => TlsPolicy::Disabled,
                    "opportunistic" => TlsPolicy::Opportunistic,
                    "required" => TlsPolicy::Required,
                    "implicit" => TlsPolicy::Implicit,
                    _ => panic!("{at}: tls={value}"),
                }
            }
            "bdat" => config.allow_bdat = value == "on",
            "auth" => {
                let (user, password) =
                    value.split_once(':').unwrap_or_else(|| panic!("{at}: auth=user:pass"));
                config.auth = Some(ClientAuth::new(Credentials::new(user, password)));
            }
            "mechs" => auth(config, at).mechanisms = value.split(',').map(str::to_owned).collect(),
            "auth-cleartext" => auth(config, at).policy.dangerous_allow_cleartext_without_tls = true,
            "auth-continue" => auth(config, at).policy = AuthPolicy::sendmail_compatible(),
            "max-rcpts" => config.limits.max_recipients = value.parse().unwrap_or_else(|_| panic!("{at}")),
            "chunk" => config.limits.bdat_chunk = value.parse().unwrap_or_else(|_| panic!("{at}")),
            "no-quit" => self.quit = false,
            _ => panic!("{at}: unknown setting {key}"),
        }
    }

    fn message(&mut self, at: &str) -> &mut (Envelope, Vec<u8>) {
        self.messages.last_mut().unwrap_or_else(|| panic!("{at}: @message first"))
    }

    /// Plays the vector, the server's bytes in the reads the vector gives.
    pub(crate) fn run(&self) -> Run {
        let mut harness = Harness::new(self);
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Server(bytes) => harness.feed(bytes),
                Step::Client(_) => harness.at_client_line(step, self.steps.get(i + 1)),
                other => harness.act(other),
            }
        }
        harness.finish()
    }

    /// Plays the vector with the server's bytes cut differently: the bytes
    /// between two barriers (a `[starttls]`, `@wait`, `@eof`, `@tls-failed`)
    /// are joined and then cut where `cuts` says (offsets into the joined
    /// bytes of all segments, in order).
    pub(crate) fn run_split(&self, cuts: &[usize]) -> Run {
        let mut harness = Harness::new(self);
        let mut offset = 0;
        let mut cuts = cuts.to_vec();
        cuts.sort_unstable();
        let segments = self.segments();
        for (i, segment) in segments.iter().cloned().enumerate() {
            match segment {
                Step::Server(bytes) => {
                    let mut start = 0;
                    for &cut in cuts.iter().filter(|&&c| c > offset && c < offset + bytes.len()) {
                        harness.feed(&bytes[start..cut - offset]);
                        start = cut - offset;
                    }
                    harness.feed(&bytes[start..]);
                    offset += bytes.len();
                }
                Step::Client(_) => harness.at_client_line(&segment, segments.get(i + 1)),
                other => harness.act(&other),
            }
        }
        harness.finish()
    }

    /// Server bytes joined between barriers.
    pub(crate) fn segments(&self) -> Vec<Step> {
        let mut segments: Vec<Step> = Vec::new();
        for step in &self.steps {
            match step {
                Step::Server(bytes) => match segments.last_mut() {
                    Some(Step::Server(previous)) => previous.extend_from_slice(bytes),
                    _ => segments.push(Step::Server(bytes.clone())),
                },
                Step::Client(line) if line == "[starttls]" => segments.push(step.clone()),
                Step::Client(_) => {}
                other => segments.push(other.clone()),
            }
        }
        segments
    }

    /// Total length of the server's bytes.
    pub(crate) fn server_len(&self) -> usize {
        self.steps.iter().map(|s| if let Step::Server(b) = s { b.len() } else { 0 }).sum()
    }

    /// Plays the vector and checks the client lines after each read and the
    /// results at the end; panics with a readable report.
    pub(crate) fn check(&self) {
        let mut harness = Harness::new(self);
        let mut expected: Vec<String> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Client(line) => {
                    expected.push(line.clone());
                    harness.at_client_line(step, self.steps.get(i + 1));
                }
                Step::Server(bytes) => {
                    self.compare_lines(&expected, &harness.lines, "before the server's next read");
                    harness.feed(bytes);
                }
                other => {
                    self.compare_lines(&expected, &harness.lines, &format!("before {other:?}"));
                    harness.act(other);
                }
            }
        }
        let run = harness.finish();
        self.compare_lines(&expected, &run.lines, "at the end");
        self.compare_results(&run.results);
    }

    fn compare_lines(&self, expected: &[String], actual: &[String], when: &str) {
        if expected != actual {
            let mut report = format!("{}: client lines differ {when}\n", self.name);
            for i in 0..expected.len().max(actual.len()) {
                let e = expected.get(i).map_or("(none)", String::as_str);
                let a = actual.get(i).map_or("(none)", String::as_str);
                let mark = if e == a { "  " } else { "!!" };
                let _ = writeln!(report, "{mark} expected {e:?}\n   actual   {a:?}");
            }
            panic!("{report}");
        }
    }

    fn compare_results(&self, results: &[MessageResult]) {
        let actual: Vec<_> = results.iter().flat_map(|m| &m.recipients).collect();
        let mut at = 0;
        for expected in &self.results {
            for _ in 0..expected.count {
                let Some(result) = actual.get(at) else {
                    panic!("{}: fewer results than expected: {results:#?}", self.name)
                };
                let outcome = match result.failure {
                    None => "delivered",
                    Some(FailureKind::Connection) => "connection",
                    Some(FailureKind::Tls) => "tls",
                    Some(FailureKind::Auth) => "auth",
                    Some(FailureKind::Protocol) => "protocol",
                    Some(FailureKind::Temporary) => "temporary",
                    Some(FailureKind::Permanent) => "permanent",
                };
                let ok = expected.path.as_ref().is_none_or(|p| *p == result.forward_path)
                    && outcome == expected.outcome
                    && result.reply.code() == expected.code
                    && result.status.to_string() == expected.status
                    && result.remote != expected.local;
                assert!(ok, "{}: result {at} is {result:#?}, expected {expected:?}", self.name);
                at += 1;
            }
        }
        if !self.results.is_empty() {
            assert_eq!(at, actual.len(), "{}: more results than expected: {results:#?}", self.name);
        }
        for (index, flags) in &self.flags {
            let message = results
                .iter()
                .find(|m| m.id.index() == *index)
                .unwrap_or_else(|| panic!("{}: no result for message {index}", self.name));
            let mut actual = Vec::new();
            if message.possible_duplicate {
                actual.push("possible-duplicate");
            }
            if message.return_headers_only {
                actual.push("headers-only");
            }
            if message.next_hop_dsn {
                actual.push("next-hop-dsn");
            }
            assert_eq!(actual, *flags, "{}: flags of message {index}", self.name);
        }
    }
}

/// Drives a session for a vector.
struct Harness {
    session: ClientSession,
    now: Instant,
    lines: Vec<String>,
    partial: Vec<u8>,
    results: Vec<MessageResult>,
    tls_pending: bool,
}

impl Harness {
    fn new(vector: &Vector) -> Harness {
        let now = Instant::now();
        let session = ClientSession::new(vector.config.clone(), now).expect("valid configuration");
        let mut harness = Harness {
            session,
            now,
            lines: Vec::new(),
            partial: Vec::new(),
            results: Vec::new(),
            tls_pending: false,
        };
        for (envelope, content) in &vector.messages {
            harness.session.add_message(envelope.clone(), content.clone(), now);
        }
        if vector.quit {
            harness.session.quit(now);
        }
        harness.drain();
        harness
    }

    fn establish_pending_tls(&mut self) {
        if std::mem::take(&mut self.tls_pending) {
            self.session.handle_tls_established(self.now);
            self.drain();
        }
    }

    /// A `[starttls]` line: the handshake succeeds, unless `@tls-failed` follows.
    fn at_client_line(&mut self, step: &Step, next: Option<&Step>) {
        if *step == Step::Client("[starttls]".to_owned()) && next != Some(&Step::TlsFailed) {
            self.establish_pending_tls();
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.session.handle_input(bytes, self.now);
        self.drain();
    }

    fn act(&mut self, step: &Step) {
        match step {
            Step::Wait(seconds) => {
                self.now += Duration::from_secs(*seconds);
                self.session.handle_timeout(self.now);
            }
            Step::Eof => self.session.handle_connection_lost("connection reset by peer", self.now),
            Step::TlsFailed => {
                self.tls_pending = false;
                self.session.handle_tls_failed("invalid peer certificate: UnknownIssuer", self.now);
            }
            Step::Client(_) | Step::Server(_) => {}
        }
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                ClientOutput::Send(bytes) => {
                    self.partial.extend(bytes);
                    while let Some(end) = self.partial.windows(2).position(|w| w == b"\r\n") {
                        let line: Vec<u8> = self.partial.drain(..end + 2).take(end).collect();
                        self.lines.push(String::from_utf8_lossy(&line).into_owned());
                    }
                }
                ClientOutput::StartTls => {
                    self.lines.push("[starttls]".to_owned());
                    self.tls_pending = true;
                }
                ClientOutput::Result(result) => self.results.push(result),
                ClientOutput::Close => self.lines.push("[close]".to_owned()),
            }
        }
    }

    fn finish(mut self) -> Run {
        self.establish_pending_tls();
        if !self.partial.is_empty() {
            self.lines.push(format!("{}<no CR LF>", String::from_utf8_lossy(&self.partial)));
        }
        self.results.sort_by_key(|m| m.id);
        Run { lines: self.lines, results: self.results }
    }
}

fn auth<'a>(config: &'a mut ClientConfig, at: &str) -> &'a mut ClientAuth {
    config.auth.as_mut().unwrap_or_else(|| panic!("{at}: auth=user:pass first"))
}

fn split_path<'a>(text: &'a str, at: &str) -> (String, &'a str) {
    let text = text.trim();
    let inner = text.strip_prefix('<').unwrap_or_else(|| panic!("{at}: path in <>"));
    let end = inner.find('>').unwrap_or_else(|| panic!("{at}: path in <>"));
    (inner[..end].to_owned(), inner[end + 1..].trim())
}

fn parse_result(text: &str, at: &str) -> ExpectedResult {
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words.len() >= 4, "{at}: R: path kind code status [local]");
    let (path, count) = match words[0].strip_prefix('*') {
        Some(n) => (None, n.parse().unwrap_or_else(|_| panic!("{at}: *N"))),
        None => (Some(words[0].to_owned()), 1),
    };
    ExpectedResult {
        path,
        count,
        outcome: words[1].to_owned(),
        code: words[2].parse().unwrap_or_else(|_| panic!("{at}: code")),
        status: words[3].to_owned(),
        local: words.get(4) == Some(&"local"),
    }
}

fn unescape(text: &str, at: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buffer = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap_or_else(|_| panic!("{at}: \\x{hex}")));
            }
            other => panic!("{at}: unknown escape \\{other:?}"),
        }
    }
    out
}

/// Every vector file, sorted.
pub(crate) fn all_vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/client");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths.iter().map(|path| Vector::load(path)).collect()
}
