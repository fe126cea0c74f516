//! RFC 3461 `NOTIFY` and the rule that decides whether a recipient's
//! outcome is reported to the sender (dsn.md §7.2, §7.3).

pub use crate::params::Notify;

use super::Action;

/// Whether a report is due for a recipient whose outcome is `action`,
/// given its `NOTIFY` (`None` when the sender gave none).
///
/// Without `NOTIFY`, failures and delays are reported and successes are
/// not, as sendmail does (RFC 3461 leaves delay reports to the MTA). With
/// it, each action needs its keyword: `FAILURE` for [`Action::Failed`],
/// `DELAY` for [`Action::Delayed`], `SUCCESS` for delivered, relayed and
/// expanded. `NEVER` silences all. This does not look at the sender: no
/// report ever goes to the null sender, which
/// [`ReportBuilder::new`](super::ReportBuilder::new) enforces.
///
/// ```
/// use smarthost_smtp_core::dsn::{Action, Notify, is_report_due};
/// assert!(is_report_due(None, Action::Failed));
/// assert!(!is_report_due(None, Action::Delivered));
/// assert!(!is_report_due(Some(Notify::SUCCESS), Action::Failed)); // dsn.md D20
/// assert!(is_report_due(Some(Notify::SUCCESS), Action::Relayed)); // dsn.md D22
/// ```
pub fn is_report_due(notify: Option<Notify>, action: Action) -> bool {
    let event = match action {
        Action::Failed => Notify::FAILURE,
        Action::Delayed => Notify::DELAY,
        Action::Delivered | Action::Relayed | Action::Expanded => Notify::SUCCESS,
    };
    Notify::wants(notify, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Action; 5] =
        [Action::Failed, Action::Delayed, Action::Delivered, Action::Relayed, Action::Expanded];

    #[test]
    fn never_silences_every_action() {
        assert!(ALL.iter().all(|&action| !is_report_due(Some(Notify::NEVER), action)));
    }

    #[test]
    fn absent_notify_reports_failure_and_delay_only() {
        let due: Vec<_> = ALL.iter().map(|&action| is_report_due(None, action)).collect();
        assert_eq!(due, [true, true, false, false, false]);
    }

    #[test]
    fn each_keyword_enables_its_actions() {
        let due = |notify| ALL.iter().map(|&action| is_report_due(Some(notify), action)).collect::<Vec<_>>();
        assert_eq!(due(Notify::SUCCESS), [false, false, true, true, true]);
        assert_eq!(due(Notify::FAILURE), [true, false, false, false, false]);
        assert_eq!(due(Notify::DELAY), [false, true, false, false, false]);
        assert_eq!(due(Notify::FAILURE | Notify::DELAY), [true, true, false, false, false]);
    }
}
