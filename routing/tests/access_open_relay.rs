//! The open-relay test set (access.md §7.1, §10): every trick that routes
//! to a foreign host is refused from a client that may not relay, under
//! every combination of the relay features; it is relayed for a trusted
//! authenticated client and a `RELAY` client; plain mail to local names and
//! relay domains is accepted from anyone.

use smarthost_maps::{SourceOptions, TextMap};
use smarthost_routing::{
    AccessMap, AccessOptions, Authenticated, Client, ClientResolve, LocalNames, Policy, PolicyOptions,
    RelayDomains, RoutingChar, Verdict,
};

const HOST: &str = "mail.internal.example.com";
const ACCESS: &[u8] = b"Connect:192.168.1\tRELAY\nTo:friend.example\tRELAY\nTo:blocked.example\tREJECT\n";

/// Addresses that route to evil.example through this host, a relay domain
/// or a `To:` RELAY domain.
const TRICKS: &[&str] = &[
    "<user@evil.example>",
    "<user@evil.example.>",
    "<USER@EVIL.EXAMPLE>",
    "<user%evil.example@mail.internal.example.com>",
    "<user%evil.example@MAIL.Internal.Example.COM.>",
    "<evil.example!user@mail.internal.example.com>",
    "<\"user@evil.example\"@mail.internal.example.com>",
    "<\"user%evil.example\"@mail.internal.example.com>",
    "<\"evil.example!user\"@mail.internal.example.com>",
    "<@mail.internal.example.com:user@evil.example>",
    "<@mail.internal.example.com,@partner.example:user@evil.example>",
    "<user%evil.example@partner.example>",
    "<user%evil.example@x.partner.example>",
    "<user%evil.example@friend.example>",
    "<user%evil.example%mail.internal.example.com@mail.internal.example.com>",
    "<user%evil.example@localhost>",
    "<user%evil.example@[127.0.0.1]>",
    "<user@[192.0.2.1]>",
    "<user@[203.0.113.5]>",
    "<user@[IPv6:2001:db8::1]>",
    "<user%evil.example>",
    "<evil.example!user>",
    "<user@blocked.example>",
    "<user@partner.example.evil.example>",
    "<user@mail.internal.example.com.evil.example>",
];

/// Syntax the parser or canonify refuses outright.
const BROKEN: &[&str] = &[
    "<user@evil.example@mail.internal.example.com>",
    "<\"user@evil@x\"@mail.internal.example.com>",
    "<>",
    "<@mail.internal.example.com:>",
];

const OURS: &[&str] = &[
    "<user@mail.internal.example.com>",
    "<USER@Mail.Internal.Example.COM.>",
    "<user>",
    "<postmaster>",
    "<user@localhost>",
    "<user@[127.0.0.1]>",
    "<user@partner.example>",
    "<user@deep.x.partner.example>",
    "<user@friend.example>",
    "<user%x.partner.example@mail.internal.example.com>",
];

fn setup() -> (LocalNames, RelayDomains, TextMap) {
    let local = LocalNames::new(HOST);
    let mut relay = RelayDomains::new();
    relay.load_str("partner.example 10.1");
    let (map, _) = TextMap::from_source(ACCESS, &SourceOptions::default());
    (local, relay, map)
}

/// Every combination of the features that change how addresses are read.
fn all_options() -> Vec<PolicyOptions> {
    let mut all = Vec::new();
    for bits in 0..256u32 {
        let char_rule = |n: u32| match n {
            0 => RoutingChar::Route,
            1 => RoutingChar::Plain,
            _ => RoutingChar::Remote,
        };
        if (bits >> 3) & 3 == 3 || (bits >> 5) & 3 == 3 {
            continue;
        }
        all.push(PolicyOptions {
            hostname: HOST.into(),
            blocklist_recipients: bits & 1 != 0,
            relay_hosts_only: bits & 2 != 0,
            loose_relay_check: bits & 4 != 0,
            percent_hack: char_rule((bits >> 3) & 3),
            bang_path: char_rule((bits >> 5) & 3),
            delay_checks: if bits & 128 != 0 {
                smarthost_routing::DelayChecks::On
            } else {
                Default::default()
            },
            trust_auth_mechs: vec!["PLAIN".into()],
            ..PolicyOptions::default()
        });
    }
    all
}

