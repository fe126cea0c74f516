//! `smarthost queue`: show the mail queue and act on it, like `mailq`,
//! `sendmail -q` and `postsuper`.
//!
//! `list` opens the spool read-only, without its lock, so it works while a
//! relay is running. The other commands open it for writing, which needs the
//! spool's lock: while a relay holds it they say so and exit 2.
//!
//! The spool is a directory (`--spool DIR`, by default `spool` in the
//! current directory). The commands that change it never create it: a
//! mistyped `--spool` is reported rather than turned into an empty spool.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use smarthost_queue::{
    Envelope, FsOptions, FsStorage, QueueId, Recipient, RecipientState, Spool, Storage, StorageError,
    StoredMessage, Timestamp,
};

use crate::exit::{Status, finish};
use crate::json::json_string;
use crate::records::reader_went_away;

/// The reason `queue bounce` records for every recipient it fails.
pub const BOUNCE_REASON: &str = "5.0.0 bounced by the operator";

/// How `queue list` prints the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// mailq's layout: a header, then each message and its recipients.
    #[default]
    Text,
    /// one JSON array of messages, for scripts.
    Json,
}

/// What `queue hold|release|delete|bounce` does to each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Keep it from being attempted until released.
    Hold,
    /// Undo a hold; its pending recipients are due now.
    Release,
    /// Remove it without telling anyone.
    Delete,
    /// Fail its pending recipients with [`BOUNCE_REASON`]; the relay sends
    /// the failure report.
    Bounce,
}

/// Prints the messages in the spool `dir`, oldest first.
///
/// Exit status 0, or 2 when the spool cannot be read.
pub fn list(dir: &Path, format: Format) -> ExitCode {
    finish(read_queue(dir).and_then(|messages| {
        let text = match format {
            Format::Text => text_listing(dir, &messages),
            Format::Json => json_listing(&messages),
        };
        let mut out = BufWriter::new(io::stdout().lock());
        print(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
    }))
}

/// Makes the pending recipients of the spool `dir` due now, all of them or
/// those in `domain` and its sub-domains (sendmail's `-q` and `-qR`), and
/// prints how many. Held messages stay held.
///
/// This only marks them due: delivering them is the running relay's queue
/// runner's job, as `postqueue -f` asks Postfix's master to flush.
///
/// Exit status 0, or 2 when the spool cannot be opened (a running relay holds
/// its lock) or written.
pub fn run(dir: &Path, domain: Option<&str>) -> ExitCode {
    finish(open_for_writing(dir).and_then(|spool| {
        let count = spool.run_now(Timestamp::now(), domain).map_err(|error| error.to_string())?;
        let plural = if count == 1 { "" } else { "s" };
        let line =
            format!("{count} recipient{plural} made due now; the relay's queue runner delivers them\n");
        let mut out = io::stdout().lock();
        print(out.write_all(line.as_bytes()).and_then(|()| out.flush()))
    }))
}

/// Runs the queue of the relay configured in `config` now (sendmail's `-q`
/// and `-qR`), all of it or the recipients in `domain` and its
/// sub-domains. A running relay is asked through its control socket; with
/// none running, the queue runner starts in this process, attempts every
/// recipient made due, records the results, logs them to standard error as
/// the relay does, and returns when nothing is due any more (deferred
/// recipients wait for their next retry).
///
/// Exit status 0; 75 when the running relay refused or the spool is busy;
/// 78 when the configuration does not load.
pub fn deliver(config: &Path, domain: Option<&str>) -> ExitCode {
    let config = match smarthost_relay::Config::load(config) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return crate::exit::Sysexit::Config.into();
        }
    };
    let socket = config.spool.dir.join(smarthost_relay::CONTROL_SOCKET);
    match crate::sendmail::ask_daemon(&socket, domain) {
        Ok(crate::sendmail::Answer::Scheduled(count)) => {
            println!("{count} recipients made due now; the running relay delivers them");
            return ExitCode::SUCCESS;
        }
        Ok(crate::sendmail::Answer::Refused(text)) => {
            eprintln!("smarthost: the running relay refused: {text}");
            return crate::exit::Sysexit::TempFail.into();
        }
        Err(_) => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smarthost: cannot start the runtime: {error}");
            return crate::exit::Sysexit::OsErr.into();
        }
    };
    let format = config.log.format;
    runtime.block_on(async move {
        let log = std::sync::Arc::new(smarthost_relay::Log::stderr(format));
        let relay = match smarthost_relay::Relay::start_runner_only(config, log).await {
            Ok(relay) => relay,
            Err(error) => {
                eprintln!("smarthost: cannot run the queue: {error}");
                return crate::exit::Sysexit::TempFail.into();
            }
        };
        let before = relay.queued();
        relay.run_queue(domain.map(str::to_owned)).await;
        relay.idle().await;
        let after = relay.queued();
        relay.shutdown().await;
        println!("queue run: {before} messages in the queue, {after} still waiting");
        ExitCode::SUCCESS
    })
}

