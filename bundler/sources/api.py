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
(``PageHistory.rev_ids``), as for the embedded store.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from ..mediawiki import MediaWikiClient
from ..model import Page, Revision, SiteInfo
from .dump import PageHistory


class ApiSource:
    def __init__(self, client: MediaWikiClient, own_revisions: frozenset[int] = frozenset()):
        self.client = client
        self.siteinfo: SiteInfo = client.siteinfo().site
        # Revisions that applying bundles made on this wiki (import and move null
        # revisions): not edits, never sent (targets/mediawiki.py, "Null revisions").
        self.own = own_revisions

    def pages(self) -> Iterator[PageHistory]:
        for latest in self.client.iter_allpages_latest():
            page = Page(latest.page.page_id, latest.page.namespace, latest.page.title, None)
            yield PageHistory(page, self._history(page.title), 0, frozenset({latest.rev_id}))

    def _history(self, title: str) -> Iterator[Revision]:
        for rev in self.client.page_revisions(title):
            if rev.rev_id in self.own:
                continue
            # The API's sha1 is of the whole revision (all slots); ours is of the text
            # that travels: recompute it from the text.
            yield dataclasses.replace(rev, sha1="") if rev.text is not None else rev
