//! `smarthost serve` as a child process, and Python's smtplib as its client.

#![allow(dead_code)] // each test file uses its own subset

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const SMARTHOST: &str = env!("CARGO_BIN_EXE_smarthost");

/// A running relay; killed (SIGKILL) if the test ends without stopping it.
pub(crate) struct Serve {
    pub(crate) dir: tempfile::TempDir,
    child: Child,
    /// Every log line so far.
    log: Arc<Mutex<Vec<String>>>,
    /// The listeners, in configuration order.
    pub(crate) addrs: Vec<SocketAddr>,
}

impl Serve {
    /// Writes `config` (and `files`, name → content) into a new directory
    /// and starts `smarthost serve` on it; waits for its `starting:` line.
    pub(crate) fn start(config: &str, files: &[(&str, &str)]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, content).unwrap();
            if name.contains("client-info") || name.contains("logins") {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
        fs::write(dir.path().join("relay.toml"), config).unwrap();
        Self::start_in(dir, &[])
    }

    /// Starts on the `relay.toml` already in `dir`, with extra arguments.
    pub(crate) fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Serve {
        Self::launch(dir, extra, Command::new(SMARTHOST))
    }

    /// Like [`Serve::start`], with the relay's files limited to `blocks`
    /// (`ulimit -f`): writes past it fail with EFBIG, as on a full disk.
    pub(crate) fn start_with_file_limit(config: &str, blocks: u32) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("relay.toml"), config).unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", &format!(r#"trap "" XFSZ; ulimit -f {blocks}; exec "$0" "$@""#), SMARTHOST]);
        Self::launch(dir, &[], command)
    }

    fn launch(dir: tempfile::TempDir, extra: &[&str], mut command: Command) -> Serve {
        let mut child = command
            .arg("serve")
            .arg("--config")
            .arg(dir.path().join("relay.toml"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut serve = Serve { dir, child, log, addrs: Vec::new() };
        let line = serve.wait_for_log("starting:", Duration::from_secs(20));
        let listening = line.split("listening on ").nth(1).unwrap().split(',').next().unwrap();
        serve.addrs = listening.split(' ').filter_map(|a| a.parse().ok()).collect();
        serve
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The log so far, one string.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits for a log line containing `needle` and returns it; panics with
    /// the whole log after `limit`.
    pub(crate) fn wait_for_log(&mut self, needle: &str, limit: Duration) -> String {
        self.wait_for_log_after(0, needle, limit)
    }

    /// Like [`Serve::wait_for_log`], among lines after the first `skip`.
    pub(crate) fn wait_for_log_after(&mut self, skip: usize, needle: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().skip(skip).find(|l| l.contains(needle)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("smarthost serve exited ({status}) before logging `{needle}`:\n{}", self.log());
            }
            assert!(start.elapsed() < limit, "no `{needle}` in the log within {limit:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many log lines there are now.
    pub(crate) fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.unwrap().success());
    }

    /// SIGTERM, then waits for the exit status.
    pub(crate) fn stop(mut self) -> i32 {
        self.signal("TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no exit after SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Python script (with `HOST`, `PORT`, `PORT2` defined from `addrs`)
/// and returns its standard output; panics with its errors when it fails.
pub(crate) fn python(addrs: &[SocketAddr], script: &str) -> String {
    let mut prelude = String::from("import smtplib, ssl, sys, time\n");
    for (index, addr) in addrs.iter().enumerate() {
        let suffix = if index == 0 { String::new() } else { (index + 1).to_string() };
        prelude.push_str(&format!("HOST{suffix} = '{}'\nPORT{suffix} = {}\n", addr.ip(), addr.port()));
    }
    prelude.push_str(
        "def unverified():\n    c = ssl.create_default_context()\n    c.check_hostname = False\n    \
         c.verify_mode = ssl.CERT_NONE\n    return c\n",
    );
    let output = Command::new("python3").arg("-c").arg(format!("{prelude}{script}")).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The files in a Maildir's `new/`, waiting up to `limit` for `count`.
pub(crate) fn maildir_messages(dir: &Path, count: usize, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut found: Vec<String> = fs::read_dir(dir.join("new"))
            .map(|entries| entries.flatten().map(|e| fs::read_to_string(e.path()).unwrap()).collect())
            .unwrap_or_default();
        if found.len() >= count || start.elapsed() > limit {
            found.sort();
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
