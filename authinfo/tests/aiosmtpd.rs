//! Interoperability with aiosmtpd (PyPI), an independent SMTP server: our
//! client steppers authenticate with PLAIN and LOGIN over STARTTLS.
//!
//! Where python3 or aiosmtpd is missing the test says so and passes, except
//! in CI (`CI` set), whose script installs aiosmtpd: there it fails.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use common::{Client, TestCert, auth_mechanisms, bounded};
use smarthost_authinfo::{AuthOutcome, Credentials, Disposition, Mechanism};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const LOGIN: &str = "alice";
const PASSWORD: &str = "secret";

fn aiosmtpd_present() -> bool {
    let present = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        present || std::env::var_os("CI").is_none(),
        "CI must provide python3 with aiosmtpd (`pip install aiosmtpd`)"
    );
    if !present {
        eprintln!("python3 with aiosmtpd is not installed; skipping the interoperability check");
    }
    present
}

/// EHLO, STARTTLS, EHLO, AUTH with `mechanism` and `password`, QUIT.
async fn session(addr: SocketAddr, cert: &TestCert, mechanism: Mechanism, password: &str) -> u16 {
    let mut client = Client::connect(addr).await;
    client.ehlo().await;
    let mut client = client.starttls(&cert.connector()).await;
    let ehlo = client.ehlo().await;
    let offered = auth_mechanisms(&ehlo).expect("aiosmtpd advertises AUTH after STARTTLS");
    let attempt =
        client.authenticate(&[mechanism.name()], &offered, &Credentials::new(LOGIN, password)).await;
    assert_eq!(attempt.mechanism, mechanism);
    match attempt.code {
        235 => {
            assert_eq!(attempt.outcome, AuthOutcome::Authenticated);
            assert_eq!(attempt.disposition, Disposition::ContinueAuthenticated);
            assert!(matches!(attempt.success_check, Some(Ok(()))), "{attempt:?}");
        }
        535 => {
            assert_eq!(attempt.outcome, AuthOutcome::PermanentFailure { code: 535 });
            assert_eq!(attempt.disposition, Disposition::DeferCredentialsRejected);
        }
        _ => panic!("unexpected final reply: {attempt:?}"),
    }
    client.quit().await;
    attempt.code
}

#[tokio::test]
async fn plain_and_login_against_aiosmtpd() {
    if !aiosmtpd_present() {
        return;
    }
    let cert = TestCert::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aiosmtpd_server.py");

    // stdin stays open (held in `child`) until the end; kill_on_drop also
    // covers a failing assertion.
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(&cert_path)
        .arg(&key_path)
        .args([LOGIN, PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut port_line = String::new();
    bounded("aiosmtpd's port line", stdout.read_line(&mut port_line)).await.unwrap();
    let port: u16 = port_line.trim().parse().unwrap_or_else(|_| panic!("port line {port_line:?}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    assert_eq!(session(addr, &cert, Mechanism::Plain, PASSWORD).await, 235);
    assert_eq!(session(addr, &cert, Mechanism::Login, PASSWORD).await, 235);
    assert_eq!(session(addr, &cert, Mechanism::Plain, "wrong").await, 535);
    assert_eq!(session(addr, &cert, Mechanism::Login, "wrong").await, 535);

    bounded("killing aiosmtpd", child.kill()).await.unwrap();
}
