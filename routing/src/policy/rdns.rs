//! The client's name from reverse DNS, judged as sendmail judges it
//! (`{client_name}`, `{client_resolve}`), without doing IO itself.

use std::net::IpAddr;

use crate::{DnsError, Resolver};

/// How the client's name was found (sendmail's `{client_resolve}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClientResolve {
    /// The PTR name resolves back to the address.
    #[default]
    Ok,
    /// No PTR record (NXDOMAIN or no data): the client has no name.
    Fail,
    /// A PTR name that does not resolve back to the address.
    Forged,
    /// The PTR lookup (or the forward lookup) failed for now.
    Temp,
}

impl ClientResolve {
    /// `OK`, `FAIL`, `FORGED` or `TEMP`, as sendmail's macro holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Fail => "FAIL",
            Self::Forged => "FORGED",
            Self::Temp => "TEMP",
        }
    }
}

impl std::str::FromStr for ClientResolve {
    type Err = String;

    /// `ok`, `fail`, `forged` or `temp`, in any case.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "ok" => Ok(Self::Ok),
            "fail" => Ok(Self::Fail),
            "forged" => Ok(Self::Forged),
            "temp" => Ok(Self::Temp),
            _ => Err(format!("`{text}` is not a resolve status: expected ok, fail, forged or temp")),
        }
    }
}

/// The client's name and how it was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientIdentity {
    /// The PTR name (kept for a forged one, as sendmail keeps it), without
    /// its trailing dot; `None` without a PTR record.
    pub name: Option<String>,
    /// The resolve status.
    pub resolve: ClientResolve,
}

impl ClientIdentity {
    /// Judges the answers: `ptr` for the client's address, and `forward`
    /// for the first PTR name's addresses (ignored without a PTR name).
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use smarthost_routing::{ClientIdentity, ClientResolve, DnsError};
    /// let addr: IpAddr = "192.0.2.7".parse().unwrap();
    /// let names = vec!["mail.example.com.".to_string()];
    /// let good = ClientIdentity::from_answers(addr, Ok(&names), Some(Ok(&[addr][..])));
    /// assert_eq!((good.name.as_deref(), good.resolve), (Some("mail.example.com"), ClientResolve::Ok));
    /// let none = ClientIdentity::from_answers(addr, Err(&DnsError::NoSuchDomain), None);
    /// assert_eq!((none.name, none.resolve), (None, ClientResolve::Fail));
    /// let timeout = ClientIdentity::from_answers(addr, Err(&DnsError::Temporary("timed out".into())), None);
    /// assert_eq!(timeout.resolve, ClientResolve::Temp);
    /// ```
    pub fn from_answers(
        addr: IpAddr,
        ptr: Result<&[String], &DnsError>,
        forward: Option<Result<&[IpAddr], &DnsError>>,
    ) -> Self {
        let name = match ptr {
            Ok(names) => names.first().map(|n| n.trim_end_matches('.').to_string()).filter(|n| !n.is_empty()),
            Err(DnsError::Temporary(_)) => return Self { name: None, resolve: ClientResolve::Temp },
            Err(_) => None,
        };
        let Some(name) = name else { return Self { name: None, resolve: ClientResolve::Fail } };
        let addr = addr.to_canonical();
        let resolve = match forward {
            Some(Ok(addrs)) if addrs.iter().any(|a| a.to_canonical() == addr) => ClientResolve::Ok,
            Some(Err(DnsError::Temporary(_))) | None => ClientResolve::Temp,
            Some(_) => ClientResolve::Forged,
        };
        Self { name: Some(name), resolve }
    }
}

/// Judges the PTR answer for `addr` (the caller's lookup), asking the
/// forward question for the first PTR name through `resolver`.
pub async fn identify_client(
    resolver: &dyn Resolver,
    addr: IpAddr,
    ptr: Result<Vec<String>, DnsError>,
) -> ClientIdentity {
    let names = match &ptr {
        Ok(names) => names.as_slice(),
        Err(error) => return ClientIdentity::from_answers(addr, Err(error), None),
    };
    let Some(first) = names.first() else { return ClientIdentity::from_answers(addr, Ok(names), None) };
    let forward = resolver.ip(first).await;
    ClientIdentity::from_answers(addr, Ok(names), Some(forward.as_deref()))
}
