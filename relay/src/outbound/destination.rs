//! Where a queued recipient goes, decided from the tables alone (no DNS):
//! the plan a delivery follows, and the key the scheduler groups by.

use std::sync::Arc;

use smarthost_queue::Destination;
use smarthost_routing::{Address, Decision, ErrorReply, HostSpec, Mailer, ParseOptions};

use crate::tables::Tables;

/// What to do with one recipient.
#[derive(Clone, Debug)]
pub(super) enum Plan {
    /// SMTP to the route's hosts.
    Smtp(SmtpRoute),
    /// A mailbox of a local user (`[local] delivery`).
    Mailbox { user: String },
    /// An alias `|command` target.
    Program { command: String },
    /// An alias `/path` target.
    File { path: String },
    /// A mailertable `error:` route.
    Error(ErrorReply),
    /// Cannot be routed now: a reply to defer (4xx) or fail (5xx) with.
    Unroutable { reply: String },
}

/// An SMTP route: the mailer, the hosts and the address to give in RCPT.
#[derive(Clone, Debug)]
pub(super) struct SmtpRoute {
    pub(super) mailer: Arc<Mailer>,
    pub(super) hosts: Arc<[HostSpec]>,
    pub(super) host_text: Arc<str>,
    pub(super) recipient: String,
}

impl SmtpRoute {
    /// `relay:[smtp.isp.example]`, `esmtp:example.org`: recipients with one
    /// key share a connection.
    pub(super) fn key(&self) -> String {
        format!("{}:{}", self.mailer.name, self.host_text)
    }
}

impl Plan {
    /// The scheduler's destination key of the plan.
    pub(super) fn key(&self) -> String {
        match self {
            Plan::Smtp(route) => route.key(),
            Plan::Mailbox { .. } => "local".to_owned(),
            Plan::Program { .. } => "prog".to_owned(),
            Plan::File { .. } => "file".to_owned(),
            Plan::Error(_) | Plan::Unroutable { .. } => "error".to_owned(),
        }
    }
}

/// Routes a queued recipient with `tables`.
pub(super) fn plan(tables: &Tables, recipient: &str) -> Plan {
    if let Some(command) = recipient.strip_prefix('|') {
        return Plan::Program { command: command.to_owned() };
    }
    if recipient.starts_with('/') {
        return Plan::File { path: recipient.to_owned() };
    }
    let address = match Address::parse(recipient, ParseOptions { smtputf8: true }) {
        Ok(address) => address,
        Err(error) => {
            return Plan::Unroutable { reply: format!("553 5.1.3 <{recipient}>... {error}") };
        }
    };
    match tables.router().route(&address) {
        Ok(route) => match route.decision {
            Decision::Deliver { mailer, hosts, host_text, recipient } => {
                Plan::Smtp(SmtpRoute { mailer, hosts, host_text, recipient })
            }
            Decision::Local { user } => Plan::Mailbox { user },
            Decision::Error(reply) => Plan::Error(reply),
        },
        // A map that cannot be read now: try again later.
        Err(error) => Plan::Unroutable { reply: format!("451 4.3.0 <{recipient}>... mailertable: {error}") },
    }
}

/// The scheduler's destination of a queued recipient.
pub(super) fn destination(tables: &Tables, recipient: &str) -> Destination {
    Destination::new(&plan(tables, recipient).key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn tables(extra: &str) -> (tempfile::TempDir, Tables) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mailertable"),
            ".example.net esmtp:[%1.hub.example]\nbad.example error:5.7.1:550 go away\n",
        )
        .unwrap();
        let text = format!(
            "hostname = \"relay.test\"\n[spool]\ndir = \"{}/spool\"\n[maps]\nmailertable = \"mailertable\"\n{extra}",
            dir.path().display()
        );
        let config = Config::from_str(&text, dir.path()).unwrap();
        let tables = Tables::load(config).unwrap();
        (dir, tables)
    }

    fn key(tables: &Tables, recipient: &str) -> String {
        destination(tables, recipient).as_str().to_owned()
    }

    #[test]
    fn keys_name_the_route_without_dns() {
        let (_dir, direct) = tables("");
        assert_eq!(key(&direct, "bob@example.org"), "esmtp:example.org");
        assert_eq!(key(&direct, "bob@Example.ORG"), "esmtp:example.org", "one key whatever the case");
        assert_eq!(key(&direct, "carol@lists.example.net"), "esmtp:[lists.hub.example]");
        assert_eq!(key(&direct, "root@relay.test"), "local");
        assert_eq!(key(&direct, "|/usr/bin/procmail"), "prog");
        assert_eq!(key(&direct, "/var/log/mail.archive"), "file");
        assert_eq!(key(&direct, "x@bad.example"), "error");
        let Plan::Error(reply) = plan(&direct, "x@bad.example") else { panic!("an error route") };
        assert_eq!((reply.code, reply.enhanced.as_str()), (550, "5.7.1"));

        let (_dir, smart) = tables("[routing]\nsmart_host = \"relay:[smtp.isp.example]\"\n");
        assert_eq!(key(&smart, "bob@example.org"), "relay:[smtp.isp.example]");
        assert_eq!(key(&smart, "carol@lists.example.net"), "esmtp:[lists.hub.example]", "mailertable first");
    }
}
