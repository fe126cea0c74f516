//! The client conformance vectors (`tests/vectors/client/*.txt`, format in
//! `client_harness`), and the rule that the way the server's bytes are cut
//! into reads never changes what the client does.

mod client_harness;

use client_harness::{Run, Vector, all_vectors};
use proptest::prelude::*;

/// Vectors we do not pass yet, each with the reason. Empty: all pass.
const SKIP: &[(&str, &str)] = &[];

fn vectors() -> Vec<Vector> {
    all_vectors().into_iter().filter(|v| !SKIP.iter().any(|(name, _)| *name == v.name)).collect()
}

#[test]
fn every_vector_passes() {
    let vectors = vectors();
    assert!(vectors.len() >= 25, "only {} vectors found", vectors.len());
    for vector in &vectors {
        vector.check();
    }
}

#[test]
fn every_two_way_split_of_the_server_bytes_gives_the_same_run() {
    for vector in vectors() {
        let whole: Run = vector.run();
        for cut in 0..=vector.server_len() {
            assert_eq!(vector.run_split(&[cut]), whole, "{}: cut at byte {cut}", vector.name);
        }
    }
}

#[test]
fn byte_by_byte_gives_the_same_run() {
    for vector in vectors() {
        let cuts: Vec<usize> = (0..=vector.server_len()).collect();
        assert_eq!(vector.run_split(&cuts), vector.run(), "{}", vector.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_split_of_the_server_bytes_gives_the_same_run(
        pick in any::<prop::sample::Index>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let vectors = vectors();
        let vector = &vectors[pick.index(vectors.len())];
        let len = vector.server_len() + 1;
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(len)).collect();
        prop_assert_eq!(vector.run_split(&cuts), vector.run(), "{}: cuts {:?}", vector.name, cuts);
    }
}
