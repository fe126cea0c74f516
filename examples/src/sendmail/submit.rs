//! `sendmail -bm` (the default): hand the message to the relay daemon over
//! SMTP, or, when no daemon answers, put it straight into the spool for the
//! next `smarthost serve` to deliver.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use smarthost_queue::{FsOptions, Recipient, Spool, StorageError, Timestamp};
use smarthost_relay::{Config, ListenMode};
use smarthost_smtp_core::tokio::{Destination, TlsClient, TlsClientOptions, deliver};
use smarthost_smtp_core::{
    Body, ClientConfig, Envelope, FailureKind, MailParams, MessageResult, Notify, Phase, RcptParams,
    RecipientResult, Ret, TlsPolicy,
};

use super::message::{Additions, Message, cut_at_dot, date, from_value, message_id, prepare};
use super::options::Options;
use super::{Exit, Failure};

/// How long connecting to the daemon may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What is submitted: the envelope and the prepared content.
#[derive(Debug)]
pub(crate) struct Submission {
    pub(crate) sender: String,
    pub(crate) recipients: Vec<String>,
    pub(crate) content: Vec<u8>,
}

/// Runs `-bm`: reads standard input, prepares the message and submits it.
pub(crate) fn run(options: &Options, config: &Config, hostname: &str) -> Result<(), Failure> {
    // The daemon refuses a message over its SIZE limit; reading no more
    // than that (and a byte to tell) keeps a runaway pipe out of memory.
    let limit = config.policy.max_message_size;
    let mut input = Vec::new();
    io::stdin().lock().take(limit.bytes().saturating_add(1)).read_to_end(&mut input).map_err(|e| {
        Failure::new(Exit::IoErr, format!("cannot read the message from standard input: {e}"))
    })?;
    if input.len() as u64 > limit.bytes() {
        return Err(Failure::new(
            Exit::DataErr,
            format!(
                "552 5.3.4 Message is too large: over [policy] max_message_size = {limit}; it was not sent"
            ),
        ));
    }
    let submission = build(options, hostname, &input, SystemTime::now())?;
    submit(options, config, hostname, &submission)
}

/// The envelope and content for `input`, as sendmail would make them.
pub(crate) fn build(
    options: &Options,
    hostname: &str,
    input: &[u8],
    now: SystemTime,
) -> Result<Submission, Failure> {
    let sender = sender(options, hostname)?;
    let shown_sender = if sender.is_empty() { format!("MAILER-DAEMON@{hostname}") } else { sender.clone() };
    let full_name = options.full_name.clone().or_else(|| std::env::var("NAME").ok());
    let additions = Additions {
        from: from_value(&shown_sender, full_name.as_deref()),
        date: date(now),
        message_id: message_id(now, hostname),
    };
    let Message { content: prepared, header_recipients } =
        prepare(cut_at_dot(input, options.ignore_dots), &additions);
    // sendmail's submission program writes this trace too: it names the
    // real user, whatever -f claims.
    let mut content = format!(
        "Received: (from {}@localhost)\r\n\tby {hostname} (smarthost sendmail);\r\n\t{}\r\n",
        login_name(),
        additions.date
    )
    .into_bytes();
    content.extend_from_slice(&prepared);
    let given: Vec<String> =
        options.recipients.iter().flat_map(|word| split_list(word)).map(|a| qualify(&a, hostname)).collect();
    let recipients: Vec<String> = if options.read_recipients {
        // -t as the BSD sendmail manual words it, and Exim does: addresses
        // on the command line are suppressed, that is, they get no copy
        // even when the header lists them (Postfix adds them instead).
        let found: Vec<String> = header_recipients.iter().map(|a| qualify(a, hostname)).collect();
        found.into_iter().filter(|a| !given.iter().any(|g| g.eq_ignore_ascii_case(a))).collect()
    } else {
        given
    };
    if recipients.is_empty() {
        let message = if options.read_recipients {
            "No recipient addresses found in header"
        } else {
            "Recipient names must be specified"
        };
        return Err(Failure::new(Exit::Usage, message));
    }
    for address in &recipients {
        check_address(address)?;
    }
    Ok(Submission { sender, recipients, content })
}

/// Submits over SMTP to the first `smtp` listener; falls back to the spool
/// when nothing answers there.
fn submit(
    options: &Options,
    config: &Config,
    hostname: &str,
    submission: &Submission,
) -> Result<(), Failure> {
    let Some(addr) = submission_addr(config) else {
        if options.verbose {
            eprintln!(
                "sendmail: no [[listen]] with mode = \"smtp\"; queueing in {}",
                config.spool.dir.display()
            );
        }
        return enqueue(options, config, submission, "the configuration has no smtp listener");
    };
    let result = smtp(options, hostname, addr, submission)?;
    if is_unreachable(&result) {
        let reason = result.recipients.first().map_or_else(String::new, |r| r.reply.to_string());
        if options.verbose {
            eprintln!("sendmail: the relay does not answer at {addr} ({reason}); queueing in the spool");
        }
        return enqueue(options, config, submission, &reason);
    }
    report(options, &submission.sender, &result)
}

