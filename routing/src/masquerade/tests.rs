use smarthost_maps::{SourceOptions, TextMap};

use super::*;
use crate::{SenderIdentity, genericstable_keys};

const HOST: &str = "mail.internal.example.com";

fn local() -> LocalNames {
    let mut local = LocalNames::new(HOST);
    local.add_name("mail");
    local.add_name("legacy.example.org");
    local
}

fn config() -> Masquerade {
    let mut config = Masquerade::new(HOST).unwrap();
    config.masquerade_as("example.com").unwrap().add_masquerade_domain("internal.example.com");
    config
}

fn addr(text: &str) -> Address {
    Address::parse(text, ParseOptions { smtputf8: true }).unwrap()
}

fn rewrite(rewriter: &Rewriter<'_>, text: &str, kind: AddressKind, mailer: MailerRules) -> (String, Reason) {
    let rewritten = rewriter.rewrite(&addr(text), kind, mailer).unwrap();
    (rewritten.address.to_string(), rewritten.reason)
}

fn hs(rewriter: &Rewriter<'_>, text: &str) -> String {
    rewrite(rewriter, text, AddressKind::HeaderSender, MailerRules::Smtp).0
}

fn table(text: &str) -> TextMap {
    let (map, diagnostics) = TextMap::from_source(text.as_bytes(), &SourceOptions::default());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    map
}

#[test]
fn names_are_normalised_and_the_masquerade_name_is_written_in_lower_case() {
    let local = local();
    let mut config = Masquerade::new("MAIL.Internal.Example.COM.").unwrap();
    config.masquerade_as("Example.COM").unwrap().add_masquerade_domain("INTERNAL.example.com.");
    let rewriter = Rewriter::new(&local, &config);
    assert_eq!(hs(&rewriter, "Joe@Internal.Example.Com"), "Joe@example.com");
    assert_eq!(config.hostname().to_string(), HOST);
    assert_eq!(config.masquerade_domains(), ["internal.example.com"]);
    assert!(Masquerade::new("not a name").is_err());
}

#[test]
fn without_masquerade_as_only_unqualified_addresses_change() {
    let local = local();
    let mut config = Masquerade::new(HOST).unwrap();
    config.add_exposed_user("root").enable(Feature::AllMasquerade).enable(Feature::MasqueradeEnvelope);
    let rewriter = Rewriter::new(&local, &config);
    for kind in AddressKind::ALL {
        let (address, reason) = rewrite(&rewriter, "joe", kind, MailerRules::Smtp);
        assert_eq!(
            (address.as_str(), reason),
            ("joe@mail.internal.example.com", Reason::Qualified),
            "{kind}"
        );
        let (address, reason) = rewrite(&rewriter, "joe@mail", kind, MailerRules::Smtp);
        assert_eq!((address.as_str(), reason), ("joe@mail", Reason::Unchanged), "{kind}");
    }
}

#[test]
fn exposed_users_are_matched_without_regard_to_case() {
    let local = local();
    let mut config = config();
    config.load_exposed_users("# exposed\nroot  postmaster\n");
    let rewriter = Rewriter::new(&local, &config);
    assert_eq!(rewrite(&rewriter, "ROOT", AddressKind::HeaderSender, MailerRules::Smtp).1, Reason::Exposed);
    assert_eq!(hs(&rewriter, "Postmaster@mail"), "Postmaster@mail");
    assert_eq!(hs(&rewriter, "postmaster@internal.example.com"), "postmaster@internal.example.com");
    // Exposed only where it would have been masqueraded from.
    assert_eq!(hs(&rewriter, "root@other.example"), "root@other.example");
    assert_eq!(config.exposed_users(), ["postmaster", "root"]);
}

