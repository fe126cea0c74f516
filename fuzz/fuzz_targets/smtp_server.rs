//! The server session fed arbitrary client bytes in arbitrary pieces, with
//! every question answered at once or only after the next piece arrived.
//!
//! Input: byte 0 holds flags (bit 0 maps the rest onto an SMTP-like
//! alphabet of whole commands, line endings, dots and terminators, so deep
//! states are reached sooner; bit 1 answers decisions late; bit 2 offers
//! STARTTLS and AUTH; bit 3 selects strict syntax; bit 4 sendmail's codes);
//! byte 1 seeds the piece sizes; the rest is the client's bytes.
//!
//! Checked: every reply line is `ddd[ -]text CR LF`, at most 512 octets,
//! with no other CR or LF; the output ends at the end of a line; nothing
//! comes out after `Close`; a message from DATA never holds a bare CR or LF
//! and always starts with our `Received:` header; the session's heap stays
//! bounded.

#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smarthost_authinfo::server::{Mechanism, ServerCredentials};
use smarthost_smtp_core::{
    AuthConfig, DecisionId, EnhancedStatus, Output, Peer, Question, Reply, ServerConfig, ServerSession,
    SyntaxMode, TlsInfo, Verdict,
};

/// An SMTP-like alphabet: commands, arguments and the bytes smuggling uses.
const TOKENS: [&[u8]; 64] = [
    b"EHLO x.example\r\n",
    b"HELO x\r\n",
    b"MAIL FROM:<a@b.example>\r\n",
    b"MAIL FROM:<> SIZE=10 BODY=8BITMIME\r\n",
    b"MAIL FROM:<a@b.example> BODY=BINARYMIME SMTPUTF8\r\n",
    b"MAIL FROM: <\"q x\"@b.example> RET=HDRS ENVID=a+2Bb\r\n",
    b"MAIL FROM:a@b\r\n",
    b"RCPT TO:<c@d.example>\r\n",
    b"RCPT TO:<reject@d.example>\r\n",
    b"RCPT TO:<close@d.example>\r\n",
    b"RCPT TO:<@r.example:c@d.example> NOTIFY=SUCCESS ORCPT=rfc822;c+40d\r\n",
    b"RCPT TO:<Postmaster>\r\n",
    b"RCPT TO:<j\xc3\xb6rg@d.example>\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\n",
    b"BDAT 3 LAST\r\n",
    b"BDAT 0 LAST\r\n",
    b"BDAT 99999999999999999999999\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN AGFsaWNlAG9wZW4gc2VzYW1l\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH LOGIN YWxpY2U=\r\n",
    b"AUTH CRAM-MD5\r\n",
    b"AUTH SCRAM-SHA-256\r\n",
    b"biwsbj1hbGljZSxyPWFiYw==\r\n",
    b"b3BlbiBzZXNhbWU=\r\n",
    b"=\r\n",
    b"*\r\n",
    b"VRFY x\r\n",
    b"EXPN x\r\n",
    b"HELP\r\n",
    b"XYZZY\r\n",
    b"TURN\r\n",
    b"GET / HTTP/1.1\r\n",
    b"Received: x\r\n",
    b"Subject: y\r\n",
    b"\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r.\r",
    b"\r\n.\n",
    b"\n.\r\n",
    b"\n",
    b"\r",
    b".",
    b"..",
    b"abc",
    b"\0",
    b"\xff",
    b"\xc3\xa9",
    b" ",
    b"<",
    b">",
    b"@",
    b":",
    b"=",
    b"+",
    b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    b"AUTH ",
];

static CREDENTIALS: LazyLock<Arc<ServerCredentials>> = LazyLock::new(|| {
    Arc::new(ServerCredentials::parse_str("fuzz", "alice  open sesame\n").expect("fixed credentials parse"))
});

fn config(flags: u8) -> Arc<ServerConfig> {
    let mut config = ServerConfig::new("mx.example.org").expect("a valid host name");
    config.max_message_size = Some(256);
    config.max_recipients = 4;
    config.max_hops = 2;
    config.max_bad_commands = 200;
    config.vrfy = true;
    config.expn = true;
    if flags & 4 != 0 {
        config.tls_available = true;
        let mut auth = AuthConfig::new(CREDENTIALS.clone());
        auth.allow_without_tls = true;
        // SCRAM's key derivation (4096 PBKDF2 rounds per try) would slow
        // every run down; the `sasl_server` target covers its stepper, and
        // `AUTH SCRAM-SHA-256` still reaches the session's refusal path.
        auth.policy.mechanisms = vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5];
        config.auth = Some(auth);
    }
    if flags & 8 != 0 {
        config.syntax = SyntaxMode::Strict;
    }
    config.sendmail_status_codes = flags & 16 != 0;
    Arc::new(config)
}

