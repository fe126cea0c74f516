//! `smarthost route` with `--virtusertable`, `--aliases`, `--feature` and
//! the other ruleset-0 flags: the vectors of `routing/tests/vectors/`
//! (virtuser, aliases, redirect) through the binary, byte for byte, and
//! each output format and configuration key.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Outcome, SMARTHOST, Scratch, Stdin};

fn vectors(table: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../routing/tests/vectors").join(table)
}

fn route(scratch: &Scratch, args: &[&str], stdin: Stdin<'_>) -> Outcome {
    let mut all = vec!["route"];
    all.extend_from_slice(args);
    scratch.run(SMARTHOST, &all, stdin)
}

/// The flags a vector folder's `options` file stands for, or `None` when it
/// names something the command cannot take (`:include:` files at made-up
/// paths).
fn folder_flags(dir: &Path) -> Option<Vec<String>> {
    let mut flags = Vec::new();
    let mut table = dir.join("virtusertable");
    for line in fs::read_to_string(dir.join("options")).unwrap().lines() {
        let (name, value) = line.split_once(' ').unwrap();
        match name {
            "hostname" | "local-host-name" | "virtuser-domain" | "smart-host" | "feature" | "compat" => {
                flags.extend([format!("--{name}"), value.to_string()]);
            }
            "table" => table = dir.join(value),
            _ => return None,
        }
    }
    if table.exists() {
        flags.extend(["--virtusertable".into(), table.display().to_string()]);
    }
    if dir.join("aliases").exists() {
        flags.extend(["--aliases".into(), dir.join("aliases").display().to_string()]);
    }
    Some(flags)
}

/// The first column of each line, once per run of equal values.
fn inputs(expected: &str) -> String {
    let mut out = String::new();
    let mut last = None;
    for line in expected.lines() {
        let given = line.split('\t').next().unwrap();
        if last != Some(given) {
            out.push_str(given);
            out.push('\n');
            last = Some(given);
        }
    }
    out
}

