//! Building a map from standard input: parse, report, write atomically.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use smarthost_maps::{BuildReport, CompiledMap, DEFAULT_MODE, Entry, Error, MapBuilder, Source};

use super::args::Invocation;
use super::owner;
use crate::exit::{Failure, Sysexit};
use crate::records::reader_went_away;

/// Sources longer than this many lines get a progress bar (on a terminal).
const PROGRESS_LINES: usize = 100_000;

/// Builds the map `file` from standard input and hands it to `owner`.
pub(crate) fn run(invocation: &Invocation, file: &Path, owner: Option<u32>) -> Result<Sysexit, Failure> {
    let input = Input::from_stdin()?;
    let existing_map = if invocation.append { open_existing(file)? } else { None };
    let existing = match &existing_map {
        Some(map) => entries_of(map)?,
        None => Vec::new(),
    };
    let source = Source::parse_onto(existing, &input.text, &invocation.options);
    let source_name = input.name(&invocation.map_name);
    for diagnostic in source.diagnostics() {
        eprintln!("makemap: {}", diagnostic.display_in(&source_name));
    }
    if invocation.verbose {
        print_stored(source.entries())?;
    }
    let report = write(&builder(invocation, file, &input), source.entries(), &input.text)?;
    if let Some(uid) = owner {
        owner::hand_over(&report.path, uid);
    }
    Ok(if source.has_errors() { Sysexit::DataErr } else { Sysexit::Ok })
}

/// The source text, and the file behind standard input if it is one.
struct Input {
    text: Vec<u8>,
    file: Option<SourceFile>,
}

/// The regular file that standard input reads.
struct SourceFile {
    /// Its name, when the system can tell (Linux's `/proc/self/fd/0`).
    path: Option<PathBuf>,
    /// Its permission bits.
    mode: u32,
}

impl Input {
    fn from_stdin() -> Result<Self, Failure> {
        let file = SourceFile::of_stdin();
        let mut text = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut text)
            .map_err(|error| Failure::new(Sysexit::IoErr, format!("cannot read standard input: {error}")))?;
        Ok(Self { text, file })
    }

    /// The name diagnostics give the source: the file behind standard input,
    /// else (a pipe) the map name, as sendmail's messages do.
    fn name(&self, map_name: &Path) -> String {
        let path = self.file.as_ref().and_then(|file| file.path.as_deref());
        path.unwrap_or(map_name).display().to_string()
    }
}

impl SourceFile {
    fn of_stdin() -> Option<Self> {
        let stdin = io::stdin();
        let metadata = File::from(stdin.as_fd().try_clone_to_owned().ok()?).metadata().ok()?;
        metadata.is_file().then(|| Self {
            path: fs::read_link("/proc/self/fd/0").ok(),
            mode: metadata.permissions().mode(),
        })
    }
}

/// `-o`: the map to add to; `None` when there is none yet.
fn open_existing(file: &Path) -> Result<Option<CompiledMap>, Failure> {
    let cannot_add = |error: Error| {
        Failure::new(
            Sysexit::CantCreat,
            format!("{error}\n(-o adds to the existing map, so it must be readable; rebuild without -o)"),
        )
    };
    let map = match CompiledMap::open(file) {
        Ok(map) => map,
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(cannot_add(error)),
    };
    // The new map replaces this one, so a damaged record must stop the build
    // rather than be dropped silently.
    map.verify().map_err(cannot_add)?;
    Ok(Some(map))
}

/// The existing map's records as entries that precede the source's lines
/// (line 0: "already in the map").
fn entries_of(map: &CompiledMap) -> Result<Vec<Entry<'_>>, Failure> {
    map.iter()
        .map(|record| {
            let (key, value) = record.map_err(|error| Failure::new(Sysexit::CantCreat, error))?;
            Ok(Entry { line: 0, key: Cow::Borrowed(key), value: Cow::Borrowed(value) })
        })
        .collect()
}

