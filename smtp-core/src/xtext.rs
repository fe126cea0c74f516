//! RFC 3461 §4 xtext, the encoding of `ENVID`, `ORCPT` and `AUTH=` values.

/// Why a value is not valid xtext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XtextError {
    /// `+` not followed by two upper-case hexadecimal digits.
    #[error("`+` at byte {0} is not followed by two hexadecimal digits")]
    BadEscape(usize),
    /// A byte outside printable ASCII, or a bare `=`.
    #[error("byte {0} is not allowed in xtext (printable ASCII except `+` and `=`)")]
    BadByte(usize),
    /// The decoded value is not UTF-8.
    #[error("the decoded value is not UTF-8")]
    NotUtf8,
}

/// Encodes `value` as xtext: printable ASCII other than `+` and `=` stands
/// for itself, every other octet becomes `+XX`.
///
/// ```
/// assert_eq!(smarthost_smtp_core::xtext_encode("a b+c=d"), "a+20b+2Bc+3Dd");
/// ```
pub fn xtext_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push('+');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Decodes xtext. A `+` must be followed by two hexadecimal digits (RFC 3461
/// says upper case; lower case is accepted, as sendmail does).
///
/// ```
/// assert_eq!(smarthost_smtp_core::xtext_decode("joe+2Bdev+3Dx@example.com").unwrap(), "joe+dev=x@example.com");
/// ```
pub fn xtext_decode(text: &str) -> Result<String, XtextError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => {
                let hex = bytes.get(at + 1..at + 3).ok_or(XtextError::BadEscape(at))?;
                let value = hex_digit(hex[0]).zip(hex_digit(hex[1])).ok_or(XtextError::BadEscape(at))?;
                out.push(value.0 << 4 | value.1);
                at += 3;
            }
            b @ 33..=126 if b != b'=' => {
                out.push(b);
                at += 1;
            }
            _ => return Err(XtextError::BadByte(at)),
        }
    }
    String::from_utf8(out).map_err(|_| XtextError::NotUtf8)
}

/// Whether `text` is well-formed xtext (what [`xtext_decode`] accepts).
pub fn is_xtext(text: &str) -> bool {
    xtext_decode(text).is_ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn d15_decode() {
        assert_eq!(xtext_decode("rfc822;joe+2Bdev+3Dx@example.com").unwrap(), "rfc822;joe+dev=x@example.com");
    }

    #[test]
    fn d16_encode() {
        assert_eq!(xtext_encode("a b+c=d"), "a+20b+2Bc+3Dd");
    }

    #[test]
    fn refuses_broken_escapes_and_bytes() {
        assert_eq!(xtext_decode("a+2"), Err(XtextError::BadEscape(1)));
        assert_eq!(xtext_decode("a+zz"), Err(XtextError::BadEscape(1)));
        assert_eq!(xtext_decode("a=b"), Err(XtextError::BadByte(1)));
        assert_eq!(xtext_decode("a b"), Err(XtextError::BadByte(1)));
        assert_eq!(xtext_decode("+FF"), Err(XtextError::NotUtf8));
    }

    proptest! {
        #[test]
        fn round_trip(value in any::<String>()) {
            let encoded = xtext_encode(&value);
            prop_assert!(encoded.bytes().all(|b| (33..=126).contains(&b) && b != b'='));
            prop_assert_eq!(xtext_decode(&encoded).unwrap(), value);
        }

        #[test]
        fn decoding_never_panics(text in "[ -~]{0,40}") {
            let _ = xtext_decode(&text);
        }
    }
}
