//! The compiled map file: D. J. Bernstein's constant database (CDB) layout
//! with one extra record that carries smarthost's header.
//!
//! A CDB file is 256 table pointers (2,048 bytes), then the records
//! (`klen`, `dlen`, key, data; lengths little-endian `u32`), then 256 open
//! addressing hash tables of `(hash, record position)` slots. Postfix `cdb:`
//! maps and the tinycdb tools read it as it is.
//!
//! smarthost's header is the first record, at byte 2048: its key starts with
//! a NUL byte, so no address or domain can ever look it up, and it is left out
//! of the hash tables, so a lookup never finds it. Its value holds a magic
//! number, the format version, how the map was built (folded keys, NUL
//! bytes) and an xxh3 checksum of everything else in the file.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use xxhash_rust::xxh3::Xxh3;

/// The table pointers at the start of every CDB file.
pub(crate) const POINTERS: usize = 2048;
/// The header record's key.
pub(crate) const HEADER_KEY: &[u8; 16] = b"\0smarthost-map\0\0";
/// The first bytes of the header record's value. The CR LF, as in PNG, shows
/// up a file that went through a text-mode transfer.
pub(crate) const MAGIC: &[u8; 8] = b"SMHMAP\r\n";
/// The format version this code writes and reads.
pub(crate) const VERSION: u32 = 1;
const HEADER_VALUE_LEN: usize = 32;
/// The header bytes before the checksum field, which the checksum covers.
const CHECKED_HEADER_LEN: usize = 24;
const HEADER_RECORD_LEN: usize = 8 + HEADER_KEY.len() + HEADER_VALUE_LEN;
/// Where the first ordinary record of a smarthost map starts.
pub(crate) const DATA_START: usize = POINTERS + HEADER_RECORD_LEN;

/// How a compiled map was built, as stored in its header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    pub(crate) const FOLDED: u32 = 1;
    pub(crate) const NUL: u32 = 2;
    pub(crate) const DUPLICATES: u32 = 4;

    pub(crate) fn new(folded: bool, nul: bool, duplicates: bool) -> Self {
        let bit = |on: bool, bit: u32| if on { bit } else { 0 };
        Self(bit(folded, Self::FOLDED) | bit(nul, Self::NUL) | bit(duplicates, Self::DUPLICATES))
    }

    pub(crate) fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// The decoded header record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) flags: Flags,
    pub(crate) entries: u64,
    pub(crate) checksum: u64,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_VALUE_LEN] {
        let mut value = [0; HEADER_VALUE_LEN];
        value[..8].copy_from_slice(MAGIC);
        value[8..12].copy_from_slice(&VERSION.to_le_bytes());
        value[12..16].copy_from_slice(&self.flags.0.to_le_bytes());
        value[16..24].copy_from_slice(&self.entries.to_le_bytes());
        value[24..32].copy_from_slice(&self.checksum.to_le_bytes());
        value
    }
}

/// The CDB hash function.
pub(crate) fn hash(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &byte| (h << 5).wrapping_add(h) ^ u32::from(byte))
}

/// Writes a compiled map into a new, empty file.
pub(crate) struct Writer {
    out: BufWriter<File>,
    pos: u32,
    slots: Vec<Slot>,
    digest: Xxh3,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u32,
    pos: u32,
}

/// Why writing failed.
#[derive(Debug)]
pub(crate) enum WriteError {
    Io(io::Error),
    /// The file would pass the 4 GiB that CDB's 32-bit offsets can address.
    TooLarge,
}

impl From<io::Error> for WriteError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

