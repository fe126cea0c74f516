//! Every reply text the policy sends, in one place (sendmail's words where
//! sendmail has them: proto.m4 and cf/README; dsn.md §3.3 for the `Ok`s).

use super::{Checked, PolicyReason, PolicyReply, Stage, Verdict};
use crate::{AccessValue, AddressError};

/// A fixed reply: code, enhanced code, text.
pub(crate) struct Text(pub(crate) u16, pub(crate) (u8, u16, u16), pub(crate) &'static str);

/// `REJECT` for a client or sender (confREJECT_MSG).
pub(crate) const ACCESS_DENIED: Text = Text(550, (5, 7, 1), "Access denied");
/// `REJECT` for a recipient under blocklist_recipients (confRCPTREJ_MSG).
pub(crate) const MAILBOX_DISABLED: Text = Text(550, (5, 2, 1), "Mailbox disabled for this recipient");
/// The final refusal (confRELAY_MSG).
pub(crate) const RELAYING_DENIED: Text = Text(550, (5, 7, 1), "Relaying denied");
/// The final refusal when TRUST_AUTH_MECH is configured.
pub(crate) const RELAYING_DENIED_AUTH: Text =
    Text(550, (5, 7, 1), "Relaying denied. Proper authentication required.");
/// The access map could not be read (`-T<TMPF>`).
pub(crate) const TEMPORARY_FAILURE: Text =
    Text(451, (4, 3, 0), "Temporary system failure. Please try again later.");
/// An empty recipient.
pub(crate) const USER_ADDRESS_REQUIRED: Text = Text(553, (5, 1, 3), "User address required");
/// `a@b@c`.
pub(crate) const INVALID_ROUTE: Text = Text(553, (5, 1, 3), "Invalid route address");
/// A host part that is not a host name.
pub(crate) const INVALID_HOST: Text = Text(553, (5, 1, 2), "Invalid host name");
/// `user@localhost` from a remote client.
pub(crate) const REAL_DOMAIN_REQUIRED: Text =
    Text(553, (5, 5, 4), "Real domain name required for sender address");

const RCPT_OK: Text = Text(250, (2, 1, 5), "Ok");
const SENDER_OK: Text = Text(250, (2, 1, 0), "Ok");
const CONNECT_OK: Text = Text(220, (2, 0, 0), "Ok");

impl Text {
    pub(crate) fn reply(&self, address: Option<&str>) -> PolicyReply {
        PolicyReply::fixed(self.0, self.1, self.2, address)
    }
}

/// A refusal (reject for 5xx, defer for 4xx).
pub(crate) fn refusal(stage: Stage, reply: PolicyReply, reason: PolicyReason) -> Checked {
    let verdict = if reply.code / 100 == 4 { Verdict::Defer } else { Verdict::Reject };
    Checked { stage, verdict, reply, reason, quarantine: None }
}

/// A fixed refusal.
pub(crate) fn refuse(stage: Stage, text: &Text, address: Option<&str>, reason: PolicyReason) -> Checked {
    refusal(stage, text.reply(address), reason)
}

pub(crate) fn connect_ok(reason: PolicyReason) -> Checked {
    let reply = CONNECT_OK.reply(None);
    Checked { stage: Stage::Connect, verdict: Verdict::Accept, reply, reason, quarantine: None }
}

pub(crate) fn sender_ok(reason: PolicyReason) -> Checked {
    let reply = SENDER_OK.reply(None);
    Checked { stage: Stage::Sender, verdict: Verdict::Accept, reply, reason, quarantine: None }
}

/// An accepted recipient; the stage is the recipient's even when an earlier
/// check (under delay_checks) said the last word.
pub(crate) fn rcpt_ok(verdict: Verdict, reason: PolicyReason) -> Checked {
    let reply = RCPT_OK.reply(None);
    Checked { stage: Stage::Recipient, verdict, reply, reason, quarantine: None }
}

/// The accept reply of a stage.
pub(crate) fn stage_ok(stage: Stage, verdict: Verdict, reason: PolicyReason) -> Checked {
    match stage {
        Stage::Connect => Checked { verdict, ..connect_ok(reason) },
        Stage::Sender => Checked { verdict, ..sender_ok(reason) },
        Stage::Recipient => rcpt_ok(verdict, reason),
    }
}

/// `Domain name required for sender address S`.
pub(crate) fn domain_required(sender: &str, address: Option<&str>) -> PolicyReply {
    PolicyReply::new(553, (5, 5, 4), &format!("Domain name required for sender address {sender}"), address)
}

/// The sender's domain did not resolve for now.
pub(crate) fn sender_domain_tempfail(sender: &str, address: Option<&str>) -> PolicyReply {
    PolicyReply::new(451, (4, 1, 8), &format!("Domain of sender address {sender} does not resolve"), address)
}

/// The sender's domain does not exist.
pub(crate) fn sender_domain_missing(sender: &str, address: Option<&str>) -> PolicyReply {
    PolicyReply::new(553, (5, 1, 8), &format!("Domain of sender address {sender} does not exist"), address)
}

/// Relay_ok's `{client_resolve}` TEMP.
pub(crate) fn relay_ptr_tempfail(client_addr: &str, address: Option<&str>) -> PolicyReply {
    let text = format!("Relaying temporarily denied. Cannot resolve PTR record for {client_addr}");
    PolicyReply::new(450, (4, 4, 0), &text, address)
}

/// Relay_ok's `{client_resolve}` FORGED.
pub(crate) fn relay_ptr_forged(client_name: &str, address: Option<&str>) -> PolicyReply {
    PolicyReply::new(
        550,
        (5, 7, 1),
        &format!("Relaying denied. IP name possibly forged {client_name}"),
        address,
    )
}

/// Relay_ok's `{client_resolve}` FAIL.
pub(crate) fn relay_ptr_missing(client_name: &str, address: Option<&str>) -> PolicyReply {
    PolicyReply::new(
        550,
        (5, 7, 1),
        &format!("Relaying denied. IP name lookup failed {client_name}"),
        address,
    )
}

/// The reverse-DNS requirement: no PTR record. RFC 7372 §3.3 registers
/// X.7.25, "Reverse DNS validation failed".
pub(crate) fn rdns_missing(client_addr: &str, address: Option<&str>) -> PolicyReply {
    let text = format!(
        "Your mail server {client_addr} is not properly DNS registered: it has no reverse DNS (PTR) record; \
         ask its provider to add one"
    );
    PolicyReply::new(550, (5, 7, 25), &text, address)
}

/// The reverse-DNS requirement: the lookup failed for now.
pub(crate) fn rdns_tempfail(client_addr: &str, address: Option<&str>) -> PolicyReply {
    let text =
        format!("Cannot look up the reverse DNS (PTR) record of {client_addr} right now; try again later");
    PolicyReply::new(451, (4, 7, 25), &text, address)
}

/// The forward-confirmed reverse-DNS requirement: the name does not lead back.
pub(crate) fn rdns_forged(client_addr: &str, client_name: &str, address: Option<&str>) -> PolicyReply {
    let text = format!(
        "Your mail server {client_addr} is not properly DNS registered: its reverse DNS name {client_name} \
         does not resolve back to it"
    );
    PolicyReply::new(550, (5, 7, 25), &text, address)
}

/// What an access entry's error value says (ERROR:, a bare text, and the
/// FRIEND/HATER words outside `Spam:` lookups, which sendmail's rules take
/// as text too).
pub(crate) fn access_error(value: &AccessValue<'_>, address: Option<&str>) -> Option<PolicyReply> {
    let reply = match value {
        AccessValue::Friend => AccessValue::Other("FRIEND".into()).error_reply(),
        AccessValue::Hater => AccessValue::Other("HATER".into()).error_reply(),
        other => other.error_reply(),
    }?;
    Some(PolicyReply::new(reply.code, reply.enhanced, &reply.text, address))
}

/// A recipient path that does not parse.
pub(crate) fn bad_recipient(given: &str, error: &AddressError) -> Checked {
    bad_path(Stage::Recipient, given, error)
}

/// A sender path that does not parse.
pub(crate) fn bad_sender(given: &str, error: &AddressError) -> Checked {
    bad_path(Stage::Sender, given, error)
}

fn bad_path(stage: Stage, given: &str, error: &AddressError) -> Checked {
    let shown = given.trim();
    let shown = if shown.starts_with('<') { shown.to_string() } else { format!("<{shown}>") };
    let address = Some(shown.as_str());
    if is_second_at(error) {
        return refuse(stage, &INVALID_ROUTE, address, PolicyReason::InvalidRoute);
    }
    if matches!(error, AddressError::NullForwardPath | AddressError::EmptyLocalPart) {
        return refuse(stage, &USER_ADDRESS_REQUIRED, address, PolicyReason::UserAddressRequired);
    }
    let reply = if error.is_smtputf8_required() {
        PolicyReply::new(553, (5, 6, 7), &error.to_string(), address)
    } else {
        let enhanced = if stage == Stage::Sender { (5, 1, 7) } else { (5, 1, 3) };
        PolicyReply::new(501, enhanced, &format!("Syntax error in mailbox address: {error}"), address)
    };
    refusal(stage, reply, PolicyReason::BadAddress(error.to_string()))
}

/// Whether the parser stopped at a second `@` outside quotes (`a@b@c`),
/// which sendmail's Parse0 answers with `553 5.1.3 Invalid route address`.
fn is_second_at(error: &AddressError) -> bool {
    matches!(error, AddressError::InvalidDomainChar { ch: '@', .. })
}
