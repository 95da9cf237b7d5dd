//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html>.

use crate::web::body::RequestBody;
use http::{HeaderValue, StatusCode};

use super::body::Payload;
use super::bucket::resolve;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::{
    checksum_request, iso_date, quote_etag, unquote_etag, write_condition, written_meta,
};
use super::object::{checksum_element, checksum_type_name, copy_source, receive_body};
use super::{max_param, owner_id, status_only, xml_ok, Ctx};
use crate::access::Permission;
use crate::checksum::ChecksumAlgorithm;
use crate::meta::{ChecksumType, UploadEntry, UploadRecord};
use crate::store::multipart::{is_server_upload_id, RequestedPart, MAX_PART_NUMBER};
use crate::web::body::Response;
use crate::xml::{self, XmlWriter};

/// S3's largest part.
const MAX_PART_SIZE: u64 = 5 << 30;
const MAX_LISTED: usize = 1000;
/// A Complete document naming 10,000 parts with long ETags fits well within this.
const MAX_COMPLETE_DOC: usize = 4 << 20;

fn invalid(msg: impl Into<String>) -> S3Error {
    S3Error::new(S3Code::InvalidArgument, msg)
}

/// The `uploadId` of the request; one this server cannot have made is refused before it
/// reaches the index.
fn upload_id(ctx: &Ctx) -> S3Result<&str> {
    ctx.query
        .get("uploadId")
        .filter(|u| is_server_upload_id(u))
        .ok_or_else(|| S3Error::code(S3Code::NoSuchUpload))
}

fn part_number(ctx: &Ctx) -> S3Result<u32> {
    ctx.query
        .get("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| invalid("Part number must be an integer between 1 and 10000, inclusive"))
}

fn set(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

pub async fn create(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let key = ctx.key()?;
    let mut written = written_meta(&ctx.parts.headers, &bucket, &ctx.caller.principal)?;
    let sealing = super::sse::for_write(ctx, &bucket).await?;
    written.sse = sealing.sse;
    let principal = &ctx.caller.principal;
    let initiator =
        (!principal.may(&bucket, Permission::Read)).then(|| principal.account().to_owned());
    let algorithm = match ctx.header("x-amz-checksum-algorithm") {
        None => None,
        Some(a) => Some(ChecksumAlgorithm::parse(a).ok_or_else(|| {
            S3Error::new(
                S3Code::InvalidRequest,
                format!("Checksum algorithm `{a}` is not supported."),
            )
        })?),
    };
    let checksum_type = match ctx.header("x-amz-checksum-type") {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("COMPOSITE") => Some(ChecksumType::Composite),
        Some(t) if t.eq_ignore_ascii_case("FULL_OBJECT") => Some(ChecksumType::FullObject),
        Some(t) => return Err(invalid(format!("Unknown x-amz-checksum-type `{t}`."))),
    };
    match (algorithm, checksum_type) {
        (None, Some(_)) => {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                "x-amz-checksum-type needs x-amz-checksum-algorithm.",
            ))
        }
        (Some(a), Some(ChecksumType::FullObject)) if !a.supports_full_object() => {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                format!(
                    "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                    a.as_str()
                ),
            ))
        }
        (Some(ChecksumAlgorithm::Crc64Nvme), Some(ChecksumType::Composite)) => {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.",
            ))
        }
        _ => {}
    }
    let rec = ctx
        .state
        .store
        .create_upload(&bucket, key, written, algorithm, checksum_type, initiator)
        .await?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", &bucket.name)
        .elem("Key", key)
        .elem("UploadId", &rec.upload_id);
    let mut r = xml_ok(w.finish());
    super::sse::response_headers(
        r.headers_mut(),
        &ctx.state.cfg.region,
        rec.sse.as_ref(),
        sealing.key.as_ref(),
    );
    if let Some(a) = algorithm {
        set(&mut r, "x-amz-checksum-algorithm", a.as_str());
        set(
            &mut r,
            "x-amz-checksum-type",
            checksum_type_name(Some(checksum_type.unwrap_or(
                if a == ChecksumAlgorithm::Crc64Nvme {
                    ChecksumType::FullObject
                } else {
                    ChecksumType::Composite
                },
            ))),
        );
    }
    Ok(r)
}

