//! sendmail's command line, parsed by hand the way sendmail 8's `getopt`
//! loop reads it: single-dash options that may be clustered (`-tiv`), an
//! option's argument attached (`-fbob`) or in the next word (`-f bob`),
//! `--` to end the options, and the remaining words as recipients.
//!
//! sendmail's own preprocessing (`obsolete()` in main.c) is kept: a bare
//! `-q` runs the queue once, and `-q`'s argument is only ever attached
//! (`-q30m`, `-qRexample.org`), so `sendmail -q alice` is `-q` plus a
//! recipient.

use std::fmt;
use std::path::PathBuf;

/// What the command is asked to do (`-bX`, `-q`, or the name it was called by).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `-bm` (the default): read a message on standard input and deliver it.
    Deliver,
    /// `-bs`: speak SMTP on standard input and output.
    Smtp,
    /// `-bp` (or called as `mailq`): list the queue.
    ListQueue,
    /// `-q…` without `-bd`: run the queue once, all of it or one domain's.
    RunQueue(QueueRun),
    /// `-bv`: say where each recipient would go, without sending anything.
    Verify,
    /// `-bt`: address test mode.
    AddressTest,
    /// `-bd`: run the relay daemon.
    Daemon,
    /// `-bi` / `-I` (or called as `newaliases`): rebuild the aliases database.
    NewAliases,
}

/// What a `-q` option asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueRun {
    /// `-qRdomain`: only recipients in this domain (and its sub-domains).
    pub domain: Option<String>,
    /// `-q30m`: the interval sendmail would run the queue at. The relay
    /// runs its queue on its own schedule, so this is recorded, not used.
    pub interval: Option<String>,
}

/// `-oe` / `ErrorMode`: how sendmail reports errors. Only the exit status
/// and standard error are used here; the mode is recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorMode {
    /// `p` (the default): print on standard error.
    #[default]
    Print,
    /// `m`: mail the error back (the relay does this for queued mail).
    Mail,
    /// `w`: write to the user's terminal.
    Write,
    /// `q`: quiet: only the exit status.
    Quiet,
    /// `e`: the BerkNet special case: mail back, exit 0.
    Exit,
}

/// Everything the command line said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// What to do.
    pub mode: Mode,
    /// `-C FILE`: the relay's configuration.
    pub config: Option<PathBuf>,
    /// `-f ADDR` / `-r ADDR`: the envelope sender; `<>` or `""` is the null sender.
    pub sender: Option<String>,
    /// `-F NAME`: the full name for an added `From:` header.
    pub full_name: Option<String>,
    /// `-t`: take the recipients from the header.
    pub read_recipients: bool,
    /// `-i` / `-oi` / `-O IgnoreDots`: a lone `.` line does not end the message.
    pub ignore_dots: bool,
    /// `-v`: say what happens.
    pub verbose: bool,
    /// `-N`: the DSN `NOTIFY=` value (`never` or a list of `success`,
    /// `failure`, `delay`).
    pub notify: Option<String>,
    /// `-R`: the DSN `RET=` value (`full` or `hdrs`).
    pub ret: Option<String>,
    /// `-V`: the DSN `ENVID=`.
    pub envid: Option<String>,
    /// `-B`: the body type (`7BIT` or `8BITMIME`).
    pub body: Option<String>,
    /// `-oe` / `-O ErrorMode`.
    pub error_mode: ErrorMode,
    /// `-q…` given together with `-bd`: recorded; the daemon runs its queue itself.
    pub queue_interval: Option<QueueRun>,
    /// Options accepted and ignored, as given, for `-v` to mention.
    pub ignored: Vec<String>,
    /// The words after the options: recipients (or addresses for `-bv`).
    pub recipients: Vec<String>,
}

/// A command line sendmail would refuse: its message, as getopt or
/// sendmail words it. The exit status is 64 (`EX_USAGE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The options that take an argument (sendmail 8's getopt string, less
/// `q`, whose argument is only attached). `d`, `h`, `L`, `M`, `p`, `Q`, `X`,
/// `A`, `D` take one that is accepted and ignored.
const WITH_ARGUMENT: &[u8] = b"ABbCDdeFfhLMNOopQRrVX";

