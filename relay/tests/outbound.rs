//! The queue runner end to end over real TCP on loopback addresses: mail
//! submitted to a running relay reaches in-test upstream servers (STARTTLS,
//! AUTH, failover, retries, mailertable routes), and failures come back to
//! local senders as delivery status notifications.

use std::collections::VecDeque;
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use smarthost_authinfo::server::ServerCredentials;
use smarthost_relay::{Config, Log, LogFormat, Relay};
use smarthost_smtp_core::tokio::{ServerPolicy, ServerTls, serve_connection, server_tls_config};
use smarthost_smtp_core::{AuthConfig, EnhancedStatus, Question, Reply, ServerConfig, Transaction, Verdict};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A refusal: code, enhanced status, text.
type Refusal = (u16, &'static str, &'static str);

/// What the upstream answers to RCPT, in turn; accepted when empty.
#[derive(Clone, Default)]
struct Upstream {
    messages: Arc<Mutex<Vec<Transaction>>>,
    rcpt_replies: Arc<Mutex<VecDeque<Refusal>>>,
}

impl Upstream {
    fn refusing(replies: &[Refusal]) -> Self {
        let upstream = Upstream::default();
        upstream.rcpt_replies.lock().unwrap().extend(replies.iter().copied());
        upstream
    }

    fn messages(&self) -> Vec<Transaction> {
        self.messages.lock().unwrap().clone()
    }
}

impl ServerPolicy for Upstream {
    async fn decide(&mut self, question: Question) -> Verdict {
        match question {
            Question::Rcpt { .. } => match self.rcpt_replies.lock().unwrap().pop_front() {
                Some((code, status, text)) => {
                    let status: EnhancedStatus = status.parse().unwrap();
                    Verdict::reject(Reply::new(code, Some(status), text.to_owned()).unwrap())
                }
                None => Verdict::accept(),
            },
            Question::Message(transaction) => {
                let mut messages = self.messages.lock().unwrap();
                messages.push(*transaction);
                Verdict::queued(&format!("UP{}", messages.len()))
            }
            _ => Verdict::accept(),
        }
    }
}

/// TLS and AUTH demands of an upstream.
#[derive(Default)]
struct Demands {
    tls: Option<ServerTls>,
    auth: bool,
}

/// Serves `policy` on `addr` until the test ends.
async fn serve(addr: SocketAddr, demands: Demands, policy: Upstream) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let mut config = ServerConfig::new("upstream.test").unwrap();
    config.tls_available = demands.tls.is_some();
    if demands.auth {
        let credentials = ServerCredentials::parse_str("test", "relayuser secret\n").unwrap();
        config.auth = Some(AuthConfig::new(Arc::new(credentials)));
        config.require_auth = true;
    }
    let config = Arc::new(config);
    let tls = demands.tls;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (config, tls, mut policy) = (config.clone(), tls.clone(), policy.clone());
            tokio::spawn(async move {
                let _ = serve_connection(stream, config, tls.as_ref(), &mut policy).await;
            });
        }
    });
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0)).unwrap().local_addr().unwrap().port()
}

struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA and a server certificate for 127.0.0.1, as PEM files in `dir`.
fn pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "outbound test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let pki = Pki { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    fs::write(&pki.ca, ca.pem()).unwrap();
    fs::write(&pki.cert, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    fs::set_permissions(&pki.key, fs::Permissions::from_mode(0o600)).unwrap();
    pki
}

