//! The response body type and its constructors.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::TryStreamExt;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full, StreamBody};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = UnsyncBoxBody<Bytes, BoxError>;
pub type Response = http::Response<Body>;

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Streams a body whose bytes are produced as the client reads them.
pub fn stream<E>(s: BoxStream<'static, Result<Bytes, E>>) -> Body
where
    E: Into<BoxError> + 'static,
{
    StreamBody::new(s.map_ok(http_body::Frame::data).map_err(Into::into)).boxed_unsync()
}
