//! Server-side encryption on the S3 surface: the `x-amz-server-side-encryption*` headers of
//! writes and reads (SSE-S3, SSE-KMS, SSE-C), the headers responses carry, and
//! Get/Put/DeleteBucketEncryption (a bucket's default).

use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use md5::Digest as _;
use serde::Deserialize;

use super::error::{S3Code, S3Error, S3Result};
use super::headers::header;
use super::object::read_document;
use super::object::set;
use super::{status_only, xml_ok, Ctx};
use crate::access::kms::{key_arn, key_id_of, Kms, SseRequest};
use std::sync::Arc;

use crate::cipher::DataKey;
use crate::config::Config;
use crate::meta::sse::{BucketEncryption, Encryption, SseMode};
use crate::meta::BucketRecord;
use crate::web::body::{RequestBody, Response};
use crate::xml::{self, XmlWriter};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const MAX_ENCRYPTION_DOC: usize = 16 * 1024;

/// SSE-C headers of the object a request writes or reads.
pub const CUSTOMER: &str = "x-amz-server-side-encryption-customer-";
/// SSE-C headers of a copy's source.
pub const COPY_SOURCE_CUSTOMER: &str = "x-amz-copy-source-server-side-encryption-customer-";

/// The data key of a write and how it was made; both `None` for bytes stored as sent.
#[derive(Debug, Default)]
pub struct Sealing {
    pub key: Option<DataKey>,
    pub sse: Option<Encryption>,
}

fn invalid(m: impl Into<String>) -> S3Error {
    S3Error::new(S3Code::InvalidArgument, m)
}

