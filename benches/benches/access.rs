//! Access decisions for an IPv4 client against a 100,000-entry access map
//! (compiled, as the relay reads it), with and without the `AccessIndex`
//! filter, against a naive reference on the same data (every key of the
//! walk built as a `String`, each looked up in a `HashMap`).
//!
//! The clients cycle through 16,384 addresses, most of them absent from the
//! map (the common case: a stranger connects), a few under a `Connect:`
//! prefix. Under `cargo bench -- --test` the map has 10,000 entries.
//!
//! Each benchmark reports the benchmark thread's CPU time (`clock_gettime`
//! with `CLOCK_THREAD_CPUTIME_ID`): the machine is shared, and wall-clock
//! time counts whatever else runs on it. The `wall` benchmark repeats the
//! main one with criterion's ordinary wall-clock timing for comparison.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{Bencher, Criterion};
use smarthost_maps::{CompiledMap, MapBuilder, Source, SourceOptions};
use smarthost_routing::{
    AccessIndex, AccessMap, AccessOptions, Client, ClientResolve, LocalNames, Mode, Policy, PolicyOptions,
    Tag,
};

const ENTRIES: usize = 100_000;
const CLIENTS: usize = 1 << 14;

/// splitmix64, so every run sees the same data.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A large site's access map: addresses and /24 and /16 prefixes, client
/// host names and domains, senders, recipient domains; values of every kind.
fn source_text(entries: usize) -> Vec<u8> {
    const VALUES: [&str; 5] = ["REJECT", "RELAY", "OK", "ERROR:5.7.1:\"550 Go away\"", "DISCARD"];
    let mut text = String::with_capacity(entries * 40);
    for i in 0..entries as u64 {
        let r = mix(i);
        let value = VALUES[(r % 5) as usize];
        let [a, b, c, d] = [(r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8, (r >> 32) as u8];
        let line = match i % 10 {
            0..=3 => format!("Connect:{a}.{b}.{c}.{d}\t{value}\n"),
            4 => format!("Connect:{a}.{b}.{c}\t{value}\n"),
            5 => format!("Connect:{a}.{b}\t{value}\n"),
            6 => format!("Connect:host{}.isp-{}.example\t{value}\n", r % 100_000, (r >> 20) % 500),
            7 => format!("From:user{}@sender-{}.example\t{value}\n", r % 100_000, (r >> 20) % 5000),
            8 => format!("From:sender-{}.example\t{value}\n", r % 100_000),
            _ => format!("To:rcpt-{}.example\t{value}\n", r % 100_000),
        };
        text.push_str(&line);
    }
    text.into_bytes()
}

/// Client addresses: one in 64 under a `/24` prefix the map holds, the
/// rest drawn from a stream the map's entries never use (so about one in
/// seven still falls under one of the map's 10,000 `/16` prefixes).
fn clients(entries: usize) -> Vec<IpAddr> {
    (0..CLIENTS as u64)
        .map(|n| {
            let r = mix(n | 1 << 48);
            if n % 64 == 0 {
                let i = (r % (entries as u64 / 10)) * 10 + 4;
                let e = mix(i);
                Ipv4Addr::new((e >> 8) as u8, (e >> 16) as u8, (e >> 24) as u8, r as u8).into()
            } else {
                Ipv4Addr::new((r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8, (r >> 32) as u8).into()
            }
        })
        .collect()
}

/// The reference: every key sendmail looks up for a client without a
/// name (`[addr]`, then the address), first hit wins.
fn naive_connect(map: &HashMap<String, String>, addr: Ipv4Addr) -> Option<&String> {
    let octets = addr.octets().map(|o| o.to_string());
    let mut keys = Vec::new();
    for n in (1..=4).rev() {
        let prefix = octets[..n].join(".");
        keys.push(format!("connect:[{prefix}]"));
        keys.push(format!("[{prefix}]"));
    }
    for n in (1..=4).rev() {
        let prefix = octets[..n].join(".");
        keys.push(format!("connect:{prefix}"));
        keys.push(prefix);
    }
    keys.iter().find_map(|k| map.get(k))
}

/// This thread's CPU time.
#[allow(unsafe_code)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec, which we own, and
    // CLOCK_THREAD_CPUTIME_ID is supported on every Linux we run on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Times `f` in thread CPU time.
fn cpu<R>(b: &mut Bencher<'_>, mut f: impl FnMut() -> R) {
    b.iter_custom(|iters| {
        let start = thread_cpu_time();
        for _ in 0..iters {
            black_box(f());
        }
        thread_cpu_time() - start
    });
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--test");
    let entries = if quick { 10_000 } else { ENTRIES };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = source_text(entries);
    let options = SourceOptions::default();
    let source = Source::parse(&text, &options);
    let path = dir.path().join("access.db");
    MapBuilder::new(&path, &options).write(source.entries()).expect("build the map");
    let compiled = CompiledMap::open(&path).expect("open the map");
    let records: Vec<(Vec<u8>, Vec<u8>)> =
        compiled.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<Result<_, _>>().unwrap();
    let index = AccessIndex::new(
        CompiledMap::open(&path).expect("open the map"),
        records.iter().map(|(k, v)| (&k[..], &v[..])),
        true,
        AccessOptions::default(),
    );
    let hash: HashMap<String, String> = records
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let addrs = clients(entries);
    let local = LocalNames::new("mail.example.com");
    let policy_options = PolicyOptions { hostname: "mail.example.com".into(), ..PolicyOptions::default() };

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("access");
    let options = AccessOptions::default();
    let maps = [
        ("compiled+index", AccessMap::indexed(&index, options)),
        ("compiled+filter", AccessMap::new(&index, options)),
        ("compiled", AccessMap::new(&compiled, options)),
    ];
    for (name, access) in maps {
        let policy = Policy::new(&local, &policy_options).access(access);
        let mut n = 0;
        group.bench_function(format!("check_connect ipv4 no PTR ({name})"), |b| {
            cpu(b, || {
                n = (n + 1) % CLIENTS;
                let client =
                    Client { addr: Some(addrs[n]), name: None, resolve: ClientResolve::Fail, auth: None };
                policy.check_connect(black_box(&client))
            })
        });
        let mut n = 0;
        group.bench_function(format!("check_connect ipv4 with PTR ({name})"), |b| {
            cpu(b, || {
                n = (n + 1) % CLIENTS;
                let client = Client::new(addrs[n], Some("mx.mail-provider-7.example.net"));
                policy.check_connect(black_box(&client))
            })
        });
        let mut n = 0;
        group.bench_function(format!("lookup_client_addr ipv4 ({name})"), |b| {
            cpu(b, || {
                n = (n + 1) % CLIENTS;
                access.lookup_client_addr(black_box(addrs[n]), Tag::Connect, Mode::WithUntagged)
            })
        });
    }
    let policy = Policy::new(&local, &policy_options).access(AccessMap::indexed(&index, options));
    let mut n = 0;
    group.bench_function("check_connect ipv4 no PTR (compiled+index, wall)", |b| {
        b.iter(|| {
            n = (n + 1) % CLIENTS;
            let client =
                Client { addr: Some(addrs[n]), name: None, resolve: ClientResolve::Fail, auth: None };
            black_box(policy.check_connect(black_box(&client)))
        })
    });
    let mut n = 0;
    group.bench_function("naive check_connect ipv4 no PTR (HashMap)", |b| {
        cpu(b, || {
            n = (n + 1) % CLIENTS;
            let IpAddr::V4(v4) = addrs[n] else { unreachable!("IPv4 clients") };
            naive_connect(&hash, black_box(v4)).cloned()
        })
    });
    group.finish();
    c.final_summary();
}
