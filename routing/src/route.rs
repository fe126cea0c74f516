//! Where a recipient goes: local names, then the mailertable, then the smart
//! host, then MX (spec mailertable.md §2 and §8).

use std::fmt;
use std::sync::Arc;

use crate::mailertable::{Mailertable, Probe, TableError, TableMatch};
use crate::rhs::{ErrorReply, RhsError, RhsOptions, TableRoute, parse_rhs};
use crate::{Address, Domain, ForwardPath, Host, HostSpec, LocalNames, Mailer, Mailers};

/// The routing configuration for one message: borrow it from the relay's
/// current maps and settings, route every recipient, drop it.
///
/// ```
/// use smarthost_maps::{SourceOptions, TextMap};
/// use smarthost_routing::{Address, LocalNames, Mailers, Mailertable, MailertableOptions, ParseOptions, Router, SmartHost};
///
/// let (table, _) = TextMap::from_source(b".lan esmtp:[%1.lan]\n", &SourceOptions::default());
/// let local = LocalNames::new("gw.example.net");
/// let mailers = Mailers::standard();
/// let smart_host = SmartHost::parse("[smtp.isp.example]")?;
/// let router = Router::new(&local, &mailers)
///     .mailertable(Mailertable::new(&table, MailertableOptions::default()))
///     .smart_host(&smart_host);
///
/// let to = |a| Address::parse(a, ParseOptions::default()).unwrap();
/// assert_eq!(router.route(&to("bob@printer.lan"))?.to_string(), "mailer esmtp, host [printer.lan], user bob@printer.lan");
/// assert_eq!(router.route(&to("carol@example.org"))?.to_string(), "mailer relay, host [smtp.isp.example], user carol@example.org");
/// assert_eq!(router.route(&to("root@gw.example.net"))?.to_string(), "mailer local, user root");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct Router<'c> {
    local: &'c LocalNames,
    mailers: &'c Mailers,
    mailertable: Option<Mailertable<'c>>,
    smart_host: Option<&'c SmartHost>,
    relay_mailer: &'c str,
    default_mailer: &'c str,
}

/// `SMART_HOST`: `[mailer:]host-list`, e.g. `relay:[smtp.isp.example]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmartHost {
    /// The mailer, when the specification names one.
    pub mailer: Option<String>,
    /// The hosts.
    pub hosts: Arc<[HostSpec]>,
    /// The host part as written.
    pub host_text: Arc<str>,
}

impl SmartHost {
    /// Parses `[mailer:]hosts` as sendmail's `SMART_HOST` takes it.
    pub fn parse(spec: &str) -> Result<Self, RhsError> {
        Self::parse_with(spec, RhsOptions::default())
    }

    /// Like [`SmartHost::parse`], with the ports extension when asked.
    pub fn parse_with(spec: &str, options: RhsOptions) -> Result<Self, RhsError> {
        let spec = spec.trim();
        let (mailer, value) = match crate::rhs::has_mailer(spec) {
            true => (spec.split_once(':').map(|(m, _)| m.to_ascii_lowercase()), spec.to_string()),
            false => (None, format!("relay:{spec}")),
        };
        match parse_rhs(&value, options)? {
            TableRoute::Deliver { hosts, host_text, recipient: None, .. } => {
                Ok(Self { mailer, hosts, host_text })
            }
            _ => Err(RhsError::NoHost(spec.to_string())),
        }
    }
}

/// A routing decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// What to do.
    pub decision: Decision,
    /// Which rule decided.
    pub via: Via,
}

/// What to do with a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Deliver over SMTP.
    Deliver {
        /// The mailer, with its port and TLS and AUTH policies.
        mailer: Arc<Mailer>,
        /// The host list, before DNS.
        hosts: Arc<[HostSpec]>,
        /// The host part as the route names it (sendmail's `/parse` host).
        host_text: Arc<str>,
        /// The address to give in `RCPT TO` (rewritten by `mailer:user@host`).
        recipient: String,
    },
    /// Deliver locally.
    Local {
        /// The local user.
        user: String,
    },
    /// Refuse the recipient with this reply.
    Error(ErrorReply),
}

/// The rule that decided, for logs and `--explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// `<postmaster>` or an unqualified address.
    Unqualified,
    /// The domain is one of this host's names or addresses (class w).
    LocalName,
    /// A domain literal, sent to the smart host.
    LiteralToSmartHost,
    /// A domain literal, sent directly.
    Literal,
    /// A mailertable entry.
    Mailertable(TableEntry),
    /// The smart host.
    SmartHost,
    /// The default: the domain's MX records.
    Mx,
}

/// The mailertable entry that decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    /// The key that matched.
    pub key: String,
    /// The value as stored.
    pub value: Arc<str>,
    /// The value after `%` interpolation.
    pub expanded: Arc<str>,
}

