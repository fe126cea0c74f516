//! The real `HickoryResolver` against a real DNS server: hickory-server,
//! run in-process on an ephemeral UDP and TCP port on 127.0.0.1 and serving
//! an in-memory test zone.
#![cfg(feature = "hickory")]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, AAAA, MX, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

use smarthost_routing::{
    DnsError, HickoryResolver, Host, HostSpec, LocalNames, NextHop, Resolver, resolve_next_hops,
};

const ORIGIN: &str = "test.example.";

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("test names are valid")
}

fn zone_records() -> Vec<Record> {
    let soa = SOA::new(name("ns.test.example."), name("hostmaster.test.example."), 1, 3600, 600, 86_400, 60);
    let rr = |owner: &str, data: RData| Record::from_rdata(name(owner), 60, data);
    vec![
        rr(ORIGIN, RData::SOA(soa)),
        rr("mail.test.example.", RData::MX(MX::new(20, name("mx2.test.example.")))),
        rr("mail.test.example.", RData::MX(MX::new(10, name("mx1.test.example.")))),
        rr("mx1.test.example.", RData::A(A("192.0.2.1".parse().unwrap()))),
        rr("mx2.test.example.", RData::A(A("192.0.2.2".parse().unwrap()))),
        rr("mx2.test.example.", RData::AAAA(AAAA("2001:db8::2".parse().unwrap()))),
        rr("plain.test.example.", RData::A(A("192.0.2.50".parse().unwrap()))),
        rr("nomail.test.example.", RData::MX(MX::new(0, Name::root()))),
    ]
}

/// Starts the server; it runs until the test's runtime ends.
async fn start_server() -> SocketAddr {
    let handler = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
        name(ORIGIN),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let mut handler = handler;
    for record in zone_records() {
        assert!(handler.upsert_mut(record, 1), "record accepted");
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&name(ORIGIN)), vec![Arc::new(handler)]);

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    // TCP on the same port when it is free; the resolver only needs UDP for
    // these small answers.
    let tcp = TcpListener::bind(addr).await.ok();
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    if let Some(tcp) = tcp {
        server.register_listener(tcp, Duration::from_secs(2), 4096);
    }
    tokio::spawn(async move {
        let _ = server.block_until_done().await;
    });
    addr
}

fn mx_name(host: &str) -> HostSpec {
    HostSpec { host: Host::Name(host.to_owned()), mx: true, port: None, group: 0 }
}

fn summary(hops: &[NextHop]) -> Vec<String> {
    hops.iter().map(|hop| format!("{} {} {}", hop.preference, hop.host_name, hop.addr)).collect()
}

#[tokio::test]
async fn hickory_resolver_against_a_real_server() {
    tokio::time::timeout(Duration::from_secs(5), run()).await.expect("the whole test takes less than 5 s");
}

async fn run() {
    let server = start_server().await;
    let resolver = HickoryResolver::with_name_servers(&[server], Duration::from_millis(500)).unwrap();
    let local = LocalNames::new("relay.test.example");

    // MX ordering: by preference, each host's A then AAAA records.
    let hops = resolve_next_hops(&[mx_name("mail.test.example.")], 25, &resolver, &local, 1).await.unwrap();
    assert_eq!(
        summary(&hops),
        ["10 mx1.test.example 192.0.2.1", "20 mx2.test.example 192.0.2.2", "20 mx2.test.example 2001:db8::2",]
    );

    // Implicit MX: no MX records (NODATA), so the name's own address.
    let hops = resolve_next_hops(&[mx_name("plain.test.example")], 25, &resolver, &local, 1).await.unwrap();
    assert_eq!(summary(&hops), ["0 plain.test.example 192.0.2.50"]);

    // NXDOMAIN is permanent.
    assert_eq!(resolver.mx("nowhere.test.example.").await, Err(DnsError::NoSuchDomain));
    let err =
        resolve_next_hops(&[mx_name("nowhere.test.example")], 25, &resolver, &local, 1).await.unwrap_err();
    assert_eq!(err.to_string(), "550 5.1.2 Host unknown (Name server: nowhere.test.example: host not found)");

    // Null MX.
    let err =
        resolve_next_hops(&[mx_name("nomail.test.example")], 25, &resolver, &local, 1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "556 5.1.10 Recipient address has null MX (nomail.test.example accepts no mail)"
    );

    // NODATA for addresses; a zone the server does not serve is refused,
    // which may change later, so it is temporary.
    assert_eq!(resolver.ip("mail.test.example.").await, Err(DnsError::NoRecords));
    assert!(matches!(resolver.ip("elsewhere.example.").await, Err(DnsError::Temporary(_))));
    assert_eq!(
        resolver.ip("mx2.test.example.").await.unwrap(),
        ["192.0.2.2".parse::<IpAddr>().unwrap(), "2001:db8::2".parse().unwrap()]
    );
}
