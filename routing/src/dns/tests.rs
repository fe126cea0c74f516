use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;

const ZONE: &str = "\
; two MX hosts of equal preference and a backup
example.org.        MX 10 mx1.example.org.
example.org.        MX 10 mx2.example.org.
example.org.        MX 20 backup.example.net.
mx1.example.org.    A 192.0.2.1
mx2.example.org.    A 192.0.2.2
mx2.example.org.    AAAA 2001:db8::2
backup.example.net. A 198.51.100.1
; implicit MX
plain.example.      A 192.0.2.50
; null MX
nomail.example.     MX 0 .
; this host is the second MX
gw.example.         MX 10 upstream.example.
gw.example.         MX 20 relay.example.net.
gw.example.         MX 30 after.example.
upstream.example.   A 192.0.2.70
relay.example.net.  A 203.0.113.5
after.example.      A 192.0.2.80
; this host is the best MX
self.example.       MX 10 relay.example.net.
self.example.       MX 20 upstream.example.
; this host by address
byaddr.example.     MX 5 alias.example.
byaddr.example.     MX 1 upstream.example.
alias.example.      A 203.0.113.5
; failures
servfail.example.   SERVFAIL
halfmx.example.     MX 10 mx1.example.org.
halfmx.example.     MX 20 slow.example.
slow.example.       TIMEOUT
deadmx.example.     MX 10 gone.example.
bracketed.example.  MX 10 mx1.example.org.
bracketed.example.  A 192.0.2.99
v6only.example.     AAAA 2001:db8::99
www.example.        CNAME plain.example.
";

fn zone() -> ZoneResolver {
    ZONE.parse().expect("the test zone parses")
}

fn this_host() -> LocalNames {
    let mut local = LocalNames::new("relay.example.net");
    local.add_address("203.0.113.5".parse().unwrap());
    local
}

fn name(host: &str) -> HostSpec {
    HostSpec { host: Host::Name(host.to_owned()), mx: true, port: None, group: 0 }
}

fn bracketed(host: &str) -> HostSpec {
    HostSpec { mx: false, ..name(host) }
}

fn literal(addr: &str) -> HostSpec {
    HostSpec { host: Host::Ip(addr.parse().unwrap()), mx: false, port: None, group: 0 }
}

/// Runs a future that never waits: every `ZoneResolver` answer is ready.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a ZoneResolver lookup was pending"),
    }
}

fn resolve(hosts: &[HostSpec], seed: u64) -> Result<Vec<NextHop>, RouteFailure> {
    ready(resolve_next_hops(hosts, 25, &zone(), &this_host(), seed))
}

fn addrs(hops: &[NextHop]) -> Vec<String> {
    hops.iter().map(|hop| format!("{} {}:{}", hop.host_name, hop.addr, hop.port)).collect()
}

fn failure(hosts: &[HostSpec]) -> String {
    resolve(hosts, 0).expect_err("the host list fails").to_string()
}

#[test]
fn mx_hosts_come_in_preference_order_with_all_their_addresses() {
    let hops = resolve(&[name("example.org")], 0).unwrap();
    assert_eq!(hops.len(), 4);
    let (best, backup) = hops.split_at(3);
    assert!(best.iter().all(|hop| hop.preference == 10));
    assert_eq!(addrs(backup), ["backup.example.net 198.51.100.1:25"]);
    assert_eq!(backup[0].preference, 20);
    // mx2's addresses stay together, A first.
    let mx2: Vec<_> = best
        .iter()
        .filter(|hop| hop.host_name == "mx2.example.org")
        .map(|hop| hop.addr.to_string())
        .collect();
    assert_eq!(mx2, ["192.0.2.2", "2001:db8::2"]);
}

#[test]
fn equal_preferences_are_shuffled_by_the_seed() {
    let first_of = |seed| resolve(&[name("example.org")], seed).unwrap()[0].host_name.clone();
    assert_eq!(first_of(7), first_of(7), "the same seed gives the same order");
    let firsts: std::collections::HashSet<String> = (0..64).map(first_of).collect();
    assert_eq!(firsts.len(), 2, "both equal MX hosts come first for some seed");
    for seed in 0..64 {
        let hops = resolve(&[name("example.org")], seed).unwrap();
        assert_eq!(hops[3].host_name, "backup.example.net", "seed {seed}");
    }
}