/// `-v`: each pair taken from the source, as ``key=`K', val=`V'``.
fn print_stored(entries: &[Entry<'_>]) -> Result<(), Failure> {
    let mut out = BufWriter::new(io::stdout().lock());
    let written = entries.iter().filter(|entry| entry.line != 0).try_for_each(|entry| {
        out.write_all(b"key=`")?;
        out.write_all(&entry.key)?;
        out.write_all(b"', val=`")?;
        out.write_all(&entry.value)?;
        out.write_all(b"'\n")
    });
    match written.and_then(|()| out.flush()) {
        Err(error) if !reader_went_away(&error) => {
            Err(Failure::new(Sysexit::IoErr, format!("cannot write to standard output: {error}")))
        }
        _ => Ok(()),
    }
}

fn builder(invocation: &Invocation, file: &Path, input: &Input) -> MapBuilder {
    let mut builder = MapBuilder::new(file, &invocation.options);
    if invocation.skip_path_checks {
        builder = builder.skip_path_checks();
    }
    // A rebuilt map keeps its bits (the builder sees to that); a new one
    // should not be more readable than its source: client-info is 0600.
    let is_new = matches!(fs::symlink_metadata(file), Err(error) if error.kind() == io::ErrorKind::NotFound);
    if let Some(source) = &input.file
        && is_new
    {
        builder = builder.mode(new_map_mode(source.mode));
    }
    builder
}

/// The bits for a new map built from a source with bits `source`: the
/// default 0640, less the group and other bits that the source withholds.
/// The owner keeps read and write, to rebuild it.
fn new_map_mode(source: u32) -> u32 {
    DEFAULT_MODE & (source | 0o600)
}

/// Writes the map, with a progress bar for long sources on a terminal.
fn write(builder: &MapBuilder, entries: &[Entry<'_>], text: &[u8]) -> Result<BuildReport, Failure> {
    let bar = progress_bar(text, entries.len());
    let written = builder.write_with_progress(entries, |done| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    written.map_err(|error| Failure::new(build_status(&error), error))
}

fn progress_bar(text: &[u8], entries: usize) -> Option<ProgressBar> {
    // Counting lines costs a pass over the text; only a terminal needs it.
    if !io::stderr().is_terminal() || count_lines(text) <= PROGRESS_LINES {
        return None;
    }
    let bar = ProgressBar::new(entries as u64);
    let style = ProgressStyle::with_template("makemap: {bar:40} {pos}/{len} entries ({eta} left)")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn count_lines(text: &[u8]) -> usize {
    text.iter().filter(|&&byte| byte == b'\n').count()
}

/// The exit status for a failed build: sendmail's `EX_CANTCREAT` when the
/// map could not be started (unsafe path, no such directory, no permission),
/// `EX_IOERR` when writing it failed part-way.
fn build_status(error: &Error) -> Sysexit {
    match error {
        Error::UnsafePath { .. } => Sysexit::CantCreat,
        Error::Io { action, .. } if action.is_before_writing() => Sysexit::CantCreat,
        _ => Sysexit::IoErr,
    }
}

#[cfg(test)]
mod tests {
    use smarthost_maps::IoAction;

    use super::*;

    #[test]
    fn a_new_map_is_never_more_readable_than_its_source() {
        assert_eq!(new_map_mode(0o600), 0o600);
        assert_eq!(new_map_mode(0o644), 0o640);
        assert_eq!(new_map_mode(0o604), 0o600);
        assert_eq!(new_map_mode(0o400), 0o600);
        assert_eq!(new_map_mode(0o666), DEFAULT_MODE);
    }

    #[test]
    fn failures_before_writing_cannot_create_and_later_ones_are_io_errors() {
        let io = |action| Error::Io { action, path: "m.db".into(), source: io::Error::other("x") };
        assert_eq!(build_status(&io(IoAction::Create)), Sysexit::CantCreat);
        assert_eq!(build_status(&io(IoAction::Stat)), Sysexit::CantCreat);
        assert_eq!(build_status(&io(IoAction::Write)), Sysexit::IoErr);
        assert_eq!(build_status(&io(IoAction::Rename)), Sysexit::IoErr);
    }
}
