//! JSON errors of the management surface: `{"error": "…"}` with the seed's status codes.
//! The only place that picks a status for a management response.

use http::{HeaderValue, StatusCode};

use crate::error::Error;
use crate::web::body::{self, Response};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
    /// Methods the path allows, for the `Allow` header of a 405.
    pub allow: Option<&'static str>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            allow: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn into_response(self, request_id: &str) -> Response {
        let message = if self.status.is_server_error() {
            format!(
                "{} (request id {request_id}); please report it",
                self.message
            )
        } else {
            self.message
        };
        let mut r = json_response(self.status, &serde_json::json!({ "error": message }));
        if let Some(methods) = self.allow {
            r.headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static(methods));
        }
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut r = http::Response::new(body::full(value.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl From<crate::access::admin::AdminError> for ApiError {
    fn from(e: crate::access::admin::AdminError) -> Self {
        use crate::access::admin::AdminError as A;
        match e {
            A::Invalid(m) => ApiError::bad_request(m),
            A::Forbidden(m) => ApiError::forbidden(m),
            A::NotFound(m) => ApiError::not_found(m),
            A::Store(e) => e.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::NoSuchBucket(b) => ApiError::not_found(format!("bucket `{b}` not found")),
            Error::BucketAlreadyOwnedByYou(b) => {
                ApiError::new(S::CONFLICT, format!("bucket `{b}` already exists"))
            }
            Error::BucketAlreadyExists(b) => ApiError::new(
                S::CONFLICT,
                format!("bucket name `{b}` is taken; choose another name"),
            ),
            Error::BucketNotEmpty(b) => ApiError::new(
                S::CONFLICT,
                format!(
                    "bucket `{b}` is not empty; delete its objects and uploads first, or pass ?force=true"
                ),
            ),
            Error::InvalidBucketName { name, why } => {
                ApiError::bad_request(format!("invalid bucket name `{name}`: {why}"))
            }
            Error::NoSpace(_) => ApiError::new(
                S::INSUFFICIENT_STORAGE,
                "the server is out of storage space; retry later",
            ),
            Error::MetaUnavailable(_) => {
                tracing::error!(error = %e, "metadata index unavailable");
                let mut err = ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "the metadata index is unavailable; retry later",
                );
                err.retry_after = Some(1);
                err
            }
            Error::Meta(_) | Error::Blob(_) | Error::Internal(_) | Error::Corrupt { .. } => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(S::INTERNAL_SERVER_ERROR, "internal error")
            }
            Error::NoSuchKey
            | Error::NoSuchUpload
            | Error::NoSuchVersion
            | Error::DeleteMarker { .. } => ApiError::not_found(e.to_string()),
            Error::KmsKeyNotFound(_) => ApiError::not_found(e.to_string()),
            Error::KmsKeyDisabled(_) => ApiError::bad_request(e.to_string()),
            Error::WrongCustomerKey => ApiError::forbidden(e.to_string()),
            Error::KmsKeyExists(_) => ApiError::new(S::CONFLICT, e.to_string()),
            Error::PreconditionFailed => ApiError::new(S::PRECONDITION_FAILED, e.to_string()),
            Error::ConditionalRequestConflict | Error::InvalidBucketState(_) => {
                ApiError::new(S::CONFLICT, e.to_string())
            }
            Error::ObjectLocked(_) => ApiError::new(S::CONFLICT, e.to_string()),
            Error::EntityTooLarge { .. } => ApiError::new(S::PAYLOAD_TOO_LARGE, e.to_string()),
            Error::ChecksumMismatch(_)
            | Error::Md5Mismatch
            | Error::IncompleteBody { .. }
            | Error::InvalidPart(_)
            | Error::InvalidRequest(_)
            | Error::InvalidArgument(_)
            | Error::InvalidTag(_)
            | Error::TooManyTags { .. }
            | Error::InvalidPartOrder
            | Error::EntityTooSmall { .. } => ApiError::bad_request(e.to_string()),
        }
    }
}
