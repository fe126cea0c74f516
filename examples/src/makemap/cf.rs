//! What makemap reads from sendmail.cf: the class of the map being built
//! (for the `cf` and `CF` map types) and the TrustedUser option.
//!
//! sendmail's `readcf` compares the K line's last argument with the map name:
//! for `cf` the full paths must be equal; for `CF` (any other spelling of
//! `cf`) only the base names without their extension, so `CF access` finds
//! `Kaccess hash -T<TMPF> -o /etc/mail/access.db`.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::args::Invocation;
use crate::exit::{Failure, Sysexit};

/// The configuration file read when `-C` does not name one.
pub(crate) const DEFAULT_CF: &str = "/etc/mail/sendmail.cf";

/// How a K line's file argument is compared with the map name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MatchBy {
    /// Type `cf`: the whole path, as written.
    FullPath,
    /// Type `CF` (`Cf`, `cF`): the base name without its extension.
    BaseName,
}

impl MatchBy {
    /// How map type `name` asks for the class; `None` for a real type.
    pub(crate) fn for_type(name: &str) -> Option<Self> {
        match name {
            "cf" => Some(Self::FullPath),
            _ if name.eq_ignore_ascii_case("cf") => Some(Self::BaseName),
            _ => None,
        }
    }
}

/// What a sendmail.cf says about the map being built.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// The class on the map's K line (`hash`, `btree`...), for `cf`/`CF`.
    pub(crate) map_class: Option<String>,
    /// `O TrustedUser=`: who should own maps that root builds.
    pub(crate) trusted_user: Option<TrustedUser>,
}

/// The value of `O TrustedUser=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TrustedUser {
    /// A numeric user id.
    Uid(u32),
    /// A user name, looked up in the password database.
    Name(String),
}

/// The configuration file this run reads.
pub(crate) fn path(invocation: &Invocation) -> &Path {
    invocation.cf_file.as_deref().unwrap_or(Path::new(DEFAULT_CF))
}

/// Reads the configuration when this run needs it: always for the `cf`/`CF`
/// types, and for TrustedUser when root builds a map. The system file is
/// optional for the latter (a smarthost host need not have one); a file that
/// `-C` names, or that `cf` needs, must exist (`EX_NOINPUT`, as in sendmail).
pub(crate) fn read_for(invocation: &Invocation) -> Result<Settings, Failure> {
    let match_by = MatchBy::for_type(&invocation.type_name);
    let wants_owner = !invocation.dump && super::owner::is_root();
    if match_by.is_none() && !wants_owner {
        return Ok(Settings::default());
    }
    let file = path(invocation);
    let text = match fs::read(file) {
        Ok(text) => text,
        Err(error)
            if match_by.is_none()
                && invocation.cf_file.is_none()
                && error.kind() == io::ErrorKind::NotFound =>
        {
            return Ok(Settings::default());
        }
        Err(error) => {
            return Err(Failure::new(
                Sysexit::NoInput,
                format!("{}: {error}; name the configuration file with -C", file.display()),
            ));
        }
    };
    let map = match_by.map(|by| (invocation.map_name.as_os_str().as_bytes(), by));
    Ok(scan(&text, map))
}

/// Scans sendmail.cf text for TrustedUser (the last one counts) and, when
/// `map` is given, the class on the first K line whose last argument names
/// that map file.
pub(crate) fn scan(text: &[u8], map: Option<(&[u8], MatchBy)>) -> Settings {
    let wanted = map.map(|(name, by)| (comparable(name, by), by));
    let mut settings = Settings::default();
    for line in text.split(|&b| b == b'\n') {
        match line.first() {
            Some(b'O') => {
                if let Some(user) = trusted_user(&line[1..]) {
                    settings.trusted_user = Some(user);
                }
            }
            Some(b'K') if settings.map_class.is_none() => {
                let Some((name, by)) = wanted else { continue };
                match k_line(line, name, by) {
                    KLine::Other => {}
                    KLine::Class(class) => settings.map_class = Some(class),
                    // sendmail's readcf gives up on the file here.
                    KLine::Malformed => break,
                }
            }
            _ => {}
        }
    }
    settings
}

/// `O TrustedUser=NAME` or `=UID`, given the text after the `O`.
fn trusted_user(option: &[u8]) -> Option<TrustedUser> {
    const NAME: &[u8] = b" TrustedUser";
    let head = option.get(..NAME.len())?;
    if !head.eq_ignore_ascii_case(NAME) || option.get(NAME.len()).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let equals = option.iter().position(|&b| b == b'=')?;
    let value = option[equals + 1..].trim_ascii();
    if value.first().is_some_and(u8::is_ascii_digit) {
        // Like sendmail's atoi: the leading digits.
        let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
        let uid = std::str::from_utf8(&value[..digits]).ok()?.parse().ok()?;
        return Some(TrustedUser::Uid(uid));
    }
    Some(TrustedUser::Name(String::from_utf8_lossy(value).into_owned()))
}

