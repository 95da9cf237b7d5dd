//! The S3 operation a request names, parsed from method, bucket/key and query sub-resources.
//! Unknown sub-resources are `NotImplemented`, never a wrong 200.

use http::Method;

use super::error::{S3Code, S3Error, S3Result};
use crate::web::query::Query;
use crate::web::target::S3Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Op {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    DeleteObjects,
    GetObject,
    HeadObject,
    PutObject,
    CopyObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
    PutBucketCors,
    GetBucketCors,
    DeleteBucketCors,
    GetBucketVersioning,
    PutBucketVersioning,
    ListObjectVersions,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    GetBucketLifecycleConfiguration,
    PutBucketLifecycleConfiguration,
    DeleteBucketLifecycle,
    GetObjectAttributes,
    GetBucketAcl,
    PutBucketAcl,
    GetObjectAcl,
    PutObjectAcl,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketLogging,
    PutBucketLogging,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
}

/// What an access control list must grant a caller who is not the owner for an operation
/// to go ahead: a permission on the bucket, or on the object it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclRule {
    Bucket(AclPermission),
    Object(AclPermission),
}

pub use crate::access::Permission;
pub use crate::meta::acl::AclPermission;

impl S3Op {
    pub fn required_permission(self) -> Permission {
        use S3Op::*;
        match self {
            GetBucketLocation
            | HeadBucket
            | ListObjects
            | ListObjectsV2
            | GetObject
            | HeadObject
            | ListParts
            | ListMultipartUploads
            | ListObjectVersions
            | GetBucketVersioning
            | GetObjectTagging
            | GetBucketTagging
            | GetBucketLifecycleConfiguration
            | GetObjectAttributes
            | GetObjectLockConfiguration
            | GetObjectRetention
            | GetObjectLegalHold
            | GetObjectAcl => Permission::Read,
            PutObject
            | CopyObject
            | DeleteObject
            | DeleteObjects
            | CreateMultipartUpload
            | UploadPart
            | UploadPartCopy
            | CompleteMultipartUpload
            | AbortMultipartUpload
            | PutObjectTagging
            | DeleteObjectTagging
            | PutObjectRetention
            | PutObjectLegalHold
            | PutObjectAcl => Permission::Write,
            ListBuckets
            | CreateBucket
            | DeleteBucket
            | PutBucketCors
            | GetBucketCors
            | DeleteBucketCors
            | PutBucketVersioning
            | PutBucketTagging
            | DeleteBucketTagging
            | PutObjectLockConfiguration
            | PutBucketLifecycleConfiguration
            | DeleteBucketLifecycle
            | GetBucketAcl
            | PutBucketAcl
            | GetBucketOwnershipControls
            | PutBucketOwnershipControls
            | DeleteBucketOwnershipControls
            | GetPublicAccessBlock
            | PutPublicAccessBlock
            | DeletePublicAccessBlock
            | GetBucketPolicy
            | PutBucketPolicy
            | DeleteBucketPolicy
            | GetBucketPolicyStatus
            | GetBucketLogging
            | PutBucketLogging
            | GetBucketEncryption
            | PutBucketEncryption
            | DeleteBucketEncryption => Permission::Owner,
        }
    }

