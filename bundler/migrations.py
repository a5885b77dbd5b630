"""Named schema migrations for the two SQLite databases: a side's state
(``state/schema.py``) and the embedded wiki store (``store.py``).

A database records each migration it has run in a table ``migrations`` (name,
when), in the same transaction as the migration itself (as sqlite-utils'
``migrations.py``): a crash leaves a migration either done and recorded or not
begun, so the next open simply runs what is missing. A migration is never
renamed or edited once released: its name is how an existing database says it
has it.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Sequence

Migration = tuple[str, str]  # (name, SQL statements separated by ";")


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Run the migrations ``db`` has not run yet, in order, each in its own
    transaction with its record; the names run. ``db`` is in autocommit mode
    (``isolation_level=None``)."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied INTEGER)")
    done = {r[0] for r in db.execute("SELECT name FROM migrations")}
    ran = []
    for name, sql in migrations:
        if name in done:
            continue
        # (Not executescript: it commits first, outside this transaction.)
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in sql.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            db.execute("INSERT INTO migrations VALUES (?, ?)", (name, int(time.time())))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        ran.append(name)
    return ran
