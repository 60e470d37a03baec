-- The proof record of each call: the routing decision, the policy applied, the PII found
-- (types and counts as JSON, never values) and whether the request was redacted.
ALTER TABLE calls ADD COLUMN route TEXT;
ALTER TABLE calls ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN pii TEXT NOT NULL DEFAULT '[]';
ALTER TABLE calls ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_workload ON calls (workload, created_at);