/// The customer key of SSE-C headers under `prefix` (`algorithm`, `key`, `key-MD5`), checked
/// as S3 checks them; `None` when none of them is present.
pub fn customer_key(h: &HeaderMap, cfg: &Config, prefix: &str) -> S3Result<Option<DataKey>> {
    let get = |name: &str| header(h, &format!("{prefix}{name}"));
    let (alg, key, md5) = (get("algorithm"), get("key"), get("key-md5"));
    if alg.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    if cfg.tls.is_none() && !cfg.encryption.customer_keys_over_http {
        return Err(S3Error::new(
            S3Code::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    match alg {
        Some("AES256") => {}
        Some(_) => {
            return Err(invalid(
                "The encryption algorithm specified is not valid: SSE-C takes AES256.",
            ))
        }
        None => {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
            ))
        }
    }
    let key = key.ok_or_else(|| {
        invalid("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
    })?;
    let bytes: [u8; 32] = B64
        .decode(key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| invalid("The secret key was invalid for the specified algorithm."))?;
    let md5 = md5.ok_or_else(|| {
        invalid("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
    })?;
    let want = B64.encode(md5::Md5::digest(bytes));
    if md5.trim() != want {
        return Err(invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    Ok(Some(DataKey::from_bytes(bytes)))
}

/// What a write's headers (or a form's fields) ask for; `None`: nothing (the bucket's
/// default then applies).
pub fn requested(h: &HeaderMap, cfg: &Config) -> S3Result<Option<SseRequest>> {
    let customer = customer_key(h, cfg, CUSTOMER)?;
    let mode = header(h, "x-amz-server-side-encryption").map(str::trim);
    let kms_key = header(h, "x-amz-server-side-encryption-aws-kms-key-id");
    let bucket_key = match header(h, "x-amz-server-side-encryption-bucket-key-enabled") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(invalid(
                "x-amz-server-side-encryption-bucket-key-enabled must be true or false.",
            ))
        }
    };
    if header(h, "x-amz-server-side-encryption-context").is_some() {
        return Err(S3Error::new(
            S3Code::NotImplemented,
            "An SSE-KMS encryption context is not supported by this server.",
        ));
    }
    if kms_key.is_some() && mode != Some("aws:kms") {
        return Err(invalid(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ));
    }
    if let Some(customer) = customer {
        if mode.is_some() {
            return Err(invalid(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            ));
        }
        return Ok(Some(SseRequest::Customer(customer)));
    }
    match mode {
        None => Ok(None),
        Some("AES256") => Ok(Some(SseRequest::S3 { bucket_key })),
        Some("aws:kms") => {
            let key = match kms_key {
                Some(r) => Some(
                    key_id_of(r)
                        .ok_or_else(|| invalid(format!("Invalid KMS key id `{r}`.")))?
                        .to_owned(),
                ),
                None => None,
            };
            Ok(Some(SseRequest::Kms { key, bucket_key }))
        }
        Some("aws:kms:dsse") => Err(S3Error::new(
            S3Code::NotImplemented,
            "Dual-layer SSE-KMS (aws:kms:dsse) is not supported by this server.",
        )),
        Some(other) => Err(invalid(format!(
            "The encryption method `{other}` is not supported: use AES256 or aws:kms."
        ))),
    }
}

/// The key of a new object (or upload): as `req` asks, else as the bucket's default says.
pub async fn seal_with(
    kms: &Arc<Kms>,
    bucket: &BucketRecord,
    req: Option<SseRequest>,
) -> S3Result<Sealing> {
    // Most keys are made in memory: not worth a trip to the blocking pool.
    let made = match req.or_else(|| crate::access::kms::default_request(bucket)) {
        Some(req) => match kms.try_new_key(&req) {
            Some(made) => Some(made?),
            None => Some(kms.blocking(move |k| k.new_key(&req)).await?),
        },
        None => None,
    };
    Ok(match made {
        Some((key, sse)) => Sealing {
            key: Some(key),
            sse: Some(sse),
        },
        None => Sealing::default(),
    })
}

/// [`seal_with`] what the request's headers ask for.
pub async fn for_write(ctx: &Ctx, bucket: &BucketRecord) -> S3Result<Sealing> {
    let req = requested(&ctx.parts.headers, &ctx.state.cfg)?;
    seal_with(&ctx.state.kms, bucket, req).await
}

/// The SSE-C headers under `prefix`, checked against an object (or upload) encrypted as
/// `sse`: required, and with the right key, for an SSE-C object; refused for any other.
/// Returns the customer's key. Cheap: nothing is unwrapped.
pub fn check_customer(
    ctx: &Ctx,
    sse: Option<&Encryption>,
    prefix: &str,
) -> S3Result<Option<DataKey>> {
    let customer = customer_key(&ctx.parts.headers, &ctx.state.cfg, prefix)?;
    let Some(enc) = sse else {
        if customer.is_some() {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                "The encryption parameters are not applicable to this object.",
            ));
        }
        return Ok(None);
    };
    match (enc.mode, &customer) {
        (SseMode::Customer, None) => {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            ))
        }
        (SseMode::S3 | SseMode::Kms, Some(_)) => {
            return Err(S3Error::new(
                S3Code::InvalidRequest,
                "The encryption parameters are not applicable to this object.",
            ))
        }
        (SseMode::Customer, Some(k)) => {
            ctx.state.kms.open(enc, Some(k))?;
        }
        _ => {}
    }
    Ok(customer)
}

/// The data key of an object encrypted as `sse` whose SSE-C headers [`check_customer`]
/// passed (`customer`): unwrapped for SSE-S3 and SSE-KMS, the customer's for SSE-C.
pub async fn data_key(
    ctx: &Ctx,
    sse: Option<&Encryption>,
    customer: Option<DataKey>,
) -> S3Result<Option<DataKey>> {
    let Some(enc) = sse else { return Ok(None) };
    if enc.mode == SseMode::Customer {
        return Ok(customer);
    }
    // Most opens are a ChaCha20-Poly1305 of 32 bytes: not worth a trip to the blocking pool
    // (that trip halved the rate of small encrypted GETs).
    if let Some(opened) = ctx.state.kms.try_open(enc, None) {
        return Ok(Some(opened?));
    }
    let enc = enc.clone();
    Ok(Some(
        ctx.state.kms.blocking(move |k| k.open(&enc, None)).await?,
    ))
}

