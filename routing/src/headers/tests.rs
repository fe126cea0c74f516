use mail_parser::MessageParser;

use super::*;
use crate::{Feature, LocalNames, Masquerade, ReversePath, SenderIdentity};

const HOST: &str = "mail.internal.example.com";

fn local() -> LocalNames {
    let mut local = LocalNames::new(HOST);
    local.add_name("mail");
    local
}

/// Configuration B of the spec: A + allmasquerade + masquerade_envelope.
fn config() -> Masquerade {
    let mut config = Masquerade::new(HOST).unwrap();
    config
        .masquerade_as("example.com")
        .unwrap()
        .add_masquerade_domain("internal.example.com")
        .add_exposed_user("root")
        .enable(Feature::AllMasquerade)
        .enable(Feature::MasqueradeEnvelope);
    config
}

fn rewrite_with(rewriter: &Rewriter<'_>, message: &str) -> (String, HeaderRewrite) {
    let edits = rewriter.rewrite_headers(message.as_bytes(), MailerRules::Smtp).unwrap();
    assert_outside_unchanged(message.as_bytes(), &edits);
    (String::from_utf8(edits.apply(message.as_bytes())).unwrap(), edits)
}

fn rewrite(message: &str) -> String {
    let (local, config) = (local(), config());
    rewrite_with(&Rewriter::new(&local, &config), message).0
}

/// Every byte outside the edits is the same, in order.
fn assert_outside_unchanged(original: &[u8], edits: &HeaderRewrite) {
    let output = edits.apply(original);
    let (mut from, mut to) = (0, 0);
    for edit in &edits.edits {
        assert!(edit.range.start >= from, "edits overlap or are out of order");
        let kept = &original[from..edit.range.start];
        assert_eq!(&output[to..to + kept.len()], kept);
        to += kept.len() + edit.replacement.len();
        from = edit.range.end;
    }
    assert_eq!(&output[to..], &original[from..]);
}

#[test]
fn only_address_bytes_change_around_folding_comments_groups_and_encoded_words() {
    let message = "Received: from joe@mail by mail.internal.example.com\r\n\
                   \tfor <joe@mail>; Mon, 1 Jan 2024 00:00:00 +0000\r\n\
                   From: =?utf-8?q?J=C3=B6rg_Doe?= <joe@mail> (\"home\", (nested))\r\n\
                   To: \"Doe, John\" <joe>,\r\n\
                   \tteam: alice (first),\r\n  bob@internal.example.com;,\r\n carol@far.example\r\n\
                   Cc: undisclosed-recipients:;\r\n\
                   Subject: mail for joe@mail\r\n\
                   Message-Id: <123@mail>\r\n\
                   Return-Receipt-To: joe@mail\r\n\
                   \r\n\
                   From: joe@mail\r\nTo: joe\r\n";
    let expected = "Received: from joe@mail by mail.internal.example.com\r\n\
                    \tfor <joe@mail>; Mon, 1 Jan 2024 00:00:00 +0000\r\n\
                    From: =?utf-8?q?J=C3=B6rg_Doe?= <joe@example.com> (\"home\", (nested))\r\n\
                    To: \"Doe, John\" <joe@example.com>,\r\n\
                    \tteam: alice@example.com (first),\r\n  bob@example.com;,\r\n carol@far.example\r\n\
                    Cc: undisclosed-recipients:;\r\n\
                    Subject: mail for joe@mail\r\n\
                    Message-Id: <123@mail>\r\n\
                    Return-Receipt-To: joe@mail\r\n\
                    \r\n\
                    From: joe@mail\r\nTo: joe\r\n";
    assert_eq!(rewrite(message), expected);
}

#[test]
fn edits_replace_the_domain_or_insert_one() {
    let (local, config) = (local(), config());
    let rewriter = Rewriter::new(&local, &config);
    let message = "From: Joe <JOE@Mail>\nSender: joe\nReply-To: root\n\n";
    let (output, edits) = rewrite_with(&rewriter, message);
    assert_eq!(
        output,
        "From: Joe <JOE@example.com>\nSender: joe@example.com\nReply-To: root@mail.internal.example.com\n\n"
    );
    let first = &edits.edits[0];
    assert_eq!((&message[first.range.clone()], first.replacement.as_str()), ("Mail", "example.com"));
    assert_eq!(
        (first.header, first.kind, &first.reason),
        ("From", AddressKind::HeaderSender, &Reason::LocalName)
    );
    assert_eq!(
        (first.before(message.as_bytes()), first.after(message.as_bytes())),
        ("JOE@Mail".into(), "JOE@example.com".into())
    );
    let second = &edits.edits[1];
    assert!(second.range.is_empty());
    assert_eq!(second.after(message.as_bytes()), "joe@example.com");
    assert_eq!(edits.edits[2].reason, Reason::Exposed);
}

