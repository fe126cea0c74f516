//! The recipient check and the relay decision (check_rcpt: Rcpt_ok,
//! Relay_ok and the final decision, access.md §7; delay_checks, §8).

use crate::{AccessValue, Address, ForwardPath, Mode, Parts, Tag};

use super::canon::{Canon, CanonError};
use super::connect::access_reason;
use super::replies::{
    self, INVALID_HOST, INVALID_ROUTE, MAILBOX_DISABLED, RELAYING_DENIED, RELAYING_DENIED_AUTH,
    TEMPORARY_FAILURE, USER_ADDRESS_REQUIRED,
};
use super::sender::SenderResult;
use super::{
    Checked, Client, ClientResolve, DelayChecks, Mail, Policy, PolicyReason, PolicyReply, RoutingChar, Stage,
    Verdict,
};

/// Rcpt_ok's answer.
enum RcptOk {
    /// `$#...`: a final answer that also ends delay_checks (a refusal, a
    /// discard, trusted authentication).
    Stop(Checked),
    /// `RELAY`: the recipient is acceptable on its own.
    Ours(PolicyReason),
    /// `$#TEMP`: a temporary failure, unless the client may relay.
    Temp(PolicyReply, PolicyReason),
    /// Nothing: it depends on the client.
    Remote,
}

/// Relay_ok's answer.
enum RelayOk {
    Relay(PolicyReason),
    /// `$#error` or `$#TEMP`: final.
    Final(PolicyReply, PolicyReason),
    Nothing,
}

/// Where the recipient's domain stands, before the client is considered.
enum Destination {
    Ours(PolicyReason),
    Temp(PolicyReply, PolicyReason),
    Remote,
}

