//! Property tests: whatever the recipients say, a built report parses back
//! to the same fields after the normalisation `dsn`'s docs describe, and
//! it is a well-formed multipart/report.

use mail_parser::{MessageParser, MimeHeaders};
use proptest::prelude::*;
use smarthost_smtp_core::EnhancedStatus;
use smarthost_smtp_core::dsn::{
    Action, Diagnostic, PerMessageFields, RecipientReport, ReportBuilder, Returned, ReturnedMessage,
    UnixTime, parse_report,
};

/// The normalisation of the `dsn` module docs, written out naively: gaps
/// (white space and control characters) collapse to one space and leave
/// the ends, then `\x{HEX}` naming a non-ASCII, non-control character
/// becomes that character.
fn normalized(text: &str) -> String {
    let words: Vec<&str> =
        text.split(|c: char| c.is_ascii_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let collapsed = words.join(" ");
    let mut out = String::new();
    let chars: Vec<char> = collapsed.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i..].starts_with(&['\\', 'x', '{'])
            && let Some(close) = chars[i + 3..].iter().position(|&c| c == '}')
        {
            let digits: String = chars[i + 3..i + 3 + close].iter().collect();
            let named = Some(&digits)
                .filter(|d| (1..=6).contains(&d.len()) && d.chars().all(|c| c.is_ascii_hexdigit()))
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .and_then(char::from_u32)
                .filter(|c| !c.is_ascii() && !c.is_control());
            if let Some(c) = named {
                out.push(c);
                i += 3 + close + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Caller text: printable ASCII that matters to the format, white space
/// and control characters (CR and LF among them), non-ASCII from Latin-1
/// to emoji, and the pieces of an RFC 6533 escape.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .@<>;:()\"\\[\\],=+\\-\t\r\n\u{0}\u{7}\u{b}\u{7f}\u{85}\u{a0}éßŁ日本\u{2028}😀\\\\x{}E9]{0,40}"
}

fn atom() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9-]{1,12}"
}

/// Any time mail-parser reads back: 1970 up to the year 3000.
fn time() -> impl Strategy<Value = UnixTime> {
    (0..32_503_680_000u64).prop_map(UnixTime)
}

fn status() -> impl Strategy<Value = EnhancedStatus> {
    (prop::sample::select(vec![2u8, 4, 5]), 0..1_000u16, 0..1_000u16)
        .prop_map(|(class, subject, detail)| EnhancedStatus::new(class, subject, detail).unwrap())
}

fn action() -> impl Strategy<Value = Action> {
    prop::sample::select(vec![
        Action::Failed,
        Action::Delayed,
        Action::Delivered,
        Action::Relayed,
        Action::Expanded,
    ])
}

fn recipient() -> impl Strategy<Value = RecipientReport> {
    (
        (text(), action(), status(), prop::option::of((atom(), text()))),
        (prop::option::of(text()), prop::option::of((atom(), text()))),
        (prop::option::of(time()), prop::option::of(text()), prop::option::of(time())),
    )
        .prop_map(|((address, action, status, orcpt), (remote, diagnostic), (last, log_id, until))| {
            let mut recipient = RecipientReport::new(address, action, status);
            recipient.original_recipient = orcpt;
            recipient.remote_mta = remote;
            recipient.diagnostic = diagnostic.map(|(kind, text)| Diagnostic::new(kind, text));
            recipient.last_attempt = last;
            recipient.final_log_id = log_id;
            recipient.will_retry_until = until;
            recipient
        })
}

/// What `parse_report` should give back for `recipient`.
fn expected(recipient: &RecipientReport) -> RecipientReport {
    let mut out = recipient.clone();
    out.final_recipient = normalized(&recipient.final_recipient);
    out.original_recipient = recipient.original_recipient.as_ref().map(|(t, a)| (t.clone(), normalized(a)));
    out.remote_mta = recipient.remote_mta.as_deref().map(normalized);
    out.diagnostic = recipient
        .diagnostic
        .as_ref()
        .map(|d| Diagnostic::new(d.diagnostic_type.clone(), normalized(&d.text)));
    out.final_log_id = recipient.final_log_id.as_deref().map(normalized);
    out
}

/// An original message: a few header lines, the empty line, a body.
fn original() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (prop::collection::vec("[A-Z][a-z]{0,8}: [ -~]{0,30}", 0..4), "[ -~\r\n]{0,60}").prop_map(
        |(headers, body)| {
            let headers: Vec<u8> = headers.iter().flat_map(|h| format!("{h}\r\n").into_bytes()).collect();
            let mut message = headers.clone();
            message.extend_from_slice(b"\r\n");
            message.extend_from_slice(body.replace('\r', "").replace('\n', "\r\n").as_bytes());
            (message, headers)
        },
    )
}

#[derive(Clone, Copy, Debug)]
enum Ret {
    Full,
    Headers,
    None,
}

fn ret() -> impl Strategy<Value = Ret> {
    prop::sample::select(vec![Ret::Full, Ret::Headers, Ret::None])
}

fn sender() -> impl Strategy<Value = String> {
    "[a-z0-9.+-]{1,12}@[a-z]{1,8}\\.example"
}

