//! `sendmail`: the submission command that programs call as
//! `/usr/sbin/sendmail`, with sendmail 8's command line, over the smarthost
//! relay.
//!
//! The relay daemon (`smarthost serve`, or `sendmail -bd`) does the work:
//! this command hands it the message over SMTP on its first `[[listen]]`
//! with `mode = "smtp"` (a wildcard address is reached on the loopback; no
//! TLS, as both ends are this host). When nothing answers there, the
//! message goes straight into the spool (`[spool] dir`) and the next
//! `smarthost serve` delivers it. Either way, success is silent, as with
//! sendmail.
//!
//! The configuration is the relay's TOML file: `-C FILE`, else
//! `$SMARTHOST_CONFIG`, else `/etc/smarthost/smarthost.toml`.
//!
//! # Modes
//!
//! | flag | what it does |
//! | --- | --- |
//! | `-bm` (default) | read a message on standard input and send it to the recipients |
//! | `-bs` | SMTP on standard input/output: the bytes are relayed to the daemon's `smtp` listener, which runs the session (it sees a loopback client). No daemon: `421 4.3.0 HOST mail system is not running`, exit 75 |
//! | `-bp`, or called as `mailq` | list the queue (`smarthost queue list`; works while the daemon runs) |
//! | `-q`, `-qRdomain` | ask the daemon to run its queue now, through `SPOOL/control.sock` (`run [DOMAIN]` → `ok N` / `error TEXT`); no daemon: deliver in this process (`smarthost queue run --config`) |
//! | `-q30m`, `-q1h` | an interval: with `-bd` recorded and ignored (the daemon runs its queue on its own `[queue] retry` schedule); without `-bd`, one run as `-q` |
//! | `-bv ADDR…` | verify: `ADDR... deliverable: mailer esmtp, host example.org, user ADDR`, or `ADDR... REASON` |
//! | `-bt` | address test mode: `3,0 ADDR`, `0 ADDR`, `/parse ADDR`, `/quit` (below) |
//! | `-bd` | run the daemon: `smarthost serve --config FILE`, the `smarthost` program beside this one; its exit status is passed through (128 + N when killed by signal N) |
//! | `-bi`, `-I`, or called as `newaliases` | rebuild the aliases database (`newaliases --config FILE`) |
//!
//! # Options
//!
//! Single-dash and clusterable (`-tiv`); an option's argument is attached
//! or the next word (`-fbob`, `-f bob`); `--` ends the options; the words
//! left are recipients (a word may hold several, comma-separated;
//! a name without `@` gets `@` and the host name, as sendmail qualifies it).
//!
//! | option | meaning |
//! | --- | --- |
//! | `-C FILE` | the configuration file |
//! | `-f ADDR`, `-r ADDR` | the envelope sender (`-f '<>'` the null sender); default `LOGIN@HOSTNAME` (the login name from `id -un`, else `$LOGNAME`/`$USER`) |
//! | `-F NAME` | the full name in an added `From:` (default `$NAME`) |
//! | `-t` | recipients from `To:`, `Cc:`, `Bcc:` (or only the `Resent-` ones when there are any). Addresses on the command line are then *removed*: they get no copy even when the header lists them. This is what the BSD sendmail manual promises ("any addresses in the argument list will be suppressed") and what Exim does; the O'Reilly sendmail book describes sendmail 8 as adding them, and Postfix adds them. Programs that pass both are rare; the removal is the safer reading (it never sends more than asked) |
//! | `-i`, `-oi`, `-O IgnoreDots` | a line holding only `.` does not end the message; without it, it does |
//! | `-v` | say what happens, on standard error |
//! | `-N never\|success,failure,delay` | DSN `NOTIFY` for every recipient |
//! | `-R full\|hdrs` | DSN `RET` |
//! | `-V ENVID` | DSN `ENVID` |
//! | `-B 7BIT\|8BITMIME` | `BODY=` |
//! | `-oeX`, `-eX`, `-O ErrorMode=X` | recorded; errors always go to standard error and the exit status |
//!
//! Accepted and ignored, as they change nothing the relay does for a
//! submission: `-odb`/`-odi`/`-odq`/`-odd` and other `-oX` (the daemon
//! queues and delivers in the background whatever is asked), other
//! `-O Name=value`, `-G`, `-U`, `-m`, `-n`, `-s`, `-c`, `-T`, `-X FILE`,
//! `-L TAG`, `-d…`, `-h N`, `-M…`, `-p PROTO`, `-Q…`, `-A X`, `-D FILE`,
//! `-qf`/`-qp`. Refused with exit 64: unknown options (`sendmail: invalid
//! option -- 'x'`), `-bP`, `-bh`, `-ba` and other modes, `-qI`/`-qS`/`-qQ`/`-qL`.
//!
//! # The message
//!
//! The input ends at EOF, or at a lone `.` line without `-i`. A leading mbox
//! `From ` line is dropped; `Bcc:` and `Resent-Bcc:` are removed; `From:`
//! (`Full Name <sender>`), `Date:` (UTC) and `Message-ID:`
//! (`<YYYYMMDDhhmmss.RANDOM@HOSTNAME>`) are added when missing; lines end in
//! CRLF. A `Received: (from LOGIN@localhost) by HOSTNAME (smarthost
//! sendmail); DATE` field goes first, naming the real user whatever `-f`
//! says, as sendmail's submission program writes one; the daemon adds its
//! own when it takes the message over SMTP.
//!
//! # Address test mode
//!
//! `-bt` prints sendmail's banner and a `> ` prompt per line (input is not
//! echoed). `3,0 ADDR` traces ruleset 3 (`canonify`: sendmail's tokens,
//! the domain focused as `< @ example . org . >`) and ruleset 0 (`parse`:
//! the `$# mailer $@ host $: user` triple of the relay's routing decision).
//! `/parse ADDR` prints `Cracked address = $g`, `Parsing envelope recipient
//! address`, the same trace and `mailer esmtp, host example.org, user
//! alice@example.org`. Unlike sendmail there are no sub-rulesets
//! (`Canonify2`, `Parse0`, ...) in the trace, no DNS canonification (the
//! host has no trailing dot), and rulesets other than 3 and 0 are
//! `Undefined ruleset N`. Unknown `/` commands print `Unknown "/" command`;
//! `/try`, `/tryflags`, `/map`, `/mx`, `/canon`, `/header` say they are not
//! supported. `#` lines and blank lines are ignored; EOF or `/quit` ends.
//! `-bv` and `-bt` route with `smarthost route`'s code (`route::write`), in
//! this process.
//!
//! # Exit status (sysexits)
//!
//! | status | when |
//! | --- | --- |
//! | 0 | sent or queued; verified; listed |
//! | 64 `EX_USAGE` | a bad command line; no recipients |
//! | 65 `EX_DATAERR` | a recipient or the message refused (5xx) for another reason; a bad address |
//! | 66 `EX_NOINPUT` | the configuration cannot be read |
//! | 67 `EX_NOUSER` | a recipient refused as unknown (5.1.1, 5.1.6, 5.1.10) |
//! | 68 `EX_NOHOST` | a recipient's domain refused as unknown (5.1.2) |
//! | 69 `EX_UNAVAILABLE` | the `smarthost` program is missing |
//! | 71 `EX_OSERR` | the system refused something |
//! | 73 `EX_CANTCREAT` | no daemon, and the spool cannot be written |
//! | 74 `EX_IOERR` | reading the message or writing output failed |
//! | 75 `EX_TEMPFAIL` | refused for now (4xx); the daemon holds the spool but does not answer; `-bs` without a daemon |
//! | 77 `EX_NOPERM` | refused by policy (5.7.x) |
//! | 78 `EX_CONFIG` | the configuration is wrong |
//!
//! Refused recipients are reported as `sendmail: ADDRESS... REPLY`.

