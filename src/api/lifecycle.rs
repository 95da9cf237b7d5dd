//! Lifecycle rules as the management API shows and takes them: S3's LifecycleRule in the
//! seed's snake_case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use crate::meta::lifecycle::{Expiration, LifecycleRule, NoncurrentExpiration, RuleFilter};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleView {
    /// Generated when absent.
    #[serde(default)]
    id: Option<String>,
    status: Status,
    #[serde(default)]
    filter: FilterView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiration: Option<ExpirationView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    noncurrent_version_expiration: Option<NoncurrentView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    abort_incomplete_multipart_upload: Option<AbortView>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Enabled,
    Disabled,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterView {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size_greater_than: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size_less_than: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpirationView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days: Option<u32>,
    /// A midnight UTC, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    expired_object_delete_marker: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoncurrentView {
    noncurrent_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newer_noncurrent_versions: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AbortView {
    days_after_initiation: u32,
}

impl From<&LifecycleRule> for RuleView {
    fn from(r: &LifecycleRule) -> Self {
        let expiration = r.expiration.map(|e| match e {
            Expiration::Days(d) => ExpirationView {
                days: Some(d),
                ..ExpirationView::default()
            },
            Expiration::Date(ms) => ExpirationView {
                date: Some(crate::clock::rfc3339(ms)),
                ..ExpirationView::default()
            },
            Expiration::ExpiredObjectDeleteMarker => ExpirationView {
                expired_object_delete_marker: true,
                ..ExpirationView::default()
            },
        });
        Self {
            id: Some(r.id.clone()),
            status: if r.enabled {
                Status::Enabled
            } else {
                Status::Disabled
            },
            filter: FilterView {
                prefix: r.filter.prefix.clone(),
                tags: r.filter.tags.iter().cloned().collect(),
                size_greater_than: r.filter.size_greater_than,
                size_less_than: r.filter.size_less_than,
            },
            expiration,
            noncurrent_version_expiration: r.noncurrent_expiration.map(|n| NoncurrentView {
                noncurrent_days: n.days,
                newer_noncurrent_versions: n.keep_newer,
            }),
            abort_incomplete_multipart_upload: r.abort_incomplete_upload_days.map(|d| AbortView {
                days_after_initiation: d,
            }),
        }
    }
}

impl TryFrom<RuleView> for LifecycleRule {
    type Error = ApiError;
    fn try_from(v: RuleView) -> ApiResult<Self> {
        let expiration = match v.expiration {
            None => None,
            Some(e) => match (e.days, e.date, e.expired_object_delete_marker) {
                (Some(d), None, false) => Some(Expiration::Days(d)),
                (None, Some(date), false) => Some(Expiration::Date(
                    crate::clock::parse_rfc3339(&date).ok_or_else(|| {
                        ApiError::bad_request(format!("expiration date `{date}` is not RFC 3339"))
                    })?,
                )),
                (None, None, true) => Some(Expiration::ExpiredObjectDeleteMarker),
                (None, None, false) => None,
                _ => {
                    return Err(ApiError::bad_request(
                        "expiration names one of days, date and expired_object_delete_marker",
                    ))
                }
            },
        };
        Ok(LifecycleRule {
            id: v
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
            enabled: matches!(v.status, Status::Enabled),
            filter: RuleFilter {
                prefix: v.filter.prefix,
                tags: v.filter.tags.into_iter().collect(),
                size_greater_than: v.filter.size_greater_than,
                size_less_than: v.filter.size_less_than,
            },
            expiration,
            noncurrent_expiration: v
                .noncurrent_version_expiration
                .map(|n| NoncurrentExpiration {
                    days: n.noncurrent_days,
                    keep_newer: n.newer_noncurrent_versions,
                }),
            abort_incomplete_upload_days: v
                .abort_incomplete_multipart_upload
                .map(|a| a.days_after_initiation),
            legacy_prefix: false,
        })
    }
}

/// The `lifecycle` setting of a PATCH: rules, or null to remove them.
pub fn rules_from_json(v: &serde_json::Value) -> ApiResult<Option<Vec<LifecycleRule>>> {
    let views: Option<Vec<RuleView>> = serde_json::from_value(v.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid lifecycle rules: {e}")))?;
    views
        .map(|vs| vs.into_iter().map(LifecycleRule::try_from).collect())
        .transpose()
}
