//! Local delivery against real files and processes in temporary
//! directories: Maildir, mbox with its locks, `/file` targets and programs.
//!
//! The tests run as root or not. As root, deliveries need a `RunAs`: files
//! are delivered as the test's own user (root owns them), programs as
//! `nobody` (uid 65534) in a directory everyone may write.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smarthost_relay::local::{
    LocalMessage, MboxLocking, ProgramCommand, RunAs, deliver_file, deliver_maildir, deliver_mbox,
    deliver_program, mailbox_path, running_as_root,
};

const CONTENT: &[u8] = b"Received: from client.example.org\r\nSubject: test\r\n\r\nHello Bob,\r\n\
From the desk of Alice.\r\n.\r\n";
const NOBODY: RunAs = RunAs { uid: 65_534, gid: 65_534 };

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

/// A message to deliver into `dir` as the test's own user.
fn file_message<'a>(dir: &Path, content: &'a [u8]) -> LocalMessage<'a> {
    let meta = fs::metadata(dir).unwrap();
    LocalMessage {
        run_as: running_as_root().then_some(RunAs { uid: meta.uid(), gid: meta.gid() }),
        ..message(content)
    }
}

/// A message for a program, and a directory the program may write in.
fn program_message(content: &[u8]) -> (tempfile::TempDir, LocalMessage<'_>) {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    (dir, LocalMessage { run_as: running_as_root().then_some(NOBODY), ..message(content) })
}

fn quick(wait: Duration) -> MboxLocking {
    MboxLocking { wait, ..MboxLocking::default() }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn maildir_delivery_leaves_an_lf_file_in_new() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail/bob/Maildir");
    let msg = file_message(dir.path(), CONTENT);
    let first = deliver_maildir(&maildir, &msg).unwrap();
    let second = deliver_maildir(&maildir, &msg).unwrap();
    assert_ne!(first, second);
    assert_eq!(files_in(&maildir.join("new")), {
        let mut both = vec![first.clone(), second];
        both.sort();
        both
    });
    assert!(files_in(&maildir.join("tmp")).is_empty(), "tmp/ is emptied");
    assert!(files_in(&maildir.join("cur")).is_empty());
    for sub in ["", "tmp", "new", "cur"] {
        let mode = fs::metadata(maildir.join(sub)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700, "{sub}");
    }
    assert_eq!(fs::metadata(&first).unwrap().mode() & 0o777, 0o600);
    let text = fs::read_to_string(&first).unwrap();
    assert_eq!(
        text,
        "Return-Path: <alice@example.org>\nReceived: from client.example.org\nSubject: test\n\nHello Bob,\n\
         From the desk of Alice.\n.\n"
    );
    let name = first.file_name().unwrap().to_str().unwrap();
    assert!(name.contains(&format!("P{}Q", std::process::id())), "{name}");
}

#[test]
fn maildir_path_from_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("{user}/Maildir");
    let maildir = mailbox_path(&template, "Bob").unwrap();
    let file = deliver_maildir(&maildir, &file_message(dir.path(), CONTENT)).unwrap();
    assert!(file.starts_with(dir.path().join("bob/Maildir/new")), "{}", file.display());
}

#[test]
fn maildir_as_root_gives_what_it_makes_to_the_user_and_refuses_links() {
    if !running_as_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("bob/Maildir");
    let msg = LocalMessage { run_as: Some(NOBODY), ..message(CONTENT) };
    let file = deliver_maildir(&maildir, &msg).unwrap();
    for path in [dir.path().join("bob"), maildir.clone(), maildir.join("tmp"), maildir.join("cur"), file] {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (NOBODY.uid, NOBODY.gid), "{}", path.display());
    }

    let elsewhere = tempfile::tempdir().unwrap();
    fs::remove_dir(maildir.join("tmp")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), maildir.join("tmp")).unwrap();
    let error = deliver_maildir(&maildir, &msg).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.2.0"));
    assert!(error.text.contains("symbolic link"), "{error}");
    assert!(files_in(elsewhere.path()).is_empty());

    let error = deliver_maildir(&maildir, &message(CONTENT)).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.3.5"), "root without a RunAs: {error}");
}

