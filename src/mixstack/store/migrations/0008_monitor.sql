-- Monitoring. `abuse`: what the gateway's injection/jailbreak detector found on a call (JSON:
-- label, score, kinds, action, findings), or NULL. `alerts`: raised by the per-key/workload
-- baselines. `call_stats` and `call_latency`: aggregates per minute and per hour, by model,
-- key (caller) and workload, added to by each process as it records calls (store/aggregates.py;
-- a trigger made inserts 10x slower), so the dashboard's charts never scan the calls table. `privacy_chain`: a hash chain over the proof columns of each call
-- (tamper evidence), sealed by the gateway.
ALTER TABLE calls ADD COLUMN abuse TEXT;
CREATE INDEX calls_caller ON calls (caller, created_at);
CREATE INDEX calls_flagged ON calls (created_at) WHERE abuse IS NOT NULL;

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    kind TEXT NOT NULL,                 -- threshold | departure | prompt_leak
    metric TEXT NOT NULL,
    scope TEXT NOT NULL,                -- key | workload
    subject TEXT NOT NULL,              -- key id or workload name
    value REAL NOT NULL,
    threshold REAL,
    message TEXT NOT NULL,
    sent_to TEXT NOT NULL DEFAULT ''    -- where it went: log, metrics, webhook
);
CREATE INDEX alerts_created_at ON alerts (created_at);

CREATE TABLE call_stats (
    span INTEGER NOT NULL,              -- seconds per period: 60 or 3600
    period INTEGER NOT NULL,            -- created_at / span
    dim TEXT NOT NULL,                  -- model | caller | workload
    value TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0,
    flagged INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (span, dim, period, value)
) WITHOUT ROWID;

-- latency histogram: bucket i counts latencies under the i-th bound (1, 2, 3, 5, 7, 10, ... ms);
-- model '*' holds all models together
CREATE TABLE call_latency (
    span INTEGER NOT NULL,
    period INTEGER NOT NULL,
    model TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (span, model, period, bucket)
) WITHOUT ROWID;

-- rows already stored count too
INSERT INTO call_stats
SELECT s.span, CAST(c.created_at / s.span AS INTEGER), d.dim,
       CASE d.dim WHEN 'model' THEN c.model WHEN 'caller' THEN c.caller ELSE c.workload END,
       COUNT(*), SUM(c.error IS NOT NULL), SUM(c.prompt_tokens), SUM(c.completion_tokens),
       SUM(c.cost_usd), SUM(c.latency_ms), 0
FROM calls c, (SELECT 60 AS span UNION ALL SELECT 3600) s, (SELECT 'model' AS dim UNION ALL SELECT 'caller' UNION ALL SELECT 'workload') d
GROUP BY 1, 2, 3, 4;
INSERT INTO call_latency
SELECT s.span, CAST(c.created_at / s.span AS INTEGER), c.model,
       CASE
           WHEN c.latency_ms < 1 THEN 0
           WHEN c.latency_ms < 2 THEN 1
           WHEN c.latency_ms < 3 THEN 2
           WHEN c.latency_ms < 5 THEN 3
           WHEN c.latency_ms < 7 THEN 4
           WHEN c.latency_ms < 10 THEN 5
           WHEN c.latency_ms < 15 THEN 6
           WHEN c.latency_ms < 20 THEN 7
           WHEN c.latency_ms < 30 THEN 8
           WHEN c.latency_ms < 50 THEN 9
           WHEN c.latency_ms < 70 THEN 10
           WHEN c.latency_ms < 100 THEN 11
           WHEN c.latency_ms < 150 THEN 12
           WHEN c.latency_ms < 200 THEN 13
           WHEN c.latency_ms < 300 THEN 14
           WHEN c.latency_ms < 500 THEN 15
           WHEN c.latency_ms < 700 THEN 16
           WHEN c.latency_ms < 1000 THEN 17
           WHEN c.latency_ms < 1500 THEN 18
           WHEN c.latency_ms < 2000 THEN 19
           WHEN c.latency_ms < 3000 THEN 20
           WHEN c.latency_ms < 5000 THEN 21
           WHEN c.latency_ms < 7000 THEN 22
           WHEN c.latency_ms < 10000 THEN 23
           WHEN c.latency_ms < 15000 THEN 24
           WHEN c.latency_ms < 20000 THEN 25
           WHEN c.latency_ms < 30000 THEN 26
           WHEN c.latency_ms < 60000 THEN 27
           WHEN c.latency_ms < 120000 THEN 28
           ELSE 29
       END,
       COUNT(*)
FROM calls c, (SELECT 60 AS span UNION ALL SELECT 3600) s
GROUP BY 1, 2, 3, 4;

INSERT INTO call_latency
SELECT span, period, '*', bucket, SUM(n) FROM call_latency GROUP BY 1, 2, 4;

CREATE TABLE privacy_chain (
    call_id INTEGER PRIMARY KEY,        -- calls.id
    request_id TEXT NOT NULL,
    digest TEXT NOT NULL,               -- sha256 of the row's proof columns
    hash TEXT NOT NULL                  -- sha256(previous hash + digest)
);
