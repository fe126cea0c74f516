use std::net::IpAddr;

use smarthost_maps::{Error as MapError, IoAction, Map, SourceOptions, TextMap};

use super::*;
use crate::{AccessOptions, Address, AddressError, ZoneResolver};

/// A map that cannot be read: every lookup is a temporary failure.
struct Broken;

impl Map for Broken {
    fn lookup(&self, _key: &[u8]) -> Result<Option<&[u8]>, MapError> {
        Err(MapError::Io {
            action: IoAction::Read,
            path: "/etc/mail/access.db".into(),
            source: std::io::Error::other("disk on fire"),
        })
    }
}

fn options() -> PolicyOptions {
    PolicyOptions { hostname: "mail.example.com".into(), ..PolicyOptions::default() }
}

fn outsider() -> Client<'static> {
    Client::new("203.0.113.5".parse().unwrap(), Some("outside.example"))
}

fn rcpt(policy: &Policy<'_>, client: &Client<'_>, sender: &str, to: &str) -> Checked {
    policy.evaluate(client, sender, &[to]).recipients.remove(0)
}

#[test]
fn an_unreadable_access_map_defers_and_never_refuses() {
    let local = LocalNames::new("mail.example.com");
    let options = options();
    let policy = Policy::new(&local, &options).access(AccessMap::new(&Broken, AccessOptions::default()));
    let connect = policy.check_connect(&outsider());
    assert_eq!(connect.reply.to_string(), "451 4.3.0 Temporary system failure. Please try again later.");
    assert_eq!((connect.verdict, connect.log_token().as_str()), (Verdict::Defer, "defer=access_unavailable"));
    let sender = ReversePath::parse("<a@example.org>", ParseOptions::default()).unwrap().path;
    let mail = Mail { sender: &sender, domain: SenderDomain::Unchecked };
    assert_eq!(policy.check_sender(&outsider(), &mail).verdict, Verdict::Defer);
    let to_far = policy.check_recipient_text(&outsider(), &mail, "<u@far.example>");
    assert_eq!(to_far.reply.to_string(), "451 4.3.0 Temporary system failure. Please try again later.");
    // Local recipients do not need the map; a local submission relays anyway.
    assert_eq!(
        policy.check_recipient_text(&outsider(), &mail, "<u@mail.example.com>").verdict,
        Verdict::Accept
    );
    assert_eq!(
        policy.check_recipient_text(&Client::local(), &mail, "<u@far.example>").verdict,
        Verdict::Relay
    );
}

#[test]
fn delay_checks_moves_the_connection_and_sender_checks_to_rcpt() {
    let local = LocalNames::new("mail.example.com");
    let options = PolicyOptions { delay_checks: DelayChecks::On, ..options() };
    let (map, _) = TextMap::from_source(b"Connect:203.0.113.5 REJECT\n", &SourceOptions::default());
    let policy = Policy::new(&local, &options).access(AccessMap::new(&map, AccessOptions::default()));
    let connect = policy.check_connect(&outsider());
    assert_eq!((connect.verdict, &connect.reason), (Verdict::Accept, &PolicyReason::Delayed));
    let sender = ReversePath::Null;
    let mail = Mail { sender: &sender, domain: SenderDomain::Unchecked };
    assert_eq!(policy.check_sender(&outsider(), &mail).reason, PolicyReason::Delayed);
    let refused = policy.check_recipient_text(&outsider(), &mail, "<u@mail.example.com>");
    assert_eq!(refused.stage, Stage::Connect);
    assert_eq!(refused.reply.to_string(), "550 5.7.1 <u@mail.example.com>... Access denied");
}