#[test]
fn no_mx_records_means_the_domain_itself() {
    let hops = resolve(&[name("plain.example")], 0).unwrap();
    assert_eq!(addrs(&hops), ["plain.example 192.0.2.50:25"]);
    assert_eq!(hops[0].preference, 0);
    let via_cname = resolve(&[name("www.example.")], 0).unwrap();
    assert_eq!(addrs(&via_cname), ["www.example 192.0.2.50:25"]);
}

#[test]
fn brackets_skip_the_mx_lookup() {
    assert_eq!(
        addrs(&resolve(&[bracketed("bracketed.example")], 0).unwrap()),
        ["bracketed.example 192.0.2.99:25"]
    );
    assert_eq!(addrs(&resolve(&[name("bracketed.example")], 0).unwrap()), ["mx1.example.org 192.0.2.1:25"]);
    // A bracketed domain with MX but no address records fails.
    assert_eq!(
        failure(&[bracketed("example.org")]),
        "550 5.1.2 Host unknown (Name server: example.org: no data known)"
    );
}

#[test]
fn address_literals_are_used_as_they_are() {
    let hops = resolve(&[literal("192.0.2.7"), literal("2001:db8::7")], 0).unwrap();
    assert_eq!(addrs(&hops), ["192.0.2.7 192.0.2.7:25", "2001:db8::7 2001:db8::7:25"]);
    // Even this host's own address: a content filter on another port.
    let own = HostSpec { port: Some(10_025), ..literal("127.0.0.1") };
    assert_eq!(addrs(&resolve(&[own], 0).unwrap()), ["127.0.0.1 127.0.0.1:10025"]);
}

#[test]
fn ipv6_only_hosts_resolve() {
    let hops = resolve(&[name("v6only.example")], 0).unwrap();
    assert_eq!(hops[0].addr, "2001:db8::99".parse::<IpAddr>().unwrap());
}

#[test]
fn a_null_mx_refuses_mail() {
    assert_eq!(
        failure(&[name("nomail.example")]),
        "556 5.1.10 Recipient address has null MX (nomail.example accepts no mail)"
    );
    // Brackets skip the MX, null or not.
    assert_eq!(
        failure(&[bracketed("nomail.example")]),
        "550 5.1.2 Host unknown (Name server: nomail.example: no data known)"
    );
}

#[test]
fn a_null_mx_among_other_records_is_ignored() {
    let zone: ZoneResolver = "odd.example. MX 0 .\nodd.example. MX 10 mx.odd.example.\n\
                              mx.odd.example. A 192.0.2.3\n"
        .parse()
        .unwrap();
    let hops = ready(resolve_next_hops(&[name("odd.example")], 25, &zone, &this_host(), 0));
    assert_eq!(addrs(&hops.unwrap()), ["mx.odd.example 192.0.2.3:25"]);
}

#[test]
fn mx_hosts_no_better_than_this_host_are_dropped() {
    let hops = resolve(&[name("gw.example")], 0).unwrap();
    assert_eq!(addrs(&hops), ["upstream.example 192.0.2.70:25"]);
}

#[test]
fn this_host_is_recognised_by_address_too() {
    let hops = resolve(&[name("byaddr.example")], 0).unwrap();
    assert_eq!(addrs(&hops), ["upstream.example 192.0.2.70:25"]);
}

#[test]
fn being_the_best_mx_is_a_loop() {
    assert_eq!(
        failure(&[name("self.example")]),
        "554 5.4.6 MX list for self.example points back to relay.example.net \
         (config error: mail loops back to me)"
    );
}

#[test]
fn a_missing_domain_is_permanent() {
    let err = resolve(&[name("nowhere.example")], 0).unwrap_err();
    assert!(!err.temporary);
    assert_eq!(err.to_string(), "550 5.1.2 Host unknown (Name server: nowhere.example: host not found)");
    assert_eq!(
        failure(&[name("deadmx.example")]),
        "550 5.1.2 Host unknown (Name server: gone.example: host not found)"
    );
}

#[test]
fn servfail_and_timeouts_defer() {
    let err = resolve(&[name("servfail.example")], 0).unwrap_err();
    assert!(err.temporary);
    assert_eq!(
        err.to_string(),
        "451 4.4.3 Host name lookup failure (Name server: servfail.example: SERVFAIL)"
    );
    assert_eq!(
        failure(&[bracketed("slow.example")]),
        "451 4.4.3 Host name lookup failure (Name server: slow.example: timeout)"
    );
    // One MX that times out does not matter while another resolves.
    let hops = resolve(&[name("halfmx.example")], 0).unwrap();
    assert_eq!(addrs(&hops), ["mx1.example.org 192.0.2.1:25"]);
}

