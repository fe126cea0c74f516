//! Rewriting the addresses in a message's header, changing only their bytes.
//!
//! mail-parser finds the header fields: [`mail_parser::MessageParser`]
//! reports, for each field of the top-level header, where its name starts
//! and where its value starts and ends, with mail-parser's own rules for
//! folding and for where the header ends. It does not say where each
//! address is inside a value: its address parser returns decoded display
//! names and addresses, not byte offsets. So the bytes of each address
//! header's value go through this module's own small RFC 5322 address-list
//! scanner (`headers/scan.rs`), which returns the byte range of every
//! addr-spec; the rewriter replaces those bytes and nothing else.

mod scan;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::sync::OnceLock;

use mail_parser::{HeaderName, MessageParser};

use crate::masquerade::Outcome;
use crate::{
    Address, AddressError, AddressKind, GenericsMatch, MailerRules, ParseOptions, Reason, RewriteError,
    Rewriter,
};
use scan::Found;

/// The longest line RFC 5322 §2.1.1 allows, without its CRLF. A rewrite
/// that would make a line longer folds it before the address instead.
pub const MAX_LINE: usize = 998;

/// The header fields whose addresses are rewritten, and as which kind
/// (spec masquerade.md §3): senders first, then recipients.
pub const ADDRESS_HEADERS: [(&str, AddressKind); 15] = [
    ("From", AddressKind::HeaderSender),
    ("Sender", AddressKind::HeaderSender),
    ("Reply-To", AddressKind::HeaderSender),
    ("Errors-To", AddressKind::HeaderSender),
    ("Resent-From", AddressKind::HeaderSender),
    ("Resent-Sender", AddressKind::HeaderSender),
    ("Resent-Reply-To", AddressKind::HeaderSender),
    ("Disposition-Notification-To", AddressKind::HeaderSender),
    ("To", AddressKind::HeaderRecipient),
    ("Cc", AddressKind::HeaderRecipient),
    ("Bcc", AddressKind::HeaderRecipient),
    ("Resent-To", AddressKind::HeaderRecipient),
    ("Resent-Cc", AddressKind::HeaderRecipient),
    ("Resent-Bcc", AddressKind::HeaderRecipient),
    ("Apparently-To", AddressKind::HeaderRecipient),
];

/// The fields whose addresses a sender identity replaces.
const IDENTITY_HEADERS: [&str; 3] = ["From", "Sender", "Reply-To"];

/// Whether a header field with this name holds addresses that are
/// rewritten, and as which kind; `None` for every other field.
///
/// ```
/// use smarthost_routing::{AddressKind, address_header_kind};
/// assert_eq!(address_header_kind("resent-cc"), Some(AddressKind::HeaderRecipient));
/// assert_eq!(address_header_kind("Return-Receipt-To"), None);
/// ```
pub fn address_header_kind(name: &str) -> Option<AddressKind> {
    ADDRESS_HEADERS.iter().find(|(known, _)| known.eq_ignore_ascii_case(name)).map(|&(_, kind)| kind)
}

/// One rewritten address: which bytes change, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressEdit {
    /// The bytes to replace: the whole address, only its domain, or the
    /// empty range after an unqualified local part (`joe` → `joe@…`). It
    /// lies inside `address`, or starts at it when the line is folded.
    pub range: Range<usize>,
    /// What replaces them.
    pub replacement: String,
    /// The bytes of the address as it was (an addr-spec, without display
    /// name, angle brackets or comments).
    pub address: Range<usize>,
    /// The header field's name, as written.
    pub header: String,
    /// How the address was treated.
    pub kind: AddressKind,
    /// The rule that changed it.
    pub reason: Reason,
    /// The genericstable entry used, if any.
    pub generics: Option<GenericsMatch>,
    /// Whether the edit starts with a line fold, inserted because the
    /// rewritten line would pass [`MAX_LINE`] octets.
    pub folded: bool,
}

