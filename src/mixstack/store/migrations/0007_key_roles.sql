-- Keys get a role (admin keys may read /metrics, /health details and the dashboard), an
-- optional expiry, and an optional budget period: spend and tokens start again from zero at
-- each period boundary (`period_start` is when the current period began).
ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN expires_at REAL;
ALTER TABLE api_keys ADD COLUMN budget_period TEXT;
ALTER TABLE api_keys ADD COLUMN period_start REAL;
