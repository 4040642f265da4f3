"""Finding things in the store by the names users type."""

from __future__ import annotations

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError

RETRIEVAL_KINDS = ("locomo", "beir", "squad", "ir_datasets")


def resolve_dataset(conn: Connection, name: str | None, *, kinds: tuple[str, ...] = RETRIEVAL_KINDS):
    """The dataset row called ``name``; with no name, the only dataset of those kinds."""
    rows = conn.execute(text("SELECT * FROM datasets ORDER BY id")).mappings().all()
    candidates = [r for r in rows if r["kind"] in kinds]
    if name is not None:
        for row in rows:
            if row["name"] == name:
                if row["kind"] not in kinds:
                    raise XlcliError(f"dataset {name!r} is a {row['kind']} dataset; expected one of: {', '.join(kinds)}")
                return row
        known = ", ".join(r["name"] for r in candidates) or "none yet"
        raise XlcliError(f"no dataset {name!r} in the store (datasets: {known})")
    if not candidates:
        raise XlcliError("the store has no dataset yet: run `xlcli ingest ...` first")
    if len(candidates) > 1:
        names = ", ".join(r["name"] for r in candidates)
        raise XlcliError(f"the store has several datasets ({names}): choose one with --dataset")
    return candidates[0]
