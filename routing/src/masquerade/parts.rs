//! A borrowed view of an address for the rewriting rules, and a fast way
//! to get one from the plain ASCII addresses that make up nearly every
//! header, without the allocations of a full [`Address`].

use std::borrow::Cow;

use crate::{Address, Domain, MAX_DOMAIN, MAX_LOCAL_PART};

/// The parts of an address the rules look at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parts<'a> {
    /// The local part, decoded (no quotes or escapes).
    pub(crate) local: &'a str,
    /// Whether the local part has to be quoted on the wire.
    pub(crate) quoted: bool,
    /// The normalised domain, `None` when unqualified.
    pub(crate) domain: Option<DomainRef<'a>>,
}

/// A normalised domain, borrowed: a name (lower case, A-labels, no
/// trailing dot), or an address literal.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DomainRef<'a> {
    Name(&'a str),
    Literal(&'a Domain),
}

impl<'a> DomainRef<'a> {
    pub(crate) fn of(domain: &'a Domain) -> Self {
        match domain {
            Domain::Name(name) => Self::Name(name),
            literal => Self::Literal(literal),
        }
    }

    /// Whether this is `domain`.
    pub(crate) fn is(self, domain: &Domain) -> bool {
        match (self, domain) {
            (Self::Name(name), Domain::Name(other)) => name == other,
            (Self::Literal(literal), other) => literal == other,
            (Self::Name(_), _) => false,
        }
    }

    /// The text, as map keys and class files write it.
    pub(crate) fn text(self) -> Cow<'a, str> {
        match self {
            Self::Name(name) => Cow::Borrowed(name),
            Self::Literal(literal) => Cow::Owned(literal.to_string()),
        }
    }
}

impl<'a> Parts<'a> {
    pub(crate) fn of(address: &'a Address) -> Self {
        Self {
            local: address.local_part(),
            quoted: address.is_quoted(),
            domain: address.domain().map(DomainRef::of),
        }
    }

    /// The local part as it is written on the wire.
    pub(crate) fn quoted_local(&self) -> Cow<'a, str> {
        if !self.quoted {
            return Cow::Borrowed(self.local);
        }
        let mut out = String::with_capacity(self.local.len() + 2);
        out.push('"');
        for ch in self.local.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
        Cow::Owned(out)
    }

    /// The same address as `other`: local part and domain equal.
    pub(crate) fn is(&self, other: &Address) -> bool {
        self.local == other.local_part() && self.same_domain(other)
    }

    /// The same mailbox as `other`: the domain equal, the local part
    /// without regard to ASCII case.
    pub(crate) fn is_mailbox(&self, other: &Address) -> bool {
        self.same_domain(other) && self.local.eq_ignore_ascii_case(other.local_part())
    }

    fn same_domain(&self, other: &Address) -> bool {
        match (self.domain, other.domain()) {
            (None, None) => true,
            (Some(domain), Some(other)) => domain.is(other),
            _ => false,
        }
    }
}

/// An address read here rather than by [`Address::parse`]: its domain in
/// lower case, borrowed unless the text had capitals.
pub(crate) struct Plain<'a> {
    pub(crate) local: &'a str,
    pub(crate) domain: Option<Cow<'a, str>>,
}

impl Plain<'_> {
    pub(crate) fn parts(&self) -> Parts<'_> {
        Parts { local: self.local, quoted: false, domain: self.domain.as_deref().map(DomainRef::Name) }
    }
}

/// `local` or `local@domain` where the local part is an ASCII dot-atom and
/// the domain plain ASCII LDH labels (no A-labels, no literal): read
/// exactly as [`Address::parse`] reads it, without allocating unless the
/// domain has capitals. `None` for anything else; the caller then uses
/// [`Address::parse`], which also explains what is wrong.
pub(crate) fn parse_plain(text: &str) -> Option<Plain<'_>> {
    let bytes = text.as_bytes();
    // The local part: atoms of atext separated by single dots.
    let mut i = 0;
    let mut atom_start = 0;
    while let Some(&b) = bytes.get(i) {
        match CHARS[usize::from(b)] {
            class if class & ATEXT != 0 => {}
            DOT if i > atom_start => atom_start = i + 1,
            AT => break,
            _ => return None,
        }
        i += 1;
    }
    if i == atom_start || i > MAX_LOCAL_PART {
        return None;
    }
    let local = &text[..i];
    if i == bytes.len() {
        return Some(Plain { local, domain: None });
    }
    // The domain: labels of letters, digits and inner hyphens.
    let domain = &text[i + 1..];
    if domain.len() > MAX_DOMAIN {
        return None;
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let mut capitals = false;
    for label in domain.as_bytes().split(|&b| b == b'.') {
        let (Some(&first), Some(&last)) = (label.first(), label.last()) else {
            return None;
        };
        // An A-label is Address::parse's to validate.
        if label.len() > 63
            || first == b'-'
            || last == b'-'
            || label.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
        {
            return None;
        }
        for &b in label {
            match CHARS[usize::from(b)] & LDH {
                0 => return None,
                UPPER => capitals = true,
                _ => {}
            }
        }
    }
    let domain = if capitals { Cow::Owned(domain.to_ascii_lowercase()) } else { Cow::Borrowed(domain) };
    Some(Plain { local, domain: Some(domain) })
}

/// What each byte can be in a plain address: bits for atext, a letter,
/// digit or hyphen (LDH), a capital; or the dot, or the `@`.
const ATEXT: u8 = 1;
const LDH: u8 = 2 | 4;
const UPPER: u8 = 4;
const DOT: u8 = 8;
const AT: u8 = 16;
const CHARS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c == b'.' {
            DOT
        } else if c == b'@' {
            AT
        } else if c.is_ascii_uppercase() {
            ATEXT | UPPER
        } else if c.is_ascii_alphanumeric() || c == b'-' {
            ATEXT | 2
        } else if matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        ) {
            ATEXT
        } else {
            0
        };
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the fast reader accepts, `Address::parse` reads the same.
        #[test]
        fn the_fast_reader_agrees_with_address_parse(text in "[a-zA-Z0-9.!#%+=?_~@\\-\\[\\]\"]{0,12}(@[a-zA-Z0-9.\\-]{0,20})?") {
            if let Some(plain) = parse_plain(&text) {
                let address = Address::parse(&text, ParseOptions { smtputf8: true }).expect("accepted by both");
                prop_assert_eq!(plain.local, address.local_part());
                let domain = plain.domain.map(|d| Domain::Name(d.into_owned()));
                prop_assert_eq!(domain.as_ref(), address.domain());
            }
        }
    }

    #[test]
    fn what_the_fast_reader_leaves_to_address_parse() {
        for text in [
            "\"q\"@x",
            "a..b@x",
            "a@xn--bcher-kva.example",
            "a@x.Xn--bcher-kva.example",
            "a@[192.0.2.1]",
            "a@-x",
            "é@x",
            "a@x..y",
            "@x",
            "",
        ] {
            assert!(parse_plain(text).is_none(), "{text}");
        }
        let plain = parse_plain("Joe.Doe+x@Mail.Example.").unwrap();
        assert_eq!((plain.local, plain.domain.as_deref()), ("Joe.Doe+x", Some("mail.example")));
    }
}
