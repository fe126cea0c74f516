//! Unit tests of reading, validating and rendering a configuration.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use smarthost_queue::SyncMode;
use smarthost_routing::{AuthPolicy, TlsPolicy};

use super::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_str(text, "/etc/smarthost")
}

/// The problems of `text`, one string a line.
fn problems(text: &str) -> Vec<String> {
    parse(text).unwrap_err().problems().iter().map(ToString::to_string).collect()
}

const FULL: &str = r#"
hostname = "relay.example.net"
local_host_names = ["example.net"]
local_host_names_file = "local-host-names"
relay_domains = ["lan.example.net"]

[spool]
dir = "spool"
sync = "group"

[[listen]]
addr = "127.0.0.1:2525"
mode = "smtp"

[[listen]]
addr = "127.0.0.1:2587"
mode = "submission"

[tls]
cert = "cert.pem"
key = "key.pem"

[maps]
mailertable = "mailertable"
access = "access"
virtusertable = "virtusertable"
genericstable = "genericstable"
aliases = "aliases"
authinfo = "client-info"

[routing]
smart_host = "relay:[smtp.isp.example]"
relay_mailer = "relay"

[mailers.relay]
port = 587
tls = "required"
auth = "required"
ca_file = "isp-ca.pem"
dangerous_accept_invalid_certs = false

[masquerade]
as = "example.net"
domains = []
envelope = true
all = true
entire_domain = false
exposed_users = ["root"]

[auth]
logins = "auth_logins"
sender_must_match = true

[policy]
require_rdns = false
max_message_size = "25MB"
max_recipients = 100

[queue]
retry = ["1m", "5m", "15m", "30m", "1h", "2h", "4h"]
warn_after = "4h"
return_after = "5d"

[local]
delivery = "maildir"
path = "mail/{user}/Maildir"
"#;

#[test]
fn every_contract_key_is_read() {
    let c = parse(FULL).unwrap();
    let base = Path::new("/etc/smarthost");
    assert_eq!(c.hostname.as_deref(), Some("relay.example.net"));
    assert_eq!(c.local_host_names, ["example.net"]);
    assert_eq!(c.local_host_names_file.as_deref(), Some(base.join("local-host-names").as_path()));
    assert_eq!(c.relay_domains, ["lan.example.net"]);
    assert_eq!(c.spool.dir, base.join("spool"));
    assert_eq!(c.spool.sync, SyncMode::Group);
    assert_eq!(c.listen.len(), 2);
    assert_eq!(c.listen[1].addr, "127.0.0.1:2587".parse().unwrap());
    assert_eq!(c.listen[1].mode, ListenMode::Submission);
    let tls = c.tls.as_ref().unwrap();
    assert_eq!((tls.cert.as_path(), tls.key.as_path()), (&*base.join("cert.pem"), &*base.join("key.pem")));
    assert_eq!(c.maps.mailertable, Some(base.join("mailertable")));
    assert_eq!(c.maps.access, Some(base.join("access")));
    assert_eq!(c.maps.virtusertable, Some(base.join("virtusertable")));
    assert_eq!(c.maps.genericstable, Some(base.join("genericstable")));
    assert_eq!(c.maps.aliases, Some(base.join("aliases")));
    assert_eq!(c.maps.authinfo, Some(base.join("client-info")));
    let smart_host = c.routing.smart_host.as_ref().unwrap();
    assert_eq!((smart_host.mailer.as_deref(), &*smart_host.host_text), (Some("relay"), "[smtp.isp.example]"));
    assert_eq!(c.routing.relay_mailer, "relay");
    let relay = &c.mailers["relay"];
    assert_eq!((relay.port, relay.tls, relay.auth), (587, TlsPolicy::Required, AuthPolicy::Required));
    assert_eq!(relay.ca_file, Some(base.join("isp-ca.pem")));
    assert!(!relay.dangerous_accept_invalid_certs);
    assert_eq!(c.masquerade.masquerade_as.as_deref(), Some("example.net"));
    assert!(c.masquerade.domains.is_empty() && c.masquerade.envelope && c.masquerade.all);
    assert!(!c.masquerade.entire_domain);
    assert_eq!(c.masquerade.exposed_users, ["root"]);
    assert_eq!(c.auth.logins, Some(base.join("auth_logins")));
    assert!(c.auth.sender_must_match);
    assert!(!c.policy.require_rdns);
    assert_eq!(c.policy.max_message_size.bytes(), 25_000_000);
    assert_eq!(c.policy.max_recipients, 100);
    assert_eq!(c.queue.retry.len(), 7);
    assert_eq!(c.queue.retry[6], Duration::from_secs(4 * 3_600));
    assert_eq!(c.queue.warn_after, Duration::from_secs(4 * 3_600));
    assert_eq!(c.queue.return_after, Duration::from_secs(5 * 86_400));
    assert_eq!(c.local.delivery, LocalDelivery::Maildir);
    assert_eq!(c.local.path, base.join("mail/{user}/Maildir"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.location_of("mailers.relay.tls"), Some(Location { line: 37, column: 7 }));
}

#[test]
fn an_empty_file_is_all_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.hostname, None);
    assert_eq!(c.spool.dir, Path::new("/var/spool/smarthost"));
    assert_eq!(c.spool.sync, SyncMode::Group);
    assert_eq!(c.listen.len(), 1);
    assert_eq!(c.listen[0].addr.to_string(), "127.0.0.1:25");
    assert_eq!(c.tls, None);
    assert_eq!(c.routing.relay_mailer, "relay");
    assert_eq!(c.policy.max_message_size.bytes(), 25_000_000);
    assert_eq!(
        (c.policy.max_recipients, c.policy.max_connections, c.policy.max_connections_per_client),
        (100, 100, 10)
    );
    assert_eq!(c.queue.retry.first(), Some(&Duration::from_secs(60)));
    assert!(c.auth.sender_must_match);
    assert_eq!(c.local.path, Path::new("/var/mail/{user}/Maildir"));
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.mailers["submission"].port, 587);
}

