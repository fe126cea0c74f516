use super::*;

fn error(value: &str) -> ErrorReply {
    match parse_rhs(value, RhsOptions::default()).unwrap() {
        TableRoute::Error(reply) => reply,
        other => panic!("{value}: {other:?}"),
    }
}

fn hosts(value: &str, options: RhsOptions) -> Vec<String> {
    match parse_rhs(value, options).unwrap() {
        TableRoute::Deliver { hosts, .. } => hosts.iter().map(|h| format!("{h}/{}", h.group)).collect(),
        other => panic!("{value}: {other:?}"),
    }
}

#[test]
fn error_forms_give_sendmails_replies() {
    // spec mailertable.md §6.5, verified against sendmail 8.18.
    let cases = [
        ("error:5.1.2:550 Host unknown here", "550 5.1.2 <u@dom>... Host unknown here"),
        ("error:4.4.1:450 Try again later", "450 4.4.1 <u@dom>... Try again later"),
        ("error:550 No mail for this host", "550 5.0.0 <u@dom>... No mail for this host"),
        ("error:450 Busy", "450 4.0.0 <u@dom>... Busy"),
        ("error:550 5.7.1 Policy reject", "550 5.7.1 <u@dom>... Policy reject"),
        ("error:nouser:No such host", "553 5.3.0 <u@dom>... No such host"),
        ("error:No route", "553 5.3.0 <u@dom>... No route"),
        ("ERROR:550   spaced    out  ", "550 5.0.0 <u@dom>... spaced out"),
        ("error:5.7.1:554 Go away", "554 5.7.1 Go away"),
    ];
    for (value, reply) in cases {
        assert_eq!(error(value).reply_for("u@dom"), reply, "{value}");
    }
    assert!(error("error:4.4.1:450 Try again later").is_temporary());
    assert!(!error("error:No route").is_temporary());
    assert_eq!(error("error:nouser:No such host").status.as_deref(), Some("nouser"));
}

#[test]
fn host_lists_keep_brackets_groups_and_ipv6_colons() {
    let plain = RhsOptions::default();
    assert_eq!(
        hosts("esmtp:mx1.example.com:mx2.example.com", plain),
        ["mx1.example.com/0", "mx2.example.com/1"]
    );
    assert_eq!(
        hosts("esmtp:a.example,b.example:c.example", plain),
        ["a.example/0", "b.example/0", "c.example/1"]
    );
    assert_eq!(hosts("esmtp:[10.0.0.1]:[10.0.0.2]", plain), ["[10.0.0.1]/0", "[10.0.0.2]/1"]);
    assert_eq!(hosts("esmtp:[IPv6:2001:db8::25]", plain), ["[IPv6:2001:db8::25]/0"]);
    // Without the ports extension a number is a host, as in sendmail (§6.6).
    assert_eq!(hosts("esmtp:[host.example]:587", plain), ["[host.example]/0", "587/1"]);
    let ports = RhsOptions { ports: true };
    assert_eq!(hosts("esmtp:[host.example]:587", ports), ["[host.example]:587/0"]);
    assert_eq!(hosts("esmtp:[a.example]:2525:[b.example]", ports), ["[a.example]:2525/0", "[b.example]/1"]);
}

#[test]
fn a_user_before_the_host_replaces_the_recipient() {
    let route = parse_rhs("SMTP:bob@[192.168.1.10]", RhsOptions::default()).unwrap();
    let TableRoute::Deliver { mailer, hosts, recipient, host_text } = route else { panic!() };
    assert_eq!(&*mailer, "smtp");
    assert_eq!(recipient.as_deref(), Some("bob@[192.168.1.10]"));
    assert_eq!(&*host_text, "[192.168.1.10]");
    assert_eq!(hosts[0].to_string(), "[192.168.1.10]");
    assert!(!hosts[0].mx);
}

#[test]
fn local_forms() {
    let local = |value| parse_rhs(value, RhsOptions::default()).unwrap();
    assert_eq!(local("local:catchall"), TableRoute::Local { user: Some("catchall".into()) });
    assert_eq!(local("local:"), TableRoute::Local { user: None });
    assert_eq!(local("local:user@host.example"), TableRoute::Local { user: Some("user".into()) });
}

#[test]
fn values_that_are_not_routes_say_why() {
    assert!(!has_mailer("relay.example.com"));
    assert!(!has_mailer("[192.0.2.1]"));
    assert!(!has_mailer("[IPv6:2001:db8::1]"));
    assert!(has_mailer("esmtp:[mx.example]"));
    let error = parse_rhs("relay.example.com", RhsOptions::default()).unwrap_err();
    assert!(error.to_string().contains("`esmtp:relay.example.com`"), "{error}");
    assert!(parse_rhs("esmtp:", RhsOptions::default()).is_err());
    assert!(parse_rhs("esmtp:[unclosed", RhsOptions::default()).is_err());
    assert!(parse_rhs("esmtp:[999.1.1.1]", RhsOptions::default()).is_err());
}

#[test]
fn interpolation_follows_the_map_layer() {
    assert_eq!(interpolate("%0-%1-%2", &[".sub.example.net", "x.y", "y"]), ".sub.example.net-x.y-y");
    assert_eq!(interpolate("%1%2%9", &["only"]), "");
    assert_eq!(interpolate("100%", &[]), "100%");
}

proptest::proptest! {
    #[test]
    fn arbitrary_values_never_panic(value in "\\PC{0,40}", ports in proptest::bool::ANY) {
        let _ = parse_rhs(&value, RhsOptions { ports });
        let _ = interpolate(&value, &["a", "b"]);
    }

    #[test]
    fn host_lists_render_back(names in proptest::collection::vec("[a-z]{1,8}(\\.[a-z]{1,8}){0,2}", 1..5), brackets in proptest::collection::vec(proptest::bool::ANY, 5)) {
        let elements: Vec<String> = names.iter().zip(&brackets).map(|(n, &b)| if b { format!("[{n}]") } else { n.clone() }).collect();
        let value = format!("esmtp:{}", elements.join(":"));
        let rendered: Vec<String> = match parse_rhs(&value, RhsOptions::default()).unwrap() {
            TableRoute::Deliver { hosts, .. } => hosts.iter().map(ToString::to_string).collect(),
            other => panic!("{other:?}"),
        };
        proptest::prop_assert_eq!(rendered, elements);
    }
}
