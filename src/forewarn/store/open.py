"""The store a URL names: ``sqlite:///PATH`` (the embedded file) or ``postgresql://...``.

Settings say which (``store``, :attr:`forewarn.config.Settings.store_url`); everything that
opens a store goes through here, so that choosing PostgreSQL is one setting, and a mistyped
URL or a server that does not answer is one clear line, not a traceback.
"""

from __future__ import annotations

from pathlib import Path

from forewarn.catalogue import Catalogue
from forewarn.store.base import Store
from forewarn.store.sqlite import SqliteStore, StoreError

__all__ = ["open_store", "store_kind"]

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


def store_kind(url: str) -> str:
    """'sqlite' or 'postgres' for a URL this module opens; StoreError for any other."""
    if url.startswith(_SQLITE):
        return "sqlite"
    if url.startswith(_POSTGRES):
        return "postgres"
    shown = url.split("@")[-1] if "@" in url else url  # never echo a password
    raise StoreError(
        f"store {shown!r} is not a store address: use sqlite:///PATH (the embedded file) or "
        "postgresql://USER@HOST:PORT/DATABASE"
    )


def open_store(url: str, catalogue: Catalogue, *, create: bool = True) -> Store:
    """Open (and migrate) the store at ``url``. ``create=False``: refuse to make a new one."""
    if store_kind(url) == "sqlite":
        path = url[len(_SQLITE):]
        if not path:
            raise StoreError("store 'sqlite:///' names no file: use sqlite:///PATH/forewarn.db")
        return SqliteStore(Path(path), catalogue, create=create)
    from forewarn.store.postgres.store import PgStore  # psycopg only when PostgreSQL is asked for

    return PgStore(url, catalogue, create=create)