#[test]
fn exposed_users_under_limited_masquerade_keep_class_w_but_not_class_m() {
    let local = local();
    let mut config = config();
    config.add_exposed_user("root").enable(Feature::LimitedMasquerade);
    let rewriter = Rewriter::new(&local, &config);
    assert_eq!(hs(&rewriter, "root"), "root@mail.internal.example.com");
    assert_eq!(hs(&rewriter, "root@mail"), "root@mail");
    assert_eq!(hs(&rewriter, "root@internal.example.com"), "root@internal.example.com");
    assert_eq!(hs(&rewriter, "joe@internal.example.com"), "joe@example.com");
}

#[test]
fn address_literals_of_this_host_are_class_w() {
    let local = local();
    let config = config();
    let rewriter = Rewriter::new(&local, &config);
    assert_eq!(hs(&rewriter, "joe@[127.0.0.1]"), "joe@example.com");
    assert_eq!(hs(&rewriter, "joe@[IPv6:::1]"), "joe@example.com");
    assert_eq!(hs(&rewriter, "joe@[192.0.2.9]"), "joe@[192.0.2.9]");
}

#[test]
fn the_masquerade_name_itself_is_left_alone() {
    let mut local = local();
    local.add_name("example.com");
    let config = config();
    let rewriter = Rewriter::new(&local, &config);
    let rewritten = rewriter.rewrite(&addr("joe@example.com"), AddressKind::HeaderSender, MailerRules::Smtp);
    assert_eq!(rewritten.unwrap().address, addr("joe@example.com"));
}

#[test]
fn class_n_wins_over_class_m_and_class_w_and_covers_sub_domains() {
    let mut local = local();
    local.add_name("keep.example.org");
    let mut config = config();
    config.add_exception("keep.example.org").add_exception("internal.example.com");
    let rewriter = Rewriter::new(&local, &config);
    assert_eq!(
        rewrite(&rewriter, "joe@keep.example.org", AddressKind::HeaderSender, MailerRules::Smtp).1,
        Reason::Exception
    );
    assert_eq!(hs(&rewriter, "joe@internal.example.com"), "joe@internal.example.com");
    assert_eq!(hs(&rewriter, "joe@mail.internal.example.com"), "joe@mail.internal.example.com");
    assert_eq!(hs(&rewriter, "joe"), "joe@example.com");
}

#[test]
fn the_local_mailer_qualifies_the_envelope_sender_and_strips_recipients() {
    let local = local();
    let config = config();
    let rewriter = Rewriter::new(&local, &config);
    let local_mailer = |text: &str, kind| rewrite(&rewriter, text, kind, MailerRules::Local);
    assert_eq!(local_mailer("joe", AddressKind::EnvelopeSender).0, "joe@mail.internal.example.com");
    assert_eq!(local_mailer("joe", AddressKind::HeaderSender), ("joe".into(), Reason::LocalUnqualified));
    assert_eq!(local_mailer("joe", AddressKind::HeaderRecipient).0, "joe");
    assert_eq!(local_mailer("joe+box@other.example", AddressKind::EnvelopeRecipient).0, "joe+box");
    assert_eq!(local_mailer("joe@mail", AddressKind::HeaderRecipient).0, "joe@mail");
}

#[test]
fn always_add_domain_with_an_argument_qualifies_and_stops_there() {
    let local = local();
    let mut config = config();
    config.always_add_domain_as("shared.example.net").unwrap();
    assert!(config.is_enabled(Feature::AlwaysAddDomain));
    let rewriter = Rewriter::new(&local, &config);
    for kind in [AddressKind::HeaderSender, AddressKind::HeaderRecipient, AddressKind::EnvelopeSender] {
        assert_eq!(rewrite(&rewriter, "joe", kind, MailerRules::Local).0, "joe@shared.example.net", "{kind}");
    }
    // The SMTP mailers qualify with $j as ever.
    assert_eq!(hs(&rewriter, "joe"), "joe@example.com");
}