/// Applies `action` to each message in `ids`, printing `ID: held` (and so on)
/// for each one done.
///
/// Every ID is checked first: if one is not a queue ID, nothing is done and
/// the exit status is 2. An ID that is not in the queue is reported, the
/// others are still processed, and the exit status is 1. Exit status 2 when
/// the spool cannot be opened or written.
pub fn act(dir: &Path, action: Action, ids: &[String]) -> ExitCode {
    let parsed: Result<Vec<QueueId>, String> = ids
        .iter()
        .map(|id| id.parse::<QueueId>().map_err(|error| format!("{error}; nothing was done")))
        .collect();
    finish(parsed.and_then(|ids| {
        let spool = open_for_writing(dir)?;
        let mut status = Status::Ok;
        let mut out = io::stdout().lock();
        for id in ids {
            match apply(&spool, action, id) {
                Ok(()) => {
                    print(writeln!(out, "{id}: {}", action.done()).and_then(|()| out.flush()))?;
                }
                Err(StorageError::UnknownMessage(_)) => {
                    eprintln!(
                        "smarthost: {id}: no such message in the queue (delivered, deleted or mistyped?)"
                    );
                    status = Status::Negative;
                }
                Err(error) => return Err(format!("{id}: {error}")),
            }
        }
        Ok(status)
    }))
}

impl Action {
    /// The word printed after the ID once it is done.
    fn done(self) -> &'static str {
        match self {
            Self::Hold => "held",
            Self::Release => "released",
            Self::Delete => "deleted",
            Self::Bounce => "bounced",
        }
    }
}

/// The outcome of printing: done, or a write error (a closed pipe is not one).
fn print(written: io::Result<()>) -> Result<Status, String> {
    match written {
        Err(error) if !reader_went_away(&error) => Err(format!("cannot write to standard output: {error}")),
        _ => Ok(Status::Ok),
    }
}

fn apply(spool: &Spool, action: Action, id: QueueId) -> Result<(), StorageError> {
    match action {
        Action::Hold => spool.hold(id).map(drop),
        Action::Release => spool.release(id, Timestamp::now()).map(drop),
        Action::Delete => spool.delete(id),
        Action::Bounce => spool.bounce(id, BOUNCE_REASON).map(drop),
    }
}

/// The spool's messages, read without its lock; finished messages that a
/// relay has not removed yet are left out, as the relay would.
fn read_queue(dir: &Path) -> Result<Vec<StoredMessage>, String> {
    check_exists(dir)?;
    let storage = FsStorage::open_read_only(dir).map_err(|error| error.to_string())?;
    let recovery = storage.recover().map_err(|error| error.to_string())?;
    let mut messages: Vec<StoredMessage> =
        recovery.messages.into_iter().filter(|message| !message.envelope.is_finished()).collect();
    messages.sort_by_key(|message| message.id);
    Ok(messages)
}

/// Opens an existing spool for writing; a locked spool's message says what
/// to do.
fn open_for_writing(dir: &Path) -> Result<Spool, String> {
    check_exists(dir)?;
    let (spool, _recovery) = Spool::open(dir, FsOptions::default()).map_err(|error| error.to_string())?;
    Ok(spool)
}

fn check_exists(dir: &Path) -> Result<(), String> {
    if dir.join("log").is_dir() {
        return Ok(());
    }
    Err(format!(
        "{}: no spool here (no {} directory); give the relay's spool with --spool DIR",
        dir.display(),
        dir.join("log").display()
    ))
}

