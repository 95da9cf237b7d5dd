//! A bucket's lifecycle rules as stored, and how they judge one version or upload: which
//! rules apply to it and when it expires. The worker that acts on them lives in `lifecycle`.

use serde::{Deserialize, Serialize};

use super::{ObjectRecord, Tags};
use crate::error::{Error, Result};

/// S3's limit on the rules of one configuration.
pub const MAX_RULES: usize = 1000;
const MAX_ID_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    #[serde(default)]
    pub filter: RuleFilter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_expiration: Option<NoncurrentExpiration>,
    /// Days after initiation after which an unfinished multipart upload is aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_upload_days: Option<u32>,
    /// Given with the original API's rule-level `Prefix` rather than a `Filter`, and shown
    /// back the same way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_prefix: bool,
}

/// What a rule applies to: every condition must hold (an empty filter matches everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFilter {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expiration {
    /// Current versions expire this many days after they were written.
    Days(u32),
    /// Current versions expire from this moment (unix millis, a midnight UTC).
    Date(i64),
    /// A delete marker with no versions left below it is removed.
    ExpiredObjectDeleteMarker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    /// Days after a version became noncurrent.
    pub days: u32,
    /// This many of the newest noncurrent versions are kept whatever their age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_newer: Option<u32>,
}

pub const NUL_REFUSED: &str = "A lifecycle rule's ID, prefix and tags cannot hold a NUL character.";

impl LifecycleRule {
    /// No key holds a NUL, and XML cannot show one back.
    pub fn holds_nul(&self) -> bool {
        let f = &self.filter;
        [self.id.as_str(), f.prefix.as_str()]
            .into_iter()
            .chain(f.tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
            .any(|t| t.contains('\0'))
    }
}

impl RuleFilter {
    pub fn has_conditions_beyond_prefix(&self) -> bool {
        !self.tags.is_empty() || self.size_greater_than.is_some() || self.size_less_than.is_some()
    }

    pub fn matches_key(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
    }

    pub fn matches(&self, key: &str, rec: &ObjectRecord) -> bool {
        self.matches_key(key)
            && self.tags.iter().all(|t| rec.tags.contains(t))
            && self.size_greater_than.is_none_or(|n| rec.size > n)
            && self.size_less_than.is_none_or(|n| rec.size < n)
    }
}

/// `ms` rounded up to the next multiple of `day_ms` since the epoch: with real days, the next
/// midnight UTC, as S3 rounds expiry times.
pub fn next_day_boundary(ms: i64, day_ms: i64) -> i64 {
    let day_ms = day_ms.max(1);
    ms.div_euclid(day_ms)
        .saturating_add(i64::from(ms.rem_euclid(day_ms) != 0))
        .saturating_mul(day_ms)
}

fn after_days(start_ms: i64, days: u32, day_ms: i64) -> i64 {
    next_day_boundary(
        start_ms.saturating_add(i64::from(days).saturating_mul(day_ms)),
        day_ms,
    )
}

/// A bucket's rules, judged against versions and uploads. `day_ms` is the length of a
/// lifecycle day (a real day but in tests).
pub struct Judge<'a> {
    pub rules: &'a [LifecycleRule],
    pub day_ms: i64,
}