/// A relay listening on a free port of 127.0.0.1, with its spool and the
/// users' Maildirs in `dir`, retrying after one second unless `extra`
/// has its own `[queue]`; `extra` adds sections.
async fn relay(dir: &Path, extra: &str) -> (Relay, Arc<Log>) {
    let port = free_port("127.0.0.1");
    let text = format!(
        r#"
hostname = "relay.test"

[spool]
dir = "{dir}/spool"
sync = "dangerous_none"

[[listen]]
addr = "127.0.0.1:{port}"
mode = "smtp"

[local]
delivery = "maildir"
path = "{dir}/mail/{{user}}/Maildir"

{queue}
{extra}
"#,
        dir = dir.display(),
        queue = if extra.contains("[queue]") { "" } else { "[queue]\nretry = [\"1s\"]\n" },
    );
    let config = Config::from_str(&text, dir).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let log = Arc::new(Log::memory(LogFormat::Text));
    let relay = Relay::start(config, log.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    (relay, log)
}

/// Reads one reply, all its lines.
async fn reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap() == 0 {
            return all;
        }
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

async fn say(reader: &mut BufReader<TcpStream>, line: &str) -> String {
    reader.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    reply(reader).await
}

/// Submits `message` over plain SMTP; returns the reply to the content.
async fn submit(relay: &Relay, from: &str, to: &[&str], message: &str) -> String {
    let stream = TcpStream::connect(relay.local_addrs()[0]).await.unwrap();
    let mut reader = BufReader::new(stream);
    assert!(reply(&mut reader).await.starts_with("220"));
    assert!(say(&mut reader, "EHLO client.test").await.starts_with("250"));
    let answer = say(&mut reader, &format!("MAIL FROM:<{from}>")).await;
    assert!(answer.starts_with("250"), "{answer}");
    for rcpt in to {
        let answer = say(&mut reader, &format!("RCPT TO:<{rcpt}>")).await;
        assert!(answer.starts_with("250"), "RCPT TO:<{rcpt}>: {answer}");
    }
    assert!(say(&mut reader, "DATA").await.starts_with("354"));
    reader.get_mut().write_all(message.as_bytes()).await.unwrap();
    let done = say(&mut reader, ".").await;
    assert!(done.starts_with("250"), "{done}");
    say(&mut reader, "QUIT").await;
    done
}

/// Waits (at most 15 s) until `done` holds, letting the relay work.
async fn until(relay: &Relay, log: &Log, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let _ = tokio::time::timeout(Duration::from_secs(2), relay.idle()).await;
        if done() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {:#?}", log.lines());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn lines_with(log: &Log, needle: &str) -> Vec<String> {
    log.lines().into_iter().filter(|line| line.contains(needle)).collect()
}

/// The files delivered into `maildir/new`.
fn maildir_messages(maildir: &Path) -> Vec<Vec<u8>> {
    match fs::read_dir(maildir.join("new")) {
        Ok(entries) => entries.map(|e| fs::read(e.unwrap().path()).unwrap()).collect(),
        Err(_) => Vec::new(),
    }
}

const MESSAGE: &str =
    "From: Alice <alice@relay.test>\r\nTo: bob@example.org\r\nSubject: outbound\r\n\r\nHello Bob.\r\n";

/// The content the upstream received, minus the relay's `Received:` header.
fn without_received(transaction: &Transaction) -> String {
    let text = String::from_utf8(transaction.message().to_vec()).unwrap();
    assert!(text.starts_with("Received: from client.test"), "{text}");
    let end = text.find("\r\nFrom: ").expect("the original header follows the Received header");
    let received = &text[..end];
    assert!(received.contains("by relay.test"), "{received}");
    text[end + 2..].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_host_with_starttls_and_auth_gets_the_message_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let port = free_port("127.0.0.1");
    let upstream = Upstream::default();
    let tls = ServerTls::starttls(server_tls_config(&pki.cert, &pki.key).unwrap());
    serve(([127, 0, 0, 1], port).into(), Demands { tls: Some(tls), auth: true }, upstream.clone()).await;
    let authinfo = dir.path().join("client-info");
    fs::write(&authinfo, "AuthInfo:127.0.0.1 \"U:relayuser\" \"P:secret\" \"M:PLAIN\"\n").unwrap();
    fs::set_permissions(&authinfo, fs::Permissions::from_mode(0o600)).unwrap();
    let extra = format!(
        r#"
[routing]
smart_host = "relay:[127.0.0.1]"

[maps]
authinfo = "{authinfo}"

[mailers.relay]
port = {port}
tls = "required"
auth = "required"
ca_file = "{ca}"
"#,
        authinfo = authinfo.display(),
        ca = pki.ca.display()
    );
    let (relay, log) = relay(dir.path(), &extra).await;
    submit(&relay, "alice@relay.test", &["bob@example.org"], MESSAGE).await;
    until(&relay, &log, "the upstream to get the message", || !upstream.messages().is_empty()).await;

    let got = upstream.messages().remove(0);
    assert_eq!(without_received(&got), MESSAGE, "byte for byte, apart from the Received header");
    assert_eq!(got.reverse_path.to_string(), "<alice@relay.test>");
    assert_eq!(got.auth.as_deref(), Some("relayuser"));
    assert!(got.tls.is_some(), "STARTTLS was used");
    let sent = lines_with(&log, "stat=Sent");
    assert_eq!(sent.len(), 1, "{:#?}", log.lines());
    let line = &sent[0];
    for field in [
        "to=<bob@example.org>, delay=",
        ", xdelay=",
        ", mailer=relay, relay=127.0.0.1 [127.0.0.1], dsn=2.0.0, stat=Sent (",
        "maps=",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    assert!(!log.lines().iter().any(|l| l.contains("secret")), "no password in the log");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_first_host_fails_over_at_once_and_masquerading_applies() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on 127.0.0.2; the second host of the list answers on
    // the same port.
    let port = free_port("127.0.0.3");
    let upstream = Upstream::default();
    serve(([127, 0, 0, 3], port).into(), Demands::default(), upstream.clone()).await;
    let extra = format!(
        r#"
[routing]
smart_host = "relay:[127.0.0.2]:[127.0.0.3]"

[mailers.relay]
port = {port}
tls = "opportunistic"
auth = "none"

[masquerade]
as = "example.com"
envelope = true
"#
    );
    let (relay, log) = relay(dir.path(), &extra).await;
    let started = std::time::Instant::now();
    submit(&relay, "alice@relay.test", &["bob@example.org"], MESSAGE).await;
    until(&relay, &log, "the second host to get the message", || !upstream.messages().is_empty()).await;
    assert!(started.elapsed() < Duration::from_secs(5), "failover is immediate, not a retry");

    let got = upstream.messages().remove(0);
    assert_eq!(got.reverse_path.to_string(), "<alice@example.com>", "the envelope is masqueraded");
    let content = without_received(&got);
    assert!(content.starts_with("From: Alice <alice@example.com>\r\n"), "{content}");
    assert!(content.ends_with("Subject: outbound\r\n\r\nHello Bob.\r\n"), "{content}");
    let sent = lines_with(&log, "stat=Sent");
    assert_eq!(sent.len(), 1, "{:#?}", log.lines());
    assert!(sent[0].contains("relay=127.0.0.3 [127.0.0.3]"), "{}", sent[0]);

    // After three refused connections the dead host's breaker opens: it is
    // skipped, and the mail still goes to the second host at once.
    for n in 2..=4 {
        submit(&relay, "alice@relay.test", &["bob@example.org"], MESSAGE).await;
        until(&relay, &log, "the next message", || upstream.messages().len() == n).await;
    }
    let opened = lines_with(&log, "keeps refusing connections");
    assert_eq!(opened.len(), 1, "{:#?}", log.lines());
    let expected =
        format!("127.0.0.2 [127.0.0.2]: port {port} keeps refusing connections; skipping it for 30s");
    assert!(opened[0].ends_with(&expected), "{}", opened[0]);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_to_rcpt_defers_and_the_retry_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let upstream = Upstream::refusing(&[(451, "4.3.2", "Try again later")]);
    serve(([127, 0, 0, 1], port).into(), Demands::default(), upstream.clone()).await;
    let extra = format!(
        "[routing]\nsmart_host = \"relay:[127.0.0.1]\"\n\n[mailers.relay]\nport = {port}\ntls = \"none\"\n"
    );
    let (relay, log) = relay(dir.path(), &extra).await;
    submit(&relay, "alice@relay.test", &["bob@example.org"], MESSAGE).await;
    until(&relay, &log, "a deferral", || !lines_with(&log, "stat=Deferred").is_empty()).await;
    let deferred = lines_with(&log, "stat=Deferred");
    assert!(deferred[0].contains("dsn=4.3.2, stat=Deferred: 451 4.3.2 Try again later"), "{}", deferred[0]);
    assert!(upstream.messages().is_empty());
    until(&relay, &log, "the retry to deliver", || !upstream.messages().is_empty()).await;
    assert_eq!(without_received(&upstream.messages()[0]), MESSAGE);
    assert_eq!(lines_with(&log, "stat=Sent").len(), 1, "{:#?}", log.lines());
    assert!(lines_with(&log, "DSN:").is_empty(), "no report for a deferral: {:#?}", log.lines());
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_comes_back_to_the_local_sender_as_a_report_in_their_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let upstream = Upstream::refusing(&[(550, "5.1.1", "<bob@example.org>... User unknown")]);
    serve(([127, 0, 0, 1], port).into(), Demands::default(), upstream.clone()).await;
    let extra = format!(
        "[routing]\nsmart_host = \"relay:[127.0.0.1]\"\n\n[mailers.relay]\nport = {port}\ntls = \"none\"\n"
    );
    let (relay, log) = relay(dir.path(), &extra).await;
    let id_reply = submit(&relay, "alice@relay.test", &["bob@example.org"], MESSAGE).await;
    let maildir = dir.path().join("mail/alice/Maildir");
    until(&relay, &log, "the report in alice's Maildir", || !maildir_messages(&maildir).is_empty()).await;

    let failed = lines_with(&log, "to=<bob@example.org>");
    assert!(failed[0].contains("dsn=5.1.1, stat=<bob@example.org>... User unknown"), "{}", failed[0]);
    let report = maildir_messages(&maildir).remove(0);
    let text = String::from_utf8_lossy(&report);
    assert!(text.contains("Content-Type: multipart/report"), "{text}");
    let start = text.find("From: ").unwrap();
    let parsed = smarthost_smtp_core::dsn::parse_report(&report[start..]).unwrap();
    assert_eq!(parsed.recipients.len(), 1);
    assert_eq!(parsed.recipients[0].final_recipient, "bob@example.org");
    assert_eq!(parsed.recipients[0].status.to_string(), "5.1.1");
    assert!(text.contains("Hello Bob."), "the original message comes back");
    let id = id_reply.split_whitespace().last().unwrap().trim();
    let dsn = lines_with(&log, ": DSN: ");
    assert_eq!(dsn.len(), 1, "{:#?}", log.lines());
    assert!(
        dsn[0].contains(&format!("{id}: ")) && dsn[0].ends_with("DSN: <bob@example.org>... User unknown"),
        "{}",
        dsn[0]
    );
    let delivered = lines_with(&log, "to=<alice@relay.test>");
    assert!(
        delivered.iter().any(|l| l.contains("mailer=local") && l.contains("stat=Sent")),
        "{delivered:#?}"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_for_the_null_sender_causes_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let upstream = Upstream::refusing(&[(550, "5.1.1", "User unknown")]);
    serve(([127, 0, 0, 1], port).into(), Demands::default(), upstream.clone()).await;
    let extra = format!(
        "[routing]\nsmart_host = \"relay:[127.0.0.1]\"\n\n[mailers.relay]\nport = {port}\ntls = \"none\"\n"
    );
    let (relay, log) = relay(dir.path(), &extra).await;
    submit(&relay, "", &["bob@example.org"], MESSAGE).await;
    until(&relay, &log, "the failure", || !lines_with(&log, "stat=User unknown").is_empty()).await;
    relay.idle().await;
    assert_eq!(lines_with(&log, "DSN: not sent").len(), 1, "{:#?}", log.lines());
    assert!(lines_with(&log, ": DSN: User").is_empty(), "{:#?}", log.lines());
    assert!(upstream.messages().is_empty());
    assert!(!dir.path().join("mail").exists(), "nothing delivered locally");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailertable_route_goes_to_its_own_host_and_mailer() {
    let dir = tempfile::tempdir().unwrap();
    let smart_port = free_port("127.0.0.1");
    let smart = Upstream::default();
    serve(([127, 0, 0, 1], smart_port).into(), Demands::default(), smart.clone()).await;
    let second_port = free_port("127.0.0.1");
    let second = Upstream::default();
    serve(([127, 0, 0, 1], second_port).into(), Demands::default(), second.clone()).await;
    let mailertable = dir.path().join("mailertable");
    fs::write(&mailertable, ".example.net second:%1@[127.0.0.1]\n").unwrap();
    let extra = format!(
        r#"
[routing]
smart_host = "relay:[127.0.0.1]"

[maps]
mailertable = "{mailertable}"

[mailers.relay]
port = {smart_port}
tls = "none"

[mailers.second]
port = {second_port}
tls = "none"
auth = "none"
"#,
        mailertable = mailertable.display()
    );
    let (relay, log) = relay(dir.path(), &extra).await;
    submit(&relay, "alice@relay.test", &["carol@lists.example.net", "bob@example.org"], MESSAGE).await;
    until(&relay, &log, "both upstreams", || !smart.messages().is_empty() && !second.messages().is_empty())
        .await;

    let via_table = second.messages().remove(0);
    let rcpts: Vec<String> = via_table.recipients.iter().map(|r| r.forward_path.to_string()).collect();
    assert_eq!(rcpts, ["<lists@[127.0.0.1]>"], "%1 is the sub-domain the leading dot matched");
    let via_smart = smart.messages().remove(0);
    let rcpts: Vec<String> = via_smart.recipients.iter().map(|r| r.forward_path.to_string()).collect();
    assert_eq!(rcpts, ["<bob@example.org>"]);
    let sent = lines_with(&log, "mailer=second");
    assert_eq!(sent.len(), 1, "{:#?}", log.lines());
    assert!(sent[0].contains("to=<carol@lists.example.net>") && sent[0].contains("stat=Sent"), "{}", sent[0]);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_deferred_too_long_is_warned_about_then_returned_with_4_4_7() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let upstream = Upstream::refusing(&[(451, "4.2.1", "Mailbox busy"); 64]);
    serve(([127, 0, 0, 1], port).into(), Demands::default(), upstream.clone()).await;
    let extra = format!(
        r#"
[queue]
retry = ["1s"]
warn_after = "2s"
return_after = "4s"

[routing]
smart_host = "relay:[127.0.0.1]"

[mailers.relay]
port = {port}
tls = "none"
"#
    );
    let (relay, log) = relay(dir.path(), &extra).await;
    submit(&relay, "alice@relay.test", &["bob@example.org"], MESSAGE).await;
    let maildir = dir.path().join("mail/alice/Maildir");
    until(&relay, &log, "a warning and a return", || maildir_messages(&maildir).len() >= 2).await;

    let mut reports: Vec<_> = maildir_messages(&maildir)
        .into_iter()
        .map(|report| {
            let start = report.windows(6).position(|w| w == b"From: ").unwrap();
            smarthost_smtp_core::dsn::parse_report(&report[start..]).unwrap()
        })
        .collect();
    reports.sort_by_key(|r| r.recipients[0].action.as_str() == "failed");
    let (warning, failure) = (&reports[0].recipients[0], &reports[1].recipients[0]);
    assert_eq!((warning.action.as_str(), warning.final_recipient.as_str()), ("delayed", "bob@example.org"));
    assert_eq!(warning.status.to_string(), "4.2.1");
    assert_eq!((failure.action.as_str(), failure.status.to_string()), ("failed", "4.4.7".to_owned()));
    assert_eq!(
        lines_with(&log, "DSN: Warning: could not send message for past 2s").len(),
        1,
        "{:#?}",
        log.lines()
    );
    assert!(
        lines_with(&log, "dsn=4.4.7").iter().any(|l| l.contains("to=<bob@example.org>")),
        "{:#?}",
        log.lines()
    );
    let attempts = lines_with(&log, "stat=Deferred: 451 4.2.1 Mailbox busy").len();
    assert!((2..=6).contains(&attempts), "retried every second: {attempts}");
    relay.shutdown().await;
}
