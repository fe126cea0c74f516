//! `Rewriter::rewrite_headers` on arbitrary messages, under each of the
//! spec's configurations A–E (masquerade.md §6) and both mailers' rules:
//! it never panics; the edits are in order, inside the addresses they
//! name, and every byte outside them is unchanged; the output parses with
//! mail-parser whenever the input does, with as many header fields;
//! a second pass changes nothing. And `header_fields`, which the rewriter
//! uses to split the header, gives exactly mail-parser's fields; the
//! fields `add_missing_fields` adds are there for a second call to find.
//!
//! Input: the first byte picks the configuration (bits 0–2), the local
//! mailer's rules (bit 3) and whether the rest is steered onto header-like
//! tokens (bit 4, so that address syntax is reached quickly); the rest is
//! the message.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mail_parser::MessageParser;
use smarthost_maps::{SourceOptions, TextMap};
use mail_parser::HeaderName;
use smarthost_routing::{
    Address, Feature, HeaderRewrite, LocalNames, MailerRules, Masquerade, NewFields, ParseOptions, ReversePath,
    Rewriter, header_fields,
};

const HOST: &str = "mail.internal.example.com";

/// Pieces of headers, picked by byte value when steering.
const TOKENS: [&str; 48] = [
    "From:", "To:", "Cc: ", "Reply-To:", "Sender: ", "Bcc:", "Resent-To:", "Subject:", "X-A:", "\r\n", "\n",
    "\r\n ", "\n\t", "\r\n\r\n", " ", "\t", "joe", "root", "jdoe", "alice", "old+news", "@", "mail",
    "mail.internal.example.com", "internal.example.com", "legacy.example.org", "example.com", ".", ",", ";",
    ":", "<", ">", "\"", "(", ")", "[127.0.0.1]", "\\", "=?utf-8?q?J=C3=B6rg?=", "team:", "<>", "x.y", "é",
    "\0", "[", "]", "a", "\r",
];

struct Setup {
    local: LocalNames,
    configs: Vec<Masquerade>,
    genericstable: TextMap,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let mut local = LocalNames::new(HOST);
        local.add_name("mail");
        local.add_name("legacy.example.org");
        let configs = (0..5)
            .map(|n| {
                let mut config = Masquerade::new(HOST).expect("a host name");
                config.masquerade_as("example.com").expect("a domain");
                config.add_masquerade_domain("internal.example.com").add_exposed_user("root");
                match n {
                    1 => config.enable(Feature::AllMasquerade).enable(Feature::MasqueradeEnvelope),
                    2 => config
                        .enable(Feature::MasqueradeEntireDomain)
                        .enable(Feature::AllMasquerade)
                        .add_exception("keep.internal.example.com"),
                    3 => config.enable(Feature::LimitedMasquerade).enable(Feature::AlwaysAddDomain),
                    4 => config
                        .add_generics_domain(HOST)
                        .add_generics_domain("legacy.example.org")
                        .enable(Feature::AllMasquerade),
                    _ => &mut config,
                };
                config
            })
            .collect();
        let table = "jdoe@mail.internal.example.com john.doe@example.com\n\
                     @legacy.example.org %1@example.com\nalice alice.smith\n\
                     old+*@legacy.example.org new+%1@example.com\n";
        let (genericstable, _) = TextMap::from_source(table.as_bytes(), &SourceOptions::default());
        Setup { local, configs, genericstable }
    })
}

fn check_edits(original: &[u8], edits: &HeaderRewrite) -> Vec<u8> {
    let output = edits.apply(original);
    let (mut from, mut to) = (0, 0);
    for edit in &edits.edits {
        assert!(edit.range.start >= from, "edits out of order: {edit:?}");
        assert!(edit.range.end <= original.len());
        assert!(edit.address.start <= edit.range.start && edit.range.end <= edit.address.end, "{edit:?}");
        let kept = &original[from..edit.range.start];
        assert_eq!(&output[to..to + kept.len()], kept, "a byte outside the edits changed");
        let body = if edit.folded { edit.replacement.trim_start_matches(['\r', '\n', ' ']) } else { &edit.replacement };
        assert!(!body.contains(['\r', '\n']), "a line end inside a replacement: {edit:?}");
        to += kept.len() + edit.replacement.len();
        from = edit.range.end;
    }
    assert_eq!(&output[to..], &original[from..], "a byte after the last edit changed");
    output
}

/// `header_fields` against mail-parser, told to skip every value.
fn check_fields(message: &[u8]) {
    let ours: Vec<(usize, usize, usize)> =
        header_fields(message).map(|f| (f.start, f.value.start, f.value.end)).collect();
    let parser = MessageParser::new().default_header_ignore().ignore_header(HeaderName::Subject);
    let theirs: Vec<(usize, usize, usize)> = parser.parse_headers(message).map_or_else(Vec::new, |parsed| {
        parsed
            .headers()
            .iter()
            .map(|h| (h.offset_field() as usize, h.offset_start() as usize, h.offset_end() as usize))
            .collect()
    });
    assert_eq!(ours, theirs, "header_fields differs from mail-parser");
}

fn field_count(message: &[u8]) -> Option<usize> {
    MessageParser::default().parse_headers(message).map(|m| m.headers().len())
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else { return };
    let steered: Vec<u8>;
    let message = if flags & 0x10 != 0 {
        steered = rest.iter().flat_map(|&b| TOKENS[usize::from(b) % TOKENS.len()].bytes()).collect();
        &steered[..]
    } else {
        rest
    };
    let setup = setup();
    let config = &setup.configs[usize::from(flags & 7) % setup.configs.len()];
    let mailer = if flags & 8 != 0 { MailerRules::Local } else { MailerRules::Smtp };
    let rewriter = Rewriter::new(&setup.local, config).genericstable(&setup.genericstable);

    check_fields(message);
    let edits = rewriter.rewrite_headers(message, mailer).expect("a text map does not fail");
    let output = check_edits(message, &edits);
    assert_eq!(field_count(message), field_count(&output), "mail-parser sees another header");
    assert_eq!(MessageParser::default().parse(message).is_some(), MessageParser::default().parse(&output).is_some());
    let again = rewriter.rewrite_headers(&output, mailer).expect("a text map does not fail");
    assert!(again.is_empty(), "a second pass changed {:?}", again.edits);

    // The fields added to a header that lacks them: added once, then present.
    let sender = ReversePath::Address(Address::parse("jdoe", ParseOptions::default()).expect("an address"));
    let new = NewFields { date: "Mon, 1 Jan 2024 10:00:00 +0000", message_id: "<1@mail>" };
    let mut edits = edits;
    if rewriter.add_missing_fields(message, &sender, new, mailer, &mut edits).expect("a text map does not fail") {
        let completed = edits.apply(message);
        let mut none = HeaderRewrite::default();
        let added = rewriter.add_missing_fields(&completed, &sender, new, mailer, &mut none).expect("no failure");
        assert!(!added, "fields added twice: {:?}", String::from_utf8_lossy(&completed));
    }
});
