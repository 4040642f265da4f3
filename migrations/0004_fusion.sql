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
-- SQLite cannot drop NOT NULL in place: the table is rebuilt. foreign_keys cannot be switched off
-- inside the migration's transaction, and deferring them does not help: DROP TABLE of a parent
-- counts every child row as a violation, which re-inserting into a renamed table does not undo.
-- So the two children (eval_rankings, eval_measures) are set aside in plain tables and dropped
-- first, eval_runs is rebuilt with no child pointing at it, then the children are re-created as
-- 0001 defined them and refilled: every id, and so every reference, is kept.
CREATE TABLE eval_rankings_kept AS SELECT * FROM eval_rankings;
CREATE TABLE eval_measures_kept AS SELECT * FROM eval_measures;
DROP TABLE eval_rankings;
DROP TABLE eval_measures;

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

-- Rankings: one row per retrieved passage; variant_id = 0 for the clean query.
CREATE TABLE eval_rankings (
    eval_run_id INTEGER NOT NULL REFERENCES eval_runs (id),
    query_id INTEGER NOT NULL REFERENCES queries (id),
    variant_id INTEGER NOT NULL DEFAULT 0,
    rank INTEGER NOT NULL,
    passage_id INTEGER NOT NULL REFERENCES passages (id),
    score REAL NOT NULL,
    PRIMARY KEY (eval_run_id, query_id, variant_id, rank)
);

-- Per-query measure values. variant_id = 0 holds the query's value (for a variant set: the mean
-- over its variants); rows with a variant_id hold each variant's own value.
CREATE TABLE eval_measures (
    eval_run_id INTEGER NOT NULL REFERENCES eval_runs (id),
    query_id INTEGER NOT NULL REFERENCES queries (id),
    variant_id INTEGER NOT NULL DEFAULT 0,
    measure TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (eval_run_id, query_id, variant_id, measure)
);
INSERT INTO eval_rankings SELECT eval_run_id, query_id, variant_id, rank, passage_id, score FROM eval_rankings_kept;
INSERT INTO eval_measures SELECT eval_run_id, query_id, variant_id, measure, value FROM eval_measures_kept;
DROP TABLE eval_rankings_kept;
DROP TABLE eval_measures_kept;
