-- xlcli schema, version 5: approximate-search structures (faiss HNSW / IVF) of dense indexes.
-- Derived data: built from an index's stored vectors by `xlcli index --ann`, rebuilt when missing
-- or when the index's passages changed. One structure per index (its settings are also in
-- indexes.params_json "ann"). The bytes are faiss.serialize_index's, split over `ann_chunks`
-- (SQLite caps one BLOB at 1e9 bytes; an HNSW over 1M × 384 vectors is ~1.8 GB). `passage_ids`
-- maps the structure's rows to passages (n little-endian int64). Written in one transaction.
CREATE TABLE ann_structures (
    index_id INTEGER PRIMARY KEY REFERENCES indexes (id),
    settings_json TEXT NOT NULL,
    n INTEGER NOT NULL,
    passage_ids BLOB NOT NULL,
    chunks INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id)
);
CREATE TABLE ann_chunks (
    index_id INTEGER NOT NULL REFERENCES ann_structures (index_id),
    chunk INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (index_id, chunk)
);
