//! Runs every SMTP transcript in `tests/vectors/server/*.txt`.
//!
//! # Format
//!
//! ```text
//! # comment
//! O: option[=value]    configuration, before the first C: line (see `apply_option`)
//! C: text              a client line; CR LF is added
//! C+: text             client bytes with escapes \r \n \t \0 \xHH \\; nothing added
//! C*: count text       `text` (escaped) repeated count times
//! S: prefix            the next reply's first line starts with `prefix`
//! S~: text             a line of the reply just matched contains `text`
//! S!: text             no line of the reply just matched contains `text`
//! !: tls               the session asked for STARTTLS; the handshake succeeds
//! !: wait N            N seconds pass and deadlines fire
//! !: closed / !: open  the session has (not) asked to close
//! !: messages N        N Message questions so far
//! !: message TEXT      the last message, without our Received: header, is TEXT (escaped)
//! ```
//!
//! Consecutive C lines form one flight, fed to the session in one
//! `handle_input` call. Before each flight and at the end, every reply the
//! server sent must have been matched by an S line.
//!
//! Each transcript is then run again with every flight cut at every byte
//! (flights over 512 bytes: near both ends and at a stride), and with every
//! flight fed one byte at a time: the server must send the
//! same bytes and receive the same messages (`O: nosplit` skips this, for
//! transcripts whose meaning depends on what arrives together, like T10).
//! And once more with every decision answered late, after the next input
//! arrived: the same again.

mod server_common;

use std::collections::VecDeque;
use std::fs;
use std::path::Path;
use std::time::Duration;

use server_common::{Harness, auth_config, config};
use smarthost_smtp_core::{ServerConfig, SyntaxMode, TimeoutPhase};

#[derive(Debug)]
enum Step {
    Flight(Vec<u8>),
    Expect(String),
    Contains(String),
    Lacks(String),
    Tls,
    Wait(u64),
    Closed(bool),
    Messages(usize),
    Message(Vec<u8>),
}

struct Transcript {
    name: String,
    config: ServerConfig,
    split: bool,
    steps: Vec<Step>,
}

#[test]
fn transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/server");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "transcripts missing in {}", dir.display());
    let mut flights = 0;
    for path in &names {
        let transcript = parse(path);
        let reference = run_checked(&transcript);
        // Decisions answered only after the next input arrived: the same.
        let deferred = run_split(&transcript, Some((usize::MAX, 0)), true);
        assert_eq!(deferred, reference, "{}: deferred decisions change the session", transcript.name);
        if transcript.split {
            flights += check_splits(&transcript, &reference);
        }
    }
    println!("{} transcripts, {flights} flights split at every byte", names.len());
}

/// What a run produced, for comparing split runs.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    wire: Vec<u8>,
    messages: Vec<Vec<u8>>,
    closed: bool,
}

fn parse(path: &Path) -> Transcript {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = fs::read_to_string(path).unwrap();
    let mut config = config();
    let mut split = true;
    let mut steps = Vec::new();
    let mut flight: Option<Vec<u8>> = None;
    for (number, line) in text.lines().enumerate() {
        let at = format!("{name}:{}", number + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, value) =
            line.split_once(": ").or_else(|| line.split_once(':').map(|(t, _)| (t, ""))).unwrap();
        if !tag.starts_with('C')
            && let Some(bytes) = flight.take()
        {
            steps.push(Step::Flight(bytes));
        }
        match tag {
            "O" if value == "nosplit" => split = false,
            "O" => apply_option(&mut config, value, &at),
            "C" => flight.get_or_insert_default().extend_from_slice(format!("{value}\r\n").as_bytes()),
            "C+" => flight.get_or_insert_default().extend(unescape(value)),
            "C*" => {
                let (count, text) = value.split_once(' ').unwrap();
                let text = unescape(text);
                for _ in 0..count.parse::<usize>().unwrap() {
                    flight.get_or_insert_default().extend_from_slice(&text);
                }
            }
            "S" => steps.push(Step::Expect(value.to_owned())),
            "S~" => steps.push(Step::Contains(value.to_owned())),
            "S!" => steps.push(Step::Lacks(value.to_owned())),
            "!" => steps.push(match value.split_once(' ').unwrap_or((value, "")) {
                ("tls", _) => Step::Tls,
                ("wait", n) => Step::Wait(n.parse().unwrap()),
                ("closed", _) => Step::Closed(true),
                ("open", _) => Step::Closed(false),
                ("messages", n) => Step::Messages(n.parse().unwrap()),
                ("message", text) => Step::Message(unescape(text)),
                _ => panic!("{at}: unknown event `{value}`"),
            }),
            _ => panic!("{at}: unknown tag `{tag}`"),
        }
    }
    if let Some(bytes) = flight {
        steps.push(Step::Flight(bytes));
    }
    Transcript { name, config, split, steps }
}

