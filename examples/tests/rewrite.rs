//! `smarthost rewrite`: the spec's vectors (`routing/tests/vectors/masquerade/`)
//! through the binary, byte for byte; `--message`; `--config`; the
//! sender-by-recipient map; and the errors an operator sees.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Outcome, SMARTHOST, Scratch, Stdin};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../routing/tests/vectors/masquerade")
}

fn rewrite(scratch: &Scratch, args: &[&str], stdin: Stdin<'_>) -> Outcome {
    let mut all = vec!["rewrite"];
    all.extend_from_slice(args);
    scratch.run(SMARTHOST, &all, stdin)
}

/// The flags a vector folder's `options` file stands for.
fn vector_flags(dir: &Path) -> Vec<String> {
    let mut flags = Vec::new();
    for line in fs::read_to_string(dir.join("options")).unwrap().lines() {
        let (name, value) = line.split_once(' ').unwrap();
        let value = match name {
            "genericstable" => dir.join(value).display().to_string(),
            "feature"
            | "hostname"
            | "local-host-name"
            | "masquerade-as"
            | "masquerade-domain"
            | "masquerade-exception"
            | "exposed-user"
            | "generics-domain"
            | "mailer" => value.to_string(),
            other => panic!("unknown option {other}"),
        };
        flags.extend([format!("--{name}"), value]);
    }
    flags
}

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Configuration A's flags (spec masquerade.md §6.1).
fn config_a() -> Vec<String> {
    vector_flags(&vectors().join("a"))
}

#[test]
fn every_vector_configuration_prints_its_expected_tsv() {
    for name in ["a", "b", "c", "d", "e", "f"] {
        let dir = vectors().join(name);
        let expected = fs::read_to_string(dir.join("rewrite.tsv")).unwrap();
        let input: String =
            expected.lines().map(|line| format!("{}\n", line.split('\t').next().unwrap())).collect();
        let mut flags = vec!["--format".to_string(), "tsv".into()];
        flags.extend(vector_flags(&dir));
        flags.push("-".into());
        let scratch = Scratch::new();
        let outcome = rewrite(&scratch, &args(&flags), Stdin::Pipe(input.as_bytes()));
        assert_eq!(outcome.code, 0, "{name}: {}", outcome.stderr);
        assert_eq!(outcome.stdout_text(), expected, "{name}");
        assert_eq!(outcome.stderr, "", "{name}");
    }
}

#[test]
fn a_compiled_genericstable_rewrites_the_same() {
    let scratch = Scratch::new();
    let dir = vectors().join("e");
    assert_eq!(scratch.makemap(&["hash", "genericstable"], Stdin::File(&dir.join("genericstable"))).code, 0);
    let mut flags: Vec<String> = vector_flags(&dir)
        .into_iter()
        .map(|f| if f.ends_with("/genericstable") { "genericstable.db".into() } else { f })
        .collect();
    flags.extend(["--format".into(), "tsv".into(), "old+news@legacy.example.org".into(), "jdoe".into()]);
    let outcome = rewrite(&scratch, &args(&flags), Stdin::Null);
    assert_eq!(
        (outcome.code, outcome.stdout_text().as_str()),
        (
            0,
            "old+news@legacy.example.org\told+news@legacy.example.org\tnew+news@example.com\t\
             old+news@legacy.example.org\told+news@legacy.example.org\n\
             jdoe\tjdoe@mail.internal.example.com\tjohn.doe@example.com\tjdoe@mail.internal.example.com\t\
             jdoe@mail.internal.example.com\n"
        ),
        "{}",
        outcome.stderr
    );
}