impl AddressEdit {
    /// The address before, from the bytes the edit was computed on.
    pub fn before<'a>(&self, original: &'a [u8]) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(&original[self.address.clone()])
    }

    /// The address after (without the line fold, if one was inserted).
    pub fn after(&self, original: &[u8]) -> String {
        let replacement = match self.folded {
            true => self
                .replacement
                .strip_prefix("\r\n ")
                .or_else(|| self.replacement.strip_prefix("\n "))
                .unwrap_or(&self.replacement),
            false => &self.replacement,
        };
        let mut out = original[self.address.start..self.range.start].to_vec();
        out.extend_from_slice(replacement.as_bytes());
        out.extend_from_slice(&original[self.range.end..self.address.end]);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// An element of an address header that looks like an address but is not
/// one that can be rewritten: left as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unparsed {
    /// Its bytes.
    pub range: Range<usize>,
    /// The header field's name, as written.
    pub header: String,
    /// Why [`Address::parse`] refused it; `None` when it is not even shaped
    /// like an address (a phrase alone, white space inside an address, not
    /// UTF-8).
    pub error: Option<AddressError>,
}

/// The edits for a message (or for one header value): apply them with
/// [`HeaderRewrite::apply`]. Every byte outside the edits' ranges stays as
/// it was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderRewrite {
    /// The edits, in order; their ranges do not overlap.
    pub edits: Vec<AddressEdit>,
    /// The elements left alone because they are not addresses.
    pub unparsed: Vec<Unparsed>,
}

impl HeaderRewrite {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The rewritten bytes: `original` with every edit applied.
    pub fn apply(&self, original: &[u8]) -> Vec<u8> {
        let growth: usize = self.edits.iter().map(|e| e.replacement.len()).sum();
        let mut out = Vec::with_capacity(original.len() + growth);
        let mut at = 0;
        for edit in &self.edits {
            out.extend_from_slice(&original[at..edit.range.start]);
            out.extend_from_slice(edit.replacement.as_bytes());
            at = edit.range.end;
        }
        out.extend_from_slice(&original[at..]);
        out
    }
}

/// mail-parser, told to skip every value: only the fields' positions are
/// needed. (A non-empty parser map makes it use the map's choice, "ignore",
/// for every field instead of parsing the ones it knows.)
fn header_parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    PARSER.get_or_init(|| MessageParser::new().default_header_ignore().ignore_header(HeaderName::Subject))
}

/// One address header of the message.
struct Field<'m> {
    name: &'m str,
    kind: AddressKind,
    /// Offset of the name (the start of the field's first line).
    start: usize,
    /// The value's bytes, from just after the colon to the end of the
    /// field's last line.
    value: Range<usize>,
}

impl<'c> Rewriter<'c> {
    /// Rewrites every address in the message's address headers (spec §3,
    /// [`ADDRESS_HEADERS`]) for a mailer with the `mailer` rules. Returns
    /// the edits; [`HeaderRewrite::apply`] makes the new message.
    ///
    /// ```
    /// use smarthost_routing::{Feature, LocalNames, MailerRules, Masquerade, Rewriter};
    ///
    /// let local = LocalNames::new("mail.internal.example.com");
    /// let mut config = Masquerade::new("mail.internal.example.com")?;
    /// config.masquerade_as("example.com")?.enable(Feature::AllMasquerade);
    /// let message = b"From: \"Doe, John\" <joe> (home)\r\nTo: team: alice,\r\n\tbob@mail.internal.example.com;\r\nSubject: joe@mail\r\n\r\nHi joe\r\n";
    /// let edits = Rewriter::new(&local, &config).rewrite_headers(message, MailerRules::Smtp)?;
    /// assert_eq!(
    ///     String::from_utf8(edits.apply(message))?,
    ///     "From: \"Doe, John\" <joe@example.com> (home)\r\nTo: team: alice@example.com,\r\n\tbob@example.com;\r\nSubject: joe@mail\r\n\r\nHi joe\r\n",
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rewrite_headers(
        &self,
        message: &[u8],
        mailer: MailerRules,
    ) -> Result<HeaderRewrite, RewriteError> {
        let fields = address_fields(message);
        let first_from = match self.identity {
            Some(_) => first_from(message, &fields),
            None => None,
        };
        let mut rewrite = HeaderRewrite::default();
        for field in &fields {
            let identity_field = self.identity.is_some()
                && IDENTITY_HEADERS.iter().any(|name| name.eq_ignore_ascii_case(field.name));
            let before = rewrite.edits.len();
            self.rewrite_value(
                message,
                field,
                mailer,
                identity_field.then_some(first_from.as_ref()),
                &mut rewrite,
            )?;
            fold_overlong_lines(message, field, &mut rewrite.edits[before..]);
        }
        Ok(rewrite)
    }

