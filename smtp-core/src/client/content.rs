//! What the client needs to know about content beyond `crate::data`
//! (dot-stuffing, 8-bit and line-length checks live there): the `BDAT`
//! form, and whether the header section needs SMTPUTF8.

/// Appends `message` with bare CR and bare LF made CR LF and a final CR LF
/// added when missing (smtp.md §5.3 client rule 1), without dot-stuffing:
/// the form `BDAT` sends. Its length is `crate::normalized_size(message)`,
/// so `SIZE=` matches what is sent.
pub(crate) fn normalize(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + message.len() / 50 + 2);
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !message.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether the header section (up to the first empty line) holds an octet
/// above 127: a UTF-8 header (RFC 6532) needs `SMTPUTF8`.
pub(crate) fn has_8bit_header(message: &[u8]) -> bool {
    let end = [&b"\n\n"[..], b"\r\n\r\n", b"\r\r"]
        .iter()
        .filter_map(|blank| memchr::memmem::find(message, blank))
        .min()
        .unwrap_or(message.len());
    !message[..end].is_ascii()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::data::normalized_size;

    #[test]
    fn normalises_without_stuffing() {
        let mut out = Vec::new();
        normalize(b"a\n\r\n.b\rc", &mut out);
        assert_eq!(out, b"a\r\n\r\n.b\r\nc\r\n");
        let mut out = Vec::new();
        normalize(b"", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn finds_8bit_headers_only() {
        assert!(has_8bit_header("Subject: é\r\n\r\nx".as_bytes()));
        assert!(!has_8bit_header("Subject: e\r\n\r\né".as_bytes()));
        assert!(!has_8bit_header("Subject: e\n\né\r\n\r\n".as_bytes()));
        assert!(has_8bit_header("Subject: é".as_bytes()));
    }

    proptest! {
        #[test]
        fn bdat_form_has_the_announced_size(message in prop::collection::vec(prop::sample::select(b"ab.\r\n".to_vec()), 0..40)) {
            let mut out = Vec::new();
            normalize(&message, &mut out);
            prop_assert_eq!(out.len() as u64, normalized_size(&message));
            // No bare CR or LF survives.
            prop_assert_eq!(out.windows(2).filter(|w| *w == b"\r\n").count() * 2, out.iter().filter(|b| **b == b'\r' || **b == b'\n').count());
        }
    }
}
