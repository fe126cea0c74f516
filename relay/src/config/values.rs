//! The value types of the configuration that TOML has no type for:
//! durations (`"90s"`, `"1h30m"`, `"5d"`) and byte sizes (`"25MB"`,
//! `"25 MiB"`, or a plain number of bytes).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The duration units, largest first: suffix and seconds.
const DURATION_UNITS: [(&str, u64); 5] = [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

/// The size units: suffix (matched case-insensitively) and bytes.
const SIZE_UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kb", 1_000),
    ("kib", 1 << 10),
    ("mb", 1_000_000),
    ("mib", 1 << 20),
    ("gb", 1_000_000_000),
    ("gib", 1 << 30),
    ("tb", 1_000_000_000_000),
    ("tib", 1 << 40),
];

/// How [`parse_duration`] and [`ByteSize::from_str`] describe what they expect.
pub(crate) const DURATION_EXPECTED: &str =
    "a duration such as \"30s\", \"15m\", \"2h\", \"5d\", \"1w\" or \"1h30m\"";
pub(crate) const SIZE_EXPECTED: &str =
    "a size such as \"25MB\" (10^6 bytes), \"25 MiB\" (2^20 bytes), \"512kB\" or a number of bytes";

/// Parses a duration written as whole numbers with units `s`, `m`, `h`, `d`
/// or `w`, largest first, optionally separated by spaces: `"90s"`,
/// `"1h 30m"`, `"5d"`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(smarthost_relay::parse_duration("1h30m")?, Duration::from_secs(5_400));
/// assert!(smarthost_relay::parse_duration("5 days").is_err());
/// # Ok::<(), String>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| Err(format!("`{text}` is not a duration ({why}); expected {DURATION_EXPECTED}"));
    let mut rest = text.trim();
    if rest.is_empty() {
        return bad("it is empty");
    }
    let mut total: u64 = 0;
    let mut last_unit = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return bad("a number must come before each unit");
        }
        let Ok(number) = rest[..digits].parse::<u64>() else {
            return bad("the number is too large");
        };
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        let Some(index) = DURATION_UNITS.iter().position(|(name, _)| *name == unit) else {
            return match unit {
                "" => bad("a unit is missing after the number"),
                _ => bad(&format!("unknown unit `{unit}`")),
            };
        };
        if last_unit != usize::MAX && index <= last_unit {
            return bad("units must go from largest to smallest, each once");
        }
        last_unit = index;
        let Some(sum) = number.checked_mul(DURATION_UNITS[index].1).and_then(|secs| total.checked_add(secs))
        else {
            return bad("it is too long");
        };
        total = sum;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Duration::from_secs(total))
}

/// Writes a whole-second duration the way [`parse_duration`] reads it, in
/// the largest units that are exact: `5400 s` is `"1h30m"`, zero is `"0s"`.
/// Fractions of a second are dropped.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(smarthost_relay::format_duration(Duration::from_secs(432_000)), "5d");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (name, unit) in DURATION_UNITS {
        if secs >= unit {
            out.push_str(&format!("{}{name}", secs / unit));
            secs %= unit;
        }
    }
    out
}

/// A number of bytes, written in configuration as `"25MB"` (decimal units:
/// kB, MB, GB, TB), `"25 MiB"` (binary units: KiB, MiB, GiB, TiB), `"100B"`
/// or a plain TOML integer. Units are matched without regard to case.
///
/// ```
/// use smarthost_relay::ByteSize;
/// assert_eq!("25MB".parse::<ByteSize>()?.bytes(), 25_000_000);
/// assert_eq!("25 MiB".parse::<ByteSize>()?.bytes(), 26_214_400);
/// assert_eq!(ByteSize::new(26_214_400).to_string(), "25MiB");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    /// A size of `bytes` bytes.
    pub const fn new(bytes: u64) -> Self {
        Self(bytes)
    }

    /// The number of bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| Err(format!("`{text}` is not a size ({why}); expected {SIZE_EXPECTED}"));
        let trimmed = text.trim();
        let digits = trimmed.bytes().take_while(|b| b.is_ascii_digit() || *b == b'_').count();
        let number: String = trimmed[..digits].chars().filter(|c| *c != '_').collect();
        if number.is_empty() {
            return bad("it must start with a number");
        }
        let Ok(number) = number.parse::<u64>() else {
            return bad("the number is too large");
        };
        let unit = trimmed[digits..].trim_start().to_ascii_lowercase();
        if unit.is_empty() {
            return Ok(Self(number));
        }
        let Some((_, multiplier)) = SIZE_UNITS.iter().find(|(name, _)| *name == unit) else {
            return bad(&format!("unknown unit `{}`", trimmed[digits..].trim_start()));
        };
        number.checked_mul(*multiplier).map(Self).map_or_else(|| bad("it is too large"), Ok)
    }
}