fn outsider() -> Client<'static> {
    Client {
        addr: Some("203.0.113.5".parse().unwrap()),
        name: Some("outside.example"),
        resolve: ClientResolve::Ok,
        auth: None,
    }
}

#[test]
fn no_trick_relays_for_an_untrusted_client_under_any_features() {
    let (local, relay, map) = setup();
    let untrusted_auth =
        Client { auth: Some(Authenticated { user: "mallory", mechanism: "LOGIN" }), ..outsider() };
    let mut checked = 0;
    for options in all_options() {
        let policy = Policy::new(&local, &options)
            .relay_domains(&relay)
            .access(AccessMap::new(&map, AccessOptions::default()));
        for client in [outsider(), untrusted_auth] {
            for trick in TRICKS.iter().chain(BROKEN) {
                let decision = &policy.evaluate(&client, "<>", &[trick]).recipients[0];
                assert_ne!(
                    decision.verdict,
                    Verdict::Relay,
                    "{trick} relayed with {options:?}: {decision:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 8_000, "{checked}");
}

#[test]
fn every_trick_is_refused_with_the_default_features() {
    let (local, relay, map) = setup();
    let options = PolicyOptions { hostname: HOST.into(), ..PolicyOptions::default() };
    let policy = Policy::new(&local, &options)
        .relay_domains(&relay)
        .access(AccessMap::new(&map, AccessOptions::default()));
    for trick in TRICKS {
        let decision = &policy.evaluate(&outsider(), "<>", &[trick]).recipients[0];
        assert_eq!(decision.verdict, Verdict::Reject, "{trick}: {decision:?}");
        assert_eq!((decision.reply.code, decision.reply.enhanced), (550, (5, 7, 1)), "{trick}: {decision:?}");
        assert!(decision.reply.text.ends_with("... Relaying denied"), "{trick}: {}", decision.reply);
    }
    for broken in BROKEN {
        let decision = &policy.evaluate(&outsider(), "<>", &[broken]).recipients[0];
        assert_eq!(decision.verdict, Verdict::Reject, "{broken}: {decision:?}");
        assert_eq!(decision.reply.code, 553, "{broken}: {}", decision.reply);
    }
}

#[test]
fn tricks_relay_for_trusted_authentication_and_relay_clients() {
    let (local, relay, map) = setup();
    let options = PolicyOptions {
        hostname: HOST.into(),
        trust_auth_mechs: vec!["PLAIN".into()],
        ..PolicyOptions::default()
    };
    let policy = Policy::new(&local, &options)
        .relay_domains(&relay)
        .access(AccessMap::new(&map, AccessOptions::default()));
    let trusted = Client { auth: Some(Authenticated { user: "alice", mechanism: "plain" }), ..outsider() };
    let lan = Client::new("192.168.1.20".parse().unwrap(), None);
    let class_r = Client::new("10.1.7.7".parse().unwrap(), Some("printer.lan"));
    let local_submission = Client::local();
    for client in [trusted, lan, class_r, local_submission] {
        for trick in TRICKS {
            let decision = &policy.evaluate(&client, "<>", &[trick]).recipients[0];
            let lower = trick.to_ascii_lowercase();
            let expected = if lower.contains("blocked") || lower.contains("evil") || lower.contains("[") {
                [Verdict::Relay, Verdict::Accept]
            } else {
                [Verdict::Accept, Verdict::Accept]
            };
            assert!(expected.contains(&decision.verdict), "{trick} from {client:?}: {decision:?}");
            assert_eq!(decision.reply.to_string(), "250 2.1.5 Ok");
        }
    }
}

#[test]
fn local_names_and_relay_domains_are_accepted_from_anyone() {
    let (local, relay, map) = setup();
    for options in all_options().into_iter().filter(|o| !o.relay_hosts_only) {
        let policy = Policy::new(&local, &options)
            .relay_domains(&relay)
            .access(AccessMap::new(&map, AccessOptions::default()));
        for ours in OURS {
            if options.percent_hack != RoutingChar::Route && ours.contains('%') {
                continue;
            }
            let decision = &policy.evaluate(&outsider(), "<>", &[ours]).recipients[0];
            assert_eq!(decision.verdict, Verdict::Accept, "{ours} with {options:?}: {decision:?}");
        }
    }
}
