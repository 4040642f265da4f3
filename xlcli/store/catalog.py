"""Finding things in the store by the names users type: datasets and indexes."""

from __future__ import annotations

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError

# Index kinds (``indexes.kind``).
DENSE, BM25 = "dense", "bm25"

# Dataset kinds that hold no passages and queries to retrieve from; every other kind does, so a new
# ingest format needs only its reader and its ``xlcli ingest`` subcommand.
NOT_RETRIEVAL_KINDS = ("parallel",)


def is_retrieval(kind: str) -> bool:
    """Whether a dataset of this kind has passages and queries (indexes, eval, perturb, ...)."""
    return kind not in NOT_RETRIEVAL_KINDS


def resolve_dataset(conn: Connection, name: str | None):
    """The retrieval dataset row called ``name``; with no name, the store's only retrieval dataset."""
    rows = conn.execute(text("SELECT * FROM datasets ORDER BY id")).mappings().all()
    candidates = [r for r in rows if is_retrieval(r["kind"])]
    if name is not None:
        for row in rows:
            if row["name"] == name:
                if not is_retrieval(row["kind"]):
                    raise XlcliError(f"dataset {name!r} is a {row['kind']} dataset, which has no passages or queries to retrieve")
                return row
        known = ", ".join(r["name"] for r in candidates) or "none yet"
        raise XlcliError(f"no dataset {name!r} in the store (datasets: {known})")
    if not candidates:
        raise XlcliError("the store has no dataset yet: run `xlcli ingest ...` first")
    if len(candidates) > 1:
        names = ", ".join(r["name"] for r in candidates)
        raise XlcliError(f"the store has several datasets ({names}): choose one with --dataset")
    return candidates[0]


def find_index(conn: Connection, name: str):
    """The ``indexes`` row called ``name``, or None."""
    return conn.execute(text("SELECT * FROM indexes WHERE name = :n"), {"n": name}).mappings().first()


def find_index_in(store, name: str):
    """:func:`find_index` in a read transaction of its own."""
    with store.read() as conn:
        return find_index(conn, name)


def resolve_index(conn: Connection, name: str):
    """The ``indexes`` row called ``name``, or a one-line error listing the indexes there are."""
    row = find_index(conn, name)
    if row is None:
        names = [r for (r,) in conn.execute(text("SELECT name FROM indexes ORDER BY id"))]
        known = ", ".join(names) if names else "none yet: build one with `xlcli index --name NAME`"
        raise XlcliError(f"no index {name!r} in the store (indexes: {known})")
    return row


def index_status(conn: Connection, index_id: int, dataset_id: int) -> tuple[int, int]:
    """(passages indexed, passages in the dataset)."""
    entries = conn.execute(text("SELECT count(*) FROM index_entries WHERE index_id = :i"), {"i": index_id}).scalar_one()
    total = conn.execute(text("SELECT count(*) FROM passages WHERE dataset_id = :d"), {"d": dataset_id}).scalar_one()
    return entries, total


def require_complete(conn: Connection, row) -> None:
    """Refuse to rank with a half-built index: its rankings would silently miss passages."""
    entries, total = index_status(conn, row["id"], row["dataset_id"])
    if entries < total:
        raise XlcliError(
            f"index {row['name']!r} is not complete ({entries:,} of {total:,} passages): "
            "finish it by re-running its `xlcli index` command"
        )
