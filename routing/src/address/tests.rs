use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

const ASCII: ParseOptions = ParseOptions { smtputf8: false };
const UTF8: ParseOptions = ParseOptions { smtputf8: true };

fn addr(s: &str) -> Address {
    Address::parse(s, UTF8).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> AddressError {
    Address::parse(s, ASCII).expect_err(s)
}

fn rcpt(s: &str) -> Parsed<ForwardPath> {
    ForwardPath::parse(s, ASCII).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn tricks(a: &Address) -> Vec<RelayTrick> {
    a.relay_tricks().collect()
}

#[test]
fn null_sender() {
    let p = ReversePath::parse("<>", ASCII).unwrap();
    assert_eq!(p.path, ReversePath::Null);
    assert!(!p.source_route);
    assert_eq!(p.path.to_string(), "<>");
    assert_eq!(p.path.address(), None);
    assert_eq!(ForwardPath::parse("<>", ASCII), Err(AddressError::NullForwardPath));
}

#[test]
fn postmaster() {
    for s in ["<postmaster>", "<Postmaster>", "<POSTMASTER>"] {
        assert_eq!(rcpt(s).path, ForwardPath::Postmaster, "{s}");
    }
    assert_eq!(ForwardPath::Postmaster.to_string(), "<Postmaster>");
    let qualified = rcpt("<Postmaster@Example.ORG>").path;
    assert_eq!(qualified.to_string(), "<Postmaster@example.org>");
    // As a sender it is just an unqualified address.
    let sender = ReversePath::parse("<postmaster>", ASCII).unwrap().path;
    assert_eq!(sender.address().unwrap().domain(), None);
}

#[test]
fn plain_and_case() {
    let a = addr("John.Smith@Mail.Example.COM");
    assert_eq!(a.local_part(), "John.Smith");
    assert_eq!(a.domain(), Some(&Domain::Name("mail.example.com".into())));
    assert_eq!(a.to_string(), "John.Smith@mail.example.com");
    assert_ne!(a, addr("john.smith@mail.example.com"));
    assert_eq!(a, addr("John.Smith@mail.example.com."));
    assert_eq!(a.domain().unwrap().labels().collect::<Vec<_>>(), ["mail", "example", "com"]);
}

#[test]
fn unqualified() {
    let a = addr("user");
    assert_eq!(a.domain(), None);
    assert_eq!(a.to_string(), "user");
    let p = ReversePath::parse("<user>", ASCII).unwrap();
    assert_eq!(p.path.to_string(), "<user>");
}

#[test]
fn quoted_local_parts() {
    let a = addr(r#""John Doe"@example.org"#);
    assert_eq!(a.local_part(), "John Doe");
    assert!(a.is_quoted());
    assert_eq!(a.to_string(), r#""John Doe"@example.org"#);

    let a = addr(r#""say \"hi\" \\ bye"@example.org"#);
    assert_eq!(a.local_part(), r#"say "hi" \ bye"#);
    assert_eq!(a.to_string(), r#""say \"hi\" \\ bye"@example.org"#);

    // Needless quotes and escapes go.
    let a = addr(r#""abc"@example.org"#);
    assert_eq!(a, addr("abc@example.org"));
    assert_eq!(a.to_string(), "abc@example.org");
    assert_eq!(addr(r#""a\bc"@x"#).to_string(), "abc@x");
    assert_eq!(addr(r#""a..b"@x"#).to_string(), r#""a..b"@x"#);

    // Quoted with '>' inside, in a path.
    let p = rcpt(r#"<"a>b"@example.org>"#);
    assert_eq!(p.path.to_string(), r#"<"a>b"@example.org>"#);
}

#[test]
fn quoted_errors() {
    assert_eq!(err(r#""abc@x"#), AddressError::UnterminatedQuote);
    assert_eq!(err(r#""""@x"#), AddressError::EmptyLocalPart);
    assert_eq!(err("\"a\tb\"@x"), AddressError::InvalidQuotedChar { ch: '\t', pos: 2 });
    assert_eq!(err(r#""ab"c@x"#), AddressError::ExpectedAt { pos: 4 });
    assert_eq!(err("\"a\\"), AddressError::UnterminatedQuote);
}

#[test]
fn detail() {
    let a = addr("user+detail@example.org");
    assert_eq!((a.user(), a.detail()), ("user", Some("detail")));
    let a = addr("a+b+c@example.org");
    assert_eq!((a.user(), a.detail()), ("a", Some("b+c")));
    let a = addr("plain@example.org");
    assert_eq!((a.user(), a.detail()), ("plain", None));
    let a = addr("user+@example.org");
    assert_eq!((a.user(), a.detail()), ("user", Some("")));
}

#[test]
fn local_part_errors() {
    assert_eq!(err("@example.org"), AddressError::EmptyLocalPart);
    assert_eq!(err(""), AddressError::EmptyLocalPart);
    assert_eq!(err(".a@x"), AddressError::EmptyAtom { pos: 0 });
    assert_eq!(err("a..b@x"), AddressError::EmptyAtom { pos: 2 });
    assert_eq!(err("a.@x"), AddressError::EmptyAtom { pos: 2 });
    assert_eq!(err("a b@x"), AddressError::InvalidLocalChar { ch: ' ', pos: 1 });
    assert_eq!(err("a(b)@x"), AddressError::InvalidLocalChar { ch: '(', pos: 1 });
}

#[test]
fn domain_errors() {
    assert_eq!(err("a@"), AddressError::EmptyDomain { pos: 2 });
    assert_eq!(err("a@-x.org"), AddressError::LabelStartsWithHyphen { pos: 2 });
    assert_eq!(err("a@x-.org"), AddressError::LabelEndsWithHyphen { pos: 3 });
    assert_eq!(err("a@x..org"), AddressError::EmptyLabel { pos: 4 });
    assert_eq!(err("a@.org"), AddressError::EmptyLabel { pos: 2 });
    assert_eq!(err("a@org.."), AddressError::EmptyLabel { pos: 6 });
    assert_eq!(err("a@b@c"), AddressError::InvalidDomainChar { ch: '@', pos: 3 });
    assert_eq!(err("a@under_score.org"), AddressError::InvalidDomainChar { ch: '_', pos: 7 });
    assert!(matches!(err("a@xn--zz.org"), AddressError::InvalidIdn { .. }));
    // Error messages name the problem.
    assert_eq!(err("a@-x.org").to_string(), "domain label starts with '-' at byte 2");
}

#[test]
fn ipv4_literals() {
    let a = addr("a@[192.0.2.1]");
    assert_eq!(a.domain(), Some(&Domain::Ipv4(Ipv4Addr::new(192, 0, 2, 1))));
    assert_eq!(a.to_string(), "a@[192.0.2.1]");
    assert!(a.domain().unwrap().is_literal());
    assert_eq!(a.domain().unwrap().as_name(), None);
    for bad in ["a@[192.0.2]", "a@[192.0.2.256]", "a@[host.example]", "a@[]", "a@[01.2.3.4]"] {
        assert_eq!(err(bad), AddressError::InvalidIpv4Literal, "{bad}");
    }
    assert_eq!(err("a@[192.0.2.1"), AddressError::UnterminatedLiteral);
}

#[test]
fn ipv6_literals() {
    let a = addr("a@[IPv6:2001:DB8::1]");
    let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(a.domain(), Some(&Domain::Ipv6(v6)));
    assert_eq!(a.to_string(), "a@[IPv6:2001:db8::1]");
    assert_eq!(addr("a@[ipv6:2001:db8:0:0:0:0:0:1]"), a);
    assert_eq!(err("a@[2001:db8::1]"), AddressError::MissingIpv6Tag);
    assert_eq!(err("a@[::1]"), AddressError::MissingIpv6Tag);
    assert_eq!(err("a@[IPv6:2001:db8::g]"), AddressError::InvalidIpv6Literal);
    assert_eq!(err("a@[IPv6:192.0.2.1]"), AddressError::InvalidIpv6Literal);
    assert_eq!(err("a@[x-foo:bar]"), AddressError::UnsupportedLiteral { tag: "x-foo".into() });
}

#[test]
fn idna_equivalence() {
    let u = addr("user@Bücher.Example");
    let a = addr("user@xn--bcher-kva.example");
    assert_eq!(u, a);
    assert_eq!(u.to_string(), "user@xn--bcher-kva.example");
    assert_eq!(addr("user@XN--BCHER-KVA.example."), a);
    // The ideographic full stop is a dot in UTS 46.
    assert_eq!(addr("user@bücher\u{3002}example"), a);
    assert!(matches!(Address::parse("user@bü_cher.example", UTF8), Err(AddressError::InvalidIdn { .. })));
}

#[test]
fn smtputf8_on_and_off() {
    assert_eq!(Address::parse("jöran@example.org", ASCII), Err(AddressError::NeedsSmtputf8 { pos: 1 }));
    assert_eq!(Address::parse("a@bücher.example", ASCII), Err(AddressError::NeedsSmtputf8 { pos: 3 }));
    assert_eq!(Address::parse("\"j ö\"@x", ASCII), Err(AddressError::NeedsSmtputf8 { pos: 3 }));
    let e = ReversePath::parse("<jöran@example.org>", ASCII).unwrap_err();
    assert!(e.is_smtputf8_required());
    assert!(e.to_string().starts_with("non-ASCII address needs SMTPUTF8"));
    let a = addr("jöran@example.org");
    assert_eq!(a.local_part(), "jöran");
    assert!(a.needs_smtputf8());
    assert!(!addr("a@bücher.example").needs_smtputf8());
    assert_eq!(addr("\"j ö\"@x").to_string(), "\"j ö\"@x");
}

#[test]
fn relay_tricks() {
    assert_eq!(tricks(&addr("a@example.org")), []);
    assert_eq!(tricks(&addr("user%evil.example@mail.example.com")), [RelayTrick::PercentHack]);
    assert_eq!(tricks(&addr("evil.example!user@mail.example.com")), [RelayTrick::BangPath]);
    assert_eq!(tricks(&addr("a!b%c@x")), [RelayTrick::PercentHack, RelayTrick::BangPath]);
    for s in [r#""user@evil"@x"#, r#""a b%c"@x"#, r#""a b!c"@x"#] {
        assert_eq!(tricks(&addr(s)), [RelayTrick::QuotedAt], "{s}");
    }
    // Needless quotes: the canonical form is unquoted, so it is the % hack.
    assert_eq!(tricks(&addr(r#""a%b"@x"#)), [RelayTrick::PercentHack]);
    assert_eq!(tricks(&addr(r#""a b"@x"#)), []);
}

#[test]
fn source_routes() {
    let p = rcpt("<@mail.internal.example.com:user@evil.example>");
    assert!(p.source_route);
    assert_eq!(p.path.to_string(), "<user@evil.example>");
    assert_eq!(p.relay_tricks().collect::<Vec<_>>(), [RelayTrick::SourceRoute]);

    let p = rcpt("<@a.example,@[IPv6:2001:db8::1],@[192.0.2.1]:u%v@c.example>");
    assert!(p.source_route);
    assert_eq!(p.relay_tricks().collect::<Vec<_>>(), [RelayTrick::SourceRoute, RelayTrick::PercentHack]);
    let p = ReversePath::parse("<@a:b@c>", ASCII).unwrap();
    assert!(p.source_route);
    assert_eq!(p.path.to_string(), "<b@c>");
    assert_eq!(rcpt("<@hub:postmaster>").path, ForwardPath::Postmaster);

    for (bad, pos) in [("<@a>", 1), ("<@a,b:c@d>", 4), ("<@a,:c@d>", 4)] {
        assert_eq!(ForwardPath::parse(bad, ASCII), Err(AddressError::BadSourceRoute { pos }), "{bad}");
    }
    assert_eq!(ForwardPath::parse("<@-a:c@d>", ASCII), Err(AddressError::LabelStartsWithHyphen { pos: 2 }));
    assert_eq!(ForwardPath::parse("<@:c@d>", ASCII), Err(AddressError::EmptyDomain { pos: 2 }));
}

#[test]
fn brackets() {
    assert_eq!(ForwardPath::parse("a@b", ASCII), Err(AddressError::MissingOpenBracket));
    assert_eq!(ForwardPath::parse("<a@b", ASCII), Err(AddressError::MissingCloseBracket));
    assert_eq!(ForwardPath::parse("<a@b> SIZE=10", ASCII), Err(AddressError::TrailingInput { pos: 5 }));
    assert_eq!(ForwardPath::parse("<a@b>", ASCII).unwrap().path.to_string(), "<a@b>");
    // Positions inside a path count from the '<'.
    assert_eq!(ForwardPath::parse("<a b@c>", ASCII), Err(AddressError::InvalidLocalChar { ch: ' ', pos: 2 }));
}

#[test]
fn limits() {
    let local64 = "l".repeat(64);
    addr(&format!("{local64}@x"));
    assert_eq!(err(&format!("{local64}l@x")), AddressError::LocalPartTooLong { len: 65 });
    let quoted = format!("\"{}\"@x", "a ".repeat(32));
    assert_eq!(err(&quoted), AddressError::LocalPartTooLong { len: 66 });

    let label = "d".repeat(63);
    addr(&format!("a@{label}.x"));
    assert_eq!(err(&format!("a@{label}d.x")), AddressError::LabelTooLong { pos: 2, len: 64 });
    // 4 * 63 + 3 dots = 255.
    let domain255 = [label.as_str(); 4].join(".");
    assert_eq!(domain255.len(), 255);
    addr(&format!("a@{domain255}"));
    assert_eq!(err(&format!("a@{domain255}x")), AddressError::DomainTooLong { len: 256 });

    // Path: 256 octets including brackets.
    let domain = |n: usize| {
        let mut d = vec![label.as_str(); n / 64];
        let rest = "e".repeat(n % 64);
        d.push(&rest);
        d.join(".")
    };
    let ok = format!("<{local64}@{}>", domain(256 - 2 - 65));
    assert_eq!(ok.len(), 256);
    rcpt(&ok);
    let long = format!("<{local64}@{}>", domain(257 - 2 - 65));
    assert_eq!(ForwardPath::parse(&long, ASCII), Err(AddressError::PathTooLong { len: 257 }));
    // A U-label path within 256 whose A-label form is too long.
    let ulabel: String = (0..18).map(|i| char::from_u32(0x4e00 + i * 997).unwrap()).collect();
    let utf = format!("<{local64}@{ulabel}.{ulabel}.{ulabel}.{}>", "x".repeat(24));
    assert_eq!(utf.len(), 256);
    assert_eq!(ForwardPath::parse(&utf, UTF8), Err(AddressError::PathTooLong { len: 268 }));
    assert_eq!(err(&"a".repeat(321)), AddressError::AddressTooLong { len: 321 });
    assert!(err(&format!("{local64}l@x")).to_string().contains("longer than 64 octets"));
}

#[test]
fn domain_parse_directly() {
    assert_eq!(Domain::parse("Example.ORG.", ASCII).unwrap().as_name(), Some("example.org"));
    assert_eq!(Domain::parse("[IPv6:::1]", ASCII).unwrap().to_string(), "[IPv6:::1]");
}

// ---- properties ----

fn local_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-zA-Z0-9+%!-]{1,8}){0,3}",
        "[ -~]{1,30}",
        "[a-zé ü\"\\\\@]{1,20}",
    ]
}

fn domain_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?(\\.[a-zA-Z]{1,6}){0,3}\\.?".prop_map(Some),
        "[a-zäöü]{1,8}\\.[a-z]{2,4}".prop_map(Some),
        any::<[u8; 4]>().prop_map(|o| Some(format!("[{}]", Ipv4Addr::from(o)))),
        any::<u128>().prop_map(|v| Some(format!("[IPv6:{}]", Ipv6Addr::from(v)))),
    ]
}

fn quote(local: &str) -> String {
    let mut out = String::from("\"");
    for ch in local.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn render_parse_round_trip(local in local_strategy(), domain in domain_strategy()) {
        let text = match &domain {
            Some(d) => format!("{}@{d}", quote(&local)),
            None => quote(&local),
        };
        if let Ok(a) = Address::parse(&text, UTF8) {
            prop_assert_eq!(a.local_part(), local.as_str());
            let rendered = a.to_string();
            let again = Address::parse(&rendered, UTF8);
            prop_assert_eq!(again.as_ref(), Ok(&a), "{}", rendered);
            // Normalisation is idempotent: the rendered form renders as itself.
            prop_assert_eq!(again.unwrap().to_string(), rendered.clone());
            let path = format!("<{rendered}>");
            if let Ok(p) = ForwardPath::parse(&path, UTF8) {
                let again = ForwardPath::parse(&p.path.to_string(), UTF8).unwrap();
                prop_assert_eq!(again.path, p.path);
            }
            if !a.needs_smtputf8() {
                prop_assert_eq!(Address::parse(&rendered, ASCII), Ok(a));
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,80}", utf8 in any::<bool>()) {
        let options = ParseOptions { smtputf8: utf8 };
        let rendered = [
            Address::parse(&s, options).map(|a| a.to_string()),
            ReversePath::parse(&s, options).map(|p| p.path.to_string()),
            ForwardPath::parse(&s, options).map(|p| p.path.to_string()),
        ];
        for text in rendered.into_iter().flatten() {
            prop_assert!(!text.is_empty());
        }
    }

    #[test]
    fn arbitrary_paths_round_trip(s in "<[a-zA-Z0-9.@%!\"\\\\ :,\\[\\]ü+-]{0,30}>", utf8 in any::<bool>()) {
        let options = ParseOptions { smtputf8: utf8 };
        if let Ok(p) = ReversePath::parse(&s, options) {
            let again = ReversePath::parse(&p.path.to_string(), options).unwrap();
            prop_assert_eq!(again.path, p.path);
            prop_assert!(!again.source_route);
        }
        if let Ok(p) = ForwardPath::parse(&s, options) {
            let again = ForwardPath::parse(&p.path.to_string(), options).unwrap();
            prop_assert_eq!(again.path, p.path);
        }
    }
}
