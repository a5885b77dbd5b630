"""What a bundle brings to a MediaWiki, staged before anything is written.

``Stage`` keeps the pages, revisions and deletions ``MediaWikiTarget`` takes during a
transaction in a private temporary SQLite file (deleted on close), so memory stays
flat however large the bundle; the target writes them to the wiki when the
transaction ends (bundler/targets/mediawiki.py).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Iterator

from .. import wire
from ..model import Deleted, Page, PageId, RevId, Revision, Slot
from ..store import INT64


class Stage:
    """What a bundle brings, decoded and checked, before anything is written: a
    private temporary SQLite file (deleted on close), so memory stays flat."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("", isolation_level=None)
        self.db.executescript(
            """
            CREATE TABLE page (page_id INTEGER PRIMARY KEY, ord INTEGER NOT NULL, namespace INTEGER NOT NULL,
                title TEXT NOT NULL, redirect TEXT);
            CREATE TABLE rev (ord INTEGER PRIMARY KEY AUTOINCREMENT, rev_id INTEGER UNIQUE NOT NULL,
                page_id INTEGER NOT NULL, timestamp INTEGER NOT NULL, sha1 TEXT NOT NULL, hidden INTEGER NOT NULL,
                cost INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE INDEX rev_page ON rev(page_id, ord);
            CREATE TABLE del (page_id INTEGER PRIMARY KEY, ord INTEGER NOT NULL, title TEXT NOT NULL);
            """
        )
        self.n = 0
        self.updates = 0

    def close(self) -> None:
        self.db.close()

    def put_page(self, page: Page) -> None:
        self.n += 1
        self.db.execute(
            "INSERT INTO page VALUES (?,?,?,?,?) ON CONFLICT(page_id) DO UPDATE SET namespace=excluded.namespace,"
            " title=excluded.title, redirect=excluded.redirect",
            (page.page_id, self.n, page.namespace, page.title, page.redirect),
        )
        self.db.execute("DELETE FROM del WHERE page_id=?", (page.page_id,))

    def put_revision(self, rev: Revision) -> bool:
        data = wire.store_pack_text(json.dumps(_rev_to_json(rev)))
        cur = self.db.execute(
            "INSERT OR IGNORE INTO rev (rev_id, page_id, timestamp, sha1, hidden, cost, data) VALUES (?,?,?,?,?,?,?)",
            (rev.rev_id, rev.page_id, rev.timestamp, rev.sha1, int(rev.text is None), _xml_cost(rev), data),
        )
        return cur.rowcount > 0

    def delete(self, page_id: int, title: str) -> None:
        self.n += 1
        self.db.execute("INSERT OR REPLACE INTO del VALUES (?,?,?)", (page_id, self.n, title))

    def page(self, page_id: int) -> Page | None:
        row = self.db.execute("SELECT namespace, title, redirect FROM page WHERE page_id=?", (page_id,)).fetchone()
        return Page(PageId(page_id), row[0], row[1], row[2]) if row else None

    def revision(self, rev_id: int) -> Revision | None:
        row = self.db.execute("SELECT data FROM rev WHERE rev_id=?", (rev_id,)).fetchone()
        return _rev_from_json(json.loads(wire.store_unpack_text(row[0]))) if row else None

    def pages(self) -> list[Page]:
        return [
            Page(PageId(pid), ns, title, redirect)
            for pid, ns, title, redirect in self.db.execute("SELECT page_id, namespace, title, redirect FROM page ORDER BY ord")
        ]

    def deletes(self) -> list[tuple[int, str]]:
        return self.db.execute("SELECT page_id, title FROM del ORDER BY ord").fetchall()

    def revisions(self, page_id: int, first: int = 0, last: int = INT64.stop) -> Iterator[Revision]:
        """The page's staged revisions in the bundle's order, those with ``ord`` in [first, last]."""
        for (data,) in self.db.execute(
            "SELECT data FROM rev WHERE page_id=? AND ord BETWEEN ? AND ? ORDER BY ord", (page_id, first, last)
        ).fetchall():
            yield _rev_from_json(json.loads(wire.store_unpack_text(data)))

    def costs(self, page_id: int) -> Iterator[tuple[int, int, bool, int]]:
        """(ord, rev_id, hidden, bytes in an import request) of the page's staged
        revisions in the bundle's order, without decoding their texts."""
        yield from self.db.execute("SELECT ord, rev_id, hidden, cost FROM rev WHERE page_id=? ORDER BY ord", (page_id,))

    def newest(self, page_id: int) -> Revision | None:
        """The page's newest revision in the bundle: what MediaWiki should show as current."""
        row = self.db.execute(
            "SELECT data FROM rev WHERE page_id=? AND hidden=0 ORDER BY timestamp DESC, ord DESC LIMIT 1", (page_id,)
        ).fetchone()
        return _rev_from_json(json.loads(wire.store_unpack_text(row[0]))) if row else None


def _xml_cost(rev: Revision) -> int:
    """About the bytes ``rev`` takes in an import request (its text, comment and tags)."""
    return 400 + len(rev.comment or "") + len((rev.text or "").encode("utf-8"))


def _rev_to_json(r: Revision) -> list:
    return [r.rev_id, r.page_id, r.timestamp, r.text, r.user, r.user_id, r.comment, r.parent_id, int(r.minor),
            int(r.deleted), r.model, r.format, [[s.role, s.model, s.format, s.text] for s in r.slots], r.sha1]


def _rev_from_json(v: list) -> Revision:
    return Revision(
        rev_id=RevId(v[0]), page_id=PageId(v[1]), timestamp=v[2], text=v[3], user=v[4], user_id=v[5], comment=v[6],
        parent_id=v[7], minor=bool(v[8]), deleted=Deleted(v[9]), model=v[10], format=v[11],
        slots=tuple(Slot(*s) for s in v[12]), sha1=v[13],
    )
