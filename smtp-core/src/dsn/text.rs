//! The human-readable side of a report: its subject and its `text/plain`
//! part, in sendmail's words (dsn.md §8.1, §8.6) so that operators and log
//! parsers recognise them.

use std::fmt::Write as _;

use super::fields::normalize;
use super::{Action, PerMessageFields, RecipientReport, UnixTime};

/// sendmail's banner atop a delay warning.
const WARNING_BANNER: [&str; 4] = [
    "    **********************************************",
    "    **      THIS IS A WARNING MESSAGE ONLY      **",
    "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **",
    "    **********************************************",
];

/// The subject for the most serious action among `recipients`.
pub(super) fn subject(date: UnixTime, arrival: Option<UnixTime>, recipients: &[RecipientReport]) -> String {
    let has = |action: Action| recipients.iter().any(|r| r.action == action);
    if has(Action::Failed) {
        "Returned mail: see transcript for details".to_owned()
    } else if has(Action::Delayed) {
        match arrival.filter(|arrival| *arrival <= date) {
            Some(arrival) => {
                format!("Warning: could not send message for past {}", interval(date.0 - arrival.0))
            }
            None => "Warning: could not send message yet".to_owned(),
        }
    } else if has(Action::Delivered) {
        "Return receipt".to_owned()
    } else {
        "Successful Mail Delivery Report".to_owned()
    }
}

/// `seconds` as sendmail words an interval: `30 minutes`, `4 hours`, `5 days`.
fn interval(seconds: u64) -> String {
    let (count, unit) = match seconds {
        0..3_600 => (seconds / 60, "minute"),
        3_600..172_800 => (seconds / 3_600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

/// The `text/plain` part: where the message came from, a section per kind
/// of outcome listing each recipient and why, then what the remote servers
/// said.
pub(super) fn human_readable(fields: &PerMessageFields, recipients: &[RecipientReport]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results below are ignored for that reason.
    // Only a pure delay warning says there is nothing to resend.
    let has = |action: Action| recipients.iter().any(|r| r.action == action);
    if has(Action::Delayed) && !has(Action::Failed) {
        for line in WARNING_BANNER {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
    }
    match fields.arrival_date {
        Some(arrival) => {
            let _ = write!(out, "The original message was received at {arrival}\r\n");
        }
        None => {
            let _ =
                write!(out, "The original message was received by {}\r\n", normalize(&fields.reporting_mta));
        }
    }
    if let Some(host) = &fields.received_from_mta {
        let _ = write!(out, "from {}\r\n", normalize(host));
    }

    let sections = [
        ("permanent fatal errors", &[Action::Failed][..]),
        ("transient non-fatal errors", &[Action::Delayed][..]),
        ("successful delivery notifications", &[Action::Delivered, Action::Relayed, Action::Expanded][..]),
    ];
    for (heading, actions) in sections {
        let mut listed = recipients.iter().filter(|r| actions.contains(&r.action)).peekable();
        if listed.peek().is_none() {
            continue;
        }
        let _ = write!(out, "\r\n   ----- The following addresses had {heading} -----\r\n");
        for recipient in listed {
            push_recipient(&mut out, recipient);
        }
    }

    let transcript: Vec<_> = recipients.iter().filter(|r| r.diagnostic.is_some()).collect();
    if !transcript.is_empty() {
        out.push_str("\r\n   ----- Transcript of session follows -----\r\n");
        for recipient in transcript {
            push_transcript(&mut out, recipient);
        }
    }
    out
}

fn push_recipient(out: &mut String, recipient: &RecipientReport) {
    let address = normalize(&recipient.final_recipient);
    let _ = match recipient.action {
        Action::Delivered => write!(out, "<{address}>  (successfully delivered to mailbox)\r\n"),
        Action::Relayed => write!(out, "<{address}>  (relayed to non-DSN-aware mailer)\r\n"),
        Action::Expanded => write!(out, "<{address}>  (expanded to multi-recipient alias)\r\n"),
        Action::Failed | Action::Delayed => write!(out, "<{address}>\r\n"),
    };
    if let Some(diagnostic) = &recipient.diagnostic {
        let _ = write!(out, "    (reason: {})\r\n", normalize(&diagnostic.text));
    } else if !recipient.action.is_success() {
        let _ = write!(out, "    (status: {})\r\n", recipient.status);
    }
    if let Some(until) = recipient.will_retry_until {
        let _ = write!(out, "    (will keep trying until {until})\r\n");
    }
}

fn push_transcript(out: &mut String, recipient: &RecipientReport) {
    let Some(diagnostic) = &recipient.diagnostic else { return };
    let text = normalize(&diagnostic.text);
    let _ = match &recipient.remote_mta {
        Some(host) => write!(out, "... while talking to {}:\r\n<<< {text}\r\n", normalize(host)),
        None => write!(out, "<{}>... {text}\r\n", normalize(&recipient.final_recipient)),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EnhancedStatus;

    #[test]
    fn intervals_read_like_sendmail() {
        assert_eq!(interval(59), "0 minutes");
        assert_eq!(interval(60), "1 minute");
        assert_eq!(interval(4 * 3_600 + 59), "4 hours");
        assert_eq!(interval(47 * 3_600), "47 hours");
        assert_eq!(interval(5 * 86_400), "5 days");
    }

    #[test]
    fn subject_follows_the_most_serious_action() {
        let rcpt = |action| RecipientReport::new("b@example.net", action, EnhancedStatus::OK);
        let date = UnixTime(20_000);
        let arrival = Some(UnixTime(20_000 - 4 * 3_600));
        let subject_of = |actions: &[Action]| {
            subject(date, arrival, &actions.iter().map(|&a| rcpt(a)).collect::<Vec<_>>())
        };
        assert_eq!(
            subject_of(&[Action::Delivered, Action::Failed]),
            "Returned mail: see transcript for details"
        );
        assert_eq!(
            subject_of(&[Action::Delayed, Action::Relayed]),
            "Warning: could not send message for past 4 hours"
        );
        assert_eq!(subject_of(&[Action::Expanded, Action::Delivered]), "Return receipt");
        assert_eq!(subject_of(&[Action::Relayed]), "Successful Mail Delivery Report");
        assert_eq!(subject(date, None, &[rcpt(Action::Delayed)]), "Warning: could not send message yet");
    }
}
