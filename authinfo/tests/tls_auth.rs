//! SMTP AUTH over STARTTLS end to end: this crate's client steppers against
//! its server steppers, through a minimal SMTP server and client in the test
//! (tokio, rustls, a self-signed certificate for `localhost`).

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{AuthAttempt, Client, Conn, Lines, TestCert, auth_mechanisms, bounded, has_keyword};
use smarthost_authinfo::server::{
    self, AUTH_MALFORMED, AUTH_MECHANISM_UNAVAILABLE, AuthContext, Outcome, ServerCredentials, ServerSasl,
    offered_mechanisms,
};
use smarthost_authinfo::{
    AuthOutcome, AuthPolicy, Choice, Credentials, DEFAULT_MECHANISMS, Disposition, Mechanism, Transport,
    choose_mechanism,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsStream};

const LOGIN: &str = "alice";
const PASSWORD: &str = "tanstaaftanstaaf";

/// A certificate and the server's credentials, loaded from a 0600 file.
struct Fixture {
    cert: TestCert,
    credentials: Arc<ServerCredentials>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smtpd-users");
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
        writeln!(file, "{LOGIN}  {PASSWORD}").unwrap();
        drop(file);
        let credentials = ServerCredentials::load(&path).unwrap();
        Self { cert: TestCert::new(), credentials: Arc::new(credentials) }
    }

    /// Listens on a loopback port and serves one connection; the task
    /// returns the outcome of every AUTH exchange it ran.
    async fn server(&self) -> (SocketAddr, JoinHandle<Vec<Outcome>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = self.cert.acceptor();
        let credentials = Arc::clone(&self.credentials);
        let task = tokio::spawn(async move {
            let (tcp, _) = bounded("accepting", listener.accept()).await.unwrap();
            serve(tcp, acceptor, &credentials).await
        });
        (addr, task)
    }

    /// Connects, EHLO, STARTTLS, EHLO: returns the client and the AUTH list.
    async fn tls_client(&self, addr: SocketAddr) -> (Client, Vec<String>) {
        let mut client = Client::connect(addr).await;
        client.ehlo().await;
        let mut client = client.starttls(&self.cert.connector()).await;
        let ehlo = client.ehlo().await;
        let offered = auth_mechanisms(&ehlo).expect("AUTH advertised after STARTTLS");
        (client, offered)
    }

    /// One whole session authenticating with `candidates` and `password`.
    async fn session(&self, candidates: &[&str], password: &str) -> (AuthAttempt, Vec<Outcome>) {
        let (addr, task) = self.server().await;
        let (mut client, offered) = self.tls_client(addr).await;
        let attempt = client.authenticate(candidates, &offered, &Credentials::new(LOGIN, password)).await;
        client.quit().await;
        let outcomes = bounded("server task", task).await.unwrap();
        (attempt, outcomes)
    }
}

fn unix_time() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The test server's session: EHLO, STARTTLS, AUTH, QUIT.
async fn serve(tcp: TcpStream, acceptor: TlsAcceptor, credentials: &ServerCredentials) -> Vec<Outcome> {
    let policy = server::AuthPolicy::default();
    let mut lines = Lines::new(Conn::Plain(tcp));
    let mut outcomes = Vec::new();
    lines.write_line("220 localhost ESMTP test").await;
    while let Some(line) = lines.read_line().await {
        let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                let tls = lines.is_tls();
                let mut keywords = vec!["localhost".to_owned()];
                if tls {
                    let offered = offered_mechanisms(credentials, &policy, true);
                    let names: Vec<&str> = offered.iter().map(|m| m.name()).collect();
                    keywords.push(format!("AUTH {}", names.join(" ")));
                } else {
                    keywords.push("STARTTLS".to_owned());
                }
                keywords.push("8BITMIME".to_owned());
                let last = keywords.len() - 1;
                for (i, keyword) in keywords.iter().enumerate() {
                    let sep = if i == last { ' ' } else { '-' };
                    lines.write_line(&format!("250{sep}{keyword}")).await;
                }
            }
            "STARTTLS" if !lines.is_tls() => {
                lines.write_line("220 2.0.0 Ready to start TLS").await;
                let tcp = lines.into_tcp();
                let tls = bounded("server TLS handshake", acceptor.accept(tcp)).await.unwrap();
                lines = Lines::new(Conn::Tls(Box::new(TlsStream::Server(tls))));
            }
            "AUTH" => {
                let reply = auth(&mut lines, credentials, &policy, arg, &mut outcomes).await;
                lines.write_line(&reply).await;
            }
            "QUIT" => {
                lines.write_line("221 2.0.0 Bye").await;
                break;
            }
            _ => lines.write_line("502 5.5.1 Unrecognized command").await,
        }
    }
    outcomes
}