fn verdict(question: &Question, count: usize) -> Verdict {
    match question {
        Question::Rcpt { forward_path, .. } if forward_path.raw().starts_with("reject@") => {
            Verdict::reject(Reply::constant(550, Some(EnhancedStatus::BAD_DESTINATION_MAILBOX), "User unknown"))
        }
        Question::Rcpt { forward_path, .. } if forward_path.raw().starts_with("close@") => {
            Verdict::reject_and_close(None)
        }
        Question::Message(_) => Verdict::queued(&format!("Q{count}")),
        Question::Mail { .. } if count % 7 == 3 => Verdict::accept().with_queue_id("ID7"),
        _ => Verdict::accept(),
    }
}

struct Driver {
    session: ServerSession,
    now: Instant,
    wire: Vec<u8>,
    late: Option<(DecisionId, Question)>,
    defer: bool,
    closed: bool,
    questions: usize,
}

impl Driver {
    fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            assert!(!self.closed, "output after Close: {output:?}");
            match output {
                Output::Send(bytes) => self.wire.extend_from_slice(bytes),
                Output::Decide(id, question) if self.defer => {
                    assert!(self.late.is_none(), "two questions at once");
                    self.late = Some((id, question));
                }
                Output::Decide(id, question) => self.answer(id, question),
                Output::StartTls => {
                    self.session.handle_tls_established(TlsInfo::new("TLSv1.3", "TLS_AES_128_GCM_SHA256"), self.now)
                }
                Output::Close => self.closed = true,
            }
        }
    }

    fn answer(&mut self, id: DecisionId, question: Question) {
        self.questions += 1;
        if let Question::Message(transaction) = &question {
            assert!(transaction.content.starts_with(b"Received: from "));
            if !transaction.chunked {
                let message = transaction.message();
                for (at, &b) in message.iter().enumerate() {
                    let bare_lf = b == b'\n' && (at == 0 || message[at - 1] != b'\r');
                    let bare_cr = b == b'\r' && message.get(at + 1) != Some(&b'\n');
                    assert!(!bare_lf && !bare_cr, "bare line ending at {at} in an accepted DATA message");
                }
            }
        }
        let verdict = verdict(&question, self.questions);
        self.session.handle_decision(id, verdict, self.now).expect("the id just handed out");
    }

    fn send(&mut self, bytes: &[u8]) {
        self.session.handle_input(bytes, self.now);
        self.drain();
        while let Some((id, question)) = self.late.take() {
            self.answer(id, question);
            self.drain();
        }
        assert!(self.session.heap_size() < 1024 * 1024, "heap {}", self.session.heap_size());
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, rest @ ..] = data else { return };
    let input: Vec<u8> = if flags & 1 != 0 {
        rest.iter().flat_map(|&b| TOKENS[usize::from(b) % TOKENS.len()].iter().copied()).collect()
    } else {
        rest.to_vec()
    };
    let start = Instant::now();
    let peer = Peer::new("192.0.2.1:4000".parse().unwrap(), "192.0.2.25:25".parse().unwrap(), 1_700_000_000);
    let mut driver = Driver {
        session: ServerSession::new(config(*flags), peer, start),
        now: start,
        wire: Vec::new(),
        late: None,
        defer: flags & 2 != 0,
        closed: false,
        questions: 0,
    };
    driver.drain();
    // Piece sizes from a small linear congruential generator.
    let mut state = u32::from(*seed) | 1;
    let mut at = 0;
    while at < input.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = 1 + (state >> 16) as usize % 97;
        let end = (at + size).min(input.len());
        driver.send(&input[at..end]);
        at = end;
        if state & 0x100 != 0 {
            driver.now += Duration::from_secs(1);
        }
    }
    driver.now += Duration::from_secs(3600);
    driver.session.handle_timeout(driver.now);
    driver.drain();
    for line in driver.wire.split_inclusive(|&b| b == b'\n') {
        let ok = line.len() >= 6
            && line.len() <= 512
            && line[..3].iter().all(u8::is_ascii_digit)
            && matches!(line[3], b' ' | b'-')
            && line.ends_with(b"\r\n")
            && !line[..line.len() - 2].iter().any(|&b| b == b'\r' || b == b'\n');
        assert!(ok, "malformed reply line {:?}", String::from_utf8_lossy(line));
    }
});
