//! ListObjects (v1) and ListObjectsV2: one range scan of the index per page.

use base64::Engine as _;
use std::borrow::Cow;

use super::bucket::resolve;
use super::error::{S3Code, S3Error, S3Result};
use super::{max_param, owner_id, xml_ok, Ctx};
use crate::auth::sigv4::uri_encode;
use crate::meta::{BucketRecord, ListEntry, ListPage, VersionEntry};
use crate::web::body::Response;
use crate::web::query::Query;
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

/// What a ListObjects (v1) or ListObjectsV2 request asks for.
#[derive(Debug, PartialEq, Eq)]
struct ListParams<'q> {
    v2: bool,
    prefix: &'q str,
    delimiter: Option<&'q str>,
    max_keys: usize,
    /// Keys are URL-encoded in the reply (`encoding-type=url`).
    url: bool,
    /// v2 only.
    start_after: Option<&'q str>,
    continuation_token: Option<&'q str>,
    /// v1 only.
    marker: Option<&'q str>,
    /// The key the page starts after: the later of token and start-after, or the marker.
    after: Option<String>,
    fetch_owner: bool,
}

impl<'q> ListParams<'q> {
    fn parse(q: &'q Query, v2: bool) -> S3Result<Self> {
        let max_keys = max_param(q, "max-keys", MAX_KEYS)?;
        let url = match q.get("encoding-type") {
            None => false,
            Some(e) if e.eq_ignore_ascii_case("url") => true,
            Some(_) => return Err(invalid("Invalid Encoding Method specified in Request")),
        };
        let continuation_token = if v2 {
            q.get("continuation-token")
        } else {
            None
        };
        let token = continuation_token.map(decode_token).transpose()?;
        let start_after = if v2 { q.get("start-after") } else { None };
        let marker = if v2 { None } else { q.get("marker") };
        let after = match (token, start_after, marker) {
            (Some(t), Some(s), _) => Some(if t.as_str() > s { t } else { s.to_owned() }),
            (Some(t), None, _) => Some(t),
            (None, s, m) => s.or(m).filter(|a| !a.is_empty()).map(str::to_owned),
        };
        Ok(Self {
            v2,
            prefix: q.get("prefix").unwrap_or(""),
            delimiter: q.get("delimiter").filter(|d| !d.is_empty()),
            max_keys,
            url,
            start_after,
            continuation_token,
            marker,
            after,
            fetch_owner: !v2 || q.get("fetch-owner") == Some("true"),
        })
    }

    fn enc<'s>(&self, s: &'s str) -> Cow<'s, str> {
        if self.url {
            Cow::Owned(uri_encode(s, false))
        } else {
            Cow::Borrowed(s)
        }
    }
}

pub async fn list_objects(ctx: &Ctx, v2: bool) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let params = ListParams::parse(&ctx.query, v2)?;
    let page = ctx
        .state
        .store
        .list_objects(
            &bucket,
            params.prefix,
            params.delimiter,
            params.after.as_deref(),
            params.max_keys,
        )
        .await?;
    Ok(xml_ok(list_bucket_result(&bucket, &params, &page)))
}

