"""Holding the revisions of one page while a dump is read, in bounded memory.

Real dumps do not always list a page's revisions in history order, so they are
gathered and sorted by ``(timestamp, rev_id)`` on the way out. Up to ``limit``
characters of text they stay in a list; beyond it they go to SQLite's private
temporary database (removed when closed), which sorts them, so a page with 50,000 revisions costs disk, not RAM. A revision
listed twice (a documented quirk of some exports) is kept once; twice with different
texts, the dump is refused (``refuse_repeat``, shared with ``dump_pages.SplitPages``,
which holds the pages split over several ``<page>`` blocks the same way).
"""

from __future__ import annotations

import pickle
import sqlite3
from typing import Iterable, Iterator

from ..errors import DumpError
from ..model import Revision


def refuse_repeat(rev: Revision, sha1_before: str) -> None:
    """``rev``'s id was read before with ``sha1_before``: the same revision again is
    fine (the caller keeps one); another text under that id is not."""
    if sha1_before != rev.sha1:
        raise DumpError(
            f"revision {rev.rev_id} appears twice in page {rev.page_id} with different text",
            hint="The dump is inconsistent; re-export the page.",
        )


class PageBuffer:
    """Revisions of one page, sorted on the way out; spills big histories to disk."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[Revision] = []
        self.text_bytes = 0
        self.db: sqlite3.Connection | None = None
        self.seen: dict[int, str] = {}  # rev_id -> sha1, to drop exact duplicates
        self.count = 0

    def add(self, rev: Revision) -> None:
        prev = self.seen.get(rev.rev_id)
        if prev is not None:
            refuse_repeat(rev, prev)
            return  # the same revision listed twice: keep one
        self.seen[rev.rev_id] = rev.sha1
        self.count += 1
        if self.db is None:
            self.items.append(rev)
            self.text_bytes += len(rev.text or "")
            if self.text_bytes > self.limit:
                self._spill()
        else:
            self._insert(rev)

    def _spill(self) -> None:
        # "" is SQLite's private temporary on-disk database, removed when closed.
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE r (ts INTEGER, id INTEGER, rev BLOB)")
        for rev in self.items:
            self._insert(rev)
        self.items = []

    def _insert(self, rev: Revision) -> None:
        assert self.db is not None
        self.db.execute("INSERT INTO r VALUES (?,?,?)", (rev.timestamp, rev.rev_id, pickle.dumps(rev)))

    def sorted(self) -> Iterable[Revision]:
        if self.db is None:
            self.items.sort(key=lambda r: (r.timestamp, r.rev_id))
            return self.items
        return self._iter_db()

    def _iter_db(self) -> Iterator[Revision]:
        assert self.db is not None
        # Our own temporary file, written by this process: not untrusted input.
        for (blob,) in self.db.execute("SELECT rev FROM r ORDER BY ts, id"):
            yield pickle.loads(blob)
        self.db.close()
