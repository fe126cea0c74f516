//! DATA and BDAT: reading the content, the checks at its end, and the
//! Message question.

use std::time::Instant;

use crate::data::{BdatOutcome, BdatProgress, BdatReceiver, DataOutcome, DataProgress, DataReceiver};
use crate::params::Body;
use crate::replies;
use crate::reply::Reply;
use crate::server::received::{Protocol, Stamp, write_received};
use crate::server::session::{Pending, Phase, ServerSession, Txn};
use crate::server::types::Transaction;

/// Initial content buffer when the client gave no `SIZE=`.
const INITIAL_CONTENT: usize = 8 * 1024;
/// Most content buffer reserved up front on the word of `SIZE=`.
const MAX_RESERVE: u64 = 1024 * 1024;

impl ServerSession {
    pub(super) fn handle_data(&mut self, more_input: bool, now: Instant) {
        let sendmail = self.config.sendmail_status_codes;
        let refusal = match &self.txn {
            None => Some(if sendmail { replies::SENDMAIL_NEED_MAIL } else { replies::NEED_MAIL }),
            Some(txn) if txn.recipients.is_empty() => {
                Some(if sendmail { replies::SENDMAIL_NEED_RCPT } else { replies::NEED_RCPT })
            }
            Some(txn) if txn.bdat.is_some() => Some(replies::DATA_BDAT_MIXED),
            Some(txn) if txn.params.body == Some(Body::BinaryMime) => Some(replies::BINARYMIME_NEEDS_BDAT),
            Some(_) => None,
        };
        if let Some(reply) = refusal {
            return self.reply_bad(&reply);
        }
        if more_input {
            // Content sent before our 354 (spec §2 "transaction stuffing",
            // T10): we cannot tell where it ends, so nothing after it can be
            // trusted as a command.
            return self.close_with_reply(&replies::PROTOCOL_ERROR);
        }
        self.reply(&replies::START_MAIL_INPUT);
        self.begin_content(now);
        self.phase = Phase::Data(DataReceiver::new(self.config.max_message_size));
    }

    /// Reads DATA content; returns the bytes used.
    pub(super) fn read_data(&mut self, rest: &[u8]) -> usize {
        let (Phase::Data(receiver), Some(txn)) = (&mut self.phase, &mut self.txn) else {
            // DATA always starts with a transaction.
            self.phase = Phase::Command;
            return 0;
        };
        match receiver.handle_input(rest, &mut txn.content) {
            DataProgress::NeedMore => rest.len(),
            DataProgress::Done { consumed, outcome } => {
                self.phase = Phase::Command;
                match outcome {
                    DataOutcome::Complete => self.finish_message(),
                    DataOutcome::TooBig { .. } => self.fail_transaction(&replies::MESSAGE_TOO_BIG),
                    DataOutcome::BareLineEnding => self.fail_transaction(&replies::BARE_LINE_ENDING_IN_DATA),
                }
                consumed
            }
        }
    }

    pub(super) fn handle_bdat(&mut self, chunk: Option<(u64, bool)>, now: Instant) {
        let Some((size, last)) = chunk else {
            // Without a size the stream cannot be framed any more.
            return self.close_with_reply(&replies::BDAT_SYNTAX);
        };
        let sendmail = self.config.sendmail_status_codes;
        let refusal = if !self.extended || !self.config.chunking {
            Some(replies::BDAT_NOT_OFFERED)
        } else {
            match &self.txn {
                None => Some(if sendmail { replies::SENDMAIL_NEED_MAIL } else { replies::NEED_MAIL }),
                Some(txn) if txn.recipients.is_empty() => {
                    Some(if sendmail { replies::SENDMAIL_NEED_RCPT } else { replies::NEED_RCPT })
                }
                Some(_) => None,
            }
        };
        if let Some(reply) = refusal {
            // RFC 3030 §2: the chunk is read even when the command fails.
            self.reply_bad(&reply);
            if size > 0 && !self.is_closed() {
                self.phase = Phase::Discard { remaining: size };
            }
            return;
        }
        let max_size = self.config.max_message_size;
        if self.txn.as_ref().is_some_and(|txn| txn.bdat.is_none()) {
            self.begin_content(now);
        }
        let Some(txn) = &mut self.txn else { return };
        txn.bdat.get_or_insert_with(|| BdatReceiver::new(max_size)).start_chunk(size, last);
        self.phase = Phase::Bdat;
        if size == 0 {
            // A zero-octet chunk is complete without input.
            self.read_chunk(&[]);
        }
    }

