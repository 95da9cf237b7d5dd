//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

use crate::web::body::RequestBody;
use http::{header, HeaderValue, StatusCode};

use super::body::Payload;
use super::endpoint::AclRule;
use super::error::{S3Code, S3Error, S3Result};
use super::{owner_id, status_only, xml_ok, Ctx};
use crate::meta::acl::NewBucketAccess;
use crate::meta::{BucketRecord, Versioning};
use crate::web::body::Response;
use crate::web::query::Query;
use crate::xml::{self, XmlWriter};

/// The bucket the request names, if the caller may act on it: as its owner (or one of its
/// keys), or through what the bucket's ACL grants for the operation.
pub async fn resolve(ctx: &Ctx) -> S3Result<BucketRecord> {
    use super::endpoint::S3Op::*;
    let b = ctx.state.store.bucket(ctx.bucket_name()?).await?;
    // Operations on an object's tags, lock or attributes show the policy its current tags
    // (`s3:ExistingObjectTag/…`).
    let on_object = matches!(
        ctx.op,
        GetObjectTagging
            | PutObjectTagging
            | DeleteObjectTagging
            | GetObjectAttributes
            | GetObjectRetention
            | PutObjectRetention
            | GetObjectLegalHold
            | PutObjectLegalHold
    );
    let object = match (&ctx.key, on_object && b.policy.is_some()) {
        (Some(key), true) => {
            let version = super::object::version_param(ctx)?;
            ctx.state.store.object(&b, key, version.as_ref()).await.ok()
        }
        _ => None,
    };
    check_access_with(ctx, &b, object.as_ref())?;
    Ok(b)
}

/// Whether the caller may run the request's operation on `b` as it is stored now: a Deny
/// of the bucket's policy stops anyone; then the owner's rights, an ACL grant or a policy's
/// Allow let the caller in.
pub fn check_access(ctx: &Ctx, b: &BucketRecord) -> S3Result<()> {
    check_access_with(ctx, b, None)
}

fn check_access_with(
    ctx: &Ctx,
    b: &BucketRecord,
    object: Option<&crate::meta::ObjectRecord>,
) -> S3Result<()> {
    let p = &ctx.caller.principal;
    let facts = super::policy::Facts::of(ctx);
    // DeleteObjects names its keys in the body: the policy is asked about each of them there,
    // once some Allow could let the caller delete at all.
    let by_policy = if ctx.op == super::endpoint::S3Op::DeleteObjects {
        super::policy::allow_extends(p, ctx.op, b)
            && super::policy::may_allow(&facts, b, "s3:DeleteObject")
    } else {
        super::policy::verdict(&facts, ctx.op, b, ctx.key.as_deref(), object)?
    };
    let granted = || match ctx.op.acl_rule() {
        Some(AclRule::Bucket(wanted)) => crate::access::acl::grants(p, b, b.acl.as_ref(), wanted),
        _ => false,
    };
    if !p.may(b, ctx.need) && !granted() && !by_policy {
        return Err(S3Error::code(S3Code::AccessDenied));
    }
    Ok(())
}

/// Buckets per ListBuckets page when the client names no `max-buckets`, and the most it may.
const MAX_BUCKETS: usize = 10_000;

/// One page of `account`'s buckets as ListBuckets asks for it (`max-buckets`, `prefix`,
/// `bucket-region`, `continuation-token`), and the token of the next page.
fn buckets_page(
    all: Vec<BucketRecord>,
    account: &str,
    q: &Query,
) -> S3Result<(Vec<BucketRecord>, Option<String>)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let max = match q.get("max-buckets") {
        None => MAX_BUCKETS,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_BUCKETS).contains(n))
            .ok_or_else(|| {
                S3Error::new(
                    S3Code::InvalidArgument,
                    format!("max-buckets must be an integer from 1 to {MAX_BUCKETS}"),
                )
            })?,
    };
    let after = match q.get("continuation-token") {
        None => None,
        Some(t) => Some(
            b64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::new(
                        S3Code::InvalidArgument,
                        "The continuation token is not valid.",
                    )
                })?,
        ),
    };
    let prefix = q.get("prefix").unwrap_or("");
    let region = q.get("bucket-region");
    let mut mine: Vec<BucketRecord> = all
        .into_iter()
        .filter(|b| {
            b.owner == account
                && b.name.starts_with(prefix)
                && region.is_none_or(|r| b.region == r)
                && after.as_deref().is_none_or(|a| b.name.as_str() > a)
        })
        .take(max + 1)
        .collect();
    let next = (mine.len() > max).then(|| {
        mine.truncate(max);
        mine.last().map(|b| b64.encode(&b.name))
    });
    Ok((mine, next.flatten()))
}

