//! Unit tests and property tests of local delivery's formats.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::program::ProgramCommand;
use super::render::{Quoting, asctime, from_line, needs_quoting, write_message};
use super::*;

fn message(content: &[u8]) -> LocalMessage<'_> {
    LocalMessage {
        queue_id: "4A1B2C",
        sender: "alice@example.org",
        recipient: "bob@example.net",
        user: "bob",
        content,
        arrival: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        run_as: None,
        home: None,
    }
}

/// As root, deliveries need a RunAs: the test's own user (root) owns the
/// files, as the directory it made shows.
fn run_as_self(dir: &Path) -> Option<RunAs> {
    let meta = std::fs::metadata(dir).unwrap();
    running_as_root().then_some(RunAs { uid: meta.uid(), gid: meta.gid() })
}

fn rendered(content: &[u8], quoting: Quoting) -> String {
    let mut out = Vec::new();
    write_message(&mut out, &message(content), quoting).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn lines_that_look_like_separators_are_quoted_mboxrd_style() {
    for line in ["From ", "From x", ">From x", ">>>From x"] {
        assert!(needs_quoting(line.as_bytes()), "{line:?}");
    }
    for line in ["From", "From:", " From x", "from x", ">From", "> From x", "", ">>>"] {
        assert!(!needs_quoting(line.as_bytes()), "{line:?}");
    }
    let text =
        rendered(b"From the start\r\n>From quoted\r\nFrom: header-like\r\n>>From x\r\n", Quoting::Mboxrd);
    assert_eq!(
        text,
        "Return-Path: <alice@example.org>\n>From the start\n>>From quoted\nFrom: header-like\n>>>From x\n"
    );
    let plain = rendered(b"From the start\r\n", Quoting::None);
    assert_eq!(plain, "Return-Path: <alice@example.org>\nFrom the start\n");
}

#[test]
fn crlf_becomes_lf_and_a_last_line_gets_its_end() {
    assert_eq!(rendered(b"a\r\nb\nc", Quoting::None), "Return-Path: <alice@example.org>\na\nb\nc\n");
    // A CR inside a line stays; a CR before the added line end is the end.
    assert_eq!(rendered(b"a\rb\r\nc\r", Quoting::None), "Return-Path: <alice@example.org>\na\rb\nc\n");
    assert_eq!(rendered(b"", Quoting::None), "Return-Path: <alice@example.org>\n");
    assert_eq!(rendered(b"\r\n\r\n", Quoting::None), "Return-Path: <alice@example.org>\n\n\n");
}

#[test]
fn the_null_sender_is_an_empty_return_path() {
    let mut msg = message(b"x\r\n");
    msg.sender = "";
    let mut out = Vec::new();
    write_message(&mut out, &msg, Quoting::None).unwrap();
    assert!(out.starts_with(b"Return-Path: <>\n"));
}

#[test]
fn separator_lines_have_the_asctime_shape() {
    let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
    assert_eq!(asctime(at(0)), "Thu Jan  1 00:00:00 1970");
    assert_eq!(asctime(at(1_700_000_000)), "Tue Nov 14 22:13:20 2023");
    assert_eq!(asctime(at(1_709_164_800)), "Thu Feb 29 00:00:00 2024");
    assert_eq!(asctime(at(951_782_400 + 86_399)), "Tue Feb 29 23:59:59 2000");
    assert_eq!(asctime(at(4_102_444_800)), "Fri Jan  1 00:00:00 2100");
    assert_eq!(from_line("alice@example.org", at(0)), "From alice@example.org Thu Jan  1 00:00:00 1970\n");
    assert_eq!(from_line("", at(0)), "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n");
    // White space would end the address early; a newline would break the file.
    assert_eq!(from_line("\"a b\"@x\n", at(0)), "From \"a_b\"@x_ Thu Jan  1 00:00:00 1970\n");
}

#[test]
fn mailbox_paths_fold_the_user_and_replace_every_placeholder() {
    let path = |template: &str, user| mailbox_path(Path::new(template), user);
    assert_eq!(path("/var/mail/{user}", "Bob").unwrap(), Path::new("/var/mail/bob"));
    assert_eq!(path("/home/{user}/mail/{user}", "bob").unwrap(), Path::new("/home/bob/mail/bob"));
    assert_eq!(path("/var/mail/all", "bob").unwrap(), Path::new("/var/mail/all"));
    assert_eq!(path("/var/mail/{user}", "b.o+b-x").unwrap(), Path::new("/var/mail/b.o+b-x"));
    assert_eq!(path("/var/mail/{user}", "Jürgen").unwrap(), Path::new("/var/mail/jürgen"));
}

#[test]
fn mailbox_paths_refuse_names_that_leave_or_hide_in_the_directory() {
    let long = "a".repeat(256);
    for user in ["", "..", ".", ".hidden", "a/b", "../etc/passwd", "a\0b", "a\nb", "a\u{7f}", long.as_str()] {
        let error = mailbox_path(Path::new("/var/mail/{user}"), user).unwrap_err();
        assert!(error.permanent, "{user:?}");
        assert_eq!(error.status, "5.1.3", "{user:?}");
        assert!(error.text.contains("cannot name a mailbox"), "{error}");
    }
    assert!(mailbox_path(Path::new("/var/mail/{user}"), &"a".repeat(255)).is_ok());
}

#[test]
fn alias_commands_run_through_the_shell_unexpanded() {
    let alias = ProgramCommand::from_alias("  |  exec /usr/bin/vacation {sender}");
    assert_eq!(alias.args, ["-c", "exec /usr/bin/vacation {sender}"]);
    assert!(!alias.expand);
}

#[test]
fn errors_keep_permanent_and_the_status_class_together() {
    let t = LocalError::temporary("4.2.2", "full");
    assert!(!t.permanent && t.to_string() == "full");
    let p = LocalError::permanent("5.1.1", "no such user");
    assert!(p.permanent && p.status == "5.1.1");
    let error =
        LocalError::io("cannot write", Path::new("/x"), &std::io::Error::from_raw_os_error(libc::EDQUOT));
    assert_eq!((error.permanent, error.status), (false, "4.2.2"));
    let error =
        LocalError::io("cannot write", Path::new("/x"), &std::io::Error::from_raw_os_error(libc::ENOSPC));
    assert_eq!((error.permanent, error.status), (false, "4.3.1"));
    let error =
        LocalError::io("cannot create", Path::new("/x"), &std::io::Error::from_raw_os_error(libc::EACCES));
    assert_eq!((error.permanent, error.status), (false, "4.2.0"));
    assert!(error.text.contains("/x") && error.text.contains("chmod"), "{error}");
}

/// Splits an mbox into its messages the way a reader does: at each line
/// starting with `From ` (after a blank line), dropping the separator and
/// the closing blank line and removing one `>` from quoted lines.
fn read_mbox(text: &str) -> Vec<String> {
    let mut messages: Vec<Vec<&str>> = Vec::new();
    let mut previous_blank = true;
    for line in text.split_inclusive('\n') {
        if previous_blank && line.starts_with("From ") {
            messages.push(Vec::new());
        } else {
            messages.last_mut().expect("the file starts with a From line").push(line);
        }
        previous_blank = line == "\n";
    }
    messages
        .into_iter()
        .map(|mut lines| {
            assert_eq!(lines.pop(), Some("\n"), "each message ends with a blank line");
            lines
                .into_iter()
                .map(
                    |line| {
                        if needs_quoting(line.as_bytes()) { line[1..].to_string() } else { line.to_string() }
                    },
                )
                .collect()
        })
        .collect()
}

/// What delivery should keep of `content`: CRLF as LF, a final line end.
fn lf_normalised(content: &str) -> String {
    let mut text = content.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.replace("\r\n", "\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mbox_read_back_gives_the_messages_delivered(
        contents in proptest::collection::vec("((>{0,2}From |From|\r|\r\n|\n|[a-z :>])*)", 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("bob");
        for content in &contents {
            let mut msg = message(content.as_bytes());
            msg.run_as = run_as_self(dir.path());
            deliver_mbox(&mbox, &msg, MboxLocking::default()).unwrap();
        }
        let text = std::fs::read_to_string(&mbox).unwrap();
        let expected: Vec<String> = contents
            .iter()
            .map(|c| format!("Return-Path: <alice@example.org>\n{}", lf_normalised(c)))
            .collect();
        prop_assert_eq!(read_mbox(&text), expected);
        prop_assert!(!mbox.with_file_name("bob.lock").exists());
    }

    #[test]
    fn any_bytes_render_without_a_line_starting_with_from(content in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut out = Vec::new();
        write_message(&mut out, &message(&content), Quoting::Mboxrd).unwrap();
        prop_assert!(out.ends_with(b"\n"));
        for line in out.split(|&b| b == b'\n') {
            prop_assert!(!line.starts_with(b"From "));
        }
    }
}