/// Splits an mbox the way a reader does and undoes the mboxrd quoting.
fn read_mbox(text: &str) -> Vec<String> {
    let mut messages: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("From ") {
            messages.push(String::new());
            continue;
        }
        let unquoted =
            line.strip_prefix('>').filter(|rest| rest.trim_start_matches('>').starts_with("From "));
        messages.last_mut().expect("starts with a From line").push_str(unquoted.unwrap_or(line));
    }
    for message in &mut messages {
        assert!(message.ends_with("\n\n"), "blank line after each message: {message:?}");
        message.pop();
    }
    messages
}

#[test]
fn mbox_entries_have_a_separator_quoting_and_a_blank_line() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let mut msg = file_message(dir.path(), CONTENT);
    deliver_mbox(&mbox, &msg, MboxLocking::default()).unwrap();
    msg.sender = "";
    deliver_mbox(&mbox, &msg, MboxLocking::default()).unwrap();
    let text = fs::read_to_string(&mbox).unwrap();
    let entry = |from: &str, sender: &str| {
        format!(
            "From {from} Tue Nov 14 22:13:20 2023\nReturn-Path: <{sender}>\nReceived: from client.example.org\n\
             Subject: test\n\nHello Bob,\n>From the desk of Alice.\n.\n\n"
        )
    };
    assert_eq!(text, entry("alice@example.org", "alice@example.org") + &entry("MAILER-DAEMON", ""));
    assert_eq!(fs::metadata(&mbox).unwrap().mode() & 0o777, 0o600);
    assert!(!dir.path().join("bob.lock").exists());
}

#[test]
fn an_unterminated_last_entry_gets_its_blank_line_first() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(&mbox, "From x Thu Jan  1 00:00:00 1970\nbody without end").unwrap();
    deliver_mbox(&mbox, &file_message(dir.path(), b"hi\r\n"), MboxLocking::default()).unwrap();
    let text = fs::read_to_string(&mbox).unwrap();
    assert!(
        text.starts_with("From x Thu Jan  1 00:00:00 1970\nbody without end\n\nFrom alice@example.org "),
        "{text}"
    );
}

#[test]
fn two_concurrent_writers_leave_a_well_formed_mbox() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let bodies: Vec<Vec<String>> = (0..2)
        .map(|writer| {
            (0..20)
                .map(|n| {
                    let filler = "a line of text that makes the message longer\r\n".repeat(200 * (n % 3));
                    format!("Subject: {writer}-{n}\r\n\r\nFrom writer {writer}\r\n{filler}>From end {n}\r\n")
                })
                .collect()
        })
        .collect();
    thread::scope(|scope| {
        for mine in &bodies {
            let (dir, mbox) = (dir.path(), &mbox);
            scope.spawn(move || {
                for body in mine {
                    deliver_mbox(mbox, &file_message(dir, body.as_bytes()), MboxLocking::default()).unwrap();
                }
            });
        }
    });
    let mut read = read_mbox(&fs::read_to_string(&mbox).unwrap());
    let mut expected: Vec<String> = bodies
        .iter()
        .flatten()
        .map(|body| format!("Return-Path: <alice@example.org>\n{}", body.replace("\r\n", "\n")))
        .collect();
    read.sort();
    expected.sort();
    assert_eq!(read.len(), 40);
    assert!(read == expected, "the messages read back differ from those delivered");
}

