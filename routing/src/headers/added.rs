//! The fields sendmail's mailers add to a message that lacks them (mailer
//! flags `D`, `M` and `F`; spec masquerade.md §5): `Date:`, `Message-Id:`
//! and `From:`, and with a `Resent-From:` also `Resent-Date:` and
//! `Resent-Message-Id:`. An added `From:` is the envelope sender rewritten
//! as a header sender.

use super::header_fields;
use crate::masquerade::concat;
use crate::{
    Address, AddressKind, HeaderRewrite, MailerRules, ParseOptions, ReversePath, RewriteError, Rewriter,
};

/// The values for the fields [`Rewriter::add_missing_fields`] adds: time
/// and identity come from the caller (sans IO).
#[derive(Clone, Copy, Debug)]
pub struct NewFields<'a> {
    /// An RFC 5322 `date-time`, e.g. `Mon, 1 Jan 2024 10:00:00 +0000`.
    pub date: &'a str,
    /// An RFC 5322 `msg-id` with its angle brackets, e.g. `<4Xyz.1234@mail.example.com>`.
    pub message_id: &'a str,
}

/// Fields inserted into a message, all at one place: the end of the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// Where: the end of the last header field (or the start of the message).
    pub at: usize,
    /// The fields, each ending with the message's line end.
    pub text: String,
}

impl Rewriter<'_> {
    /// Adds to `rewrite` the fields of spec §5 that `message` lacks, at the
    /// end of its header: `Resent-Date:`, `Date:`, `From:`,
    /// `Resent-Message-Id:` and `Message-Id:`, in sendmail's order. The
    /// `From:` address is `sender` rewritten as a header sender (for `<>`,
    /// `MAILER-DAEMON`); nothing else is rewritten here. Returns whether a
    /// field was added.
    ///
    /// ```
    /// use smarthost_routing::{Address, LocalNames, MailerRules, Masquerade, NewFields, ParseOptions, ReversePath, Rewriter};
    ///
    /// let local = LocalNames::new("mail.internal.example.com");
    /// let mut config = Masquerade::new("mail.internal.example.com")?;
    /// config.masquerade_as("example.com")?;
    /// let rewriter = Rewriter::new(&local, &config);
    /// let message = b"To: carol@far.example\r\nSubject: hi\r\n\r\nbody\r\n";
    /// let mut edits = rewriter.rewrite_headers(message, MailerRules::Smtp)?;
    /// let sender = ReversePath::Address(Address::parse("joe", ParseOptions::default())?);
    /// let new = NewFields { date: "Mon, 1 Jan 2024 10:00:00 +0000", message_id: "<1@mail.example.com>" };
    /// assert!(rewriter.add_missing_fields(message, &sender, new, MailerRules::Smtp, &mut edits)?);
    /// assert_eq!(
    ///     String::from_utf8(edits.apply(message))?,
    ///     "To: carol@far.example\r\nSubject: hi\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
    ///      From: joe@example.com\r\nMessage-Id: <1@mail.example.com>\r\n\r\nbody\r\n",
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_missing_fields(
        &self,
        message: &[u8],
        sender: &ReversePath,
        new: NewFields<'_>,
        mailer: MailerRules,
        rewrite: &mut HeaderRewrite,
    ) -> Result<bool, RewriteError> {
        let mut has = [false; 5];
        const NAMES: [&str; 5] = ["from", "date", "message-id", "resent-from", "resent-date"];
        let mut has_resent_id = false;
        let mut at = 0;
        let mut eol = None;
        for field in header_fields(message) {
            at = field.value.end;
            let line_start = field.start == 0 || message[field.start - 1] == b'\n';
            if eol.is_none() && message[..field.value.end].ends_with(b"\n") {
                eol = Some(if message[..field.value.end].ends_with(b"\r\n") { "\r\n" } else { "\n" });
            }
            let Some(colon) = field.value.start.checked_sub(1).filter(|&c| message[c] == b':') else {
                continue;
            };
            let name = message[field.start..colon].trim_ascii_end();
            if !line_start {
                continue;
            }
            if let Some(n) = NAMES.iter().position(|known| known.as_bytes().eq_ignore_ascii_case(name)) {
                has[n] = true;
            }
            has_resent_id |= name.eq_ignore_ascii_case(b"resent-message-id");
        }
        let [has_from, has_date, has_id, has_resent_from, has_resent_date] = has;
        let eol = eol.unwrap_or("\r\n");
        let mut text = String::new();
        if at > 0 && message[at - 1] != b'\n' {
            text.push_str(eol);
        }
        let mut added = false;
        let mut add = |name: &str, value: &str| {
            text.push_str(&concat(&[name, ": ", value, eol]));
            added = true;
        };
        if has_resent_from && !has_resent_date {
            add("Resent-Date", new.date);
        }
        if !has_date {
            add("Date", new.date);
        }
        if !has_from {
            let address = match sender {
                ReversePath::Address(address) => address.clone(),
                ReversePath::Null => {
                    Address::parse("MAILER-DAEMON", ParseOptions::default()).expect("a valid local part")
                }
            };
            let from = self.rewrite(&address, AddressKind::HeaderSender, mailer)?;
            add("From", &from.address.to_string());
        }
        if has_resent_from && !has_resent_id {
            add("Resent-Message-Id", new.message_id);
        }
        if !has_id {
            add("Message-Id", new.message_id);
        }
        if added {
            rewrite.inserted = Some(Inserted { at, text });
        }
        Ok(added)
    }
}
