//! Requests in a text form close to HTTP/1.1, so that seeds are readable and the
//! fuzzer's mutations stay near real traffic:
//!
//! ```text
//! METHOD TARGET
//! Name: value
//! Name: value
//!
//! body
//! ```
//!
//! A line that is not a valid header is skipped; an input whose first line is not a
//! method and a target is no request at all.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};

/// The request that `data` spells, or `None` when its first line is not one.
pub fn parse(data: &[u8]) -> Option<Request<Bytes>> {
    let (head, body) = match find(data, b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &b""[..]),
    };
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let first = lines.next()?;
    let space = first.iter().position(|&b| b == b' ')?;
    let method = Method::from_bytes(&first[..space]).ok()?;
    let uri = Uri::try_from(&first[space + 1..]).ok()?;
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Bytes::copy_from_slice(body))
        .ok()?;
    for line in lines {
        if let Some((name, value)) = header(line) {
            request.headers_mut().append(name, value);
        }
    }
    Some(request)
}

/// Every request of `data`, one after another, separated by lines of `---`.
pub fn parse_all(data: &[u8]) -> Vec<Request<Bytes>> {
    let mut requests = Vec::new();
    let mut rest = data;
    loop {
        let (one, next) = match find(rest, b"\n---\n") {
            Some(at) => (&rest[..at], Some(&rest[at + 5..])),
            None => (rest, None),
        };
        requests.extend(parse(one));
        match next {
            Some(next) => rest = next,
            None => return requests,
        }
    }
}

fn header(line: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = HeaderName::from_bytes(&line[..colon]).ok()?;
    let value = line[colon + 1..]
        .strip_prefix(b" ")
        .unwrap_or(&line[colon + 1..]);
    Some((name, HeaderValue::from_bytes(value).ok()?))
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