    /// Reads BDAT chunk bytes (or drops a refused chunk); returns the bytes used.
    pub(super) fn read_chunk(&mut self, rest: &[u8]) -> usize {
        if let Phase::Discard { remaining } = &mut self.phase {
            let take = usize::try_from(*remaining).map_or(rest.len(), |r| r.min(rest.len()));
            *remaining -= take as u64;
            if *remaining == 0 {
                self.phase = Phase::Command;
            }
            return take;
        }
        let Some(txn) = &mut self.txn else {
            self.phase = Phase::Command;
            return 0;
        };
        let Some(receiver) = &mut txn.bdat else {
            self.phase = Phase::Command;
            return 0;
        };
        match receiver.handle_input(rest, &mut txn.content) {
            BdatProgress::NeedMore => rest.len(),
            BdatProgress::Idle => {
                self.phase = Phase::Command;
                0
            }
            BdatProgress::ChunkDone { consumed, outcome } => {
                self.phase = Phase::Command;
                match outcome {
                    BdatOutcome::ChunkReceived { chunk_size } => self.chunk_received(chunk_size),
                    BdatOutcome::Complete { .. } => self.finish_message(),
                    // The transaction fails at the chunk that passes the
                    // limit; later chunks find no transaction and are dropped.
                    BdatOutcome::TooBig { .. } => self.fail_transaction(&replies::MESSAGE_TOO_BIG),
                }
                consumed
            }
        }
    }

    /// `250 2.0.0 <n> octets received`.
    fn chunk_received(&mut self, size: u64) {
        let mut buffer = [0u8; 20];
        let number = replies::decimal(size, &mut buffer);
        let enhanced = self.extended;
        replies::write_parts(
            &mut self.out,
            250,
            replies::MESSAGE_ACCEPTED.status(),
            enhanced,
            &[number, replies::CHUNK_RECEIVED_SUFFIX],
        );
    }

    /// Writes our `Received:` header at the start of the content.
    fn begin_content(&mut self, now: Instant) {
        let unix_time = self.unix_time(now);
        let protocol = Protocol::of(self.extended, self.peer.tls.is_some(), self.auth.is_some());
        let Some(txn) = &mut self.txn else { return };
        let reserve = txn.params.size.map_or(INITIAL_CONTENT as u64, |size| size.min(MAX_RESERVE));
        txn.content.reserve(reserve as usize + 512);
        let for_path = match txn.recipients.as_slice() {
            [only] => Some(only.forward_path.raw()),
            _ => None,
        };
        write_received(
            &mut txn.content,
            &Stamp {
                helo: self.helo.as_deref(),
                remote_name: self.peer.remote_name.as_deref(),
                remote: self.peer.remote,
                host: self.config.hostname(),
                protocol,
                id: txn.queue_id.as_deref(),
                tls: self.peer.tls.as_ref(),
                for_path,
                unix_time,
            },
        );
        txn.received_len = txn.content.len();
    }

    /// The content is complete and well-formed: check the hops, then ask.
    fn finish_message(&mut self) {
        let Some(txn) = self.txn.take() else { return };
        if count_received(&txn.content[txn.received_len..]) > self.config.max_hops {
            return self.reply(&replies::TOO_MANY_HOPS);
        }
        let Txn { reverse_path, params, recipients, queue_id, mut content, received_len, bdat } = *txn;
        // Give back a reservation the client's SIZE= overstated by far.
        if content.capacity() > 2 * content.len() + INITIAL_CONTENT {
            content.shrink_to_fit();
        }
        let transaction = Transaction {
            reverse_path,
            mail_params: params,
            recipients,
            content,
            received_len,
            helo: self.helo.as_deref().map(str::to_owned),
            protocol: Protocol::of(self.extended, self.peer.tls.is_some(), self.auth.is_some()),
            auth: self.auth.as_deref().map(str::to_owned),
            tls: self.peer.tls.clone(),
            remote: self.peer.remote,
            queue_id,
            chunked: bdat.is_some(),
        };
        self.ask(Pending::Message(Some(Box::new(transaction))));
    }

    /// Ends the transaction with an error reply (too big, bare line endings).
    fn fail_transaction(&mut self, reply: &Reply) {
        self.txn = None;
        self.reply(reply);
    }
}

/// Counts `Received:` fields in the header section of `message`.
fn count_received(message: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = message;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |lf| lf + 1);
        let line = &rest[..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:") {
            count += 1;
        }
        rest = &rest[end..];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_received_in_the_header_only() {
        let message = b"Received: a\r\nreceived: b\r\n c\r\nSubject: x\r\n\r\nReceived: body\r\n";
        assert_eq!(count_received(message), 2);
        assert_eq!(count_received(b""), 0);
    }
}
