-- xlcli schema, version 1: every table the seven steps write.
-- Conventions: ids are INTEGER PRIMARY KEYs; *_json columns hold JSON text (query them with
-- json_extract); every produced row names the step invocation that produced it.

-- One row per run of a step (ingest, perturb, generate, train, index, eval, ...).
-- `key` is a hash of (step, parameters): running the same step with the same parameters
-- finds this row again, which is how finished work is skipped and interrupted work resumed.
CREATE TABLE invocations (
    id INTEGER PRIMARY KEY,
    step TEXT NOT NULL,
    key TEXT NOT NULL,
    params_json TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    pid INTEGER,
    host TEXT,
    xlcli_version TEXT NOT NULL,
    summary_json TEXT,
    error TEXT,
    UNIQUE (step, key)
);

CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,               -- locomo | beir | squad | parallel
    lang TEXT NOT NULL,               -- language of the original queries and passages
    source TEXT,                      -- file or folder it was read from
    metadata_json TEXT NOT NULL DEFAULT '{}',
    invocation_id INTEGER NOT NULL REFERENCES invocations (id)
);

-- Retrieval units. `scope` restricts retrieval (LoCoMo: the conversation); NULL = whole corpus.
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    ext_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    scope TEXT,
    unit TEXT NOT NULL DEFAULT 'passage',   -- locomo: turn | observation | summary
    title TEXT,
    text TEXT NOT NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    UNIQUE (dataset_id, ext_id)
);
CREATE INDEX passages_scope ON passages (dataset_id, scope);

-- Queries in every language. A translation keeps its source's ext_id, has its own `lang`,
-- points to the source through `source_query_id`, and carries a copy of the source's qrels.
-- `translator` is '' for original and human translations, the MT model for machine ones.
CREATE TABLE queries (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    ext_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    split TEXT NOT NULL,
    scope TEXT,
    text TEXT NOT NULL,
    source_query_id INTEGER REFERENCES queries (id),
    translator TEXT NOT NULL DEFAULT '',
    metadata_json TEXT NOT NULL DEFAULT '{}',
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    UNIQUE (dataset_id, ext_id, lang, translator)
);
CREATE INDEX queries_lang_split ON queries (dataset_id, lang, split);
CREATE INDEX queries_source ON queries (source_query_id);

CREATE TABLE qrels (
    query_id INTEGER NOT NULL REFERENCES queries (id),
    passage_id INTEGER NOT NULL REFERENCES passages (id),
    relevance INTEGER NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    PRIMARY KEY (query_id, passage_id)
);
CREATE INDEX qrels_passage ON qrels (passage_id);

-- Line-aligned parallel sentences for the alignment objective (dataset kind 'parallel').
CREATE TABLE parallel_sentences (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    line INTEGER NOT NULL,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    en_text TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    UNIQUE (dataset_id, line)
);

-- perturb: a variant set is one (dataset, protocol, parameters, seed); variants are its rows.
CREATE TABLE variant_sets (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    name TEXT NOT NULL,               -- shown in eval/report, e.g. 'ielab' or 'rate-0.1'
    protocol TEXT NOT NULL,
    params_json TEXT NOT NULL,
    seed INTEGER NOT NULL,
    key TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    UNIQUE (dataset_id, key)
);

CREATE TABLE query_variants (
    id INTEGER PRIMARY KEY,
    variant_set_id INTEGER NOT NULL REFERENCES variant_sets (id),
    query_id INTEGER NOT NULL REFERENCES queries (id),
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    operations_json TEXT NOT NULL,    -- [{"op": "...", "word": i, "pos": j, "old": "...", "new": "..."}]
    levenshtein INTEGER NOT NULL,
    damerau INTEGER NOT NULL,         -- optimal string alignment distance
    seed INTEGER NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    UNIQUE (variant_set_id, query_id, idx)
);
CREATE INDEX query_variants_query ON query_variants (query_id);

-- Queries that a protocol could not perturb, with the reason (counted, never silently dropped).
CREATE TABLE variant_skips (
    variant_set_id INTEGER NOT NULL REFERENCES variant_sets (id),
    query_id INTEGER NOT NULL REFERENCES queries (id),
    reason TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    PRIMARY KEY (variant_set_id, query_id)
);

-- generate: one generator run = one (dataset, backend, model/lexicons, parameters, seed).
CREATE TABLE generator_runs (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    name TEXT NOT NULL UNIQUE,
    backend TEXT NOT NULL,            -- seq2seq | lexicon
    model TEXT,
    params_json TEXT NOT NULL,
    key TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id)
);

CREATE TABLE generated_queries (
    id INTEGER PRIMARY KEY,
    generator_run_id INTEGER NOT NULL REFERENCES generator_runs (id),
    passage_id INTEGER NOT NULL REFERENCES passages (id),
    lang TEXT NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    UNIQUE (generator_run_id, passage_id, lang, idx)
);
CREATE INDEX generated_queries_passage ON generated_queries (passage_id, lang);

-- train
CREATE TABLE training_runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dataset_id INTEGER REFERENCES datasets (id),
    base_model TEXT NOT NULL,
    config_json TEXT NOT NULL,
    key TEXT NOT NULL,
    allow_leakage INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,             -- running | done | failed
    output_dir TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id)
);

CREATE TABLE training_log (
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id),
    step INTEGER NOT NULL,
    objective TEXT NOT NULL,          -- total | contrastive | self_teaching | align ...
    loss REAL NOT NULL,
    lr REAL,
    logged_at TEXT NOT NULL,
    PRIMARY KEY (training_run_id, step, objective)
);

-- Encoders usable by index/eval: the packaged default, hub ids, local paths, checkpoints.
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,             -- package | hub | path | checkpoint
    path TEXT NOT NULL,
    pooling TEXT NOT NULL,
    normalize INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    max_length INTEGER,
    query_prefix TEXT NOT NULL DEFAULT '',
    passage_prefix TEXT NOT NULL DEFAULT '',
    base_model_id INTEGER REFERENCES models (id),
    training_run_id INTEGER REFERENCES training_runs (id),
    step INTEGER,
    created_at TEXT NOT NULL,
    invocation_id INTEGER REFERENCES invocations (id)
);

-- index: a dense index owns one vec0 table (`vec_table`), a bm25 index one FTS5 table.
CREATE TABLE indexes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    kind TEXT NOT NULL,               -- dense | bm25
    model_id INTEGER REFERENCES models (id),
    dim INTEGER,
    vec_table TEXT,
    augmentation_json TEXT,           -- NULL = plain passages; else generator run(s), alpha, fusion
    params_json TEXT NOT NULL,
    status TEXT NOT NULL,             -- building | done
    invocation_id INTEGER NOT NULL REFERENCES invocations (id)
);

-- Bookkeeping of which passages an index holds; written in the same transaction as the vectors.
CREATE TABLE index_entries (
    index_id INTEGER NOT NULL REFERENCES indexes (id),
    passage_id INTEGER NOT NULL REFERENCES passages (id),
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    PRIMARY KEY (index_id, passage_id)
);

-- eval: one run = one index × query set (language × condition); condition 'clean' or a variant set.
CREATE TABLE eval_runs (
    id INTEGER PRIMARY KEY,
    index_id INTEGER NOT NULL REFERENCES indexes (id),
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
    UNIQUE (key)
);

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
