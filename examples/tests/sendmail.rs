//! `sendmail`: its command line, the message it makes, submission to a
//! daemon (a small recording SMTP server here), the spool fallback, and
//! the `-bt`, `-bv`, `-bp`, `-bs` and `-q` modes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use common::{Outcome, Scratch};
use proptest::prelude::*;
use smarthost::sendmail::message::{Additions, header_addresses, prepare};
use smarthost::sendmail::options::{Mode, Options};
use smarthost_queue::{FsOptions, FsStorage, Spool, Storage};

const SENDMAIL: &str = env!("CARGO_BIN_EXE_sendmail");

/// A configuration whose smtp listener is `port` on the loopback.
fn config(scratch: &Scratch, port: u16) -> String {
    let text = format!(
        "hostname = \"gw.example.net\"\n\n[spool]\ndir = \"spool\"\n\n[[listen]]\naddr = \"127.0.0.1:{port}\"\n\
         mode = \"smtp\"\n"
    );
    scratch.write("relay.toml", text.as_bytes()).display().to_string()
}

/// A loopback port that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn sendmail(scratch: &Scratch, args: &[&str], stdin: &[u8]) -> Outcome {
    let mut command = Command::new(SENDMAIL);
    command.env_remove("SMARTHOST_CONFIG").env_remove("NAME");
    run(scratch, command, args, stdin)
}