impl Judge<'_> {
    fn enabled(&self) -> impl Iterator<Item = &LifecycleRule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// When the current version `rec` of `key` expires and by which rule (the earliest).
    pub fn current_expiry(&self, key: &str, rec: &ObjectRecord) -> Option<(i64, &str)> {
        if rec.delete_marker {
            return None;
        }
        self.enabled()
            .filter(|r| r.filter.matches(key, rec))
            .filter_map(|r| {
                let at = match r.expiration? {
                    Expiration::Days(d) => after_days(rec.last_modified_ms, d, self.day_ms),
                    Expiration::Date(ms) => ms,
                    Expiration::ExpiredObjectDeleteMarker => return None,
                };
                Some((at, r.id.as_str()))
            })
            .min_by_key(|(at, _)| *at)
    }

    /// Whether a rule removes `key`'s delete marker once no versions are left below it.
    pub fn removes_lone_marker(&self, key: &str) -> bool {
        self.enabled().any(|r| {
            r.expiration == Some(Expiration::ExpiredObjectDeleteMarker)
                && r.filter.matches_key(key)
                && !r.filter.has_conditions_beyond_prefix()
        })
    }

    /// Whether noncurrent version `rec` of `key`, noncurrent since `since_ms` and with `newer`
    /// noncurrent versions above it, has expired at `now_ms`.
    pub fn noncurrent_expired(
        &self,
        key: &str,
        rec: &ObjectRecord,
        since_ms: i64,
        newer: usize,
        now_ms: i64,
    ) -> bool {
        self.enabled().any(|r| {
            let Some(n) = r.noncurrent_expiration else {
                return false;
            };
            let kept = n
                .keep_newer
                .is_some_and(|k| newer < usize::try_from(k).unwrap_or(usize::MAX));
            // A delete marker has no size or tags: only key conditions apply to it.
            let applies = if rec.delete_marker {
                r.filter.matches_key(key) && !r.filter.has_conditions_beyond_prefix()
            } else {
                r.filter.matches(key, rec)
            };
            applies && !kept && after_days(since_ms, n.days, self.day_ms) <= now_ms
        })
    }

    /// Whether an upload of `key` initiated at `initiated_ms` is to be aborted at `now_ms`.
    pub fn upload_expired(&self, key: &str, initiated_ms: i64, now_ms: i64) -> bool {
        self.enabled().any(|r| {
            r.abort_incomplete_upload_days.is_some_and(|d| {
                r.filter.matches_key(key) && after_days(initiated_ms, d, self.day_ms) <= now_ms
            })
        })
    }
}

