//! Get/Put/DeleteBucketLifecycleConfiguration, and the `x-amz-expiration` header that tells
//! a client when a rule will expire the object it reads or writes.

use http::{HeaderMap, HeaderValue, StatusCode};

use super::bucket::resolve;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::{http_date, iso_date};
use super::object::read_document;
use super::{status_only, xml_ok, Ctx};
use crate::meta::lifecycle::{
    Expiration, Judge, LifecycleRule, NoncurrentExpiration, RuleFilter, NUL_REFUSED,
};
use crate::meta::{BucketRecord, ObjectRecord};
use crate::web::body::{RequestBody, Response};
use crate::xml::{self, XmlWriter};

/// 1000 rules with long prefixes and a few tags each fit well within this.
const MAX_LIFECYCLE_DOC: usize = 2 << 20;
/// S3's limit on NewerNoncurrentVersions.
const MAX_NEWER_VERSIONS: u32 = 100;

fn malformed(m: impl std::fmt::Display) -> S3Error {
    S3Error::new(S3Code::MalformedXML, format!("LifecycleConfiguration: {m}"))
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> S3Result<T> {
    s.trim()
        .parse()
        .map_err(|_| malformed(format!("{what} must be a non-negative integer, not `{s}`")))
}

/// `2026-12-01T00:00:00Z` (any ISO 8601 timestamp) or `2026-12-01`.
fn parse_date(s: &str) -> S3Result<i64> {
    let s = s.trim();
    crate::clock::parse_rfc3339(s)
        .or_else(|| crate::clock::parse_rfc3339(&format!("{s}T00:00:00Z")))
        .ok_or_else(|| {
            S3Error::new(
                S3Code::InvalidArgument,
                format!("'Date' must be an ISO 8601 date, not `{s}`"),
            )
        })
}

fn filter_of(rule: &xml::LifecycleRule) -> S3Result<RuleFilter> {
    let Some(f) = &rule.filter else {
        let prefix = rule
            .prefix
            .clone()
            .ok_or_else(|| malformed("a rule needs a Filter (or the older Prefix)"))?;
        return Ok(RuleFilter {
            prefix,
            ..RuleFilter::default()
        });
    };
    if rule.prefix.is_some() {
        return Err(malformed("a rule names either Prefix or Filter, not both"));
    }
    let given = usize::from(f.prefix.is_some())
        + usize::from(f.tag.is_some())
        + usize::from(f.object_size_greater_than.is_some())
        + usize::from(f.object_size_less_than.is_some())
        + usize::from(f.and.is_some());
    if given > 1 {
        return Err(malformed(
            "a Filter holds one condition; combine several with And",
        ));
    }
    let size = |what: &str, v: &Option<String>| v.as_deref().map(|s| number(what, s)).transpose();
    let tag = |t: &xml::Tag| (t.key.clone(), t.value.clone().unwrap_or_default());
    Ok(match &f.and {
        Some(and) => RuleFilter {
            prefix: and.prefix.clone().unwrap_or_default(),
            tags: and.tags.iter().map(tag).collect(),
            size_greater_than: size("ObjectSizeGreaterThan", &and.object_size_greater_than)?,
            size_less_than: size("ObjectSizeLessThan", &and.object_size_less_than)?,
        },
        None => RuleFilter {
            prefix: f.prefix.clone().unwrap_or_default(),
            tags: f.tag.iter().map(tag).collect(),
            size_greater_than: size("ObjectSizeGreaterThan", &f.object_size_greater_than)?,
            size_less_than: size("ObjectSizeLessThan", &f.object_size_less_than)?,
        },
    })
}

fn expiration_of(e: &xml::LifecycleExpiration) -> S3Result<Option<Expiration>> {
    let marker = match e.expired_object_delete_marker.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(malformed(format!(
                "ExpiredObjectDeleteMarker must be true or false, not `{other}`"
            )))
        }
    };
    match (e.days.as_deref(), e.date.as_deref(), marker) {
        (None, None, false) => Ok(None),
        (None, None, true) => Ok(Some(Expiration::ExpiredObjectDeleteMarker)),
        (Some(d), None, false) => Ok(Some(Expiration::Days(number("Days", d)?))),
        (None, Some(d), false) => Ok(Some(Expiration::Date(parse_date(d)?))),
        (Some(_), Some(_), _) => Err(malformed("Expiration names Days or Date, not both")),
        (_, _, true) => Err(malformed(
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date",
        )),
    }
}

