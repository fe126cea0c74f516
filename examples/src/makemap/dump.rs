//! `makemap -u`: prints a compiled map as `key<TAB>value` lines.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use smarthost_maps::CompiledMap;

use crate::exit::{Failure, Sysexit};
use crate::records::{reader_went_away, write_pair};

/// Dumps the map `file` to standard output in file order, each key and value
/// separated by `delimiter` (`-t`) or a TAB.
pub(crate) fn run(file: &Path, delimiter: Option<u8>) -> Result<Sysexit, Failure> {
    // sendmail exits EX_CANTCREAT when the map cannot be opened, -u or not.
    let map = CompiledMap::open(file).map_err(|error| Failure::new(Sysexit::CantCreat, error))?;
    // Checking the whole file first means a damaged map prints nothing,
    // rather than half its records.
    map.verify().map_err(|error| Failure::new(Sysexit::IoErr, error))?;
    let separator = delimiter.unwrap_or(b'\t');
    let mut out = BufWriter::new(io::stdout().lock());
    let written = map.iter().try_for_each(|record| {
        // verify() has read every record, so none of them fails here.
        let (key, value) = record.map_err(io::Error::other)?;
        write_pair(&mut out, key, separator, value)
    });
    match written.and_then(|()| out.flush()) {
        Err(error) if !reader_went_away(&error) => {
            Err(Failure::new(Sysexit::IoErr, format!("cannot write to standard output: {error}")))
        }
        _ => Ok(Sysexit::Ok),
    }
}
