//! The relay's SMTP side over real sockets on the loopback: open-relay
//! refusals (access.md §10 from a client that is not a RELAY client),
//! ruleset-0 replies at RCPT, submission AUTH, limits, and the durable
//! enqueue before `250`.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use smarthost_relay::{Config, Log, LogFormat, Relay};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// A line-at-a-time SMTP client bound to a chosen source address.
struct Client {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Client {
    async fn connect(from: &str, to: SocketAddr) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(to)).await.unwrap().unwrap();
        let (read, write) = stream.into_split();
        Client { read: BufReader::new(read), write }
    }

    /// The next whole reply, lines joined with `\n`.
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), self.read.read_line(&mut line))
                .await
                .expect("a reply within 10 s")
                .unwrap();
            if n == 0 {
                return all + "<closed>";
            }
            let done = line.as_bytes().get(3) != Some(&b'-');
            all.push_str(line.trim_end());
            if done {
                return all;
            }
            all.push('\n');
        }
    }

    async fn send(&mut self, line: &str) -> String {
        self.write.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.reply().await
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    relay: Relay,
    log: Arc<Log>,
    addr: SocketAddr,
}

const BASE: &str = r#"
hostname = "mail.internal.example.com"
relay_domains = ["10.1", "IPv6:2001:db8:1", "partner.example"]

[spool]
dir = "spool"
sync = "dangerous_none"

[[listen]]
addr = "127.0.0.1:0"
mode = "smtp"

[maps]
access = "access"
mailertable = "mailertable"

[routing]
features = ["redirect"]

[local]
delivery = "maildir"
path = "mail/{user}/Maildir"
"#;

async fn start(extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("access"),
        "Connect:192.168.1 RELAY\nConnect:10.2.3.4 REJECT\nConnect:trusted.example RELAY\n\
         To:friend.example RELAY\nTo:blocked.example REJECT\nFrom:spammer@bad.example REJECT\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("mailertable"),
        "partner.example relay:[127.0.0.1]\nclosed.example error:5.7.1:550 We do not deliver there\n",
    )
    .unwrap();
    for user in ["user", "postmaster"] {
        fs::create_dir_all(dir.path().join(format!("mail/{user}/Maildir/new"))).unwrap();
    }
    let config = Config::from_str(&format!("{BASE}\n{extra}"), dir.path()).unwrap();
    let log = Arc::new(Log::memory(LogFormat::Text));
    let relay = Relay::start(config, log.clone()).await.unwrap();
    let addr = relay.local_addrs()[0];
    Setup { _dir: dir, relay, log, addr }
}

async fn transaction(client: &mut Client) {
    assert!(client.reply().await.starts_with("220 "));
    assert!(client.send("EHLO outside.example").await.starts_with("250"));
    assert!(client.send("MAIL FROM:<someone@outside.example>").await.starts_with("250"));
}

/// access.md §10 R1–R16, from 127.0.0.2 (not a RELAY client: C6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_relay_tricks_are_refused_from_a_stranger() {
    let setup = start("").await;
    let mut client = Client::connect("127.0.0.2", setup.addr).await;
    transaction(&mut client).await;
    let cases: &[(&str, &str)] = &[
        ("<user@mail.internal.example.com>", "250"),
        ("<user@evil.example>", "550 5.7.1"),
        ("<user%evil.example@mail.internal.example.com>", "550 5.7.1"),
        ("<evil.example!user@mail.internal.example.com>", "550 5.7.1"),
        ("<\"user@evil.example\"@mail.internal.example.com>", "550 5.7.1"),
        ("<@mail.internal.example.com:user@evil.example>", "550 5.7.1"),
        ("<user@evil.example@mail.internal.example.com>", "553 5.1."),
        ("<user%evil.example@partner.example>", "550 5.7.1"),
        ("<user@partner.example>", "250"),
        ("<user@x.partner.example>", "250"),
        ("<user@friend.example>", "250"),
        ("<user@blocked.example>", "550 5.7.1"),
        ("<user>", "250"),
        ("<postmaster>", "250"),
        ("<user@[192.0.2.1]>", "550 5.7.1"),
        ("<user@[127.0.0.2]>", "550 5.7.1"),
        ("<user@evil.example.>", "550 5.7.1"),
        ("<USER@Mail.Internal.Example.COM>", "250"),
    ];
    for (rcpt, want) in cases {
        let got = client.send(&format!("RCPT TO:{rcpt}")).await;
        assert!(got.starts_with(want), "RCPT TO:{rcpt}: want {want}, got {got}");
    }
    assert!(client.send("QUIT").await.starts_with("221"));
    setup.relay.shutdown().await;
}