    /// What lets a caller other than the owner run the operation: S3's mapping of ACL
    /// permissions to operations. `None`: the owner only.
    pub fn acl_rule(self) -> Option<AclRule> {
        use AclPermission as P;
        use S3Op::*;
        Some(match self {
            HeadBucket | ListObjects | ListObjectsV2 | ListObjectVersions
            | ListMultipartUploads => AclRule::Bucket(P::Read),
            PutObject
            | CopyObject
            | DeleteObject
            | DeleteObjects
            | CreateMultipartUpload
            | UploadPart
            | UploadPartCopy
            | CompleteMultipartUpload
            | AbortMultipartUpload
            | ListParts => AclRule::Bucket(P::Write),
            GetBucketAcl => AclRule::Bucket(P::ReadAcp),
            PutBucketAcl => AclRule::Bucket(P::WriteAcp),
            GetObject | HeadObject => AclRule::Object(P::Read),
            GetObjectAcl => AclRule::Object(P::ReadAcp),
            PutObjectAcl => AclRule::Object(P::WriteAcp),
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use S3Op::*;
        match self {
            ListBuckets => "ListBuckets",
            CreateBucket => "CreateBucket",
            HeadBucket => "HeadBucket",
            DeleteBucket => "DeleteBucket",
            GetBucketLocation => "GetBucketLocation",
            ListObjects => "ListObjects",
            ListObjectsV2 => "ListObjectsV2",
            DeleteObjects => "DeleteObjects",
            GetObject => "GetObject",
            HeadObject => "HeadObject",
            PutObject => "PutObject",
            CopyObject => "CopyObject",
            DeleteObject => "DeleteObject",
            CreateMultipartUpload => "CreateMultipartUpload",
            UploadPart => "UploadPart",
            UploadPartCopy => "UploadPartCopy",
            CompleteMultipartUpload => "CompleteMultipartUpload",
            AbortMultipartUpload => "AbortMultipartUpload",
            ListParts => "ListParts",
            ListMultipartUploads => "ListMultipartUploads",
            PutBucketCors => "PutBucketCors",
            GetBucketCors => "GetBucketCors",
            DeleteBucketCors => "DeleteBucketCors",
            GetBucketVersioning => "GetBucketVersioning",
            PutBucketVersioning => "PutBucketVersioning",
            ListObjectVersions => "ListObjectVersions",
            GetObjectTagging => "GetObjectTagging",
            PutObjectTagging => "PutObjectTagging",
            DeleteObjectTagging => "DeleteObjectTagging",
            GetBucketTagging => "GetBucketTagging",
            PutBucketTagging => "PutBucketTagging",
            DeleteBucketTagging => "DeleteBucketTagging",
            GetObjectLockConfiguration => "GetObjectLockConfiguration",
            PutObjectLockConfiguration => "PutObjectLockConfiguration",
            GetObjectRetention => "GetObjectRetention",
            PutObjectRetention => "PutObjectRetention",
            GetObjectLegalHold => "GetObjectLegalHold",
            PutObjectLegalHold => "PutObjectLegalHold",
            GetBucketLifecycleConfiguration => "GetBucketLifecycleConfiguration",
            PutBucketLifecycleConfiguration => "PutBucketLifecycleConfiguration",
            DeleteBucketLifecycle => "DeleteBucketLifecycle",
            GetObjectAttributes => "GetObjectAttributes",
            GetBucketAcl => "GetBucketAcl",
            PutBucketAcl => "PutBucketAcl",
            GetObjectAcl => "GetObjectAcl",
            PutObjectAcl => "PutObjectAcl",
            GetBucketOwnershipControls => "GetBucketOwnershipControls",
            PutBucketOwnershipControls => "PutBucketOwnershipControls",
            DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            GetPublicAccessBlock => "GetPublicAccessBlock",
            PutPublicAccessBlock => "PutPublicAccessBlock",
            DeletePublicAccessBlock => "DeletePublicAccessBlock",
            GetBucketPolicy => "GetBucketPolicy",
            PutBucketPolicy => "PutBucketPolicy",
            DeleteBucketPolicy => "DeleteBucketPolicy",
            GetBucketPolicyStatus => "GetBucketPolicyStatus",
            GetBucketLogging => "GetBucketLogging",
            PutBucketLogging => "PutBucketLogging",
            GetBucketEncryption => "GetBucketEncryption",
            PutBucketEncryption => "PutBucketEncryption",
            DeleteBucketEncryption => "DeleteBucketEncryption",
        }
    }
}

/// Parameters that never select an operation: SDK hints, presign fields, per-op options.
fn is_plain_param(name: &str) -> bool {
    const PLAIN: &[&str] = &[
        "x-id",
        "prefix",
        "delimiter",
        "max-keys",
        "marker",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
        "list-type",
        "partNumber",
        "versionId",
        "x-amz-expected-bucket-owner",
        "uploadId",
        "max-parts",
        "part-number-marker",
        "max-uploads",
        "key-marker",
        "upload-id-marker",
        "max-buckets",
        "bucket-region",
        "version-id-marker",
        // Signature V2 presigned URLs, which also carry the content type and MD5 they signed.
        "AWSAccessKeyId",
        "Signature",
        "Expires",
        "content-type",
        "content-md5",
    ];
    PLAIN.contains(&name)
        || name.starts_with("X-Amz-")
        || name.starts_with("x-amz-")
        || name.starts_with("response-")
}

pub fn parse(
    method: &Method,
    target: &S3Target,
    q: &Query,
    has_copy_source: bool,
) -> S3Result<S3Op> {
    let unsupported = q.0.iter().find(|(k, _)| {
        !is_plain_param(k)
            && !matches!(
                k.as_str(),
                "location"
                    | "delete"
                    | "uploads"
                    | "cors"
                    | "versioning"
                    | "versions"
                    | "tagging"
                    | "object-lock"
                    | "retention"
                    | "legal-hold"
                    | "lifecycle"
                    | "attributes"
                    | "acl"
                    | "ownershipControls"
                    | "publicAccessBlock"
                    | "policy"
                    | "policyStatus"
                    | "logging"
                    | "encryption"
            )
    });
    let not_impl = |what: &str| {
        S3Error::new(
            S3Code::NotImplemented,
            format!("{what} is not implemented by this server."),
        )
    };
    if let Some((name, _)) = unsupported {
        return Err(not_impl(&format!("The `{name}` sub-resource")));
    }
    let op = match (&target.bucket, &target.key) {
        (None, _) => match *method {
            Method::GET => S3Op::ListBuckets,
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), None) => match *method {
            Method::GET if q.has("location") => S3Op::GetBucketLocation,
            Method::GET if q.has("cors") => S3Op::GetBucketCors,
            Method::PUT if q.has("cors") => S3Op::PutBucketCors,
            Method::DELETE if q.has("cors") => S3Op::DeleteBucketCors,
            Method::GET if q.has("versioning") => S3Op::GetBucketVersioning,
            Method::PUT if q.has("versioning") => S3Op::PutBucketVersioning,
            Method::GET if q.has("versions") => S3Op::ListObjectVersions,
            Method::GET if q.has("tagging") => S3Op::GetBucketTagging,
            Method::PUT if q.has("tagging") => S3Op::PutBucketTagging,
            Method::DELETE if q.has("tagging") => S3Op::DeleteBucketTagging,
            Method::GET if q.has("object-lock") => S3Op::GetObjectLockConfiguration,
            Method::PUT if q.has("object-lock") => S3Op::PutObjectLockConfiguration,
            Method::GET if q.has("lifecycle") => S3Op::GetBucketLifecycleConfiguration,
            Method::PUT if q.has("lifecycle") => S3Op::PutBucketLifecycleConfiguration,
            Method::DELETE if q.has("lifecycle") => S3Op::DeleteBucketLifecycle,
            Method::GET if q.has("acl") => S3Op::GetBucketAcl,
            Method::PUT if q.has("acl") => S3Op::PutBucketAcl,
            Method::GET if q.has("ownershipControls") => S3Op::GetBucketOwnershipControls,
            Method::PUT if q.has("ownershipControls") => S3Op::PutBucketOwnershipControls,
            Method::DELETE if q.has("ownershipControls") => S3Op::DeleteBucketOwnershipControls,
            Method::GET if q.has("publicAccessBlock") => S3Op::GetPublicAccessBlock,
            Method::PUT if q.has("publicAccessBlock") => S3Op::PutPublicAccessBlock,
            Method::DELETE if q.has("publicAccessBlock") => S3Op::DeletePublicAccessBlock,
            Method::GET if q.has("policy") => S3Op::GetBucketPolicy,
            Method::PUT if q.has("policy") => S3Op::PutBucketPolicy,
            Method::DELETE if q.has("policy") => S3Op::DeleteBucketPolicy,
            Method::GET if q.has("policyStatus") => S3Op::GetBucketPolicyStatus,
            Method::GET if q.has("logging") => S3Op::GetBucketLogging,
            Method::PUT if q.has("logging") => S3Op::PutBucketLogging,
            Method::GET if q.has("encryption") => S3Op::GetBucketEncryption,
            Method::PUT if q.has("encryption") => S3Op::PutBucketEncryption,
            Method::DELETE if q.has("encryption") => S3Op::DeleteBucketEncryption,
            _ if q.has("acl")
                || q.has("ownershipControls")
                || q.has("publicAccessBlock")
                || q.has("policy")
                || q.has("policyStatus")
                || q.has("logging")
                || q.has("encryption") =>
            {
                return Err(S3Error::code(S3Code::MethodNotAllowed))
            }
            _ if q.has("retention") || q.has("legal-hold") || q.has("attributes") => {
                return Err(not_impl("Retention, legal hold and attributes of a bucket"))
            }
            Method::GET if q.has("uploads") => S3Op::ListMultipartUploads,
            Method::GET if q.get("list-type") == Some("2") => S3Op::ListObjectsV2,
            Method::GET if q.has("list-type") => {
                return Err(S3Error::new(S3Code::InvalidArgument, "list-type must be 2"))
            }
            Method::GET => S3Op::ListObjects,
            Method::HEAD => S3Op::HeadBucket,
            Method::PUT => S3Op::CreateBucket,
            Method::DELETE => S3Op::DeleteBucket,
            Method::POST if q.has("delete") => S3Op::DeleteObjects,
            // S3's browser form upload (POST Object) is not offered yet.
            Method::POST => return Err(not_impl("POST Object (browser form upload)")),
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), Some(_))
            if q.has("cors")
                || q.has("object-lock")
                || q.has("lifecycle")
                || q.has("ownershipControls")
                || q.has("publicAccessBlock")
                || q.has("policy")
                || q.has("policyStatus")
                || q.has("logging")
                || q.has("encryption") =>
        {
            return Err(not_impl("This sub-resource of an object"))
        }
        (Some(_), Some(_)) if q.has("acl") => match *method {
            Method::GET => S3Op::GetObjectAcl,
            Method::PUT => S3Op::PutObjectAcl,
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), Some(_)) if q.has("tagging") => match *method {
            Method::GET => S3Op::GetObjectTagging,
            Method::PUT => S3Op::PutObjectTagging,
            Method::DELETE => S3Op::DeleteObjectTagging,
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), Some(_)) if q.has("attributes") => match *method {
            Method::GET => S3Op::GetObjectAttributes,
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), Some(_)) if q.has("retention") => match *method {
            Method::GET => S3Op::GetObjectRetention,
            Method::PUT => S3Op::PutObjectRetention,
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), Some(_)) if q.has("legal-hold") => match *method {
            Method::GET => S3Op::GetObjectLegalHold,
            Method::PUT => S3Op::PutObjectLegalHold,
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), Some(_)) if q.has("uploadId") => match *method {
            Method::PUT if !q.has("partNumber") => {
                return Err(S3Error::new(
                    S3Code::InvalidArgument,
                    "UploadPart needs a partNumber.",
                ))
            }
            Method::PUT if has_copy_source => S3Op::UploadPartCopy,
            Method::PUT => S3Op::UploadPart,
            Method::POST => S3Op::CompleteMultipartUpload,
            Method::DELETE => S3Op::AbortMultipartUpload,
            Method::GET => S3Op::ListParts,
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
        (Some(_), Some(_)) => match *method {
            Method::GET => S3Op::GetObject,
            Method::HEAD => S3Op::HeadObject,
            Method::PUT if has_copy_source => S3Op::CopyObject,
            Method::PUT => S3Op::PutObject,
            Method::DELETE => S3Op::DeleteObject,
            Method::POST if q.has("uploads") => S3Op::CreateMultipartUpload,
            Method::POST => return Err(not_impl("This POST operation")),
            _ => return Err(S3Error::code(S3Code::MethodNotAllowed)),
        },
    };
    if q.has("partNumber")
        && !matches!(
            op,
            S3Op::GetObject | S3Op::HeadObject | S3Op::UploadPart | S3Op::UploadPartCopy
        )
    {
        return Err(not_impl("partNumber on this operation"));
    }
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(bucket: Option<&str>, key: Option<&str>) -> S3Target {
        S3Target {
            bucket: bucket.map(Into::into),
            key: key.map(Into::into),
        }
    }

    fn op(m: Method, b: Option<&str>, k: Option<&str>, q: &str, copy: bool) -> S3Result<S3Op> {
        parse(&m, &t(b, k), &Query::parse(Some(q)), copy)
    }

    #[test]
    fn aws_urls() {
        use S3Op::*;
        let b = Some("b");
        let k = Some("k");
        assert_eq!(
            op(Method::GET, None, None, "x-id=ListBuckets", false).unwrap(),
            ListBuckets
        );
        assert_eq!(
            op(Method::GET, b, None, "location", false).unwrap(),
            GetBucketLocation
        );
        assert_eq!(
            op(Method::GET, b, None, "list-type=2&prefix=a", false).unwrap(),
            ListObjectsV2
        );
        assert_eq!(
            op(Method::GET, b, None, "marker=x", false).unwrap(),
            ListObjects
        );
        assert_eq!(
            op(Method::POST, b, None, "delete=", false).unwrap(),
            DeleteObjects
        );
        assert_eq!(
            op(Method::PUT, b, k, "x-id=PutObject", false).unwrap(),
            PutObject
        );
        assert_eq!(op(Method::PUT, b, k, "", true).unwrap(), CopyObject);
        assert_eq!(
            op(
                Method::GET,
                b,
                k,
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&response-content-type=a",
                false
            )
            .unwrap(),
            GetObject
        );
        assert_eq!(
            op(Method::POST, b, k, "uploads", false).unwrap(),
            CreateMultipartUpload
        );
        assert_eq!(
            op(Method::PUT, b, k, "partNumber=2&uploadId=u", false).unwrap(),
            UploadPart
        );
        assert_eq!(
            op(Method::PUT, b, k, "partNumber=2&uploadId=u", true).unwrap(),
            UploadPartCopy
        );
        assert_eq!(
            op(Method::POST, b, k, "uploadId=u", false).unwrap(),
            CompleteMultipartUpload
        );
        assert_eq!(
            op(Method::DELETE, b, k, "uploadId=u", false).unwrap(),
            AbortMultipartUpload
        );
        assert_eq!(
            op(Method::GET, b, k, "uploadId=u&max-parts=2", false).unwrap(),
            ListParts
        );
        assert_eq!(
            op(Method::GET, b, None, "uploads&prefix=a", false).unwrap(),
            ListMultipartUploads
        );
        for (m, q) in [
            (Method::PUT, "website"),
            (Method::GET, "torrent"),
            (Method::POST, "select"),
        ] {
            let e = op(m, b, k, q, false).unwrap_err();
            assert_eq!(e.code, S3Code::NotImplemented, "{q}");
        }
        assert_eq!(
            op(Method::GET, b, k, "versionId=null", false).unwrap(),
            GetObject
        );
        for (m, bk, q, want) in [
            (Method::PUT, k, "tagging&versionId=null", PutObjectTagging),
            (Method::DELETE, k, "tagging", DeleteObjectTagging),
            (Method::GET, None, "tagging", GetBucketTagging),
            (Method::PUT, None, "object-lock", PutObjectLockConfiguration),
            (Method::PUT, k, "retention", PutObjectRetention),
            (Method::GET, k, "legal-hold", GetObjectLegalHold),
            (
                Method::PUT,
                None,
                "lifecycle",
                PutBucketLifecycleConfiguration,
            ),
            (Method::DELETE, None, "lifecycle", DeleteBucketLifecycle),
            (Method::GET, None, "acl", GetBucketAcl),
            (Method::PUT, k, "acl&versionId=null", PutObjectAcl),
            (Method::GET, k, "acl", GetObjectAcl),
            (
                Method::PUT,
                None,
                "ownershipControls",
                PutBucketOwnershipControls,
            ),
            (
                Method::DELETE,
                None,
                "publicAccessBlock",
                DeletePublicAccessBlock,
            ),
            (Method::PUT, None, "policy", PutBucketPolicy),
            (Method::GET, None, "policyStatus", GetBucketPolicyStatus),
            (
                Method::GET,
                k,
                "attributes&versionId=null",
                GetObjectAttributes,
            ),
        ] {
            assert_eq!(op(m, b, bk, q, false).unwrap(), want, "{q}");
        }
        // PUT ?tagging with a copy source is still tagging, never a copy.
        assert_eq!(
            op(Method::PUT, b, k, "tagging", true).unwrap(),
            PutObjectTagging
        );
    }

    #[test]
    fn query_decoding_keeps_plus() {
        let q = Query::parse(Some("prefix=a%20b+c&delimiter=%2F&flag"));
        assert_eq!(q.get("prefix"), Some("a b+c"));
        assert_eq!(q.get("delimiter"), Some("/"));
        assert!(q.has("flag"));
    }
}
