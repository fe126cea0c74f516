//! A deliberately minimal SASLprep (RFC 4013) for SCRAM.
//!
//! Implemented: the mapping steps (RFC 4013 §2.1: non-ASCII spaces, table
//! C.1.2, become U+0020; characters "commonly mapped to nothing", table B.1,
//! are removed) and the prohibition of ASCII control characters (C.2.1).
//!
//! Not implemented: NFKC normalization, the other prohibition tables and the
//! bidirectional rules. Rather than hash a string that a full SASLprep would
//! have normalized differently (the server would then compute another key and
//! the failure would look like a wrong password), anything still outside
//! printable ASCII after mapping is refused with [`SaslError::Saslprep`].
//! For ASCII input this is exactly RFC 4013.

use zeroize::Zeroizing;

use super::SaslError;

/// Prepares `input` as a SASLprep "stored string" restricted to ASCII.
pub(crate) fn saslprep(input: &[u8], field: &'static str) -> Result<Zeroizing<String>, SaslError> {
    let text = std::str::from_utf8(input)
        .map_err(|_| SaslError::Saslprep { field, reason: "is not valid UTF-8" })?;
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    for c in text.chars() {
        if is_non_ascii_space(c) {
            out.push(' ');
        } else if is_mapped_to_nothing(c) {
            continue;
        } else if c.is_ascii_control() {
            return Err(SaslError::Saslprep { field, reason: "contains a control character" });
        } else if !c.is_ascii() {
            return Err(SaslError::Saslprep { field, reason: "contains non-ASCII characters" });
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// RFC 3454 table C.1.2.
fn is_non_ascii_space(c: char) -> bool {
    matches!(c, '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200B}' | '\u{202F}' | '\u{205F}' | '\u{3000}')
}

/// RFC 3454 table B.1.
fn is_mapped_to_nothing(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{1806}'
            | '\u{180B}'..='\u{180D}'
            | '\u{200C}'
            | '\u{200D}'
            | '\u{2060}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}