impl<'c> Router<'c> {
    /// A router with no mailertable and no smart host: local names, then MX.
    pub fn new(local: &'c LocalNames, mailers: &'c Mailers) -> Self {
        Self {
            local,
            mailers,
            mailertable: None,
            smart_host: None,
            relay_mailer: "relay",
            default_mailer: "esmtp",
        }
    }

    /// Consults this mailertable after the local names.
    pub fn mailertable(mut self, table: Mailertable<'c>) -> Self {
        self.mailertable = Some(table);
        self
    }

    /// Sends what the mailertable does not match to this smart host.
    pub fn smart_host(mut self, smart_host: &'c SmartHost) -> Self {
        self.smart_host = Some(smart_host);
        self
    }

    /// The smart host's mailer when its specification names none
    /// (sendmail's `confRELAY_MAILER`, default `relay`).
    pub fn relay_mailer(mut self, name: &'c str) -> Self {
        self.relay_mailer = name;
        self
    }

    /// Routes a recipient of `RCPT TO`.
    pub fn route_path(&self, path: &ForwardPath) -> Result<Route, TableError> {
        match path {
            ForwardPath::Postmaster => {
                Ok(Route { decision: Decision::Local { user: "postmaster".into() }, via: Via::Unqualified })
            }
            ForwardPath::Address(address) => self.route(address),
        }
    }

    /// Routes a recipient.
    pub fn route(&self, address: &Address) -> Result<Route, TableError> {
        self.route_inner(address, None)
    }

    /// Routes a recipient and records every mailertable key tried.
    pub fn route_explained(&self, address: &Address, probes: &mut Vec<Probe>) -> Result<Route, TableError> {
        self.route_inner(address, Some(probes))
    }

    fn route_inner(&self, address: &Address, probes: Option<&mut Vec<Probe>>) -> Result<Route, TableError> {
        let local_user = || Decision::Local { user: address.local_part().to_string() };
        let Some(domain) = address.domain() else {
            return Ok(Route { decision: local_user(), via: Via::Unqualified });
        };
        let name = match domain {
            Domain::Ipv4(addr) => return Ok(self.literal(address, std::net::IpAddr::V4(*addr))),
            Domain::Ipv6(addr) => return Ok(self.literal(address, std::net::IpAddr::V6(*addr))),
            Domain::Name(name) => name,
        };
        if self.local.contains_name(name) {
            return Ok(Route { decision: local_user(), via: Via::LocalName });
        }
        if let Some(table) = &self.mailertable
            && let Some(found) = table.lookup(address.local_part(), name, probes)?
        {
            let TableMatch { key, value, expanded, route } = found;
            let decision = self.table_decision(address, route);
            return Ok(Route { decision, via: Via::Mailertable(TableEntry { key, value, expanded }) });
        }
        if let Some(smart_host) = self.smart_host {
            let mailer = smart_host.mailer.as_deref().unwrap_or(self.relay_mailer);
            let decision = self.deliver(
                mailer,
                smart_host.hosts.clone(),
                smart_host.host_text.clone(),
                address.to_string(),
            );
            return Ok(Route { decision, via: Via::SmartHost });
        }
        let hosts: Arc<[HostSpec]> =
            Arc::new([HostSpec { host: Host::Name(name.clone()), mx: true, port: None, group: 0 }]);
        let decision = self.deliver(self.default_mailer, hosts, name.as_str().into(), address.to_string());
        Ok(Route { decision, via: Via::Mx })
    }

    /// Domain literals skip the mailertable (§1): local if the address is
    /// this host's, else the smart host with the default SMTP mailer, else
    /// the literal itself.
    fn literal(&self, address: &Address, addr: std::net::IpAddr) -> Route {
        if self.local.contains_addr(addr) {
            let user = address.local_part().to_string();
            return Route { decision: Decision::Local { user }, via: Via::LocalName };
        }
        let recipient = address.to_string();
        if let Some(smart_host) = self.smart_host {
            let mailer = smart_host.mailer.as_deref().unwrap_or(self.default_mailer);
            let decision =
                self.deliver(mailer, smart_host.hosts.clone(), smart_host.host_text.clone(), recipient);
            return Route { decision, via: Via::LiteralToSmartHost };
        }
        let spec = HostSpec { host: Host::Ip(addr), mx: false, port: None, group: 0 };
        let host_text: Arc<str> = spec.to_string().into();
        Route {
            decision: self.deliver(self.default_mailer, Arc::new([spec]), host_text, recipient),
            via: Via::Literal,
        }
    }

    fn table_decision(&self, address: &Address, route: TableRoute) -> Decision {
        match route {
            TableRoute::Deliver { mailer, hosts, recipient, host_text } => {
                let recipient = recipient.map_or_else(|| address.to_string(), |r| r.to_string());
                self.deliver(&mailer, hosts, host_text, recipient)
            }
            TableRoute::Local { user } => {
                Decision::Local { user: user.unwrap_or_else(|| address.local_part().to_string()) }
            }
            TableRoute::Error(reply) => Decision::Error(reply),
        }
    }

