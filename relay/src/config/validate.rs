//! Checks across keys, after every value has its type: what each key says
//! alone may be fine while two of them together are not.

use std::net::SocketAddr;

use smarthost_queue::SyncMode;
use smarthost_routing::{AuthPolicy, TlsPolicy};

use super::problem::{Problem, Severity};
use super::{Config, ListenMode, LocalDelivery, format_duration};

/// Appends the problems of `config` to `problems`.
pub(crate) fn validate(config: &Config, problems: &mut Vec<Problem>) {
    let mut check = Checker { config, problems };
    check.listeners();
    check.queue();
    check.routing();
    check.mailers();
    check.local();
    check.other();
}

struct Checker<'c> {
    config: &'c Config,
    problems: &'c mut Vec<Problem>,
}

impl Checker<'_> {
    fn error(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(self.config.problem(Severity::Error, key, message));
    }

    fn warning(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(self.config.problem(Severity::Warning, key, message));
    }

    fn listeners(&mut self) {
        let listeners = &self.config.listen;
        for (i, listener) in listeners.iter().enumerate() {
            let key = format!("listen[{i}].addr");
            if let Some(j) = listeners[..i].iter().position(|earlier| clash(earlier.addr, listener.addr)) {
                let earlier = listeners[j].addr;
                let line = self
                    .config
                    .location_of(&format!("listen[{j}].addr"))
                    .map_or(String::new(), |l| format!(" (line {})", l.line));
                let why = if earlier == listener.addr {
                    format!("{} is already the address of listen[{j}]{line}", listener.addr)
                } else {
                    format!(
                        "{} and listen[{j}]'s {earlier}{line} share port {}, and one of them is a wildcard \
                         address, so the second cannot bind",
                        listener.addr,
                        listener.addr.port()
                    )
                };
                self.error(&key, format!("{why}; give each listener its own address and port"));
            }
            let mode_key = format!("listen[{i}].mode");
            if listener.mode != ListenMode::Smtp && self.config.tls.is_none() {
                self.error(
                    &mode_key,
                    format!(
                        "a {} listener needs TLS, but there is no [tls] table; add [tls] with cert and key \
                         (and generate_self_signed = true to have them made at first start)",
                        listener.mode
                    ),
                );
            }
            if listener.mode.requires_auth() && self.config.auth.logins.is_none() {
                self.error(
                    &mode_key,
                    format!(
                        "a {} listener requires AUTH before MAIL, but [auth] logins is not set; add [auth] \
                         logins = \"auth_logins\" naming a file of `login password` lines (mode 0600)",
                        listener.mode
                    ),
                );
            }
        }
    }

    fn queue(&mut self) {
        let queue = &self.config.queue;
        if queue.retry.is_empty() && self.config.location_of("queue.retry").is_some() {
            self.error("queue.retry", "the list is empty; give at least one wait, e.g. [\"15m\", \"1h\"]");
        }
        for (i, pair) in queue.retry.windows(2).enumerate() {
            if pair[1] < pair[0] {
                self.error(
                    "queue.retry",
                    format!(
                        "the waits must not get shorter: entry {} (\"{}\") is shorter than entry {} (\"{}\"); \
                         sort them, e.g. [\"1m\", \"5m\", \"1h\"]",
                        i + 1,
                        format_duration(pair[1]),
                        i,
                        format_duration(pair[0])
                    ),
                );
            }
        }
        if queue.return_after <= queue.warn_after {
            self.error(
                "queue.return_after",
                format!(
                    "\"{}\" must be longer than warn_after (\"{}\"), or the sender is told of the delay after \
                     the mail was already returned; e.g. warn_after = \"4h\", return_after = \"5d\"",
                    format_duration(queue.return_after),
                    format_duration(queue.warn_after)
                ),
            );
        }
    }

    fn routing(&mut self) {
        let routing = &self.config.routing;
        let mailer = routing.smart_host.as_ref().and_then(|s| s.mailer.clone());
        let (key, name) = match &mailer {
            Some(name) => ("routing.smart_host", name.clone()),
            None => ("routing.relay_mailer", routing.relay_mailer.clone()),
        };
        match self.config.mailers.get(&name) {
            Some(m) if m.program.is_some() => self.error(
                key,
                format!(
                    "mailer `{name}` is a program mailer; the smart host needs an SMTP mailer such as relay"
                ),
            ),
            Some(_) => {}
            None if routing.smart_host.is_some() || self.config.location_of(key).is_some() => self.error(
                key,
                format!(
                    "no mailer `{name}`: use one of {}; or define [mailers.{name}] with port, tls and auth",
                    self.smtp_mailer_names()
                ),
            ),
            None => {}
        }
    }

    fn smtp_mailer_names(&self) -> String {
        let names: Vec<&str> = self
            .config
            .mailers
            .iter()
            .filter(|(_, m)| m.program.is_none())
            .map(|(name, _)| name.as_str())
            .collect();
        names.join(", ")
    }

    fn mailers(&mut self) {
        for (name, mailer) in &self.config.mailers {
            let prefix = format!("mailers.{name}");
            if self.config.location_of(&prefix).is_none() || mailer.program.is_some() {
                continue; // a standard mailer left as it is, or a program
            }
            if mailer.auth != AuthPolicy::None && mailer.tls == TlsPolicy::None {
                self.warning(
                    &format!("{prefix}.auth"),
                    "AUTH without TLS: passwords would cross the network in the clear, so only CRAM-MD5 \
                     and SCRAM are used and PLAIN/LOGIN servers fail; set tls = \"required\"",
                );
            }
            if mailer.tls == TlsPolicy::Implicit && mailer.port == 587 {
                self.warning(
                    &format!("{prefix}.tls"),
                    "port 587 speaks STARTTLS, not TLS from the first byte; use tls = \"required\", or port 465",
                );
            }
            if mailer.tls != TlsPolicy::Implicit && mailer.port == 465 {
                self.warning(
                    &format!("{prefix}.tls"),
                    "port 465 expects TLS from the first byte; use tls = \"implicit\"",
                );
            }
        }
    }

    fn local(&mut self) {
        let local = &self.config.local;
        match &local.delivery {
            LocalDelivery::Prog(name) => match self.config.mailers.get(name) {
                Some(m) if m.program.is_some() => {}
                _ => self.error(
                    "local.delivery",
                    format!(
                        "`{name}` is not maildir, mbox or a program mailer; use maildir or mbox, or define \
                         [mailers.{name}] with program = \"/path/to/command\""
                    ),
                ),
            },
            _ if !local.path.to_string_lossy().contains("{user}") => self.warning(
                "local.path",
                "no {user} in the path: every local user's mail goes to the same mailbox; write e.g. \
                 \"mail/{user}/Maildir\"",
            ),
            _ => {}
        }
    }

    fn other(&mut self) {
        if self.config.spool.sync == SyncMode::DangerousNone {
            self.warning(
                "spool.sync",
                "dangerous_none never syncs: a power failure or crash loses mail that was accepted with \
                 250; use group (as fast under load, and safe)",
            );
        }
        let policy = &self.config.policy;
        if policy.max_connections_per_client > policy.max_connections {
            self.warning(
                "policy.max_connections_per_client",
                format!(
                    "{} is more than max_connections ({}), which then limits each client too",
                    policy.max_connections_per_client, policy.max_connections
                ),
            );
        }
        let masquerade = &self.config.masquerade;
        let says_something = !masquerade.domains.is_empty()
            || masquerade.envelope
            || masquerade.all
            || masquerade.entire_domain
            || !masquerade.exposed_users.is_empty();
        if masquerade.masquerade_as.is_none() && says_something {
            self.warning(
                "masquerade",
                "no `as`, so nothing is masqueraded and these settings do nothing; add as = \"example.net\"",
            );
        }
    }
}

/// Whether two listeners cannot both bind: the same address, or the same
/// port where one is the wildcard of the other's family. `[::]` and
/// `0.0.0.0` may share a port: the relay binds IPv6 listeners IPv6-only.
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    // Port 0 is a different free port for each listener.
    if a.port() != b.port() || a.port() == 0 {
        return false;
    }
    if a.ip() == b.ip() {
        return true;
    }
    let wildcard_covers =
        |w: SocketAddr, other: SocketAddr| w.ip().is_unspecified() && w.is_ipv4() == other.is_ipv4();
    wildcard_covers(a, b) || wildcard_covers(b, a)
}
