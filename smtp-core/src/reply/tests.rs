use proptest::prelude::*;

use super::*;

fn complete(input: &[u8]) -> (Reply, usize) {
    match parse_reply(input) {
        Ok(ParsedReply::Complete(reply, used)) => (reply, used),
        other => panic!("{input:?}: {other:?}"),
    }
}

#[test]
fn d1_multiline_ehlo_reply() {
    let input = b"250-mx.example.net\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n";
    let (reply, used) = complete(input);
    assert_eq!(used, input.len());
    assert_eq!(reply.code(), 250);
    assert_eq!(reply.lines().collect::<Vec<_>>(), ["mx.example.net", "PIPELINING", "SIZE 10240000"]);
}

#[test]
fn d2_enhanced_code_and_class() {
    let (reply, _) = complete(b"550 5.1.1 User unknown\r\n");
    assert_eq!(reply.status(), Some(EnhancedStatus::BAD_DESTINATION_MAILBOX));
    assert!(reply.is_permanent());
    assert_eq!(reply.text(), "User unknown");
}

#[test]
fn d3_mixed_codes_are_a_protocol_error_that_keeps_the_last_code() {
    match parse_reply(b"451-4.3.0 a\r\n452 4.3.1 b\r\n") {
        Err(ReplyParseError::InconsistentCodes { first: 451, last: 452, reply, consumed: 26 }) => {
            assert_eq!(
                (reply.code(), reply.status(), reply.text().as_ref()),
                (452, "4.3.1".parse().ok(), "a b")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn d4_status_without_text() {
    let (reply, _) = complete(b"250 2.0.0\r\n");
    assert_eq!(reply.status(), Some(EnhancedStatus::OK));
    assert_eq!(reply.text(), "");
    assert_eq!(reply.to_string(), "250 2.0.0\r\n");
}

#[test]
fn d5_four_digits_is_not_a_reply() {
    assert_eq!(parse_reply(b"2500 x\r\n"), Err(ReplyParseError::Malformed));
    assert_eq!(parse_reply(b"2500"), Err(ReplyParseError::Malformed));
    assert_eq!(parse_reply(b"hello\r\n"), Err(ReplyParseError::Malformed));
    assert_eq!(parse_reply(b"600 no\r\n"), Err(ReplyParseError::Malformed));
}

#[test]
fn partial_input_asks_for_more() {
    let input = b"250-a\r\n250 b\r\n";
    for cut in 0..input.len() {
        assert_eq!(parse_reply(&input[..cut]), Ok(ParsedReply::Partial), "cut {cut}");
    }
}

#[test]
fn bare_code_and_lone_lf_are_accepted() {
    let (reply, used) = complete(b"354\n");
    assert_eq!((reply.code(), used), (354, 4));
    assert_eq!(reply.text(), "");
}

#[test]
fn status_of_another_class_is_text() {
    let (reply, _) = complete(b"550 2.0.0 odd\r\n");
    assert_eq!(reply.status(), None);
    assert_eq!(reply.text(), "2.0.0 odd");
}

#[test]
fn control_characters_after_the_status_are_separators() {
    // Found by the smtp_reply fuzz target: a CR before the end of the line
    // hid the status, and rendering then made it reappear.
    let (reply, _) = complete(b"250 2.0.0\r\xe5\n");
    assert_eq!((reply.status(), reply.text().as_ref()), (Some(EnhancedStatus::OK), "\u{fffd}"));
    let (reply, _) = complete(b"550 5.1.1\tUser unknown\r\n");
    assert_eq!(
        (reply.status().unwrap().to_string().as_str(), reply.text().as_ref()),
        ("5.1.1", "User unknown")
    );
    let (again, _) = complete(reply.to_string().as_bytes());
    assert_eq!(again, reply);
}

#[test]
fn pipelined_replies_are_taken_one_at_a_time() {
    let input = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n";
    let (first, used) = complete(input);
    assert_eq!(first.code(), 250);
    let (second, used2) = complete(&input[used..]);
    assert_eq!(second.status(), Some(EnhancedStatus::DESTINATION_VALID));
    assert_eq!(complete(&input[used + used2..]).0.code(), 354);
}

#[test]
fn overlong_lines_are_refused() {
    let mut input = b"250 ".to_vec();
    input.resize(MAX_PARSED_LINE + 10, b'x');
    assert_eq!(parse_reply(&input), Err(ReplyParseError::TooLong));
}

#[test]
fn constructors_refuse_cr_lf_and_bad_codes() {
    assert_eq!(Reply::new(250, None, "a\r\n250 b"), Err(ReplyError::ControlCharacter));
    assert_eq!(Reply::multiline(250, None, ["a", "b\n"]), Err(ReplyError::ControlCharacter));
    assert_eq!(Reply::new(199, None, "x"), Err(ReplyError::BadCode(199)));
    assert_eq!(Reply::new(260, None, "x"), Err(ReplyError::BadCode(260)));
    assert!(matches!(
        Reply::new(250, Some(EnhancedStatus::OTHER), "x"),
        Err(ReplyError::ClassMismatch { code: 250, .. })
    ));
    assert!(matches!(Reply::new(250, None, "x".repeat(600)), Err(ReplyError::LineTooLong(_))));
    assert_eq!(Reply::multiline(250, None, Vec::<&str>::new()), Err(ReplyError::NoLines));
}

#[test]
fn multiline_renders_status_on_every_line() {
    let reply = Reply::multiline(
        550,
        Some(EnhancedStatus::NOT_AUTHORIZED),
        ["Message rejected: the sending host is listed by", "our local policy."],
    )
    .unwrap();
    assert_eq!(
        reply.to_string(),
        "550-5.7.1 Message rejected: the sending host is listed by\r\n550 5.7.1 our local policy.\r\n"
    );
    assert_eq!(
        reply.to_wire(false),
        "550-Message rejected: the sending host is listed by\r\n550 our local policy.\r\n"
    );
}

fn any_status(code: u16) -> impl Strategy<Value = Option<EnhancedStatus>> {
    prop::option::of((0u16..=999, 0u16..=999))
        .prop_map(move |sd| sd.and_then(|(s, d)| EnhancedStatus::new((code / 100) as u8, s, d)))
}

fn any_reply() -> impl Strategy<Value = Reply> {
    prop_oneof![200u16..=259, 300u16..=359, 400u16..=459, 500u16..=559]
        .prop_filter("second digit", |c| (c / 10) % 10 <= 5)
        .prop_flat_map(|code| (Just(code), any_status(code), prop::collection::vec("[ -~]{0,60}", 1..5)))
        .prop_map(|(code, status, lines)| {
            // A line that itself starts with a status of the same class would be read back as one.
            let status = if code / 100 == 3 { None } else { status };
            let lines: Vec<String> = lines.into_iter().map(|l| format!("x{l}")).collect();
            Reply::multiline(code, status, lines).unwrap()
        })
}

proptest! {
    #[test]
    fn render_then_parse_round_trips(reply in any_reply()) {
        let wire = reply.to_string();
        let (parsed, used) = complete(wire.as_bytes());
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(parsed, reply);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_reply(&bytes);
    }

    #[test]
    fn every_rendered_line_is_well_formed(reply in any_reply()) {
        for line in reply.to_string().split_inclusive("\r\n") {
            let b = line.as_bytes();
            prop_assert!(b.len() <= MAX_REPLY_LINE);
            prop_assert!(b[..3].iter().all(u8::is_ascii_digit));
            prop_assert!(b[3] == b' ' || b[3] == b'-');
            prop_assert!(line.ends_with("\r\n") && !line[..line.len() - 2].contains(['\r', '\n']));
        }
    }
}
