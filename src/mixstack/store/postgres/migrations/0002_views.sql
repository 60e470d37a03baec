-- The dashboard, alerts and the privacy hash chain (store/postgres/fold.py, dashboard.py,
-- alerts.py, chain.py).
--
-- `call_inbox`: the id of every call inserted, filled by a statement trigger in the inserting
-- transaction, so a call is in it exactly when it is committed, whichever replica wrote it.
-- One replica at a time (an advisory lock) folds the inbox into the aggregates and seals it
-- into the chain, then empties what it folded: each committed call is counted and sealed
-- once, in the order the chain's `seq` records, however replicas' commits interleave.
CREATE INDEX calls_flagged ON calls (created_at) WHERE abuse IS NOT NULL;

CREATE TABLE call_inbox (
    call_id BIGINT PRIMARY KEY
);

CREATE FUNCTION mixstack_call_inbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_inbox (call_id) SELECT id FROM added ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER calls_inbox AFTER INSERT ON calls REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION mixstack_call_inbox();

-- calls stored before this migration are folded and sealed too
INSERT INTO call_inbox (call_id) SELECT id FROM calls;

-- aggregates per minute and per hour (span 60 or 3600; period = created_at / span), by
-- model, key (caller) and workload, as on SQLite
CREATE TABLE call_stats (
    span INTEGER NOT NULL,
    period BIGINT NOT NULL,
    dim TEXT NOT NULL,
    value TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    flagged BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span, dim, period, value)
);

-- latency histogram: bucket i counts latencies under the i-th bound (store/aggregates.py);
-- model '*' holds all models together
CREATE TABLE call_latency (
    span INTEGER NOT NULL,
    period BIGINT NOT NULL,
    model TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (span, model, period, bucket)
);

-- one link per sealed call, in sealing order
CREATE TABLE privacy_chain (
    seq BIGINT PRIMARY KEY,
    call_id BIGINT NOT NULL UNIQUE,
    request_id TEXT NOT NULL,
    digest TEXT NOT NULL,               -- sha256 of the call's proof columns
    hash TEXT NOT NULL,                 -- sha256(previous link's hash + digest)
    sealed_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,                 -- threshold | departure | prompt_leak
    metric TEXT NOT NULL,
    scope TEXT NOT NULL,                -- key | workload
    subject TEXT NOT NULL,              -- key id or workload name
    value DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION,
    message TEXT NOT NULL,
    sent_to TEXT NOT NULL DEFAULT ''    -- where it went: log, metrics, webhook
);
CREATE INDEX alerts_created_at ON alerts (created_at);
CREATE INDEX alerts_subject ON alerts (subject, id);