/// The ListBucketResult document of one page.
fn list_bucket_result(bucket: &BucketRecord, p: &ListParams<'_>, page: &ListPage) -> String {
    let truncated = page.next_after.is_some();
    let (oid, oname) = (owner_id(&bucket.owner), bucket.owner.clone());
    let mut w = XmlWriter::new("ListBucketResult");
    // About what one <Contents> takes beside its key.
    let per_entry: usize = page
        .entries
        .iter()
        .map(|e| match e {
            ListEntry::Object(key, _) => key.len() + 320,
            ListEntry::CommonPrefix(prefix) => prefix.len() + 60,
        })
        .sum();
    w.reserve(per_entry + 512);
    w.elem("Name", &bucket.name)
        .elem("Prefix", &p.enc(p.prefix));
    if p.v2 {
        w.opt("StartAfter", p.start_after.map(|s| p.enc(s)).as_deref());
        w.opt("ContinuationToken", p.continuation_token);
        w.elem_u64("KeyCount", page.entries.len() as u64);
        if let Some(next) = &page.next_after {
            w.elem("NextContinuationToken", &encode_token(next));
        }
    } else {
        w.elem("Marker", &p.enc(p.marker.unwrap_or("")));
        // v1 names a NextMarker only when a delimiter was given; clients use the last key otherwise.
        if p.delimiter.is_some() {
            w.opt(
                "NextMarker",
                page.next_after.as_deref().map(|s| p.enc(s)).as_deref(),
            );
        }
    }
    w.elem("MaxKeys", &p.max_keys.to_string());
    w.opt("Delimiter", p.delimiter.map(|s| p.enc(s)).as_deref());
    if p.url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for entry in &page.entries {
        if let ListEntry::Object(key, rec) = entry {
            w.open("Contents")
                .elem("Key", &p.enc(key))
                .elem_date("LastModified", rec.last_modified_ms)
                .elem_quoted("ETag", &rec.etag)
                .elem_u64("Size", rec.size);
            if let Some(alg) = rec.checksum_algorithm {
                w.elem("ChecksumAlgorithm", alg.as_str());
                w.elem("ChecksumType", "FULL_OBJECT");
            }
            if p.fetch_owner {
                w.open("Owner")
                    .elem("ID", &oid)
                    .elem("DisplayName", &oname)
                    .close();
            }
            w.elem("StorageClass", "STANDARD").close();
        }
    }
    for entry in &page.entries {
        if let ListEntry::CommonPrefix(prefix) = entry {
            w.open("CommonPrefixes")
                .elem("Prefix", &p.enc(prefix))
                .close();
        }
    }
    w.finish()
}

