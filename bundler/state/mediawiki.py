"""The state's MediaWiki tables: how a side whose wiki is a MediaWiki knows its wiki's
ids by the ids its peers use (migrations ``0003-mediawiki-ids``, ``0006-mediawiki-files``).

MediaWiki renumbers what it imports (docs/MEDIAWIKI_FINDINGS.md G12), so:

- ``mw_pages``, ``mw_revs``: a sender's page and revision ids (the bundle's) → the
  wiki's own, written as each import batch or landed edit is found on the wiki;
- ``mw_own_revs``: revisions applying made on the wiki itself (import and move null
  revisions, the edit that keeps the newest text current, a file page an upload
  made): never edits to send to a peer;
- ``mw_journal``: how far applying a bundle got, so a re-run finishes it; its
  ``started`` is the wiki's clock, from which the tool's own revisions are found;
- ``mw_files``: each upload applying made → the sender's file version it stands for;
- ``mw_upload_stash``: a chunked upload under way (migration ``0008-mw-upload-stash``).

``MediaWikiIds`` is the only code that runs SQL on them (targets/mediawiki*.py,
sources/api*.py ask it). Writes commit at once, each in its own state transaction:
a wiki is not transactional, so what landed is recorded as it lands.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ..model import FileVersion


class MediaWikiIds:
    """The MediaWiki id maps of one side's ``State``."""

    def __init__(self, state):
        self.state = state
        self.db = state.db

    # --- pages and revisions ----------------------------------------------------------

    def rev(self, sender: str, rev_id: int) -> int | None:
        """The wiki's id of the revision ``sender`` knows as ``rev_id``."""
        row = self.db.execute("SELECT mw_rev_id FROM mw_revs WHERE sender=? AND rev_id=?", (sender, rev_id)).fetchone()
        return row[0] if row else None

    def page(self, sender: str, page_id: int) -> tuple[int, str] | None:
        """(wiki page id, the title this side last gave it there) of ``sender``'s ``page_id``."""
        row = self.db.execute(
            "SELECT mw_page_id, title FROM mw_pages WHERE sender=? AND page_id=?", (sender, page_id)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def page_id_of(self, sender: str, mw_page_id: int) -> int | None:
        """The id ``sender`` knows the wiki's page ``mw_page_id`` by."""
        row = self.db.execute(
            "SELECT page_id FROM mw_pages WHERE sender=? AND mw_page_id=? LIMIT 1", (sender, mw_page_id)
        ).fetchone()
        return row[0] if row else None

    def rev_id_of(self, sender: str, mw_rev_id: int) -> int | None:
        """The id ``sender`` knows the wiki's revision by (the lowest: a null revision and
        the revision of the same second and text are one revision to MediaWiki)."""
        row = self.db.execute("SELECT min(rev_id) FROM mw_revs WHERE sender=? AND mw_rev_id=?", (sender, mw_rev_id)).fetchone()
        return row[0] if row and row[0] is not None else None

    def rev_ids_of(self, sender: str) -> dict[int, int]:
        """Every wiki revision id → the id ``sender`` knows it by."""
        return {mw: rid for rid, mw in self.db.execute("SELECT rev_id, mw_rev_id FROM mw_revs WHERE sender=?", (sender,))}

    def came_in_bundle(self, mw_rev_id: int) -> bool:
        """Did a bundle (from any sender) bring the wiki's revision ``mw_rev_id``?"""
        return self.db.execute("SELECT 1 FROM mw_revs WHERE mw_rev_id=? LIMIT 1", (mw_rev_id,)).fetchone() is not None

    def set_page(self, sender: str, page_id: int, mw_page_id: int, title: str) -> None:
        """``sender``'s ``page_id`` is the wiki's ``mw_page_id``, titled ``title`` there."""
        with self.state.transaction():
            self._set_page(sender, page_id, mw_page_id, title)

    def set_rev(self, sender: str, rev_id: int, mw_rev_id: int) -> None:
        """``sender``'s ``rev_id`` is the wiki's ``mw_rev_id``."""
        with self.state.transaction():
            self.db.execute("INSERT OR REPLACE INTO mw_revs VALUES (?,?,?)", (sender, rev_id, mw_rev_id))

    def record_import(self, sender: str, revs: list[tuple[int, int]], page_id: int, mw_page_id: int, title: str) -> None:
        """An import batch's page found on the wiki: its revisions (``sender``'s id, the
        wiki's) and the page, in one transaction. A null revision of ours with the second
        and text of an incoming revision is that revision to MediaWiki's importer (it
        skipped the incoming one): from now on it stands for a real revision, not ours."""
        with self.state.transaction():
            self.db.executemany("INSERT OR REPLACE INTO mw_revs VALUES (?,?,?)", [(sender, r, mw) for r, mw in revs])
            self.db.executemany("DELETE FROM mw_own_revs WHERE mw_rev_id=?", [(mw,) for _r, mw in revs])
            self._set_page(sender, page_id, mw_page_id, title)

    def _set_page(self, sender: str, page_id: int, mw_page_id: int, title: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO mw_pages VALUES (?,?,?,?)", (sender, page_id, mw_page_id, title))

    # --- the tool's own revisions ------------------------------------------------------

    def own_revisions(self) -> frozenset[int]:
        """Wiki revision ids that applying bundles made (null revisions, newest-text edits):
        never edits to send to a peer."""
        try:
            return frozenset(r[0] for r in self.db.execute("SELECT mw_rev_id FROM mw_own_revs"))
        except sqlite3.OperationalError:  # pragma: no cover - a state from before 0003
            return frozenset()

    def is_own(self, mw_rev_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM mw_own_revs WHERE mw_rev_id=?", (mw_rev_id,)).fetchone() is not None

    def add_own(self, mw_rev_ids: Iterable[int], sender: str, seq: int) -> None:
        """Revisions applying ``sender``'s bundle ``seq`` made on the wiki itself."""
        with self.state.transaction():
            self.db.executemany("INSERT OR IGNORE INTO mw_own_revs VALUES (?,?,?)", [(r, sender, seq) for r in mw_rev_ids])

    # --- the journal ---------------------------------------------------------------------

    def journal_begin(self, sender: str, seq: int, sha256: str, started: int) -> int:
        """Note that writing this bundle begins (unless a run before began it) and
        return when the first run began: the tool's own revisions are found from there."""
        with self.state.transaction():
            self.db.execute("INSERT OR IGNORE INTO mw_journal VALUES (?,?,?,?,?)", (sender, seq, sha256, started, "writing"))
        return self.db.execute(
            "SELECT started FROM mw_journal WHERE sender=? AND seq=? AND sha256=?", (sender, seq, sha256)
        ).fetchone()[0]

    def journal_written(self, sender: str, seq: int, sha256: str) -> None:
        with self.state.transaction():
            self.db.execute(
                "UPDATE mw_journal SET step='written' WHERE sender=? AND seq=? AND sha256=?", (sender, seq, sha256)
            )

    # --- uploads ---------------------------------------------------------------------------

    def file_names(self, sha1: str) -> list[str]:
        """Names of files some upload gave these bytes (up to 10)."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT name FROM mw_files WHERE sha1=? LIMIT 10", (sha1,))]

    def file_uploaded(self, sender: str, v: FileVersion) -> bool:
        """Is ``sender``'s version ``v`` on the wiki (uploaded or found by an earlier run)?"""
        return self.db.execute(
            "SELECT 1 FROM mw_files WHERE sender=? AND name=? AND timestamp=? AND sha1=?",
            (sender, v.name, v.timestamp, v.sha1),
        ).fetchone() is not None

    def file_claimed(self, name: str, sha1: str) -> set[int]:
        """The wiki's timestamps of this file's versions with these bytes that stand for a sender's version."""
        return {r[0] for r in self.db.execute("SELECT mw_timestamp FROM mw_files WHERE name=? AND sha1=?", (name, sha1))}

    def record_file(self, sender: str, v: FileVersion, mw_timestamp: int, seq: int) -> None:
        """The wiki's version of ``v.name`` at ``mw_timestamp`` stands for ``sender``'s ``v``."""
        with self.state.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO mw_files VALUES (?,?,?,?,?,?,?,?,?)",
                (sender, v.name, v.timestamp, v.sha1, mw_timestamp, v.user, v.user_id, v.comment, seq),
            )

    def file_as_sent(self, v: FileVersion) -> FileVersion:
        """The wiki's version ``v`` as the sender's version it stands for (itself when none)."""
        row = self.db.execute(
            "SELECT timestamp, user, user_id, comment FROM mw_files WHERE name=? AND mw_timestamp=? AND sha1=? LIMIT 1",
            (v.name, v.timestamp, v.sha1),
        ).fetchone()
        if row is None:
            return v
        return FileVersion(v.name, row[0], v.sha1, v.size, row[1], row[2], row[3], v.mime)

    # --- chunked uploads under way (mediawiki/write.py UploadProgress) ----------------------

    def load(self, name: str, sha1: str) -> tuple[str, int] | None:
        row = self.db.execute("SELECT filekey, offset FROM mw_upload_stash WHERE name=? AND sha1=?", (name, sha1)).fetchone()
        return (row[0], row[1]) if row else None

    def save(self, name: str, sha1: str, filekey: str, offset: int) -> None:
        with self.state.transaction():
            self.db.execute("INSERT OR REPLACE INTO mw_upload_stash VALUES (?,?,?,?)", (name, sha1, filekey, offset))

    def clear(self, name: str, sha1: str) -> None:
        with self.state.transaction():
            self.db.execute("DELETE FROM mw_upload_stash WHERE name=? AND sha1=?", (name, sha1))