fn apply_option(config: &mut ServerConfig, option: &str, at: &str) {
    let (key, value) = option.split_once('=').unwrap_or((option, ""));
    let number = || value.parse::<u64>().unwrap_or_else(|_| panic!("{at}: `{key}` needs a number"));
    match key {
        "sendmail_status_codes" => config.sendmail_status_codes = true,
        "strict" => config.syntax = SyntaxMode::Strict,
        "tls_available" => config.tls_available = true,
        "auth" => config.auth = Some(auth_config()),
        "auth_without_tls" => {
            let mut auth = auth_config();
            auth.allow_without_tls = true;
            auth.policy.dangerous_allow_cleartext_without_tls = true;
            config.auth = Some(auth);
        }
        "require_auth" => config.require_auth = true,
        "no_chunking" => config.chunking = false,
        "no_smtputf8" => config.smtputf8 = false,
        "no_dsn" => config.dsn = false,
        "no_help" => config.help = false,
        "no_ask_helo" => config.ask.helo = false,
        "max_message_size" => config.max_message_size = Some(number()),
        "max_recipients" => config.max_recipients = number() as usize,
        "max_hops" => config.max_hops = number() as usize,
        "max_bad_commands" => config.max_bad_commands = number() as u32,
        "timeout_command" => {
            let _clamped = config.timeouts.set(TimeoutPhase::Command, Duration::from_secs(number()));
        }
        "timeout_datablock" => {
            let _clamped = config.timeouts.set(TimeoutPhase::DataBlock, Duration::from_secs(number()));
        }
        _ => panic!("{at}: unknown option `{key}`"),
    }
}

fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = [bytes.next().unwrap(), bytes.next().unwrap()];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).unwrap(), 16).unwrap());
            }
            other => panic!("bad escape \\{other:?} in {text:?}"),
        }
    }
    out
}

/// Splits new output into replies (lines up to one with a space after the code).
fn collect_replies(wire: &[u8], replies: &mut VecDeque<Vec<String>>, partial: &mut Vec<String>) {
    let text = String::from_utf8_lossy(wire);
    for line in text.split_terminator("\r\n") {
        partial.push(line.to_owned());
        if line.as_bytes().get(3) != Some(&b'-') {
            replies.push_back(std::mem::take(partial));
        }
    }
}

