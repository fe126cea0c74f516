//! `smarthost serve` end to end: Python's smtplib as the client, the real
//! binary as the relay, files and logs as the operator sees them.

mod serve_support;

use std::fs;
use std::time::Duration;

use serve_support::{Serve, maildir_messages, python};

/// The repository's example configuration with the listeners moved to free
/// ports, so tests can run beside each other and beside a running relay.
fn example_config() -> String {
    let text = include_str!("../relay.toml");
    let text = text.replace("127.0.0.1:2525", "127.0.0.1:0").replace("127.0.0.1:2587", "127.0.0.1:0");
    assert!(text.contains("mode = \"submission\""));
    text
}

/// The README's first command, as a user meets it: the example
/// configuration, a certificate made at first start, a message from
/// smtplib delivered to a Maildir under the configuration's folder.
#[test]
fn the_example_configuration_relays_to_a_local_maildir() {
    let mut serve = Serve::start(&example_config(), &[("mail/alice/Maildir/cur/.keep", "")]);
    let generated = serve.wait_for_log("generated a self-signed TLS certificate", Duration::from_secs(1));
    assert!(generated.contains("cert.pem"), "{generated}");
    assert!(serve.path("cert.pem").exists() && serve.path("key.pem").exists());
    let out = python(
        &serve.addrs,
        "s = smtplib.SMTP(HOST, PORT, timeout=10)\n\
         s.ehlo('client.example')\n\
         print(s.has_extn('starttls'))\n\
         s.starttls(context=unverified())\n\
         s.ehlo('client.example')\n\
         r = s.sendmail('bob@example.org', ['alice@localhost'], 'From: bob@example.org\\r\\nTo: alice@localhost\\r\\nSubject: test\\r\\n\\r\\nHello Alice.\\r\\n')\n\
         print(r)\n\
         s.quit()\n",
    );
    assert_eq!(out, "True\n{}\n");
    let messages = maildir_messages(&serve.path("mail/alice/Maildir"), 1, Duration::from_secs(10));
    assert_eq!(messages.len(), 1, "log:\n{}", serve.log());
    let message = &messages[0];
    assert!(message.starts_with("Return-Path: <bob@example.org>\n") || message.contains("Received: from"));
    assert!(message.contains("with ESMTPS") && message.contains("Hello Alice.\n"), "{message}");
    let from = serve.wait_for_log("from=<bob@example.org>", Duration::from_secs(1));
    assert!(
        from.contains("nrcpts=1")
            && from.contains("proto=ESMTPS")
            && from.contains("relay=localhost [127.0.0.1]"),
        "{from}"
    );
    let to = serve.wait_for_log("to=<alice@localhost>", Duration::from_secs(5));
    assert!(to.contains("stat=Sent") && to.contains("mailer=local") && to.contains("dsn=2.0.0"), "{to}");
    assert_eq!(serve.stop(), 0);
}

/// Submission: AUTH only after STARTTLS, MAIL only after AUTH, the sender
/// must be the login's, and an authenticated user may relay.
#[test]
fn submission_needs_tls_and_auth_and_then_relays() {
    let config = example_config();
    let serve = Serve::start(&config, &[("auth_logins", "alice  correct horse\n")]);
    let out = python(
        &serve.addrs,
        "s = smtplib.SMTP(HOST2, PORT2, timeout=10)\n\
         s.ehlo('laptop.lan')\n\
         print('auth before tls', s.has_extn('auth'))\n\
         print(s.mail('alice@localhost')[0])\n\
         s.rset()\n\
         s.starttls(context=unverified())\n\
         s.ehlo('laptop.lan')\n\
         print('auth after tls', s.has_extn('auth'))\n\
         try:\n    s.login('alice', 'wrong')\nexcept smtplib.SMTPAuthenticationError as e:\n    print('bad password', e.smtp_code)\n\
         s.login('alice', 'correct horse')\n\
         code, text = s.mail('bob@elsewhere.example')\n\
         print('other sender', code, text.decode().split(' ')[0])\n\
         s.rset()\n\
         print(s.mail('alice@localhost')[0])\n\
         print(s.rcpt('friend@far-away.example')[0])\n\
         s.quit()\n",
    );
    assert_eq!(
        out,
        "auth before tls False\n530\nauth after tls True\nbad password 535\nother sender 553 5.7.1\n250\n250\n"
    );
    drop(serve);
}

