"""A SQLite authorizer that admits reads only: what makes ``xlcli sql`` without ``--write`` read-only.

``PRAGMA query_only`` stops writes to the store, but not ``ATTACH`` (which creates a file), temp
tables, ``load_extension`` or settings such as ``PRAGMA query_only = OFF`` itself. SQLite's
authorizer callback (``sqlite3_set_authorizer``, exposed by every DB-API driver xlcli uses) is
the mechanism made for this: SQLite asks it about every action while it compiles a statement,
so nothing that is not allowed here ever runs. It is an allow-list — reads, functions,
recursive CTEs, transactions, and pragmas that only report — and everything else (every write,
``ATTACH``/``DETACH``, DDL, temp objects, setting a pragma) is denied.
"""

from __future__ import annotations

from collections.abc import Callable

from xlcli.store.driver import sqlite_module

# Pragmas that only describe the schema or the file, whatever their argument (a table or index name).
_INTROSPECTION_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "foreign_key_check", "integrity_check", "quick_check", "database_list", "collation_list", "function_list",
    "module_list", "pragma_list", "compile_options",
})
# Settings that may be read (no argument) but never set.
_READABLE_SETTINGS = frozenset({
    "user_version", "application_id", "schema_version", "data_version", "page_count", "page_size", "freelist_count",
    "encoding", "journal_mode", "foreign_keys", "busy_timeout", "query_only", "auto_vacuum", "cache_size",
    "max_page_count", "synchronous", "wal_autocheckpoint",
})
# Functions that reach outside the store: loading code, or the file I/O some SQLite builds bundle.
DENIED_FUNCTIONS = frozenset({
    "load_extension", "readfile", "writefile", "edit", "fsdir", "lsdir", "lsmode",
    "fileio_read", "fileio_write", "fileio_append", "fileio_mkdir", "fileio_symlink", "fileio_ls",
})


def read_only_authorizer() -> Callable[[int, str | None, str | None, str | None, str | None], int]:
    """The callback for ``connection.set_authorizer``: SQLITE_OK for reads, SQLITE_DENY otherwise."""
    m = sqlite_module()
    ok, deny = m.SQLITE_OK, m.SQLITE_DENY
    always = {m.SQLITE_SELECT, m.SQLITE_READ, m.SQLITE_TRANSACTION, getattr(m, "SQLITE_RECURSIVE", 33)}
    function, pragma = m.SQLITE_FUNCTION, m.SQLITE_PRAGMA

    def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action in always:
            return ok
        if action == function:
            return deny if (arg2 or "").lower() in DENIED_FUNCTIONS else ok
        if action == pragma:
            name = (arg1 or "").lower()
            if name in _INTROSPECTION_PRAGMAS or (name in _READABLE_SETTINGS and arg2 is None):
                return ok
        return deny

    return authorize
