//! `GET /api/categories/suggest?text=...`: a category from keyword rules, cached.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, timed};

const MAX_TEXT: usize = 1_000;

/// Keyword rules, first match wins.
const RULES: &[(&str, &[&str])] = &[
    (
        "food",
        &[
            "coffee",
            "lunch",
            "dinner",
            "breakfast",
            "restaurant",
            "grocer",
            "pizza",
            "cafe",
        ],
    ),
    (
        "transport",
        &[
            "taxi", "uber", "train", "bus", "flight", "fuel", "parking", "metro",
        ],
    ),
    (
        "housing",
        &[
            "rent", "electric", "water", "internet", "mortgage", "gas bill",
        ],
    ),
    (
        "entertainment",
        &["movie", "cinema", "concert", "netflix", "game", "theatre"],
    ),
    ("health", &["pharmacy", "doctor", "dentist", "gym"]),
];

/// The query.
#[derive(Debug, Deserialize)]
pub(crate) struct SuggestQuery {
    text: Option<String>,
}

/// The answer.
#[derive(Debug, Serialize)]
pub(crate) struct Suggestion {
    category: String,
    cached: bool,
}

#[tracing::instrument(name = "category_lookup", skip_all)]
fn lookup(text: &str) -> &'static str {
    RULES
        .iter()
        .find(|(_, words)| words.iter().any(|w| text.contains(w)))
        .map_or("other", |(category, _)| category)
}

/// `GET /api/categories/suggest`.
pub(crate) async fn suggest(
    State(state): State<AppState>,
    query: Result<Query<SuggestQuery>, QueryRejection>,
) -> Result<Json<Suggestion>, ApiError> {
    timed(&state.collector, "suggest_category", async {
        let Query(query) = query?;
        let text = query.text.unwrap_or_default();
        let text = text.trim().to_lowercase();
        if text.is_empty() {
            return Err(ApiError::bad_request(
                "missing parameter: give the text as ?text=...",
            ));
        }
        if text.chars().count() > MAX_TEXT {
            return Err(ApiError::bad_request(format!(
                "`text` must be at most {MAX_TEXT} characters"
            )));
        }
        let key = format!("category:{text}");
        if let Some(category) = state.cache.get("categories", &key).await {
            return Ok(Json(Suggestion {
                category,
                cached: true,
            }));
        }
        let category = lookup(&text);
        // A failing cache was logged and counted as an error of `cache_set`; the answer
        // does not depend on it.
        let _ = state.cache.set(&key, category).await;
        Ok(Json(Suggestion {
            category: category.to_owned(),
            cached: false,
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn keywords_pick_the_category() {
        assert_eq!(lookup("coffee with ada"), "food");
        assert_eq!(lookup("train to lyon"), "transport");
        assert_eq!(lookup("a nice hat"), "other");
    }
}
