//! `smarthost policy`: the spec's access vectors (`routing/tests/vectors/access/`)
//! through the binary, and each output format, the configuration file and
//! the exit statuses on a fixture access map, byte for byte.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{Outcome, SMARTHOST, Scratch, Stdin};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../routing/tests/vectors/access")
}

fn policy(scratch: &Scratch, args: &[&str]) -> Outcome {
    let mut all = vec!["policy"];
    all.extend_from_slice(args);
    scratch.run(SMARTHOST, &all, Stdin::Null)
}

/// A scratch directory holding the policy fixtures.
fn fixtures() -> Scratch {
    let scratch = Scratch::new();
    for name in ["access", "relay-domains", "relay.toml"] {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy").join(name);
        fs::copy(&source, scratch.path(name)).expect("copy a fixture");
    }
    scratch
}

/// The configuration file a vector folder's `options` stand for.
fn vector_config(dir: &Path) -> String {
    let mut top = String::new();
    let (mut names, mut relay, mut mechs, mut features) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rdns = None;
    for line in fs::read_to_string(dir.join("options")).unwrap().lines() {
        let (name, value) = line.split_once(' ').unwrap();
        let quoted = format!("{value:?}");
        match name {
            "hostname" => top.push_str(&format!("hostname = {quoted}\n")),
            "local-host-name" => names.push(quoted),
            "relay-domain" => relay.push(quoted),
            "trust-auth-mech" => mechs.push(quoted),
            "feature" => features.push(quoted),
            "require-rdns" => rdns = Some(if value == "on" { "true".to_string() } else { quoted }),
            other => panic!("unknown option {other}"),
        }
    }
    top.push_str(&format!(
        "local_host_names = [{}]\nrelay_domains = [{}]\n",
        names.join(", "),
        relay.join(", ")
    ));
    if dir.join("access").exists() {
        top.push_str(&format!("[maps]\naccess = {:?}\n", dir.join("access").display().to_string()));
    }
    top.push_str(&format!(
        "[policy]\ntrust_auth_mechs = [{}]\nfeatures = [{}]\n",
        mechs.join(", "),
        features.join(", ")
    ));
    if let Some(rdns) = rdns {
        top.push_str(&format!("require_rdns = {rdns}\n"));
    }
    top
}

