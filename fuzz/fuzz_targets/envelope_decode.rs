//! `Envelope::decode` on any bytes: it never panics, and whatever it
//! accepts encodes back (with the same queue ID) to bytes that decode to
//! the same ID and envelope.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smarthost_queue::Envelope;

fuzz_target!(|input: &[u8]| {
    let Ok((id, envelope)) = Envelope::decode(input) else {
        return;
    };
    let mut encoded = Vec::new();
    envelope.encode(id, &mut encoded);
    let again = Envelope::decode(&encoded).expect("an encoded envelope decodes");
    assert_eq!(again, (id, envelope), "the round trip changed the envelope");
});
