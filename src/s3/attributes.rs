//! GetObjectAttributes: an object's ETag, checksum, parts, storage class and size in one call,
//! without its bytes.

use http::HeaderValue;

use super::bucket::resolve;
use super::error::{S3Code, S3Error, S3Result};
use super::headers::http_date;
use super::object::{checksum_element, checksum_type_name, named_version, version_header};
use super::{max_param, xml_ok, Ctx};
use crate::meta::ObjectRecord;
use crate::web::body::Response;
use crate::web::query::Query;
use crate::xml::XmlWriter;

const MAX_PARTS: usize = 1000;

#[derive(Debug, Default, PartialEq, Eq)]
struct Wanted {
    etag: bool,
    checksum: bool,
    parts: bool,
    storage_class: bool,
    size: bool,
}

/// `x-amz-object-attributes`: a comma-separated list of attribute names, at least one.
fn wanted(header: Option<&str>) -> S3Result<Wanted> {
    let invalid = || S3Error::new(S3Code::InvalidArgument, "Invalid attribute name specified.");
    let mut w = Wanted::default();
    for name in header
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        match name {
            "ETag" => w.etag = true,
            "Checksum" => w.checksum = true,
            "ObjectParts" => w.parts = true,
            "StorageClass" => w.storage_class = true,
            "ObjectSize" => w.size = true,
            _ => return Err(invalid()),
        }
    }
    if w == Wanted::default() {
        return Err(invalid());
    }
    Ok(w)
}

/// `x-amz-part-number-marker`: list parts after this number.
fn part_marker(ctx: &Ctx) -> S3Result<usize> {
    match ctx.header("x-amz-part-number-marker") {
        None => Ok(0),
        Some(v) => v.trim().parse().map_err(|_| {
            S3Error::new(
                S3Code::InvalidArgument,
                "Part number marker must be a non-negative integer.",
            )
        }),
    }
}

fn write_parts(w: &mut XmlWriter, rec: &ObjectRecord, count: u32, after: usize, max: usize) {
    w.open("ObjectParts");
    let end = rec.segments.len().min(after.saturating_add(max));
    let truncated = end < rec.segments.len();
    w.elem("IsTruncated", if truncated { "true" } else { "false" })
        .elem("MaxParts", &max.to_string())
        .elem("PartNumberMarker", &after.to_string());
    if truncated {
        w.elem("NextPartNumberMarker", &end.to_string());
    }
    for (i, seg) in rec.segments.iter().enumerate().take(end).skip(after) {
        w.open("Part");
        if let Some(c) = &seg.checksum {
            w.elem(checksum_element(c.algorithm), &c.value);
        }
        w.elem("PartNumber", &(i + 1).to_string())
            .elem_u64("Size", seg.len)
            .close();
    }
    w.elem("PartsCount", &count.to_string());
    w.close();
}

pub async fn get_object_attributes(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let want = wanted(ctx.header("x-amz-object-attributes"))?;
    // The page size travels as a header here, not as a query parameter.
    let max_parts = max_param(
        &Query(
            ctx.header("x-amz-max-parts")
                .map(|v| ("max-parts".to_owned(), v.to_owned()))
                .into_iter()
                .collect(),
        ),
        "max-parts",
        MAX_PARTS,
    )?;
    let after = part_marker(ctx)?;
    let rec = named_version(ctx, &bucket).await?;
    // An SSE-C object's attributes (its checksums among them) take its key, as on S3.
    super::sse::check_customer(ctx, rec.sse.as_ref(), super::sse::CUSTOMER)?;

    let mut w = XmlWriter::new("GetObjectAttributesResponse");
    if want.etag {
        w.elem("ETag", &rec.etag);
    }
    if let (true, Some(c)) = (want.checksum, &rec.checksum) {
        // The part count travels in ObjectParts here, not as a `-N` suffix.
        let value = c.value.split_once('-').map_or(c.value.as_str(), |(v, _)| v);
        w.open("Checksum")
            .elem(checksum_element(c.algorithm), value)
            .elem("ChecksumType", checksum_type_name(rec.checksum_type))
            .close();
    }
    if let (true, Some(count)) = (want.parts, rec.part_count()) {
        write_parts(&mut w, &rec, count, after, max_parts);
    }
    if want.storage_class {
        w.elem("StorageClass", "STANDARD");
    }
    if want.size {
        w.elem("ObjectSize", &rec.size.to_string());
    }
    let mut r = xml_ok(w.finish());
    version_header(r.headers_mut(), &bucket, &rec);
    if let Ok(v) = HeaderValue::from_str(&http_date(rec.last_modified_ms)) {
        r.headers_mut().insert(http::header::LAST_MODIFIED, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lists() {
        let w = wanted(Some("ETag, ObjectSize,StorageClass")).unwrap();
        assert!(w.etag && w.size && w.storage_class && !w.checksum && !w.parts);
        for bad in [None, Some(""), Some("ETag,Colour"), Some("etag")] {
            assert_eq!(
                wanted(bad).unwrap_err().code,
                S3Code::InvalidArgument,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parts_page_after_the_marker() {
        let mut rec = crate::meta::fixtures::object(30, "a");
        rec.etag = "x-3".into();
        rec.segments = (0..3)
            .map(|i| crate::meta::Segment {
                blob: format!("b{i}"),
                len: 10,
                checksum: None,
            })
            .collect();
        let mut w = XmlWriter::new("R");
        write_parts(&mut w, &rec, 3, 1, 1);
        let doc = w.finish();
        assert!(doc.contains("<IsTruncated>true</IsTruncated>"), "{doc}");
        assert!(
            doc.contains("<NextPartNumberMarker>2</NextPartNumberMarker>"),
            "{doc}"
        );
        assert!(
            doc.contains("<PartNumber>2</PartNumber><Size>10</Size>"),
            "{doc}"
        );
        assert!(!doc.contains("<PartNumber>1<"), "{doc}");
        assert!(doc.contains("<PartsCount>3</PartsCount>"), "{doc}");
    }
}