#[test]
fn the_spec_messages_come_out_with_only_their_addresses_changed() {
    for name in ["a", "b"] {
        let dir = vectors().join(name);
        let mut flags = vector_flags(&dir);
        flags.extend(["--message".into(), dir.join("message.in").display().to_string()]);
        let scratch = Scratch::new();
        let outcome = rewrite(&scratch, &args(&flags), Stdin::Null);
        assert_eq!(outcome.code, 0, "{name}: {}", outcome.stderr);
        assert_eq!(outcome.stdout_text(), fs::read_to_string(dir.join("message.out")).unwrap(), "{name}");

        // The envelope, with --format tsv: the spec's MAIL FROM and RCPT TO.
        let mut flags = vector_flags(&dir);
        flags.extend(["--message".into(), "-".into(), "--format".into(), "tsv".into()]);
        flags.extend(["--mail-from".into(), "joe".into(), "--rcpt".into(), "carol@far.example".into()]);
        let message = fs::read(dir.join("message.in")).unwrap();
        let outcome = rewrite(&scratch, &args(&flags), Stdin::Pipe(&message));
        assert_eq!(outcome.code, 0, "{name}: {}", outcome.stderr);
        let stdout = outcome.stdout_text();
        for line in fs::read_to_string(dir.join("envelope.tsv")).unwrap().lines() {
            let [command, before, after]: [&str; 3] =
                line.split('\t').collect::<Vec<_>>().try_into().unwrap();
            let place = if command == "MAIL" { "MAIL FROM\tES" } else { "RCPT TO\tER" };
            let wanted = format!("{place}\t<{before}>\t<{after}>\t");
            assert!(stdout.contains(&wanted), "{name}: no `{wanted}` in\n{stdout}");
        }
        assert!(stdout.contains("From\tHS\tjoe@mail.internal.example.com\tjoe@example.com\t"), "{stdout}");
    }
}

#[test]
fn message_json_lists_the_edits_and_the_envelope() {
    let scratch = Scratch::new();
    scratch.write("msg", b"From: Joe <joe>\r\nTo: x@far.example\r\n\r\nbody\r\n");
    let mut flags = config_a();
    flags.extend(["--message", "msg", "--format", "json", "--mail-from", "<>"].map(String::from));
    let outcome = rewrite(&scratch, &args(&flags), Stdin::Null);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "{\"envelope\":[{\"command\":\"MAIL FROM\",\"kind\":\"ES\",\"before\":\"<>\",\"after\":\"<>\",\
         \"reason\":\"no rule applies\"}],\"sender_identity\":null,\"edits\":[{\"header\":\"From\",\"kind\":\"HS\",\
         \"offset\":11,\"before\":\"joe\",\"after\":\"joe@example.com\",\"reason\":\"masqueraded: unqualified\",\
         \"genericstable\":null,\"folded\":false}],\"not_addresses\":[],\"message\":\"From: Joe \
         <joe@example.com>\\r\\nTo: x@far.example\\r\\n\\r\\nbody\\r\\n\"}\n"
    );
}

#[test]
fn the_sender_identity_follows_the_one_recipient() {
    let scratch = Scratch::new();
    scratch
        .write("identities", b"bob@shop.example  me+bob@example.com\n.shop.example  me+shop@example.com\n");
    scratch.write(
        "msg",
        b"From: Me <me@example.com>\nReply-To: me@example.com, list@lists.example\nTo: bob@shop.example\n\nhi\n",
    );
    let base = ["--hostname", "gw.example.com", "--sender-by-recipient", "identities", "--message", "msg"];
    let run = |extra: &[&str]| {
        let mut all: Vec<&str> = base.to_vec();
        all.extend_from_slice(extra);
        rewrite(&scratch, &all, Stdin::Null)
    };
    let one = run(&["--mail-from", "me@example.com", "--rcpt", "alice@eu.shop.example"]);
    assert_eq!(
        (one.code, one.stdout_text().as_str()),
        (
            0,
            "From: Me <me+shop@example.com>\nReply-To: me+shop@example.com, list@lists.example\nTo: bob@shop.example\n\nhi\n"
        ),
        "{}",
        one.stderr
    );
    let tsv = run(&["--mail-from", "me@example.com", "--rcpt", "bob@shop.example", "--format", "tsv"]);
    assert!(
        tsv.stdout_text()
            .starts_with("MAIL FROM\tES\t<me@example.com>\t<me+bob@example.com>\tsender identity"),
        "{}",
        tsv.stdout_text()
    );
    let two = run(&["--mail-from", "me@example.com", "--rcpt", "bob@shop.example", "--rcpt", "x@y.example"]);
    assert!(two.stdout_text().starts_with("From: Me <me@example.com>\n"), "{}", two.stdout_text());
    let without_message = rewrite(
        &scratch,
        &["--hostname", "h.example", "--sender-by-recipient", "identities", "joe"],
        Stdin::Null,
    );
    assert_eq!(without_message.code, 2);
    assert!(
        without_message.stderr.contains("--sender-by-recipient needs --message"),
        "{}",
        without_message.stderr
    );
}

