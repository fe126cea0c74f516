//! Interoperability with an independent client: Python's smtplib does
//! EHLO, STARTTLS (trusting our test CA), EHLO, AUTH PLAIN / LOGIN /
//! smtplib's choice, sendmail() and QUIT against the tokio driver. AUTH
//! must be neither offered nor accepted before TLS.

#![cfg(feature = "tokio")]

mod server_common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server_common::tls::pki;
use server_common::{PASSWORD, USER};
use smarthost_authinfo::server::ServerCredentials;
use smarthost_smtp_core::tokio::{ServerPolicy, ServerTls, serve_connection, server_tls_config};
use smarthost_smtp_core::{AuthConfig, ForwardPath, Protocol, Question, ReversePath, ServerConfig, Verdict};
use tokio::net::TcpListener;
use tokio::process::Command;

/// What the server was asked, in order.
#[derive(Clone, Default)]
struct Recorder {
    questions: Arc<Mutex<Vec<Question>>>,
}

impl ServerPolicy for Recorder {
    async fn decide(&mut self, question: Question) -> Verdict {
        let verdict = match &question {
            Question::Message(_) => Verdict::queued("PY1"),
            _ => Verdict::accept(),
        };
        self.questions.lock().unwrap().push(question);
        verdict
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_smtplib_client() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is not installed; the smtplib interoperability test needs it");
        return;
    }
    let pki = pki();
    let credentials_path = pki.dir.path().join("users");
    std::fs::write(&credentials_path, format!("# test users\n{USER}  {PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&credentials_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let credentials = ServerCredentials::load(&credentials_path).unwrap();

    let mut config = ServerConfig::new("mx.example.org").unwrap();
    config.tls_available = true;
    config.auth = Some(AuthConfig::new(Arc::new(credentials)));
    config.require_auth = true;
    let config = Arc::new(config);
    let tls = ServerTls::starttls(server_tls_config(&pki.cert_path, &pki.key_path).unwrap());
    let recorder = Recorder::default();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (config, tls, mut policy) = (config.clone(), tls.clone(), recorder.clone());
                tokio::spawn(async move { serve_connection(stream, config, Some(&tls), &mut policy).await });
            }
        })
    };

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtplib_client.py");
    let run = Command::new("python3")
        .arg(&script)
        .args(["127.0.0.1", &port.to_string()])
        .arg(&pki.ca_path)
        .args([USER, PASSWORD])
        .kill_on_drop(true)
        .output();
    let output =
        tokio::time::timeout(Duration::from_secs(60), run).await.expect("smtplib took over 60 s").unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stdout.trim() == "OK", "smtplib failed:\n{stdout}\n{stderr}");

    let questions = recorder.questions.lock().unwrap();
    let messages: Vec<_> =
        questions.iter().filter_map(|q| if let Question::Message(t) = q { Some(t) } else { None }).collect();
    assert_eq!(messages.len(), 3, "one message per AUTH mechanism");
    for (message, mechanism) in messages.iter().zip(["PLAIN", "LOGIN", "default"]) {
        assert_eq!(
            message.reverse_path,
            ReversePath::Mailbox(smarthost_smtp_core::Path::parse("alice@example.com").unwrap())
        );
        assert!(
            matches!(&message.recipients[..], [r] if matches!(&r.forward_path, ForwardPath::Mailbox(p) if p.raw() == "bob@example.org"))
        );
        assert_eq!((message.protocol, message.auth.as_deref()), (Protocol::Esmtpsa, Some(USER)));
        let text = String::from_utf8_lossy(message.message());
        assert!(text.contains(&format!("Subject: smtplib {mechanism}\r\n")), "{text}");
        assert!(text.ends_with("\r\n.leading dot\r\n"), "dot-stuffed by smtplib, unstuffed by us: {text:?}");
        let received = String::from_utf8_lossy(&message.content[..message.received_len]);
        assert!(received.starts_with("Received: from client.example (unknown [127.0.0.1])"), "{received}");
        assert!(received.contains("with ESMTPSA\r\n\t(version=TLSv1."), "{received}");
    }
    // Every MAIL came after a successful AUTH over TLS.
    for question in questions.iter() {
        if let Question::Mail { auth, tls, .. } = question {
            assert_eq!((auth.as_deref(), *tls), (Some(USER), true));
        }
    }
}
