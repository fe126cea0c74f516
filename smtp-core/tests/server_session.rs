//! Whole-session behaviour through the public API (no sockets).

mod server_common;

use server_common::{Harness, codes, config};

#[test]
fn one_transaction() {
    let mut h = Harness::new(config());
    h.send(b"EHLO client.example\r\n");
    h.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    h.send(b"Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n");
    let wire = h.take_wire();
    assert_eq!(codes(&wire), [220, 250, 250, 250, 354, 250, 221], "{wire}");
    assert_eq!(h.messages.len(), 1);
    assert_eq!(h.messages[0].message(), b"Subject: hi\r\n\r\nhello\r\n");
    assert!(h.closed);
    println!("{wire}{}", String::from_utf8_lossy(&h.messages[0].content));
}
