-- xlcli schema, version 2: query rewrites (translate-test and spelling correction).
-- A rewrite run turns the queries of some languages and split, and their misspelled variants,
-- into text in one target language; eval can then rank the rewritten text instead of the query.

-- One rewrite run = one (dataset, backend, target language, languages, split, variant sets,
-- dictionaries or model, options). `key` is a hash of all of that except the name: the same
-- --name with other parameters is refused, the same parameters find this row again (resume).
-- params_json: {"langs": [...], "split": ..., "variant_sets": [...], "lexicons": {lang: {path, sha256,
-- direction, entries}}, "model": ..., "options": {...}}.
CREATE TABLE rewrite_runs (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets (id),
    name TEXT NOT NULL UNIQUE,
    backend TEXT NOT NULL,            -- lexicon | mt | spell
    target_lang TEXT NOT NULL,        -- the language of every rewritten text; 'source' for spell (each its own)
    params_json TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id)
);

-- One row per rewritten text. variant_id = 0 is the clean query; otherwise the query_variants row
-- (as in eval_rankings). operations_json lists, per word of the source text, what resolved it:
-- [{"word": "perrro", "step": "fuzzy", "out": "dog", "key": "perro", "dist": 1}, ...] with step one
-- of exact | folded | lemma | compound | fuzzy | name | transliterated | number | unknown (lexicon),
-- kept | lemma | fuzzy | name | unknown (spell); [] for mt. `unknown` counts the words nothing
-- resolved (NULL for mt, which does not say).
CREATE TABLE query_rewrites (
    id INTEGER PRIMARY KEY,
    rewrite_run_id INTEGER NOT NULL REFERENCES rewrite_runs (id),
    query_id INTEGER NOT NULL REFERENCES queries (id),
    variant_id INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL,
    operations_json TEXT NOT NULL,
    unknown INTEGER,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    UNIQUE (rewrite_run_id, query_id, variant_id)
);
CREATE INDEX query_rewrites_query ON query_rewrites (query_id);

-- An eval run over rewritten queries names its rewrite run; NULL = the queries as they are.
ALTER TABLE eval_runs ADD COLUMN rewrite_run_id INTEGER REFERENCES rewrite_runs (id);