fn rule_of(r: &xml::LifecycleRule) -> S3Result<LifecycleRule> {
    if !r.transitions.is_empty() || !r.noncurrent_transitions.is_empty() {
        return Err(S3Error::new(
            S3Code::NotImplemented,
            "Storage-class transitions are not offered: this server has one storage class.",
        ));
    }
    let enabled = match r.status.as_deref().map(str::trim) {
        Some("Enabled") => true,
        Some("Disabled") => false,
        _ => return Err(malformed("Status must be Enabled or Disabled")),
    };
    let noncurrent_expiration = match &r.noncurrent_version_expiration {
        None => None,
        Some(n) => {
            let days = n
                .noncurrent_days
                .as_deref()
                .ok_or_else(|| malformed("NoncurrentVersionExpiration needs NoncurrentDays"))?;
            let keep_newer = n
                .newer_noncurrent_versions
                .as_deref()
                .map(|v| number::<u32>("NewerNoncurrentVersions", v))
                .transpose()?;
            if keep_newer.is_some_and(|k| k == 0 || k > MAX_NEWER_VERSIONS) {
                return Err(S3Error::new(
                    S3Code::InvalidArgument,
                    format!("NewerNoncurrentVersions must be from 1 to {MAX_NEWER_VERSIONS}."),
                ));
            }
            Some(NoncurrentExpiration {
                days: number("NoncurrentDays", days)?,
                keep_newer,
            })
        }
    };
    let abort_incomplete_upload_days = r
        .abort_incomplete_multipart_upload
        .as_ref()
        .map(|a| {
            a.days_after_initiation
                .as_deref()
                .ok_or_else(|| {
                    malformed("AbortIncompleteMultipartUpload needs DaysAfterInitiation")
                })
                .and_then(|d| number("DaysAfterInitiation", d))
        })
        .transpose()?;
    Ok(LifecycleRule {
        // S3 names a rule that came without an ID.
        id: r
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
        enabled,
        filter: filter_of(r)?,
        expiration: r
            .expiration
            .as_ref()
            .map(expiration_of)
            .transpose()?
            .flatten(),
        noncurrent_expiration,
        abort_incomplete_upload_days,
        legacy_prefix: r.filter.is_none(),
    })
}

pub fn parse_configuration(doc: &[u8]) -> S3Result<Vec<LifecycleRule>> {
    let conf: xml::LifecycleConfiguration = xml::parse(doc).map_err(malformed)?;
    if conf.rules.is_empty() {
        return Err(malformed("at least one Rule is required"));
    }
    let rules: Vec<LifecycleRule> = conf.rules.iter().map(rule_of).collect::<S3Result<_>>()?;
    if rules.iter().any(LifecycleRule::holds_nul) {
        return Err(crate::error::Error::InvalidArgument(NUL_REFUSED.into()).into());
    }
    // The original API (a rule-level Prefix) and the current one (Filter) do not mix, and
    // the newer elements need the current one.
    if rules.iter().any(|r| r.legacy_prefix) {
        let v2_only = |m: &str| {
            Err(S3Error::new(
                S3Code::InvalidRequest,
                format!("{m} element can only be used in Lifecycle V2."),
            ))
        };
        if rules.iter().any(|r| !r.legacy_prefix) {
            return v2_only("Filter");
        }
        if rules.iter().any(|r| {
            r.noncurrent_expiration
                .is_some_and(|n| n.keep_newer.is_some())
        }) {
            return v2_only("NewerNoncurrentVersions");
        }
    }
    Ok(rules)
}