/// One `AUTH` command; returns the final reply line.
async fn auth(
    lines: &mut Lines,
    credentials: &ServerCredentials,
    policy: &server::AuthPolicy,
    arg: &str,
    outcomes: &mut Vec<Outcome>,
) -> String {
    let mut words = arg.split_ascii_whitespace();
    let Some(name) = words.next() else { return "501 5.5.4 Syntax: AUTH mechanism".to_owned() };
    let Ok(mechanism) = name.parse::<server::Mechanism>() else {
        return AUTH_MECHANISM_UNAVAILABLE.to_string();
    };
    let initial = match words.next() {
        None => None,
        Some("=") => Some(Vec::new()),
        Some(text) => match STANDARD.decode(text) {
            Ok(bytes) => Some(bytes),
            Err(_) => return AUTH_MALFORMED.to_string(),
        },
    };
    let ctx = AuthContext::new("localhost", lines.is_tls(), unix_time());
    let mut sasl = match ServerSasl::start(mechanism, credentials, policy, ctx) {
        Ok(sasl) => sasl,
        Err(refused) => return refused.reply().to_string(),
    };
    let mut step = sasl.handle_start(initial.as_deref());
    loop {
        match step {
            server::Step::Challenge(challenge) => {
                lines.write_line(&format!("334 {}", STANDARD.encode(challenge))).await;
                let Some(response) = lines.read_line().await else { return String::new() };
                if response == "*" {
                    return "501 5.0.0 Authentication cancelled".to_owned();
                }
                let Ok(decoded) = STANDARD.decode(response.trim()) else {
                    return AUTH_MALFORMED.to_string();
                };
                step = sasl.handle_response(&decoded);
            }
            server::Step::Done(outcome) => {
                let reply = outcome.reply().to_string();
                outcomes.push(outcome);
                return reply;
            }
        }
    }
}

/// Forces `mechanism`: the right password gives 235 and the server saw
/// alice; a wrong one gives 535 and "credentials rejected".
async fn check_mechanism(mechanism: Mechanism) {
    let fixture = Fixture::new();
    let candidates = [mechanism.name()];

    let (attempt, outcomes) = fixture.session(&candidates, PASSWORD).await;
    assert_eq!(attempt.mechanism, mechanism);
    assert_eq!(attempt.code, 235, "{attempt:?}");
    assert_eq!(attempt.outcome, AuthOutcome::Authenticated);
    assert_eq!(attempt.disposition, Disposition::ContinueAuthenticated);
    assert!(matches!(attempt.success_check, Some(Ok(()))), "{attempt:?}");
    assert_eq!(outcomes, [Outcome::Authenticated { login: LOGIN.to_owned() }]);

    let (attempt, outcomes) = fixture.session(&candidates, "tanstaafWRONG").await;
    assert_eq!(attempt.mechanism, mechanism);
    assert_eq!(attempt.code, 535, "{attempt:?}");
    assert_eq!(attempt.outcome, AuthOutcome::PermanentFailure { code: 535 });
    assert_eq!(attempt.disposition, Disposition::DeferCredentialsRejected);
    assert!(attempt.success_check.is_none());
    assert_eq!(outcomes, [Outcome::Failed]);
}

#[tokio::test]
async fn plain_over_starttls() {
    check_mechanism(Mechanism::Plain).await;
}

#[tokio::test]
async fn login_over_starttls() {
    check_mechanism(Mechanism::Login).await;
}

#[tokio::test]
async fn cram_md5_over_starttls() {
    check_mechanism(Mechanism::CramMd5).await;
}

#[tokio::test]
async fn scram_sha_256_over_starttls() {
    check_mechanism(Mechanism::ScramSha256).await;
}