impl Options {
    /// Parses the arguments after the program name. `program` is the name
    /// the command was called by (its last path component): `mailq` lists the
    /// queue and `newaliases` rebuilds the aliases, as sendmail does.
    ///
    /// ```
    /// use smarthost::sendmail::options::{Mode, Options};
    /// let options = Options::parse("sendmail", ["-oi", "-fbob@example.org", "alice@example.org"])?;
    /// assert!(options.ignore_dots);
    /// assert_eq!(options.sender.as_deref(), Some("bob@example.org"));
    /// assert_eq!(options.recipients, ["alice@example.org"]);
    /// assert_eq!(options.mode, Mode::Deliver);
    /// # Ok::<(), smarthost::sendmail::options::UsageError>(())
    /// ```
    pub fn parse<I, S>(program: &str, args: I) -> Result<Options, UsageError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let mut options = Options::new(match program {
            "mailq" => Mode::ListQueue,
            "newaliases" => Mode::NewAliases,
            _ => Mode::Deliver,
        });
        let mut queue: Option<QueueRun> = None;
        let mut daemon = false;
        let mut index = 0;
        while index < args.len() {
            let word = &args[index];
            index += 1;
            if word == "--" {
                break;
            }
            let Some(cluster) = word.strip_prefix('-').filter(|rest| !rest.is_empty()) else {
                // The first word that is not an option ends them, as with
                // POSIX getopt (sendmail sets POSIXLY_CORRECT behaviour).
                index -= 1;
                break;
            };
            let bytes = cluster.as_bytes();
            let mut at = 0;
            while at < bytes.len() {
                let flag = bytes[at];
                at += 1;
                if flag == b'q' {
                    // Everything after q is its (optional, attached) argument.
                    queue = Some(parse_queue(&cluster[at..])?);
                    break;
                }
                if !flag.is_ascii() {
                    // A multi-byte character: name it whole.
                    return Err(invalid(cluster[at - 1..].chars().next().unwrap_or('?')));
                }
                if WITH_ARGUMENT.contains(&flag) {
                    let value = if at < bytes.len() {
                        cluster[at..].to_string()
                    } else if index < args.len() {
                        index += 1;
                        args[index - 1].clone()
                    } else {
                        return Err(UsageError(format!(
                            "option requires an argument -- '{}'",
                            char::from(flag)
                        )));
                    };
                    options.take_argument(flag, value, &mut daemon)?;
                    break;
                }
                options.take_flag(flag)?;
            }
        }
        options.recipients = args[index..].to_vec();
        match (queue, daemon) {
            (Some(run), true) => options.queue_interval = Some(run),
            (Some(run), false) if options.mode == Mode::Deliver => options.mode = Mode::RunQueue(run),
            (Some(_), false) => {}
            (None, _) => {}
        }
        if daemon {
            options.mode = Mode::Daemon;
        }
        Ok(options)
    }

    fn new(mode: Mode) -> Options {
        Options {
            mode,
            config: None,
            sender: None,
            full_name: None,
            read_recipients: false,
            ignore_dots: false,
            verbose: false,
            notify: None,
            ret: None,
            envid: None,
            body: None,
            error_mode: ErrorMode::default(),
            queue_interval: None,
            ignored: Vec::new(),
            recipients: Vec::new(),
        }
    }

    /// A flag without an argument.
    fn take_flag(&mut self, flag: u8) -> Result<(), UsageError> {
        match flag {
            b't' => self.read_recipients = true,
            b'i' => self.ignore_dots = true,
            b'v' => self.verbose = true,
            b'I' => self.mode = Mode::NewAliases,
            // -G (gateway), -U (initial user submission), -m (me too), -n
            // (no aliasing), -s (save From lines), -c (hold connections),
            // -T (old timeout): they change nothing the relay does for a
            // submission.
            b'G' | b'U' | b'm' | b'n' | b's' | b'c' | b'T' => {
                self.ignored.push(format!("-{}", char::from(flag)))
            }
            other => return Err(invalid(char::from(other))),
        }
        Ok(())
    }

    /// An option with its argument.
    fn take_argument(&mut self, flag: u8, value: String, daemon: &mut bool) -> Result<(), UsageError> {
        match flag {
            b'b' => match value.as_str() {
                "m" => self.mode = Mode::Deliver,
                "s" => self.mode = Mode::Smtp,
                "p" => self.mode = Mode::ListQueue,
                "v" => self.mode = Mode::Verify,
                "t" => self.mode = Mode::AddressTest,
                "i" => self.mode = Mode::NewAliases,
                "d" | "D" => *daemon = true,
                // -bP (print queue counts), -bh/-bH (host status), -ba (ARPANET).
                _ => return Err(UsageError(format!("Invalid operation mode {}", first_char(&value)))),
            },
            b'C' => self.config = Some(PathBuf::from(value)),
            b'f' | b'r' => {
                if self.sender.is_some() {
                    return Err(UsageError("More than one \"from\" person".into()));
                }
                self.sender = Some(value);
            }
            b'F' => self.full_name = Some(value),
            b'N' => self.notify = Some(check_notify(&value)?),
            b'R' => self.ret = Some(check_ret(&value)?),
            b'V' => self.envid = Some(value),
            b'B' => self.body = Some(check_body(&value)?),
            b'e' => self.error_mode = error_mode(&value)?,
            b'o' => self.short_option(&value)?,
            b'O' => self.long_option(&value)?,
            // -d debug, -h hop count, -L syslog tag, -M macro, -p protocol,
            // -Q quarantine, -X traffic log, -A submit/sendmail.cf, -D debug
            // file: nothing here uses them.
            _ => self.ignored.push(format!("-{}{value}", char::from(flag))),
        }
        Ok(())
    }

    /// `-oX[value]`: the one-letter sendmail.cf options.
    fn short_option(&mut self, value: &str) -> Result<(), UsageError> {
        let mut chars = value.chars();
        match chars.next() {
            Some('i') => self.ignore_dots = bool_value(chars.as_str(), true),
            Some('e') => self.error_mode = error_mode(chars.as_str())?,
            // Delivery mode (-odb/-odi/-odq/-odd): the daemon queues the
            // message and delivers it in the background whatever is asked.
            Some('d') => self.ignored.push(format!("-o{value}")),
            None => return Err(UsageError("option requires an argument -- 'o'".into())),
            Some(_) => self.ignored.push(format!("-o{value}")),
        }
        Ok(())
    }

    /// `-O Name=value`: the long sendmail.cf options.
    fn long_option(&mut self, value: &str) -> Result<(), UsageError> {
        let (name, setting) = value.split_once('=').unwrap_or((value, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "ignoredots" => self.ignore_dots = bool_value(setting.trim(), true),
            "errormode" => self.error_mode = error_mode(setting.trim())?,
            _ => self.ignored.push(format!("-O{value}")),
        }
        Ok(())
    }
}

