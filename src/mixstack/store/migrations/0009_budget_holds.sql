-- Budget holds owned per process. Each hold is a row owned by a process's lease; the
-- triggers keep `api_keys.reserved_*` equal to the sum of the key's holds, so the budget
-- trigger of 0003 still refuses a hold that would pass the budget (the INSERT aborts).
-- A process starting frees only the holds of owners whose lease lapsed or whose process is
-- gone, never those of other live gateway processes sharing this file.
CREATE TABLE store_leases (
    owner TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    expires_at REAL NOT NULL
);

CREATE TABLE budget_holds (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    tokens INTEGER NOT NULL,
    created_at REAL NOT NULL,
    settled_usd REAL,
    settled_tokens INTEGER
);
CREATE INDEX budget_holds_owner ON budget_holds (owner);

CREATE TRIGGER budget_holds_take AFTER INSERT ON budget_holds
BEGIN
    UPDATE api_keys SET reserved_usd = reserved_usd + NEW.cost_usd,
        tokens_reserved = tokens_reserved + NEW.tokens
    WHERE id = NEW.key_id;
END;

CREATE TRIGGER budget_holds_free AFTER DELETE ON budget_holds
BEGIN
    UPDATE api_keys SET reserved_usd = MAX(0, reserved_usd - OLD.cost_usd),
        tokens_reserved = MAX(0, tokens_reserved - OLD.tokens)
    WHERE id = OLD.key_id;
END;

-- settling is one statement: the real spend is added and the hold freed together
CREATE TRIGGER budget_holds_settle AFTER UPDATE OF settled_usd ON budget_holds
WHEN NEW.settled_usd IS NOT NULL
BEGIN
    UPDATE api_keys SET spent_usd = spent_usd + NEW.settled_usd,
        tokens_used = tokens_used + NEW.settled_tokens, requests = requests + 1
    WHERE id = NEW.key_id;
    DELETE FROM budget_holds WHERE id = NEW.id;
END;

-- holds taken before holds had owners belong to no live process
UPDATE api_keys SET reserved_usd = 0, tokens_reserved = 0;
