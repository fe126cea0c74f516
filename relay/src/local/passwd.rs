//! Local accounts from the password file, for the [`RunAs`] and home
//! directory of a local recipient.

use std::fs;
use std::path::{Path, PathBuf};

use super::{LocalError, RunAs};

/// The system's password file.
pub const PASSWD: &str = "/etc/passwd";

/// A local account: whose mail it is and where its home is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalUser {
    /// The login name, as the file spells it.
    pub name: String,
    /// Its user and group IDs.
    pub run_as: RunAs,
    /// Its home directory.
    pub home: PathBuf,
}

/// The account `name` in the password file at `passwd` (normally
/// [`PASSWD`]): an exact match, else one that differs only in ASCII case
/// (mail to `Bob` reaches `bob`). `Ok(None)`: no such account, for the caller
/// to refuse with `5.1.1` or send elsewhere.
///
/// Only the file is read, not other NSS sources (LDAP, NIS): a relay whose
/// users live there gives its deliveries a [`RunAs`] of its own making.
/// Comment lines, NIS `+`/`-` lines and lines without seven fields are
/// skipped, as `getpwnam` skips them.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let passwd = dir.path().join("passwd");
/// # std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000:Bob:/home/bob:/bin/sh\n").unwrap();
/// use smarthost_relay::local::{RunAs, find_user};
///
/// let bob = find_user(&passwd, "Bob")?.unwrap();
/// assert_eq!(bob.run_as, RunAs { uid: 1000, gid: 1000 });
/// assert_eq!(bob.home, std::path::Path::new("/home/bob"));
/// assert!(find_user(&passwd, "carol")?.is_none());
/// # Ok::<(), smarthost_relay::local::LocalError>(())
/// ```
pub fn find_user(passwd: &Path, name: &str) -> Result<Option<LocalUser>, LocalError> {
    let entries = read_users(passwd)?;
    let exact = entries.iter().position(|user| user.name == name);
    let folded = || entries.iter().position(|user| user.name.eq_ignore_ascii_case(name));
    Ok(exact.or_else(folded).map(|at| entries[at].clone()))
}

/// Every account of a password file, in file order (lines that are not
/// `name:password:uid:gid:gecos:home:shell`, NIS `+`/`-` and comments are
/// skipped). The relay reads it once per configuration load.
pub fn read_users(passwd: &Path) -> Result<Vec<LocalUser>, LocalError> {
    let text = fs::read(passwd).map_err(|e| LocalError::io("cannot read the password file", passwd, &e))?;
    Ok(String::from_utf8_lossy(&text).lines().filter_map(parse_line).collect())
}

/// One `name:password:uid:gid:gecos:home:shell` line, if it is one.
fn parse_line(line: &str) -> Option<LocalUser> {
    if line.starts_with(['#', '+', '-']) {
        return None;
    }
    let fields: Vec<&str> = line.split(':').collect();
    let [name, _password, uid, gid, _gecos, home, _shell] = fields.as_slice() else { return None };
    if name.is_empty() {
        return None;
    }
    Some(LocalUser {
        name: (*name).to_string(),
        run_as: RunAs { uid: uid.parse().ok()?, gid: gid.parse().ok()? },
        home: PathBuf::from(home),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_getpwnam_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        fs::write(
            &passwd,
            "# comment\n+nisuser::::::\nroot:x:0:0:root:/root:/bin/sh\nbroken:x:12\nbad:x:uid:1:::\n\
             Mixed:x:1001:100::/home/mixed:/bin/sh\nmixed:x:1002:100::/home/lower:/bin/sh\n",
        )
        .unwrap();
        let find = |name| find_user(&passwd, name).unwrap().map(|u| (u.name, u.run_as.uid, u.home));
        assert_eq!(find("root"), Some(("root".into(), 0, PathBuf::from("/root"))));
        assert_eq!(find("mixed"), Some(("mixed".into(), 1002, PathBuf::from("/home/lower"))), "exact first");
        assert_eq!(find("MIXED"), Some(("Mixed".into(), 1001, PathBuf::from("/home/mixed"))), "then folded");
        for missing in ["nisuser", "+nisuser", "broken", "bad", "carol", ""] {
            assert_eq!(find(missing), None, "{missing}");
        }
        let error = find_user(&dir.path().join("none"), "root").unwrap_err();
        assert!(!error.permanent && error.text.contains("password file"), "{error}");
    }
}
