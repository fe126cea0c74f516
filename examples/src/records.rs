//! Printing map records as `key<SEP>value` lines, the way `makemap -u` does.

use std::io::{self, Write};

/// Writes one record, raw bytes, ending in a newline.
pub(crate) fn write_pair(out: &mut impl Write, key: &[u8], separator: u8, value: &[u8]) -> io::Result<()> {
    out.write_all(key)?;
    out.write_all(&[separator])?;
    out.write_all(value)?;
    out.write_all(b"\n")
}

/// Whether a failed write only means that the reader went away
/// (`makemap -u hash access | head`): that ends the output quietly, as the
/// SIGPIPE that kills sendmail's makemap would, rather than as an error.
pub(crate) fn reader_went_away(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}