#[test]
fn the_sender_domain_answer_is_checked_unless_told_not_to() {
    let local = LocalNames::new("mail.example.com");
    let sender = ReversePath::parse("<a@nowhere.example>", ParseOptions::default()).unwrap().path;
    let check = |options: &PolicyOptions, domain| {
        let mail = Mail { sender: &sender, domain };
        Policy::new(&local, options).check_sender(&outsider(), &mail).reply.to_string()
    };
    let strict = options();
    assert_eq!(check(&strict, SenderDomain::Resolves), "250 2.1.0 Ok");
    assert_eq!(
        check(&strict, SenderDomain::TempFail),
        "451 4.1.8 Domain of sender address a@nowhere.example does not resolve"
    );
    assert_eq!(
        check(&strict, SenderDomain::NotFound),
        "553 5.1.8 <a@nowhere.example>... Domain of sender address a@nowhere.example does not exist"
    );
    let loose = PolicyOptions { accept_unresolvable_domains: true, ..options() };
    assert_eq!(check(&loose, SenderDomain::NotFound), "250 2.1.0 Ok");
    let this_host = ReversePath::parse("<a@mail.example.com>", ParseOptions::default()).unwrap().path;
    let mail = Mail { sender: &this_host, domain: SenderDomain::NotFound };
    assert_eq!(Policy::new(&local, &strict).check_sender(&outsider(), &mail).verdict, Verdict::Accept);
}

#[test]
fn relay_local_from_and_relay_to_full_address() {
    let local = LocalNames::new("mail.example.com");
    let (map, _) =
        TextMap::from_source(b"To:vip@far.example RELAY\nTo:list@ RELAY\n", &SourceOptions::default());
    let from_local = PolicyOptions { relay_local_from: true, ..options() };
    let policy = Policy::new(&local, &from_local);
    assert_eq!(rcpt(&policy, &outsider(), "<x@mail.example.com>", "<u@far.example>").verdict, Verdict::Relay);
    assert_eq!(rcpt(&policy, &outsider(), "<x@other.example>", "<u@far.example>").verdict, Verdict::Reject);
    let full = PolicyOptions { relay_to_full_address: true, ..options() };
    let policy = Policy::new(&local, &full).access(AccessMap::new(&map, AccessOptions::default()));
    assert_eq!(rcpt(&policy, &outsider(), "<>", "<vip@far.example>").verdict, Verdict::Accept);
    assert_eq!(rcpt(&policy, &outsider(), "<>", "<list@far.example>").verdict, Verdict::Accept);
    assert_eq!(rcpt(&policy, &outsider(), "<>", "<other@far.example>").verdict, Verdict::Reject);
    let plain = options();
    let policy = Policy::new(&local, &plain).access(AccessMap::new(&map, AccessOptions::default()));
    assert_eq!(rcpt(&policy, &outsider(), "<>", "<vip@far.example>").verdict, Verdict::Reject);
}

#[test]
fn promiscuous_relay_relays_for_everyone() {
    let local = LocalNames::new("mail.example.com");
    let options = PolicyOptions { dangerous_promiscuous_relay: true, ..options() };
    let decision = rcpt(&Policy::new(&local, &options), &outsider(), "<>", "<u@far.example>");
    assert_eq!(decision.log_token(), "relay=promiscuous_relay");
}

#[test]
fn features_by_sendmail_name() {
    let (mut policy, mut access) = (PolicyOptions::default(), AccessOptions::default());
    for feature in PolicyOptions::FEATURES {
        policy.apply_feature(&mut access, feature).unwrap();
    }
    assert_eq!(policy.percent_hack, RoutingChar::Remote);
    assert_eq!(policy.relay_mail_from, RelayMailFrom::Domain);
    assert!(!access.skip && !access.normalise_ipv6_keys && access.compressed_ipv6);
    let error = policy.apply_feature(&mut access, "nouucp=maybe").unwrap_err();
    assert!(error.contains("takes `reject`"), "{error}");
    assert!(
        policy.apply_feature(&mut access, "delay_checks=sometimes").unwrap_err().contains("unknown feature")
    );
}

