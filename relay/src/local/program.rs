//! Program delivery: the message piped to a command (procmail, maildrop, an
//! alias `|command`), its exit status read as sysexits.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::render::{Quoting, write_message};
use super::{LocalError, LocalMessage, RunAs, owner, sys};

/// How much of the program's standard error is kept for the error text.
const STDERR_KEPT: usize = 4096;
/// The longest stderr line quoted in an error, in characters.
const STDERR_QUOTED: usize = 200;
/// How long to wait for the program's standard error to close after it
/// exited (a background child it left may hold it open).
const STDERR_GRACE: Duration = Duration::from_secs(1);

/// A program to pipe messages to.
///
/// [`new`](ProgramCommand::new) is a configured mailer (`[mailers.NAME]
/// program`, `args`): run directly, no shell, with `{user}`, `{recipient}`
/// and `{sender}` replaced in each argument.
/// [`from_alias`](ProgramCommand::from_alias) is an alias `|command`.
///
/// ```
/// use smarthost_relay::local::ProgramCommand;
///
/// let procmail = ProgramCommand::new("/usr/bin/procmail", ["-f", "{sender}", "-d", "{user}"]);
/// assert!(procmail.expand);
/// let alias = ProgramCommand::from_alias("|/usr/local/bin/ticket --queue support");
/// assert_eq!(alias.program, std::path::Path::new("/bin/sh"));
/// assert_eq!(alias.args, ["-c", "/usr/local/bin/ticket --queue support"]);
/// assert!(!alias.expand);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramCommand {
    /// The program, run directly (an absolute path; `PATH` is
    /// `/usr/bin:/bin`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Whether `{user}`, `{recipient}` and `{sender}` are replaced in
    /// `args`. Never for a shell script: the sender chose those values.
    pub expand: bool,
}

impl ProgramCommand {
    /// A configured program mailer: `program` with `args`, in which
    /// `{user}`, `{recipient}` and `{sender}` are replaced.
    pub fn new<S: Into<String>>(program: impl Into<PathBuf>, args: impl IntoIterator<Item = S>) -> Self {
        Self { program: program.into(), args: args.into_iter().map(Into::into).collect(), expand: true }
    }

    /// An alias `|command` target (with or without its `|`): run as
    /// `/bin/sh -c command`, as sendmail runs it, since such commands are
    /// written as shell text. Nothing in it is replaced; the script reads
    /// `$SENDER`, `$RECIPIENT` and `$USER`.
    pub fn from_alias(text: &str) -> Self {
        let command = text.trim_start().strip_prefix('|').unwrap_or(text).trim_start();
        Self { program: PathBuf::from("/bin/sh"), args: vec!["-c".into(), command.into()], expand: false }
    }

    /// How the command is named in messages: `"|text"` for an alias, the
    /// program's path otherwise.
    fn describe(&self) -> String {
        match (self.expand, self.args.as_slice()) {
            (false, [flag, text]) if flag == "-c" => format!("\"|{text}\""),
            _ => self.program.display().to_string(),
        }
    }
}

/// Runs `command` with the message on its standard input and reads its exit
/// status as sysexits (see the [module documentation](super)); a program
/// still running after `timeout` is killed with its process group and the
/// delivery fails temporarily.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use smarthost_relay::local::{LocalMessage, ProgramCommand, deliver_program};
///
/// let msg = LocalMessage {
///     queue_id: "4A1B2C",
///     sender: "alice@example.org",
///     recipient: "bob@example.net",
///     user: "bob",
///     content: b"Subject: hi\r\n\r\nHello\r\n",
///     arrival: SystemTime::now(),
///     run_as: None,
///     home: None,
/// };
/// # if smarthost_relay::local::running_as_root() { return Ok(()); }
/// deliver_program(&ProgramCommand::from_alias("|cat > /dev/null"), &msg, Duration::from_secs(10))?;
/// let error = deliver_program(&ProgramCommand::from_alias("|exit 67"), &msg, Duration::from_secs(10))
///     .unwrap_err();
/// assert_eq!((error.permanent, error.status), (true, "5.1.1"));
/// # Ok::<(), smarthost_relay::local::LocalError>(())
/// ```
pub fn deliver_program(
    command: &ProgramCommand,
    msg: &LocalMessage<'_>,
    timeout: Duration,
) -> Result<(), LocalError> {
    let owner = owner(msg, "this program delivery")?;
    if owner.is_some_and(|o| o.uid == 0) {
        return Err(LocalError::temporary(
            "4.3.5",
            format!(
                "{} would run as root; programs are run as an unprivileged user \
                 (give the delivery that user's RunAs)",
                command.describe()
            ),
        ));
    }
    let args = arguments(command, msg)?;
    let mut input = Vec::with_capacity(msg.content.len() + 64);
    write_message(&mut input, msg, Quoting::None).map_err(|e| {
        LocalError::temporary("4.3.0", format!("cannot prepare the message for {}: {e}", command.describe()))
    })?;

    let mut child = build(command, &args, msg, owner).spawn().map_err(|e| spawn_error(command, &e))?;
    feed_stdin(&mut child, input);
    let stderr = collect_stderr(&mut child);
    let status = wait(&mut child, timeout);
    let first_line = stderr.first_line();
    judge(command, status, timeout, &first_line)
}