/// Where the daemon takes mail from this host: the first `smtp`
/// listener, with a wildcard address (`0.0.0.0`, `::`) made the loopback.
pub(crate) fn submission_addr(config: &Config) -> Option<SocketAddr> {
    let listener = config.listen.iter().find(|listener| listener.mode == ListenMode::Smtp)?;
    let mut addr = listener.addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Some(addr)
}

/// One SMTP transaction with the daemon.
fn smtp(
    options: &Options,
    hostname: &str,
    addr: SocketAddr,
    submission: &Submission,
) -> Result<MessageResult, Failure> {
    let mut config = ClientConfig::new(hostname);
    // The daemon is on this host: TLS would protect nothing, and its
    // certificate is often self-signed.
    config.tls = TlsPolicy::Disabled;
    // The daemon is on this host: it answers at once or not at all, and
    // then the message goes to the spool rather than waiting minutes.
    config.timeouts.connect = CONNECT_TIMEOUT;
    let tls = tls_client()?;
    let envelope = envelope(options, submission);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::OsErr, format!("cannot start the runtime: {e}")))?;
    let destination = Destination { addr, server_name: addr.ip().to_string() };
    let results = runtime
        .block_on(deliver(&destination, &tls, config, vec![(envelope, submission.content.clone())]))
        .map_err(|e| Failure::new(Exit::Config, format!("{e}; set `hostname` in the configuration")))?;
    results
        .into_iter()
        .next()
        .ok_or_else(|| Failure::new(Exit::Software, "the SMTP client returned no result for the message"))
}

/// A TLS client for [`deliver`]. With [`TlsPolicy::Disabled`] it is never
/// used; a host without a CA bundle still gets one, which (never being
/// used) cannot weaken anything.
fn tls_client() -> Result<TlsClient, Failure> {
    TlsClientOptions::default()
        .build()
        .or_else(|_| {
            TlsClientOptions { dangerous_accept_invalid_certs: true, ..TlsClientOptions::default() }.build()
        })
        .map_err(|e| Failure::new(Exit::Software, format!("cannot set up the SMTP client: {e}")))
}

fn envelope(options: &Options, submission: &Submission) -> Envelope {
    let mut envelope = Envelope::new(submission.sender.clone(), submission.recipients.iter().cloned());
    let mut params = MailParams::default();
    params.ret = options.ret.as_deref().map(|ret| if ret == "full" { Ret::Full } else { Ret::Headers });
    params.envid = options.envid.as_deref().map(smarthost_smtp_core::xtext_encode);
    params.body =
        options.body.as_deref().map(|b| if b == "7BIT" { Body::SevenBit } else { Body::EightBitMime });
    envelope.mail_params = params;
    if let Some(notify) = options.notify.as_deref() {
        let notify = notify.split(',').fold(None::<Notify>, |set, word| {
            let one = match word {
                "success" => Notify::SUCCESS,
                "failure" => Notify::FAILURE,
                "delay" => Notify::DELAY,
                _ => Notify::NEVER,
            };
            Some(set.map_or(one, |set| set.union(one)))
        });
        for (_, rcpt) in &mut envelope.recipients {
            let mut params = RcptParams::default();
            params.notify = notify;
            *rcpt = params;
        }
    }
    envelope
}

/// Whether the daemon could not be reached at all: no connection, so
/// nothing was said and nothing can have been delivered.
fn is_unreachable(result: &MessageResult) -> bool {
    !result.possible_duplicate
        && result
            .recipients
            .iter()
            .all(|r| r.failure == Some(FailureKind::Connection) && r.phase == Phase::Connect && !r.remote)
}

/// sendmail's words for refused recipients, and the exit status.
fn report(options: &Options, sender: &str, result: &MessageResult) -> Result<(), Failure> {
    let mut status = Exit::Ok;
    // A refusal of the sender or of the whole message comes back once per
    // recipient; it is said once.
    let mut said: Vec<String> = Vec::new();
    for recipient in &result.recipients {
        let Some(kind) = recipient.failure else {
            if options.verbose {
                eprintln!("{}... Sent ({})", recipient.forward_path, recipient.reply);
            }
            continue;
        };
        status = status.max(exit_for(kind, recipient));
        let line = match recipient.phase {
            Phase::Rcpt => format!("{}... {}", recipient.forward_path, recipient.reply),
            Phase::Mail if sender.is_empty() => format!("<>... {}", recipient.reply),
            Phase::Mail => format!("{sender}... {}", recipient.reply),
            _ => recipient.reply.to_string(),
        };
        if !said.contains(&line) {
            eprintln!("sendmail: {line}");
            said.push(line);
        }
    }
    match status {
        Exit::Ok => Ok(()),
        // The messages are printed above.
        status => Err(Failure::new(status, "")),
    }
}

