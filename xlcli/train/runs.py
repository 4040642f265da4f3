"""Training runs in the store: the run row, its loss log, and its checkpoints as models.

``training_runs`` holds one row per ``--name`` with the configuration, the key (a hash of the
parameters that change the weights), ``allow_leakage`` and the status. ``training_log`` holds
the loss of every step per objective (``total``, ``contrastive``, ``self_teaching``, ``align``);
a resumed run rewrites the steps it repeats, so the log equals an uninterrupted run's. Every
checkpoint becomes a ``models`` row (``source='checkpoint'``): ``<run>`` for the final one and
``<run>@step-<n>`` for the intermediate ones, which ``index``, ``eval`` and ``report`` can name.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Connection, text

from xlcli.errors import XlcliError
from xlcli.store import Store
from xlcli.store.invocations import canonical_json, now
from xlcli.train.config import TrainConfig


def find(conn: Connection, name: str):
    return conn.execute(text("SELECT * FROM training_runs WHERE name = :n"), {"n": name}).mappings().first()


def check_name(conn: Connection, config: TrainConfig):
    """The existing run of this name with the same parameters (or None); another key is an error."""
    row = find(conn, config.name)
    if row is not None and row["key"] != config.key:
        old = json.loads(row["config_json"])
        new = config.key_params()
        old = {k: v for k, v in old.items() if not (k in TrainConfig.KEY_IF_SET and v == TrainConfig.KEY_IF_SET[k])}
        differing = sorted(k for k in set(old) | set(new) if k not in TrainConfig.NOT_IN_KEY and k != "realised_mix"
                           and old.get(k) != new.get(k))
        # A parameter left out of a key sits at its default: show that rather than None.
        shown = ", ".join(f"{k}: {old.get(k, TrainConfig.KEY_IF_SET.get(k))!r} → {new.get(k, TrainConfig.KEY_IF_SET.get(k))!r}"
                          for k in differing[:4])
        raise XlcliError(
            f"--name {config.name}: a training run of that name exists with other parameters ({shown}); "
            "choose another --name, or repeat its parameters to resume it"
        )
    prefix = f"{config.name}@step-"
    clashes = conn.execute(
        text("SELECT name, training_run_id FROM models WHERE name = :n OR substr(name, 1, :len) = :p"),
        {"n": config.name, "p": prefix, "len": len(prefix)},
    ).all()
    for clash in clashes:
        if row is None or clash.training_run_id != row["id"]:
            raise XlcliError(f"--name {config.name}: a model called {clash.name!r} is already registered; choose another --name")
    return row


def start(conn: Connection, config: TrainConfig, *, dataset_id: int, output_dir: Path, invocation_id: int,
          extra: dict | None = None) -> int:
    """Insert the run (status 'running'), or mark an interrupted one running again; return its id.

    ``extra`` (e.g. the realised mixing proportions) is stored in ``config_json`` beside the config.
    """
    config_json = canonical_json({**config.as_dict(), **(extra or {})})
    row = find(conn, config.name)
    if row is not None:
        conn.execute(
            text("UPDATE training_runs SET status = 'running', config_json = :c WHERE id = :id"),
            {"c": config_json, "id": row["id"]},
        )
        return row["id"]
    return conn.execute(
        text(
            "INSERT INTO training_runs (name, dataset_id, base_model, config_json, key, allow_leakage, status, output_dir, invocation_id)"
            " VALUES (:n, :d, :b, :c, :k, :a, 'running', :o, :i) RETURNING id"
        ),
        {"n": config.name, "d": dataset_id, "b": config.base, "c": config_json, "k": config.key,
         "a": int(config.allow_leakage), "o": str(output_dir), "i": invocation_id},
    ).scalar_one()


def log_step(store: Store, run_id: int, step: int, losses: dict[str, float], lr: float) -> None:
    t = now()
    with store.write() as conn:
        conn.execute(
            text(
                "INSERT OR REPLACE INTO training_log (training_run_id, step, objective, loss, lr, logged_at)"
                " VALUES (:r, :s, :o, :l, :lr, :t)"
            ),
            [{"r": run_id, "s": step, "o": name, "l": value, "lr": lr, "t": t} for name, value in sorted(losses.items())],
        )


def set_status(store: Store, run_id: int, status: str) -> None:
    with store.write() as conn:
        conn.execute(text("UPDATE training_runs SET status = :s WHERE id = :id"), {"s": status, "id": run_id})


def checkpoint_name(run: str, step: int, final: bool) -> str:
    return run if final else f"{run}@step-{step}"


def register_checkpoint(conn: Connection, base_settings, folder: Path, dim: int, *, run_name: str, run_id: int,
                        step: int, final: bool, base_model_id: int, invocation_id: int) -> int:
    """A ``models`` row for one checkpoint folder (idempotent)."""
    from dataclasses import replace

    from xlcli.models import register_model

    settings = replace(base_settings, name=checkpoint_name(run_name, step, final), source="checkpoint", path=str(Path(folder).resolve()))
    return register_model(conn, settings, dim, base_model_id=base_model_id, training_run_id=run_id, step=step,
                          invocation_id=invocation_id)
