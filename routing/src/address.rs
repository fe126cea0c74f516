//! RFC 5321 envelope addresses: parsing, normalising and rendering.
//!
//! [`ReversePath::parse`] and [`ForwardPath::parse`] take the path exactly as it
//! follows `MAIL FROM:` / `RCPT TO:` (angle brackets included, ESMTP parameters
//! already split off). [`Address::parse`] takes a bare `local@domain` or an
//! unqualified `local`, as found in map values and on command lines.
//!
//! Normalisation:
//! * the domain is folded to ASCII lower case, internationalised labels become
//!   their IDNA A-label (UTS 46 ToASCII), and one trailing dot is removed, so
//!   `Bücher.Example.` and `xn--bcher-kva.example` are the same [`Domain`];
//! * the local part keeps its case. It is stored *decoded*: a quoted local part
//!   is stored without its quotes and backslash escapes, and rendered in the
//!   canonical quoted form (quotes only when the content is not a dot-string,
//!   and only `"` and `\` escaped). So `"abc"@x` and `abc@x` are equal, as
//!   RFC 5321 §4.1.2 asks senders not to quote needlessly and RFC 5322 §3.4.1
//!   makes them the same mailbox.
//!
//! Equality is structural on (decoded local part, normalised domain), and
//! `parse(render(x)) == x` for every parsed value.
//!
//! The parser does not reject the open-relay tricks of access.md §10 (source
//! routes, `%`, `!`, quoted `@`); it reports them through
//! [`Address::relay_tricks`] and [`Parsed::relay_tricks`] so that relay policy
//! can decide.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain, in octets (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest path including the angle brackets, in octets (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;
/// Longest bare address accepted by [`Address::parse`]: local part, `@`, domain.
pub const MAX_ADDRESS: usize = MAX_LOCAL_PART + 1 + MAX_DOMAIN;
/// Longest DNS label, in octets (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// How to parse: what the SMTP transaction has negotiated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// SMTPUTF8 (RFC 6531) is in effect, so UTF-8 is allowed in the local
    /// part and the domain. Without it a non-ASCII address is an error
    /// ([`AddressError::NeedsSmtputf8`]).
    pub smtputf8: bool,
}

/// The domain of an address: a normalised name or an address literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// A host name: ASCII lower case, IDNA A-labels, no trailing dot.
    Name(String),
    /// An IPv4 address literal, `[192.0.2.1]`.
    Ipv4(Ipv4Addr),
    /// An IPv6 address literal, `[IPv6:2001:db8::1]`.
    Ipv6(Ipv6Addr),
}

/// An envelope address: a local part and, unless unqualified, a domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: String,
    domain: Option<Domain>,
}

/// The argument of `MAIL FROM:`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the null sender, used for bounces. It never grants relaying.
    Null,
    /// A sender address.
    Address(Address),
}

/// The argument of `RCPT TO:`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<postmaster>` in any case and without a domain, which every server
    /// must accept (RFC 5321 §4.5.1).
    Postmaster,
    /// A recipient address (including `postmaster@domain`).
    Address(Address),
}

/// A parsed path together with what the parser noticed about its form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Parsed<T> {
    /// The path, with any source route dropped.
    pub path: T,
    /// The client wrote a source route (`<@a,@b:user@c>`). RFC 5321 §4.1.1.3
    /// says to accept and ignore it; it is still reported because it is an
    /// open-relay probe ([`RelayTrick::SourceRoute`]).
    pub source_route: bool,
}

/// A form of address that has been used to trick a host into relaying
/// (access.md §7.1 and §10). The parser reports these; policy decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelayTrick {
    /// `<@hop:user@dest>`: the client asks this host to forward to `dest`
    /// via `hop`. sendmail drops the route and checks `user@dest` (R6); a
    /// relay that honoured the route would be open.
    SourceRoute,
    /// `user%other@here`: the "percent hack". If `here` is local or
    /// relayable, sendmail strips it and re-checks `user@other` (R3, R8);
    /// a host that delivers it without that check relays for anyone, and a
    /// hub behind us that honours `%` relays for whatever we accept.
    PercentHack,
    /// `other!user@here`: a UUCP bang path, routed by sendmail as
    /// `user@other` (R4); the same danger as [`RelayTrick::PercentHack`].
    BangPath,
    /// A quoted local part containing `@`, `%` or `!`, e.g.
    /// `"user@other"@here`: once the quotes are lost (by a later hop or a
    /// map lookup) the address routes to `other`.
    QuotedAt,
}