#[test]
fn a_held_dot_lock_makes_delivery_wait_then_fail_temporarily() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(dir.path().join("bob.lock"), "12345\n").unwrap();
    let started = Instant::now();
    let error = deliver_mbox(&mbox, &file_message(dir.path(), CONTENT), quick(Duration::from_millis(400)))
        .unwrap_err();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!((error.permanent, error.status), (false, "4.2.0"));
    assert!(error.text.contains("mailbox locked") && error.text.contains("bob.lock"), "{error}");
    assert!(dir.path().join("bob.lock").exists(), "another's lock is left alone");
    assert!(!mbox.exists(), "nothing written");
}

#[test]
fn a_dot_lock_released_during_the_wait_lets_delivery_through() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let lock = dir.path().join("bob.lock");
    fs::write(&lock, "12345\n").unwrap();
    thread::scope(|scope| {
        scope.spawn(|| {
            thread::sleep(Duration::from_millis(300));
            fs::remove_file(&lock).unwrap();
        });
        deliver_mbox(&mbox, &file_message(dir.path(), CONTENT), quick(Duration::from_secs(10))).unwrap();
    });
    assert_eq!(read_mbox(&fs::read_to_string(&mbox).unwrap()).len(), 1);
}

#[test]
fn a_stale_dot_lock_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    let lock = dir.path().join("bob.lock");
    let file = fs::File::create(&lock).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(600)).unwrap();
    drop(file);
    let locking = MboxLocking { stale_after: Duration::from_secs(300), ..quick(Duration::from_secs(2)) };
    deliver_mbox(&mbox, &file_message(dir.path(), CONTENT), locking).unwrap();
    assert!(!lock.exists());
    assert_eq!(read_mbox(&fs::read_to_string(&mbox).unwrap()).len(), 1);
}

#[test]
fn an_fcntl_lock_held_by_a_reader_makes_delivery_wait() {
    // Python's lockf is fcntl(F_SETLKW), as mutt's and mailx's locks are.
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(&mbox, "").unwrap();
    let script = "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\n\
                  print('locked', flush=True)\ntime.sleep(float(sys.argv[2]))\n";
    let reader = |seconds: &str| {
        let mut child = match Command::new("python3")
            .args(["-c", script])
            .arg(&mbox)
            .arg(seconds)
            .stdout(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(_) => return None, // no python3 here: nothing to hold the lock with
        };
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        assert_eq!(line, "locked\n");
        Some(child)
    };
    let Some(mut holder) = reader("30") else { return };
    let error = deliver_mbox(&mbox, &file_message(dir.path(), CONTENT), quick(Duration::from_millis(300)))
        .unwrap_err();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!((error.permanent, error.status), (false, "4.2.0"));
    assert!(error.text.contains("fcntl"), "{error}");
    assert_eq!(fs::read_to_string(&mbox).unwrap(), "", "nothing written");
    assert!(!dir.path().join("bob.lock").exists(), "our dot-lock is removed after the failure");

    let mut holder = reader("0.3").unwrap();
    deliver_mbox(&mbox, &file_message(dir.path(), CONTENT), quick(Duration::from_secs(10))).unwrap();
    holder.wait().unwrap();
    assert_eq!(read_mbox(&fs::read_to_string(&mbox).unwrap()).len(), 1);
}