/// ListObjectVersions: every version and delete marker, each key's newest first.
pub async fn list_object_versions(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let q = &ctx.query;
    let p = ListParams::parse(q, false)?;
    let key_marker = q.get("key-marker").filter(|m| !m.is_empty());
    let version_marker = q.get("version-id-marker").filter(|m| !m.is_empty());
    if let Some(v) = version_marker {
        if key_marker.is_none() {
            return Err(invalid(
                "A version-id marker cannot be specified without a key marker.",
            ));
        }
        super::object::parse_version(v)?;
    }
    let page = ctx
        .state
        .store
        .list_versions(
            &bucket,
            p.prefix,
            p.delimiter,
            key_marker,
            version_marker,
            p.max_keys,
        )
        .await?;
    let (oid, oname) = (owner_id(&bucket.owner), bucket.owner.clone());
    let mut w = XmlWriter::new("ListVersionsResult");
    w.elem("Name", &bucket.name)
        .elem("Prefix", &p.enc(p.prefix))
        .elem("KeyMarker", &p.enc(key_marker.unwrap_or("")))
        .elem("VersionIdMarker", version_marker.unwrap_or(""));
    if let Some((k, v)) = &page.next {
        w.elem("NextKeyMarker", &p.enc(k));
        w.opt("NextVersionIdMarker", v.as_deref());
    }
    w.elem("MaxKeys", &p.max_keys.to_string());
    w.opt("Delimiter", p.delimiter.map(|d| p.enc(d)).as_deref());
    if p.url {
        w.elem("EncodingType", "url");
    }
    w.elem(
        "IsTruncated",
        if page.next.is_some() { "true" } else { "false" },
    );
    for entry in &page.entries {
        let VersionEntry::Version { key, rec, latest } = entry else {
            continue;
        };
        w.open(if rec.delete_marker {
            "DeleteMarker"
        } else {
            "Version"
        })
        .elem("Key", &p.enc(key))
        .elem("VersionId", rec.version_str())
        .elem("IsLatest", if *latest { "true" } else { "false" })
        .elem_date("LastModified", rec.last_modified_ms);
        if !rec.delete_marker {
            w.elem_quoted("ETag", &rec.etag).elem_u64("Size", rec.size);
            if let Some(c) = &rec.checksum {
                w.elem("ChecksumAlgorithm", c.algorithm.as_str());
                w.elem("ChecksumType", "FULL_OBJECT");
            }
        }
        w.open("Owner")
            .elem("ID", &oid)
            .elem("DisplayName", &oname)
            .close();
        if !rec.delete_marker {
            w.elem("StorageClass", "STANDARD");
        }
        w.close();
    }
    for entry in &page.entries {
        if let VersionEntry::CommonPrefix(prefix) = entry {
            w.open("CommonPrefixes")
                .elem("Prefix", &p.enc(prefix))
                .close();
        }
    }
    Ok(xml_ok(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{BucketId, ListedObject, RECORD_VERSION};

    fn q(s: &str) -> Query {
        Query::parse(Some(s))
    }

    #[test]
    fn parameters_of_v1_and_v2() {
        let query = q("prefix=a%2F&delimiter=%2F&max-keys=5000&marker=m&start-after=s");
        let v1 = ListParams::parse(&query, false).unwrap();
        assert_eq!(
            (v1.prefix, v1.delimiter, v1.max_keys),
            ("a/", Some("/"), 1000)
        );
        assert_eq!(v1.after.as_deref(), Some("m"), "v1 ignores start-after");
        assert!(v1.fetch_owner, "v1 always names the owner");
        let v2 = ListParams::parse(&query, true).unwrap();
        assert_eq!(v2.after.as_deref(), Some("s"), "v2 ignores marker");
        assert!(!v2.fetch_owner);
        // The later of continuation token and start-after wins.
        let t = encode_token("zz");
        let query = q(&format!("continuation-token={t}&start-after=b"));
        assert_eq!(
            ListParams::parse(&query, true).unwrap().after.as_deref(),
            Some("zz")
        );
        let query = q(&format!(
            "continuation-token={}&start-after=b",
            encode_token("a")
        ));
        assert_eq!(
            ListParams::parse(&query, true).unwrap().after.as_deref(),
            Some("b")
        );
        // An empty delimiter is none; max-keys=0 is allowed.
        let query = q("delimiter=&max-keys=0");
        let p = ListParams::parse(&query, true).unwrap();
        assert_eq!((p.delimiter, p.max_keys), (None, 0));
    }

    #[test]
    fn bad_parameters() {
        for (query, v2) in [
            ("max-keys=-1", true),
            ("max-keys=ten", false),
            ("encoding-type=base64", true),
            ("continuation-token=%%%", true),
        ] {
            let e = ListParams::parse(&q(query), v2).unwrap_err();
            assert_eq!(e.code, S3Code::InvalidArgument, "{query}");
        }
        // A token is only read by v2.
        assert!(ListParams::parse(&q("continuation-token=%%%"), false).is_ok());
    }

    fn bucket() -> BucketRecord {
        BucketRecord {
            v: RECORD_VERSION,
            id: BucketId([1; 16]),
            name: "b".into(),
            owner: "alice".into(),
            region: "in-mum".into(),
            created_at_ms: 0,
            cors: None,
            versioning: Default::default(),
            object_lock: None,
            tags: None,
            lifecycle: None,
            acl: None,
            ownership: None,
            public_access_block: None,
            policy: None,
            logging: None,
            encryption: None,
        }
    }

    fn object(size: u64) -> ListedObject {
        let mut rec = crate::meta::fixtures::object(size, "");
        rec.etag = "e".into();
        ListedObject::from(&rec)
    }

    #[test]
    fn url_encoding_and_markers_in_the_document() {
        let query = q("encoding-type=url&delimiter=%2F&prefix=a%20b%2F");
        let p = ListParams::parse(&query, false).unwrap();
        let page = ListPage {
            entries: vec![
                ListEntry::Object("a b/x+y".into(), object(3)),
                ListEntry::CommonPrefix("a b/sub/".into()),
            ],
            next_after: Some("a b/sub/".into()),
        };
        let xml = list_bucket_result(&bucket(), &p, &page);
        assert!(xml.contains("<Prefix>a%20b/</Prefix>"), "{xml}");
        assert!(xml.contains("<Key>a%20b/x%2By</Key>"), "{xml}");
        assert!(xml.contains("<NextMarker>a%20b/sub/</NextMarker>"), "{xml}");
        assert!(xml.contains("<EncodingType>url</EncodingType>"), "{xml}");
        assert!(xml.contains("<IsTruncated>true</IsTruncated>"), "{xml}");
        assert!(xml.contains("<DisplayName>alice</DisplayName>"), "{xml}");
        assert!(xml.contains("<CommonPrefixes><Prefix>a%20b/sub/</Prefix></CommonPrefixes>"));

        let query = q("list-type=2");
        let p = ListParams::parse(&query, true).unwrap();
        let page = ListPage {
            entries: vec![ListEntry::Object("k".into(), object(1))],
            next_after: Some("k".into()),
        };
        let xml = list_bucket_result(&bucket(), &p, &page);
        assert!(xml.contains("<KeyCount>1</KeyCount>"), "{xml}");
        assert!(xml.contains(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            encode_token("k")
        )));
        assert!(
            !xml.contains("<Owner>"),
            "v2 names owners only with fetch-owner"
        );
    }
}
