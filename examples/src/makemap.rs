//! `makemap`: sendmail 8.18's map compiler, flag for flag (spec `maps.md` §1),
//! writing smarthost's compiled maps.
//!
//! `makemap [FLAGS] TYPE NAME < SOURCE` reads the source from standard input
//! and replaces `NAME.db` (or `NAME.cdb`) atomically. The exit status is
//! sendmail's: 0 when every line was accepted, 65 when some were rejected
//! (the map still holds the rest), 73 when the map cannot be created, 74 on a
//! write error and 64 on a usage error.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use smarthost_maps::{MapType, UnknownMapType};

use crate::exit::{Failure, Sysexit};

mod args;
mod build;
mod cf;
mod dump;
mod owner;

use args::{Invocation, Listing, Parsed};

/// Runs makemap with `args` (the arguments after the program name) on the
/// process's standard input and output, and returns its exit status.
///
/// `program` is the name the usage text shows: `makemap`, or
/// `smarthost makemap` for the subcommand.
pub fn run(program: &str, args: &[OsString]) -> ExitCode {
    match execute(program, args) {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("makemap: {}", failure.message);
            failure.status.into()
        }
    }
}

fn execute(program: &str, args: &[OsString]) -> Result<Sysexit, Failure> {
    let invocation = match args::parse(args) {
        Ok(Parsed::List(listing)) => return print_types(listing),
        Ok(Parsed::Run(invocation)) => invocation,
        Err(error) => {
            if let Some(message) = error.message() {
                eprintln!("{program}: {message}");
            }
            eprint!("{}", usage(program));
            return Ok(Sysexit::Usage);
        }
    };
    for warning in &invocation.warnings {
        eprintln!("{warning}");
    }
    let settings = cf::read_for(&invocation)?;
    let map_type = resolve_type(&invocation, &settings)?;
    let file = map_type.file_name(&invocation.map_name);
    if invocation.dump {
        return dump::run(&file, invocation.options.delimiter);
    }
    if invocation.append && map_type == MapType::Cdb {
        return Err(Failure::new(
            Sysexit::Usage,
            "-o is not supported for cdb maps (a constant database cannot be appended to); \
             rebuild it from the whole source",
        ));
    }
    // sendmail hands the map to TrustedUser only when root runs makemap.
    let owner = settings.trusted_user.as_ref().filter(|_| owner::is_root()).and_then(owner::resolve);
    build::run(&invocation, &file, owner)
}

/// sendmail's usage text, aligned under the program name as sendmail does.
fn usage(program: &str) -> String {
    let pad = " ".repeat(program.len());
    format!(
        "Usage: {program} [-C cffile] [-N] [-c cachesize] [-D commentchar]\n       \
         {pad} [-d] [-e] [-f] [-i type] [-l] [-o] [-r] [-s] [-t delimiter]\n       \
         {pad} [-u] [-v] type mapname\n"
    )
}

/// `-l`, `-x` and `-L`: one type a line.
fn print_types(listing: Listing) -> Result<Sysexit, Failure> {
    let mut names: Vec<&str> = MapType::ALL.iter().map(|t| t.name()).collect();
    if listing == Listing::WithCf {
        names.extend(["cf", "CF"]);
    }
    let mut out = io::stdout().lock();
    let written = names.iter().try_for_each(|name| writeln!(out, "{name}")).and_then(|()| out.flush());
    match written {
        Err(error) if !crate::records::reader_went_away(&error) => {
            Err(Failure::new(Sysexit::IoErr, format!("cannot write to standard output: {error}")))
        }
        _ => Ok(Sysexit::Ok),
    }
}

/// The map type to write: the TYPE operand, or for `cf`/`CF` the class on
/// the map's K line in sendmail.cf; `-i` names the type to use instead when
/// that finds nothing or names a type this build does not write.
fn resolve_type(invocation: &Invocation, settings: &cf::Settings) -> Result<MapType, Failure> {
    let name = if cf::MatchBy::for_type(&invocation.type_name).is_some() {
        match (&settings.map_class, &invocation.fallback) {
            (Some(class), _) => class.as_str(),
            (None, Some(fallback)) => {
                if invocation.verbose {
                    eprintln!(
                        "makemap: mapfile {}: not found in {}, using fallback {fallback}",
                        invocation.map_name.display(),
                        cf::path(invocation).display()
                    );
                }
                fallback.as_str()
            }
            (None, None) => {
                return Err(Failure::new(
                    Sysexit::DataErr,
                    format!(
                        "mapfile {}: not found in {}",
                        invocation.map_name.display(),
                        cf::path(invocation).display()
                    ),
                ));
            }
        }
    } else {
        invocation.type_name.as_str()
    };
    match (name.parse::<MapType>(), &invocation.fallback) {
        (Ok(map_type), _) => Ok(map_type),
        (Err(UnknownMapType::Unsupported(_)), Some(fallback)) if fallback != name => {
            fallback.parse().map_err(type_failure)
        }
        (Err(error), _) => Err(type_failure(error)),
    }
}

fn type_failure(error: UnknownMapType) -> Failure {
    let status = match error {
        UnknownMapType::Unsupported(_) => Sysexit::Unavailable,
        _ => Sysexit::Usage,
    };
    Failure::new(status, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lines_align_under_the_program_name() {
        let text = usage("smarthost makemap");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Usage: smarthost makemap [-C cffile] [-N] [-c cachesize] [-D commentchar]");
        assert!(lines[1].starts_with(&format!("{} [-d]", " ".repeat(7 + 17))));
        assert!(lines[2].ends_with("[-u] [-v] type mapname"));
    }

    #[test]
    fn dbm_is_unavailable_and_unknown_types_are_usage_errors() {
        assert_eq!(type_failure("dbm".parse::<MapType>().unwrap_err()).status, Sysexit::Unavailable);
        assert_eq!(type_failure("ldap".parse::<MapType>().unwrap_err()).status, Sysexit::Usage);
    }
}
