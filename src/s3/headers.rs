//! Request-header parsing shared by the object operations: stored metadata, conditions,
//! ranges, Content-MD5 and flexible-checksum requests.

use base64::Engine as _;
use http::HeaderMap;

use super::error::{S3Code, S3Error, S3Result};
use crate::access::Principal;
use crate::checksum::ChecksumAlgorithm;
use crate::meta::lock::LockMode;
use crate::meta::{BucketRecord, ObjectRecord, Retention, StoredHeaders, Tags, WriteCondition};
use crate::store::ObjectMeta;

/// S3's limit on the user metadata of one object, names and values together.
const MAX_USER_METADATA: usize = 2048;

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A header value as raw bytes decoded as UTF-8 leniently (S3 metadata may be non-ASCII).
fn header_text(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

pub fn quote_etag(etag: &str) -> String {
    format!("\"{etag}\"")
}

pub fn unquote_etag(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

pub fn http_date(ms: i64) -> String {
    let secs = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// `2009-10-12T17:50:30.000Z`, as S3 lists it.
pub fn iso_date(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    crate::clock::push_iso_ms(&mut s, ms);
    s
}

fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_secs()).ok()
}

/// Stored headers and `x-amz-meta-*` from a PUT or a REPLACE copy.
pub fn stored_metadata(h: &HeaderMap) -> S3Result<(StoredHeaders, Vec<(String, String)>)> {
    let content_encoding = header_text(h, "content-encoding").and_then(|v| {
        // aws-chunked is framing of this request, not an encoding of the object.
        let kept: Vec<&str> = v
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
            .collect();
        (!kept.is_empty()).then(|| kept.join(","))
    });
    let stored = StoredHeaders {
        content_type: header_text(h, "content-type"),
        content_encoding,
        content_disposition: header_text(h, "content-disposition"),
        content_language: header_text(h, "content-language"),
        cache_control: header_text(h, "cache-control"),
        expires: header_text(h, "expires"),
    };
    let mut user = Vec::new();
    let mut size = 0;
    for (name, value) in h {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            size += n.len() + v.len();
            user.push((n.to_owned(), v));
        }
    }
    if size > MAX_USER_METADATA {
        return Err(S3Error::new(
            S3Code::MetadataTooLarge,
            format!("Your metadata headers are {size} bytes; the limit is {MAX_USER_METADATA}."),
        ));
    }
    Ok((stored, user))
}

