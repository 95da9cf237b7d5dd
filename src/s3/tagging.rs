//! Tagging: Get/Put/DeleteObjectTagging (of any version) and Get/Put/DeleteBucketTagging.

use http::StatusCode;

use super::bucket::resolve;
use super::error::{S3Code, S3Error, S3Result};
use super::object::{named_version, read_document, version_header, version_param};
use super::{status_only, xml_ok, Ctx};
use crate::meta::Tags;
use crate::web::body::{RequestBody, Response};
use crate::xml::{self, XmlWriter};

/// A Tagging document is small: 50 tags of 128 + 256 characters fit many times over.
const MAX_TAGGING_DOC: usize = 256 * 1024;

pub fn tagging_document(tags: &Tags) -> String {
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (k, v) in tags {
        w.open("Tag").elem("Key", k).elem("Value", v).close();
    }
    w.close();
    w.finish()
}

pub fn parse_tagging(doc: &[u8]) -> S3Result<Tags> {
    let t: xml::Tagging =
        xml::parse(doc).map_err(|m| S3Error::new(S3Code::MalformedXML, format!("Tagging: {m}")))?;
    Ok(t.tag_set
        .tags
        .into_iter()
        .map(|t| (t.key, t.value.unwrap_or_default()))
        .collect())
}

pub async fn get_object_tagging(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let rec = named_version(ctx, &bucket).await?;
    let mut r = xml_ok(tagging_document(&rec.tags));
    version_header(r.headers_mut(), &bucket, &rec);
    Ok(r)
}

pub async fn put_object_tagging(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let version = version_param(ctx)?;
    let doc = read_document(ctx, body, MAX_TAGGING_DOC).await?;
    let tags = parse_tagging(&doc)?;
    let rec = ctx
        .state
        .store
        .set_object_tags(&bucket, ctx.key()?, version.as_ref(), tags)
        .await?;
    let mut r = status_only(StatusCode::OK);
    version_header(r.headers_mut(), &bucket, &rec);
    Ok(r)
}

pub async fn delete_object_tagging(ctx: &Ctx) -> S3Result<Response> {
    let bucket = resolve(ctx).await?;
    let version = version_param(ctx)?;
    let rec = ctx
        .state
        .store
        .set_object_tags(&bucket, ctx.key()?, version.as_ref(), Tags::new())
        .await?;
    let mut r = status_only(StatusCode::NO_CONTENT);
    version_header(r.headers_mut(), &bucket, &rec);
    Ok(r)
}

pub async fn get_bucket_tagging(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    match &b.tags {
        Some(tags) => Ok(xml_ok(tagging_document(tags))),
        None => Err(S3Error::code(S3Code::NoSuchTagSet).with("BucketName", b.name)),
    }
}

pub async fn put_bucket_tagging(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_TAGGING_DOC).await?;
    let tags = parse_tagging(&doc)?;
    ctx.state.store.set_bucket_tags(&b, Some(tags)).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

pub async fn delete_bucket_tagging(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    ctx.state.store.set_bucket_tags(&b, None).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_documents_round_trip() {
        let tags: Tags = vec![
            ("a b".into(), "x&y".into()),
            ("empty".into(), String::new()),
        ];
        let doc = tagging_document(&tags);
        assert!(
            doc.contains("<Key>a b</Key><Value>x&amp;y</Value>"),
            "{doc}"
        );
        assert_eq!(parse_tagging(doc.as_bytes()).unwrap(), tags);
        let bare = b"<Tagging><TagSet><Tag><Key>k</Key><Value/></Tag></TagSet></Tagging>";
        assert_eq!(parse_tagging(bare).unwrap(), vec![("k".into(), "".into())]);
        assert!(parse_tagging(b"<Tagging><TagSet/></Tagging>")
            .unwrap()
            .is_empty());
        assert_eq!(
            parse_tagging(b"<Tagging>").unwrap_err().code,
            S3Code::MalformedXML
        );
        assert_eq!(
            parse_tagging(b"<Tagging></Tagging>").unwrap_err().code,
            S3Code::MalformedXML,
            "a TagSet is required"
        );
    }
}
