"""The SQLite store: engine, migrations, step invocations, vector tables."""

from xlcli.store.engine import Store, default_path, open_store

__all__ = ["Store", "default_path", "open_store"]
