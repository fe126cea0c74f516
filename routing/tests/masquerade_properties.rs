//! Properties of header rewriting over generated messages: random address
//! headers (display names plain, quoted and RFC 2047-encoded, comments,
//! groups, `<>`, folding between elements), random other headers and
//! bodies that mention addresses, LF or CRLF line ends.
//!
//! - every byte outside the reported edits is unchanged, and every edit
//!   lies inside an address the generator put there;
//! - each address comes out as the address API ([`Rewriter::rewrite`])
//!   rewrites it alone;
//! - rewriting is idempotent;
//! - the output parses with mail-parser, which sees the rewritten addresses;
//! - arbitrary header-like bytes never panic and keep every byte outside
//!   the edits.

use std::ops::Range;

use mail_parser::MessageParser;
use proptest::prelude::*;
use smarthost_maps::{SourceOptions, TextMap};
use smarthost_routing::{
    Address, AddressKind, Feature, HeaderRewrite, LocalNames, MailerRules, Masquerade, ParseOptions,
    Rewriter, address_header_kind,
};

const HOST: &str = "mail.internal.example.com";

const GENERICSTABLE: &str = "\
jdoe@mail.internal.example.com   john.doe@example.com
@legacy.example.org              %1@example.com
alice                            alice.smith
old+*@legacy.example.org         new+%1@example.com
";

/// The configurations of spec §6 A–E in one list, picked by index.
fn configuration(index: usize) -> Masquerade {
    let mut config = Masquerade::new(HOST).unwrap();
    config.masquerade_as("example.com").unwrap();
    match index {
        0 => {
            config.add_masquerade_domain("internal.example.com").add_exposed_user("root");
        }
        1 => {
            config
                .add_masquerade_domain("internal.example.com")
                .add_exposed_user("root")
                .enable(Feature::AllMasquerade)
                .enable(Feature::MasqueradeEnvelope);
        }
        2 => {
            config
                .add_masquerade_domain("internal.example.com")
                .enable(Feature::MasqueradeEntireDomain)
                .enable(Feature::AllMasquerade)
                .add_exception("keep.internal.example.com");
        }
        3 => {
            config.add_masquerade_domain("internal.example.com").enable(Feature::LimitedMasquerade);
        }
        _ => {
            config
                .add_generics_domain(HOST)
                .add_generics_domain("legacy.example.org")
                .enable(Feature::AllMasquerade);
        }
    }
    config
}

fn local() -> LocalNames {
    let mut local = LocalNames::new(HOST);
    local.add_name("mail");
    local.add_name("legacy.example.org");
    local
}

fn genericstable() -> TextMap {
    TextMap::from_source(GENERICSTABLE.as_bytes(), &SourceOptions::default()).0
}

// ---- generated messages ----

#[derive(Clone, Debug)]
struct Spec {
    local: String,
    domain: Option<String>,
}

#[derive(Clone, Debug)]
enum Element {
    Bare(Spec, Option<String>),
    Angle(String, Spec, Option<String>),
    Null,
    Group(String, Vec<Element>),
}

#[derive(Clone, Debug)]
enum Field {
    Addresses { name: String, elements: Vec<Element>, separators: Vec<String> },
    Other { name: String, value: String },
}

#[derive(Clone, Debug)]
struct Message {
    fields: Vec<Field>,
    body: String,
    crlf: bool,
}

/// Where the generator put an address, and in which header.
#[derive(Clone, Debug)]
struct Placed {
    range: Range<usize>,
    header: usize,
    kind: AddressKind,
}

fn with_case(word: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c }).collect()
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    let local = prop::sample::select(vec!["joe", "root", "jdoe", "alice", "old+news", "bob", "x.y", "list+"]);
    let domain = prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "mail",
            "mail.internal.example.com",
            "internal.example.com",
            "host.internal.example.com",
            "keep.internal.example.com",
            "legacy.example.org",
            "other.example",
            "example.com",
            "[127.0.0.1]",
        ])
        .prop_flat_map(with_case)
        .prop_map(Some),
    ];
    (local.prop_flat_map(with_case), domain).prop_map(|(local, domain)| Spec { local, domain })
}

fn comment() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec![
        "(John)",
        "(a, b: c; <d@e>)",
        "((nested) x)",
        "(\\) escaped)",
    ]))
    .prop_map(|c| c.map(str::to_string))
}

fn phrase() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "John Doe",
        "\"Doe, John\"",
        "\"a \\\" b\"",
        "=?utf-8?q?J=C3=B6rg_Doe?=",
        "=?iso-8859-1?b?Sm9l?=",
        "Dr. J.",
        "",
    ])
    .prop_map(str::to_string)
}

fn mailbox() -> impl Strategy<Value = Element> {
    prop_oneof![
        (spec(), comment()).prop_map(|(s, c)| Element::Bare(s, c)),
        (phrase(), spec(), comment()).prop_map(|(p, s, c)| Element::Angle(p, s, c)),
    ]
}

