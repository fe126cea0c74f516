//! Loading an AuthInfo map safely: permission checks first, then the map
//! (text or compiled, through [`smarthost_maps::open_map`]), then every
//! AuthInfo entry checked so a mistake shows up at load time, not at the
//! first delivery.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use smarthost_maps::{MapGeneration, MapType, Source, SourceOptions, open_map};

use crate::entry::{AuthInfoError, Origin, parse_value};
use crate::lookup::{AUTHINFO_FROM_TAG, AUTHINFO_TAG, Found, LookupOptions, LookupRequest, lookup_in};

/// Permission bits an AuthInfo file must not have: any access by group or
/// others (fetchmail's ceiling, 0600).
pub const FORBIDDEN_MODE: u32 = 0o077;

/// Refuses a file that group or others may access, or that belongs to a
/// user other than root or the one this process runs as.
///
/// ```
/// # use std::os::unix::fs::PermissionsExt;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("client-info");
/// std::fs::write(&path, "AuthInfo: \"U:a\" \"P:b\"\n")?;
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
/// let error = smarthost_authinfo::check_permissions(&path).unwrap_err();
/// assert!(error.to_string().contains("mode is 0644"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_permissions(path: impl AsRef<Path>) -> Result<(), AuthInfoError> {
    let path = path.as_ref();
    let metadata =
        std::fs::metadata(path).map_err(|source| AuthInfoError::Stat { path: path.to_owned(), source })?;
    let mode = metadata.mode() & 0o7777;
    if mode & FORBIDDEN_MODE != 0 {
        return Err(AuthInfoError::TooPermissive { path: path.to_owned(), mode });
    }
    let expected = effective_uid();
    let owner = metadata.uid();
    if owner != 0 && Some(owner) != expected {
        return Err(AuthInfoError::WrongOwner {
            path: path.to_owned(),
            owner,
            expected: expected.unwrap_or(0),
        });
    }
    Ok(())
}

/// How an AuthInfo map is read and searched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// How a text source is parsed (makemap's flags).
    pub source: SourceOptions,
    /// Which keys are tried.
    pub lookup: LookupOptions,
}

/// An AuthInfo map (a separate authinfo map or the access map) that passed
/// the permission checks and whose AuthInfo entries all parse.
///
/// ```
/// # use std::os::unix::fs::PermissionsExt;
/// use smarthost_authinfo::{AuthInfoFile, LoadOptions, LookupRequest};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("client-info");
/// std::fs::write(&path, "AuthInfo:smtp.isp.example \"U:relay\" \"P=c2VjcmV0\"\n")?;
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
/// let file = AuthInfoFile::load(&path, LoadOptions::default())?;
/// let found = file.lookup(&LookupRequest::new("smtp.isp.example"))?.unwrap();
/// assert_eq!(found.entry.password.expose(), b"secret");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AuthInfoFile {
    map: MapGeneration,
    options: LoadOptions,
    has_default: bool,
}

