//! The query string of a request, decoded once.

/// Decoded `key=value` pairs, in order; a key without `=` has an empty value.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a flag is on: present with no value, or `true`/`1`/`yes`.
    pub(crate) fn flag(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(false),
            Some("" | "true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(format!("`{key}` must be true or false, got {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_repeatable() {
        let q = Query::parse(Some("name=a%20b&exclude=db&exclude=redis&verbose&x=%ZZ"));
        assert_eq!(q.get("name"), Some("a b"));
        assert_eq!(q.all("exclude").collect::<Vec<_>>(), ["db", "redis"]);
        assert_eq!(q.flag("verbose"), Ok(true));
        assert_eq!(q.flag("missing"), Ok(false));
        assert_eq!(q.get("x"), Some("%ZZ"));
        assert!(
            Query::parse(Some("detailed=maybe"))
                .flag("detailed")
                .is_err()
        );
        assert_eq!(Query::parse(None).get("name"), None);
    }
}
