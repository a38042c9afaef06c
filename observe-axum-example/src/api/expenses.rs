//! `POST /api/expenses`, `GET /api/expenses`, `GET /api/expenses/{id}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

use super::{ApiError, AppState, db_call, timed};
use crate::db::{Expense, Filter, NewExpense};

const MAX_DESCRIPTION: usize = 500;
const MAX_CATEGORY: usize = 100;
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1_000;

/// The body of `POST /api/expenses`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateExpense {
    description: String,
    amount_cents: i64,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

fn parse_date(field: &str, value: &str) -> Result<String, String> {
    Date::parse(value, format_description!("[year]-[month]-[day]"))
        .map(|d| d.to_string())
        .map_err(|_| format!("`{field}` must be a date as YYYY-MM-DD, got {value:?}"))
}

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

impl CreateExpense {
    /// Checks every field; the error names the first one out of range.
    fn validate(self) -> Result<NewExpense, ApiError> {
        let description = self.description.trim().to_owned();
        let chars = description.chars().count();
        if !(1..=MAX_DESCRIPTION).contains(&chars) {
            return Err(ApiError::unprocessable(format!(
                "`description` must be 1 to {MAX_DESCRIPTION} characters, got {chars}"
            )));
        }
        if self.amount_cents <= 0 {
            return Err(ApiError::unprocessable(format!(
                "`amount_cents` must be a positive integer, got {}",
                self.amount_cents
            )));
        }
        let category = match self.category.map(|c| c.trim().to_owned()) {
            Some(c) if c.chars().count() > MAX_CATEGORY => {
                return Err(ApiError::unprocessable(format!(
                    "`category` must be at most {MAX_CATEGORY} characters"
                )));
            }
            Some(c) if c.is_empty() => None,
            other => other,
        };
        let date = match self.date {
            Some(date) => parse_date("date", &date).map_err(ApiError::unprocessable)?,
            None => today(),
        };
        Ok(NewExpense {
            description,
            amount_cents: self.amount_cents,
            category,
            date,
        })
    }
}

/// `POST /api/expenses`: 201 with the stored expense.
pub(crate) async fn create(
    State(state): State<AppState>,
    body: Result<Json<CreateExpense>, JsonRejection>,
) -> Result<(StatusCode, Json<Expense>), ApiError> {
    timed(&state.collector, "create_expense", async {
        let Json(body) = body?;
        let new = body.validate()?;
        let expense = db_call(state.db.insert(&new)).await?;
        tracing::debug!(id = expense.id, "expense stored");
        Ok((StatusCode::CREATED, Json(expense)))
    })
    .await
}

/// `GET /api/expenses/{id}`.
pub(crate) async fn get_one(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Expense>, ApiError> {
    timed(&state.collector, "get_expense", async {
        let Path(id) = id?;
        let id: i64 = id
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| ApiError::bad_request("the id must be a positive integer"))?;
        db_call(state.db.get(id))
            .await?
            .map(Json)
            .ok_or_else(|| ApiError::not_found(format!("no expense with id {id}")))
    })
    .await
}

/// The query of `GET /api/expenses`, as text so each bad value gets its own message.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// The answer of `GET /api/expenses`.
#[derive(Debug, Serialize)]
pub(crate) struct Page {
    items: Vec<Expense>,
    total: i64,
    limit: i64,
    offset: i64,
}

fn parse_number(
    name: &str,
    value: Option<&str>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ApiError> {
    let Some(value) = value else {
        return Ok(default);
    };
    value
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{name}` must be an integer from {} to {}, got {value:?}",
                range.start(),
                range.end()
            ))
        })
}

impl ListQuery {
    fn filter(self) -> Result<Filter, ApiError> {
        let from = self
            .from
            .map(|d| parse_date("from", &d))
            .transpose()
            .map_err(ApiError::bad_request)?;
        let to = self
            .to
            .map(|d| parse_date("to", &d))
            .transpose()
            .map_err(ApiError::bad_request)?;
        if let (Some(from), Some(to)) = (&from, &to)
            && from > to
        {
            return Err(ApiError::bad_request(format!(
                "`from` ({from}) is after `to` ({to})"
            )));
        }
        Ok(Filter {
            from,
            to,
            limit: parse_number("limit", self.limit.as_deref(), DEFAULT_LIMIT, 1..=MAX_LIMIT)?,
            offset: parse_number("offset", self.offset.as_deref(), 0, 0..=i64::from(i32::MAX))?,
        })
    }
}

/// `GET /api/expenses?from=&to=&limit=&offset=`.
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page>, ApiError> {
    let ranged = query
        .as_ref()
        .is_ok_and(|Query(q)| q.from.is_some() || q.to.is_some());
    let name = if ranged {
        "get_expenses_by_date_range"
    } else {
        "get_expenses"
    };
    timed(&state.collector, name, async {
        let Query(query) = query?;
        let filter = query.filter()?;
        let (items, total) = db_call(state.db.list(&filter)).await?;
        Ok(Json(Page {
            items,
            total,
            limit: filter.limit,
            offset: filter.offset,
        }))
    })
    .await
}