#[test]
fn every_access_vector_through_the_binary() {
    let scratch = Scratch::new();
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(vectors()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let mut checked = 0;
    for dir in dirs {
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        let config = scratch.write(&format!("{folder}.toml"), vector_config(&dir).as_bytes());
        // One run per client, name, AUTH and sender, with all its recipients.
        let mut groups: BTreeMap<(String, String, String, String), Vec<Vec<String>>> = BTreeMap::new();
        let text = fs::read_to_string(dir.join("cases.tsv")).unwrap();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let columns: Vec<String> = line.split('\t').map(str::to_string).collect();
            if columns[1] == "-" {
                continue; // a local submission: the command always has a client address
            }
            let key = (columns[1].clone(), columns[2].clone(), columns[3].clone(), columns[4].clone());
            groups.entry(key).or_default().push(columns);
        }
        for ((addr, name, auth, from), cases) in groups {
            let mut args = vec![
                "--config".to_string(),
                config.display().to_string(),
                "--format".into(),
                "tsv".into(),
                "--client-addr".into(),
                addr,
                "--from".into(),
                from,
            ];
            match name.as_str() {
                "-" => {}
                "!temp" => args.extend(["--client-resolve".into(), "temp".into()]),
                forged if forged.ends_with("!forged") => args.extend([
                    "--client-name".into(),
                    forged.trim_end_matches("!forged").into(),
                    "--client-resolve".into(),
                    "forged".into(),
                ]),
                name => args.extend(["--client-name".into(), name.into()]),
            }
            if let Some((user, mechanism)) = auth.split_once(':') {
                args.extend(["--auth".into(), user.into(), "--auth-mech".into(), mechanism.into()]);
            }
            for case in &cases {
                args.extend(["--to".into(), case[5].clone()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let outcome = policy(&scratch, &args);
            let lines: Vec<String> = outcome
                .stdout_text()
                .lines()
                .filter(|l| !l.starts_with("CONNECT [") && !l.starts_with("MAIL FROM:"))
                .map(str::to_string)
                .collect();
            let expected: Vec<String> = cases
                .iter()
                .map(|c| [&c[5], &c[7], &c[8], &c[9], &c[10]].map(String::as_str).join("\t"))
                .collect();
            assert_eq!(
                lines,
                expected,
                "{folder} {:?}: {}",
                cases.iter().map(|c| &c[0]).collect::<Vec<_>>(),
                outcome.stderr
            );
            let verdicts: Vec<&str> = cases.iter().map(|c| c[7].as_str()).collect();
            let status = if verdicts.contains(&"reject") {
                77
            } else if verdicts.contains(&"defer") {
                75
            } else {
                0
            };
            assert_eq!(outcome.code, status, "{folder}: {}", outcome.stderr);
            checked += cases.len();
        }
    }
    assert!(checked >= 150, "only {checked} cases");
}

const OUTSIDER: &[&str] = &[
    "--config",
    "relay.toml",
    "--client-addr",
    "203.0.113.5",
    "--client-name",
    "mail.outside.example",
    "--from",
    "<alice@outside.example>",
    "--to",
    "<bob@example.net>",
    "--to",
    "<carol@x.partner.example>",
    "--to",
    "<dave@far.example>",
    "--to",
    "<user%far.example@example.net>",
    "--to",
    "friend@friend.example",
    "--to",
    "<a@b@example.net>",
];

#[test]
fn tsv_prints_a_line_per_recipient() {
    let scratch = fixtures();
    let mut args = OUTSIDER.to_vec();
    args.extend(["--format", "tsv"]);
    let outcome = policy(&scratch, &args);
    assert_eq!(
        outcome.stdout_text(),
        "<bob@example.net>\taccept\t250\t2.1.5\tOk\n\
         <carol@x.partner.example>\taccept\t250\t2.1.5\tOk\n\
         <dave@far.example>\treject\t550\t5.7.1\t<dave@far.example>... Relaying denied. Proper authentication required.\n\
         <user%far.example@example.net>\treject\t550\t5.7.1\t<user%far.example@example.net>... Relaying denied. Proper authentication required.\n\
         friend@friend.example\taccept\t250\t2.1.5\tOk\n\
         <a@b@example.net>\treject\t553\t5.1.3\t<a@b@example.net>... Invalid route address\n"
    );
    assert_eq!(outcome.code, 77, "{}", outcome.stderr);
    // The access map's IPv6 key with leading zeros is read normalised, and said so.
    assert_eq!(
        outcome.stderr,
        "smarthost: access: warning: key `connect:ipv6:2001:0db8:0002`: IPv6 key read as \
         `connect:ipv6:2001:db8:2` (sendmail would never match this spelling)\n"
    );
}

#[test]
fn text_explains_each_step() {
    let scratch = fixtures();
    let outcome = policy(
        &scratch,
        &["--config", "relay.toml", "--client-addr", "198.51.100.7", "--client-name", "dyn.isp.example"]
            .into_iter()
            .chain([
                "--auth",
                "alice",
                "--from",
                "alice@example.net",
                "--to",
                "dave@far.example",
                "--to",
                "<bob@example.net>",
            ])
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        outcome.stdout_text(),
        "client 198.51.100.7 (dyn.isp.example, PTR ok)\n\
         authenticated as alice with PLAIN\n\
         CONNECT [198.51.100.7]: accept\n\
         \x20 220 2.0.0 Ok\n\
         \x20 why: no check objected [accept=ok]\n\
         MAIL FROM:<alice@example.net>: accept\n\
         \x20 250 2.1.0 Ok\n\
         \x20 why: no check objected [accept=ok]\n\
         RCPT TO:<dave@far.example>: relay\n\
         \x20 250 2.1.5 Ok\n\
         \x20 why: authenticated as alice with PLAIN, a trusted mechanism [relay=trusted_auth]\n\
         RCPT TO:<bob@example.net>: accept\n\
         \x20 250 2.1.5 Ok\n\
         \x20 why: authenticated as alice with PLAIN, a trusted mechanism [accept=trusted_auth]\n"
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn json_has_the_client_each_step_and_each_recipient() {
    let scratch = fixtures();
    let outcome = policy(
        &scratch,
        &[
            "--config",
            "relay.toml",
            "--client-addr",
            "192.168.1.5",
            "--from",
            "x@held.example",
            "--to",
            "dave@far.example",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        outcome.stdout_text(),
        r#"{
  "client":{"addr":"192.168.1.5","name":null,"resolve":"FAIL","auth":null},
  "connect":{"stage":"connect","verdict":"accept","code":220,"enhanced":"2.0.0","text":"Ok","reason":"access","why":"access map entry `connect:192.168.1` is `RELAY`","quarantine":null},
  "sender":{"sender":"x@held.example","stage":"sender","verdict":"accept","code":250,"enhanced":"2.1.0","text":"Ok","reason":"access","why":"access map entry `from:held.example` is `QUARANTINE:sender under review`","quarantine":"sender under review"},
  "recipients":[
    {"recipient":"dave@far.example","stage":"recipient","verdict":"relay","code":250,"enhanced":"2.1.5","text":"Ok","reason":"access","why":"access map entry `connect:192.168.1` is `RELAY`","quarantine":"sender under review"}
  ]
}
"#
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn refused_connections_and_senders_get_a_line_of_their_own() {
    let scratch = fixtures();
    let run = |extra: &[&str]| {
        let mut args = vec!["--config", "relay.toml", "--format", "tsv", "--to", "bob@example.net"];
        args.extend_from_slice(extra);
        policy(&scratch, &args)
    };
    let missing = "Your mail server 203.0.113.5 is not properly DNS registered: it has no reverse DNS (PTR) record; \
                   ask its provider to add one";
    let outcome = run(&["--client-addr", "203.0.113.5"]);
    assert_eq!(
        outcome.stdout_text(),
        format!(
            "CONNECT [203.0.113.5]\treject\t550\t5.7.25\t{missing}\nbob@example.net\treject\t550\t5.7.25\t{missing}\n"
        )
    );
    assert_eq!(outcome.code, 77);
    let outcome = run(&["--client-addr", "203.0.113.5", "--client-resolve", "temp"]);
    let temp = "Cannot look up the reverse DNS (PTR) record of 203.0.113.5 right now; try again later";
    assert_eq!(
        outcome.stdout_text(),
        format!(
            "CONNECT [203.0.113.5]\tdefer\t451\t4.7.25\t{temp}\nbob@example.net\tdefer\t451\t4.7.25\t{temp}\n"
        )
    );
    assert_eq!(outcome.code, 75);
    let outcome = run(&["--client-addr", "203.0.113.67", "--client-name", "grey.example"]);
    assert_eq!(
        outcome.stdout_text(),
        "CONNECT [203.0.113.67]\tdefer\t451\t4.7.1\tGreylisted, try again\n\
         bob@example.net\tdefer\t451\t4.7.1\tGreylisted, try again\n"
    );
    let outcome = run(&[
        "--client-addr",
        "198.51.100.7",
        "--client-name",
        "h.example",
        "--from",
        "spammer@bad.example",
    ]);
    assert_eq!(
        outcome.stdout_text(),
        "MAIL FROM:<spammer@bad.example>\treject\t550\t5.7.1\t<spammer@bad.example>... Access denied\n\
         bob@example.net\treject\t550\t5.7.1\t<spammer@bad.example>... Access denied\n"
    );
    // IPv6 clients, the access key written with leading zeros (normalised).
    let outcome = run(&["--client-addr", "IPv6:2001:db8:2::9", "--to", "far@far.example"]);
    assert_eq!(
        outcome.stdout_text(),
        "bob@example.net\taccept\t250\t2.1.5\tOk\nfar@far.example\trelay\t250\t2.1.5\tOk\n"
    );
    assert_eq!(outcome.code, 0);
}

#[test]
fn flags_add_to_the_configuration_and_a_compiled_map_answers_the_same() {
    let scratch = fixtures();
    assert_eq!(scratch.makemap(&["hash", "access"], Stdin::File(&scratch.path("access"))).code, 0);
    let mut args = vec![
        "--config",
        "relay.toml",
        "--access",
        "access.db",
        "--relay-domain",
        "other.example",
        "--local-host-name",
        "mx.example.org",
        "--client-addr",
        "203.0.113.5",
        "--client-name",
        "mail.outside.example",
        "--format",
        "tsv",
    ];
    for to in ["u@other.example", "u@backup.example", "u@mx.example.org", "u@example.net", "u@[192.0.2.1]"] {
        args.extend(["--to", to]);
    }
    let outcome = policy(&scratch, &args);
    assert_eq!(
        outcome.stdout_text(),
        "u@other.example\taccept\t250\t2.1.5\tOk\n\
         u@backup.example\taccept\t250\t2.1.5\tOk\n\
         u@mx.example.org\taccept\t250\t2.1.5\tOk\n\
         u@example.net\taccept\t250\t2.1.5\tOk\n\
         u@[192.0.2.1]\taccept\t250\t2.1.5\tOk\n",
        "{}",
        outcome.stderr
    );
    assert_eq!(outcome.code, 0);
}

#[test]
fn features_change_the_decisions() {
    let scratch = fixtures();
    let base = [
        "--config",
        "relay.toml",
        "--client-addr",
        "203.0.113.66",
        "--to",
        "bob@example.net",
        "--format",
        "tsv",
    ];
    let outcome = policy(&scratch, &base);
    assert_eq!(
        outcome.stdout_text().lines().next(),
        Some("CONNECT [203.0.113.66]\treject\t550\t5.7.1\tAccess denied")
    );
    let mut delayed = base.to_vec();
    delayed.extend(["--feature", "delay_checks"]);
    let outcome = policy(&scratch, &delayed);
    assert_eq!(
        outcome.stdout_text(),
        "bob@example.net\treject\t550\t5.7.1\t<bob@example.net>... Access denied\n"
    );
}

#[test]
fn mistakes_exit_with_sysexits_codes_and_say_what_to_fix() {
    let scratch = fixtures();
    let outcome = policy(
        &scratch,
        &["--hostname", "h.example", "--client-addr", "mail.example", "--to", "a@b.example"],
    );
    assert_eq!(outcome.code, 64);
    assert_eq!(
        outcome.stderr,
        "smarthost: --client-addr `mail.example` is not an IP address (write 192.0.2.1, 2001:db8::1 or IPv6:2001:db8::1)\n"
    );
    let outcome = policy(
        &scratch,
        &["--hostname", "h.example", "--client-addr", "192.0.2.9", "--feature", "open_relay"],
    );
    assert_eq!(outcome.code, 64);
    assert!(
        outcome.stderr.starts_with("smarthost: unknown feature `open_relay`; known: delay_checks, "),
        "{}",
        outcome.stderr
    );
    let outcome =
        policy(&scratch, &["--hostname", "h.example", "--client-addr", "192.0.2.9", "--access", "nowhere"]);
    assert_eq!(outcome.code, 66);
    assert!(
        outcome.stderr.contains("nowhere: no such map (looked for nowhere, nowhere.db, nowhere.cdb)"),
        "{}",
        outcome.stderr
    );
    let outcome = policy(&scratch, &["--config", "missing.toml", "--client-addr", "192.0.2.9"]);
    assert_eq!(
        (outcome.code, outcome.stderr.as_str()),
        (66, "smarthost: missing.toml: no such configuration file\n")
    );
    scratch.write("bad.toml", b"[policy]\nrequire_rdns = \"sometimes\"\n");
    let outcome = policy(&scratch, &["--config", "bad.toml", "--client-addr", "192.0.2.9"]);
    assert_eq!(outcome.code, 78);
    assert_eq!(
        outcome.stderr,
        "smarthost: bad.toml: key `policy.require_rdns` must be true, false or \"forward-confirm\", not string\n"
    );
    scratch.write("features.toml", b"hostname = \"h.example\"\n[policy]\nfeatures = [\"nouucp=maybe\"]\n");
    let outcome = policy(&scratch, &["--config", "features.toml", "--client-addr", "192.0.2.9"]);
    assert_eq!(outcome.code, 78);
    assert!(
        outcome.stderr.contains("key `policy.features`: feature `nouucp` takes `reject` or nothing"),
        "{}",
        outcome.stderr
    );
}