/// What a K line says about the map.
#[derive(Debug, PartialEq, Eq)]
enum KLine {
    /// Another map.
    Other,
    /// This map, with its class.
    Class(String),
    /// This map, but no map name or class can be read from the line.
    Malformed,
}

fn k_line(line: &[u8], wanted: &[u8], by: MatchBy) -> KLine {
    let line = line.trim_ascii_end();
    let Some(space) = line.iter().rposition(u8::is_ascii_whitespace) else {
        return KLine::Other;
    };
    if comparable(&line[space + 1..], by) != wanted {
        return KLine::Other;
    }
    match class(&line[1..]) {
        Some(class) => KLine::Class(class),
        None => KLine::Malformed,
    }
}

/// The class in `NAME CLASS ...` (the text after `K`), read as sendmail
/// does: a map name of letters, digits, `_` and `.`, then a class of letters
/// and digits.
fn class(declaration: &[u8]) -> Option<String> {
    let rest = declaration.trim_ascii_start();
    if !rest.first()?.is_ascii_alphanumeric() {
        return None;
    }
    let name_len = rest.iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.').count();
    let rest = rest[name_len..].trim_ascii_start();
    let class_len = rest.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
    (class_len > 0).then(|| String::from_utf8_lossy(&rest[..class_len]).into_owned())
}

/// The part of a path that is compared: all of it, or the base name without
/// its extension.
fn comparable(path: &[u8], by: MatchBy) -> &[u8] {
    match by {
        MatchBy::FullPath => path,
        MatchBy::BaseName => {
            let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
            match base.iter().rposition(|&b| b == b'.') {
                Some(dot) => &base[..dot],
                None => base,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &[u8] = b"# sendmail.cf\n\
        O TrustedUser=smmsp\n\
        Kmailertable hash -o /etc/mail/mailertable.db\n\
        Kvirtuser cdb -o /etc/mail/virtusertable\n\
        Kaccess btree -T<TMPF> -o /etc/mail/access  \n";

    fn class_of(name: &str, by: MatchBy) -> Option<String> {
        scan(CF, Some((name.as_bytes(), by))).map_class
    }

    #[test]
    fn full_path_must_match_exactly() {
        assert_eq!(class_of("/etc/mail/mailertable.db", MatchBy::FullPath).as_deref(), Some("hash"));
        assert_eq!(class_of("/etc/mail/virtusertable", MatchBy::FullPath).as_deref(), Some("cdb"));
        assert_eq!(class_of("/etc/mail/mailertable", MatchBy::FullPath), None);
        assert_eq!(class_of("mailertable.db", MatchBy::FullPath), None);
    }

    #[test]
    fn base_names_ignore_directories_and_extensions() {
        assert_eq!(class_of("mailertable", MatchBy::BaseName).as_deref(), Some("hash"));
        assert_eq!(class_of("/var/tmp/virtusertable.db", MatchBy::BaseName).as_deref(), Some("cdb"));
        assert_eq!(class_of("access", MatchBy::BaseName).as_deref(), Some("btree"));
        assert_eq!(class_of("genericstable", MatchBy::BaseName), None);
    }

    #[test]
    fn the_type_spelling_picks_the_comparison() {
        assert_eq!(MatchBy::for_type("cf"), Some(MatchBy::FullPath));
        assert_eq!(MatchBy::for_type("CF"), Some(MatchBy::BaseName));
        assert_eq!(MatchBy::for_type("Cf"), Some(MatchBy::BaseName));
        assert_eq!(MatchBy::for_type("hash"), None);
    }

    #[test]
    fn trusted_user_by_name_or_number() {
        assert_eq!(scan(CF, None).trusted_user, Some(TrustedUser::Name("smmsp".into())));
        let numeric = scan(b"O TrustedUser = 4242 \nO TrustedUsers=9\n", None);
        assert_eq!(numeric.trusted_user, Some(TrustedUser::Uid(4242)));
        assert_eq!(scan(b"O  TrustedUser=9\nOTrustedUser=9\n", None).trusted_user, None);
    }

    #[test]
    fn a_malformed_matching_k_line_ends_the_search() {
        let text = b"K% hash /n\nKm btree /m\n";
        assert_eq!(scan(text, Some((b"/m", MatchBy::FullPath))).map_class.as_deref(), Some("btree"));
        let text = b"K% hash /m\nKm btree /m\n";
        assert_eq!(scan(text, Some((b"/m", MatchBy::FullPath))).map_class, None);
    }
}
