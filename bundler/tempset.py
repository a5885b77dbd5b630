"""A set of ids that may grow with the wiki, kept in a temporary table.

``bundle make`` remembers which of the peer's pages it has matched, and ``bundle
import`` which pages of the store the dump had; what is left at the end was
deleted. A Python set would grow with the wiki; a temporary table lives on disk
beside the database it belongs to, only as long as its connection, and the
owner of that database (the state, the store) can join its own tables on it.
The owner hands one out (``State.page_set``, ``WikiStore.page_set``); nothing
else of its schema is known here.
"""

from __future__ import annotations

import sqlite3


class TempIdSet:
    """Ids in the temporary table ``table`` of ``db`` (emptied when made)."""

    def __init__(self, db: sqlite3.Connection, table: str) -> None:
        self.db = db
        self.table = table
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY)")
        db.execute(f"DELETE FROM {table}")

    def add(self, i: int) -> None:
        self.db.execute(f"INSERT OR IGNORE INTO {self.table} VALUES (?)", (i,))

    def __contains__(self, i: int) -> bool:
        return self.db.execute(f"SELECT 1 FROM {self.table} WHERE id=?", (i,)).fetchone() is not None
