//! The relay's loopback load program: N sessions send M messages of S
//! bytes each to `smarthost serve`, which relays them to a fast sink in
//! this process. It reports messages per second accepted and delivered end
//! to end, the latency from the end of DATA to the `250`, the relay's CPU
//! time, and the relay's resident memory per idle connection.
//!
//! ```text
//! cargo build --release -p smarthost --bin smarthost
//! cargo run --release -p smarthost-benches --bin relay_load -- --sessions 20 --messages 500 --size 4096
//! ```
//!
//! `--direct` leaves the relay out and loads the sink itself: the clients'
//! and the sink's own ceiling on this machine. benches/LOAD.md explains the
//! figures.

mod client;
mod idle;
mod message;
mod relay;
mod sink;
mod stats;
mod sys;
mod tls;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use smarthost_smtp_core::tokio::{ServerTls, server_tls_config};

use crate::client::{Load, SessionReport};
use crate::idle::IdleReport;
use crate::relay::{Relay, RelaySetup};
use crate::sink::Sink;
use crate::stats::{Percentiles, ms, per_second, rate};
use crate::sys::Pid;

/// The issue's targets, for 20 sessions, 4 KiB messages and `sync = "group"`.
const TARGET_DELIVERED_PER_S: f64 = 5_000.0;
const TARGET_P99: Duration = Duration::from_millis(20);
const TARGET_IDLE_BYTES: u64 = 32 * 1024;

/// Loopback load for `smarthost serve`: throughput, latency and memory per idle connection.
#[derive(Debug, Parser)]
#[command(name = "relay_load")]
struct Args {
    /// Concurrent client sessions.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    sessions: u32,
    /// Messages each session sends.
    #[arg(long, default_value_t = 500)]
    messages: u32,
    /// Bytes per message, headers included (at least the headers, 120 to 150).
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// Run STARTTLS in every session (the certificate is checked against a throwaway CA).
    #[arg(long)]
    starttls: bool,
    /// Send MAIL, RCPT and DATA one at a time even when the server offers PIPELINING.
    #[arg(long)]
    no_pipelining: bool,
    /// Idle connections for the memory figure; 0 skips that phase.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// The relay's `[spool] sync`.
    #[arg(long, value_enum, default_value_t = SyncArg::Group)]
    sync: SyncArg,
    /// The relay binary [default: $SMARTHOST_BIN, else `smarthost` beside this program, else
    /// target/release/smarthost in the workspace].
    #[arg(long, value_name = "PATH")]
    smarthost: Option<PathBuf>,
    /// Load the sink directly, without the relay: the load program's own ceiling.
    #[arg(long)]
    direct: bool,
    /// Where the run's directory (configuration, spool, log) is made [default: the system's
    /// temporary directory]. The spool's file system matters: fsync on tmpfs is free.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Keep the run's directory afterwards.
    #[arg(long)]
    keep: bool,
    /// Threads for the load program (clients and sink); 1 runs everything on one thread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Seconds to wait for the sink to receive every accepted message.
    #[arg(long, default_value_t = 120)]
    drain_timeout: u64,
}

/// `[spool] sync`, as the relay spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SyncArg {
    /// One fsync per message, before its 250.
    #[value(name = "per-message")]
    PerMessage,
    /// One fsync for the messages that arrive together.
    #[value(name = "group")]
    Group,
    /// No fsync: loses mail on a crash.
    #[value(name = "dangerous_none")]
    DangerousNone,
}

