-- Agent runs (one trace each) and their steps: model calls, tool calls, decisions, handoffs.
CREATE TABLE traces (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    finished_at REAL,
    task TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'agent',
    workload TEXT NOT NULL DEFAULT '',
    stopped TEXT,
    result TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    steps INTEGER NOT NULL DEFAULT 0,
    wall_ms REAL NOT NULL DEFAULT 0,
    budget TEXT
);
CREATE INDEX traces_created_at ON traces (created_at);

CREATE TABLE trace_steps (
    id INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL REFERENCES traces (id),
    seq INTEGER NOT NULL,
    created_at REAL NOT NULL,
    agent TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    model TEXT,
    request_id TEXT,
    route TEXT,
    messages_digest TEXT,
    tool TEXT,
    arguments TEXT,
    decision TEXT,
    ok INTEGER,
    output_digest TEXT,
    preview TEXT,
    findings TEXT,
    error TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0,
    detail TEXT,
    UNIQUE (trace_id, seq)
);