#[test]
fn mistyped_keys_get_a_suggestion() {
    assert_eq!(
        problems("hostnmae = \"a\"\n[policy]\nmax_recipient = 5\n[mailers.relay]\ntsl = \"required\"\n"),
        [
            "<string>:1:1: error: `hostnmae`: unknown key; did you mean `hostname`? (top-level keys: hostname, \
             local_host_names, local_host_names_file, relay_domains, virtuser_domains, virtuser_domain_file, \
             spool, listen, tls, maps, routing, mailers, masquerade, auth, policy, queue, local, log)",
            "<string>:3:1: error: `policy.max_recipient`: unknown key; did you mean `policy.max_recipients`? \
             (keys of [policy]: require_rdns, max_message_size, max_recipients, max_connections, \
             max_connections_per_client)",
            "<string>:5:1: error: `mailers.relay.tsl`: unknown key; did you mean `mailers.relay.tls`? (keys of \
             [mailers.NAME]: port, tls, auth, ca_file, dangerous_accept_invalid_certs, program, args)",
        ]
    );
}

#[test]
fn a_key_in_the_wrong_table_says_where_it_belongs() {
    let p = problems("smart_host = \"[a.example]\"\n");
    assert!(p[0].contains("`smart_host` belongs in [routing]: move it there"), "{p:?}");
}

#[test]
fn wrong_types_say_what_was_expected() {
    let p = problems(
        "hostname = 5\n[mailers.relay]\nport = \"587\"\ndangerous_accept_invalid_certs = \"yes\"\n[auth]\n\
         sender_must_match = 1\n[spool]\ndir = []\n",
    );
    assert_eq!(
        p,
        [
            "<string>:1:12: error: `hostname`: expected a host name such as \"relay.example.net\", found an \
             integer; put the value in double quotes",
            "<string>:3:8: error: `mailers.relay.port`: expected a port from 1 to 65535; remove the quotes: 587",
            "<string>:4:34: error: `mailers.relay.dangerous_accept_invalid_certs`: expected true or false \
             without quotes; write true",
            "<string>:6:21: error: `auth.sender_must_match`: expected true or false, found an integer",
            "<string>:8:7: error: `spool.dir`: expected a file name in double quotes, found an array",
        ]
    );
}

#[test]
fn bad_values_name_the_key_and_the_choices() {
    let p = problems(
        "[mailers.relay]\ntls = \"requried\"\nauth = \"yes\"\nport = 70000\n[spool]\nsync = \"fast\"\n\
         [[listen]]\naddr = \"localhost:25\"\nmode = \"lmtp\"\n[log]\nformat = \"xml\"\n",
    );
    assert_eq!(
        p,
        [
            "<string>:2:7: error: `mailers.relay.tls`: unknown TLS policy `requried`; expected one of: none, \
             opportunistic, required, implicit",
            "<string>:3:8: error: `mailers.relay.auth`: unknown AUTH policy `yes`; expected one of: none, \
             if-offered, required",
            "<string>:4:8: error: `mailers.relay.port`: 70000 is out of range; expected a port from 1 to 65535",
            "<string>:6:8: error: `spool.sync`: unknown sync mode `fast`: use per-message, group or dangerous_none",
            "<string>:8:8: error: `listen[0].addr`: invalid socket address syntax",
            "<string>:9:8: error: `listen[0].mode`: unknown listener mode `lmtp`; expected smtp, submission or \
             smtps",
            "<string>:11:10: error: `log.format`: unknown log format `xml`; expected text or json",
        ]
    );
}

