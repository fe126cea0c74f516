//! The relay under load: its configuration file, the `smarthost serve`
//! process, and waiting for it to listen.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

/// How long `smarthost serve` has to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of the relay's log shown when it fails.
const LOG_TAIL_LINES: usize = 30;

/// What the configuration file says.
#[derive(Debug)]
pub(crate) struct RelaySetup<'a> {
    /// The listener's port.
    pub(crate) port: u16,
    /// The sink's port: the smart host.
    pub(crate) sink_port: u16,
    /// `[spool] sync`.
    pub(crate) sync: &'a str,
    /// `[tls]` cert and key, for STARTTLS.
    pub(crate) tls: Option<(&'a Path, &'a Path)>,
}

/// A running `smarthost serve`; killed when dropped.
#[derive(Debug)]
pub(crate) struct Relay {
    child: Child,
    /// Its process id.
    pub(crate) pid: u32,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its standard output and error.
    pub(crate) log: PathBuf,
}

/// The configuration: everything not set here has the relay's default. The
/// limits are raised so that they do not limit the load, and every
/// non-local recipient goes to the sink on the loopback without TLS.
pub(crate) fn config_text(setup: &RelaySetup<'_>) -> String {
    let RelaySetup { port, sink_port, sync, tls } = setup;
    let mut text = format!(
        r#"# Written by relay_load: the relay under load, relaying to the load program's sink.
hostname = "relay.test"
local_host_names = ["localhost"]

[spool]
dir = "spool"
sync = "{sync}"

[[listen]]
addr = "127.0.0.1:{port}"
mode = "smtp"

[routing]
smart_host = "relay:[127.0.0.1]"
relay_mailer = "relay"

[mailers.relay]
port = {sink_port}
tls = "none"
auth = "none"

[policy]
max_message_size = "25MB"
max_recipients = 100
max_connections = 20000
max_connections_per_client = 20000

[log]
format = "text"
"#
    );
    if let Some((cert, key)) = tls {
        text.push_str(&format!(
            "\n[tls]\ncert = {:?}\nkey = {:?}\ngenerate_self_signed = false\n",
            cert.display().to_string(),
            key.display().to_string()
        ));
    }
    text
}

/// A port on 127.0.0.1 that was free a moment ago. The relay binds it
/// shortly after; another program taking it in between shows as a relay
/// that does not start, with the reason in its log.
pub(crate) fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("cannot find a free port: {e}"))
}

impl Relay {
    /// Writes `relay.toml` into `dir`, starts `binary serve --config` there
    /// with its output in `dir/relay.log`, and waits until it greets a client.
    pub(crate) async fn start(binary: &Path, dir: &Path, setup: &RelaySetup<'_>) -> Result<Relay, String> {
        if !binary.is_file() {
            return Err(format!(
                "no smarthost binary at {}; build it with `cargo build --release -p smarthost --bin \
                 smarthost`, or name it with --smarthost PATH or SMARTHOST_BIN",
                binary.display()
            ));
        }
        let config = dir.join("relay.toml");
        let log = dir.join("relay.log");
        std::fs::write(&config, config_text(setup))
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let out = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("cannot share {}: {e}", log.display()))?;
        let child = Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let pid = child.id();
        let addr = SocketAddr::from(([127, 0, 0, 1], setup.port));
        let mut relay = Relay { child, pid, addr, log };
        relay.wait_for_greeting().await?;
        Ok(relay)
    }

    /// `Err` with the log's tail if the relay has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("smarthost serve exited ({status}): {}", self.log_tail())),
            Err(e) => Err(format!("cannot check on smarthost serve: {e}")),
        }
    }

    /// The last lines of the relay's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let Ok(file) = File::open(&self.log) else {
            return format!("(no log at {})", self.log.display());
        };
        let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        if tail.is_empty() {
            format!("(its log {} is empty)", self.log.display())
        } else {
            format!("the end of {}:\n{}", self.log.display(), tail.join("\n"))
        }
    }

    async fn wait_for_greeting(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_error = String::new();
        while Instant::now() < deadline {
            self.check_alive().map_err(|e| format!("smarthost serve did not start: {e}"))?;
            match greeting(self.addr).await {
                Ok(()) => return Ok(()),
                Err(e) => last_error = e,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "smarthost serve did not start: no SMTP greeting on {} within {} s ({last_error}); {}",
            self.addr,
            START_TIMEOUT.as_secs(),
            self.log_tail()
        ))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The run is over and its spool is thrown away (or kept with --keep,
        // which a kill does not harm: the spool survives a crash).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects, reads a `220` greeting, and says QUIT. Async, because the
/// sink that a relay might need for its greeting runs on this runtime too.
async fn greeting(addr: SocketAddr) -> Result<(), String> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let mut reader = tokio::io::BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).await.map_err(|e| format!("reading the greeting: {e}"))?;
        if !line.starts_with("220") {
            return Err(format!("the greeting was `{}`, not 220", line.trim_end()));
        }
        let _ = reader.get_mut().write_all(b"QUIT\r\n").await;
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .unwrap_or_else(|_| Err("no greeting within 2 s".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_sink_and_the_sync_mode() {
        let text = config_text(&RelaySetup { port: 2525, sink_port: 40_000, sync: "group", tls: None });
        assert!(text.contains("addr = \"127.0.0.1:2525\""));
        assert!(text.contains("port = 40000"));
        assert!(text.contains("sync = \"group\""));
        assert!(!text.contains("[tls]"));
        let (cert, key) = (Path::new("/tmp/x/cert.pem"), Path::new("/tmp/x/key.pem"));
        let text =
            config_text(&RelaySetup { port: 1, sink_port: 2, sync: "per-message", tls: Some((cert, key)) });
        assert!(text.contains("[tls]\ncert = \"/tmp/x/cert.pem\"\nkey = \"/tmp/x/key.pem\"\n"), "{text}");
    }

    #[tokio::test]
    async fn a_missing_binary_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let setup = RelaySetup { port: 1, sink_port: 2, sync: "group", tls: None };
        let error = Relay::start(&dir.path().join("smarthost"), dir.path(), &setup).await.unwrap_err();
        assert!(error.contains("cargo build --release -p smarthost --bin smarthost"), "{error}");
    }

    #[tokio::test]
    async fn a_relay_that_exits_shows_its_log() {
        // `sh serve --config FILE` fails at once (no such script), as a relay
        // without a `serve` command would.
        let dir = tempfile::tempdir().unwrap();
        let setup = RelaySetup { port: free_port().unwrap(), sink_port: 2, sync: "group", tls: None };
        let error = Relay::start(Path::new("/bin/sh"), dir.path(), &setup).await.unwrap_err();
        assert!(error.starts_with("smarthost serve did not start: smarthost serve exited"), "{error}");
        assert!(error.contains("relay.log"), "{error}");
    }
}
