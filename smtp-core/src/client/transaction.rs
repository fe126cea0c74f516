//! Mail transactions: the checks before `MAIL`, the `MAIL`/`RCPT`/`DATA`
//! (or `BDAT`) commands, pipelined when the server allows it, and what each
//! reply does to the recipients (smtp.md §9, §12.3).

use crate::data::{dot_stuff, has_8bit, max_line_len, normalized_size};
use crate::params::{Body, MailParams, Orcpt, RcptParams};
use crate::reply::Reply;
use crate::status::EnhancedStatus;

use super::content::{has_8bit_header, normalize};
use super::{
    ClientSession, Envelope, Expect, Failure, FailureKind, MAX_COMMAND_LINE, MessageId, MessageResult, Phase,
    RecipientResult, status_for,
};

/// Longest content line RFC 5321 §4.5.3.1.6 allows, CR LF included.
const MAX_TEXT_LINE: usize = 1000;

/// A message on its way through the session.
#[derive(Debug)]
pub(super) struct Message {
    id: MessageId,
    envelope: Envelope,
    content: Vec<u8>,
    results: Vec<Option<RecipientResult>>,
    /// Recipients without a result yet, in envelope order.
    todo: Vec<usize>,
    /// How the message goes to this server, worked out at its first transaction.
    plan: Option<Plan>,
    pub(super) possible_duplicate: bool,
    return_headers_only: bool,
}

/// How a message goes to this server.
#[derive(Debug)]
struct Plan {
    mail_line: String,
    bdat: bool,
    /// Dot-stuffed content with its terminator, or the bytes for `BDAT`.
    wire: Vec<u8>,
}

/// The transaction in progress.
#[derive(Debug)]
pub(super) struct Transaction {
    /// Recipients (envelope indexes) in this transaction.
    rcpts: Vec<usize>,
    /// How many `RCPT` commands went out (without PIPELINING one at a time).
    rcpts_sent: usize,
    rcpt_replies: usize,
    mail_failed: bool,
    accepted: Vec<usize>,
    /// `452` answers; sent again in a new transaction when some recipient
    /// was accepted, deferred otherwise.
    busy: Vec<(usize, Reply)>,
    /// Bytes of the `BDAT` content sent so far.
    bdat_sent: usize,
    /// A `BDAT` chunk failed; the remaining chunk replies are read and ignored.
    content_failed: bool,
    /// The final `.` or `BDAT … LAST` went out and has no reply yet.
    final_sent: bool,
    /// The transaction ended with the reply to its content, so the server
    /// is ready for `MAIL` without `RSET`.
    clean: bool,
}

impl Transaction {
    pub(super) fn is_awaiting_final_reply(&self) -> bool {
        self.final_sent
    }
}

/// What a transaction reply leads to, worked out while the transaction is
/// borrowed and done after.
enum Next {
    Wait,
    /// Between transactions: start the next one.
    Idle,
    SendRcpt,
    AfterRcpts,
    SendData {
        dot_only: bool,
    },
    SendChunk,
    End,
    ProtocolError(Phase),
}

impl Message {
    pub(super) fn new(id: MessageId, envelope: Envelope, content: Vec<u8>) -> Message {
        let count = envelope.recipients.len();
        Message {
            id,
            envelope,
            content,
            results: vec![None; count],
            todo: (0..count).collect(),
            plan: None,
            possible_duplicate: false,
            return_headers_only: false,
        }
    }

    /// Whether every recipient has a result.
    pub(super) fn is_done(&self) -> bool {
        self.todo.is_empty()
    }

    /// Records the server's `reply` for recipient `index`.
    fn set(&mut self, index: usize, failure: Option<FailureKind>, reply: &Reply, phase: Phase) {
        let forward_path = self.envelope.recipients[index].0.clone();
        let status = status_for(reply, phase);
        let result =
            RecipientResult { forward_path, failure, reply: reply.clone(), status, phase, remote: true };
        self.results[index] = Some(result);
        self.todo.retain(|&i| i != index);
    }

    fn fail(&mut self, index: usize, failure: &Failure) {
        let forward_path = self.envelope.recipients[index].0.clone();
        self.results[index] = Some(failure.result(forward_path));
        self.todo.retain(|&i| i != index);
    }

    fn fail_all(&mut self, failure: &Failure) {
        for index in std::mem::take(&mut self.todo) {
            let forward_path = self.envelope.recipients[index].0.clone();
            self.results[index] = Some(failure.result(forward_path));
        }
    }

