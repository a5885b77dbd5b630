"""A MediaWiki reached over its Action API as a source for ``bundle make``.

Two ways to find what changed, chosen per bundle (``for_basis``):

* **Since the basis** (the usual case). The basis bundle noted the wiki's clock and
  the highest revision and page id it saw (``State.source_tops``). Ids only grow,
  whatever the timestamps (``importDump.php`` keeps an archive's old ones and logs
  nothing), so every revision above the top is new: they are listed by id
  (``revisions_by_id`` with ``Fields.IDS``) up past the newest id known to exist —
  the newest revision by time, the deleted revisions of pages deleted since —
  because deletions leave gaps. Their texts, and the revision each page's new ones
  were made on (the base the peer holds), are then fetched by id, 50 a request
  across pages: a *partial* history (``PageHistory.partial``, ``identity.partial_rkeys``).
  The log since the clock (``iter_logevents``, two minutes of slack for saves in
  flight) gives deletions (by page id), moves, and the pages whose history changed
  below the top — restores, history merges (revisions change page, ids stay),
  imports, revision deletions (visibility) — which are re-read: their ids first,
  then only the texts the peer lacks (``_lacking``).
* **Every page** (a first bundle, ``--full``, a basis made before tops were kept,
  or a log entry whose title is hidden and so cannot be followed): each page is
  listed with its current revision (``generator=allpages``, one request per 500
  pages); a page whose current revision the peer already holds costs nothing
  more, the others' histories are read, and a page the peer holds that is not
  listed is gone. This never misses a deletion, whatever the logs say.

**Reconciliation** (``--verify``, every ``verify_every``-th bundle, or a wiki whose id
listing is one request): every revision id up to the basis's top
(``iter_revision_ids``: all revisions, without content) against the peer's view (``State.drift``):
pages holding revisions the peer lacks are re-read, pages it holds that the wiki no
longer has are deleted. It finds what detection missed or the state got wrong.

MediaWiki ids are stable, so pages are matched by page id and revisions by id
(``PageHistory.rev_ids``), as for the embedded store. On a side that takes
updates from the peer (an offline MediaWiki making its return), the wiki's ids
are not the peer's: importing renumbered them. ``IdMap`` speaks the peer's ids
for what came from it (``mw_pages``, ``mw_revs``) and puts the wiki's own pages
and revisions in this side's local id range, where they cannot clash.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..mediawiki import Fields, MediaWikiClient
from ..model import Page, PageId, RevId, Revision, SiteInfo, file_title_to_name
from ..identity import page_rkeys
from ..state import Drift
from ..model import PageHistory
from ..state.mediawiki import MediaWikiIds

PROBE_TAIL = 10  # ids asked past the highest id known to exist, to find the top
CONTENT_PER_REQUEST = 50  # revisions with text a request (the API's limit without apihighlimits)


class IdMap:
    """The wiki's ids -> the ids the peer knows them by: those its bundles brought
    them under (``state.mediawiki``), else the wiki's own in this side's local range."""

    def __init__(self, ids: MediaWikiIds, peer: str, local: range):
        self.ids = ids
        self.peer = peer
        self.local = local

    def _own(self, mw_id: int) -> int:
        return self.local.start + mw_id if mw_id < len(self.local) else mw_id

    def page(self, mw_id: int) -> int:
        page_id = self.ids.page_id_of(self.peer, mw_id)
        return page_id if page_id is not None else self._own(mw_id)

    def rev(self, mw_id: int) -> int:
        rev_id = self.ids.rev_id_of(self.peer, mw_id)
        return rev_id if rev_id is not None else self._own(mw_id)


# Log entries after which a page's history can hold revisions whose ids are not
# new (a restore brings back old ids, a history merge moves revisions between pages
# under their ids) or whose visibility changed (revision deletion): such pages are
# re-read — their revision ids first, then the texts the peer lacks.
_REREAD = {("delete", "restore"), ("delete", "revision"), ("suppress", "revision"), ("merge", "merge"),
           ("import", "upload"), ("import", "interwiki")}
FILE_NS = 6
SLACK = int(os.environ.get("WIKIBUNDLE_API_SLACK", "120"))  # seconds before the noted clock: saves in flight
VERIFY_EVERY = 10  # bundles between two automatic reconciliations (bundle make --verify-every)


@dataclass(frozen=True, slots=True)
class _NewRevs:
    """The new revisions of one page, from the id listing (no text yet): (rev_id, parent_id)."""

    page: Page
    revs: list[tuple[int, int | None]]


class _NewListing:
    """The revisions above the top, from the id listing, in a temporary SQLite file (an
    import of a million revisions does not fill memory); read back page by page."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # "": a private temporary file, removed on close
        self.db.execute("CREATE TABLE new_revs (rev_id INTEGER PRIMARY KEY, parent_id INTEGER, page_id INTEGER NOT NULL,"
                        " namespace INTEGER NOT NULL, title TEXT NOT NULL)")
        self.db.execute("CREATE INDEX new_revs_page ON new_revs(page_id)")
        self.page_ids: set[int] = set()

    def add(self, page: Page, rev_id: int, parent_id: int | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO new_revs VALUES (?,?,?,?,?)",
                        (rev_id, parent_id, page.page_id, page.namespace, page.title))
        self.page_ids.add(page.page_id)

    def page(self, page_id: int) -> Page:
        ns, title = self.db.execute("SELECT namespace, title FROM new_revs WHERE page_id=? LIMIT 1", (page_id,)).fetchone()
        return Page(PageId(page_id), ns, title)

    def pages(self, skip: set[int]) -> Iterator[_NewRevs]:
        for pid in sorted(self.page_ids - skip):
            revs = self.db.execute("SELECT rev_id, parent_id FROM new_revs WHERE page_id=? ORDER BY rev_id", (pid,))
            yield _NewRevs(self.page(pid), [(r, p) for r, p in revs])


