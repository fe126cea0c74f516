//! Properties of the server session: pipelined input gives the same replies
//! however it is split and whenever decisions are answered; arbitrary
//! command sequences never panic and every reply line is well-formed.

mod server_common;

use proptest::prelude::*;
use server_common::{Harness, auth_config, bad_reply_line, codes, config};
use smarthost_smtp_core::{ServerConfig, TlsInfo};

const GREETING: &[u8] = b"EHLO client.example\r\n";
const ENVELOPE: &[u8] = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<reject@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n";
const CONTENT: &[u8] =
    b"Subject: split\r\n\r\n..dot\r\nbody\r\n.\r\nMAIL FROM:<d@example.org>\r\nRSET\r\nQUIT\r\n";
/// A whole session with BDAT: legal to send in one go, so any split works.
const BDAT_SESSION: &[u8] = b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 10\r\n0123456789BDAT 0\r\nBDAT 5 LAST\r\n\r\n.\r\nNOOP\r\nQUIT\r\n";

fn run_flights(flights: &[&[u8]], cuts: &[usize], defer: bool) -> (String, Vec<Vec<u8>>) {
    let mut h = Harness::new(config());
    h.defer = defer;
    for flight in flights {
        let mut at = 0;
        for &cut in cuts.iter().filter(|&&c| c < flight.len()) {
            if cut > at {
                h.send(&flight[at..cut]);
                at = cut;
            }
        }
        h.send(&flight[at..]);
    }
    (h.take_wire(), h.messages.iter().map(|m| m.content.clone()).collect())
}

#[test]
fn pipelined_transaction_survives_any_split() {
    let expected = run_flights(&[GREETING, ENVELOPE, CONTENT], &[], false);
    assert_eq!(codes(&expected.0), [220, 250, 250, 250, 550, 250, 354, 250, 250, 250, 221]);
    assert_eq!(expected.1.len(), 1);
    for cut in 0..=ENVELOPE.len() {
        let got = run_flights(&[GREETING, &ENVELOPE[..cut], &ENVELOPE[cut..], CONTENT], &[], false);
        assert_eq!(got, expected, "envelope split at byte {cut}");
    }
    for cut in 0..=CONTENT.len() {
        let got = run_flights(&[GREETING, ENVELOPE, &CONTENT[..cut], &CONTENT[cut..]], &[], false);
        assert_eq!(got, expected, "content split at byte {cut}");
    }
}

#[test]
fn bdat_session_survives_any_split() {
    let expected = run_flights(&[BDAT_SESSION], &[], false);
    assert_eq!(codes(&expected.0), [220, 250, 250, 250, 250, 250, 250, 250, 221]);
    assert_eq!(expected.1.len(), 1);
    assert!(expected.1[0].ends_with(b"0123456789\r\n.\r\n"));
    for cut in 0..=BDAT_SESSION.len() {
        assert_eq!(run_flights(&[BDAT_SESSION], &[cut], false), expected, "split at byte {cut}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pipelined_replies_do_not_depend_on_splits_or_late_decisions(
        cuts in prop::collection::vec(0usize..200, 0..8),
        defer: bool,
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let expected = run_flights(&[GREETING, ENVELOPE, CONTENT], &[], false);
        prop_assert_eq!(run_flights(&[GREETING, ENVELOPE, CONTENT], &cuts, defer), expected);
        let expected = run_flights(&[BDAT_SESSION], &[], false);
        prop_assert_eq!(run_flights(&[BDAT_SESSION], &cuts, defer), expected);
    }

    #[test]
    fn random_command_sequences_never_panic_and_replies_are_well_formed(
        tokens in prop::collection::vec(0usize..TOKENS.len(), 0..60),
        chunks in prop::collection::vec(1usize..40, 1..20),
        defer: bool,
    ) {
        let input: Vec<u8> = tokens.iter().flat_map(|&t| TOKENS[t].iter().copied()).collect();
        let mut h = Harness::new(fuzz_config());
        h.defer = defer;
        let mut at = 0;
        for &size in chunks.iter().cycle() {
            if at >= input.len() || h.closed {
                break;
            }
            let end = (at + size).min(input.len());
            h.send(&input[at..end]);
            at = end;
            if std::mem::take(&mut h.starttls) {
                h.session.handle_tls_established(TlsInfo::new("TLSv1.3", "TLS_AES_128_GCM_SHA256"), h.now);
                h.drain();
            }
        }
        h.wait(3600);
        prop_assert_eq!(bad_reply_line(&h.wire), None);
        prop_assert!(h.session.heap_size() < 64 * 1024, "heap {}", h.session.heap_size());
    }
}

/// Limits low enough to be reached by short random input.
fn fuzz_config() -> ServerConfig {
    let mut config = config();
    config.tls_available = true;
    let mut auth = auth_config();
    auth.allow_without_tls = true;
    config.auth = Some(auth);
    config.max_message_size = Some(64);
    config.max_recipients = 3;
    config.max_hops = 1;
    config.max_bad_commands = 1000;
    config.vrfy = true;
    config.expn = true;
    config
}

/// An SMTP-like alphabet.
const TOKENS: &[&[u8]] = &[
    b"EHLO x.example\r\n",
    b"HELO x\r\n",
    b"MAIL FROM:<a@b.example>\r\n",
    b"MAIL FROM:<> SIZE=10 BODY=8BITMIME\r\n",
    b"MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
    b"RCPT TO:<c@d.example>\r\n",
    b"RCPT TO:<reject@d.example>\r\n",
    b"RCPT TO:<close@d.example>\r\n",
    b"RCPT TO:<\"q\\\"x\"@d.example> NOTIFY=NEVER\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\n",
    b"BDAT 3 LAST\r\n",
    b"BDAT 0 LAST\r\n",
    b"BDAT x\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN AGFsaWNlAG9wZW4gc2VzYW1l\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH CRAM-MD5\r\n",
    b"AUTH SCRAM-SHA-256 biwsbj1hbGljZSxyPWFiYw==\r\n",
    b"YWxpY2U=\r\n",
    b"*\r\n",
    b"VRFY x\r\n",
    b"EXPN x\r\n",
    b"HELP\r\n",
    b"XYZZY\r\n",
    b"GET / HTTP/1.1\r\n",
    b"Received: x\r\n",
    b"\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r.\r",
    b"\n",
    b"\r",
    b".",
    b"..",
    b"abc",
    b"\0",
    b"\xff\xfe",
    b"\xc3\xa9",
    b" ",
    b"<",
    b">",
    b"@",
    b":",
    b"0123456789012345678901234567890123456789",
];