#[test]
fn header_names_are_matched_exactly_and_without_regard_to_case() {
    let message = "from: joe\nFROM : joe\nX-From: joe\nErrors-To: joe\nApparently-To: joe\n\
                   Disposition-Notification-To: joe\nResent-Reply-To: joe\nReturn-Receipt-To: joe\n\
                   Fr om: joe\n\n";
    let expected = "from: joe@example.com\nFROM : joe@example.com\nX-From: joe\nErrors-To: joe@example.com\n\
                    Apparently-To: joe@example.com\nDisposition-Notification-To: joe@example.com\n\
                    Resent-Reply-To: joe@example.com\nReturn-Receipt-To: joe\nFr om: joe\n\n";
    assert_eq!(rewrite(message), expected);
}

#[test]
fn values_that_do_not_scan_are_left_alone_and_others_still_change() {
    let message = "From: \"joe <joe@mail>\nTo: a@mail, <b@mail\nCc: c@mail\n\n";
    assert_eq!(rewrite(message), "From: \"joe <joe@mail>\nTo: a@mail, <b@mail\nCc: c@example.com\n\n");
}

#[test]
fn elements_that_are_not_addresses_are_reported_not_rewritten() {
    let (local, config) = (local(), config());
    let rewriter = Rewriter::new(&local, &config);
    let message = "To: John Smith, joe @ mail, bad@-x.example, <@hop:joe@mail>, <>, joe@mail\n\n";
    let (output, edits) = rewrite_with(&rewriter, message);
    assert_eq!(
        output,
        "To: John Smith, joe @ mail, bad@-x.example, <@hop:joe@mail>, <>, joe@example.com\n\n"
    );
    let unparsed: Vec<(&str, bool)> =
        edits.unparsed.iter().map(|u| (&message[u.range.clone()], u.error.is_some())).collect();
    assert_eq!(unparsed, [("John Smith", false), ("joe @ mail", false), ("bad@-x.example", true)]);
}

#[test]
fn only_the_top_level_header_is_rewritten() {
    let message = "From: joe@mail\nContent-Type: message/rfc822\n\nFrom: joe@mail\nTo: joe\n\nbody\n";
    assert_eq!(
        rewrite(message),
        "From: joe@example.com\nContent-Type: message/rfc822\n\nFrom: joe@mail\nTo: joe\n\nbody\n"
    );
}

#[test]
fn odd_messages_do_not_panic_and_are_handled() {
    assert_eq!(rewrite(""), "");
    assert_eq!(rewrite("\n\nFrom: joe\n"), "\n\nFrom: joe\n");
    assert_eq!(rewrite("From: joe"), "From: joe@example.com");
    assert_eq!(rewrite("From: joe\r\n"), "From: joe@example.com\r\n");
    // A value that is not UTF-8 keeps its bytes; its addresses still change.
    let (local, config) = (local(), config());
    let message = b"From: \xe9t\xe9 <joe@mail>\nTo: \xff@mail\n\n";
    let edits = Rewriter::new(&local, &config).rewrite_headers(message, MailerRules::Smtp).unwrap();
    assert_eq!(edits.apply(message), b"From: \xe9t\xe9 <joe@example.com>\nTo: \xff@mail\n\n");
    assert_eq!(edits.unparsed.len(), 1);
}

#[test]
fn a_line_that_would_pass_998_octets_is_folded_before_the_address() {
    let names: Vec<String> = (0..65).map(|n| format!("user{n:03}@mail")).collect();
    let message = format!("From: joe\r\nTo: {}\r\n\r\nbody\r\n", names.join(", "));
    assert!(message.lines().nth(1).unwrap().len() < MAX_LINE);
    let (local, config) = (local(), config());
    let (output, edits) = rewrite_with(&Rewriter::new(&local, &config), &message);
    assert!(output.split("\r\n").all(|line| line.len() <= MAX_LINE), "{output}");
    let folds = edits.edits.iter().filter(|e| e.folded).count();
    assert!(folds >= 1);
    assert!(output.contains(", \r\n user"), "folded before an address");
    assert!(edits.edits.iter().all(|e| e.after(message.as_bytes()).ends_with("@example.com")));
    // Unfolded, the header says what it said before, rewritten.
    let unfolded = output.replace(" \r\n ", " ");
    let expected: Vec<String> = (0..65).map(|n| format!("user{n:03}@example.com")).collect();
    assert!(unfolded.contains(&format!("To: {}\r\n", expected.join(", "))));
    // Once rewritten, nothing changes.
    let again = Rewriter::new(&local, &config).rewrite_headers(output.as_bytes(), MailerRules::Smtp).unwrap();
    assert!(again.is_empty(), "{:?}", again.edits);
}

#[test]
fn the_sender_identity_replaces_the_sender_in_from_sender_and_reply_to() {
    let (local, config) = (local(), config());
    let me = |a: &str| Address::parse(a, ParseOptions::default()).unwrap();
    let identity = SenderIdentity::new(Some(me("me@example.com")), me("me+shop@example.com"), "shop.example");
    let rewriter = Rewriter::new(&local, &config).sender_identity(&identity);
    let message = "Reply-To: Me <ME@example.com>, list@lists.example, Me at work <me@work.example>\n\
                   From: Me <me@work.example>\nSender: me@example.com\nTo: me@example.com, joe\n\n";
    let (output, edits) = rewrite_with(&rewriter, message);
    assert_eq!(
        output,
        "Reply-To: Me <me+shop@example.com>, list@lists.example, Me at work <me+shop@example.com>\n\
         From: Me <me+shop@example.com>\nSender: me+shop@example.com\nTo: me@example.com, joe@example.com\n\n"
    );
    assert_eq!(edits.edits[0].reason, Reason::SenderIdentity);
}

