//! S3 errors: the one table of codes and HTTP statuses, the mapping from domain and auth
//! errors, and XML rendering. See
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>.

use http::StatusCode;

use crate::error::Error;
use crate::xml::XmlWriter;

/// A code's name: the variant's, unless it is spelt otherwise (`KMS.NotFoundException`).
macro_rules! code_name {
    ($default:expr) => {
        $default
    };
    ($default:expr, $name:literal) => {
        $name
    };
}

macro_rules! s3_codes {
    ($($code:ident $(as $name:literal)? => $status:ident, $msg:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum S3Code { $($code),* }

        impl S3Code {
            pub fn as_str(self) -> &'static str {
                match self { $(S3Code::$code => code_name!(stringify!($code) $(, $name)?)),* }
            }
            pub fn status(self) -> StatusCode {
                match self { $(S3Code::$code => StatusCode::$status),* }
            }
            pub fn default_message(self) -> &'static str {
                match self { $(S3Code::$code => $msg),* }
            }
        }
    };
}

s3_codes! {
    AccessDenied => FORBIDDEN, "Access Denied";
    AccessControlListNotSupported => BAD_REQUEST, "The bucket does not allow ACLs";
    AccessForbidden => FORBIDDEN, "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";
    AuthorizationHeaderMalformed => BAD_REQUEST, "The authorization header is malformed.";
    AuthorizationQueryParametersError => BAD_REQUEST, "Error parsing the query-string authentication parameters.";
    BadRequest => BAD_REQUEST, "Insufficient information. Origin request header needed.";
    BadDigest => BAD_REQUEST, "The Content-MD5 or checksum you specified did not match what we received.";
    BucketAlreadyExists => CONFLICT, "The requested bucket name is not available. Please select a different name and try again.";
    BucketAlreadyOwnedByYou => CONFLICT, "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => CONFLICT, "The bucket you tried to delete is not empty.";
    ConditionalRequestConflict => CONFLICT, "A conflicting conditional operation is currently in progress against this resource.";
    EntityTooLarge => BAD_REQUEST, "Your proposed upload exceeds the maximum allowed object size.";
    EntityTooSmall => BAD_REQUEST, "Your proposed upload is smaller than the minimum allowed object size.";
    IllegalLocationConstraintException => BAD_REQUEST, "The specified location constraint is not valid for this server.";
    IncompleteBody => BAD_REQUEST, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InsufficientStorage => INSUFFICIENT_STORAGE, "There is not enough space left to store this object. Please try again later.";
    InternalError => INTERNAL_SERVER_ERROR, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => FORBIDDEN, "The AWS access key Id you provided does not exist in our records.";
    InvalidArgument => BAD_REQUEST, "Invalid Argument";
    InvalidBucketName => BAD_REQUEST, "The specified bucket is not valid.";
    InvalidBucketAclWithBlockPublicAccessError => BAD_REQUEST, "Bucket cannot have public ACLs set with BlockPublicAccess enabled";
    InvalidBucketAclWithObjectOwnership => BAD_REQUEST, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting";
    InvalidBucketState => CONFLICT, "The request is not valid with the current state of the bucket.";
    InvalidDigest => BAD_REQUEST, "The Content-MD5 or checksum you specified is not valid.";
    InvalidPart => BAD_REQUEST, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.";
    InvalidPartOrder => BAD_REQUEST, "The list of parts was not in ascending order. Parts must be ordered by part number.";
    InvalidLocationConstraint => BAD_REQUEST, "The specified location constraint is not valid.";
    InvalidRange => RANGE_NOT_SATISFIABLE, "The requested range is not satisfiable";
    InvalidPolicyDocument => BAD_REQUEST, "The content of the form does not meet the conditions specified in the policy document.";
    InvalidRequest => BAD_REQUEST, "Invalid Request";
    InvalidTargetBucketForLogging => BAD_REQUEST, "The target bucket for logging is not valid";
    InvalidTag => BAD_REQUEST, "The tag provided was not a valid tag.";
    InvalidURI => BAD_REQUEST, "Couldn't parse the specified URI.";
    KeyTooLongError => BAD_REQUEST, "Your key is too long";
    KmsDisabled as "KMS.DisabledException" => BAD_REQUEST, "The KMS key is disabled.";
    KmsNotFound as "KMS.NotFoundException" => BAD_REQUEST, "The KMS key does not exist.";
    MalformedPolicy => BAD_REQUEST, "Policies must be valid JSON and the first byte must be '{'";
    MalformedACLError => BAD_REQUEST, "The XML you provided was not well-formed or did not validate against our published schema.";
    MaxPostPreDataLengthExceededError => BAD_REQUEST, "Your POST request fields preceding the upload file were too large.";
    MalformedPOSTRequest => BAD_REQUEST, "The body of your POST request is not well-formed multipart/form-data.";
    MalformedXML => BAD_REQUEST, "The XML you provided was not well-formed or did not validate against our published schema.";
    MetadataTooLarge => BAD_REQUEST, "Your metadata headers exceed the maximum allowed metadata size.";
    MethodNotAllowed => METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource.";
    MissingContentLength => LENGTH_REQUIRED, "You must provide the Content-Length HTTP header.";
    MissingSecurityHeader => BAD_REQUEST, "Your request is missing a required header.";
    NoSuchBucket => NOT_FOUND, "The specified bucket does not exist";
    NoSuchBucketPolicy => NOT_FOUND, "The bucket policy does not exist";
    NoSuchCORSConfiguration => NOT_FOUND, "The CORS configuration does not exist";
    NoSuchKey => NOT_FOUND, "The specified key does not exist.";
    NoSuchLifecycleConfiguration => NOT_FOUND, "The lifecycle configuration does not exist";
    NoSuchObjectLockConfiguration => NOT_FOUND, "The specified object does not have a ObjectLock configuration";
    NoSuchTagSet => NOT_FOUND, "The TagSet does not exist";
    NoSuchPublicAccessBlockConfiguration => NOT_FOUND, "The public access block configuration was not found";
    OwnershipControlsNotFoundError => NOT_FOUND, "The bucket ownership controls were not found";
    UnexpectedContent => BAD_REQUEST, "This request does not support content";
    UnresolvableGrantByEmailAddress => BAD_REQUEST, "The e-mail address you provided does not match any account on record.";
    NoSuchUpload => NOT_FOUND, "The specified multipart upload does not exist.";
    NoSuchVersion => NOT_FOUND, "The specified version does not exist.";
    NotImplemented => NOT_IMPLEMENTED, "A header or query you provided implies functionality that is not implemented.";
    NotModified => NOT_MODIFIED, "Not Modified";
    ObjectLockConfigurationNotFoundError => NOT_FOUND, "Object Lock configuration does not exist for this bucket";
    PreconditionFailed => PRECONDITION_FAILED, "At least one of the pre-conditions you specified did not hold";
    RequestHeaderSectionTooLarge => BAD_REQUEST, "Your request header section exceeds the maximum allowed size.";
    RequestTimeout => BAD_REQUEST, "Your socket connection to the server was not read from or written to within the timeout period.";
    RequestTimeTooSkewed => FORBIDDEN, "The difference between the request time and the server's time is too large.";
    ServerSideEncryptionConfigurationNotFoundError => NOT_FOUND, "The server side encryption configuration was not found";
    SignatureDoesNotMatch => FORBIDDEN, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    SlowDown => SERVICE_UNAVAILABLE, "Please reduce your request rate.";
    XAmzContentSHA256Mismatch => BAD_REQUEST, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: S3Code,
    pub message: String,
    /// Extra elements AWS adds for some codes (`Region`, `BucketName`, …).
    pub extra: Vec<(&'static str, String)>,
    /// Seconds for a `Retry-After` header (SlowDown).
    pub retry_after: Option<u64>,
    /// Response headers the error carries (`x-amz-delete-marker`, …).
    pub headers: Vec<(&'static str, String)>,
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn new(code: S3Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            extra: Vec::new(),
            retry_after: None,
            headers: Vec::new(),
        }
    }

    pub fn code(code: S3Code) -> Self {
        Self::new(code, code.default_message())
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The `<Error>` document; `resource` is the request path.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut w = XmlWriter::new_plain("Error");
        w.elem("Code", self.code.as_str())
            .elem("Message", &self.message);
        for (name, value) in &self.extra {
            w.elem(name, value);
        }
        w.elem("Resource", resource).elem("RequestId", request_id);
        w.finish()
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl From<Error> for S3Error {
    fn from(e: Error) -> Self {
        use S3Code as C;
        match e {
            Error::NoSuchBucket(b) => S3Error::code(C::NoSuchBucket).with("BucketName", b),
            Error::NoSuchKey => S3Error::code(C::NoSuchKey),
            Error::BucketAlreadyOwnedByYou(b) => {
                S3Error::code(C::BucketAlreadyOwnedByYou).with("BucketName", b)
            }
            Error::BucketAlreadyExists(b) => {
                S3Error::code(C::BucketAlreadyExists).with("BucketName", b)
            }
            Error::BucketNotEmpty(b) => S3Error::code(C::BucketNotEmpty).with("BucketName", b),
            Error::InvalidBucketName { name, why } => S3Error::new(
                C::InvalidBucketName,
                format!("The specified bucket is not valid: {why}."),
            )
            .with("BucketName", name),
            Error::PreconditionFailed => S3Error::code(C::PreconditionFailed),
            Error::ConditionalRequestConflict => S3Error::code(C::ConditionalRequestConflict),
            Error::ChecksumMismatch(alg) => S3Error::new(
                C::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    alg.as_str()
                ),
            ),
            Error::KmsKeyNotFound(id) => {
                S3Error::new(C::KmsNotFound, format!("Key '{id}' does not exist"))
            }
            Error::KmsKeyDisabled(id) => {
                S3Error::new(C::KmsDisabled, format!("The KMS key '{id}' is disabled."))
            }
            Error::KmsKeyExists(id) => {
                S3Error::new(C::InvalidRequest, format!("The KMS key '{id}' exists."))
            }
            Error::WrongCustomerKey => S3Error::new(
                C::AccessDenied,
                "The provided customer key does not match the key the object was encrypted with.",
            ),
            Error::Md5Mismatch => S3Error::new(
                C::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ),
            Error::IncompleteBody { expected, got } => S3Error::new(
                C::IncompleteBody,
                format!("The request body ended after {got} of {expected} bytes."),
            ),
            Error::NoSuchUpload => S3Error::code(C::NoSuchUpload),
            Error::NoSuchVersion => S3Error::code(C::NoSuchVersion),
            Error::DeleteMarker {
                version_id,
                requested,
            } => {
                let mut e = if requested {
                    S3Error::code(C::MethodNotAllowed)
                } else {
                    S3Error::code(C::NoSuchKey)
                };
                e.headers = vec![
                    ("x-amz-delete-marker", "true".into()),
                    ("x-amz-version-id", version_id),
                ];
                e
            }
            Error::InvalidPart(m) => S3Error::new(C::InvalidPart, m),
            Error::InvalidPartOrder => S3Error::code(C::InvalidPartOrder),
            Error::InvalidRequest(m) => S3Error::new(C::InvalidRequest, m),
            Error::InvalidArgument(m) => S3Error::new(C::InvalidArgument, m),
            Error::InvalidTag(m) => S3Error::new(C::InvalidTag, m),
            // S3 answers BadRequest here, not InvalidTag.
            Error::TooManyTags { max } => S3Error::new(
                C::BadRequest,
                if max == crate::store::tagging::MAX_OBJECT_TAGS {
                    format!("Object tags cannot be greater than {max}")
                } else {
                    format!("Bucket tag count cannot be greater than {max}")
                },
            ),
            Error::ObjectLocked(why) => S3Error::new(
                C::AccessDenied,
                format!("Access Denied because object protected by object lock: {why}."),
            ),
            Error::InvalidBucketState(m) => S3Error::new(C::InvalidBucketState, m),
            Error::EntityTooSmall { part, size } => S3Error::code(C::EntityTooSmall)
                .with("ProposedSize", size.to_string())
                .with("MinSizeAllowed", (5u64 << 20).to_string())
                .with("PartNumber", part.to_string()),
            Error::EntityTooLarge { size, max } => S3Error::code(C::EntityTooLarge)
                .with("ProposedSize", size.to_string())
                .with("MaxSizeAllowed", max.to_string()),
            Error::NoSpace(_) => {
                tracing::error!(error = %e, "out of space");
                let mut err = S3Error::code(C::InsufficientStorage);
                err.retry_after = Some(30);
                err
            }
            Error::MetaUnavailable(_) => {
                tracing::error!(error = %e, "metadata index unavailable");
                let mut err = S3Error::code(C::SlowDown);
                err.retry_after = Some(1);
                err
            }
            Error::Meta(_) | Error::Blob(_) | Error::Internal(_) | Error::Corrupt { .. } => {
                tracing::error!(error = %e, "internal error");
                S3Error::code(C::InternalError)
            }
        }
    }
}

impl From<crate::auth::AuthError> for S3Error {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as A;
        use S3Code as C;
        let code = match &e {
            A::SignatureDoesNotMatch => C::SignatureDoesNotMatch,
            A::InvalidAccessKeyId => C::InvalidAccessKeyId,
            A::RequestTimeTooSkewed => C::RequestTimeTooSkewed,
            A::AuthorizationHeaderMalformed(_) => C::AuthorizationHeaderMalformed,
            A::AuthorizationQueryParametersError(_) => C::AuthorizationQueryParametersError,
            A::AccessDenied(_) => C::AccessDenied,
            A::HeadersNotSigned(names) => {
                return S3Error::new(C::AccessDenied, e.to_string())
                    .with("HeadersNotSigned", names.join(", "))
            }
            A::InvalidRequest(_) => C::InvalidRequest,
            A::XAmzContentSHA256Mismatch => C::XAmzContentSHA256Mismatch,
            A::IncompleteBody(_) => C::IncompleteBody,
            A::InvalidArgument(_) => C::InvalidArgument,
        };
        S3Error::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document() {
        let e = S3Error::code(S3Code::NoSuchKey);
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            e.to_xml("/b/k", "RID"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/b/k</Resource><RequestId>RID</RequestId></Error>"
        );
    }

    #[test]
    fn unsigned_headers_are_named_in_the_error_document() {
        let e = S3Error::from(crate::auth::AuthError::HeadersNotSigned(vec![
            "x-amz-copy-source".into(),
            "x-amz-meta-a".into(),
        ]));
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        let xml = e.to_xml("/b1/x", "R");
        assert!(xml.contains("<Code>AccessDenied</Code>"), "{xml}");
        assert!(
            xml.contains("<HeadersNotSigned>x-amz-copy-source, x-amz-meta-a</HeadersNotSigned>"),
            "{xml}"
        );
    }

    #[test]
    fn auth_failures_map_to_s3_codes_and_statuses() {
        use crate::auth::AuthError as A;
        let all = [
            (A::SignatureDoesNotMatch, "SignatureDoesNotMatch", 403),
            (A::InvalidAccessKeyId, "InvalidAccessKeyId", 403),
            (A::RequestTimeTooSkewed, "RequestTimeTooSkewed", 403),
            (
                A::AuthorizationHeaderMalformed(String::new()),
                "AuthorizationHeaderMalformed",
                400,
            ),
            (
                A::AuthorizationQueryParametersError(String::new()),
                "AuthorizationQueryParametersError",
                400,
            ),
            (A::AccessDenied(String::new()), "AccessDenied", 403),
            (A::InvalidRequest(String::new()), "InvalidRequest", 400),
            (
                A::XAmzContentSHA256Mismatch,
                "XAmzContentSHA256Mismatch",
                400,
            ),
            (A::IncompleteBody(String::new()), "IncompleteBody", 400),
            (A::InvalidArgument(String::new()), "InvalidArgument", 400),
        ];
        for (e, code, status) in all {
            let s = S3Error::from(e);
            assert_eq!((s.code.as_str(), s.status().as_u16()), (code, status));
        }
    }
}
