"""What a peer holds, at a checkpoint: ``PeerView``.

What a peer holds is kept per checkpoint: each bundle made for a peer adds rows
(``held_revs``, ``held_pages``) under its sequence number and names its basis.
The view at checkpoint N is the union of the rows along N's chain of bases (and
of the rows recorded from bundles the peer sent us, under negative seq: the peer
keeps what it has sent), the newest row per page winning. So a manifest saying
"I hold N" is enough for the sender to know exactly what that receiver has, and
the manifest stays small.

``State.peer_view(peer, chain)`` gives the view as an object; make, its planner
and a MediaWiki source ask it. Its queries join on the chain in the connection's
temporary table ``view_chain``, which holds one chain at a time: a view loads
its own again when another view was used since.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple, Sequence

from ..identity import FRESH_IDS, Held


class PageView(NamedTuple):
    """What the peer holds of one page at the view: its namespace and title, and
    whether the newest fact about it is a deletion."""

    namespace: int
    title: str
    deleted: bool


class LivePage(NamedTuple):
    """A page the peer holds alive at the view."""

    page_id: int
    namespace: int
    title: str


@dataclass(frozen=True, slots=True)
class Drift:
    """The wiki's listing against what the peer holds (``bundle make --verify``)."""

    lacking_revs: int  # revisions on the wiki the peer's view lacks
    lacking_pages: frozenset[int]  # the pages that hold them
    extra_revs: int  # revisions the view holds of live pages that the wiki no longer shows
    extra_pages: tuple[tuple[int, str], ...]  # (page_id, title) alive in the view, gone from the wiki


class ViewChain:
    """The connection's ``view_chain`` table, and which view's chain it holds."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.holder: PeerView | None = None

    def hold(self, view: PeerView) -> None:
        if self.holder is view:
            return
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS view_chain (seq INTEGER PRIMARY KEY)")
        self.db.execute("DELETE FROM view_chain")
        self.db.executemany("INSERT INTO view_chain VALUES (?)", [(s,) for s in view.chain])
        self.holder = view

    def forget(self) -> None:
        """The table may not hold the holder's chain (a transaction that loaded it rolled back)."""
        self.holder = None


