//! What the queue keeps about a message besides its bytes, and its binary
//! encoding.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::QueueId;

/// A point in time, in microseconds since the Unix epoch.
///
/// The queue takes time as a value everywhere, so that tests run on a
/// virtual clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Now, by the system clock.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0 / 1_000
    }

    /// This time plus `duration` (saturating).
    pub fn plus(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration.as_micros().min(u128::from(u64::MAX)) as u64))
    }

    /// How long after `earlier` this is (zero if it is not after it).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        Self(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64))
    }
}

/// RFC 3461 `RET`: what a failure report returns of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Headers,
}

/// RFC 3461 `NOTIFY`: when the sender wants a report for a recipient.
/// `None` in [`Recipient::notify`] means the parameter was absent (reports
/// on failure and delay, the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// `SUCCESS`.
    pub success: bool,
    /// `FAILURE`.
    pub failure: bool,
    /// `DELAY`.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify { success: false, failure: false, delay: false };
}

/// Where a recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipientState {
    /// Not tried yet.
    Pending,
    /// Tried; failed temporarily; will be tried again.
    Deferred,
    /// Delivered: never tried again.
    Delivered,
    /// Failed permanently, or timed out: never tried again; the sender is told.
    Failed,
}

impl RecipientState {
    /// Whether the recipient still needs a delivery attempt.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Pending | Self::Deferred)
    }
}

/// One recipient of a message and its delivery state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path as the client gave it, without angle brackets.
    pub address: String,
    /// `NOTIFY`, if the client gave it.
    pub notify: Option<Notify>,
    /// `ORCPT`, as `addr-type;address` (e.g. `rfc822;bob@example.org`).
    pub orcpt: Option<String>,
    /// Where it stands.
    pub state: RecipientState,
    /// Delivery attempts made.
    pub attempts: u32,
    /// When it is due again, while it is pending.
    pub next_attempt: Option<Timestamp>,
    /// The last reply from the next hop (or the local reason), for `mailq`
    /// and for reports.
    pub last_reply: Option<String>,
    /// Whether a delay report was already sent.
    pub warned: bool,
    /// Whether the failure report for a failed recipient was sent (or is not
    /// wanted): until it is, the message stays in the queue, so a crash
    /// cannot lose the sender's bounce either.
    pub reported: bool,
}

impl Recipient {
    /// A new, untried recipient.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            notify: None,
            orcpt: None,
            state: RecipientState::Pending,
            attempts: 0,
            next_attempt: None,
            last_reply: None,
            warned: false,
            reported: false,
        }
    }
}

/// Who handed the message over, for the `Received:` header and reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    /// The EHLO/HELO name.
    pub helo: String,
    /// The client's address (`192.0.2.1`, `2001:db8::1`), if it came over the network.
    pub addr: Option<String>,
    /// The client's host name from reverse DNS, if it had one.
    pub name: Option<String>,
    /// The authenticated identity, if the client logged in.
    pub auth: Option<String>,
    /// The protocol keyword (`ESMTP`, `ESMTPS`, `ESMTPSA`, `local`).
    pub protocol: String,
}

/// Everything about a message except its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path without angle brackets; empty for the null sender `<>`.
    pub sender: String,
    /// The recipients, each with its own state.
    pub recipients: Vec<Recipient>,
    /// `RET`, if the client gave it.
    pub ret: Option<Ret>,
    /// `ENVID`, if the client gave it.
    pub envid: Option<String>,
    /// When the message arrived.
    pub arrival: Timestamp,
    /// Who handed it over.
    pub client: Client,
    /// Whether the operator put it on hold (it is not attempted until released).
    pub held: bool,
}

impl Envelope {
    /// An envelope for a message arriving now-ish at `arrival`.
    pub fn new(sender: impl Into<String>, recipients: Vec<Recipient>, arrival: Timestamp) -> Self {
        Self {
            sender: sender.into(),
            recipients,
            ret: None,
            envid: None,
            arrival,
            client: Client::default(),
            held: false,
        }
    }

    /// Whether any recipient still needs an attempt.
    pub fn has_pending(&self) -> bool {
        self.recipients.iter().any(|r| r.state.is_pending())
    }

    /// Whether the queue is done with the message: every recipient is
    /// delivered, or failed with its report sent.
    pub fn is_finished(&self) -> bool {
        self.recipients.iter().all(|r| match r.state {
            RecipientState::Delivered => true,
            RecipientState::Failed => r.reported,
            RecipientState::Pending | RecipientState::Deferred => false,
        })
    }

    /// The sum of the recipients' states, for listings.
    pub fn count(&self, state: RecipientState) -> usize {
        self.recipients.iter().filter(|r| r.state == state).count()
    }
}

/// Why stored envelope bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes end in the middle of a field.
    #[error("envelope truncated at byte {0}")]
    Truncated(usize),
    /// An envelope version this code does not know.
    #[error("envelope format version {0} is unknown to this smarthost")]
    UnknownVersion(u8),
    /// A tag or count outside its range.
    #[error("bad {field} at byte {at}")]
    Bad {
        /// Which field.
        field: &'static str,
        /// Where it starts.
        at: usize,
    },
    /// Bytes left over after the envelope.
    #[error("{0} stray bytes after the envelope")]
    Trailing(usize),
}

const VERSION: u8 = 1;
/// No text field of an envelope is longer than this: SMTP's own limits are far below it.
const MAX_TEXT: usize = 1 << 16;
/// A message has at most this many recipients in the queue.
pub const MAX_RECIPIENTS: usize = 100_000;