/// The arguments with `{user}`, `{recipient}` and `{sender}` replaced.
fn arguments(command: &ProgramCommand, msg: &LocalMessage<'_>) -> Result<Vec<String>, LocalError> {
    if !command.expand {
        return Ok(command.args.clone());
    }
    let sender = if msg.sender.is_empty() { "MAILER-DAEMON" } else { msg.sender };
    command
        .args
        .iter()
        .map(|template| {
            let arg = template
                .replace("{user}", msg.user)
                .replace("{recipient}", msg.recipient)
                .replace("{sender}", sender);
            // A value starting with `-` would be read as an option: refuse
            // it rather than let a sender choose the program's flags.
            if arg.starts_with('-') && !template.starts_with('-') {
                let (status, whose) = if template.starts_with("{sender}") {
                    ("5.1.7", "sender")
                } else {
                    ("5.1.3", "recipient")
                };
                return Err(LocalError::permanent(
                    status,
                    format!(
                        "the {whose} address makes the argument {arg:?} of {} start with `-`, \
                         which the program would take as an option",
                        command.describe()
                    ),
                ));
            }
            Ok(arg)
        })
        .collect()
}

fn build(command: &ProgramCommand, args: &[String], msg: &LocalMessage<'_>, owner: Option<RunAs>) -> Command {
    let (local, domain) = msg.recipient.rsplit_once('@').unwrap_or((msg.recipient, ""));
    let mut cmd = Command::new(&command.program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("SENDER", msg.sender)
        .env("RECIPIENT", msg.recipient)
        .env("USER", msg.user)
        .env("LOGNAME", msg.user)
        .env("LOCAL", local)
        .env("DOMAIN", domain)
        .current_dir(msg.home.filter(|h| h.is_dir()).unwrap_or(Path::new("/")))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills what it started too.
        .process_group(0);
    if let Some(home) = msg.home {
        cmd.env("HOME", home);
    }
    if let Some(owner) = owner {
        // std calls setgroups(0) before setgid/setuid, dropping root's groups.
        cmd.uid(owner.uid).gid(owner.gid);
    }
    cmd
}

fn spawn_error(command: &ProgramCommand, error: &io::Error) -> LocalError {
    let text = format!("cannot run {}: {error}", command.describe());
    match error.raw_os_error() {
        Some(libc::ENOENT | libc::EACCES | libc::ENOEXEC | libc::ENOTDIR) => LocalError::temporary(
            "4.3.5",
            format!(
                "{text}; check the mailer's `program` path and that uid {} may run it",
                sys::effective_uid()
            ),
        ),
        _ => LocalError::temporary("4.3.0", text),
    }
}

/// Writes the message to the program's standard input from a thread of its
/// own (a program that writes much before reading would otherwise deadlock
/// with us), then closes it. A program that exits without reading all of it
/// is judged by its exit status alone, so a broken pipe is not an error.
fn feed_stdin(child: &mut Child, input: Vec<u8>) {
    if let Some(mut stdin) = child.stdin.take() {
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
}

/// The program's standard error, read by a thread of its own; the first
/// [`STDERR_KEPT`] bytes are kept, the rest drained.
struct Stderr {
    kept: Arc<Mutex<Vec<u8>>>,
    closed: mpsc::Receiver<()>,
}

fn collect_stderr(child: &mut Child) -> Stderr {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let (done, closed) = mpsc::channel();
    if let Some(mut stderr) = child.stderr.take() {
        let kept = Arc::clone(&kept);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                let mut kept = kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let room = STDERR_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            let _ = done.send(());
        });
    }
    Stderr { kept, closed }
}