/// The sysexits status sendmail gives a refused recipient.
fn exit_for(kind: FailureKind, recipient: &RecipientResult) -> Exit {
    if kind != FailureKind::Permanent {
        return Exit::TempFail;
    }
    Exit::for_status(&recipient.status.to_string())
}

/// Writes the message into the spool for the next `smarthost serve`.
fn enqueue(options: &Options, config: &Config, submission: &Submission, why: &str) -> Result<(), Failure> {
    let dir = &config.spool.dir;
    let fs = FsOptions { sync: config.spool.sync, ..FsOptions::default() };
    let spool = match Spool::open(dir, fs) {
        Ok((spool, _recovery)) => spool,
        Err(StorageError::Locked(_)) => {
            return Err(Failure::new(
                Exit::TempFail,
                format!(
                    "the relay holds the spool {} but did not take the message over SMTP ({why}); \
                     the message was not sent: try again, and check `[[listen]]` in the configuration",
                    dir.display()
                ),
            ));
        }
        Err(error) => {
            return Err(Failure::new(
                Exit::CantCreat,
                format!("the relay is not running and the message cannot be queued: {error}"),
            ));
        }
    };
    let mut envelope = smarthost_queue::Envelope::new(
        submission.sender.clone(),
        submission.recipients.iter().map(Recipient::new).collect(),
        Timestamp::now(),
    );
    envelope.ret = options
        .ret
        .as_deref()
        .map(|ret| if ret == "full" { smarthost_queue::Ret::Full } else { smarthost_queue::Ret::Headers });
    envelope.envid.clone_from(&options.envid);
    envelope.client.protocol = "local".into();
    if let Some(notify) = options.notify.as_deref() {
        let notify = smarthost_queue::Notify {
            success: notify.contains("success"),
            failure: notify.contains("failure"),
            delay: notify.contains("delay"),
        };
        for recipient in &mut envelope.recipients {
            recipient.notify = Some(notify);
        }
    }
    let id = spool
        .enqueue(envelope, &submission.content)
        .map_err(|e| Failure::new(Exit::IoErr, format!("cannot queue the message: {e}")))?;
    if options.verbose {
        eprintln!("sendmail: queued as {id} in {}; `smarthost serve` delivers it", dir.display());
    }
    Ok(())
}

/// The envelope sender: `-f` (qualified; `<>` is the null sender), or the
/// login name at the host name.
fn sender(options: &Options, hostname: &str) -> Result<String, Failure> {
    let given = match &options.sender {
        Some(given) => given.trim().to_string(),
        None => return Ok(format!("{}@{hostname}", login_name())),
    };
    let bare = given.strip_prefix('<').and_then(|g| g.strip_suffix('>')).unwrap_or(&given).trim();
    if bare.is_empty() {
        return Ok(String::new());
    }
    let address = qualify(bare, hostname);
    check_address(&address)?;
    Ok(address)
}

/// The user running the command: `id -un` (the real user, as sendmail's
/// getpwuid), else `$LOGNAME` or `$USER`, else `nobody`.
fn login_name() -> String {
    let from_id = std::process::Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|name| name.trim().to_string());
    // The environment is the caller's to set: only characters that cannot
    // break an address or a header line are kept.
    let clean = |name: String| -> Option<String> {
        let name: String =
            name.chars().filter(|c| c.is_ascii_graphic() && !"<>()@,;:\\\"[]".contains(*c)).collect();
        (!name.is_empty()).then_some(name)
    };
    from_id
        .and_then(clean)
        .or_else(|| std::env::var("LOGNAME").ok().and_then(clean))
        .or_else(|| std::env::var("USER").ok().and_then(clean))
        .unwrap_or_else(|| "nobody".into())
}

/// An address with `@hostname` added when it has no domain, as sendmail
/// qualifies local names with `$j`.
pub(crate) fn qualify(address: &str, hostname: &str) -> String {
    let address = address.trim();
    let address = address.strip_prefix('<').and_then(|a| a.strip_suffix('>')).unwrap_or(address);
    if address.contains('@') { address.to_string() } else { format!("{address}@{hostname}") }
}

/// A command-line word may hold several addresses separated by commas
/// (`sendmail a@x,b@y`), as sendmail's recipient lists do.
fn split_list(word: &str) -> Vec<String> {
    super::message::header_addresses(word)
}

fn check_address(address: &str) -> Result<(), Failure> {
    if address.chars().any(char::is_control) || address.starts_with('@') || address.ends_with('@') {
        return Err(Failure::new(
            Exit::DataErr,
            format!("{}... Syntax error in address", address.escape_debug()),
        ));
    }
    Ok(())
}