    /// The result, with `failure` for every recipient still without one.
    pub(super) fn into_result(mut self, failure: Option<&Failure>, next_hop_dsn: bool) -> MessageResult {
        let fallback;
        let failure = match failure {
            Some(failure) => failure,
            None => {
                // Unreachable by construction: messages are finished with a
                // failure or with every recipient done.
                fallback = Failure::local(
                    FailureKind::Protocol,
                    451,
                    EnhancedStatus::OTHER_PROTOCOL.with_class(4),
                    Phase::Connect,
                    "recipient left without a result (client bug)",
                );
                &fallback
            }
        };
        self.fail_all(failure);
        MessageResult {
            id: self.id,
            recipients: self.results.into_iter().flatten().collect(),
            possible_duplicate: self.possible_duplicate,
            return_headers_only: self.return_headers_only,
            next_hop_dsn,
        }
    }
}

impl Failure {
    fn result(&self, forward_path: String) -> RecipientResult {
        RecipientResult {
            forward_path,
            failure: Some(self.kind),
            reply: self.reply.clone(),
            status: self.status,
            phase: self.phase,
            remote: self.remote,
        }
    }
}

impl ClientSession {
    /// Starts a transaction for the current message. Returns `false` when
    /// nothing was sent (the message failed here, or nobody is left).
    pub(super) fn start_transaction(&mut self) -> bool {
        let Some(mut message) = self.current.take() else { return false };
        if message.plan.is_none() {
            match self.plan(&message) {
                Ok(plan) => message.plan = Some(plan),
                Err(failure) => {
                    message.return_headers_only |=
                        failure.status == EnhancedStatus::MESSAGE_TOO_BIG && !failure.remote;
                    message.fail_all(&failure);
                    self.current = Some(message);
                    return false;
                }
            }
        }
        let rcpts = self.take_recipients(&mut message);
        let Some(plan) = message.plan.as_ref().filter(|_| !rcpts.is_empty()) else {
            self.current = Some(message);
            return false;
        };
        let (mail_line, bdat) = (plan.mail_line.clone(), plan.bdat);
        self.current = Some(message);
        if self.reset_needed {
            self.reset_needed = false;
            self.command("RSET", Expect::Rset);
            if !self.caps.has_pipelining() {
                // MAIL after RSET's reply (then `start_next` comes here again).
                return true;
            }
        }
        self.txn = Some(Transaction {
            rcpts,
            rcpts_sent: 0,
            rcpt_replies: 0,
            mail_failed: false,
            accepted: Vec::new(),
            busy: Vec::new(),
            bdat_sent: 0,
            content_failed: false,
            final_sent: false,
            clean: false,
        });
        self.command(&mail_line, Expect::Mail);
        if self.caps.has_pipelining() {
            // MAIL, RCPT…, DATA in one write (RFC 2920). BDAT waits for the
            // RCPT replies, so that no content goes out for nobody.
            while self.send_next_rcpt() {}
            if !bdat {
                self.command("DATA", Expect::Data);
            }
        }
        true
    }

    pub(super) fn handle_transaction_reply(&mut self, expect: Expect, reply: &Reply) {
        let next = self.transaction_step(expect, reply);
        match next {
            Next::Wait => {}
            Next::Idle => self.start_next(),
            Next::SendRcpt => {
                self.send_next_rcpt();
            }
            Next::AfterRcpts => self.after_rcpts(),
            Next::SendData { dot_only } => {
                if dot_only {
                    // P4, P5: nobody to deliver to; end the data at once.
                    self.send_bytes(b".\r\n");
                } else if let Some(plan) = self.current.as_ref().and_then(|m| m.plan.as_ref()) {
                    let wire = plan.wire.clone();
                    self.send_bytes(&wire);
                }
                if let Some(txn) = self.txn.as_mut() {
                    txn.final_sent = !dot_only;
                }
                self.expect.push_back(Expect::Content { dot_only });
                self.rearm = true;
            }
            Next::SendChunk => self.send_chunk(),
            Next::End => self.end_transaction(),
            Next::ProtocolError(phase) => self.protocol_error(reply, phase),
        }
    }

