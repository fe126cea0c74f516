//! `smarthost route`: the spec's vectors (`routing/tests/vectors/`) through
//! the binary, byte for byte, and each output format and option.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Outcome, SMARTHOST, Scratch, Stdin};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../routing/tests/vectors")
}

fn route(scratch: &Scratch, args: &[&str], stdin: Stdin<'_>) -> Outcome {
    let mut all = vec!["route"];
    all.extend_from_slice(args);
    scratch.run(SMARTHOST, &all, stdin)
}

/// The flags a vector folder's `options` file stands for.
fn vector_flags(dir: &Path) -> Vec<String> {
    let mut flags = Vec::new();
    for line in fs::read_to_string(dir.join("options")).unwrap().lines() {
        let (name, value) = line.split_once(' ').unwrap();
        match (name, value) {
            ("hostname", _) => flags.extend(["--hostname".into(), value.into()]),
            ("local-host-name", _) => flags.extend(["--local-host-name".into(), value.into()]),
            ("smart-host", _) => flags.extend(["--smart-host".into(), value.into()]),
            ("extensions", "on") => flags.push("--extensions".into()),
            other => panic!("unknown option {other:?}"),
        }
    }
    flags
}

#[test]
fn every_vector_table_prints_its_expected_tsv() {
    for table in ["table-a", "table-b", "table-c"] {
        let dir = vectors().join(table);
        let expected = fs::read_to_string(dir.join("expected.tsv")).unwrap();
        let input: String =
            expected.lines().map(|line| format!("{}\n", line.split('\t').next().unwrap())).collect();
        let mailertable = dir.join("mailertable").display().to_string();
        let mut args = vec!["--format".to_string(), "tsv".into(), "--mailertable".into(), mailertable];
        args.extend(vector_flags(&dir));
        args.push("-".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let scratch = Scratch::new();
        let outcome = route(&scratch, &args, Stdin::Pipe(input.as_bytes()));
        assert_eq!(outcome.code, 0, "{table}: {}", outcome.stderr);
        assert_eq!(outcome.stdout_text(), expected, "{table}");
    }
}

#[test]
fn a_compiled_mailertable_routes_the_same() {
    let scratch = Scratch::new();
    let source = vectors().join("table-b/mailertable");
    assert_eq!(scratch.makemap(&["hash", "mailertable"], Stdin::File(&source)).code, 0);
    let expected = fs::read_to_string(vectors().join("table-b/expected.tsv")).unwrap();
    let input: String =
        expected.lines().map(|line| format!("{}\n", line.split('\t').next().unwrap())).collect();
    let outcome = route(
        &scratch,
        &[
            "--format",
            "tsv",
            "--mailertable",
            "mailertable.db",
            "--hostname",
            "mail.internal.example.com",
            "-",
        ],
        Stdin::Pipe(input.as_bytes()),
    );
    assert_eq!((outcome.code, outcome.stdout_text()), (0, expected), "{}", outcome.stderr);
    // A compiled map has no source lines to lint.
    assert!(!outcome.stderr.contains("warning: line"), "{}", outcome.stderr);
}

#[test]
fn text_format_uses_sendmails_words_and_lints_go_to_stderr() {
    let scratch = Scratch::new();
    let table = vectors().join("table-a/mailertable").display().to_string();
    let outcome = route(
        &scratch,
        &[
            "--mailertable",
            &table,
            "--hostname",
            "mail.internal.example.com",
            "user@bad.example",
            "user@loc.example",
            "user@a.b.example.net",
        ],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "user@bad.example: mailer *error*, reply 550 5.1.2 Host unknown here\n\
         user@loc.example: mailer local, user catchall\n\
         user@a.b.example.net: mailer esmtp, host a.b.relay.example.net, user user@a.b.example.net\n"
    );
    assert!(
        outcome.stderr.contains("line 14: key `bob@isp.net`: sendmail never looks up"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("line 17: key `port.example`: `587` is read as a host name"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn explain_lists_every_key_tried_in_order() {
    let scratch = Scratch::new();
    scratch.write("mailertable", b".net esmtp:[net-relay.example]\n");
    let outcome = route(
        &scratch,
        &["--mailertable", "mailertable", "--hostname", "gw.example", "--explain", "user@a.b.example.net"],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let text = outcome.stdout_text();
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("mailertable key `"))
        .map(|rest| rest.split('`').next().unwrap())
        .collect();
    assert_eq!(keys, ["a.b.example.net", ".b.example.net", ".example.net", ".net"], "{text}");
    assert!(text.contains("mailertable key `.net`: found `esmtp:[net-relay.example]`, matched"), "{text}");
    assert!(text.contains("expanded: `esmtp:[net-relay.example]` -> `esmtp:[net-relay.example]`"), "{text}");
    assert!(text.contains("local names: a.b.example.net is not one of this host's names"), "{text}");
    assert!(text.contains("mailer esmtp: port 25, TLS opportunistic, AUTH if-offered"), "{text}");

    // Nothing matches: the catch-all `.` is tried last, then the MX default.
    let outcome = route(
        &scratch,
        &["--mailertable", "mailertable", "--hostname", "gw.example", "--explain", "u@x.example.org"],
        Stdin::Null,
    );
    let text = outcome.stdout_text();
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("mailertable key `"))
        .map(|r| r.split('`').next().unwrap())
        .collect();
    assert_eq!(keys, ["x.example.org", ".example.org", ".org", "."], "{text}");
    assert!(text.contains("decided by: no mailertable entry and no smart host"), "{text}");
}

#[test]
fn json_is_an_array_of_objects() {
    let scratch = Scratch::new();
    let table = vectors().join("table-a/mailertable").display().to_string();
    let outcome = route(
        &scratch,
        &[
            "--format",
            "json",
            "--mailertable",
            &table,
            "--hostname",
            "h.example",
            "user@a.b.example.net",
            "bad \"addr\"@",
        ],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let text = outcome.stdout_text();
    assert!(text.starts_with("[\n  {\"address\":\"user@a.b.example.net\",\"mailer\":\"esmtp\""), "{text}");
    assert!(text.ends_with("}\n]\n"), "{text}");
    assert!(text.contains("{\"key\":\".example.net\",\"value\":\"esmtp:%1.relay.example.net\",\"expanded\":\"esmtp:a.b.relay.example.net\"}"), "{text}");
    assert!(text.contains("\"address\":\"bad \\\"addr\\\"@\""), "{text}");
    assert_json_shape(&text);

    let empty = route(&scratch, &["--format", "json", "--hostname", "h.example", "-"], Stdin::Null);
    assert_eq!((empty.code, empty.stdout_text().as_str()), (0, "[]\n"));
}

/// A structural check without a JSON library: brackets balance outside
/// strings, every string closes, and escapes are JSON's.
fn assert_json_shape(text: &str) {
    let (mut depth, mut in_string, mut escaped) = (Vec::new(), false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, '"' | '\\' | 'n' | 'r' | 't' | 'u' | '/' | 'b' | 'f') => escaped = false,
                (true, other) => panic!("bad escape \\{other} in {text}"),
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                (false, c) => assert!(u32::from(c) >= 0x20, "raw control character in {text}"),
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth.push(c),
            ']' => assert_eq!(depth.pop(), Some('['), "{text}"),
            '}' => assert_eq!(depth.pop(), Some('{'), "{text}"),
            _ => {}
        }
    }
    assert!(depth.is_empty() && !in_string, "unbalanced: {text}");
}

#[test]
fn a_config_file_sets_names_maps_smart_host_and_mailers() {
    let scratch = Scratch::new();
    scratch.fixture("route.toml");
    scratch.write("mailertable", b"lab.example lab:[10.0.0.5]\n.example.org relay:[hub.example.org]\n");
    let outcome = route(
        &scratch,
        &[
            "--config",
            "route.toml",
            "--explain",
            "u@example.net",
            "u@[192.0.2.1]",
            "u@lab.example",
            "u@a.example.org",
            "u@elsewhere.test",
        ],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let text = outcome.stdout_text();
    let routes: Vec<&str> = text.lines().filter(|line| !line.starts_with(' ')).collect();
    assert_eq!(
        routes,
        [
            "u@example.net: mailer local, user u",
            "u@[192.0.2.1]: mailer local, user u",
            "u@lab.example: mailer lab, host [10.0.0.5], user u@lab.example",
            "u@a.example.org: mailer relay, host [hub.example.org], user u@a.example.org",
            "u@elsewhere.test: mailer submission, host [smtp.isp.example], user u@elsewhere.test",
        ],
        "{text}"
    );
    assert!(
        text.contains("mailer lab: port 2525, TLS none, AUTH if-offered, certificates NOT verified"),
        "{text}"
    );
    assert!(text.contains("mailer relay: port 587, TLS required, AUTH required"), "{text}");

    // Flags override the file.
    let outcome = route(
        &scratch,
        &[
            "--config",
            "route.toml",
            "--hostname",
            "other.example",
            "--smart-host",
            "esmtp:[flag.example]",
            "u@gw.example.net",
        ],
        Stdin::Null,
    );
    assert_eq!(
        outcome.stdout_text(),
        "u@gw.example.net: mailer esmtp, host [flag.example], user u@gw.example.net\n",
        "{}",
        outcome.stderr
    );
}

#[test]
fn config_errors_name_the_file_and_key_and_exit_2() {
    let scratch = Scratch::new();
    scratch.write("bad.toml", b"[mailers.relay]\ntls = \"maybe\"\n");
    let outcome =
        route(&scratch, &["--config", "bad.toml", "--hostname", "h.example", "u@example.org"], Stdin::Null);
    assert_eq!(outcome.code, 2);
    assert!(
        outcome.stderr.contains("bad.toml: key `mailers.relay.tls`: unknown TLS policy `maybe`"),
        "{}",
        outcome.stderr
    );
    scratch.write("type.toml", b"hostname = 7\n");
    let outcome = route(&scratch, &["--config", "type.toml", "u@example.org"], Stdin::Null);
    assert_eq!(outcome.code, 2);
    assert!(
        outcome.stderr.contains("type.toml: key `hostname` must be a string, not integer"),
        "{}",
        outcome.stderr
    );
    let outcome = route(
        &scratch,
        &["--mailertable", "nonexistent", "--hostname", "h.example", "u@example.org"],
        Stdin::Null,
    );
    assert_eq!((outcome.code, outcome.stdout.len()), (2, 0));
    assert!(outcome.stderr.contains("nonexistent: no such map"), "{}", outcome.stderr);
    let outcome =
        route(&scratch, &["--smart-host", "relay:", "--hostname", "h.example", "u@example.org"], Stdin::Null);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
}

#[test]
fn resolve_prints_next_hops_from_a_zone_file() {
    let scratch = Scratch::new();
    scratch.fixture("route.zone");
    let args = ["--hostname", "gw.example.net", "--resolve", "--dns-zone", "route.zone", "--explain"];
    let mut text_args = args.to_vec();
    text_args.extend(["u@example.org", "u@nomail.example"]);
    let outcome = route(&scratch, &text_args, Stdin::Null);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let text = outcome.stdout_text();
    assert!(text.contains("  dns: MX example.org: 10 mx1.example.org., 20 mx2.example.org.\n"), "{text}");
    assert!(
        text.contains(
            "  next hop mx1.example.org 192.0.2.10 port 25 preference 10\n\
             \x20 next hop mx2.example.org 192.0.2.20 port 25 preference 20\n\
             \x20 next hop mx2.example.org 2001:db8::20 port 25 preference 20\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("u@nomail.example: mailer esmtp, host nomail.example, user u@nomail.example\n"),
        "{text}"
    );
    assert!(text.contains("  556 5.1.10 "), "{text}");

    let outcome = route(
        &scratch,
        &[
            "--hostname",
            "gw.example.net",
            "--resolve",
            "--dns-zone",
            "route.zone",
            "--format",
            "tsv",
            "--smart-host",
            "[relayhost.somedom.com]",
            "u@example.org",
            "user",
        ],
        Stdin::Null,
    );
    assert_eq!(
        outcome.stdout_text(),
        "u@example.org\trelay\t[relayhost.somedom.com]\tu@example.org\t198.51.100.7:25\nuser\tlocal\t\tuser\t\n",
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_bad_address_line_is_reported_and_the_run_goes_on() {
    let scratch = Scratch::new();
    let outcome = route(
        &scratch,
        &["--format", "tsv", "--hostname", "gw.example.net", "-"],
        Stdin::Pipe(b"a@example.org\r\n<broken\n\nb@gw.example.net\n"),
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let text = outcome.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "a@example.org\tesmtp\texample.org\ta@example.org");
    assert!(lines[1].starts_with("<broken\t*error*\t5.1.3\t501 5.1.3 "), "{text}");
    assert_eq!(lines[2], "b@gw.example.net\tlocal\t\tb");
}

#[test]
fn exit_status_is_0_when_everything_routes_even_to_the_error_mailer() {
    let scratch = Scratch::new();
    scratch.write("mailertable", b"bad.example error:5.1.2:550 Host unknown here\n");
    let outcome = route(
        &scratch,
        &["--mailertable", "mailertable", "--hostname", "h.example", "u@bad.example"],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let usage = route(&scratch, &["--hostname", "h.example"], Stdin::Null);
    assert_eq!(usage.code, 2, "clap's usage error");
}
