//! The records of a spool segment.
//!
//! ```text
//! offset 0  "SQ"            magic
//!        2  kind            1 message, 2 envelope update, 3 removal
//!        3  0               reserved
//!        4  length  u32 LE  of the payload
//!        8  xxh3    u64 LE  of bytes 2..8 and the payload
//!       16  payload
//! ```
//!
//! A message's payload is the envelope's length (u32 LE), the envelope and
//! the message bytes; an update's is the envelope; a removal's is the queue
//! ID (the envelope codec's ID bytes). A record is valid only whole: a crash
//! mid-write leaves a record whose checksum fails, which recovery discards.

use xxhash_rust::xxh3::Xxh3;

use crate::{Envelope, QueueId};

pub(crate) const HEADER: usize = 16;
const MAGIC: &[u8; 2] = b"SQ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Message = 1,
    Update = 2,
    Remove = 3,
}

/// Appends a message record; returns where, within `out`, the body starts.
pub(crate) fn message(id: QueueId, envelope: &Envelope, body: &[u8], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.resize(start + HEADER + 4, 0);
    envelope.encode(id, out);
    let envelope_len = out.len() - start - HEADER - 4;
    out[start + HEADER..start + HEADER + 4].copy_from_slice(&(envelope_len as u32).to_le_bytes());
    let body_at = out.len() - start;
    out.extend_from_slice(body);
    seal(Kind::Message, start, out);
    body_at
}

/// Appends an envelope-update record.
pub(crate) fn update(id: QueueId, envelope: &Envelope, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + HEADER, 0);
    envelope.encode(id, out);
    seal(Kind::Update, start, out);
}

/// Appends a removal record.
pub(crate) fn remove(id: QueueId, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + HEADER, 0);
    out.extend_from_slice(&id.to_bits().to_le_bytes()[..10]);
    seal(Kind::Remove, start, out);
}

fn seal(kind: Kind, start: usize, out: &mut [u8]) {
    let len = (out.len() - start - HEADER) as u32;
    let header = &mut out[start..start + HEADER];
    header[..2].copy_from_slice(MAGIC);
    header[2] = kind as u8;
    header[3] = 0;
    header[4..8].copy_from_slice(&len.to_le_bytes());
    let checksum = checksum(&out[start + 2..start + 8], &out[start + HEADER..]);
    out[start + 8..start + HEADER].copy_from_slice(&checksum.to_le_bytes());
}

fn checksum(kind_and_len: &[u8], payload: &[u8]) -> u64 {
    let mut digest = Xxh3::new();
    digest.update(kind_and_len);
    digest.update(payload);
    digest.digest()
}

/// One record read back.
#[derive(Debug)]
pub(crate) struct Read<'b> {
    pub(crate) kind: Kind,
    pub(crate) payload: &'b [u8],
    /// The record's whole length, header included.
    pub(crate) len: usize,
}

/// Why bytes are not a valid record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The bytes end before the record does: a torn write at the end.
    Incomplete,
    /// The bytes are damaged.
    Damaged(&'static str),
}

/// Reads the record at the start of `bytes`.
pub(crate) fn read(bytes: &[u8]) -> Result<Read<'_>, Invalid> {
    let Some(header) = bytes.get(..HEADER) else {
        return Err(if MAGIC.starts_with(&bytes[..bytes.len().min(2)]) {
            Invalid::Incomplete
        } else {
            Invalid::Damaged("no record magic")
        });
    };
    if &header[..2] != MAGIC {
        return Err(Invalid::Damaged("no record magic"));
    }
    let kind = match header[2] {
        1 => Kind::Message,
        2 => Kind::Update,
        3 => Kind::Remove,
        _ => return Err(Invalid::Damaged("unknown record kind")),
    };
    let len = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) as usize;
    let Some(payload) = bytes.get(HEADER..HEADER + len) else {
        return Err(Invalid::Incomplete);
    };
    let stored = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    if checksum(&header[2..8], payload) != stored {
        return Err(Invalid::Damaged("checksum mismatch"));
    }
    Ok(Read { kind, payload, len: HEADER + len })
}

/// Where the next record could start after damage at the start of `bytes`.
pub(crate) fn resync(bytes: &[u8]) -> Option<usize> {
    (1..bytes.len().saturating_sub(1)).find(|&at| &bytes[at..at + 2] == MAGIC && read(&bytes[at..]).is_ok())
}

/// A message record's parts: the envelope and where its body starts within
/// the payload.
pub(crate) fn split_message(payload: &[u8]) -> Option<(&[u8], usize)> {
    let envelope_len = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    let envelope = payload.get(4..4 + envelope_len)?;
    Some((envelope, 4 + envelope_len))
}

/// A removal record's ID.
pub(crate) fn removed_id(payload: &[u8]) -> Option<QueueId> {
    let bytes: [u8; 10] = payload.try_into().ok()?;
    let mut wide = [0u8; 16];
    wide[..10].copy_from_slice(&bytes);
    QueueId::from_bits(u128::from_le_bytes(wide))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IdGenerator, Recipient, Timestamp};

    #[test]
    fn records_read_back_and_any_damage_is_caught() {
        let id = IdGenerator::with_salt(3).next_id(1_000);
        let envelope = Envelope::new("a@example.com", vec![Recipient::new("b@example.org")], Timestamp(1));
        let mut bytes = Vec::new();
        let body_at = message(id, &envelope, b"Subject: x\r\n\r\nhi\r\n", &mut bytes);
        let read_back = read(&bytes).unwrap();
        assert_eq!(read_back.kind, Kind::Message);
        assert_eq!(read_back.len, bytes.len());
        let (encoded, body_in_payload) = split_message(read_back.payload).unwrap();
        assert_eq!(Envelope::decode(encoded).unwrap(), (id, envelope));
        assert_eq!(body_in_payload + HEADER, body_at);
        for len in 0..bytes.len() {
            assert_eq!(read(&bytes[..len]).unwrap_err(), Invalid::Incomplete, "torn at {len}");
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(read(&damaged).is_err(), "a change at byte {at} went unnoticed");
        }
    }

    #[test]
    fn removal_records_carry_the_id() {
        let id = IdGenerator::with_salt(3).next_id(1_000);
        let mut bytes = Vec::new();
        remove(id, &mut bytes);
        let read_back = read(&bytes).unwrap();
        assert_eq!(read_back.kind, Kind::Remove);
        assert_eq!(removed_id(read_back.payload), Some(id));
    }
}