#[test]
fn the_config_file_gives_the_same_answers_as_the_flags() {
    let scratch = Scratch::new();
    fs::copy(vectors().join("e/genericstable"), scratch.path("genericstable")).unwrap();
    scratch.write("masquerade-domains", b"# class M\ninternal.example.com\n");
    scratch.write(
        "relay.toml",
        b"hostname = \"mail.internal.example.com\"\n\
          local_host_names = [\"mail\", \"legacy.example.org\"]\n\
          [maps]\ngenericstable = \"genericstable\"\n\
          [masquerade]\nas = \"example.com\"\ndomains_file = \"masquerade-domains\"\n\
          exposed_users = [\"root\"]\nall = true\nenvelope = true\n\
          [generics]\ndomains = [\"mail.internal.example.com\", \"legacy.example.org\"]\n\
          [server]\nlisten = [\"0.0.0.0:25\"]\n",
    );
    let inputs = ["jdoe", "root", "zoe@internal.example.com", "bob@other.example"];
    let mut with_config = vec!["--config", "relay.toml", "--format", "tsv"];
    with_config.extend(inputs);
    let from_config = rewrite(&scratch, &with_config, Stdin::Null);
    assert_eq!(from_config.code, 0, "{}", from_config.stderr);
    assert_eq!(
        from_config.stdout_text(),
        "jdoe\tjohn.doe@example.com\tjohn.doe@example.com\tjdoe@mail.internal.example.com\tjohn.doe@example.com\n\
         root\troot@mail.internal.example.com\troot@mail.internal.example.com\troot@mail.internal.example.com\t\
         root@mail.internal.example.com\n\
         zoe@internal.example.com\tzoe@example.com\tzoe@example.com\tzoe@internal.example.com\tzoe@example.com\n\
         bob@other.example\tbob@other.example\tbob@other.example\tbob@other.example\tbob@other.example\n"
    );
    // A flag replaces the file's value.
    let flagged = rewrite(
        &scratch,
        &["--config", "relay.toml", "--format", "tsv", "--masquerade-as", "example.net", "zoe@mail"],
        Stdin::Null,
    );
    assert_eq!(
        flagged.stdout_text(),
        "zoe@mail\tzoe@example.net\tzoe@example.net\tzoe@mail\tzoe@example.net\n",
        "{}",
        flagged.stderr
    );

    scratch.write("bad.toml", b"[masquerade]\nall = \"yes\"\n");
    let bad = rewrite(&scratch, &["--config", "bad.toml", "joe"], Stdin::Null);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("bad.toml: key `masquerade.all` must be true or false, not string"),
        "{}",
        bad.stderr
    );
}

#[test]
fn text_format_names_each_kind_and_its_rule() {
    let scratch = Scratch::new();
    let mut flags = config_a();
    flags.extend(["root".into(), "John <joe@mail>".into()]);
    let outcome = rewrite(&scratch, &args(&flags), Stdin::Null);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "root\n\
         \x20 ES envelope sender    root@mail.internal.example.com  (qualified with this host's name)\n\
         \x20 HS header sender      root@mail.internal.example.com  (exposed user (class E))\n\
         \x20 ER envelope recipient root@mail.internal.example.com  (qualified with this host's name)\n\
         \x20 HR header recipient   root@mail.internal.example.com  (qualified with this host's name)\n\
         John <joe@mail>\n\
         \x20 ES envelope sender    John <joe@mail>  (no address changes)\n\
         \x20 HS header sender      John <joe@example.com>  (joe@mail -> joe@example.com: masqueraded: one of \
         this host's names (class w))\n\
         \x20 ER envelope recipient John <joe@mail>  (no address changes)\n\
         \x20 HR header recipient   John <joe@mail>  (no address changes)\n"
    );
}