    /// Applies a reply to the transaction and says what follows.
    fn transaction_step(&mut self, expect: Expect, reply: &Reply) -> Next {
        let pipelining = self.caps.has_pipelining();
        let size_advertised = self.caps.has_size();
        let (Some(txn), Some(message)) = (self.txn.as_mut(), self.current.as_mut()) else {
            // The RSET after a failed transaction.
            return if reply.is_positive() { Next::Idle } else { Next::ProtocolError(expect.phase()) };
        };
        if reply.is_intermediate() && expect != Expect::Data {
            return Next::ProtocolError(expect.phase());
        }
        match expect {
            Expect::Rset if reply.is_positive() => Next::Wait,
            Expect::Rset => Next::ProtocolError(Phase::Rset),
            Expect::Mail if reply.is_positive() => {
                if pipelining {
                    Next::Wait
                } else {
                    Next::SendRcpt
                }
            }
            Expect::Mail => {
                // The sender or the message is refused: every recipient of
                // the message, not only this transaction's.
                txn.mail_failed = true;
                if reply.code() == 552 && size_advertised {
                    message.return_headers_only = true;
                }
                let kind = refusal_kind(reply);
                for index in message.todo.clone() {
                    message.set(index, Some(kind), reply, Phase::Mail);
                }
                if pipelining { Next::Wait } else { Next::End }
            }
            Expect::Rcpt(index) => {
                txn.rcpt_replies += 1;
                if txn.mail_failed {
                    // Pipelined after a refused MAIL: read and ignored.
                } else if reply.is_positive() {
                    txn.accepted.push(index);
                } else if reply.code() == 452 {
                    txn.busy.push((index, reply.clone()));
                } else {
                    message.set(index, Some(refusal_kind(reply)), reply, Phase::Rcpt);
                }
                if txn.rcpt_replies < txn.rcpts.len() {
                    if pipelining { Next::Wait } else { Next::SendRcpt }
                } else {
                    Next::AfterRcpts
                }
            }
            Expect::Data if reply.code() == 354 => Next::SendData { dot_only: txn.accepted.is_empty() },
            Expect::Data if reply.is_positive() || reply.is_intermediate() => {
                Next::ProtocolError(Phase::Data)
            }
            Expect::Data => {
                let kind = refusal_kind(reply);
                for index in std::mem::take(&mut txn.accepted) {
                    message.set(index, Some(kind), reply, Phase::Data);
                }
                Next::End
            }
            Expect::Content { dot_only } => {
                txn.final_sent = false;
                // After a lone `.` the reply means nothing (P4): ignored.
                if !dot_only {
                    let failure = (!reply.is_positive()).then(|| refusal_kind(reply));
                    for index in std::mem::take(&mut txn.accepted) {
                        message.set(index, failure, reply, Phase::Content);
                    }
                }
                // Either way the server ended the transaction itself.
                txn.clean = true;
                Next::End
            }
            Expect::Bdat { last } => {
                if last {
                    txn.final_sent = false;
                }
                if !txn.content_failed && (last || !reply.is_positive()) {
                    let failure = (!reply.is_positive()).then(|| refusal_kind(reply));
                    txn.content_failed = failure.is_some();
                    for index in std::mem::take(&mut txn.accepted) {
                        message.set(index, failure, reply, Phase::Content);
                    }
                }
                if last {
                    txn.clean = !txn.content_failed;
                    Next::End
                } else if txn.content_failed && !pipelining {
                    Next::End
                } else if pipelining {
                    Next::Wait
                } else {
                    Next::SendChunk
                }
            }
            _ => Next::ProtocolError(expect.phase()),
        }
    }

    /// Every `RCPT` has its reply: defer or carry the `452`s, then DATA,
    /// BDAT or the end of the transaction.
    fn after_rcpts(&mut self) {
        let pipelining = self.caps.has_pipelining();
        let bdat = self.current.as_ref().and_then(|m| m.plan.as_ref()).is_some_and(|p| p.bdat);
        let (Some(txn), Some(message)) = (self.txn.as_mut(), self.current.as_mut()) else { return };
        // 452 after some acceptance means "too many recipients": those stay
        // to do and go in the next transaction. With none accepted it is a
        // deferral (P5).
        let busy = std::mem::take(&mut txn.busy);
        if txn.accepted.is_empty() {
            for (index, reply) in busy {
                message.set(index, Some(FailureKind::Temporary), &reply, Phase::Rcpt);
            }
        }
        let nobody = txn.accepted.is_empty();
        if pipelining && !bdat {
            // DATA is already out; its reply decides.
        } else if nobody {
            self.end_transaction();
        } else if bdat {
            self.send_chunk();
        } else {
            self.command("DATA", Expect::Data);
        }
    }

