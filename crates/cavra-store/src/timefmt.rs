//! Time helpers: the store keeps unix seconds; output is RFC 3339 (UTC).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::StoreError;

pub(crate) fn secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_secs(field: &str, s: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(s).map_err(|e| StoreError::Decode {
        field: field.to_string(),
        detail: e.to_string(),
    })
}

/// `now + ttl` in unix seconds, saturating.
pub(crate) fn add_secs(now: OffsetDateTime, ttl: std::time::Duration) -> i64 {
    secs(now).saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

/// RFC 3339 rendering (UTC).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub(crate) fn ser<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

pub(crate) fn ser_opt<S: serde::Serializer>(
    t: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// Parse a human duration (`90s`, `15m`, `1h`, `2d`, `1h30m`, plain seconds): the
/// workspace's one grammar ([`cavra_core::duration`]), at most 10 years.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, StoreError> {
    cavra_core::duration::parse(text).map_err(|e| StoreError::input("duration", e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").map(|d| d.as_secs()).ok(), Some(3600));
        assert_eq!(
            parse_duration("1h30m").map(|d| d.as_secs()).ok(),
            Some(5400)
        );
        assert_eq!(parse_duration("45").map(|d| d.as_secs()).ok(), Some(45));
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("10").is_ok());
        assert!(parse_duration("5m3").is_err());
        assert!(parse_duration("").is_err());
        // regression: out-of-range values are refused, not wrapped
        assert!(parse_duration("999999999999999d").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }
}
