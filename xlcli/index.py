"""Build indexes: dense (an encoder's vectors in a vec0 table) and lexical (SQLite FTS5 BM25).

Resumable by construction. The passages of a run are put in a fixed *plan* of batches (sorted by
token count, longest first, ties by passage id — so padding is minimal and the plan is the same on
every run). Each batch's vectors (vec0 rows and one vector block) and its ``index_entries`` rows
are written in ONE transaction, so a killed run leaves whole batches behind; running the same
command again skips them and encodes the rest in the very same batches, which gives the same
vectors as an uninterrupted run.

``--shard i/n`` splits the passages by ``passage_id % n == i − 1``: n processes (or GPUs) fill the
same index at once, SQLite's write lock serialising their (short) transactions. The index is
marked ``done`` by whichever process finds it complete.

The text of a passage is its title and text joined by a space (as BEIR's sentence-transformers
evaluation does), or its text alone when it has no title.

Query-generation augmentation (``generate``) plugs in through :data:`VectorizerFactory`: it gets
the loaded encoder and returns the function that turns a batch of passages into stored vectors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import Connection, text

from xlcli.encoders import AUTO, check_precision_name, pick_device, precision_missing, recorded_precision
from xlcli.errors import XlcliError
from xlcli.models import ModelSettings, register_model, resolve_model
from xlcli.progress import optional_bar
from xlcli.store import Store, invocations, vectors
from xlcli.store.catalog import BM25, DENSE, find_index, find_index_in, index_status, resolve_dataset

FTS_TOKENIZER = "unicode61 remove_diacritics 2"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class PassageRow:
    id: int
    ext_id: str
    scope: str | None
    text: str


# A vectorizer turns one batch of passages into float32 vectors (one row per passage).
Vectorizer = Callable[[Sequence[PassageRow]], np.ndarray]
VectorizerFactory = Callable[["object"], Vectorizer]  # (Encoder) -> Vectorizer


def plain_passage_vectors(encoder) -> Vectorizer:
    """The default vectorizer: the encoder's passage embedding of each text."""

    def passage_vectors(batch: Sequence[PassageRow]) -> np.ndarray:
        return encoder.encode_passages([p.text for p in batch], batch_size=max(len(batch), 1))

    return passage_vectors


@dataclass
class IndexResult:
    name: str
    kind: str
    dataset: str
    shard: tuple[int, int] | None
    total: int = 0  # passages this run is responsible for
    encoded: int = 0  # passages written by this run
    already_indexed: int = 0
    status: str = "building"
    dim: int | None = None
    model: str | None = None
    nothing_to_do: bool = False
    summary: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"2/4"`` → (2, 4); 1-based, i ≤ n."""
    if value is None:
        return None
    match = _SHARD.match(value)
    if not match:
        raise XlcliError(f"--shard {value}: expected i/n, e.g. 1/4 for the first of four shards")
    i, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= i <= n:
        raise XlcliError(f"--shard {value}: i must be between 1 and n (got {i}/{n})")
    return i, n


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise XlcliError(f"--name {name!r}: use letters, digits and . _ + - (at most 100 characters)")
    return name


def _dataset_for(store: Store, name: str, dataset: str | None):
    with store.read() as conn:
        existing = find_index(conn, name)
        if existing is not None:
            ds = conn.execute(text("SELECT * FROM datasets WHERE id = :i"), {"i": existing["dataset_id"]}).mappings().one()
            if dataset is not None and dataset != ds["name"]:
                raise XlcliError(f"index {name!r} was built on dataset {ds['name']!r}, not {dataset!r}; choose another --name")
            return ds, existing
        return resolve_dataset(conn, dataset), None


def _identity(kind: str, dataset: str, settings: ModelSettings | None, augmentation: dict | None) -> dict:
    """What an index's vectors depend on; the same name with another identity is refused."""
    return {
        "kind": kind,
        "dataset": dataset,
        "model": settings.identity() if settings is not None else None,
        "augmentation": augmentation,
    }


