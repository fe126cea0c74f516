//! Hosts as a route names them, before DNS.

use std::fmt;
use std::net::IpAddr;

/// One element of a route's host list: `host`, `[host]`, `[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`, and with the ports extension `[host]:2525`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostSpec {
    /// The name or address.
    pub host: Host,
    /// Whether MX records are looked up (false when the host was bracketed).
    pub mx: bool,
    /// A port given in the route (\[EXT\] ports mode only); otherwise the
    /// mailer's port applies.
    pub port: Option<u16>,
    /// The preference group: hosts separated by `:` get successively worse
    /// groups (0, 1, 2, ...); hosts separated by `,` share one.
    pub group: u16,
}

/// A host name or an address literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, as written (case kept; a trailing dot means absolute).
    Name(String),
    /// An address literal.
    Ip(IpAddr),
}

impl fmt::Display for HostSpec {
    /// The host as sendmail writes it: `name`, `[name]`, `[192.0.2.1]`,
    /// `[IPv6:2001:db8::1]`, with `:port` when a port was given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.mx) {
            (Host::Name(name), true) => f.write_str(name)?,
            (Host::Name(name), false) => write!(f, "[{name}]")?,
            (Host::Ip(IpAddr::V4(addr)), _) => write!(f, "[{addr}]")?,
            (Host::Ip(IpAddr::V6(addr)), _) => write!(f, "[IPv6:{addr}]")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}