impl Writer {
    pub(crate) fn new(file: File, expected_entries: usize) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, file);
        // Placeholders: the pointers and the header are known only at the end.
        out.write_all(&[0; DATA_START])?;
        Ok(Self {
            out,
            pos: DATA_START as u32,
            slots: Vec::with_capacity(expected_entries),
            digest: Xxh3::new(),
        })
    }

    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) -> Result<(), WriteError> {
        let (Ok(klen), Ok(vlen)) = (u32::try_from(key.len()), u32::try_from(value.len())) else {
            return Err(WriteError::TooLarge);
        };
        let next =
            self.pos.checked_add(8).and_then(|p| p.checked_add(klen)).and_then(|p| p.checked_add(vlen));
        let Some(next) = next else {
            return Err(WriteError::TooLarge);
        };
        let mut lengths = [0; 8];
        lengths[..4].copy_from_slice(&klen.to_le_bytes());
        lengths[4..].copy_from_slice(&vlen.to_le_bytes());
        self.write_hashed(&lengths)?;
        self.write_hashed(key)?;
        self.write_hashed(value)?;
        self.slots.push(Slot { hash: hash(key), pos: self.pos });
        self.pos = next;
        Ok(())
    }

    /// Writes the hash tables, the pointers and the header; the caller
    /// syncs. Returns the file and the checksum in its header.
    pub(crate) fn finish(mut self, flags: Flags) -> Result<(File, u64), WriteError> {
        let entries = self.slots.len() as u64;
        let pointers = self.write_tables()?;
        self.digest.update(&pointers);
        let mut header = Header { flags, entries, checksum: 0 };
        self.digest.update(&header.encode()[..CHECKED_HEADER_LEN]);
        header.checksum = self.digest.digest();
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&pointers)?;
        let mut record = [0; HEADER_RECORD_LEN];
        record[..4].copy_from_slice(&(HEADER_KEY.len() as u32).to_le_bytes());
        record[4..8].copy_from_slice(&(HEADER_VALUE_LEN as u32).to_le_bytes());
        record[8..8 + HEADER_KEY.len()].copy_from_slice(HEADER_KEY);
        record[8 + HEADER_KEY.len()..].copy_from_slice(&header.encode());
        file.write_all(&record)?;
        Ok((file, header.checksum))
    }

    fn write_tables(&mut self) -> Result<[u8; POINTERS], WriteError> {
        // Counting sort of the slots by table, keeping insertion order within
        // a table so that the first of several equal keys is found first.
        let mut starts = [0usize; 257];
        for slot in &self.slots {
            starts[(slot.hash & 0xff) as usize + 1] += 1;
        }
        for i in 0..256 {
            starts[i + 1] += starts[i];
        }
        let mut sorted = vec![Slot::default(); self.slots.len()];
        let mut next = starts;
        for slot in &self.slots {
            let bucket = (slot.hash & 0xff) as usize;
            sorted[next[bucket]] = *slot;
            next[bucket] += 1;
        }

        let mut pointers = [0; POINTERS];
        let mut table = Vec::new();
        let mut bytes = Vec::new();
        for bucket in 0..256 {
            let members = &sorted[starts[bucket]..starts[bucket + 1]];
            let len = members.len() * 2;
            table.clear();
            table.resize(len, Slot::default());
            for slot in members {
                let mut index = (slot.hash >> 8) as usize % len;
                while table[index].pos != 0 {
                    index = (index + 1) % len;
                }
                table[index] = *slot;
            }
            let table_pos = self.pos;
            let len32 = u32::try_from(len).map_err(|_| WriteError::TooLarge)?;
            self.pos = len32
                .checked_mul(8)
                .and_then(|size| self.pos.checked_add(size))
                .ok_or(WriteError::TooLarge)?;
            pointers[bucket * 8..bucket * 8 + 4].copy_from_slice(&table_pos.to_le_bytes());
            pointers[bucket * 8 + 4..bucket * 8 + 8].copy_from_slice(&len32.to_le_bytes());
            bytes.clear();
            for slot in &table {
                bytes.extend_from_slice(&slot.hash.to_le_bytes());
                bytes.extend_from_slice(&slot.pos.to_le_bytes());
            }
            self.write_hashed(&bytes)?;
        }
        Ok(pointers)
    }

    fn write_hashed(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.digest.update(bytes);
        self.out.write_all(bytes)
    }
}

