//! `smarthost serve`: the relay in the foreground.
//!
//! It loads the configuration and every file it names (refusing to start,
//! with the file and the fix, when one is wrong), opens the spool and
//! recovers what a previous run left, binds the listeners and runs the queue.
//! SIGHUP re-reads the configuration and maps (a broken one is refused and
//! the old one keeps running); maps rebuilt on disk are picked up within two
//! seconds without a signal; SIGUSR1 runs the queue now; SIGTERM and SIGINT
//! stop accepting, finish the transactions and deliveries in flight, and
//! exit 0. Log lines go to standard error.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use smarthost_relay::{Config, Log, LogFormat, Relay};

use crate::exit::Sysexit;

/// Runs the relay until SIGTERM. Exit status: 0 after a clean stop, 78
/// (EX_CONFIG) for a configuration that does not load, 66 when it is
/// missing, 71 (EX_OSERR) when a listener or the spool cannot be opened.
pub fn run(config_path: &Path, log_format: Option<LogFormat>) -> ExitCode {
    if !config_path.is_file() {
        eprintln!("smarthost: {}: no such configuration file", config_path.display());
        return Sysexit::NoInput.into();
    }
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("smarthost: not started; fix the configuration and start again");
            return Sysexit::Config.into();
        }
    };
    for warning in &config.warnings {
        eprintln!("{warning}");
    }
    let format = log_format.unwrap_or(config.log.format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smarthost: cannot start the runtime: {error}");
            return Sysexit::OsErr.into();
        }
    };
    runtime.block_on(async move {
        let log = Arc::new(Log::stderr(format));
        match Relay::start(config, log).await {
            Ok(relay) => {
                relay.run_until_signal().await;
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("smarthost: not started: {error}");
                Sysexit::OsErr.into()
            }
        }
    })
}
