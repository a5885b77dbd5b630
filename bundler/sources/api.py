"""A MediaWiki reached over its Action API as a source for ``bundle make``.

Two ways to find what changed, chosen per bundle (``for_basis``):

* **Since the basis** (the usual case): the wiki's clock was noted when the
  basis bundle was made (``source_marks``); the pages with a revision since then
  (``list=allrevisions`` without content, 500 per request) and the log since
  then (``list=logevents``, every type: deletions, restores, imports, history
  merges and revision deletions — whose revisions may carry any timestamp —
  and moves) name every page that can differ. Only those pages' histories are
  read; deletions come from the delete log, not from absence. Two minutes of
  slack cover saves in flight when the clock was read.
* **Every page** (a first bundle, ``--full``, a basis made before marks were kept,
  or a log entry whose title is hidden and so cannot be followed): each page is
  listed with its current revision (``generator=allpages``, one request per 500
  pages); a page whose current revision the peer already holds costs nothing
  more, the others' histories are read, and a page the peer holds that is not
  listed is gone. This never misses a deletion, whatever the logs say.

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
from typing import Iterator

from ..mediawiki import MediaWikiClient
from ..model import Page, PageId, RevId, Revision, SiteInfo, file_title_to_name
from .dump import PageHistory


class IdMap:
    """The wiki's ids -> the ids the peer knows them by."""

    def __init__(self, db, peer: str, local: range):
        self.db = db
        self.peer = peer
        self.local = local

    def _own(self, mw_id: int) -> int:
        return self.local.start + mw_id if mw_id < len(self.local) else mw_id

    def page(self, mw_id: int) -> int:
        row = self.db.execute("SELECT page_id FROM mw_pages WHERE sender=? AND mw_page_id=? LIMIT 1", (self.peer, mw_id)).fetchone()
        return row[0] if row else self._own(mw_id)

    def rev(self, mw_id: int) -> int:
        row = self.db.execute(
            "SELECT min(rev_id) FROM mw_revs WHERE sender=? AND mw_rev_id=?", (self.peer, mw_id)
        ).fetchone()
        return row[0] if row and row[0] is not None else self._own(mw_id)


# Log entries after which a page's history can hold revisions of any age (not
# found by their timestamp) or lose some: such pages are read whole.
_REREAD = {("delete", "restore"), ("delete", "revision"), ("suppress", "revision"), ("merge", "merge"),
           ("import", "upload"), ("import", "interwiki")}
FILE_NS = 6
SLACK = int(os.environ.get("WIKIBUNDLE_API_SLACK", "120"))  # seconds before the noted clock: saves in flight


