//! Object lock as stored: a bucket's lock configuration and a version's retention and legal
//! hold, with the rules S3 applies to deleting a locked version and to changing its retention.

use serde::{Deserialize, Serialize};

use super::ObjectRecord;
use crate::error::{Error, Result};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Anyone allowed to bypass governance retention may shorten it or delete the version.
    Governance,
    /// Nobody may shorten it or delete the version before the date, the owner included.
    Compliance,
}

impl LockMode {
    /// As S3 names it (`GOVERNANCE`, `COMPLIANCE`).
    pub fn as_s3(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    pub fn parse_s3(s: &str) -> Option<Self> {
        match s.trim() {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// A version's retention: it may not be deleted before `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: LockMode,
    pub until_ms: i64,
}

impl Retention {
    pub fn active(&self, now_ms: i64) -> bool {
        self.until_ms > now_ms
    }
}

/// The retention given to new versions that name none themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: LockMode,
    pub period: RetentionPeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

/// S3 caps default retention at 100 years.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl RetentionPeriod {
    pub fn days(self) -> u32 {
        match self {
            RetentionPeriod::Days(d) => d,
            RetentionPeriod::Years(y) => y.saturating_mul(365),
        }
    }

    pub fn validate(self) -> Result<Self> {
        let (n, unit) = match self {
            RetentionPeriod::Days(d) => (d, "days"),
            RetentionPeriod::Years(y) => (y, "years"),
        };
        if n == 0 {
            return Err(Error::InvalidArgument(format!(
                "Default retention period must be a positive integer value ({unit})."
            )));
        }
        if self.days() > MAX_RETENTION_DAYS {
            return Err(Error::InvalidArgument(format!(
                "Default retention period may be at most {MAX_RETENTION_DAYS} days (100 years)."
            )));
        }
        Ok(self)
    }
}

/// A bucket's object lock. Its presence means lock is enabled, which S3 never turns off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_retention: Option<DefaultRetention>,
}

impl ObjectLockConfig {
    /// The retention a version created at `created_ms` gets by default.
    pub fn retention_for(&self, created_ms: i64) -> Option<Retention> {
        self.default_retention.map(|d| Retention {
            mode: d.mode,
            until_ms: created_ms.saturating_add(i64::from(d.period.days()) * DAY_MS),
        })
    }
}

impl ObjectRecord {
    /// Why this version may not be removed now, if it may not. `bypass` is a caller allowed
    /// to bypass governance retention who asked to.
    pub fn delete_refusal(&self, now_ms: i64, bypass: bool) -> Option<Error> {
        if self.legal_hold == Some(true) {
            return Some(Error::ObjectLocked("the version is under a legal hold"));
        }
        match self.retention {
            Some(r) if r.active(now_ms) && (r.mode == LockMode::Compliance || !bypass) => Some(
                Error::ObjectLocked("the version is under retention until its retain-until date"),
            ),
            _ => None,
        }
    }
}

/// Whether a version's retention may go from `old` to `new` (`None`: removed) as S3 allows:
/// extending is always allowed; shortening, removing or weakening an active retention needs
/// a governance bypass, and is never allowed for an active COMPLIANCE one.
pub fn check_retention_change(
    old: Option<Retention>,
    new: Option<Retention>,
    now_ms: i64,
    bypass: bool,
) -> Result<()> {
    let Some(old) = old.filter(|o| o.active(now_ms)) else {
        return Ok(());
    };
    let stronger_or_equal = new.is_some_and(|n| {
        n.until_ms >= old.until_ms
            && (n.mode == LockMode::Compliance || old.mode == LockMode::Governance)
    });
    if stronger_or_equal {
        return Ok(());
    }
    match old.mode {
        LockMode::Governance if bypass => Ok(()),
        LockMode::Governance => Err(Error::ObjectLocked(
            "shortening or removing GOVERNANCE retention needs x-amz-bypass-governance-retention",
        )),
        LockMode::Compliance => Err(Error::ObjectLocked(
            "COMPLIANCE retention cannot be shortened, weakened or removed",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::fixtures;

    fn ret(mode: LockMode, until_ms: i64) -> Option<Retention> {
        Some(Retention { mode, until_ms })
    }

    #[test]
    fn locked_versions_refuse_deletion_until_their_date() {
        use LockMode::*;
        let mut rec = fixtures::object(1, "b");
        assert!(rec.delete_refusal(100, false).is_none());
        rec.retention = ret(Governance, 200);
        assert!(rec.delete_refusal(100, false).is_some());
        assert!(rec.delete_refusal(100, true).is_none(), "bypassed");
        assert!(rec.delete_refusal(200, false).is_none(), "expired");
        rec.retention = ret(Compliance, 200);
        assert!(rec.delete_refusal(100, true).is_some(), "no bypass");
        rec.retention = None;
        rec.legal_hold = Some(true);
        assert!(rec.delete_refusal(100, true).is_some());
        rec.legal_hold = Some(false);
        assert!(rec.delete_refusal(100, false).is_none());
    }

    #[test]
    fn retention_may_grow_but_shrinks_only_with_bypass() {
        use LockMode::*;
        let now = 100;
        let ok = |old, new, bypass| check_retention_change(old, new, now, bypass).is_ok();
        assert!(ok(None, ret(Governance, 150), false));
        assert!(ok(ret(Governance, 150), ret(Governance, 160), false));
        assert!(ok(ret(Governance, 150), ret(Compliance, 150), false));
        assert!(!ok(ret(Governance, 150), ret(Governance, 140), false));
        assert!(ok(ret(Governance, 150), ret(Governance, 140), true));
        assert!(!ok(ret(Governance, 150), None, false));
        assert!(ok(ret(Governance, 150), None, true));
        assert!(ok(ret(Compliance, 150), ret(Compliance, 200), false));
        assert!(!ok(ret(Compliance, 150), ret(Governance, 200), true));
        assert!(!ok(ret(Compliance, 150), ret(Compliance, 140), true));
        assert!(!ok(ret(Compliance, 150), None, true));
        assert!(ok(ret(Compliance, 50), None, false), "expired");
    }

    #[test]
    fn default_retention_counts_from_creation() {
        let c = ObjectLockConfig {
            default_retention: Some(DefaultRetention {
                mode: LockMode::Governance,
                period: RetentionPeriod::Years(1),
            }),
        };
        assert_eq!(c.retention_for(0).map(|r| r.until_ms), Some(365 * DAY_MS));
        assert!(RetentionPeriod::Days(0).validate().is_err());
        assert!(RetentionPeriod::Years(101).validate().is_err());
        assert!(RetentionPeriod::Years(100).validate().is_ok());
    }
}
