"""Steps c and e of writing a bundle to a MediaWiki (targets/mediawiki.py): the
staged revisions the wiki lacks, sent with ``action=import`` in batches, and the
wiki's ids of what landed learnt after each batch.

A batch carries pages up to ``IMPORT_MAX_BYTES`` of XML or ``IMPORT_MAX_PAGES``
pages. Each request adds a null revision to every page it brings revisions to, so
a page never straddles two requests when its new revisions fit one (``_import``).
The new revisions are found on the wiki by (timestamp, sha1), as MediaWiki's
importer itself recognises them, and recorded in the side's state
(``state.mediawiki``) after each batch, so a re-run imports nothing twice.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import WikiError
from ..export import XmlWriter
from ..model import Page, Revision

if TYPE_CHECKING:
    from .mediawiki import MediaWikiTarget

# One action=import request carries pages up to this much XML. PHP's default
# upload_max_filesize is 2 MB and many wikis keep it; larger batches save little
# (measured: benchmarks/README.md, "apply to a MediaWiki").
IMPORT_MAX_BYTES = 1_500_000
IMPORT_MAX_PAGES = 100


@dataclass(frozen=True, slots=True)
class _Piece:
    """Consecutive staged revisions of one page (``ord`` first..last) that go in one
    import request, and the bytes they take there."""

    first: int
    last: int
    bytes: int


class ImportBatches:
    """The import half of ``MediaWikiTarget``'s write phase (a part of that class:
    it uses the target's stage, id map and view of the wiki)."""

    # Per request (the module's limits, read when used); a target that writes otherwise batches more.
    @property
    def import_max_bytes(self) -> int:
        return IMPORT_MAX_BYTES

    @property
    def import_max_pages(self) -> int:
        return IMPORT_MAX_PAGES

    def _import(self: MediaWikiTarget, items: list[tuple[Page, str]], reason: str) -> None:
        """``action=import`` of the staged revisions the wiki lacks, batched by size;
        after each batch the new ids are learnt and recorded.

        Each request adds a null revision to every page it brings revisions to,
        repeating the page's *current* text. So a page never straddles two requests
        when its new revisions fit one: a first piece would get a null revision of an
        older text above the newer revisions of the next piece, a revert that never
        happened. A page larger than one request goes in pieces, the NEWEST first:
        the importer puts older revisions below the current one (newest timestamp
        wins), and every null revision repeats the newest text."""
        batch: list[tuple[Page, str, _Piece]] = []
        size = 0

        def flush() -> None:
            nonlocal batch, size
            if batch:
                self._import_batch([(page, title, self._lacking(page.page_id, piece)) for page, title, piece in batch], reason)
            batch, size = [], 0

        hidden = 0
        for page, title in items:
            pieces, page_hidden = self._pieces(page.page_id)
            hidden += page_hidden
            if not pieces:
                if self._mw_page(page.page_id) is None:
                    # Nothing left to import (all landed in an earlier run) but the page is
                    # not mapped yet: learn it from its title.
                    cur = self._current_by_title(title)
                    if cur is not None:
                        self._set_page(page.page_id, cur.page_id, cur.title)
                continue
            if len(pieces) > 1 or size + pieces[0].bytes > self.import_max_bytes:
                flush()
            for piece in reversed(pieces[1:]):  # newest first, each a request of its own
                batch.append((page, title, piece))
                flush()
            batch.append((page, title, pieces[0]))
            size += pieces[0].bytes
            if size >= self.import_max_bytes or len(batch) >= self.import_max_pages:
                flush()
        flush()
        if hidden:
            self.notes.append(f"{hidden} revisions whose text is hidden on the sender were not imported")

    def _lacking(self: MediaWikiTarget, page_id: int, piece: _Piece) -> list[Revision]:
        """The revisions of ``piece`` to send (as ``_pieces`` counted them)."""
        return [r for r in self._staged().revisions(page_id, piece.first, piece.last)
                if r.text is not None and self._mw_rev(r.rev_id) is None]

    def _pieces(self: MediaWikiTarget, page_id: int) -> tuple[list[_Piece], int]:
        """The page's staged revisions the wiki lacks, cut into pieces of at most one
        request (oldest first; one piece when they fit), and how many were left out
        because their text is hidden on the sender: ``action=import`` would store an
        empty, visible text (measured), and again on every re-run (its sha1 never
        matches)."""
        pieces: list[_Piece] = []
        hidden = 0
        for ord_, rev_id, is_hidden, cost in self._staged().costs(page_id):
            if self._mw_rev(rev_id) is not None:
                continue  # landed in an earlier run
            if is_hidden:
                hidden += 1
                continue
            last = pieces[-1] if pieces else None
            if last is None or last.bytes + cost > self.import_max_bytes:
                pieces.append(_Piece(ord_, ord_, cost))
            else:
                pieces[-1] = _Piece(last.first, ord_, last.bytes + cost)
        return pieces, hidden

    def _batch_xml(self: MediaWikiTarget, batch: list[tuple[Page, str, list[Revision]]]) -> bytes:
        """The batch as export XML, each page under the title given."""
        buf = io.StringIO()
        # Titles are in this wiki's namespace names (_local_title): so is the siteinfo.
        w = XmlWriter(buf, self._site)
        for page, title, revs in batch:
            w.page(Page(page.page_id, page.namespace, title, page.redirect), revs)
        w.close()
        return buf.getvalue().encode("utf-8")

    def _import_batch(self: MediaWikiTarget, batch: list[tuple[Page, str, list[Revision]]], reason: str) -> None:
        self.import_requests += 1
        landed = self.client.import_xml(self._batch_xml(batch), reason, self.prefix)
        # The answer names each page as the wiki titled it, in the order sent.
        titles = [str(r.get("title")) for r in landed] if len(landed) == len(batch) else [t for _p, t, _r in batch]
        listed = self._list_batch(titles, [revs for _p, _t, revs in batch])
        for (page, _title, revs), title in zip(batch, titles):
            if listed is not None:
                history = listed.get(title, [])
            else:
                lo, hi = min(r.timestamp for r in revs), max(r.timestamp for r in revs)
                history = list(self._history(title, content=False, start=lo, end=hi))
            self._learn_ids(page, title, revs, history)

    def _list_batch(self: MediaWikiTarget, titles: list[str], revs: list[list[Revision]]) -> dict[str, list[Revision]] | None:
        """The batch's pages' revisions in its time span, from one listing of all revisions (500 or 5,000 ids per request): one request for a batch of recent
        edits instead of one per page. A span that holds much more than the batch (a
        first sync of old history) is given up after half a request per page: None,
        and the pages are read one by one."""
        lo = min(r.timestamp for rs in revs for r in rs)
        hi = max(r.timestamp for rs in revs for r in rs)
        wanted = set(titles)
        out: dict[str, list[Revision]] = {}
        budget = max(1, len(titles) // 2)
        for n, (listed, more) in enumerate(self.client.allrevisions_batches(lo, hi), 1):
            for page, rev in listed:
                if page.title in wanted:
                    out.setdefault(page.title, []).append(rev)
            if n >= budget and more:
                return None
        for hist in out.values():
            hist.sort(key=lambda r: (r.timestamp, r.rev_id))
        return out

    def _learn_ids(self: MediaWikiTarget, page: Page, title: str, revs: list[Revision], history: list[Revision]) -> None:
        """Find the imported revisions on the wiki by (timestamp, sha1) and record their ids."""
        found: dict[tuple[int, str], list[int]] = {}
        mw_page = None
        for r in history:
            found.setdefault((r.timestamp, r.sha1), []).append(r.rev_id)
            mw_page = r.page_id
        if mw_page is None:
            raise WikiError(
                f"{self.client.api_url}: after importing {title!r} the wiki shows none of its revisions",
                hint="An extension or the wiki's title rules may have refused the page; its import log says why."
                " Run bundle apply again once it is fixed.",
                code="importlost",
            )
        seen: dict[tuple[int, str], int] = {}
        rows = []
        missing = 0
        for rev in revs:
            key = (rev.timestamp, rev.sha1)
            ids = found.get(key)
            if not ids:
                missing += 1
                continue
            i = seen.get(key, 0)
            seen[key] = i + 1
            rows.append((rev.rev_id, ids[min(i, len(ids) - 1)]))
        self.ids.record_import(self.sender, rows, page.page_id, mw_page, title)
        self._current.pop(mw_page, None)
        if missing:
            self.notes.append(f"{missing} revisions of {title!r} did not land on the wiki (hidden text?)")
