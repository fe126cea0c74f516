use std::collections::{BTreeSet, HashMap};

use smarthost_maps::{SourceOptions, TextMap};

use super::*;
use crate::{AliasFile, AliasTable, Mailers, Mailertable, MailertableOptions};

struct Setup {
    local: LocalNames,
    mailers: Mailers,
    aliases: AliasTable,
    virtuser: TextMap,
    mailertable: TextMap,
    domains: VirtuserDomains,
}

fn setup(aliases: &str, virtuser: &str) -> Setup {
    let mut local = LocalNames::new("mail.example.org");
    local.add_name("virt.example.org");
    let mailertable = ".bad.example error:5.1.2:550 Host unknown here\n";
    Setup {
        local,
        mailers: Mailers::standard(),
        aliases: AliasTable::from_file(&AliasFile::parse(aliases.as_bytes(), None)),
        virtuser: TextMap::from_source(virtuser.as_bytes(), &SourceOptions::default()).0,
        mailertable: TextMap::from_source(mailertable.as_bytes(), &SourceOptions::default()).0,
        domains: VirtuserDomains::default(),
    }
}

impl Setup {
    fn resolver(&self) -> RecipientResolver<'_> {
        let router = Router::new(&self.local, &self.mailers)
            .mailertable(Mailertable::new(&self.mailertable, MailertableOptions::default()));
        RecipientResolver::new(&self.local, router)
            .virtusertable(Virtusertable::new(&self.virtuser), &self.domains)
            .aliases(Aliases::new(&self.aliases))
    }
}

fn address(text: &str) -> Address {
    Address::parse(text, ParseOptions::default()).unwrap()
}

fn words(resolution: &Resolution) -> Vec<String> {
    resolution.targets.iter().map(ToString::to_string).collect()
}

#[test]
fn unknown_local_users_are_refused_when_the_users_are_known() {
    let s = setup("staff: alice, ghost\n", "");
    let users: BTreeSet<String> = ["alice", "bob"].into_iter().map(String::from).collect();
    let resolver = s.resolver().local_users(&users);
    let bob = resolver.resolve(&address("bob+tag@mail.example.org")).unwrap();
    assert_eq!(words(&bob), ["mailer local, user bob+tag"]);
    let carol = resolver.resolve(&address("carol@mail.example.org")).unwrap();
    assert_eq!(carol.rcpt_reply().unwrap(), "550 5.1.1 <carol@mail.example.org>... User unknown");
    // Inside a list: delivered to the others; reported only at delivery.
    let staff = resolver.resolve(&address("staff")).unwrap();
    assert_eq!(staff.rcpt_reply(), None);
    let refused: Vec<String> = staff.refusals().map(|(t, r)| r.reply.reply_for(&t.address)).collect();
    assert_eq!(refused, ["550 5.1.1 <ghost>... User unknown"]);
}

#[test]
fn preserve_local_plus_detail_looks_up_the_full_name_only() {
    let s = setup("joe: joseph\n", "");
    let plain = s.resolver().resolve(&address("joe+x")).unwrap();
    assert_eq!(words(&plain), ["mailer local, user joseph"]);
    let options = ResolveOptions { preserve_local_plus_detail: true, ..ResolveOptions::default() };
    let kept = s.resolver().options(options).resolve(&address("joe+x")).unwrap();
    assert_eq!(kept.targets[0].action, Action::Local { user: "joe+x".into(), detail: None });
}

#[test]
fn programs_and_files_only_come_from_aliases() {
    let s = setup("", "prog@virt.example.org \"|/bin/sh\"\nfile@virt.example.org /etc/passwd\n");
    let prog = s.resolver().resolve(&address("prog@virt.example.org")).unwrap();
    assert_eq!(
        prog.rcpt_reply().unwrap(),
        "550 5.7.1 <prog@virt.example.org>... Cannot mail directly to programs"
    );
    let file = s.resolver().resolve(&address("file@virt.example.org")).unwrap();
    assert!(matches!(&file.targets[0].action, Action::Refuse(Refusal { cause: Cause::Direct, .. })));
    let include = s.resolver().resolve(&address("\":include:/etc/x\"")).unwrap();
    assert!(include.rcpt_reply().unwrap().ends_with("Cannot mail directly to :include:s"));
}