class PeerView:
    """What ``peer`` holds at ``chain`` (its checkpoints, and those it sent us). Made by
    ``State.peer_view``; the chain is in ``view_chain`` from the start (files.py's
    queries join on it too)."""

    def __init__(self, db: sqlite3.Connection, chains: ViewChain, peer: str, chain: Sequence[int]) -> None:
        self.db = db
        self.peer = peer
        self.chain = tuple(chain)
        self._chains = chains
        chains.hold(self)

    def _q(self, sql: str, *args) -> sqlite3.Cursor:
        """``sql`` with this view's chain in ``view_chain`` and the peer as its first parameter."""
        self._chains.hold(self)
        return self.db.execute(sql, (self.peer, *args))

    def page(self, page_id: int) -> PageView | None:
        row = self._q(
            "SELECT namespace, title, deleted FROM held_pages INDEXED BY held_pages_page"
            " WHERE peer=? AND page_id=? AND seq IN (SELECT seq FROM view_chain)"
            " ORDER BY rowid DESC LIMIT 1",  # the newest fact wins, sent or received
            page_id,
        ).fetchone()
        return PageView(row[0], row[1], bool(row[2])) if row else None

    def revs(self, page_id: int) -> Held:
        """The revisions the peer holds of a page: rkey -> (the rev_id it knows it by, mkey).

        (INDEXED BY: with a one-checkpoint chain SQLite prefers the primary key's
        (peer, seq) prefix and reads every row of the checkpoint, per page.)"""
        return {
            rkey: (rid, mkey)
            for rid, rkey, mkey in self._q(
                "SELECT rev_id, rkey, mkey FROM held_revs INDEXED BY held_revs_page"
                " WHERE peer=? AND page_id=? AND seq IN (SELECT seq FROM view_chain)"
                " ORDER BY rowid",
                page_id,
            )
        }

    def pages_holding(self, rkeys: list[int]) -> list[tuple[int, int]]:
        """Held pages that hold any of these revisions, best match first: (page_id, matches)."""
        if not rkeys:
            return []
        q = ",".join("?" * len(rkeys))
        return self._q(
            f"SELECT page_id, count(*) AS n FROM held_revs INDEXED BY held_revs_rkey WHERE peer=? AND seq IN (SELECT seq FROM view_chain)"
            f" AND rkey IN ({q}) GROUP BY page_id ORDER BY n DESC, page_id",
            *rkeys,
        ).fetchall()

    def pages_between(self, lo: int, hi: int | None) -> dict[int, tuple[PageView, Held]]:
        """What the peer holds of the pages with ids in [lo, hi) (None: to the end; the
        last id itself is no wiki's), in two queries (bundle make --base ships them to the worker of that id range)."""
        end = hi if hi is not None else (1 << 63) - 1
        pages = {pid: (PageView(ns, title, bool(deleted)), {}) for pid, ns, title, deleted in self._q(
            "SELECT h.page_id, h.namespace, h.title, h.deleted FROM held_pages h"
            " JOIN (SELECT page_id, max(rowid) AS r FROM held_pages INDEXED BY held_pages_page"
            "       WHERE peer=? AND page_id >= ? AND page_id < ? AND seq IN (SELECT seq FROM view_chain)"
            "       GROUP BY page_id) last ON last.r = h.rowid",  # the newest fact wins, as in page()
            lo, end)}
        for pid, rid, rkey, mkey in self._q(
            "SELECT page_id, rev_id, rkey, mkey FROM held_revs INDEXED BY held_revs_page"
            " WHERE peer=? AND page_id >= ? AND page_id < ? AND seq IN (SELECT seq FROM view_chain) ORDER BY rowid",
            lo, end,
        ):
            if pid in pages:
                pages[pid][1][rkey] = (rid, mkey)
        return pages

    def live_pages(self) -> Iterator[LivePage]:
        """Pages the peer holds alive at the view."""
        rows = self._q(
            "SELECT h.page_id, h.namespace, h.title, h.deleted FROM held_pages h"
            " JOIN (SELECT page_id, max(rowid) AS r FROM held_pages WHERE peer=? AND seq IN (SELECT seq FROM view_chain)"
            "       GROUP BY page_id) last ON last.r = h.rowid",
        )
        for pid, ns, title, deleted in rows:
            if not deleted:
                yield LivePage(pid, ns, title)

    def siteinfo(self) -> str | None:
        """The site information last sent along the view (JSON), if any."""
        row = self._q(
            "SELECT siteinfo FROM sent WHERE peer=? AND siteinfo IS NOT NULL AND seq IN (SELECT seq FROM view_chain)"
            " ORDER BY seq DESC LIMIT 1",
        ).fetchone()
        return row[0] if row else None

    # --- ids ever given to the peer, in any checkpoint (not only the view's) -----------

    def rev_id_taken(self, rev_id: int, rkey: int) -> bool:
        """Was this id ever given to the peer for another revision (in any checkpoint)?"""
        return self._q("SELECT 1 FROM held_revs WHERE peer=? AND rev_id=? AND rkey!=? LIMIT 1", rev_id, rkey
                       ).fetchone() is not None

    def page_id_taken(self, page_id: int, rkeys: list[int]) -> bool:
        """Was this id ever given to the peer for a page that shares none of these revisions?"""
        if self._q("SELECT 1 FROM held_pages WHERE peer=? AND page_id=? LIMIT 1", page_id).fetchone() is None:
            return False
        q = ",".join("?" * len(rkeys[:64]))
        return self._q(
            f"SELECT 1 FROM held_revs WHERE peer=? AND page_id=? AND rkey IN ({q}) LIMIT 1", page_id, *rkeys[:64]
        ).fetchone() is None

    def highest_rev_id(self, ids: range) -> int | None:
        """The highest revision id in ``ids`` ever given to the peer."""
        return self._q("SELECT max(rev_id) FROM held_revs WHERE peer=? AND rev_id >= ? AND rev_id < ?",
                       ids.start, ids.stop).fetchone()[0]

    def highest_page_id(self, ids: range) -> int | None:
        """The highest page id in ``ids`` ever given to the peer."""
        return self._q("SELECT max(page_id) FROM held_pages WHERE peer=? AND page_id >= ? AND page_id < ?",
                       ids.start, ids.stop).fetchone()[0]

    # --- a wiki's listing against the view (bundle make --verify) --------------------

    def drift(self, listing: Iterable[tuple[int, int]], skip: frozenset[int] = frozenset()) -> Drift:
        """Compare a wiki's (page_id, rev_id) listing with the view; ids are the wiki's (a
        source with stable ids). ``skip``: revision ids that never travel. The listing
        goes through a temporary table: memory stays flat with the wiki."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS source_listing (rev_id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL)")
        db.execute("DELETE FROM source_listing")
        db.executemany("INSERT OR REPLACE INTO source_listing VALUES (?, ?)",
                       ((rid, pid) for pid, rid in listing if rid not in skip))
        live = {p.page_id: p.title for p in self.live_pages()}
        self._hold_view_revs(live)
        lacking = db.execute(
            "SELECT count(*), group_concat(DISTINCT page_id) FROM source_listing s"
            " WHERE NOT EXISTS (SELECT 1 FROM view_held v WHERE v.rev_id = s.rev_id)").fetchone()
        extra_revs = db.execute(
            "SELECT count(*) FROM view_held v JOIN source_listing p ON p.page_id = v.page_id"
            " WHERE v.rev_id < ? AND NOT EXISTS (SELECT 1 FROM source_listing s WHERE s.rev_id = v.rev_id)",
            (FRESH_IDS,)).fetchone()[0]
        listed = {r[0] for r in db.execute("SELECT DISTINCT page_id FROM source_listing")}
        pages = frozenset(int(p) for p in (lacking[1] or "").split(",") if p)
        extra_pages = tuple((pid, title) for pid, title in sorted(live.items()) if pid not in listed)
        return Drift(lacking[0], pages, extra_revs, extra_pages)

    def _hold_view_revs(self, live: dict[int, str]) -> None:
        """The revisions the view holds of its live pages, in the temporary table ``view_held``."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS view_held (rev_id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL)")
        db.execute("DELETE FROM view_held")
        db.executemany("INSERT OR REPLACE INTO view_held VALUES (?, ?)", (
            (rid, pid) for rid, pid in self._q(
                "SELECT rev_id, page_id FROM held_revs WHERE peer=? AND seq IN (SELECT seq FROM view_chain)")
            if pid in live))
