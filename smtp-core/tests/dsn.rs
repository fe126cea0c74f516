//! Delivery status notifications through the public API: the complete
//! example of dsn.md §8.5 rebuilt, and the vectors D14 and D20–D23.

use mail_parser::{MessageParser, MimeHeaders};
use smarthost_smtp_core::dsn::{
    Action, BuildError, Notify, RecipientReport, Report, ReportBuilder, Returned, ReturnedMessage, UnixTime,
    is_report_due, parse_report,
};
use smarthost_smtp_core::{EnhancedStatus, Reply};

/// dsn.md §8.5 from `From:` to the closing boundary, as it goes in DATA.
const SPEC_EXAMPLE: &str = "\
From: Mail Delivery System <MAILER-DAEMON@relay.example.org>
To: <alice@example.com>
Date: Tue, 14 May 2024 10:21:07 +0000
Message-Id: <dsn.4f2a9c@relay.example.org>
Subject: Undelivered mail: bob@example.net
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary=\"=_rpt_4f2a9c\"

This is a MIME-formatted delivery report.

--=_rpt_4f2a9c
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered to one recipient.

  <bob@example.net>: the receiving server mx1.example.net said:
      550 5.1.1 <bob@example.net>: Recipient address rejected

No further attempts will be made. The message headers are attached.

--=_rpt_4f2a9c
Content-Type: message/delivery-status

Original-Envelope-Id: ae1-77
Reporting-MTA: dns; relay.example.org
Received-From-MTA: dns; ws12.example.com
Arrival-Date: Tue, 14 May 2024 10:20:55 +0000

Original-Recipient: rfc822;bob@example.net
Final-Recipient: rfc822; bob@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx1.example.net
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address
 rejected
Last-Attempt-Date: Tue, 14 May 2024 10:21:06 +0000

--=_rpt_4f2a9c
Content-Type: text/rfc822-headers

Return-Path: <alice@example.com>
Received: from ws12.example.com (ws12.example.com [198.51.100.12])
\tby relay.example.org with ESMTPSA id 4f2a9c
\tfor <bob@example.net>; Tue, 14 May 2024 10:20:55 +0000
From: Alice <alice@example.com>
To: Bob <bob@example.net>
Subject: Quarterly numbers
Date: Tue, 14 May 2024 12:20:50 +0200
Message-Id: <20240514102050.1234@ws12.example.com>

--=_rpt_4f2a9c--
";

/// The message alice sent, whose headers the example returns.
const ORIGINAL: &str = "\
Return-Path: <alice@example.com>
Received: from ws12.example.com (ws12.example.com [198.51.100.12])
\tby relay.example.org with ESMTPSA id 4f2a9c
\tfor <bob@example.net>; Tue, 14 May 2024 10:20:55 +0000
From: Alice <alice@example.com>
To: Bob <bob@example.net>
Subject: Quarterly numbers
Date: Tue, 14 May 2024 12:20:50 +0200
Message-Id: <20240514102050.1234@ws12.example.com>

Hi Bob, the numbers are attached.
";

/// Tue, 14 May 2024 10:21:07 +0000.
const REPORT_DATE: UnixTime = UnixTime(1_715_682_067);
const ARRIVAL: UnixTime = UnixTime(1_715_682_055);
const LAST_ATTEMPT: UnixTime = UnixTime(1_715_682_066);

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn spec_example_rebuilt(original: &[u8]) -> Report {
    let reply = Reply::new(
        550,
        Some(EnhancedStatus::BAD_DESTINATION_MAILBOX),
        "<bob@example.net>: Recipient address rejected",
    )
    .unwrap();
    ReportBuilder::new("alice@example.com", "relay.example.org", "dsn.4f2a9c", REPORT_DATE)
        .unwrap()
        .original_envelope_id("ae1-77")
        .received_from_mta("ws12.example.com")
        .arrival_date(ARRIVAL)
        .subject("Undelivered mail: bob@example.net")
        .recipient(
            RecipientReport::new("bob@example.net", Action::Failed, EnhancedStatus::BAD_DESTINATION_MAILBOX)
                .with_original_recipient("rfc822", "bob@example.net")
                .with_remote_mta("mx1.example.net")
                .with_diagnostic(&reply)
                .with_last_attempt(LAST_ATTEMPT),
        )
        // RET=HDRS.
        .returned(Returned::Headers(original))
        .build()
        .unwrap()
}

