//! The running relay: the spool, the current tables, the listeners, the
//! queue runner, and the signals that reload or stop them.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use smarthost_queue::{FsOptions, Spool};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::log::Log;
use crate::outbound::{self, RunnerHandle};
use crate::tables::Tables;
use crate::{inbound, lock};

/// What everything in the relay shares.
pub(crate) struct Shared {
    tables: RwLock<Arc<Tables>>,
    pub(crate) spool: Arc<Spool>,
    pub(crate) log: Arc<Log>,
    /// The system's DNS resolver, made once: reverse lookups of clients and
    /// next hops of deliveries share it (and its cache).
    pub(crate) dns: Result<smarthost_routing::HickoryResolver, String>,
    config_path: PathBuf,
    /// One reload at a time: a SIGHUP and a changed map at once must not
    /// let the slower, older load win.
    reloading: tokio::sync::Mutex<()>,
    runner: std::sync::OnceLock<RunnerHandle>,
    /// Open inbound connections: in total and per client address.
    connections: Mutex<HashMap<IpAddr, usize>>,
    total: std::sync::atomic::AtomicUsize,
    /// Becomes true when the relay is stopping: listeners stop accepting,
    /// sessions finish the transaction in flight and close.
    pub(crate) stopping: watch::Receiver<bool>,
}

impl Shared {
    /// The tables now in force. A session takes them once per question, so
    /// a reload applies from the next command on.
    pub(crate) fn tables(&self) -> Arc<Tables> {
        lock::read(&self.tables).clone()
    }

    pub(crate) fn runner(&self) -> &RunnerHandle {
        self.runner.get().expect("the runner starts before anything uses it")
    }

    /// Counts a new inbound connection, or says which limit it is over.
    pub(crate) fn admit(&self, addr: IpAddr) -> Result<ConnectionSlot<'_>, &'static str> {
        use std::sync::atomic::Ordering;
        let tables = self.tables();
        let limits = &tables.config.policy;
        let mut per_client = lock::mutex(&self.connections);
        if self.total.load(Ordering::Relaxed) >= limits.max_connections {
            return Err("too many connections");
        }
        let count = per_client.entry(addr).or_insert(0);
        if *count >= limits.max_connections_per_client {
            return Err("too many connections from your address");
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot { shared: self, addr })
    }
}

/// One counted connection; dropping it frees the slot.
pub(crate) struct ConnectionSlot<'a> {
    shared: &'a Shared,
    addr: IpAddr,
}

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        let mut per_client = lock::mutex(&self.shared.connections);
        if let Some(count) = per_client.get_mut(&self.addr) {
            *count -= 1;
            if *count == 0 {
                per_client.remove(&self.addr);
            }
        }
        self.shared.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why the relay could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A running relay.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use smarthost_relay::{Config, Log, LogFormat, Relay};
///
/// let config = Config::load("/etc/smarthost/smarthost.toml")?;
/// let relay = Relay::start(config, Arc::new(Log::stderr(LogFormat::Text))).await?;
/// relay.run_until_signal().await; // SIGHUP reloads, SIGTERM stops cleanly
/// # Ok(()) }
/// ```
pub struct Relay {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    local_addrs: Vec<SocketAddr>,
    control_path: PathBuf,
}

/// The name of the control socket in the spool directory: `sendmail -q`
/// and `smarthost queue run` ask a running relay to run its queue through it.
pub const CONTROL_SOCKET: &str = "control.sock";

impl Relay {
    /// Opens the spool (recovering what a previous run left), loads the
    /// tables, binds every listener and starts the queue runner.
    pub async fn start(config: Config, log: Arc<Log>) -> Result<Relay, StartError> {
        Self::start_with(config, log, true).await
    }

    /// [`Relay::start`] without listeners: the queue runner alone, for
    /// `smarthost queue run` and `sendmail -q` when no relay is running.
    pub async fn start_runner_only(config: Config, log: Arc<Log>) -> Result<Relay, StartError> {
        Self::start_with(config, log, false).await
    }