#[test]
fn json_format_has_the_four_results_and_their_reasons() {
    let scratch = Scratch::new();
    let mut flags = config_a();
    flags.extend(["--format".into(), "json".into(), "joe@internal.example.com".into()]);
    let outcome = rewrite(&scratch, &args(&flags), Stdin::Null);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "[\n  {\"address\":\"joe@internal.example.com\",\"envelope_sender\":\"joe@internal.example.com\",\
         \"header_sender\":\"joe@example.com\",\"envelope_recipient\":\"joe@internal.example.com\",\
         \"header_recipient\":\"joe@internal.example.com\",\"reasons\":{\"envelope_sender\":\"no rule applies\",\
         \"header_sender\":\"masqueraded: a masquerade domain (class M)\",\"envelope_recipient\":\"no rule applies\",\
         \"header_recipient\":\"no rule applies\"},\"not_addresses\":[]}\n]\n"
    );
}

#[test]
fn what_is_not_an_address_is_printed_unchanged_with_status_one() {
    let scratch = Scratch::new();
    let mut flags = config_a();
    flags.extend(["--format".into(), "tsv".into(), "John Smith, joe".into(), "bad@-x.example".into()]);
    let outcome = rewrite(&scratch, &args(&flags), Stdin::Null);
    assert_eq!(outcome.code, 1);
    assert_eq!(
        outcome.stdout_text(),
        "John Smith, joe\tJohn Smith, joe@mail.internal.example.com\tJohn Smith, joe@example.com\t\
         John Smith, joe@mail.internal.example.com\tJohn Smith, joe@mail.internal.example.com\n\
         bad@-x.example\tbad@-x.example\tbad@-x.example\tbad@-x.example\tbad@-x.example\n"
    );
    assert!(
        outcome.stderr.contains("smarthost: John Smith, joe: `John Smith` is not an address; left as it is"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("`bad@-x.example` is not an address (domain label starts with '-'"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn operator_mistakes_are_named() {
    let scratch = Scratch::new();
    let unknown =
        rewrite(&scratch, &["--hostname", "h.example", "--feature", "nocanonify", "joe"], Stdin::Null);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.starts_with(
            "smarthost: --feature nocanonify: unknown feature `nocanonify`; the features that \
                                    change rewriting are: masquerade_envelope, allmasquerade,"
        ),
        "{}",
        unknown.stderr
    );
    let mailer = rewrite(&scratch, &["--hostname", "h.example", "--mailer", "uucp", "joe"], Stdin::Null);
    assert_eq!(mailer.code, 2);
    assert!(mailer.stderr.contains("unknown mailer `uucp`"), "{}", mailer.stderr);
    let missing =
        rewrite(&scratch, &["--hostname", "h.example", "--genericstable", "nope", "joe"], Stdin::Null);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nope: no such map"), "{}", missing.stderr);
    let name =
        rewrite(&scratch, &["--hostname", "h.example", "--masquerade-as", "bad name", "joe"], Stdin::Null);
    assert_eq!(name.code, 2);
    assert!(name.stderr.contains("masquerade name `bad name` is not a domain"), "{}", name.stderr);
    scratch.write("generics", b"jdoe  John Doe <john@example.com>\n");
    let bad_value = rewrite(
        &scratch,
        &[
            "--hostname",
            "h.example",
            "--masquerade-as",
            "example.com",
            "--genericstable",
            "generics",
            "--format",
            "tsv",
            "jdoe",
        ],
        Stdin::Null,
    );
    assert_eq!(bad_value.code, 2);
    assert_eq!(
        bad_value.stdout_text(),
        "jdoe\th.example!\t*error*\th.example!\th.example!\n".replace("h.example!", "jdoe@h.example")
    );
    assert!(
        bad_value
            .stderr
            .contains("genericstable entry `jdoe`: value `John Doe <john@example.com>` is not an address"),
        "{}",
        bad_value.stderr
    );
}

#[test]
fn the_virtusertable_is_checked_but_changes_nothing() {
    let scratch = Scratch::new();
    scratch.write("virtusertable", b"joe@h.example  error:nouser 550 No such user here\n");
    let with = rewrite(
        &scratch,
        &["--hostname", "h.example", "--virtusertable", "virtusertable", "--format", "tsv", "joe@h.example"],
        Stdin::Null,
    );
    assert_eq!(
        (with.code, with.stdout_text().as_str()),
        (0, "joe@h.example\tjoe@h.example\tjoe@h.example\tjoe@h.example\tjoe@h.example\n"),
        "{}",
        with.stderr
    );
    let missing =
        rewrite(&scratch, &["--hostname", "h.example", "--virtusertable", "nope", "joe"], Stdin::Null);
    assert_eq!(missing.code, 2);
}