/// Why an address or path could not be parsed. Positions are byte offsets
/// into the string given to the parse function.
///
/// For the SMTP server: reply `501 5.1.3` (bad destination/sender address
/// syntax) for syntax errors, or `553 5.1.3` where RFC 5321 prefers 553 for a
/// mailbox name that is not allowed; [`AddressError::NeedsSmtputf8`] is
/// `553 5.6.7` (smtp.md §10.4). The mapping itself belongs to the replies
/// module, not here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The path does not start with `<`.
    #[error("missing opening '<': a path is written <user@domain>, or <> for the null sender")]
    MissingOpenBracket,
    /// The path has no closing `>`.
    #[error("missing closing '>'")]
    MissingCloseBracket,
    /// Something follows the closing `>`.
    #[error("unexpected text at byte {pos} after the closing '>'; separate ESMTP parameters with a space")]
    TrailingInput {
        /// Where the extra text starts.
        pos: usize,
    },
    /// `RCPT TO:<>`.
    #[error("empty path '<>' is only allowed as the MAIL FROM sender (the null reverse-path)")]
    NullForwardPath,
    /// The source route is malformed.
    #[error(
        "malformed source route at byte {pos}: expected '@domain' items separated by ',' and ended by ':'"
    )]
    BadSourceRoute {
        /// Where the problem is.
        pos: usize,
    },
    /// Nothing before the `@`.
    #[error("empty local part")]
    EmptyLocalPart,
    /// The local part is over [`MAX_LOCAL_PART`] octets.
    #[error("local part is {len} octets, longer than 64 octets")]
    LocalPartTooLong {
        /// Its length as written.
        len: usize,
    },
    /// A character that needs quoting appears in an unquoted local part.
    #[error(
        "character {ch:?} at byte {pos} is not allowed in an unquoted local part; put the local part in double quotes"
    )]
    InvalidLocalChar {
        /// The character.
        ch: char,
        /// Where it is.
        pos: usize,
    },
    /// A leading, trailing or doubled `.` in an unquoted local part.
    #[error("empty part at byte {pos} of the local part: a leading, trailing or doubled '.'")]
    EmptyAtom {
        /// Where the empty part is.
        pos: usize,
    },
    /// A quoted local part without its closing quote.
    #[error("quoted local part has no closing '\"'")]
    UnterminatedQuote,
    /// A control character (or a bad backslash escape) in a quoted local part.
    #[error(
        "character {ch:?} at byte {pos} is not allowed in a quoted local part (only printable characters and space)"
    )]
    InvalidQuotedChar {
        /// The character.
        ch: char,
        /// Where it is.
        pos: usize,
    },
    /// Something other than `@` follows a quoted local part.
    #[error("expected '@' or the end of the address after the closing quote at byte {pos}")]
    ExpectedAt {
        /// Where the unexpected text is.
        pos: usize,
    },
    /// Nothing after the `@`.
    #[error("empty domain after '@' at byte {pos}")]
    EmptyDomain {
        /// Where the domain should be.
        pos: usize,
    },
    /// The domain is over [`MAX_DOMAIN`] octets.
    #[error("domain is {len} octets, longer than 255 octets")]
    DomainTooLong {
        /// Its length (in the ASCII form when that is longer).
        len: usize,
    },
    /// An empty label: two dots in a row, or a leading dot.
    #[error("empty domain label at byte {pos} (two dots in a row, or a leading dot)")]
    EmptyLabel {
        /// Where the empty label is.
        pos: usize,
    },
    /// A label over 63 octets.
    #[error("domain label at byte {pos} is {len} octets, longer than 63 octets")]
    LabelTooLong {
        /// Where the label starts.
        pos: usize,
        /// Its length.
        len: usize,
    },
    /// A label starting with `-`.
    #[error("domain label starts with '-' at byte {pos}")]
    LabelStartsWithHyphen {
        /// Where the label starts.
        pos: usize,
    },
    /// A label ending with `-`.
    #[error("domain label ends with '-' at byte {pos}")]
    LabelEndsWithHyphen {
        /// Where the `-` is.
        pos: usize,
    },
    /// A character other than a letter, digit, `-` or `.` in a domain.
    #[error("character {ch:?} at byte {pos} is not allowed in a domain (letters, digits, '-' and '.' only)")]
    InvalidDomainChar {
        /// The character.
        ch: char,
        /// Where it is.
        pos: usize,
    },
    /// An internationalised domain (or an `xn--` label) that UTS 46 rejects.
    #[error("domain {domain:?} is not a valid internationalised domain name (IDNA, UTS 46)")]
    InvalidIdn {
        /// The domain as written.
        domain: String,
    },
    /// UTF-8 in an address without SMTPUTF8.
    #[error("non-ASCII address needs SMTPUTF8 (character at byte {pos}); add SMTPUTF8 to MAIL FROM")]
    NeedsSmtputf8 {
        /// Where the first non-ASCII character is.
        pos: usize,
    },
    /// An address literal without its closing `]`.
    #[error("address literal has no closing ']'")]
    UnterminatedLiteral,
    /// An IPv6 address written without the `IPv6:` tag.
    #[error("IPv6 literal must start with 'IPv6:', as in [IPv6:2001:db8::1]")]
    MissingIpv6Tag,
    /// `[...]` that is not a dotted-quad IPv4 address.
    #[error("address literal is not a valid IPv4 address (expected e.g. [192.0.2.1])")]
    InvalidIpv4Literal,
    /// `[IPv6:...]` that is not a valid IPv6 address.
    #[error("address literal is not a valid IPv6 address (expected e.g. [IPv6:2001:db8::1])")]
    InvalidIpv6Literal,
    /// A general address literal with a tag other than `IPv6`.
    #[error("address literal tag {tag:?} is not supported; only IPv4 and 'IPv6:' literals are")]
    UnsupportedLiteral {
        /// The tag as written.
        tag: String,
    },
    /// The path is over [`MAX_PATH`] octets.
    #[error("path is {len} octets, longer than 256 octets including '<' and '>'")]
    PathTooLong {
        /// Its length.
        len: usize,
    },
    /// A bare address over [`MAX_ADDRESS`] octets.
    #[error("address is {len} octets, longer than 320 octets")]
    AddressTooLong {
        /// Its length.
        len: usize,
    },
}