/// Each body part's content type and raw body, in order.
fn parts(message: &[u8]) -> Vec<(String, Vec<u8>)> {
    let parsed = MessageParser::new().parse(message).expect("a MIME message");
    let root = &parsed.parts[0];
    root.sub_parts()
        .expect("a multipart message")
        .iter()
        .map(|&id| {
            let part = &parsed.parts[id as usize];
            let ct = part.content_type().expect("a Content-Type");
            let name = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default());
            (name, message[part.offset_body as usize..part.offset_end as usize].to_vec())
        })
        .collect()
}

/// The header section of [`ORIGINAL`], with the line end of its last line.
fn original_headers() -> Vec<u8> {
    let (headers, _) = ORIGINAL.split_once("\n\n").unwrap();
    crlf(&format!("{headers}\n"))
}

#[test]
fn spec_example_parses() {
    let parsed = parse_report(&crlf(SPEC_EXAMPLE)).unwrap();
    assert_eq!(parsed.message.reporting_mta, "relay.example.org");
    assert_eq!(parsed.message.original_envelope_id.as_deref(), Some("ae1-77"));
    assert_eq!(parsed.message.received_from_mta.as_deref(), Some("ws12.example.com"));
    assert_eq!(parsed.message.arrival_date, Some(ARRIVAL));
    let [bob] = &parsed.recipients[..] else { panic!("one recipient: {parsed:?}") };
    assert_eq!(bob.original_recipient, Some(("rfc822".into(), "bob@example.net".into())));
    assert_eq!(bob.final_recipient, "bob@example.net");
    assert_eq!((bob.action, bob.status), (Action::Failed, EnhancedStatus::BAD_DESTINATION_MAILBOX));
    assert_eq!(bob.remote_mta.as_deref(), Some("mx1.example.net"));
    let diagnostic = bob.diagnostic.as_ref().unwrap();
    assert_eq!(diagnostic.diagnostic_type, "smtp");
    assert_eq!(diagnostic.text, "550 5.1.1 <bob@example.net>: Recipient address rejected");
    assert_eq!(diagnostic.reply().map(|r| r.code()), Some(550));
    assert_eq!(bob.last_attempt, Some(LAST_ATTEMPT));
    assert_eq!(bob.final_log_id, None);
    assert_eq!(parsed.returned, Some(ReturnedMessage::Headers(original_headers())));
}

#[test]
fn spec_example_rebuilt_parses_to_the_same_values() {
    let ours = spec_example_rebuilt(&crlf(ORIGINAL));
    assert_eq!(parse_report(&ours.message).unwrap(), parse_report(&crlf(SPEC_EXAMPLE)).unwrap());
}

#[test]
fn spec_example_rebuilt_has_the_same_parts_and_status_fields() {
    let ours = spec_example_rebuilt(&crlf(ORIGINAL));
    let (ours, spec) = (parts(&ours.message), parts(&crlf(SPEC_EXAMPLE)));
    let types = |parts: &[(String, Vec<u8>)]| parts.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(types(&ours), ["text/plain", "message/delivery-status", "text/rfc822-headers"]);
    assert_eq!(types(&ours), types(&spec));
    // The delivery-status part byte for byte, folding included; the returned headers too.
    assert_eq!(String::from_utf8_lossy(&ours[1].1), String::from_utf8_lossy(&spec[1].1));
    assert_eq!(ours[2].1, spec[2].1);
}

#[test]
fn spec_example_rebuilt_has_the_same_envelope_and_headers() {
    let ours = spec_example_rebuilt(&crlf(ORIGINAL));
    assert_eq!((ours.reverse_path(), ours.recipient.as_str()), ("", "alice@example.com"));
    let (ours, spec) = (
        MessageParser::new().parse(&ours.message).unwrap(),
        MessageParser::new().parse(SPEC_EXAMPLE).unwrap(),
    );
    assert_eq!(ours.date(), spec.date());
    assert_eq!(ours.message_id(), spec.message_id());
    assert_eq!(ours.subject(), spec.subject());
    let to = |m: &mail_parser::Message<'_>| {
        m.to().and_then(|a| a.first()).and_then(|a| a.address().map(str::to_owned))
    };
    assert_eq!(to(&ours), to(&spec));
    let from = |m: &mail_parser::Message<'_>| {
        m.from().and_then(|a| a.first()).and_then(|a| a.address().map(str::to_owned))
    };
    assert_eq!(from(&ours), from(&spec));
    for name in ["Auto-Submitted", "MIME-Version"] {
        assert_eq!(ours.header_raw(name).map(str::trim), spec.header_raw(name).map(str::trim), "{name}");
    }
}

