//! ListObjects (v1) and ListObjectsV2: one range scan of the index per page.

use base64::Engine as _;

use super::bucket::resolve;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::{iso_date, quote_etag};
use super::{owner_id, xml_ok, Ctx};
use crate::auth::sigv4::uri_encode;
use crate::meta::ListEntry;
use crate::server::body::Response;
use crate::xml::XmlWriter;

const MAX_KEYS: usize = 1000;

fn invalid(msg: impl Into<String>) -> S3Error {
    S3Error::new(S3Code::InvalidArgument, msg)
}

fn encode_token(after: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(after.as_bytes())
}

fn decode_token(t: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid("The continuation token provided is incorrect"))
}

pub async fn list_objects(ctx: &Ctx, v2: bool) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let q = &ctx.query;
    let prefix = q.get("prefix").unwrap_or("");
    let delimiter = q.get("delimiter").filter(|d| !d.is_empty());
    let max_keys = match q.get("max-keys") {
        None => MAX_KEYS,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS))
            .ok_or_else(|| invalid("Provided max-keys not an integer or within integer range"))?,
    };
    let url = match q.get("encoding-type") {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(_) => return Err(invalid("Invalid Encoding Method specified in Request")),
    };
    let enc = |s: &str| -> String {
        if url {
            uri_encode(s, false)
        } else {
            s.to_owned()
        }
    };
    let token = if v2 {
        q.get("continuation-token").map(decode_token).transpose()?
    } else {
        None
    };
    let start_after = if v2 { q.get("start-after") } else { None };
    let marker = if v2 { None } else { q.get("marker") };
    let after: Option<&str> = match (&token, start_after, marker) {
        (Some(t), Some(s), _) => Some(if t.as_str() > s { t.as_str() } else { s }),
        (Some(t), None, _) => Some(t.as_str()),
        (None, s, m) => s.or(m).filter(|a| !a.is_empty()),
    };
    let page = ctx
        .state
        .store
        .list_objects(&bucket, prefix, delimiter, after, max_keys)
        .await?;
    let truncated = page.next_after.is_some();
    let fetch_owner = !v2 || q.get("fetch-owner") == Some("true");
    let (oid, oname) = (owner_id(&bucket.owner), bucket.owner.clone());

    let mut w = XmlWriter::new("ListBucketResult");
    w.elem("Name", &bucket.name).elem("Prefix", &enc(prefix));
    if v2 {
        w.opt("StartAfter", start_after.map(enc).as_deref());
        w.opt("ContinuationToken", q.get("continuation-token"));
        w.elem("KeyCount", &page.entries.len().to_string());
        if let Some(next) = &page.next_after {
            w.elem("NextContinuationToken", &encode_token(next));
        }
    } else {
        w.elem("Marker", &enc(marker.unwrap_or("")));
        // v1 names a NextMarker only when a delimiter was given; clients use the last key otherwise.
        if delimiter.is_some() {
            w.opt("NextMarker", page.next_after.as_deref().map(enc).as_deref());
        }
    }
    w.elem("MaxKeys", &max_keys.to_string());
    w.opt("Delimiter", delimiter.map(enc).as_deref());
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for entry in &page.entries {
        if let ListEntry::Object(key, rec) = entry {
            w.open("Contents")
                .elem("Key", &enc(key))
                .elem("LastModified", &iso_date(rec.last_modified_ms))
                .elem("ETag", &quote_etag(&rec.etag))
                .elem("Size", &rec.size.to_string());
            if let Some(c) = &rec.checksum {
                w.elem("ChecksumAlgorithm", c.algorithm.as_str());
                w.elem("ChecksumType", "FULL_OBJECT");
            }
            if fetch_owner {
                w.open("Owner")
                    .elem("ID", &oid)
                    .elem("DisplayName", &oname)
                    .close();
            }
            w.elem("StorageClass", "STANDARD").close();
        }
    }
    for entry in &page.entries {
        if let ListEntry::CommonPrefix(p) = entry {
            w.open("CommonPrefixes").elem("Prefix", &enc(p)).close();
        }
    }
    Ok(xml_ok(w.finish()))
}
