use super::*;

fn parse(text: &[u8]) -> Source<'_> {
    Source::parse(text, &SourceOptions::default())
}

fn pairs(source: &Source<'_>) -> Vec<(String, String)> {
    source
        .entries()
        .iter()
        .map(|e| {
            (String::from_utf8_lossy(&e.key).into_owned(), String::from_utf8_lossy(&e.value).into_owned())
        })
        .collect()
}

fn kinds(source: &Source<'_>) -> Vec<(usize, DiagnosticKind)> {
    source.diagnostics().iter().map(|d| (d.line, d.kind.clone())).collect()
}

#[test]
fn key_ends_at_first_white_space_and_value_keeps_the_rest() {
    let source = parse(b"Key\t \tvalue with  inner space  \n");
    assert_eq!(pairs(&source), [("key".into(), "value with  inner space  ".into())]);
    assert!(!source.has_errors());
}

#[test]
fn a_hash_is_a_comment_only_at_the_start_of_a_line() {
    let source = parse(b"# comment\nkey value # not a comment\n");
    assert_eq!(pairs(&source), [("key".into(), "value # not a comment".into())]);
}

#[test]
fn the_comment_character_can_be_changed() {
    let options = SourceOptions { comment: b';', ..SourceOptions::default() };
    let source = Source::parse(b"; comment\n#key value\n", &options);
    assert_eq!(pairs(&source), [("#key".into(), "value".into())]);
}

#[test]
fn carriage_return_is_white_space_in_the_key_but_kept_in_the_value() {
    let source = parse(b"key value\r\nlonely\r\n");
    assert_eq!(pairs(&source), [("key".into(), "value\r".into())]);
    assert_eq!(
        kinds(&source),
        [
            (1, DiagnosticKind::CrLfLines { count: 2 }),
            (2, DiagnosticKind::NoValue { key: b"lonely".to_vec() }),
        ]
    );
    assert_eq!(source.diagnostics()[0].severity, Severity::Warning);
}

#[test]
fn strict_mode_refuses_cr_and_warns_about_suspicious_values() {
    let options = SourceOptions { strict: true, ..SourceOptions::default() };
    let source = Source::parse(b"a b\r\nc d # x\ne f \n# c\r\n", &options);
    assert_eq!(pairs(&source), [("c".into(), "d # x".into()), ("e".into(), "f ".into())]);
    assert_eq!(
        kinds(&source),
        [
            (1, DiagnosticKind::CarriageReturn),
            (2, DiagnosticKind::CommentInValue),
            (3, DiagnosticKind::TrailingWhitespace),
        ]
    );
}

#[test]
fn leading_white_space_is_an_error_without_a_delimiter_only() {
    let source = parse(b" key value\n\tkey value\n\x0bkey value\n");
    assert!(kinds(&source).iter().all(|(_, kind)| *kind == DiagnosticKind::LeadingSpace));
    assert_eq!(source.diagnostics().len(), 3);
    let options = SourceOptions { delimiter: Some(b':'), ..SourceOptions::default() };
    assert_eq!(pairs(&Source::parse(b" key:value\n", &options)), [(" key".into(), "value".into())]);
}

#[test]
fn delimiter_runs_are_skipped_and_an_empty_key_is_allowed() {
    let options = SourceOptions { delimiter: Some(b':'), ..SourceOptions::default() };
    let source = Source::parse(b"a:b c\nx::y\n:z\nq:\n", &options);
    assert_eq!(
        pairs(&source),
        [("a".into(), "b c".into()), ("x".into(), "y".into()), ("".into(), "z".into())]
    );
    assert_eq!(kinds(&source), [(4, DiagnosticKind::NoValue { key: b"q".to_vec() })]);
}

#[test]
fn allow_empty_accepts_a_key_alone() {
    let options = SourceOptions { allow_empty: true, ..SourceOptions::default() };
    assert_eq!(
        pairs(&Source::parse(b"key\nother   \n", &options)),
        [("key".into(), "".into()), ("other".into(), "".into())]
    );
}

#[test]
fn only_ascii_upper_case_is_folded() {
    let source = parse("KEY\u{c4} v\n".as_bytes());
    assert_eq!(&*source.entries()[0].key, "key\u{c4}".as_bytes());
    let options = SourceOptions { fold_case: false, ..SourceOptions::default() };
    assert_eq!(&*Source::parse(b"MixedCase V\n", &options).entries()[0].key, b"MixedCase");
}