def _check_compatible(existing, identity: dict, dim: int | None, precision: str | None = None) -> None:
    name = existing["name"]
    if existing["kind"] != identity["kind"]:
        raise XlcliError(f"index {name!r} exists as a {existing['kind']} index; choose another --name")
    stored_precision = recorded_precision(json.loads(existing["params_json"])) if existing["kind"] == DENSE else None
    if precision is not None and stored_precision is not None and precision != stored_precision:
        # Vectors computed two ways in one index would make its scores incomparable across passages.
        raise XlcliError(
            f"index {name!r} holds vectors computed in {stored_precision}, not {precision}; "
            "drop --precision (a resume uses the index's own) or choose another --name"
        )
    if dim is not None and existing["dim"] is not None and existing["dim"] != dim:
        raise XlcliError(
            f"index {name!r} holds {existing['dim']}-dimensional vectors but this model gives {dim}; "
            "choose another --name for this model"
        )
    stored = json.loads(existing["params_json"]).get("identity")
    if stored is not None and stored != identity:
        differ = sorted(k for k in identity if identity[k] != stored.get(k))
        if "model" in differ:
            a, b = stored.get("model") or {}, identity.get("model") or {}
            differ = ["model " + k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)] + [d for d in differ if d != "model"]
        raise XlcliError(f"index {name!r} exists with other settings ({', '.join(differ)}); choose another --name")


def _passages(conn: Connection, dataset_id: int, shard: tuple[int, int] | None) -> list[PassageRow]:
    sql = "SELECT id, ext_id, scope, title, text FROM passages WHERE dataset_id = :d"
    params: dict = {"d": dataset_id}
    if shard is not None:
        sql += " AND id % :n = :r"
        params.update(n=shard[1], r=shard[0] - 1)
    rows = conn.execute(text(sql + " ORDER BY id"), params).all()
    return [PassageRow(r.id, r.ext_id, r.scope, f"{r.title} {r.text}" if r.title else r.text) for r in rows]


def plan_batches(passages: Sequence[PassageRow], batch_size: int, prefix: str = "", lengths: Sequence[int] | None = None) -> list[list[PassageRow]]:
    """Batches of the same passages are the same on every run: longest first, ties by id.

    Length is the encoder's token count when ``lengths`` gives it (one per passage: batches then
    need almost no padding, see :meth:`xlcli.encoders.Encoder.encode`), else characters.
    """
    size = dict(zip((p.id for p in passages), lengths)) if lengths is not None else {p.id: len(prefix) + len(p.text) for p in passages}
    ordered = sorted(passages, key=lambda p: (-size[p.id], p.id))
    return [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]


def _done_ids(conn: Connection, index_id: int) -> set[int]:
    return {pid for (pid,) in conn.execute(text("SELECT passage_id FROM index_entries WHERE index_id = :i"), {"i": index_id})}


def _create_or_get_index(
    conn: Connection, name: str, kind: str, dataset_id: int, identity: dict, params: dict,
    dim: int | None, model_id: int | None, augmentation: dict | None, invocation_id: int,
) -> dict:
    existing = find_index(conn, name)
    if existing is not None:
        # Another shard may have created it since we validated: check again under the write lock.
        _check_compatible(existing, identity, dim, params.get("precision"))
        return dict(existing)
    index_id = conn.execute(
        text(
            "INSERT INTO indexes (name, dataset_id, kind, model_id, dim, augmentation_json, params_json, status, invocation_id)"
            " VALUES (:n, :d, :k, :m, :dim, :aug, :p, 'building', :inv) RETURNING id"
        ),
        {
            "n": name, "d": dataset_id, "k": kind, "m": model_id, "dim": dim,
            "aug": json.dumps(augmentation, sort_keys=True) if augmentation is not None else None,
            "p": invocations.canonical_json({**params, "identity": identity}), "inv": invocation_id,
        },
    ).scalar_one()
    table = vectors.table_name(index_id) if kind == DENSE else f"fts_{index_id}"
    conn.execute(text("UPDATE indexes SET vec_table = :t WHERE id = :i"), {"t": table, "i": index_id})
    if kind == DENSE:
        vectors.create(conn, table, dim)
    else:
        conn.exec_driver_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(text, content='', tokenize='{FTS_TOKENIZER}')")
    return dict(find_index(conn, name))


