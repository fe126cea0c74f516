//! Tests for client-side SASL: RFC vectors, authinfo.md §5 worked examples,
//! chooser properties and no-panic properties of the steppers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::chooser::ChannelBinding;
use super::*;

fn respond(step: Result<Step, SaslError>) -> Vec<u8> {
    match step {
        Ok(Step::Respond(secret)) => secret.expose().to_vec(),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn start(mechanism: Mechanism, credentials: &Credentials) -> ClientMechanism {
    let binding = match mechanism {
        Mechanism::ScramSha256Plus => ChannelBinding::TlsExporter(vec![7; 32]),
        _ => ChannelBinding::Unsupported,
    };
    ClientMechanism::new(&Selected::new_for_test(mechanism, binding), credentials).unwrap()
}

fn scram_with_nonce(credentials: &Credentials, binding: ChannelBinding, nonce: &str) -> ClientMechanism {
    let scram = scram::Scram::new(credentials, binding, Some(nonce)).unwrap();
    ClientMechanism { inner: Inner::Scram(Box::new(scram)) }
}

fn relayuser() -> Credentials {
    Credentials::new("relayuser@example.net", "Tr0ub4dor&3")
}

// --- PLAIN ---

#[test]
fn plain_rfc4616_examples() {
    let mut tim = start(Mechanism::Plain, &Credentials::new("tim", "tanstaaftanstaaf"));
    assert_eq!(tim.initial_response().unwrap().unwrap().expose(), b"\0tim\0tanstaaftanstaaf");

    let ursel = Credentials { authzid: Some("Ursel".into()), ..Credentials::new("Kurt", "xipj3plmq") };
    let mut ursel = start(Mechanism::Plain, &ursel);
    assert_eq!(ursel.initial_response().unwrap().unwrap().expose(), b"Ursel\0Kurt\0xipj3plmq");
}

#[test]
fn plain_worked_example_of_spec_5_1() {
    let wire = "AHJlbGF5dXNlckBleGFtcGxlLm5ldABUcjB1YjRkb3ImMw==";
    let mut m = start(Mechanism::Plain, &relayuser());
    let ir = m.initial_response().unwrap().unwrap();
    assert_eq!(BASE64.encode(ir.expose()), wire);
    assert_eq!(BASE64.decode(wire).unwrap(), ir.expose());
    assert!(matches!(m.step(b""), Err(SaslError::UnexpectedChallenge { .. })));

    // Without an initial response: `334 ` then the same blob.
    let mut m = start(Mechanism::Plain, &relayuser());
    assert_eq!(BASE64.encode(respond(m.step(b""))), wire);

    // authzid equal to the authcid is not sent (§5.1 [REC]) ...
    let same = Credentials { authzid: Some("relayuser@example.net".into()), ..relayuser() };
    let mut m = start(Mechanism::Plain, &same);
    assert_eq!(BASE64.encode(m.initial_response().unwrap().unwrap().expose()), wire);
    // ... and the spec's encoding of the explicit form is what the RFC format gives.
    let explicit = b"relayuser@example.net\0relayuser@example.net\0Tr0ub4dor&3";
    assert_eq!(
        BASE64.encode(explicit),
        "cmVsYXl1c2VyQGV4YW1wbGUubmV0AHJlbGF5dXNlckBleGFtcGxlLm5ldABUcjB1YjRkb3ImMw=="
    );
}

#[test]
fn plain_refuses_nul_in_credentials() {
    let creds = Credentials::new("a\0b", "pw");
    let err =
        ClientMechanism::new(&Selected::new_for_test(Mechanism::Plain, ChannelBinding::Unsupported), &creds)
            .unwrap_err();
    assert_eq!(err, SaslError::NulInCredential { mechanism: Mechanism::Plain, field: "authcid" });
}

// --- LOGIN ---

#[test]
fn login_worked_example_of_spec_5_2() {
    let mut m = start(Mechanism::Login, &relayuser());
    assert!(m.initial_response().unwrap().is_none());
    let user = respond(m.step(&BASE64.decode("VXNlcm5hbWU6").unwrap()));
    assert_eq!(BASE64.encode(user), "cmVsYXl1c2VyQGV4YW1wbGUubmV0");
    let password = respond(m.step(&BASE64.decode("UGFzc3dvcmQ6").unwrap()));
    assert_eq!(BASE64.encode(password), "VHIwdWI0ZG9yJjM=");
    assert!(m.step(b"Password:").is_err());
}

#[test]
fn login_answers_by_position_not_prompt_text() {
    let mut m = start(Mechanism::Login, &relayuser());
    assert_eq!(respond(m.step(b"User Name\0")), b"relayuser@example.net");
    assert_eq!(respond(m.step(b"Password\0")), b"Tr0ub4dor&3");
}

// --- CRAM-MD5 ---

#[test]
fn cram_md5_rfc2195_example() {
    let mut m = start(Mechanism::CramMd5, &Credentials::new("tim", "tanstaaftanstaaf"));
    assert!(m.initial_response().unwrap().is_none());
    let challenge = BASE64.decode("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+").unwrap();
    assert_eq!(challenge, b"<1896.697170952@postoffice.reston.mci.net>");
    let response = respond(m.step(&challenge));
    assert_eq!(response, b"tim b913a602c7eda7a495b4e6e7334d3890");
    assert_eq!(BASE64.encode(&response), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    assert!(m.step(&challenge).is_err());
}

#[test]
fn cram_md5_worked_example_of_spec_5_3_v18() {
    let mut m = start(Mechanism::CramMd5, &Credentials::new("relayuser", "Tr0ub4dor&3"));
    let challenge = BASE64.decode("PDQ3MTEuMTcwMDAwMDAwMEBteC5leGFtcGxlLm9yZz4=").unwrap();
    assert_eq!(challenge, b"<4711.1700000000@mx.example.org>");
    let response = respond(m.step(&challenge));
    assert_eq!(response, b"relayuser 360234ce93dc613c9fae59d45dd0430f");
    assert_eq!(BASE64.encode(response), "cmVsYXl1c2VyIDM2MDIzNGNlOTNkYzYxM2M5ZmFlNTlkNDVkZDA0MzBm");
}

// --- SCRAM-SHA-256 ---

const RFC7677_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const RFC7677_SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC7677_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC7677_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc7677_client() -> ClientMechanism {
    scram_with_nonce(&Credentials::new("user", "pencil"), ChannelBinding::Unsupported, RFC7677_NONCE)
}

#[test]
fn scram_sha256_rfc7677_example() {
    let mut m = rfc7677_client();
    assert_eq!(m.mechanism(), Mechanism::ScramSha256);
    assert_eq!(m.initial_response().unwrap().unwrap().expose(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    assert_eq!(respond(m.step(RFC7677_SERVER_FIRST)), RFC7677_CLIENT_FINAL);
    assert!(matches!(m.handle_success(), Err(SaslError::ServerNotVerified { .. })));
    assert_eq!(respond(m.step(RFC7677_SERVER_FINAL)), b"");
    m.handle_success().unwrap();
    assert!(matches!(m.step(b""), Err(SaslError::UnexpectedChallenge { .. })));
}

#[test]
fn scram_without_initial_response_answers_empty_challenge() {
    let mut m = rfc7677_client();
    assert_eq!(respond(m.step(b"")), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    assert_eq!(respond(m.step(RFC7677_SERVER_FIRST)), RFC7677_CLIENT_FINAL);
}

#[test]
fn scram_server_signature_mismatch_is_an_error() {
    let mut m = rfc7677_client();
    m.initial_response().unwrap();
    m.step(RFC7677_SERVER_FIRST).unwrap();
    let forged = b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_eq!(m.step(forged), Err(SaslError::ServerSignatureMismatch));
    assert!(m.handle_success().is_err(), "a 235 after a bad signature must not be trusted");
}

#[test]
fn scram_server_error_is_reported() {
    let mut m = rfc7677_client();
    m.initial_response().unwrap();
    m.step(RFC7677_SERVER_FIRST).unwrap();
    assert_eq!(m.step(b"e=invalid-proof"), Err(SaslError::ServerError("invalid-proof".into())));
}

#[test]
fn scram_rejects_bad_server_first() {
    let cases: &[&[u8]] = &[
        b"r=someoneelse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // nonce not extended
        b"m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=!!,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==",
    ];
    for case in cases {
        let mut m = rfc7677_client();
        m.initial_response().unwrap();
        assert!(
            matches!(m.step(case), Err(SaslError::MalformedChallenge { .. })),
            "{}",
            String::from_utf8_lossy(case)
        );
    }
    for (count, ok) in [("4095", false), ("1000001", false), ("99999999999", false)] {
        let mut m = rfc7677_client();
        m.initial_response().unwrap();
        let first = format!("r={RFC7677_NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={count}");
        assert_eq!(m.step(first.as_bytes()).is_ok(), ok, "i={count}");
    }
}

#[test]
fn scram_escapes_names_and_sends_distinct_authzid() {
    let creds = Credentials { authzid: Some("ad,min".into()), ..Credentials::new("a=b,c", "pencil") };
    let mut m = scram_with_nonce(&creds, ChannelBinding::Unsupported, "abc");
    assert_eq!(m.initial_response().unwrap().unwrap().expose(), b"n,a=ad=2Cmin,n=a=3Db=2Cc,r=abc");
}

#[test]
fn scram_saslprep_is_minimal_and_documented() {
    // Non-ASCII space maps to SPACE, soft hyphen to nothing: result is ASCII.
    let creds = Credentials::new("user", "pen\u{00A0}ci\u{00AD}l");
    let mut m = scram_with_nonce(&creds, ChannelBinding::Unsupported, "abc");
    assert!(m.initial_response().is_ok());
    for password in ["p\u{00E9}ncil", "pen\u{7}cil"] {
        let creds = Credentials::new("user", password);
        assert!(matches!(
            scram::Scram::new(&creds, ChannelBinding::Unsupported, Some("abc")),
            Err(SaslError::Saslprep { field: "password", .. })
        ));
    }
    let not_utf8 = Credentials::new("user", Secret::new(vec![0xff]));
    assert!(scram::Scram::new(&not_utf8, ChannelBinding::Unsupported, None).is_err());
}

#[test]
fn scram_gs2_flag_y_when_client_could_bind() {
    let mut m = scram_with_nonce(&Credentials::new("user", "pencil"), ChannelBinding::NotAdvertised, "abc");
    assert_eq!(m.initial_response().unwrap().unwrap().expose(), b"y,,n=user,r=abc");
    let first = format!("r=abcdef,s={},i=4096", BASE64.encode(b"salt"));
    let final_ = String::from_utf8(respond(m.step(first.as_bytes()))).unwrap();
    assert!(final_.starts_with(&format!("c={},", BASE64.encode(b"y,,"))), "{final_}");
}

/// A minimal independent SCRAM server check: recompute the keys from the
/// password and verify the client's proof as RFC 5802 §3 describes.
fn server_verifies(password: &str, salt: &[u8], iterations: u32, auth_message: &str, proof: &[u8]) -> bool {
    let mac = |key: &[u8], data: &[u8]| {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    };
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let stored_key = Sha256::digest(mac(&salted, b"Client Key")).to_vec();
    let signature = mac(&stored_key, auth_message.as_bytes());
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
    Sha256::digest(&client_key).to_vec() == stored_key
}

#[test]
fn scram_plus_binds_tls_exporter() {
    let exporter: Vec<u8> = (0..32).collect();
    let creds = Credentials::new("user", "pencil");
    let selected = match choose_mechanism(
        DEFAULT_MECHANISMS,
        ["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "PLAIN"],
        &Transport::Tls13 { exporter: exporter.clone() },
        &AuthPolicy::default(),
    ) {
        Choice::Chosen(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(selected.mechanism(), Mechanism::ScramSha256Plus);
    let binding = selected.channel_binding().clone();
    let mut m = scram_with_nonce(&creds, binding, "fyko+d2lbbFgONRv9qkxdawL");
    assert_eq!(m.mechanism(), Mechanism::ScramSha256Plus);
    let first = m.initial_response().unwrap().unwrap();
    assert_eq!(first.expose(), b"p=tls-exporter,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");

    let salt = b"0123456789abcdef";
    let server_first = format!("r=fyko+d2lbbFgONRv9qkxdawLserver,s={},i=4096", BASE64.encode(salt));
    let client_final = String::from_utf8(respond(m.step(server_first.as_bytes()))).unwrap();
    let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
    let mut cbind = b"p=tls-exporter,,".to_vec();
    cbind.extend_from_slice(&exporter);
    assert_eq!(without_proof, format!("c={},r=fyko+d2lbbFgONRv9qkxdawLserver", BASE64.encode(&cbind)));
    let auth_message = format!("n=user,r=fyko+d2lbbFgONRv9qkxdawL,{server_first},{without_proof}");
    assert!(server_verifies("pencil", salt, 4096, &auth_message, &BASE64.decode(proof).unwrap()));
    assert!(!server_verifies("pencil2", salt, 4096, &auth_message, &BASE64.decode(proof).unwrap()));
}

#[test]
fn scram_plus_without_exporter_is_caller_error() {
    let creds = Credentials::new("user", "pencil");
    let err = scram::Scram::new(&creds, ChannelBinding::TlsExporter(Vec::new()), None).unwrap_err();
    assert_eq!(err, SaslError::MissingChannelBinding);
}

#[test]
fn scram_random_nonces_differ() {
    let creds = Credentials::new("user", "pencil");
    let mut a = start(Mechanism::ScramSha256, &creds);
    let mut b = start(Mechanism::ScramSha256, &creds);
    assert_ne!(a.initial_response().unwrap(), b.initial_response().unwrap());
}

// --- XOAUTH2 ---

#[test]
fn xoauth2_initial_response_and_error_challenge() {
    let creds = Credentials::new("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    let mut m = start(Mechanism::XOAuth2, &creds);
    assert_eq!(
        m.initial_response().unwrap().unwrap().expose(),
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    );
    let json = br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;
    match m.step(json).unwrap() {
        Step::AcknowledgeError { response, detail } => {
            assert!(response.is_empty());
            assert!(detail.contains("\"401\""));
        }
        other => panic!("{other:?}"),
    }
    assert!(m.step(b"").is_err());
}

#[test]
fn token_providers() {
    assert_eq!(StaticToken(Secret::from("t")).token().unwrap().expose(), b"t");
    assert!(matches!(CommandToken { argv: vec![] }.token(), Err(TokenError::EmptyCommand)));
    let echo = CommandToken { argv: vec!["printf".into(), "  tok123\\n".into()] };
    assert_eq!(echo.token().unwrap().expose(), b"tok123");
    let fails = CommandToken { argv: vec!["sh".into(), "-c".into(), "echo nope >&2; exit 3".into()] };
    match fails.token() {
        Err(TokenError::Failed { stderr, .. }) => assert_eq!(stderr, "nope"),
        other => panic!("{other:?}"),
    }
    let empty = CommandToken { argv: vec!["true".into()] };
    assert!(matches!(empty.token(), Err(TokenError::BadOutput { len: 0, .. })));
    let missing = CommandToken { argv: vec!["/nonexistent/token-helper".into()] };
    assert!(matches!(missing.token(), Err(TokenError::Spawn { .. })));
}

// --- Secrets stay secret ---

#[test]
fn debug_output_never_shows_secrets() {
    let creds = Credentials::new("user", "pencil-secret");
    let mut shown = format!("{creds:?}");
    for mechanism in Mechanism::ALL {
        let mut m = start(mechanism, &creds);
        shown.push_str(&format!("{m:?} {:?}", m.initial_response()));
        shown.push_str(&format!("{:?}", m.step(b"<1.2@x>")));
    }
    assert!(!shown.contains("pencil"), "{shown}");
}

// --- Chooser and outcomes ---

#[test]
fn chooser_spec_vectors() {
    let offered = ["PLAIN", "LOGIN", "CRAM-MD5"];
    let stock = ["EXTERNAL", "GSSAPI", "KERBEROS_V4", "DIGEST-MD5", "CRAM-MD5"];
    let policy = AuthPolicy::default();
    let chosen = |c: Choice| match c {
        Choice::Chosen(s) => s.mechanism(),
        other => panic!("{other:?}"),
    };
    // V1: M:PLAIN LOGIN over TLS.
    assert_eq!(
        chosen(choose_mechanism(["PLAIN", "LOGIN"], offered, &Transport::Tls, &policy)),
        Mechanism::Plain
    );
    // V3: stock AuthMechanisms, only CRAM-MD5 in common.
    assert_eq!(chosen(choose_mechanism(stock, offered, &Transport::Tls, &policy)), Mechanism::CramMd5);
    // V8: server offers only PLAIN LOGIN, stock list: nothing in common, temporary failure.
    let c = choose_mechanism(stock, ["PLAIN", "LOGIN"], &Transport::Tls, &policy);
    assert!(matches!(c, Choice::NoCommonMechanism { .. }));
    assert_eq!(c.disposition(), Some(Disposition::DeferTemporary));
    // V9: lower case.
    assert_eq!(chosen(choose_mechanism(["plain"], ["Plain"], &Transport::Tls, &policy)), Mechanism::Plain);
    // V15: no TLS; refused unless the dangerous flag is set.
    let c = choose_mechanism(["PLAIN"], offered, &Transport::Cleartext, &policy);
    assert_eq!(c, Choice::RefusedWithoutTls { mechanisms: vec![Mechanism::Plain] });
    assert_eq!(c.disposition(), Some(Disposition::DeferTemporary));
    let compat = AuthPolicy::sendmail_compatible();
    assert_eq!(
        chosen(choose_mechanism(["PLAIN"], offered, &Transport::Cleartext, &compat)),
        Mechanism::Plain
    );
    // CRAM-MD5 is allowed without TLS; strongest first regardless of M: order.
    let c = choose_mechanism(["PLAIN", "CRAM-MD5"], offered, &Transport::Cleartext, &policy);
    assert_eq!(chosen(c), Mechanism::CramMd5);
    // PLUS needs TLS 1.3 with an exporter.
    let both = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"];
    let c = choose_mechanism(both, both, &Transport::Tls, &policy);
    let Choice::Chosen(s) = c else { panic!() };
    assert_eq!((s.mechanism(), s.channel_binding()), (Mechanism::ScramSha256, &ChannelBinding::Unsupported));
    let tls13 = Transport::Tls13 { exporter: vec![1; 32] };
    let Choice::Chosen(s) = choose_mechanism(["SCRAM-SHA-256"], ["SCRAM-SHA-256"], &tls13, &policy) else {
        panic!()
    };
    assert_eq!(s.channel_binding(), &ChannelBinding::NotAdvertised);
    let Choice::Chosen(s) = choose_mechanism(["SCRAM-SHA-256"], both, &tls13, &policy) else { panic!() };
    assert_eq!(s.channel_binding(), &ChannelBinding::Unsupported);
}

#[test]
fn outcomes_and_dispositions() {
    let safe = AuthPolicy::default();
    let compat = AuthPolicy::sendmail_compatible();
    let cases = [
        (
            235,
            AuthOutcome::Authenticated,
            Disposition::ContinueAuthenticated,
            Disposition::ContinueAuthenticated,
        ),
        (
            454,
            AuthOutcome::TemporaryFailure { code: 454 },
            Disposition::DeferTemporary,
            Disposition::DeferTemporary,
        ),
        (
            535,
            AuthOutcome::PermanentFailure { code: 535 },
            Disposition::DeferCredentialsRejected,
            Disposition::ContinueUnauthenticated,
        ),
        (
            334,
            AuthOutcome::UnexpectedReply { code: 334 },
            Disposition::DeferTemporary,
            Disposition::DeferTemporary,
        ),
    ];
    for (code, outcome, with_safe, with_compat) in cases {
        assert_eq!(AuthOutcome::from_reply_code(code), outcome);
        assert_eq!(outcome.disposition(&safe), with_safe, "{code}");
        assert_eq!(outcome.disposition(&compat), with_compat, "{code}");
    }
}

fn mechanism_word() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(Mechanism::ALL.map(Mechanism::name).to_vec()).prop_map(str::to_owned),
        Just("GSSAPI".to_owned()),
        Just("DIGEST-MD5".to_owned()),
        Just("scram-sha-256".to_owned()),
        Just("plain".to_owned()),
    ]
}

fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![
        Just(Transport::Cleartext),
        Just(Transport::Tls),
        Just(Transport::Tls13 { exporter: vec![9; 32] })
    ]
}

proptest! {
    #[test]
    fn chooser_stays_in_intersection_and_respects_tls(
        candidates in proptest::collection::vec(mechanism_word(), 0..8),
        offered in proptest::collection::vec(mechanism_word(), 0..8),
        transport in transport(),
        allow_clear in any::<bool>(),
    ) {
        let policy = AuthPolicy { dangerous_allow_cleartext_without_tls: allow_clear, ..AuthPolicy::default() };
        let contains = |list: &[String], m: Mechanism| list.iter().any(|w| w.eq_ignore_ascii_case(m.name()));
        // Naive reference: scan mechanisms strongest first.
        let usable = |m: Mechanism| {
            contains(&candidates, m)
                && contains(&offered, m)
                && (m != Mechanism::ScramSha256Plus || matches!(transport, Transport::Tls13 { .. }))
        };
        let allowed = |m: Mechanism| !m.is_cleartext() || transport.is_tls() || allow_clear;
        let expected = Mechanism::ALL.into_iter().find(|&m| usable(m) && allowed(m));
        match choose_mechanism(&candidates, &offered, &transport, &policy) {
            Choice::Chosen(s) => {
                let m = s.mechanism();
                prop_assert!(usable(m));
                prop_assert!(allowed(m), "{m} without TLS");
                prop_assert_eq!(Some(m), expected);
            }
            Choice::NoCommonMechanism { .. } => {
                prop_assert!(Mechanism::ALL.into_iter().all(|m| !usable(m)));
            }
            Choice::RefusedWithoutTls { mechanisms } => {
                prop_assert!(!transport.is_tls() && !allow_clear);
                prop_assert!(!mechanisms.is_empty());
                prop_assert!(mechanisms.iter().all(|&m| usable(m) && m.is_cleartext()));
                prop_assert_eq!(expected, None);
            }
        }
    }

    #[test]
    fn steppers_never_panic(
        challenges in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..5),
        use_initial in any::<bool>(),
    ) {
        let creds = Credentials { authzid: Some("z".into()), ..Credentials::new("user", "pencil") };
        for mechanism in Mechanism::ALL {
            let mut m = start(mechanism, &creds);
            if use_initial {
                let _ = m.initial_response();
            }
            for c in &challenges {
                let _ = m.step(c);
            }
            let _ = m.handle_success();
            let _ = m.initial_response();
        }
    }

    #[test]
    fn scram_never_panics_on_plausible_server_messages(
        suffix in "[!-+\\--~]{0,12}",
        salt in proptest::collection::vec(any::<u8>(), 0..20),
        iterations in prop_oneof![Just("4096".to_owned()), "[0-9]{0,6}", "[0-9a-z-]{0,4}"],
        extra in "[ -~]{0,20}",
        final_ in proptest::collection::vec(any::<u8>(), 0..60),
    ) {
        let mut m = scram_with_nonce(&Credentials::new("user", "pencil"), ChannelBinding::Unsupported, "abc");
        m.initial_response().unwrap();
        let first = format!("r=abc{suffix},s={},i={iterations}{extra}", BASE64.encode(&salt));
        if m.step(first.as_bytes()).is_ok() {
            let mut v = b"v=".to_vec();
            v.extend_from_slice(&final_);
            prop_assert!(m.step(&v).is_err() || m.handle_success().is_ok());
            let _ = m.step(&final_);
        }
    }
}
