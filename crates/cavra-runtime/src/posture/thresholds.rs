//! The thresholds of the posture findings (docs/posture.md, "Thresholds"): how long an
//! approval may wait, how old an active evidence key may get, from how many blocked
//! attempts a trend is reported. Set in the `posture:` section of the `cavra serve` config
//! file, or by `cavra posture`'s flags — never by a file of the repository (an agent could
//! write one to quiet its own report).

use serde_json::Value;

use super::Options;

/// The most blocked attempts a trend threshold may ask for.
pub const MAX_BLOCK_THRESHOLD: u64 = 1_000_000;

/// Settings that override [`Options::new`]'s defaults; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thresholds {
    pub approval_sla_secs: Option<i64>,
    pub key_max_age_days: Option<i64>,
    pub block_threshold: Option<usize>,
}

/// The keys of the `posture:` section, with the flag each is also set by.
pub const KEYS: [(&str, &str); 3] = [
    ("approval_sla", "--approval-sla"),
    ("key_max_age", "--key-max-age"),
    ("block_threshold", "--block-threshold"),
];

impl Thresholds {
    /// The `posture:` section: `{approval_sla: 4h, key_max_age: 90d, block_threshold: 5}`
    /// (each optional; any other key is an error naming the known ones).
    pub fn parse_section(v: &Value) -> Result<Thresholds, String> {
        let map = v.as_object().ok_or_else(|| {
            "`posture` must be a mapping (approval_sla, key_max_age, block_threshold)".to_string()
        })?;
        let mut t = Thresholds::default();
        for (k, val) in map {
            let text = match val {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(format!("`posture.{k}` must be a string or a number")),
            };
            t.set(k, &text).map_err(|e| format!("`posture.{k}`: {e}"))?;
        }
        Ok(t)
    }

    /// Sets `key` (one of [`KEYS`]) from its text: a duration (`4h`, `30m`) for
    /// `approval_sla`, whole days (`90d`, or a number of days) for `key_max_age`, a count
    /// from 1 to [`MAX_BLOCK_THRESHOLD`] for `block_threshold`.
    pub fn set(&mut self, key: &str, text: &str) -> Result<(), String> {
        let text = text.trim();
        match key {
            "approval_sla" => {
                let secs = duration_secs(text)?;
                self.approval_sla_secs = Some(secs);
            }
            "key_max_age" => {
                let secs = match text.parse::<u64>() {
                    Ok(days) => days
                        .checked_mul(86_400)
                        .ok_or_else(|| format!("`{text}` days is too long (at most 10 years)"))?,
                    Err(_) => u64::try_from(duration_secs(text)?).unwrap_or(0),
                };
                if secs == 0 || secs % 86_400 != 0 {
                    return Err(format!(
                        "`{text}` is not a whole number of days such as `90d`"
                    ));
                }
                let days = i64::try_from(secs / 86_400).map_err(|_| "too long".to_string())?;
                if days > 3653 {
                    return Err(format!("`{text}` is longer than 10 years"));
                }
                self.key_max_age_days = Some(days);
            }
            "block_threshold" => {
                let n: u64 = text.parse().map_err(|_| {
                    format!("`{text}` is not a whole number of blocked attempts such as `5`")
                })?;
                if n == 0 || n > MAX_BLOCK_THRESHOLD {
                    return Err(format!(
                        "{n} is not from 1 to {MAX_BLOCK_THRESHOLD} blocked attempts"
                    ));
                }
                self.block_threshold =
                    Some(usize::try_from(n).map_err(|_| "too large".to_string())?);
            }
            other => {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "unknown setting `{other}` (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// `other`'s settings over these (flags over a file).
    pub fn or(self, base: Thresholds) -> Thresholds {
        Thresholds {
            approval_sla_secs: self.approval_sla_secs.or(base.approval_sla_secs),
            key_max_age_days: self.key_max_age_days.or(base.key_max_age_days),
            block_threshold: self.block_threshold.or(base.block_threshold),
        }
    }

    /// `o` with these thresholds.
    pub fn apply(&self, mut o: Options) -> Options {
        if let Some(v) = self.approval_sla_secs {
            o.approval_sla_secs = v;
        }
        if let Some(v) = self.key_max_age_days {
            o.key_max_age_days = v;
        }
        if let Some(v) = self.block_threshold {
            o.block_threshold = v;
        }
        o
    }
}

/// A positive duration in seconds (the workspace's grammar: `4h`, `1h30m`, `2d`; at most
/// 10 years).
fn duration_secs(text: &str) -> Result<i64, String> {
    let secs = cavra_core::duration::parse_secs(text)
        .map_err(|e| format!("`{text}` is not a duration such as `4h` ({e})"))?;
    if secs == 0 {
        return Err(format!("`{text}` is not a positive duration"));
    }
    i64::try_from(secs).map_err(|_| format!("`{text}` is too long"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn o() -> Options {
        let t = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        Options::new(t - time::Duration::days(7), t)
    }

    #[test]
    fn a_section_sets_the_thresholds_and_the_rest_stay_default() {
        let t = Thresholds::parse_section(
            &json!({"approval_sla": "30m", "key_max_age": "30d", "block_threshold": 3}),
        )
        .unwrap();
        let got = t.apply(o());
        assert_eq!(
            (
                got.approval_sla_secs,
                got.key_max_age_days,
                got.block_threshold
            ),
            (1800, 30, 3)
        );
        let partial = Thresholds::parse_section(&json!({"key_max_age": 45})).unwrap();
        let got = partial.apply(o());
        assert_eq!(
            (
                got.approval_sla_secs,
                got.key_max_age_days,
                got.block_threshold
            ),
            (4 * 3600, 45, 5),
            "unset thresholds keep their defaults"
        );
        assert_eq!(Thresholds::default().apply(o()), o());
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = Thresholds::parse_section(&json!({"approval_sla": "8h", "block_threshold": 9}))
            .unwrap();
        let mut flags = Thresholds::default();
        flags.set("approval_sla", "1h").unwrap();
        let t = flags.or(file);
        assert_eq!(t.approval_sla_secs, Some(3600));
        assert_eq!(t.block_threshold, Some(9));
        assert_eq!(t.key_max_age_days, None);
    }

    #[test]
    fn bad_values_are_named() {
        for (v, want) in [
            (json!("4h"), "must be a mapping"),
            (json!({"sla": "4h"}), "unknown setting `sla`"),
            (
                json!({"approval_sla": "soon"}),
                "`posture.approval_sla`: `soon` is not a duration",
            ),
            (json!({"approval_sla": "0s"}), "not a positive duration"),
            (
                json!({"approval_sla": true}),
                "must be a string or a number",
            ),
            (json!({"key_max_age": "36h"}), "whole number of days"),
            (json!({"key_max_age": 0}), "whole number of days"),
            (json!({"key_max_age": 99999}), "longer than 10 years"),
            (json!({"block_threshold": 0}), "not from 1 to"),
            (json!({"block_threshold": -2}), "not a whole number"),
            (json!({"block_threshold": "many"}), "not a whole number"),
            (json!({"block_threshold": 2_000_000}), "not from 1 to"),
        ] {
            let e = Thresholds::parse_section(&v).unwrap_err();
            assert!(e.contains(want), "{v}: {e}");
        }
    }
}
