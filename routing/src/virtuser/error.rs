//! `error:` values of the virtusertable, read with the rules sendmail's
//! `proto.m4` applies to them (spec maps.md §4.3, dsn.md §4):
//!
//! ```text
//! R< error : $-.$-.$- : $+ > $*   $#error $@ $1.$2.$3 $: $4
//! R< error : $- $+ > $*           $#error $@ $(dequote $1 $) $: $2
//! ```
//!
//! The second rule takes exactly one *token* as the keyword and the rest as
//! the text, which is why `error:550 Not here` gives `553 5.3.0 Not here`
//! (`550` became the keyword) and `error:nouser 550 No such user here` gives
//! `550 5.0.0` (the keyword is not an enhanced code, so it adds nothing).
//! The mailertable's `error:` form differs (a colon after the keyword) and
//! lives in `rhs.rs`.

use crate::ErrorReply;
use crate::rhs::reply_from_text;

/// sendmail's operator characters in the stock configuration (`$o`), plus
/// the characters that are always single tokens.
const OPERATORS: &[u8] = b".:%@!^/[]+()<>,;";

/// One sendmail token of the value: its byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Token {
    start: usize,
    end: usize,
}

/// Reads the text after `error:`.
pub(crate) fn parse_virtuser_error(rest: &str) -> ErrorReply {
    let tokens = tokenize(rest);
    let text_of = |t: &Token| &rest[t.start..t.end];
    let is_word = |t: &Token| !(t.end - t.start == 1 && OPERATORS.contains(&rest.as_bytes()[t.start]));
    let is_op = |t: &Token, op: &str| text_of(t) == op;
    // Rule 1: `D.S.N:text` (any three single-token words).
    if let [a, dot1, b, dot2, c, colon, text, ..] = tokens.as_slice()
        && is_word(a)
        && is_op(dot1, ".")
        && is_word(b)
        && is_op(dot2, ".")
        && is_word(c)
        && is_op(colon, ":")
    {
        let status = format!("{}.{}.{}", text_of(a), text_of(b), text_of(c));
        return reply_from_text(Some(&status), &rest[text.start..]);
    }
    // Rule 2: a keyword token, then the text.
    if let [keyword, text, ..] = tokens.as_slice() {
        let status = dequote(text_of(keyword));
        return reply_from_text(Some(&status), &rest[text.start..]);
    }
    // A single token matches neither rule. sendmail would then re-parse the
    // whole value as an address, with no predictable result; we take the
    // token as the text (553 5.3.0), which at least refuses the recipient.
    reply_from_text(None, rest)
}

/// Splits like sendmail's tokeniser: white space separates, a quoted string
/// is one token, each operator character is one token.
fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if b == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else if OPERATORS.contains(&b) {
            i += 1;
        } else {
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && bytes[i] != b'"'
                && !OPERATORS.contains(&bytes[i])
            {
                i += 1;
            }
        }
        tokens.push(Token { start, end: i });
    }
    tokens
}

fn dequote(token: &str) -> String {
    match token.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').unwrap_or(inner).replace("\\\"", "\"").replace("\\\\", "\\"),
        None => token.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(value: &str) -> (u16, String, String, Option<String>) {
        let r = parse_virtuser_error(value);
        (r.code, r.enhanced, r.text, r.status)
    }

    #[test]
    fn the_two_rules_of_proto_m4() {
        assert_eq!(
            reply("5.7.0:550 Address invalid"),
            (550, "5.7.0".into(), "Address invalid".into(), Some("5.7.0".into()))
        );
        assert_eq!(
            reply("nouser 550 No such user here"),
            (550, "5.0.0".into(), "No such user here".into(), Some("nouser".into()))
        );
        assert_eq!(reply("550 Not here"), (553, "5.3.0".into(), "Not here".into(), Some("550".into())));
        assert_eq!(reply("5.1.1:550 User unknown").1, "5.1.1");
        // The text's own enhanced code wins over the keyword's.
        assert_eq!(reply("5.1.1:550 5.7.1 Policy").1, "5.7.1");
        assert_eq!(reply("nouser 450 Busy").1, "4.0.0");
        assert_eq!(reply("\"nouser\" 550 Gone").3.as_deref(), Some("nouser"));
    }

    #[test]
    fn quirks_are_kept() {
        // No colon after the enhanced code: `5` is the keyword token.
        assert_eq!(
            reply("5.7.0 550 Address invalid"),
            (553, "5.3.0".into(), ".7.0 550 Address invalid".into(), Some("5".into()))
        );
        // The mailertable's colon form is not the virtusertable's.
        assert_eq!(reply("nouser:No such host").2, ":No such host");
        assert_eq!(reply("Gone"), (553, "5.3.0".into(), "Gone".into(), None));
        assert_eq!(reply(""), (553, "5.3.0".into(), String::new(), None));
    }

    #[test]
    fn tokens_follow_sendmail() {
        let text = "a.b \"q t\" x+y";
        let tokens: Vec<&str> = tokenize(text).iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(tokens, ["a", ".", "b", "\"q t\"", "x", "+", "y"]);
        assert_eq!(tokenize("\"unterminated").len(), 1);
        assert_eq!(tokenize("\"a\\").len(), 1);
    }
}