/// The upload a part request names, checked before its body is read.
async fn part_target(ctx: &Ctx) -> S3Result<(crate::meta::BucketRecord, UploadRecord, u32)> {
    let bucket = resolve(ctx).await?;
    let number = part_number(ctx)?;
    let upload = ctx
        .state
        .store
        .upload(&bucket, ctx.key()?, upload_id(ctx)?)
        .await?;
    check_initiator(ctx, &bucket, &upload)?;
    Ok((bucket, upload, number))
}

/// An upload someone started through an ACL grant is theirs: only they and the bucket's
/// owner (or its keys) go on with it, list its parts or abort it. Others are told it does
/// not exist.
fn check_initiator(
    ctx: &Ctx,
    bucket: &crate::meta::BucketRecord,
    upload: &UploadRecord,
) -> S3Result<()> {
    let p = &ctx.caller.principal;
    let theirs = upload.initiator.as_deref() == Some(p.account());
    if p.may(bucket, Permission::Read) || theirs {
        Ok(())
    } else {
        Err(S3Error::code(S3Code::NoSuchUpload))
    }
}

pub async fn upload_part(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let (bucket, upload, number) = part_target(ctx).await?;
    if let Some(len) = ctx
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > MAX_PART_SIZE && ctx.header("x-amz-decoded-content-length").is_none() {
            return Err(S3Error::code(S3Code::EntityTooLarge));
        }
    }
    if let (Some(want), Some(sent)) = (
        upload.checksum_algorithm,
        checksum_request(&ctx.parts.headers)?,
    ) {
        if sent.algorithm != want {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    want.as_str().to_ascii_lowercase(),
                    sent.algorithm.as_str().to_ascii_lowercase()
                ),
            ));
        }
    }
    // Parts always keep a checksum of the upload's algorithm (CRC64NVME by default), whatever
    // the client verified with, so Complete can combine them.
    let store_as = upload
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    // Parts are encrypted with the upload's key (an SSE-C upload's parts each bring it).
    let data_key = super::sse::for_read(ctx, upload.sse.as_ref(), super::sse::CUSTOMER).await?;
    let (staged, digests) =
        receive_body(ctx, body, Some(store_as), true, data_key.as_ref()).await?;
    let md5 = super::sse::etag_md5(upload.sse.as_ref(), data_key.as_ref(), digests.md5);
    if digests.len > MAX_PART_SIZE {
        return Err(S3Error::code(S3Code::EntityTooLarge));
    }
    let part = ctx
        .state
        .store
        .commit_part(
            &bucket,
            &upload.key,
            &upload.upload_id,
            number,
            staged,
            md5,
            Some(digests.checksum.clone()),
            (digests.sent != digests.checksum).then_some(digests.sent),
        )
        .await?;
    let mut r = status_only(StatusCode::OK);
    set(&mut r, "etag", &quote_etag(&part.etag));
    super::sse::response_headers(
        r.headers_mut(),
        &ctx.state.cfg.region,
        upload.sse.as_ref(),
        data_key.as_ref(),
    );
    // The client's own algorithm is what it expects back; the upload's is what S3 keeps.
    for c in [&part.checksum, &part.client_checksum]
        .into_iter()
        .flatten()
    {
        set(&mut r, c.algorithm.header(), &c.value);
    }
    Ok(r)
}

