//! [`TraceContext`]: the trace a record belongs to, read from a W3C `traceparent` header
//! or from the tracing system.

use std::fmt;

/// The trace and span a record belongs to, and whether the trace is sampled.
///
/// Only sampled contexts are worth keeping as exemplars: an unsampled trace was never
/// exported, so there is nothing to click through to.
///
/// ```
/// use observe_core::TraceContext;
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let ctx = TraceContext::from_traceparent(header).unwrap();
/// assert!(ctx.is_sampled());
/// assert_eq!(ctx.trace_id(), 0x4bf92f3577b34da6a3ce929d0e0e4736);
/// assert_eq!(ctx.to_string(), header);
///
/// assert_eq!(TraceContext::from_traceparent("00-not-a-trace"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    sampled: bool,
}

impl TraceContext {
    /// A context of the given ids, or `None` when either is zero (the W3C value for
    /// "invalid").
    #[must_use]
    pub fn new(trace_id: u128, span_id: u64, sampled: bool) -> Option<Self> {
        (trace_id != 0 && span_id != 0).then_some(Self {
            trace_id,
            span_id,
            sampled,
        })
    }

    /// Parses a W3C `traceparent` header value:
    /// `00-<32 lowercase hex trace id>-<16 lowercase hex span id>-<2 hex flags>`; the
    /// trace is sampled when bit 0 of the flags is set.
    ///
    /// `None`, never a panic, for anything else: a wrong length, upper-case or non-hex
    /// digits, an all-zero id, version `ff`. A later version is read by version 00's
    /// rules as the specification asks (its first 55 characters, then nothing or a `-`).
    #[must_use]
    pub fn from_traceparent(header: &str) -> Option<Self> {
        let bytes = header.as_bytes();
        let head = bytes.get(..55)?;
        let version = hex(head.get(0..2)?)?;
        if version == 0xff || (version == 0 && bytes.len() != 55) {
            return None;
        }
        if version != 0 && bytes.len() > 55 && bytes[55] != b'-' {
            return None;
        }
        if head[2] != b'-' || head[35] != b'-' || head[52] != b'-' {
            return None;
        }
        let trace_id = hex(&head[3..35])?;
        let span_id = u64::try_from(hex(&head[36..52])?).ok()?;
        let flags = hex(&head[53..55])?;
        Self::new(trace_id, span_id, flags & 1 == 1)
    }

    /// The trace id.
    #[must_use]
    pub fn trace_id(&self) -> u128 {
        self.trace_id
    }

    /// The span id.
    #[must_use]
    pub fn span_id(&self) -> u64 {
        self.span_id
    }

    /// Whether the trace is sampled.
    #[must_use]
    pub fn is_sampled(&self) -> bool {
        self.sampled
    }
}

/// The value of lowercase hex digits (at most 32), or `None`.
fn hex(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |value, &d| {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some(value << 4 | u128::from(nibble))
    })
}

/// As a `traceparent` header of version 00.
impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::TraceContext;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_parses_and_prints_back() {
        let ctx = TraceContext::from_traceparent(VALID).expect("valid");
        assert_eq!(ctx.span_id(), 0x00f0_67aa_0ba9_02b7);
        assert!(ctx.is_sampled());
        assert_eq!(ctx.to_string(), VALID);
        let unsampled = VALID.replace("-01", "-00");
        assert!(
            !TraceContext::from_traceparent(&unsampled)
                .expect("valid")
                .is_sampled()
        );
        let other_flags = VALID.replace("-01", "-03");
        assert!(
            TraceContext::from_traceparent(&other_flags)
                .expect("valid")
                .is_sampled()
        );
    }

    #[test]
    fn a_later_version_is_read_by_version_00s_rules() {
        let v1 = VALID.replacen("00", "01", 1);
        assert!(TraceContext::from_traceparent(&v1).is_some());
        assert!(TraceContext::from_traceparent(&format!("{v1}-more")).is_some());
        assert!(TraceContext::from_traceparent(&format!("{v1}more")).is_none());
    }

    #[test]
    fn anything_else_is_none() {
        let bad = [
            String::new(),
            "00".to_owned(),
            VALID.to_uppercase(),
            VALID.replacen("00", "ff", 1),
            format!("{VALID}-"),
            format!("{VALID} "),
            VALID[..54].to_owned(),
            VALID.replace("4bf92f3577b34da6a3ce929d0e0e4736", &"0".repeat(32)),
            VALID.replace("00f067aa0ba902b7", &"0".repeat(16)),
            VALID.replace('-', "_"),
            VALID.replace("4b", "4g"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é".to_owned(),
            "é".repeat(40),
        ];
        for header in bad {
            assert_eq!(TraceContext::from_traceparent(&header), None, "{header:?}");
        }
    }

    #[test]
    fn zero_ids_are_refused_by_new() {
        assert!(TraceContext::new(0, 1, true).is_none());
        assert!(TraceContext::new(1, 0, true).is_none());
        assert!(TraceContext::new(1, 1, false).is_some());
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(header in ".{0,80}") {
            let _ = TraceContext::from_traceparent(&header);
        }

        #[test]
        fn every_context_round_trips(trace in 1u128.., span in 1u64.., sampled: bool) {
            let ctx = TraceContext::new(trace, span, sampled).expect("non-zero ids");
            proptest::prop_assert_eq!(TraceContext::from_traceparent(&ctx.to_string()), Some(ctx));
        }
    }
}