#[test]
fn replies_carry_the_address_only_where_sendmail_puts_it() {
    for (code, prefixed) in
        [(250, true), (450, true), (451, false), (550, true), (551, false), (553, true), (554, false)]
    {
        let reply = PolicyReply::new(code, (5, 0, 0), "text", Some("<a@b>"));
        assert_eq!(reply.text.starts_with("<a@b>... "), prefixed, "{code}");
    }
    let syntax =
        replies::bad_recipient("a b@c", &Address::parse("a b@c", ParseOptions::default()).unwrap_err());
    assert_eq!(syntax.reply.code, 501);
    assert!(syntax.reply.text.starts_with("Syntax error in mailbox address: "), "{}", syntax.reply);
    let empty = replies::bad_recipient("<>", &AddressError::NullForwardPath);
    assert_eq!(empty.reply.to_string(), "553 5.1.3 <>... User address required");
    let utf8 = replies::bad_recipient("<ü@x>", &AddressError::NeedsSmtputf8 { pos: 1 });
    assert_eq!((utf8.reply.code, utf8.reply.enhanced), (553, (5, 6, 7)));
}

#[test]
fn a_ptr_answer_is_judged_with_its_forward_answer() {
    let addr: IpAddr = "192.0.2.7".parse().unwrap();
    let names = vec!["mail.example.com.".to_string()];
    let other: IpAddr = "192.0.2.8".parse().unwrap();
    let judge = |forward| ClientIdentity::from_answers(addr, Ok(&names), forward).resolve;
    let (both, wrong) = ([other, addr], [other]);
    assert_eq!(judge(Some(Ok(&both[..]))), ClientResolve::Ok);
    assert_eq!(judge(Some(Ok(&wrong[..]))), ClientResolve::Forged);
    assert_eq!(judge(Some(Err(&crate::DnsError::NoSuchDomain))), ClientResolve::Forged);
    assert_eq!(judge(Some(Err(&crate::DnsError::Temporary("timeout".into())))), ClientResolve::Temp);
    let none = ClientIdentity::from_answers(addr, Ok(&[]), None);
    assert_eq!(none, ClientIdentity { name: None, resolve: ClientResolve::Fail });
    let nodata = ClientIdentity::from_answers(addr, Err(&crate::DnsError::NoRecords), None);
    assert_eq!(nodata.resolve, ClientResolve::Fail);
    assert_eq!("FORGED".parse::<ClientResolve>(), Ok(ClientResolve::Forged));
}

#[tokio::test]
async fn identify_client_asks_the_forward_question() {
    let zone: ZoneResolver =
        "mail.example.com. A 192.0.2.7\nliar.example.com. A 198.51.100.1\n".parse().unwrap();
    let addr: IpAddr = "192.0.2.7".parse().unwrap();
    let good = identify_client(&zone, addr, Ok(vec!["mail.example.com.".into()])).await;
    assert_eq!((good.name.as_deref(), good.resolve), (Some("mail.example.com"), ClientResolve::Ok));
    let forged = identify_client(&zone, addr, Ok(vec!["liar.example.com.".into()])).await;
    assert_eq!(forged.resolve, ClientResolve::Forged);
    let missing = identify_client(&zone, addr, Err(crate::DnsError::NoSuchDomain)).await;
    assert_eq!(missing.resolve, ClientResolve::Fail);
}

#[test]
fn local_names_and_literals_and_class_m() {
    let mut local = LocalNames::new("mail.example.com");
    local.add_address("192.0.2.1".parse().unwrap());
    let options = options();
    let policy = Policy::new(&local, &options);
    let domain = |text| crate::Domain::parse(text, ParseOptions::default()).unwrap();
    assert!(policy.is_local_domain(&domain("localhost.example.com")));
    assert!(policy.is_local_domain(&domain("localhost.uucp")));
    assert!(policy.is_local_domain(&domain("[192.0.2.1]")));
    assert!(!policy.is_local_domain(&domain("example.com")));
    assert!(policy.in_class_m("www.Example.com."));
    assert!(!policy.in_class_m("notexample.com"));
}
