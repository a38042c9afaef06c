//! `TraceContext::from_traceparent` against a plain reading of the W3C rules: the parser
//! accepts exactly what the rules accept, reads the ids and the flag the header carries,
//! and what it accepts prints back as a version-00 header that parses to the same
//! context.

#![no_main]

use libfuzzer_sys::fuzz_target;
use observe_core::TraceContext;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = TraceContext::from_traceparent(header);
    let expected = reference(header.as_bytes());
    assert_eq!(
        parsed.map(|c| (c.trace_id(), c.span_id(), c.is_sampled())),
        expected,
        "{header:?}"
    );
    if let Some(ctx) = parsed {
        let printed = ctx.to_string();
        assert_eq!(printed.len(), 55);
        assert_eq!(&printed[2..52], &header[2..52]);
        assert_eq!(TraceContext::from_traceparent(&printed), Some(ctx));
    }
});

/// The W3C Trace Context rules, written out without sharing code with the parser:
/// `version "-" trace-id "-" parent-id "-" trace-flags`, lowercase hex, version `ff`
/// forbidden, version 00 exactly 55 characters, a later version 55 characters or more
/// with a `-` after them; all-zero ids invalid.
fn reference(h: &[u8]) -> Option<(u128, u64, bool)> {
    let lower_hex = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    if h.len() < 55 || !lower_hex(&h[..2]) || &h[..2] == b"ff" {
        return None;
    }
    if &h[..2] == b"00" {
        if h.len() != 55 {
            return None;
        }
    } else if h.len() > 55 && h[55] != b'-' {
        return None;
    }
    if h[2] != b'-' || h[35] != b'-' || h[52] != b'-' {
        return None;
    }
    let (trace, span, flags) = (&h[3..35], &h[36..52], &h[53..55]);
    if !lower_hex(trace) || !lower_hex(span) || !lower_hex(flags) {
        return None;
    }
    let text = |s: &[u8]| std::str::from_utf8(s).ok().map(str::to_owned);
    let trace = u128::from_str_radix(&text(trace)?, 16).ok()?;
    let span = u64::from_str_radix(&text(span)?, 16).ok()?;
    let flags = u8::from_str_radix(&text(flags)?, 16).ok()?;
    (trace != 0 && span != 0).then_some((trace, span, flags & 1 == 1))
}
