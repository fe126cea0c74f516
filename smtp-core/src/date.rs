//! Calendar times in UTC for the places mail carries them: `Date:` and
//! `Received:` (RFC 5322), mbox `From ` lines (`asctime`), log lines and
//! listings (RFC 3339). One civil-date conversion for the whole project.
//!
//! ```
//! use smarthost_smtp_core::date::UtcTime;
//! let t = UtcTime::from_unix(1_700_000_000);
//! assert_eq!(t.rfc5322(), "Tue, 14 Nov 2023 22:13:20 +0000");
//! assert_eq!(t.rfc3339(), "2023-11-14T22:13:20Z");
//! assert_eq!(t.asctime(), "Tue Nov 14 22:13:20 2023");
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A second in UTC, broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime {
    /// The year (proleptic Gregorian).
    pub year: u64,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
    /// 0 (Sunday) – 6 (Saturday).
    pub weekday: u8,
}

impl UtcTime {
    /// The time `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: u64) -> UtcTime {
        let days = secs / 86_400;
        let of_day = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 4) % 7) as u8,
        }
    }

    /// `time`, or the epoch for a time before it (a clock that wrong has
    /// bigger problems).
    pub fn from_system(time: SystemTime) -> UtcTime {
        UtcTime::from_unix(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    /// The three-letter English day name.
    pub fn weekday_name(&self) -> &'static str {
        DAYS[usize::from(self.weekday)]
    }

    /// The three-letter English month name.
    pub fn month_name(&self) -> &'static str {
        MONTHS[usize::from(self.month - 1)]
    }

    /// RFC 5322 `date-time`: `Tue, 14 Nov 2023 22:13:20 +0000`.
    pub fn rfc5322(&self) -> String {
        format!(
            "{}, {} {} {:04} {:02}:{:02}:{:02} +0000",
            self.weekday_name(),
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }

    /// RFC 3339 in UTC: `2023-11-14T22:13:20Z`.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// C's `asctime` without its newline: `Tue Nov 14 22:13:20 2023` (mbox
    /// `From ` lines).
    pub fn asctime(&self) -> String {
        format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            self.weekday_name(),
            self.month_name(),
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01: Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch.
fn civil_from_days(days: u64) -> (u64, u8, u8) {
    // Shift the epoch to 0000-03-01, so that leap days end each cycle.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(UtcTime::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(UtcTime::from_unix(0).weekday_name(), "Thu");
        assert_eq!(UtcTime::from_unix(951_782_400).rfc5322(), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(UtcTime::from_unix(4_107_542_399).rfc3339(), "2100-02-28T23:59:59Z");
        assert_eq!(UtcTime::from_unix(4_107_542_400).rfc3339(), "2100-03-01T00:00:00Z");
        assert_eq!(UtcTime::from_unix(1_795_444_800).asctime(), "Mon Nov 23 14:40:00 2026");
        assert_eq!(UtcTime::from_unix(1_796_083_200).asctime(), "Tue Dec  1 00:00:00 2026");
    }

    proptest::proptest! {
        /// Consecutive days are one calendar day apart, through leap years
        /// and centuries.
        #[test]
        fn days_follow_each_other(day in 0u64..200_000) {
            let a = UtcTime::from_unix(day * 86_400);
            let b = UtcTime::from_unix((day + 1) * 86_400);
            proptest::prop_assert_eq!((a.weekday + 1) % 7, b.weekday);
            if b.day == 1 {
                proptest::prop_assert!(a.day >= 28);
                proptest::prop_assert_eq!(b.month, if a.month == 12 { 1 } else { a.month + 1 });
            } else {
                proptest::prop_assert_eq!((a.year, a.month, a.day + 1), (b.year, b.month, b.day));
            }
        }
    }
}