#[test]
fn local_no_masquerade_turns_the_local_mailer_off() {
    let local = local();
    let mut config = config();
    config.enable(Feature::LocalNoMasquerade).enable(Feature::AlwaysAddDomain);
    let rewriter = Rewriter::new(&local, &config);
    let (address, _) = rewrite(&rewriter, "joe@mail", AddressKind::HeaderSender, MailerRules::Local);
    assert_eq!(address, "joe@mail");
    let (address, _) = rewrite(&rewriter, "joe", AddressKind::HeaderSender, MailerRules::Local);
    assert_eq!(address, "joe@mail.internal.example.com");
    assert_eq!(hs(&rewriter, "joe@mail"), "joe@example.com");
}

#[test]
fn an_unqualified_genericstable_result_goes_through_class_e() {
    let local = local();
    let mut config = config();
    config.add_exposed_user("root").add_generics_domain(HOST);
    let map = table("admin  root\nsupport  help-desk\n");
    let rewriter = Rewriter::new(&local, &config).genericstable(&map);
    let rewritten = rewriter.rewrite(&addr("admin"), AddressKind::HeaderSender, MailerRules::Smtp).unwrap();
    assert_eq!(rewritten.address.to_string(), "root@mail.internal.example.com");
    assert_eq!(rewritten.reason, Reason::Exposed);
    assert_eq!(rewritten.generics.unwrap().key, "admin");
    assert_eq!(hs(&rewriter, "support@mail.internal.example.com"), "help-desk@example.com");
}

#[test]
fn genericstable_eligibility_follows_class_g() {
    let local = local();
    let mut config = config();
    config.add_generics_domain("example.org");
    let map = table("@example.org  %1@example.com\n@a.example.org  a-%1@example.com\n");
    let rewriter = Rewriter::new(&local, &config).genericstable(&map);
    assert_eq!(hs(&rewriter, "bob@example.org"), "bob@example.com");
    assert_eq!(hs(&rewriter, "bob@a.example.org"), "bob@a.example.org");
    config.enable(Feature::GenericsEntireDomain);
    let rewriter = Rewriter::new(&local, &config).genericstable(&map);
    assert_eq!(hs(&rewriter, "bob@a.example.org"), "a-bob@example.com");
    assert_eq!(hs(&rewriter, "bob@b.a.example.org"), "bob@b.a.example.org", "@domain is the exact domain");
}

#[test]
fn percent_zero_is_the_key_and_values_are_trimmed() {
    let local = local();
    let mut config = config();
    config.add_generics_domain(HOST);
    let map = table("list+*  %0-%1@lists.example.com  \n");
    let rewriter = Rewriter::new(&local, &config).genericstable(&map);
    assert_eq!(hs(&rewriter, "list+news"), "list+*-news@lists.example.com");
}

#[test]
fn a_genericstable_value_that_is_no_address_is_an_error_naming_the_entry() {
    let local = local();
    let mut config = config();
    config.add_generics_domain(HOST);
    let map = table("jdoe  John Doe <john@example.com>\n");
    let rewriter = Rewriter::new(&local, &config).genericstable(&map);
    let error = rewriter.rewrite(&addr("jdoe"), AddressKind::HeaderSender, MailerRules::Smtp).unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("genericstable entry `jdoe`: value `John Doe"), "{message}");
    // Kinds that are not masqueraded never look.
    assert!(rewriter.rewrite(&addr("jdoe"), AddressKind::EnvelopeRecipient, MailerRules::Smtp).is_ok());
}

/// A map that cannot be read.
struct Broken;

impl Map for Broken {
    fn lookup(&self, _key: &[u8]) -> Result<Option<&[u8]>, smarthost_maps::Error> {
        Err(smarthost_maps::Error::Corrupt { path: "genericstable.db".into(), detail: "bad checksum".into() })
    }
}

#[test]
fn a_map_failure_is_returned_for_the_caller_to_defer() {
    let local = local();
    let mut config = config();
    config.add_generics_domain(HOST);
    let rewriter = Rewriter::new(&local, &config).genericstable(&Broken);
    let error = rewriter.rewrite(&addr("joe"), AddressKind::HeaderSender, MailerRules::Smtp).unwrap_err();
    assert!(matches!(error, RewriteError::Map { table: "genericstable", .. }), "{error}");
}

