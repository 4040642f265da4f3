"""Pick a DB-API sqlite module that can load extensions.

sqlite-vec is a loadable extension. CPython's stdlib ``sqlite3`` can only load extensions when
it was compiled with that enabled (not on every distribution's Python), so we fall back to
drop-in replacements that ship their own SQLite: ``pysqlite3`` (pysqlite3-binary wheels) and
``sqlean`` (sqlean.py wheels).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType

from xlcli.errors import XlcliError

_CANDIDATES = ("sqlite3", "pysqlite3.dbapi2", "sqlean")


def _can_load_extensions(module: ModuleType) -> bool:
    return hasattr(module.Connection, "enable_load_extension")


@lru_cache(maxsize=1)
def sqlite_module() -> ModuleType:
    for name in _CANDIDATES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if _can_load_extensions(module):
            return module
    raise XlcliError(
        "no SQLite driver that can load extensions: install pysqlite3-binary (Linux) or sqlean.py"
    )