/// getopt's message for an unknown option.
fn invalid(flag: char) -> UsageError {
    UsageError(format!("invalid option -- '{flag}'"))
}

fn first_char(text: &str) -> String {
    text.chars().next().map_or_else(String::new, String::from)
}

/// sendmail's boolean option values: empty, or starting with t/T/y/Y is true.
fn bool_value(text: &str, empty: bool) -> bool {
    match text.chars().next() {
        None => empty,
        Some(c) => matches!(c, 't' | 'T' | 'y' | 'Y'),
    }
}

fn error_mode(text: &str) -> Result<ErrorMode, UsageError> {
    Ok(match text.chars().next() {
        Some('p') | None => ErrorMode::Print,
        Some('m') => ErrorMode::Mail,
        Some('w') => ErrorMode::Write,
        Some('q') => ErrorMode::Quiet,
        Some('e') => ErrorMode::Exit,
        Some(other) => {
            return Err(UsageError(format!("Invalid error mode {other}; expected p, m, w, q or e")));
        }
    })
}

/// `-q`'s attached argument: nothing, `R`/`r` and a domain, or an interval
/// such as `30m` or `1h` (sendmail's `convtime` units: s m h d w).
fn parse_queue(text: &str) -> Result<QueueRun, UsageError> {
    // -qf (foreground) and -qp (persistent) only change how sendmail forks.
    let text = text.trim_start_matches(['f', 'p']);
    let mut run = QueueRun::default();
    if text.is_empty() {
        return Ok(run);
    }
    match text.as_bytes()[0] {
        b'R' | b'r' => {
            let domain = text[1..].trim_start_matches('!').trim();
            if domain.is_empty() {
                return Err(UsageError("-qR needs a domain: -qRexample.org".into()));
            }
            run.domain = Some(domain.to_string());
        }
        b'I' | b'i' | b'S' | b's' | b'Q' | b'q' | b'L' | b'G' => {
            return Err(UsageError(format!(
                "-q{text}: only -q, -qRdomain and -q<interval> are supported; `smarthost queue list` shows \
                 queue IDs and senders"
            )));
        }
        _ => {
            let valid = text.split_inclusive(|c: char| c.is_ascii_alphabetic()).all(|part| {
                let digits = part.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && matches!(&part[digits.len()..], "" | "s" | "m" | "h" | "d" | "w")
            });
            if !valid {
                return Err(UsageError(format!(
                    "-q{text}: bad queue interval; expected a number with s, m, h, d or w, such as -q30m"
                )));
            }
            run.interval = Some(text.to_string());
        }
    }
    Ok(run)
}

