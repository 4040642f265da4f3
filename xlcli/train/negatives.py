"""Hard negatives mined from an index (``--hard-negatives INDEX``).

Each training query is searched in the index (within its scope — the LoCoMo conversation — as
at evaluation time); the top-ranked passages not judged relevant to it are its hard negatives
(Karpukhin et al., DPR, EMNLP 2020; Xiong et al., ANCE, ICLR 2021). Each step draws
``--negatives-per-query`` of them per query, seeded, so negatives vary across epochs. Mining is
done once, before training, with the index's own model (dense) or BM25.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.train.pairs import Pair


def mine(conn: Connection, index_name: str, dataset: dict, pairs: list[Pair], *, depth: int = 30) -> dict[int, list[tuple[int, str]]]:
    from xlcli import search
    from xlcli.store.catalog import resolve_index

    row = resolve_index(conn, index_name)
    if row["dataset_id"] != dataset["id"]:
        raise XlcliError(f"--hard-negatives {index_name}: that index was built on another dataset, not {dataset['name']!r}")
    if row["status"] != "done":
        raise XlcliError(f"--hard-negatives {index_name}: the index is not finished; run its `xlcli index` command again first")
    queries = sorted({(p.query, p.scope) for p in pairs})
    if row["kind"] == "dense":
        from xlcli.models import resolve_model

        model_name = conn.execute(text("SELECT name FROM models WHERE id = :i"), {"i": row["model_id"]}).scalar_one()
        _, settings = resolve_model(conn, model_name)
        vectors = settings.load(device="auto").encode_queries([q for q, _ in queries])
        rankings = search.DenseIndex.load(conn, row).search(vectors, [s for _, s in queries], depth + 8)
    else:
        rankings = [search.bm25_search(conn, row, q, depth + 8, s) for q, s in queries]
    ranked = {key: [pid for pid, _ in ranking] for key, ranking in zip(queries, rankings)}
    texts: dict[int, str] = {}
    result: dict[int, list[int]] = {}
    for index, pair in enumerate(pairs):
        negatives = [pid for pid in ranked[(pair.query, pair.scope)] if pid not in pair.positives][:depth]
        if negatives:
            result[index] = negatives
            texts.update({pid: "" for pid in negatives})
    ids = sorted(texts)
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        texts.update(conn.exec_driver_sql(f"SELECT id, text FROM passages WHERE id IN ({','.join('?' * len(part))})", tuple(part)).all())
    return {index: [(pid, texts[pid]) for pid in negatives] for index, negatives in result.items()}
