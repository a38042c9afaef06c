//! Keeps credentials out of health reports: passwords in connection URLs are masked in
//! every error message and detail, whichever check produced them.

use serde_json::Value;

use super::CheckResult;

const MASK: &str = "***";

/// Masks the password of every `scheme://user:password@host` in `text`.
pub(crate) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or whitespace.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Masks credentials in a result's error and in every string of its details, and
/// removes the configured secrets wherever they appear.
pub(crate) fn redact_result(result: &mut CheckResult, secrets: &[String]) {
    let clean = |s: &str| -> String {
        let mut s = redact_urls(s);
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            s = s.replace(secret.as_str(), MASK);
        }
        s
    };
    if let Some(error) = &mut result.error {
        *error = clean(error);
    }
    for value in result.details.values_mut() {
        redact_value(value, &clean);
    }
}

fn redact_value(value: &mut Value, clean: &impl Fn(&str) -> String) {
    match value {
        Value::String(s) => *s = clean(s),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, clean)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_value(v, clean)),
        _ => {}
    }
}

/// The password of a connection URL, if it has one, so it can be removed from any text.
#[cfg(any(test, feature = "redis"))]
pub(crate) fn url_password(url: &str) -> Option<String> {
    let start = url.find("://")? + 3;
    let tail = &url[start..];
    let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    let authority = &tail[..end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    let password = &authority[colon + 1..at];
    (!password.is_empty()).then(|| password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_urls("cannot reach postgres://app:s3cr%40t@db:5432/app?sslmode=require"),
            "cannot reach postgres://app:***@db:5432/app?sslmode=require"
        );
        assert_eq!(redact_urls("redis://:pw@cache"), "redis://:***@cache");
        assert_eq!(redact_urls("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redact_urls("no url here: a@b"), "no url here: a@b");
        assert_eq!(
            redact_urls("a://u:p@h b://x:y@z/"),
            "a://u:***@h b://x:***@z/"
        );
        assert_eq!(redact_urls("dangling ://"), "dangling ://");
    }

    #[test]
    fn secrets_leave_errors_and_nested_details() {
        let mut result = CheckResult::unhealthy("auth failed for hunter2")
            .with_detail("url", "postgres://u:hunter2@h/db")
            .with_detail("nested", serde_json::json!({"list": ["hunter2"]}));
        redact_result(&mut result, &["hunter2".to_owned()]);
        let json = serde_json::to_string(&result).unwrap_or_default();
        assert!(!json.contains("hunter2"), "{json}");
    }

    #[test]
    fn url_passwords_are_found() {
        assert_eq!(url_password("postgres://u:p@h/db").as_deref(), Some("p"));
        assert_eq!(url_password("postgres://u@h/db"), None);
        assert_eq!(url_password("redis://:pw@h").as_deref(), Some("pw"));
        assert_eq!(url_password("sqlite://file.db"), None);
    }
}
