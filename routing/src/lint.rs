//! Load-time checks of a mailertable source: the entries sendmail would
//! silently ignore or misread (spec mailertable.md §3, §6.6, §6.7, §9, §10.2).

use std::fmt;

use smarthost_maps::Entry;

use crate::rhs::{RhsOptions, TableRoute, has_mailer, parse_rhs};
use crate::{Host, Mailers, MailertableOptions};

/// Something wrong with one mailertable entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lint {
    /// The source line.
    pub line: usize,
    /// The entry's key.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: key `{}`: {}", self.line, self.key, self.message)
    }
}

/// Checks every entry; `mailers`, when given, also catches unknown mailers.
///
/// ```
/// use smarthost_maps::{Source, SourceOptions};
/// use smarthost_routing::{MailertableOptions, lint_mailertable};
///
/// let source = Source::parse(b"bob@isp.net smtp:[192.168.1.10]\nexample.com. esmtp:mx\n", &SourceOptions::default());
/// let lints = lint_mailertable(source.entries(), MailertableOptions::default(), None);
/// assert_eq!(lints.len(), 2);
/// assert!(lints[0].message.contains("never looks up"));
/// ```
pub fn lint_mailertable(
    entries: &[Entry<'_>],
    options: MailertableOptions,
    mailers: Option<&Mailers>,
) -> Vec<Lint> {
    let mut lints = Vec::new();
    for entry in entries {
        let key = String::from_utf8_lossy(&entry.key).into_owned();
        let value = String::from_utf8_lossy(&entry.value).into_owned();
        let mut say = |message: String| lints.push(Lint { line: entry.line, key: key.clone(), message });
        if let Some(message) = dead_key(&key, options) {
            say(message.to_string());
        }
        if value.ends_with(|c: char| c.is_whitespace()) {
            say("the value ends in white space, which is ignored".into());
        }
        if !has_mailer(value.trim()) {
            say(format!(
                "the value `{}` names no mailer, so sendmail does not take it as a route (it searches on \
                 with the value as the domain); write `mailer:host`, e.g. `relay:[{}]`",
                value.trim(),
                value.trim()
            ));
            continue;
        }
        match parse_rhs(&value, RhsOptions { ports: options.ports }) {
            Err(error) => say(error.to_string()),
            Ok(TableRoute::Deliver { mailer, hosts, .. }) => {
                for host in hosts.iter() {
                    if let Host::Name(name) = &host.host
                        && !name.contains('%')
                        && name.bytes().all(|b| b.is_ascii_digit())
                    {
                        say(format!(
                            "`{name}` is read as a host name: sendmail has no ports in the mailertable; \
                             set the mailer's port instead, or enable the ports extension for `[host]:{name}`"
                        ));
                    }
                }
                if let Some(mailers) = mailers
                    && mailers.get(&mailer).is_none()
                {
                    say(format!("unknown mailer `{mailer}`: mail routed here fails with 554 5.3.5"));
                }
            }
            Ok(_) => {}
        }
    }
    lints
}

fn dead_key(key: &str, options: MailertableOptions) -> Option<&'static str> {
    if key.contains('@') && !options.per_user_keys {
        Some(
            "sendmail never looks up `user@domain` keys in the mailertable (only the domain, its \
             parents and `.`), so this entry is dead; use virtusertable, or enable the per-user keys \
             extension",
        )
    } else if key.len() > 1 && key.ends_with('.') {
        Some("a key ending in `.` is never looked up (lookups carry no trailing dot); remove the dot")
    } else if key.starts_with('[') {
        Some("domain literals never reach the mailertable; this entry is dead")
    } else if key == "*" && !options.star_catch_all {
        Some("`*` is Postfix's catch-all; the mailertable's is `.` (or enable the `*` extension)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use smarthost_maps::{Source, SourceOptions};

    use super::*;

    fn lint(text: &str, options: MailertableOptions) -> Vec<String> {
        let source = Source::parse(text.as_bytes(), &SourceOptions::default());
        lint_mailertable(source.entries(), options, Some(&Mailers::standard()))
            .iter()
            .map(|l| format!("{}:{}", l.line, l.key))
            .collect()
    }

    #[test]
    fn strict_reading_of_table_c_flags_the_extensions() {
        // spec §12.3 C7: per-user lines and `*` flagged, the port read as a host.
        let table = "bob@isp.net smtp:[192.168.1.10]\ncarol@isp.net SMTP:carol@[192.168.1.11]\n\
                     isp.net esmtp:[mx.isp.net]:2525\n* relay:[fallback.example.com]:587\n";
        assert_eq!(
            lint(table, MailertableOptions::default()),
            ["1:bob@isp.net", "2:carol@isp.net", "3:isp.net", "4:*", "4:*"]
        );
        assert!(lint(table, MailertableOptions::extensions()).is_empty());
    }

    #[test]
    fn dead_keys_and_odd_values_are_named() {
        let table = "example.com. esmtp:mx\n[192.0.2.1] esmtp:mx\nnomailer.example relay.example.com\n\
                     unk.example nosuchmailer:host\nfine.example esmtp:[mx.example]\n";
        assert_eq!(
            lint(table, MailertableOptions::default()),
            ["1:example.com.", "2:[192.0.2.1]", "3:nomailer.example", "4:unk.example"]
        );
    }
}
