-- The eval harness: a response cache so that a rerun costs nothing, and one row per eval run.
CREATE TABLE response_cache (
    key TEXT PRIMARY KEY,               -- sha256 of model, parameters, tools and messages
    model TEXT NOT NULL,
    created_at REAL NOT NULL,
    completion TEXT NOT NULL            -- the Completion as JSON
);
CREATE TABLE eval_runs (
    id TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    suite_path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    workload TEXT NOT NULL DEFAULT 'default',
    models TEXT NOT NULL,               -- JSON list
    out_dir TEXT NOT NULL,
    status TEXT NOT NULL,               -- running | finished | interrupted
    started_at REAL NOT NULL,
    finished_at REAL,
    summary TEXT                        -- the JSON summary once finished
);
CREATE INDEX eval_runs_suite ON eval_runs (suite_path, started_at);