fn write_filter(w: &mut XmlWriter, f: &RuleFilter) {
    let conditions = usize::from(!f.prefix.is_empty())
        + f.tags.len()
        + usize::from(f.size_greater_than.is_some())
        + usize::from(f.size_less_than.is_some());
    w.open("Filter");
    if conditions > 1 {
        w.open("And");
    }
    if !f.prefix.is_empty() || conditions == 0 {
        w.elem("Prefix", &f.prefix);
    }
    for (k, v) in &f.tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close();
    }
    if let Some(n) = f.size_greater_than {
        w.elem("ObjectSizeGreaterThan", &n.to_string());
    }
    if let Some(n) = f.size_less_than {
        w.elem("ObjectSizeLessThan", &n.to_string());
    }
    if conditions > 1 {
        w.close();
    }
    w.close();
}

pub fn configuration_document(rules: &[LifecycleRule]) -> String {
    let mut w = XmlWriter::new("LifecycleConfiguration");
    for r in rules {
        w.open("Rule");
        match r.expiration {
            Some(Expiration::Days(d)) => {
                w.open("Expiration").elem("Days", &d.to_string()).close();
            }
            Some(Expiration::Date(ms)) => {
                w.open("Expiration").elem("Date", &iso_date(ms)).close();
            }
            Some(Expiration::ExpiredObjectDeleteMarker) => {
                w.open("Expiration")
                    .elem("ExpiredObjectDeleteMarker", "true")
                    .close();
            }
            None => {}
        }
        w.elem("ID", &r.id);
        if r.legacy_prefix {
            w.elem("Prefix", &r.filter.prefix);
        } else {
            write_filter(&mut w, &r.filter);
        }
        w.elem("Status", if r.enabled { "Enabled" } else { "Disabled" });
        if let Some(n) = r.noncurrent_expiration {
            w.open("NoncurrentVersionExpiration")
                .elem("NoncurrentDays", &n.days.to_string());
            if let Some(k) = n.keep_newer {
                w.elem("NewerNoncurrentVersions", &k.to_string());
            }
            w.close();
        }
        if let Some(d) = r.abort_incomplete_upload_days {
            w.open("AbortIncompleteMultipartUpload")
                .elem("DaysAfterInitiation", &d.to_string())
                .close();
        }
        w.close();
    }
    w.finish()
}

pub async fn get_bucket_lifecycle(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    match &b.lifecycle {
        Some(rules) => Ok(xml_ok(configuration_document(rules))),
        None => Err(S3Error::code(S3Code::NoSuchLifecycleConfiguration).with("BucketName", b.name)),
    }
}

pub async fn put_bucket_lifecycle(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_LIFECYCLE_DOC).await?;
    let rules = parse_configuration(&doc)?;
    ctx.state.store.set_lifecycle(&b, Some(rules)).await?;
    Ok(status_only(StatusCode::OK))
}