/// `x-amz-copy-source-range: bytes=first-last`, inclusive, within the source.
fn copy_range(v: Option<&str>, size: u64) -> S3Result<std::ops::Range<u64>> {
    let Some(v) = v else {
        return Ok(0..size);
    };
    let bad = || {
        invalid("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
    };
    let (a, b) = v
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b || b >= size {
        return Err(invalid(format!(
            "Range specified is not valid for source object of size: {size}"
        )));
    }
    Ok(a..b + 1)
}

pub async fn upload_part_copy(ctx: &Ctx) -> S3Result<Response> {
    let (bucket, upload, number) = part_target(ctx).await?;
    let store = &ctx.state.store;
    let (src_bucket, src_key, src) = copy_source(ctx).await?;
    let range = copy_range(ctx.header("x-amz-copy-source-range"), src.size)?;
    if range.end - range.start > MAX_PART_SIZE {
        return Err(S3Error::code(S3Code::EntityTooLarge));
    }
    let what = format!("{}/{}", src_bucket.name, src_key);
    let algorithm = upload
        .checksum_algorithm
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let src_data_key =
        super::sse::for_read(ctx, src.sse.as_ref(), super::sse::COPY_SOURCE_CUSTOMER).await?;
    let data_key = super::sse::for_read(ctx, upload.sse.as_ref(), super::sse::CUSTOMER).await?;
    let keys = crate::store::CopyKeys {
        src: src_data_key.as_ref(),
        dest: data_key.as_ref(),
        part: true,
    };
    let (staged, mut digests) = store
        .copy_to_staged(&what, &src, range, Some(algorithm), keys)
        .await?;
    digests.md5 = super::sse::etag_md5(upload.sse.as_ref(), data_key.as_ref(), digests.md5);
    let part = store
        .commit_part(
            &bucket,
            &upload.key,
            &upload.upload_id,
            number,
            staged,
            digests.md5,
            Some(digests.checksum),
            None,
        )
        .await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("LastModified", &iso_date(part.last_modified_ms))
        .elem("ETag", &quote_etag(&part.etag));
    if let (Some(c), Some(_)) = (&part.checksum, upload.checksum_algorithm) {
        w.elem(checksum_element(c.algorithm), &c.value);
    }
    let mut r = xml_ok(w.finish());
    super::sse::response_headers(
        r.headers_mut(),
        &ctx.state.cfg.region,
        upload.sse.as_ref(),
        data_key.as_ref(),
    );
    Ok(r)
}

pub async fn complete(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let key = ctx.key()?;
    let store = &ctx.state.store;
    let id = upload_id(ctx)?;
    let upload = match store.upload(&bucket, key, id).await {
        Ok(u) => u,
        // SDKs retry a Complete whose answer they lost: if this upload made the object that
        // is there now, the retry gets the same 200.
        Err(crate::error::Error::NoSuchUpload) => {
            return already_completed(ctx, &bucket, key, id).await
        }
        Err(e) => return Err(e.into()),
    };
    check_initiator(ctx, &bucket, &upload)?;
    let cond = write_condition(&ctx.parts.headers)?;
    let mut payload = Payload::new(body, &ctx.verified);
    let doc = payload.read_small(MAX_COMPLETE_DOC).await?;
    let req: xml::CompleteMultipartUpload =
        xml::parse(&doc).map_err(|m| S3Error::new(S3Code::MalformedXML, m))?;
    if req.parts.is_empty() {
        return Err(S3Error::new(
            S3Code::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema: it names no parts.",
        ));
    }
    let requested: Vec<RequestedPart> = req
        .parts
        .iter()
        .map(|p| RequestedPart {
            number: p.part_number,
            etag: unquote_etag(&p.etag).to_owned(),
            checksum: p.checksum(),
        })
        .collect();
    let expected = ChecksumAlgorithm::ALL.into_iter().find_map(|a| {
        ctx.header(a.header()).map(|v| crate::checksum::Checksum {
            algorithm: a,
            value: v.to_owned(),
        })
    });
    let rec = match store
        .complete_upload(&bucket, &upload, &requested, expected.as_ref(), cond)
        .await
    {
        Ok(rec) => rec,
        // A retry racing the first Complete: it may have just committed.
        Err(crate::error::Error::NoSuchUpload) => {
            return already_completed(ctx, &bucket, key, id).await
        }
        Err(e) => return Err(e.into()),
    };
    Ok(complete_result(ctx, &bucket, key, &rec))
}

/// A Complete for an upload that is gone: the same 200 if that upload made the object that
/// is there now (an SDK retrying an answer it lost), else NoSuchUpload.
async fn already_completed(
    ctx: &Ctx,
    bucket: &crate::meta::BucketRecord,
    key: &str,
    id: &str,
) -> S3Result<Response> {
    let current = match ctx.state.store.object(bucket, key, None).await {
        Ok(rec) => Some(rec),
        Err(crate::error::Error::NoSuchKey | crate::error::Error::DeleteMarker { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    match current.filter(|o| o.upload_id.as_deref() == Some(id)) {
        Some(rec) => Ok(complete_result(ctx, bucket, key, &rec)),
        None => Err(S3Error::code(S3Code::NoSuchUpload)),
    }
}

fn complete_result(
    ctx: &Ctx,
    b: &crate::meta::BucketRecord,
    key: &str,
    rec: &crate::meta::ObjectRecord,
) -> Response {
    let bucket = b.name.as_str();
    let host = ctx.header("host").unwrap_or("localhost");
    let scheme = if ctx.state.cfg.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem(
        "Location",
        &format!(
            "{scheme}://{host}/{}/{}",
            bucket,
            crate::auth::sigv4::uri_encode(key, false)
        ),
    )
    .elem("Bucket", bucket)
    .elem("Key", key)
    .elem("ETag", &quote_etag(&rec.etag));
    if let Some(c) = &rec.checksum {
        w.elem(checksum_element(c.algorithm), &c.value)
            .elem("ChecksumType", checksum_type_name(rec.checksum_type));
    }
    let mut r = xml_ok(w.finish());
    super::object::version_header(r.headers_mut(), b, rec);
    // An SSE-C Complete may carry the key: its MD5 is shown back, as S3 does.
    // Only the key the object was written with (a wrong one is not shown back as right).
    let customer =
        super::sse::customer_key(&ctx.parts.headers, &ctx.state.cfg, super::sse::CUSTOMER)
            .ok()
            .flatten()
            .filter(|k| {
                rec.sse.as_ref().is_some_and(|e| {
                    e.mode == crate::meta::sse::SseMode::Customer
                        && ctx.state.kms.open(e, Some(k)).is_ok()
                })
            });
    super::sse::response_headers(
        r.headers_mut(),
        &ctx.state.cfg.region,
        rec.sse.as_ref(),
        customer.as_ref(),
    );
    super::lifecycle::expiration_header(r.headers_mut(), ctx, b, key, rec);
    r
}

pub async fn abort(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let (key, id) = (ctx.key()?, upload_id(ctx)?);
    let upload = ctx.state.store.upload(&bucket, key, id).await?;
    check_initiator(ctx, &bucket, &upload)?;
    ctx.state.store.abort_upload(&bucket, key, id).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

fn owner(w: &mut XmlWriter, tag: &'static str, account: &str) {
    w.open(tag)
        .elem("ID", &owner_id(account))
        .elem("DisplayName", account)
        .close();
}

pub async fn list_parts(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let key = ctx.key()?;
    let store = &ctx.state.store;
    let upload = store.upload(&bucket, key, upload_id(ctx)?).await?;
    check_initiator(ctx, &bucket, &upload)?;
    let max = max_param(&ctx.query, "max-parts", MAX_LISTED)?;
    let marker = match ctx.query.get("part-number-marker") {
        None => 0,
        Some(m) => m.parse::<u32>().map_err(|_| {
            invalid("Provided part-number-marker not an integer or within integer range")
        })?,
    };
    let (parts, truncated) = store.list_parts(&upload.upload_id, marker, max).await?;
    let mut w = XmlWriter::new("ListPartsResult");
    w.elem("Bucket", &bucket.name)
        .elem("Key", key)
        .elem("UploadId", &upload.upload_id)
        .elem("PartNumberMarker", &marker.to_string());
    if let Some(last) = parts.last() {
        w.elem("NextPartNumberMarker", &last.part_number.to_string());
    }
    w.elem("MaxParts", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    for p in &parts {
        w.open("Part")
            .elem_u64("PartNumber", u64::from(p.part_number))
            .elem_date("LastModified", p.last_modified_ms)
            .elem_quoted("ETag", &p.etag)
            .elem_u64("Size", p.size);
        if let (Some(c), Some(_)) = (&p.checksum, upload.checksum_algorithm) {
            w.elem(checksum_element(c.algorithm), &c.value);
        }
        w.close();
    }
    owner(
        &mut w,
        "Initiator",
        upload.initiator.as_deref().unwrap_or(&bucket.owner),
    );
    owner(
        &mut w,
        "Owner",
        upload.owner.as_deref().unwrap_or(&bucket.owner),
    );
    w.elem("StorageClass", "STANDARD");
    if let Some(a) = upload.checksum_algorithm {
        w.elem("ChecksumAlgorithm", a.as_str());
    }
    Ok(xml_ok(w.finish()))
}

pub async fn list_uploads(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let q = &ctx.query;
    let prefix = q.get("prefix").unwrap_or("");
    let delimiter = q.get("delimiter").filter(|d| !d.is_empty());
    let key_marker = q.get("key-marker").filter(|k| !k.is_empty());
    let upload_id_marker = q.get("upload-id-marker").filter(|_| key_marker.is_some());
    let max = max_param(&ctx.query, "max-uploads", MAX_LISTED)?;
    let url = match q.get("encoding-type") {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(_) => return Err(invalid("Invalid Encoding Method specified in Request")),
    };
    let enc = |s: &str| -> String {
        if url {
            crate::auth::sigv4::uri_encode(s, false)
        } else {
            s.to_owned()
        }
    };
    let page = ctx
        .state
        .store
        .list_uploads(
            &bucket,
            prefix,
            delimiter,
            key_marker,
            upload_id_marker,
            max,
        )
        .await?;
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.elem("Bucket", &bucket.name)
        .elem("KeyMarker", &enc(key_marker.unwrap_or("")))
        .elem("UploadIdMarker", upload_id_marker.unwrap_or(""));
    if let Some((k, u)) = &page.next {
        w.elem("NextKeyMarker", &enc(k))
            .elem("NextUploadIdMarker", u);
    }
    w.elem("Prefix", &enc(prefix));
    w.opt("Delimiter", delimiter.map(enc).as_deref());
    w.elem("MaxUploads", &max.to_string()).elem(
        "IsTruncated",
        if page.next.is_some() { "true" } else { "false" },
    );
    if url {
        w.elem("EncodingType", "url");
    }
    for e in &page.entries {
        if let UploadEntry::Upload(u) = e {
            w.open("Upload")
                .elem("Key", &enc(&u.key))
                .elem("UploadId", &u.upload_id);
            owner(
                &mut w,
                "Initiator",
                u.initiator.as_deref().unwrap_or(&bucket.owner),
            );
            owner(&mut w, "Owner", u.owner.as_deref().unwrap_or(&bucket.owner));
            w.elem("StorageClass", "STANDARD")
                .elem_date("Initiated", u.initiated_ms);
            if let Some(a) = u.checksum_algorithm {
                w.elem("ChecksumAlgorithm", a.as_str());
            }
            w.close();
        }
    }
    for e in &page.entries {
        if let UploadEntry::CommonPrefix(p) = e {
            w.open("CommonPrefixes").elem("Prefix", &enc(p)).close();
        }
    }
    Ok(xml_ok(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_ranges() {
        assert_eq!(copy_range(None, 10).unwrap(), 0..10);
        assert_eq!(copy_range(Some("bytes=0-9"), 10).unwrap(), 0..10);
        assert_eq!(copy_range(Some(" bytes=3-3 "), 10).unwrap(), 3..4);
        for bad in [
            "bytes=5-4",
            "bytes=0-10",
            "bytes=-3",
            "bytes=2-",
            "3-4",
            "bytes=a-b",
        ] {
            let e = copy_range(Some(bad), 10).unwrap_err();
            assert_eq!(e.code, S3Code::InvalidArgument, "{bad}");
        }
    }
}
