//! This machine's name, when the configuration gives no `hostname`.

use std::fs;

/// The kernel's host name; the error says to set `hostname`.
pub(crate) fn system_hostname() -> Result<String, String> {
    const FILE: &str = "/proc/sys/kernel/hostname";
    let name = fs::read_to_string(FILE).map_err(|e| {
        format!("{FILE}: cannot read the host name: {e}; set `hostname` in the configuration")
    })?;
    Ok(name.trim().to_string())
}
