//! Handing a new map to sendmail.cf's TrustedUser, as makemap does when root
//! builds it, so that a relay running as that user can read its maps.

use std::ffi::CString;
use std::path::Path;

use super::cf::TrustedUser;

/// Whether the effective user is root.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// The user id to give maps to; `None` (with a warning for an unknown name)
/// when there is nobody to hand them to. Root itself (uid 0) needs no chown.
pub(crate) fn resolve(user: &TrustedUser) -> Option<u32> {
    let uid = match user {
        TrustedUser::Uid(uid) => Some(*uid),
        TrustedUser::Name(name) => {
            let uid = uid_of(name);
            if uid.is_none() {
                eprintln!("makemap: TrustedUser: unknown user {name}; the map stays owned by root");
            }
            uid
        }
    };
    uid.filter(|&uid| uid != 0)
}

/// Gives `map` to `uid`, warning (not failing: the map itself is fine) when
/// that is refused.
pub(crate) fn hand_over(map: &Path, uid: u32) {
    if let Err(error) = std::os::unix::fs::chown(map, Some(uid), None) {
        eprintln!(
            "makemap: WARNING: ownership change on {} failed: {error}; run `chown {uid} {}`",
            map.display(),
            map.display()
        );
    }
}

/// Looks a user name up in the password database (and so in NSS sources
/// such as LDAP, which parsing /etc/passwd would miss).
fn uid_of(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    // SAFETY: `name` is a valid C string. getpwnam returns NULL or a pointer
    // to static storage that stays valid until the next getpw* call; makemap
    // has no other threads and reads the one field it needs at once.
    #[allow(unsafe_code)]
    let uid = unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        (!entry.is_null()).then(|| (*entry).pw_uid)
    };
    uid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_unknown_users_get_no_chown() {
        assert_eq!(resolve(&TrustedUser::Uid(0)), None);
        assert_eq!(resolve(&TrustedUser::Name("root".into())), None);
        assert_eq!(resolve(&TrustedUser::Name("no-such-user-for-makemap".into())), None);
        assert_eq!(resolve(&TrustedUser::Uid(4242)), Some(4242));
    }
}
