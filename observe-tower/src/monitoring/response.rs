//! Responses of the monitoring endpoints: JSON and text bodies, errors, `HEAD`.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

/// The body of every monitoring response.
pub type MonitoringBody = Full<Bytes>;

pub(crate) const JSON: &str = "application/json";
pub(crate) const HEALTH_JSON: &str = "application/health+json";

/// A response with `body` of `content_type`, never cached.
pub(crate) fn bytes(
    status: StatusCode,
    content_type: &str,
    body: Vec<u8>,
) -> Response<MonitoringBody> {
    let length = body.len();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response<MonitoringBody> {
    json_as(status, JSON, value)
}

/// A JSON response with a specific JSON media type.
pub(crate) fn json_as(
    status: StatusCode,
    content_type: &str,
    value: &impl Serialize,
) -> Response<MonitoringBody> {
    match serde_json::to_vec(value) {
        Ok(body) => bytes(status, content_type, body),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot serialize the response: {e}"),
        ),
    }
}

/// `{"error": "...", "status": N}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response<MonitoringBody> {
    #[derive(Serialize)]
    struct Error<'a> {
        error: &'a str,
        status: u16,
    }
    let body = serde_json::to_vec(&Error {
        error: message,
        status: status.as_u16(),
    })
    .unwrap_or_else(|_| b"{\"error\":\"internal error\",\"status\":500}".to_vec());
    bytes(status, JSON, body)
}

/// 405 with the methods the path allows.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response<MonitoringBody> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed; this endpoint allows {allow}"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// The answer to `HEAD`: the `GET` response's status and headers, no body.
pub(crate) fn without_body(response: Response<MonitoringBody>) -> Response<MonitoringBody> {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}
