//! Per-host circuit breakers: a next hop that keeps refusing connections is
//! skipped for a cooling period instead of costing a connect timeout on
//! every message.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Consecutive connection failures that open a breaker.
pub(super) const THRESHOLD: u32 = 3;
/// The first cooling period.
pub(super) const FIRST_COOLING: Duration = Duration::from_secs(30);
/// The longest cooling period.
pub(super) const MAX_COOLING: Duration = Duration::from_secs(10 * 60);

/// The breakers of every next hop that failed lately.
#[derive(Debug, Default)]
pub(super) struct Breakers {
    hosts: HashMap<SocketAddr, Breaker>,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    /// Set while open: skipped until then.
    open_until: Option<Instant>,
    /// The cooling period of the last opening (doubles while probes fail).
    cooling: Option<Duration>,
    /// A half-open probe is in flight: other deliveries keep skipping.
    probing: bool,
}

impl Breakers {
    /// Whether a delivery may connect to `host` now. After the cooling
    /// period one caller gets `true` (the probe) until it reports back.
    pub(super) fn allow(&mut self, host: SocketAddr, now: Instant) -> bool {
        let Some(breaker) = self.hosts.get_mut(&host) else { return true };
        match breaker.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if breaker.probing => false,
            Some(_) => {
                breaker.probing = true;
                true
            }
        }
    }

    /// The host answered (whatever it then said about the mail): closed.
    pub(super) fn success(&mut self, host: SocketAddr) {
        self.hosts.remove(&host);
    }

    /// A connection to the host failed. Returns the cooling period when
    /// this opened (or re-opened) the breaker.
    pub(super) fn failure(&mut self, host: SocketAddr, now: Instant) -> Option<Duration> {
        let breaker = self.hosts.entry(host).or_default();
        breaker.failures = breaker.failures.saturating_add(1);
        let reopen = breaker.probing || breaker.open_until.is_some_and(|until| now >= until);
        if !reopen && breaker.failures < THRESHOLD {
            return None;
        }
        let cooling = match breaker.cooling {
            Some(last) if reopen => (last * 2).min(MAX_COOLING),
            Some(last) => last,
            None => FIRST_COOLING,
        };
        breaker.cooling = Some(cooling);
        breaker.open_until = Some(now + cooling);
        breaker.probing = false;
        Some(cooling)
    }

    /// A probe ended without telling anything about the host (the
    /// delivery was abandoned): let the next caller probe.
    pub(super) fn release_probe(&mut self, host: SocketAddr) {
        if let Some(breaker) = self.hosts.get_mut(&host) {
            breaker.probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> SocketAddr {
        "192.0.2.1:25".parse().unwrap()
    }

    #[test]
    fn opens_after_three_failures_and_cools_down_doubling() {
        let mut breakers = Breakers::default();
        let t0 = Instant::now();
        assert!(breakers.allow(host(), t0));
        assert_eq!(breakers.failure(host(), t0), None);
        assert_eq!(breakers.failure(host(), t0), None);
        assert_eq!(breakers.failure(host(), t0), Some(FIRST_COOLING));
        assert!(!breakers.allow(host(), t0 + Duration::from_secs(29)));
        // Half-open: one probe at a time.
        let t1 = t0 + FIRST_COOLING;
        assert!(breakers.allow(host(), t1));
        assert!(!breakers.allow(host(), t1));
        assert_eq!(breakers.failure(host(), t1), Some(2 * FIRST_COOLING));
        assert!(!breakers.allow(host(), t1 + FIRST_COOLING));
        // Doubling stops at the maximum.
        let mut now = t1;
        for _ in 0..10 {
            now += MAX_COOLING;
            assert!(breakers.allow(host(), now));
            breakers.failure(host(), now);
        }
        assert!(!breakers.allow(host(), now + MAX_COOLING - Duration::from_secs(1)));
        assert!(breakers.allow(host(), now + MAX_COOLING));
        breakers.success(host());
        assert!(breakers.allow(host(), now + MAX_COOLING));
        assert!(breakers.allow(host(), now + MAX_COOLING), "closed: everyone may connect");
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut breakers = Breakers::default();
        let t0 = Instant::now();
        breakers.failure(host(), t0);
        breakers.failure(host(), t0);
        breakers.success(host());
        assert_eq!(breakers.failure(host(), t0), None);
        assert!(breakers.allow(host(), t0));
    }
}
