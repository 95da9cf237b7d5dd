//! Object lock: Get/PutObjectLockConfiguration, Get/PutObjectRetention and
//! Get/PutObjectLegalHold, and who may bypass governance retention.

use http::StatusCode;

use super::bucket::resolve;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::{future_date, iso_date, legal_hold_status, no_lock_configuration};
use super::object::{named_version, read_document, version_param};
use super::{status_only, xml_ok, Ctx};
use crate::access::Permission;
use crate::meta::lock::{check_retention_change, DefaultRetention, LockMode, RetentionPeriod};
use crate::meta::{BucketRecord, ObjectRecord, Retention, VersionRef};
use crate::web::body::{RequestBody, Response};
use crate::xml::{self, XmlWriter};

const MAX_LOCK_DOC: usize = 64 * 1024;

/// `x-amz-bypass-governance-retention: true` from a caller with the owner's rights on the
/// bucket (S3's `s3:BypassGovernanceRetention`); a bucket key asking for it gets no bypass.
pub fn bypass_governance(ctx: &Ctx, bucket: &BucketRecord) -> bool {
    let asked = ctx
        .header("x-amz-bypass-governance-retention")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    // The bucket's policy may deny the bypass, to its owner too.
    let facts = super::policy::Facts::of(ctx);
    let denied = || {
        super::policy::decide(
            &facts,
            bucket,
            "s3:BypassGovernanceRetention",
            ctx.key.as_deref(),
            None,
        ) == crate::access::policy::Decision::Deny
    };
    asked && ctx.caller.principal.may(bucket, Permission::Owner) && !denied()
}

fn malformed(what: &str, m: impl std::fmt::Display) -> S3Error {
    S3Error::new(S3Code::MalformedXML, format!("{what}: {m}"))
}

/// The bucket (which must have object lock) and the version a retention or legal hold
/// request names.
async fn locked_target(ctx: &Ctx) -> S3Result<(BucketRecord, Option<VersionRef>)> {
    let b = resolve(ctx).await?;
    if b.object_lock.is_none() {
        return Err(no_lock_configuration());
    }
    Ok((b, version_param(ctx)?))
}

/// The version a Get retention or legal hold request reads.
async fn locked_version(ctx: &Ctx) -> S3Result<ObjectRecord> {
    let (b, _) = locked_target(ctx).await?;
    named_version(ctx, &b).await
}

pub async fn get_object_lock_configuration(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let Some(lock) = &b.object_lock else {
        return Err(
            S3Error::code(S3Code::ObjectLockConfigurationNotFoundError).with("BucketName", b.name)
        );
    };
    let mut w = XmlWriter::new("ObjectLockConfiguration");
    w.elem("ObjectLockEnabled", "Enabled");
    if let Some(d) = &lock.default_retention {
        w.open("Rule").open("DefaultRetention");
        w.elem("Mode", d.mode.as_s3());
        match d.period {
            RetentionPeriod::Days(n) => w.elem("Days", &n.to_string()),
            RetentionPeriod::Years(n) => w.elem("Years", &n.to_string()),
        };
        w.close().close();
    }
    Ok(xml_ok(w.finish()))
}

/// The default retention an ObjectLockConfiguration asks for (`None`: no rule).
pub fn requested_default(doc: &[u8]) -> S3Result<Option<DefaultRetention>> {
    const WHAT: &str = "ObjectLockConfiguration";
    let conf: xml::ObjectLockConfiguration = xml::parse(doc).map_err(|m| malformed(WHAT, m))?;
    if conf.object_lock_enabled.as_deref().map(str::trim) != Some("Enabled") {
        return Err(malformed(WHAT, "ObjectLockEnabled must be Enabled"));
    }
    let Some(d) = conf.rule.and_then(|r| r.default_retention) else {
        return Ok(None);
    };
    let mode = d
        .mode
        .as_deref()
        .and_then(LockMode::parse_s3)
        .ok_or_else(|| malformed(WHAT, "Mode must be GOVERNANCE or COMPLIANCE"))?;
    let number = |s: &str| {
        s.trim().parse::<u32>().map_err(|_| {
            S3Error::new(
                S3Code::InvalidArgument,
                "Default retention period must be a positive integer value.",
            )
        })
    };
    let period = match (d.days.as_deref(), d.years.as_deref()) {
        (Some(days), None) => RetentionPeriod::Days(number(days)?),
        (None, Some(years)) => RetentionPeriod::Years(number(years)?),
        _ => {
            return Err(malformed(
                WHAT,
                "DefaultRetention names either Days or Years",
            ))
        }
    };
    Ok(Some(DefaultRetention {
        mode,
        period: period.validate()?,
    }))
}

pub async fn put_object_lock_configuration(
    ctx: &Ctx,
    body: &mut RequestBody,
) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_LOCK_DOC).await?;
    let default = requested_default(&doc)?;
    ctx.state.store.set_object_lock(&b, default).await?;
    Ok(status_only(StatusCode::OK))
}

