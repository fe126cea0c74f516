//! Writing JSON by hand: the programs print a few flat objects, which do not
//! need a serialiser, only a correct string escaper.

pub(crate) use smarthost_relay::log::json_string;

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