impl fmt::Display for ByteSize {
    /// The largest unit that divides the size exactly, decimal before binary
    /// at the same magnitude: `25MB`, `25MiB`, `1000B` is `1kB`, `1023` is `1023B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: [(&str, u64); 8] = [
            ("TB", 1_000_000_000_000),
            ("TiB", 1 << 40),
            ("GB", 1_000_000_000),
            ("GiB", 1 << 30),
            ("MB", 1_000_000),
            ("MiB", 1 << 20),
            ("kB", 1_000),
            ("KiB", 1 << 10),
        ];
        match SHOWN.iter().find(|(_, unit)| self.0 != 0 && self.0.is_multiple_of(*unit)) {
            Some((name, unit)) => write!(f, "{}{name}", self.0 / unit),
            None => write!(f, "{}B", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn durations_in_every_unit() {
        for (text, secs) in [
            ("30s", 30),
            ("1m", 60),
            ("15m", 900),
            ("2h", 7_200),
            ("5d", 432_000),
            ("1w", 604_800),
            ("1h30m", 5_400),
            ("1h 30m", 5_400),
            (" 4h ", 14_400),
            ("0s", 0),
        ] {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(secs)), "{text}");
        }
    }

    #[test]
    fn bad_durations_say_what_is_expected() {
        for (text, why) in [
            ("", "it is empty"),
            ("5", "a unit is missing"),
            ("5 days", "unknown unit `days`"),
            ("h", "a number must come before"),
            ("30m1h", "largest to smallest"),
            ("1m1m", "largest to smallest"),
            ("-1s", "a number must come before"),
            ("99999999999999999999s", "too large"),
            ("99999999999999999w", "too long"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains("expected a duration such as"), "{text}: {error}");
        }
    }

    #[test]
    fn sizes_in_every_unit() {
        for (text, bytes) in [
            ("25MB", 25_000_000),
            ("25 MiB", 26_214_400),
            ("25mb", 25_000_000),
            ("512kB", 512_000),
            ("512 KiB", 524_288),
            ("1GB", 1_000_000_000),
            ("2GiB", 2 << 30),
            ("100B", 100),
            ("1_000", 1_000),
            ("1048576", 1_048_576),
        ] {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize::new(bytes)), "{text}");
        }
    }

    #[test]
    fn bad_sizes_say_what_is_expected() {
        for (text, why) in
            [("MB", "start with a number"), ("25 megs", "unknown unit `megs`"), ("-1", "start")]
        {
            let error = text.parse::<ByteSize>().unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains("\"25MB\""), "{text}: {error}");
        }
        assert!("99999999999TB".parse::<ByteSize>().unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_render_in_the_largest_exact_unit() {
        for (bytes, text) in [(25_000_000, "25MB"), (26_214_400, "25MiB"), (1_023, "1023B"), (0, "0B")] {
            assert_eq!(ByteSize::new(bytes).to_string(), text);
        }
    }

    proptest! {
        #[test]
        fn durations_round_trip(secs in 0u64..10_000_000_000) {
            let text = format_duration(Duration::from_secs(secs));
            prop_assert_eq!(parse_duration(&text), Ok(Duration::from_secs(secs)), "{}", text);
        }

        #[test]
        fn sizes_round_trip(bytes in any::<u64>(), shift in 0u32..40) {
            let bytes = bytes >> shift; // small ones too
            let text = ByteSize::new(bytes).to_string();
            prop_assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize::new(bytes)), "{}", text);
        }

        #[test]
        fn duration_and_size_parsers_never_panic(text in "\\PC{0,24}") {
            let _ = parse_duration(&text);
            let _ = text.parse::<ByteSize>();
        }
    }
}
