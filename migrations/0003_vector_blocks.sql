-- xlcli schema, version 3: dense vectors also as contiguous blocks, for reading an index at once.
-- One row per batch the index step wrote, in the same transaction as that batch's vec0 rows and
-- index_entries (so a killed run leaves whole batches in both places). `vectors` is `n` × dim
-- little-endian float32, `passage_ids` `n` little-endian int64, in the same order. Eval reads an
-- index's matrix from here when the blocks cover every index entry, else from the vec0 table
-- (indexes built before this version).
CREATE TABLE vector_blocks (
    index_id INTEGER NOT NULL REFERENCES indexes (id),
    block INTEGER NOT NULL,           -- 0, 1, ... in the order the batches were written
    n INTEGER NOT NULL,
    passage_ids BLOB NOT NULL,
    vectors BLOB NOT NULL,
    invocation_id INTEGER NOT NULL REFERENCES invocations (id),
    PRIMARY KEY (index_id, block)
);