def _refresh_status(store: Store, index_id: int, dataset_id: int) -> str:
    """'done' when every passage of the dataset is indexed (by whichever shard finished last)."""
    with store.read() as conn:
        entries, total = index_status(conn, index_id, dataset_id)
        current = conn.execute(text("SELECT status FROM indexes WHERE id = :i"), {"i": index_id}).scalar_one()
    status = "done" if entries >= total else "building"
    if status != current:
        with store.write() as conn:
            conn.execute(text("UPDATE indexes SET status = :s WHERE id = :i"), {"s": status, "i": index_id})
    return status


def build(
    store: Store,
    name: str,
    *,
    dataset: str | None = None,
    bm25: bool = False,
    model: str = "default",
    pooling: str | None = None,
    query_prefix: str | None = None,
    passage_prefix: str | None = None,
    max_length: int | None = None,
    batch_size: int = 64,
    device: str = "auto",
    precision: str = AUTO,
    shard: str | None = None,
    augmentation: dict | None = None,
    vectorizer_factory: VectorizerFactory | None = None,
    encoder=None,
    show_progress: bool = True,
) -> IndexResult:
    """Build (or resume, or extend) index ``name`` over a dataset's passages.

    Everything the user gave is checked — the shard, the dataset, the model (loaded), its
    dimension against an existing index of that name, the precision against the one its vectors were
    computed in — before the store is written. Library callers that already hold the
    :class:`~xlcli.encoders.Encoder` for these settings may pass it.
    """
    check_name(name)
    check_precision_name(precision)
    shard_spec = parse_shard(shard)
    if batch_size < 1:
        raise XlcliError(f"--batch-size {batch_size}: must be at least 1")
    ds, existing = _dataset_for(store, name, dataset)
    kind = BM25 if bm25 else DENSE
    if bm25 and (augmentation is not None or vectorizer_factory is not None):
        raise XlcliError("--bm25 cannot be combined with query-generation augmentation")
    if bm25 and (model != "default" or pooling or query_prefix or passage_prefix or max_length or precision != AUTO):
        raise XlcliError(
            "--bm25 builds a lexical index: drop --model, --pooling, --query-prefix, --passage-prefix, --max-length and --precision"
        )

    encoder, settings, dim = None, None, None
    if kind == DENSE:
        _, settings = resolve_model(
            store, model, pooling=pooling, max_length=max_length, query_prefix=query_prefix, passage_prefix=passage_prefix
        )
        if encoder is None:
            encoder = settings.load(device, _resume_precision(existing, precision, device))
        elif encoder.config != settings.encoder_config():
            raise ValueError(f"the encoder passed ({encoder.config}) does not match --model {model} ({settings.encoder_config()})")
        elif precision != AUTO and getattr(encoder, "precision", None) != precision:
            raise ValueError(f"the encoder passed computes in {getattr(encoder, 'precision', None)}, not --precision {precision}")
        dim = encoder.dim
    used = getattr(encoder, "precision", None)  # None: a backend, which computes in its own precision
    identity = _identity(kind, ds["name"], settings, augmentation)
    if existing is not None:
        _check_compatible(existing, identity, dim, used)

    with store.read() as conn:
        passages = _passages(conn, ds["id"], shard_spec)
    if not passages:
        where = f" in shard {shard}" if shard_spec else ""
        raise XlcliError(f"dataset {ds['name']!r} has no passages{where} to index")

    result = IndexResult(name, kind, ds["name"], shard_spec, total=len(passages), dim=dim,
                         model=settings.name if settings else None)
    if existing is not None:
        with store.read() as conn:
            done = _done_ids(conn, existing["id"])
        if all(p.id in done for p in passages):
            result.nothing_to_do = True
            result.already_indexed = result.total
            result.status = _refresh_status(store, existing["id"], ds["id"])
            return result
    # The passages are part of the key: after more passages are ingested the same command is a
    # new invocation that indexes just those.
    params = {"index": name, **identity, "shard": list(shard_spec) if shard_spec else None,
              "passages": [len(passages), passages[-1].id], **({"precision": used} if kind == DENSE else {})}
    # Exclusive: a second process with the same command would redo every batch beside the first.
    with invocations.step(store, "index", params, exclusive=True) as inv:
        if inv.already_done:  # finished by a concurrent process with the same command
            result.nothing_to_do = True
            result.already_indexed = result.total
            result.status = _refresh_status(store, find_index_in(store, name)["id"], ds["id"])
            return result
        with store.write() as conn:
            model_id = register_model(conn, settings, dim, invocation_id=inv.id) if settings is not None else None
            recorded = {"batch_size": batch_size, "device": str(getattr(encoder, "device", "cpu"))}
            if kind == DENSE:
                recorded["precision"] = used
            row = _create_or_get_index(conn, name, kind, ds["id"], identity, recorded, dim, model_id, augmentation, inv.id)
            done = _done_ids(conn, row["id"])
        result.already_indexed = sum(1 for p in passages if p.id in done)
        prefix = settings.passage_prefix if settings else ""
        # Token counts are an optional capability of an encoder (see encoders.TextEncoder): without
        # them batches are sorted by characters.
        token_lengths = getattr(encoder, "token_lengths", None) if kind == DENSE else None
        lengths = token_lengths([p.text for p in passages], prefix=prefix) if token_lengths else None
        todo = [b for b in plan_batches(passages, batch_size, prefix, lengths) if any(p.id not in done for p in b)]
        writer = _dense_writer(store, row, encoder, vectorizer_factory, inv.id) if kind == DENSE else _bm25_writer(store, row, inv.id)
        with optional_bar(show_progress, f"Indexing {name}", result.total) as bar:
            bar.advance(result.already_indexed)
            for batch in todo:
                pending = [p for p in batch if p.id not in done]
                writer(batch, pending)
                result.encoded += len(pending)
                bar.advance(len(pending))
        result.status = _refresh_status(store, row["id"], ds["id"])
        result.summary = {"passages": result.total, "encoded": result.encoded, "already_indexed": result.already_indexed,
                          "status": result.status}
        inv.summary = result.summary
    return result


