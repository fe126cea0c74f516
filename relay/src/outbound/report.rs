//! Delivery status notifications: failure reports and delay warnings,
//! built with smtp-core's [`ReportBuilder`] and queued as new messages.

use std::time::{SystemTime, UNIX_EPOCH};

use smarthost_queue::{Client, Envelope, Notify, QueueId, Recipient, Ret, Timestamp};
use smarthost_smtp_core::dsn::{Action, Diagnostic, RecipientReport, ReportBuilder, Returned, UnixTime};
use smarthost_smtp_core::{EnhancedStatus, xtext_decode};

use crate::tables::Tables;

/// Which event a report tells of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// The recipients failed (or expired).
    Failed,
    /// The recipients are still queued after `warn_after`.
    Delayed,
}

impl Event {
    fn action(self) -> Action {
        match self {
            Event::Failed => Action::Failed,
            Event::Delayed => Action::Delayed,
        }
    }
}

/// A report ready to queue, with the text for the `DSN:` log line.
pub(super) struct Queueable {
    pub(super) envelope: Envelope,
    pub(super) content: Vec<u8>,
    pub(super) reason: String,
}

/// Builds the report about `indexes` of message `id`. `Ok(None)` when no
/// report is due: the null sender, or no recipient whose `NOTIFY` asks.
pub(super) fn build(
    tables: &Tables,
    id: QueueId,
    original: &Envelope,
    body: &[u8],
    indexes: &[usize],
    event: Event,
) -> Result<Option<Queueable>, String> {
    if original.sender.is_empty() {
        return Ok(None);
    }
    let due: Vec<&Recipient> = indexes
        .iter()
        .filter_map(|&i| original.recipients.get(i))
        .filter(|r| {
            smarthost_smtp_core::dsn::is_report_due(r.notify.map(super::smtp::smtp_notify), event.action())
        })
        .collect();
    if due.is_empty() {
        return Ok(None);
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let unique = format!("{id}.{}.{now}", if event == Event::Failed { "failed" } else { "delayed" });
    let mut builder = ReportBuilder::new(&original.sender, &tables.hostname, &unique, UnixTime(now))
        .map_err(|e| e.to_string())?
        .arrival_date(UnixTime(original.arrival.0 / 1_000_000));
    if let Some(from) = original.client.name.as_deref().or(Some(original.client.helo.as_str()))
        && !from.is_empty()
        && original.client.addr.is_some()
    {
        builder = builder.received_from_mta(from);
    }
    if let Some(envid) = &original.envid {
        builder = builder.original_envelope_id(xtext_decode(envid).unwrap_or_else(|_| envid.clone()));
    }
    let mut reason = None;
    for recipient in due {
        let last = recipient.last_reply.clone().unwrap_or_else(|| match event {
            Event::Failed => "550 5.0.0 Delivery failed".to_owned(),
            Event::Delayed => "451 4.0.0 Not yet delivered".to_owned(),
        });
        let status = status(&last, event);
        let final_recipient = match recipient.address.starts_with(['|', '/']) {
            true => original_address(recipient).unwrap_or_else(|| recipient.address.clone()),
            false => recipient.address.clone(),
        };
        let mut report = RecipientReport::new(final_recipient, event.action(), status)
            .with_diagnostic(Diagnostic::new("smtp", last.clone()))
            .with_final_log_id(id.to_string())
            .with_last_attempt(UnixTime(now));
        if let Some((kind, value)) = recipient.orcpt.as_deref().and_then(|o| o.split_once(';')) {
            report = report
                .with_original_recipient(kind, xtext_decode(value).unwrap_or_else(|_| value.to_owned()));
        }
        if event == Event::Delayed {
            let until = original.arrival.plus(tables.config.queue.return_after);
            report = report.with_will_retry_until(UnixTime(until.0 / 1_000_000));
        }
        reason.get_or_insert_with(|| match event {
            Event::Failed => reply_text(&last),
            Event::Delayed => format!(
                "Warning: could not send message for past {}",
                crate::config::format_duration(tables.config.queue.warn_after)
            ),
        });
        builder = builder.recipient(report);
    }
    let returned = match (event, original.ret) {
        (Event::Failed, Some(Ret::Headers)) | (Event::Delayed, _) => Returned::Headers(body),
        (Event::Failed, _) => Returned::Full(body),
    };
    let report = builder.returned(returned).build().map_err(|e| e.to_string())?;
    let recipients = expand(tables, &report.recipient)
        .into_iter()
        .map(|target| {
            let mut recipient = Recipient::new(target);
            // A report about a report is never sent anyway (null sender); say so.
            recipient.notify = Some(Notify::NEVER);
            recipient.orcpt =
                Some(format!("rfc822;{}", smarthost_smtp_core::xtext_encode(&report.recipient)));
            recipient
        })
        .collect();
    let mut envelope = Envelope::new(report.reverse_path(), recipients, Timestamp::now());
    envelope.client = Client {
        helo: tables.hostname.clone(),
        addr: None,
        name: None,
        auth: None,
        protocol: "local".to_owned(),
    };
    Ok(Some(Queueable { envelope, content: report.message, reason: reason.unwrap_or_default() }))
}

/// The report's recipient through ruleset 0 (virtusertable, aliases), as
/// an inbound RCPT would be: the targets to queue. When it cannot be
/// resolved (a lookup failure, a refusal) the address is queued as it is,
/// and its delivery attempt says what is wrong.
fn expand(tables: &Tables, address: &str) -> Vec<String> {
    use smarthost_routing::{Action as Delivery, ForwardPath, ParseOptions};
    let Ok(parsed) = ForwardPath::parse(&format!("<{address}>"), ParseOptions { smtputf8: true }) else {
        return vec![address.to_owned()];
    };
    let targets: Vec<String> = match tables.resolver().resolve_path(&parsed.path) {
        Ok(resolution) if resolution.rcpt_reply().is_none() => resolution
            .deliveries()
            // As inbound queues them: `|command`, `/path`, or an address.
            .map(|target| match &target.action {
                Delivery::Program { command } => format!("|{command}"),
                Delivery::File { path } => path.clone(),
                _ => target.address.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    if targets.is_empty() { vec![address.to_owned()] } else { targets }
}

/// The ORCPT address of a recipient, decoded.
fn original_address(recipient: &Recipient) -> Option<String> {
    let (_, value) = recipient.orcpt.as_deref()?.split_once(';')?;
    Some(xtext_decode(value).unwrap_or_else(|_| value.to_owned()))
}

/// The enhanced status in a reply line (`550 5.1.1 ...`), or the class's
/// generic one.
fn status(reply: &str, event: Event) -> EnhancedStatus {
    let found = reply.split_whitespace().nth(1).and_then(|w| w.parse::<EnhancedStatus>().ok());
    found.unwrap_or(match event {
        Event::Failed => EnhancedStatus::OTHER,
        Event::Delayed => EnhancedStatus::OTHER.with_class(4),
    })
}

/// The text of a reply line without its code and status, for `DSN:` and
/// `stat=` (`User unknown`).
pub(super) fn reply_text(reply: &str) -> String {
    let mut rest = reply.trim();
    if rest.len() >= 3 && rest.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
        rest = rest[3..].trim_start_matches(['-', ' ']);
        if let Some((word, after)) = rest.split_once(' ')
            && word.parse::<EnhancedStatus>().is_ok()
        {
            rest = after;
        }
    }
    rest.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_drops_code_and_status() {
        assert_eq!(reply_text("550 5.1.1 <b@x>... User unknown"), "<b@x>... User unknown");
        assert_eq!(reply_text("421 Service not available"), "Service not available");
        assert_eq!(reply_text("odd"), "odd");
    }

    #[test]
    fn status_comes_from_the_reply_or_the_event() {
        assert_eq!(status("550 5.1.1 x", Event::Failed).to_string(), "5.1.1");
        assert_eq!(status("451 4.4.7 x", Event::Failed).to_string(), "4.4.7");
        assert_eq!(status("550 no status", Event::Failed).to_string(), "5.0.0");
        assert_eq!(status("451 no status", Event::Delayed).to_string(), "4.0.0");
    }
}