pub async fn get_object_retention(ctx: &Ctx) -> S3Result<Response> {
    let rec = locked_version(ctx).await?;
    let Some(r) = rec.retention else {
        return Err(S3Error::code(S3Code::NoSuchObjectLockConfiguration));
    };
    let mut w = XmlWriter::new("Retention");
    w.elem("Mode", r.mode.as_s3())
        .elem("RetainUntilDate", &iso_date(r.until_ms));
    Ok(xml_ok(w.finish()))
}

/// The retention a Retention document asks for; an empty one removes it.
pub fn requested_retention(doc: &[u8]) -> S3Result<Option<Retention>> {
    let r: xml::Retention = xml::parse(doc).map_err(|m| malformed("Retention", m))?;
    match (r.mode.as_deref(), r.retain_until_date.as_deref()) {
        (None, None) => Ok(None),
        (Some(mode), Some(until)) => Ok(Some(Retention {
            mode: LockMode::parse_s3(mode)
                .ok_or_else(|| malformed("Retention", "Mode must be GOVERNANCE or COMPLIANCE"))?,
            until_ms: future_date(until)?,
        })),
        _ => Err(malformed(
            "Retention",
            "Mode and RetainUntilDate go together",
        )),
    }
}

pub async fn put_object_retention(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let (b, version) = locked_target(ctx).await?;
    let doc = read_document(ctx, body, MAX_LOCK_DOC).await?;
    let wanted = requested_retention(&doc)?;
    let bypass = bypass_governance(ctx, &b);
    ctx.state
        .store
        .update_version(&b, ctx.key()?, version.as_ref(), move |rec| {
            check_retention_change(rec.retention, wanted, crate::clock::now_ms(), bypass)?;
            rec.retention = wanted;
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::OK))
}

pub async fn get_object_legal_hold(ctx: &Ctx) -> S3Result<Response> {
    let rec = locked_version(ctx).await?;
    let Some(on) = rec.legal_hold else {
        return Err(S3Error::code(S3Code::NoSuchObjectLockConfiguration));
    };
    let mut w = XmlWriter::new("LegalHold");
    w.elem("Status", if on { "ON" } else { "OFF" });
    Ok(xml_ok(w.finish()))
}

pub async fn put_object_legal_hold(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let (b, version) = locked_target(ctx).await?;
    let doc = read_document(ctx, body, MAX_LOCK_DOC).await?;
    let hold: xml::LegalHold = xml::parse(&doc).map_err(|m| malformed("LegalHold", m))?;
    let on = hold
        .status
        .as_deref()
        .and_then(legal_hold_status)
        .ok_or_else(|| malformed("LegalHold", "Status must be ON or OFF"))?;
    ctx.state
        .store
        .update_version(&b, ctx.key()?, version.as_ref(), move |rec| {
            rec.legal_hold = Some(on);
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(inner: &str) -> String {
        format!("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>{inner}</ObjectLockConfiguration>")
    }

    #[test]
    fn lock_configurations() {
        let rule = |r: &str| {
            conf(&format!(
                "<Rule><DefaultRetention>{r}</DefaultRetention></Rule>"
            ))
        };
        assert_eq!(requested_default(conf("").as_bytes()).unwrap(), None);
        assert_eq!(
            requested_default(rule("<Mode>GOVERNANCE</Mode><Days>3</Days>").as_bytes()).unwrap(),
            Some(DefaultRetention {
                mode: LockMode::Governance,
                period: RetentionPeriod::Days(3)
            })
        );
        for (bad, code) in [
            (
                rule("<Mode>GOVERNANCE</Mode><Days>3</Days><Years>1</Years>"),
                S3Code::MalformedXML,
            ),
            (
                rule("<Mode>SOFT</Mode><Days>3</Days>"),
                S3Code::MalformedXML,
            ),
            (rule("<Mode>COMPLIANCE</Mode>"), S3Code::MalformedXML),
            (
                rule("<Mode>COMPLIANCE</Mode><Days>0</Days>"),
                S3Code::InvalidArgument,
            ),
            (
                rule("<Mode>COMPLIANCE</Mode><Days>-1</Days>"),
                S3Code::InvalidArgument,
            ),
            ("<ObjectLockConfiguration/>".into(), S3Code::MalformedXML),
        ] {
            assert_eq!(
                requested_default(bad.as_bytes()).unwrap_err().code,
                code,
                "{bad}"
            );
        }
    }

    #[test]
    fn retention_documents() {
        assert_eq!(requested_retention(b"<Retention/>").unwrap(), None);
        let r = requested_retention(
            b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2999-01-01T00:00:00Z</RetainUntilDate></Retention>",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.mode, LockMode::Compliance);
        let past = requested_retention(
            b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2000-01-01T00:00:00Z</RetainUntilDate></Retention>",
        );
        assert_eq!(past.unwrap_err().code, S3Code::InvalidArgument);
        let half = requested_retention(b"<Retention><Mode>GOVERNANCE</Mode></Retention>");
        assert_eq!(half.unwrap_err().code, S3Code::MalformedXML);
    }
}