#[test]
fn null_sender_gets_no_report() {
    for null in ["", "<>"] {
        let refused = ReportBuilder::new(null, "relay.example.org", "Q1", REPORT_DATE);
        assert_eq!(refused.unwrap_err(), BuildError::NullSender, "{null:?}");
    }
}

/// D14: the next hop advertised SIZE and refused the message at MAIL with
/// `552 Too big`; the report fails the recipient with 5.3.4 and returns
/// the headers only, whatever RET asked for.
#[test]
fn d14_size_refusal_returns_headers_only() {
    let reply = Reply::new(552, None, "Too big").unwrap();
    let report = ReportBuilder::new("alice@example.com", "relay.example.org", "Q14", REPORT_DATE)
        .unwrap()
        .recipient(
            RecipientReport::new("bob@example.net", Action::Failed, EnhancedStatus::MESSAGE_TOO_BIG)
                .with_remote_mta("mx1.example.net")
                .with_diagnostic(&reply),
        )
        .returned(Returned::Full(&crlf(ORIGINAL)))
        .build()
        .unwrap();
    let parsed = parse_report(&report.message).unwrap();
    assert_eq!(parsed.recipients[0].status.to_string(), "5.3.4");
    assert_eq!(parsed.recipients[0].action, Action::Failed);
    assert_eq!(parsed.returned, Some(ReturnedMessage::Headers(original_headers())));
    assert_eq!(parts(&report.message)[2].0, "text/rfc822-headers");
}

/// D20: a failure for a recipient with NOTIFY=SUCCESS only is not reported;
/// with nothing left to report, no report is built.
#[test]
fn d20_failure_with_notify_success_only_is_not_reported() {
    let recipients = [
        (
            Some(Notify::SUCCESS),
            RecipientReport::new("bob@example.net", Action::Failed, EnhancedStatus::BAD_DESTINATION_MAILBOX),
        ),
        (
            Some(Notify::NEVER),
            RecipientReport::new(
                "carol@example.net",
                Action::Failed,
                EnhancedStatus::BAD_DESTINATION_MAILBOX,
            ),
        ),
    ];
    let mut builder =
        ReportBuilder::new("alice@example.com", "relay.example.org", "Q20", REPORT_DATE).unwrap();
    for (notify, recipient) in recipients {
        if is_report_due(notify, recipient.action) {
            builder = builder.recipient(recipient);
        }
    }
    assert_eq!(builder.build().unwrap_err(), BuildError::NoRecipients);
    assert!(is_report_due(Some(Notify::SUCCESS | Notify::FAILURE), Action::Failed));
    assert!(is_report_due(None, Action::Failed));
}

/// D21: a failure with RET=HDRS returns a `text/rfc822-headers` third part.
#[test]
fn d21_ret_hdrs_returns_rfc822_headers() {
    let report = spec_example_rebuilt(&crlf(ORIGINAL));
    let parts = parts(&report.message);
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[2], ("text/rfc822-headers".to_owned(), original_headers()));
}

/// D22: relayed to a server without DSN, NOTIFY=SUCCESS: a report with
/// `Action: relayed` and `Status: 2.0.0`.
#[test]
fn d22_relayed_to_non_dsn_server() {
    assert!(is_report_due(Some(Notify::SUCCESS), Action::Relayed));
    assert!(!is_report_due(None, Action::Relayed));
    let report = ReportBuilder::new("alice@example.com", "relay.example.org", "Q22", REPORT_DATE)
        .unwrap()
        .recipient(
            RecipientReport::new("bob@example.net", Action::Relayed, EnhancedStatus::OK)
                .with_remote_mta("old.example.net"),
        )
        .returned(Returned::Full(&crlf(ORIGINAL)))
        .build()
        .unwrap();
    let text = String::from_utf8(report.message.clone()).unwrap();
    assert!(text.contains("\r\nAction: relayed\r\nStatus: 2.0.0\r\n"), "{text}");
    assert!(text.contains("\r\nSubject: Successful Mail Delivery Report\r\n"));
    assert!(text.contains("(relayed to non-DSN-aware mailer)"));
    let parsed = parse_report(&report.message).unwrap();
    assert_eq!(
        (parsed.recipients[0].action, parsed.recipients[0].status),
        (Action::Relayed, EnhancedStatus::OK)
    );
    // Success reports return the headers only (RFC 3461 §4.3).
    assert_eq!(parsed.returned, Some(ReturnedMessage::Headers(original_headers())));
}