pub async fn delete_bucket_lifecycle(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    ctx.state.store.set_lifecycle(&b, None).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

/// `x-amz-expiration: expiry-date="…", rule-id="…"` when a rule will expire the current
/// version `rec` of `key`.
pub fn expiration_header(
    h: &mut HeaderMap,
    ctx: &Ctx,
    bucket: &BucketRecord,
    key: &str,
    rec: &ObjectRecord,
) {
    let Some(rules) = &bucket.lifecycle else {
        return;
    };
    let judge = Judge {
        rules,
        day_ms: ctx.state.cfg.lifecycle.day_ms(),
    };
    if let Some((at, rule)) = judge.current_expiry(key, rec) {
        let value = format!(
            "expiry-date=\"{}\", rule-id=\"{}\"",
            http_date(at),
            rule.replace('"', "%22")
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert("x-amz-expiration", v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(rules: &str) -> String {
        format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>")
    }

    #[test]
    fn every_filter_form_parses_and_round_trips() {
        let doc = conf(
            "<Rule><ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>\
             <Rule><ID>b</ID><Filter><And><Prefix>x/</Prefix><Tag><Key>t</Key><Value>1</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Disabled</Status><NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>\
             <Rule><ID>c</ID><Filter><Prefix>old/</Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>\
             <Rule><ID>d</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>\
             <Rule><ID>e</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>",
        );
        let rules = parse_configuration(doc.as_bytes()).unwrap();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].filter.prefix, "logs/");
        assert_eq!(rules[1].filter.tags, vec![("t".into(), "1".into())]);
        assert_eq!(rules[1].filter.size_greater_than, Some(10));
        assert!(!rules[1].enabled);
        assert_eq!(rules[2].filter.prefix, "old/");
        assert_eq!(rules[2].abort_incomplete_upload_days, Some(7));
        assert_eq!(
            rules[3].expiration,
            Some(Expiration::ExpiredObjectDeleteMarker)
        );
        assert!(matches!(rules[4].expiration, Some(Expiration::Date(_))));
        let again = parse_configuration(configuration_document(&rules).as_bytes()).unwrap();
        assert_eq!(again, rules);
        // The original API's rule-level prefix is shown back the same way.
        let legacy = conf("<Rule><ID>v1</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>");
        let rules = parse_configuration(legacy.as_bytes()).unwrap();
        assert!(rules[0].legacy_prefix);
        let doc = configuration_document(&rules);
        assert!(
            doc.contains("<ID>v1</ID><Prefix>old/</Prefix><Status>"),
            "{doc}"
        );
        assert_eq!(parse_configuration(doc.as_bytes()).unwrap(), rules);
        // Control characters in a prefix are shown back as references and read back alike;
        // a NUL, which XML cannot carry, is refused.
        let odd = conf("<Rule><ID>c</ID><Filter><Prefix>a\u{1}b&#13;</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>");
        let rules = parse_configuration(odd.as_bytes()).unwrap();
        assert_eq!(rules[0].filter.prefix, "a\u{1}b\r");
        let doc = configuration_document(&rules);
        assert_eq!(parse_configuration(doc.as_bytes()).unwrap(), rules);
        let spaced = conf("<Rule><ID>&#32;s </ID><Filter><Prefix>&#32;a </Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>");
        let rules = parse_configuration(spaced.as_bytes()).unwrap();
        let doc = configuration_document(&rules);
        assert_eq!(parse_configuration(doc.as_bytes()).unwrap(), rules, "{doc}");
        let nul = conf("<Rule><ID>n</ID><Filter><Prefix>a\0b</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>");
        assert_eq!(
            parse_configuration(nul.as_bytes()).unwrap_err().code,
            S3Code::InvalidArgument
        );
    }

    #[test]
    fn configurations_s3_refuses() {
        let rule = |inner: &str| conf(&format!("<Rule>{inner}</Rule>"));
        for (doc, code) in [
            (conf(""), S3Code::MalformedXML),
            (rule("<Filter/><Expiration><Days>1</Days></Expiration>"), S3Code::MalformedXML),
            (rule("<Status>On</Status><Filter/><Expiration><Days>1</Days></Expiration>"), S3Code::MalformedXML),
            (rule("<Status>Enabled</Status><Prefix>a</Prefix><Filter/><Expiration><Days>1</Days></Expiration>"), S3Code::MalformedXML),
            (rule("<Status>Enabled</Status><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><Days>1</Days></Expiration>"), S3Code::MalformedXML),
            (rule("<Status>Enabled</Status><Filter/><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"), S3Code::MalformedXML),
            (rule("<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"), S3Code::MalformedXML),
            (conf("<Rule><Status>Enabled</Status><Prefix>a</Prefix><Expiration><Days>1</Days></Expiration></Rule><Rule><Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>"), S3Code::InvalidRequest),
            (rule("<Status>Enabled</Status><Prefix>a</Prefix><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>"), S3Code::InvalidRequest),
            (rule("<Status>Enabled</Status><Filter/><Expiration><Days>x</Days></Expiration>"), S3Code::MalformedXML),
            (rule("<Status>Enabled</Status><Filter/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"), S3Code::NotImplemented),
            (rule("<Status>Enabled</Status><Filter/><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>0</NewerNoncurrentVersions></NoncurrentVersionExpiration>"), S3Code::InvalidArgument),
        ] {
            assert_eq!(parse_configuration(doc.as_bytes()).unwrap_err().code, code, "{doc}");
        }
        let unnamed = parse_configuration(
            rule("<Status>Enabled</Status><Filter/><Expiration><Days>1</Days></Expiration>")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            unnamed[0].id.len(),
            32,
            "S3 names a rule given without an ID"
        );
    }
}
