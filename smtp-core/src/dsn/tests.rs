use super::fields::normalize;
use super::*;

fn t(seconds: u64) -> UnixTime {
    UnixTime(1_715_680_000 + seconds)
}

fn failed(address: &str) -> RecipientReport {
    RecipientReport::new(address, Action::Failed, EnhancedStatus::BAD_DESTINATION_MAILBOX)
}

fn builder() -> ReportBuilder<'static> {
    ReportBuilder::new("alice@example.com", "relay.example.org", "Q1", t(100)).unwrap()
}

fn text(report: &Report) -> &str {
    std::str::from_utf8(&report.message).unwrap()
}

#[test]
fn null_and_malformed_senders_are_refused() {
    for null in ["", "<>"] {
        assert_eq!(
            ReportBuilder::new(null, "relay.example.org", "Q1", t(0)).unwrap_err(),
            BuildError::NullSender
        );
    }
    for bad in ["a@b\r\nRCPT TO:<c@d>", "a<b>@c", "a\0@b"] {
        assert!(matches!(
            ReportBuilder::new(bad, "relay.example.org", "Q1", t(0)),
            Err(BuildError::BadSender(_))
        ));
    }
    let bracketed = ReportBuilder::new("<alice@example.com>", "relay.example.org", "Q1", t(0)).unwrap();
    assert_eq!(bracketed.recipient(failed("b@x")).build().unwrap().recipient, "alice@example.com");
}