impl AddressError {
    /// Whether the address is acceptable only with SMTPUTF8 (reply
    /// `553 5.6.7` rather than a syntax error).
    pub fn is_smtputf8_required(&self) -> bool {
        matches!(self, Self::NeedsSmtputf8 { .. })
    }
}

impl Domain {
    /// Parses and normalises a domain: a name or an address literal.
    ///
    /// ```
    /// use smarthost_routing::{Domain, ParseOptions};
    /// let utf8 = ParseOptions { smtputf8: true };
    /// assert_eq!(Domain::parse("Bücher.Example.", utf8)?.to_string(), "xn--bcher-kva.example");
    /// assert_eq!(Domain::parse("[IPv6:2001:DB8::1]", utf8)?.to_string(), "[IPv6:2001:db8::1]");
    /// # Ok::<(), smarthost_routing::AddressError>(())
    /// ```
    pub fn parse(input: &str, options: ParseOptions) -> Result<Self, AddressError> {
        parse_domain(input, 0, options)
    }

    /// The name, or `None` for an address literal.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Self::Name(name) => Some(name),
            Self::Ipv4(_) | Self::Ipv6(_) => None,
        }
    }

    /// The labels of a name, most specific first; none for a literal.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.as_name().into_iter().flat_map(|name| name.split('.'))
    }

    /// Whether this is an address literal.
    pub fn is_literal(&self) -> bool {
        !matches!(self, Self::Name(_))
    }
}

impl fmt::Display for Domain {
    /// The canonical text: the name, `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ipv4(addr) => write!(f, "[{addr}]"),
            Self::Ipv6(addr) => write!(f, "[IPv6:{addr}]"),
        }
    }
}