#[test]
fn includes_need_a_reader_and_report_its_errors() {
    let s = setup("list: :include:/lists/a\nbig: :include:/lists/big\n", "");
    let none = s.resolver().resolve(&address("list")).unwrap();
    assert!(none.rcpt_reply().unwrap().contains("reads no :include: files"), "{:?}", none.rcpt_reply());
    struct Failing;
    impl IncludeReader for Failing {
        fn read_include(&self, path: &str) -> Result<String, IncludeError> {
            Err(if path.ends_with("big") {
                IncludeError::TooLarge { path: path.into(), size: 10, limit: 1 }
            } else {
                IncludeError::Temporary { path: path.into(), reason: "EIO".into() }
            })
        }
    }
    let temporary = s.resolver().includes(&Failing).resolve(&address("list")).unwrap();
    assert!(temporary.is_temporary());
    assert_eq!(temporary.rcpt_reply().unwrap(), "451 4.3.0 Cannot read /lists/a now: EIO");
    let big = s.resolver().includes(&Failing).resolve(&address("big")).unwrap();
    assert!(big.rcpt_reply().unwrap().starts_with("552 5.3.4 :include: file /lists/big is 10 bytes"));
    // A list that includes itself is a loop, cut.
    let lists: HashMap<String, String> =
        [("/lists/a".to_string(), "b, :include:/lists/a\n".to_string())].into();
    let looped = s.resolver().includes(&lists).resolve(&address("list")).unwrap();
    assert_eq!(words(&looped), ["mailer local, user b"]);
    assert!(looped.steps.iter().any(|s| matches!(s, Step::Loop { .. })));
}

#[test]
fn the_expansion_is_bounded() {
    let members: Vec<String> = (0..50).map(|n| format!("u{n}")).collect();
    let s = setup(&format!("big: {}\n", members.join(", ")), "");
    let options = ResolveOptions { max_targets: 10, ..ResolveOptions::default() };
    let big = s.resolver().options(options).resolve(&address("big")).unwrap();
    assert_eq!(big.targets.len(), 11);
    assert!(matches!(&big.targets[10].action, Action::Refuse(Refusal { cause: Cause::TooManyTargets, .. })));
}

#[test]
fn members_go_through_the_mailertable_and_the_virtusertable() {
    let s = setup(
        "mix: u@x.bad.example, \\v@virt.example.org, w@virt.example.org, empty\nempty: ,\n",
        "v@virt.example.org error:nouser 550 No v\nw@virt.example.org wendy\n",
    );
    let mix = s.resolver().resolve(&address("mix")).unwrap();
    assert_eq!(
        words(&mix),
        [
            "mailer *error*, reply 550 5.1.2 Host unknown here",
            "mailer *error*, reply 550 5.0.0 No v",
            "mailer local, user wendy",
        ]
    );
    // `empty` lists no one; among other members that is no failure.
    assert!(!words(&mix).iter().any(|w| w.contains("lists no")));
    let empty = s.resolver().resolve(&address("empty")).unwrap();
    assert_eq!(empty.rcpt_reply().unwrap(), "550 5.1.1 <empty>... alias empty lists no recipients");
    // sendmail's mode: accepted at RCPT, failed at delivery.
    let later = s.resolver().options(ResolveOptions::sendmail()).resolve(&address("empty")).unwrap();
    assert_eq!(later.rcpt_reply(), None);
}

#[test]
fn postmaster_is_aliased_and_errors_have_replies() {
    let s = setup("postmaster: root\n", "");
    let path = ForwardPath::Postmaster;
    let resolution = s.resolver().resolve_path(&path).unwrap();
    assert_eq!(words(&resolution), ["mailer local, user root"]);
    assert_eq!(resolution.recipient, "postmaster");
    let error = ResolveError::Map {
        table: "aliases",
        source: smarthost_maps::Error::Corrupt { path: "/x".into(), detail: "bad".into() },
    };
    assert_eq!(error.reply().reply_for("u@x"), "451 4.3.0 Temporary lookup failure");
}

#[test]
fn a_bad_virtusertable_value_is_a_configuration_error() {
    let s = setup("", "a@virt.example.org x, y\n");
    let resolution = s.resolver().resolve(&address("a@virt.example.org")).unwrap();
    let reply = resolution.rcpt_reply().unwrap();
    assert!(
        reply.starts_with("554 5.3.5 virtusertable entry `a@virt.example.org`: `x, y` lists several"),
        "{reply}"
    );
}

#[test]
fn explaining_records_every_key_tried() {
    let s = setup("info: alice\n", "@virt.example.org %1\n");
    let resolution = s.resolver().resolve_explained(&address("info+x@virt.example.org")).unwrap();
    let lines: Vec<String> = resolution.steps.iter().flat_map(Step::lines).collect();
    assert_eq!(
        lines,
        [
            "virtusertable key `info+x@virt.example.org`: not found",
            "virtusertable key `info++@virt.example.org`: not found",
            "virtusertable key `info+*@virt.example.org`: not found",
            "virtusertable key `info@virt.example.org`: not found",
            "virtusertable key `++@virt.example.org`: not found",
            "virtusertable key `+*@virt.example.org`: not found",
            "virtusertable key `@virt.example.org`: found `%1`",
            "virtusertable: info+x@virt.example.org matches `@virt.example.org` -> `info` (from `%1`)",
            "routed: info by an unqualified address or <postmaster>: local",
            "aliases key `info`: found `alice`",
            "aliases: info matches `info`: alice",
            "routed: alice by an unqualified address or <postmaster>: local",
            "aliases key `alice`: not found",
            "aliases: no alias for alice: local delivery",
        ]
    );
}
