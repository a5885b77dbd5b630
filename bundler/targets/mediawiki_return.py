"""A MediaWiki as the online side of the return trip: what ``landing.ReturnApplier``
needs of a wiki (``targets.ReturnTarget``; ``targets.store.StoreReturnTarget`` is
the embedded store's), over the Action API.

Offline edits land as real edits (``action=edit``) by the sync account, the
summary naming the offline author, place and time — MediaWiki cannot back-date
an edit or edit in another user's name, and an edit (unlike an import) shows in
recent changes and watchlists, where the wiki's people review changes. Moves
and deletions are ``action=move`` (no redirect: a redirect made offline arrives
as its own page) and ``action=delete``.

Never trust MediaWiki's edit-conflict detection (it merges silently, and
ignores conflicts with the same account's edits: docs/MEDIAWIKI_FINDINGS.md G9): every edit names
its base revision, and is checked twice — the page's current revision must be
the base just before, and the saved revision's text must be the text sent just
after. Anything else is a ``ContentError`` that says which page changed; a
re-run then decides anew from the wiki's current state.

Ids. The return names this wiki's pages and revisions by this wiki's ids (it
was built from updates made from this wiki), and its own by the offline
side's. What landed is kept in the side's state (``mw_pages``/``mw_revs``
under the offline side's wiki id), committed after every edit, so a re-run
after a kill or a dropped connection lands nothing twice.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..errors import ContentError
from ..mediawiki import Fields
from ..model import Page, PageId, RevId, Revision, Slot, text_sha1
from ..state.mediawiki import MediaWikiIds


class MediaWikiReturnTarget:
    keeps_user = False  # edits are the sync account's; the summary names the offline author

    def __init__(self, client, state, sender: str, own: frozenset[int] = frozenset()):
        self.client = client
        self.ids = MediaWikiIds(state)
        self.sender = sender
        self.own = own  # revisions applying bundles made (null revisions): not part of a history
        self._handles: dict[int, tuple[int | None, str]] = {}  # new page handle -> (peer page id, title)
        self._resolved: dict[int, int] = {}
        self._site = None
        self._revs: dict[int, Revision | None] = {}  # by id: a revision's text and sha1 never change

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield  # a wiki is not transactional: every landed edit is recorded as it lands

    # --- reading ------------------------------------------------------------------

    def find_page(self, peer_page_id: int) -> int | None:
        row = self.ids.page(self.sender, peer_page_id)
        if row is not None:
            return row[0]
        if not 0 < peer_page_id < 1 << 31:
            return None
        return peer_page_id if self.client.pages_by_id([peer_page_id]) else None

    def page(self, page_id: int):
        page_id = self.resolve(page_id)
        if page_id < 0:
            return None
        found = self.client.pages_by_id([page_id])
        return (found[0], False) if found else None

    def page_by_title(self, title: str) -> Page | None:
        return self.client.page_info([title]).get(title)

    def head(self, page_id: int) -> Revision | None:
        page_id = self.resolve(page_id)
        if page_id < 0:
            return None
        for _page, r in self.client.current_revisions(page_ids=[page_id], content=True):
            return _with_text_sha1(r)
        return None

    def _rev(self, rev_id: int) -> Revision | None:
        if not 0 < rev_id < 1 << 31:
            return None
        if rev_id not in self._revs:
            self._revs[rev_id] = self._fetch_rev(rev_id)
        return self._revs[rev_id]

    def _fetch_rev(self, rev_id: int) -> Revision | None:
        # deleted: a revision of a page deleted here (an offline edit built on it brings it back).
        for _page, r in self.client.revisions_by_id([rev_id], Fields.TEXT, deleted=True, all_slots=True):
            return _with_text_sha1(r)
        return None

    def get_text(self, rev_id: int) -> str | None:
        r = self._rev(rev_id)
        return r.text if r else None

    def get_slots(self, rev_id: int) -> tuple[Slot, ...] | None:
        r = self._rev(rev_id)
        return r.slots if r and r.text is not None else None

    def revision_sha1(self, rev_id: int) -> str | None:
        r = self._rev(rev_id)
        return r.sha1 if r else None

    def revision_keys(self, page_id: int) -> list[Revision]:
        here = self.page(page_id)
        if here is None:
            return []
        return [
            _with_text_sha1(r) for r in self.client.page_revisions(here[0].title) if r.rev_id not in self.own
        ]

    def siteinfo(self):
        if self._site is None:
            self._site = self.client.siteinfo().site
        return self._site

    # --- what landed ------------------------------------------------------------------

    def origin(self, peer_rev_id: int) -> int | None:
        return self.ids.rev(self.sender, peer_rev_id)

    def record_origin(self, peer_rev_id: int, rev_id: int) -> None:
        self.ids.set_rev(self.sender, peer_rev_id, rev_id)

    def record_page_origin(self, peer_page_id: int, page_id: int) -> None:
        here = self.page(page_id)
        self.ids.set_page(self.sender, peer_page_id, page_id, here[0].title if here else "")

    # --- writing ------------------------------------------------------------------

    def new_page(self, peer_page_id: int | None, namespace: int, title: str, redirect: str | None) -> int:
        """A handle for a page that the first edit creates (a MediaWiki page cannot be empty)."""
        handle = -(len(self._handles) + 1)
        self._handles[handle] = (peer_page_id, title)
        return handle

    def restore_deleted(self, title: str, reason: str) -> int | None:
        """Undelete a page deleted here (its history comes back); its new id, or None."""
        if self.page_by_title(title) is not None:
            return None
        if not self.client.has_deleted_revisions(title):
            return None
        self.client.undelete(title, reason)
        page = self.page_by_title(title)
        return page.page_id if page else None

    def resolve(self, page_id: int) -> int:
        return self._resolved.get(page_id, page_id)

    def edit(self, page_id: int, title: str, head: Revision | None, text: str | None, user: str | None,
             comment: str, minor: bool, stamp: int, like: Revision | None) -> Revision:
        if text is None:
            raise ContentError(
                f"{title}: an offline revision with hidden text cannot be saved as an edit",
                hint="Unhide it on the offline wiki, or apply the return to an embedded store.",
            )
        page_id = self.resolve(page_id)
        if page_id >= 0:
            here = self.page(page_id)
            title = here[0].title if here else title
            current = self.head(page_id)
            if (current.rev_id if current else None) != (head.rev_id if head else None):
                raise ContentError(
                    f"{title} changed on the wiki while the return was being applied "
                    f"(expected revision {head.rev_id if head else 'none'}, found {current.rev_id if current else 'none'})",
                    hint="Run 'bundle apply' again: what landed is recorded, the rest is decided anew.",
                )
        res = self.client.edit(title, text, comment[:500], baserevid=head.rev_id if head else None,
                               createonly=head is None, nocreate=head is not None, minor=minor)
        if page_id < 0:
            peer_page_id, _t = self._handles[page_id]
            self._resolved[page_id] = int(res.page_id)
            if peer_page_id is not None:
                self.record_page_origin(peer_page_id, int(res.page_id))
        saved = self._rev(int(res.rev_id))
        if saved is None or saved.sha1 != text_sha1(text.rstrip()) and saved.sha1 != text_sha1(text):
            raise ContentError(
                f"{title}: the wiki saved other text than was sent (revision {res.rev_id}); it merged a concurrent edit",
                hint="Check the page's history; run 'bundle apply' again to land the rest.",
            )
        return Revision(RevId(int(res.rev_id)), PageId(int(res.page_id)), saved.timestamp, saved.text,
                        user=saved.user, comment=saved.comment, parent_id=head.rev_id if head else None,
                        minor=minor, sha1=saved.sha1)

    def move(self, page_id: int, namespace: int, new_title: str, reason: str) -> None:
        here = self.page(page_id)
        if here is not None and here[0].title != new_title:
            self.client.move(here[0].title, new_title, reason, noredirect=True)

    def delete(self, page_id: int, reason: str) -> None:
        here = self.page(page_id)
        if here is not None:
            self.client.delete(here[0].title, reason)

    def undelete(self, page_id: int, title: str, reason: str) -> None:
        self.client.undelete(title, reason)


def _with_text_sha1(r: Revision) -> Revision:
    """The API's sha1 is of the whole revision; the text's is what travels."""
    if r.text is None:
        return r
    return Revision(r.rev_id, r.page_id, r.timestamp, r.text, r.user, r.user_id, r.comment, r.parent_id, r.minor,
                    r.deleted, r.model, r.format, r.slots)
