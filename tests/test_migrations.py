"""Side directories made by earlier releases open unchanged: their state and store
run the migrations they lack (``bundler/migrations.py``), keep every row, and the
sync goes on from them.

The old databases are real ones: a pair of sides carries a real dump, then each
database is taken back to an earlier release's schema by undoing, newest first,
what the later migrations added (each only adds tables or columns)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

import pytest

from bundler.migrations import migrate
from bundler.state import Side
from helpers import LDNONT, Pair, dump_history, new_pair, store_history

# The names existing databases carry: never renamed (they are how a database says what it has).
STATE_MIGRATIONS = ["0001-initial", "0002-held-files", "0003-mediawiki-ids", "0004-return", "0005-source-marks",
                    "0006-mediawiki-files", "0007-source-tops", "0008-mw-upload-stash"]
STORE_MIGRATIONS = ["0001-initial", "0002-files", "0003-origin"]

UNDO = {  # what each migration added, removed again
    "0002-held-files": "DROP TABLE held_files; DROP TABLE reported_files",
    "0003-mediawiki-ids": "DROP TABLE mw_pages; DROP TABLE mw_revs; DROP TABLE mw_own_revs; DROP TABLE mw_journal",
    "0004-return": "DROP TABLE upstream; DROP TABLE notices",
    "0005-source-marks": "DROP TABLE source_marks",
    "0006-mediawiki-files": "DROP TABLE mw_files",
    "0007-source-tops": "ALTER TABLE source_marks DROP COLUMN top_rev_id; ALTER TABLE source_marks DROP COLUMN"
                        " top_page_id; ALTER TABLE source_marks DROP COLUMN verified",
    "0008-mw-upload-stash": "DROP TABLE mw_upload_stash",
    "0002-files": "DROP TABLE file_version; DROP TABLE file_blob; DROP TABLE file_chunk",
    "0003-origin": "DROP TABLE origin; DROP TABLE page_origin",
}


def _rewind(path: str, names: list[str], keep: int) -> None:
    """Take the database at ``path`` back to the release that had ``names[:keep]``."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for name in reversed(names[keep:]):
            db.executescript(UNDO[name])
            db.execute("DELETE FROM migrations WHERE name=?", (name,))
    finally:
        db.close()


def _rows(path: str, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """The rows of these tables, these columns only (those an older release had)."""
    db = sqlite3.connect(path)
    try:
        return {t: sorted(db.execute(f"SELECT {', '.join(c)} FROM {t}").fetchall(), key=repr) for t, c in columns.items()}
    finally:
        db.close()


def _columns(path: str) -> dict[str, list[str]]:
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name!='migrations'")]
        return {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        db.close()


def _migrations(path: str) -> list[tuple[str, int]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT name, applied FROM migrations ORDER BY name").fetchall()
    finally:
        db.close()


@dataclass
class Old:
    """A database as an older release left it: its tables' columns and rows, its migrations."""

    path: str
    columns: dict[str, list[str]]
    rows: dict[str, list[tuple]]
    migrations: list[tuple[str, int]]

    @classmethod
    def read(cls, path: str) -> Old:
        columns = _columns(path)
        return cls(path, columns, _rows(path, columns), _migrations(path))

    def check_migrated(self, names: list[str]) -> None:
        now = _migrations(self.path)
        assert [n for n, _t in now] == names
        assert set(self.migrations) <= set(now)  # those it had: unchanged, with when they ran
        assert _rows(self.path, self.columns) == self.rows  # every row, as it was


@pytest.mark.parametrize("state_keep,store_keep", [(1, 1), (4, 2), (6, 2)],
                         ids=["first-release", "0004-return", "0006-mediawiki-files"])
def test_old_sides_open_migrate_and_sync_on(tmp_path, state_keep, store_keep):
    pair = new_pair(str(tmp_path))
    pair.carry(LDNONT[0], 1)
    sides, olds = {}, {}
    for side in (pair.hq, pair.school):
        state = os.path.join(side.path, "state.sqlite")
        side.state.db.close()
        _rewind(state, STATE_MIGRATIONS, state_keep)
        _rewind(side.wiki_path, STORE_MIGRATIONS, store_keep)
        olds[side.label] = old = (Old.read(state), Old.read(side.wiki_path))
        sides[side.label] = Side.open(side.path)
        sides[side.label].store().close()
        old[0].check_migrated(STATE_MIGRATIONS)
        old[1].check_migrated(STORE_MIGRATIONS)
    assert olds["hq"][0].rows["held_revs"] and olds["school"][0].rows["received"] and olds["school"][1].rows["revision"]
    reopened = Pair(pair.tmp, sides["hq"], sides["school"])
    made, applied = reopened.carry(LDNONT[1], 2)
    assert made.basis_seq == 1 and not applied.already
    assert store_history(reopened.school) == dump_history(LDNONT[1])


def test_a_database_up_to_date_runs_nothing(tmp_path):
    db = sqlite3.connect(str(tmp_path / "x.sqlite"), isolation_level=None)
    steps = [("0001-a", "CREATE TABLE a (x INTEGER); CREATE INDEX a_x ON a(x)"), ("0002-b", "CREATE TABLE b (y)")]
    assert migrate(db, steps[:1]) == ["0001-a"]
    assert migrate(db, steps) == ["0002-b"]
    assert migrate(db, steps) == []
    assert [r[0] for r in db.execute("SELECT name FROM migrations ORDER BY name")] == ["0001-a", "0002-b"]


def test_a_failing_migration_leaves_nothing_half_done(tmp_path):
    db = sqlite3.connect(str(tmp_path / "x.sqlite"), isolation_level=None)
    steps = [("0001-a", "CREATE TABLE a (x)"), ("0002-bad", "CREATE TABLE b (y); CREATE TABLE a (z)")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, steps)
    assert [r[0] for r in db.execute("SELECT name FROM migrations")] == ["0001-a"]
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name='b'").fetchone() is None