impl AuthInfoFile {
    /// Checks the permissions of `path` and of the compiled `path.db` or
    /// `path.cdb` beside it, opens the map as [`open_map`] does, and parses
    /// every `AuthInfo:` and `AuthInfoFrom:` entry strictly
    /// ([`crate::AuthEntry::parse_strict`]); the first bad entry is the error,
    /// with `file:line` for a text source and `file: key` for a compiled one.
    pub fn load(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self, AuthInfoError> {
        let path = path.as_ref();
        let mut checked = HashSet::new();
        for candidate in [path.to_path_buf(), MapType::Hash.file_name(path), MapType::Cdb.file_name(path)] {
            if candidate == path || candidate.exists() {
                check_permissions(&candidate)?;
                checked.insert(candidate);
            }
        }
        let map = open_map(path, &options.source)?;
        if !checked.contains(map.path()) {
            check_permissions(map.path())?;
        }
        let has_default = validate(&map, &options.source)?;
        Ok(Self { map, options, has_default })
    }

    /// Looks credentials up for `request` (see [`crate::lookup`]).
    pub fn lookup(&self, request: &LookupRequest<'_>) -> Result<Option<Found>, AuthInfoError> {
        let file = Origin { path: Some(self.map.path().to_path_buf()), ..Origin::default() };
        lookup_in(&self.map, request, &self.options.lookup, &file)
    }

    /// The keys [`lookup`](Self::lookup) tries for `request`, in order.
    pub fn keys(&self, request: &LookupRequest<'_>) -> Vec<String> {
        request.keys(&self.options.lookup)
    }

    /// Whether the map has a default entry (`AuthInfo:`), which sends
    /// credentials to every server that offers AUTH; the caller must warn.
    pub fn has_default_entry(&self) -> bool {
        self.has_default
    }

    /// The file that was read (the compiled map, if there is one).
    pub fn path(&self) -> &Path {
        self.map.path()
    }

    /// The loaded map.
    pub fn map(&self) -> &MapGeneration {
        &self.map
    }
}

/// Parses every AuthInfo entry of `map`; returns whether a default entry exists.
fn validate(map: &MapGeneration, options: &SourceOptions) -> Result<bool, AuthInfoError> {
    let path: PathBuf = map.path().to_path_buf();
    let mut has_default = false;
    let mut check = |key: &[u8], value: &[u8], line: Option<usize>| -> Result<(), AuthInfoError> {
        if !is_authinfo_key(key) {
            return Ok(());
        }
        has_default |= key.eq_ignore_ascii_case(AUTHINFO_TAG.as_bytes());
        let key = String::from_utf8_lossy(key).into_owned();
        let origin = Origin { path: Some(path.clone()), line, key: Some(key) };
        parse_value(value, true, &origin).map(drop)
    };
    if let Some(compiled) = map.compiled() {
        for record in compiled.iter() {
            let (key, value) = record?;
            check(key, value, None)?;
        }
    } else {
        let text = std::fs::read(map.path()).map_err(|source| smarthost_maps::Error::Io {
            action: smarthost_maps::IoAction::Read,
            path: path.clone(),
            source,
        })?;
        for entry in Source::parse(&text, options).entries() {
            check(&entry.key, &entry.value, Some(entry.line))?;
        }
    }
    Ok(has_default)
}

/// Whether `key` is an `AuthInfo:` or `AuthInfoFrom:` key (any case).
fn is_authinfo_key(key: &[u8]) -> bool {
    [AUTHINFO_TAG, AUTHINFO_FROM_TAG]
        .iter()
        .any(|tag| key.len() >= tag.len() && key[..tag.len()].eq_ignore_ascii_case(tag.as_bytes()))
}

/// The user this process runs as: the owner of `/proc/self` on Linux.
fn effective_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn file_with(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn mode_0600_is_accepted_and_0640_0604_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let ok = file_with(dir.path(), "ok", "", 0o600);
        check_permissions(&ok).unwrap();
        for mode in [0o640, 0o604, 0o644, 0o620, 0o601] {
            let path = file_with(dir.path(), &format!("m{mode:o}"), "", mode);
            let message = check_permissions(&path).unwrap_err().to_string();
            let p = path.display();
            assert_eq!(
                message,
                format!(
                    "{p}: mode is {mode:04o}, but AuthInfo files hold passwords and must not be accessible \
                     by group or others (at most 0600, u=rw); run `chmod 600 {p}`"
                )
            );
        }
    }

    #[test]
    fn a_file_owned_by_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "theirs", "", 0o600);
        let me = effective_uid().unwrap();
        let other = if me == 0 { 4242 } else { me + 1 };
        if std::os::unix::fs::chown(&path, Some(other), None).is_err() {
            return; // Not root: cannot give the file away, so nothing to test.
        }
        let message = check_permissions(&path).unwrap_err().to_string();
        assert!(message.contains(&format!("owned by uid {other}")), "{message}");
        assert!(message.ends_with(&format!("run `chown root {}`", path.display())), "{message}");
    }

    #[test]
    fn load_checks_the_compiled_map_too() {
        let dir = tempfile::tempdir().unwrap();
        let text = "AuthInfo:smtp.isp.example \"U:a\" \"P:b\"\n";
        let path = file_with(dir.path(), "client-info", text, 0o600);
        let db = MapType::Hash.file_name(&path);
        let source = Source::parse(text.as_bytes(), &SourceOptions::default());
        let builder =
            smarthost_maps::MapBuilder::new(&db, &SourceOptions::default()).mode(0o600).skip_path_checks();
        builder.write(source.entries()).unwrap();
        let file = AuthInfoFile::load(&path, LoadOptions::default()).unwrap();
        assert_eq!(file.path(), db);
        assert!(file.lookup(&LookupRequest::new("smtp.isp.example")).unwrap().is_some());

        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = AuthInfoFile::load(&path, LoadOptions::default()).unwrap_err();
        assert!(
            matches!(&error, AuthInfoError::TooPermissive { path, mode: 0o644 } if *path == db),
            "{error}"
        );
    }

    #[test]
    fn load_reports_the_bad_line_and_the_default_entry() {
        let dir = tempfile::tempdir().unwrap();
        let good = "# credentials\nAuthInfo: \"U:default\" \"P=c2VjcmV0\"\nConnect:192.0.2.1 REJECT\n";
        let path = file_with(dir.path(), "good", good, 0o600);
        let file = AuthInfoFile::load(&path, LoadOptions::default()).unwrap();
        assert!(file.has_default_entry());
        let found = file.lookup(&LookupRequest::new("other.example")).unwrap().unwrap();
        assert_eq!((found.key.as_str(), found.entry.password.expose()), ("AuthInfo:", &b"secret"[..]));

        let bad = "AuthInfo:a.example \"U:a\" \"P:b\"\nAuthInfo:b.example \"U:a\" \"P:pa ss\"word\"\n";
        let path = file_with(dir.path(), "bad", bad, 0o600);
        let message = AuthInfoFile::load(&path, LoadOptions::default()).unwrap_err().to_string();
        assert!(message.starts_with(&format!("{}:2: the text from byte 15 on", path.display())), "{message}");
        assert!(!message.contains("pa ss") && !message.contains("word\""), "leaks the password: {message}");
    }
}
