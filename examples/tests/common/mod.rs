//! Running the real binaries on files in a temporary directory.

#![allow(dead_code)] // each test file uses its own subset

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) const MAKEMAP: &str = env!("CARGO_BIN_EXE_makemap");
pub(crate) const SMARTHOST: &str = env!("CARGO_BIN_EXE_smarthost");

/// What a run of a binary gave.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

impl Outcome {
    /// The line numbers that `source:N: error:` diagnostics name, in order.
    pub(crate) fn error_lines(&self, source: &str) -> Vec<usize> {
        let marker = format!("{source}:");
        self.stderr
            .lines()
            .filter_map(|line| {
                let rest = &line[line.find(&marker)? + marker.len()..];
                let (number, rest) = rest.split_once(':')?;
                rest.starts_with(" error:").then(|| number.parse().ok()).flatten()
            })
            .collect()
    }

    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Where standard input comes from.
pub(crate) enum Stdin<'a> {
    /// The file, opened directly, so makemap can see its name.
    File(&'a Path),
    /// A pipe carrying these bytes.
    Pipe(&'a [u8]),
    /// Nothing (`/dev/null`).
    Null,
}

/// A scratch directory that the binaries run in.
pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file into the directory and returns its path.
    pub(crate) fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, content).expect("write a scratch file");
        path
    }

    /// Copies a file from `tests/fixtures` into the directory.
    pub(crate) fn fixture(&self, name: &str) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let path = self.path(name);
        fs::copy(&source, &path).expect("copy a fixture");
        path
    }

    pub(crate) fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        self.path(name).symlink_metadata().is_ok()
    }

    /// Runs `program` with `args` in the directory.
    pub(crate) fn run<S: AsRef<OsStr>>(&self, program: &str, args: &[S], stdin: Stdin<'_>) -> Outcome {
        let mut command = Command::new(program);
        command.args(args).current_dir(self.dir.path()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = match stdin {
            Stdin::File(path) => command.stdin(File::open(path).expect("open the input")).spawn(),
            Stdin::Null => command.stdin(Stdio::null()).spawn(),
            Stdin::Pipe(bytes) => {
                let mut child = command.stdin(Stdio::piped()).spawn().expect("spawn");
                let mut pipe = child.stdin.take().expect("a piped stdin");
                // makemap may exit without reading (a usage error): ignore EPIPE.
                let _ = pipe.write_all(bytes);
                drop(pipe);
                Ok(child)
            }
        }
        .expect("spawn the binary");
        let output = child.wait_with_output().expect("wait for the binary");
        Outcome {
            code: output.status.code().expect("the binary exited, not killed by a signal"),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `makemap ARGS < input`.
    pub(crate) fn makemap(&self, args: &[&str], stdin: Stdin<'_>) -> Outcome {
        self.run(MAKEMAP, args, stdin)
    }

    /// The pairs `makemap -u [FLAGS] TYPE NAME` prints, split at `separator`.
    pub(crate) fn dump(
        &self,
        flags: &[&str],
        map_type: &str,
        name: &str,
        separator: u8,
    ) -> Vec<(String, String)> {
        let args: Vec<&str> = ["-u"].iter().chain(flags).chain(&[map_type, name]).copied().collect();
        let outcome = self.makemap(&args, Stdin::Null);
        assert_eq!(outcome.code, 0, "makemap -u failed: {}", outcome.stderr);
        split_pairs(&outcome.stdout, separator)
    }
}

/// `key<SEP>value` lines as pairs (split at the first separator).
pub(crate) fn split_pairs(output: &[u8], separator: u8) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(output);
    let separator = char::from(separator);
    text.split_terminator('\n')
        .map(|line| match line.split_once(separator) {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => panic!("no separator in dump line {line:?}"),
        })
        .collect()
}

/// Pairs from string literals, for comparisons.
pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Whether the tests run as root, judged by who owns a file they create.
pub(crate) fn running_as_root(scratch: &Scratch) -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = scratch.write(".root-probe", b"");
    let uid = fs::metadata(&probe).expect("stat the probe").uid();
    fs::remove_file(probe).expect("remove the probe");
    uid == 0
}