    async fn start_with(config: Config, log: Arc<Log>, listen: bool) -> Result<Relay, StartError> {
        let config_path = config.file.clone();
        let spool_dir = config.spool.dir.clone();
        let generate = config.tls.as_ref().is_some_and(|tls| tls.generate_self_signed && !tls.cert.exists());
        let tables = tokio::task::spawn_blocking(move || Tables::load(config))
            .await
            .map_err(|e| StartError(e.to_string()))?
            .map_err(|e| StartError(e.0))?;
        if generate && let Some(tls) = &tables.config.tls {
            log.notice(&format!(
                "generated a self-signed TLS certificate for {} in {} (key {}); replace it with a real one for a \
                 host others connect to",
                tables.hostname,
                tls.cert.display(),
                tls.key.display()
            ));
        }
        let options = FsOptions { sync: tables.config.spool.sync, ..FsOptions::default() };
        let dir = spool_dir.clone();
        let (spool, recovery) = tokio::task::spawn_blocking(move || Spool::open(dir, options))
            .await
            .map_err(|e| StartError(e.to_string()))?
            .map_err(|e| StartError(format!("{}: cannot open the spool: {e}", spool_dir.display())))?;
        for aside in &recovery.set_aside {
            log.notice(&format!(
                "spool: set aside {} damaged bytes in {}: {}",
                aside.bytes,
                aside.path.display(),
                aside.reason
            ));
        }
        let (stop, stopping) = watch::channel(false);
        let listeners = if listen { bind(&tables.config).await? } else { Vec::new() };
        let hostname = tables.hostname.clone();
        let generation = tables.generation.clone();
        let shared = Arc::new(Shared {
            tables: RwLock::new(Arc::new(tables)),
            spool: Arc::new(spool),
            log,
            dns: smarthost_routing::HickoryResolver::from_system_conf().map_err(|e| e.to_string()),
            config_path,
            reloading: tokio::sync::Mutex::new(()),
            runner: std::sync::OnceLock::new(),
            connections: Mutex::new(HashMap::new()),
            total: 0.into(),
            stopping,
        });
        let mut tasks = JoinSet::new();
        let queued = recovery.messages.len();
        let runner = outbound::spawn(shared.clone(), recovery.messages, &mut tasks);
        let _ = shared.runner.set(runner);
        let mut local_addrs = Vec::new();
        for (listener, socket) in listeners {
            local_addrs.push(socket.local_addr().map_err(|e| StartError(e.to_string()))?);
            tasks.spawn(inbound::accept_loop(shared.clone(), listener, socket));
        }
        let control_path = spool_dir.join(CONTROL_SOCKET);
        if listen {
            let _ = std::fs::remove_file(&control_path);
            match UnixListener::bind(&control_path) {
                Ok(socket) => {
                    tasks.spawn(control_loop(shared.clone(), socket));
                }
                Err(error) => shared.log.notice(&format!(
                    "{}: cannot listen for queue commands: {error}; `sendmail -q` will not reach this relay",
                    control_path.display()
                )),
            }
            let watched = shared.clone();
            tasks.spawn(watch_files(watched));
        }
        let addrs: Vec<String> = local_addrs.iter().map(ToString::to_string).collect();
        shared.log.notice(&format!(
            "starting: {hostname}, listening on {}, {queued} messages in the queue, maps={generation}",
            if addrs.is_empty() { "nothing".to_owned() } else { addrs.join(" ") }
        ));
        Ok(Relay { shared, stop, tasks, local_addrs, control_path })
    }

    /// The addresses the listeners are bound to (the port chosen when a
    /// configuration says port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Re-reads the configuration file and everything it names. A broken
    /// configuration is refused and the one in force stays.
    pub async fn reload(&self) -> Result<(), String> {
        reload(&self.shared, "reload requested").await
    }

    /// Schedules every queued recipient (or those in `domain` and its
    /// sub-domains) for an attempt now; returns how many recipients.
    pub async fn run_queue(&self, domain: Option<String>) -> usize {
        self.shared.runner().run_now(domain).await
    }

    /// How many messages are in the queue now.
    pub fn queued(&self) -> usize {
        self.shared.spool.len()
    }

    /// Waits until the runner has nothing due and nothing in flight.
    pub async fn idle(&self) {
        self.shared.runner().idle().await;
    }

