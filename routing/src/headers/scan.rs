//! A small RFC 5322 address-list scanner over the raw bytes of one header
//! value: it finds where each address (addr-spec) is, so that the rewriter
//! can replace exactly those bytes.
//!
//! It knows quoted strings (with `\` escapes and folding), comments (nested,
//! with escapes), domain literals, angle addresses, groups (`name: a, b;`),
//! RFC 2047 encoded words (`=?charset?q?text?=`, kept whole even when they
//! hold a comma), and folding white space anywhere between tokens. It is
//! deliberately conservative:
//!
//! - a value whose brackets, quotes or comments do not close, or whose
//!   group syntax is broken, yields nothing (the header is left alone);
//! - an element that does not hold exactly one contiguous addr-spec (a
//!   phrase without an address, obsolete white space or comments inside an
//!   address, a source route `<@hop:user@host>`, `<>`) is reported as
//!   [`Found::Other`] or skipped, never rewritten.

use std::ops::Range;

/// What one element of the list is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// An addr-spec: `local@domain` or an unqualified `local`, at these
    /// bytes; `at` is the offset of the `@`, if any.
    Address { range: Range<usize>, at: Option<usize> },
    /// An element that is not an address we may rewrite, but looks like one
    /// was meant (for `smarthost rewrite`'s warnings).
    Other { range: Range<usize> },
}

/// The value does not scan; the header is left as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// Spaces, tabs, CR, LF: folding white space.
    Ws,
    Comment,
    Quoted,
    Literal,
    /// A run of atext and dots (`mail.example.com`, `Dr.`): dots are not
    /// tokens of their own, which halves the tokens of a typical address.
    Atom,
    Encoded,
    At,
    Comma,
    Semi,
    Colon,
    Lt,
    Gt,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

impl Token {
    fn is_cfws(&self) -> bool {
        matches!(self.tok, Tok::Ws | Tok::Comment)
    }
}

/// The scanner's buffers, kept from one header value to the next.
#[derive(Debug)]
pub(crate) struct Scanner {
    tokens: Vec<Token>,
    found: Vec<Found>,
}

impl Default for Scanner {
    fn default() -> Self {
        Self { tokens: Vec::with_capacity(64), found: Vec::with_capacity(16) }
    }
}

impl Scanner {
    /// Gives back the memory of an unusually large value, so that the
    /// buffers kept between messages stay small.
    pub(crate) fn trim(&mut self) {
        if self.tokens.capacity() > 4096 {
            *self = Self::default();
        }
    }

    /// Scans `value` (the bytes after `Name:`, folding and the final line
    /// end included) into its elements.
    pub(crate) fn scan(&mut self, value: &[u8]) -> Result<&[Found], Malformed> {
        self.found.clear();
        lex(value, &mut self.tokens)?;
        parse(&self.tokens, &mut self.found)?;
        Ok(&self.found)
    }
}

/// Scans `value` with fresh buffers.
#[cfg(test)]
pub(crate) fn scan(value: &[u8]) -> Result<Vec<Found>, Malformed> {
    let mut scanner = Scanner::default();
    scanner.scan(value).map(<[Found]>::to_vec)
}

/// The elements of a list of tokens.
fn parse(tokens: &[Token], found: &mut Vec<Found>) -> Result<(), Malformed> {
    let mut i = 0;
    let mut in_group = false;
    loop {
        let start = i;
        let (mut lt, mut gt) = (None, None);
        while let Some(token) = tokens.get(i) {
            let in_angle = lt.is_some() && gt.is_none();
            match token.tok {
                // A source route's `,` and `:` (`<@a,@b:user@host>`).
                Tok::Comma | Tok::Colon if in_angle => {}
                Tok::Comma => break,
                Tok::Semi if in_group && !in_angle => break,
                Tok::Colon if !in_group && lt.is_none() => break,
                Tok::Lt if lt.is_none() => lt = Some(i),
                Tok::Gt if in_angle => gt = Some(i),
                Tok::Semi | Tok::Colon | Tok::Lt | Tok::Gt => return Err(Malformed),
                _ => {}
            }
            i += 1;
        }
        if lt.is_some() && gt.is_none() {
            return Err(Malformed);
        }
        let delimiter = tokens.get(i).map(|t| t.tok);
        if delimiter == Some(Tok::Colon) {
            // `display-name:` opens a group; the name is not an address.
            in_group = true;
            i += 1;
            continue;
        }
        if let Some(element) = element(&tokens[start..i], lt.map(|l| l - start), gt.map(|g| g - start)) {
            found.push(element);
        }
        match delimiter {
            None => break,
            Some(Tok::Comma) => i += 1,
            Some(_) => {
                // `;` closes the group: only comments and white space may
                // follow before the next `,`.
                in_group = false;
                i += 1;
                while tokens.get(i).is_some_and(Token::is_cfws) {
                    i += 1;
                }
                match tokens.get(i).map(|t| t.tok) {
                    None => break,
                    Some(Tok::Comma) => i += 1,
                    Some(_) => return Err(Malformed),
                }
            }
        }
    }
    Ok(())
}