impl Envelope {
    /// Encodes the envelope, with the message's queue ID, for storage.
    pub fn encode(&self, id: QueueId, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.extend_from_slice(&id.to_bits().to_le_bytes()[..10]);
        put_text(out, &self.sender);
        put_u8(out, ret_tag(self.ret));
        put_opt_text(out, self.envid.as_deref());
        put_u64(out, self.arrival.0);
        put_text(out, &self.client.helo);
        put_opt_text(out, self.client.addr.as_deref());
        put_opt_text(out, self.client.name.as_deref());
        put_opt_text(out, self.client.auth.as_deref());
        put_text(out, &self.client.protocol);
        put_u8(out, u8::from(self.held));
        put_u32(out, self.recipients.len() as u32);
        for recipient in &self.recipients {
            encode_recipient(recipient, out);
        }
    }

    /// Decodes what [`Envelope::encode`] wrote. Never panics: arbitrary
    /// bytes give an error.
    pub fn decode(bytes: &[u8]) -> Result<(QueueId, Envelope), DecodeError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let at = r.at;
        let mut id_bytes = [0u8; 16];
        id_bytes[..10].copy_from_slice(r.take(10)?);
        let id = QueueId::from_bits(u128::from_le_bytes(id_bytes))
            .ok_or(DecodeError::Bad { field: "queue ID", at })?;
        let sender = r.text()?;
        let ret = r.ret()?;
        let envid = r.opt_text()?;
        let arrival = Timestamp(r.u64()?);
        let client = Client {
            helo: r.text()?,
            addr: r.opt_text()?,
            name: r.opt_text()?,
            auth: r.opt_text()?,
            protocol: r.text()?,
        };
        let held = r.flag("held")?;
        let at = r.at;
        let count = r.u32()? as usize;
        if count > MAX_RECIPIENTS {
            return Err(DecodeError::Bad { field: "recipient count", at });
        }
        let mut recipients = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            recipients.push(decode_recipient(&mut r)?);
        }
        if r.at != bytes.len() {
            return Err(DecodeError::Trailing(bytes.len() - r.at));
        }
        Ok((id, Envelope { sender, recipients, ret, envid, arrival, client, held }))
    }
}

fn encode_recipient(recipient: &Recipient, out: &mut Vec<u8>) {
    put_text(out, &recipient.address);
    put_u8(
        out,
        match recipient.notify {
            None => 0,
            Some(n) => 0x80 | u8::from(n.success) | u8::from(n.failure) << 1 | u8::from(n.delay) << 2,
        },
    );
    put_opt_text(out, recipient.orcpt.as_deref());
    put_u8(out, state_tag(recipient.state));
    put_u32(out, recipient.attempts);
    match recipient.next_attempt {
        None => put_u8(out, 0),
        Some(time) => {
            put_u8(out, 1);
            put_u64(out, time.0);
        }
    }
    put_opt_text(out, recipient.last_reply.as_deref());
    put_u8(out, u8::from(recipient.warned));
    put_u8(out, u8::from(recipient.reported));
}

fn decode_recipient(r: &mut Reader<'_>) -> Result<Recipient, DecodeError> {
    let address = r.text()?;
    let at = r.at;
    let notify = match r.u8()? {
        0 => None,
        bits if bits & 0x80 != 0 && bits & 0x78 == 0 => {
            Some(Notify { success: bits & 1 != 0, failure: bits & 2 != 0, delay: bits & 4 != 0 })
        }
        _ => return Err(DecodeError::Bad { field: "NOTIFY", at }),
    };
    let orcpt = r.opt_text()?;
    let at = r.at;
    let state = match r.u8()? {
        0 => RecipientState::Pending,
        1 => RecipientState::Deferred,
        2 => RecipientState::Delivered,
        3 => RecipientState::Failed,
        _ => return Err(DecodeError::Bad { field: "recipient state", at }),
    };
    let attempts = r.u32()?;
    let next_attempt = if r.flag("next attempt")? { Some(Timestamp(r.u64()?)) } else { None };
    let last_reply = r.opt_text()?;
    let warned = r.flag("warned")?;
    let reported = r.flag("reported")?;
    Ok(Recipient { address, notify, orcpt, state, attempts, next_attempt, last_reply, warned, reported })
}

fn ret_tag(ret: Option<Ret>) -> u8 {
    match ret {
        None => 0,
        Some(Ret::Full) => 1,
        Some(Ret::Headers) => 2,
    }
}

pub(crate) fn state_tag(state: RecipientState) -> u8 {
    match state {
        RecipientState::Pending => 0,
        RecipientState::Deferred => 1,
        RecipientState::Delivered => 2,
        RecipientState::Failed => 3,
    }
}

fn put_u8(out: &mut Vec<u8>, value: u8) {
    out.push(value);
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    // Longer texts cannot come from SMTP; cut rather than write a record
    // the decoder would refuse.
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    put_u32(out, end as u32);
    out.extend_from_slice(&text.as_bytes()[..end]);
}

fn put_opt_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => put_u8(out, 0),
        Some(text) => {
            put_u8(out, 1);
            put_text(out, text);
        }
    }
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, len: usize) -> Result<&'b [u8], DecodeError> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated(self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        let at = self.at;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Bad { field, at }),
        }
    }

    fn ret(&mut self) -> Result<Option<Ret>, DecodeError> {
        let at = self.at;
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(Ret::Full)),
            2 => Ok(Some(Ret::Headers)),
            _ => Err(DecodeError::Bad { field: "RET", at }),
        }
    }

    fn text(&mut self) -> Result<String, DecodeError> {
        let at = self.at;
        let len = self.u32()? as usize;
        if len > MAX_TEXT {
            return Err(DecodeError::Bad { field: "text length", at });
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Bad { field: "UTF-8 text", at })
    }

    fn opt_text(&mut self) -> Result<Option<String>, DecodeError> {
        if self.flag("optional text")? { self.text().map(Some) } else { Ok(None) }
    }
}

#[cfg(test)]
mod tests;
