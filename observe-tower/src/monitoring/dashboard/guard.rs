//! The one guard of the page and of every data endpoint behind it.
//!
//! A browser cannot add a bearer token to a page it navigates to, and a token in a URL
//! leaks into logs and histories; so besides `Authorization: Bearer <token>`, the guard
//! accepts HTTP Basic credentials whose password is the token (any user name), which
//! the browser asks for once and then sends with every request of the page.

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use subtle::ConstantTimeEq;

use super::super::auth::bearer_matches;
use super::super::response::{self, MonitoringBody};
use super::super::service::DetailsPolicy;

/// `Ok` when the request may see the dashboard, the refusal otherwise.
pub(super) fn check(
    policy: DetailsPolicy,
    token: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), Box<Response<MonitoringBody>>> {
    match policy {
        DetailsPolicy::Always => Ok(()),
        DetailsPolicy::Never => Err(Box::new(response::error(
            StatusCode::FORBIDDEN,
            "the dashboard is closed: its access policy is `never`",
        ))),
        DetailsPolicy::WithToken => {
            let Some(token) = token else {
                return Err(Box::new(response::error(
                    StatusCode::FORBIDDEN,
                    "the dashboard needs a token and none is configured",
                )));
            };
            if bearer_matches(headers, token) || basic_matches(headers, token) {
                return Ok(());
            }
            let mut refusal = response::error(
                StatusCode::UNAUTHORIZED,
                "the dashboard needs the configured token: as the password of HTTP Basic \
                 credentials (any user name) or as `Authorization: Bearer <token>`",
            );
            refusal.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"observe dashboard\", charset=\"UTF-8\""),
            );
            Err(Box::new(refusal))
        }
    }
}

/// Whether the request carries `Authorization: Basic base64(user:token)`; the password
/// is compared in constant time.
fn basic_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(encoded) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        })
    else {
        return false;
    };
    let Some(decoded) = base64_decode(encoded) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let password = &decoded[colon + 1..];
    !token.is_empty() && bool::from(password.ct_eq(token.as_bytes()))
}

/// Standard base64 with padding (RFC 4648 §4), or `None`.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) || bytes.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks_exact(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad;
        let [_, a, b, c] = n.to_be_bytes();
        out.extend_from_slice(&[a, b, c][..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("YTpz").as_deref(), Some(&b"a:s"[..]));
        assert_eq!(base64_decode("YTpzMg==").as_deref(), Some(&b"a:s2"[..]));
        assert_eq!(base64_decode("YTpzMjM=").as_deref(), Some(&b"a:s23"[..]));
        assert_eq!(base64_decode("YTpz!A=="), None);
        assert_eq!(base64_decode("YQ==YTpz"), None);
        assert_eq!(base64_decode("YTp"), None);
        assert_eq!(base64_decode(""), None);
    }

    #[test]
    fn only_the_token_opens_a_guarded_dashboard() {
        let token = Some("s3cret");
        let policy = DetailsPolicy::WithToken;
        // "me:s3cret", ":s3cret", "me:wrong"
        assert!(check(policy, token, &with("Basic bWU6czNjcmV0")).is_ok());
        assert!(check(policy, token, &with("basic OnMzY3JldA==")).is_ok());
        assert!(check(policy, token, &with("Bearer s3cret")).is_ok());
        let refused = check(policy, token, &with("Basic bWU6d3Jvbmc=")).expect_err("refused");
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(refused.headers().contains_key(WWW_AUTHENTICATE));
        let refused = check(policy, token, &HeaderMap::new()).expect_err("refused");
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let refused = check(policy, None, &with("Bearer s3cret")).expect_err("no token");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let refused =
            check(DetailsPolicy::Never, token, &with("Bearer s3cret")).expect_err("closed");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(check(DetailsPolicy::Always, None, &HeaderMap::new()).is_ok());
    }
}