/// One element (between delimiters): `[phrase] <addr-spec>` or `addr-spec`,
/// with comments and white space around.
fn element(tokens: &[Token], lt: Option<usize>, gt: Option<usize>) -> Option<Found> {
    let inner = match (lt, gt) {
        (Some(lt), Some(gt)) => {
            if !tokens[gt + 1..].iter().all(Token::is_cfws) {
                return Some(Found::Other { range: span(tokens)? });
            }
            let inner = trim_cfws(&tokens[lt + 1..gt]);
            match inner.first().map(|t| t.tok) {
                // `<>`, or a source route: left alone.
                None | Some(Tok::At) => return None,
                _ => inner,
            }
        }
        _ => trim_cfws(tokens),
    };
    let range = span(inner)?;
    if inner.iter().any(|t| t.tok == Tok::Encoded) {
        return None;
    }
    match addr_spec(inner) {
        Some(at) => Some(Found::Address { range, at }),
        None => Some(Found::Other { range }),
    }
}

/// Checks the shape `local-part ["@" domain]` with no white space or
/// comments inside, where the local part is adjacent atoms (with their
/// dots) and quoted strings, and the domain one atom or a literal; returns
/// the offset of the `@`. Whether the dots are in the right places is
/// [`crate::Address::parse`]'s to say.
fn addr_spec(tokens: &[Token]) -> Option<Option<usize>> {
    let local = tokens.iter().take_while(|t| matches!(t.tok, Tok::Atom | Tok::Quoted)).count();
    match &tokens[local..] {
        _ if local == 0 => None,
        [] => Some(None),
        [at, domain] if at.tok == Tok::At && matches!(domain.tok, Tok::Atom | Tok::Literal) => {
            Some(Some(at.start))
        }
        _ => None,
    }
}

fn trim_cfws(tokens: &[Token]) -> &[Token] {
    let start = tokens.iter().position(|t| !t.is_cfws()).unwrap_or(tokens.len());
    let end = tokens.iter().rposition(|t| !t.is_cfws()).map_or(start, |i| i + 1);
    &tokens[start..end]
}

fn span(tokens: &[Token]) -> Option<Range<usize>> {
    Some(tokens.first()?.start..tokens.last()?.end)
}

/// What a byte starts: white space, a special, or an atom (the dot is in
/// atoms here).
const WS: u8 = 1;
const SPECIAL: u8 = 2;
const CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b' ' | b'\t' | b'\r' | b'\n' => WS,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b':' | b';' | b'@' | b'\\' | b',' | b'"' => SPECIAL,
            _ => 0,
        };
        b += 1;
    }
    table
};

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

fn lex(value: &[u8], tokens: &mut Vec<Token>) -> Result<(), Malformed> {
    tokens.clear();
    let mut i = 0;
    while i < value.len() {
        let start = i;
        let tok = match value[i] {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += value[i..].iter().take_while(|&&b| class(b) == WS).count();
                Tok::Ws
            }
            b'(' => {
                i = comment_end(value, i)?;
                Tok::Comment
            }
            b'"' => {
                i = closing(value, i + 1, b'"')?;
                Tok::Quoted
            }
            b'[' => {
                i = closing(value, i + 1, b']')?;
                Tok::Literal
            }
            b')' | b']' | b'\\' => return Err(Malformed),
            b'@' | b',' | b';' | b':' | b'<' | b'>' => {
                i += 1;
                match value[start] {
                    b'@' => Tok::At,
                    b',' => Tok::Comma,
                    b';' => Tok::Semi,
                    b':' => Tok::Colon,
                    b'<' => Tok::Lt,
                    _ => Tok::Gt,
                }
            }
            _ => match encoded_word_end(value, i) {
                Some(end) => {
                    i = end;
                    Tok::Encoded
                }
                None => {
                    i += value[i..].iter().take_while(|&&b| class(b) == 0).count();
                    Tok::Atom
                }
            },
        };
        tokens.push(Token { tok, start, end: i });
    }
    Ok(())
}

