//! Rewriting the addresses in a message's header, changing only their bytes.
//!
//! Two steps find the addresses:
//!
//! 1. The header fields: [`header_fields`] splits the header exactly as
//!    mail-parser (`MessageParser::parse_headers`) does, field for field
//!    and offset for offset — the tests and the `header_rewrite` fuzz target
//!    compare the two on arbitrary input. It is our own code because
//!    mail-parser's walk, which also builds a parsed `Message`, took two
//!    thirds of the time budget of a whole rewrite (see `headers/fields.rs`).
//! 2. The addresses inside an address field's value: mail-parser's address
//!    parser returns decoded display names and addresses, not where they
//!    are, so the value goes through this module's own small RFC 5322
//!    address-list scanner (`headers/scan.rs`), which returns the byte range
//!    of every addr-spec. The rewriter replaces those bytes and nothing
//!    else; the tests check that mail-parser, reading the result, sees the
//!    rewritten addresses and everything else as before.

mod added;
mod fields;
mod scan;
#[cfg(test)]
mod tests;

use std::ops::Range;

use crate::masquerade::{Outcome, Parts, concat, parse_plain};
use crate::{
    Address, AddressError, AddressKind, GenericsMatch, MailerRules, ParseOptions, Reason, RewriteError,
    Rewriter,
};
pub use added::{Inserted, NewFields};
pub use fields::{HeaderField, HeaderFields, header_fields};
use scan::{Found, Scanner};

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
///
/// ```
/// use smarthost_routing::{AddressKind, address_header_kind};
/// assert_eq!(address_header_kind("resent-cc"), Some(AddressKind::HeaderRecipient));
/// assert_eq!(address_header_kind("Return-Receipt-To"), None);
/// ```
pub fn address_header_kind(name: &str) -> Option<AddressKind> {
    address_header(name.as_bytes()).map(|(_, kind)| kind)
}

/// The entry of [`ADDRESS_HEADERS`] for `name`, in any case.
fn address_header(name: &[u8]) -> Option<(&'static str, AddressKind)> {
    // Every name there is 2 to 27 bytes long: fold into a buffer, then one
    // `match` on the bytes.
    let mut folded = [0u8; 27];
    let folded = folded.get_mut(..name.len()).filter(|_| name.len() >= 2)?;
    folded.copy_from_slice(name);
    folded.make_ascii_lowercase();
    let index = match &*folded {
        b"from" => 0,
        b"sender" => 1,
        b"reply-to" => 2,
        b"errors-to" => 3,
        b"resent-from" => 4,
        b"resent-sender" => 5,
        b"resent-reply-to" => 6,
        b"disposition-notification-to" => 7,
        b"to" => 8,
        b"cc" => 9,
        b"bcc" => 10,
        b"resent-to" => 11,
        b"resent-cc" => 12,
        b"resent-bcc" => 13,
        b"apparently-to" => 14,
        _ => return None,
    };
    Some(ADDRESS_HEADERS[index])
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
    /// The header field's name, spelled as [`ADDRESS_HEADERS`] spells it
    /// (empty for [`Rewriter::rewrite_header_value`]).
    pub header: &'static str,
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
    /// The header field's name, spelled as [`ADDRESS_HEADERS`] spells it.
    pub header: &'static str,
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
    /// Fields added at the end of the header
    /// ([`Rewriter::add_missing_fields`]).
    pub inserted: Option<Inserted>,
}

impl HeaderRewrite {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty() && self.inserted.is_none()
    }

    /// The rewritten bytes: `original` with every edit applied (and the
    /// inserted fields, if any).
    pub fn apply(&self, original: &[u8]) -> Vec<u8> {
        let inserted_len = self.inserted.as_ref().map_or(0, |i| i.text.len());
        let growth: usize = self.edits.iter().map(|e| e.replacement.len()).sum::<usize>() + inserted_len;
        let mut out = Vec::with_capacity(original.len() + growth);
        let mut inserted = self.inserted.as_ref();
        let mut at = 0;
        for edit in &self.edits {
            if let Some(insert) = inserted.filter(|i| i.at < edit.range.start) {
                out.extend_from_slice(&original[at..insert.at]);
                out.extend_from_slice(insert.text.as_bytes());
                at = insert.at;
                inserted = None;
            }
            out.extend_from_slice(&original[at..edit.range.start]);
            out.extend_from_slice(edit.replacement.as_bytes());
            at = edit.range.end;
        }
        if let Some(insert) = inserted {
            let insert_at = insert.at.max(at);
            out.extend_from_slice(&original[at..insert_at]);
            out.extend_from_slice(insert.text.as_bytes());
            at = insert_at;
        }
        out.extend_from_slice(&original[at..]);
        out
    }
}

thread_local! {
    /// The scanner's buffers, kept from one message to the next.
    static SCANNER: std::cell::RefCell<Scanner> = std::cell::RefCell::new(Scanner::default());
}

