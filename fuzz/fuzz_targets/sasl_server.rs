//! Server SASL steppers (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256) fed arbitrary
//! client responses: they never panic, and they report `Authenticated` only
//! for exactly the right answer for the one known user.
//!
//! Input: byte 0 picks the mechanism (bits 0-1) and whether the first chunk
//! is the initial response (bit 2); then chunks of `[len][len bytes]` (a
//! short last chunk takes what is left) are the client's decoded responses.
//!
//! SCRAM-SHA-256 can only succeed with a proof derived from the password,
//! which arbitrary bytes do not find; so for it, `Authenticated` is a bug.

#![no_main]

use std::sync::LazyLock;

use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use md5::Md5;
use smarthost_authinfo::server::{
    AuthContext, AuthPolicy, Mechanism, Outcome, ServerCredentials, ServerSasl, Step,
};

const USER: &str = "fuzzuser";
const PASSWORD: &str = "fuzz pass";
const HOST: &str = "mx.example.org";
const NONCE: &str = "fuzznonce";
const NOW: u64 = 1_700_000_000;

static CREDENTIALS: LazyLock<ServerCredentials> = LazyLock::new(|| {
    ServerCredentials::parse_str("fuzz", &format!("{USER} {PASSWORD}\nother@example.org x\n"))
        .expect("fixed credentials parse")
});

/// What a correct CRAM-MD5 response must be (hex in either case).
static CRAM_DIGEST: LazyLock<[u8; 16]> = LazyLock::new(|| {
    let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(PASSWORD.as_bytes()).expect("any key");
    mac.update(format!("<{NONCE}.{NOW}@{HOST}>").as_bytes());
    mac.finalize().into_bytes().into()
});

fuzz_target!(|input: &[u8]| {
    let Some((&selector, mut rest)) = input.split_first() else {
        return;
    };
    let mechanism = Mechanism::ALL[usize::from(selector & 3)];
    let mut chunks = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        chunks.push(&tail[..len]);
        rest = &tail[len..];
    }
    let has_initial = selector & 4 != 0 && !chunks.is_empty();

    let ctx = AuthContext::new(HOST, true, NOW).dangerous_with_fixed_nonce(NONCE).expect("valid fixed nonce");
    let mut sasl = ServerSasl::start(mechanism, &CREDENTIALS, &AuthPolicy::default(), ctx)
        .expect("every mechanism is enabled and TLS is on");
    let mut sent: Vec<&[u8]> = Vec::new();
    let mut step = if has_initial {
        sent.push(chunks[0]);
        sasl.handle_start(Some(chunks[0]))
    } else {
        sasl.handle_start(None)
    };
    for chunk in &chunks[usize::from(has_initial)..] {
        if let Step::Done(outcome) = &step {
            check(mechanism, &sent, outcome);
            assert_eq!(sasl.handle_response(chunk), Step::Done(Outcome::Malformed));
            return;
        }
        sent.push(chunk);
        step = sasl.handle_response(chunk);
    }
    if let Step::Done(outcome) = &step {
        check(mechanism, &sent, outcome);
    }
});

fn check(mechanism: Mechanism, sent: &[&[u8]], outcome: &Outcome) {
    let Outcome::Authenticated { login } = outcome else {
        return;
    };
    assert_eq!(login, USER);
    let right = match mechanism {
        Mechanism::Plain => {
            let bare = format!("\0{USER}\0{PASSWORD}");
            let with_authzid = format!("{USER}{bare}");
            sent == [bare.as_bytes()] || sent == [with_authzid.as_bytes()]
        }
        Mechanism::Login => sent == [USER.as_bytes(), PASSWORD.as_bytes()],
        Mechanism::CramMd5 => sent.len() == 1 && is_cram_answer(sent[0]),
        _ => false,
    };
    assert!(right, "{mechanism} authenticated with {sent:?}");
}

fn is_cram_answer(response: &[u8]) -> bool {
    let Some(hex) = response.strip_prefix(format!("{USER} ").as_bytes()) else {
        return false;
    };
    let expected: String = CRAM_DIGEST.iter().map(|b| format!("{b:02x}")).collect();
    hex.eq_ignore_ascii_case(expected.as_bytes())
}
