use proptest::prelude::*;
use smarthost_maps::{SourceOptions, TextMap};

use super::*;
use crate::{LookupOptions, LookupRequest, Mode, lookup};

/// What a value parses to, in a form a table can spell: `authz/authn/password/realm/mechanisms`
/// with `-` for absent, or the error variant's name.
fn outcome(value: &str, strict: bool) -> String {
    let parsed =
        if strict { AuthEntry::parse_strict(value.as_bytes()) } else { AuthEntry::parse(value.as_bytes()) };
    match parsed {
        Ok(e) => format!(
            "{}/{}/{}/{}/{}",
            e.authz,
            e.authn,
            String::from_utf8_lossy(e.password.expose()),
            e.realm.as_deref().unwrap_or("-"),
            e.mechanisms.map_or("-".to_owned(), |m| m.join(",")),
        ),
        Err(error) => format!("{error:?}").split([' ', '{']).next().unwrap_or_default().to_owned(),
    }
}

/// Spec §9 parsing vectors and §2 rules: value, sendmail-compatible result, strict result.
const PARSE_VECTORS: &[(&str, &str, &str, &str)] = &[
    (
        "V1",
        r#""U:relayuser@example.net" "P:Tr0ub4dor&3" "M:PLAIN LOGIN""#,
        "relayuser@example.net/relayuser@example.net/Tr0ub4dor&3/-/PLAIN,LOGIN",
        "same",
    ),
    ("V3", r#""U:default" "P=c2VjcmV0""#, "default/default/secret/-/-", "same"),
    ("V9", r#""u:a" "p:b" "m:plain""#, "a/a/b/-/plain", "same"),
    ("V10", r#""U:a" "X:1" "P:b""#, "UnknownTag", "UnknownTag"),
    ("V11", r#""U:a" "P=***""#, "BadBase64", "BadBase64"),
    ("V12", r#""I:a" "P:b""#, "a/a/b/-/-", "same"),
    ("V13", r#""U:a""#, "MissingPassword", "MissingPassword"),
    ("V14", r#""U:a" "P:b" extra "M:PLAIN""#, "a/a/b/-/-", "TrailingText"),
    ("V19", r#""U:a" "P:pa ss"word""#, "a/a/pa ss/-/-", "TrailingText"),
    ("V19 fixed", r#""U:a" "P=cGEgc3Mid29yZA==""#, "a/a/pa ss\"word/-/-", "same"),
    (
        "spec §2 line 2",
        r#""U:relay" "I:relay" "P=VHIwdWI0ZG9yJjM=" "M:CRAM-MD5""#,
        "relay/relay/Tr0ub4dor&3/-/CRAM-MD5",
        "same",
    ),
    (
        "U and I differ",
        r#""U:root" "I:user_name" "P:password" "M:LOGIN PLAIN""#,
        "root/user_name/password/-/LOGIN,PLAIN",
        "same",
    ),
    ("later tag wins", r#""U:a" "P:b" "P:c" "u:d""#, "d/d/c/-/-", "same"),
    ("empty realm", r#""U:a" "P:b" "R:""#, "a/a/b//-", "same"),
    ("realm", r#""U:a" "P:b" "R:example.org""#, "a/a/b/example.org/-", "same"),
    ("spaces kept", r#""U:a" "P: b ""#, "a/a/ b /-/-", "same"),
    ("tabs between", "\"U:a\"\t\"P:b\"", "a/a/b/-/-", "same"),
    ("no space between", r#""U:a""P:b""#, "a/a/b/-/-", "same"),
    ("empty value", "", "MissingPassword", "MissingPassword"),
    ("rest ignored", r#""U:a" "P:b" # comment"#, "a/a/b/-/-", "TrailingText"),
    ("unterminated", r#""U:a" "P:b"#, "Unquoted", "Unquoted"),
    ("too short", r#""U" "P:b""#, "Unquoted", "Unquoted"),
    ("bad delimiter", r#""U;a" "P:b""#, "BadDelimiter", "BadDelimiter"),
    ("only a password", r#""P:b""#, "MissingIdentity", "MissingIdentity"),
    ("empty password", r#""U:a" "P:""#, "EmptyPassword", "EmptyPassword"),
    ("empty user", r#""U:" "P:b""#, "EmptyIdentity", "EmptyIdentity"),
    ("NUL in user", r#""U=YQBi" "P:b""#, "NulByte", "NulByte"),
    ("non-UTF-8 user", r#""U=/w==" "P:b""#, "NotUtf8", "NotUtf8"),
    ("binary password", r#""U:a" "P=/w==""#, "a/a/\u{fffd}/-/-", "same"),
    ("seven items", r#""U:a" "P:b" "U:c" "U:d" "U:e" "U:f" "U:g""#, "g/g/b/-/-", "same"),
    ("eighth ignored", r#""U:a" "P:b" "U:c" "U:d" "U:e" "U:f" "U:g" "U:h""#, "g/g/b/-/-", "TooManyItems"),
];

#[test]
fn parse_vectors() {
    for &(name, value, lenient, strict) in PARSE_VECTORS {
        assert_eq!(outcome(value, false), lenient, "{name}: {value}");
        let strict = if strict == "same" { lenient } else { strict };
        assert_eq!(outcome(value, true), strict, "{name} (strict): {value}");
    }
}

#[test]
fn defaults_come_from_the_caller() {
    let entry = AuthEntry::parse(br#""U:a" "P:b""#).unwrap();
    assert_eq!(entry.realm_or("mail.example.org"), "mail.example.org");
    assert_eq!(entry.mechanisms_or(&["CRAM-MD5"]), ["CRAM-MD5"]);
    let entry = AuthEntry::parse(br#""U:a" "P:b" "R:" "M:""#).unwrap();
    assert_eq!(entry.realm_or("mail.example.org"), "");
    assert!(entry.mechanisms_or(&["CRAM-MD5"]).is_empty());
}

#[test]
fn messages_name_the_place_and_the_fix_but_never_the_text() {
    let at = Origin { path: Some("/etc/mail/authinfo".into()), line: Some(3), key: None };
    let error = parse_value(br#""U:a" "X:hunter2" "P:b""#, false, &at).unwrap_err();
    assert_eq!(
        error.to_string(),
        "/etc/mail/authinfo:3: unknown tag `X`; expected U, I, P, R or M followed by `:` (text) or `=` (base64)"
    );
    assert!(error.is_entry_error());
    let error = parse_value(br#""U:a" "P=hunter2!""#, false, &at).unwrap_err();
    assert!(error.to_string().starts_with("/etc/mail/authinfo:3: the text after `P=` is not valid base64"));
    assert!(!error.to_string().contains("hunter2"));
    let keyed = Origin { key: Some("AuthInfo:x".into()), ..Origin::default() };
    let error = parse_value(br#""U:a""#, false, &keyed).unwrap_err();
    assert_eq!(
        error.to_string(),
        "key `AuthInfo:x`: no password; add an item `\"P:password\"` (or `\"P=base64\"`)"
    );
}

/// Spec §9 lookup vectors: map text, mode, server_name, server_addr, expected key or `-`.
type LookupVector = (&'static str, &'static str, Mode, &'static str, Option<&'static str>, &'static str);

const LOOKUP_VECTORS: &[LookupVector] = &[
    (
        "V1",
        "AuthInfo:smtp.isp.example \"U:relayuser@example.net\" \"P:Tr0ub4dor&3\" \"M:PLAIN LOGIN\"\n",
        Mode::AuthInfoMap,
        "smtp.isp.example",
        None,
        "AuthInfo:smtp.isp.example",
    ),
    (
        "V2",
        "AuthInfo:smtp.isp.example \"U:relayuser@example.net\" \"P:Tr0ub4dor&3\" \"M:PLAIN LOGIN\"\n",
        Mode::AuthInfoMap,
        "mx2.isp.example",
        None,
        "-",
    ),
    (
        "V3",
        "AuthInfo:smtp.isp.example \"U:relayuser@example.net\" \"P:Tr0ub4dor&3\"\nAuthInfo: \"U:default\" \"P=c2VjcmV0\"\n",
        Mode::AuthInfoMap,
        "other.example",
        None,
        "AuthInfo:",
    ),
    (
        "V4",
        "AuthInfo:192.0.2.25 \"U:a\" \"P:b\"\n",
        Mode::AuthInfoMap,
        "[192.0.2.25]",
        Some("192.0.2.25"),
        "AuthInfo:192.0.2.25",
    ),
    (
        "V5",
        "AuthInfo:[192.0.2.25] \"U:a\" \"P:b\"\n",
        Mode::AuthInfoMap,
        "[192.0.2.25]",
        Some("192.0.2.25"),
        "AuthInfo:[192.0.2.25]",
    ),
    (
        "V6",
        "AuthInfo:isp.example \"U:a\" \"P:b\"\n",
        Mode::AccessMap,
        "smtp.isp.example",
        None,
        "AuthInfo:isp.example",
    ),
    ("V7", "AuthInfo:isp.example \"U:a\" \"P:b\"\n", Mode::AuthInfoMap, "smtp.isp.example", None, "-"),
    (
        "access: address prefix",
        "AuthInfo:192.0.2 \"U:a\" \"P:b\"\n",
        Mode::AccessMap,
        "mx.example",
        Some("192.0.2.25"),
        "AuthInfo:192.0.2",
    ),
    (
        "access: name before address",
        "AuthInfo:192.0.2.25 \"U:a\" \"P:b\"\nAuthInfo:example \"U:c\" \"P:d\"\n",
        Mode::AccessMap,
        "mx.example",
        Some("192.0.2.25"),
        "AuthInfo:example",
    ),
    (
        "first found wins",
        "AuthInfo:mx.example \"U:a\"\nAuthInfo: \"U:c\" \"P:d\"\n",
        Mode::AuthInfoMap,
        "mx.example",
        None,
        "MissingPassword",
    ),
    (
        "ipv6 uncompressed",
        "AuthInfo:IPv6:2001:db8:0:0:0:0:0:25 \"U:a\" \"P:b\"\n",
        Mode::AuthInfoMap,
        "mx.example",
        Some("2001:db8::25"),
        "AuthInfo:IPv6:2001:db8:0:0:0:0:0:25",
    ),
];

#[test]
fn lookup_vectors() {
    for &(name, text, mode, server_name, addr, expected) in LOOKUP_VECTORS {
        let (map, diagnostics) = TextMap::from_source(text.as_bytes(), &SourceOptions::default());
        assert!(diagnostics.is_empty(), "{name}: {diagnostics:?}");
        let request = LookupRequest {
            server_addr: addr.map(|a| a.parse().unwrap()),
            ..LookupRequest::new(server_name)
        };
        let options = LookupOptions { mode, ..LookupOptions::default() };
        let got = match lookup(&map, &request, &options) {
            Ok(Some(found)) => found.key,
            Ok(None) => "-".to_owned(),
            Err(error) => format!("{error:?}").split([' ', '{']).next().unwrap_or_default().to_owned(),
        };
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn sender_entries_win_and_stay_invisible_to_host_lookups() {
    let text = "AuthInfoFrom:alice@example.com:smtp.isp.example \"U:alice\" \"P:a\"\n\
                AuthInfoFrom:@example.com:smtp.isp.example \"U:shared\" \"P:s\"\n\
                AuthInfo:smtp.isp.example \"U:relay\" \"P:r\"\n";
    let (map, _) = TextMap::from_source(text.as_bytes(), &SourceOptions::default());
    let options = LookupOptions::default();
    let user = |sender| {
        let request = LookupRequest { sender, ..LookupRequest::new("smtp.isp.example") };
        lookup(&map, &request, &options).unwrap().unwrap().entry.authn
    };
    assert_eq!(user(Some("alice@example.com")), "alice");
    assert_eq!(user(Some("bob@example.com")), "shared");
    assert_eq!(user(Some("carol@example.net")), "relay");
    assert_eq!(user(None), "relay");
    // Another host gets none of them.
    let request =
        LookupRequest { sender: Some("alice@example.com"), ..LookupRequest::new("mx.other.example") };
    assert_eq!(lookup(&map, &request, &options).unwrap(), None);
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        any::<String>().prop_map(|s| s.replace('\0', "")),
        Just("\"".to_owned()),
        Just(" padded ".to_owned()),
    ]
}

fn entry_strategy() -> impl Strategy<Value = AuthEntry> {
    (
        text_strategy(),
        text_strategy(),
        prop::collection::vec(1u8..=255, 1..16),
        prop::option::of(text_strategy()),
        prop::option::of(prop::collection::vec("[A-Za-z0-9_-]{1,12}", 0..4)),
    )
        .prop_filter("a user must be present", |(u, i, ..)| !u.is_empty() || !i.is_empty())
        .prop_map(|(authz, authn, password, realm, mechanisms)| AuthEntry {
            authz,
            authn,
            password: Secret::new(password),
            realm,
            mechanisms,
        })
}

proptest! {
    #[test]
    fn parse_of_render_is_identity(entry in entry_strategy()) {
        let rendered = entry.render();
        prop_assert_eq!(AuthEntry::parse_strict(rendered.as_bytes()).unwrap(), entry);
    }

    #[test]
    fn arbitrary_bytes_never_panic(value in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = AuthEntry::parse(&value);
        let _ = AuthEntry::parse_strict(&value);
    }

    #[test]
    fn item_shaped_input_round_trips_when_it_parses(
        value in r#"( ?"[UIPRMuipX][:=][A-Za-z0-9+/= "]{0,6}"?){0,9}"#
    ) {
        if let Ok(entry) = AuthEntry::parse(value.as_bytes()) {
            prop_assert_eq!(AuthEntry::parse_strict(entry.render().as_bytes()).unwrap(), entry);
        }
    }
}