class ApiSource:
    def __init__(self, client: MediaWikiClient, own_revisions: frozenset[int] = frozenset(), ids: IdMap | None = None):
        self.client = client
        self.ids = ids
        self.mark: int | None = None  # the wiki's clock when this make began reading
        self.mode = "every page"
        self.siteinfo: SiteInfo = client.siteinfo().site
        # Revisions that applying bundles made on this wiki (import and move null
        # revisions): not edits, never sent (targets/mediawiki.py, "Null revisions").
        self.own = own_revisions

    def __iter__(self) -> Iterator[PageHistory]:
        return self.pages()

    def for_basis(self, state, peer: str, basis_seq: int):
        """(pages to read, titles deleted since the basis or None). None: every page is
        listed, and a page the peer holds that is not listed is gone."""
        self.mark = self.client.server_time()
        since = state.source_mark(peer, basis_seq) if basis_seq else None
        if since is not None and _version(self.client.siteinfo().version) < (1, 27):
            since = None  # no list=allrevisions before 1.27 (an unknown list is only a warning)
        if os.environ.get("WIKIBUNDLE_API_READ") == "every-page":  # the baseline, for benchmarks/api_requests.py
            since = None
        if since is None:
            return self.pages(), None
        titles: set[str] = set()
        deleted: set[str] = set()
        moves: list[tuple[str, str]] = []
        files: set[str] = set()
        for e in self.client.iter_logevents(None, since - SLACK):
            if e.title is None:
                return self.pages(), None  # a hidden log entry: cannot follow it
            for ns, title in ((e.namespace, e.title), (e.params.get("target_ns"), e.params.get("target_title"))):
                if ns == FILE_NS and title:
                    files.add(file_title_to_name(str(title)))  # uploads, overwrites, reverts, file moves ...
            if e.type == "delete" and e.action in ("delete", "delete_redir"):
                deleted.add(e.title)
            elif (e.type, e.action) in _REREAD:
                titles.add(e.title)
            elif e.type == "move":
                target = e.params.get("target_title")
                if target:
                    titles.add(target)
                    moves.append((e.title, target))
        # A page moved, then deleted: the peer knows it by a title the delete log never names.
        grew = True
        while grew:
            grew = False
            for old, new in moves:
                if new in deleted and old not in deleted:
                    deleted.add(old)
                    grew = True
        self.mode = "since the basis"
        self.file_names = sorted(files)  # what the files source (api_files.py) reads
        return self._changed(since - SLACK, titles), deleted

    def _changed(self, since: int, titles: set[str]) -> Iterator[PageHistory]:
        ids = self.ids
        done: set[int] = set()
        listed = list(self.client.iter_changed_pages(since))
        more = self.client.page_info(sorted(titles)) if titles else {}
        for p in listed + [p for p in more.values()]:
            if p.page_id in done:
                continue
            done.add(p.page_id)
            pid = ids.page(p.page_id) if ids else p.page_id
            page = Page(PageId(pid), p.namespace, p.title, None)
            yield PageHistory(page, self._history(page.title, page.page_id), 0, None)

    def pages(self) -> Iterator[PageHistory]:
        ids = self.ids
        for latest in self.client.iter_allpages_latest():
            pid = ids.page(latest.page.page_id) if ids else latest.page.page_id
            page = Page(PageId(pid), latest.page.namespace, latest.page.title, None)
            # "The peer holds the current revision, so it holds the page" is true of a
            # wiki whose history only grows at the end. An offline wiki also has edits of
            # its own *below* revisions it received later: read every history there.
            rev_ids = None if ids else frozenset({latest.rev_id})
            yield PageHistory(page, self._history(page.title, page.page_id), 0, rev_ids)

    def _history(self, title: str, page_id: int) -> Iterator[Revision]:
        ids = self.ids
        # A revision applying made (an import's or a move's null revision, an edit that
        # restored the newest text) stands for the revision whose text it repeats: an
        # edit built on it was built on that one. By sha1, newest first; else its parent.
        stands_for: dict[int, int | None] = {}
        by_sha1: dict[str, int] = {}
        for rev in self.client.page_revisions(title):
            if rev.rev_id in self.own:
                stands_for[rev.rev_id] = by_sha1.get(rev.sha1, stands_for.get(rev.parent_id, rev.parent_id))
                continue
            by_sha1[rev.sha1] = rev.rev_id
            if rev.parent_id in stands_for:
                rev = dataclasses.replace(rev, parent_id=stands_for[rev.parent_id])
            # The API's sha1 is of the whole revision (all slots); ours is of the text
            # that travels: recompute it from the text.
            if ids:
                rev = dataclasses.replace(
                    rev, rev_id=RevId(ids.rev(rev.rev_id)), page_id=PageId(page_id),
                    parent_id=RevId(ids.rev(rev.parent_id)) if rev.parent_id else None,
                )
            yield dataclasses.replace(rev, sha1="") if rev.text is not None else rev


def _version(generator: str) -> tuple[int, ...]:
    """(1, 39) from "MediaWiki 1.39.17"; (0,) when it cannot be read (then every page is listed)."""
    import re

    m = re.search(r"(\d+)\.(\d+)", generator or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0,)