pub mod address_test;
pub mod message;
pub mod options;
mod service;
mod submit;

pub use service::{Answer, CONTROL_SOCKET, ask_daemon};

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use smarthost_relay::Config;

use crate::host::system_hostname;
use options::{Mode, Options};

/// Where the configuration is when neither `-C` nor `$SMARTHOST_CONFIG` says.
pub const DEFAULT_CONFIG: &str = "/etc/smarthost/smarthost.toml";

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "SMARTHOST_CONFIG";

/// Runs the command with its whole argument list (`args[0]` is the name it
/// was called by: `mailq` and `newaliases` pick their modes).
pub fn run(args: Vec<OsString>) -> ExitCode {
    let mut args = args.into_iter().map(|arg| arg.to_string_lossy().into_owned());
    let program = args.next().unwrap_or_default();
    let program =
        Path::new(&program).file_name().map_or("sendmail".into(), |n| n.to_string_lossy().into_owned());
    let options = match Options::parse(&program, args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{program}: {error}");
            return Exit::Usage.into();
        }
    };
    if options.verbose {
        for ignored in &options.ignored {
            eprintln!("{program}: {ignored}: accepted and ignored");
        }
    }
    match dispatch(&options) {
        Ok(code) => code,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{program}: {}", failure.message);
            }
            failure.status.into()
        }
    }
}