/// `x-amz-tagging`: a tag set written as a URL query string (`k1=v1&k2=v2`).
pub fn tagging(h: &HeaderMap) -> S3Result<Tags> {
    let Some(raw) = header(h, "x-amz-tagging") else {
        return Ok(Tags::new());
    };
    let tags: Tags = crate::web::query::Query::parse(Some(raw))
        .0
        .into_iter()
        .filter(|(k, v)| !(k.is_empty() && v.is_empty()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    if !tags.iter().all(|(k, _)| seen.insert(k.as_str())) {
        return Err(S3Error::new(
            S3Code::InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
        ));
    }
    crate::store::tagging::validate(&tags, crate::store::tagging::MAX_OBJECT_TAGS)?;
    Ok(tags)
}

/// `x-amz-object-lock-mode` with `x-amz-object-lock-retain-until-date`, and
/// `x-amz-object-lock-legal-hold`, as a write asks for them.
pub fn object_lock(h: &HeaderMap) -> S3Result<(Option<Retention>, Option<bool>)> {
    let bad = |m: String| S3Error::new(S3Code::InvalidArgument, m);
    let retention = match (
        header(h, "x-amz-object-lock-mode"),
        header(h, "x-amz-object-lock-retain-until-date"),
    ) {
        (None, None) => None,
        (Some(mode), Some(until)) => Some(Retention {
            mode: LockMode::parse_s3(mode)
                .ok_or_else(|| bad(format!("Unknown wormMode directive: {mode}")))?,
            until_ms: future_date(until)?,
        }),
        _ => return Err(bad(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
                .into(),
        )),
    };
    let legal_hold = match header(h, "x-amz-object-lock-legal-hold") {
        None => None,
        Some(v) => Some(legal_hold_status(v).ok_or_else(|| {
            bad(format!(
                "Legal Hold must be either of 'ON' or 'OFF', not `{v}`"
            ))
        })?),
    };
    Ok((retention, legal_hold))
}

/// `ON` / `OFF`.
pub fn legal_hold_status(v: &str) -> Option<bool> {
    match v.trim() {
        "ON" => Some(true),
        "OFF" => Some(false),
        _ => None,
    }
}

/// A retain-until date: ISO 8601, in the future.
pub fn future_date(s: &str) -> S3Result<i64> {
    let ms = crate::clock::parse_rfc3339(s.trim()).ok_or_else(|| {
        S3Error::new(
            S3Code::InvalidArgument,
            format!("The retain until date `{s}` is not an ISO 8601 date."),
        )
    })?;
    if ms <= crate::clock::now_ms() {
        return Err(S3Error::new(
            S3Code::InvalidArgument,
            "The retain until date must be in the future!",
        ));
    }
    Ok(ms)
}

/// What a write (PUT, CreateMultipartUpload, a POST upload) by `writer` says about the
/// object beyond its bytes: stored headers, user metadata, tags, object lock, owner and ACL.
pub fn written_meta(
    h: &HeaderMap,
    bucket: &BucketRecord,
    writer: &Principal,
) -> S3Result<ObjectMeta> {
    let (headers, user_meta) = stored_metadata(h)?;
    let (retention, legal_hold) = object_lock(h)?;
    if (retention.is_some() || legal_hold.is_some()) && bucket.object_lock.is_none() {
        return Err(no_lock_configuration());
    }
    let tags = tagging(h)?;
    // An ACL's WRITE grant lets others write objects, not tag or lock them (S3 asks for
    // PutObjectTagging and PutObjectRetention rights, which only the owner has here).
    let by_owner = writer.may(bucket, crate::access::Permission::Write);
    if !by_owner && (!tags.is_empty() || retention.is_some() || legal_hold.is_some()) {
        return Err(S3Error::new(
            S3Code::AccessDenied,
            "Access Denied: only the bucket's owner may tag or lock objects as it writes them.",
        ));
    }
    let (owner, acl) = super::acl::for_write(h, bucket, writer)?;
    Ok(ObjectMeta {
        headers,
        user_meta,
        tags,
        retention,
        legal_hold,
        owner,
        acl,
        sse: None,
    })
}

pub fn no_lock_configuration() -> S3Error {
    S3Error::new(
        S3Code::InvalidRequest,
        "Bucket is missing Object Lock Configuration",
    )
}

/// `If-None-Match: *` / `If-Match` on a write.
pub fn write_condition(h: &HeaderMap) -> S3Result<WriteCondition> {
    if let Some(v) = header(h, "if-none-match") {
        if v.trim() != "*" {
            return Err(S3Error::new(
                S3Code::NotImplemented,
                "If-None-Match on a write supports only `*`.",
            ));
        }
        return Ok(WriteCondition::Absent {
            since_ms: crate::clock::now_ms(),
        });
    }
    if let Some(v) = header(h, "if-match") {
        return Ok(WriteCondition::ETag(unquote_etag(v).to_owned()));
    }
    Ok(WriteCondition::Always)
}

/// The outcome of GET/HEAD conditional headers.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadCondition {
    Proceed,
    NotModified,
    Failed,
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(unquote_etag)
        .any(|e| e == "*" || e == etag)
}

/// RFC 7232 order, as S3 applies it. `prefix` is `""` or `x-amz-copy-source-` for CopyObject.
pub fn read_condition(h: &HeaderMap, prefix: &str, rec: &ObjectRecord) -> ReadCondition {
    let get = |n: &str| header(h, &format!("{prefix}{n}"));
    let modified_secs = rec.last_modified_ms / 1000;
    let if_match = get("if-match");
    if let Some(list) = if_match {
        if !etag_list_matches(list, &rec.etag) {
            return ReadCondition::Failed;
        }
    } else if let Some(since) = get("if-unmodified-since").and_then(parse_http_date) {
        if modified_secs > since {
            return ReadCondition::Failed;
        }
    }
    let if_none = get("if-none-match");
    if let Some(list) = if_none {
        if etag_list_matches(list, &rec.etag) {
            return if prefix.is_empty() {
                ReadCondition::NotModified
            } else {
                ReadCondition::Failed
            };
        }
    } else if let Some(since) = get("if-modified-since").and_then(parse_http_date) {
        if modified_secs <= since {
            return if prefix.is_empty() {
                ReadCondition::NotModified
            } else {
                ReadCondition::Failed
            };
        }
    }
    ReadCondition::Proceed
}

/// A `Range` header resolved against an object size: `Ok(None)` means the whole object
/// (no header, or a form S3 ignores), `Err` means 416.
pub fn parse_range(h: &HeaderMap, size: u64) -> S3Result<Option<std::ops::Range<u64>>> {
    let Some(v) = header(h, "range") else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable =
        || S3Error::code(S3Code::InvalidRange).with("ActualObjectSize", size.to_string());
    let range = if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        size.saturating_sub(n)..size
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            size
        } else {
            match b.parse::<u64>() {
                Ok(e) if e >= start => e.saturating_add(1).min(size),
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(unsatisfiable());
        }
        start..end
    };
    Ok(Some(range))
}

