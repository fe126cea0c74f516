//! Writing JSON by hand: the programs print a few flat objects, which do not
//! need a serialiser, only a correct string escaper.

use std::fmt::Write as _;

/// `text` as a JSON string literal (RFC 8259 §7): quotes, backslashes and
/// control characters escaped, everything else as it is (JSON is UTF-8).
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An optional string: the literal, or `null`.
pub(crate) fn json_option(text: Option<&str>) -> String {
    text.map_or_else(|| "null".to_string(), json_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string(""), r#""""#);
        assert_eq!(json_string("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
        assert_eq!(json_option(None), "null");
    }
}
