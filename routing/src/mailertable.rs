//! The mailertable: most specific domain suffix wins (spec mailertable.md §3–§5).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use smarthost_maps::Map;

use crate::rhs::{RhsError, RhsOptions, TableRoute, has_mailer, interpolate, parse_rhs};

/// How the table is read. The default is sendmail's exact behaviour; each
/// extension is named and off unless turned on, and none changes the
/// meaning of a table that sendmail accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailertableOptions {
    /// \[EXT\] Per-user keys, searched before the domain keys:
    /// `user+detail@domain`, then `user@domain` (Postfix transport style).
    /// sendmail never looks such keys up.
    pub per_user_keys: bool,
    /// \[EXT\] `[host]:port` and `host:port` on the right-hand side.
    pub ports: bool,
    /// \[EXT\] `*` as a synonym of the `.` catch-all, tried after it.
    pub star_catch_all: bool,
}

impl MailertableOptions {
    /// Every extension on (spec table C).
    pub fn extensions() -> Self {
        Self { per_user_keys: true, ports: true, star_catch_all: true }
    }
}

/// A mailertable over any [`Map`].
///
/// ```
/// use smarthost_maps::{SourceOptions, TextMap};
/// use smarthost_routing::{Mailertable, MailertableOptions};
///
/// let (map, _) = TextMap::from_source(b".example.net esmtp:%1.relay.example.net\n", &SourceOptions::default());
/// let table = Mailertable::new(&map, MailertableOptions::default());
/// let found = table.lookup("user", "a.b.example.net", None)?.expect("a match");
/// assert_eq!(found.key, ".example.net");
/// assert_eq!(found.route.to_string(), "mailer esmtp, host a.b.relay.example.net");
/// # Ok::<(), smarthost_routing::TableError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Mailertable<'m> {
    map: &'m dyn Map,
    options: MailertableOptions,
    cache: Option<&'m RouteCache>,
}

/// Parsed right-hand sides, keyed by their text, so that a value most
/// recipients match is parsed once rather than for every recipient.
///
/// A value's meaning depends only on its text (and the ports option), so
/// one cache can outlive map reloads. Values with `%` are not cached: their
/// meaning depends on the domain. It holds at most [`RouteCache::CAPACITY`]
/// entries and starts over when full, which bounds its memory.
#[derive(Debug, Default)]
pub struct RouteCache {
    /// One map for each setting of the ports option, which changes how a
    /// value reads.
    routes: [RwLock<HashMap<Arc<str>, TableRoute>>; 2],
}

impl RouteCache {
    /// The most values it holds for each ports setting.
    pub const CAPACITY: usize = 4096;

    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, value: &str, ports: bool) -> Option<(Arc<str>, TableRoute)> {
        let routes = self.routes[usize::from(ports)].read().unwrap_or_else(|poisoned| poisoned.into_inner());
        routes.get_key_value(value).map(|(text, route)| (Arc::clone(text), route.clone()))
    }

    fn insert(&self, value: Arc<str>, ports: bool, route: TableRoute) {
        let mut routes =
            self.routes[usize::from(ports)].write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if routes.len() >= Self::CAPACITY {
            routes.clear();
        }
        routes.insert(value, route);
    }
}

/// The entry that matched, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableMatch {
    /// The key that matched.
    pub key: String,
    /// The value as stored, before interpolation.
    pub value: Arc<str>,
    /// The value after `%` interpolation.
    pub expanded: Arc<str>,
    /// The route it names.
    pub route: TableRoute,
}

/// One key the search tried, for `smarthost route --explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The key.
    pub key: String,
    /// What the map held for it.
    pub value: Option<String>,
    /// Why a value found was passed over (no mailer), if it was.
    pub skipped: Option<String>,
}

/// Why the table could not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The map could not be read: defer the recipient (`451 4.3.0`) rather
    /// than route it elsewhere (spec §4, \[REC\]).
    #[error("mailertable lookup failed: {0}")]
    Map(#[from] smarthost_maps::Error),
    /// The matching entry's value is not a route.
    #[error("mailertable entry `{key}`: {error}")]
    BadValue {
        /// The key that matched.
        key: String,
        /// What is wrong with its value.
        error: RhsError,
    },
}

/// The most labels a domain may have (RFC 1035 allows 127).
const MAX_LABELS: usize = 127;

impl<'m> Mailertable<'m> {
    /// A table over `map` (keys folded by the map, as makemap builds it).
    pub fn new(map: &'m dyn Map, options: MailertableOptions) -> Self {
        Self { map, options, cache: None }
    }