#[test]
fn every_vector_folder_prints_its_expected_tsv() {
    let mut checked = 0;
    for table in ["virtuser", "aliases", "redirect"] {
        let mut dirs: Vec<PathBuf> =
            fs::read_dir(vectors(table)).unwrap().map(|e| e.unwrap().path()).collect();
        dirs.sort();
        for dir in dirs {
            let Ok(expected) = fs::read_to_string(dir.join("expected.tsv")) else { continue };
            let Some(flags) = folder_flags(&dir) else { continue };
            let mut args = vec!["--format".to_string(), "tsv".into()];
            args.extend(flags);
            args.push("-".into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let scratch = Scratch::new();
            let outcome = route(&scratch, &args, Stdin::Pipe(inputs(&expected).as_bytes()));
            assert_eq!(outcome.code, 0, "{}: {}", dir.display(), outcome.stderr);
            assert_eq!(outcome.stdout_text(), expected, "{}", dir.display());
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} folders checked");
}

#[test]
fn compiled_maps_route_the_same() {
    let scratch = Scratch::new();
    let dir = vectors("virtuser/domains");
    assert_eq!(scratch.makemap(&["hash", "virtusertable"], Stdin::File(&dir.join("virtusertable"))).code, 0);
    let expected = fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut args: Vec<String> = folder_flags(&dir).unwrap();
    let at = args.iter().position(|a| a == "--virtusertable").unwrap();
    args[at + 1] = "virtusertable.db".into();
    args.extend(["--format".into(), "tsv".into(), "-".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = route(&scratch, &args, Stdin::Pipe(inputs(&expected).as_bytes()));
    assert_eq!((outcome.code, outcome.stdout_text()), (0, expected), "{}", outcome.stderr);

    // The aliases through the database newaliases builds.
    let dir = vectors("aliases/spec-6.7");
    fs::copy(dir.join("aliases"), scratch.path("aliases")).unwrap();
    let built = scratch.run(SMARTHOST, &["newaliases", "aliases"], Stdin::Null);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let expected = fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let outcome = route(
        &scratch,
        &["--format", "tsv", "--hostname", "mail.example.org", "--aliases", "aliases", "-"],
        Stdin::Pipe(inputs(&expected).as_bytes()),
    );
    assert_eq!((outcome.code, outcome.stdout_text()), (0, expected), "{}", outcome.stderr);
}

#[test]
fn text_format_shows_each_target_and_explain_shows_each_key() {
    let scratch = Scratch::new();
    scratch.write(
        "virtusertable",
        b"info@virt.example.org  sales\nold@virt.example.org  new@else.example.REDIRECT\n",
    );
    scratch.write("aliases", b"sales: alice, bob@example.net\n");
    let outcome = route(
        &scratch,
        &[
            "--hostname",
            "mail.example.org",
            "--virtuser-domain",
            "virt.example.org",
            "--virtusertable",
            "virtusertable",
            "--aliases",
            "aliases",
            "--feature",
            "redirect",
            "info@virt.example.org",
            "old@virt.example.org",
        ],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "info@virt.example.org: mailer local, user alice\n\
         info@virt.example.org: mailer esmtp, host example.net, user bob@example.net\n\
         old@virt.example.org: mailer *error*, reply 551 5.1.1 User has moved; please try <new@else.example>\n"
    );
    let explained = route(
        &scratch,
        &[
            "--hostname",
            "mail.example.org",
            "--virtuser-domain",
            "virt.example.org",
            "--virtusertable",
            "virtusertable",
            "--aliases",
            "aliases",
            "--explain",
            "--format",
            "tsv",
            "--relay-domain",
            "example.org",
            "info+x@virt.example.org",
        ],
        Stdin::Null,
    );
    let text = explained.stdout_text();
    for line in [
        "# virtusertable: virtusertable, also for virt.example.org\n",
        "# virtusertable key `info+x@virt.example.org`: not found\n",
        "# virtusertable key `info@virt.example.org`: found `sales`\n",
        "# aliases key `sales`: found `alice, bob@example.net`\n",
        "# relay domains (class R): example.org; relaying is policy and does not change the route\n",
        "# rcpt: accepted (250 2.1.5)\n",
        "info+x@virt.example.org\tlocal\t\talice\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn json_lists_the_targets_and_the_rcpt_reply() {
    let scratch = Scratch::new();
    scratch.write("virtusertable", b"joe@virt.example.org error:nouser 550 No such user here\n");
    scratch.write("aliases", b"list: alice, owner-less@example.net\nowner-list: boss@example.org\n");
    let outcome = route(
        &scratch,
        &[
            "--format",
            "json",
            "--hostname",
            "virt.example.org",
            "--virtusertable",
            "virtusertable",
            "--aliases",
            "aliases",
            "joe@virt.example.org",
            "list",
        ],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let text = outcome.stdout_text();
    assert!(
        text.starts_with(
            "[\n  {\"address\":\"joe@virt.example.org\",\"mailer\":\"*error*\",\"host\":\"nouser\""
        ),
        "{text}"
    );
    assert!(
        text.contains("\"rcpt_reply\":\"550 5.0.0 <joe@virt.example.org>... No such user here\""),
        "{text}"
    );
    assert!(text.contains("\"targets\":[{\"address\":\"alice\",\"mailer\":\"local\""), "{text}");
    assert!(text.contains("\"owner\":\"boss@example.org\""), "{text}");
    assert!(text.ends_with("}\n]\n"), "{text}");
}

#[test]
fn the_config_file_names_the_tables_and_features() {
    let scratch = Scratch::new();
    scratch
        .write("virtusertable", b"a@virt.example.org moved@else.example.REDIRECT\n@virt.example.org %1+%2\n");
    scratch.write("aliases", b"b: \\b, copy\n");
    scratch.write("virtuser-domains", b"# class VirtHost\nvirt.example.org\n");
    scratch.write(
        "relay.toml",
        b"hostname = \"mail.example.org\"\n\
          relay_domains = [\"example.org\"]\n\
          virtuser_domain_file = \"virtuser-domains\"\n\
          [maps]\nvirtusertable = \"virtusertable\"\naliases = \"aliases\"\n\
          [routing]\nfeatures = [\"redirect\", \"masquerade_envelope\"]\n",
    );
    let outcome = route(
        &scratch,
        &["--config", "relay.toml", "--format", "tsv", "a@virt.example.org", "b+x@virt.example.org"],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout_text(),
        "a@virt.example.org\t*error*\t5.1.1\t551 5.1.1 User has moved; please try <moved@else.example>\n\
         b+x@virt.example.org\tlocal\t\tb\n\
         b+x@virt.example.org\tlocal\t\tcopy\n"
    );
    // A flag replaces the config's features.
    let plain = route(
        &scratch,
        &[
            "--config",
            "relay.toml",
            "--feature",
            "preserve_local_plus_detail",
            "--format",
            "tsv",
            "a@virt.example.org",
        ],
        Stdin::Null,
    );
    assert_eq!(
        plain.stdout_text(),
        "a@virt.example.org\tesmtp\telse.example.redirect\tmoved@else.example.redirect\n"
    );
}

#[test]
fn bad_flags_and_files_are_named() {
    let scratch = Scratch::new();
    let unknown =
        route(&scratch, &["--hostname", "h.example", "--feature", "nosuch", "u@x.example"], Stdin::Null);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("unknown feature `nosuch`; the features that change routing are redirect"),
        "{}",
        unknown.stderr
    );
    let access =
        route(&scratch, &["--hostname", "h.example", "--access", "missing", "u@x.example"], Stdin::Null);
    assert_eq!(access.code, 2);
    assert!(access.stderr.contains("missing"), "{}", access.stderr);
    scratch.write("access", b"To:x.example REJECT\n");
    let ignored = route(
        &scratch,
        &[
            "--hostname",
            "h.example",
            "--access",
            "access",
            "--feature",
            "access_db",
            "--explain",
            "u@x.example",
        ],
        Stdin::Null,
    );
    assert_eq!(ignored.code, 0, "{}", ignored.stderr);
    assert!(ignored.stdout_text().contains("access map access: not consulted"), "{}", ignored.stdout_text());
    assert!(
        ignored.stdout_text().contains("u@x.example: mailer esmtp, host x.example"),
        "{}",
        ignored.stdout_text()
    );
    scratch.write("aliases.db", b"not a map");
    scratch.write("aliases", b"a: b\n");
    let broken = route(&scratch, &["--hostname", "h.example", "--aliases", "aliases", "a"], Stdin::Null);
    assert_eq!(broken.code, 2);
    assert!(broken.stderr.contains("aliases.db"), "{}", broken.stderr);
}

#[test]
fn alias_file_problems_go_to_stderr_with_file_and_line() {
    let scratch = Scratch::new();
    scratch.write("aliases", b"good: alice\n# a comment ends the entry\n  orphan\nnocolon\n");
    let outcome = route(
        &scratch,
        &["--hostname", "h.example", "--aliases", "aliases", "--format", "tsv", "good"],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text(), "good\tlocal\t\talice\n");
    assert!(
        outcome.stderr.contains("aliases:3: error: Non-continuation line starts with space"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("aliases:4: error: `nocolon`... missing colon"), "{}", outcome.stderr);
}

#[test]
fn resolve_gives_each_smtp_target_its_next_hops() {
    let scratch = Scratch::new();
    scratch.fixture("route.zone");
    scratch.write("aliases", b"team: alice, bob@example.org, carol@nomail.example\n");
    let outcome = route(
        &scratch,
        &[
            "--hostname",
            "gw.example.net",
            "--aliases",
            "aliases",
            "--resolve",
            "--dns-zone",
            "route.zone",
            "--format",
            "tsv",
            "team",
        ],
        Stdin::Null,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let lines: Vec<String> = outcome.stdout_text().lines().map(String::from).collect();
    assert_eq!(lines[0], "team\tlocal\t\talice\t");
    assert_eq!(
        lines[1],
        "team\tesmtp\texample.org\tbob@example.org\t192.0.2.10:25,192.0.2.20:25,[2001:db8::20]:25"
    );
    assert!(lines[2].starts_with("team\tesmtp\tnomail.example\tcarol@nomail.example\t"), "{}", lines[2]);
    assert!(lines[2].contains("null MX"), "{}", lines[2]);
}
