//! Load-time notices about access map entries that sendmail silently
//! ignores, misreads or turns into odd replies.

use std::fmt;

use super::index::normalise_ipv6_key;
use super::{AccessOptions, AccessValue};

/// Tags that sendmail's other features use; the relay's policy ignores them.
const OTHER_TAGS: &[&str] = &[
    "authinfo",
    "tls_srv",
    "tls_clt",
    "tls_rcpt",
    "try_tls",
    "srv_features",
    "clt_features",
    "certissuer",
    "certsubject",
    "greetpause",
    "clientrate",
    "clientconn",
    "qgrp",
    "compat",
];

/// Tags the policy reads.
const POLICY_TAGS: &[&str] = &["connect", "from", "to", "spam"];

/// A notice about one access map entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLint {
    /// The key as stored.
    pub key: String,
    /// What is wrong and what to write instead.
    pub problem: String,
}

impl fmt::Display for AccessLint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.problem)
    }
}

/// Checks every entry of an access map: unknown tags, IPv6 keys sendmail
/// cannot match (no `IPv6:`, leading zeros, `::`) and whether they are
/// normalised ([`AccessOptions::normalise_ipv6_keys`]), CIDR keys,
/// keys ending in `.`, and values that are not keywords (they refuse mail
/// with `553 5.3.0 VALUE`) or `ERROR:` texts without a reply code.
///
/// ```
/// use smarthost_routing::{AccessOptions, lint_access};
/// let entries: [(&[u8], &[u8]); 2] = [(b"Connect:10.0.0.0/8", b"RELAY"), (b"From:bad.example", b"REJECTED")];
/// let lints = lint_access(entries, AccessOptions::default());
/// assert_eq!(lints.len(), 2);
/// assert!(lints[0].problem.contains("CIDR"));
/// assert!(lints[1].problem.contains("553 5.3.0 REJECTED"));
/// ```
pub fn lint_access<'k>(
    entries: impl IntoIterator<Item = (&'k [u8], &'k [u8])>,
    options: AccessOptions,
) -> Vec<AccessLint> {
    let mut lints = Vec::new();
    for (key, value) in entries {
        let key_text = String::from_utf8_lossy(key).into_owned();
        let mut note = |problem: String| lints.push(AccessLint { key: key_text.clone(), problem });
        let lower = key_text.to_ascii_lowercase();
        let (tag, body) = split_tag(&lower);
        if let Some(tag) = tag {
            if OTHER_TAGS.contains(&tag) {
                note(format!(
                    "the `{tag}:` tag belongs to a sendmail feature the relay's policy does not use; ignored"
                ));
                continue;
            }
            if !POLICY_TAGS.contains(&tag) {
                note(format!(
                    "unknown tag `{tag}:`; the policy reads Connect:, From:, To: and Spam: (an IPv6 address is written `IPv6:2001:db8::1`)"
                ));
                continue;
            }
        }
        if body.contains('/') && body.bytes().all(|b| b.is_ascii_hexdigit() || b".:/".contains(&b)) {
            note("CIDR prefixes are not supported; write the prefix on octet (IPv4) or group (IPv6) boundaries, e.g. `Connect:10.1` for 10.1.0.0/16".into());
        } else if is_bare_ipv6(body) {
            let written_tag = key_text.len() - body.len();
            note(format!(
                "an IPv6 address never matches without `IPv6:` in front: write `{}IPv6:{}`",
                &key_text[..written_tag],
                &key_text[written_tag..]
            ));
        } else if let Some(canonical) = normalise_ipv6_key(lower.as_bytes(), options.compressed_ipv6) {
            let canonical = String::from_utf8_lossy(&canonical).into_owned();
            if options.normalise_ipv6_keys {
                note(format!("IPv6 key read as `{canonical}` (sendmail would never match this spelling)"));
            } else {
                note(format!("IPv6 key never matches: sendmail searches the spelling `{canonical}`"));
            }
        } else if body.ends_with('.') {
            note("a key ending in `.` never matches; remove the dot".into());
        }
        let parsed = AccessValue::parse(value, options.skip);
        match &parsed {
            AccessValue::Other(text) => {
                let reply = parsed.error_reply().expect("Other values make a reply");
                if reply.code == 553 && reply.enhanced == (5, 3, 0) {
                    note(format!(
                        "value `{text}` is not a keyword (OK, RELAY, REJECT, DISCARD, SKIP, ERROR:, QUARANTINE:): it refuses with `553 5.3.0 {}`",
                        reply.text
                    ));
                } else {
                    note(format!("value `{text}` uses the deprecated form; write `ERROR:{text}`"));
                }
            }
            AccessValue::Error(_) => {
                let reply = parsed.error_reply().expect("ERROR values make a reply");
                if reply.code == 553 && reply.enhanced == (5, 3, 0) {
                    note(format!(
                        "ERROR value without a reply code refuses with `553 5.3.0 {}`; write e.g. `ERROR:5.7.1:\"550 {}\"`",
                        reply.text, reply.text
                    ));
                }
            }
            _ => {}
        }
    }
    lints
}

/// `tag:` and the rest, when the key starts with a word and a colon (the
/// `IPv6:` of an untagged address is not a tag).
fn split_tag(lower: &str) -> (Option<&str>, &str) {
    match lower.split_once(':') {
        Some((tag, rest))
            if tag != "ipv6"
                && !tag.is_empty()
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !tag.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            (Some(tag), rest)
        }
        _ => (None, lower),
    }
}

fn is_bare_ipv6(body: &str) -> bool {
    body.contains(':') && body.split(':').all(|g| g.len() <= 4 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