#[test]
fn the_output_parses_and_mail_parser_sees_the_rewritten_addresses() {
    let message = "From: \"Doe, John\" <joe> (x)\r\nTo: team: alice, bob@mail;, carol@far.example\r\n\
                   Cc: =?utf-8?q?J=C3=B6rg?= <jorg@internal.example.com>\r\n\r\nbody\r\n";
    let output = rewrite(message);
    let parsed = MessageParser::default().parse(output.as_bytes()).unwrap();
    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!((from.name(), from.address()), (Some("Doe, John (x)"), Some("joe@example.com")));
    let to: Vec<&str> = parsed.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["alice@example.com", "bob@example.com", "carol@far.example"]);
    let cc = parsed.cc().unwrap().first().unwrap();
    assert_eq!((cc.name(), cc.address()), (Some("Jörg"), Some("jorg@example.com")));
}

#[test]
fn every_address_header_is_found_by_its_name_in_any_case() {
    for (name, kind) in ADDRESS_HEADERS {
        assert_eq!(address_header(name.as_bytes()), Some((name, kind)));
        assert_eq!(address_header_kind(&name.to_uppercase()), Some(kind));
    }
    for other in ["", "t", "X-To", "Return-Receipt-To", "Disposition-Notification-Options", "Fromm"] {
        assert_eq!(address_header_kind(other), None, "{other}");
    }
}

const NEW: NewFields<'static> =
    NewFields { date: "Mon, 1 Jan 2024 10:00:00 +0000", message_id: "<1.2@mail>" };

fn with_added(message: &str, sender: &str) -> String {
    let (local, config) = (local(), config());
    let rewriter = Rewriter::new(&local, &config);
    let mut edits = rewriter.rewrite_headers(message.as_bytes(), MailerRules::Smtp).unwrap();
    let sender = match sender {
        "<>" => ReversePath::Null,
        sender => ReversePath::Address(Address::parse(sender, ParseOptions::default()).unwrap()),
    };
    rewriter.add_missing_fields(message.as_bytes(), &sender, NEW, MailerRules::Smtp, &mut edits).unwrap();
    String::from_utf8(edits.apply(message.as_bytes())).unwrap()
}

#[test]
fn missing_date_and_message_id_are_added_with_their_resent_twins() {
    // The spec's message (§6.1): From present, Resent-From present.
    let message = "From: joe\r\nResent-From: eve\r\nTo: carol@far.example\r\n\r\nbody\r\n";
    assert_eq!(
        with_added(message, "joe"),
        "From: joe@example.com\r\nResent-From: eve@example.com\r\nTo: carol@far.example\r\n\
         Resent-Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
         Resent-Message-Id: <1.2@mail>\r\nMessage-Id: <1.2@mail>\r\n\r\nbody\r\n"
    );
}

#[test]
fn an_added_from_is_the_envelope_sender_as_a_header_sender() {
    let message = "To: carol@far.example\nDate: x\nMessage-ID: <a@b>\n\nbody\n";
    assert_eq!(
        with_added(message, "joe@mail"),
        "To: carol@far.example\nDate: x\nMessage-ID: <a@b>\nFrom: joe@example.com\n\nbody\n"
    );
    assert_eq!(
        with_added(message, "<>"),
        "To: carol@far.example\nDate: x\nMessage-ID: <a@b>\nFrom: MAILER-DAEMON@example.com\n\nbody\n"
    );
    assert_eq!(
        with_added(message, "root"),
        "To: carol@far.example\nDate: x\nMessage-ID: <a@b>\nFrom: root@mail.internal.example.com\n\nbody\n"
    );
}

#[test]
fn nothing_is_added_to_a_complete_header_and_a_last_line_is_ended_first() {
    let complete = "from: a@b\ndate: x\nmessage-id: <a@b>\n\n";
    let (local, config) = (local(), config());
    let rewriter = Rewriter::new(&local, &config);
    let mut edits = HeaderRewrite::default();
    let sender = ReversePath::Null;
    assert!(
        !rewriter
            .add_missing_fields(complete.as_bytes(), &sender, NEW, MailerRules::Smtp, &mut edits)
            .unwrap()
    );
    assert!(edits.is_empty());
    assert_eq!(
        with_added("From: joe\r\nDate: x\r\nCc: x@mail", "joe"),
        "From: joe@example.com\r\nDate: x\r\nCc: x@example.com\r\nMessage-Id: <1.2@mail>\r\n"
    );
    assert_eq!(
        with_added("\r\nbody", "joe"),
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: joe@example.com\r\nMessage-Id: <1.2@mail>\r\n\r\nbody"
    );
}
