//! The connection check (check_relay, access.md §5) and the reverse-DNS
//! requirement.

use std::net::IpAddr;

use crate::{AccessHit, AccessValue, Mode, Tag};

use super::replies::{self, ACCESS_DENIED, TEMPORARY_FAILURE};
use super::{Checked, Client, ClientResolve, Policy, PolicyReason, Stage, Verdict};

impl Policy<'_> {
    /// check_relay; `address` is the recipient whose RCPT it answers under
    /// delay_checks (for the `<address>... ` prefix).
    pub(crate) fn connect_checks(&self, client: &Client<'_>, address: Option<&str>) -> Checked {
        let Some(addr) = client.addr else {
            return replies::connect_ok(PolicyReason::LocalSubmission);
        };
        if let Some(access) = self.access {
            let by_name = match client.name {
                Some("") => Ok(None),
                Some(name) => access.lookup_host(name, Tag::Connect, Mode::WithUntagged),
                None => access.lookup_bracketed_addr(addr, Tag::Connect, Mode::WithUntagged),
            };
            let found = by_name.and_then(|hit| match hit {
                Some(hit) if !hit.is_skip() => Ok(Some(hit)),
                _ => access.lookup_client_addr(addr, Tag::Connect, Mode::WithUntagged),
            });
            match found {
                Err(error) => {
                    return replies::refuse(
                        Stage::Connect,
                        &TEMPORARY_FAILURE,
                        address,
                        PolicyReason::AccessUnavailable(error.to_string()),
                    );
                }
                Ok(Some(hit)) if !hit.is_skip() => return self.access_decides(Stage::Connect, &hit, address),
                Ok(_) => {}
            }
        }
        if let Some(require) = self.options.require_rdns
            && let Some(refused) = self.rdns_requirement(client, addr, require.forward_confirm, address)
        {
            return refused;
        }
        replies::connect_ok(PolicyReason::NoObjection)
    }

    /// What an access entry found for a client or sender decides (the
    /// shared tail of check_relay and check_mail).
    pub(crate) fn access_decides(&self, stage: Stage, hit: &AccessHit<'_>, address: Option<&str>) -> Checked {
        let reason = access_reason(hit);
        match &hit.value {
            AccessValue::Ok | AccessValue::Relay | AccessValue::Skip => {
                replies::stage_ok(stage, Verdict::Accept, reason)
            }
            AccessValue::Reject => replies::refuse(stage, &ACCESS_DENIED, address, reason),
            AccessValue::Discard => replies::stage_ok(stage, Verdict::Discard, reason),
            AccessValue::Quarantine(_) => Checked {
                quarantine: hit.value.quarantine_reason(),
                ..replies::stage_ok(stage, Verdict::Accept, reason)
            },
            other => {
                let reply = replies::access_error(other, address).expect("error values make replies");
                replies::refusal(stage, reply, reason)
            }
        }
    }

    /// The listener's reverse-DNS requirement; `None` when the client passes.
    fn rdns_requirement(
        &self,
        client: &Client<'_>,
        addr: IpAddr,
        forward_confirm: bool,
        address: Option<&str>,
    ) -> Option<Checked> {
        let text = crate::client_addr_text(addr, self.compressed_ipv6());
        // sendmail's require_rdns exempts class R addresses; localhost and
        // this host's own addresses are exempt too.
        let canonical = addr.to_canonical();
        if canonical.is_loopback()
            || self.local.contains_addr(canonical)
            || self.relay_domains.is_some_and(|r| r.addr_entry(&text).is_some())
        {
            return None;
        }
        let shown = canonical.to_string();
        let (reply, reason) = match client.resolve {
            ClientResolve::Ok => return None,
            ClientResolve::Forged if !forward_confirm => return None,
            ClientResolve::Forged => {
                let name = client.name.unwrap_or("(none)");
                (replies::rdns_forged(&shown, name, address), PolicyReason::RdnsForged)
            }
            ClientResolve::Fail => (replies::rdns_missing(&shown, address), PolicyReason::RdnsMissing),
            ClientResolve::Temp => (replies::rdns_tempfail(&shown, address), PolicyReason::RdnsTempFail),
        };
        Some(replies::refusal(Stage::Connect, reply, reason))
    }
}

pub(crate) fn access_reason(hit: &AccessHit<'_>) -> PolicyReason {
    PolicyReason::Access { key: hit.key.clone(), value: String::from_utf8_lossy(hit.raw).trim().to_string() }
}