#[test]
fn a_quoted_local_part_is_one_key_and_comes_back_quoted() {
    let local = local();
    let mut config = config();
    config.add_generics_domain(HOST);
    let map = table("@mail.internal.example.com  %1@example.com\n");
    let rewriter = Rewriter::new(&local, &config).genericstable(&map);
    let keys: Vec<String> =
        genericstable_keys(&addr("\"john+doe smith\"@x"), "x", true).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["\"john+doe smith\"@x", "@x", "\"john+doe smith\""]);
    assert_eq!(hs(&rewriter, "\"John Doe\"@mail.internal.example.com"), "\"John Doe\"@example.com");
    // Needless quotes are no quotes (RFC 5322 §3.4.1): the same address.
    assert_eq!(hs(&rewriter, "\"jdoe\"@mail.internal.example.com"), "jdoe@example.com");
}

#[test]
fn the_sender_identity_replaces_the_envelope_sender_only() {
    let local = local();
    let config = config();
    let identity =
        SenderIdentity::new(Some(addr("me@example.com")), addr("me+shop@example.com"), "shop.example");
    let rewriter = Rewriter::new(&local, &config).sender_identity(&identity);
    let (path, reason) = rewriter
        .rewrite_reverse_path(&ReversePath::Address(addr("ME@example.com")), MailerRules::Smtp)
        .unwrap();
    assert_eq!((path.to_string().as_str(), reason), ("<me+shop@example.com>", Reason::SenderIdentity));
    assert_eq!(
        rewriter.rewrite_reverse_path(&ReversePath::Null, MailerRules::Smtp).unwrap().0,
        ReversePath::Null
    );
    let (other, _) = rewrite(&rewriter, "other@mail", AddressKind::EnvelopeSender, MailerRules::Smtp);
    assert_eq!(other, "other@mail");
    let (recipient, _) =
        rewrite(&rewriter, "me@example.com", AddressKind::EnvelopeRecipient, MailerRules::Smtp);
    assert_eq!(recipient, "me@example.com");
}

#[test]
fn feature_names_are_sendmails_and_mistakes_list_them() {
    assert_eq!("allmasquerade".parse::<Feature>(), Ok(Feature::AllMasquerade));
    assert_eq!("Masquerade-Envelope".parse::<Feature>(), Ok(Feature::MasqueradeEnvelope));
    for feature in Feature::ALL {
        assert_eq!(feature.name().parse::<Feature>(), Ok(feature));
    }
    let error = "all_masquerade".parse::<Feature>().unwrap_err().to_string();
    assert_eq!(
        error,
        "unknown feature `all_masquerade`; the features that change rewriting are: masquerade_envelope, \
         allmasquerade, masquerade_entire_domain, limited_masquerade, generics_entire_domain, \
         always_add_domain, local_no_masquerade"
    );
    let error = "genericstable".parse::<Feature>().unwrap_err().to_string();
    assert!(error.contains("enabled by giving its file"), "{error}");
}

#[test]
fn kinds_and_mailers_have_sendmails_names() {
    assert_eq!(AddressKind::ALL.map(AddressKind::tryflags), ["ES", "HS", "ER", "HR"]);
    assert_eq!("hr".parse::<AddressKind>(), Ok(AddressKind::HeaderRecipient));
    assert!("XX".parse::<AddressKind>().is_err());
    assert_eq!(MailerRules::from_name("RELAY"), Some(MailerRules::Smtp));
    assert_eq!(MailerRules::from_name("prog"), Some(MailerRules::Local));
    assert_eq!(MailerRules::from_name("uucp"), None);
    let mailers = crate::Mailers::standard();
    assert_eq!(MailerRules::for_mailer(mailers.get("local").unwrap()), MailerRules::Local);
    assert_eq!(MailerRules::for_mailer(mailers.get("relay").unwrap()), MailerRules::Smtp);
}