pub async fn list_buckets(ctx: &Ctx) -> S3Result<Response> {
    let all = ctx.state.store.list_buckets().await?;
    let (page, next) = buckets_page(all, ctx.account(), &ctx.query)?;
    let mut w = XmlWriter::new("ListAllMyBucketsResult");
    w.open("Owner")
        .elem("ID", &owner_id(ctx.account()))
        .elem("DisplayName", ctx.account())
        .close();
    w.open("Buckets");
    for b in &page {
        w.open("Bucket")
            .elem("Name", &b.name)
            .elem_date("CreationDate", b.created_at_ms)
            .elem("BucketRegion", &b.region)
            .close();
    }
    w.close();
    w.opt("ContinuationToken", next.as_deref());
    if ctx.query.has("prefix") {
        w.elem("Prefix", ctx.query.get("prefix").unwrap_or(""));
    }
    Ok(xml_ok(w.finish()))
}

/// A CreateBucketConfiguration body (optional) must name this server's region, if any.
fn check_location(doc: &[u8], region: &str) -> S3Result<()> {
    if doc.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let conf: xml::CreateBucketConfiguration = xml::parse(doc).map_err(|m| {
        S3Error::new(
            S3Code::MalformedXML,
            format!("CreateBucketConfiguration: {m}"),
        )
    })?;
    match conf.location_constraint.filter(|l| !l.is_empty()) {
        Some(loc) if loc != region => Err(S3Error::new(
            S3Code::IllegalLocationConstraintException,
            format!(
                "The {loc} location constraint is incompatible for the region specific endpoint this request was sent to; this server is in {region}."
            ),
        )),
        _ => Ok(()),
    }
}

pub async fn create_bucket(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let name = ctx.bucket_name()?;
    let region = &ctx.state.cfg.region;
    let mut payload = Payload::new(body, &ctx.verified);
    let doc = payload.read_small(64 * 1024).await?;
    check_location(&doc, region)?;
    let object_lock = match ctx.header("x-amz-bucket-object-lock-enabled") {
        None => false,
        Some(v) if v.trim().eq_ignore_ascii_case("true") => true,
        Some(v) if v.trim().eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(S3Error::new(
                S3Code::InvalidArgument,
                format!("x-amz-bucket-object-lock-enabled must be true or false, not `{v}`"),
            ))
        }
    };
    let (ownership, acl) = super::acl::for_new_bucket(&ctx.parts.headers, ctx.account())?;
    let access = NewBucketAccess {
        ownership,
        acl,
        ..NewBucketAccess::default()
    };
    ctx.state
        .store
        .create_bucket_with(name, ctx.account(), region, object_lock, access)
        .await?;
    let mut r = status_only(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&format!("/{name}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

pub async fn head_bucket(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let mut r = status_only(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&b.region) {
        r.headers_mut().insert("x-amz-bucket-region", v);
    }
    Ok(r)
}

pub async fn delete_bucket(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    ctx.state.store.delete_bucket(&b).await?;
    ctx.state.access_log.forget(&b.name);
    Ok(status_only(StatusCode::NO_CONTENT))
}

pub async fn put_bucket_cors(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let mut payload = Payload::new(body, &ctx.verified);
    let doc = payload.read_small(64 * 1024).await?;
    let rules = crate::cors::from_xml(&doc)
        .map_err(|m| S3Error::new(S3Code::MalformedXML, format!("CORSConfiguration: {m}")))?;
    crate::cors::validate(&rules).map_err(|m| S3Error::new(S3Code::InvalidRequest, m))?;
    ctx.state.store.set_cors(&b, Some(rules)).await?;
    Ok(status_only(StatusCode::OK))
}

pub async fn get_bucket_cors(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    match b.cors_rules() {
        Some(rules) => Ok(xml_ok(crate::cors::to_xml(&rules))),
        None => Err(S3Error::code(S3Code::NoSuchCORSConfiguration).with("BucketName", b.name)),
    }
}

pub async fn delete_bucket_cors(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    ctx.state.store.set_cors(&b, None).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

pub async fn get_bucket_location(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    // AWS leaves the element empty for us-east-1 only.
    let region = if b.region == "us-east-1" {
        ""
    } else {
        &b.region
    };
    Ok(xml_ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
        xml::S3_NS,
        xml::escape(region)
    )))
}

pub async fn get_bucket_versioning(ctx: &Ctx) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let mut w = XmlWriter::new("VersioningConfiguration");
    match b.versioning {
        Versioning::Unversioned => {}
        Versioning::Enabled => {
            w.elem("Status", "Enabled");
        }
        Versioning::Suspended => {
            w.elem("Status", "Suspended");
        }
    }
    Ok(xml_ok(w.finish()))
}