fn run(scratch: &Scratch, mut command: Command, args: &[&str], stdin: &[u8]) -> Outcome {
    command
        .args(args)
        .current_dir(scratch.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn sendmail");
    let mut pipe = child.stdin.take().unwrap();
    let _ = pipe.write_all(stdin);
    drop(pipe);
    let output = child.wait_with_output().unwrap();
    Outcome {
        code: output.status.code().expect("exited"),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

// ---- the command line ----

fn parse(args: &[&str]) -> Options {
    Options::parse("sendmail", args.iter().copied()).unwrap()
}

#[test]
fn options_cluster_and_take_arguments_both_ways() {
    let options = parse(&["-oi", "-t", "-f", "bob@example.org", "-Fbob", "--", "-x@example.org"]);
    assert!(options.ignore_dots && options.read_recipients);
    assert_eq!(options.sender.as_deref(), Some("bob@example.org"));
    assert_eq!(options.full_name.as_deref(), Some("bob"));
    assert_eq!(options.recipients, ["-x@example.org"]);
    let options = parse(&["-itfbob@example.org", "a@example.org", "b@example.org"]);
    assert!(options.ignore_dots && options.read_recipients);
    assert_eq!(options.sender.as_deref(), Some("bob@example.org"));
    assert_eq!(options.recipients, ["a@example.org", "b@example.org"]);
    // Ignored options keep their arguments away from the recipients.
    let options = parse(&["-odi", "-oem", "-L", "tag", "-X", "/tmp/log", "-G", "-U", "-Ofoo=bar", "r@x"]);
    assert_eq!(options.recipients, ["r@x"]);
    assert_eq!(options.mode, Mode::Deliver);
    let options = parse(&["-N", "success,failure", "-R", "hdrs", "-V", "env1", "-B", "8bitmime"]);
    assert_eq!(options.notify.as_deref(), Some("success,failure"));
    assert_eq!(options.ret.as_deref(), Some("hdrs"));
    assert_eq!(options.body.as_deref(), Some("8BITMIME"));
    assert_eq!(parse(&["-bv", "a@x"]).mode, Mode::Verify);
    assert_eq!(parse(&["-bt"]).mode, Mode::AddressTest);
    assert_eq!(parse(&["-bs"]).mode, Mode::Smtp);
    assert_eq!(parse(&["-bp"]).mode, Mode::ListQueue);
    assert_eq!(parse(&["-bi"]).mode, Mode::NewAliases);
    assert_eq!(parse(&["-bd", "-q1h"]).mode, Mode::Daemon);
}

#[test]
fn unknown_options_exit_64_with_getopts_words() {
    let scratch = Scratch::new();
    let outcome = sendmail(&scratch, &["-t", "-y"], b"");
    assert_eq!(outcome.code, 64);
    assert_eq!(outcome.stderr, "sendmail: invalid option -- 'y'\n");
    let outcome = sendmail(&scratch, &["-C"], b"");
    assert_eq!(
        (outcome.code, outcome.stderr.as_str()),
        (64, "sendmail: option requires an argument -- 'C'\n")
    );
}

// ---- the message ----

fn additions() -> Additions {
    Additions {
        from: "me@gw.example.net".into(),
        date: "Mon, 23 Nov 2026 14:00:00 +0000".into(),
        message_id: "<1@gw.example.net>".into(),
    }
}

#[test]
fn header_recipients_through_folds_groups_and_comments() {
    let input = b"To: \"Doe, John\" <john@example.org>,\n  (a comment) jane@example.org (Jane)\n\
        Cc: team: a@example.net,\n\tb@example.net;, <@hub.example:c@example.net>\n\
        Bcc: hidden@example.com\nSubject: hello\n\nBcc: this is the body\n";
    let message = prepare(input, &additions());
    assert_eq!(
        message.header_recipients,
        [
            "john@example.org",
            "jane@example.org",
            "a@example.net",
            "b@example.net",
            "c@example.net",
            "hidden@example.com"
        ]
    );
    let text = String::from_utf8(message.content).unwrap();
    assert!(!text.contains("hidden@example.com"), "{text}");
    assert!(text.ends_with("\r\n\r\nBcc: this is the body\r\n"), "the body is untouched: {text}");
    assert_eq!(header_addresses("undisclosed-recipients:;"), Vec::<String>::new());
}

/// A header field holding `addresses`, in one of the shapes mailers write.
fn field(name: &str, addresses: &[String], shape: u8) -> String {
    let items: Vec<String> = addresses
        .iter()
        .enumerate()
        .map(|(n, a)| match (shape + n as u8) % 4 {
            0 => a.clone(),
            1 => format!("\"Name, {n}\" <{a}>"),
            2 => format!("{a} (comment {n})"),
            _ => format!("Some One <{a}>"),
        })
        .collect();
    match shape % 3 {
        0 => format!("{name}: {}\n", items.join(", ")),
        1 => format!("{name}: {}\n", items.join(",\n\t")),
        _ => format!("{name}: group: {};\n", items.join(",\n ")),
    }
}

proptest! {
    #[test]
    fn bcc_never_leaves_and_recipients_come_back(
        to in prop::collection::vec("[a-z]{1,6}@to\\.example", 0..4),
        cc in prop::collection::vec("[a-z]{1,6}@cc\\.example", 0..4),
        bcc in prop::collection::vec("[a-z]{1,6}@bcc\\.example", 1..4),
        shapes in prop::collection::vec(0u8..12, 3),
        order in 0usize..3,
        body in "[a-z .]{0,40}(\n[a-z .]{0,40}){0,4}",
    ) {
        let mut fields = vec![
            ("To", field("To", &to, shapes[0])),
            ("Cc", field("Cc", &cc, shapes[1])),
            ("Bcc", field("Bcc", &bcc, shapes[2])),
        ];
        fields.rotate_left(order);
        let mut input = String::from("Subject: test\n");
        let mut expected: Vec<String> = Vec::new();
        for (name, text) in &fields {
            let list = match *name { "To" => &to, "Cc" => &cc, _ => &bcc };
            if list.is_empty() {
                continue;
            }
            input.push_str(text);
            for address in list {
                if !expected.contains(address) {
                    expected.push(address.clone());
                }
            }
        }
        input.push('\n');
        input.push_str(&body);
        let message = prepare(input.as_bytes(), &additions());
        let text = String::from_utf8(message.content).unwrap();
        prop_assert!(!text.contains("bcc.example"), "{}", text);
        prop_assert!(!text.lines().any(|line| line.to_ascii_lowercase().starts_with("bcc:")), "{}", text);
        prop_assert_eq!(message.header_recipients, expected);
        prop_assert!(text.split("\r\n").all(|line| !line.contains('\n')));
    }
}

// ---- submission to a daemon ----

/// One SMTP session's client side, as a tiny server saw it.
struct Transcript {
    mail: String,
    rcpt: Vec<String>,
    data: String,
}

/// The forward paths of the RCPT commands, without brackets or parameters.
fn rcpt_paths(transcript: &Transcript) -> Vec<String> {
    transcript
        .rcpt
        .iter()
        .map(|line| line[line.find('<').unwrap() + 1..line.find('>').unwrap()].to_string())
        .collect()
}

/// Accepts one connection and plays an ESMTP server that refuses
/// recipients whose local part is `unknown`.
fn recording_server() -> (u16, thread::JoinHandle<Transcript>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        serve(stream)
    });
    (port, handle)
}

fn serve(stream: TcpStream) -> Transcript {
    let mut out = stream.try_clone().unwrap();
    let mut input = BufReader::new(stream);
    let mut transcript = Transcript { mail: String::new(), rcpt: Vec::new(), data: String::new() };
    out.write_all(b"220 test.example ESMTP\r\n").unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).unwrap() == 0 {
            return transcript;
        }
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-test.example\r\n250-8BITMIME\r\n250 DSN\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            transcript.mail = line.trim_end().to_string();
            "250 2.1.0 Ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            transcript.rcpt.push(line.trim_end().to_string());
            if line.contains("<unknown@") {
                "550 5.1.1 User unknown\r\n".into()
            } else {
                "250 2.1.5 Ok\r\n".into()
            }
        } else if upper.starts_with("DATA") {
            out.write_all(b"354 go ahead\r\n").unwrap();
            let mut data = String::new();
            loop {
                let mut data_line = String::new();
                input.read_line(&mut data_line).unwrap();
                if data_line == ".\r\n" || data_line.is_empty() {
                    break;
                }
                data.push_str(&data_line);
            }
            transcript.data = data;
            "250 2.0.0 Ok: queued as TEST\r\n".into()
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 2.0.0 Bye\r\n").unwrap();
            return transcript;
        } else {
            "250 2.0.0 Ok\r\n".into()
        };
        out.write_all(reply.as_bytes()).unwrap();
    }
}