/// Over TLS 1.3 with an exporter the default list would prefer
/// SCRAM-SHA-256-PLUS; the server does not offer it, so the chooser takes
/// SCRAM-SHA-256 (gs2 flag `y`), which the server accepts.
#[tokio::test]
async fn default_candidates_fall_back_to_scram_sha_256() {
    let fixture = Fixture::new();
    let (addr, task) = fixture.server().await;
    let (mut client, offered) = fixture.tls_client(addr).await;
    assert!(!offered.iter().any(|m| m.eq_ignore_ascii_case("SCRAM-SHA-256-PLUS")), "{offered:?}");
    let Transport::Tls13 { exporter } = client.transport() else {
        panic!("expected TLS 1.3 with an exporter, got {:?}", client.transport())
    };
    assert_eq!(exporter.len(), 32);

    let attempt =
        client.authenticate(&DEFAULT_MECHANISMS, &offered, &Credentials::new(LOGIN, PASSWORD)).await;
    assert_eq!(attempt.mechanism, Mechanism::ScramSha256);
    assert_eq!(attempt.code, 235, "{attempt:?}");
    assert!(matches!(attempt.success_check, Some(Ok(()))), "{attempt:?}");
    client.quit().await;
    let outcomes = bounded("server task", task).await.unwrap();
    assert_eq!(outcomes, [Outcome::Authenticated { login: LOGIN.to_owned() }]);
}

/// Before STARTTLS: no AUTH in EHLO, the chooser refuses PLAIN, and the
/// server answers a forced `AUTH PLAIN` with 538. After STARTTLS it works.
#[tokio::test]
async fn no_auth_before_starttls() {
    let fixture = Fixture::new();
    let (addr, task) = fixture.server().await;
    let mut client = Client::connect(addr).await;
    let ehlo = client.ehlo().await;
    assert!(has_keyword(&ehlo, "STARTTLS"), "{ehlo:?}");
    assert!(auth_mechanisms(&ehlo).is_none(), "AUTH advertised in clear: {ehlo:?}");
    assert_eq!(client.transport(), Transport::Cleartext);
    let offered_in_clear = offered_mechanisms(&fixture.credentials, &server::AuthPolicy::default(), false);
    assert!(!offered_in_clear.iter().any(|m| m.is_cleartext()), "{offered_in_clear:?}");

    let choice = choose_mechanism(["PLAIN"], ["PLAIN"], &client.transport(), &AuthPolicy::default());
    assert_eq!(choice, Choice::RefusedWithoutTls { mechanisms: vec![Mechanism::Plain] });
    assert_eq!(choice.disposition(), Some(Disposition::DeferTemporary));

    let initial = STANDARD.encode(format!("\0{LOGIN}\0{PASSWORD}"));
    let reply = client.command(&format!("AUTH PLAIN {initial}")).await;
    assert_eq!(reply.code, 538, "{reply:?}");
    let reply = client.command("AUTH LOGIN").await;
    assert_eq!(reply.code, 538, "{reply:?}");

    let mut client = client.starttls(&fixture.cert.connector()).await;
    let ehlo = client.ehlo().await;
    let offered = auth_mechanisms(&ehlo).expect("AUTH after STARTTLS");
    assert!(!has_keyword(&ehlo, "STARTTLS"), "{ehlo:?}");
    let attempt = client.authenticate(&["PLAIN"], &offered, &Credentials::new(LOGIN, PASSWORD)).await;
    assert_eq!(attempt.code, 235, "{attempt:?}");
    client.quit().await;
    let outcomes = bounded("server task", task).await.unwrap();
    assert_eq!(outcomes, [Outcome::Authenticated { login: LOGIN.to_owned() }]);
}

/// A client `*` cancels the exchange with 501 and no outcome.
#[tokio::test]
async fn star_cancels_the_exchange() {
    let fixture = Fixture::new();
    let (addr, task) = fixture.server().await;
    let (mut client, _) = fixture.tls_client(addr).await;
    let reply = client.command("AUTH LOGIN").await;
    assert_eq!(reply.code, 334, "{reply:?}");
    let reply = client.command("*").await;
    assert_eq!(reply.code, 501, "{reply:?}");
    client.quit().await;
    let outcomes = bounded("server task", task).await.unwrap();
    assert!(outcomes.is_empty(), "{outcomes:?}");
}