    fn deliver(
        &self,
        mailer: &str,
        hosts: Arc<[HostSpec]>,
        host_text: Arc<str>,
        recipient: String,
    ) -> Decision {
        match self.mailers.shared(mailer) {
            Some(found) => Decision::Deliver { mailer: Arc::clone(found), hosts, host_text, recipient },
            None => Decision::Error(ErrorReply {
                code: 554,
                enhanced: "5.3.5".into(),
                text: format!("buildaddr: unknown mailer {mailer}"),
                status: None,
            }),
        }
    }
}

impl Route {
    /// The four columns of sendmail's `/parse` result: mailer, host, user.
    /// For the error mailer: `*error*`, the status, the reply.
    pub fn columns(&self) -> [String; 3] {
        match &self.decision {
            Decision::Deliver { mailer, host_text, recipient, .. } => {
                [mailer.name.clone(), host_text.to_string(), recipient.clone()]
            }
            Decision::Local { user } => ["local".into(), String::new(), user.clone()],
            Decision::Error(reply) => [
                "*error*".into(),
                reply.status.clone().unwrap_or_else(|| reply.enhanced.clone()),
                format!("{} {} {}", reply.code, reply.enhanced, reply.text),
            ],
        }
    }
}

impl fmt::Display for Route {
    /// sendmail's words: `mailer esmtp, host relayhost.somedom.com, user foo@somedom.com`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.decision {
            Decision::Deliver { mailer, host_text, recipient, .. } => {
                write!(f, "mailer {}, host {host_text}, user {recipient}", mailer.name)
            }
            Decision::Local { user } => write!(f, "mailer local, user {user}"),
            Decision::Error(reply) => {
                write!(f, "mailer *error*, reply {} {} {}", reply.code, reply.enhanced, reply.text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;

    fn address(text: &str) -> Address {
        Address::parse(text, ParseOptions::default()).unwrap()
    }

    #[test]
    fn literals_skip_the_table_and_follow_sendmails_exceptions() {
        let mut local = LocalNames::new("gw.example.net");
        local.add_address("192.0.2.1".parse().unwrap());
        let mailers = Mailers::standard();
        let router = Router::new(&local, &mailers);
        assert_eq!(
            router.route(&address("u@[192.0.2.7]")).unwrap().to_string(),
            "mailer esmtp, host [192.0.2.7], user u@[192.0.2.7]"
        );
        assert_eq!(router.route(&address("u@[IPv6:2001:db8::7]")).unwrap().via, Via::Literal);
        let ours = router.route(&address("root@[192.0.2.1]")).unwrap();
        assert_eq!((ours.to_string(), ours.via), ("mailer local, user root".to_string(), Via::LocalName));

        // A smart host that names its mailer keeps it for literals too.
        let smart_host = SmartHost::parse("smtp8:[hub.example.net]").unwrap();
        let router = router.smart_host(&smart_host);
        let route = router.route(&address("u@[192.0.2.7]")).unwrap();
        assert_eq!(
            (route.to_string(), route.via),
            ("mailer smtp8, host [hub.example.net], user u@[192.0.2.7]".to_string(), Via::LiteralToSmartHost)
        );
        assert_eq!(router.route(&address("u@example.org")).unwrap().via, Via::SmartHost);
    }

    #[test]
    fn postmaster_and_unqualified_addresses_are_local() {
        let local = LocalNames::new("gw.example.net");
        let mailers = Mailers::standard();
        let router = Router::new(&local, &mailers);
        let route = router.route_path(&ForwardPath::Postmaster).unwrap();
        assert_eq!(route.columns(), ["local".to_string(), String::new(), "postmaster".to_string()]);
        assert_eq!(router.route(&address("alice")).unwrap().via, Via::Unqualified);
        assert_eq!(router.route(&address("alice@example.org")).unwrap().via, Via::Mx);
    }

    #[test]
    fn the_relay_mailer_can_be_renamed_and_an_unknown_one_is_an_error() {
        let local = LocalNames::new("gw.example.net");
        let mailers = Mailers::standard();
        let smart_host = SmartHost::parse("[smtp.isp.example]").unwrap();
        let router = Router::new(&local, &mailers).smart_host(&smart_host).relay_mailer("submission");
        let route = router.route(&address("u@example.org")).unwrap();
        let Decision::Deliver { mailer, .. } = &route.decision else { panic!("{route}") };
        assert_eq!(mailer.port, 587);
        let router = router.relay_mailer("nosuch");
        assert_eq!(
            router.route(&address("u@example.org")).unwrap().columns()[2],
            "554 5.3.5 buildaddr: unknown mailer nosuch"
        );
    }
}