    /// Runs until SIGTERM or SIGINT, reloading on SIGHUP and running the
    /// queue on SIGUSR1; then stops cleanly.
    pub async fn run_until_signal(self) {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut usr1)) = (
            signal(SignalKind::hangup()),
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::user_defined1()),
        ) else {
            self.shared.log.notice("cannot install signal handlers; stopping");
            return self.shutdown().await;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    let _ = reload(&self.shared, "SIGHUP").await;
                }
                _ = usr1.recv() => {
                    let count = self.run_queue(None).await;
                    self.shared.log.notice(&format!("SIGUSR1: running the queue: {count} messages"));
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        self.shutdown().await;
    }

    /// Stops accepting, lets sessions finish the transaction in flight
    /// (bounded), stops the runner after its deliveries in flight, and
    /// returns.
    pub async fn shutdown(mut self) {
        self.shared.log.notice("stopping: finishing the transactions in flight");
        let _ = self.stop.send(true);
        self.shared.runner().stop();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(60), drain).await.is_err() {
            self.shared.log.notice("stopping: sessions still open after 60s, closing them");
            self.tasks.abort_all();
        }
        let _ = std::fs::remove_file(&self.control_path);
        self.shared.log.notice("stopped");
    }
}

async fn bind(config: &Config) -> Result<Vec<(crate::config::Listener, TcpListener)>, StartError> {
    let mut out = Vec::new();
    for listener in &config.listen {
        let socket = TcpListener::bind(listener.addr).await.map_err(|e| {
            StartError(format!(
                "cannot listen on {}: {e}{}",
                listener.addr,
                if e.kind() == io::ErrorKind::PermissionDenied {
                    "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
                } else if e.kind() == io::ErrorKind::AddrInUse {
                    "; another mail server (or another smarthost) is using the port"
                } else {
                    ""
                }
            ))
        })?;
        out.push((listener.clone(), socket));
    }
    Ok(out)
}

/// Loads the configuration file again and swaps the tables.
pub(crate) async fn reload(shared: &Arc<Shared>, why: &str) -> Result<(), String> {
    let _one_at_a_time = shared.reloading.lock().await;
    let path = shared.config_path.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let config = Config::load(&path).map_err(|e| {
            // Only the errors: the warnings were logged at start.
            e.errors().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        })?;
        Tables::load(config).map_err(|e| e.0)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match loaded {
        Ok(tables) => {
            let old = shared.tables();
            if tables.config.listen != old.config.listen {
                shared.log.notice("reload: listener changes take effect at the next start");
            }
            let generation = tables.generation.clone();
            *lock::write(&shared.tables) = Arc::new(tables);
            shared.log.notice(&format!("{why}: configuration reloaded, maps={generation}"));
            Ok(())
        }
        Err(error) => {
            shared.log.notice(&format!(
                "{why}: the new configuration is refused, the old one keeps running: {}",
                error.replace('\n', "; ")
            ));
            Err(error)
        }
    }
}

/// Picks up maps rebuilt on disk (makemap, newaliases) without a SIGHUP.
async fn watch_files(shared: Arc<Shared>) {
    let mut stopping = shared.stopping.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stopping.changed() => return,
        }
        if shared.tables().files_changed().is_none() {
            continue;
        }
        // Look again under the reload lock: a SIGHUP may have just loaded
        // the change.
        let guard = shared.reloading.lock().await;
        let changed = shared.tables().files_changed().map(|path| format!("{} changed", path.display()));
        drop(guard);
        if let Some(why) = changed {
            // A failed reload is logged; the old tables carry on, and the
            // next change tries again.
            if reload(&shared, &why).await.is_err() {
                // Do not retry the same broken file every two seconds.
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    }
}

/// `run [DOMAIN]` and `reload` lines on the control socket.
async fn control_loop(shared: Arc<Shared>, socket: UnixListener) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut stopping = shared.stopping.clone();
    loop {
        let stream = tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = stopping.changed() => return,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, 1024));
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let mut words = line.split_whitespace();
            let answer = match (words.next(), words.next()) {
                (Some("run"), domain) => {
                    let count = shared.runner().run_now(domain.map(str::to_owned)).await;
                    format!("ok {count}\n")
                }
                (Some("reload"), None) => match reload(&shared, "control socket").await {
                    Ok(()) => "ok 0\n".to_owned(),
                    Err(error) => format!("error {}\n", error.replace('\n', "; ")),
                },
                _ => "error unknown command; say `run`, `run DOMAIN` or `reload`\n".to_owned(),
            };
            let _ = write.write_all(answer.as_bytes()).await;
        });
    }
}
