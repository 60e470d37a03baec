-- Virtual API keys of the gateway: stored hashed, with budgets and limits.
-- Budgets hold under concurrency (and across gateway processes) because a request reserves
-- its estimated cost before the call; the trigger refuses any reservation that would take
-- spent + reserved over the budget. Settling after the call only lowers `reserved_*`.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    budget_usd REAL,
    spent_usd REAL NOT NULL DEFAULT 0,
    reserved_usd REAL NOT NULL DEFAULT 0,
    max_tokens INTEGER,
    tokens_used INTEGER NOT NULL DEFAULT 0,
    tokens_reserved INTEGER NOT NULL DEFAULT 0,
    rpm INTEGER,
    tpm INTEGER,
    models TEXT NOT NULL DEFAULT '[]',
    requests INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER api_keys_reserve_within_budget
BEFORE UPDATE OF reserved_usd, tokens_reserved ON api_keys
WHEN (NEW.reserved_usd > OLD.reserved_usd AND NEW.budget_usd IS NOT NULL
      AND NEW.spent_usd + NEW.reserved_usd > NEW.budget_usd + 1e-12)
  OR (NEW.tokens_reserved > OLD.tokens_reserved AND NEW.max_tokens IS NOT NULL
      AND NEW.tokens_used + NEW.tokens_reserved > NEW.max_tokens)
BEGIN
    SELECT RAISE(ABORT, 'mixstack: over budget');
END;