/// The state a VersioningConfiguration asks for; `None` leaves it as it is.
fn requested_versioning(doc: &[u8]) -> S3Result<Option<Versioning>> {
    let conf: xml::VersioningConfiguration = xml::parse(doc).map_err(|m| {
        S3Error::new(
            S3Code::MalformedXML,
            format!("VersioningConfiguration: {m}"),
        )
    })?;
    if conf.mfa_delete.as_deref() == Some("Enabled") {
        return Err(S3Error::new(
            S3Code::NotImplemented,
            "MFA delete is not supported by this server.",
        ));
    }
    match conf.status.as_deref().map(str::trim) {
        None => Ok(None),
        Some("Enabled") => Ok(Some(Versioning::Enabled)),
        Some("Suspended") => Ok(Some(Versioning::Suspended)),
        Some(other) => Err(S3Error::new(
            S3Code::MalformedXML,
            format!("VersioningConfiguration: Status must be Enabled or Suspended, not `{other}`"),
        )),
    }
}

pub async fn put_bucket_versioning(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = resolve(ctx).await?;
    let mut payload = Payload::new(body, &ctx.verified);
    let doc = payload.read_small(64 * 1024).await?;
    if let Some(state) = requested_versioning(&doc)? {
        ctx.state.store.set_versioning(&b, state).await?;
    }
    Ok(status_only(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{BucketId, RECORD_VERSION};

    fn bucket(name: &str, owner: &str, region: &str) -> BucketRecord {
        BucketRecord {
            v: RECORD_VERSION,
            id: BucketId::random(),
            name: name.into(),
            owner: owner.into(),
            region: region.into(),
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

    fn names(page: &[BucketRecord]) -> Vec<&str> {
        page.iter().map(|b| b.name.as_str()).collect()
    }

    #[test]
    fn bucket_pages_follow_their_token() {
        let all = || {
            vec![
                bucket("a1", "me", "in-mum"),
                bucket("a2", "me", "eu-west-1"),
                bucket("b1", "me", "in-mum"),
                bucket("c1", "them", "in-mum"),
            ]
        };
        let (page, next) = buckets_page(all(), "me", &Query::parse(Some("max-buckets=2"))).unwrap();
        assert_eq!(names(&page), ["a1", "a2"]);
        let token = next.unwrap();
        let q = Query::parse(Some(&format!("max-buckets=2&continuation-token={token}")));
        let (page, next) = buckets_page(all(), "me", &q).unwrap();
        assert_eq!((names(&page), next), (vec!["b1"], None), "only my buckets");
        let q = Query::parse(Some("prefix=a&bucket-region=in-mum"));
        assert_eq!(names(&buckets_page(all(), "me", &q).unwrap().0), ["a1"]);
        for bad in [
            "max-buckets=0",
            "max-buckets=10001",
            "continuation-token=%%",
        ] {
            let e = buckets_page(all(), "me", &Query::parse(Some(bad))).unwrap_err();
            assert_eq!(e.code, S3Code::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn versioning_configurations() {
        let doc = |inner: &str| {
            format!("<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{inner}</VersioningConfiguration>")
        };
        let state = |inner: &str| requested_versioning(doc(inner).as_bytes());
        assert_eq!(
            state("<Status>Enabled</Status>").unwrap(),
            Some(Versioning::Enabled)
        );
        assert_eq!(
            state("<Status>Suspended</Status><MfaDelete>Disabled</MfaDelete>").unwrap(),
            Some(Versioning::Suspended)
        );
        assert_eq!(state("").unwrap(), None);
        assert_eq!(
            state("<Status>Off</Status>").unwrap_err().code,
            S3Code::MalformedXML
        );
        assert_eq!(
            state("<Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>")
                .unwrap_err()
                .code,
            S3Code::NotImplemented
        );
        assert_eq!(
            requested_versioning(b"<Versioning").unwrap_err().code,
            S3Code::MalformedXML
        );
    }

    #[test]
    fn the_location_constraint_must_be_ours() {
        let doc = |loc: &str| {
            format!("<CreateBucketConfiguration><LocationConstraint>{loc}</LocationConstraint></CreateBucketConfiguration>")
        };
        assert!(check_location(b"", "in-mum").is_ok());
        assert!(check_location(b"  \n", "in-mum").is_ok());
        assert!(check_location(doc("in-mum").as_bytes(), "in-mum").is_ok());
        assert!(check_location(doc("").as_bytes(), "in-mum").is_ok());
        let e = check_location(doc("us-east-1").as_bytes(), "in-mum").unwrap_err();
        assert_eq!(e.code, S3Code::IllegalLocationConstraintException);
        let e = check_location(b"<CreateBucketConfiguration>", "in-mum").unwrap_err();
        assert_eq!(e.code, S3Code::MalformedXML);
    }
}