/// The end of the comment opening at `start` (nested, `\` escapes).
fn comment_end(value: &[u8], start: usize) -> Result<usize, Malformed> {
    let mut depth = 0_usize;
    let mut i = start;
    while i < value.len() {
        match value[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(Malformed)
}

/// The end (past `close`) of a quoted string or literal whose content starts at `i`.
fn closing(value: &[u8], mut i: usize, close: u8) -> Result<usize, Malformed> {
    while i < value.len() {
        match value[i] {
            b'\\' => i += 1,
            b if b == close => return Ok(i + 1),
            _ => {}
        }
        i += 1;
    }
    Err(Malformed)
}

/// `=?charset?encoding?text?=` starting at `i`, with no white space inside:
/// its end, or `None` if the bytes there are not one.
fn encoded_word_end(value: &[u8], i: usize) -> Option<usize> {
    let rest = value.get(i..)?;
    if !rest.starts_with(b"=?") {
        return None;
    }
    let word_len = rest.iter().position(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).unwrap_or(rest.len());
    let word = &rest[..word_len];
    // charset ? encoding ? text ?=
    let charset_end = 2 + word[2..].iter().position(|&b| b == b'?')?;
    let encoding_end = charset_end + 1 + word[charset_end + 1..].iter().position(|&b| b == b'?')?;
    let text = encoding_end + 1;
    let close = text + word.get(text..)?.windows(2).position(|w| w == b"?=")?;
    (charset_end > 2 && encoding_end > charset_end + 1).then_some(i + close + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The addresses found, as text; `!text` for an element that is not one.
    fn found(value: &str) -> Vec<String> {
        scan(value.as_bytes())
            .unwrap()
            .into_iter()
            .map(|f| match f {
                Found::Address { range, at } => {
                    if let Some(at) = at {
                        assert_eq!(value.as_bytes()[at], b'@');
                    }
                    value[range].to_string()
                }
                Found::Other { range } => format!("!{}", &value[range]),
            })
            .collect()
    }

    #[test]
    fn display_names_comments_and_quotes_are_not_the_address() {
        assert_eq!(found(" John Doe <joe@mail.example>\r\n"), ["joe@mail.example"]);
        assert_eq!(found(" joe@mail.example (John Doe)\r\n"), ["joe@mail.example"]);
        assert_eq!(found(" \"Doe, John\" <joe>\r\n"), ["joe"]);
        assert_eq!(found(" (a, b) joe , (c) <d@e> (f)\n"), ["joe", "d@e"]);
        assert_eq!(found(" \"a\\\"b\"@x.example\n"), ["\"a\\\"b\"@x.example"]);
    }

    #[test]
    fn groups_keep_their_name_and_members_are_addresses() {
        assert_eq!(
            found(" team: alice, bob@mail.internal.example.com;, carol@far.example\n"),
            ["alice", "bob@mail.internal.example.com", "carol@far.example"]
        );
        assert_eq!(found(" undisclosed-recipients:;\n"), Vec::<String>::new());
        assert_eq!(found(" a@b, undisclosed-recipients:; (none)\n"), ["a@b"]);
        assert_eq!(found(" open: a, b\n"), ["a", "b"]);
        assert_eq!(found(" team: John <joe>, \"x\" <y@z> (c);, w\n"), ["joe", "y@z", "w"]);
    }

    #[test]
    fn folding_between_addresses_and_inside_phrases() {
        assert_eq!(found(" a@b,\r\n\tc@d,\r\n (x\r\n y) e\r\n"), ["a@b", "c@d", "e"]);
        assert_eq!(found(" \"Doe,\r\n John\" <joe>\r\n"), ["joe"]);
    }

    #[test]
    fn encoded_words_are_kept_whole() {
        assert_eq!(found(" =?utf-8?q?Doe,_John?= <joe@x.example>\n"), ["joe@x.example"]);
        assert_eq!(found(" =?utf-8?b?Sm9l?=\n"), Vec::<String>::new());
    }

    #[test]
    fn what_is_never_rewritten() {
        assert_eq!(found(" <>\n"), Vec::<String>::new());
        assert_eq!(found(" <@hop.example:joe@x.example>\n"), Vec::<String>::new());
        assert_eq!(found(" <@a.example,@b.example:joe@x.example>, y\n"), ["y"]);
        assert_eq!(found(" John Smith\n"), ["!John Smith"]);
        assert_eq!(found(" joe @ x.example\n"), ["!joe @ x.example"]);
        assert_eq!(found(" joe@[192.0.2.1]\n"), ["joe@[192.0.2.1]"]);
        assert_eq!(found(" joe@x..y\n"), ["joe@x..y"], "shaped like one; Address::parse refuses it");
        assert_eq!(found(" \"a\".b@x\n"), ["\"a\".b@x"]);
        assert_eq!(found(" a,,b,\n"), ["a", "b"]);
    }

    #[test]
    fn broken_values_are_left_alone() {
        for value in [" (open", " \"open", " <a@b", " a>b", " [x", " a;b", " g: a: b;", " g: a; b", " a)b"] {
            assert_eq!(scan(value.as_bytes()), Err(Malformed), "{value:?}");
        }
    }
}
