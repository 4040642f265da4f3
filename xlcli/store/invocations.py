"""Step invocations: the provenance every produced row points to, and the basis of resuming.

A step is identified by its name and a canonical hash of its parameters. Starting a step whose
key already has a finished invocation returns that invocation marked ``done`` (the caller skips
the work); one that was interrupted or failed is taken up again under the same id, so rows that
the first attempt committed keep pointing at it and the finished result is the same as an
uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, text

from xlcli import __version__
from xlcli.errors import XlcliError
from xlcli.store.engine import Store


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def params_key(params: dict) -> str:
    return hashlib.sha256(canonical_json(params).encode("utf-8")).hexdigest()[:16]


@dataclass
class Invocation:
    id: int
    step: str
    key: str
    params: dict
    already_done: bool  # a finished invocation with these parameters existed
    attempts: int = 1
    summary: dict | None = None


_SELECT = "SELECT id, state, attempts, summary_json FROM invocations WHERE step = :s AND key = :k"


def _finished(row, step: str, key: str, params: dict) -> Invocation:
    return Invocation(row.id, step, key, params, True, row.attempts, json.loads(row.summary_json or "{}"))


def find_done(store: Store, step: str, params: dict) -> Invocation | None:
    key = params_key(params)
    with store.read() as conn:
        row = conn.execute(text(_SELECT + " AND state = 'done'"), {"s": step, "k": key}).first()
    return None if row is None else _finished(row, step, key, params)


class Busy(XlcliError):
    """Another live process is running the very same step (same name and parameters) right now."""


def begin(store: Store, step: str, params: dict, *, exclusive: bool = False) -> Invocation:
    """Record that ``step`` starts with ``params`` (or resumes an unfinished run of it).

    ``exclusive``: refuse with :class:`Busy` while a live process holds the same invocation —
    checked and taken in one write transaction, so of two processes started together one wins.
    """
    key = params_key(params)
    with store.write() as conn:
        row = conn.execute(text(_SELECT), {"s": step, "k": key}).first()
        if row is not None and row.state == "done":
            return _finished(row, step, key, params)
        if row is not None and exclusive:
            holder = conn.execute(text("SELECT state, pid, host FROM invocations WHERE id = :i"), {"i": row.id}).first()
            if is_live_elsewhere(holder.state, holder.pid, holder.host):
                raise Busy(f"process {holder.pid} on {holder.host} is running this {step} step right now; "
                           "wait for it, or stop it and run this command again to resume")
        if row is not None:
            conn.execute(
                text(
                    "UPDATE invocations SET state = 'running', attempts = attempts + 1, pid = :pid,"
                    " host = :host, error = NULL, started_at = :t, finished_at = NULL WHERE id = :id"
                ),
                {"pid": os.getpid(), "host": socket.gethostname(), "t": now(), "id": row.id},
            )
            return Invocation(row.id, step, key, params, False, row.attempts + 1)
        new_id = conn.execute(
            text(
                "INSERT INTO invocations (step, key, params_json, state, started_at, pid, host, xlcli_version)"
                " VALUES (:s, :k, :p, 'running', :t, :pid, :host, :v) RETURNING id"
            ),
            {
                "s": step, "k": key, "p": canonical_json(params), "t": now(),
                "pid": os.getpid(), "host": socket.gethostname(), "v": __version__,
            },
        ).scalar_one()
        return Invocation(new_id, step, key, params, False)


def snapshot(store: Store, step: str, params: dict) -> dict | None:
    """The invocation row of (step, params) as it is now, to :func:`restore` after a refused attempt."""
    with store.read() as conn:
        row = conn.execute(text("SELECT * FROM invocations WHERE step = :s AND key = :k"),
                           {"s": step, "k": params_key(params)}).mappings().first()
    return dict(row) if row is not None else None


def restore(store: Store, invocation: Invocation, before: dict | None) -> None:
    """Put an invocation back as :func:`snapshot` found it: an attempt that ended in a user error
    (which by contract wrote nothing) leaves no trace, not even a 'failed' row."""
    with store.write() as conn:
        if before is None:
            conn.execute(text("DELETE FROM invocations WHERE id = :id"), {"id": invocation.id})
            return
        columns = [c for c in before if c != "id"]
        conn.execute(text(f"UPDATE invocations SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE id = :id"), before)


def finish(store: Store, invocation: Invocation, summary: dict | None = None) -> None:
    invocation.summary = summary or {}
    with store.write() as conn:
        conn.execute(
            text("UPDATE invocations SET state = 'done', finished_at = :t, summary_json = :s WHERE id = :id"),
            {"t": now(), "s": canonical_json(invocation.summary), "id": invocation.id},
        )


def fail(store: Store, invocation: Invocation, error: str) -> None:
    with store.write() as conn:
        conn.execute(
            text("UPDATE invocations SET state = 'failed', finished_at = :t, error = :e WHERE id = :id"),
            {"t": now(), "e": error[:2000], "id": invocation.id},
        )


@contextmanager
def step(store: Store, name: str, params: dict, *, exclusive: bool = False) -> Iterator[Invocation]:
    """Run a step as an invocation: marked done on success, failed on an exception.

    Callers must check ``invocation.already_done`` and skip the work when it is set. Validate
    the user's input *before* entering, so that bad input leaves the store unchanged.
    """
    invocation = begin(store, name, params, exclusive=exclusive)
    if invocation.already_done:
        yield invocation
        return
    try:
        yield invocation
    except BaseException as exc:
        # A KeyboardInterrupt leaves the row 'failed' with the reason; re-running resumes it.
        fail(store, invocation, f"{type(exc).__name__}: {exc}")
        raise
    finish(store, invocation, invocation.summary)


def state_of(conn: Connection, invocation_id: int) -> Row | None:
    """(state, pid, host) of one invocation, read on the caller's connection."""
    return conn.execute(text("SELECT state, pid, host FROM invocations WHERE id = :i"), {"i": invocation_id}).first()


def find(conn: Connection, step: str, params: dict) -> RowMapping | None:
    """The invocation of ``step`` with ``params`` in any state (state, pid, host, summary_json, error)."""
    return conn.execute(
        text("SELECT state, pid, host, summary_json, error FROM invocations WHERE step = :s AND key = :k"),
        {"s": step, "k": params_key(params)},
    ).mappings().first()


def all_rows(conn: Connection) -> list[RowMapping]:
    """Every invocation, oldest first (``xlcli status``)."""
    return conn.execute(text("SELECT * FROM invocations ORDER BY id")).mappings().all()


def display_state(state: str, pid: int | None, host: str | None) -> str:
    """'running' rows whose process is gone (killed, crashed) are shown as 'interrupted'."""
    if state != "running" or pid is None:
        return state
    if host != socket.gethostname():
        return state
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "interrupted"
    except PermissionError:
        return state
    return state


def is_live_elsewhere(state: str, pid: int | None, host: str | None) -> bool:
    """A 'running' invocation whose process is alive (or on another host, where we cannot tell) and not this one."""
    if display_state(state, pid, host) != "running" or state != "running":
        return False
    return not (pid == os.getpid() and host == socket.gethostname())