/// The data key to read an object (or write a part of an upload) encrypted as `sse`, with
/// the SSE-C headers under `prefix` (see [`check_customer`]).
pub async fn for_read(
    ctx: &Ctx,
    sse: Option<&Encryption>,
    prefix: &str,
) -> S3Result<Option<DataKey>> {
    let customer = check_customer(ctx, sse, prefix)?;
    data_key(ctx, sse, customer).await
}

/// The MD5 a write's ETag is made of: the body's for SSE-S3 and unencrypted objects (as on
/// S3), a random one for SSE-C and SSE-KMS, whose ETags S3 keeps from telling anything of the
/// plaintext (they are listed to whoever may list the bucket).
///
/// Made from the data key `key` and the MD5, so a retried PUT or part of the same bytes gets
/// the same ETag (a client may Complete with either attempt's).
pub fn etag_md5(sse: Option<&Encryption>, key: Option<&DataKey>, md5: [u8; 16]) -> [u8; 16] {
    match (sse.map(|e| e.mode), key) {
        (Some(SseMode::Customer | SseMode::Kms), Some(k)) => {
            let mac = k.mac(&[b"cnx-etag/".as_slice(), &md5].concat());
            let mut out = [0u8; 16];
            out.copy_from_slice(&mac[..16]);
            out
        }
        (Some(SseMode::Customer | SseMode::Kms), None) => *uuid::Uuid::new_v4().as_bytes(),
        _ => md5,
    }
}

/// GET and HEAD take no encryption of their own: S3 refuses these headers there.
pub fn refuse_write_headers(ctx: &Ctx) -> S3Result<()> {
    for name in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
    ] {
        if header(&ctx.parts.headers, name).is_some() {
            return Err(invalid(format!(
                "The {name} header is not supported for this operation."
            )));
        }
    }
    Ok(())
}

