-- Expenses: amounts in cents, dates as ISO 8601 text (YYYY-MM-DD) on both databases.
CREATE TABLE IF NOT EXISTS expenses (
    id           BIGSERIAL PRIMARY KEY,
    description  TEXT      NOT NULL CHECK (char_length(description) BETWEEN 1 AND 500),
    amount_cents BIGINT    NOT NULL CHECK (amount_cents > 0),
    category     TEXT,
    date         TEXT      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS expenses_date ON expenses (date);