impl SyncArg {
    fn as_str(self) -> &'static str {
        match self {
            SyncArg::PerMessage => "per-message",
            SyncArg::Group => "group",
            SyncArg::DangerousNone => "dangerous_none",
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Before the runtime's threads and the relay start, so both inherit it.
    let fd_limit = match sys::raise_fd_limit() {
        Ok(limit) => limit,
        Err(e) => {
            eprintln!("relay_load: cannot raise the open-file limit: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut builder = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(args.threads.into());
        builder
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("relay_load: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args, fd_limit)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("relay_load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole run; `Ok(false)` when it finished but messages failed or were
/// not delivered.
async fn run(args: &Args, fd_limit: u64) -> Result<bool, String> {
    let temp = match &args.dir {
        Some(parent) => tempfile::Builder::new().prefix("relay_load.").tempdir_in(parent),
        None => tempfile::Builder::new().prefix("relay_load.").tempdir(),
    }
    .map_err(|e| format!("cannot make the run's directory: {e}"))?;
    // With --keep the directory outlives failures too: its log says why.
    let (dir, _removed_at_end) =
        if args.keep { (temp.keep(), None) } else { (temp.path().to_owned(), Some(temp)) };
    let pki = if args.starttls { Some(tls::make_pki(&dir)?) } else { None };

    // The sink speaks STARTTLS only when the clients talk to it directly;
    // the relay reaches it in plain text (`[mailers.relay] tls = "none"`).
    let sink_tls = match (&pki, args.direct) {
        (Some(pki), true) => Some(ServerTls::starttls(
            server_tls_config(&pki.cert, &pki.key).map_err(|e| format!("the sink's certificate: {e}"))?,
        )),
        _ => None,
    };
    let sink = Sink::start(sink_tls).await.map_err(|e| format!("cannot start the sink: {e}"))?;

    let mode = if args.starttls { "STARTTLS" } else { "plain" };
    let target = if args.direct {
        "directly to the sink (--direct)".to_owned()
    } else {
        format!("sync={}", args.sync.as_str())
    };
    println!(
        "relay_load: {} sessions x {} messages of {} bytes, {mode}, {target}",
        args.sessions, args.messages, args.size
    );
    let kept = if args.keep { ", kept (--keep)" } else { "" };
    println!("  run directory: {}{}{kept}", dir.display(), on_filesystem(&dir));
    println!("  sink:          {}", sink.addr);

    let mut relay =
        if args.direct { None } else { Some(start_relay(args, &dir, &sink, pki.as_ref()).await?) };
    let idle = match relay.as_mut() {
        Some(relay) if args.idle > 0 => Some(idle_phase(args, relay, fd_limit).await?),
        _ => None,
    };
    let (totals, figures, cpu, drained) = throughput_phase(args, &sink, relay.as_mut(), pki.as_ref()).await?;
    print_throughput(&totals, &figures, &sink, &cpu);
    if let Err(e) = drained {
        println!("  DRAIN FAILED:  {e}");
    }
    print_targets(args, &totals, &figures, idle.as_ref());
    println!("{}", result_line(args, &totals, &figures, idle.as_ref(), &cpu));
    Ok(totals.refused == 0
        && totals.not_sent == 0
        && figures.undelivered == 0
        && sink.counts.duplicates() == 0)
}

/// Writes the configuration and starts `smarthost serve` relaying to `sink`.
async fn start_relay(args: &Args, dir: &Path, sink: &Sink, pki: Option<&tls::Pki>) -> Result<Relay, String> {
    let binary = smarthost_binary(args.smarthost.as_deref());
    let setup = RelaySetup {
        port: relay::free_port()?,
        sink_port: sink.addr.port(),
        sync: args.sync.as_str(),
        tls: pki.map(|pki| (pki.cert.as_path(), pki.key.as_path())),
    };
    println!("  relay:         {} serve --config {}", binary.display(), dir.join("relay.toml").display());
    println!("  relay log:     {}", dir.join("relay.log").display());
    let relay = Relay::start(&binary, dir, &setup).await?;
    println!("  relay pid:     {}, listening on {}", relay.pid, relay.addr);
    Ok(relay)
}

/// Memory per idle connection, measured before the throughput phase: on a
/// fresh relay the connections' memory has to come from the system,
/// instead of hiding in heap that the throughput phase left free.
async fn idle_phase(args: &Args, relay: &mut Relay, fd_limit: u64) -> Result<IdleReport, String> {
    let wanted = args.idle.min(usable_fds(fd_limit));
    if wanted < args.idle {
        println!(
            "  idle: only {wanted} of {} connections fit under the open-file limit {fd_limit}",
            args.idle
        );
    }
    let idle = match idle::measure(relay.addr, Pid::Other(relay.pid), wanted).await {
        Ok(idle) => idle,
        // A relay that died is the likelier story; its log says why.
        Err(e) => return Err(relay.check_alive().err().unwrap_or(e)),
    };
    print_idle(&idle);
    relay.check_alive()?;
    Ok(idle)
}

/// The sessions, then the wait for the sink to have every accepted
/// message; the drain's failure is reported with the figures, not instead.
async fn throughput_phase(
    args: &Args,
    sink: &Sink,
    relay: Option<&mut Relay>,
    pki: Option<&tls::Pki>,
) -> Result<(Totals, Figures, Cpu, Result<(), String>), String> {
    let target = relay.as_ref().map_or(sink.addr, |relay| relay.addr);
    let relay_pid = relay.as_ref().map(|relay| Pid::Other(relay.pid));
    let cpu_before = (relay_pid.and_then(Pid::cpu_time), Pid::This.cpu_time());
    let load = Load {
        messages: args.messages,
        size: args.size,
        starttls: pki.map(|pki| pki.connector.clone()),
        pipelining: !args.no_pipelining,
    };
    let started = Instant::now();
    let mut sessions = tokio::task::JoinSet::new();
    for session in 0..args.sessions {
        sessions.spawn(client::run_session(target, session, load.clone()));
    }
    let mut reports = Vec::with_capacity(args.sessions as usize);
    while let Some(joined) = sessions.join_next().await {
        reports.push(joined.map_err(|e| format!("a client session panicked: {e}"))?);
    }
    let totals = Totals::from(reports);
    let timeout = Duration::from_secs(args.drain_timeout);
    let drained = wait_for_sink(sink, totals.accepted, timeout, relay).await;
    let cpu_after = (relay_pid.and_then(Pid::cpu_time), Pid::This.cpu_time());
    let cpu = Cpu {
        relay: cpu_before.0.zip(cpu_after.0).map(|(before, after)| after.saturating_sub(before)),
        this: cpu_before.1.zip(cpu_after.1).map(|(before, after)| after.saturating_sub(before)),
    };
    let figures = Figures::new(&totals, sink, started);
    Ok((totals, figures, cpu, drained))
}

/// `--smarthost`, else `$SMARTHOST_BIN`, else `smarthost` beside this
/// program (the same target directory and profile), else the workspace's
/// `target/release/smarthost`.
fn smarthost_binary(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_owned();
    }
    if let Some(path) = std::env::var_os("SMARTHOST_BIN") {
        return path.into();
    }
    let sibling = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("smarthost")));
    if let Some(path) = sibling.filter(|path| path.is_file()) {
        return path;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/smarthost")
}

/// Descriptors left for idle connections under `limit`: the load program
/// holds one socket per connection, plus the sessions, the sink and slack.
fn usable_fds(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(200)
}

fn on_filesystem(path: &Path) -> String {
    sys::filesystem_type(path).map_or_else(String::new, |kind| format!(" (on {kind})"))
}

/// Waits until the sink has every accepted message, the time is up, or the
/// relay has exited.
async fn wait_for_sink(
    sink: &Sink,
    accepted: u64,
    timeout: Duration,
    mut relay: Option<&mut Relay>,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let delivered = sink.counts.delivered();
        if delivered >= accepted {
            return Ok(());
        }
        if let Some(relay) = relay.as_deref_mut() {
            relay.check_alive()?;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the sink has {delivered} of the {accepted} accepted messages after {} s (--drain-timeout)",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The sessions' reports, added up.
struct Totals {
    accepted: u64,
    refused: u64,
    not_sent: u64,
    pipelined_sessions: usize,
    sessions: usize,
    first_mail: Option<Instant>,
    last_accept: Option<Instant>,
    latencies: Percentiles,
    errors: Vec<String>,
}

impl From<Vec<SessionReport>> for Totals {
    fn from(reports: Vec<SessionReport>) -> Self {
        let mut latencies = Vec::new();
        let mut totals = Totals {
            accepted: 0,
            refused: 0,
            not_sent: 0,
            pipelined_sessions: 0,
            sessions: 0,
            first_mail: None,
            last_accept: None,
            latencies: Percentiles::new(Vec::new()),
            errors: Vec::new(),
        };
        for report in reports {
            totals.accepted += report.accepted;
            totals.refused += report.refused;
            totals.not_sent += report.not_sent;
            totals.pipelined_sessions += usize::from(report.pipelined);
            totals.sessions += 1;
            totals.first_mail = earliest(totals.first_mail, report.first_mail);
            totals.last_accept = totals.last_accept.max(report.last_accept);
            latencies.extend(report.latencies);
            totals.errors.extend(report.errors);
        }
        totals.latencies = Percentiles::new(latencies);
        totals
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The rates.
struct Figures {
    /// First MAIL to the last `250` at the end of DATA.
    accept_window: Option<Duration>,
    accepted_per_s: Option<f64>,
    /// Start of the sessions to the sink's last delivery.
    delivery_window: Option<Duration>,
    delivered: u64,
    delivered_per_s: Option<f64>,
    undelivered: u64,
}

impl Figures {
    fn new(totals: &Totals, sink: &Sink, started: Instant) -> Self {
        let accept_window = totals.first_mail.zip(totals.last_accept).map(|(first, last)| last - first);
        let delivery_window = sink.counts.last_delivery().map(|last| last.saturating_duration_since(started));
        let delivered = sink.counts.delivered();
        Figures {
            accept_window,
            accepted_per_s: accept_window.and_then(|window| per_second(totals.accepted, window)),
            delivery_window,
            delivered,
            delivered_per_s: delivery_window.and_then(|window| per_second(delivered, window)),
            undelivered: totals.accepted.saturating_sub(delivered),
        }
    }
}

/// CPU time used during the throughput phase (and the drain).
struct Cpu {
    relay: Option<Duration>,
    this: Option<Duration>,
}

fn print_idle(idle: &IdleReport) {
    println!("idle connections:");
    println!(
        "  open:          {} of {} (greeted, EHLO answered) in {:.2} s; relay descriptors {} -> {}",
        idle.open,
        idle.wanted,
        idle.opening.as_secs_f64(),
        idle.fds.0,
        idle.fds.1
    );
    if let Some(error) = &idle.first_error {
        println!("  first failure: {error}");
    }
    println!("  relay VmRSS:   {} KiB -> {} KiB", idle.rss_kib.0, idle.rss_kib.1);
    match idle.bytes_per_connection() {
        Some(bytes) => println!("  per idle connection: {bytes} bytes ({:.1} KiB)", bytes as f64 / 1024.0),
        None => println!("  per idle connection: NA (no connection stayed open)"),
    }
}

fn print_throughput(totals: &Totals, figures: &Figures, sink: &Sink, cpu: &Cpu) {
    let secs =
        |d: Option<Duration>| d.map_or_else(|| "NA".to_owned(), |d| format!("{:.3} s", d.as_secs_f64()));
    println!("throughput:");
    println!("  pipelining:    {} of {} sessions", totals.pipelined_sessions, totals.sessions);
    println!(
        "  accepted:      {} in {} (first MAIL to last 250): {} msg/s",
        totals.accepted,
        secs(figures.accept_window),
        rate(figures.accepted_per_s)
    );
    println!(
        "  delivered:     {} in {} (start to the sink's last delivery): {} msg/s",
        figures.delivered,
        secs(figures.delivery_window),
        rate(figures.delivered_per_s)
    );
    let p = &totals.latencies;
    println!(
        "  end of DATA -> 250, {} messages: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        p.len(),
        ms(p.at(50.0)),
        ms(p.at(90.0)),
        ms(p.at(99.0)),
        ms(p.max())
    );
    println!(
        "  failures:      {} refused, {} not sent (session broke off), {} accepted but not delivered, \
         {} delivered twice, {} unknown at the sink; {} bytes at the sink",
        totals.refused,
        totals.not_sent,
        figures.undelivered,
        sink.counts.duplicates(),
        sink.counts.foreign(),
        sink.counts.bytes()
    );
    for error in totals.errors.iter().take(5) {
        println!("  error:         {error}");
    }
    let window = figures.delivery_window.unwrap_or_default().as_secs_f64();
    let share = |d: Duration| {
        let per_message = if figures.delivered > 0 {
            format!(", {:.0} µs/message", d.as_secs_f64() * 1e6 / figures.delivered as f64)
        } else {
            String::new()
        };
        let core = if window > 0.0 {
            format!(" ({:.0}% of one core{per_message})", d.as_secs_f64() * 100.0 / window)
        } else {
            String::new()
        };
        format!("{:.2} s{core}", d.as_secs_f64())
    };
    if let Some(relay) = cpu.relay {
        println!("  relay CPU:     {}", share(relay));
    }
    if let Some(this) = cpu.this {
        println!("  load+sink CPU: {} (this program: clients and sink)", share(this));
    }
}

fn print_targets(args: &Args, totals: &Totals, figures: &Figures, idle: Option<&IdleReport>) {
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let at_target_load =
        args.sessions == 20 && args.size == 4096 && args.sync == SyncArg::Group && !args.direct;
    println!(
        "targets{}:",
        if at_target_load {
            ""
        } else {
            " (set for 20 sessions, 4 KiB, sync=group via the relay; shown for reference)"
        }
    );
    if let Some(r) = figures.delivered_per_s {
        println!("  delivered >= 5000 msg/s:   {:.1}  {}", r, verdict(r >= TARGET_DELIVERED_PER_S));
    }
    if let Some(p99) = totals.latencies.at(99.0) {
        println!("  p99 <= 20 ms:              {}  {}", ms(Some(p99)), verdict(p99 <= TARGET_P99));
    }
    if let Some(bytes) = idle.and_then(IdleReport::bytes_per_connection) {
        println!("  idle <= 32 KiB/connection: {bytes} bytes  {}", verdict(bytes <= TARGET_IDLE_BYTES));
    }
}

fn result_line(
    args: &Args,
    totals: &Totals,
    figures: &Figures,
    idle: Option<&IdleReport>,
    cpu: &Cpu,
) -> String {
    let p = &totals.latencies;
    format!(
        "RESULT sessions={} size={} accepted_per_s={} delivered_per_s={} p50_ms={} p99_ms={} idle_conn_bytes={} \
         messages={} starttls={} sync={} direct={} p90_ms={} max_ms={} accepted={} delivered={} refused={} \
         not_sent={} undelivered={} relay_cpu_s={}",
        args.sessions,
        args.size,
        rate(figures.accepted_per_s),
        rate(figures.delivered_per_s),
        ms(p.at(50.0)),
        ms(p.at(99.0)),
        idle.and_then(IdleReport::bytes_per_connection).map_or_else(|| "NA".to_owned(), |b| b.to_string()),
        args.messages,
        args.starttls,
        args.sync.as_str(),
        args.direct,
        ms(p.at(90.0)),
        ms(p.max()),
        totals.accepted,
        figures.delivered,
        totals.refused,
        totals.not_sent,
        figures.undelivered,
        cpu.relay.map_or_else(|| "NA".to_owned(), |d| format!("{:.3}", d.as_secs_f64())),
    )
}