#[test]
fn file_targets_follow_sendmails_rules() {
    let dir = tempfile::tempdir().unwrap();
    let msg = file_message(dir.path(), CONTENT);
    deliver_file(Path::new("/dev/null"), &msg, MboxLocking::default()).unwrap();

    let error = deliver_file(Path::new("archive"), &msg, MboxLocking::default()).unwrap_err();
    assert_eq!((error.permanent, error.status), (true, "5.3.5"));

    let script = dir.path().join("script");
    fs::write(&script, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let error = deliver_file(&script, &msg, MboxLocking::default()).unwrap_err();
    assert_eq!((error.permanent, error.status), (true, "5.2.0"));
    assert_eq!(fs::read_to_string(&script).unwrap(), "#!/bin/sh\n");

    let archive = dir.path().join("archive");
    deliver_file(&archive, &msg, MboxLocking::default()).unwrap();
    deliver_file(&archive, &msg, MboxLocking::default()).unwrap();
    assert_eq!(read_mbox(&fs::read_to_string(&archive).unwrap()).len(), 2);
}

#[test]
fn mbox_as_root_refuses_a_link_and_a_file_of_another_user() {
    if !running_as_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("passwd");
    fs::write(&victim, "root:x:0:0::/root:/bin/sh\n").unwrap();
    let mbox = dir.path().join("bob");
    std::os::unix::fs::symlink(&victim, &mbox).unwrap();
    let msg = LocalMessage { run_as: Some(NOBODY), ..message(CONTENT) };
    let error = deliver_mbox(&mbox, &msg, MboxLocking::default()).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.2.0"));
    assert!(error.text.contains("symbolic link"), "{error}");

    let error = deliver_mbox(&victim, &msg, MboxLocking::default()).unwrap_err();
    assert!(error.text.contains("owned by uid 0"), "{error}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "root:x:0:0::/root:/bin/sh\n");

    // Nor through a directory link a user made.
    let linked = dir.path().join("linked");
    std::os::unix::fs::symlink(dir.path(), &linked).unwrap();
    std::os::unix::fs::lchown(&linked, Some(NOBODY.uid), Some(NOBODY.gid)).unwrap();
    let error = deliver_mbox(&linked.join("dave"), &msg, MboxLocking::default()).unwrap_err();
    assert!(error.text.contains("a symbolic link owned by uid 65534"), "{error}");
    let error = deliver_maildir(&linked.join("dave/Maildir"), &msg).unwrap_err();
    assert!(error.text.contains("a symbolic link owned by uid 65534"), "{error}");
    assert!(!dir.path().join("dave").exists());
    // Root's own links are the administrator's.
    let spool = dir.path().join("spool");
    std::os::unix::fs::symlink(dir.path(), &spool).unwrap();
    deliver_mbox(&spool.join("erin"), &msg, MboxLocking::default()).unwrap();

    // A new mbox belongs to its user.
    let fresh = dir.path().join("carol");
    deliver_mbox(&fresh, &msg, MboxLocking::default()).unwrap();
    assert_eq!(fs::metadata(&fresh).unwrap().uid(), NOBODY.uid);
}

#[test]
fn a_program_gets_the_message_on_stdin() {
    let (dir, msg) = program_message(CONTENT);
    let out = dir.path().join("out");
    let command = ProgramCommand::from_alias(&format!("|cat > {}", out.display()));
    deliver_program(&command, &msg, Duration::from_secs(10)).unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        "Return-Path: <alice@example.org>\nReceived: from client.example.org\nSubject: test\n\nHello Bob,\n\
         From the desk of Alice.\n.\n"
    );
}

#[test]
fn a_program_gets_its_arguments_and_a_clean_environment() {
    let (dir, msg) = program_message(CONTENT);
    let out = dir.path().join("out");
    let command = ProgramCommand::new(
        "/bin/sh",
        ["-c", "{ echo \"args: $1 $2\"; env; } > \"$0\"", out.to_str().unwrap(), "{sender}", "{user}"],
    );
    let home = tempfile::tempdir().unwrap();
    let msg = LocalMessage { home: Some(home.path()), ..msg };
    deliver_program(&command, &msg, Duration::from_secs(10)).unwrap();
    let text = fs::read_to_string(&out).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.remove(0), "args: alice@example.org bob");
    for expected in [
        "SENDER=alice@example.org",
        "RECIPIENT=bob@example.net",
        "USER=bob",
        "LOGNAME=bob",
        "LOCAL=bob",
        "DOMAIN=example.net",
        "PATH=/usr/bin:/bin",
        &format!("HOME={}", home.path().display()),
    ] {
        assert!(lines.contains(&expected), "{expected} missing from {lines:?}");
    }
    // Nothing of the relay's own environment leaks (sh adds PWD, SHLVL, _).
    for line in &lines {
        let name = line.split('=').next().unwrap();
        assert!(
            [
                "SENDER",
                "RECIPIENT",
                "USER",
                "LOGNAME",
                "LOCAL",
                "DOMAIN",
                "PATH",
                "HOME",
                "PWD",
                "SHLVL",
                "_"
            ]
            .contains(&name),
            "unexpected {line}"
        );
    }
    assert!(lines.contains(&format!("PWD={}", home.path().display()).as_str()), "runs in HOME: {lines:?}");
}