/// C5: the loopback's own address relays; the null sender grants nothing
/// to a stranger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_trusted_clients_relay() {
    let setup = start("").await;
    let mut local = Client::connect("127.0.0.1", setup.addr).await;
    transaction(&mut local).await;
    assert!(local.send("RCPT TO:<someone@far.example>").await.starts_with("250"));
    let mut stranger = Client::connect("127.0.0.2", setup.addr).await;
    assert!(stranger.reply().await.starts_with("220"));
    stranger.send("EHLO x").await;
    assert!(stranger.send("MAIL FROM:<>").await.starts_with("250"));
    assert!(stranger.send("RCPT TO:<someone@far.example>").await.starts_with("550 5.7.1"));
    assert!(stranger.send("MAIL FROM:<spammer@bad.example>").await.starts_with("503"), "one sender at a time");
    stranger.send("RSET").await;
    assert!(stranger.send("MAIL FROM:<spammer@bad.example>").await.starts_with("550"));
    drop((local, stranger));
    setup.relay.shutdown().await;
}

/// mailertable `error:` and FEATURE(redirect) answer at RCPT time, and an
/// unknown local user gets 550 5.1.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ruleset_zero_answers_at_rcpt() {
    let setup = start("").await;
    let mut client = Client::connect("127.0.0.1", setup.addr).await;
    transaction(&mut client).await;
    let got = client.send("RCPT TO:<anyone@closed.example>").await;
    assert_eq!(got, "550 5.7.1 <anyone@closed.example>... We do not deliver there");
    let got = client.send("RCPT TO:<nobody-here@mail.internal.example.com>").await;
    assert!(got.starts_with("550 5.1.1"), "{got}");
    let got = client.send("RCPT TO:<bob@new.example.REDIRECT>").await;
    assert!(got.starts_with("551 5.1.1") && got.contains("bob@new.example"), "{got}");
    drop(client);
    setup.relay.shutdown().await;
}

/// The message is in the spool when `250 ... queued as ID` arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_message_is_in_the_spool() {
    let setup = start("").await;
    let mut client = Client::connect("127.0.0.1", setup.addr).await;
    transaction(&mut client).await;
    assert!(client.send("RCPT TO:<user@mail.internal.example.com>").await.starts_with("250"));
    assert!(client.send("DATA").await.starts_with("354"));
    let got = client.send("Subject: hi\r\n\r\nhello\r\n.").await;
    assert!(got.starts_with("250 2.0.0 Ok: queued as "), "{got}");
    let id = got.rsplit(' ').next().unwrap().to_owned();
    // Delivered locally by the runner, or still queued: either way it was
    // written; the Maildir copy proves it reached the disk.
    setup.relay.idle().await;
    let new = setup._dir.path().join("mail/user/Maildir/new");
    let found = wait_for_file(&new).await;
    let text = fs::read_to_string(found).unwrap();
    assert!(text.contains("hello\n") && text.starts_with("Return-Path: <someone@outside.example>\n"), "{text}");
    let log = setup.log.lines().join("\n");
    assert!(log.contains(&format!("{id}: from=<someone@outside.example>, size=")), "{log}");
    assert!(log.contains(&format!("{id}: to=<user@mail.internal.example.com>")), "{log}");
    setup.relay.shutdown().await;
}

async fn wait_for_file(dir: &Path) -> std::path::PathBuf {
    for _ in 0..100 {
        if let Some(entry) = fs::read_dir(dir).unwrap().flatten().next() {
            return entry.path();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing delivered to {}", dir.display());
}

/// Connection limits per client address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits_are_named_in_the_reply() {
    let setup = start("[policy]\nmax_connections_per_client = 2\n").await;
    let mut first = Client::connect("127.0.0.3", setup.addr).await;
    let mut second = Client::connect("127.0.0.3", setup.addr).await;
    assert!(first.reply().await.starts_with("220"));
    assert!(second.reply().await.starts_with("220"));
    let mut third = Client::connect("127.0.0.3", setup.addr).await;
    let got = third.reply().await;
    assert!(got.starts_with("421 4.3.2") && got.contains("too many connections from your address"), "{got}");
    let mut other = Client::connect("127.0.0.4", setup.addr).await;
    assert!(other.reply().await.starts_with("220"), "other clients are not affected");
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = Client::connect("127.0.0.3", setup.addr).await;
    assert!(again.reply().await.starts_with("220"), "a closed connection frees its slot");
    setup.relay.shutdown().await;
}
