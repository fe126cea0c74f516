//! The genericstable search (spec maps.md §5.2, sendmail's ruleset 93).

use std::fmt;

use smarthost_maps::Map;

use crate::masquerade::Parts;
use crate::{Address, RewriteError, interpolate};

/// The genericstable entry that matched an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenericsMatch {
    /// The key that matched, as looked up (`jdoe@mail.example.com`,
    /// `old+*@legacy.example.org`, `@legacy.example.org`, `alice`, …).
    pub key: String,
    /// The value after `%` substitution, white space trimmed.
    pub value: String,
}

impl fmt::Display for GenericsMatch {
    /// `genericstable KEY -> VALUE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "genericstable `{}` -> `{}`", self.key, self.value)
    }
}

/// The keys of maps.md §5.2 for `address`, with the `%1` each one gives,
/// in the order they are tried. `domain` is the address's domain, or `$j`
/// for an unqualified address (`qualified` false), which skips `@domain`.
///
/// ```
/// use smarthost_routing::{Address, ParseOptions, genericstable_keys};
/// let address = Address::parse("old+news@legacy.example.org", ParseOptions::default())?;
/// let keys: Vec<String> = genericstable_keys(&address, "legacy.example.org", true)
///     .into_iter()
///     .map(|(key, _)| key)
///     .collect();
/// assert_eq!(keys, [
///     "old+news@legacy.example.org", "old+*@legacy.example.org", "old@legacy.example.org",
///     "@legacy.example.org", "old+news", "old+*", "old",
/// ]);
/// # Ok::<(), smarthost_routing::AddressError>(())
/// ```
pub fn genericstable_keys(address: &Address, domain: &str, qualified: bool) -> Vec<(String, Option<String>)> {
    keys(Parts::of(address), domain, qualified)
}

fn keys(address: Parts<'_>, domain: &str, qualified: bool) -> Vec<(String, Option<String>)> {
    let local = address.quoted_local();
    // `user+detail`: sendmail's `$+ + $*` needs a user before the `+`; a
    // quoted local part is one token, never split.
    let plus = if address.quoted {
        None
    } else {
        address.local.split_once('+').filter(|(user, _)| !user.is_empty())
    };
    let mut keys = Vec::with_capacity(7);
    keys.push((format!("{local}@{domain}"), None));
    if let Some((user, detail)) = plus {
        keys.push((format!("{user}+*@{domain}"), Some(detail.to_string())));
        keys.push((format!("{user}@{domain}"), None));
    }
    if qualified {
        keys.push((format!("@{domain}"), Some(local.to_string())));
    }
    keys.push((local.to_string(), None));
    if let Some((user, detail)) = plus {
        keys.push((format!("{user}+*"), Some(detail.to_string())));
        keys.push((user.to_string(), None));
    }
    keys
}

/// Looks `address` up in the genericstable `map`: the first key of
/// [`genericstable_keys`] that is present gives the value, with `%0` the
/// key and `%1` the argument.
pub(crate) fn lookup(
    map: &dyn Map,
    address: Parts<'_>,
    domain: &str,
    qualified: bool,
) -> Result<Option<GenericsMatch>, RewriteError> {
    for (key, arg) in keys(address, domain, qualified) {
        let found = map
            .lookup(key.as_bytes())
            .map_err(|source| RewriteError::Map { table: "genericstable", source })?;
        if let Some(stored) = found {
            let stored = String::from_utf8_lossy(stored);
            let value = interpolate(stored.trim(), &[&key, arg.as_deref().unwrap_or("")]);
            return Ok(Some(GenericsMatch { value: value.trim().to_string(), key }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;

    fn keys(address: &str, domain: &str, qualified: bool) -> Vec<(String, Option<String>)> {
        let address = Address::parse(address, ParseOptions::default()).unwrap();
        genericstable_keys(&address, domain, qualified)
    }

    #[test]
    fn an_unqualified_address_uses_the_host_name_and_skips_at_domain() {
        let keys: Vec<String> = keys("jdoe", "mail.example.com", false).into_iter().map(|k| k.0).collect();
        assert_eq!(keys, ["jdoe@mail.example.com", "jdoe"]);
    }

    #[test]
    fn percent_one_is_the_detail_or_the_local_part() {
        let keys = keys("a+b+c@x.example", "x.example", true);
        assert_eq!(keys[1], ("a+*@x.example".to_string(), Some("b+c".to_string())));
        assert_eq!(keys[3], ("@x.example".to_string(), Some("a+b+c".to_string())));
        assert_eq!(keys[5], ("a+*".to_string(), Some("b+c".to_string())));
    }

    #[test]
    fn a_leading_plus_is_not_a_detail() {
        let keys: Vec<String> = keys("+x@d.example", "d.example", true).into_iter().map(|k| k.0).collect();
        assert_eq!(keys, ["+x@d.example", "@d.example", "+x"]);
    }
}
