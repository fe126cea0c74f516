//! `smarthost config check|show` on the embedded default configuration and
//! on broken fixtures, comparing the output exactly.

mod common;

use std::fs;
use std::path::Path;

use common::{SMARTHOST, Scratch, Stdin};

/// Copies `tests/fixtures/config/NAME` into the scratch directory.
fn fixture(scratch: &Scratch, name: &str) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config").join(name);
    fs::read_to_string(&source).map_or_else(
        |e| panic!("read {}: {e}", source.display()),
        |text| {
            scratch.write(name, text.as_bytes());
            text
        },
    )
}

fn smarthost(scratch: &Scratch, args: &[&str]) -> common::Outcome {
    scratch.run(SMARTHOST, args, Stdin::Null)
}

#[test]
fn the_embedded_default_passes() {
    let scratch = Scratch::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("relay.toml");
    fs::copy(&example, scratch.path("relay.toml")).expect("copy examples/relay.toml");
    let outcome = smarthost(&scratch, &["config", "check", "--config", "relay.toml"]);
    assert_eq!(outcome.stdout_text(), "relay.toml: ok (1 warning)\n");
    assert_eq!(
        outcome.stderr,
        "relay.toml:78:10: warning: `auth.logins`: auth_logins does not exist, so no submission client can log \
         in; create it with `install -m 600 /dev/null auth_logins` and add `login password` lines\n"
    );
    assert_eq!(outcome.code, 0);

    // Once the logins file exists (mode 0600), nothing is left to say.
    scratch.write("auth_logins", b"alice  correct horse battery staple\n");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(scratch.path("auth_logins"), fs::Permissions::from_mode(0o600)).unwrap();
    let outcome = smarthost(&scratch, &["config", "check", "--config", "relay.toml"]);
    assert_eq!(
        (outcome.code, outcome.stdout_text(), outcome.stderr.as_str()),
        (0, "relay.toml: ok\n".into(), "")
    );
}

#[test]
fn a_broken_configuration_lists_every_error() {
    let scratch = Scratch::new();
    fixture(&scratch, "broken.toml");
    let expected = fixture(&scratch, "broken.stderr");
    let outcome = smarthost(&scratch, &["config", "check", "--config", "broken.toml"]);
    assert_eq!(outcome.stderr, expected);
    assert_eq!(outcome.stdout_text(), "");
    assert_eq!(outcome.code, 78, "EX_CONFIG");
    assert!(expected.ends_with("broken.toml: 11 errors, 1 warning\n"));
}

#[test]
fn the_files_it_names_are_checked() {
    let scratch = Scratch::new();
    fixture(&scratch, "files.toml");
    fixture(&scratch, "mailertable");
    let expected = fixture(&scratch, "files.stderr");
    let outcome = smarthost(&scratch, &["config", "check", "--config", "files.toml"]);
    assert_eq!(outcome.stderr, expected);
    assert_eq!(outcome.code, 78);
}

#[test]
fn a_missing_configuration_is_no_input() {
    let scratch = Scratch::new();
    let outcome = smarthost(&scratch, &["config", "check", "--config", "nowhere.toml"]);
    assert_eq!(
        outcome.stderr,
        "nowhere.toml: error: cannot read the configuration: No such file or directory (os error 2); check the \
         name, or start from examples/relay.toml\n"
    );
    assert_eq!(outcome.code, 66, "EX_NOINPUT");
    let outcome = smarthost(&scratch, &["config", "show", "--config", "nowhere.toml"]);
    assert_eq!(outcome.code, 66);
}

#[test]
fn show_prints_every_key_and_reads_back() {
    let scratch = Scratch::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("relay.toml");
    fs::copy(&example, scratch.path("relay.toml")).expect("copy examples/relay.toml");
    let outcome = smarthost(&scratch, &["config", "show", "--config", "relay.toml"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let shown = outcome.stdout_text();
    let dir = scratch.dir.path().display().to_string();
    for line in [
        format!("dir = \"{dir}/spool\""),
        "addr = \"127.0.0.1:2587\"\nmode = \"submission\"\nrequire_rdns = false".into(),
        "[mailers.relay]\nport = 25\ntls = \"opportunistic\"\nauth = \"if-offered\"".into(),
        "max_message_size = \"25MB\"".into(),
        "retry = [\"1m\", \"5m\", \"15m\", \"30m\", \"1h\", \"2h\", \"4h\"]".into(),
        format!("path = \"{dir}/mail/{{user}}/Maildir\""),
        "[log]\nformat = \"text\"".into(),
    ] {
        assert!(shown.contains(&line), "{line:?} not in:\n{shown}");
    }
    // What show prints is a configuration that check accepts, elsewhere too.
    let elsewhere = Scratch::new();
    elsewhere.write("shown.toml", shown.as_bytes());
    let outcome = smarthost(&elsewhere, &["config", "check", "--config", "shown.toml"]);
    assert_eq!(outcome.stdout_text(), "shown.toml: ok (1 warning)\n", "{}", outcome.stderr);
    let shown_again = smarthost(&elsewhere, &["config", "show", "--config", "shown.toml"]).stdout_text();
    assert_eq!(
        shown_again.lines().skip(1).collect::<Vec<_>>(),
        shown.lines().skip(1).collect::<Vec<_>>(),
        "all but the first line (which names the file)"
    );
}

#[test]
fn show_refuses_a_broken_configuration() {
    let scratch = Scratch::new();
    fixture(&scratch, "broken.toml");
    let outcome = smarthost(&scratch, &["config", "show", "--config", "broken.toml"]);
    assert_eq!(outcome.code, 78);
    assert_eq!(outcome.stdout_text(), "");
    assert!(outcome.stderr.contains("did you mean `relay_domains`?"), "{}", outcome.stderr);
}
