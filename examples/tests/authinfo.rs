//! `smarthost authinfo check|lookup` on AuthInfo files in a temporary directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{Outcome, SMARTHOST, Scratch, Stdin};

/// Every password in [`FILE`], none of which may ever be printed.
const PASSWORDS: [&str; 4] = ["Tr0ub4dor&3", "VHIwdWI0ZG9yJjM=", "0rgS3cret", "s3cretFallback"];

const FILE: &str = "\
# client credentials
AuthInfo:smtp.isp.example  \"U:relayuser@example.net\" \"P:Tr0ub4dor&3\" \"M:PLAIN LOGIN\"
AuthInfo:192.0.2.25        \"U:relay\" \"I:relay\" \"P=VHIwdWI0ZG9yJjM=\" \"M:CRAM-MD5\"
AuthInfoFrom:@example.org:smtp.isp.example \"U:org\" \"P:0rgS3cret\" \"R:example.org\"
AuthInfo:                  \"U:fallback\" \"P:s3cretFallback\"
";

fn smarthost(scratch: &Scratch, args: &[&str]) -> Outcome {
    let outcome = scratch.run(SMARTHOST, args, Stdin::Null);
    let stdout = outcome.stdout_text();
    for secret in PASSWORDS.iter().chain(&["Tr0ub4dor", "pa ss"]) {
        assert!(
            !stdout.contains(secret) && !outcome.stderr.contains(secret),
            "a password leaks: {args:?}\n{stdout}\n{}",
            outcome.stderr
        );
    }
    outcome
}

fn authinfo_file(scratch: &Scratch, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = scratch.write(name, text.as_bytes());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn lookup(scratch: &Scratch, args: &[&str]) -> Outcome {
    let mut all = vec!["authinfo", "lookup", "client-info"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--hostname", "mail.example.com"]);
    smarthost(scratch, &all)
}

/// The `entry:` line of a lookup.
fn entry(outcome: &Outcome) -> Option<String> {
    outcome.stdout_text().lines().find_map(|l| l.strip_prefix("entry: ").map(str::to_owned))
}

/// The `mechanism:` line of a lookup.
fn mechanism(outcome: &Outcome) -> String {
    let stdout = outcome.stdout_text();
    stdout.lines().find_map(|l| l.strip_prefix("mechanism: ").map(str::to_owned)).unwrap_or_default()
}

#[test]
fn check_lists_entries_redacted_and_warns_about_the_default_entry() {
    let scratch = Scratch::new();
    authinfo_file(&scratch, "client-info", FILE, 0o600);
    let outcome = smarthost(&scratch, &["authinfo", "check", "client-info"]);
    let stdout = outcome.stdout_text();
    assert_eq!(outcome.code, 0, "{stdout}{}", outcome.stderr);
    for wanted in [
        "authinfo:smtp.isp.example\t(client-info:2)",
        "authinfo:192.0.2.25\t(client-info:3)",
        "authinfofrom:@example.org:smtp.isp.example\t(client-info:4)",
        "authinfo:\t(client-info:5)",
        "    authorization id (U): relayuser@example.net\n    authentication id (I): relayuser@example.net\n    \
         password (P): <redacted>\n    realm (R): (default: this host's name)\n    mechanisms (M): PLAIN LOGIN\n",
        "    realm (R): example.org\n",
        "client-info: ok, 4 AuthInfo entries",
    ] {
        assert!(stdout.contains(wanted), "missing {wanted:?} in\n{stdout}");
    }
    assert_eq!(stdout.matches("password (P): <redacted>").count(), 4, "{stdout}");
    assert!(
        outcome.stderr.contains("warning: client-info: the default entry `AuthInfo:`"),
        "{}",
        outcome.stderr
    );

    // Without a default entry: no warning.
    let text: String =
        FILE.lines().filter(|l| !l.starts_with("AuthInfo: ")).map(|l| format!("{l}\n")).collect();
    authinfo_file(&scratch, "no-default", &text, 0o600);
    let outcome = smarthost(&scratch, &["authinfo", "check", "no-default"]);
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""));
}

