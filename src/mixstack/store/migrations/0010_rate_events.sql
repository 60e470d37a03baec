-- Rate-limit windows in the database, so several gateway processes on one SQLite file
-- (`mixstack serve --workers N`) share each key's requests- and tokens-per-minute limits.
-- One row per admitted request; rows leave the window after 60 s and are pruned.
CREATE TABLE rate_events (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    at REAL NOT NULL,
    tokens INTEGER NOT NULL
);
CREATE INDEX rate_events_key ON rate_events (key_id, at);
