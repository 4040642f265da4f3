"""Open the one SQLite file every step reads and writes.

The engine uses an extension-capable driver (see :mod:`xlcli.store.driver`), loads sqlite-vec on
every connection, and runs in WAL mode with foreign keys and a busy timeout so that several
processes (e.g. ``index --shard``) can share the store. Pending migrations are applied on open.

What is refused before anything is written: a file that is not SQLite, a SQLite database that is
not an xlcli store (it has tables but no ``xlcli_migrations``), a store of a newer xlcli, a
read-only file. A *new* store (no file, or a 0-byte one) is created and migrated on open, but a
command that then ends in a user error (an :class:`XlcliError` out of ``with open_store(...)``)
while the store still holds no rows leaves the path as it found it: no file, or 0 bytes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_vec
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

from xlcli.errors import XlcliError
from xlcli.store import migrations
from xlcli.store.driver import sqlite_module

DEFAULT_PATH = "xlcli.db"
ENV_VAR = "XLCLI_DB"
BUSY_TIMEOUT_MS = 30_000
# New stores get 16 KiB pages instead of SQLite's 4 KiB: a vector block's BLOB is a chain of
# overflow pages, and walking 375,000 of them per 1M × 384 index cost more than copying the bytes
# (1M × 384 read back in 0.19 s at 16 KiB against 0.31 s at 4 KiB; 64 KiB gained nothing more).
# SQLite's own measurements point the same way for BLOBs past a few kB
# (https://www.sqlite.org/intern-v-extern-blob.html). A store keeps the page size it was created with.
PAGE_SIZE = 16_384


def default_path() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def _is_read_only(path: Path) -> bool:
    # Root may write anything, so the permission bits are honoured as the user's intent too.
    return not os.access(path, os.W_OK) or not (path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _friendly(exc: BaseException, path: Path) -> XlcliError:
    message = str(getattr(exc, "orig", exc) or exc)
    if "locked" in message or "busy" in message:
        return XlcliError(f"store {path} is locked by another process: retry when it finishes")
    if "readonly" in message or "read-only" in message:
        return XlcliError(f"store {path} is read-only: make it writable or use another --db")
    if "not a database" in message:
        return XlcliError(f"{path} is not an xlcli store (not a SQLite database)")
    if "malformed" in message or "corrupt" in message:
        return XlcliError(f"store {path} is damaged (truncated or corrupt: {message}); restore it from a copy")
    if "unable to open" in message:
        return XlcliError(f"cannot open store {path}: {message}")
    return XlcliError(f"store {path}: {message}")


class Store:
    """A handle on one xlcli database: ``read()`` and ``write()`` give SQLAlchemy connections."""

    def __init__(self, path: Path, engine: Engine, *, writable: bool, created: str | None = None):
        self.path = path
        self.engine = engine
        self.writable = writable
        self.created = created  # "new" (there was no file) or "empty" (a 0-byte file) when opening made it

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise _friendly(exc, self.path) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it lands, or none of it."""
        if not self.writable:
            raise XlcliError(f"store {self.path} was opened read-only (use --write)")
        try:
            with self.engine.connect() as conn:
                conn.execution_options(xlcli_immediate=True)
                with conn.begin():
                    yield conn
        except DBAPIError as exc:
            raise _friendly(exc, self.path) from exc

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.created and isinstance(exc, XlcliError) and self._holds_no_rows():
                self.dispose()
                _undo_creation(self.path, self.created)
        finally:
            self.dispose()

    def _holds_no_rows(self) -> bool:
        """True when no table but the migration record has a row (nobody has used the new store yet)."""
        try:
            with self.engine.connect() as conn:
                tables = [name for (name,) in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                    " AND name != 'xlcli_migrations' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")]
                return all(conn.exec_driver_sql(f'SELECT 1 FROM "{t}" LIMIT 1').first() is None for t in tables)
        except (DBAPIError, sqlite_module().Error):  # unreadable: keep the file rather than guess
            return False


def _undo_creation(path: Path, created: str) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if created == "new":
        path.unlink(missing_ok=True)
    else:
        os.truncate(path, 0)


