//! What the load program reads from and asks of the kernel: resident
//! memory, CPU time and open descriptors of a process from `/proc`, the
//! file-descriptor limit, and the file system a directory lives on.

use std::io;
use std::path::Path;
use std::time::Duration;

/// Which process `/proc` is asked about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pid {
    /// The load program itself (and its in-process sink).
    This,
    /// Another process: the relay.
    Other(u32),
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::This => "/proc/self".to_owned(),
            Pid::Other(pid) => format!("/proc/{pid}"),
        }
    }

    /// Resident memory (`VmRSS` of `/proc/PID/status`), in KiB.
    pub(crate) fn rss_kib(self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("{}/status", self.dir())).ok()?;
        status_field_kib(&status, "VmRSS")
    }

    /// User plus system CPU time of all the process's threads so far
    /// (`utime + stime` of `/proc/PID/stat`).
    pub(crate) fn cpu_time(self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("{}/stat", self.dir())).ok()?;
        let ticks = stat_cpu_ticks(&stat)?;
        Some(Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64))
    }

    /// Open file descriptors (entries of `/proc/PID/fd`): sockets included,
    /// so it shows how many connections the process holds.
    pub(crate) fn open_fds(self) -> Option<usize> {
        Some(std::fs::read_dir(format!("{}/fd", self.dir())).ok()?.count())
    }
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit, so that it
/// can hold thousands of idle connections; children (the relay) inherit it.
/// Returns the new soft limit.
#[allow(unsafe_code)]
pub(crate) fn raise_fd_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one `rlimit`, which we own and which lives
    // across the call; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the `rlimit` we pass by reference.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// The file-system type (`ext4`, `tmpfs`, ...) that `path` is on, from the
/// longest matching mount point in `/proc/self/mounts`. The spool's
/// `fsync` costs depend on it: on tmpfs it costs nothing.
pub(crate) fn filesystem_type(path: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let path = path.canonicalize().ok()?;
    mount_type(&mounts, &path)
}

/// The clock ticks `/proc/PID/stat` counts CPU time in.
#[allow(unsafe_code)]
fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes a plain integer name and touches no memory of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // 100 is what Linux has used on every architecture; sysconf fails only
    // for names it does not know.
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// A `Name:   1234 kB` field of `/proc/PID/status`.
fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    let line =
        status.lines().find(|line| line.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so counting starts after the last `)`.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // fields 3..=13
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The type of the longest mount point in `mounts` that holds `path`.
fn mount_type(mounts: &str, path: &Path) -> Option<String> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            // Mount points escape spaces as \040; a spool path with one is
            // not worth decoding for.
            path.starts_with(point).then(|| (point.len(), kind.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tsmarthost\nVmPeak:\t  20000 kB\nVmRSS:\t   10240 kB\nRssAnon:\t 8000 kB\n";
        assert_eq!(status_field_kib(status, "VmRSS"), Some(10_240));
        assert_eq!(status_field_kib(status, "Vm"), None, "a prefix of a field name is not the field");
        assert_eq!(status_field_kib(status, "VmSwap"), None);
    }

    #[test]
    fn reads_cpu_ticks_after_an_awkward_name() {
        // Fields 14 and 15 are 250 and 50; the name holds ") " to mislead a naive split.
        let stat = "4242 (smart) host) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 5 0 100 \
                    12345678 2500 18446744073709551615";
        assert_eq!(stat_cpu_ticks(stat), Some(300));
        assert_eq!(stat_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn this_process_is_readable() {
        assert!(Pid::This.rss_kib().is_some_and(|kib| kib > 0));
        assert!(Pid::This.cpu_time().is_some());
        assert!(Pid::This.open_fds().is_some_and(|n| n >= 3));
    }

    #[test]
    fn longest_mount_point_wins() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\ntmpfs /tmpx tmpfs rw 0 0\n";
        assert_eq!(mount_type(mounts, Path::new("/tmp/load/spool")).as_deref(), Some("tmpfs"));
        assert_eq!(mount_type(mounts, Path::new("/work/spool")).as_deref(), Some("ext4"));
        // `/tmpxyz` is not under `/tmpx`: paths compare by component.
        assert_eq!(mount_type(mounts, Path::new("/tmpxyz")).as_deref(), Some("ext4"));
    }
}