    /// Sends the next `BDAT` chunk, or all of them with PIPELINING.
    fn send_chunk(&mut self) {
        let pipelining = self.caps.has_pipelining();
        let chunk_size = self.config.limits.bdat_chunk.get();
        loop {
            let (Some(txn), Some(message)) = (self.txn.as_mut(), self.current.as_ref()) else { return };
            let Some(plan) = message.plan.as_ref() else { return };
            let start = txn.bdat_sent;
            let end = plan.wire.len().min(start + chunk_size);
            let last = end == plan.wire.len();
            txn.bdat_sent = end;
            txn.final_sent |= last;
            let line = format!("BDAT {}{}\r\n", end - start, if last { " LAST" } else { "" });
            let mut bytes = line.into_bytes();
            bytes.extend_from_slice(&plan.wire[start..end]);
            self.send_bytes(&bytes);
            if self.expect.is_empty() {
                self.rearm = true;
            }
            self.expect.push_back(Expect::Bdat { last });
            if last || !pipelining {
                return;
            }
        }
    }

    /// A transaction that failed is reset at once (P3); after one that
    /// ended with the reply to its content, the next message starts with
    /// `RSET` (reuse), while more recipients of the same message do not need it.
    fn end_transaction(&mut self) {
        let clean = self.txn.take().is_some_and(|t| t.clean);
        let more = self.current.as_ref().is_some_and(|m| !m.is_done());
        if clean {
            self.reset_needed = !more;
        } else {
            self.reset_needed = false;
            self.command("RSET", Expect::Rset);
        }
        self.start_next();
    }

    /// Takes up to `max_recipients` recipients for the next transaction,
    /// failing at once those whose `RCPT` line cannot be sent.
    fn take_recipients(&self, message: &mut Message) -> Vec<usize> {
        let max = self.config.limits.max_recipients.get();
        let mut rcpts = Vec::new();
        for index in message.todo.clone() {
            if rcpts.len() == max {
                break;
            }
            match self.rcpt_line(&message.envelope.recipients[index]) {
                Ok(_) => rcpts.push(index),
                Err(failure) => message.fail(index, &failure),
            }
        }
        rcpts
    }

    /// Sends the next `RCPT`; `false` when all are out.
    fn send_next_rcpt(&mut self) -> bool {
        let Some(txn) = self.txn.as_mut() else { return false };
        let Some(&index) = txn.rcpts.get(txn.rcpts_sent) else { return false };
        txn.rcpts_sent += 1;
        let line = match self.current.as_ref().map(|m| self.rcpt_line(&m.envelope.recipients[index])) {
            Some(Ok(line)) => line,
            // Checked in `take_recipients`.
            _ => return false,
        };
        self.command(&line, Expect::Rcpt(index));
        true
    }

    // ---- Before MAIL -------------------------------------------------------

    /// Checks the message against the server's capabilities and works out
    /// the `MAIL` line and the wire form of the content.
    fn plan(&self, message: &Message) -> Result<Plan, Failure> {
        let caps = &self.caps;
        let peer = self.peer_label();
        let envelope = &message.envelope;
        let content = &message.content;
        let permanent = |code, status, text: String| {
            Failure::local(FailureKind::Permanent, code, status, Phase::Mail, &text)
        };

        if let Some(problem) = path_problem(&envelope.reverse_path) {
            let text = format!("sender <{}> {problem}", envelope.reverse_path);
            return Err(permanent(553, EnhancedStatus::BAD_SENDER_SYNTAX, text));
        }
        let binary = envelope.mail_params.body == Some(Body::BinaryMime);
        let bdat = self.config.allow_bdat && caps.has_chunking();
        if binary && !(bdat && caps.has_binarymime()) {
            let text = format!(
                "message is BINARYMIME, which needs BDAT; {peer} does not offer CHUNKING and BINARYMIME \
                 (or BDAT is off here), and this relay does not convert"
            );
            return Err(permanent(554, EnhancedStatus::CONVERSION_UNSUPPORTED, text));
        }
        if !binary {
            let longest = max_line_len(content);
            if longest > MAX_TEXT_LINE {
                let text = format!(
                    "message has a line of {longest} octets; RFC 5321 allows {MAX_TEXT_LINE} and this \
                     relay does not re-encode"
                );
                return Err(permanent(554, EnhancedStatus::OTHER_MEDIA, text));
            }
        }
        let body = if binary {
            Some(Body::BinaryMime)
        } else if has_8bit(content) {
            if !caps.has_8bitmime() {
                let text = format!(
                    "{peer} does not support 8BITMIME; the message has 8-bit content and this relay does \
                     not convert it"
                );
                return Err(permanent(554, EnhancedStatus::CONVERSION_UNSUPPORTED, text));
            }
            Some(Body::EightBitMime)
        } else if caps.has_8bitmime() {
            envelope.mail_params.body.filter(|b| *b != Body::BinaryMime)
        } else {
            None
        };
        let utf8_address =
            !envelope.reverse_path.is_ascii() || envelope.recipients.iter().any(|(path, _)| !path.is_ascii());
        let smtputf8 = utf8_address || (envelope.mail_params.smtputf8 && has_8bit_header(content));
        if smtputf8 && !caps.has_smtputf8() {
            let text = format!("SMTPUTF8 required but not offered by {peer}");
            return Err(Failure::local(
                FailureKind::Permanent,
                553,
                EnhancedStatus::NON_ASCII_ADDRESS,
                Phase::Mail,
                &text,
            ));
        }
        let size = if binary { content.len() as u64 } else { normalized_size(content) };
        if let Some(limit) = caps.size_limit().filter(|&limit| size > limit) {
            let text = format!(
                "message of {size} octets exceeds the fixed maximum message size of {peer} ({limit})"
            );
            return Err(permanent(552, EnhancedStatus::MESSAGE_TOO_BIG, text));
        }

        let mut params =
            MailParams { size: caps.has_size().then_some(size), body, smtputf8, ..MailParams::default() };
        if caps.has_dsn() {
            params.ret = envelope.mail_params.ret;
            params.envid.clone_from(&envelope.mail_params.envid);
        }
        if self.authenticated {
            params.auth.clone_from(&envelope.mail_params.auth);
        }
        let mut mail_line = format!("MAIL FROM:<{}>{params}", envelope.reverse_path);
        if mail_line.len() + 2 > MAX_COMMAND_LINE && params.auth.take().is_some() {
            mail_line = format!("MAIL FROM:<{}>{params}", envelope.reverse_path);
        }
        if let Some(problem) = line_problem(&mail_line) {
            return Err(permanent(501, EnhancedStatus::INVALID_ARGUMENTS, format!("MAIL FROM {problem}")));
        }

        let mut wire = Vec::with_capacity(content.len() + content.len() / 40 + 5);
        match (bdat, binary) {
            (true, true) => wire.extend_from_slice(content),
            (true, false) => normalize(content, &mut wire),
            (false, _) => dot_stuff(content, &mut wire),
        }
        Ok(Plan { mail_line, bdat, wire })
    }

