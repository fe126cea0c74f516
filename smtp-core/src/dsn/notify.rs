//! RFC 3461 `NOTIFY` and the rule that decides whether a recipient's
//! outcome is reported to the sender (dsn.md §7.2, §7.3).

use std::fmt;
use std::ops::BitOr;

use super::Action;

/// The RFC 3461 `NOTIFY` parameter of a recipient: a set of `SUCCESS`,
/// `FAILURE` and `DELAY`, or `NEVER` (the empty set).
///
/// An absent parameter is `None` where a `Notify` is expected, never an
/// empty set: it means "failure and delay" (see [`is_report_due`]).
///
/// This is the DSN module's own small type until the `RCPT` parameter
/// parser brings the crate-wide one; it is meant to be replaced by it.
///
/// ```
/// use smarthost_smtp_core::dsn::Notify;
/// let notify = Notify::SUCCESS | Notify::FAILURE;
/// assert!(notify.contains(Notify::FAILURE) && !notify.contains(Notify::DELAY));
/// assert!(Notify::NEVER.is_never());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Notify(u8);

impl Notify {
    /// `NOTIFY=NEVER`: no report of any kind.
    pub const NEVER: Notify = Notify(0);
    /// `SUCCESS`: report delivery, relaying to a non-DSN server, and expansion.
    pub const SUCCESS: Notify = Notify(1);
    /// `FAILURE`: report permanent failure.
    pub const FAILURE: Notify = Notify(2);
    /// `DELAY`: warn when delivery is delayed.
    pub const DELAY: Notify = Notify(4);

    /// Whether every keyword of `other` is in `self`.
    pub const fn contains(self, other: Notify) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether this is `NEVER`.
    pub const fn is_never(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Notify {
    type Output = Notify;

    fn bitor(self, other: Notify) -> Notify {
        Notify(self.0 | other.0)
    }
}

impl fmt::Debug for Notify {
    /// The parameter's value: `NEVER` or e.g. `SUCCESS,FAILURE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_never() {
            return f.write_str("NEVER");
        }
        let names = [(Notify::SUCCESS, "SUCCESS"), (Notify::FAILURE, "FAILURE"), (Notify::DELAY, "DELAY")];
        let set: Vec<_> =
            names.iter().filter(|(flag, _)| self.contains(*flag)).map(|(_, name)| *name).collect();
        f.write_str(&set.join(","))
    }
}

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
    let Some(notify) = notify else {
        return matches!(action, Action::Failed | Action::Delayed);
    };
    let needed = match action {
        Action::Failed => Notify::FAILURE,
        Action::Delayed => Notify::DELAY,
        Action::Delivered | Action::Relayed | Action::Expanded => Notify::SUCCESS,
    };
    !notify.is_never() && notify.contains(needed)
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

    #[test]
    fn debug_shows_the_parameter_value() {
        assert_eq!(format!("{:?}", Notify::NEVER), "NEVER");
        assert_eq!(format!("{:?}", Notify::DELAY | Notify::SUCCESS), "SUCCESS,DELAY");
    }
}
