//! The virtusertable vectors of spec maps.md §4.4 (and dsn.md §4.3), plus
//! VIRTUSER_DOMAIN, virtuser_entire_domain and the disposable-address
//! scheme: `tests/vectors/virtuser/`.

mod virtuser_support;

use virtuser_support::{check_expected, check_rcpt, folders};

#[test]
fn every_virtuser_vector_routes_as_expected() {
    for dir in folders("virtuser") {
        check_expected(&dir);
    }
}

#[test]
fn every_virtuser_vector_gets_its_rcpt_reply() {
    for dir in folders("virtuser") {
        check_rcpt(&dir);
    }
}