/// Checks a configuration's structure as S3 does before storing it (the tags its filters
/// name are checked by the store, with every other tag set).
pub fn validate(rules: &[LifecycleRule]) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidArgument(m));
    if rules.is_empty() || rules.len() > MAX_RULES {
        return bad(format!(
            "A lifecycle configuration holds 1 to {MAX_RULES} rules."
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for r in rules {
        if r.id.chars().count() > MAX_ID_CHARS {
            return bad(format!(
                "ID length should not exceed allowed limit of {MAX_ID_CHARS}"
            ));
        }
        if r.holds_nul() {
            return bad(NUL_REFUSED.into());
        }
        if !ids.insert(r.id.as_str()) {
            return bad("Rule ID must be unique. Found same ID for more than one rule".into());
        }
        if r.expiration.is_none()
            && r.noncurrent_expiration.is_none()
            && r.abort_incomplete_upload_days.is_none()
        {
            return Err(Error::InvalidRequest(
                "At least one action needs to be specified in a rule".into(),
            ));
        }
        let zero_days = matches!(r.expiration, Some(Expiration::Days(0)))
            || r.noncurrent_expiration.is_some_and(|n| n.days == 0)
            || r.abort_incomplete_upload_days == Some(0);
        if zero_days {
            return bad("'Days' in the lifecycle rule must be a positive integer.".into());
        }
        if let Some(Expiration::Date(ms)) = r.expiration {
            if ms.rem_euclid(86_400_000) != 0 {
                return bad("'Date' must be at midnight GMT".into());
            }
        }
        if r.filter.has_conditions_beyond_prefix() {
            if r.expiration == Some(Expiration::ExpiredObjectDeleteMarker) {
                return Err(Error::InvalidRequest(
                    "ExpiredObjectDeleteMarker cannot be specified with object tags or sizes."
                        .into(),
                ));
            }
            if r.abort_incomplete_upload_days.is_some() {
                return Err(Error::InvalidRequest(
                    "AbortIncompleteMultipartUpload cannot be specified with object tags or sizes."
                        .into(),
                ));
            }
        }
        if let (Some(gt), Some(lt)) = (r.filter.size_greater_than, r.filter.size_less_than) {
            if lt <= gt {
                return bad("ObjectSizeLessThan must be greater than ObjectSizeGreaterThan".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::fixtures::object;

    const DAY: i64 = 86_400_000;

    fn rule(id: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.into(),
            enabled: true,
            filter: RuleFilter::default(),
            expiration: None,
            noncurrent_expiration: None,
            abort_incomplete_upload_days: None,
            legacy_prefix: false,
        }
    }

    #[test]
    fn expiry_rounds_up_to_the_next_midnight() {
        assert_eq!(next_day_boundary(0, DAY), 0);
        assert_eq!(next_day_boundary(1, DAY), DAY);
        assert_eq!(next_day_boundary(DAY, DAY), DAY);
        let mut r = rule("a");
        r.expiration = Some(Expiration::Days(2));
        let rules = [r];
        let j = Judge {
            rules: &rules,
            day_ms: DAY,
        };
        let mut rec = object(1, "b");
        rec.last_modified_ms = 10 * DAY + 5;
        assert_eq!(j.current_expiry("k", &rec), Some((13 * DAY, "a")));
        rec.last_modified_ms = 10 * DAY;
        assert_eq!(j.current_expiry("k", &rec), Some((12 * DAY, "a")));
    }

    #[test]
    fn filters_need_every_condition() {
        let f = RuleFilter {
            prefix: "logs/".into(),
            tags: vec![("t".into(), "1".into())],
            size_greater_than: Some(10),
            size_less_than: Some(100),
        };
        let mut rec = object(50, "b");
        rec.tags = vec![("x".into(), "y".into()), ("t".into(), "1".into())];
        assert!(f.matches("logs/a", &rec));
        assert!(!f.matches("other/a", &rec));
        rec.size = 100;
        assert!(!f.matches("logs/a", &rec));
        rec.size = 50;
        rec.tags = vec![("t".into(), "2".into())];
        assert!(!f.matches("logs/a", &rec));
    }

    #[test]
    fn the_earliest_matching_enabled_rule_wins() {
        let mut a = rule("late");
        a.expiration = Some(Expiration::Days(30));
        let mut b = rule("early");
        b.expiration = Some(Expiration::Date(5 * DAY));
        let mut c = rule("off");
        c.expiration = Some(Expiration::Days(1));
        c.enabled = false;
        let rules = [a, b, c];
        let j = Judge {
            rules: &rules,
            day_ms: DAY,
        };
        let rec = object(1, "b");
        assert_eq!(j.current_expiry("k", &rec), Some((5 * DAY, "early")));
        let marker = crate::meta::ObjectRecord::new_delete_marker(None);
        assert_eq!(j.current_expiry("k", &marker), None);
    }

    #[test]
    fn noncurrent_versions_expire_by_age_beyond_the_newest_kept() {
        let mut r = rule("nc");
        r.noncurrent_expiration = Some(NoncurrentExpiration {
            days: 1,
            keep_newer: Some(2),
        });
        let rules = [r];
        let j = Judge {
            rules: &rules,
            day_ms: DAY,
        };
        let rec = object(1, "b");
        assert!(!j.noncurrent_expired("k", &rec, 0, 2, DAY - 1));
        assert!(j.noncurrent_expired("k", &rec, 0, 2, DAY));
        assert!(!j.noncurrent_expired("k", &rec, 0, 1, 10 * DAY), "kept");
        assert!(!j.upload_expired("k", 0, 0));
    }

    #[test]
    fn configurations_s3_refuses() {
        let mut ok = rule("a");
        ok.expiration = Some(Expiration::Days(1));
        assert!(validate(std::slice::from_ref(&ok)).is_ok());
        assert!(validate(&[]).is_err());
        assert!(
            validate(&[ok.clone(), ok.clone()]).is_err(),
            "duplicate ids"
        );
        assert!(validate(&[rule("none")]).is_err(), "no action");
        let mut zero = rule("z");
        zero.abort_incomplete_upload_days = Some(0);
        assert!(validate(&[zero]).is_err());
        let mut date = rule("d");
        date.expiration = Some(Expiration::Date(DAY + 1));
        assert!(validate(&[date]).is_err(), "not midnight");
        let mut marker_tags = rule("m");
        marker_tags.expiration = Some(Expiration::ExpiredObjectDeleteMarker);
        marker_tags.filter.tags = vec![("a".into(), "b".into())];
        assert!(matches!(
            validate(&[marker_tags]),
            Err(Error::InvalidRequest(_))
        ));
        let mut sizes = ok.clone();
        sizes.filter.size_greater_than = Some(10);
        sizes.filter.size_less_than = Some(10);
        assert!(validate(&[sizes]).is_err());
    }
}
