//! makemap's command line, parsed the way sendmail's `getopt` loop parses it.
//!
//! The option string is sendmail's `C:D:Nc:defi:Llorst:uvx`: flags cluster
//! (`-re`), an option's argument may be attached (`-t:`) or the next word
//! (`-t :`), and options end at `--` or at the first operand, as POSIX
//! `getopt` does (sendmail's Makefiles never put flags after the operands).
//! smarthost adds one long option, `--strict`.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use smarthost_maps::{Duplicates, SourceOptions};

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// `-l`, `-x` or `-L`: list the map types and exit.
    List(Listing),
    /// Build or dump a map.
    Run(Invocation),
}

/// Which list of map types to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listing {
    /// `-l` and `-x`: the types that can be written.
    Types,
    /// `-L`: those plus the `cf` and `CF` pseudo-types.
    WithCf,
}

/// A makemap run, flags applied.
#[derive(Debug)]
pub(crate) struct Invocation {
    /// `-C`: the sendmail.cf to read; `None` means the system one.
    pub(crate) cf_file: Option<PathBuf>,
    /// How the source is parsed (`-N -D -d -e -f -r -t --strict`).
    pub(crate) options: SourceOptions,
    /// `-i`: the type to use when TYPE is not available.
    pub(crate) fallback: Option<String>,
    /// `-o`: add to the existing map.
    pub(crate) append: bool,
    /// `-s`: skip the safety checks on the output path.
    pub(crate) skip_path_checks: bool,
    /// `-u`: dump the map instead of building it.
    pub(crate) dump: bool,
    /// `-v`: print each stored pair.
    pub(crate) verbose: bool,
    /// The TYPE operand.
    pub(crate) type_name: String,
    /// The NAME operand.
    pub(crate) map_name: PathBuf,
    /// Complaints that do not stop the run (sendmail's "Invalid separator").
    pub(crate) warnings: Vec<&'static str>,
}

/// A command line that makemap refuses; the caller prints the usage text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UsageError {
    /// A flag that is not in the option string.
    InvalidOption(u8),
    /// An option that takes an argument came last.
    MissingArgument(u8),
    /// A long option other than `--strict`.
    UnknownLong(String),
    /// Not exactly two operands (TYPE and NAME).
    Operands,
}

impl UsageError {
    /// The line printed before the usage text, worded as glibc's `getopt`
    /// words it; `None` where sendmail prints only the usage text.
    pub(crate) fn message(&self) -> Option<String> {
        match self {
            Self::InvalidOption(flag) => Some(format!("invalid option -- '{}'", Flag(*flag))),
            Self::MissingArgument(flag) => Some(format!("option requires an argument -- '{}'", Flag(*flag))),
            Self::UnknownLong(option) => Some(format!("unrecognized option '{option}'")),
            Self::Operands => None,
        }
    }
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: &[OsString]) -> Result<Parsed, UsageError> {
    let mut flags = Flags::default();
    let mut index = 0;
    while let Some(arg) = args.get(index).map(|arg| arg.as_bytes()) {
        index += 1;
        match arg {
            b"--" => break,
            b"--strict" => flags.strict = true,
            [b'-', b'-', ..] => {
                return Err(UsageError::UnknownLong(String::from_utf8_lossy(arg).into_owned()));
            }
            [b'-', cluster @ ..] if !cluster.is_empty() => {
                if let Some(listing) = flags.apply_cluster(cluster, args, &mut index)? {
                    // sendmail lists and exits the moment getopt returns -l.
                    return Ok(Parsed::List(listing));
                }
            }
            _ => {
                index -= 1;
                break;
            }
        }
    }
    match &args[index..] {
        [type_name, map_name] => Ok(Parsed::Run(flags.into_invocation(type_name, map_name))),
        _ => Err(UsageError::Operands),
    }
}

