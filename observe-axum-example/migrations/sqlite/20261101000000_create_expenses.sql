-- Expenses: amounts in cents, dates as ISO 8601 text (YYYY-MM-DD) on both databases.
CREATE TABLE IF NOT EXISTS expenses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    description  TEXT    NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    category     TEXT,
    date         TEXT    NOT NULL,
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX IF NOT EXISTS expenses_date ON expenses (date);