@dataclass
class _LogChanges:
    """What the log since the basis says: pages to re-read, deletions, files touched."""

    titles: set[str] = dataclasses.field(default_factory=set)  # histories changed below the top
    deleted: set[str] = dataclasses.field(default_factory=set)  # deleted pages whose id the log does not give
    deleted_ids: set[int] = dataclasses.field(default_factory=set)
    deleted_titles: set[str] = dataclasses.field(default_factory=set)  # every title deleted
    files: set[str] = dataclasses.field(default_factory=set)  # names in the File namespace


class ApiSource:
    def __init__(self, client: MediaWikiClient, own_revisions: frozenset[int] = frozenset(), ids: IdMap | None = None,
                 *, verify: bool = False, verify_every: int = VERIFY_EVERY):
        self.client = client
        self.ids = ids
        self.mark: int | None = None  # the wiki's clock when this make began reading
        self.top_rev_id: int | None = None  # the highest revision id this make has read up to
        self.top_page_id: int | None = None
        self.mode = "every page"
        self.info = client.siteinfo()
        self.siteinfo: SiteInfo = self.info.site
        # Revisions that applying bundles made on this wiki (import and move null
        # revisions): not edits, never sent (targets/mediawiki.py, "Null revisions").
        self.own = own_revisions
        self.verify = verify  # compare the wiki's whole listing with the peer's view
        self.verify_every = verify_every
        self.verified = False
        self.drift: Drift | None = None
        self._view = None  # what the peer holds (for_basis)

    def __iter__(self) -> Iterator[PageHistory]:
        return self.pages()

    def for_basis(self, state, view, basis_seq: int):
        """(pages to read, titles deleted since the basis or None). None: every page is
        listed, and a page the peer holds that is not listed is gone.

        ``view`` (a ``PeerView``) says what the peer holds of each page; the pages are
        read lazily, when make iterates them."""
        self._view, peer = view, view.peer
        if _version(self.info.version) < (1, 27):
            self.mark = self.client.server_time()
            return self.pages(), None  # no allrevisions listing before 1.27 (an unknown list module is only a warning)
        prev = state.source_tops(peer, basis_seq) if basis_seq else None
        if prev is not None and prev.top_rev_id is None:
            prev = None  # a basis made before tops were kept (0007)
        if os.environ.get("WIKIBUNDLE_API_READ") == "every-page":  # the baseline, for benchmarks/api_requests.py
            prev = None
        # The clock, the newest id by time, and the revisions saved since the basis's
        # clock (less the slack): also those whose ids were taken before the basis read
        # its top but that were committed after (a database may commit out of order).
        self.mark, newest, recent = self.client.clock(prev.wiki_time - SLACK if prev else None)
        if prev is None:
            return self._every_page(basis_seq, newest)
        log = self._read_log(prev.wiki_time - SLACK)
        if log is None:
            return self._every_page(basis_seq, newest)  # a hidden log entry: cannot follow it
        titles, deleted, deleted_ids, log_deleted = log.titles, log.deleted, log.deleted_ids, log.deleted_titles
        self.mode = "since the basis"
        self.file_names = sorted(log.files)  # what the files source (api_files.py) reads
        # Ids only grow: the revisions above the last bundle's top are every revision
        # saved, imported or restored-as-new since, whatever their timestamps. Deleted
        # ones leave gaps: the probe goes on at least up to the newest id anyone can see
        # (the newest revision by time, and the deleted revisions of pages the log says
        # were deleted).
        gone = self.client.deleted_revision_ids(sorted(log_deleted)) if log_deleted else []
        lower = max([newest, *(gone or ())])
        new = self._new_since(prev.top_rev_id, lower, unseen_gap=gone is None)
        for page, rev_id, parent_id in recent:
            if rev_id <= prev.top_rev_id:  # (those above are listed already) the peer may hold it: see _plan
                new.add(page, rev_id, parent_id)
        new_pages = self._pages_above(prev.top_page_id or 0, max(new.page_ids, default=0))
        every = self.verify_every
        if self.verify or (every > 0 and (state.bundles_since_verified(peer, basis_seq) + 1 >= every or self._small())):
            self._reconcile(prev.top_rev_id, log_deleted)
        extra = {title for _pid, title in self.drift.extra_pages} if self.drift else set()
        for pid in deleted_ids:
            view = self._view.page(self.ids.page(pid) if self.ids else pid)
            if view is not None and not view.deleted:
                deleted.add(view.title)  # the title the peer knows it by (it may have moved since)
        return self._changed(new, new_pages, titles), deleted | extra

    def _read_log(self, since_ts: int) -> _LogChanges | None:
        """What the log since ``since_ts`` says changed; None if an entry's title is hidden."""
        out = _LogChanges()
        moves: list[tuple[str, str]] = []
        for e in self.client.iter_logevents(None, since_ts):
            if e.title is None:
                return None
            for ns, title in ((e.namespace, e.title), (e.params.get("target_ns"), e.params.get("target_title"))):
                if ns == FILE_NS and title:
                    out.files.add(file_title_to_name(str(title)))  # uploads, overwrites, reverts, file moves ...
            if e.type == "delete" and e.action in ("delete", "delete_redir"):
                # By the page's id: the log is read from a little before the basis was
                # made, and a title deleted then may have been made again since.
                out.deleted_titles.add(e.title)
                if e.page_id:
                    out.deleted_ids.add(e.page_id)
                else:
                    out.deleted.add(e.title)
            elif (e.type, e.action) in _REREAD:
                out.titles.add(e.title)
                if e.params.get("dest_title"):  # a history merge: the revisions went there
                    out.titles.add(str(e.params["dest_title"]))
            elif e.type == "move" and e.params.get("target_title"):
                moves.append((e.title, str(e.params["target_title"])))
        # A page moved, then deleted: the peer knows it by a title the delete log never names.
        grew = True
        while grew:
            grew = False
            for old, new in moves:
                if new in out.deleted and old not in out.deleted:
                    out.deleted.add(old)
                    grew = True
        return out

    def _every_page(self, basis_seq: int, newest: int):
        """Every page listed (``pages``); the revision top is found first, so that what is
        saved while the pages are read counts as new for the next bundle."""
        self.mode = "every page"
        self.top_rev_id = max([newest, *self._probe(newest + 1, newest, collect=False)])
        self.top_page_id = 0
        # Listing every page skips a page whose current revision the peer holds, even
        # when revisions were imported below it since: with a basis, reconcile (an id
        # listing without texts) so that none is missed.
        if basis_seq:
            self._reconcile(self.top_rev_id, set())
        return self.pages(), None

    def _small(self) -> bool:
        """A wiki whose whole id listing takes one request: reconciling costs nothing.
        (Ids are never fewer than the revisions, whatever the site statistics say.)"""
        return (self.top_rev_id or 0) <= (5000 if self.info.apihighlimits else 500)

    def _reconcile(self, top_rev: int, deleted: set[str]) -> None:
        """The wiki's every revision id up to ``top_rev`` (what the basis saw) against the
        peer's view at the basis: the pages that hold revisions the peer lacks are
        re-read, the pages it holds that the wiki no longer has (and the log did not say
        were deleted) are deletions. Only where ids are the wiki's, not on an offline
        wiki that renumbered what it imported."""
        self.verify = True
        if self.ids is not None:
            return
        drift = self._view.drift(((p, r) for p, r in self.client.iter_revision_ids() if r <= top_rev), skip=self.own)
        self.drift = dataclasses.replace(drift, extra_pages=tuple(p for p in drift.extra_pages if p[1] not in deleted))
        self.verified = True

    def _probe(self, start: int, lower: int, *, collect: bool = True) -> Iterator:
        """Revisions with ids from ``start`` up (ids only): until a whole batch is missing
        above ``lower`` (deleted revisions leave gaps below it). Yields (page, rev_id,
        parent_id), or only the ids found when not ``collect``.

        Each missing id costs ~40 bytes of ``badrevids``: a batch asks for the ids up to
        ``lower``, and twice as many as the last batch found, at least ``PROBE_TAIL``,
        at most 50 (500 with apihighlimits)."""
        step = self.client.revids_per_request
        i, last = start, 0
        while True:
            size = min(step, max(PROBE_TAIL, lower - i + 1, 2 * last))
            last = 0
            for page, rev in self.client.revisions_by_id(range(i, i + size), Fields.IDS):
                last += 1
                yield (page, rev.rev_id, rev.parent_id) if collect else rev.rev_id
            i += size
            if not last and i > lower:
                return

    def _new_since(self, top_rev: int, lower: int, *, unseen_gap: bool) -> _NewListing:
        """The revisions above ``top_rev`` (ids and parents, no text); sets the new top."""
        if unseen_gap:
            lower += self.client.revids_per_request  # deleted revisions we cannot see: one batch more
        listing = _NewListing()
        for page, rev_id, parent_id in self._probe(top_rev + 1, lower):
            listing.add(page, rev_id, parent_id)
            top_rev = max(top_rev, rev_id)
        self.top_rev_id = top_rev
        return listing

    def _pages_above(self, top_page: int, newest: int) -> list[Page]:
        """Pages above ``top_page`` (``pages_by_id``). A page is made with a
        revision, so they come with new revisions; this checks it (a page whose
        revisions were all hidden, or merged away, is read whole)."""
        step = self.client.revids_per_request
        found: list[Page] = []
        j = top_page + 1
        while True:
            size = min(step, max(PROBE_TAIL, newest - j + 1))
            more = self.client.pages_by_id(range(j, j + size))
            found += more
            top_page = max([top_page, *(p.page_id for p in more)])
            j += size
            if not more and j > newest:
                break
        self.top_page_id = max(top_page, newest)
        return found

    def _changed(self, new: _NewListing, new_pages: list[Page], titles: set[str]) -> Iterator[PageHistory]:
        """Pages the log names, pages above the top without new revisions and pages that
        drifted (--verify) are read whole; the others are their new revisions and the
        base the peer holds (``_new_revisions``)."""
        done: set[int] = set()
        drifted = set(self.drift.lacking_pages) if self.drift else set()
        named = list(self.client.page_info(sorted(titles)).values()) if titles else []
        known = {p.page_id for p in named} | new.page_ids | {p.page_id for p in new_pages}
        reread = named + [p for p in new_pages if p.page_id not in new.page_ids]
        reread += [new.page(pid) for pid in sorted(drifted & new.page_ids)]
        reread += self.client.pages_by_id(sorted(drifted - known)) if drifted - known else []
        for p in reread:
            if p.page_id not in done:
                done.add(p.page_id)
                yield self._read(p)
        yield from self._new_revisions(new.pages(done))
        new.db.close()

    def _new_revisions(self, pages: Iterable[_NewRevs]) -> Iterator[PageHistory]:
        """Each page's new revisions with the revision they were made on (the base the
        peer holds), texts fetched by revision id, 50 a request across pages."""
        batch: list[tuple[_NewRevs, list[int]]] = []
        size = 0
        whole = os.environ.get("WIKIBUNDLE_API_READ") == "whole-pages"  # the former way, for benchmarks/api_requests.py
        for n in pages:
            if whole:
                yield PageHistory(n.page, self._clean(self._history(n.page.title), n.page.page_id), 0, None)
                continue
            plan = self._plan(n)
            if plan is None:
                yield self._read(n.page)
                continue
            if not plan:
                continue  # every revision listed is held
            batch.append((n, plan))
            size += len(plan)
            if size >= CONTENT_PER_REQUEST:
                yield from self._fetch(batch)
                batch, size = [], 0
        yield from self._fetch(batch)

    def _plan(self, n: _NewRevs) -> list[int] | None:
        """The ids to fetch with text for a page with new revisions, or None when it must
        be read whole (an offline wiki's ids, a revision of ours, a base the peer lacks,
        a page new to the peer that has older revisions)."""
        if self.ids is not None or self._view is None or any(rid in self.own for rid, _p in n.revs):
            return None
        view = self._view.page(n.page.page_id)
        alive = view is not None and not view.deleted
        held = {rid for rid, _m in self._view.revs(n.page.page_id).values()} if alive else set()
        revs = [(r, p) for r, p in n.revs if r not in held]  # (the recent ones below the top: mostly held)
        new_ids = {r for r, _p in revs}
        bases = {p for _r, p in revs if p and p not in new_ids}
        if not alive:
            return None if bases else sorted(new_ids)  # a new page: its revisions are its history
        if not bases <= held:
            return None
        return sorted(new_ids | bases)

    def _fetch(self, batch: list[tuple[_NewRevs, list[int]]]) -> Iterator[PageHistory]:
        if not batch:
            return
        texts: dict[int, Revision] = {}
        for _page, rev in self._texts([rid for _n, ids in batch for rid in ids]):
            texts[rev.rev_id] = rev
        for n, ids in batch:
            revs = sorted((texts[i] for i in ids if i in texts), key=lambda r: (r.timestamp, r.rev_id))
            view = self._view.page(n.page.page_id)
            partial = view is not None and not view.deleted
            yield PageHistory(n.page, list(self._clean(revs, n.page.page_id)), 0,
                              frozenset(r.rev_id for r in revs), partial=partial)

    def pages(self) -> Iterator[PageHistory]:
        ids = self.ids
        for latest in self.client.iter_allpages_latest():
            pid = ids.page(latest.page.page_id) if ids else latest.page.page_id
            page = Page(PageId(pid), latest.page.namespace, latest.page.title, None)
            # "The peer holds the current revision, so it holds the page" is true of a
            # wiki whose history only grows at the end. An offline wiki also has edits of
            # its own *below* revisions it received later: read every history there.
            rev_ids = None if ids or (self.drift and latest.page.page_id in self.drift.lacking_pages) \
                else frozenset({latest.rev_id})
            self.top_page_id = max(self.top_page_id or 0, latest.page.page_id)
            yield PageHistory(page, self._clean(self._history(latest.page.title), latest.page.page_id),
                              0, rev_ids)

    def _read(self, p: Page) -> PageHistory:
        """A page read whole (its ids; texts only where the peer lacks them). Its ids are
        the wiki's (unless an offline wiki's): the page is the peer's page of that id,
        even when none of the revisions the peer holds of it is left (a history merge
        took them), and every revision is compared (visibility may have changed)."""
        if self.ids is not None:
            page = Page(PageId(self.ids.page(p.page_id)), p.namespace, p.title, None)
            return PageHistory(page, self._clean(self._history(p.title), p.page_id), 0, None)
        page = Page(p.page_id, p.namespace, p.title, None)
        view = self._view.page(p.page_id) if self._view is not None else None
        raw = list(self.client.page_revisions(p.title, content=False))  # ids: no texts held in memory
        if view is None or view.deleted:  # new to the peer: every text travels, streamed
            return PageHistory(page, self._clean(self._history(p.title), p.page_id), 0,
                               frozenset(r.rev_id for r in raw), changed=True)
        return PageHistory(page, self._lacking(p, raw), 0, frozenset(r.rev_id for r in raw), changed=True)

    def _lacking(self, p: Page, raw: list[Revision] | None = None) -> Iterator[Revision]:
        """The page's whole history. Where the peer holds the page (and ids are the
        wiki's), its revision ids come first, without text (``raw``, if read already);
        then the texts of the revisions the peer lacks and of the held revision before
        each run of them (the base their delta is made on). Held revisions without text
        are only compared."""
        held = {}
        if self.ids is None and self._view is not None:
            view = self._view.page(p.page_id)
            held = self._view.revs(p.page_id) if view is not None and not view.deleted else {}
        if not held:
            yield from self._clean(self._history(p.title), p.page_id)
            return
        if raw is None:
            raw = list(self.client.page_revisions(p.title, content=False))
        need: set[int] = set()
        before = None
        for rev, k in zip(raw, page_rkeys(list(self._clean(raw, p.page_id)))):
            if k in held:
                before = rev
                continue
            need.add(rev.rev_id)
            if before is not None:
                need.add(before.rev_id)
                before = None
        texts = {r.rev_id: r for _p, r in self._texts(sorted(need))} if need else {}
        yield from self._clean([texts.get(r.rev_id, r) for r in raw], p.page_id)

    # Texts are read with every slot (rvslots=*): a revision travels with its non-main
    # slots (MCR: Commons' mediainfo), as from a dump. With the main one only, the receiver
    # held the page without its structured data, and its edits (edit_slots) had none to keep.
    def _history(self, title: str) -> Iterator[Revision]:
        return self.client.page_revisions(title, all_slots=True)

    def _texts(self, rev_ids: list[int]) -> Iterator[tuple[Page, Revision]]:
        return self.client.revisions_by_id(rev_ids, all_slots=True)

    def _clean(self, revisions: Iterable[Revision], page_id: int) -> Iterator[Revision]:
        ids = self.ids
        # A revision applying made (an import's or a move's null revision, an edit that
        # restored the newest text) stands for the revision whose text it repeats: an
        # edit built on it was built on that one. By sha1, newest first; else its parent.
        stands_for: dict[int, int | None] = {}
        by_sha1: dict[str, int] = {}
        for rev in revisions:
            if rev.rev_id in self.own:
                stands_for[rev.rev_id] = by_sha1.get(rev.sha1, stands_for.get(rev.parent_id, rev.parent_id))
                continue
            by_sha1[rev.sha1] = rev.rev_id
            if rev.parent_id in stands_for:
                rev = dataclasses.replace(rev, parent_id=stands_for[rev.parent_id])
            if ids:
                rev = dataclasses.replace(
                    rev, rev_id=RevId(ids.rev(rev.rev_id)), page_id=PageId(ids.page(page_id)),
                    parent_id=RevId(ids.rev(rev.parent_id)) if rev.parent_id else None,
                )
            # The API's sha1 is of the whole revision (all slots); ours is of the text
            # that travels: recompute it from the text.
            yield dataclasses.replace(rev, sha1="") if rev.text is not None else rev


def _version(generator: str) -> tuple[int, ...]:
    """(1, 39) from "MediaWiki 1.39.17"; (0,) when it cannot be read (then every page is listed)."""
    import re

    m = re.search(r"(\d+)\.(\d+)", generator or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0,)