/// Runs the transcript, checking every step.
fn run_checked(t: &Transcript) -> Outcome {
    let name = &t.name;
    let mut h = Harness::new(t.config.clone());
    let mut replies = VecDeque::new();
    let mut partial = Vec::new();
    let mut last: Option<Vec<String>> = None;
    for (index, step) in t.steps.iter().enumerate() {
        collect_replies(&h.take_wire_bytes(), &mut replies, &mut partial);
        let at = format!("{name} step {}", index + 1);
        match step {
            Step::Flight(bytes) => {
                assert!(replies.is_empty(), "{at}: replies not in the transcript: {replies:?}");
                h.send(bytes);
            }
            Step::Expect(prefix) => {
                let reply = replies.pop_front().unwrap_or_else(|| panic!("{at}: no reply for `S: {prefix}`"));
                assert!(reply[0].starts_with(prefix.as_str()), "{at}: expected `{prefix}`, got {reply:?}");
                last = Some(reply);
            }
            Step::Contains(text) => {
                let reply = last.as_ref().unwrap();
                assert!(reply.iter().any(|l| l.contains(text.as_str())), "{at}: `{text}` not in {reply:?}");
            }
            Step::Lacks(text) => {
                let reply = last.as_ref().unwrap();
                assert!(!reply.iter().any(|l| l.contains(text.as_str())), "{at}: `{text}` in {reply:?}");
            }
            Step::Tls => {
                assert!(h.starttls, "{at}: no STARTTLS requested");
                h.starttls = false;
                h.tls_established();
            }
            Step::Wait(seconds) => h.wait(*seconds),
            Step::Closed(closed) => assert_eq!(h.closed, *closed, "{at}: closed"),
            Step::Messages(count) => assert_eq!(h.messages.len(), *count, "{at}: messages"),
            Step::Message(text) => {
                let message = h.messages.last().unwrap_or_else(|| panic!("{at}: no message"));
                assert_eq!(
                    String::from_utf8_lossy(message.message()),
                    String::from_utf8_lossy(text),
                    "{at}: message"
                );
            }
        }
    }
    collect_replies(&h.take_wire_bytes(), &mut replies, &mut partial);
    assert!(replies.is_empty() && partial.is_empty(), "{name}: replies not in the transcript: {replies:?}");
    check_reply_syntax(name, &h.wire.clone());
    Outcome {
        wire: h.wire.clone(),
        messages: h.messages.iter().map(|m| m.content.clone()).collect(),
        closed: h.closed,
    }
}

/// Runs the transcript without checks, feeding flight `cut.0` in two parts
/// at byte `cut.1`, or every flight byte by byte when `cut` is `None`.
fn run_split(t: &Transcript, cut: Option<(usize, usize)>, defer: bool) -> Outcome {
    let mut h = Harness::new(t.config.clone());
    h.defer = defer;
    let mut flight = 0;
    for step in &t.steps {
        match step {
            Step::Flight(bytes) => {
                match cut {
                    Some((f, at)) if f == flight => {
                        h.send(&bytes[..at]);
                        h.send(&bytes[at..]);
                    }
                    Some(_) => h.send(bytes),
                    None => bytes.iter().for_each(|b| h.send(std::slice::from_ref(b))),
                }
                flight += 1;
            }
            Step::Tls => {
                h.starttls = false;
                h.tls_established();
            }
            Step::Wait(seconds) => h.wait(*seconds),
            _ => {}
        }
    }
    h.take_wire_bytes();
    Outcome {
        wire: h.wire.clone(),
        messages: h.messages.iter().map(|m| m.content.clone()).collect(),
        closed: h.closed,
    }
}

/// Returns the number of flights checked.
fn check_splits(t: &Transcript, reference: &Outcome) -> usize {
    let flights: Vec<usize> =
        t.steps.iter().filter_map(|s| if let Step::Flight(b) = s { Some(b.len()) } else { None }).collect();
    let byte_by_byte = run_split(t, None, false);
    assert_eq!(
        String::from_utf8_lossy(&byte_by_byte.wire),
        String::from_utf8_lossy(&reference.wire),
        "{}: byte-by-byte replies differ",
        t.name
    );
    assert_eq!(&byte_by_byte, reference, "{}: byte-by-byte run differs", t.name);
    for (flight, &len) in flights.iter().enumerate() {
        // Long flights (the line-length and size tests) are cut near both
        // ends and at a stride; the byte-by-byte run covers every boundary.
        let cuts = (1..len).filter(|&at| len <= 512 || at < 256 || len - at < 256 || at % 61 == 0);
        for at in cuts {
            let outcome = run_split(t, Some((flight, at)), false);
            assert_eq!(
                String::from_utf8_lossy(&outcome.wire),
                String::from_utf8_lossy(&reference.wire),
                "{}: flight {} split at byte {at}",
                t.name,
                flight + 1
            );
            assert_eq!(&outcome, reference, "{}: flight {} split at byte {at}", t.name, flight + 1);
        }
    }
    flights.len()
}

fn check_reply_syntax(name: &str, wire: &[u8]) {
    if let Some(line) = server_common::bad_reply_line(wire) {
        panic!("{name}: malformed reply line {line:?}");
    }
}
