//! Where smtp-proto 0.2.5 is not right for a relay, one test per gap: each
//! shows what smtp-proto does and that our code does the right thing.
//!
//! The server uses smtp-proto for the arguments of EHLO/HELO, BDAT, VRFY,
//! EXPN, HELP, NOOP, DATA, RSET and QUIT, after our own line framing; MAIL,
//! RCPT, AUTH, the reply writer, the EHLO list and the DATA reader are ours
//! for the reasons below.

mod server_common;

use std::borrow::Cow;

use server_common::{Harness, codes, config};
use smarthost_smtp_core::{
    DataOutcome, DataProgress, DataReceiver, EnhancedStatus, MailParams, Path, RcptParams, Reply, ReplyError,
};
use smtp_proto::request::receiver::{DataReceiver as ProtoDataReceiver, RequestReceiver};
use smtp_proto::{EXT_PIPELINING, EhloResponse, Error as ProtoError, Request, Response};

fn proto_parse(line: &str) -> Result<Request<String>, ProtoError> {
    Request::parse(&mut line.as_bytes().iter()).map(Request::into_owned)
}

/// (a) A fresh smtp-proto `DataReceiver` does not start at a line start: a
/// first line `.` does not end the data, and a dot-stuffed first line keeps
/// both dots. RFC 5321 §4.5.2 counts the CR LF of the `354` line, so both
/// are wrong (spec §12.2 T2, T3).
#[test]
fn gap_a_data_receiver_does_not_start_at_a_line_start() {
    let mut proto = ProtoDataReceiver::new();
    let mut content = Vec::new();
    assert!(!proto.ingest(&mut b".\r\n".iter(), &mut content), "smtp-proto: `.` as the first line is data");
    assert_eq!(content, b".\r\n");

    let mut proto = ProtoDataReceiver::new();
    let mut content = Vec::new();
    assert!(proto.ingest(&mut b"..leading\r\n.\r\n".iter(), &mut content));
    assert_eq!(content, b"..leading\r\n", "smtp-proto keeps both dots of the first line");

    // Ours (the `data` module the session uses): T3 and T2.
    let mut ours = DataReceiver::new(None);
    let mut content = Vec::new();
    assert_eq!(
        ours.handle_input(b".\r\n", &mut content),
        DataProgress::Done { consumed: 3, outcome: DataOutcome::Complete }
    );
    assert!(content.is_empty());
    let mut ours = DataReceiver::new(None);
    let mut content = Vec::new();
    assert!(matches!(ours.handle_input(b"..leading\r\n.\r\n", &mut content), DataProgress::Done { .. }));
    assert_eq!(content, b".leading\r\n");

    // And through the session.
    let mut h = Harness::new(config());
    h.send(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    h.send(b".\r\n");
    assert_eq!(codes(&h.take_wire()), [220, 250, 250, 250, 354, 250]);
    assert_eq!(h.messages[0].message(), b"");
}

/// (b) ORCPT: smtp-proto refuses the RFC 6533 `utf-8` address type and, for
/// `rfc822`, keeps only the decoded address, so neither the type nor the
/// encoding can be passed on unchanged (dsn.md §7.2).
#[test]
fn gap_b_orcpt_types() {
    let utf8 = proto_parse("RCPT TO:<a@example.org> ORCPT=utf-8;j\\x{00F6}rg@example.com\r\n");
    assert!(utf8.is_err(), "smtp-proto refuses the utf-8 type: {utf8:?}");
    let Ok(Request::Rcpt { to }) = proto_parse("RCPT TO:<a@example.org> ORCPT=rfc822;x+2By@example.com\r\n")
    else {
        panic!("smtp-proto takes rfc822")
    };
    assert_eq!(to.orcpt.as_deref(), Some("x+y@example.com"), "smtp-proto drops the type and decodes");

    let ours = RcptParams::parse("ORCPT=utf-8;j\\x{00F6}rg@example.com").unwrap().orcpt.unwrap();
    assert_eq!((ours.addr_type(), ours.raw_value()), ("utf-8", "j\\x{00F6}rg@example.com"));
    let ours = RcptParams::parse("ORCPT=rfc822;x+2By@example.com").unwrap().orcpt.unwrap();
    assert_eq!(ours.to_string(), "rfc822;x+2By@example.com");
    assert_eq!(ours.address(), "x+y@example.com");
}

/// (c) Quoted local parts, xtext and source routes come out of smtp-proto
/// decoded or dropped: a relay would have to re-quote and re-encode. We keep
/// the path and the parameters exactly as received.
#[test]
fn gap_c_paths_and_xtext_are_decoded() {
    let Ok(Request::Mail { from }) =
        proto_parse("MAIL FROM:<\"john doe\"@example.com> ENVID=abc+2Bdef AUTH=x+3Dy@example.com\r\n")
    else {
        panic!()
    };
    assert_eq!(from.address, "john doe@example.com", "smtp-proto unquotes the local part");
    assert_eq!(from.env_id.as_deref(), Some("abc+def"), "and decodes the xtext");
    assert_eq!(from.auth.as_deref(), Some("x=y@example.com"));
    let Ok(Request::Rcpt { to }) = proto_parse("RCPT TO:<@hub.example:u@example.org>\r\n") else { panic!() };
    assert_eq!(to.address, "u@example.org", "smtp-proto drops the source route");

    let path = Path::parse("\"john doe\"@example.com").unwrap();
    assert_eq!((path.raw(), path.local_part_decoded().as_ref()), ("\"john doe\"@example.com", "john doe"));
    let params = MailParams::parse("ENVID=abc+2Bdef AUTH=x+3Dy@example.com").unwrap();
    assert_eq!(
        (params.envid.as_deref(), params.auth.as_deref()),
        (Some("abc+2Bdef"), Some("x+3Dy@example.com"))
    );
    assert_eq!(params.envid_decoded().as_deref(), Some("abc+def"));

    let mut h = Harness::new(config());
    h.send(
        b"EHLO c.example\r\nMAIL FROM:<\"john doe\"@example.com>\r\nRCPT TO:<@hub.example:u@example.org>\r\n",
    );
    let wire = h.take_wire();
    assert!(wire.contains("250 2.1.0 <\"john doe\"@example.com>... Sender ok\r\n"), "{wire}");
    assert!(wire.contains("250 2.1.5 <@hub.example:u@example.org>... Recipient ok\r\n"), "{wire}");
}

/// (d) smtp-proto's reply writer writes one line, always with an enhanced
/// code (so none can be left out after HELO), and writes CR and LF in the
/// text as they are: a reply text can inject a line of its own.
#[test]
fn gap_d_reply_writer_is_single_line_and_unchecked() {
    let mut wire = Vec::new();
    Response { code: 250, esc: [2, 0, 0], message: "ok\r\n250 2.0.0 injected" }.write(&mut wire).unwrap();
    assert_eq!(wire, b"250 2.0.0 ok\r\n250 2.0.0 injected\r\n", "smtp-proto writes the CR LF through");

    assert_eq!(
        Reply::new(250, Some(EnhancedStatus::OK), "ok\r\n250 injected"),
        Err(ReplyError::ControlCharacter)
    );
    let multi = Reply::multiline(550, Some(EnhancedStatus::NOT_AUTHORIZED), ["one", "two"]).unwrap();
    assert_eq!(multi.to_wire(true), "550-5.7.1 one\r\n550 5.7.1 two\r\n");
    assert_eq!(multi.to_wire(false), "550-one\r\n550 two\r\n");
}

/// (e) A capability bit smtp-proto does not know makes `EhloResponse::write`
/// emit a `250-` or `250 ` prefix with nothing after it, which runs into the
/// next line (or leaves the reply unterminated). Our EHLO list is written
/// from what the session implements.
#[test]
fn gap_e_unknown_capability_corrupts_ehlo() {
    let mut response = EhloResponse::new("mx.example.org");
    response.capabilities = EXT_PIPELINING | 1 << 30;
    let mut wire = Vec::new();
    response.write(&mut wire).unwrap();
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "250-mx.example.org you had me at EHLO\r\n250-250 PIPELINING\r\n",
        "the unknown bit leaves `250-` glued to the next line"
    );
    let mut response = EhloResponse::new("mx.example.org");
    response.capabilities = 1 << 31;
    let mut wire = Vec::new();
    response.write(&mut wire).unwrap();
    assert_eq!(wire, b"250-mx.example.org you had me at EHLO\r\n250 ", "and alone it leaves the reply open");

    let mut h = Harness::new(config());
    h.send(b"EHLO c.example\r\n");
    let wire = h.take_wire();
    assert_eq!(server_common::bad_reply_line(wire.as_bytes()), None, "{wire}");
    assert!(wire.ends_with("250 HELP\r\n"), "{wire}");
}