/// SIGHUP: a changed configuration and mailertable apply to the next
/// transaction of a connection that stays open; a broken configuration is
/// refused and the old one keeps running. A rebuilt map is picked up
/// without a signal.
#[test]
fn sighup_reloads_without_dropping_connections() {
    let config = example_config().replace("# mailertable = \"mailertable\"", "mailertable = \"mailertable\"");
    let mut serve = Serve::start(&config, &[("mailertable", "blocked.example error:5.7.1:550 first rule\n")]);
    // A client from 127.0.0.2 is not a RELAY client; it holds its
    // connection open across the reloads (the script waits for a file).
    let script = "trusted = smtplib.SMTP(HOST, PORT, timeout=30)\n\
         stranger = smtplib.SMTP(HOST, PORT, timeout=30, source_address=('127.0.0.2', 0))\n\
         for s in (trusted, stranger): s.ehlo('outside.example')\n\
         def attempt(s, rcpt):\n    s.mail('someone@outside.example')\n    r = s.rcpt(rcpt)\n    s.rset()\n    return '%d %s' % (r[0], r[1].decode())\n\
         print(attempt(trusted, 'user@blocked.example'))\n\
         print(attempt(stranger, 'user@partner.example'))\n\
         sys.stdout.flush()\n\
         import os\n\
         while not os.path.exists(FLAG): time.sleep(0.05)\n\
         print(attempt(trusted, 'user@blocked.example'))\n\
         print(attempt(stranger, 'user@partner.example'))\n\
         for s in (trusted, stranger): s.quit()\n";
    let flag = serve.path("go");
    let script = format!("FLAG = {:?}\n{script}", flag.to_str().unwrap());
    let addrs = serve.addrs.clone();
    let client = std::thread::spawn(move || python(&addrs, &script));
    std::thread::sleep(Duration::from_millis(1500));

    // A broken configuration: refused, the old one stays.
    let good = fs::read_to_string(serve.path("relay.toml")).unwrap();
    fs::write(serve.path("relay.toml"), good.replace("max_recipients = 100", "max_recipients = \"many\""))
        .unwrap();
    let before = serve.log_len();
    serve.signal("HUP");
    let refused =
        serve.wait_for_log_after(before, "SIGHUP: the new configuration is refused", Duration::from_secs(10));
    assert!(refused.contains("max_recipients"), "{refused}");

    // A good one: a new relay domain and a new mailertable entry.
    fs::write(
        serve.path("relay.toml"),
        good.replace("relay_domains = []", "relay_domains = [\"partner.example\"]"),
    )
    .unwrap();
    fs::write(serve.path("mailertable"), "blocked.example error:5.7.1:550 second rule\n").unwrap();
    let before = serve.log_len();
    serve.signal("HUP");
    serve.wait_for_log_after(before, "SIGHUP: configuration reloaded", Duration::from_secs(10));
    fs::write(&flag, "").unwrap();
    let out = client.join().unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("550 5.7.1") && lines[0].contains("first rule"), "{out}");
    assert!(lines[1].starts_with("550 5.7.1 ") && lines[1].contains("Relaying denied"), "{out}");
    assert!(lines[2].starts_with("550 5.7.1") && lines[2].contains("second rule"), "{out}");
    assert!(lines[3].starts_with("250"), "{out}");

    // A rebuilt map, no signal.
    fs::write(serve.path("mailertable"), "blocked.example error:5.7.1:550 third rule\n").unwrap();
    let before = serve.log_len();
    serve.wait_for_log_after(before, "mailertable changed: configuration reloaded", Duration::from_secs(10));
    let out = python(
        &serve.addrs,
        "s = smtplib.SMTP(HOST, PORT, timeout=10)\ns.ehlo('x')\ns.mail('a@b.example')\nprint(s.rcpt('u@blocked.example')[1].decode())\n",
    );
    assert!(out.contains("third rule"), "{out}\n{}", serve.log());
    assert_eq!(serve.stop(), 0);
}

