//! Bounded label values: methods, route templates and statuses.

use std::sync::{Arc, OnceLock};

use http::{Extensions, Method, Uri};
use observe_core::MetricsCollector;

use super::families::HttpFamilies;
use super::series::MethodSeries;

/// The route label of requests that no route template matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// The route label of templates past the cap on distinct routes.
pub const OVERFLOW_ROUTE: &str = "__overflow__";
/// The method label of non-standard methods.
pub const OTHER_METHOD: &str = "_OTHER";
/// The status label of a request whose client went away before any response.
pub const CLIENT_CLOSED_STATUS: u16 = 499;

const METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// The index of a method in `METHODS`, or `METHODS.len()` for any other method.
pub(crate) fn method_index(method: &Method) -> usize {
    METHODS
        .iter()
        .position(|m| m == method)
        .unwrap_or(METHODS.len())
}

/// The label of a method index.
pub(crate) fn method_label(index: usize) -> &'static str {
    METHODS.get(index).map_or(OTHER_METHOD, Method::as_str)
}

/// Finds the route template of a request.
///
/// Implemented for closures `Fn(&Method, &Uri, &Extensions) -> Option<String>`. A resolver
/// must return templates (`/users/{id}`), never raw paths, or every URL becomes a series;
/// the layer also caps the number of distinct routes.
pub trait ResolveRoute: Send + Sync + 'static {
    /// The route template of this request, if known.
    fn resolve(&self, method: &Method, uri: &Uri, extensions: &Extensions) -> Option<String>;
}

impl<F> ResolveRoute for F
where
    F: Fn(&Method, &Uri, &Extensions) -> Option<String> + Send + Sync + 'static,
{
    fn resolve(&self, method: &Method, uri: &Uri, extensions: &Extensions) -> Option<String> {
        self(method, uri, extensions)
    }
}

/// One known route: its interned label and, per method, its series.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) label: Arc<str>,
    series: [OnceLock<MethodSeries>; METHODS.len() + 1],
}

impl Route {
    fn new(label: &str) -> Self {
        Self {
            label: label.into(),
            series: Default::default(),
        }
    }

    /// The series of this route for `method` (an index from [`method_index`]).
    pub(crate) fn series(
        &self,
        collector: &MetricsCollector,
        families: &HttpFamilies,
        method: usize,
    ) -> &MethodSeries {
        let method = method.min(METHODS.len());
        self.series[method]
            .get_or_init(|| MethodSeries::new(collector, families, method, &self.label))
    }
}

/// Interned routes, capped in number, looked up without allocating.
#[derive(Debug)]
pub(crate) struct Routes {
    /// Keyed by route templates, which the application's routes or resolver choose,
    /// not its clients: a fast hash, with a seed of its own.
    map: papaya::HashMap<Box<str>, Arc<Route>, foldhash::fast::RandomState>,
    max: usize,
    unmatched: Arc<Route>,
    overflow: Arc<Route>,
}

/// Longest route label kept, in bytes.
const MAX_ROUTE_LEN: usize = 256;

impl Routes {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            map: papaya::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            max,
            unmatched: Arc::new(Route::new(UNMATCHED_ROUTE)),
            overflow: Arc::new(Route::new(OVERFLOW_ROUTE)),
        }
    }

    pub(crate) fn unmatched(&self) -> Arc<Route> {
        Arc::clone(&self.unmatched)
    }

    /// The route entry of `template`, created up to the cap.
    pub(crate) fn get(&self, template: &str) -> Arc<Route> {
        let template = truncate(template, MAX_ROUTE_LEN);
        let map = self.map.pin();
        if let Some(route) = map.get(template) {
            return Arc::clone(route);
        }
        if map.len() >= self.max {
            return Arc::clone(&self.overflow);
        }
        Arc::clone(map.get_or_insert_with(template.into(), || Arc::new(Route::new(template))))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_keep_their_name_and_others_fold() {
        assert_eq!(method_label(method_index(&Method::GET)), "GET");
        assert_eq!(method_label(method_index(&Method::PATCH)), "PATCH");
        let custom = Method::from_bytes(b"PURGE").expect("valid token");
        assert_eq!(method_label(method_index(&custom)), OTHER_METHOD);
    }

    #[test]
    fn routes_are_interned_and_capped() {
        let routes = Routes::new(2);
        let a = routes.get("/a");
        assert!(Arc::ptr_eq(&a, &routes.get("/a")));
        routes.get("/b");
        assert_eq!(&*routes.get("/c").label, OVERFLOW_ROUTE);
        assert_eq!(&*routes.get("/a").label, "/a");
        let long = "é".repeat(300);
        assert!(routes.get(&long).label.len() <= MAX_ROUTE_LEN);
    }
}