/// The configuration file: `-C`, `$SMARTHOST_CONFIG`, or the default; and
/// whether it was named (a default that does not exist is not an error for
/// the modes that can do without it).
fn config_file(options: &Options) -> (PathBuf, bool) {
    if let Some(path) = &options.config {
        return (path.clone(), true);
    }
    match std::env::var_os(CONFIG_ENV).filter(|value| !value.is_empty()) {
        Some(path) => (PathBuf::from(path), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    }
}

fn dispatch(options: &Options) -> Result<ExitCode, Failure> {
    let (file, named) = config_file(options);
    let optional = (named || file.exists()).then_some(file.as_path());
    match &options.mode {
        Mode::Verify => address_test::verify(optional, &options.recipients).map(|()| Exit::Ok.into()),
        Mode::AddressTest => address_test::address_test(optional).map(|()| Exit::Ok.into()),
        Mode::Daemon => service::daemon(&file),
        Mode::NewAliases => Ok(crate::newaliases::run(
            "newaliases",
            &crate::newaliases::Settings { config: optional.map(Path::to_path_buf), file: None },
        )),
        Mode::ListQueue => {
            let (config, _) = load(&file)?;
            Ok(crate::queue::list(&config.spool.dir, crate::queue::Format::Text))
        }
        Mode::RunQueue(run) => {
            let (config, _) = load(&file)?;
            Ok(service::run_queue(&config, run, options.verbose))
        }
        Mode::Smtp => {
            let (config, hostname) = load(&file)?;
            service::smtp_session(&config, &hostname).map(|()| Exit::Ok.into())
        }
        Mode::Deliver => {
            let (config, hostname) = load(&file)?;
            submit::run(options, &config, &hostname).map(|()| Exit::Ok.into())
        }
    }
}

/// The relay's configuration and this host's name (`hostname`, else the
/// system's).
fn load(file: &Path) -> Result<(Config, String), Failure> {
    let config = Config::load(file).map_err(|errors| {
        let status = if errors.is_unreadable() { Exit::NoInput } else { Exit::Config };
        let problems: Vec<String> = errors.problems().iter().map(ToString::to_string).collect();
        Failure::new(
            status,
            format!(
                "{}\n(the configuration is -C FILE, ${CONFIG_ENV}, or {DEFAULT_CONFIG})",
                problems.join("\n")
            ),
        )
    })?;
    let hostname = match &config.hostname {
        Some(name) => name.clone(),
        None => system_hostname().unwrap_or_else(|_| "localhost".into()),
    };
    Ok((config, hostname))
}

pub use crate::exit::{Failure, Sysexit as Exit};
