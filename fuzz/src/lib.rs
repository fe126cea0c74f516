//! What the fuzz targets share: reading options out of the input, steering
//! raw bytes towards map-like text, and a scratch directory.

use std::path::Path;

use smarthost_maps::{Duplicates, SourceOptions};

/// makemap options from one input byte, so the fuzzer explores them all.
#[expect(
    clippy::field_reassign_with_default,
    reason = "SourceOptions is non_exhaustive: no struct literal outside its crate"
)]
pub fn options(flags: u8, delimiter: u8) -> SourceOptions {
    let mut options = SourceOptions::default();
    options.fold_case = flags & 1 != 0;
    options.delimiter = (flags & 2 != 0).then_some(delimiter);
    options.allow_empty = flags & 4 != 0;
    options.duplicates = match (flags >> 3) & 3 {
        1 => Duplicates::Replace,
        2 => Duplicates::KeepAll,
        _ => Duplicates::KeepFirst,
    };
    options.strict = flags & 0x20 != 0;
    options.include_nul = flags & 0x40 != 0;
    options
}

/// Bytes that matter to the parser, weighted towards separators and case
/// pairs: random bytes seldom make two lines with the same key.
const ALPHABET: &[u8] = b"aAbBcC09.-:@[]#%  \t\t\r\n\n\n\x0b\x0c\0";

/// Maps each byte onto [`ALPHABET`] when `steer` is set (a flag bit decides,
/// so raw bytes are still tried).
pub fn steer(bytes: &[u8], steer: bool) -> std::borrow::Cow<'_, [u8]> {
    if steer {
        bytes.iter().map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()]).collect::<Vec<u8>>().into()
    } else {
        bytes.into()
    }
}

/// A directory for the files one run of a target writes, removed when
/// dropped: on tmpfs when there is one, where syncing a map costs nothing.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    tempfile::Builder::new().prefix("smarthost-fuzz-").tempdir_in(base).expect("a scratch directory")
}