proptest! {
    #[test]
    fn build_then_parse_gives_back_the_fields(
        sender in sender(),
        envid in prop::option::of(text()),
        received_from in prop::option::of(text()),
        arrival in prop::option::of(time()),
        date in time(),
        recipients in prop::collection::vec(recipient(), 1..5),
        (message, headers) in original(),
        ret in ret(),
        limit in 0..200usize,
    ) {
        let returned = match ret {
            Ret::Full => Returned::Full(&message),
            Ret::Headers => Returned::Headers(&message),
            Ret::None => Returned::None,
        };
        let mut builder = ReportBuilder::new(&sender, "relay.example.org", "Q1.x", date)
            .unwrap()
            .returned(returned)
            .return_limit(limit);
        if let Some(envid) = &envid {
            builder = builder.original_envelope_id(envid);
        }
        if let Some(host) = &received_from {
            builder = builder.received_from_mta(host);
        }
        if let Some(arrival) = arrival {
            builder = builder.arrival_date(arrival);
        }
        for recipient in &recipients {
            builder = builder.recipient(recipient.clone());
        }
        let report = builder.build().unwrap();
        prop_assert_eq!(report.reverse_path(), "");
        prop_assert_eq!(&report.recipient, &sender);

        let parsed = parse_report(&report.message).unwrap();
        let mut fields = PerMessageFields::new("relay.example.org");
        fields.original_envelope_id = envid.as_deref().map(normalized);
        fields.received_from_mta = received_from.as_deref().map(normalized);
        fields.arrival_date = arrival;
        prop_assert_eq!(&parsed.message, &fields);
        prop_assert_eq!(&parsed.recipients, &recipients.iter().map(expected).collect::<Vec<_>>());

        let failed = recipients.iter().filter(|r| r.action == Action::Failed);
        let too_big = failed.clone().any(|r| matches!((r.status.subject(), r.status.detail()), (3, 4) | (2, 3)));
        let whole = failed.count() > 0 && !too_big && message.len() <= limit;
        let expected_returned = match ret {
            Ret::None => None,
            Ret::Full if whole => {
                let mut message = message.clone();
                if !message.ends_with(b"\r\n") {
                    message.extend_from_slice(b"\r\n");
                }
                Some(ReturnedMessage::Full(message))
            }
            Ret::Full | Ret::Headers => Some(ReturnedMessage::Headers(headers.clone())),
        };
        prop_assert_eq!(parsed.returned, expected_returned);
    }

    #[test]
    fn built_report_is_a_well_formed_multipart_report(
        recipients in prop::collection::vec(recipient(), 1..5),
        (message, _) in original(),
    ) {
        let mut builder = ReportBuilder::new("alice@example.com", "relay.example.org", "Q1", UnixTime(1_715_682_067))
            .unwrap()
            .returned(Returned::Full(&message));
        for recipient in recipients {
            builder = builder.recipient(recipient);
        }
        let report = builder.build().unwrap();

        // Every line ends in CR LF and fits RFC 5322's 998 octets.
        let bytes = &report.message;
        for (i, &b) in bytes.iter().enumerate() {
            prop_assert!(b != b'\n' || (i > 0 && bytes[i - 1] == b'\r'), "bare LF at {}", i);
            prop_assert!(b != b'\r' || bytes.get(i + 1) == Some(&b'\n'), "bare CR at {}", i);
        }
        prop_assert!(bytes.split(|&b| b == b'\n').all(|line| line.len() <= 999));

        let parsed = MessageParser::new().parse(bytes).unwrap();
        let ct = parsed.content_type().unwrap();
        prop_assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        prop_assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        let children = parsed.parts[0].sub_parts().unwrap();
        let status_parts = children
            .iter()
            .filter(|&&id| parsed.parts[id as usize].is_content_type("message", "delivery-status"))
            .count();
        prop_assert_eq!(status_parts, 1);
        prop_assert!(parsed.parts[children[0] as usize].is_content_type("text", "plain"));
        // The delivery-status part is 7-bit, as RFC 3464 asks.
        let status = children.iter().map(|&id| &parsed.parts[id as usize]).find(|p| p.is_content_type("message", "delivery-status")).unwrap();
        prop_assert!(status.contents().is_ascii());
    }

    #[test]
    fn parse_report_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_report(&bytes);
    }

    #[test]
    fn parse_report_survives_damaged_reports(cut in 0..2_000usize, flip in 0..2_000usize, byte in any::<u8>()) {
        let report = ReportBuilder::new("alice@example.com", "relay.example.org", "Q1", UnixTime(0))
            .unwrap()
            .recipient(RecipientReport::new("bob@example.net", Action::Failed, EnhancedStatus::OTHER))
            .build()
            .unwrap();
        let mut bytes = report.message;
        if let Some(b) = bytes.get_mut(flip) {
            *b = byte;
        }
        bytes.truncate(cut);
        let _ = parse_report(&bytes);
    }
}

#[test]
fn normalization_reference_reads_escapes() {
    assert_eq!(normalized(" a\r\n b\\x{E9}\\x{41}\\x{zz} "), "a bé\\x{41}\\x{zz}");
}