#[test]
fn submits_over_smtp_and_adds_the_missing_fields() {
    let scratch = Scratch::new();
    let (port, server) = recording_server();
    let cfg = config(&scratch, port);
    let input = b"To: carol@example.org\nSubject: hi\n\nline one\n.\nafter the dot\n";
    let outcome =
        sendmail(&scratch, &["-C", &cfg, "-i", "-f", "bob", "-F", "Bob Smith", "alice@example.org"], input);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, b"", "silent on success");
    let transcript = server.join().unwrap();
    assert_eq!(transcript.mail, "MAIL FROM:<bob@gw.example.net>");
    assert_eq!(rcpt_paths(&transcript), ["alice@example.org"]);
    let data = transcript.data;
    let (received, data) = data.split_at(data.find("To: ").unwrap());
    assert!(
        received.starts_with("Received: (from ")
            && received.contains("@localhost)\r\n\tby gw.example.net (smarthost sendmail);\r\n\t"),
        "{received}"
    );
    assert!(
        data.starts_with(
            "To: carol@example.org\r\nSubject: hi\r\nFrom: Bob Smith <bob@gw.example.net>\r\nDate: "
        ),
        "{data}"
    );
    assert!(data.contains("\r\nMessage-ID: <") && data.contains("@gw.example.net>\r\n\r\n"), "{data}");
    // With -i the lone dot is content, dot-stuffed on the wire.
    assert!(data.ends_with("\r\n\r\nline one\r\n..\r\nafter the dot\r\n"), "{data}");
}

