//! [`Resolver`] over hickory-resolver and tokio (cargo feature `hickory`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{ResolverBuilder, TokioResolver};

use super::{BoxFuture, DnsError, Mx, Resolver, merge_ip_answers};

/// A [`Resolver`] that asks real name servers, through hickory-resolver on
/// the tokio runtime. Lookups must run inside a tokio runtime.
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

/// The resolver could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the DNS resolver: {reason}")]
pub struct HickorySetupError {
    reason: String,
}

impl HickoryResolver {
    /// Uses the system's name servers and options (`/etc/resolv.conf`).
    pub fn from_system_conf() -> Result<Self, HickorySetupError> {
        let builder = TokioResolver::builder_tokio().map_err(|e| HickorySetupError {
            reason: format!("/etc/resolv.conf: {e}; check that it lists a `nameserver`"),
        })?;
        Self::build(builder)
    }

    /// Uses exactly these name servers (UDP, then TCP for truncated
    /// answers), no search domains and no hosts file; each query is given up
    /// after `timeout` and tried twice.
    pub fn with_name_servers(servers: &[SocketAddr], timeout: Duration) -> Result<Self, HickorySetupError> {
        if servers.is_empty() {
            return Err(HickorySetupError {
                reason: "no name servers given; pass at least one address".to_owned(),
            });
        }
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut udp = ConnectionConfig::udp();
                udp.port = server.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = server.port();
                NameServerConfig::new(server.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let mut options = ResolverOpts::default();
        options.timeout = timeout;
        options.attempts = 2;
        options.use_hosts_file = ResolveHosts::Never;
        let builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default()).with_options(options);
        Self::build(builder)
    }

    fn build(builder: ResolverBuilder<TokioRuntimeProvider>) -> Result<Self, HickorySetupError> {
        let inner = builder.build().map_err(|e| HickorySetupError { reason: e.to_string() })?;
        Ok(HickoryResolver { inner })
    }

    /// The PTR names of `addr` (for the reverse-DNS requirement; feed the
    /// answer to [`identify_client`](crate::identify_client)).
    pub async fn ptr(&self, addr: IpAddr) -> Result<Vec<String>, DnsError> {
        let name = Name::from(addr);
        let lookup = self.inner.lookup(name, RecordType::PTR).await.map_err(map_error)?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::PTR(ptr) => Some(ptr.0.to_ascii()),
                _ => None,
            })
            .collect())
    }

    async fn lookup_mx(&self, name: &str) -> Result<Vec<Mx>, DnsError> {
        let lookup = self.inner.lookup(parse_name(name)?, RecordType::MX).await.map_err(map_error)?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some(Mx { preference: mx.preference, exchange: mx.exchange.to_ascii() }),
                _ => None,
            })
            .collect())
    }

    async fn lookup_addrs(&self, name: &str, kind: RecordType) -> Result<Vec<IpAddr>, DnsError> {
        let lookup = self.inner.lookup(parse_name(name)?, kind).await.map_err(map_error)?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect())
    }
}

impl Resolver for HickoryResolver {
    fn mx<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Mx>, DnsError>> {
        Box::pin(self.lookup_mx(name))
    }

    fn ip<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(async move {
            let (a, aaaa) = tokio::join!(
                self.lookup_addrs(name, RecordType::A),
                self.lookup_addrs(name, RecordType::AAAA)
            );
            merge_ip_answers(a, aaaa)
        })
    }
}

impl fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HickoryResolver").finish_non_exhaustive()
    }
}

/// A name that is not a valid DNS name cannot exist.
fn parse_name(name: &str) -> Result<Name, DnsError> {
    Name::from_utf8(name).map_err(|_| DnsError::NoSuchDomain)
}

/// NXDOMAIN and NODATA are answers; every other failure may pass.
fn map_error(error: NetError) -> DnsError {
    match error {
        NetError::Dns(HickoryDnsError::NoRecordsFound(no_records)) => {
            if no_records.response_code == ResponseCode::NXDomain {
                DnsError::NoSuchDomain
            } else {
                DnsError::NoRecords
            }
        }
        NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::NXDomain)) => DnsError::NoSuchDomain,
        NetError::Dns(HickoryDnsError::ResponseCode(code)) => DnsError::Temporary(code.to_string()),
        NetError::Timeout => DnsError::Temporary("timeout".to_owned()),
        other => DnsError::Temporary(other.to_string()),
    }
}
