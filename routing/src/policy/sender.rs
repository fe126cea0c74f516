//! The sender check (check_mail, access.md §6).

use crate::{Domain, Mode, Parts, Tag};

use super::canon::{Canon, CanonError};
use super::replies::{
    self, INVALID_HOST, INVALID_ROUTE, REAL_DOMAIN_REQUIRED, TEMPORARY_FAILURE, USER_ADDRESS_REQUIRED,
};
use super::{Checked, Client, Mail, Policy, PolicyReason, RoutingChar, SenderDomain, Stage};

/// check_mail's answer: `Stop` for sendmail's `$#` results (a refusal, a
/// discard, a quarantine, or an OK/RELAY entry, which under delay_checks
/// also skips the connection check); `Pass` when it merely returns.
#[derive(Debug)]
pub(crate) enum SenderResult {
    Stop(Checked),
    Pass(Checked),
}

impl SenderResult {
    pub(crate) fn into_checked(self) -> Checked {
        match self {
            Self::Stop(checked) | Self::Pass(checked) => checked,
        }
    }
}

/// What check_mail knows about the sender's domain before the access map.
enum Mark {
    /// Unqualified (`?`).
    Unqualified,
    /// Resolves, or need not.
    Resolves,
    Temp,
    Perm,
}

impl Policy<'_> {
    /// check_mail; `address` is the recipient under delay_checks, else the
    /// sender itself gets the `<address>... ` prefix.
    pub(crate) fn sender_checks(
        &self,
        client: &Client<'_>,
        mail: &Mail<'_>,
        address: Option<&str>,
    ) -> SenderResult {
        let Some(sender) = mail.sender.address() else {
            return SenderResult::Pass(replies::sender_ok(PolicyReason::NullSender));
        };
        let shown = format!("<{sender}>");
        let prefix = Some(address.unwrap_or(&shown));
        let stop = |text, reason| SenderResult::Stop(replies::refuse(Stage::Sender, text, prefix, reason));
        if !self.options.accept_unqualified_senders
            && sender.domain().is_some_and(|d| self.is_localhost_domain(d))
            && !self.is_local_client(client)
        {
            return stop(&REAL_DOMAIN_REQUIRED, PolicyReason::RealDomainRequired);
        }
        let canon = match self.canon_addr(sender) {
            Ok(canon) => canon,
            Err(CanonError::UserRequired) => {
                return stop(&USER_ADDRESS_REQUIRED, PolicyReason::UserAddressRequired);
            }
            Err(CanonError::InvalidRoute) => return stop(&INVALID_ROUTE, PolicyReason::InvalidRoute),
            Err(CanonError::BadHost) => return stop(&INVALID_HOST, PolicyReason::InvalidRoute),
        };
        let mark = self.domain_mark(&canon, mail.domain);
        if let Some(access) = self.access {
            let found = match canon.to_address() {
                Some(address) => access.search_address(&address, Tag::From, Mode::WithUntagged, Parts::ALL),
                None => Ok(None),
            };
            match found {
                Err(error) => {
                    let reason = PolicyReason::AccessUnavailable(error.to_string());
                    return stop(&TEMPORARY_FAILURE, reason);
                }
                Ok(Some(hit)) => return SenderResult::Stop(self.access_decides(Stage::Sender, &hit, prefix)),
                Ok(None) => {}
            }
        }
        let text = sender.to_string();
        let refuse = |reply, reason| SenderResult::Stop(replies::refusal(Stage::Sender, reply, reason));
        match mark {
            Mark::Unqualified if !self.options.accept_unqualified_senders && client.addr.is_some() => {
                refuse(replies::domain_required(&text, prefix), PolicyReason::DomainRequired)
            }
            Mark::Unqualified | Mark::Resolves => {
                SenderResult::Pass(replies::sender_ok(PolicyReason::NoObjection))
            }
            Mark::Temp => {
                refuse(replies::sender_domain_tempfail(&text, prefix), PolicyReason::SenderDomainTempFail)
            }
            Mark::Perm => {
                refuse(replies::sender_domain_missing(&text, prefix), PolicyReason::SenderDomainMissing)
            }
        }
    }

    fn domain_mark(&self, canon: &Canon, dns: SenderDomain) -> Mark {
        let Some(domain) = &canon.domain else { return Mark::Unqualified };
        let is_this_host = domain.as_name().is_some_and(|n| n.eq_ignore_ascii_case(&self.options.hostname));
        if is_this_host || self.options.accept_unresolvable_domains {
            return Mark::Resolves;
        }
        match dns {
            SenderDomain::Unchecked | SenderDomain::Resolves => Mark::Resolves,
            SenderDomain::TempFail => Mark::Temp,
            SenderDomain::NotFound => Mark::Perm,
        }
    }

    /// `localhost`, `[127.0.0.1]`, `[IPv6:::1]`, `localhost.$m` and (with
    /// UUCP) `localhost.UUCP`: sender domains only local clients may use.
    fn is_localhost_domain(&self, domain: &Domain) -> bool {
        match domain {
            Domain::Name(name) => {
                name == "localhost"
                    || name.strip_prefix("localhost.").is_some_and(|rest| {
                        Some(rest) == self.class_m()
                            || (rest == "uucp" && self.options.bang_path == RoutingChar::Route)
                    })
            }
            Domain::Ipv4(v4) => v4.is_loopback() && v4.octets() == [127, 0, 0, 1],
            Domain::Ipv6(v6) => v6.is_loopback(),
        }
    }

    /// Whether the client's name (or `[address]`) is in class w, or it has
    /// neither (a local submission).
    fn is_local_client(&self, client: &Client<'_>) -> bool {
        match (client.name, client.addr) {
            (Some(name), _) => self.local.contains_name(name),
            (None, Some(addr)) => self.local.contains_addr(addr.to_canonical()),
            (None, None) => true,
        }
    }
}