#[test]
fn the_null_sender_reaches_a_program_as_empty_sender() {
    let (dir, msg) = program_message(CONTENT);
    let out = dir.path().join("out");
    let msg = LocalMessage { sender: "", ..msg };
    let command = ProgramCommand::new(
        "/bin/sh",
        ["-c", "echo \"[$SENDER] $1\" > \"$0\"", out.to_str().unwrap(), "{sender}"],
    );
    deliver_program(&command, &msg, Duration::from_secs(10)).unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), "[] MAILER-DAEMON\n");
}

#[test]
fn exit_statuses_are_read_as_sysexits() {
    let (_dir, msg) = program_message(CONTENT);
    let run =
        |script: &str| deliver_program(&ProgramCommand::from_alias(script), &msg, Duration::from_secs(10));

    let error = run("|cat >/dev/null; exit 75").unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.3.0"));
    assert!(error.text.contains("EX_TEMPFAIL"), "{error}");

    let error = run("|exit 67").unwrap_err();
    assert_eq!((error.permanent, error.status), (true, "5.1.1"));

    let error =
        run("|echo 'procmail: quota exceeded for bob' >&2; echo second line >&2; exit 1").unwrap_err();
    assert_eq!((error.permanent, error.status), (true, "5.3.0"));
    assert!(
        error.text.ends_with("exited with status 1 (unknown failure): procmail: quota exceeded for bob"),
        "{error}"
    );

    let error = run("|kill -TERM $$").unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.3.0"));
    assert!(error.text.contains("signal 15"), "{error}");

    run("|true").unwrap();
}

#[test]
fn a_long_stderr_line_is_capped() {
    let (_dir, msg) = program_message(CONTENT);
    let command = ProgramCommand::from_alias("|printf '%5000s' x | tr ' ' y >&2; exit 1");
    let error = deliver_program(&command, &msg, Duration::from_secs(10)).unwrap_err();
    assert!(error.text.len() < 400 && error.text.ends_with("yyy…"), "{error}");
}

#[test]
fn a_program_past_its_timeout_is_killed_with_its_children() {
    let (dir, msg) = program_message(CONTENT);
    let pid_file = dir.path().join("pid");
    let command =
        ProgramCommand::from_alias(&format!("|sleep 30 & echo $! > {}; sleep 30", pid_file.display()));
    let started = Instant::now();
    let error = deliver_program(&command, &msg, Duration::from_secs(1)).unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!((error.permanent, error.status), (false, "4.3.0"));
    assert!(error.text.contains("still running after 1 s"), "{error}");

    // The background sleep was in the program's process group: gone too
    // (or a zombie until init reaps it).
    let pid = fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let state = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = state.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'));
        if !alive {
            break;
        }
        assert!(Instant::now() < deadline, "the background child {pid} survived the timeout");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_missing_program_is_a_configuration_problem() {
    let (_dir, msg) = program_message(CONTENT);
    let command = ProgramCommand::new("/nonexistent/procmail", ["-d", "{user}"]);
    let error = deliver_program(&command, &msg, Duration::from_secs(10)).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.3.5"));
    assert!(error.text.contains("/nonexistent/procmail"), "{error}");
}

#[test]
fn as_root_programs_run_as_the_given_user_and_never_as_root() {
    if !running_as_root() {
        return;
    }
    let (dir, msg) = program_message(CONTENT);
    let out = dir.path().join("out");
    // Its uid and gid, and none of root's supplementary groups.
    let script = format!("|echo $(id -u) $(id -G) > {}", out.display());
    deliver_program(&ProgramCommand::from_alias(&script), &msg, Duration::from_secs(10)).unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), "65534 65534\n");

    // A home it cannot enter: the program runs in `/` instead (sendmail's D=$z:/).
    let home = tempfile::tempdir().unwrap();
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let shut_out = LocalMessage { home: Some(home.path()), ..msg };
    deliver_program(
        &ProgramCommand::from_alias(&format!("|pwd > {}", out.display())),
        &shut_out,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), "/\n");

    let as_root = LocalMessage { run_as: Some(RunAs { uid: 0, gid: 0 }), ..msg };
    let error =
        deliver_program(&ProgramCommand::from_alias("|true"), &as_root, Duration::from_secs(10)).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.3.5"));
    let unknown = LocalMessage { run_as: None, ..msg };
    let error =
        deliver_program(&ProgramCommand::from_alias("|true"), &unknown, Duration::from_secs(10)).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.3.5"));
}