/// What a reader learns from a file's fixed parts.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    tables: Box<[(u32, u32); 256]>,
    /// Where the records start: after the header, if there is one.
    pub(crate) records_start: usize,
    /// Where the records end and the hash tables begin.
    pub(crate) records_end: usize,
    pub(crate) header: Option<Header>,
}

/// One record, read in file order.
pub(crate) struct Record<'d> {
    pub(crate) key: &'d [u8],
    pub(crate) value: &'d [u8],
    /// Where the next record starts.
    pub(crate) next: usize,
}

/// Why a file cannot be read as a map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FormatProblem {
    TooShort(usize),
    BerkeleyDb,
    NoHeader,
    NewerVersion(u32),
    BadHeader,
    BadPointer(usize),
}

/// A read that fell outside the file: the file is corrupt (or was truncated
/// behind our back). Carries the offset for the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfBounds(pub(crate) usize);

impl Layout {
    /// Reads the pointers and the header; `foreign_ok` accepts a plain CDB
    /// file without smarthost's header.
    pub(crate) fn read(data: &[u8], foreign_ok: bool) -> Result<Self, FormatProblem> {
        if is_berkeley_db(data) {
            return Err(FormatProblem::BerkeleyDb);
        }
        if data.len() < POINTERS {
            return Err(FormatProblem::TooShort(data.len()));
        }
        let header = read_header(data)?;
        if header.is_none() && !foreign_ok {
            return Err(FormatProblem::NoHeader);
        }
        let mut tables = Box::new([(0u32, 0u32); 256]);
        let mut records_end = data.len();
        for (index, table) in tables.iter_mut().enumerate() {
            let pos = u32_at(data, index * 8).map_err(|_| FormatProblem::TooShort(data.len()))?;
            let len = u32_at(data, index * 8 + 4).map_err(|_| FormatProblem::TooShort(data.len()))?;
            let end = (pos as usize).checked_add(len as usize * 8);
            if (pos as usize) < POINTERS || end.is_none_or(|end| end > data.len()) {
                return Err(FormatProblem::BadPointer(index));
            }
            records_end = records_end.min(pos as usize);
            *table = (pos, len);
        }
        let records_start = if header.is_some() { DATA_START } else { POINTERS };
        if records_end < records_start {
            return Err(FormatProblem::BadPointer(0));
        }
        Ok(Self { tables, records_start, records_end, header })
    }

    /// Finds the first record whose key is `key`.
    pub(crate) fn find<'d>(&self, data: &'d [u8], key: &[u8]) -> Result<Option<&'d [u8]>, OutOfBounds> {
        let hash = hash(key);
        let (table_pos, len) = self.tables[(hash & 0xff) as usize];
        if len == 0 {
            return Ok(None);
        }
        let (table_pos, len) = (table_pos as usize, len as usize);
        let mut index = (hash >> 8) as usize % len;
        for _ in 0..len {
            let slot = table_pos + index * 8;
            let record = u32_at(data, slot + 4)? as usize;
            if record == 0 {
                return Ok(None);
            }
            if u32_at(data, slot)? == hash {
                let (found, value) = self.record_at(data, record)?;
                if found == key {
                    return Ok(Some(value));
                }
            }
            index = if index + 1 == len { 0 } else { index + 1 };
        }
        Ok(None)
    }

    /// The record at `pos`: its key and its value.
    fn record_at<'d>(&self, data: &'d [u8], pos: usize) -> Result<(&'d [u8], &'d [u8]), OutOfBounds> {
        let klen = u32_at(data, pos)? as usize;
        let vlen = u32_at(data, pos + 4)? as usize;
        let key_start = pos + 8;
        let value_start = key_start.checked_add(klen).ok_or(OutOfBounds(pos))?;
        let end = value_start.checked_add(vlen).ok_or(OutOfBounds(pos))?;
        let key = data.get(key_start..value_start).ok_or(OutOfBounds(pos))?;
        let value = data.get(value_start..end).ok_or(OutOfBounds(pos))?;
        Ok((key, value))
    }

    /// The record at `pos` in file order, or `None` past the last one.
    pub(crate) fn record_after<'d>(
        &self,
        data: &'d [u8],
        pos: usize,
    ) -> Result<Option<Record<'d>>, OutOfBounds> {
        if pos >= self.records_end {
            return Ok(None);
        }
        let (key, value) = self.record_at(&data[..self.records_end], pos)?;
        Ok(Some(Record { key, value, next: pos + 8 + key.len() + value.len() }))
    }
}

