//! Bucket logging on the S3 surface: Get/PutBucketLogging, and the server access log line
//! each request to a logging bucket becomes (S3's format, field for field).

use http::StatusCode;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::error::{S3Code, S3Error, S3Result};
use super::object::read_document;
use super::{status_only, xml_ok, Ctx};
use crate::meta::acl::LoggingConfig;
use crate::web::body::{RequestBody, Response};
use crate::xml::{self, XmlWriter};

const MAX_LOGGING_DOC: usize = 64 * 1024;

/// What a logged key keeps unencoded: RFC 3986's unreserved characters and `/`.
const KEY_CHARS: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BucketLoggingStatus {
    #[serde(default)]
    logging_enabled: Option<LoggingEnabled>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoggingEnabled {
    #[serde(default)]
    target_bucket: Option<String>,
    #[serde(default)]
    target_prefix: Option<String>,
    #[serde(default)]
    target_grants: Option<TargetGrants>,
    #[serde(default)]
    target_object_key_format: Option<KeyFormat>,
}

#[derive(Debug, Default, Deserialize)]
struct TargetGrants {
    #[serde(rename = "Grant", default)]
    grants: Vec<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyFormat {
    #[serde(default)]
    partitioned_prefix: Option<PartitionedPrefix>,
    #[serde(default)]
    simple_prefix: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PartitionedPrefix {
    #[serde(default)]
    partition_date_source: Option<String>,
}

/// A BucketLoggingStatus document: `None` turns logging off.
fn parse_status(doc: &[u8]) -> S3Result<Option<LoggingConfig>> {
    let malformed = |m: String| S3Error::new(S3Code::MalformedXML, m);
    let status: BucketLoggingStatus =
        xml::parse(doc).map_err(|m| malformed(format!("BucketLoggingStatus: {m}")))?;
    let Some(on) = status.logging_enabled else {
        return Ok(None);
    };
    let target_bucket = on
        .target_bucket
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| malformed("LoggingEnabled needs a TargetBucket.".into()))?;
    if on.target_grants.is_some_and(|g| !g.grants.is_empty()) {
        return Err(S3Error::new(
            S3Code::InvalidArgument,
            "TargetGrants are not supported: the target bucket's owner owns the logs, as under BucketOwnerEnforced.",
        ));
    }
    let partitioned = match on.target_object_key_format {
        None => false,
        Some(KeyFormat {
            partitioned_prefix: Some(p),
            simple_prefix: None,
        }) => match p.partition_date_source.as_deref().map(str::trim) {
            None | Some("EventTime") | Some("DeliveryTime") => true,
            Some(other) => {
                return Err(malformed(format!(
                    "PartitionDateSource must be EventTime or DeliveryTime, not `{other}`."
                )))
            }
        },
        Some(KeyFormat {
            partitioned_prefix: None,
            ..
        }) => false,
        Some(_) => {
            return Err(malformed(
                "TargetObjectKeyFormat names either SimplePrefix or PartitionedPrefix.".into(),
            ))
        }
    };
    let target_prefix = on.target_prefix.unwrap_or_default();
    if target_prefix.len() > crate::accesslog::MAX_TARGET_PREFIX {
        return Err(S3Error::new(
            S3Code::InvalidArgument,
            format!(
                "TargetPrefix may be at most {} bytes.",
                crate::accesslog::MAX_TARGET_PREFIX
            ),
        ));
    }
    Ok(Some(LoggingConfig {
        target_bucket,
        target_prefix,
        partitioned,
    }))
}

pub async fn get_bucket_logging(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let mut w = XmlWriter::new("BucketLoggingStatus");
    if let Some(c) = &b.logging {
        w.open("LoggingEnabled")
            .elem("TargetBucket", &c.target_bucket)
            .elem("TargetPrefix", &c.target_prefix);
        w.open("TargetObjectKeyFormat");
        if c.partitioned {
            w.open("PartitionedPrefix")
                .elem("PartitionDateSource", "DeliveryTime")
                .close();
        } else {
            w.open("SimplePrefix").close();
        }
        w.close().close();
    }
    Ok(xml_ok(w.finish()))
}

pub async fn put_bucket_logging(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_LOGGING_DOC).await?;
    let config = parse_status(&doc)?;
    if let Some(c) = &config {
        let invalid = |m: &str| {
            S3Error::new(S3Code::InvalidTargetBucketForLogging, m.to_owned())
                .with("TargetBucket", c.target_bucket.clone())
        };
        let target = match ctx.state.store.bucket(&c.target_bucket).await {
            Ok(t) => t,
            Err(crate::error::Error::NoSuchBucket(_)) => {
                return Err(invalid("The target bucket for logging does not exist"))
            }
            Err(e) => return Err(e.into()),
        };
        if target.owner != b.owner {
            return Err(invalid(
                "The owner for the bucket to be logged and the target bucket must be the same.",
            ));
        }
    }
    let rec = ctx
        .state
        .store
        .update_bucket(&b, move |rec| {
            rec.logging = config.clone();
            Ok(())
        })
        .await?;
    ctx.state.access_log.update(&rec);
    Ok(status_only(StatusCode::OK))
}

// ---- the log line ----

/// What a log line says beside the response: known before the request ran.
pub struct Request {
    pub received: time::OffsetDateTime,
    pub method: String,
    pub target: String,
    pub version: http::Version,
    pub ip: Option<std::net::IpAddr>,
    pub host: String,
    pub user_agent: String,
    pub referer: String,
    pub sent_length: Option<u64>,
    pub started: std::time::Instant,
}

impl Request {
    pub fn of(parts: &http::request::Parts) -> Self {
        let h = |n: &str| {
            super::headers::header(&parts.headers, n)
                .unwrap_or("")
                .to_owned()
        };
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        Request {
            received: time::OffsetDateTime::now_utc(),
            method: parts.method.as_str().to_owned(),
            target: uri_for_log(&target),
            version: parts.version,
            ip: crate::web::client_ip(parts),
            host: crate::web::target::request_host(parts)
                .unwrap_or("")
                .to_owned(),
            user_agent: cut(h("user-agent")),
            referer: cut(h("referer")),
            // An aws-chunked body's object is its decoded length.
            sent_length: h("x-amz-decoded-content-length")
                .parse()
                .or_else(|_| h("content-length").parse())
                .ok(),
            started: std::time::Instant::now(),
        }
    }
}

/// Header values and request targets longer than this are cut in a log line.
const MAX_LOGGED: usize = 2048;

fn cut(mut s: String) -> String {
    if s.len() > MAX_LOGGED {
        let mut end = MAX_LOGGED;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The request target as the log shows it: presigned signatures and session tokens replaced
/// (a log reader must not be able to replay a presigned URL), every byte outside printable
/// ASCII percent-encoded (no line or field can be forged), cut to a bounded length.
fn uri_for_log(target: &str) -> String {
    const SECRET: [&str; 3] = ["x-amz-signature", "signature", "x-amz-security-token"];
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut out = path.to_owned();
    if let Some(q) = query {
        out.push('?');
        let params: Vec<String> = q
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if SECRET.contains(&name.to_ascii_lowercase().as_str()) => {
                    format!("{name}=REDACTED")
                }
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    let mut safe = String::with_capacity(out.len());
    for b in out.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'"' {
            safe.push(char::from(b));
        } else {
            safe.push_str(&format!("%{b:02X}"));
        }
    }
    cut(safe)
}

/// Who signed, as the log names it: filled in once the request is authenticated.
#[derive(Debug, Default, Clone)]
pub struct Requester {
    pub canonical_id: Option<String>,
    /// For the server's own log line; S3's access log has no field for it.
    pub access_key_id: Option<String>,
    pub signature: Option<&'static str>,
    pub auth: Option<&'static str>,
}

/// S3's operation name for the log (`REST.GET.OBJECT`, …).
fn rest_operation(method: &str, op: Option<&str>) -> String {
    let kind = match op {
        Some("GetObject" | "HeadObject" | "PutObject" | "DeleteObject" | "PostObject") => "OBJECT",
        Some("GetBucketLogging" | "PutBucketLogging") => "LOGGING_STATUS",
        Some("GetBucketPolicy" | "PutBucketPolicy" | "DeleteBucketPolicy") => "BUCKETPOLICY",
        Some("GetBucketAcl" | "PutBucketAcl" | "GetObjectAcl" | "PutObjectAcl") => "ACL",
        Some("CopyObject") => return "REST.COPY.OBJECT".into(),
        Some("UploadPartCopy") => return "REST.COPY.PART".into(),
        Some("ListObjects" | "ListObjectsV2" | "HeadBucket" | "CreateBucket" | "DeleteBucket") => {
            "BUCKET"
        }
        Some("ListBuckets") => "SERVICE",
        Some("DeleteObjects") => "MULTI_OBJECT_DELETE",
        Some("CreateMultipartUpload" | "ListMultipartUploads") => "UPLOADS",
        Some("CompleteMultipartUpload" | "AbortMultipartUpload" | "ListParts") => "UPLOAD",
        Some("UploadPart") => "PART",
        Some("ListObjectVersions") => "BUCKETVERSIONS",
        Some(other) => {
            let bare = other
                .trim_start_matches("Get")
                .trim_start_matches("Put")
                .trim_start_matches("Delete")
                .trim_start_matches("Bucket")
                .trim_end_matches("Configuration");
            return format!("REST.{method}.{}", bare.to_ascii_uppercase());
        }
        None => "UNKNOWN",
    };
    format!("REST.{method}.{kind}")
}

/// A field as S3 writes it: `-` when empty; nothing that could end the field or the line
/// (spaces, quotes, control or non-ASCII characters, which some readers take for line breaks).
fn field(s: &str) -> String {
    if s.is_empty() {
        return "-".into();
    }
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A quoted field: spaces may stay.
fn quoted(s: &str) -> String {
    if s.is_empty() {
        return "\"-\"".into();
    }
    let inner: String = s
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && c != '"' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("\"{inner}\"")
}

/// What a log line records about the outcome.
pub struct Outcome<'a> {
    pub op: Option<&'a str>,
    pub key: Option<&'a str>,
    pub status: StatusCode,
    pub error_code: Option<&'a str>,
    pub response: &'a http::HeaderMap,
    pub request_id: &'a str,
    /// `x-amz-id-2`.
    pub host_id: &'a str,
}

/// One line of S3's server access log format.
pub fn line(
    bucket_owner: &str,
    bucket: &str,
    req: &Request,
    who: &Requester,
    out: &Outcome<'_>,
) -> String {
    let now = req.received;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let when = format!(
        "[{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000]",
        now.day(),
        MONTHS[usize::from(u8::from(now.month())) - 1],
        now.year(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let header = |n: &str| super::headers::header(out.response, n).unwrap_or("");
    let bytes_sent = header("content-length")
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && req.method != "HEAD");
    let object_size = match req.method.as_str() {
        "PUT" | "POST" if out.status.is_success() => req.sent_length,
        _ => header("content-range")
            .rsplit('/')
            .next()
            .and_then(|t| t.parse().ok())
            .or_else(|| header("content-length").parse().ok()),
    };
    let n = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let key = out
        .key
        .map(|k| percent_encoding::utf8_percent_encode(k, KEY_CHARS).to_string());
    let version = match req.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    [
        field(&crate::access::acl::canonical_id(bucket_owner)),
        field(bucket),
        when,
        field(&req.ip.map(|i| i.to_string()).unwrap_or_default()),
        field(who.canonical_id.as_deref().unwrap_or("")),
        field(out.request_id),
        rest_operation(&req.method, out.op),
        field(key.as_deref().unwrap_or("")),
        quoted(&format!("{} {} {version}", req.method, req.target)),
        out.status.as_u16().to_string(),
        field(out.error_code.unwrap_or("")),
        n(bytes_sent),
        n(object_size),
        req.started.elapsed().as_millis().to_string(),
        "-".into(),
        quoted(&req.referer),
        quoted(&req.user_agent),
        field(header("x-amz-version-id")),
        field(out.host_id),
        field(who.signature.unwrap_or("")),
        "-".into(),
        field(who.auth.unwrap_or("")),
        field(&req.host),
        // The negotiated TLS version and cipher are not known at this layer.
        "-".into(),
        "-".into(),
        "-".into(),
    ]
    .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_documents() {
        let on = b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>a/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>";
        let c = parse_status(on).unwrap().unwrap();
        assert_eq!(
            (
                c.target_bucket.as_str(),
                c.target_prefix.as_str(),
                c.partitioned
            ),
            ("logs", "a/", false)
        );
        let parted = b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>logs</TargetBucket><TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>EventTime</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled></BucketLoggingStatus>";
        assert!(parse_status(parted).unwrap().unwrap().partitioned);
        assert_eq!(parse_status(b"<BucketLoggingStatus/>").unwrap(), None);
        let grants = b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>l</TargetBucket><TargetGrants><Grant><Permission>READ</Permission></Grant></TargetGrants></LoggingEnabled></BucketLoggingStatus>";
        assert_eq!(
            parse_status(grants).unwrap_err().code,
            S3Code::InvalidArgument
        );
        let nameless =
            b"<BucketLoggingStatus><LoggingEnabled></LoggingEnabled></BucketLoggingStatus>";
        assert_eq!(
            parse_status(nameless).unwrap_err().code,
            S3Code::MalformedXML
        );
    }

    #[test]
    fn log_lines_have_s3s_fields() {
        let req = Request {
            received: time::OffsetDateTime::now_utc(),
            method: "GET".into(),
            target: "/photos/a%20b.jpg?versionId=1".into(),
            version: http::Version::HTTP_11,
            ip: Some("192.0.2.3".parse().unwrap()),
            host: "127.0.0.1:9000".into(),
            user_agent: "aws-cli/1.0 \"quoted\"".into(),
            referer: String::new(),
            sent_length: None,
            started: std::time::Instant::now(),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("content-length", "5".parse().unwrap());
        let out = Outcome {
            op: Some("GetObject"),
            key: Some("a b.jpg"),
            status: StatusCode::OK,
            error_code: None,
            response: &headers,
            request_id: "REQ1",
            host_id: "HOST1",
        };
        let who = Requester {
            canonical_id: Some("abc".into()),
            access_key_id: Some("AKID".into()),
            signature: Some("SigV4"),
            auth: Some("AuthHeader"),
        };
        let l = line("alice", "photos", &req, &who, &out);
        let fields: Vec<&str> = l.split(' ').collect();
        assert_eq!(fields[0], crate::access::acl::canonical_id("alice"));
        assert_eq!(fields[1], "photos");
        assert!(fields[2].starts_with('[') && fields[3] == "+0000]", "{l}");
        assert_eq!(fields[4], "192.0.2.3");
        assert_eq!(fields[5], "abc");
        assert_eq!(fields[7], "REST.GET.OBJECT");
        assert_eq!(fields[8], "a%20b.jpg");
        assert!(
            l.contains("\"GET /photos/a%20b.jpg?versionId=1 HTTP/1.1\" 200 - 5 5 "),
            "{l}"
        );
        assert!(l.contains("\"aws-cli/1.0 _quoted_\""), "{l}");
        assert!(
            l.contains(" HOST1 SigV4 "),
            "the host id is x-amz-id-2: {l}"
        );
        assert!(!l.contains("AKID"), "S3's log names no key: {l}");
        assert!(
            l.contains(" SigV4 - AuthHeader 127.0.0.1:9000 - - -"),
            "{l}"
        );
        assert_eq!(rest_operation("PUT", Some("PutBucketAcl")), "REST.PUT.ACL");
        assert_eq!(
            rest_operation("GET", Some("GetBucketLogging")),
            "REST.GET.LOGGING_STATUS"
        );
        let presigned = uri_for_log(
            "/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&x-id=GetObject&Signature=v2",
        );
        assert_eq!(
            presigned,
            "/b/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=REDACTED&x-id=GetObject&Signature=REDACTED"
        );
        assert_eq!(
            uri_for_log("/b/a\u{2028}b \"c\""),
            "/b/a%E2%80%A8b%20%22c%22"
        );
        assert_eq!(field("host name\u{2029}"), "host_name_");
        assert!(uri_for_log(&"x".repeat(10_000)).len() <= MAX_LOGGED);
        assert_eq!(
            rest_operation("POST", Some("CompleteMultipartUpload")),
            "REST.POST.UPLOAD"
        );
    }
}