#[test]
fn bad_durations_and_sizes() {
    let p = problems(
        "[queue]\nretry = [\"1m\", \"5 days\"]\nwarn_after = 3600\nreturn_after = \"0s\"\n[policy]\n\
         max_message_size = \"25 megs\"\n",
    );
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(
        p[0].starts_with("<string>:2:16: error: `queue.retry[1]`: `5 days` is not a duration (unknown unit")
    );
    assert!(
        p[1].contains("`queue.warn_after`: a bare number has no unit;") && p[1].contains("write \"3600s\"")
    );
    assert!(p[2].contains("`queue.return_after`: must be longer than 0s"));
    assert!(p[3].starts_with("<string>:6:20: error: `policy.max_message_size`: `25 megs` is not a size"));
}

#[test]
fn sizes_take_units_or_bytes() {
    for (text, bytes) in [("\"25MB\"", 25_000_000), ("\"25 MiB\"", 26_214_400), ("1048576", 1_048_576)] {
        let c = parse(&format!("[policy]\nmax_message_size = {text}\n")).unwrap();
        assert_eq!(c.policy.max_message_size.bytes(), bytes, "{text}");
    }
}

#[test]
fn relative_paths_start_at_the_config_directory() {
    let c = Config::from_str(
        "[maps]\naliases = \"aliases\"\nmailertable = \"/etc/mail/mailertable\"\n",
        "/srv/relay",
    )
    .unwrap();
    assert_eq!(c.maps.aliases.as_deref(), Some(Path::new("/srv/relay/aliases")));
    assert_eq!(c.maps.mailertable.as_deref(), Some(Path::new("/etc/mail/mailertable")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    fs::write(&file, "[spool]\ndir = \"q\"\n").unwrap();
    let c = Config::load(&file).unwrap();
    assert_eq!(c.spool.dir, dir.path().join("q"));
    assert_eq!(c.file, file);
}

#[test]
fn all_errors_are_collected_in_file_order() {
    let p = problems(
        "a = 1\nb = 2\n[queue]\nwarn_after = \"5d\"\nreturn_after = \"4h\"\nretry = [\"1h\", \"1m\"]\n",
    );
    assert_eq!(p.len(), 4, "{p:#?}");
    assert!(p[0].starts_with("<string>:1:1: error: `a`: unknown key"));
    assert!(p[1].starts_with("<string>:2:1: error: `b`: unknown key"));
    assert!(
        p[2].starts_with("<string>:5:16: error: `queue.return_after`: \"4h\" must be longer than warn_after")
    );
    assert!(p[3].starts_with("<string>:6:9: error: `queue.retry`: the waits must not get shorter"));
}

#[test]
fn syntax_errors_have_a_position() {
    let p = problems("hostname = \"a\"\n[policy\nmax_recipients = 5\n");
    assert!(p[0].starts_with("<string>:2:") && p[0].contains("not valid TOML"), "{p:?}");
    let p = problems("hostname = \"a\"\nhostname = \"b\"\n");
    assert!(p[0].starts_with("<string>:2:") && p[0].contains("duplicate"), "{p:?}");
}

#[test]
fn listeners_must_not_clash() {
    let text = "[[listen]]\naddr = \"0.0.0.0:25\"\n[[listen]]\naddr = \"127.0.0.1:25\"\n[[listen]]\n\
                addr = \"0.0.0.0:25\"\n[[listen]]\naddr = \"[::]:25\"\n";
    let p = problems(text);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].starts_with(
        "<string>:4:8: error: `listen[1].addr`: 127.0.0.1:25 and listen[0]'s 0.0.0.0:25 (line 2)"
    ));
    assert!(p[1].starts_with(
        "<string>:6:8: error: `listen[2].addr`: 0.0.0.0:25 is already the address of listen[0]"
    ));
}

#[test]
fn submission_needs_tls_and_logins() {
    let p = problems("[[listen]]\naddr = \"127.0.0.1:587\"\nmode = \"submission\"\n");
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].contains("`listen[0].mode`: a submission listener needs TLS, but there is no [tls] table"));
    assert!(
        p[1].contains("`listen[0].mode`: a submission listener requires AUTH before MAIL, but [auth] logins")
    );
    let p = problems("[[listen]]\naddr = \"127.0.0.1:465\"\nmode = \"smtps\"\n[tls]\ncert = \"c\"\n");
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].starts_with("<string>:3:8: error: `listen[0].mode`: a smtps listener requires AUTH"),
        "{p:#?}"
    );
    assert!(p[1].starts_with("<string>:4:1: error: `tls.key`: missing key: [tls] needs both cert and key"));
}