#[test]
fn a_directory_the_relay_cannot_write_is_a_temporary_failure_naming_it() {
    if running_as_root() {
        return; // root writes anywhere
    }
    let dir = tempfile::tempdir().unwrap();
    let shut = dir.path().join("shut");
    fs::create_dir(&shut).unwrap();
    fs::set_permissions(&shut, fs::Permissions::from_mode(0o500)).unwrap();
    let msg = file_message(dir.path(), CONTENT);
    let error = deliver_maildir(&shut.join("Maildir"), &msg).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.2.0"));
    assert!(error.text.contains(&shut.display().to_string()) && error.text.contains("chmod"), "{error}");
    let error = deliver_mbox(&shut.join("bob"), &msg, MboxLocking::default()).unwrap_err();
    assert_eq!((error.permanent, error.status), (false, "4.2.0"));
    assert!(error.text.contains("bob.lock"), "the dot-lock is the first thing made: {error}");
    fs::set_permissions(&shut, fs::Permissions::from_mode(0o700)).unwrap();
}

/// Run in a child process whose file size limit is 16 blocks, with SIGXFSZ
/// ignored so that writing past it fails with EFBIG instead of killing.
const FSIZE_CHILD: &str = "SMARTHOST_TEST_FSIZE_CHILD";

#[test]
fn a_write_that_fails_midway_leaves_the_mbox_as_it_was() {
    const OLD: &str = "From x Thu Jan  1 00:00:00 1970\nold message\n\n";
    if let Some(mbox) = std::env::var_os(FSIZE_CHILD) {
        let mbox = PathBuf::from(mbox);
        let big = "a line of forty characters, more or less\r\n".repeat(2_000);
        let msg = file_message(mbox.parent().unwrap(), big.as_bytes());
        let error = deliver_mbox(&mbox, &msg, MboxLocking::default()).unwrap_err();
        assert_eq!((error.permanent, error.status), (false, "4.3.0"));
        assert!(error.text.contains("cannot write to"), "{error}");
        assert_eq!(fs::read_to_string(&mbox).unwrap(), OLD, "truncated back");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("bob");
    fs::write(&mbox, OLD).unwrap();
    // Its output is shown only if it fails: its "1 passed" line would
    // otherwise stand among this run's own results.
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 16; exec \"$0\" --exact a_write_that_fails_midway_leaves_the_mbox_as_it_was -q")
        .arg(std::env::current_exe().unwrap())
        .env(FSIZE_CHILD, &mbox)
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "the delivery under a file size limit: {}\n{}{}",
        child.status,
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert_eq!(fs::read_to_string(&mbox).unwrap(), OLD);
}