def _resume_precision(existing, precision: str, device: str) -> str:
    """``--precision`` as given, except that ``auto`` on an existing dense index means the index's own
    precision, which this device must be able to compute (else one index would mix two)."""
    if precision != AUTO or existing is None or existing["kind"] != DENSE:
        return precision
    own = recorded_precision(json.loads(existing["params_json"]))
    if own is None:
        return AUTO
    reason = precision_missing(own, pick_device(device))
    if reason is not None:
        raise XlcliError(
            f"index {existing['name']!r} holds vectors computed in {own}, which cannot be computed here ({reason}); "
            "resume it on a device that can, or choose another --name"
        )
    return own


def _dense_writer(store: Store, row: dict, encoder, vectorizer_factory: VectorizerFactory | None, invocation_id: int):
    vectorize = (vectorizer_factory or plain_passage_vectors)(encoder)
    table = row["vec_table"]

    def write(batch: Sequence[PassageRow], pending: Sequence[PassageRow]) -> None:
        # The whole planned batch is encoded (same batch → same vectors), only its pending part written.
        matrix = np.asarray(vectorize(batch), dtype=np.float32)
        if matrix.shape != (len(batch), row["dim"]):
            raise RuntimeError(f"vectorizer returned shape {matrix.shape}, expected {(len(batch), row['dim'])}")
        wanted = {p.id for p in pending}
        keep = [i for i, p in enumerate(batch) if p.id in wanted]
        with store.write() as conn:
            vectors.write(conn, table, [batch[i].id for i in keep], [batch[i].scope for i in keep], matrix[keep])
            vectors.write_block(conn, row["id"], [batch[i].id for i in keep], matrix[keep], invocation_id)
            _add_entries(conn, row["id"], [batch[i].id for i in keep], invocation_id)

    return write


def _bm25_writer(store: Store, row: dict, invocation_id: int):
    table = row["vec_table"]

    def write(batch: Sequence[PassageRow], pending: Sequence[PassageRow]) -> None:
        with store.write() as conn:
            conn.exec_driver_sql(f"INSERT INTO {table} (rowid, text) VALUES (?, ?)", [(p.id, p.text) for p in pending])
            _add_entries(conn, row["id"], [p.id for p in pending], invocation_id)

    return write


def _add_entries(conn: Connection, index_id: int, passage_ids: Sequence[int], invocation_id: int) -> None:
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO index_entries (index_id, passage_id, invocation_id) VALUES (?, ?, ?)",
        [(index_id, pid, invocation_id) for pid in passage_ids],
    )