    /// The `RCPT` line for a recipient, or why it cannot be sent.
    fn rcpt_line(&self, (path, received): &(String, RcptParams)) -> Result<String, Failure> {
        let permanent = |status, text: String| {
            let code = if status == EnhancedStatus::BAD_DESTINATION_SYNTAX { 553 } else { 501 };
            Failure::local(FailureKind::Permanent, code, status, Phase::Rcpt, &text)
        };
        if let Some(problem) = path_problem(path) {
            return Err(permanent(
                EnhancedStatus::BAD_DESTINATION_SYNTAX,
                format!("recipient <{path}> {problem}"),
            ));
        }
        let mut params = RcptParams::default();
        if self.caps.has_dsn() {
            params.notify = received.notify;
            // dsn.md §7.2: passed on unchanged, added when absent.
            params.orcpt = Some(received.orcpt.clone().unwrap_or_else(|| Orcpt::rfc822(path)));
        }
        let mut line = format!("RCPT TO:<{path}>{params}");
        if line.len() + 2 > MAX_COMMAND_LINE && params.orcpt.take().is_some() {
            // ORCPT is information for DSNs; without it the recipient still gets the message.
            line = format!("RCPT TO:<{path}>{params}");
        }
        match line_problem(&line) {
            Some(problem) => Err(permanent(EnhancedStatus::INVALID_ARGUMENTS, format!("RCPT TO {problem}"))),
            None => Ok(line),
        }
    }
}

/// Temporary for `4xx`, permanent for `5xx`.
fn refusal_kind(reply: &Reply) -> FailureKind {
    if reply.is_transient() { FailureKind::Temporary } else { FailureKind::Permanent }
}

/// Why a path cannot go between `<` and `>` as it is: a control character
/// (which could end the command line early), or an unquoted `<`, `>` or space.
fn path_problem(path: &str) -> Option<&'static str> {
    let mut quoted = false;
    let mut escaped = false;
    for c in path.chars() {
        if c.is_control() {
            return Some("holds a control character");
        }
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && matches!(c, '<' | '>' | ' ') {
            return Some("holds an unquoted `<`, `>` or space");
        }
    }
    None
}

/// Why a command line cannot be sent: too long, or a control character in
/// a parameter (values from the caller are not trusted to be clean).
fn line_problem(line: &str) -> Option<String> {
    if line.chars().any(char::is_control) {
        return Some("parameters hold a control character".to_owned());
    }
    let length = line.len() + 2;
    (length > MAX_COMMAND_LINE).then(|| {
        format!("command would be {length} octets; this client never sends more than {MAX_COMMAND_LINE}")
    })
}
