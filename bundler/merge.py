"""The three-way merge of wikitext: two texts made from one base, merged line by line
(formats/BUNDLE.md §Landing a return, step 6; landing.py applies it).

``three_way(base, ours, theirs)`` takes the trivial cases first: if *ours* equals
*theirs* or *theirs* is the base, the result is *ours*; if *ours* is the base, it is
*theirs*. Otherwise each non-empty text gets one ``\n`` appended (MediaWiki trims
trailing whitespace, so the last line stays comparable) and is split into lines
keeping their ends (``str.splitlines``); ``merge3`` (bzr/breezy's algorithm) cuts the
three into regions: unchanged, changed on one side, changed alike on both, or in
conflict. Any conflict region means no merge: the result names the regions and has no
text, so no caller looks for ``<<<<<<<`` in a text. Else the merged lines, joined.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator

import merge3

from .model import Page, PageId, RevId, Revision


@dataclass(frozen=True, slots=True)
class Conflict:
    """A region both sides changed differently: line spans ``(start, end)`` of each text."""

    base: tuple[int, int]
    ours: tuple[int, int]
    theirs: tuple[int, int]


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The merged text, or (``text`` None) the regions that conflict."""

    text: str | None
    conflicts: tuple[Conflict, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.conflicts


def three_way(base: str, ours: str, theirs: str) -> MergeResult:
    """The clean line-by-line merge of two texts made from ``base`` (see the module docstring)."""
    if ours == theirs or theirs == base:
        return MergeResult(ours)
    if ours == base:
        return MergeResult(theirs)
    m = merge3.Merge3(_lines(base), _lines(ours), _lines(theirs))
    conflicts = tuple(
        Conflict((r[1], r[2]), (r[3], r[4]), (r[5], r[6])) for r in m.merge_regions() if r[0] == "conflict"
    )
    if conflicts:
        return MergeResult(None, conflicts)
    return MergeResult("".join(m.merge_lines()))


def _lines(text: str) -> list[str]:
    # MediaWiki trims trailing whitespace; a final newline keeps the last line comparable.
    return (text + "\n").splitlines(keepends=True) if text else []


class StoreTarget:
    """What landing a return needs of a wiki, on the embedded store (one transaction).

    A MediaWiki offers the same (``targets/mediawiki_return.py``): the landing
    rules live once, in ``ReturnApplier``."""

    keeps_user = True  # edits keep the offline author's name (a MediaWiki edits as the bot)

    def __init__(self, store, sender: str, edit_ids: range):
        self.store = store
        self.sender = sender
        self.ids = edit_ids

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.store.transaction():
            yield

    def find_page(self, peer_page_id: int) -> int | None:
        local = self.store.page_origin(self.sender, peer_page_id)
        if local is None and self.store.page(peer_page_id) is not None:
            local = peer_page_id
        return local

    def page(self, page_id: int):
        return self.store.page(page_id)

    def page_by_title(self, title: str) -> Page | None:
        return self.store.page_by_title(title)

    def head(self, page_id: int) -> Revision | None:
        return self.store.head(page_id)

    def get_text(self, rev_id: int) -> str | None:
        return self.store.get_text(rev_id)

    def revision_sha1(self, rev_id: int) -> str | None:
        return self.store.revision_sha1(rev_id)

    def revision_keys(self, page_id: int) -> list[Revision]:
        """The page's revisions in history order, without text, with attribution."""
        return list(self.store.revision_meta(page_id).values())

    def siteinfo(self):
        return self.store.siteinfo()

    def origin(self, peer_rev_id: int) -> int | None:
        return self.store.origin(self.sender, peer_rev_id)

    def record_origin(self, peer_rev_id: int, rev_id: int) -> None:
        self.store.record_origin(self.sender, peer_rev_id, rev_id)

    def record_page_origin(self, peer_page_id: int, page_id: int) -> None:
        self.store.record_page_origin(self.sender, peer_page_id, page_id)

    def new_page(self, peer_page_id: int | None, namespace: int, title: str, redirect: str | None) -> int:
        """A new page, under the peer's id if that is free here (None: a page of our own)."""
        s = self.store
        free = peer_page_id is not None and s.page(peer_page_id) is None
        pid = peer_page_id if free else s.next_id("page", "page_id", self.ids)
        s.put_page(Page(PageId(pid), namespace, title, redirect))
        if peer_page_id is not None and pid != peer_page_id:
            s.record_page_origin(self.sender, peer_page_id, pid)
        return pid

    def resolve(self, page_id: int) -> int:
        return page_id

    def restore_deleted(self, title: str, reason: str) -> int | None:
        return None  # the store keeps a deleted page under its id: find_page finds it

    def edit(self, page_id: int, title: str, head: Revision | None, text: str | None, user: str | None,
             comment: str, minor: bool, stamp: int, like: Revision | None) -> Revision:
        rev = Revision(
            rev_id=RevId(self.store.next_id("revision", "rev_id", self.ids)),
            page_id=PageId(page_id),
            timestamp=stamp,
            text=text,
            user=user,
            comment=comment,
            parent_id=head.rev_id if head else None,
            minor=minor,
            model=like.model if like else (head.model if head else "wikitext"),
            format=like.format if like else (head.format if head else "text/x-wiki"),
            sha1=like.sha1 if like is not None and text is None else "",
        )
        self.store.put_revision(rev)
        return rev

    def move(self, page_id: int, namespace: int, new_title: str, reason: str) -> None:
        page, _deleted = self.store.page(page_id)
        self.store.put_page(Page(page.page_id, namespace, new_title, page.redirect))

    def delete(self, page_id: int, reason: str) -> None:
        self.store.delete_page(page_id)

    def undelete(self, page_id: int, title: str, reason: str) -> None:
        page, _deleted = self.store.page(page_id)
        self.store.put_page(replace(page, title=title))


# Landing a return moved to landing.py; these names are still found here for the
# branches that import them from merge (remove once no importer is left).
_MOVED = ("Changes", "MERGE_USER", "PageWork", "ReturnApplier", "ReturnOutcome", "edit_ids")


def __getattr__(name: str):
    if name in _MOVED:
        from . import landing  # lazily: landing imports three_way from here

        return getattr(landing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
