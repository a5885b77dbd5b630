"""A page's history that can be read more than once, whatever its size.

``bundle make`` reads a page's revisions in several passes: their keys first
(``page_rkeys``: which page of the peer's this is, which revisions it lacks),
then their texts, one revision at a time, into the bundle's frames (twice under
``--max-size``: what fits, then what goes). A source's ``PageHistory.revisions``
may be read once only (a dump, the Action API); ``history_of`` turns it into a
``History``:

* a source that can read a history again (the embedded store) is used as it is;
* a list is in memory already: it is kept, not copied;
* anything else is spooled: kept in memory up to ``SPOOL_BYTES`` of text, then
  written to a temporary SQLite file (metadata and zstd-compressed text in
  separate columns, so a pass over the metadata reads no text). A page with
  15,000 revisions and 1 GB of text then costs disk, not memory.

``History.meta()`` yields the same revisions in the same order; the text may be
left out (``None``) where reading it costs, so callers use it for metadata only.
"""

from __future__ import annotations

import dataclasses
import pickle
import sqlite3
from typing import Iterable, Iterator, Protocol, runtime_checkable

from . import wire
from .model import Revision

SPOOL_BYTES = 16 << 20  # characters of text kept in memory before a history goes to disk


@runtime_checkable
class History(Protocol):
    """A page's revisions in history order; every iteration starts again."""

    def __iter__(self) -> Iterator[Revision]: ...

    def meta(self) -> Iterator[Revision]: ...

    def close(self) -> None: ...


class _Until:
    """A history up to (and including) a timestamp."""

    def __init__(self, inner: History, until: int) -> None:
        self.inner = inner
        self.until = until

    def __iter__(self) -> Iterator[Revision]:
        return (r for r in self.inner if r.timestamp <= self.until)

    def meta(self) -> Iterator[Revision]:
        return (r for r in self.inner.meta() if r.timestamp <= self.until)

    def close(self) -> None:
        self.inner.close()


class SpooledHistory:
    """Revisions read once from ``revisions`` and kept for reading again (see the module
    docstring). ``limit``: characters of text held in memory before spilling to disk."""

    def __init__(self, revisions: Iterable[Revision], *, limit: int = SPOOL_BYTES) -> None:
        self.items: list[Revision] = []
        self.db: sqlite3.Connection | None = None
        self.count = 0
        held = 0
        for rev in revisions:
            self.count += 1
            if self.db is not None:
                self._write(rev)
                continue
            self.items.append(rev)
            held += len(rev.text or "")
            if held > limit:
                self._spill()

    def _spill(self) -> None:
        # "" is SQLite's private temporary on-disk database, removed when closed.
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE r (n INTEGER PRIMARY KEY, meta BLOB NOT NULL, text BLOB)")
        for rev in self.items:
            self._write(rev)
        self.items = []

    def _write(self, rev: Revision) -> None:
        assert self.db is not None
        text = None if rev.text is None else wire.store_pack_text(rev.text)
        self.db.execute("INSERT INTO r (meta, text) VALUES (?, ?)", (pickle.dumps(dataclasses.replace(rev, text=None)), text))

    @property
    def spilled(self) -> bool:
        return self.db is not None

    def __iter__(self) -> Iterator[Revision]:
        if self.db is None:
            return iter(self.items)
        return self._read()

    def _read(self) -> Iterator[Revision]:
        assert self.db is not None
        # Our own temporary file, written by this process above: not untrusted input.
        for meta, text in self.db.execute("SELECT meta, text FROM r ORDER BY n"):
            rev = pickle.loads(meta)
            yield rev if text is None else dataclasses.replace(rev, text=wire.store_unpack_text(text))

    def meta(self) -> Iterator[Revision]:
        if self.db is None:
            return iter(self.items)
        return (pickle.loads(meta) for (meta,) in self.db.execute("SELECT meta FROM r ORDER BY n"))

    def close(self) -> None:
        self.items = []
        if self.db is not None:
            self.db.close()
            self.db = None


def history_of(revisions: Iterable[Revision], *, until: int | None = None) -> History:
    """``revisions`` (a ``PageHistory.revisions``) as a ``History``, without the
    revisions after ``until``. Call ``close()`` on the result when done with it."""
    if isinstance(revisions, History):
        return revisions if until is None else _Until(revisions, until)
    kept = revisions if until is None else (r for r in revisions if r.timestamp <= until)
    # A list is held in memory by its source already: references to it cost nothing more.
    return SpooledHistory(kept, limit=1 << 62 if isinstance(revisions, list) else SPOOL_BYTES)