/// D23: the null reverse path; a multipart/report of report-type
/// delivery-status; Reporting-MTA; a Final-Recipient/Action/Status block
/// per recipient.
#[test]
fn d23_generated_report_has_the_required_structure() {
    let addresses = ["bob@example.net", "carol@example.net", "dave@example.net"];
    let mut builder =
        ReportBuilder::new("alice@example.com", "relay.example.org", "Q23", REPORT_DATE).unwrap();
    for address in addresses {
        builder = builder.recipient(RecipientReport::new(
            address,
            Action::Failed,
            EnhancedStatus::DELIVERY_EXPIRED.with_class(4),
        ));
    }
    let report = builder.build().unwrap();
    assert_eq!((report.reverse_path(), report.recipient.as_str()), ("", "alice@example.com"));

    let parsed = MessageParser::new().parse(&report.message).unwrap();
    let ct = parsed.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));

    let parts = parts(&report.message);
    let status: Vec<_> = parts.iter().filter(|(t, _)| t == "message/delivery-status").collect();
    assert_eq!(status.len(), 1);
    let body = String::from_utf8(status[0].1.clone()).unwrap();
    let blocks: Vec<_> = body.trim_end().split("\r\n\r\n").collect();
    assert_eq!(blocks.len(), 1 + addresses.len());
    assert!(blocks[0].starts_with("Reporting-MTA: dns; relay.example.org"));
    for (block, address) in blocks[1..].iter().zip(addresses) {
        assert_eq!(block, &format!("Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 4.4.7"));
    }
}

#[test]
fn delay_warning_reads_like_sendmail() {
    let report = ReportBuilder::new(
        "alice@example.com",
        "relay.example.org",
        "Qd",
        UnixTime(ARRIVAL.0 + 4 * 3_600 + 120),
    )
    .unwrap()
    .arrival_date(ARRIVAL)
    .recipient(
        RecipientReport::new("bob@example.net", Action::Delayed, EnhancedStatus::NO_ANSWER.with_class(4))
            .with_remote_mta("mx1.example.net")
            .with_diagnostic(Reply::new(451, None, "Try again later").unwrap())
            .with_will_retry_until(UnixTime(ARRIVAL.0 + 5 * 86_400)),
    )
    .build()
    .unwrap();
    let text = String::from_utf8(report.message).unwrap();
    assert!(text.contains("\r\nSubject: Warning: could not send message for past 4 hours\r\n"), "{text}");
    assert!(text.contains("THIS IS A WARNING MESSAGE ONLY"));
    assert!(text.contains(
        "   ----- The following addresses had transient non-fatal errors -----\r\n<bob@example.net>\r\n"
    ));
    assert!(text.contains("... while talking to mx1.example.net:\r\n<<< 451 Try again later\r\n"));
    assert!(text.contains("\r\nWill-Retry-Until: Sun, 19 May 2024 10:20:55 +0000\r\n"));
}

#[test]
fn failure_report_reads_like_sendmail() {
    let report = spec_example_rebuilt(&crlf(ORIGINAL));
    let parts = parts(&report.message);
    let text = String::from_utf8(parts[0].1.clone()).unwrap();
    let expected = "\
The original message was received at Tue, 14 May 2024 10:20:55 +0000
from ws12.example.com

   ----- The following addresses had permanent fatal errors -----
<bob@example.net>
    (reason: 550 5.1.1 <bob@example.net>: Recipient address rejected)

   ----- Transcript of session follows -----
... while talking to mx1.example.net:
<<< 550 5.1.1 <bob@example.net>: Recipient address rejected
";
    assert_eq!(text, expected.replace('\n', "\r\n"));
}