fn element() -> impl Strategy<Value = Element> {
    prop_oneof![
        4 => mailbox(),
        1 => Just(Element::Null),
        1 => (prop::sample::select(vec!["team", "undisclosed-recipients", "\"the list\""]),
              prop::collection::vec(mailbox(), 0..3))
            .prop_map(|(name, members)| Element::Group(name.to_string(), members)),
    ]
}

fn separator() -> impl Strategy<Value = String> {
    prop::sample::select(vec![", ", ",", " ,\n\t", ",\n ", ", (sep) "]).prop_map(str::to_string)
}

fn field() -> impl Strategy<Value = Field> {
    let address_name = prop::sample::select(vec![
        "From",
        "Sender",
        "Reply-To",
        "To",
        "Cc",
        "Bcc",
        "Resent-From",
        "Resent-To",
        "Errors-To",
        "Apparently-To",
    ])
    .prop_flat_map(with_case);
    let addresses =
        (address_name, prop::collection::vec((element(), separator()), 1..5)).prop_map(|(name, items)| {
            let (elements, separators) = items.into_iter().unzip();
            Field::Addresses { name, elements, separators }
        });
    let other = (
        prop::sample::select(vec![
            "Subject",
            "Received",
            "X-From",
            "Return-Receipt-To",
            "Message-Id",
            "Comments",
        ]),
        prop::sample::select(vec![
            "joe@mail",
            "from joe@mail.internal.example.com by x\n\tfor <root@mail>; 1 Jan 2024",
            "=?utf-8?q?To:_joe@mail?=",
            "<123@mail>",
            "\"unbalanced",
        ]),
    )
        .prop_map(|(name, value)| Field::Other { name: name.to_string(), value: value.to_string() });
    prop_oneof![3 => addresses, 1 => other]
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop::collection::vec(field(), 0..8),
        prop::sample::select(vec!["", "hello\n", "From: joe@mail\nTo: joe\n\nx\n", ".\n"]),
        any::<bool>(),
    )
        .prop_map(|(fields, body, crlf)| Message { fields, body: body.to_string(), crlf })
}

impl Message {
    /// The bytes, and where every address is.
    fn render(&self) -> (Vec<u8>, Vec<Placed>) {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut out = String::new();
        let mut placed = Vec::new();
        for (header, field) in self.fields.iter().enumerate() {
            match field {
                Field::Other { name, value } => {
                    out.push_str(&format!("{name}: {}{eol}", value.replace('\n', eol)));
                }
                Field::Addresses { name, elements, separators } => {
                    let kind = address_header_kind(name).unwrap();
                    out.push_str(name);
                    out.push_str(": ");
                    for (n, element) in elements.iter().enumerate() {
                        if n > 0 {
                            out.push_str(&separators[n].replace('\n', eol));
                        }
                        render_element(element, &mut out, &mut |range| {
                            placed.push(Placed { range, header, kind })
                        });
                    }
                    out.push_str(eol);
                }
            }
        }
        out.push_str(eol);
        out.push_str(&self.body.replace('\n', eol));
        (out.into_bytes(), placed)
    }
}

fn render_spec(spec: &Spec, out: &mut String, place: &mut dyn FnMut(Range<usize>)) {
    let start = out.len();
    out.push_str(&spec.local);
    if let Some(domain) = &spec.domain {
        out.push('@');
        out.push_str(domain);
    }
    place(start..out.len());
}

fn render_element(element: &Element, out: &mut String, place: &mut dyn FnMut(Range<usize>)) {
    match element {
        Element::Bare(spec, comment) => {
            render_spec(spec, out, place);
            if let Some(comment) = comment {
                out.push(' ');
                out.push_str(comment);
            }
        }
        Element::Angle(phrase, spec, comment) => {
            if !phrase.is_empty() {
                out.push_str(phrase);
                out.push(' ');
            }
            out.push('<');
            render_spec(spec, out, place);
            out.push('>');
            if let Some(comment) = comment {
                out.push(' ');
                out.push_str(comment);
            }
        }
        Element::Null => out.push_str("<>"),
        Element::Group(name, members) => {
            out.push_str(name);
            out.push(':');
            for (n, member) in members.iter().enumerate() {
                out.push_str(if n == 0 { " " } else { ", " });
                render_element(member, out, place);
            }
            out.push(';');
        }
    }
}

/// Every byte outside the edits is the same, in order; edits are sorted.
fn check_outside_unchanged(original: &[u8], edits: &HeaderRewrite) -> Result<(), TestCaseError> {
    let output = edits.apply(original);
    let (mut from, mut to) = (0, 0);
    for edit in &edits.edits {
        prop_assert!(edit.range.start >= from, "edits overlap or are out of order");
        prop_assert!(edit.range.end <= original.len());
        let kept = &original[from..edit.range.start];
        prop_assert_eq!(&output[to..to + kept.len()], kept);
        to += kept.len() + edit.replacement.len();
        from = edit.range.end;
    }
    prop_assert_eq!(&output[to..], &original[from..]);
    Ok(())
}

