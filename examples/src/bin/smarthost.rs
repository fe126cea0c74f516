//! `smarthost`: the relay's command-line front end.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smarthost::{makemap, map};

/// smarthost, a sendmail-compatible relay MTA: its maps and tools.
#[derive(Debug, Parser)]
#[command(name = "smarthost", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each one is a module of the `smarthost` library.
#[derive(Debug, Subcommand)]
enum Command {
    /// Compile a map from standard input, exactly like sendmail's makemap
    /// (run it without arguments for its usage).
    #[command(disable_help_flag = true)]
    Makemap {
        /// makemap's flags and operands: [FLAGS] TYPE NAME.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
        args: Vec<OsString>,
    },
    /// Look up, dump or verify a map the way the relay reads it.
    #[command(subcommand)]
    Map(MapCommand),
}

#[derive(Debug, Subcommand)]
enum MapCommand {
    /// Print the value for KEY (exit 0), or nothing when it is absent (exit 1).
    Lookup {
        /// A compiled map, a text source, or a source whose .db exists.
        file: PathBuf,
        /// The key, looked up with sendmail's rules (case-folded unless built with -f).
        #[arg(allow_hyphen_values = true)]
        key: OsString,
    },
    /// Print every pair as KEY<TAB>VALUE.
    Dump {
        /// A compiled map, a text source, or a source whose .db exists.
        file: PathBuf,
    },
    /// Check the whole map and print its entry count and content hash.
    Verify {
        /// A compiled map, a text source, or a source whose .db exists.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Makemap { args } => makemap::run("smarthost makemap", &args),
        Command::Map(MapCommand::Lookup { file, key }) => map::lookup(&file, key.as_bytes()),
        Command::Map(MapCommand::Dump { file }) => map::dump(&file),
        Command::Map(MapCommand::Verify { file }) => map::verify(&file),
    }
}
