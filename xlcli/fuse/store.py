"""``fusion_runs`` rows (one per named fused system) and the keys of its eval runs.

A fusion run's ``key`` hashes what defines the fused system — its inputs, method, normalisation, k,
weights (and how they were chosen), depth and split — but not its name: the same ``--name`` with
other parameters is refused, the same parameters find the row again. Each fused eval run (one
language × condition) is keyed by the fusion key, the condition, the measures and the ids of the
input eval runs it fuses, so re-running ``fuse`` is a no-op and a newer input run gives a new run.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.store.invocations import canonical_json, now, params_key

FORBIDDEN = ",@"  # separators of --systems and of INDEX@REWRITE


def check_name(conn: Connection, name: str, key: str, dataset_id: int) -> int | None:
    """The id of the fusion run ``name`` if it has these parameters; None if the name is free."""
    if not name.strip() or any(c in name for c in FORBIDDEN) or name != name.strip():
        raise XlcliError(f"--name {name!r}: a fusion name must be non-empty, without spaces around it, ',' or '@'")
    if conn.execute(text("SELECT 1 FROM indexes WHERE name = :n"), {"n": name}).first():
        raise XlcliError(f"--name {name}: an index has that name; fused systems and indexes share report rows, choose another")
    row = conn.execute(text("SELECT id, key, dataset_id FROM fusion_runs WHERE name = :n"), {"n": name}).first()
    if row is None:
        return None
    if row.key != key or row.dataset_id != dataset_id:
        stored = json.loads(conn.execute(text("SELECT params_json FROM fusion_runs WHERE id = :i"), {"i": row.id}).scalar_one())
        raise XlcliError(
            f"--name {name}: already used for a fusion with other parameters ({describe(stored)}); choose another name"
        )
    return row.id


def fusion_key(params: dict) -> str:
    return params_key(params)


def ensure_run(conn: Connection, name: str, dataset_id: int, method: str, params: dict, key: str, invocation_id: int) -> int:
    """The fusion run's id, inserting its row the first time."""
    found = conn.execute(text("SELECT id FROM fusion_runs WHERE name = :n"), {"n": name}).scalar()
    if found is not None:
        return found
    return conn.execute(
        text("INSERT INTO fusion_runs (dataset_id, name, method, params_json, key, created_at, invocation_id)"
             " VALUES (:d, :n, :m, :p, :k, :t, :inv) RETURNING id"),
        {"d": dataset_id, "n": name, "m": method, "p": canonical_json(params), "k": key, "t": now(), "inv": invocation_id},
    ).scalar_one()


def run_key(fusion_key_: str, name: str, lang: str, condition: str, split: str, input_runs: list[int],
            measures: list[str], variant_set_key: str | None, translator: str) -> tuple[str, dict]:
    """(key, parameters) of one fused eval run."""
    params = {"fusion": name, "fusion_key": fusion_key_, "lang": lang, "split": split, "condition": condition,
              "translator": translator, "variant_set_key": variant_set_key, "input_eval_runs": input_runs, "measures": measures}
    return params_key(params), params


def describe(params: dict) -> str:
    """``rrf k=60 of minilm, bm25`` — how a report or an error names what a fusion is."""
    method = params["method"]
    detail = []
    if params.get("k") is not None:
        detail.append(f"k={params['k']}")
    if params.get("norm") not in (None, "none"):
        detail.append(f"norm={params['norm']}")
    if params.get("weights") is not None and len(set(params["weights"])) > 1:
        detail.append("weights=" + ",".join(f"{w:g}" for w in params["weights"]))
    inputs = ", ".join(i["system"] for i in params["inputs"])
    return f"{method}{' ' + ' '.join(detail) if detail else ''} of {inputs}"