/// The headers that tell a client how an object is encrypted; `key` is the SSE-C key the
/// request gave (its MD5 is shown back).
pub fn response_headers(
    h: &mut HeaderMap,
    region: &str,
    sse: Option<&Encryption>,
    key: Option<&DataKey>,
) {
    let Some(enc) = sse else { return };
    match enc.mode {
        SseMode::S3 => set(h, "x-amz-server-side-encryption", "AES256"),
        SseMode::Kms => {
            set(h, "x-amz-server-side-encryption", "aws:kms");
            if let Some(id) = &enc.kms_key {
                set(
                    h,
                    "x-amz-server-side-encryption-aws-kms-key-id",
                    &key_arn(region, id),
                );
            }
        }
        SseMode::Customer => {
            set(
                h,
                "x-amz-server-side-encryption-customer-algorithm",
                "AES256",
            );
            if let Some(k) = key {
                set(
                    h,
                    "x-amz-server-side-encryption-customer-key-md5",
                    &B64.encode(md5::Md5::digest(k.as_bytes())),
                );
            }
        }
    }
    if enc.bucket_key && enc.mode == SseMode::Kms {
        set(h, "x-amz-server-side-encryption-bucket-key-enabled", "true");
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServerSideEncryptionConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    #[serde(default)]
    apply_server_side_encryption_by_default: Option<ByDefault>,
    #[serde(default)]
    bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct ByDefault {
    #[serde(rename = "SSEAlgorithm", default)]
    algorithm: Option<String>,
    #[serde(rename = "KMSMasterKeyID", default)]
    kms_key: Option<String>,
}

fn parse_configuration(doc: &[u8]) -> S3Result<BucketEncryption> {
    let malformed = |m: String| S3Error::new(S3Code::MalformedXML, m);
    let c: ServerSideEncryptionConfiguration = xml::parse(doc)
        .map_err(|m| malformed(format!("ServerSideEncryptionConfiguration: {m}")))?;
    let [rule] = c.rules.as_slice() else {
        return Err(malformed(
            "ServerSideEncryptionConfiguration holds exactly one Rule.".into(),
        ));
    };
    let by_default = rule
        .apply_server_side_encryption_by_default
        .as_ref()
        .ok_or_else(|| malformed("The Rule needs ApplyServerSideEncryptionByDefault.".into()))?;
    let bucket_key = rule.bucket_key_enabled.unwrap_or(false);
    match by_default.algorithm.as_deref().map(str::trim) {
        Some("AES256") => {
            if by_default.kms_key.is_some() {
                return Err(invalid(
                    "KMSMasterKeyID may only be given with SSEAlgorithm aws:kms.",
                ));
            }
            Ok(BucketEncryption {
                mode: SseMode::S3,
                kms_key: None,
                bucket_key,
            })
        }
        Some("aws:kms") => {
            let kms_key = match by_default.kms_key.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(r) => Some(
                    key_id_of(r)
                        .ok_or_else(|| invalid(format!("Invalid KMS key id `{r}`.")))?
                        .to_owned(),
                ),
            };
            Ok(BucketEncryption {
                mode: SseMode::Kms,
                kms_key,
                bucket_key,
            })
        }
        Some("aws:kms:dsse") => Err(S3Error::new(
            S3Code::NotImplemented,
            "Dual-layer SSE-KMS (aws:kms:dsse) is not supported by this server.",
        )),
        _ => Err(malformed("SSEAlgorithm must be AES256 or aws:kms.".into())),
    }
}

pub async fn get_bucket_encryption(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let Some(e) = &b.encryption else {
        return Err(
            S3Error::code(S3Code::ServerSideEncryptionConfigurationNotFoundError)
                .with("BucketName", b.name.clone()),
        );
    };
    let mut w = XmlWriter::new("ServerSideEncryptionConfiguration");
    w.open("Rule").open("ApplyServerSideEncryptionByDefault");
    w.elem("SSEAlgorithm", e.mode.as_s3());
    if let Some(id) = &e.kms_key {
        w.elem("KMSMasterKeyID", &key_arn(&ctx.state.cfg.region, id));
    }
    w.close();
    w.elem(
        "BucketKeyEnabled",
        if e.bucket_key { "true" } else { "false" },
    );
    w.close();
    Ok(xml_ok(w.finish()))
}

pub async fn put_bucket_encryption(ctx: &Ctx, body: &mut RequestBody) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    let doc = read_document(ctx, body, MAX_ENCRYPTION_DOC).await?;
    let config = parse_configuration(&doc)?;
    check_default_key(ctx, &config).await?;
    ctx.state
        .store
        .update_bucket(&b, move |rec| {
            rec.encryption = Some(config.clone());
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::OK))
}

/// A default naming a KMS key must name one that exists and is enabled, so writes do not
/// fail later for it.
pub async fn check_default_key(ctx: &Ctx, config: &BucketEncryption) -> S3Result<()> {
    if let (SseMode::Kms, Some(id)) = (config.mode, config.kms_key.clone()) {
        ctx.state
            .kms
            .blocking(move |k| k.ensure_usable(&id))
            .await?;
    }
    Ok(())
}

pub async fn delete_bucket_encryption(ctx: &Ctx) -> S3Result<Response> {
    let b = super::bucket::resolve(ctx).await?;
    ctx.state
        .store
        .update_bucket(&b, |rec| {
            rec.encryption = None;
            Ok(())
        })
        .await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_encryption_documents() {
        let doc = |inner: &str| {
            format!(
                "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>{inner}</Rule></ServerSideEncryptionConfiguration>"
            )
        };
        let c = parse_configuration(
            doc("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>").as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (c.mode, c.kms_key, c.bucket_key),
            (SseMode::S3, None, false)
        );
        let c = parse_configuration(
            doc("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:in-mum:1:key/app</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>").as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (c.mode, c.kms_key.as_deref(), c.bucket_key),
            (SseMode::Kms, Some("app"), true)
        );
        for bad in [
            doc("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"),
            doc("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>"),
            doc(""),
            "<ServerSideEncryptionConfiguration/>".to_owned(),
        ] {
            assert!(parse_configuration(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