#[test]
fn dsn_options_become_smtp_parameters() {
    let scratch = Scratch::new();
    let (port, server) = recording_server();
    let cfg = config(&scratch, port);
    let args = [
        "-C",
        &cfg,
        "-f",
        "bob@example.org",
        "-N",
        "success,failure",
        "-R",
        "hdrs",
        "-V",
        "id+1",
        "-B",
        "8BITMIME",
    ];
    let outcome = sendmail(&scratch, &[&args[..], &["alice@example.org"]].concat(), b"hi\n");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let transcript = server.join().unwrap();
    let mail = transcript.mail.to_ascii_uppercase();
    assert!(mail.starts_with("MAIL FROM:<BOB@EXAMPLE.ORG>"), "{mail}");
    for parameter in ["RET=HDRS", "ENVID=ID+2B1", "BODY=8BITMIME"] {
        assert!(mail.contains(parameter), "{parameter} in {mail}");
    }
    assert!(
        transcript.rcpt[0].to_ascii_uppercase().contains("NOTIFY=SUCCESS,FAILURE"),
        "{:?}",
        transcript.rcpt
    );
}

#[test]
fn a_lone_dot_ends_the_message_without_i() {
    let scratch = Scratch::new();
    let (port, server) = recording_server();
    let cfg = config(&scratch, port);
    let input = b"From: me@example.org\nDate: x\nMessage-ID: <a@b>\n\nline one\n.\nafter the dot\n";
    let outcome = sendmail(&scratch, &["-C", &cfg, "-f", "<>", "alice@example.org"], input);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let transcript = server.join().unwrap();
    assert_eq!(transcript.mail, "MAIL FROM:<>");
    assert!(
        transcript
            .data
            .ends_with("\r\nFrom: me@example.org\r\nDate: x\r\nMessage-ID: <a@b>\r\n\r\nline one\r\n"),
        "{}",
        transcript.data
    );
}

#[test]
fn the_default_sender_is_the_login_name_at_the_host_name() {
    let scratch = Scratch::new();
    let (port, server) = recording_server();
    let cfg = config(&scratch, port);
    let outcome = sendmail(&scratch, &["-C", &cfg, "alice@example.org"], b"Subject: x\n\nhi\n");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let login = Command::new("id").arg("-un").output().unwrap();
    let login = String::from_utf8(login.stdout).unwrap();
    let transcript = server.join().unwrap();
    assert_eq!(transcript.mail, format!("MAIL FROM:<{}@gw.example.net>", login.trim()));
    assert!(
        transcript.data.contains(&format!("\r\nFrom: {}@gw.example.net\r\n", login.trim())),
        "{}",
        transcript.data
    );
}

#[test]
fn with_t_header_recipients_go_and_command_line_ones_are_removed() {
    let scratch = Scratch::new();
    let (port, server) = recording_server();
    let cfg = config(&scratch, port);
    let input = b"To: alice@example.org, bob@example.org\nBcc: carol\n\nhi\n";
    let outcome = sendmail(&scratch, &["-C", &cfg, "-t", "-f", "me@example.org", "bob@example.org"], input);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let transcript = server.join().unwrap();
    assert_eq!(rcpt_paths(&transcript), ["alice@example.org", "carol@gw.example.net"]);
    assert!(!transcript.data.contains("Bcc") && !transcript.data.contains("carol"), "{}", transcript.data);
}

#[test]
fn a_refused_recipient_is_reported_and_exits_67() {
    let scratch = Scratch::new();
    let (port, server) = recording_server();
    let cfg = config(&scratch, port);
    let outcome = sendmail(
        &scratch,
        &["-C", &cfg, "-f", "me@example.org", "unknown@example.org", "ok@example.org"],
        b"hi\n",
    );
    assert_eq!(outcome.code, 67, "{}", outcome.stderr);
    assert!(outcome.stderr.starts_with("sendmail: unknown@example.org... 550 5.1.1"), "{}", outcome.stderr);
    let transcript = server.join().unwrap();
    assert!(transcript.data.ends_with("\r\n\r\nhi\r\n"), "{}", transcript.data);
}

// ---- the spool fallback ----

