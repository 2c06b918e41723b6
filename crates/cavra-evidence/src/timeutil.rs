//! Timestamps (RFC 3339 UTC, fixed microsecond width so they sort as text) and durations.

use crate::error::{EvidenceError, Result};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

/// Format `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, fixed width).
pub fn format_ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    // digits written directly (every append stamps a record); years beyond 0..=9999 go
    // through the general formatter
    let year = t.year();
    if let Ok(y) = u32::try_from(year) {
        if y <= 9999 {
            let mut b = *b"0000-00-00T00:00:00.000000Z";
            let mut put = |at: usize, width: usize, mut v: u32| {
                for i in (at..at + width).rev() {
                    b[i] = b'0' + (v % 10) as u8;
                    v /= 10;
                }
            };
            put(0, 4, y);
            put(5, 2, u32::from(u8::from(t.month())));
            put(8, 2, u32::from(t.day()));
            put(11, 2, u32::from(t.hour()));
            put(14, 2, u32::from(t.minute()));
            put(17, 2, u32::from(t.second()));
            put(20, 6, t.microsecond());
            return String::from_utf8(b.to_vec()).unwrap_or_default();
        }
    }
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.format(&f)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The current time in the log's format.
pub fn now_ts() -> String {
    format_ts(OffsetDateTime::now_utc())
}

/// Parse an RFC 3339 timestamp.
pub fn parse_ts(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| EvidenceError::Invalid(format!("`{s}` is not an RFC 3339 timestamp: {e}")))
}

/// Parse a duration such as `90d`, `12h`, `30m`, `45s`, `2w`, `1h30m`: the workspace's one
/// grammar ([`cavra_core::duration`]), at most 10 years.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let secs =
        cavra_core::duration::parse_secs(s).map_err(|e| EvidenceError::Invalid(e.to_string()))?;
    // at most 10 years: always fits an i64
    Ok(Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// Parse a point in time given as RFC 3339, a date `YYYY-MM-DD`, or a duration ago (`24h`).
pub fn parse_since(s: &str) -> Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        return parse_ts(&format!("{s}T00:00:00Z"));
    }
    match parse_duration(s) {
        Ok(d) => OffsetDateTime::now_utc().checked_sub(d).ok_or_else(|| {
            EvidenceError::Invalid(format!("`{s}` reaches before the representable time range"))
        }),
        Err(_) => Err(EvidenceError::Invalid(format!(
            "`{s}` is neither an RFC 3339 time, a date (YYYY-MM-DD) nor a duration such as `24h`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d").unwrap(), Duration::days(90));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
        // regression: out-of-range values are refused, not wrapped
        assert!(parse_duration("999999999999999d").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }

    #[test]
    fn fast_format_equals_the_time_crate() {
        use proptest::prelude::*;
        let f = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        proptest!(|(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000)| {
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap()
                + Duration::nanoseconds(i64::from(nanos));
            prop_assert_eq!(format_ts(t), t.format(&f).unwrap());
        });
    }

    #[test]
    fn timestamps_fixed_width() {
        let t = parse_ts("2025-01-02T03:04:05Z").unwrap();
        assert_eq!(format_ts(t), "2025-01-02T03:04:05.000000Z");
        assert!(parse_since("2025-01-02").is_ok());
        assert!(parse_since("yesterday").is_err());
    }
}
