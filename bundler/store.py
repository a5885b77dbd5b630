"""The embedded wiki store: a MediaWiki-shaped wiki in one SQLite file.

It is the default wiki of a side (for trying the tool, for tests, and for sites
that import XML by hand with ``bundle export``), and serves as source and target.
Pages keep the source wiki's ``page_id`` and revisions its ``rev_id``; texts are
stored once per SHA-1, zstd-compressed. A deleted page keeps its revisions (as
MediaWiki's archive does) but is gone from the wiki: not exported, not listed,
its title free for a new page.

Titles are unique among live pages. The check runs at the end of a transaction
(``check_titles``) rather than as an index, because a bundle may swap titles
(A→B, B→A) or free a title by a deletion it carries later.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from . import wire
from .errors import ContentError, StateError
from .identity import FreshIds
from .migrations import migrate
from .model import CANONICAL_NAMESPACES, FILE_NS, Deleted, FileVersion, Page, PageHistory, PageId, RevId, Revision, SiteInfo, Slot, file_title_to_name
from .store_schema import SCHEMA
from .tempset import TempIdSet

BLOB_CHUNK = 1 << 20  # bytes per stored chunk of a file


# SQLite integers are signed 64-bit; a Python int outside raises OverflowError in
# sqlite3, which is not ours. Ids and times come from bundles (a trusted sender can
# still be buggy), so the store checks them where they meet SQL: out of range is
# "not held" when looking up, a content error when writing.
INT64 = range(-(1 << 63), 1 << 63)


def _held_id(i: int) -> bool:
    return i in INT64


def check_int64(what: str, **values: int | None) -> None:
    for name, v in values.items():
        if v is not None and v not in INT64:
            raise ContentError(
                f"{what}: {name} {v} does not fit this wiki store (64-bit signed integers)",
                hint="No wiki has such ids or times: the sender is faulty. Nothing was changed.",
            )


# Names of files whose page is deleted (and no live page has that title).
_DELETED_FILES = (
    "SELECT replace(substr(p.title, instr(p.title, ':') + 1), ' ', '_') FROM page p"
    f" WHERE p.namespace={FILE_NS} AND p.deleted=1"
    f" AND NOT EXISTS (SELECT 1 FROM page q WHERE q.namespace={FILE_NS} AND q.title=p.title AND q.deleted=0)"
)


@dataclass(frozen=True, slots=True)
class StoreCounts:
    pages: int
    revisions: int
    deleted_pages: int


@dataclass(frozen=True, slots=True)
class Change:
    """One revision of a live page, as recent changes list it."""

    rev_id: int
    page_id: int
    title: str
    timestamp: int
    user: str | None
    comment: str | None
    parent_id: int | None


_CHANGES = ("SELECT r.rev_id, r.page_id, p.title, r.timestamp, r.user, r.comment, r.parent_id"
            " FROM revision r JOIN page p USING (page_id) WHERE p.deleted = 0")


class StoredHistory:
    """One page's history in the store, read again from the database at each
    iteration (a ``history.History``: ``bundle make`` reads it in several passes
    without holding it)."""

    def __init__(self, store: "WikiStore", page_id: int) -> None:
        self.store = store
        self.page_id = page_id

    def __iter__(self) -> Iterator[Revision]:
        return self.store._revisions(self.page_id)

    def meta(self) -> Iterator[Revision]:
        return self.store._revisions_meta(self.page_id)

    def close(self) -> None:
        pass  # nothing held


class WikiStore:
    def __init__(self, path: str, *, create: bool = False):
        self.path = path
        if not create and not os.path.exists(path):
            raise StateError(f"the wiki store {path} does not exist", hint="Check --wiki, or run 'bundle init' again.")
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            migrate(self.db, SCHEMA)
        except sqlite3.DatabaseError as e:
            raise StateError(f"the wiki store {path} is not a usable SQLite database ({e})", hint="Restore it from a backup.") from None

    def __enter__(self) -> "WikiStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.check_titles()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- siteinfo -----------------------------------------------------------

    def siteinfo(self) -> SiteInfo:
        row = self.db.execute("SELECT v FROM siteinfo WHERE k='siteinfo'").fetchone()
        return SiteInfo.from_wire(json.loads(row[0])) if row else SiteInfo()

    def set_siteinfo(self, si: SiteInfo) -> None:
        self.db.execute("INSERT OR REPLACE INTO siteinfo VALUES ('siteinfo', ?)", (json.dumps(si.to_wire()),))

    # --- reading --------------------------------------------------------------

    def blob_sha1s(self) -> Iterator[str]:
        """The sha1 of every stored file content, whatever names and versions use it."""
        for (sha1,) in self.db.execute("SELECT sha1 FROM file_blob"):
            yield sha1

    def counts(self) -> StoreCounts:
        p = self.db.execute("SELECT count(*) FROM page WHERE deleted=0").fetchone()[0]
        d = self.db.execute("SELECT count(*) FROM page WHERE deleted=1").fetchone()[0]
        r = self.db.execute(
            "SELECT count(*) FROM revision JOIN page USING (page_id) WHERE page.deleted=0"
        ).fetchone()[0]
        return StoreCounts(p, r, d)

    def page(self, page_id: int) -> tuple[Page, bool] | None:
        row = self.db.execute(
            "SELECT page_id, namespace, title, redirect, deleted FROM page WHERE page_id=?", (page_id,)
        ).fetchone()
        if row is None:
            return None
        return Page(PageId(row[0]), row[1], row[2], row[3]), bool(row[4])

    def live_title(self, page_id: int) -> str | None:
        if not _held_id(page_id):
            return None
        row = self.db.execute("SELECT title FROM page WHERE page_id=? AND deleted=0", (page_id,)).fetchone()
        return row[0] if row else None

    def page_by_title(self, title: str) -> Page | None:
        row = self.db.execute(
            "SELECT page_id, namespace, title, redirect FROM page WHERE title=? AND deleted=0", (title,)
        ).fetchone()
        return Page(PageId(row[0]), row[1], row[2], row[3]) if row else None

    def get_text(self, rev_id: int) -> str | None:
        if not _held_id(rev_id):
            return None
        row = self.db.execute(
            "SELECT t.data FROM revision r JOIN text t ON t.sha1 = r.sha1 WHERE r.rev_id=? AND (r.deleted & 1)=0",
            (rev_id,),
        ).fetchone()
        return wire.store_unpack_text(row[0]) if row else None

    def get_slots(self, rev_id: int) -> tuple[Slot, ...] | None:
        """A revision's non-main slots (None: no such revision; a hidden text hides them too)."""
        if not _held_id(rev_id):
            return None
        row = self.db.execute("SELECT slots FROM revision WHERE rev_id=? AND (deleted & 1)=0", (rev_id,)).fetchone()
        if row is None:
            return None
        return tuple(Slot(*s) for s in json.loads(row[0])) if row[0] else ()

    def revision_sha1(self, rev_id: int) -> str | None:
        if not _held_id(rev_id):
            return None
        row = self.db.execute("SELECT sha1 FROM revision WHERE rev_id=?", (rev_id,)).fetchone()
        return row[0] if row else None

    def shared_titles(self) -> dict[str, list[int]]:
        """Titles that more than one live page holds (inside a transaction, before
        ``check_titles``), and the ids of those pages."""
        out: dict[str, list[int]] = {}
        for (title,) in self.db.execute(
            "SELECT title FROM page WHERE deleted=0 GROUP BY title HAVING count(*) > 1"
        ).fetchall():
            out[title] = [r[0] for r in self.db.execute("SELECT page_id FROM page WHERE title=? AND deleted=0", (title,))]
        return out

    def revision_ids_in(self, page_id: int, ids: range) -> set[int]:
        """The page's revisions whose ids are in ``ids`` (e.g. the side's local range)."""
        return {r[0] for r in self.db.execute(
            "SELECT rev_id FROM revision WHERE page_id=? AND rev_id >= ? AND rev_id < ?", (page_id, ids.start, ids.stop))}

    def revision_keys(self, page_id: int) -> list[Revision]:
        """A page's revisions in history order with timestamp and sha1 only (no text):
        enough for ``page_rkeys``."""
        return [
            Revision(rev_id=RevId(rid), page_id=PageId(page_id), timestamp=ts, text=None, sha1=sha1)
            for rid, ts, sha1 in self.db.execute(
                "SELECT rev_id, timestamp, sha1 FROM revision WHERE page_id=? ORDER BY timestamp, rev_id", (page_id,)
            )
        ]

    def pages(self, *, include_deleted: bool = False) -> Iterator[PageHistory]:
        """Every live page with its history in order; texts are loaded as they are iterated.

        Pages are read in batches by page id (keyset), so memory does not grow with
        the wiki and the caller may query the store between pages."""
        where = "" if include_deleted else " AND deleted=0"
        last = None
        while True:
            batch = self.db.execute(
                "SELECT page_id, namespace, title, redirect FROM page WHERE (? IS NULL OR page_id > ?)" + where
                + " ORDER BY page_id LIMIT 1000",
                (last, last),
            ).fetchall()
            if not batch:
                return
            for pid, ns, title, redirect in batch:
                ids = frozenset(r[0] for r in self.db.execute("SELECT rev_id FROM revision WHERE page_id=?", (pid,)))
                yield PageHistory(Page(PageId(pid), ns, title, redirect), StoredHistory(self, pid), len(ids), ids)
            last = batch[-1][0]

    def _revisions(self, page_id: int) -> Iterator[Revision]:
        """A page's revisions in history order, texts loaded as they are iterated."""
        rows = self.db.execute(
            "SELECT r.rev_id, r.parent_id, r.timestamp, r.user, r.user_id, r.comment, r.minor, r.deleted,"
            " r.model, r.format, r.sha1, r.slots, t.data FROM revision r LEFT JOIN text t ON t.sha1 = r.sha1"
            " WHERE r.page_id=? ORDER BY r.timestamp, r.rev_id",
            (page_id,),
        )
        for row in rows:
            yield self._row_to_rev(page_id, row)

    @staticmethod
    def _row_to_rev(page_id: int, row) -> Revision:
        rev_id, parent_id, ts, user, user_id, comment, minor, deleted, model, fmt, sha1, slots, data = row
        hidden = bool(deleted & Deleted.TEXT)
        return Revision(
            rev_id=RevId(rev_id),
            page_id=PageId(page_id),
            timestamp=ts,
            text=None if hidden or data is None else wire.store_unpack_text(data),
            user=user,
            user_id=user_id,
            comment=comment,
            parent_id=parent_id,
            minor=bool(minor),
            deleted=Deleted(deleted),
            model=model,
            format=fmt,
            slots=tuple(Slot(*s) for s in json.loads(slots)) if slots else (),
            sha1=sha1,
        )

    def revision(self, rev_id: int) -> Revision | None:
        if not _held_id(rev_id):
            return None
        row = self.db.execute(
            "SELECT r.page_id, r.rev_id, r.parent_id, r.timestamp, r.user, r.user_id, r.comment, r.minor, r.deleted,"
            " r.model, r.format, r.sha1, r.slots, t.data FROM revision r LEFT JOIN text t ON t.sha1 = r.sha1"
            " WHERE r.rev_id=?",
            (rev_id,),
        ).fetchone()
        return self._row_to_rev(row[0], row[1:]) if row else None

    def _revisions_meta(self, page_id: int) -> Iterator[Revision]:
        """As ``_revisions`` without reading any text (``text`` is None)."""
        for row in self.db.execute(
            "SELECT rev_id, parent_id, timestamp, user, user_id, comment, minor, deleted, model, format, sha1, slots, NULL"
            " FROM revision WHERE page_id=? ORDER BY timestamp, rev_id",
            (page_id,),
        ):
            yield self._row_to_rev(page_id, row)

    def revision_meta(self, page_id: int) -> dict[int, Revision]:
        """A page's revisions without text, by id: attribution and visibility."""
        return {
            rid: Revision(rev_id=RevId(rid), page_id=PageId(page_id), timestamp=ts, text=None, user=user, user_id=uid,
                          comment=comment, minor=bool(minor), deleted=Deleted(deleted), sha1=sha1)
            for rid, ts, user, uid, comment, minor, deleted, sha1 in self.db.execute(
                "SELECT rev_id, timestamp, user, user_id, comment, minor, deleted, sha1 FROM revision WHERE page_id=?"
                " ORDER BY timestamp, rev_id",
                (page_id,),
            )
        }

    def head(self, page_id: int) -> Revision | None:
        """The page's current revision: the newest (MediaWiki's page_latest)."""
        row = self.db.execute(
            "SELECT rev_id FROM revision WHERE page_id=? ORDER BY timestamp DESC, rev_id DESC LIMIT 1", (page_id,)
        ).fetchone()
        return self.revision(row[0]) if row else None

    def recent_changes(self, limit: int) -> list[Change]:
        """The newest ``limit`` revisions of live pages, newest first."""
        return [Change(*r) for r in self.db.execute(_CHANGES + " ORDER BY r.timestamp DESC, r.rev_id DESC LIMIT ?", (limit,))]

    def changes_in(self, ids: range, since: int) -> Iterator[Change]:
        """Revisions of live pages with ids in ``ids`` saved at or after ``since``, newest first."""
        yield from (Change(*r) for r in self.db.execute(
            _CHANGES + " AND r.rev_id >= ? AND r.rev_id < ? AND r.timestamp >= ? ORDER BY r.timestamp DESC",
            (ids.start, ids.stop, since)))

    def heads(self) -> Iterator[tuple[int, str, int]]:
        """(page_id, title, current rev_id) of every live page, streamed."""
        yield from self.db.execute(
            "SELECT p.page_id, p.title, (SELECT rev_id FROM revision r WHERE r.page_id = p.page_id"
            " ORDER BY timestamp DESC, rev_id DESC LIMIT 1) FROM page p WHERE p.deleted = 0")

    def edits_by(self, user: str, comment_prefix: str) -> list[Revision]:
        """Revisions of live pages by ``user`` whose summary starts with ``comment_prefix``
        (without text; ``parent_id`` and ``sha1`` set), newest first."""
        return [Revision(rev_id=RevId(rid), page_id=PageId(pid), timestamp=ts, text=None, parent_id=parent, sha1=sha1,
                         user=user)
                for rid, pid, parent, sha1, ts in self.db.execute(
                    "SELECT r.rev_id, r.page_id, r.parent_id, r.sha1, r.timestamp FROM revision r JOIN page p USING (page_id)"
                    " WHERE p.deleted = 0 AND r.user = ? AND substr(r.comment, 1, ?) = ? ORDER BY r.timestamp DESC",
                    (user, len(comment_prefix), comment_prefix))]

    def highest_id(self, table: str, column: str, ids: range) -> int | None:
        """The highest id in ``ids`` held here of pages (``page``, ``page_id``) or revisions
        (``revision``, ``rev_id``), deleted pages included; None: none is."""
        if (table, column) not in (("page", "page_id"), ("revision", "rev_id")):
            raise ValueError(f"no ids of {table}.{column} in the store")
        return self.db.execute(
            f"SELECT max({column}) FROM {table} WHERE {column} >= ? AND {column} < ?", (ids.start, ids.stop)
        ).fetchone()[0]

    def next_id(self, table: str, column: str, ids: range) -> int:
        """A new id from ``ids`` for a page or revision made here (an edit, a landed return)."""
        return FreshIds(ids, self.highest_id(table, column, ids), f"this wiki store's local {table}s").take()

    def page_set(self, name: str) -> TempIdSet:
        """An empty set of page ids, in a temporary table of the store (``delete_pages_except``)."""
        return TempIdSet(self.db, name)

    def origin(self, peer: str, peer_rev_id: int) -> int | None:
        if not _held_id(peer_rev_id):
            return None
        row = self.db.execute("SELECT rev_id FROM origin WHERE peer=? AND peer_rev_id=?", (peer, peer_rev_id)).fetchone()
        return row[0] if row else None

    def page_origin(self, peer: str, peer_page_id: int) -> int | None:
        if not _held_id(peer_page_id):
            return None
        row = self.db.execute(
            "SELECT page_id FROM page_origin WHERE peer=? AND peer_page_id=?", (peer, peer_page_id)
        ).fetchone()
        return row[0] if row else None

    def record_origin(self, peer: str, peer_rev_id: int, rev_id: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO origin VALUES (?,?,?)", (peer, peer_rev_id, rev_id))

    def record_page_origin(self, peer: str, peer_page_id: int, page_id: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO page_origin VALUES (?,?,?)", (peer, peer_page_id, page_id))

    def namespace_of(self, title: str) -> int:
        """The namespace a full title is in, by the wiki's namespace names, else by
        MediaWiki's canonical names (``File:``, ``Template:`` … work on every wiki); 0 if none."""
        prefix, sep, _rest = title.partition(":")
        if sep:
            want = " ".join(prefix.replace("_", " ").split()).lower()
            for key, _case, name in self.siteinfo().namespaces:
                if name and name.replace("_", " ").lower() == want:
                    return key
            return CANONICAL_NAMESPACES.get(want, 0)
        return 0

    # --- writing (inside transaction()) ---------------------------------------

    def put_page(self, page: Page) -> None:
        """Create the page or bring it to this title (a move) and undelete it. A file
        page moved takes its file along (every version), as MediaWiki's move does."""
        check_int64(f"page {page.title!r}", page_id=page.page_id, namespace=page.namespace)
        old = self.db.execute("SELECT namespace, title FROM page WHERE page_id=?", (page.page_id,)).fetchone()
        if old is not None and old[0] == FILE_NS == page.namespace and old[1] != page.title:
            self.db.execute("UPDATE OR IGNORE file_version SET name=? WHERE name=?",
                            (file_title_to_name(page.title), file_title_to_name(old[1])))
        self.db.execute(
            "INSERT INTO page (page_id, namespace, title, redirect, deleted) VALUES (?,?,?,?,0)"
            " ON CONFLICT(page_id) DO UPDATE SET namespace=excluded.namespace, title=excluded.title,"
            " redirect=excluded.redirect, deleted=0",
            (page.page_id, page.namespace, page.title, page.redirect),
        )

    def delete_page(self, page_id: int) -> bool:
        if not _held_id(page_id):
            return False
        cur = self.db.execute("UPDATE page SET deleted=1 WHERE page_id=? AND deleted=0", (page_id,))
        return cur.rowcount > 0

    def delete_pages_except(self, kept: TempIdSet) -> int:
        """Delete every live page whose id is not in ``kept`` (a ``page_set``); how many."""
        return self.db.execute(
            f"UPDATE page SET deleted=1 WHERE deleted=0 AND page_id NOT IN (SELECT id FROM {kept.table})"
        ).rowcount

    def put_revision(self, rev: Revision) -> bool:
        """Store ``rev``; False if it was already here (same id and sha1, same page).

        Already here under another page: a history merge (Special:MergeHistory) moved
        it there on the sender's wiki, under its id; it moves here too."""
        check_int64(f"revision {rev.rev_id}", rev_id=rev.rev_id, page_id=rev.page_id, parent_id=rev.parent_id,
                     timestamp=rev.timestamp, user_id=rev.user_id)
        have = self.revision_sha1(rev.rev_id)
        if have is not None:
            if have != rev.sha1:
                raise ContentError(
                    f"revision {rev.rev_id} is already here with other text (sha1 {have[:12]}…, incoming {rev.sha1[:12]}…)",
                    hint="The two wikis disagree about history; ask the sender for a full bundle.",
                )
            cur = self.db.execute("UPDATE revision SET page_id=? WHERE rev_id=? AND page_id!=?",
                                  (rev.page_id, rev.rev_id, rev.page_id))
            return cur.rowcount > 0
        if rev.text is not None:
            self.db.execute(
                "INSERT OR IGNORE INTO text (sha1, data) VALUES (?, ?)", (rev.sha1, wire.store_pack_text(rev.text))
            )
        self.db.execute(
            "INSERT INTO revision VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rev.rev_id,
                rev.page_id,
                rev.parent_id,
                rev.timestamp,
                rev.user,
                rev.user_id,
                rev.comment,
                int(rev.minor),
                int(rev.deleted),
                rev.model,
                rev.format,
                rev.sha1,
                json.dumps([[s.role, s.model, s.format, s.text] for s in rev.slots]) if rev.slots else None,
            ),
        )
        return True

    def update_revision_meta(self, rev: Revision) -> bool:
        """New attribution or visibility of a revision held here (text unchanged)."""
        check_int64(f"update of revision {rev.rev_id}", rev_id=rev.rev_id, user_id=rev.user_id)
        cur = self.db.execute(
            "UPDATE revision SET user=?, user_id=?, comment=?, minor=?, deleted=? WHERE rev_id=?"
            " AND (user IS NOT ? OR user_id IS NOT ? OR comment IS NOT ? OR minor IS NOT ? OR deleted IS NOT ?)",
            (rev.user, rev.user_id, rev.comment, int(rev.minor), int(rev.deleted), rev.rev_id,
             rev.user, rev.user_id, rev.comment, int(rev.minor), int(rev.deleted)),
        )
        if cur.rowcount == 0 and self.revision_sha1(rev.rev_id) is None:
            raise ContentError(
                f"the bundle updates revision {rev.rev_id}, which this side does not hold",
                hint="This side's wiki lost history since the last sync; ask the sender for a full bundle (bundle make --full).",
            )
        return cur.rowcount > 0

    # --- files (uploads) ---------------------------------------------------------

    def file_versions(self, name: str | None = None) -> Iterator[FileVersion]:
        """Every file version (or one file's), by name and then in history order. A file
        whose page is deleted is deleted with it (all versions, as in MediaWiki): not
        listed, but kept, so undeleting the page brings it back; its bytes stay held."""
        q = ("SELECT name, timestamp, sha1, size, user, user_id, comment, mime FROM file_version"
             f" WHERE name NOT IN ({_DELETED_FILES})")
        args: tuple = ()
        if name is not None:
            q += " AND name=?"
            args = (name,)
        for row in self.db.execute(q + " ORDER BY name, timestamp, sha1", args).fetchall():
            yield FileVersion(*row)

    def has_blob(self, sha1: str) -> bool:
        return self.blob_size(sha1) is not None

    def blob_size(self, sha1: str) -> int | None:
        row = self.db.execute("SELECT size FROM file_blob WHERE sha1=?", (sha1,)).fetchone()
        return row[0] if row else None

    def blob_chunks(self, sha1: str) -> Iterator[bytes]:
        """A file's bytes, chunk by chunk (memory stays at one chunk whatever the size)."""
        n = 0
        while True:
            row = self.db.execute("SELECT data FROM file_chunk WHERE sha1=? AND n=?", (sha1, n)).fetchone()
            if row is None:
                return
            yield bytes(row[0])
            n += 1

    def blob_bytes(self, sha1: str) -> bytes | None:
        """A whole blob in memory: only for what must be whole (a delta's base, tests)."""
        return b"".join(self.blob_chunks(sha1)) if self.has_blob(sha1) else None

    def put_blob(self, sha1: str, f: BinaryIO) -> bool:
        """Store the bytes read from ``f`` under ``sha1`` (inside transaction());
        False if held already. The caller has checked the sha1: store data is trusted."""
        if self.has_blob(sha1):
            return False
        n = size = 0
        while chunk := f.read(BLOB_CHUNK):
            self.db.execute("INSERT INTO file_chunk VALUES (?,?,?)", (sha1, n, chunk))
            n += 1
            size += len(chunk)
        self.db.execute("INSERT INTO file_blob VALUES (?,?)", (sha1, size))
        return True

    def put_file_version(self, fv: FileVersion) -> bool:
        """Record a version whose bytes are held; False if it was already here."""
        check_int64(f"file {fv.name!r}", timestamp=fv.timestamp, size=fv.size, user_id=fv.user_id)
        if not self.has_blob(fv.sha1):
            raise ContentError(
                f"file {fv.name!r} ({fv.sha1[:12]}…) arrives without its bytes, and this side does not hold them",
                hint="This side's wiki lost files since the last sync; ask the sender for a full bundle (bundle make --full).",
            )
        cur = self.db.execute(
            "INSERT OR IGNORE INTO file_version VALUES (?,?,?,?,?,?,?,?)",
            (fv.name, fv.timestamp, fv.sha1, fv.size, fv.user, fv.user_id, fv.comment, fv.mime),
        )
        return cur.rowcount > 0

    def check_titles(self) -> None:
        row = self.db.execute(
            "SELECT title, count(*) FROM page WHERE deleted=0 GROUP BY title HAVING count(*) > 1 LIMIT 1"
        ).fetchone()
        if row:
            raise ContentError(
                f"two pages would have the title {row[0]!r}",
                hint="The bundle does not fit this wiki's pages; nothing was changed. Ask the sender for a full bundle.",
            )