/// The addresses mail-parser sees in each address header, in order. (Its
/// default parser reads `Errors-To` and `Apparently-To` as text, so each
/// value is read again as a `To` value.)
fn parsed_addresses(message: &[u8]) -> Vec<Vec<String>> {
    let parsed = MessageParser::default().parse(message).expect("the message parses");
    parsed
        .headers()
        .iter()
        .filter(|h| address_header_kind(h.name()).is_some())
        .map(|h| {
            let mut to = b"To:".to_vec();
            to.extend_from_slice(&message[h.offset_start() as usize..h.offset_end() as usize]);
            let value = MessageParser::default().parse(&to[..]).expect("a To field parses");
            match value.to() {
                Some(list) => list
                    .iter()
                    .filter_map(|a| a.address())
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
                None => Vec::new(),
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn header_rewriting_changes_only_addresses_and_agrees_with_the_address_api(
        message in message(),
        config_index in 0..5usize,
    ) {
        let (local, config, table) = (local(), configuration(config_index), genericstable());
        let rewriter = Rewriter::new(&local, &config).genericstable(&table);
        let (bytes, placed) = message.render();
        let edits = rewriter.rewrite_headers(&bytes, MailerRules::Smtp).unwrap();
        check_outside_unchanged(&bytes, &edits)?;
        let output = edits.apply(&bytes);

        // Each edit is inside an address the generator placed.
        for edit in &edits.edits {
            prop_assert!(placed.iter().any(|p| p.range == edit.address), "edit outside an address: {edit:?}");
            prop_assert!(edit.address.start <= edit.range.start && edit.range.end <= edit.address.end);
        }
        // Each address comes out as the address API makes it.
        let mut expected_by_header: Vec<(usize, String)> = Vec::new();
        for p in &placed {
            let text = std::str::from_utf8(&bytes[p.range.clone()]).unwrap();
            let before = Address::parse(text, ParseOptions::default()).unwrap();
            let wanted = rewriter.rewrite(&before, p.kind, MailerRules::Smtp).unwrap().address;
            let after = match edits.edits.iter().find(|e| e.address == p.range) {
                Some(edit) => edit.after(&bytes),
                None => text.to_string(),
            };
            let got = Address::parse(&after, ParseOptions::default()).unwrap();
            prop_assert_eq!(&got, &wanted, "{} as {}", text, p.kind);
            expected_by_header.push((p.header, after));
        }
        // Idempotent.
        let again = rewriter.rewrite_headers(&output, MailerRules::Smtp).unwrap();
        prop_assert!(again.is_empty(), "a second pass changed {:?}", again.edits);
        // mail-parser reads the output, and sees the rewritten addresses.
        let headers_with_addresses: Vec<usize> = message
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f, Field::Addresses { .. }))
            .map(|(n, _)| n)
            .collect();
        let seen = parsed_addresses(&output);
        prop_assert_eq!(seen.len(), headers_with_addresses.len());
        for (seen, header) in seen.iter().zip(headers_with_addresses) {
            let expected: Vec<&str> =
                expected_by_header.iter().filter(|(h, _)| *h == header).map(|(_, a)| a.as_str()).collect();
            prop_assert_eq!(seen, &expected);
        }
    }

    #[test]
    fn any_header_like_bytes_keep_every_byte_outside_the_edits(
        chunks in prop::collection::vec(prop::sample::select(vec![
            "From:", "To:", "cc :", " ", "\t", "\r\n", "\n", "\r", "joe", "@", "mail", ".", ",", ";", ":", "<",
            ">", "\"", "(", ")", "[", "]", "\\", "=?utf-8?q?x?=", "root", "\u{e9}", "\u{0}", "\r\n\r\n",
        ]), 0..60),
        config_index in 0..5usize,
    ) {
        let bytes = chunks.concat().into_bytes();
        let (local, config, table) = (local(), configuration(config_index), genericstable());
        let rewriter = Rewriter::new(&local, &config).genericstable(&table);
        let edits = rewriter.rewrite_headers(&bytes, MailerRules::Smtp).unwrap();
        check_outside_unchanged(&bytes, &edits)?;
        let output = edits.apply(&bytes);
        prop_assert_eq!(MessageParser::default().parse(&bytes).is_some(), MessageParser::default().parse(&output).is_some());
        let again = rewriter.rewrite_headers(&output, MailerRules::Smtp).unwrap();
        prop_assert!(again.is_empty(), "a second pass changed {:?}", again.edits);
    }
}
