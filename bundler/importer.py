"""Load an XML dump into the embedded store, in one transaction (``bundle import``).

As MediaWiki's importer does, a revision already on the page (same timestamp and
sha1) is skipped, so importing the same or a later dump again adds only what is
new. Pages are matched by page id when their histories agree (so a later dump's
moves are moves), else by title; ids that clash with other pages or revisions
here (a re-imported wiki renumbers them) get fresh ids.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from .history import History, history_of
from .identity import FRESH, FreshIds, page_rkeys
from .model import Page, PageId, RevId
from .sources.dump import PageHistory, open_dump
from .store import WikiStore


@dataclass
class ImportResult:
    pages: int = 0
    revisions_added: int = 0
    revisions_present: int = 0
    moves: int = 0
    deletions: int = 0
    files_added: int = 0  # file versions (uploads), bytes checked against their sha1 by the reader
    files_skipped: int = 0  # upload versions the dump has no bytes for


def import_dump(store: WikiStore, path: str, *, delete_missing: bool = False, progress: Callable[[int], None] | None = None) -> ImportResult:
    res = ImportResult()
    with open_dump(path, progress=progress) as reader, store.transaction():
        pages = _PageImporter(store, res)
        if reader.siteinfo.sitename or reader.siteinfo.namespaces:
            store.set_siteinfo(reader.siteinfo)
        for ph in reader:
            pages.add(ph)
        for fv in reader.files.versions():
            if not store.has_blob(fv.sha1):
                with reader.files.open(fv.sha1) as f:
                    store.put_blob(fv.sha1, f)
            res.files_added += store.put_file_version(fv)
        res.files_skipped = reader.files.skipped
        if delete_missing:
            res.deletions = store.delete_pages_except(pages.seen)
    return res


class _PageImporter:
    """The dump's pages, one at a time, into the store: which page of the store each
    is, and the revisions it lacks, under fresh ids where the dump's clash."""

    def __init__(self, store: WikiStore, res: ImportResult) -> None:
        self.store = store
        self.res = res
        self.seen = store.page_set("import_seen")  # the store's pages the dump has had so far
        self.fresh_revs = FreshIds(FRESH, store.highest_id("revision", "rev_id", FRESH), "revision ids for clashes")
        self.fresh_pages = FreshIds(FRESH, store.highest_id("page", "page_id", FRESH), "page ids for clashes")

    def add(self, ph: PageHistory) -> None:
        src = ph.page
        revs = history_of(ph.revisions)  # read again below: spooled to disk if large
        try:
            rev_keys = page_rkeys(revs.meta())
            target = self._target(src, set(rev_keys))
            have = self._keys(target)
            self.store.put_page(Page(PageId(target), src.namespace, src.title, src.redirect))
            self.seen.add(target)
            self.res.pages += 1
            self._revisions(revs, rev_keys, target, have)
        finally:
            revs.close()

    def _keys(self, page_id: int) -> set[int]:
        return set(page_rkeys(self.store.revision_keys(page_id)))

    def _target(self, src: Page, keys: set[int]) -> int:
        """The store's page for ``src``: by id when the histories agree (a move if the
        title differs), else the live page of its title, else a new page (under a fresh
        id if its own is taken)."""
        here = self.store.page(src.page_id)
        if here is not None and src.page_id not in self.seen and (not keys or keys & self._keys(src.page_id)):
            if not here[1] and here[0].title != src.title:
                self.res.moves += 1
            return src.page_id
        by_title = self.store.page_by_title(src.title)
        if by_title is not None and by_title.page_id not in self.seen:
            return by_title.page_id
        return src.page_id if here is None else self.fresh_pages.take()

    def _revisions(self, revs: History, rev_keys: list[int], target: int, have: set[int]) -> None:
        """The revisions the page lacks, as the dump has them, parents renumbered with them."""
        ids: dict[int, int] = {}
        for rev, k in zip(revs, rev_keys):
            if k in have:
                self.res.revisions_present += 1
                continue
            rid = rev.rev_id
            if self.store.revision_sha1(rid) is not None:
                rid = self.fresh_revs.take()
            ids[rev.rev_id] = rid
            parent = ids.get(rev.parent_id, rev.parent_id) if rev.parent_id else None
            self.store.put_revision(replace(rev, rev_id=RevId(rid), page_id=PageId(target), parent_id=parent))
            have.add(k)
            self.res.revisions_added += 1