impl Address {
    /// Parses a bare `local@domain`, or an unqualified `local` (domain
    /// `None`). No angle brackets and no source route.
    ///
    /// ```
    /// use smarthost_routing::{Address, ParseOptions};
    /// let addr = Address::parse("\"John Doe\"@Example.ORG", ParseOptions::default())?;
    /// assert_eq!(addr.local_part(), "John Doe");
    /// assert_eq!(addr.to_string(), "\"John Doe\"@example.org");
    /// let addr = Address::parse("user+a+b@example.org", ParseOptions::default())?;
    /// assert_eq!((addr.user(), addr.detail()), ("user", Some("a+b")));
    /// # Ok::<(), smarthost_routing::AddressError>(())
    /// ```
    pub fn parse(input: &str, options: ParseOptions) -> Result<Self, AddressError> {
        if input.len() > MAX_ADDRESS {
            return Err(AddressError::AddressTooLong { len: input.len() });
        }
        parse_mailbox(input, 0, options)
    }

    /// The local part, decoded: quotes and backslash escapes removed, case
    /// kept. See [`Address::quoted_local_part`] for the form on the wire.
    pub fn local_part(&self) -> &str {
        &self.local
    }

    /// The local part as it is written in SMTP: quoted (escaping only `"`
    /// and `\`) when it is not a dot-string, bare otherwise.
    pub fn quoted_local_part(&self) -> Cow<'_, str> {
        if is_dot_string(&self.local) {
            Cow::Borrowed(&self.local)
        } else {
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
    }

    /// The domain, or `None` for an unqualified address.
    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }

    /// The local part before the first `+` (all of it if there is none).
    pub fn user(&self) -> &str {
        self.local.split_once('+').map_or(&self.local, |(user, _)| user)
    }

    /// The local part after the first `+`: `b+c` for `a+b+c`.
    pub fn detail(&self) -> Option<&str> {
        self.local.split_once('+').map(|(_, detail)| detail)
    }

    /// Whether the local part has to be quoted on the wire.
    pub fn is_quoted(&self) -> bool {
        !is_dot_string(&self.local)
    }

    /// Whether the address contains UTF-8, so needs SMTPUTF8 to be sent.
    /// (Domains are always stored in ASCII form.)
    pub fn needs_smtputf8(&self) -> bool {
        !self.local.is_ascii()
    }

    /// The relay tricks in this address (see [`RelayTrick`]); a quoted local
    /// part reports [`RelayTrick::QuotedAt`] instead of the `%`/`!` tricks.
    /// Whether the domain makes them dangerous is for policy to judge.
    ///
    /// ```
    /// use smarthost_routing::{Address, ParseOptions, RelayTrick};
    /// let addr = Address::parse("user%evil.example@mail.example.com", ParseOptions::default())?;
    /// assert_eq!(addr.relay_tricks().collect::<Vec<_>>(), [RelayTrick::PercentHack]);
    /// # Ok::<(), smarthost_routing::AddressError>(())
    /// ```
    pub fn relay_tricks(&self) -> impl Iterator<Item = RelayTrick> + use<> {
        let local = &self.local;
        let tricks = if self.is_quoted() {
            let routing = local.contains(['@', '%', '!']);
            [routing.then_some(RelayTrick::QuotedAt), None]
        } else {
            [
                local.contains('%').then_some(RelayTrick::PercentHack),
                local.contains('!').then_some(RelayTrick::BangPath),
            ]
        };
        tricks.into_iter().flatten()
    }
}

impl fmt::Display for Address {
    /// `local@domain`, quoting the local part when needed; `local` when
    /// unqualified.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted_local_part())?;
        if let Some(domain) = &self.domain {
            write!(f, "@{domain}")?;
        }
        Ok(())
    }
}

impl ReversePath {
    /// Parses the argument of `MAIL FROM:`: `<>`, `<user@domain>`, or with a
    /// source route `<@a,@b:user@domain>`. An unqualified `<user>` is
    /// accepted (domain `None`) for policy to qualify or reject. Angle
    /// brackets are required: a server in compatibility mode adds them
    /// itself.
    ///
    /// ```
    /// use smarthost_routing::{ParseOptions, ReversePath};
    /// let parsed = ReversePath::parse("<>", ParseOptions::default())?;
    /// assert_eq!(parsed.path, ReversePath::Null);
    /// # Ok::<(), smarthost_routing::AddressError>(())
    /// ```
    pub fn parse(input: &str, options: ParseOptions) -> Result<Parsed<Self>, AddressError> {
        let inner = unbracket(input)?;
        if inner.is_empty() {
            return Ok(Parsed { path: Self::Null, source_route: false });
        }
        let (address, source_route) = parse_path_inner(inner, options)?;
        Ok(Parsed { path: Self::Address(address), source_route })
    }

