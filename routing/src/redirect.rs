//! FEATURE(redirect) (spec maps.md §7): a recipient whose domain ends in
//! `.REDIRECT` is refused with
//! `551 5.1.1 User has moved; please try <ADDRESS>`, ADDRESS being the
//! recipient without `.REDIRECT`. The reply carries no `<rcpt>... ` prefix
//! (551 is not one of the codes that get it).
//!
//! Operators write such addresses as virtusertable or alias values
//! (`olduser@example.org  newaddr@else.example.REDIRECT`); a client may also
//! send one directly. Without the feature `.REDIRECT` is an ordinary domain.

use crate::{Address, Domain, ErrorReply, ParseOptions};

/// The pseudo-domain label, as sendmail's class P holds it.
pub const REDIRECT_LABEL: &str = "REDIRECT";

/// The address to try instead, when `address` ends in `.REDIRECT` (any
/// case) and something is left in front of it.
///
/// ```
/// use smarthost_routing::{Address, ParseOptions, redirect_target};
/// let moved = Address::parse("newaddr@else.example.REDIRECT", ParseOptions::default())?;
/// assert_eq!(redirect_target(&moved).unwrap().to_string(), "newaddr@else.example");
/// let plain = Address::parse("newaddr@else.example", ParseOptions::default())?;
/// assert!(redirect_target(&plain).is_none());
/// # Ok::<(), smarthost_routing::AddressError>(())
/// ```
pub fn redirect_target(address: &Address) -> Option<Address> {
    let Some(Domain::Name(name)) = address.domain() else { return None };
    let cut = name.len().checked_sub(REDIRECT_LABEL.len() + 1)?;
    let (front, suffix) = name.split_at(cut);
    if !suffix[1..].eq_ignore_ascii_case(REDIRECT_LABEL) || !suffix.starts_with('.') || front.is_empty() {
        return None;
    }
    // A shorter valid domain of a valid address is valid: this parse only
    // rebuilds the value, since `Address` has no setter for its domain.
    let text = format!("{}@{front}", address.quoted_local_part());
    Address::parse(&text, ParseOptions { smtputf8: true }).ok()
}

/// The reply for a moved user: `551 5.1.1 User has moved; please try <to>`,
/// as sendmail's error mailer words it (`$#error $@ 5.1.1 $: "551 User has
/// moved; please try " <to>`).
///
/// ```
/// use smarthost_routing::{Address, ParseOptions, redirect_reply};
/// let to = Address::parse("newaddr@else.example", ParseOptions::default())?;
/// let reply = redirect_reply(&to);
/// assert_eq!(reply.reply_for("moved@virt.example.org"), "551 5.1.1 User has moved; please try <newaddr@else.example>");
/// # Ok::<(), smarthost_routing::AddressError>(())
/// ```
pub fn redirect_reply(to: &Address) -> ErrorReply {
    ErrorReply {
        code: 551,
        enhanced: "5.1.1".into(),
        text: format!("User has moved; please try <{to}>"),
        status: Some("5.1.1".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> Option<String> {
        redirect_target(&Address::parse(text, ParseOptions::default()).unwrap()).map(|a| a.to_string())
    }

    #[test]
    fn only_a_whole_last_label_counts() {
        assert_eq!(target("a@b.Redirect").as_deref(), Some("a@b"));
        assert_eq!(target("\"x y\"@b.c.REDIRECT").as_deref(), Some("\"x y\"@b.c"));
        assert_eq!(target("a@REDIRECT"), None);
        assert_eq!(target("a@b.xredirect"), None);
        assert_eq!(target("a@b.redirect.example"), None);
        assert_eq!(target("a"), None);
        assert_eq!(target("a@[192.0.2.1]"), None);
    }
}
