//! Exit statuses and the failures that carry them.

use std::fmt;
use std::process::ExitCode;

/// The `<sysexits.h>` statuses that makemap, sendmail and `smarthost serve`
/// exit with; Makefiles and scripts written for sendmail test them. Ordered
/// so that the worst of several is the largest that matters: any failure
/// beats success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sysexit {
    /// Every line was accepted.
    Ok = 0,
    /// `EX_USAGE`: bad flags or operands.
    Usage = 64,
    /// `EX_DATAERR`: some lines were rejected (the rest were stored).
    DataErr = 65,
    /// `EX_NOINPUT`: the sendmail.cf to read could not be opened.
    NoInput = 66,
    /// `EX_NOUSER`: an addressee is unknown (sendmail: `5.1.1`).
    NoUser = 67,
    /// `EX_NOHOST`: a host name is unknown (sendmail: `5.1.2`).
    NoHost = 68,
    /// `EX_UNAVAILABLE`: a map type sendmail knows but this build does not
    /// write; a program sendmail needs is missing.
    Unavailable = 69,
    /// `EX_SOFTWARE`: an internal error.
    Software = 70,
    /// `EX_OSERR`: the operating system refused a resource (a port, the spool).
    OsErr = 71,
    /// `EX_CANTCREAT`: the map could not be opened or created.
    CantCreat = 73,
    /// `EX_IOERR`: reading or writing failed part-way.
    IoErr = 74,
    /// `EX_TEMPFAIL`: `smarthost policy` deferred something.
    TempFail = 75,
    /// `EX_NOPERM`: `smarthost policy` rejected something.
    NoPerm = 77,
    /// `EX_CONFIG`: a configuration file says something wrong.
    Config = 78,
}

impl Sysexit {
    /// The status for a permanent refusal with the enhanced status `status`
    /// (`5.1.1`): unknown user 67, unknown host 68, policy 77, else 65.
    pub fn for_status(status: &str) -> Sysexit {
        match status {
            "5.1.1" | "5.1.6" | "5.1.10" => Sysexit::NoUser,
            "5.1.2" => Sysexit::NoHost,
            _ if status.starts_with("5.7.") => Sysexit::NoPerm,
            _ => Sysexit::DataErr,
        }
    }
}

impl From<Sysexit> for ExitCode {
    fn from(status: Sysexit) -> Self {
        ExitCode::from(status as u8)
    }
}

/// Why a command stops early: the status to exit with and the message for
/// standard error (without the program name, which the caller adds).
#[derive(Debug)]
pub struct Failure {
    /// The exit status.
    pub status: Sysexit,
    /// The message, without the program name.
    pub message: String,
}

impl Failure {
    /// A failure with `status` and `message`.
    pub fn new(status: Sysexit, message: impl fmt::Display) -> Self {
        Self { status, message: message.to_string() }
    }
}

/// How a `smarthost` subcommand ended, short of an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Done: found, dumped, verified, acted on.
    Ok,
    /// Done, with a negative answer: not found, not sound, some IDs unknown.
    Negative,
}

/// Exit status 0 or 1, or 2 with the message for an error, as `smarthost`
/// subcommands (like `postmap -q`) report them.
pub(crate) fn finish(result: Result<Status, String>) -> ExitCode {
    match result {
        Ok(Status::Ok) => ExitCode::SUCCESS,
        Ok(Status::Negative) => ExitCode::from(1),
        Err(message) => {
            eprintln!("smarthost: {message}");
            ExitCode::from(2)
        }
    }
}