impl Policy<'_> {
    /// check_rcpt, with delay_checks' sender and connection checks after it.
    pub(crate) fn recipient_checks(
        &self,
        client: &Client<'_>,
        mail: &Mail<'_>,
        rcpt: &ForwardPath,
    ) -> Checked {
        let shown = rcpt.to_string();
        let address = Some(shown.as_str());
        let (checked, stopped) = self.checkrcpt(client, mail, rcpt, address);
        if self.options.delay_checks == DelayChecks::Off || stopped || checked.verdict.is_refusal() {
            return checked;
        }
        if checked.verdict == Verdict::Discard {
            return checked;
        }
        match self.options.delay_checks {
            DelayChecks::Friend if self.spam_tag(rcpt) == Some(AccessValue::Friend) => {
                return replies::rcpt_ok(checked.verdict, PolicyReason::SpamFriend);
            }
            DelayChecks::Hater if self.spam_tag(rcpt) != Some(AccessValue::Hater) => {
                return replies::rcpt_ok(checked.verdict, PolicyReason::NotSpamHater);
            }
            _ => {}
        }
        match self.sender_checks(client, mail, address) {
            SenderResult::Stop(sender)
                if sender.verdict.is_refusal() || sender.verdict == Verdict::Discard =>
            {
                return sender;
            }
            SenderResult::Stop(sender) => {
                // An OK/RELAY (or QUARANTINE) entry for the sender ends the
                // checks: the connection check is skipped (access.md §8.3).
                return Checked { quarantine: sender.quarantine, ..checked };
            }
            SenderResult::Pass(_) => {}
        }
        let connect = self.connect_checks(client, address);
        if connect.verdict.is_refusal() || connect.verdict == Verdict::Discard {
            return connect;
        }
        Checked { quarantine: connect.quarantine, ..checked }
    }

    /// check_rcpt without delay_checks: the decision, and whether it is a
    /// `$#` result that ends delay_checks too.
    fn checkrcpt(
        &self,
        client: &Client<'_>,
        mail: &Mail<'_>,
        rcpt: &ForwardPath,
        address: Option<&str>,
    ) -> (Checked, bool) {
        let postmaster;
        let rcpt = match rcpt {
            ForwardPath::Address(rcpt) => rcpt,
            ForwardPath::Postmaster => {
                postmaster = Address::parse("postmaster", crate::ParseOptions::default())
                    .expect("postmaster is an address");
                &postmaster
            }
        };
        let temp = match self.rcpt_ok(client, rcpt, address) {
            RcptOk::Stop(checked) => return (checked, true),
            RcptOk::Ours(reason) => return (replies::rcpt_ok(Verdict::Accept, reason), false),
            RcptOk::Temp(reply, reason) => Some((reply, reason)),
            RcptOk::Remote => None,
        };
        if self.options.dangerous_promiscuous_relay {
            return (replies::rcpt_ok(Verdict::Relay, PolicyReason::Promiscuous), false);
        }
        let checked = match self.relay_ok(client, mail, address) {
            RelayOk::Final(reply, reason) => replies::refusal(Stage::Recipient, reply, reason),
            RelayOk::Relay(reason) => replies::rcpt_ok(Verdict::Relay, reason),
            RelayOk::Nothing => match temp {
                Some((reply, reason)) => replies::refusal(Stage::Recipient, reply, reason),
                None => {
                    let text = if self.options.trust_auth_mechs.is_empty() {
                        &RELAYING_DENIED
                    } else {
                        &RELAYING_DENIED_AUTH
                    };
                    replies::refuse(Stage::Recipient, text, address, PolicyReason::RelayDenied)
                }
            },
        };
        (checked, false)
    }

    /// Rcpt_ok (access.md §7.2).
    fn rcpt_ok(&self, client: &Client<'_>, rcpt: &Address, address: Option<&str>) -> RcptOk {
        let canon =
            if self.options.loose_relay_check { self.canon_addr(rcpt) } else { self.parse_recipient(rcpt) };
        let stop = |text, reason| RcptOk::Stop(replies::refuse(Stage::Recipient, text, address, reason));
        let canon = match canon {
            Ok(canon) => canon,
            Err(CanonError::UserRequired) => {
                return stop(&USER_ADDRESS_REQUIRED, PolicyReason::UserAddressRequired);
            }
            Err(CanonError::InvalidRoute) => return stop(&INVALID_ROUTE, PolicyReason::InvalidRoute),
            Err(CanonError::BadHost) => return stop(&INVALID_HOST, PolicyReason::InvalidRoute),
        };
        let mut quarantine = None;
        if self.options.blocklist_recipients {
            match self.blocklist(&canon, address) {
                Ok(Some(blocked)) if blocked.quarantine.is_some() => quarantine = blocked.quarantine,
                Ok(Some(blocked)) => return RcptOk::Stop(blocked),
                Ok(None) => {}
                Err(checked) => return RcptOk::Stop(checked),
            }
        }
        let with_quarantine = |checked: Checked| Checked { quarantine: quarantine.clone(), ..checked };
        if let Some(auth) = client.auth
            && self.is_trusted_mechanism(auth.mechanism)
        {
            let verdict = match self.destination(&canon) {
                Destination::Ours(_) => Verdict::Accept,
                _ => Verdict::Relay,
            };
            let reason = PolicyReason::TrustedAuth {
                user: auth.user.to_string(),
                mechanism: auth.mechanism.to_string(),
            };
            return RcptOk::Stop(with_quarantine(replies::rcpt_ok(verdict, reason)));
        }
        if quarantine.is_some() {
            // A `To:` QUARANTINE entry holds the message but, unlike
            // sendmail's `$#`, does not skip the relay decision.
            return match self.destination(&canon) {
                Destination::Ours(reason) => {
                    RcptOk::Stop(with_quarantine(replies::rcpt_ok(Verdict::Accept, reason)))
                }
                Destination::Temp(reply, reason) => RcptOk::Temp(reply, reason),
                Destination::Remote => RcptOk::Remote,
            };
        }
        match self.destination(&canon) {
            Destination::Ours(reason) => RcptOk::Ours(reason),
            Destination::Temp(reply, reason) => RcptOk::Temp(reply, reason),
            Destination::Remote => RcptOk::Remote,
        }
    }

    /// Rcpt_ok's own checks of the domain: local (class w, class m with
    /// relay_entire_domain), class R, a `To:` RELAY entry, unqualified.
    fn destination(&self, canon: &Canon) -> Destination {
        let remote_char = |c: char, rule: RoutingChar| rule == RoutingChar::Remote && canon.local.contains(c);
        if remote_char('!', self.options.bang_path) || remote_char('%', self.options.percent_hack) {
            return Destination::Remote;
        }
        let Some(domain) = &canon.domain else { return Destination::Ours(PolicyReason::Unqualified) };
        if let Some(name) = domain.as_name()
            && self.options.relay_entire_domain
            && self.in_class_m(name)
        {
            return Destination::Ours(PolicyReason::LocalRecipient);
        }
        if self.is_local_domain(domain) {
            return Destination::Ours(PolicyReason::LocalRecipient);
        }
        if let Some(name) = domain.as_name()
            && let Some(entry) =
                self.relay_domains.and_then(|r| r.domain_entry(name, self.options.relay_hosts_only))
        {
            return Destination::Ours(PolicyReason::RelayDomain(entry.to_string()));
        }
        let Some(access) = self.access else { return Destination::Remote };
        let text = access.domain_text(domain);
        let found = if self.options.relay_to_full_address {
            canon.to_address().map_or(Ok(None), |address| {
                let full =
                    access.search_address(&address, Tag::To, Mode::WithUntagged, Parts::FULL_AND_DOMAIN)?;
                match full {
                    Some(hit) => Ok(Some(hit)),
                    None => access.lookup_exact(
                        &format!("{}@", address.quoted_local_part()),
                        Tag::To,
                        Mode::WithUntagged,
                    ),
                }
            })
        } else if self.options.relay_hosts_only {
            access.lookup_exact(&text, Tag::To, Mode::WithUntagged)
        } else {
            access.lookup_domain(domain, Tag::To, Mode::WithUntagged)
        };
        match found {
            Ok(Some(hit)) if hit.value == AccessValue::Relay => Destination::Ours(access_reason(&hit)),
            Ok(_) => Destination::Remote,
            Err(error) => Destination::Temp(
                TEMPORARY_FAILURE.reply(None),
                PolicyReason::AccessUnavailable(error.to_string()),
            ),
        }
    }

    /// FEATURE(blocklist_recipients): `To:` lookups of the full address,
    /// the local part (local domains and unqualified recipients only) and
    /// the domain. `Ok(Some)` with a quarantine is not a refusal.
    fn blocklist(&self, canon: &Canon, address: Option<&str>) -> Result<Option<Checked>, Checked> {
        let Some(access) = self.access else { return Ok(None) };
        let Some(target) = canon.to_address() else { return Ok(None) };
        let local = canon.domain.as_ref().is_some_and(|d| self.is_local_domain(d));
        let parts = if local { Parts::ALL } else { Parts::FULL_AND_DOMAIN };
        let hit = match access.search_address(&target, Tag::To, Mode::WithUntagged, parts) {
            Ok(Some(hit)) => hit,
            Ok(None) => return Ok(None),
            Err(error) => {
                let reason = PolicyReason::AccessUnavailable(error.to_string());
                return Err(replies::refuse(Stage::Recipient, &TEMPORARY_FAILURE, address, reason));
            }
        };
        let reason = access_reason(&hit);
        let checked = match &hit.value {
            AccessValue::Ok | AccessValue::Relay | AccessValue::Skip => return Ok(None),
            AccessValue::Reject => replies::refuse(Stage::Recipient, &MAILBOX_DISABLED, address, reason),
            AccessValue::Discard => replies::rcpt_ok(Verdict::Discard, reason),
            AccessValue::Quarantine(_) => Checked {
                quarantine: hit.value.quarantine_reason(),
                ..replies::rcpt_ok(Verdict::Accept, reason)
            },
            other => {
                let reply = replies::access_error(other, address).expect("error values make replies");
                replies::refusal(Stage::Recipient, reply, reason)
            }
        };
        Ok(Some(checked))
    }

    fn is_trusted_mechanism(&self, mechanism: &str) -> bool {
        self.options.trust_auth_mechs.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(mechanism))
    }

    /// Relay_ok (access.md §7.3): may this client relay?
    fn relay_ok(&self, client: &Client<'_>, mail: &Mail<'_>, address: Option<&str>) -> RelayOk {
        let Some(addr) = client.addr else { return RelayOk::Relay(PolicyReason::LocalSubmission) };
        let canonical = addr.to_canonical();
        let is_loopback = match canonical {
            std::net::IpAddr::V4(v4) => v4.octets() == [127, 0, 0, 1],
            std::net::IpAddr::V6(v6) => v6.is_loopback(),
        };
        if is_loopback {
            return RelayOk::Relay(PolicyReason::Loopback);
        }
        let text = crate::client_addr_text(addr, self.compressed_ipv6());
        if let Some(entry) = self.relay_domains.and_then(|r| r.addr_entry(&text)) {
            return RelayOk::Relay(PolicyReason::RelayClientAddr(entry.to_string()));
        }
        if let Some(access) = self.access {
            match access.lookup_client_addr(addr, Tag::Connect, Mode::WithUntagged) {
                Ok(Some(hit)) if hit.value == AccessValue::Relay => {
                    return RelayOk::Relay(access_reason(&hit));
                }
                Ok(_) => {}
                Err(error) => return temp_failure(error),
            }
        }
        if self.local.contains_addr(canonical) {
            return RelayOk::Relay(PolicyReason::LocalClientAddr);
        }
        match self.relay_from(mail) {
            Ok(true) => return RelayOk::Relay(PolicyReason::RelayFrom),
            Ok(false) => {}
            Err(error) => return temp_failure(error),
        }
        let name = client.name_or_literal(self.compressed_ipv6()).unwrap_or_default();
        match client.resolve {
            ClientResolve::Ok => {}
            ClientResolve::Temp => {
                return RelayOk::Final(
                    replies::relay_ptr_tempfail(&text, address),
                    PolicyReason::RelayPtrTempFail,
                );
            }
            ClientResolve::Forged => {
                return RelayOk::Final(
                    replies::relay_ptr_forged(&name, address),
                    PolicyReason::RelayPtrForged,
                );
            }
            ClientResolve::Fail => {
                return RelayOk::Final(
                    replies::relay_ptr_missing(&name, address),
                    PolicyReason::RelayPtrMissing,
                );
            }
        }
        self.relay_by_name(name.trim_end_matches('.'))
    }

    /// Relay_ok's last step: the client's (verified) name.
    fn relay_by_name(&self, name: &str) -> RelayOk {
        if name.is_empty() {
            return RelayOk::Nothing;
        }
        if self.options.relay_entire_domain && self.in_class_m(name) {
            return RelayOk::Relay(PolicyReason::RelayClientName(
                self.class_m().unwrap_or_default().to_string(),
            ));
        }
        if self.local.contains_name(name) {
            return RelayOk::Relay(PolicyReason::LocalClientName);
        }
        if let Some(entry) =
            self.relay_domains.and_then(|r| r.domain_entry(name, self.options.relay_hosts_only))
        {
            return RelayOk::Relay(PolicyReason::RelayClientName(entry.to_string()));
        }
        let Some(access) = self.access else { return RelayOk::Nothing };
        let found = if self.options.relay_hosts_only {
            access.lookup_exact(name, Tag::Connect, Mode::WithUntagged)
        } else {
            access.lookup_host(name, Tag::Connect, Mode::WithUntagged)
        };
        match found {
            Ok(Some(hit)) if hit.value == AccessValue::Relay => RelayOk::Relay(access_reason(&hit)),
            Ok(_) => RelayOk::Nothing,
            Err(error) => temp_failure(error),
        }
    }

    /// relay_local_from and relay_mail_from: whether the sender may relay.
    fn relay_from(&self, mail: &Mail<'_>) -> Result<bool, smarthost_maps::Error> {
        let Some(sender) = mail.sender.address() else { return Ok(false) };
        let Ok(canon) = self.canon_addr(sender) else { return Ok(false) };
        if self.options.relay_local_from && canon.domain.as_ref().is_some_and(|d| self.is_local_domain(d)) {
            return Ok(true);
        }
        let (Some(access), Some(domain), Some(address)) = (self.access, &canon.domain, canon.to_address())
        else {
            return Ok(false);
        };
        let parts = match self.options.relay_mail_from {
            super::RelayMailFrom::Off => return Ok(false),
            super::RelayMailFrom::Address => Parts { full: true, user: false, domain: false },
            super::RelayMailFrom::Domain if self.options.relay_hosts_only => {
                let full = access.search_address(
                    &address,
                    Tag::From,
                    Mode::TagOnly,
                    Parts { full: true, user: false, domain: false },
                )?;
                let hit = match full {
                    Some(hit) => Some(hit),
                    None => access.lookup_exact(&access.domain_text(domain), Tag::From, Mode::TagOnly)?,
                };
                return Ok(hit.is_some_and(|h| h.value == AccessValue::Relay));
            }
            super::RelayMailFrom::Domain => Parts::FULL_AND_DOMAIN,
        };
        let hit = access.search_address(&address, Tag::From, Mode::TagOnly, parts)?;
        Ok(hit.is_some_and(|h| h.value == AccessValue::Relay))
    }

    /// The `Spam:` entry of a recipient (tag only): full address, domain,
    /// and for local domains the local part; unqualified recipients are
    /// qualified with this host's name.
    fn spam_tag(&self, rcpt: &ForwardPath) -> Option<AccessValue<'static>> {
        let access = self.access?;
        let address = match rcpt {
            ForwardPath::Address(address) => self.canon_addr(address).ok()?,
            ForwardPath::Postmaster => Canon { local: "postmaster".into(), domain: None },
        };
        let address = match address.domain {
            Some(_) => address,
            None => Canon {
                domain: crate::Domain::parse(&self.options.hostname, crate::ParseOptions::default()).ok(),
                ..address
            },
        };
        let target = address.to_address()?;
        let local = address.domain.as_ref().is_some_and(|d| self.is_local_domain(d));
        let domain = target.domain()?;
        // sendmail's order here is F, D, then U.
        let full = access.search_address(
            &target,
            Tag::Spam,
            Mode::TagOnly,
            Parts { full: true, user: false, domain: false },
        );
        let hit = match full.ok()? {
            Some(hit) => Some(hit),
            None => {
                match access.lookup_domain(domain, Tag::Spam, Mode::TagOnly).ok()?.filter(|h| !h.is_skip()) {
                    Some(hit) => Some(hit),
                    None if local => access
                        .search_address(
                            &target,
                            Tag::Spam,
                            Mode::TagOnly,
                            Parts { full: false, user: true, domain: false },
                        )
                        .ok()?,
                    None => None,
                }
            }
        }?;
        match hit.value {
            AccessValue::Friend => Some(AccessValue::Friend),
            AccessValue::Hater => Some(AccessValue::Hater),
            _ => Some(AccessValue::Other("".into())),
        }
    }
}

fn temp_failure(error: smarthost_maps::Error) -> RelayOk {
    RelayOk::Final(TEMPORARY_FAILURE.reply(None), PolicyReason::AccessUnavailable(error.to_string()))
}