    /// The sender address, or `None` for the null sender.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Self::Null => None,
            Self::Address(address) => Some(address),
        }
    }
}

impl fmt::Display for ReversePath {
    /// `<>` or `<user@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("<>"),
            Self::Address(address) => write!(f, "<{address}>"),
        }
    }
}

impl ForwardPath {
    /// Parses the argument of `RCPT TO:`: `<user@domain>`, `<postmaster>`
    /// (any case), or with a source route `<@a,@b:user@domain>`. `<>` is an
    /// error. An unqualified `<user>` is accepted (domain `None`).
    ///
    /// ```
    /// use smarthost_routing::{ForwardPath, ParseOptions};
    /// let parsed = ForwardPath::parse("<@hop.example:user@dest.example>", ParseOptions::default())?;
    /// assert!(parsed.source_route);
    /// assert_eq!(parsed.path.to_string(), "<user@dest.example>");
    /// assert_eq!(ForwardPath::parse("<PostMaster>", ParseOptions::default())?.path, ForwardPath::Postmaster);
    /// # Ok::<(), smarthost_routing::AddressError>(())
    /// ```
    pub fn parse(input: &str, options: ParseOptions) -> Result<Parsed<Self>, AddressError> {
        let inner = unbracket(input)?;
        if inner.is_empty() {
            return Err(AddressError::NullForwardPath);
        }
        let (address, source_route) = parse_path_inner(inner, options)?;
        let path = if address.domain.is_none() && address.local.eq_ignore_ascii_case("postmaster") {
            Self::Postmaster
        } else {
            Self::Address(address)
        };
        Ok(Parsed { path, source_route })
    }

    /// The recipient address, or `None` for the bare postmaster.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Self::Postmaster => None,
            Self::Address(address) => Some(address),
        }
    }
}

impl fmt::Display for ForwardPath {
    /// `<Postmaster>` or `<user@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postmaster => f.write_str("<Postmaster>"),
            Self::Address(address) => write!(f, "<{address}>"),
        }
    }
}

impl Parsed<ReversePath> {
    /// Every relay trick in the path: [`RelayTrick::SourceRoute`] if there
    /// was a source route, then the address's own [`Address::relay_tricks`].
    pub fn relay_tricks(&self) -> impl Iterator<Item = RelayTrick> + use<> {
        path_tricks(self.source_route, self.path.address())
    }
}

impl Parsed<ForwardPath> {
    /// Every relay trick in the path: [`RelayTrick::SourceRoute`] if there
    /// was a source route, then the address's own [`Address::relay_tricks`].
    ///
    /// ```
    /// use smarthost_routing::{ForwardPath, ParseOptions, RelayTrick};
    /// let parsed = ForwardPath::parse("<@hub:a!b@here>", ParseOptions::default())?;
    /// let tricks: Vec<_> = parsed.relay_tricks().collect();
    /// assert_eq!(tricks, [RelayTrick::SourceRoute, RelayTrick::BangPath]);
    /// # Ok::<(), smarthost_routing::AddressError>(())
    /// ```
    pub fn relay_tricks(&self) -> impl Iterator<Item = RelayTrick> + use<> {
        path_tricks(self.source_route, self.path.address())
    }
}

// ---- helpers ----

fn path_tricks(source_route: bool, address: Option<&Address>) -> impl Iterator<Item = RelayTrick> + use<> {
    let route = source_route.then_some(RelayTrick::SourceRoute);
    let own = address.map(Address::relay_tricks);
    route.into_iter().chain(own.into_iter().flatten())
}

/// Checks the overall length and strips `<` and `>`; positions stay relative
/// to `input` because the inner text starts at byte 1.
fn unbracket(input: &str) -> Result<&str, AddressError> {
    if input.len() > MAX_PATH {
        return Err(AddressError::PathTooLong { len: input.len() });
    }
    let rest = input.strip_prefix('<').ok_or(AddressError::MissingOpenBracket)?;
    // The closing '>' is the first one outside a quoted string.
    let end = closing_bracket(rest).ok_or(AddressError::MissingCloseBracket)?;
    if end + 1 < rest.len() {
        return Err(AddressError::TrailingInput { pos: end + 2 });
    }
    Ok(&rest[..end])
}