def _make_engine(path: Path, *, query_only: bool) -> Engine:
    module = sqlite_module()
    engine = create_engine(f"sqlite:///{path}", module=module)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Autocommit at the driver level; transactions are begun explicitly below so that
        # DDL is transactional and writers take the lock up front (no upgrade deadlocks).
        dbapi_conn.isolation_level = None
        dbapi_conn.enable_load_extension(True)
        sqlite_vec.load(dbapi_conn)
        dbapi_conn.enable_load_extension(False)
        dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        if query_only:
            dbapi_conn.execute("PRAGMA query_only = ON")
        else:
            # Takes effect only on a new, empty file (before its first page is written).
            dbapi_conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
            dbapi_conn.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("xlcli_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def open_store(path: str | os.PathLike | None = None, *, write: bool = True, must_exist: bool = False) -> Store:
    """Open (creating and migrating if needed) the store at ``path``.

    ``write=False`` opens it read-only (``PRAGMA query_only``), never creating or migrating it.
    """
    path = Path(path) if path is not None else default_path()
    if path.exists() and path.is_dir():
        raise XlcliError(f"store path {path} is a directory: give a file path with --db")
    if path.exists() and not path.is_file():
        raise XlcliError(f"store path {path} is not a regular file (a device or pipe?): give a file path with --db")
    if not path.parent.exists():
        raise XlcliError(f"cannot create store {path}: directory {path.parent} does not exist")
    empty = path.exists() and path.stat().st_size == 0
    if not path.exists() or empty:
        if must_exist or not write:
            what = f"{path} is an empty file" if empty else f"no store at {path}"
            raise XlcliError(f"{what}: run `xlcli ingest ...` first or point --db / {ENV_VAR} at one")
    elif write and _is_read_only(path):
        raise XlcliError(f"store {path} is read-only: make it writable or use another --db")
    if write and _is_read_only(path.parent):
        # SQLite writes its journal (-wal, -shm) beside the store.
        raise XlcliError(f"store {path}: its directory {path.parent} is read-only: make it writable or use another --db")
    if path.exists() and not empty:
        _check_is_store(path)
    created = None if path.exists() and not empty else ("empty" if empty else "new")

    engine = _make_engine(path, query_only=not write)
    store = Store(path, engine, writable=write, created=created)
    try:
        _migrate(store)
    except XlcliError as exc:
        store.__exit__(type(exc), exc, None)
        raise
    except DBAPIError as exc:
        error = _friendly(exc, path)
        store.__exit__(XlcliError, error, None)
        raise error from exc
    except Exception as exc:  # the driver's own errors, raised before SQLAlchemy wraps them
        if isinstance(exc, sqlite_module().DatabaseError):
            error = _friendly(exc, path)
            store.__exit__(XlcliError, error, None)
            raise error from exc
        engine.dispose()
        raise
    return store


_SQLITE_HEADER = b"SQLite format 3\x00"


def _check_is_store(path: Path) -> None:
    """Refuse a file that is not SQLite, or a SQLite database that is not an xlcli store, before
    the engine's connections (which switch the file to WAL mode) or a migration touch it."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise XlcliError(f"cannot open store {path}: {exc.strerror}") from None
    if header != _SQLITE_HEADER:
        raise XlcliError(f"{path} is not an xlcli store (not a SQLite database)")
    module = sqlite_module()
    side_files = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    had_side_files = [p.exists() for p in side_files]
    try:
        conn = module.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}
        finally:
            conn.close()
    except module.Error as exc:
        # A reader of a WAL-mode file creates its -wal/-shm; a refused file is left as it was.
        for side, had in zip(side_files, had_side_files):
            if not had and side.exists() and (side.name.endswith("-shm") or side.stat().st_size == 0):
                side.unlink(missing_ok=True)
        raise _friendly(exc, path) from None
    if names and "xlcli_migrations" not in names:
        shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
        raise XlcliError(f"{path} is a SQLite database but not an xlcli store (it holds {shown}): "
                         "point --db at an xlcli store or at a new file")


def _migrate(store: Store) -> None:
    raw = store.engine.raw_connection()
    try:
        dbapi_conn = raw.driver_connection
        applied = migrations.applied_versions(dbapi_conn)
        migrations.check_not_newer(applied, f"store {store.path}")
        if not store.writable:
            if migrations.pending(applied):
                if not applied:
                    raise XlcliError(f"{store.path} is not an xlcli store")
                raise XlcliError(f"store {store.path} needs a schema upgrade: open it once without read-only mode")
            return
        for migration in migrations.pending(applied):
            migrations.apply(dbapi_conn, migration)
    finally:
        raw.close()