/// mailq's layout: the spool and its count, then each message and, indented,
/// its recipients.
fn text_listing(dir: &Path, messages: &[StoredMessage]) -> String {
    if messages.is_empty() {
        return "Mail queue is empty\n".to_string();
    }
    let plural = if messages.len() == 1 { "" } else { "s" };
    let mut out = format!("{} ({} request{plural})\n", dir.display(), messages.len());
    out.push_str("-----Queue ID----- --Size-- ----Arrival (UTC)--- --Sender/Recipient--\n");
    for StoredMessage { id, envelope, size } in messages {
        let held = if envelope.held { " (held)" } else { "" };
        let arrival = utc(envelope.arrival);
        let _ = writeln!(
            out,
            "{:<18} {size:>8} {arrival} <{}>{held}",
            id.to_string(),
            printable(&envelope.sender)
        );
        for recipient in &envelope.recipients {
            let _ = write!(
                out,
                "    <{}> {}, {} attempt{}",
                printable(&recipient.address),
                state_name(recipient.state),
                recipient.attempts,
                if recipient.attempts == 1 { "" } else { "s" }
            );
            if let Some(next) = recipient.next_attempt {
                let _ = write!(out, ", next {}", utc(next));
            }
            if let Some(reply) = &recipient.last_reply {
                let _ = write!(out, ", last reply: {}", printable(reply));
            }
            out.push('\n');
        }
    }
    out
}

/// The same fields as the text listing, as a JSON array. The null sender is
/// `""`; an absent next attempt or reply is `null`; times are UTC text.
fn json_listing(messages: &[StoredMessage]) -> String {
    let mut out = String::from("[");
    for (n, StoredMessage { id, envelope, size }) in messages.iter().enumerate() {
        out.push_str(if n == 0 { "\n  " } else { ",\n  " });
        json_message(&mut out, *id, envelope, *size);
    }
    out.push_str(if messages.is_empty() { "]\n" } else { "\n]\n" });
    out
}

fn json_message(out: &mut String, id: QueueId, envelope: &Envelope, size: u64) {
    let _ = write!(
        out,
        "{{\"id\":\"{id}\",\"size\":{size},\"arrival\":\"{}\",\"sender\":{},\"held\":{},\"recipients\":[",
        utc(envelope.arrival),
        json_string(&envelope.sender),
        envelope.held
    );
    for (n, recipient) in envelope.recipients.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        json_recipient(out, recipient);
    }
    out.push_str("]}");
}

fn json_recipient(out: &mut String, recipient: &Recipient) {
    let next = recipient.next_attempt.map_or_else(|| "null".to_string(), |next| format!("\"{}\"", utc(next)));
    let reply = recipient.last_reply.as_deref().map_or_else(|| "null".to_string(), json_string);
    let _ = write!(
        out,
        "{{\"address\":{},\"state\":\"{}\",\"attempts\":{},\"next_attempt\":{next},\"last_reply\":{reply}}}",
        json_string(&recipient.address),
        state_name(recipient.state),
        recipient.attempts
    );
}

/// Text from a peer (replies, addresses) with control characters escaped, so
/// that it cannot break the listing's lines or the terminal.
fn printable(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
}

fn state_name(state: RecipientState) -> &'static str {
    match state {
        RecipientState::Pending => "pending",
        RecipientState::Deferred => "deferred",
        RecipientState::Delivered => "delivered",
        RecipientState::Failed => "failed",
    }
}

/// `YYYY-MM-DD HH:MM:SS`, UTC.
fn utc(time: Timestamp) -> String {
    let t = smarthost_smtp_core::date::UtcTime::from_unix(time.0 / 1_000_000);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> String {
        utc(Timestamp(seconds * 1_000_000 + 999_999))
    }

    #[test]
    fn utc_times() {
        assert_eq!(at(0), "1970-01-01 00:00:00");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(at(951_868_799), "2000-02-29 23:59:59");
        assert_eq!(at(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(at(4_107_542_400), "2100-03-01 00:00:00");
        assert_eq!(at(253_402_300_799), "9999-12-31 23:59:59");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("451 try\r\nlater"), "451 try\\r\\nlater");
    }
}