/// `--log-format json`: the same fields, one object a line.
#[test]
fn json_logs_carry_the_same_fields() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("relay.toml"), example_config()).unwrap();
    fs::create_dir_all(dir.path().join("mail/alice/Maildir/new")).unwrap();
    let mut serve = Serve::start_in(dir, &["--log-format", "json"]);
    python(
        &serve.addrs,
        "s = smtplib.SMTP(HOST, PORT, timeout=10)\ns.sendmail('bob@example.org', ['alice@localhost'], 'Subject: x\\r\\n\\r\\nx\\r\\n')\ns.quit()\n",
    );
    let line = serve.wait_for_log("\"from\":\"bob@example.org\"", Duration::from_secs(5));
    assert!(
        line.starts_with("{\"time\":\"")
            && line.contains("\"nrcpts\":\"1\"")
            && line.contains("\"proto\":\"ESMTP\"")
    );
    assert!(!serve.log().contains("correct horse"));
    assert_eq!(serve.stop(), 0);
}

/// A configuration that does not load: exit 78 and the key named.
#[test]
fn a_broken_configuration_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("relay.toml"), "[policy]\nmax_recipients = \"many\"\n").unwrap();
    let output = std::process::Command::new(serve_support::SMARTHOST)
        .args(["serve", "--config"])
        .arg(dir.path().join("relay.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("policy.max_recipients"));
}

/// The path real mail programs take: bsd-mailx runs `sendmail -i -t`,
/// which hands the message to the running relay, which delivers it.
#[test]
fn mailx_sends_through_sendmail_t_i() {
    if std::process::Command::new("mailx").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "mailx is missing; .ci/run installs bsd-mailx");
        eprintln!("skipped: no mailx (apt-get install bsd-mailx)");
        return;
    }
    let serve = Serve::start(&example_config(), &[("mail/alice/Maildir/cur/.keep", "")]);
    // The relay listens on a port the system picked; the configuration
    // `sendmail` reads names it.
    let config = fs::read_to_string(serve.path("relay.toml")).unwrap();
    let config = config.replacen("127.0.0.1:0", &serve.addrs[0].to_string(), 1);
    fs::write(serve.path("sendmail.toml"), config).unwrap();
    let mailrc = serve.path("mailrc");
    fs::write(&mailrc, format!("set sendmail={}\n", env!("CARGO_BIN_EXE_sendmail"))).unwrap();
    let mut child = std::process::Command::new("mailx")
        .args(["-s", "from mailx", "alice@localhost"])
        .env("MAILRC", &mailrc)
        .env("SMARTHOST_CONFIG", serve.path("sendmail.toml"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"Written in mailx.\n.\nThe line above is a lone dot.\n").unwrap();
    assert!(child.wait().unwrap().success(), "mailx failed; log:\n{}", serve.log());
    let messages = maildir_messages(&serve.path("mail/alice/Maildir"), 1, Duration::from_secs(15));
    assert_eq!(messages.len(), 1, "log:\n{}", serve.log());
    let message = &messages[0];
    assert!(message.contains("Subject: from mailx"), "{message}");
    assert!(message.contains("Written in mailx.\n.\nThe line above is a lone dot.\n"), "{message}");
}

/// A CA, and a certificate for 127.0.0.1 signed by it, as PEM files in
/// `dir`: `ca.pem`, `upstream-cert.pem`, `upstream-key.pem`.
fn upstream_pki(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "smarthost test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    fs::write(dir.join("upstream-cert.pem"), leaf.pem()).unwrap();
    fs::write(dir.join("upstream-key.pem"), leaf_key.serialize_pem()).unwrap();
}