#[test]
fn host_and_message_id_are_checked() {
    for bad in ["", "relay example", "relay.example.org>", "rélay.example", "[", "a@b"] {
        assert!(matches!(ReportBuilder::new("a@b", bad, "Q1", t(0)), Err(BuildError::BadHost(_))), "{bad:?}");
    }
    assert!(ReportBuilder::new("a@b", "[192.0.2.1]", "Q1", t(0)).is_ok());
    assert!(ReportBuilder::new("a@b", "[IPv6:2001:db8::1]", "Q1", t(0)).is_ok());
    for bad in ["", "a b", "a..b", "<a>", "a@b", ".a"] {
        assert!(
            matches!(ReportBuilder::new("a@b", "h.example", bad, t(0)), Err(BuildError::BadMessageId(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn types_and_recipients_are_checked() {
    assert_eq!(builder().build().unwrap_err(), BuildError::NoRecipients);
    let bad_orcpt = failed("b@x").with_original_recipient("rfc 822", "b@x");
    assert!(matches!(
        builder().recipient(bad_orcpt).build(),
        Err(BuildError::BadType { field: "Original-Recipient", .. })
    ));
    let bad_diagnostic = failed("b@x").with_diagnostic(Diagnostic::new("smtp;", "550"));
    assert!(matches!(
        builder().recipient(bad_diagnostic).build(),
        Err(BuildError::BadType { field: "Diagnostic-Code", .. })
    ));
}

#[test]
fn top_level_headers_come_in_order() {
    let report = builder().recipient(failed("bob@example.net")).build().unwrap();
    let message = text(&report);
    let (head, _) = message.split_once("\r\n\r\n").unwrap();
    let names: Vec<_> =
        head.lines().filter(|l| !l.starts_with([' ', '\t'])).map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        names,
        ["From", "To", "Date", "Message-ID", "Subject", "Auto-Submitted", "MIME-Version", "Content-Type"]
    );
    assert!(
        head.starts_with("From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.org>\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nTo: <alice@example.com>\r\n"));
    assert!(head.contains("\r\nMessage-ID: <Q1@relay.example.org>\r\n"));
    assert!(head.contains("\r\nAuto-Submitted: auto-replied\r\n"));
    assert!(head.contains("Content-Type: multipart/report; report-type=\"delivery-status\";"), "{head}");
}

#[test]
fn reports_are_reproducible() {
    let build = || {
        builder()
            .recipient(failed("bob@example.net"))
            .returned(Returned::Full(b"A: b\r\n\r\nc\r\n"))
            .build()
            .unwrap()
    };
    assert_eq!(build(), build());
}

#[test]
fn caller_text_cannot_inject_lines() {
    let evil = "x\r\nBcc: victim@example.com\r\n\r\n--=_dsn_Q1\r\nContent-Type: text/html";
    let report = builder()
        .original_envelope_id(evil)
        .received_from_mta(evil)
        .subject(evil)
        .recipient(
            failed(evil)
                .with_original_recipient("rfc822", evil)
                .with_remote_mta(evil)
                .with_diagnostic(Diagnostic::new("smtp", evil))
                .with_final_log_id(evil),
        )
        .build()
        .unwrap();
    let message = text(&report);
    for line in message.split("\r\n") {
        assert!(!line.starts_with("Bcc:") && !line.starts_with("Content-Type: text/html"), "{line:?}");
        assert!(!line.contains('\r') && !line.contains('\n'));
    }
    let parsed = parse_report(&report.message).unwrap();
    let flat = normalize(evil).into_owned();
    assert_eq!(parsed.recipients[0].final_recipient, flat);
    assert_eq!(parsed.recipients[0].diagnostic.as_ref().unwrap().text, flat);
}

#[test]
fn returned_part_follows_ret_limit_and_outcome() {
    let original = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody line\r\n";
    let third =
        |builder: ReportBuilder<'_>| parse_report(&builder.build().unwrap().message).unwrap().returned;
    let headers = Some(ReturnedMessage::Headers(b"From: a@example.com\r\nSubject: hi\r\n".to_vec()));
    let full = Some(ReturnedMessage::Full(original.to_vec()));

    assert_eq!(third(builder().recipient(failed("b@x")).returned(Returned::Full(original))), full);
    assert_eq!(third(builder().recipient(failed("b@x")).returned(Returned::Headers(original))), headers);
    assert_eq!(third(builder().recipient(failed("b@x")).returned(Returned::None)), None);
    let limited = builder()
        .recipient(failed("b@x"))
        .returned(Returned::Full(original))
        .return_limit(original.len() - 1);
    assert_eq!(third(limited), headers);
    let delayed = RecipientReport::new("b@x", Action::Delayed, EnhancedStatus::NO_ANSWER.with_class(4));
    assert_eq!(third(builder().recipient(delayed).returned(Returned::Full(original))), headers);
    let too_big = RecipientReport::new("b@x", Action::Failed, EnhancedStatus::MESSAGE_LENGTH_EXCEEDED);
    assert_eq!(third(builder().recipient(too_big).returned(Returned::Full(original))), headers);
}

#[test]
fn bare_line_feeds_in_the_original_become_crlf() {
    let report =
        builder().recipient(failed("b@x")).returned(Returned::Full(b"A: 1\nB: 2\n\nbody\n")).build().unwrap();
    let parsed = parse_report(&report.message).unwrap();
    assert_eq!(parsed.returned, Some(ReturnedMessage::Full(b"A: 1\r\nB: 2\r\n\r\nbody\r\n".to_vec())));
}

#[test]
fn hostile_original_cannot_break_out_of_its_part() {
    let original = b"Subject: x\r\n\r\n--=_dsn_Q1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; evil\r\n\r\nFinal-Recipient: rfc822; x@evil\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n--=_dsn_Q1--\r\n";
    let report =
        builder().recipient(failed("bob@example.net")).returned(Returned::Full(original)).build().unwrap();
    let parsed = parse_report(&report.message).unwrap();
    assert_eq!(parsed.message.reporting_mta, "relay.example.org");
    assert_eq!(parsed.recipients.len(), 1);
    assert_eq!(parsed.returned, Some(ReturnedMessage::Full(original.to_vec())));
}

#[test]
fn long_words_stay_under_the_line_limit() {
    let word = "x".repeat(2_500);
    let report = builder()
        .recipient(failed("b@x").with_diagnostic(Diagnostic::new("smtp", format!("550 {word} end"))))
        .build()
        .unwrap();
    assert!(text(&report).split("\r\n").all(|line| line.len() <= 998));
    let parsed = parse_report(&report.message).unwrap();
    let diagnostic = &parsed.recipients[0].diagnostic.as_ref().unwrap().text;
    assert_eq!(diagnostic.replace(' ', ""), format!("550{word}end"));
}

#[test]
fn returned_content_always_ends_its_last_line() {
    // Found by fuzzing: without the final CR LF, mail-parser reads the
    // closing boundary as a header line of the returned message.
    for (returned, expected) in [
        (Returned::Full(b"A: 1\r\nDate: Tue, "), ReturnedMessage::Full(b"A: 1\r\nDate: Tue, \r\n".to_vec())),
        (Returned::Full(b"A: 1\r\n\r\nbody"), ReturnedMessage::Full(b"A: 1\r\n\r\nbody\r\n".to_vec())),
        (Returned::Headers(b"A: 1"), ReturnedMessage::Headers(b"A: 1\r\n".to_vec())),
        (Returned::Headers(b"\r\nbody"), ReturnedMessage::Headers(Vec::new())),
        // Found by fuzzing: a date mail-parser cannot read makes its parse of
        // the returned message run past the closing delimiter.
        (Returned::Full(b"Date:-t"), ReturnedMessage::Full(b"Date:-t\r\n".to_vec())),
    ] {
        let report = builder().recipient(failed("b@x")).returned(returned).build().unwrap();
        let parsed = parse_report(&report.message).unwrap();
        assert_eq!(parsed.returned, Some(expected));
        assert_eq!(parsed.recipients.len(), 1);
    }
}