fn queued(spool: &Path) -> Vec<(String, Vec<String>, Vec<u8>)> {
    let storage = FsStorage::open_read_only(spool).unwrap();
    let recovery = storage.recover().unwrap();
    recovery
        .messages
        .iter()
        .map(|m| {
            let body = storage.body(m.id).unwrap();
            (
                m.envelope.sender.clone(),
                m.envelope.recipients.iter().map(|r| r.address.clone()).collect(),
                body,
            )
        })
        .collect()
}

#[test]
fn without_a_daemon_the_message_goes_into_the_spool() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    let input = b"To: alice@example.org\nCc: Bob <bob@example.net>\nSubject: queued\n\n.\nbody\n";
    let outcome = sendmail(&scratch, &["-C", &cfg, "-t", "-i", "-f", "me@example.org"], input);
    assert_eq!((outcome.code, outcome.stderr.as_str(), outcome.stdout.as_slice()), (0, "", &b""[..]));
    let messages = queued(&scratch.path("spool"));
    assert_eq!(messages.len(), 1);
    let (sender, recipients, body) = &messages[0];
    assert_eq!(sender, "me@example.org");
    assert_eq!(recipients, &["alice@example.org", "bob@example.net"]);
    let body = String::from_utf8_lossy(body);
    assert!(
        body.starts_with("Received: (from ")
            && body.contains("\r\nTo: alice@example.org\r\n")
            && body.ends_with("\r\n\r\n.\r\nbody\r\n"),
        "{body}"
    );
    // mailq shows it.
    let listing = sendmail(&scratch, &["-C", &cfg, "-bp"], b"");
    assert_eq!(listing.code, 0, "{}", listing.stderr);
    let text = listing.stdout_text();
    assert!(text.contains("<me@example.org>") && text.contains("<bob@example.net> pending"), "{text}");
}

#[test]
fn a_locked_spool_without_a_listener_is_a_temporary_failure() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    let (_held, _) = Spool::open(scratch.path("spool"), FsOptions::default()).unwrap();
    let outcome = sendmail(&scratch, &["-C", &cfg, "-f", "me@example.org", "a@example.org"], b"hi\n");
    assert_eq!(outcome.code, 75, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("not sent"), "{}", outcome.stderr);
}

// ---- the other modes ----

#[test]
fn mailq_on_an_empty_spool() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    drop(Spool::open(scratch.path("spool"), FsOptions::default()).unwrap());
    let outcome = sendmail(&scratch, &["-C", &cfg, "-bp"], b"");
    assert_eq!(
        (outcome.code, outcome.stdout_text().as_str()),
        (0, "Mail queue is empty\n"),
        "{}",
        outcome.stderr
    );
    // Called as mailq, with $SMARTHOST_CONFIG.
    let mailq = scratch.path("mailq");
    std::os::unix::fs::symlink(SENDMAIL, &mailq).unwrap();
    let mut command = Command::new(&mailq);
    command.env("SMARTHOST_CONFIG", &cfg);
    let outcome = run(&scratch, command, &[], b"");
    assert_eq!(
        (outcome.code, outcome.stdout_text().as_str()),
        (0, "Mail queue is empty\n"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn bs_without_a_daemon_says_421() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    let outcome = sendmail(&scratch, &["-C", &cfg, "-bs"], b"QUIT\r\n");
    assert_eq!(outcome.code, 75);
    assert_eq!(outcome.stdout_text(), "421 4.3.0 gw.example.net mail system is not running\r\n");
}

#[test]
fn bs_relays_the_session() {
    let scratch = Scratch::new();
    let (port, server) = recording_server();
    let cfg = config(&scratch, port);
    let outcome = sendmail(&scratch, &["-C", &cfg, "-bs"], b"EHLO me\r\nQUIT\r\n");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "220 test.example ESMTP\r\n250-test.example\r\n250-8BITMIME\r\n250 DSN\r\n221 2.0.0 Bye\r\n"
    );
    server.join().unwrap();
}

