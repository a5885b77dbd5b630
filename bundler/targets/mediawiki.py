"""A real MediaWiki as the target of ``bundle apply``, over its Action API.

``MediaWikiTarget`` offers what ``bundler.apply`` uses of the embedded store
(``transaction``, ``get_text``, ``live_title``, ``put_page``, ``put_revision``,
``delete_page``, ``counts`` ...), so ``bundle apply -C DIR`` works the same on a
side whose wiki is a MediaWiki. It works in two phases, because a MediaWiki is
not transactional:

1. **Decode and stage.** Inside ``transaction()`` every frame is decoded and
   every delta base resolved (bases the wiki holds are fetched by id, 50 per
   request, ``prefetch_texts``); pages, revisions with their rebuilt texts and
   deletions go into a private temporary SQLite file, nothing to the wiki. A
   bundle that cannot be decoded whole, or whose counts disagree with its
   header, leaves the transaction with an error and changes nothing.
2. **Write**, when the transaction ends without error, in an order that never
   needs to be undone and that a re-run can repeat:

   a. deletions (``action=delete``), so a title they free can be taken below;
   b. pages this side deleted that the bundle brings back: ``action=undelete``
      when the title is free (the wiki still has the revisions); else a
      *content error* that says which page holds the title;
   c. new revisions of pages the wiki holds, imported under the page's
      *current* title (``action=import``, one request per batch of pages; a
      page's revisions share one request, or go newest piece first: ``_import``);
   d. moves (``action=move``, ``noredirect``: the source's redirect, if any,
      arrives as its own page; a swap goes through a temporary title);
   e. new pages, imported under their own titles;
   f. the revisions applying made itself are listed and remembered (below), and
      a page whose newest text is not current gets one edit that makes it so.

Ids. MediaWiki renumbers what it imports (docs/MEDIAWIKI_FINDINGS.md G12), so the side's state
maps the ids the sender knows this side's pages and revisions by (the bundle's
ids) to the wiki's own (``mw_pages``, ``mw_revs``, migration
``0003-mediawiki-ids``). After each import batch the new revisions are found
by (timestamp, sha1), as MediaWiki's importer itself recognises them; two
revisions of one page with the same second and text (a move's null revision)
are one revision to MediaWiki, so both bundle ids map to it.

Re-runs. Every write is checked against the wiki's state first: a deleted page
is gone, a moved page has its title, an imported revision is mapped (and
importing it again is a no-op for MediaWiki: same page, timestamp and sha1).
The map is written after each batch. So a run that was killed or lost its
connection is finished by running ``bundle apply`` again; the bundle is
recorded as received only after the last write (``bundler.apply``).

Null revisions (decision). ``action=import`` adds a revision by the importing
account to every page that got revisions ("3 revisions imported: ..."), and
``action=move`` one to every moved page. They cannot be avoided over the API
(``importDump.php`` adds none, but must run on the wiki's server), and they are
harmless in the offline wiki's history: same text as their parent. They are
kept, and the state remembers their ids (``mw_own_revs``): ``bundle make``
from this wiki skips them (``sources.api``), so they never travel back as
edits. One consequence matters: an import null revision carries the time of
applying, and MediaWiki's "newest timestamp wins" would keep it current over
an older revision that arrives in a later bundle (edited online after bundle
1 was made, before it was applied). Step f finds such pages (current revision
is one of ours, text differs from the bundle's newest) and saves the newest
text once more, as an edit by the importing account, also remembered as ours.
A null revision of ours with the same second and text as an incoming revision
is that revision to the importer (which then skips the incoming one): once
mapped, it is no longer counted as ours. (Ours are found as the revisions by
the importing account since applying started that no bundle brought: an edit
someone makes by hand with the same account while a bundle is being applied
would be counted too. Give the tool an account of its own.)

When ``importDump.php`` is the better choice: a first sync of a large wiki by
someone who can run commands on the wiki's server (no upload size limit, no
null revisions, about 1.5 times faster: docs/MEDIAWIKI_FINDINGS.md §3), e.g. ``bundle export``
from an embedded side followed by ``importDump.php`` and
``rebuildrecentchanges.php``. Later bundles then go over the API.

Not imported: revisions whose text is hidden on the sender (see ``_import``).
Not applied to a MediaWiki: ``updates`` records (a user renamed, a comment
hidden on the sender): the API cannot change an existing revision's
attribution. They are counted in ``notes``.
"""

