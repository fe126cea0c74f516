//! Whatever a server sends, and whenever the connection fails, the client
//! session never panics, gives every message exactly one result, never
//! sends a bare CR or LF or an over-long command, and ends with one `Close`.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use smarthost_authinfo::Credentials;
use smarthost_smtp_core::{ClientAuth, ClientConfig, ClientOutput, ClientSession, Envelope, TlsPolicy};

/// Pieces of server output: real replies (so sessions get far) and junk.
const PIECES: &[&str] = &[
    "220 mx ESMTP\r\n",
    "250-mx\r\n",
    "250-PIPELINING\r\n",
    "250-CHUNKING\r\n",
    "250-8BITMIME\r\n",
    "250-SIZE 100\r\n",
    "250-DSN\r\n",
    "250-STARTTLS\r\n",
    "250-AUTH PLAIN LOGIN CRAM-MD5\r\n",
    "250 SMTPUTF8\r\n",
    "250 2.0.0 ok\r\n",
    "250 ok\r\n",
    "354 go\r\n",
    "334 \r\n",
    "334 VXNlcm5hbWU6\r\n",
    "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
    "235 2.7.0 ok\r\n",
    "220 2.0.0 ready\r\n",
    "221 bye\r\n",
    "421 4.3.2 bye\r\n",
    "452 4.5.3 too many\r\n",
    "451 later\r\n",
    "550 5.1.1 no\r\n",
    "554 no\r\n",
    "535 5.7.8 no\r\n",
    "500 what\r\n",
    "250",
    "-",
    "\r\n",
    "\n",
    "garbage\r\n",
    "\u{e9}\u{ff}",
];

#[derive(Clone, Debug)]
enum Event {
    Bytes(Vec<u8>),
    Wait(u64),
    TlsOk,
    TlsFailed,
    Lost,
    Add,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => prop::collection::vec(prop::sample::select(PIECES), 1..6)
            .prop_map(|p| Event::Bytes(p.concat().into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 1..20).prop_map(Event::Bytes),
        1 => (0u64..700).prop_map(Event::Wait),
        1 => Just(Event::TlsOk),
        1 => Just(Event::TlsFailed),
        1 => Just(Event::Lost),
        1 => Just(Event::Add),
    ]
}

fn config(choice: u8) -> ClientConfig {
    let mut config = ClientConfig::new("client.example.org");
    config.tls = [TlsPolicy::Disabled, TlsPolicy::Opportunistic, TlsPolicy::Required, TlsPolicy::Implicit]
        [usize::from(choice % 4)];
    config.allow_bdat = choice & 4 != 0;
    if choice & 8 != 0 {
        let mut auth = ClientAuth::new(Credentials::new("tim", "tanstaaftanstaaf"));
        auth.policy.dangerous_allow_cleartext_without_tls = choice & 16 != 0;
        config.auth = Some(auth);
    }
    config.limits.max_recipients = 2.try_into().unwrap();
    config.limits.bdat_chunk = 5.try_into().unwrap();
    config
}

fn message(n: usize) -> (Envelope, Vec<u8>) {
    let recipients = (0..=n % 4).map(|i| format!("r{i}@example.net"));
    (Envelope::new("s@example.org", recipients), format!("Subject: {n}\n\n.x\ncaf\u{e9}\r\n").into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn any_server_gets_a_well_behaved_client(choice: u8, events in prop::collection::vec(event(), 0..40)) {
        let mut now = Instant::now();
        let mut session = ClientSession::new(config(choice), now).unwrap();
        let mut added = 0usize;
        for _ in 0..2 {
            let (envelope, content) = message(added);
            session.add_message(envelope, content, now);
            added += 1;
        }
        session.quit(now);
        let mut results = Vec::new();
        let mut closes = 0;
        let mut sent = Vec::new();
        let check = |closed_before: u64, session: &mut ClientSession, results: &mut Vec<u64>, closes: &mut usize, sent: &mut Vec<u8>| {
            while let Some(output) = session.poll_output() {
                // After Close only the result of a message added later may come.
                let late_result = matches!(&output, ClientOutput::Result(r) if r.id.index() >= closed_before);
                assert!(*closes == 0 || late_result, "output after Close: {output:?}");
                match output {
                    ClientOutput::Send(bytes) => sent.extend(bytes),
                    ClientOutput::Result(result) => results.push(result.id.index()),
                    ClientOutput::StartTls => {}
                    ClientOutput::Close => *closes += 1,
                }
            }
        };
        check(u64::MAX, &mut session, &mut results, &mut closes, &mut sent);
        let mut closed_before = u64::MAX;
        for event in events {
            match event {
                Event::Bytes(bytes) => session.handle_input(&bytes, now),
                Event::Wait(seconds) => {
                    now += Duration::from_secs(seconds);
                    session.handle_timeout(now);
                }
                Event::TlsOk => session.handle_tls_established(now),
                Event::TlsFailed => session.handle_tls_failed("handshake failure", now),
                Event::Lost => session.handle_connection_lost("reset", now),
                Event::Add => {
                    let (envelope, content) = message(added);
                    session.add_message(envelope, content, now);
                    added += 1;
                }
            }
            check(closed_before, &mut session, &mut results, &mut closes, &mut sent);
            if closes > 0 && closed_before == u64::MAX {
                closed_before = added as u64;
            }
        }
        // Whatever happened, the end of the connection settles everything.
        session.handle_connection_lost("end of test", now);
        check(closed_before, &mut session, &mut results, &mut closes, &mut sent);
        prop_assert_eq!(closes, 1);
        results.sort_unstable();
        prop_assert_eq!(results, (0..added as u64).collect::<Vec<_>>());
        // Commands: CR LF only in pairs, no line over 512 except AUTH's.
        let text = String::from_utf8_lossy(&sent);
        for line in text.split("\r\n") {
            prop_assert!(!line.contains('\r') && !line.contains('\n'), "bare CR/LF in {:?}", line);
            prop_assert!(line.len() <= 1000, "line of {} octets", line.len());
        }
    }
}