    /// Keeps parsed values in `cache` (see [`RouteCache`]).
    pub fn with_cache(mut self, cache: &'m RouteCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Finds the entry for a recipient `local@domain` (§4): the exact
    /// domain, each parent as `.parent`, then `.`. `domain` is the
    /// normalised name (no trailing dot). `probes`, when given, receives
    /// every key tried.
    pub fn lookup(
        &self,
        local: &str,
        domain: &str,
        mut probes: Option<&mut Vec<Probe>>,
    ) -> Result<Option<TableMatch>, TableError> {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if self.options.per_user_keys && !local.is_empty() {
            let user = local.split_once('+').map_or(local, |(user, _)| user);
            let mut keys = vec![format!("{local}@{domain}")];
            if user != local {
                keys.push(format!("{user}@{domain}"));
            }
            for key in keys {
                if let Some(found) = self.try_key(&key, &[&key], &mut probes)? {
                    return Ok(Some(found));
                }
            }
        }
        let mut host = Cow::Borrowed(domain);
        // A value without a mailer makes sendmail go on searching with the
        // value as the host (§6.7); bounded, since each round drops labels.
        for _ in 0..MAX_LABELS {
            match self.walk(&host, &mut probes)? {
                Walk::Found(found) => return Ok(Some(found)),
                Walk::Continue(value) if value != *host => host = Cow::Owned(value),
                Walk::Continue(_) | Walk::NotFound => break,
            }
        }
        let catch_alls: &[&str] = if self.options.star_catch_all { &[".", "*"] } else { &["."] };
        for key in catch_alls {
            if let Some(found) = self.try_key(key, &[key, domain], &mut probes)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The exact name, then each parent: returns a match, or the value of
    /// an entry without a mailer to continue with.
    fn walk(&self, host: &str, probes: &mut Option<&mut Vec<Probe>>) -> Result<Walk, TableError> {
        if let Some(walk) = self.visit(host, &[host], probes)? {
            return Ok(walk);
        }
        let mut dot = 0;
        while let Some(next) = host[dot..].find('.') {
            let at = dot + next;
            let key = &host[at..];
            if key.len() > 1 {
                let dropped = &host[..at];
                let last = dropped.rsplit('.').next().unwrap_or(dropped);
                if let Some(walk) = self.visit(key, &[key, dropped, last], probes)? {
                    return Ok(walk);
                }
            }
            dot = at + 1;
        }
        Ok(Walk::NotFound)
    }

    /// One key of the walk.
    fn visit(
        &self,
        key: &str,
        args: &[&str],
        probes: &mut Option<&mut Vec<Probe>>,
    ) -> Result<Option<Walk>, TableError> {
        match self.probe(key, probes)? {
            Some(value) if has_mailer(&value) => Ok(Some(Walk::Found(self.resolve(key, &value, args)?))),
            Some(value) => {
                if let Some(probe) = probes.as_deref_mut().and_then(|p| p.last_mut()) {
                    probe.skipped =
                        Some("no `mailer:` in the value, so the search goes on with the value".into());
                }
                Ok(Some(Walk::Continue(value.trim().trim_end_matches('.').to_ascii_lowercase())))
            }
            None => Ok(None),
        }
    }

    fn try_key(
        &self,
        key: &str,
        args: &[&str],
        probes: &mut Option<&mut Vec<Probe>>,
    ) -> Result<Option<TableMatch>, TableError> {
        match self.probe(key, probes)? {
            Some(value) if has_mailer(&value) => self.resolve(key, &value, args).map(Some),
            Some(_) => {
                if let Some(probe) = probes.as_deref_mut().and_then(|p| p.last_mut()) {
                    probe.skipped = Some("no `mailer:` in the value".into());
                }
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Looks a key up, borrowing the value from the map (no copy on the
    /// fast path: most keys tried are absent).
    fn probe(
        &self,
        key: &str,
        probes: &mut Option<&mut Vec<Probe>>,
    ) -> Result<Option<Cow<'m, str>>, TableError> {
        let value = self.map.lookup(key.as_bytes())?.map(String::from_utf8_lossy);
        if let Some(probes) = probes.as_deref_mut() {
            probes.push(Probe {
                key: key.to_string(),
                value: value.as_deref().map(str::to_string),
                skipped: None,
            });
        }
        Ok(value)
    }

    fn resolve(&self, key: &str, value: &str, args: &[&str]) -> Result<TableMatch, TableError> {
        let ports = self.options.ports;
        let parse = |text: &str| {
            parse_rhs(text, RhsOptions { ports })
                .map_err(|error| TableError::BadValue { key: key.to_string(), error })
        };
        if value.contains('%') {
            let expanded: Arc<str> = interpolate(value, args).into();
            let route = parse(&expanded)?;
            return Ok(TableMatch { key: key.to_string(), value: value.into(), expanded, route });
        }
        if let Some((value, route)) = self.cache.and_then(|cache| cache.get(value, ports)) {
            return Ok(TableMatch {
                key: key.to_string(),
                value: Arc::clone(&value),
                expanded: value,
                route,
            });
        }
        let route = parse(value)?;
        let value: Arc<str> = value.into();
        if let Some(cache) = self.cache {
            cache.insert(Arc::clone(&value), ports, route.clone());
        }
        Ok(TableMatch { key: key.to_string(), value: Arc::clone(&value), expanded: value, route })
    }
}

enum Walk {
    Found(TableMatch),
    Continue(String),
    NotFound,
}

#[cfg(test)]
mod tests {
    use smarthost_maps::{SourceOptions, TextMap};

    use super::*;

    #[test]
    fn the_route_cache_is_bounded_and_answers_like_a_fresh_parse() {
        let cache = RouteCache::new();
        for n in 0..RouteCache::CAPACITY + 10 {
            let value = format!("esmtp:[mx{n}.example]");
            cache.insert(value.as_str().into(), false, parse_rhs(&value, RhsOptions::default()).unwrap());
        }
        assert!(cache.routes[0].read().unwrap().len() <= RouteCache::CAPACITY);

        let (map, _) = TextMap::from_source(b".example esmtp:[mx.example]:587\n", &SourceOptions::default());
        let cache = RouteCache::new();
        let plain = Mailertable::new(&map, MailertableOptions::default());
        let ported = Mailertable::new(&map, MailertableOptions::extensions()).with_cache(&cache);
        let cached = Mailertable::new(&map, MailertableOptions::default()).with_cache(&cache);
        let route = |table: &Mailertable<'_>| table.lookup("u", "a.example", None).unwrap().unwrap().route;
        // The same text reads differently with ports on; the cache keeps them apart.
        assert_ne!(route(&ported), route(&plain));
        assert_eq!(route(&cached), route(&plain));
        assert_eq!(route(&cached), route(&plain));
    }
}