#[test]
fn q_asks_the_daemon_through_the_control_socket() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    std::fs::create_dir(scratch.path("spool")).unwrap();
    let listener =
        UnixListener::bind(scratch.path("spool").join(smarthost::sendmail::CONTROL_SOCKET)).unwrap();
    let daemon = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = String::new();
        BufReader::new(stream.try_clone().unwrap()).read_line(&mut request).unwrap();
        stream.write_all(b"ok 3\n").unwrap();
        request
    });
    let outcome = sendmail(&scratch, &["-C", &cfg, "-qRexample.org"], b"");
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""));
    assert_eq!(daemon.join().unwrap(), "run example.org\n");
}

#[test]
fn q_without_a_daemon_delivers_in_process() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[local]\ndelivery = \"maildir\"\npath = \"mail/{user}/Maildir\"\n");
    std::fs::write(&cfg, text).unwrap();
    std::fs::create_dir_all(scratch.path("mail/alice/Maildir/cur")).unwrap();
    // No daemon: the message waits in the spool...
    let queued =
        sendmail(&scratch, &["-C", &cfg, "-i", "alice@gw.example.net"], b"Subject: later\n\nqueued\n");
    assert_eq!(queued.code, 0, "{}", queued.stderr);
    assert!(std::fs::read_dir(scratch.path("mail/alice/Maildir/cur")).unwrap().next().is_none());
    // ...until -q runs the queue in this process.
    let outcome = sendmail(&scratch, &["-C", &cfg, "-q"], b"");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome.stdout_text().starts_with("queue run: 1 messages in the queue, 0 still waiting"),
        "{}",
        outcome.stdout_text()
    );
    assert!(
        outcome.stderr.contains("to=<alice@gw.example.net>") && outcome.stderr.contains("stat=Sent"),
        "{}",
        outcome.stderr
    );
    let new: Vec<_> = std::fs::read_dir(scratch.path("mail/alice/Maildir/new")).unwrap().flatten().collect();
    assert_eq!(new.len(), 1);
    assert!(std::fs::read_to_string(new[0].path()).unwrap().contains("queued\n"));
}

#[test]
fn address_test_mode() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    let input = "# a comment\n\n3,0 alice@example.org\n/parse Root <root@gw.example.net>\n4 x@y\n/frob\n";
    let outcome = sendmail(&scratch, &["-C", &cfg, "-bt"], input.as_bytes());
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let expected = "\
ADDRESS TEST MODE (ruleset 3 NOT automatically invoked)
Enter <ruleset> <address>
> > > canonify           input: alice @ example . org
canonify         returns: alice < @ example . org . >
parse              input: alice < @ example . org . >
parse            returns: $# esmtp $@ example . org $: alice < @ example . org . >
> Cracked address = Root <$g>
Parsing envelope recipient address
canonify           input: Root < root @ gw . example . net >
canonify         returns: root < @ gw . example . net . >
parse              input: root < @ gw . example . net . >
parse            returns: $# local $: root
mailer local, user root
> Undefined ruleset 4
> Unknown \"/\" command /frob
> \n";
    assert_eq!(outcome.stdout_text(), expected);
}

#[test]
fn verify_mode() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    let outcome = sendmail(&scratch, &["-C", &cfg, "-bv", "alice@example.org", "root@gw.example.net"], b"");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "alice@example.org... deliverable: mailer esmtp, host example.org, user alice@example.org\n\
         root@gw.example.net... deliverable: mailer local, user root\n"
    );
    let outcome = sendmail(&scratch, &["-C", &cfg, "-bv", "bad@@x"], b"");
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    assert!(outcome.stdout_text().starts_with("bad@@x... character '@'"), "{}", outcome.stdout_text());
}

#[test]
fn a_message_over_the_size_limit_is_refused_before_sending() {
    let scratch = Scratch::new();
    let cfg = config(&scratch, closed_port());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[policy]\nmax_message_size = \"1kB\"\n");
    std::fs::write(&cfg, text).unwrap();
    let outcome = sendmail(&scratch, &["-C", &cfg, "-f", "me@example.org", "a@example.org"], &[b'x'; 2000]);
    assert_eq!(outcome.code, 65, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("max_message_size = 1kB"), "{}", outcome.stderr);
    assert!(!scratch.exists("spool"), "nothing was queued");
}

