//! Shared by the server tests: a harness that drives a `ServerSession` with
//! an inline policy, and the configuration the transcripts use.

#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "tokio")]
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use smarthost_authinfo::server::ServerCredentials;
use smarthost_smtp_core::{
    AuthConfig, DecisionId, EnhancedStatus, Output, Peer, Question, Reply, ServerConfig, ServerSession,
    Transaction, Verdict,
};

/// The wall clock the tests start at.
pub const UNIX_TIME: u64 = 1_700_000_000;

/// The one user of the test credentials.
pub const USER: &str = "alice";
/// Her password.
pub const PASSWORD: &str = "open sesame";

pub fn peer() -> Peer {
    Peer::new("192.0.2.1:40000".parse().unwrap(), "192.0.2.25:25".parse().unwrap(), UNIX_TIME)
}

pub fn config() -> ServerConfig {
    ServerConfig::new("mx.example.org").unwrap()
}

pub fn auth_config() -> AuthConfig {
    let credentials = ServerCredentials::parse_str("test", &format!("{USER}  {PASSWORD}\n")).unwrap();
    AuthConfig::new(Arc::new(credentials))
}

/// The test policy: accepts everything except recipients whose local part
/// is `reject` (550 5.1.1), `tempfail` (451 4.3.0) or `close` (421 and close),
/// and senders `<reject@...>` (550 5.7.1). Messages are queued as `Q1`, `Q2`…
pub fn policy(question: &Question, messages: usize) -> Verdict {
    match question {
        Question::Mail { reverse_path, .. } if reverse_path.raw().starts_with("reject@") => {
            Verdict::reject(Reply::new(550, Some(EnhancedStatus::NOT_AUTHORIZED), "Sender refused").unwrap())
        }
        Question::Rcpt { forward_path, .. } => match forward_path.path().local_part() {
            "reject" => Verdict::reject(
                Reply::new(550, Some(EnhancedStatus::BAD_DESTINATION_MAILBOX), "User unknown").unwrap(),
            ),
            "tempfail" => Verdict::reject(
                Reply::new(451, Some(EnhancedStatus::OTHER_SYSTEM.with_class(4)), "Try later").unwrap(),
            ),
            "close" => Verdict::reject_and_close(None),
            _ => Verdict::accept(),
        },
        Question::Message(_) => Verdict::queued(&format!("Q{}", messages + 1)),
        _ => Verdict::accept(),
    }
}

/// Answers a question, given the number of messages so far.
pub type Policy = Box<dyn FnMut(&Question, usize) -> Verdict>;

/// A session with everything it produced.
pub struct Harness {
    pub session: ServerSession,
    pub start: Instant,
    pub now: Instant,
    /// Everything the server sent.
    pub wire: Vec<u8>,
    /// How much of `wire` `take_wire` has returned.
    pub seen: usize,
    pub messages: Vec<Transaction>,
    pub questions: usize,
    pub starttls: bool,
    pub closed: bool,
    /// Answers questions; [`policy`] by default.
    pub policy: Policy,
    /// Answer questions only after the next input arrived (so that input
    /// is buffered while a decision is pending).
    pub defer: bool,
    queued: Option<(DecisionId, Question)>,
}

impl Harness {
    pub fn new(config: ServerConfig) -> Self {
        Self::with_peer(config, peer())
    }

    pub fn with_peer(config: ServerConfig, peer: Peer) -> Self {
        let start = Instant::now();
        let session = ServerSession::new(Arc::new(config), peer, start);
        let mut harness = Harness {
            session,
            start,
            now: start,
            wire: Vec::new(),
            seen: 0,
            messages: Vec::new(),
            questions: 0,
            starttls: false,
            closed: false,
            policy: Box::new(policy),
            defer: false,
            queued: None,
        };
        harness.drain();
        harness
    }

    /// Feeds bytes and answers every question.
    pub fn send(&mut self, bytes: &[u8]) {
        self.session.handle_input(bytes, self.now);
        self.drain();
        self.answer_queued();
    }

    /// Answers a deferred question, and any that follow from it.
    pub fn answer_queued(&mut self) {
        while let Some((id, question)) = self.queued.take() {
            self.answer(id, question);
            self.drain();
        }
    }

    /// Drains the outputs, answering questions with the policy (or
    /// keeping one for later when `defer` is set).
    pub fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Send(bytes) => self.wire.extend_from_slice(bytes),
                Output::Decide(id, question) if self.defer => {
                    assert!(self.queued.is_none(), "two questions at once");
                    self.queued = Some((id, question));
                }
                Output::Decide(id, question) => self.answer(id, question),
                Output::StartTls => self.starttls = true,
                Output::Close => self.closed = true,
            }
        }
    }

    fn answer(&mut self, id: DecisionId, question: Question) {
        self.questions += 1;
        let verdict = (self.policy)(&question, self.messages.len());
        if let Question::Message(transaction) = question {
            self.messages.push(*transaction);
        }
        self.session.handle_decision(id, verdict, self.now).unwrap();
    }

    pub fn tls_established(&mut self) {
        self.session.handle_tls_established(
            smarthost_smtp_core::TlsInfo::new("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
            self.now,
        );
        self.drain();
    }

    /// Moves time on and lets deadlines fire.
    pub fn wait(&mut self, seconds: u64) {
        self.now += Duration::from_secs(seconds);
        self.session.handle_timeout(self.now);
        self.drain();
    }

    /// The output since the last call, as text.
    pub fn take_wire(&mut self) -> String {
        String::from_utf8_lossy(&self.take_wire_bytes()).into_owned()
    }

    /// The output since the last call.
    pub fn take_wire_bytes(&mut self) -> Vec<u8> {
        let new = self.wire[self.seen..].to_vec();
        self.seen = self.wire.len();
        new
    }
}

/// The codes of each reply line in `wire`.
pub fn codes(wire: &str) -> Vec<u16> {
    wire.split_terminator("\r\n")
        .filter(|l| l.as_bytes().get(3) != Some(&b'-'))
        .map(|l| l[..3].parse().unwrap())
        .collect()
}

/// Every reply line is `ddd[ -]text CRLF`, at most 512 octets, without
/// another CR or LF; returns the first bad line.
pub fn bad_reply_line(wire: &[u8]) -> Option<String> {
    wire.split_inclusive(|&b| b == b'\n')
        .find(|line| {
            !(line.len() >= 6
                && line.len() <= 512
                && line[..3].iter().all(u8::is_ascii_digit)
                && matches!(line[3], b' ' | b'-')
                && line.ends_with(b"\r\n")
                && !line[..line.len() - 2].iter().any(|&b| b == b'\r' || b == b'\n'))
        })
        .map(|line| String::from_utf8_lossy(line).into_owned())
}