from __future__ import annotations

import io
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..errors import ContentError, WikiError
from ..export import XmlWriter
from ..mediawiki import Fields
from ..model import Page, PageId, RevId, Revision, SiteInfo, local_id_range, parse_timestamp
from ..store import INT64, StoreCounts
from .mediawiki_stage import Stage

# One action=import request carries pages up to this much XML. PHP's default
# upload_max_filesize is 2 MB and many wikis keep it; larger batches save little
# (measured: benchmarks/README.md, "apply to a MediaWiki").
IMPORT_MAX_BYTES = 1_500_000
IMPORT_MAX_PAGES = 100

_NEEDED_RIGHTS = ("import", "importupload")


@dataclass(frozen=True, slots=True)
class _Mapped:
    mw_page_id: int
    title: str  # the title this side last gave the page on the wiki


@dataclass(frozen=True, slots=True)
class _Current:
    page_id: int
    namespace: int
    title: str
    rev_id: int
    sha1: str


@dataclass(frozen=True, slots=True)
class _Piece:
    """Consecutive staged revisions of one page (``ord`` first..last) that go in one
    import request, and the bytes they take there."""

    first: int
    last: int
    bytes: int


class MediaWikiTarget:
    """Apply bundles to the MediaWiki of an API side (``Side.store()`` returns one)."""

    def __init__(self, side, client=None):
        self.side = side
        self.db = side.state.db
        self.client = client if client is not None else side.api_client()
        self._local = local_id_range(side.wiki_id)
        self.sender = ""
        self.seq = 0
        self.sha256 = ""
        self.peer_label = ""
        self.prefix = "bundle"
        self.notes: list[str] = []
        self._user: str | None = None
        self._ns: dict[int, str] = {}
        self._site = SiteInfo()
        self._wiki_time: int | None = None
        self._stage: Stage | None = None
        self._texts: dict[int, str | None] = {}  # wiki rev id -> text (None: hidden)
        self._current: dict[int, _Current | None] = {}  # wiki page id -> its current state (None: gone)
        self._titles: dict[int, str] = {}  # wiki page id -> title, seen while fetching base texts
        self.import_requests = 0
        self._files = None  # the bundle's uploads (targets/mediawiki_files.py), once asked for

    def files(self):
        """What takes the bundle's files and blob frames, and uploads them after the pages."""
        from .mediawiki_files import MediaWikiFiles

        self._files = MediaWikiFiles(self)
        return self._files

    def close(self) -> None:
        if self._files is not None:
            self._files.close()
        if self._stage is not None:
            self._stage.close()
            self._stage = None
        self.client.close()

    # --- binding to one bundle ---------------------------------------------------

    def bind_bundle(self, header, sha256: str) -> None:
        """Say which bundle is applied (ids are the sender's) and check, before
        anything is decoded, that the wiki lets this account import."""
        self.sender, self.seq, self.sha256 = header.sender, header.seq, sha256
        peer = self.side.state.peer_by_wiki(header.sender)
        self.peer_label = peer.label if peer is not None else header.sender[:8]
        # The interwiki prefix names the users the wiki does not know ("hq>Alice").
        self.prefix = re.sub(r"[^A-Za-z0-9_-]", "", self.peer_label)[:32] or "bundle"
        info = self.client.siteinfo()
        self._user = info.user
        self._site = info.site
        self._ns = {key: name for key, _case, name in info.site.namespaces}
        self._wiki_time = parse_timestamp(str(info.general.get("time"))) if info.general.get("time") else None
        require_rights(
            self.client.api_url, info, _NEEDED_RIGHTS, "import revisions here",
            hint="Give the bot password the grant 'Import revisions' (Special:BotPasswords) and the account the"
            " 'import' and 'importupload' rights (sysop has them by default; check $wgGroupPermissions).",
            code="cantimport",
        )

    # --- the store interface, read side ----------------------------------------------

    def set_siteinfo(self, si: SiteInfo) -> None:
        pass  # the wiki keeps its own name and namespaces

    def siteinfo(self) -> SiteInfo:
        return self.client.siteinfo().site

    def counts(self) -> StoreCounts:
        s = self.client.statistics()
        return StoreCounts(s.get("pages", 0), s.get("edits", 0), 0)

    def prefetch_texts(self, rev_ids: Iterable) -> None:
        """Fetch the texts of these bundle revisions (a frame's bases) in batches.
        Called once per frame: the previous frame's texts are dropped, so memory is
        bounded by one frame's bases (BUNDLE.md's limits), not by the bundle."""
        self._texts.clear()
        want = []
        for r in rev_ids:
            if not isinstance(r, int) or isinstance(r, bool) or r not in INT64:
                continue  # the frame decoder reports malformed ids
            if self._stage is not None and self._stage.revision(r) is not None:
                continue
            mw = self._mw_rev(r)
            if mw is not None and mw not in self._texts:
                want.append(mw)
        self._fetch_texts(want)

    def get_text(self, rev_id: int) -> str | None:
        if rev_id not in INT64:
            return None
        if self._stage is not None:
            staged = self._stage.revision(rev_id)
            if staged is not None:
                return staged.text
        mw = self._mw_rev(rev_id)
        if mw is None:
            return None
        if mw not in self._texts:
            self._fetch_texts([mw])
        return self._texts.get(mw)

    def revision_sha1(self, rev_id: int) -> str | None:
        text = self.get_text(rev_id)
        return Revision(RevId(rev_id), PageId(0), 0, text).sha1 if text is not None else None

    def live_title(self, page_id: int) -> str | None:
        if page_id not in INT64:
            return None
        if self._stage is not None:
            p = self._stage.page(page_id)
            if p is not None:
                return p.title
        m = self._mw_page(page_id)
        if m is None:
            return None
        if m.mw_page_id in self._titles:  # most pages with new revisions: their base was just fetched
            return self._titles[m.mw_page_id]
        cur = self._currents([m.mw_page_id]).get(m.mw_page_id)
        return cur.title if cur is not None else None

    def page(self, page_id: int) -> tuple[Page, bool] | None:
        m = self._mw_page(page_id) if page_id in INT64 else None
        if m is None:
            return None
        cur = self._currents([m.mw_page_id]).get(m.mw_page_id)
        if cur is None:
            return Page(PageId(page_id), 0, m.title), True
        return Page(PageId(page_id), cur.namespace, cur.title), False

    def page_by_title(self, title: str) -> Page | None:
        cur = self._current_by_title(title)
        if cur is None:
            return None
        row = self.db.execute(
            "SELECT page_id FROM mw_pages WHERE sender=? AND mw_page_id=?", (self.sender, cur.page_id)
        ).fetchone()
        return Page(PageId(row[0]), cur.namespace, cur.title) if row else None

    def revision_keys(self, page_id: int) -> list[Revision]:
        page = self.page(page_id)
        if page is None or page[1]:
            return []
        back = {mw: rid for rid, mw in self.db.execute("SELECT rev_id, mw_rev_id FROM mw_revs WHERE sender=?", (self.sender,))}
        return [
            Revision(RevId(back.get(r.rev_id, r.rev_id)), PageId(page_id), r.timestamp, None, sha1=r.sha1)
            for r in self._history(page[0].title, content=False)
        ]

    # --- the store interface, write side: staged, written when the transaction ends ---------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._stage = Stage()
        try:
            yield
            self._write()
        finally:
            if self._stage is not None:
                self._stage.close()
            self._stage = None

    def put_page(self, page: Page) -> None:
        self._staged().put_page(page)

    def put_revision(self, rev: Revision) -> bool:
        """Stage ``rev``; False if the wiki already holds it (or it is staged). What the
        wiki holds is staged too: after a re-run it may be the page's newest revision,
        the text step f keeps current (``_import`` leaves it out)."""
        staged = self._staged().put_revision(rev)
        return staged and self._mw_rev(rev.rev_id) is None

    def update_revision_meta(self, rev: Revision) -> bool:
        self._staged().updates += 1
        return False

    def local_revisions(self, page_id: int) -> set[int]:
        """Wiki ids of the page's revisions made here: in no bundle, not the tool's own."""
        m = self._mw_page(page_id)
        cur = self._currents([m.mw_page_id]).get(m.mw_page_id) if m else None
        if cur is None:
            return set()
        own = own_revisions(self.side.state)
        return {r.rev_id for r in self._history(cur.title, content=False)
                if r.rev_id not in own and not self._mw_came_in_bundle(r.rev_id)}

    def delete_page(self, page_id: int) -> bool:
        st = self._staged()
        p = self._mw_page(page_id)
        st.delete(page_id, p.title if p else "")
        return p is not None

    def _staged(self) -> Stage:
        if self._stage is None:
            raise RuntimeError("MediaWikiTarget: writes happen inside transaction()")
        return self._stage

    # --- writing -------------------------------------------------------------------

    def _write(self) -> None:
        st = self._staged()
        with self.side.state.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO mw_journal VALUES (?,?,?,?,?)",
                # the wiki's clock (siteinfo), else ours: revisions of ours are found from here on
                (self.sender, self.seq, self.sha256, (self._wiki_time or int(time.time())) - 1, "writing"),
            )
        started = self.db.execute(
            "SELECT started FROM mw_journal WHERE sender=? AND seq=? AND sha256=?", (self.sender, self.seq, self.sha256)
        ).fetchone()[0]
        reason = f"wikibundle: bundle {self.seq} from {self.peer_label}"

        # a. deletions first: a title they free may be taken by a page below.
        self._delete_pages(st, reason)
        # b. which staged pages the wiki holds (alive, deleted here), which are new
        pages = st.pages()
        held, new = self._held_and_new(pages, reason)
        if st.updates:
            self.notes.append(
                f"{st.updates} changes of attribution or visibility of revisions held here were not applied:"
                " the MediaWiki API cannot change an existing revision's user or comment"
            )

        # c. new revisions of held pages, under the title they have here now
        self._import([(page, cur.title) for page, cur in held], reason)
        # d. moves
        self._moves([(page, cur) for page, cur in held], reason)
        # e. new pages under their own titles
        self._import([(page, page.title) for page in new], reason)
        if self._files is not None:  # uploads: their null revisions are learnt as ours in f
            self._files.write(reason)
        # f. what applying made itself; the newest text current
        self._learn_own(started)
        self._newest_current([p.page_id for p in pages], reason)
        self._local_edits_current([p.page_id for p in pages], reason)
        with self.side.state.transaction():
            self.db.execute(
                "UPDATE mw_journal SET step='written' WHERE sender=? AND seq=? AND sha256=?",
                (self.sender, self.seq, self.sha256),
            )

    def _delete_pages(self, st: Stage, reason: str) -> None:
        for pid, _title in st.deletes():
            m = self._mw_page(pid)
            if m is None:
                continue
            cur = self._currents([m.mw_page_id], fresh=True).get(m.mw_page_id)
            if cur is None:
                continue  # already gone: deleted here, or by an earlier run
            self.client.delete(cur.title, reason)
            self._current[m.mw_page_id] = None
            self._set_page(pid, m.mw_page_id, cur.title)

    def _held_and_new(self, pages: list[Page], reason: str) -> tuple[list[tuple[Page, _Current]], list[Page]]:
        """The staged pages the wiki holds (with their current revision; one deleted here
        is restored first) and the new ones, under their titles in this wiki's names."""
        mapped = {p.page_id: self._mw_page(p.page_id) for p in pages}
        currents = self._currents([m.mw_page_id for m in mapped.values() if m is not None], fresh=True)
        held: list[tuple[Page, _Current]] = []
        new: list[Page] = []
        for page in pages:
            m = mapped[page.page_id]
            page = Page(page.page_id, page.namespace, self._local_title(page), page.redirect)
            if m is None:
                new.append(page)
                continue
            cur = currents.get(m.mw_page_id)
            if cur is None:
                cur = self._undelete(page, m, reason)
            held.append((page, cur))
        return held, new

    def _local_title(self, page: Page) -> str:
        """The page's title in this wiki's namespace names (a wiki in another language
        names them differently; MediaWiki's importer maps them by number, as here)."""
        name = self._ns.get(page.namespace)
        if page.namespace == 0 or name is None or ":" not in page.title:
            return page.title
        return f"{name}:{page.title.split(':', 1)[1]}"

    def _undelete(self, page: Page, m: _Mapped, reason: str) -> _Current:
        """A page this side deleted comes back: restore its revisions where they are."""
        here = self._current_by_title(m.title)
        if here is not None:
            raise ContentError(
                f"the bundle brings back the page {page.title!r}, deleted here as {m.title!r}; that title now"
                f" belongs to another page of this wiki (page id {here.page_id}), so it cannot be undeleted; nothing more was changed",
                hint=f"Move that page away on the wiki (Special:MovePage/{m.title}), then run bundle apply again.",
            )
        self.client.undelete(m.title, reason)
        cur = self._current_by_title(m.title)
        if cur is None:
            raise ContentError(
                f"the wiki has no deleted revisions of {m.title!r} to restore (purged?)",
                hint="Ask the sender for a full bundle (bundle make --full).",
            )
        self._set_page(page.page_id, cur.page_id, cur.title)
        return cur

    def _moves(self, held: list[tuple[Page, _Current]], reason: str) -> None:
        """Give held pages their new titles. A page moves only once its new title is
        free; pages that swap titles go through a temporary title."""
        pending = {page.page_id: [page, cur.page_id, cur.title] for page, cur in held if cur.title != page.title}
        while pending:
            sources = {v[2] for v in pending.values()}
            ready = [pid for pid, (page, _mw, title) in pending.items() if page.title not in sources]
            if not ready:  # a cycle (A→B, B→A): park one under a title nobody uses
                pid = next(iter(pending))
                page, mw, title = pending[pid]
                tmp = f"{title} (wikibundle {self.seq} move)"
                self.client.move(title, tmp, reason, noredirect=True)
                pending[pid][2] = tmp
                self._set_page(pid, mw, tmp)
                continue
            for pid in ready:
                page, mw, title = pending.pop(pid)
                self.client.move(title, page.title, reason, noredirect=True)
                self._set_page(pid, mw, page.title)
                self._current.pop(mw, None)

    def _import(self, items: list[tuple[Page, str]], reason: str) -> None:
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
            if len(pieces) > 1 or size + pieces[0].bytes > IMPORT_MAX_BYTES:
                flush()
            for piece in reversed(pieces[1:]):  # newest first, each a request of its own
                batch.append((page, title, piece))
                flush()
            batch.append((page, title, pieces[0]))
            size += pieces[0].bytes
            if size >= IMPORT_MAX_BYTES or len(batch) >= IMPORT_MAX_PAGES:
                flush()
        flush()
        if hidden:
            self.notes.append(f"{hidden} revisions whose text is hidden on the sender were not imported")

    def _lacking(self, page_id: int, piece: _Piece) -> list[Revision]:
        """The revisions of ``piece`` to send (as ``_pieces`` counted them)."""
        return [r for r in self._staged().revisions(page_id, piece.first, piece.last)
                if r.text is not None and self._mw_rev(r.rev_id) is None]

    def _pieces(self, page_id: int) -> tuple[list[_Piece], int]:
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
            if last is None or last.bytes + cost > IMPORT_MAX_BYTES:
                pieces.append(_Piece(ord_, ord_, cost))
            else:
                pieces[-1] = _Piece(last.first, ord_, last.bytes + cost)
        return pieces, hidden

    def _import_batch(self, batch: list[tuple[Page, str, list[Revision]]], reason: str) -> None:
        buf = io.StringIO()
        # Titles are in this wiki's namespace names (_local_title): so is the siteinfo.
        w = XmlWriter(buf, self._site)
        for page, title, revs in batch:
            w.page(Page(page.page_id, page.namespace, title, page.redirect), revs)
        w.close()
        self.import_requests += 1
        landed = self.client.import_xml(buf.getvalue().encode("utf-8"), reason, self.prefix)
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

    def _list_batch(self, titles: list[str], revs: list[list[Revision]]) -> dict[str, list[Revision]] | None:
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

    def _learn_ids(self, page: Page, title: str, revs: list[Revision], history: list[Revision]) -> None:
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
            rows.append((self.sender, rev.rev_id, ids[min(i, len(ids) - 1)]))
        with self.side.state.transaction():
            self.db.executemany("INSERT OR REPLACE INTO mw_revs VALUES (?,?,?)", rows)
            # A null revision of ours with the second and text of an incoming revision
            # is that revision to MediaWiki's importer (it skipped the incoming one):
            # from now on it stands for a real revision, and must not be left out.
            self.db.executemany("DELETE FROM mw_own_revs WHERE mw_rev_id=?", [(r[2],) for r in rows])
            self._set_page(page.page_id, mw_page, title, transaction=False)
        self._current.pop(mw_page, None)
        if missing:
            self.notes.append(f"{missing} revisions of {title!r} did not land on the wiki (hidden text?)")

    def _learn_own(self, started: int) -> None:
        """Revisions by this account since applying started that did not come in a
        bundle: import and move null revisions. Remembered so ``bundle make`` skips them."""
        if not self._user:
            return
        # Null revisions only (the parent's text again): an edit someone made with this
        # account in the same second is an edit, and must travel back.
        candidates: list[tuple[int, int, str]] = []
        for listed, _more in self.client.allrevisions_batches(started, user=self._user):
            for _page, r in listed:
                if self.db.execute("SELECT 1 FROM mw_revs WHERE mw_rev_id=? LIMIT 1", (r.rev_id,)).fetchone() is None:
                    candidates.append((r.rev_id, r.parent_id or 0, r.sha1))
        parents = self._sha1s([parent for _rid, parent, _sha in candidates if parent])
        own = [(rid, self.sender, self.seq) for rid, parent, sha in candidates if parent and parents.get(parent) == sha]
        with self.side.state.transaction():
            self.db.executemany("INSERT OR IGNORE INTO mw_own_revs VALUES (?,?,?)", own)

    def _local_edits_current(self, page_ids: list[int], reason: str) -> None:
        """An edit made on this wiki that is as new as what arrived stays current (as on
        the embedded store, where it sorts after a revision of the same second): an
        imported revision of the same second, or a null revision of a move, would
        otherwise hide it until the return trip brings the merge back."""
        own = own_revisions(self.side.state)
        for pid in page_ids:
            m = self._mw_page(pid)
            cur = self._currents([m.mw_page_id], fresh=True).get(m.mw_page_id) if m else None
            if cur is None:
                continue
            history = [r for r in self._history(cur.title, content=False) if r.rev_id not in own]
            local = [r for r in history if not self._mw_came_in_bundle(r.rev_id)]
            if not local or not history or history[-1].rev_id == local[-1].rev_id:
                continue
            mine, theirs = local[-1], history[-1]
            if mine.timestamp < theirs.timestamp or mine.sha1 == cur.sha1:
                continue
            text = self.get_text_mw(mine.rev_id)
            if text is None:
                continue
            res = self.client.edit(cur.title, text, f"{reason}: the edit made here stays current", nocreate=True)
            with self.side.state.transaction():
                self.db.execute("INSERT OR IGNORE INTO mw_own_revs VALUES (?,?,?)", (res.rev_id, self.sender, self.seq))
            self.notes.append(f"{cur.title!r}: kept the edit {mine.rev_id} made here current; it travels back to be merged")

    def get_text_mw(self, mw_rev_id: int) -> str | None:
        self._fetch_texts([mw_rev_id])
        return self._texts.get(mw_rev_id)

    def _below_own(self, rev_id: int) -> int | None:
        """The first revision under ``rev_id`` (one of ours) that is not ours."""
        for _hop in range(16):
            parent = None
            for _page, r in self.client.revisions_by_id([rev_id], Fields.IDS):
                parent = r.parent_id
            if parent is None:
                return None
            if self.db.execute("SELECT 1 FROM mw_own_revs WHERE mw_rev_id=?", (parent,)).fetchone() is None:
                return parent
            rev_id = parent
        return None

    def _mw_came_in_bundle(self, mw_rev_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM mw_revs WHERE mw_rev_id=? LIMIT 1", (mw_rev_id,)).fetchone() is not None

    def _sha1s(self, rev_ids: list[int]) -> dict[int, str]:
        """The API's sha1 of these revisions."""
        return {r.rev_id: r.sha1 for _page, r in self.client.revisions_by_id(sorted(set(rev_ids)), Fields.SHA1)}

    def _newest_current(self, page_ids: list[int], reason: str) -> None:
        """Where one of our own null revisions is newer than what a bundle brought,
        MediaWiki keeps it current (newest timestamp wins): save the newest text again."""
        st = self._staged()
        mapped = {pid: self._mw_page(pid) for pid in page_ids}
        currents = self._currents([m.mw_page_id for m in mapped.values() if m is not None], fresh=True)
        for pid, m in mapped.items():
            newest = st.newest(pid)
            if m is None or newest is None or newest.text is None:
                continue
            cur = currents.get(m.mw_page_id)
            if cur is None or cur.sha1 == newest.sha1:
                continue
            if self.db.execute("SELECT 1 FROM mw_own_revs WHERE mw_rev_id=?", (cur.rev_id,)).fetchone() is None:
                self.notes.append(f"{cur.title!r}: kept the newer revision {cur.rev_id} made on this wiki")
                continue
            below = self._below_own(cur.rev_id)
            if below is not None and self._mw_came_in_bundle(below) is False:
                # Our null revision sits on an edit made here, newer than what arrived: that
                # edit stays current; it travels back and is merged on the other side.
                self.notes.append(f"{cur.title!r}: kept the newer edit {below} made on this wiki")
                continue
            res = self.client.edit(cur.title, newest.text, f"{reason}: newest text", nocreate=True)
            with self.side.state.transaction():
                self.db.execute("INSERT OR IGNORE INTO mw_own_revs VALUES (?,?,?)", (res.rev_id, self.sender, self.seq))

    # --- the map and the wiki's current state --------------------------------------------

    def _mw_rev(self, rev_id: int) -> int | None:
        if rev_id not in INT64:
            return None
        row = self.db.execute("SELECT mw_rev_id FROM mw_revs WHERE sender=? AND rev_id=?", (self.sender, rev_id)).fetchone()
        if row:
            return row[0]
        # This wiki's own revisions travel in its local id range (sources/api.py IdMap);
        # the peer names them so when it builds on them.
        return rev_id - self._local.start if rev_id in self._local else None

    def _mw_page(self, page_id: int) -> _Mapped | None:
        if page_id not in INT64:
            return None
        row = self.db.execute(
            "SELECT mw_page_id, title FROM mw_pages WHERE sender=? AND page_id=?", (self.sender, page_id)
        ).fetchone()
        if row:
            return _Mapped(row[0], row[1])
        if page_id in self._local:
            cur = self._currents([page_id - self._local.start]).get(page_id - self._local.start)
            return _Mapped(page_id - self._local.start, cur.title if cur else "")
        return None

    def _set_page(self, page_id: int, mw_page_id: int, title: str, *, transaction: bool = True) -> None:
        sql = "INSERT OR REPLACE INTO mw_pages VALUES (?,?,?,?)"
        if transaction:
            with self.side.state.transaction():
                self.db.execute(sql, (self.sender, page_id, mw_page_id, title))
        else:
            self.db.execute(sql, (self.sender, page_id, mw_page_id, title))

    def _fetch_texts(self, mw_ids: list[int]) -> None:
        """Texts of wiki revisions by id; deleted ones (of a page deleted here: deletedhistory
        and deletedtext rights) from the archive."""
        todo = sorted(set(mw_ids) - set(self._texts))
        for page, r in self.client.revisions_by_id(todo, Fields.TEXT, deleted=True):
            if page.page_id and page.title:
                self._titles[page.page_id] = page.title
            self._texts[r.rev_id] = r.text

    def _currents(self, mw_page_ids: list[int], *, fresh: bool = False) -> dict[int, _Current | None]:
        """Title and current revision of wiki pages by id (None: no such page), 50 per request."""
        todo = sorted({p for p in mw_page_ids if fresh or p not in self._current})
        for pid in todo:
            self._current[pid] = None
        if todo:
            self._read_currents(page_ids=todo)
        return {p: self._current.get(p) for p in mw_page_ids}

    def _current_by_title(self, title: str) -> _Current | None:
        return self._read_currents(titles=[title]).get(title)

    def _read_currents(self, **which) -> dict[str, _Current]:
        by_title: dict[str, _Current] = {}
        for page, r in self.client.current_revisions(**which):
            cur = _Current(page.page_id, page.namespace, page.title, r.rev_id, r.sha1)
            self._current[cur.page_id] = cur
            by_title[cur.title] = cur
        return by_title

    def _history(self, title: str, *, content: bool, start: int | None = None, end: int | None = None) -> Iterator[Revision]:
        return self.client.page_revisions(title, content=content, start=start, end=end)


def require_rights(api_url: str, info, rights, what: str, *, hint: str, code: str) -> None:
    """Refuse, before anything is written, an account that lacks ``rights``."""
    missing = [r for r in rights if r not in info.rights]
    if missing:
        raise WikiError(
            f"{api_url}: the account {info.user} may not {what}"
            f" (missing right{'s' if len(missing) > 1 else ''}: {', '.join(missing)}); nothing was changed",
            hint=hint,
            code=code,
        )


def own_revisions(state) -> frozenset[int]:
    """Wiki revision ids that applying bundles made (null revisions, newest-text edits):
    never edits to send to a peer."""
    try:
        return frozenset(r[0] for r in state.db.execute("SELECT mw_rev_id FROM mw_own_revs"))
    except sqlite3.OperationalError:  # pragma: no cover - a state from before 0003
        return frozenset()
