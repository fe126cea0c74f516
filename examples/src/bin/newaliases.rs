//! `newaliases`: sendmail's alias database builder (`sendmail -bi`), for
//! existing habits and scripts: `newaliases [--config FILE] [ALIASES]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Compile the aliases file into the database the relay reads (ALIASES.db).
#[derive(Debug, Parser)]
#[command(name = "newaliases", version)]
struct Args {
    /// The relay's TOML configuration file (maps.aliases, hostname,
    /// local_host_names, local_host_names_file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The aliases text file; default: maps.aliases from --config, else /etc/mail/aliases.
    #[arg(value_name = "ALIASES")]
    file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    smarthost::newaliases::run(
        "newaliases",
        &smarthost::newaliases::Settings { config: args.config, file: args.file },
    )
}
