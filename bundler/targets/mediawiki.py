"""A real MediaWiki as the target of ``bundle apply``, over its Action API.

``MediaWikiTarget`` is an ``UpdateTarget`` (``bundler.targets``), as the
embedded store's ``targets.store.StoreUpdateTarget`` is, so ``bundle apply -C DIR``
works the same on a side whose wiki is a MediaWiki. It works in two phases,
because a MediaWiki is not transactional:

1. **Decode and stage.** Inside ``transaction()`` every frame is decoded and
   every delta base resolved (bases the wiki holds are fetched by id, 50 per
   request, ``prefetch_texts``); pages, revisions with their rebuilt texts and
   deletions go into a private temporary SQLite file, nothing to the wiki. A
   bundle that cannot be decoded whole, or whose counts disagree with its
   header, leaves the transaction with an error and changes nothing.
2. **Write** (``targets/mediawiki_write.py``), when the transaction ends without
   error, in an order that never needs to be undone and that a re-run can repeat:

   a. deletions (``action=delete``), so a title they free can be taken below;
   b. pages this side deleted that the bundle brings back: ``action=undelete``
      when the title is free (the wiki still has the revisions); else a
      *content error* that says which page holds the title;
   c. new revisions of pages the wiki holds, imported under the page's
      *current* title (``action=import``, one request per batch of pages; a
      page's revisions share one request, or go newest piece first:
      ``targets/mediawiki_import.py``);
   d. moves (``action=move``, ``noredirect``: the source's redirect, if any,
      arrives as its own page; a swap goes through a temporary title);
   e. new pages, imported under their own titles;
   f. the revisions applying made itself are listed and remembered (below), and
      a page whose newest text is not current gets one edit that makes it so.

Ids. MediaWiki renumbers what it imports (docs/MEDIAWIKI_FINDINGS.md G12), so the side's state
maps the ids the sender knows this side's pages and revisions by (the bundle's
ids) to the wiki's own (``mw_pages``, ``mw_revs``, migration
``0003-mediawiki-ids``; ``state.mediawiki.MediaWikiIds``). After each import batch the new revisions are found
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

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..errors import WikiError
from ..mediawiki import Fields
from ..model import Page, PageId, RevId, Revision, SiteInfo, Slot, parse_timestamp
from ..identity import local_id_range
from ..state.mediawiki import MediaWikiIds
from ..store import INT64, StoreCounts, check_int64
from .mediawiki_import import ImportBatches
from .mediawiki_stage import Stage
from .mediawiki_write import WritePhase

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


class MediaWikiTarget(WritePhase, ImportBatches):
    """Apply bundles to the MediaWiki of an API side (``targets.open_target`` opens one).
    The write phase is ``WritePhase`` (targets/mediawiki_write.py) and its import
    batches ``ImportBatches`` (targets/mediawiki_import.py)."""

    def __init__(self, side, client=None):
        self.side = side
        self.ids = MediaWikiIds(side.state)
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
        self._slots: dict[int, tuple[Slot, ...]] = {}  # wiki rev id -> its non-main slots (fetched with the text)
        self._current: dict[int, _Current | None] = {}  # wiki page id -> its current state (None: gone)
        self._titles: dict[int, str] = {}  # wiki page id -> title, seen while fetching base texts
        self.import_requests = 0
        self._files = None  # the bundle's uploads (targets/mediawiki_files.py), once asked for

    def files(self):
        """What takes the bundle's files and blob frames, and uploads them after the pages."""
        from .mediawiki_files import MediaWikiFiles

        self._files = MediaWikiFiles(self)
        return self._files

    def return_target(self, sender: str):
        """The wiki, to land a return from ``sender`` on (targets/mediawiki_return.py)."""
        from .mediawiki_return import MediaWikiReturnTarget

        return MediaWikiReturnTarget(self.client, self.side.state, sender, self.ids.own_revisions())

    def api_requests(self) -> int | None:
        return self.client.requests

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
        self._check_rights(info)

    def _check_rights(self, info) -> None:
        """Refuse an account that may not import (``targets.local`` writes through scripts instead)."""
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

    def held_sha1s(self) -> Iterable[str]:
        """The current version of each file (old versions are not listed: a manifest may
        list less than is held, never more)."""
        return self.client.file_sha1s()

    def counts(self) -> StoreCounts:
        s = self.client.statistics()
        return StoreCounts(s.get("pages", 0), s.get("edits", 0), 0)

    def prefetch_texts(self, rev_ids: object) -> None:
        """Fetch the texts of these bundle revisions (a frame's bases) in batches.
        Called once per frame: the previous frame's texts are dropped, so memory is
        bounded by one frame's bases (BUNDLE.md's limits), not by the bundle."""
        if not isinstance(rev_ids, list):
            return  # none, or malformed: the frame decoder reports it
        self._texts.clear()
        self._slots.clear()
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

    def get_slots(self, rev_id: int) -> tuple[Slot, ...] | None:
        """A revision's non-main slots, as the wiki gives them back (``rvslots=*``, fetched
        with the frame's base texts); a revision staged by an earlier frame, as staged."""
        if rev_id not in INT64:
            return None
        if self._stage is not None:
            staged = self._stage.revision(rev_id)
            if staged is not None:
                return staged.slots if staged.text is not None else None
        mw = self._mw_rev(rev_id)
        if mw is None:
            return None
        if mw not in self._texts:
            self._fetch_texts([mw])
        return self._slots.get(mw) if self._texts.get(mw) is not None else None

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
        page_id = self.ids.page_id_of(self.sender, cur.page_id)
        return Page(PageId(page_id), cur.namespace, cur.title) if page_id is not None else None

    def revision_keys(self, page_id: int) -> list[Revision]:
        page = self.page(page_id)
        if page is None or page[1]:
            return []
        back = self.ids.rev_ids_of(self.sender)
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

    def put_page(self, page: Page, moved: bool = False) -> str | None:
        """Stage the page under the sender's title (a page moved or deleted here is
        moved back or restored when the bundle is written: ``WritePhase``). Ids past 64
        bits are refused as the store refuses them (the stage is SQLite too)."""
        check_int64(f"page {page.title!r}", page_id=page.page_id, namespace=page.namespace)
        self._staged().put_page(page)
        return None

    def put_revision(self, rev: Revision) -> bool:
        """Stage ``rev``; False if the wiki already holds it (or it is staged). What the
        wiki holds is staged too: after a re-run it may be the page's newest revision,
        the text step f keeps current (``_import`` leaves it out)."""
        check_int64(f"revision {rev.rev_id}", rev_id=rev.rev_id, page_id=rev.page_id, parent_id=rev.parent_id,
                    timestamp=rev.timestamp, user_id=rev.user_id)
        staged = self._staged().put_revision(rev)
        return staged and self._mw_rev(rev.rev_id) is None

    def update_revision(self, rev: Revision) -> int | None:
        """Counted, not applied: the API cannot change an existing revision's attribution."""
        self._staged().updates += 1
        return None

    def local_edits(self, page_id: int) -> set[int]:
        """The page's revisions made here (in no bundle, not the tool's own), by the ids
        they travel under: this wiki's own, in its local range (sources/api.py IdMap)."""
        m = self._mw_page(page_id)
        cur = self._currents([m.mw_page_id]).get(m.mw_page_id) if m else None
        if cur is None:
            return set()
        own = self.ids.own_revisions()
        local = self._local
        return {local.start + r.rev_id for r in self._history(cur.title, content=False)
                if r.rev_id not in own and not self.ids.came_in_bundle(r.rev_id) and r.rev_id < len(local)}

    def step_aside(self, incoming: set[int]) -> list[str]:
        """Not done on a MediaWiki: its pages are written under the sender's titles (``WritePhase``)."""
        return []

    def delete_page(self, page_id: int) -> bool:
        st = self._staged()
        p = self._mw_page(page_id)
        st.delete(page_id, p.title if p else "")
        return p is not None

    def _staged(self) -> Stage:
        if self._stage is None:
            raise RuntimeError("MediaWikiTarget: writes happen inside transaction()")
        return self._stage

    # --- the map and the wiki's current state --------------------------------------------

    def _mw_rev(self, rev_id: int) -> int | None:
        if rev_id not in INT64:
            return None
        mw = self.ids.rev(self.sender, rev_id)
        if mw is not None:
            return mw
        # This wiki's own revisions travel in its local id range (sources/api.py IdMap);
        # the peer names them so when it builds on them.
        return rev_id - self._local.start if rev_id in self._local else None

    def _mw_page(self, page_id: int) -> _Mapped | None:
        if page_id not in INT64:
            return None
        row = self.ids.page(self.sender, page_id)
        if row is not None:
            return _Mapped(*row)
        if page_id in self._local:
            cur = self._currents([page_id - self._local.start]).get(page_id - self._local.start)
            return _Mapped(page_id - self._local.start, cur.title if cur else "")
        return None

    def _set_page(self, page_id: int, mw_page_id: int, title: str) -> None:
        self.ids.set_page(self.sender, page_id, mw_page_id, title)

    def _fetch_texts(self, mw_ids: list[int]) -> None:
        """Texts of wiki revisions by id; deleted ones (of a page deleted here: deletedhistory
        and deletedtext rights) from the archive."""
        todo = sorted(set(mw_ids) - set(self._texts))
        # Every slot (rvslots=*): the other slots are the bases of slot deltas (BUNDLE.md §Payload, sl).
        for page, r in self.client.revisions_by_id(todo, Fields.TEXT, deleted=True, all_slots=True):
            if page.page_id and page.title:
                self._titles[page.page_id] = page.title
            self._texts[r.rev_id] = r.text
            self._slots[r.rev_id] = r.slots

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
