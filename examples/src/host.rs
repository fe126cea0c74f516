//! This machine's name, for the commands whose `--hostname` is optional.

use std::fs;

/// This machine's name, as the kernel has it; the error says to give
/// `--hostname` instead.
pub(crate) fn system_hostname() -> Result<String, String> {
    const FILE: &str = "/proc/sys/kernel/hostname";
    let name = fs::read_to_string(FILE)
        .map_err(|e| format!("{FILE}: cannot read the host name: {e}; give --hostname"))?;
    Ok(name.trim().to_string())
}