fn closing_bracket(rest: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, b) in rest.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Parses what is between the brackets (not empty): optional source route,
/// then a mailbox. `inner` starts at byte 1 of the path.
fn parse_path_inner(inner: &str, options: ParseOptions) -> Result<(Address, bool), AddressError> {
    let base = 1;
    let (mailbox_start, source_route) =
        if inner.starts_with('@') { (skip_source_route(inner, base, options)?, true) } else { (0, false) };
    let address = parse_mailbox(&inner[mailbox_start..], base + mailbox_start, options)?;
    // The canonical form can be longer than the input (A-labels).
    let len = address.to_string().len() + 2;
    if len > MAX_PATH {
        return Err(AddressError::PathTooLong { len });
    }
    Ok((address, source_route))
}

/// Validates `@a,@b:` and returns the offset just past the `:`.
fn skip_source_route(inner: &str, base: usize, options: ParseOptions) -> Result<usize, AddressError> {
    // The first ':' outside an address literal ends the route.
    let mut depth = 0_u32;
    let colon = inner
        .bytes()
        .position(|b| {
            match b {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            b == b':' && depth == 0
        })
        .ok_or(AddressError::BadSourceRoute { pos: base })?;
    let mut start = 0;
    for hop in inner[..colon].split(',') {
        let Some(domain) = hop.strip_prefix('@') else {
            return Err(AddressError::BadSourceRoute { pos: base + start });
        };
        parse_domain(domain, base + start + 1, options)?;
        start += hop.len() + 1;
    }
    Ok(colon + 1)
}

/// Parses `local` or `local@domain`; `base` is the offset of `input` in the
/// caller's string, for error positions.
fn parse_mailbox(input: &str, base: usize, options: ParseOptions) -> Result<Address, AddressError> {
    let (local, local_len) = if input.starts_with('"') {
        parse_quoted(input, base, options)?
    } else {
        let end = input.find('@').unwrap_or(input.len());
        let local = &input[..end];
        check_dot_string(local, base, options)?;
        (local.to_owned(), end)
    };
    if local_len > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong { len: local_len });
    }
    let domain = match input[local_len..].strip_prefix('@') {
        None if local_len == input.len() => None,
        None => {
            return Err(AddressError::ExpectedAt { pos: base + local_len });
        }
        Some(domain) => Some(parse_domain(domain, base + local_len + 1, options)?),
    };
    Ok(Address { local, domain })
}

/// Parses a quoted string at the start of `input`; returns the decoded
/// content and the length of the quoted string including its quotes.
fn parse_quoted(input: &str, base: usize, options: ParseOptions) -> Result<(String, usize), AddressError> {
    let mut out = String::new();
    let mut chars = input.char_indices().skip(1);
    while let Some((i, ch)) = chars.next() {
        let (i, ch) = match ch {
            '"' => {
                if out.is_empty() {
                    return Err(AddressError::EmptyLocalPart);
                }
                return Ok((out, i + 1));
            }
            '\\' => match chars.next() {
                Some((j, escaped @ ' '..='~')) => (j, escaped),
                Some((j, other)) => {
                    return Err(AddressError::InvalidQuotedChar { ch: other, pos: base + j });
                }
                None => return Err(AddressError::UnterminatedQuote),
            },
            _ => (i, ch),
        };
        check_text_char(ch, base + i, options)?;
        out.push(ch);
    }
    Err(AddressError::UnterminatedQuote)
}

fn check_text_char(ch: char, pos: usize, options: ParseOptions) -> Result<(), AddressError> {
    if !ch.is_ascii() {
        if !options.smtputf8 {
            return Err(AddressError::NeedsSmtputf8 { pos });
        }
        if ch.is_control() {
            return Err(AddressError::InvalidQuotedChar { ch, pos });
        }
    } else if !(' '..='~').contains(&ch) {
        return Err(AddressError::InvalidQuotedChar { ch, pos });
    }
    Ok(())
}

/// RFC 5321 `atext`, widened by RFC 6531 to non-ASCII (checked separately).
fn is_atext(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(ch)
}

fn is_utf8_atext(ch: char) -> bool {
    is_atext(ch) || (!ch.is_ascii() && !ch.is_control())
}

/// Whether `local` can be written without quotes (a dot-string).
fn is_dot_string(local: &str) -> bool {
    !local.is_empty() && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_utf8_atext))
}

