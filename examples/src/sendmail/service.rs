//! The modes that hand work to the relay daemon or to the `smarthost`
//! commands: `-bs` (an SMTP session relayed to the daemon), `-q` (a queue
//! run through the daemon's control socket), `-bd` (the daemon itself).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use smarthost_relay::Config;

use super::options::QueueRun;
use super::submit::submission_addr;
use super::{Exit, Failure};

/// The daemon's control socket, in the spool directory.
pub use smarthost_relay::CONTROL_SOCKET;

/// How long the control socket may take to answer `run`.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// `-bs`: relays standard input to the daemon's `smtp` listener and its
/// replies to standard output, until either side closes. The daemon runs
/// the session; it sees a client on the loopback.
pub(crate) fn smtp_session(config: &Config, hostname: &str) -> Result<(), Failure> {
    let not_running = |why: String| {
        // What a client on standard input expects instead of a greeting.
        println!("421 4.3.0 {hostname} mail system is not running\r");
        let _ = io::stdout().flush();
        Failure::new(Exit::TempFail, why)
    };
    let Some(addr) = submission_addr(config) else {
        return Err(not_running("the configuration has no [[listen]] with mode = \"smtp\"".into()));
    };
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| {
        not_running(format!("cannot connect to the relay at {addr}: {e}; start it with `sendmail -bd`"))
    })?;
    let mut upstream = stream.try_clone().map_err(|e| Failure::new(Exit::OsErr, e))?;
    // Standard input to the daemon, on a thread of its own: the two
    // directions must move independently (pipelining, the greeting first).
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut upstream);
        let _ = upstream.shutdown(Shutdown::Write);
    });
    let mut downstream = stream;
    let mut out = io::stdout().lock();
    let mut buffer = [0; 16 * 1024];
    loop {
        let n = match downstream.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(Failure::new(Exit::IoErr, format!("reading from the relay at {addr}: {error}")));
            }
        };
        if out.write_all(&buffer[..n]).and_then(|()| out.flush()).is_err() {
            // Whoever reads our output went away; so does the session.
            return Ok(());
        }
    }
}

/// `-q` / `-qRdomain`: asks the running daemon to run its queue now; when
/// no daemon listens on the control socket, runs the queue in this process
/// (`smarthost queue run --config`), as sendmail -q does.
pub(crate) fn run_queue(config: &Config, run: &QueueRun, verbose: bool) -> ExitCode {
    let socket = config.spool.dir.join(CONTROL_SOCKET);
    match ask_daemon(&socket, run.domain.as_deref()) {
        Ok(Answer::Scheduled(count)) => {
            if verbose {
                eprintln!(
                    "sendmail: the relay scheduled {count} message{}",
                    if count == 1 { "" } else { "s" }
                );
            }
            Exit::Ok.into()
        }
        Ok(Answer::Refused(text)) => {
            eprintln!("sendmail: the relay refused the queue run: {text}");
            Exit::TempFail.into()
        }
        Err(error) if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
            if verbose {
                eprintln!("sendmail: no relay on {}; running the spool directly", socket.display());
            }
            crate::queue::deliver(&config.file, run.domain.as_deref())
        }
        Err(error) => {
            eprintln!("sendmail: {}: {error}", socket.display());
            Exit::TempFail.into()
        }
    }
}

/// What the daemon said to `run`.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// `ok N`.
    Scheduled(u64),
    /// `error TEXT`, or an answer that is neither.
    Refused(String),
}

/// The control protocol: one line `run` or `run DOMAIN`, one line back.
pub fn ask_daemon(socket: &Path, domain: Option<&str>) -> io::Result<Answer> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(CONTROL_TIMEOUT))?;
    stream.set_write_timeout(Some(CONTROL_TIMEOUT))?;
    let request = match domain {
        Some(domain) => format!("run {domain}\n"),
        None => "run\n".to_string(),
    };
    stream.write_all(request.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let line = line.trim_end();
    Ok(match line.split_once(' ') {
        Some(("ok", count)) => match count.trim().parse() {
            Ok(count) => Answer::Scheduled(count),
            Err(_) => Answer::Refused(format!("unexpected answer `{line}`")),
        },
        Some(("error", text)) => Answer::Refused(text.to_string()),
        _ => Answer::Refused(format!("unexpected answer `{}`", line.escape_debug())),
    })
}

/// `-bd`: runs `smarthost serve --config FILE` (the `smarthost` program
/// beside this one) and exits with its status, as if sendmail had become
/// the daemon; a daemon killed by a signal gives 128 + the signal.
pub(crate) fn daemon(config_file: &Path) -> Result<ExitCode, Failure> {
    let program = sibling("smarthost")?;
    let status = Command::new(&program)
        .arg("serve")
        .arg("--config")
        .arg(config_file)
        .status()
        .map_err(|e| Failure::new(Exit::Unavailable, format!("cannot run {}: {e}", program.display())))?;
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().or_else(|| status.signal().map(|signal| 128 + signal)).unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// A program installed beside this one (the real file, not a symlink
/// such as `/usr/sbin/sendmail`).
pub(crate) fn sibling(name: &str) -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(Exit::OsErr, format!("cannot find this program's own file: {e}")))?;
    let program = exe.parent().map(|dir| dir.join(name)).unwrap_or_else(|| PathBuf::from(name));
    if program.is_file() {
        Ok(program)
    } else {
        Err(Failure::new(
            Exit::Unavailable,
            format!("{} is missing; install `{name}` beside sendmail", program.display()),
        ))
    }
}