/// The end-to-end path with an independent smart host: smtplib →
/// `smarthost serve` → aiosmtpd requiring STARTTLS and AUTH (certificate
/// verified against the configured CA, credentials from the AuthInfo file).
/// The message arrives byte for byte apart from the relay's `Received:`
/// header and the masquerading of its sender.
#[test]
fn relays_through_an_independent_smart_host_with_starttls_and_auth() {
    let present = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(std::env::var_os("CI").is_none(), "CI must provide aiosmtpd (pip install aiosmtpd)");
        eprintln!("skipped: no aiosmtpd");
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    upstream_pki(pki.path());
    let stored = pki.path().join("stored");
    fs::create_dir(&stored).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aiosmtpd_upstream.py");
    let mut upstream = std::process::Command::new("python3")
        .arg(script)
        .arg(pki.path().join("upstream-cert.pem"))
        .arg(pki.path().join("upstream-key.pem"))
        .args(["relayuser", "s3cret pass"])
        .arg(&stored)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead as _;
    std::io::BufReader::new(upstream.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("aiosmtpd said {line:?}"));

    let config = example_config()
        .replace("# smart_host = \"relay:[smtp.isp.example]\"", "smart_host = \"relay:[127.0.0.1]\"")
        .replace("# [mailers.relay]\n# port = 587", &format!("[mailers.relay]\nport = {port}"))
        .replace("# tls = \"required\"", "tls = \"required\"")
        .replace("# auth = \"required\"", "auth = \"required\"")
        .replace("# ca_file = \"isp-ca.pem\"", &format!("ca_file = {:?}", pki.path().join("ca.pem")))
        .replace("# authinfo = \"client-info\"", "authinfo = \"client-info\"")
        .replace("# [masquerade]\n# as = \"example.net\"", "[masquerade]\nas = \"example.net\"")
        .replace("# envelope = true", "envelope = true");
    assert!(config.contains(&format!("port = {port}")) && config.contains("[masquerade]\nas"), "{config}");
    let serve = Serve::start(
        &config,
        &[("client-info", "AuthInfo:127.0.0.1 \"U:relayuser\" \"P:s3cret pass\" \"M:PLAIN LOGIN\"\n")],
    );
    let body = "From: Jo <jo@localhost>\r\nTo: friend@far.example\r\nSubject: via the ISP\r\n\r\nLine one.\r\n..leading dot\r\n";
    python(
        &serve.addrs,
        &format!(
            "s = smtplib.SMTP(HOST, PORT, timeout=10)\ns.sendmail('jo@localhost', ['friend@far.example'], {body:?})\ns.quit()\n"
        ),
    );
    let file = stored.join("1.eml");
    for _ in 0..200 {
        if file.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = fs::read_to_string(&file).unwrap_or_else(|_| panic!("nothing arrived; log:\n{}", serve.log()));
    drop(upstream.stdin.take());
    let _ = upstream.wait();
    let (head, content) = got.split_once("\n\n").unwrap();
    assert_eq!(head, "MAIL FROM:<jo@example.net>\nRCPT TO:<friend@far.example>\nAUTH:relayuser");
    let (received, rest) = content.split_once("\r\nFrom: ").unwrap();
    assert!(received.starts_with("Received: from "), "{received}");
    assert_eq!(
        format!("From: {rest}"),
        // smtplib dot-stuffs, both servers unstuff: the dots arrive as sent.
        body.replace("jo@localhost", "jo@example.net")
    );
    let to = serve.log().lines().find(|l| l.contains("to=<friend@far.example>")).map(str::to_owned);
    let to = to.unwrap_or_else(|| panic!("no to= line:\n{}", serve.log()));
    assert!(
        to.contains("mailer=relay") && to.contains("relay=127.0.0.1 [127.0.0.1]") && to.contains("stat=Sent"),
        "{to}"
    );
    assert!(!serve.log().contains("s3cret"), "a secret in the log");
}

/// A spool that cannot take a message (here a file-size limit: writes fail
/// part-way, as on a full disk) answers the end of DATA with a 4xx, so the
/// client keeps the message and tries again; nothing half-written is
/// queued, and the relay goes on taking the mail that fits.
#[test]
fn a_spool_that_cannot_take_the_message_answers_4xx_and_keeps_serving() {
    let mut serve = Serve::start_with_file_limit(&example_config(), 128);
    let out = python(
        &serve.addrs,
        "s = smtplib.SMTP(HOST, PORT, timeout=10)\n\
         big = 'Subject: big\\r\\n\\r\\n' + ('x' * 998 + '\\r\\n') * 400\n\
         try:\n    s.sendmail('a@example.org', ['someone@far.example'], big)\n    print('accepted')\n\
         except smtplib.SMTPDataError as e:\n    print(e.smtp_code, e.smtp_error.decode().split(' ')[0])\n\
         print(s.sendmail('a@example.org', ['someone@far.example'], 'Subject: small\\r\\n\\r\\nfits\\r\\n'))\n\
         s.quit()\n",
    );
    assert_eq!(out, "451 4.3.0\n{}\n", "log:\n{}", serve.log());
    let line = serve.wait_for_log("spool write failed", Duration::from_secs(1));
    assert!(line.contains("File too large") || line.contains("too large"), "{line}");
    serve.wait_for_log("nrcpts=1", Duration::from_secs(5));
}