/// (f) smtp-proto's request framing ends a line at a bare LF, and its verb
/// reader skips CR anywhere: `DATA LF` and `DA CR TA CR LF` are DATA. Those
/// are the line endings SMTP smuggling relies on; we refuse them (spec §5.3).
#[test]
fn gap_f_bare_line_endings_in_commands() {
    let mut receiver = RequestReceiver::default();
    let parsed = receiver.ingest(&mut b"DATA\n".iter()).map(Request::into_owned);
    assert_eq!(parsed, Ok(Request::Data), "smtp-proto takes a bare LF as the end of a command");
    assert_eq!(proto_parse("DA\rTA\r\n"), Ok(Request::Data), "and ignores a CR inside the verb");

    let mut h = Harness::new(config());
    h.send(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\n");
    h.send(b"DA\rTA\r\n");
    let wire = h.take_wire();
    assert_eq!(codes(&wire), [220, 250, 250, 250, 500, 421], "{wire}");
    assert!(h.closed);
}

/// (g) sendmail's spacing and missing brackets (spec §1): smtp-proto takes
/// `MAIL FROM: <a@b>` (so it could not serve our strict mode) but refuses
/// `MAIL FROM:a@b`, which sendmail, and our compatible mode, accept.
#[test]
fn gap_g_sendmail_syntax() {
    let Ok(Request::Mail { from }) = proto_parse("MAIL FROM: <a@example.com>\r\n") else { panic!() };
    assert_eq!(from.address, "a@example.com");
    assert!(proto_parse("MAIL FROM:a@example.com\r\n").is_err());

    let mut h = Harness::new(config());
    h.send(b"EHLO c.example\r\nMAIL FROM: <a@example.com>\r\nRSET\r\nMAIL FROM:a@example.com\r\n");
    assert_eq!(codes(&h.take_wire()), [220, 250, 250, 250, 250]);
    let mut strict = config();
    strict.syntax = smarthost_smtp_core::SyntaxMode::Strict;
    let mut h = Harness::new(strict);
    h.send(b"EHLO c.example\r\nMAIL FROM: <a@example.com>\r\nMAIL FROM:a@example.com\r\n");
    assert_eq!(codes(&h.take_wire()), [220, 250, 501, 501]);
}

/// (h) smtp-proto turns invalid UTF-8 into U+FFFD without saying so; the
/// server refuses a non-UTF-8 EHLO name instead of echoing a changed one.
#[test]
fn gap_h_invalid_utf8_is_replaced_silently() {
    let Ok(Request::Ehlo { host }) = Request::parse(&mut b"EHLO a\xffb\r\n".iter()) else { panic!() };
    assert!(matches!(host, Cow::Owned(_)) && host == "a\u{fffd}b");
    let mut h = Harness::new(config());
    h.send(b"EHLO a\xffb\r\n");
    assert!(h.take_wire().ends_with("501 Invalid domain name\r\n"));
}
