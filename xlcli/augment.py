"""QG-augmented passage representations (Zhuang, Shou & Zuccon, SIGIR 2023, arXiv 2305.03950).

A passage's vector is moved towards the vectors of the queries generated for it:

    sum:   e_aug = (1 − α)·e_p + α·Σ_q e_q          (the reference method, ``fuse_embeds.py``)
    mean:  e_aug = (1 − α)·e_p + α·(1/|Q|)·Σ_q e_q

over the passage's generated queries Q (of the chosen generator runs and languages), each encoded
by the same encoder as a *query* (query prefix, max 32 tokens, as the reference encodes them with
``q_max_len 32``). The reference runs α = 0.01 with 7 languages × 5 queries (its code default is
0.02) and does not re-normalise the result; neither does this module. A passage without generated
queries gets (1 − α)·e_p with ``sum`` (the formula applied as written) and e_p with ``mean``
(the mean of nothing taken as no move). Sums are accumulated in float64 and stored as float32.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import Connection

from xlcli import languages
from xlcli.encoders import recorded_precision
from xlcli.errors import XlcliError

FUSIONS = ("sum", "mean")
QUERY_MAX_LENGTH = 32
DEFAULT_ALPHA = 0.01


def check_alpha(alpha: float) -> float:
    if not (0.0 <= alpha <= 1.0) or alpha != alpha:
        raise XlcliError(f"--alpha {alpha}: must lie in [0, 1] (the reference uses 0.01; its code default is 0.02)")
    return float(alpha)


def check_fusion(fusion: str) -> str:
    if fusion not in FUSIONS:
        raise XlcliError(f"--fusion {fusion}: use one of {', '.join(FUSIONS)}")
    return fusion


def fuse(passage_vecs: np.ndarray, query_vecs: np.ndarray, owners: Sequence[int], alpha: float,
         fusion: str = "sum") -> np.ndarray:
    """Augmented vectors: ``owners[j]`` is the row of ``passage_vecs`` that query ``j`` belongs to."""
    check_alpha(alpha)
    check_fusion(fusion)
    passages = np.asarray(passage_vecs, dtype=np.float64)
    total = np.zeros_like(passages)
    owners = np.asarray(owners, dtype=np.int64)
    if len(owners):
        np.add.at(total, owners, np.asarray(query_vecs, dtype=np.float64))
    if fusion == "mean":
        counts = np.bincount(owners, minlength=len(passages)).astype(np.float64)
        total /= np.maximum(counts, 1.0)[:, None]
        # No queries: no move (the mean of an empty set is not zero).
        result = np.where(counts[:, None] > 0, (1.0 - alpha) * passages + alpha * total, passages)
    else:
        result = (1.0 - alpha) * passages + alpha * total
    return result.astype(np.float32)


@dataclass
class Augmentation:
    """Which generated queries augment an index, and how; ``record()`` goes to ``augmentation_json``."""

    runs: list[dict]  # generator_runs rows
    alpha: float = DEFAULT_ALPHA
    fusion: str = "sum"
    langs: list[str] | None = None  # None: every language the runs have
    queries_used: int = 0
    passages_without_queries: int = 0
    empty_queries_skipped: int = 0
    per_lang: dict = field(default_factory=dict)

    @property
    def run_ids(self) -> list[int]:
        return [r["id"] for r in self.runs]

    def record(self) -> dict:
        return {
            "method": "xQG (Zhuang, Shou & Zuccon, SIGIR 2023)",
            "generator_runs": [r["name"] for r in self.runs],
            "alpha": self.alpha,
            "fusion": self.fusion,
            "gen_langs": self.langs,
            "query_max_length": QUERY_MAX_LENGTH,
            "query_side": "query",
            "queries_used": self.queries_used,
            "queries_per_lang": dict(sorted(self.per_lang.items())),
            "passages_without_queries": self.passages_without_queries,
            "empty_queries_skipped": self.empty_queries_skipped,
        }


def resolve(conn: Connection, dataset_id: int, augment: str, *, alpha: float = DEFAULT_ALPHA, fusion: str = "sum",
            gen_langs: str | Sequence[str] | None = None) -> Augmentation:
    """Check ``--augment/--alpha/--fusion/--gen-langs`` against the store (before anything is written).

    The counts of the record (queries per language, passages without queries) are taken here, so
    that the index's identity says exactly which queries its vectors fold in.
    """
    from xlcli.generate.store import find_runs, run_langs

    check_alpha(alpha)
    check_fusion(fusion)
    runs = find_runs(conn, dataset_id, augment)
    available = run_langs(conn, [r["id"] for r in runs])
    if not available:
        raise XlcliError(f"--augment {augment}: the generator run(s) have no generated queries yet; finish `xlcli generate queries` first")
    langs = None
    if gen_langs is not None:
        langs = languages.parse_list(gen_langs, where="--gen-langs") if isinstance(gen_langs, str) else list(gen_langs)
        missing = [lang for lang in langs if lang not in available]
        if missing:
            raise XlcliError(f"--gen-langs: no generated queries in {', '.join(missing)} (the runs have: {', '.join(available)})")
    augmentation = Augmentation(runs, alpha, fusion, langs)
    where, params = _where(augmentation)
    for lang, used, empty in conn.exec_driver_sql(
        f"SELECT lang, sum(trim(text) <> ''), sum(trim(text) = '') FROM generated_queries WHERE {where} GROUP BY lang ORDER BY lang",
        params,
    ).all():
        augmentation.per_lang[lang] = int(used)
        augmentation.empty_queries_skipped += int(empty)
    augmentation.queries_used = sum(augmentation.per_lang.values())
    with_queries = conn.exec_driver_sql(
        f"SELECT count(DISTINCT passage_id) FROM generated_queries WHERE {where} AND trim(text) <> ''", params
    ).scalar_one()
    total = conn.exec_driver_sql("SELECT count(*) FROM passages WHERE dataset_id = ?", (dataset_id,)).scalar_one()
    augmentation.passages_without_queries = int(total) - int(with_queries)
    return augmentation


def _where(augmentation: Augmentation) -> tuple[str, tuple]:
    runs = ",".join(str(int(r)) for r in augmentation.run_ids)
    where = f"generator_run_id IN ({runs})"
    if augmentation.langs:
        where += f" AND lang IN ({','.join('?' for _ in augmentation.langs)})"
        return where, tuple(augmentation.langs)
    return where, ()


def load_queries(conn: Connection, augmentation: Augmentation, passage_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(passage id, text) of the non-empty generated queries of these passages, in a stable order."""
    if not passage_ids:
        return []
    where, params = _where(augmentation)
    ids = ",".join(str(int(p)) for p in passage_ids)
    sql = (f"SELECT passage_id, text FROM generated_queries WHERE {where} AND passage_id IN ({ids})"
           " AND trim(text) <> '' ORDER BY passage_id, generator_run_id, lang, idx")
    return [(r[0], r[1]) for r in conn.exec_driver_sql(sql, params).all()]


