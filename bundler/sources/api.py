"""A MediaWiki reached over its Action API as a source for ``bundle make``.

Each page is listed with its current revision (``generator=allpages``, one
request per 500 pages with the apihighlimits right); a page whose current
revision the peer already holds, under the same title, costs nothing more. Only
for the others is the full history fetched (``prop=revisions``, oldest first,
with content). Deletions fall out of the listing: a page the peer holds that is
not listed is gone. This is the "compare every page's latest revision" strategy
of issue 3, which never misses a deletion; reading only the recent changes and
logs since the checkpoint (fewer requests on big wikis) is the next step.

MediaWiki ids are stable, so pages are matched by page id and revisions by id
(``PageHistory.rev_ids``), as for the embedded store. On a side that takes
updates from the peer (an offline MediaWiki making its return), the wiki's ids
are not the peer's: importing renumbered them. ``IdMap`` speaks the peer's ids
for what came from it (``mw_pages``, ``mw_revs``) and puts the wiki's own pages
and revisions in this side's local id range, where they cannot clash.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from ..mediawiki import MediaWikiClient
from ..model import Page, PageId, RevId, Revision, SiteInfo
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


class ApiSource:
    def __init__(self, client: MediaWikiClient, own_revisions: frozenset[int] = frozenset(), ids: IdMap | None = None):
        self.client = client
        self.ids = ids
        self.siteinfo: SiteInfo = client.siteinfo().site
        # Revisions that applying bundles made on this wiki (import and move null
        # revisions): not edits, never sent (targets/mediawiki.py, "Null revisions").
        self.own = own_revisions

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
