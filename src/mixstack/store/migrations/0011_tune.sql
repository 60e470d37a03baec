-- Tuning: one row per tuned model (its lineage: base, data hash, hyperparameters, files) and
-- one row per promotion into routing, keeping the calibration entry it replaced so that a
-- rollback restores exactly what was there before.
CREATE TABLE tuned_models (
    name TEXT PRIMARY KEY,              -- local/<name>
    base_model TEXT NOT NULL,           -- the catalog name of the base, e.g. local/smollm2-135m-instruct
    base_sha256 TEXT NOT NULL,          -- of the base GGUF file
    data_sha256 TEXT NOT NULL,          -- of the training split as written
    dataset_path TEXT NOT NULL,         -- the dataset folder (held-out split for the gate)
    train_examples INTEGER NOT NULL,
    heldout_examples INTEGER NOT NULL,
    hyperparameters TEXT NOT NULL,      -- JSON: rank, alpha, targets, epochs, lr, seed, ...
    adapter_path TEXT NOT NULL,         -- the GGUF LoRA adapter
    adapter_sha256 TEXT NOT NULL,
    workload TEXT NOT NULL DEFAULT '',
    final_loss REAL,
    train_seconds REAL,
    created_at REAL NOT NULL
);

CREATE TABLE tune_promotions (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,                -- the tuned model promoted
    workload TEXT NOT NULL,
    calibration_path TEXT NOT NULL,
    previous_entry TEXT,                -- JSON of the workload's calibration entry before, or NULL
    entry TEXT NOT NULL,                -- JSON of the entry written
    gate_run TEXT NOT NULL DEFAULT '',  -- eval run id of the gate
    created_at REAL NOT NULL,
    rolled_back_at REAL
);
CREATE INDEX tune_promotions_workload ON tune_promotions (workload, created_at);
