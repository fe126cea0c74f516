//! The FEATURE(redirect) vectors of spec maps.md §7: where the 551 appears
//! for each way a `.REDIRECT` address arises, in both alias-error modes,
//! and `.REDIRECT` as an ordinary domain without the feature:
//! `tests/vectors/redirect/`.

mod virtuser_support;

use virtuser_support::{check_expected, check_rcpt, folders};

#[test]
fn every_redirect_vector_routes_as_expected() {
    for dir in folders("redirect") {
        check_expected(&dir);
    }
}

#[test]
fn every_redirect_vector_gets_its_rcpt_reply_and_its_later_failures() {
    for dir in folders("redirect") {
        check_rcpt(&dir);
    }
}