#[test]
fn bd_passes_the_daemons_exit_status_through() {
    let scratch = Scratch::new();
    let direct = scratch.run(common::SMARTHOST, &["serve", "--config", "missing.toml"], common::Stdin::Null);
    let outcome = sendmail(&scratch, &["-bd", "-q30m", "-C", "missing.toml"], b"");
    assert_eq!(outcome.code, direct.code, "{}", outcome.stderr);
    assert_ne!(outcome.code, 0);
}

#[test]
fn bi_and_newaliases_build_the_aliases_database() {
    let scratch = Scratch::new();
    scratch.write("aliases", b"postmaster: root\n");
    let cfg = scratch.write("relay.toml", b"hostname = \"gw.example.net\"\n[maps]\naliases = \"aliases\"\n");
    let cfg = cfg.display().to_string();
    let outcome = sendmail(&scratch, &["-bi", "-C", &cfg], b"");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(scratch.exists("aliases.db"));
    std::fs::remove_file(scratch.path("aliases.db")).unwrap();
    let newaliases = scratch.path("newaliases");
    std::os::unix::fs::symlink(SENDMAIL, &newaliases).unwrap();
    let mut command = Command::new(&newaliases);
    command.env("SMARTHOST_CONFIG", &cfg);
    let outcome = run(&scratch, command, &[], b"");
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(scratch.exists("aliases.db"));
}

#[test]
fn unreadable_configuration_exits_66() {
    let scratch = Scratch::new();
    let outcome = sendmail(&scratch, &["-C", "missing.toml", "-bp"], b"");
    assert_eq!(outcome.code, 66, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("missing.toml"), "{}", outcome.stderr);
}

// ---- against the project's own SMTP server ----

/// The smtp-core server's policy here: accept everything, keep the messages.
struct Keep(Vec<smarthost_smtp_core::Transaction>);

impl smarthost_smtp_core::tokio::ServerPolicy for Keep {
    async fn decide(&mut self, question: smarthost_smtp_core::Question) -> smarthost_smtp_core::Verdict {
        match question {
            smarthost_smtp_core::Question::Message(transaction) => {
                self.0.push(*transaction);
                smarthost_smtp_core::Verdict::queued("K1")
            }
            _ => smarthost_smtp_core::Verdict::accept(),
        }
    }
}

#[test]
fn submits_to_the_projects_smtp_server() {
    let scratch = Scratch::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let cfg = config(&scratch, listener.local_addr().unwrap().port());
    let server = thread::spawn(move || {
        runtime.block_on(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let config =
                std::sync::Arc::new(smarthost_smtp_core::ServerConfig::new("relay.example").unwrap());
            let mut policy = Keep(Vec::new());
            smarthost_smtp_core::tokio::serve_connection(tcp, config, None, &mut policy).await.unwrap();
            policy.0
        })
    });
    let input = b"To: Alice <alice@example.org>\nBcc: carol@example.net\nSubject: hi\n\n.leading dot\n.\n";
    let outcome = sendmail(&scratch, &["-C", &cfg, "-t", "-i", "-f", "bob@example.org"], input);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let kept = server.join().unwrap();
    assert_eq!(kept.len(), 1);
    let transaction = &kept[0];
    assert_eq!(transaction.reverse_path.to_string(), "<bob@example.org>");
    let recipients: Vec<String> = transaction.recipients.iter().map(|r| r.forward_path.to_string()).collect();
    assert_eq!(recipients, ["<alice@example.org>", "<carol@example.net>"]);
    let content = String::from_utf8_lossy(&transaction.content[transaction.received_len..]).into_owned();
    assert!(content.starts_with("Received: (from "), "{content}");
    assert!(!content.contains("carol"), "{content}");
    // Dot-stuffed by our client, unstuffed by the server: the lines as given.
    assert!(content.ends_with("\r\n\r\n.leading dot\r\n.\r\n"), "{content}");
}