/// The flags seen so far.
#[derive(Default)]
struct Flags {
    cf_file: Option<PathBuf>,
    include_nul: bool,
    comment: Option<u8>,
    keep_all: bool,
    allow_empty: bool,
    no_fold: bool,
    fallback: Option<String>,
    append: bool,
    replace: bool,
    skip_path_checks: bool,
    delimiter: Option<u8>,
    dump: bool,
    verbose: bool,
    strict: bool,
    warnings: Vec<&'static str>,
}

impl Flags {
    /// Applies one word of clustered flags (without its `-`). An option that
    /// takes an argument uses the rest of the word, or else the next word.
    fn apply_cluster(
        &mut self,
        cluster: &[u8],
        args: &[OsString],
        index: &mut usize,
    ) -> Result<Option<Listing>, UsageError> {
        for (at, &flag) in cluster.iter().enumerate() {
            if takes_argument(flag) {
                let attached = &cluster[at + 1..];
                let value = if attached.is_empty() {
                    let next = args.get(*index).ok_or(UsageError::MissingArgument(flag))?;
                    *index += 1;
                    next.as_bytes()
                } else {
                    attached
                };
                self.apply_with_argument(flag, value);
                return Ok(None);
            }
            if let Some(listing) = self.apply_switch(flag)? {
                return Ok(Some(listing));
            }
        }
        Ok(None)
    }

    fn apply_with_argument(&mut self, flag: u8, value: &[u8]) {
        match flag {
            b'C' => self.cf_file = Some(PathBuf::from(OsString::from_vec(value.to_vec()))),
            // sendmail takes the first character; an empty argument gives
            // NUL, which no line can start with, so nothing is a comment.
            b'D' => self.comment = Some(value.first().copied().unwrap_or(0)),
            // The cache size tunes Berkeley DB; a compiled map has no cache.
            b'c' => {}
            // sendmail ignores an empty fallback.
            b'i' => self.fallback = (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned()),
            b't' => match value.first() {
                Some(&delimiter) => self.delimiter = Some(delimiter),
                None => self.warnings.push("Invalid separator"),
            },
            _ => unreachable!("takes_argument() admits only C, D, c, i and t"),
        }
    }

    fn apply_switch(&mut self, flag: u8) -> Result<Option<Listing>, UsageError> {
        match flag {
            b'N' => self.include_nul = true,
            b'd' => self.keep_all = true,
            b'e' => self.allow_empty = true,
            b'f' => self.no_fold = true,
            b'o' => self.append = true,
            b'r' => self.replace = true,
            b's' => self.skip_path_checks = true,
            b'u' => self.dump = true,
            b'v' => self.verbose = true,
            b'l' | b'x' => return Ok(Some(Listing::Types)),
            b'L' => return Ok(Some(Listing::WithCf)),
            _ => return Err(UsageError::InvalidOption(flag)),
        }
        Ok(None)
    }

    fn into_invocation(self, type_name: &OsString, map_name: &OsString) -> Invocation {
        let mut options = SourceOptions::default();
        options.fold_case = !self.no_fold;
        options.include_nul = self.include_nul;
        options.comment = self.comment.unwrap_or(options.comment);
        options.delimiter = self.delimiter;
        options.allow_empty = self.allow_empty;
        options.strict = self.strict;
        // As in sendmail, -d (keep every copy) wins over -r (replace).
        options.duplicates = match (self.keep_all, self.replace) {
            (true, _) => Duplicates::KeepAll,
            (false, true) => Duplicates::Replace,
            (false, false) => Duplicates::KeepFirst,
        };
        Invocation {
            cf_file: self.cf_file,
            options,
            fallback: self.fallback,
            append: self.append,
            skip_path_checks: self.skip_path_checks,
            dump: self.dump,
            verbose: self.verbose,
            type_name: type_name.to_string_lossy().into_owned(),
            map_name: PathBuf::from(map_name),
            warnings: self.warnings,
        }
    }
}

/// The options followed by `:` in `C:D:Nc:defi:Llorst:uvx`.
fn takes_argument(flag: u8) -> bool {
    matches!(flag, b'C' | b'D' | b'c' | b'i' | b't')
}