def augment_vectors(encoder, augmentation: Augmentation, conn: Connection, passage_ids: Sequence[int],
                    passage_vecs: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Augmented vectors for one batch of passages (their generated queries read and encoded here)."""
    rows = load_queries(conn, augmentation, passage_ids)
    position = {pid: i for i, pid in enumerate(passage_ids)}
    vectors = encoder.encode_queries([t for _, t in rows], batch_size=batch_size, max_length=QUERY_MAX_LENGTH)
    return fuse(passage_vecs, vectors, [position[pid] for pid, _ in rows], augmentation.alpha, augmentation.fusion)


def plain_twin(store, dataset_id: int, encoder) -> dict | None:
    """A finished plain index of this dataset made with the same encoder settings, if any.

    Its passage vectors are exactly the e_p this index needs (same model, pooling, prefixes, max
    length, precision), so an augmented index built beside a plain one reads them instead of
    encoding the passages again.
    """
    wanted = asdict(encoder.config)
    precision = getattr(encoder, "precision", None)
    with store.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT vec_table, dim, params_json FROM indexes WHERE dataset_id = ? AND kind = 'dense'"
            " AND augmentation_json IS NULL AND status = 'done' ORDER BY id", (dataset_id,)
        ).mappings().all()
    for row in rows:
        params = json.loads(row["params_json"])
        model = (params.get("identity") or {}).get("model") or {}
        same_precision = precision is None or recorded_precision(params) == precision
        if row["dim"] == encoder.dim and same_precision and all(model.get(k) == v for k, v in wanted.items()):
            return dict(row)
    return None


def _twin_vectors(conn: Connection, twin: dict, passage_ids: Sequence[int]) -> np.ndarray | None:
    ids = ",".join(str(int(p)) for p in passage_ids)
    rows = dict(conn.exec_driver_sql(f"SELECT passage_id, embedding FROM {twin['vec_table']} WHERE passage_id IN ({ids})").all())
    if len(rows) != len(passage_ids):
        return None
    return np.stack([np.frombuffer(rows[p], dtype=np.float32) for p in passage_ids])


def vectorizer_factory(store, augmentation: Augmentation) -> Callable:
    """For :func:`xlcli.index.build`: (encoder) → (batch of passages → augmented vectors)."""
    from xlcli.index import plain_passage_vectors

    def factory(encoder) -> Callable:
        plain = plain_passage_vectors(encoder)
        twin = plain_twin(store, augmentation.runs[0]["dataset_id"], encoder)

        def vectorize(batch) -> np.ndarray:
            ids = [p.id for p in batch]
            with store.read() as conn:
                passage_vecs = _twin_vectors(conn, twin, ids) if twin is not None else None
                if passage_vecs is None:
                    passage_vecs = plain(batch)
                return augment_vectors(encoder, augmentation, conn, ids, passage_vecs)

        return vectorize

    return factory


def for_index(store, index_name: str, dataset: str | None, augment: str | None, *, alpha: float | None = None,
              fusion: str | None = None, gen_langs: str | None = None):
    """``(augmentation record, vectorizer factory)`` for :func:`xlcli.index.build`, checked before any write.

    ``(None, None)`` without ``--augment``. The dataset is the existing index's, else ``dataset``
    (or the store's only one), so a generator run of another dataset is refused with one line.
    """
    if augment is None:
        given = [flag for flag, value in (("--alpha", alpha), ("--fusion", fusion), ("--gen-langs", gen_langs)) if value is not None]
        if given:
            raise XlcliError(f"{', '.join(given)} only apply with --augment GENERATOR_RUN|all")
        return None, None
    from xlcli.store.catalog import find_index, resolve_dataset

    with store.read() as conn:
        existing = find_index(conn, index_name)
        if existing is not None:
            dataset_id = existing["dataset_id"]
        else:
            dataset_id = resolve_dataset(conn, dataset)["id"]
        augmentation = resolve(conn, dataset_id, augment, alpha=DEFAULT_ALPHA if alpha is None else alpha,
                               fusion=fusion or "sum", gen_langs=gen_langs)
    return augmentation.record(), vectorizer_factory(store, augmentation)