#[test]
fn a_failing_element_does_not_fail_the_list() {
    let hops = resolve(&[name("nowhere.example"), literal("192.0.2.9")], 0).unwrap();
    assert_eq!(addrs(&hops), ["192.0.2.9 192.0.2.9:25"]);
}

#[test]
fn temporary_failures_beat_permanent_ones() {
    let err =
        resolve(&[name("nowhere.example"), name("servfail.example"), name("nomail.example")], 0).unwrap_err();
    assert!(err.temporary);
    assert_eq!(err.code, 451);
    assert_eq!(
        failure(&[name("nomail.example"), name("nowhere.example")]),
        "556 5.1.10 Recipient address has null MX (nomail.example accepts no mail)"
    );
}

#[test]
fn groups_come_first_then_mx_preference() {
    let later = HostSpec { group: 1, ..literal("192.0.2.200") };
    let same_group_worse = HostSpec { group: 0, ..name("example.org") };
    let hops = resolve(&[later, same_group_worse, literal("192.0.2.100")], 3).unwrap();
    let order: Vec<_> = hops.iter().map(|hop| hop.addr.to_string()).collect();
    // Group 0: the literal (preference 0), then example.org's MX hosts by
    // preference; group 1 last although it was listed first.
    assert_eq!(order[0], "192.0.2.100");
    assert_eq!(order[4], "198.51.100.1");
    assert_eq!(order[5], "192.0.2.200");
    assert_eq!(hops[5].group, 1);
}

#[test]
fn ports_come_from_the_host_spec_or_the_default() {
    let with_port = HostSpec { port: Some(2525), ..bracketed("plain.example") };
    let hops =
        ready(resolve_next_hops(&[with_port, literal("192.0.2.8")], 587, &zone(), &this_host(), 0)).unwrap();
    assert_eq!(addrs(&hops), ["plain.example 192.0.2.50:2525", "192.0.2.8 192.0.2.8:587"]);
}

#[test]
fn an_address_reached_twice_is_tried_once() {
    let hops = resolve(&[literal("192.0.2.1"), name("mx1.example.org")], 0).unwrap();
    assert_eq!(addrs(&hops), ["192.0.2.1 192.0.2.1:25"]);
}

#[test]
fn zone_lookups_distinguish_nxdomain_nodata_and_failures() {
    let zone = zone();
    assert_eq!(zone.mx_records("nowhere.example"), Err(DnsError::NoSuchDomain));
    assert_eq!(zone.mx_records("plain.example"), Err(DnsError::NoRecords));
    // An empty non-terminal exists.
    assert_eq!(zone.addresses("example"), Err(DnsError::NoRecords));
    assert_eq!(zone.mx_records("MX1.Example.Org."), Err(DnsError::NoRecords));
    assert!(matches!(zone.addresses("servfail.example"), Err(DnsError::Temporary(_))));
    let partial: ZoneResolver = "h.example. A 192.0.2.1\nh.example. TIMEOUT AAAA\n".parse().unwrap();
    assert_eq!(partial.addresses("h.example"), Ok(vec!["192.0.2.1".parse::<IpAddr>().unwrap()]));
    assert_eq!(partial.mx_records("h.example"), Err(DnsError::NoRecords));
}

#[test]
fn zone_parse_errors_name_the_line() {
    let err = "ok.example. A 192.0.2.1\n\nbad.example. A 999.1.1.1\n".parse::<ZoneResolver>().unwrap_err();
    assert_eq!(err.line, 3);
    let message = err.to_string();
    assert!(message.starts_with("zone line 3: A data `999.1.1.1` is not an IPv4 address"));
    assert!(message.contains("`bad.example. A 999.1.1.1`"), "{message}");
    for bad in [
        "x.example. MX 10",
        "x.example. MX big x.example.",
        "x.example. TXT hello",
        "x.example.",
        "x.example. SERVFAIL TXT",
    ] {
        assert!(bad.parse::<ZoneResolver>().is_err(), "{bad}");
    }
    let ttl_and_class: ZoneResolver =
        "x.example. 300 IN A 192.0.2.1 ; comment\n# only a comment\n".parse().unwrap();
    assert!(ttl_and_class.addresses("x.example").is_ok());
}

#[test]
fn resolver_is_object_safe_and_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let zone = zone();
    let resolver: &dyn Resolver = &zone;
    let local = this_host();
    let future = resolve_next_hops(&[], 25, resolver, &local, random_seed());
    assert_send(&future);
    let err = ready(future).unwrap_err();
    assert_eq!(err.code, 554);
}