    /// Rewrites the addresses in one header value (what follows `Name:`)
    /// as addresses of `kind`: `smarthost rewrite ADDRESS` and sendmail's
    /// `/try` take their argument this way, so display names, comments and
    /// groups are kept. The edits' ranges are offsets into `value`.
    ///
    /// ```
    /// use smarthost_routing::{AddressKind, LocalNames, MailerRules, Masquerade, Rewriter};
    ///
    /// let local = LocalNames::new("mail.internal.example.com");
    /// let mut config = Masquerade::new("mail.internal.example.com")?;
    /// config.masquerade_as("example.com")?;
    /// let rewriter = Rewriter::new(&local, &config);
    /// let value = b"John Doe <joe@mail.internal.example.com>";
    /// let edits = rewriter.rewrite_header_value(value, AddressKind::HeaderSender, MailerRules::Smtp)?;
    /// assert_eq!(edits.apply(value), b"John Doe <joe@example.com>");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rewrite_header_value(
        &self,
        value: &[u8],
        kind: AddressKind,
        mailer: MailerRules,
    ) -> Result<HeaderRewrite, RewriteError> {
        let field = Field { name: "", kind, start: 0, value: 0..value.len() };
        let mut rewrite = HeaderRewrite::default();
        self.rewrite_value(value, &field, mailer, None, &mut rewrite)?;
        Ok(rewrite)
    }

    /// `identity` is `Some(first From address)` for the fields a sender
    /// identity rewrites.
    fn rewrite_value(
        &self,
        message: &[u8],
        field: &Field<'_>,
        mailer: MailerRules,
        identity: Option<Option<&Address>>,
        out: &mut HeaderRewrite,
    ) -> Result<(), RewriteError> {
        let base = field.value.start;
        let Ok(found) = scan::scan(&message[field.value.clone()]) else {
            return Ok(());
        };
        for element in found {
            let (range, at) = match element {
                Found::Address { range, at } => (range, at),
                Found::Other { range } => {
                    let range = range.start + base..range.end + base;
                    out.unparsed.push(Unparsed { range, header: field.name.to_string(), error: None });
                    continue;
                }
            };
            let range = range.start + base..range.end + base;
            let at = at.map(|at| at + base);
            let parsed = std::str::from_utf8(&message[range.clone()])
                .map(|text| Address::parse(text, ParseOptions { smtputf8: true }));
            let address = match parsed {
                Ok(Ok(address)) => address,
                Ok(Err(error)) => {
                    out.unparsed.push(Unparsed { range, header: field.name.to_string(), error: Some(error) });
                    continue;
                }
                Err(_) => {
                    out.unparsed.push(Unparsed { range, header: field.name.to_string(), error: None });
                    continue;
                }
            };
            let is_identity = identity.is_some_and(|first_from| {
                let identity = self.identity.expect("identity fields are only marked when there is one");
                identity.original().is_some_and(|o| same_mailbox(o, &address))
                    || first_from.is_some_and(|f| same_mailbox(f, &address))
            });
            let (outcome, reason, generics) = self.outcome(&address, field.kind, mailer, is_identity)?;
            let (splice, replacement) = match outcome {
                Outcome::Keep => continue,
                Outcome::SetDomain(domain) => {
                    let domain = domain.to_string();
                    match at {
                        Some(at) => (at + 1..range.end, domain),
                        None => (range.end..range.end, format!("@{domain}")),
                    }
                }
                Outcome::StripDomain => (at.unwrap_or(range.end)..range.end, String::new()),
                Outcome::Replace(new) => (range.clone(), new.to_string()),
                Outcome::ReplaceLocal(local, domain) => {
                    (range.clone(), format!("{}@{domain}", local.quoted_local_part()))
                }
            };
            out.edits.push(AddressEdit {
                range: splice,
                replacement,
                address: range,
                header: field.name.to_string(),
                kind: field.kind,
                reason,
                generics,
                folded: false,
            });
        }
        Ok(())
    }
}

