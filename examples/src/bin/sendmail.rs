//! `sendmail`: the sendmail-compatible submission command (also `mailq` and
//! `newaliases` when called by those names); see `smarthost::sendmail`.

use std::process::ExitCode;

fn main() -> ExitCode {
    smarthost::sendmail::run(std::env::args_os().collect())
}
