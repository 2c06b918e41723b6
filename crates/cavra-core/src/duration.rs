//! The one duration grammar of the workspace: approval TTLs and escalation windows in packs,
//! `--ttl` of approvals and break-glass, `--older-than`/`--since` of the evidence commands.
//!
//! A duration is plain seconds (`45`) or one or more `<number><unit>` parts (`90d`, `1h30m`),
//! units `s`, `m`, `h`, `d`, `w`. Values above [`MAX_SECS`] (10 years) are refused with
//! [`DurationError::OutOfRange`] instead of wrapping or falling back to a default.

use std::time::Duration;
use thiserror::Error;

/// The longest duration accepted anywhere: 10 years (3650 days), in seconds.
pub const MAX_SECS: u64 = 3650 * 86_400;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration (use a number and a unit s, m, h, d or w, e.g. `30m`, `1h30m`, `90d`)")]
    Syntax(String),
    #[error("duration `{0}` is longer than the maximum of 3650d (10 years)")]
    OutOfRange(String),
}

fn unit_secs(c: char) -> Option<u64> {
    Some(match c {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    })
}

/// Parses a duration (see the module documentation) into whole seconds, at most [`MAX_SECS`].
pub fn parse_secs(text: &str) -> Result<u64, DurationError> {
    let t = text.trim();
    let syntax = || DurationError::Syntax(t.to_string());
    let range = || DurationError::OutOfRange(t.to_string());
    if t.is_empty() {
        return Err(syntax());
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in t.chars() {
        if let Some(d) = c.to_digit(10) {
            // an overlong digit run is out of range, not a syntax error
            let n = num
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))
                .ok_or_else(range)?;
            num = Some(n);
            continue;
        }
        let n = num.take().ok_or_else(syntax)?;
        let mult = unit_secs(c).ok_or_else(syntax)?;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(range)?;
    }
    if let Some(n) = num {
        // trailing digits: plain seconds only when they are the whole text (`45`, not `5m3`)
        if total != 0 || t.contains(|c: char| !c.is_ascii_digit()) {
            return Err(syntax());
        }
        total = n;
    }
    if total > MAX_SECS {
        return Err(range());
    }
    Ok(total)
}

/// [`parse_secs`] as a [`Duration`].
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    parse_secs(text).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_common_forms() {
        for (s, secs) in [
            ("45", 45),
            ("0", 0),
            ("90s", 90),
            ("15m", 900),
            ("1h", 3600),
            ("2d", 172_800),
            ("2w", 1_209_600),
            ("1h30m", 5400),
            (" 12h ", 43_200),
            ("3650d", MAX_SECS),
        ] {
            assert_eq!(parse_secs(s), Ok(secs), "{s}");
        }
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
    }

    #[test]
    fn rejects_bad_syntax() {
        for s in [
            "", " ", "d", "5y", "1x", "h", "5m3", "1.5h", "-1h", "1 h", "1hh", "٣s",
        ] {
            assert!(
                matches!(parse_secs(s), Err(DurationError::Syntax(_))),
                "{s}: {:?}",
                parse_secs(s)
            );
        }
    }

    #[test]
    fn out_of_range_is_refused_not_wrapped() {
        // regression: `999999999999999d` wrapped (or panicked in debug) in the pack compiler,
        // and `99999999999999999999s` validated as ok
        for s in [
            "999999999999999d",
            "99999999999999999999s",
            "3651d",
            "18446744073709551615s",
            "18446744073709551616",
            "9223372036854775807w",
            "3000d3000d",
        ] {
            assert!(
                matches!(parse_secs(s), Err(DurationError::OutOfRange(_))),
                "{s}: {:?}",
                parse_secs(s)
            );
        }
        let msg = parse_secs("999999999999999d").unwrap_err().to_string();
        assert!(msg.contains("maximum of 3650d"), "{msg}");
    }
}
