//! `makemap`: sendmail's map compiler, for existing Makefiles and habits
//! (`makemap hash /etc/mail/access < /etc/mail/access`).

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    // Like sendmail, the usage text names the program as it was invoked.
    let program = args.next().map(program_name).unwrap_or_else(|| "makemap".into());
    let args: Vec<OsString> = args.collect();
    smarthost::makemap::run(&program, &args)
}

fn program_name(argv0: OsString) -> String {
    let path = Path::new(&argv0);
    path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}
