//! An answer read whole, and the checks that every answer of observe must pass.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

/// A response with its body read.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// Reads `response` to its end.
    pub async fn read<B>(response: Response<B>) -> Self
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => panic!("the body failed: {e:?}"),
        };
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// The value of header `name`, or "".
    pub fn header(&self, name: impl http::header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as JSON, or a panic naming what came instead.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} with a body that is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The checks of an error answer of `method`: a JSON body
    /// `{"error": "<message>", "status": N}` with N the status (none for `HEAD`).
    pub fn assert_clear_error(&self, method: &Method) {
        assert!(
            self.status.is_client_error() || self.status.is_server_error(),
            "{self:?}"
        );
        if method == Method::HEAD {
            assert!(self.body.is_empty(), "HEAD with a body: {self:?}");
            return;
        }
        let json = self.json();
        let message = json.get("error").and_then(Value::as_str);
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "no error message: {json}"
        );
        assert_eq!(
            json.get("status").and_then(Value::as_u64),
            Some(u64::from(self.status.as_u16())),
            "{json}"
        );
    }
}
