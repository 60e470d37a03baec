-- One row per model call, from every front door.
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    locality TEXT NOT NULL,
    endpoint TEXT NOT NULL DEFAULT '',
    workload TEXT NOT NULL DEFAULT '',
    caller TEXT NOT NULL DEFAULT '',
    front_door TEXT NOT NULL DEFAULT '',
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0,
    ttft_ms REAL,
    finish_reason TEXT,
    error TEXT,
    error_type TEXT,
    prompt TEXT,
    response TEXT
);
CREATE INDEX calls_created_at ON calls (created_at);
