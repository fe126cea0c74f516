//! The three system calls std has no safe wrapper for: the effective user
//! ID, an `fcntl` record lock, and a signal to a process group. Each
//! `unsafe` block is one FFI call on plain integers or a stack struct.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// The process's effective user ID.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}

/// Tries once to take a write lock on the whole of `file` without waiting.
/// `Ok(false)`: someone else holds a conflicting lock.
///
/// On Linux this is an open-file-description lock (`F_OFD_SETLK`): it
/// conflicts with the POSIX `F_SETLK` locks mail readers take, but belongs
/// to this open file rather than to the process, so two threads of the relay
/// exclude each other too and closing another descriptor of the file does
/// not drop it. Kernels before 3.15 lack it; there the POSIX lock is used.
pub(crate) fn try_write_lock(file: &File) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    match set_lock(file, libc::F_OFD_SETLK) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
        other => return other,
    }
    set_lock(file, libc::F_SETLK)
}

fn set_lock(file: &File, command: libc::c_int) -> io::Result<bool> {
    // SAFETY: `flock` is a plain C struct of integers, for which all zero
    // bytes are a valid value (and l_pid must be 0 for F_OFD_SETLK).
    #[allow(unsafe_code)]
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    lock.l_start = 0;
    lock.l_len = 0; // to the end of the file, however it grows
    // SAFETY: the descriptor is open for as long as `file` is borrowed, and
    // `lock` is a valid, exclusively borrowed flock that outlives the call.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), command, &mut lock) };
    if rc == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(error),
    }
}

/// Sends SIGKILL to every process in the process group `group` (a child
/// started with `process_group(0)`, whose group ID is its PID).
pub(crate) fn kill_process_group(group: u32) {
    let Ok(group) = libc::pid_t::try_from(group) else { return };
    if group <= 1 {
        return; // -1 and -0 would mean every process we may signal, or our own group
    }
    // SAFETY: kill takes two integers and touches no memory. A group that no
    // longer exists gives ESRCH, which is what we want to ignore.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}
