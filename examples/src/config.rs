//! `smarthost config check|show --config FILE`: the relay's configuration
//! file, checked the way the relay reads it, or shown with every default.
//!
//! `check` prints each problem as `FILE:LINE:COLUMN: error: `key`: message`
//! on standard error, then `FILE: ok` on standard output (warnings do not
//! fail the check); it exits 0 when the configuration and the files it names
//! are usable, 78 (`EX_CONFIG`) when something is wrong, 66 (`EX_NOINPUT`)
//! when the configuration file cannot be read.
//!
//! `show` prints the effective configuration as TOML: every key, defaults
//! filled in, paths absolute.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use smarthost_relay::{Config, ConfigErrors, Problem};

use crate::exit::Sysexit;

/// `smarthost config check --config FILE`.
pub fn check(file: &Path) -> ExitCode {
    let config = match Config::load(file) {
        Ok(config) => config,
        Err(errors) => return refuse(file, &errors),
    };
    let mut problems = config.warnings.clone();
    problems.extend(config.check_files());
    report(&problems);
    let errors = problems.iter().filter(|p| p.is_error()).count();
    if errors > 0 {
        eprintln!("{}: {}", file.display(), counts(&problems));
        return Sysexit::Config.into();
    }
    let warnings = match problems.len() {
        0 => String::new(),
        _ => format!(" ({})", counts(&problems)),
    };
    println!("{}: ok{warnings}", file.display());
    Sysexit::Ok.into()
}

/// `smarthost config show --config FILE`.
pub fn show(file: &Path) -> ExitCode {
    // Read through the absolute name, so that the paths shown are absolute too.
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let config = match Config::load(&absolute) {
        Ok(config) => config,
        Err(errors) => return refuse(file, &errors),
    };
    report(&config.warnings);
    let mut out = io::stdout().lock();
    match out.write_all(config.to_toml().as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("smarthost: cannot write to standard output: {error}");
            Sysexit::IoErr.into()
        }
        _ => Sysexit::Ok.into(),
    }
}

/// Every problem of a configuration that did not load, and the status.
fn refuse(file: &Path, errors: &ConfigErrors) -> ExitCode {
    report(errors.problems());
    if errors.is_unreadable() {
        return Sysexit::NoInput.into();
    }
    eprintln!("{}: {}", file.display(), counts(errors.problems()));
    Sysexit::Config.into()
}

fn report(problems: &[Problem]) {
    for problem in problems {
        eprintln!("{problem}");
    }
}

/// `2 errors, 1 warning`.
fn counts(problems: &[Problem]) -> String {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}