#[test]
fn retry_must_be_non_empty_and_not_shrink() {
    assert!(problems("[queue]\nretry = []\n")[0].contains("`queue.retry`: the list is empty"));
    assert!(parse("[queue]\nretry = [\"5m\", \"5m\", \"1h\"]\n").is_ok());
}

#[test]
fn smart_host_and_mailers_are_checked() {
    let p = problems("[routing]\nsmart_host = \"relay:\"\n");
    assert!(p[0].contains("`routing.smart_host`: value `relay:` names no host"), "{p:?}");
    let p = problems("[routing]\nsmart_host = \"isp:[smtp.isp.example]\"\n");
    assert!(p[0].contains("`routing.smart_host`: no mailer `isp`: use one of dsmtp, esmtp"), "{p:?}");
    assert!(p[0].contains("or define [mailers.isp]"));
    let c =
        parse("[routing]\nsmart_host = \"isp:[smtp.isp.example]\"\n[mailers.isp]\nport = 2525\n").unwrap();
    assert_eq!(c.routing_mailers().get("isp").unwrap().port, 2525);
    let p = problems("[routing]\nrelay_mailer = \"nosuch\"\n");
    assert!(p[0].contains("`routing.relay_mailer`: no mailer `nosuch`"), "{p:?}");
    let p = problems("[mailers.local]\nport = 25\n");
    assert!(p[0].contains("`mailers.local`: `local` is a built-in mailer"), "{p:?}");
}

#[test]
fn dangerous_settings_warn_but_load() {
    let c = parse(
        "[mailers.lab]\nport = 2525\ntls = \"required\"\ndangerous_accept_invalid_certs = true\n\
                   [spool]\nsync = \"dangerous_none\"\n",
    )
    .unwrap();
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(
        w[0].starts_with(
            "<string>:4:34: warning: `mailers.lab.dangerous_accept_invalid_certs`: certificates"
        )
    );
    assert!(w[1].contains("`spool.sync`: dangerous_none never syncs"));
    assert!(!c.routing_mailers().get("lab").unwrap().verify_certificates);
}

#[test]
fn local_delivery_to_a_program_mailer() {
    let c = parse(
        "[local]\ndelivery = \"procmail\"\n[mailers.procmail]\nprogram = \"/usr/bin/procmail\"\n\
                   args = [\"-d\", \"{user}\"]\n",
    )
    .unwrap();
    assert_eq!(c.local.delivery, LocalDelivery::Prog("procmail".into()));
    assert_eq!(c.mailers["procmail"].args, ["-d", "{user}"]);
    let p = problems("[local]\ndelivery = \"procmail\"\n");
    assert!(p[0].contains("`local.delivery`: `procmail` is not maildir, mbox or a program mailer"), "{p:?}");
    let p = problems("[mailers.procmail]\nprogram = \"/usr/bin/procmail\"\nport = 25\n");
    assert!(p[0].contains("`mailers.procmail.port`: a program mailer"), "{p:?}");
    let c = parse("[local]\ndelivery = \"mbox\"\n").unwrap();
    assert_eq!(c.local.path, Path::new("/var/mail/{user}"));
}

#[test]
fn shown_configuration_reads_back_the_same() {
    let mut text = FULL.to_string();
    text.push_str("[mailers.procmail]\nprogram = \"/usr/bin/procmail\"\nargs = [\"-d\", \"{user}\"]\n");
    text = text.replace("delivery = \"maildir\"", "delivery = \"procmail\"");
    for text in [text.as_str(), "", "hostname = \"a \\\"quoted\\\" name\"\n"] {
        let first = parse(text).unwrap();
        let shown = first.to_toml();
        let second = Config::from_str(&shown, "/elsewhere").unwrap_or_else(|e| panic!("{e}\n{shown}"));
        assert_eq!(comparable(first), comparable(second), "{shown}");
    }
}

/// A configuration without what depends on where its text was.
fn comparable(mut config: Config) -> Config {
    config.spans.clear();
    config.base_dir = "/".into();
    config.warnings.clear();
    config
}