fn check_notify(value: &str) -> Result<String, UsageError> {
    let words: Vec<String> = value.split(',').map(|w| w.trim().to_ascii_lowercase()).collect();
    let known = words.iter().all(|w| matches!(w.as_str(), "never" | "success" | "failure" | "delay"));
    let never_alone = !words.iter().any(|w| w == "never") || words.len() == 1;
    if known && never_alone {
        Ok(words.join(","))
    } else {
        Err(UsageError(format!(
            "Invalid -N argument {value}; expected never, or success, failure and delay joined by commas"
        )))
    }
}

fn check_ret(value: &str) -> Result<String, UsageError> {
    match value.to_ascii_lowercase().as_str() {
        ret @ ("full" | "hdrs") => Ok(ret.to_string()),
        _ => Err(UsageError(format!("Invalid -R value {value}; expected full or hdrs"))),
    }
}

fn check_body(value: &str) -> Result<String, UsageError> {
    match value.to_ascii_uppercase().as_str() {
        body @ ("7BIT" | "8BITMIME") => Ok(body.to_string()),
        _ => Err(UsageError(format!("Invalid -B value {value}; expected 7BIT or 8BITMIME"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, UsageError> {
        Options::parse("sendmail", args.iter().copied())
    }

    #[test]
    fn clusters_and_attached_arguments() {
        let options = parse(&["-tiv", "-Fbob smith", "-oem", "-Cetc/relay.toml"]).unwrap();
        assert!(options.read_recipients && options.ignore_dots && options.verbose);
        assert_eq!(options.full_name.as_deref(), Some("bob smith"));
        assert_eq!(options.error_mode, ErrorMode::Mail);
        assert_eq!(options.config, Some(PathBuf::from("etc/relay.toml")));
        let options = parse(&["-tf", "bob@example.org", "x@example.org"]).unwrap();
        assert_eq!(options.sender.as_deref(), Some("bob@example.org"));
        assert_eq!(options.recipients, ["x@example.org"]);
    }

    #[test]
    fn queue_forms() {
        assert_eq!(parse(&["-q"]).unwrap().mode, Mode::RunQueue(QueueRun::default()));
        let run = QueueRun { domain: Some("example.org".into()), interval: None };
        assert_eq!(parse(&["-qRexample.org"]).unwrap().mode, Mode::RunQueue(run));
        let options = parse(&["-bd", "-q30m"]).unwrap();
        assert_eq!(options.mode, Mode::Daemon);
        assert_eq!(options.queue_interval.unwrap().interval.as_deref(), Some("30m"));
        assert_eq!(
            parse(&["-q1h30m"]).unwrap().mode,
            Mode::RunQueue(QueueRun { domain: None, interval: Some("1h30m".into()) })
        );
        assert!(parse(&["-q1x"]).is_err());
        assert!(parse(&["-qIabc"]).is_err());
        // -q's argument is never the next word.
        assert_eq!(parse(&["-q", "alice"]).unwrap().recipients, ["alice"]);
    }

    #[test]
    fn errors_read_like_sendmails() {
        assert_eq!(parse(&["-x"]).unwrap_err().0, "invalid option -- 'x'");
        assert_eq!(parse(&["-f"]).unwrap_err().0, "option requires an argument -- 'f'");
        assert_eq!(parse(&["-bz"]).unwrap_err().0, "Invalid operation mode z");
        assert_eq!(parse(&["-fa", "-fb"]).unwrap_err().0, "More than one \"from\" person");
    }

    #[test]
    fn a_non_ascii_option_is_named_whole() {
        assert_eq!(parse(&["-té"]).unwrap_err().0, "invalid option -- 'é'");
    }

    proptest::proptest! {
        #[test]
        fn any_command_line_parses_or_is_refused(args in proptest::collection::vec("-?[a-zA-Z0-9é=:@.-]{0,6}", 0..6)) {
            let _ = Options::parse("sendmail", args);
        }
    }

    #[test]
    fn program_name_picks_the_mode() {
        assert_eq!(Options::parse("mailq", ["-v"]).unwrap().mode, Mode::ListQueue);
        assert_eq!(Options::parse("newaliases", Vec::<String>::new()).unwrap().mode, Mode::NewAliases);
    }
}