/// One address header of the message.
struct Field {
    name: &'static str,
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
        SCANNER.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scanner) => {
                let rewrite = self.rewrite_fields(message, mailer, &mut scanner);
                scanner.trim();
                rewrite
            }
            // Only if a map looked up inside called back here.
            Err(_) => self.rewrite_fields(message, mailer, &mut Scanner::default()),
        })
    }

    fn rewrite_fields(
        &self,
        message: &[u8],
        mailer: MailerRules,
        scanner: &mut Scanner,
    ) -> Result<HeaderRewrite, RewriteError> {
        let first_from = match self.identity {
            Some(_) => first_from(message, scanner),
            None => None,
        };
        let mut rewrite = HeaderRewrite { edits: Vec::with_capacity(16), ..HeaderRewrite::default() };
        for field in address_fields(message) {
            let identity_field = self.identity.is_some() && IDENTITY_HEADERS.contains(&field.name);
            let before = rewrite.edits.len();
            let identity = identity_field.then_some(first_from.as_ref());
            self.rewrite_value(message, &field, mailer, identity, scanner, &mut rewrite)?;
            fold_overlong_lines(message, &field, &mut rewrite.edits[before..]);
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
        self.rewrite_value(value, &field, mailer, None, &mut Scanner::default(), &mut rewrite)?;
        Ok(rewrite)
    }

    /// `identity` is `Some(first From address)` for the fields a sender
    /// identity rewrites.
    fn rewrite_value(
        &self,
        message: &[u8],
        field: &Field,
        mailer: MailerRules,
        identity: Option<Option<&Address>>,
        scanner: &mut Scanner,
        out: &mut HeaderRewrite,
    ) -> Result<(), RewriteError> {
        let base = field.value.start;
        let value = &message[field.value.clone()];
        let Ok(found) = scanner.scan(value) else {
            return Ok(());
        };
        // One UTF-8 check for the whole value; addresses are cut from it at
        // token boundaries, which are ASCII bytes, so at character boundaries.
        let value_text = std::str::from_utf8(value).ok();
        for element in found {
            let (local_range, at) = match element {
                Found::Address { range, at } => (range.clone(), *at),
                Found::Other { range } => {
                    let range = range.start + base..range.end + base;
                    out.unparsed.push(Unparsed { range, header: field.name, error: None });
                    continue;
                }
            };
            let range = local_range.start + base..local_range.end + base;
            let at = at.map(|at| at + base);
            let text = match value_text {
                Some(text) => text.get(local_range),
                // Other bytes elsewhere in the value (a Latin-1 display name).
                None => std::str::from_utf8(&value[local_range]).ok(),
            };
            let Some(text) = text else {
                out.unparsed.push(Unparsed { range, header: field.name, error: None });
                continue;
            };
            // Plain ASCII addresses are read without allocating an Address.
            let (plain, parsed);
            let address = if let Some(found) = parse_plain(text) {
                plain = found;
                plain.parts()
            } else {
                parsed = match Address::parse(text, ParseOptions { smtputf8: true }) {
                    Ok(address) => address,
                    Err(error) => {
                        out.unparsed.push(Unparsed { range, header: field.name, error: Some(error) });
                        continue;
                    }
                };
                Parts::of(&parsed)
            };
            let is_identity = identity.is_some_and(|first_from| {
                self.identity.and_then(|identity| identity.original()).is_some_and(|o| address.is_mailbox(o))
                    || first_from.is_some_and(|f| address.is_mailbox(f))
            });
            let (outcome, reason, generics) =
                self.outcome(address, field.kind, mailer, is_identity).map_err(|e| *e)?;
            let (splice, replacement) = match outcome {
                Outcome::Keep => continue,
                Outcome::SetDomain(name) => match at {
                    Some(at) => (at + 1..range.end, name.text.clone()),
                    None => (range.end..range.end, concat(&["@", &name.text])),
                },
                Outcome::StripDomain => (at.unwrap_or(range.end)..range.end, String::new()),
                Outcome::Replace(new) => (range.clone(), new.to_string()),
                Outcome::ReplaceLocal(local, name) => {
                    (range.clone(), concat(&[&local.quoted_local_part(), "@", &name.text]))
                }
            };
            out.edits.push(AddressEdit {
                range: splice,
                replacement,
                address: range,
                header: field.name,
                kind: field.kind,
                reason,
                generics: generics.map(|found| *found),
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
fn address_fields(message: &[u8]) -> impl Iterator<Item = Field> + '_ {
    header_fields(message).filter_map(|field| {
        let (start, value) = (field.start, field.value);
        if !(start == 0 || message[start - 1] == b'\n')
            || message.get(value.start.wrapping_sub(1)) != Some(&b':')
        {
            return None;
        }
        let name = &message[start..value.start - 1];
        let name = &name[..name.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(0, |i| i + 1)];
        let (name, kind) = address_header(name)?;
        Some(Field { name, kind, start, value })
    })
}

/// The first address of the first `From` field.
fn first_from(message: &[u8], scanner: &mut Scanner) -> Option<Address> {
    let field = address_fields(message).find(|f| f.name == "From")?;
    let found = scanner.scan(&message[field.value.clone()]).ok()?;
    found.iter().find_map(|element| match element {
        Found::Address { range, .. } => {
            let start = field.value.start;
            let text = std::str::from_utf8(&message[start + range.start..start + range.end]).ok()?;
            Address::parse(text, ParseOptions { smtputf8: true }).ok()
        }
        Found::Other { .. } => None,
    })
}

/// Folds before an address whose rewrite would push its line past
/// [`MAX_LINE`] octets; the inserted line end and space become part of the
/// edit, so every byte outside the edits still stays as it was.
fn fold_overlong_lines(message: &[u8], field: &Field, edits: &mut [AddressEdit]) {
    let field_end = field.value.end;
    let growth: usize = edits.iter().map(|e| e.replacement.len()).sum();
    if field_end - field.start + growth <= MAX_LINE {
        // No line of the field can pass the limit, even all on one line.
        return;
    }
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