#[test]
fn check_files_reports_missing_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    fs::write(dir.path().join("mailertable"), "example.org relay:[hub.example.net]\n bad line\n").unwrap();
    fs::write(dir.path().join("cert.pem"), "not pem\n").unwrap();
    fs::write(dir.path().join("logins"), "alice secret\n").unwrap();
    fs::set_permissions(dir.path().join("logins"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(
        &file,
        "[maps]\nmailertable = \"mailertable\"\naccess = \"access\"\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\
         [auth]\nlogins = \"logins\"\n",
    )
    .unwrap();
    let config = Config::load(&file).unwrap();
    let p: Vec<String> = config.check_files().iter().map(ToString::to_string).collect();
    let d = dir.path().display();
    assert_eq!(p.len(), 5, "{p:#?}");
    assert!(
        p[0].starts_with(&format!(
            "{d}/relay.toml:5:8: error: `tls.cert`: {d}/cert.pem: expected certificates"
        ))
    );
    assert!(p[1].starts_with(&format!("{d}/relay.toml:6:7: error: `tls.key`: {d}/key.pem: cannot read")));
    assert!(p[1].ends_with("or set [tls] generate_self_signed = true to have a pair made at first start"));
    assert!(p[2].starts_with(&format!("{d}/mailertable:2: error: syntax error (leading space)")), "{p:#?}");
    assert!(p[3].starts_with(&format!("{d}/relay.toml:3:10: error: `maps.access`: no such map (looked for")));
    assert!(p[4].contains("`auth.logins`") && p[4].contains("chmod 600"), "{p:#?}");
}

#[test]
fn generated_certificates_may_be_missing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    fs::write(&file, "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\ngenerate_self_signed = true\n").unwrap();
    let config = Config::load(&file).unwrap();
    assert_eq!(config.check_files(), []);
    fs::write(dir.path().join("cert.pem"), "").unwrap();
    let p = config.check_files();
    assert!(
        p[0].to_string().contains("`tls.key`: ")
            && p[0].message.contains("is missing but the other file exists")
    );
}

#[test]
fn a_missing_file_is_one_unreadable_problem() {
    let errors = Config::load("/nonexistent/relay.toml").unwrap_err();
    assert!(errors.is_unreadable());
    assert!(errors.to_string().starts_with("/nonexistent/relay.toml: error: cannot read the configuration"));
}

proptest! {
    #[test]
    fn arbitrary_toml_like_text_never_panics(text in "([a-z_\\.\\[\\]]{0,12}( = )?(\"[a-z0-9 :\\[\\]\\{\\}]{0,10}\"|[0-9]{1,6}|true|\\[\\]|\\{\\})?\n){0,12}") {
        if let Ok(config) = parse(&text) {
            let _ = config.to_toml();
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn keys_of_known_tables_never_panic(
        section in prop::sample::select(vec!["spool", "tls", "maps", "routing", "mailers.x", "masquerade", "auth", "policy", "queue", "local", "log"]),
        key in "[a-z_]{1,30}",
        value in prop::sample::select(vec!["1", "\"x\"", "true", "[]", "[\"1m\"]", "{}", "\"25MB\"", "-5", "1.5"]),
    ) {
        let _ = parse(&format!("[{section}]\n{key} = {value}\n"));
    }
}

#[test]
fn tls_files_parse_and_the_key_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let params = rcgen::CertificateParams::new(vec!["relay.example.net".to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    fs::write(dir.path().join("other.pem"), other.serialize_pem()).unwrap();
    let file = dir.path().join("relay.toml");
    fs::write(
        &file,
        "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[mailers.relay]\nca_file = \"cert.pem\"\n",
    )
    .unwrap();
    assert_eq!(Config::load(&file).unwrap().check_files(), []);
    fs::write(&file, "[tls]\ncert = \"cert.pem\"\nkey = \"other.pem\"\n").unwrap();
    let p = Config::load(&file).unwrap().check_files();
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].message.contains("other.pem is not the key of the certificate in"), "{p:#?}");
    fs::write(&file, "[tls]\ncert = \"key.pem\"\nkey = \"cert.pem\"\n").unwrap();
    let p: Vec<String> = Config::load(&file).unwrap().check_files().iter().map(ToString::to_string).collect();
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].contains("`tls.cert`") && p[0].contains("expected certificates in PEM form"));
    assert!(p[1].contains("`tls.key`") && p[1].contains("expected a private key in PEM form"));
}

#[test]
fn masquerade_settings_without_as_warn() {
    let c = parse("[masquerade]\nenvelope = true\n").unwrap();
    assert!(c.warnings[0].to_string().contains("`masquerade`: no `as`"), "{:?}", c.warnings);
    assert!(parse("[masquerade]\nenvelope = false\n").unwrap().warnings.is_empty());
}