impl Stderr {
    /// The first non-empty line, printable and capped, once the pipe has
    /// closed or [`STDERR_GRACE`] has passed.
    fn first_line(&self) -> String {
        let _ = self.closed.recv_timeout(STDERR_GRACE);
        let kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let text = String::from_utf8_lossy(&kept);
        let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        let mut quoted: String =
            line.chars().take(STDERR_QUOTED).map(|c| if c.is_control() { '?' } else { c }).collect();
        if line.chars().count() > STDERR_QUOTED {
            quoted.push('…');
        }
        quoted
    }
}

/// Waits for the program to exit, or kills its process group at the
/// timeout (`None`).
fn wait(child: &mut Child, timeout: Duration) -> Option<io::Result<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(Ok(status)),
            Ok(None) => {}
            Err(error) => {
                kill(child);
                return Some(Err(error));
            }
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|l| !l.is_zero()) else {
            kill(child);
            return None;
        };
        thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn kill(child: &mut Child) {
    sys::kill_process_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
}

/// The delivery's result from the program's end.
fn judge(
    command: &ProgramCommand,
    status: Option<io::Result<ExitStatus>>,
    timeout: Duration,
    stderr: &str,
) -> Result<(), LocalError> {
    let name = command.describe();
    let said = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
    let status = match status {
        None => {
            return Err(LocalError::temporary(
                "4.3.0",
                format!("{name} was still running after {} s and was killed{said}", timeout.as_secs_f32()),
            ));
        }
        Some(Err(error)) => {
            return Err(LocalError::temporary("4.3.0", format!("cannot wait for {name}: {error}")));
        }
        Some(Ok(status)) => status,
    };
    if let Some(signal) = status.signal() {
        return Err(LocalError::temporary("4.3.0", format!("{name} was killed by signal {signal}{said}")));
    }
    let code = status.code().unwrap_or(-1);
    if code == 0 {
        return Ok(());
    }
    let (temporary, enhanced, meaning) = sysexit(code);
    let text = format!("{name} exited with status {code} ({meaning}){said}");
    Err(if temporary { LocalError::temporary(enhanced, text) } else { LocalError::permanent(enhanced, text) })
}

/// Whether an exit status is temporary, its enhanced code and its meaning.
/// Temporary are the three sendmail queues on (`EX_TEMPFAIL`, `EX_OSERR`,
/// `EX_IOERR`); the codes are Postfix's table for `sysexits.h`.
fn sysexit(code: i32) -> (bool, &'static str, &'static str) {
    match code {
        64 => (false, "5.3.0", "EX_USAGE: command line usage error"),
        65 => (false, "5.6.0", "EX_DATAERR: data format error"),
        66 => (false, "5.3.0", "EX_NOINPUT: cannot open input"),
        67 => (false, "5.1.1", "EX_NOUSER: user unknown"),
        68 => (false, "5.1.2", "EX_NOHOST: host name unknown"),
        69 => (false, "5.3.0", "EX_UNAVAILABLE: service unavailable"),
        70 => (false, "5.3.0", "EX_SOFTWARE: internal software error"),
        71 => (true, "4.3.0", "EX_OSERR: system error"),
        72 => (false, "5.3.0", "EX_OSFILE: critical OS file missing"),
        73 => (false, "5.2.0", "EX_CANTCREAT: cannot create output file"),
        74 => (true, "4.3.0", "EX_IOERR: input/output error"),
        75 => (true, "4.3.0", "EX_TEMPFAIL: temporary failure"),
        76 => (false, "5.5.0", "EX_PROTOCOL: remote error in protocol"),
        77 => (false, "5.7.0", "EX_NOPERM: permission denied"),
        78 => (false, "5.3.5", "EX_CONFIG: configuration error"),
        126 => (false, "5.3.0", "the shell found the command but could not run it"),
        127 => (false, "5.3.0", "the shell did not find the command"),
        _ => (false, "5.3.0", "unknown failure"),
    }
}