/// A flag byte for a message: itself if printable, escaped if not.
struct Flag(u8);

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Invocation {
        match parse(&os(words)) {
            Ok(Parsed::Run(invocation)) => invocation,
            other => panic!("{words:?} parsed as {other:?}"),
        }
    }

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn clustered_flags_and_attached_or_separate_arguments() {
        for words in
            [&["-ret:", "hash", "m"][..], &["-r", "-e", "-t", ":", "hash", "m"], &["-ret", ":", "hash", "m"]]
        {
            let invocation = run(words);
            assert_eq!(invocation.options.duplicates, Duplicates::Replace, "{words:?}");
            assert!(invocation.options.allow_empty, "{words:?}");
            assert_eq!(invocation.options.delimiter, Some(b':'), "{words:?}");
            assert_eq!((invocation.type_name.as_str(), invocation.map_name.to_str()), ("hash", Some("m")));
        }
    }

    #[test]
    fn keep_all_wins_over_replace_in_either_order() {
        assert_eq!(run(&["-rd", "btree", "m"]).options.duplicates, Duplicates::KeepAll);
        assert_eq!(run(&["-d", "-r", "btree", "m"]).options.duplicates, Duplicates::KeepAll);
    }

    #[test]
    fn every_source_flag_reaches_the_options() {
        let invocation =
            run(&["-N", "-D;", "-f", "--strict", "-c", "4096", "-C/x/cf", "-i", "btree", "cf", "m"]);
        let options = &invocation.options;
        assert!(options.include_nul && !options.fold_case && options.strict);
        assert_eq!(options.comment, b';');
        assert_eq!(invocation.cf_file, Some(PathBuf::from("/x/cf")));
        assert_eq!(invocation.fallback.as_deref(), Some("btree"));
        let invocation = run(&["-osuv", "hash", "m"]);
        assert!(invocation.append && invocation.skip_path_checks && invocation.dump && invocation.verbose);
    }

    #[test]
    fn options_end_at_the_first_operand_or_at_double_dash() {
        assert!(matches!(parse(&os(&["hash", "m", "-r"])), Err(UsageError::Operands)));
        let invocation = run(&["--", "-weird", "m"]);
        assert_eq!(invocation.type_name, "-weird");
        assert_eq!(run(&["-", "m"]).type_name, "-");
    }

    #[test]
    fn usage_errors() {
        assert_eq!(parse(&os(&["-z", "hash", "m"])).unwrap_err(), UsageError::InvalidOption(b'z'));
        assert_eq!(parse(&os(&["hash", "m", "-t"])).unwrap_err(), UsageError::Operands);
        assert_eq!(parse(&os(&["-t"])).unwrap_err(), UsageError::MissingArgument(b't'));
        assert_eq!(parse(&os(&["hash"])).unwrap_err(), UsageError::Operands);
        assert_eq!(parse(&os(&["--help"])).unwrap_err(), UsageError::UnknownLong("--help".into()));
        assert_eq!(UsageError::InvalidOption(b'z').message().as_deref(), Some("invalid option -- 'z'"));
    }

    #[test]
    fn listing_stops_parsing_where_getopt_meets_it() {
        assert!(matches!(parse(&os(&["-l", "-z"])), Ok(Parsed::List(Listing::Types))));
        assert!(matches!(parse(&os(&["-x"])), Ok(Parsed::List(Listing::Types))));
        assert!(matches!(parse(&os(&["-rL"])), Ok(Parsed::List(Listing::WithCf))));
        assert!(parse(&os(&["-z", "-l"])).is_err());
    }

    #[test]
    fn empty_separator_and_comment_arguments() {
        let invocation = run(&["-t", "", "-D", "", "hash", "m"]);
        assert_eq!(invocation.options.delimiter, None);
        assert_eq!(invocation.warnings, ["Invalid separator"]);
        assert_eq!(invocation.options.comment, 0);
    }
}