fn check_dot_string(local: &str, base: usize, options: ParseOptions) -> Result<(), AddressError> {
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    let mut start = 0;
    for atom in local.split('.') {
        if atom.is_empty() {
            return Err(AddressError::EmptyAtom { pos: base + start });
        }
        for (i, ch) in atom.char_indices() {
            let pos = base + start + i;
            if !ch.is_ascii() && !options.smtputf8 {
                return Err(AddressError::NeedsSmtputf8 { pos });
            }
            if !is_utf8_atext(ch) {
                return Err(AddressError::InvalidLocalChar { ch, pos });
            }
        }
        start += atom.len() + 1;
    }
    Ok(())
}

fn parse_domain(input: &str, base: usize, options: ParseOptions) -> Result<Domain, AddressError> {
    if input.is_empty() {
        return Err(AddressError::EmptyDomain { pos: base });
    }
    if input.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong { len: input.len() });
    }
    if let Some(literal) = input.strip_prefix('[') {
        let literal = literal.strip_suffix(']').ok_or(AddressError::UnterminatedLiteral)?;
        return parse_literal(literal);
    }
    let name = input.strip_suffix('.').unwrap_or(input);
    if let Some(pos) = name.find(|ch: char| !ch.is_ascii()) {
        if !options.smtputf8 {
            return Err(AddressError::NeedsSmtputf8 { pos: base + pos });
        }
        return idna_to_ascii(name, base);
    }
    let name = name.to_ascii_lowercase();
    check_ldh(&name, base)?;
    if name.split('.').any(|label| label.starts_with("xn--")) {
        // Validate A-labels so that a bad one cannot equal nothing else.
        return idna_to_ascii(&name, base);
    }
    Ok(Domain::Name(name))
}

fn idna_to_ascii(name: &str, base: usize) -> Result<Domain, AddressError> {
    use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
    let invalid = || AddressError::InvalidIdn { domain: name.to_owned() };
    let ascii = Uts46::new()
        .to_ascii(name.as_bytes(), AsciiDenyList::STD3, Hyphens::CheckFirstLast, DnsLength::Ignore)
        .map_err(|_| invalid())?;
    if ascii.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong { len: ascii.len() });
    }
    // UTS 46 maps e.g. U+3002 to '.', so check the result's shape too.
    check_ldh(&ascii, base).map_err(|err| match err {
        AddressError::LabelTooLong { .. } => err,
        _ => invalid(),
    })?;
    Ok(Domain::Name(ascii.into_owned()))
}

/// Checks an ASCII name (no trailing dot) against RFC 5321 `Domain`.
fn check_ldh(name: &str, base: usize) -> Result<(), AddressError> {
    let mut start = 0;
    for label in name.split('.') {
        let pos = base + start;
        if label.is_empty() {
            return Err(AddressError::EmptyLabel { pos });
        }
        if let Some((i, ch)) = label.char_indices().find(|&(_, ch)| !ch.is_ascii_alphanumeric() && ch != '-')
        {
            return Err(AddressError::InvalidDomainChar { ch, pos: pos + i });
        }
        if label.starts_with('-') {
            return Err(AddressError::LabelStartsWithHyphen { pos });
        }
        if label.ends_with('-') {
            return Err(AddressError::LabelEndsWithHyphen { pos: pos + label.len() - 1 });
        }
        if label.len() > MAX_LABEL {
            return Err(AddressError::LabelTooLong { pos, len: label.len() });
        }
        start += label.len() + 1;
    }
    Ok(())
}

/// Parses the inside of `[...]`.
fn parse_literal(literal: &str) -> Result<Domain, AddressError> {
    if let Some((tag, rest)) = literal.split_once(':') {
        if tag.eq_ignore_ascii_case("IPv6") {
            return rest.parse::<Ipv6Addr>().map(Domain::Ipv6).map_err(|_| AddressError::InvalidIpv6Literal);
        }
        if literal.parse::<Ipv6Addr>().is_ok() || tag.is_empty() || tag.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(AddressError::MissingIpv6Tag);
        }
        return Err(AddressError::UnsupportedLiteral { tag: tag.to_owned() });
    }
    literal.parse::<Ipv4Addr>().map(Domain::Ipv4).map_err(|_| AddressError::InvalidIpv4Literal)
}

#[cfg(test)]
mod tests;