#[test]
fn keys_are_bytes_not_text() {
    let source = parse(b"\xff\xfe value\n");
    assert_eq!(&*source.entries()[0].key, b"\xff\xfe");
}

#[test]
fn duplicates_keep_the_first_and_name_both_lines() {
    let source = parse(b"a 1\nb 2\nA 3\n");
    assert_eq!(pairs(&source), [("a".into(), "1".into()), ("b".into(), "2".into())]);
    assert_eq!(kinds(&source), [(3, DiagnosticKind::DuplicateKey { key: b"a".to_vec(), first_line: 1 })]);
    let message = source.diagnostics()[0].display_in("access").to_string();
    assert!(
        message.starts_with("access:3: error: key `a`: duplicate key, first defined on line 1"),
        "{message}"
    );
}

#[test]
fn replace_lets_the_last_line_win_silently() {
    let options = SourceOptions { duplicates: Duplicates::Replace, ..SourceOptions::default() };
    let source = Source::parse(b"a 1\nb 2\na 3\na 4\n", &options);
    assert_eq!(pairs(&source), [("b".into(), "2".into()), ("a".into(), "4".into())]);
    assert!(source.diagnostics().is_empty());
}

#[test]
fn keep_all_stores_every_copy() {
    let options = SourceOptions { duplicates: Duplicates::KeepAll, ..SourceOptions::default() };
    let source = Source::parse(b"a 1\na 2\n", &options);
    assert_eq!(pairs(&source), [("a".into(), "1".into()), ("a".into(), "2".into())]);
}

#[test]
fn parse_onto_treats_existing_entries_as_earlier_lines() {
    let existing = vec![Entry { line: 0, key: Cow::Borrowed(b"a"), value: Cow::Borrowed(b"old") }];
    let source = Source::parse_onto(existing, b"a new\nb 2\n", &SourceOptions::default());
    assert_eq!(pairs(&source), [("a".into(), "old".into()), ("b".into(), "2".into())]);
    assert_eq!(kinds(&source), [(1, DiagnosticKind::DuplicateKey { key: b"a".to_vec(), first_line: 0 })]);
}

#[test]
fn a_line_of_1022_bytes_fits_and_one_more_does_not() {
    let fits = format!("k {}\n", "v".repeat(LINE_BUFFER - 2 - 2));
    assert_eq!(fits.len(), LINE_BUFFER - 1);
    assert_eq!(parse(fits.as_bytes()).entries().len(), 1);

    // 1023 bytes before the newline: makemap reports line 1 as too long and
    // then reads the newline alone as line 2, an empty line.
    let long = format!("k {}\nnext v\n", "v".repeat(LINE_BUFFER - 1 - 2));
    let source = parse(long.as_bytes());
    assert_eq!(kinds(&source), [(1, DiagnosticKind::LineTooLong)]);
    assert_eq!(source.entries()[0].line, 3);
}

#[test]
fn the_rest_of_a_long_line_is_read_as_a_new_line() {
    let long = format!("k {}tail value\n", "v".repeat(LINE_BUFFER - 1 - 2));
    let source = parse(long.as_bytes());
    assert_eq!(pairs(&source), [("tail".into(), "value".into())]);
    assert_eq!(source.entries()[0].line, 2);
}

#[test]
fn a_last_line_without_newline_is_accepted() {
    assert_eq!(pairs(&parse(b"a 1\nb 2")), [("a".into(), "1".into()), ("b".into(), "2".into())]);
}

#[test]
fn a_nul_byte_rejects_the_line() {
    let source = parse(b"a 1\0x\nb 2\n");
    assert_eq!(pairs(&source), [("b".into(), "2".into())]);
    assert_eq!(kinds(&source), [(1, DiagnosticKind::NulByte)]);
}

#[test]
fn messages_say_what_to_do() {
    let source = parse(b" lead\nkey\n");
    let messages: Vec<String> =
        source.diagnostics().iter().map(|d| d.display_in("mailertable").to_string()).collect();
    assert!(messages[0].starts_with("mailertable:1: error: syntax error (leading space)"), "{}", messages[0]);
    assert!(messages[1].contains("pass -e to allow empty values"), "{}", messages[1]);
}