/// The message's address header fields, in order, as mail-parser splits
/// the header. A field is used only if it starts a line and its name is
/// exactly one of [`ADDRESS_HEADERS`] (white space allowed before the
/// colon, as RFC 5322's obsolete syntax has it).
fn address_fields(message: &[u8]) -> Vec<Field<'_>> {
    let Some(parsed) = header_parser().parse_headers(message) else {
        return Vec::new();
    };
    let mut fields = Vec::with_capacity(8);
    for header in parsed.headers() {
        let (start, value_start, end) =
            (header.offset_field as usize, header.offset_start as usize, header.offset_end as usize);
        if !(start == 0 || message.get(start.wrapping_sub(1)) == Some(&b'\n'))
            || value_start == 0
            || message.get(value_start - 1) != Some(&b':')
            || start >= value_start
            || end < value_start
            || end > message.len()
        {
            continue;
        }
        let name = &message[start..value_start - 1];
        let name = &name[..name.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(0, |i| i + 1)];
        let Ok(name) = std::str::from_utf8(name) else { continue };
        if let Some(kind) = address_header_kind(name) {
            fields.push(Field { name, kind, start, value: value_start..end });
        }
    }
    fields
}

/// The first address of the first `From` field.
fn first_from(message: &[u8], fields: &[Field<'_>]) -> Option<Address> {
    let field = fields.iter().find(|f| f.name.eq_ignore_ascii_case("From"))?;
    let found = scan::scan(&message[field.value.clone()]).ok()?;
    found.into_iter().find_map(|element| match element {
        Found::Address { range, .. } => {
            let text =
                std::str::from_utf8(&message[field.value.start + range.start..field.value.start + range.end])
                    .ok()?;
            Address::parse(text, ParseOptions { smtputf8: true }).ok()
        }
        Found::Other { .. } => None,
    })
}

/// The same mailbox: the domain as parsed, the local part without regard
/// to ASCII case (what every real mail store does, though RFC 5321 allows
/// otherwise).
pub(crate) fn same_mailbox(a: &Address, b: &Address) -> bool {
    a.domain() == b.domain() && a.local_part().eq_ignore_ascii_case(b.local_part())
}

/// Folds before an address whose rewrite would push its line past
/// [`MAX_LINE`] octets; the inserted line end and space become part of the
/// edit, so every byte outside the edits still stays as it was.
fn fold_overlong_lines(message: &[u8], field: &Field<'_>, edits: &mut [AddressEdit]) {
    if edits.is_empty() {
        return;
    }
    let field_end = field.value.end;
    let eol: &str = match message[..field_end].ends_with(b"\r\n") {
        true => "\r\n",
        false if message[..field_end].ends_with(b"\n") => "\n",
        false => "\r\n",
    };
    let mut column = 0;
    let mut at = field.start;
    for i in 0..edits.len() {
        let address_start = edits[i].address.start;
        column = advance(column, &message[at..address_start]);
        let kept = edits[i].range.start - address_start;
        let new_len = kept + edits[i].replacement.len();
        let next = edits.get(i + 1).map_or(field_end, |e| e.address.start);
        let tail = line_part(&message[edits[i].range.end..next]);
        if column > 1 && column + new_len + tail > MAX_LINE {
            let edit = &mut edits[i];
            let mut replacement = String::with_capacity(eol.len() + 1 + new_len);
            replacement.push_str(eol);
            replacement.push(' ');
            replacement.push_str(&String::from_utf8_lossy(&message[address_start..edit.range.start]));
            replacement.push_str(&edit.replacement);
            edit.replacement = replacement;
            edit.range.start = address_start;
            edit.folded = true;
            column = 1 + new_len;
        } else {
            column += new_len;
        }
        at = edits[i].range.end;
    }
}

/// The column after `bytes`, starting at `column` (a line end starts over;
/// CR takes no room).
fn advance(column: usize, bytes: &[u8]) -> usize {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(newline) => width(&bytes[newline + 1..]),
        None => column + width(bytes),
    }
}

/// The octets of `bytes` up to the first line end.
fn line_part(bytes: &[u8]) -> usize {
    let end = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
    width(&bytes[..end])
}

fn width(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b != b'\r').count()
}
