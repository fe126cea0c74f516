use super::*;
use crate::IdGenerator;

fn sample() -> Envelope {
    let mut first = Recipient::new("bob@example.org");
    first.notify = Some(Notify { success: true, failure: true, delay: false });
    first.orcpt = Some("rfc822;bob@example.org".into());
    let mut second = Recipient::new("carol@example.net");
    second.state = RecipientState::Deferred;
    second.attempts = 3;
    second.next_attempt = Some(Timestamp(1_700_000_900_000_000));
    second.last_reply = Some("451 4.3.0 try again later".into());
    second.warned = true;
    let mut envelope =
        Envelope::new("alice@example.com", vec![first, second], Timestamp(1_700_000_000_000_000));
    envelope.ret = Some(Ret::Headers);
    envelope.envid = Some("QQ314159".into());
    envelope.client = Client {
        helo: "client.example.com".into(),
        addr: Some("192.0.2.1".into()),
        name: None,
        auth: Some("alice".into()),
        protocol: "ESMTPSA".into(),
    };
    envelope
}

#[test]
fn an_envelope_survives_encoding() {
    let id = IdGenerator::with_salt(7).next_id(1_700_000_000_000);
    let envelope = sample();
    let mut bytes = Vec::new();
    envelope.encode(id, &mut bytes);
    assert_eq!(Envelope::decode(&bytes).unwrap(), (id, envelope));
}

#[test]
fn every_truncation_and_every_extra_byte_is_an_error() {
    let id = IdGenerator::with_salt(7).next_id(1_700_000_000_000);
    let mut bytes = Vec::new();
    sample().encode(id, &mut bytes);
    for len in 0..bytes.len() {
        assert!(Envelope::decode(&bytes[..len]).is_err(), "truncated to {len}");
    }
    bytes.push(0);
    assert_eq!(Envelope::decode(&bytes).unwrap_err(), DecodeError::Trailing(1));
}

#[test]
fn an_unknown_version_is_named() {
    assert_eq!(Envelope::decode(&[9, 0, 0]).unwrap_err(), DecodeError::UnknownVersion(9));
}

#[test]
fn finished_means_delivered_or_failed_and_reported() {
    let mut envelope = sample();
    assert!(!envelope.is_finished());
    envelope.recipients[0].state = RecipientState::Delivered;
    envelope.recipients[1].state = RecipientState::Failed;
    assert!(!envelope.is_finished());
    envelope.recipients[1].reported = true;
    assert!(envelope.is_finished());
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let _ = Envelope::decode(&bytes);
    }
}