/// The checksum a smarthost map's header must carry: it covers the records
/// and tables, the pointers, and the header up to the checksum itself, so
/// that `verify` notices a change to any byte of the file.
pub(crate) fn checksum(data: &[u8]) -> u64 {
    let mut digest = Xxh3::new();
    digest.update(data.get(DATA_START..).unwrap_or_default());
    digest.update(data.get(..POINTERS).unwrap_or_default());
    let value_at = DATA_START - HEADER_VALUE_LEN;
    digest.update(data.get(value_at..value_at + CHECKED_HEADER_LEN).unwrap_or_default());
    digest.digest()
}

fn read_header(data: &[u8]) -> Result<Option<Header>, FormatProblem> {
    let key_at = POINTERS + 8;
    if data.get(key_at..key_at + HEADER_KEY.len()) != Some(HEADER_KEY.as_slice()) {
        return Ok(None);
    }
    let lengths = (u32_at(data, POINTERS), u32_at(data, POINTERS + 4));
    let value = data.get(key_at + HEADER_KEY.len()..DATA_START);
    let (Ok(16), Ok(32), Some(value)) = (lengths.0, lengths.1, value) else {
        return Err(FormatProblem::BadHeader);
    };
    if &value[..8] != MAGIC {
        return Err(FormatProblem::BadHeader);
    }
    let word = |at: usize| u32::from_le_bytes(value[at..at + 4].try_into().expect("4 bytes"));
    let quad = |at: usize| u64::from_le_bytes(value[at..at + 8].try_into().expect("8 bytes"));
    match word(8) {
        VERSION => {}
        newer if newer > VERSION => return Err(FormatProblem::NewerVersion(newer)),
        _ => return Err(FormatProblem::BadHeader),
    }
    Ok(Some(Header { flags: Flags(word(12)), entries: quad(16), checksum: quad(24) }))
}

/// Berkeley DB hash and btree files, which sendmail's own makemap writes,
/// carry their magic number at byte 0 (DB 1.85) or 12 (DB 2 and later).
fn is_berkeley_db(data: &[u8]) -> bool {
    const MAGICS: [u32; 2] = [0x0006_1561, 0x0005_3162];
    [0, 12].iter().any(|&at| {
        data.get(at..at + 4).is_some_and(|bytes| {
            let bytes: [u8; 4] = bytes.try_into().expect("4 bytes");
            MAGICS.contains(&u32::from_le_bytes(bytes)) || MAGICS.contains(&u32::from_be_bytes(bytes))
        })
    })
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, OutOfBounds> {
    let bytes = data.get(at..at.checked_add(4).ok_or(OutOfBounds(at))?).ok_or(OutOfBounds(at))?;
    Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_the_reference_cdb_function() {
        // cdb_hash: h = 5381; h = (h * 33) ^ c, in 32 bits. The tinycdb
        // interoperability test checks it against a real implementation.
        assert_eq!(hash(b""), 5381);
        assert_eq!(hash(b"a"), 177_604);
        assert_eq!(hash(&[0xff; 8]), 0x9a08_8485);
    }

    #[test]
    fn berkeley_db_magic_is_recognised_in_either_byte_order() {
        let mut data = vec![0; 4096];
        data[12..16].copy_from_slice(&0x0006_1561u32.to_be_bytes());
        assert_eq!(Layout::read(&data, true).unwrap_err(), FormatProblem::BerkeleyDb);
        data[12..16].copy_from_slice(&0x0005_3162u32.to_le_bytes());
        assert_eq!(Layout::read(&data, true).unwrap_err(), FormatProblem::BerkeleyDb);
    }
}
