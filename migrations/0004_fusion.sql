-- xlcli schema, version 4: rank fusion of systems (the `fuse` step).
-- A fusion run combines the stored eval runs of two or more systems (an index, an index with a
-- query rewrite, or another fusion) into a new system; its eval runs are ordinary eval_runs rows
-- (rankings and per-query values in eval_rankings / eval_measures) with index_id NULL and
-- fusion_run_id set, so that report, significance tests, exports and sql treat it like any system.

-- One fusion run = one named fused system of one dataset. `key` hashes everything but the name
-- (inputs, method, normalisation, k, weights or how they are chosen, depth, split): the same --name
-- with other parameters is refused, the same parameters find this row again (resume, re-run).
-- params_json: {"inputs": [{"system": label, "kind": "index"|"rewrite"|"fusion", "index_id",
-- "rewrite_run_id", "fusion_run_id"}, ...], "method", "norm", "k", "weights", "depth", "split",
-- "weights_from": "user"|"default"|{"optimize_on": split, "measure": ..., "grid": ..., "best": ...},
-- "leakage": bool}.
CREATE TABLE fusion_runs (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    name TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL,             -- rrf | combsum | combmnz | wsum | combmax | combanz
    params_json TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id)
);

-- eval_runs: index_id becomes NULLable (a fused run has no index) and fusion_run_id is added.
-- SQLite cannot drop NOT NULL in place: rebuild the table. foreign_keys cannot be switched off
-- inside the migration's transaction, so the checks of eval_rankings / eval_measures, which point
-- at eval_runs by name, are deferred to the commit, when the rebuilt table holds every id again.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE eval_runs_new (
    id INTEGER PRIMARY KEY,
    index_id INTEGER REFERENCES indexes (id),               -- NULL for a fused system
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    lang TEXT NOT NULL,
    split TEXT NOT NULL,
    condition TEXT NOT NULL,          -- 'clean' or the variant set's name
    variant_set_id INTEGER REFERENCES variant_sets (id),
    measures TEXT NOT NULL,           -- space-separated ir_measures names
    depth INTEGER NOT NULL,
    params_json TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    rewrite_run_id INTEGER REFERENCES rewrite_runs (id),    -- NULL = the queries as they are
    fusion_run_id INTEGER REFERENCES fusion_runs (id),      -- set for a fused system
    UNIQUE (key),
    CHECK ((index_id IS NULL) <> (fusion_run_id IS NULL))   -- a run is an index's or a fusion's
);

INSERT INTO eval_runs_new (id, index_id, dataset_id, lang, split, condition, variant_set_id, measures, depth,
                           params_json, key, created_at, invocation_id, rewrite_run_id, fusion_run_id)
SELECT id, index_id, dataset_id, lang, split, condition, variant_set_id, measures, depth,
       params_json, key, created_at, invocation_id, rewrite_run_id, NULL
FROM eval_runs;

DROP TABLE eval_runs;
ALTER TABLE eval_runs_new RENAME TO eval_runs;
CREATE INDEX eval_runs_fusion ON eval_runs (fusion_run_id);