#[test]
fn check_reads_a_compiled_map() {
    let scratch = Scratch::new();
    let source = authinfo_file(&scratch, "client-info", FILE, 0o600);
    let built = scratch.makemap(&["hash", "client-info"], Stdin::File(&source));
    assert_eq!(built.code, 0, "{}", built.stderr);
    std::fs::set_permissions(scratch.path("client-info.db"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let outcome = smarthost(&scratch, &["authinfo", "check", "client-info.db"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let stdout = outcome.stdout_text();
    assert!(stdout.contains("authinfo:192.0.2.25\t(client-info.db: key `authinfo:192.0.2.25`)"), "{stdout}");
    assert_eq!(stdout.matches("<redacted>").count(), 4, "{stdout}");
}

#[test]
fn check_refuses_a_file_others_can_read_with_the_fix() {
    let scratch = Scratch::new();
    authinfo_file(&scratch, "client-info", FILE, 0o644);
    for command in [&["authinfo", "check", "client-info"][..], &["authinfo", "lookup", "client-info", "x"]] {
        let outcome = smarthost(&scratch, command);
        assert_eq!((outcome.code, outcome.stdout.as_slice()), (2, &b""[..]), "{}", outcome.stderr);
        assert!(
            outcome.stderr.contains("client-info: mode is 0644")
                && outcome.stderr.contains("run `chmod 600 client-info`"),
            "{}",
            outcome.stderr
        );
    }
    let missing = smarthost(&scratch, &["authinfo", "check", "nowhere"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}

#[test]
fn check_reports_every_bad_entry_without_quoting_it() {
    let scratch = Scratch::new();
    let text = "AuthInfo:a.example \"U:a\" \"P:pa ss\"word\"\nAuthInfo:b.example \"P:Tr0ub4dor&3\"\n\
                AuthInfo:c.example \"U:c\" \"P:0rgS3cret\"\n";
    authinfo_file(&scratch, "client-info", text, 0o600);
    let outcome = smarthost(&scratch, &["authinfo", "check", "client-info"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("client-info:1: key `authinfo:a.example`:"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("client-info:2: key `authinfo:b.example`: no user"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("2 problem(s)"), "{}", outcome.stderr);
    assert!(outcome.stdout_text().contains("authinfo:c.example\t(client-info:3)"));

    // lookup refuses the file as the relay would.
    let outcome = smarthost(&scratch, &["authinfo", "lookup", "client-info", "c.example"]);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("smarthost authinfo check"), "{}", outcome.stderr);
}

#[test]
fn lookup_tries_host_then_address_then_the_default() {
    let scratch = Scratch::new();
    authinfo_file(&scratch, "client-info", FILE, 0o600);

    let by_host = lookup(&scratch, &["smtp.isp.example", "--ip", "192.0.2.25", "--tls"]);
    assert_eq!(by_host.code, 0, "{}", by_host.stderr);
    assert_eq!(entry(&by_host).as_deref(), Some("AuthInfo:smtp.isp.example"));
    assert!(by_host.stdout_text().starts_with("key `AuthInfo:smtp.isp.example`: found, matched\n"));
    assert!(by_host.stdout_text().contains("    authentication id (I): relayuser@example.net\n"));
    assert!(by_host.stdout_text().contains("    realm (R): mail.example.com (default: this host's name)\n"));

    let by_addr = lookup(&scratch, &["mx.other.example", "--ip", "192.0.2.25"]);
    assert_eq!(by_addr.code, 0, "{}", by_addr.stderr);
    assert_eq!(
        by_addr.stdout_text().lines().take(3).collect::<Vec<_>>(),
        [
            "key `AuthInfo:mx.other.example`: not found",
            "key `AuthInfo:192.0.2.25`: found, matched",
            "entry: AuthInfo:192.0.2.25"
        ]
    );
    assert!(by_addr.stdout_text().contains("    authorization id (U): relay\n"));
    assert_eq!(mechanism(&by_addr), "CRAM-MD5");
    assert_eq!(by_addr.stderr, "");

    let by_default = lookup(&scratch, &["mx.other.example", "--ip", "198.51.100.7"]);
    assert_eq!(by_default.code, 0, "{}", by_default.stderr);
    assert_eq!(entry(&by_default).as_deref(), Some("AuthInfo:"));
    assert!(by_default.stdout_text().contains("key `AuthInfo:198.51.100.7`: not found\n"));
    assert!(by_default.stderr.contains("the default entry `AuthInfo:`"), "{}", by_default.stderr);
}

#[test]
fn lookup_without_an_entry_exits_1() {
    let scratch = Scratch::new();
    let text: String =
        FILE.lines().filter(|l| !l.starts_with("AuthInfo: ")).map(|l| format!("{l}\n")).collect();
    authinfo_file(&scratch, "client-info", &text, 0o600);
    let outcome = lookup(&scratch, &["mx.other.example"]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(entry(&outcome), None);
    assert!(
        outcome.stdout_text().contains("key `AuthInfo:`: not found\nno entry applies"),
        "{}",
        outcome.stdout_text()
    );
}

#[test]
fn lookup_uses_the_sender_keys_first() {
    let scratch = Scratch::new();
    authinfo_file(&scratch, "client-info", FILE, 0o600);
    let outcome = lookup(&scratch, &["smtp.isp.example", "--sender", "alice@example.org"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text().lines().take(3).collect::<Vec<_>>(),
        [
            "key `AuthInfoFrom:alice@example.org:smtp.isp.example`: not found",
            "key `AuthInfoFrom:@example.org:smtp.isp.example`: found, matched",
            "entry: AuthInfoFrom:@example.org:smtp.isp.example",
        ]
    );
    assert!(outcome.stdout_text().contains("    realm (R): example.org\n"));
    // Another sender domain falls back to the host key.
    let other = lookup(&scratch, &["smtp.isp.example", "--sender", "bob@example.net"]);
    assert_eq!(entry(&other).as_deref(), Some("AuthInfo:smtp.isp.example"));
}

#[test]
fn lookup_in_access_map_mode_tries_parent_domains() {
    let scratch = Scratch::new();
    authinfo_file(&scratch, "client-info", "AuthInfo:isp.example \"U:parent\" \"P:Tr0ub4dor&3\"\n", 0o600);
    let exact = lookup(&scratch, &["smtp.isp.example"]);
    assert_eq!((exact.code, entry(&exact)), (1, None));
    let access = lookup(&scratch, &["smtp.isp.example", "--access-map"]);
    assert_eq!(access.code, 0, "{}", access.stderr);
    assert_eq!(entry(&access).as_deref(), Some("AuthInfo:isp.example"));
}

#[test]
fn plain_and_login_need_tls() {
    let scratch = Scratch::new();
    authinfo_file(&scratch, "client-info", FILE, 0o600);
    let host = "smtp.isp.example";

    let clear = lookup(&scratch, &[host, "--server-mechs", "PLAIN LOGIN"]);
    assert_eq!(clear.code, 1, "{}", clear.stderr);
    assert_eq!(entry(&clear).as_deref(), Some("AuthInfo:smtp.isp.example"));
    assert!(mechanism(&clear).starts_with("none: PLAIN, LOGIN would send the password in clear without TLS"));
    assert!(clear.stdout_text().contains("transport: cleartext (no --tls)\n"));

    let tls = lookup(&scratch, &[host, "--server-mechs", "PLAIN LOGIN", "--tls"]);
    assert_eq!((tls.code, mechanism(&tls).as_str()), (0, "PLAIN"), "{}", tls.stderr);
    let login_only = lookup(&scratch, &[host, "--server-mechs", "LOGIN", "--tls"]);
    assert_eq!((login_only.code, mechanism(&login_only).as_str()), (0, "LOGIN"));

    let none = lookup(&scratch, &[host, "--server-mechs", "CRAM-MD5 SCRAM-SHA-256", "--tls"]);
    assert_eq!(none.code, 1);
    assert!(mechanism(&none).starts_with("none: no candidate is offered"), "{}", none.stdout_text());
}

#[test]
fn default_mechanisms_prefer_scram_and_follow_the_server() {
    let scratch = Scratch::new();
    authinfo_file(&scratch, "client-info", FILE, 0o600);
    // The default entry has no M:, so DEFAULT_MECHANISMS apply.
    let all = lookup(&scratch, &["mx.other.example"]);
    assert_eq!((all.code, mechanism(&all).as_str()), (0, "SCRAM-SHA-256"));
    assert!(all.stdout_text().contains("(no --server-mechs: assumed all)"));
    let cram = lookup(&scratch, &["mx.other.example", "--server-mechs", "PLAIN CRAM-MD5 LOGIN"]);
    assert_eq!((cram.code, mechanism(&cram).as_str()), (0, "CRAM-MD5"));
    let plain = lookup(&scratch, &["mx.other.example", "--server-mechs", "plain"]);
    assert_eq!(plain.code, 1);
    assert!(mechanism(&plain).starts_with("none: PLAIN would send the password in clear"));
    let plain_tls = lookup(&scratch, &["mx.other.example", "--server-mechs", "plain", "--tls"]);
    assert_eq!((plain_tls.code, mechanism(&plain_tls).as_str()), (0, "PLAIN"));
}