/// `Content-MD5`, checked for form before the body is read.
pub fn content_md5(h: &HeaderMap) -> S3Result<Option<[u8; 16]>> {
    let Some(v) = h.get("content-md5") else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v.as_bytes())
        .ok()
        .and_then(|d| <[u8; 16]>::try_from(d).ok());
    decoded.map(Some).ok_or_else(|| {
        S3Error::new(
            S3Code::InvalidDigest,
            "The Content-MD5 you specified is not valid.",
        )
    })
}

/// The checksum a request announces: algorithm, and the value when it came as a header
/// (`None` when it will come as a trailer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumRequest {
    pub algorithm: ChecksumAlgorithm,
    pub value: Option<String>,
}

pub fn checksum_request(h: &HeaderMap) -> S3Result<Option<ChecksumRequest>> {
    let invalid = |m: String| S3Error::new(S3Code::InvalidRequest, m);
    let mut found: Option<ChecksumRequest> = None;
    for alg in ChecksumAlgorithm::ALL {
        if let Some(v) = header(h, alg.header()) {
            if found.is_some() {
                return Err(invalid("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.".into()));
            }
            if !alg.is_valid_value(v) {
                return Err(invalid(format!(
                    "Value for {} header is invalid.",
                    alg.header()
                )));
            }
            found = Some(ChecksumRequest {
                algorithm: alg,
                value: Some(v.to_owned()),
            });
        }
    }
    if let Some(t) = header(h, "x-amz-trailer") {
        let name = t.trim().to_ascii_lowercase();
        let alg = ChecksumAlgorithm::from_header(&name)
            .ok_or_else(|| invalid(format!("The trailer `{name}` is not supported.")))?;
        if found.is_some() {
            return Err(invalid("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.".into()));
        }
        found = Some(ChecksumRequest {
            algorithm: alg,
            value: None,
        });
    }
    let sdk =
        header(h, "x-amz-sdk-checksum-algorithm").or_else(|| header(h, "x-amz-checksum-algorithm"));
    if let Some(name) = sdk {
        let alg = ChecksumAlgorithm::parse(name)
            .ok_or_else(|| invalid(format!("Checksum algorithm `{name}` is not supported.")))?;
        match &found {
            Some(f) if f.algorithm != alg => {
                return Err(invalid(format!(
                    "Value for x-amz-sdk-checksum-algorithm header is invalid: {} does not match the checksum sent.",
                    alg.as_str()
                )))
            }
            Some(_) => {}
            None => {
                found = Some(ChecksumRequest {
                    algorithm: alg,
                    value: None,
                })
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn hm(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn ranges() {
        let r = |v: &str, size| parse_range(&hm(&[("range", v)]), size);
        assert_eq!(r("bytes=0-9", 100).unwrap(), Some(0..10));
        assert_eq!(r("bytes=90-200", 100).unwrap(), Some(90..100));
        assert_eq!(r("bytes=-10", 100).unwrap(), Some(90..100));
        assert_eq!(r("bytes=-200", 100).unwrap(), Some(0..100));
        assert_eq!(r("bytes=5-", 100).unwrap(), Some(5..100));
        assert_eq!(r("bytes=9-5", 100).unwrap(), None);
        assert_eq!(r("bytes=0-1,4-5", 100).unwrap(), None);
        assert!(r("bytes=100-", 100).is_err());
        assert!(r("bytes=0-", 0).is_err());
    }

    #[test]
    fn metadata_strips_aws_chunked() {
        let (s, u) = stored_metadata(&hm(&[
            ("content-encoding", "aws-chunked,gzip"),
            ("x-amz-meta-Foo", "Bar"),
        ]))
        .unwrap();
        assert_eq!(s.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(u, vec![("foo".to_string(), "Bar".to_string())]);
        let (s, _) = stored_metadata(&hm(&[("content-encoding", "aws-chunked")])).unwrap();
        assert_eq!(s.content_encoding, None);
    }

    #[test]
    fn checksum_requests() {
        let c = checksum_request(&hm(&[
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.algorithm, ChecksumAlgorithm::Crc32);
        assert_eq!(c.value, None);
        assert!(checksum_request(&hm(&[("x-amz-checksum-crc32", "nope")])).is_err());
        assert!(content_md5(&hm(&[("content-md5", "abc")])).is_err());
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date(1_255_369_830_123), "2009-10-12T17:50:30.123Z");
    }
}
