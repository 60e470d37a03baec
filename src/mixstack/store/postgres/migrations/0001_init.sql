-- The PostgreSQL schema, numbered like SQLite's (store/migrations): keys, budget holds owned
-- by process leases, the call log, traces, the eval response cache and eval runs.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION,
    budget_usd DOUBLE PRECISION,
    spent_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    reserved_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    max_tokens BIGINT,
    tokens_used BIGINT NOT NULL DEFAULT 0,
    tokens_reserved BIGINT NOT NULL DEFAULT 0,
    rpm INTEGER,
    tpm INTEGER,
    models TEXT NOT NULL DEFAULT '[]',
    requests BIGINT NOT NULL DEFAULT 0,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at DOUBLE PRECISION,
    budget_period TEXT,
    period_start DOUBLE PRECISION
);

CREATE TABLE store_leases (
    owner TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE budget_holds (
    id BIGSERIAL PRIMARY KEY,
    key_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    tokens BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX budget_holds_owner ON budget_holds (owner);

CREATE TABLE calls (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    locality TEXT NOT NULL,
    endpoint TEXT NOT NULL DEFAULT '',
    workload TEXT NOT NULL DEFAULT '',
    caller TEXT NOT NULL DEFAULT '',
    front_door TEXT NOT NULL DEFAULT '',
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    ttft_ms DOUBLE PRECISION,
    finish_reason TEXT,
    error TEXT,
    error_type TEXT,
    prompt TEXT,
    response TEXT,
    route TEXT,
    policy TEXT NOT NULL DEFAULT '',
    pii TEXT NOT NULL DEFAULT '[]',
    redacted BOOLEAN NOT NULL DEFAULT FALSE,
    rephrase_use_case TEXT,
    original_prompt TEXT,
    rephrased_prompt TEXT,
    abuse TEXT
);
CREATE INDEX calls_created_at ON calls (created_at);
CREATE INDEX calls_workload ON calls (workload, created_at);
CREATE INDEX calls_caller ON calls (caller, created_at);

CREATE TABLE traces (
    id TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    task TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'agent',
    workload TEXT NOT NULL DEFAULT '',
    stopped TEXT,
    result TEXT,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    steps INTEGER NOT NULL DEFAULT 0,
    wall_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget TEXT
);
CREATE INDEX traces_created_at ON traces (created_at);

CREATE TABLE trace_steps (
    id BIGSERIAL PRIMARY KEY,
    trace_id TEXT NOT NULL REFERENCES traces (id),
    seq INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
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
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    detail TEXT,
    UNIQUE (trace_id, seq)
);

CREATE TABLE response_cache (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    completion TEXT NOT NULL
);

CREATE TABLE eval_runs (
    id TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    suite_path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    workload TEXT NOT NULL DEFAULT 'default',
    models TEXT NOT NULL,
    out_dir TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    summary TEXT
);
CREATE INDEX eval_runs_suite ON eval_runs (suite_path, started_at);

-- rate-limit windows shared by replicas when Redis is not configured or is down: one row
-- per admitted request, pruned as it leaves the window
CREATE TABLE rate_events (
    id BIGSERIAL PRIMARY KEY,
    key_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    tokens BIGINT NOT NULL
);
CREATE INDEX rate_events_key ON rate_events (key_id, at);
