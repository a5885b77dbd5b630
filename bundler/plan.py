"""What a peer lacks of one page: the per-page diff of ``bundle make``.

For each page of the source, ``PagePlanner.changes`` finds which page of the
peer's it is (``match``), which of its revisions the peer lacks and the ids it
will know them by, which held ones changed attribution or visibility, and
whether the page moved. The result, ``PageChanges``, says what to carry; it
reads no text until ``carried()`` is iterated, and writes nothing but the ids it
hands out.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple

from .history import History, history_of
from .identity import FRESH, FreshIds, Held, mkey, page_rkeys, partial_rkeys
from .model import Deleted, Page, PageHistory, PageId, RevId, Revision, Slot
from .similar import GROWTH, GROWTH_MIN, NO_CHOICE, Choice, HeldTexts
from .state import PageView, PeerView, State

def _renumber(rev: Revision, rev_id: int, page_id: int, ids: dict[int, int]) -> Revision:
    parent = ids.get(rev.parent_id) if rev.parent_id is not None else None
    if rev_id == rev.rev_id and page_id == rev.page_id and parent == rev.parent_id:
        return rev
    return dataclasses.replace(rev, rev_id=RevId(rev_id), page_id=PageId(page_id), parent_id=parent)


def _text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Carried(NamedTuple):
    """One revision to carry: in the peer's ids, with the text of its page it is
    based on, and (``cross``) held texts of other pages like it (``similar.py``),
    which the filler may code it against instead."""

    rev: Revision
    base_id: int | None
    base_text: str | None
    rkey: int
    cross: Choice | None = None
    base_slots: tuple[Slot, ...] | None = None  # the base revision's non-main slots (None: not known)


class Update(NamedTuple):
    """A held revision whose attribution or visibility changed (``rev`` without text)."""

    rev: Revision
    mkey: int
    rkey: int


@dataclass
class PageChanges:
    """What the peer lacks of one page. ``close()`` once carried (it holds the history)."""

    page: Page  # under the id the peer knows it by
    hist: History
    keys: list[int]
    view: PageView | None
    latest_only: bool
    ids: dict[int, int] = field(default_factory=dict)  # source rev_id -> the id the peer knows it by
    new: set[int] = field(default_factory=set)  # rkeys of the revisions the peer lacks
    updates: list[Update] = field(default_factory=list)
    # Held texts of other pages like a text (similar.HeldTexts.choose for this page); None: none sought.
    choose: Callable[[str, bool], Choice] | None = None

    @property
    def alive(self) -> bool:
        """The peer holds the page, not deleted."""
        return self.view is not None and not self.view.deleted

    @property
    def moved(self) -> bool:
        return self.alive and self.view is not None and self.view.title != self.page.title

    @property
    def n_carry(self) -> int:
        return min(len(self.new), 1) if self.latest_only else len(self.new)

    def empty(self) -> bool:
        return not self.n_carry and not self.updates and self.alive and not self.moved

    def close(self) -> None:
        self.hist.close()

    def carried(self) -> Iterator[Carried]:
        """The revisions the peer lacks, in history order, one at a time. Each is
        based on the newest text the receiver has of the page by then (one it holds,
        or the previous one carried); ``latest_only``: just the newest, based on the
        newest held text.

        A revert to a text the receiver holds travels as a copy of it, not as a delta
        against the vandalised text. Only held texts can be bases out of order (a
        frame's dictionary holds only texts the receiver has before it decodes the
        frame); they are remembered by sha1 and a digest, not kept: a revert's text is
        the held text itself, so it serves as its own base.

        A revision with no base of its page (a new page's first), or whose text grows
        far beyond its base, is offered held texts of other pages (``_cross``).
        """
        ids: dict[int, int] = {}  # as far as the history has been read: a parent later in it is not mapped
        base_id: int | None = None
        base_text: str | None = None
        base_slots: tuple[Slot, ...] = ()
        by_sha1: dict[str, tuple[int, bytes]] = {}
        last = None
        for rev, k in zip(self.hist, self.keys):
            rid = ids[rev.rev_id] = self.ids[rev.rev_id]
            if k not in self.new:
                if rev.text is not None:
                    base_id, base_text, base_slots = rid, rev.text, rev.slots
                    if rev.sha1 not in by_sha1:
                        by_sha1[rev.sha1] = (rid, _text_digest(rev.text))
                continue
            same = by_sha1.get(rev.sha1) if rev.text is not None else None
            if same is not None and same[1] == _text_digest(rev.text):
                # (A revert's base is an older held revision: its slots are not kept; they travel whole.)
                bid, btext, bslots = same[0], rev.text, (base_slots if same[0] == base_id else None)
            else:
                bid, btext, bslots = base_id, base_text, base_slots
            item = Carried(_renumber(rev, rid, self.page.page_id, ids), bid, btext, k, base_slots=bslots)
            if self.latest_only:
                last = item
                continue
            yield self._cross(item)
            if rev.text is not None:
                base_id, base_text, base_slots = rid, rev.text, rev.slots
        if last is not None:
            yield self._cross(last)

    def _cross(self, c: Carried) -> Carried:
        """``c`` coded against held texts of other pages, where some are like it."""
        text = c.rev.text
        if self.choose is None or text is None:
            return c
        if c.base_text is None:
            ch = self.choose(text, True)
        elif len(text) >= GROWTH * len(c.base_text) and len(text) - len(c.base_text) >= GROWTH_MIN:
            ch = self.choose(text, False)  # mostly new text: its own base stays, the others prime the coder
        else:
            return c
        return c if ch is NO_CHOICE else c._replace(cross=ch)


class _Match(NamedTuple):
    page_id: int
    view: PageView | None
    held: Held
    read: tuple[History, list[int]] | None  # (history, keys) if matching had to read it


class PagePlanner:
    """Finds, page by page, what the peer lacks at ``view``."""

    def __init__(self, st: State, view: PeerView, *, until: int | None, latest_only: bool,
                 held_texts: HeldTexts | None = None) -> None:
        self.view = view
        self.held_texts = held_texts  # the receiver's texts of the pages read so far, for cross-page bases
        self.until = until
        self.latest_only = latest_only
        # Ids the peer has never seen keep their source value; a clash (a source
        # that renumbered its ids) gets a fresh id from a range no wiki reaches.
        self.fresh_revs = FreshIds(FRESH, view.highest_rev_id(FRESH), "revision ids for a peer")
        self.fresh_pages = FreshIds(FRESH, view.highest_page_id(FRESH), "page ids for a peer")
        self.peer_sends = st.has_received(view.peer)
        self.claimed_revs: set[int] = set()
        self.seen = st.page_set("seen_pages")  # the peer's pages matched so far; the rest were deleted

    def changes(self, ph: PageHistory) -> PageChanges | None:
        """What the peer lacks of this page; None when nothing."""
        # (The history is read in ``_match`` when ids alone cannot tell the page: a
        # dump, or a page unknown by id to a peer that has sent us pages.)
        m = self._match(ph)
        if m is None:
            if self.held_texts is not None:
                self._note(ph)
            return None  # (fast path) nothing new on a page the peer holds
        hist, keys = m.read if m.read is not None else self._read(ph, m.held)
        try:
            ch = self._plan(ph, m, hist, keys)
        except BaseException:
            hist.close()
            raise
        if ch is None:
            hist.close()
        return ch

    def _read(self, ph: PageHistory, held: Held) -> tuple[History, list[int]]:
        hist = history_of(ph.revisions, until=self.until)
        # A partial history (a MediaWiki's new revisions and their base) counts
        # repeats of (timestamp, sha1) against what the peer holds of the page.
        return hist, partial_rkeys(hist.meta(), held) if ph.partial else page_rkeys(hist.meta())

    def _match(self, ph: PageHistory) -> _Match | None:
        """Which page of the peer's this source page is.

        By page id when the histories agree (the normal case: ids are stable); else by
        shared revisions (a source that renumbered its pages); else a new page, under
        its own id if the peer has never seen that id. None when the page is unchanged
        (fast path, only for sources with stable ids).
        """
        pv, src = self.view, ph.page
        view = pv.page(src.page_id)
        held = pv.revs(src.page_id) if view is not None else {}
        if ph.rev_ids is not None:
            if view is not None and not view.deleted and view.title == src.title and not ph.changed \
                    and ph.rev_ids <= {rid for rid, _m in held.values()}:
                self.seen.add(src.page_id)
                return None
            if view is not None or not self.peer_sends:
                return _Match(src.page_id, view, held, None)
            # A page the peer does not know by this id may still be one it sent us (a page
            # made here from its return under another id): match by revisions below.
        hist, keys = self._read(ph, held)
        claimed = src.page_id in self.seen
        if view is not None and not claimed and (not keys or any(k in held for k in keys)):
            return _Match(src.page_id, view, held, (hist, keys))
        for pid, _n in pv.pages_holding(keys[:64]):
            if pid not in self.seen:
                return _Match(pid, pv.page(pid), pv.revs(pid), (hist, keys))
        pid = src.page_id
        if claimed or pv.page_id_taken(pid, keys):
            pid = self.fresh_pages.take()
        return _Match(pid, None, {}, (hist, keys))

    def _plan(self, ph: PageHistory, m: _Match, hist: History, keys: list[int]) -> PageChanges | None:
        if not keys:
            return None  # after --until: the page does not exist yet
        self.seen.add(m.page_id)
        src = ph.page
        page = Page(PageId(m.page_id), src.namespace, src.title, src.redirect)
        ch = PageChanges(page, hist, keys, m.view, self.latest_only)
        if self.held_texts is not None:
            if ch.alive:
                self._index(m.page_id, page, hist, [m.held[k][0] if k in m.held else None for k in keys])
            ch.choose = lambda text, base: self.held_texts.choose(page.page_id, page.namespace, page.title, text, base=base)
        self._assign_ids(ch, m.held)
        return None if ch.empty() else ch

    def _note(self, ph: PageHistory) -> None:
        """Note an unchanged page for ``held_texts``: every revision held, under the source's
        ids (the fast path's condition). Its highest id stands for its newest text (any
        held text is a valid base; the newest is only the likeliest): no revision is
        read, and the text only if a new page asks (hidden there: the page is left out)."""
        assert self.held_texts is not None
        if ph.rev_ids:
            self.held_texts.note(ph.page.page_id, ph.page.namespace, ph.page.title, max(ph.rev_ids))

    def _index(self, page_id: int, page: Page, hist: History, held_ids: list[int | None]) -> None:
        """Put the newest text the peer holds of a page it holds alive (``held_ids``: per
        revision, the id the peer knows it by, None if it lacks it) in ``held_texts``.
        (The metadata pass finds which revision; only then are texts read, up to it.)"""
        newest = None
        for i, (rev, rid) in enumerate(zip(hist.meta(), held_ids)):
            if rid is not None and not rev.deleted & Deleted.TEXT:
                newest = i
        if newest is None:
            return
        for i, rev in enumerate(hist):
            if i == newest:
                if rev.text is not None:
                    assert self.held_texts is not None
                    self.held_texts.add(page_id, page.namespace, page.title, held_ids[i], rev.text)
                return

    def _assign_ids(self, ch: PageChanges, held: Held) -> None:
        """Give each revision the peer lacks its id (``held`` then includes them), and
        note the held ones whose attribution or visibility changed since they were sent."""
        for rev, k in zip(ch.hist.meta(), ch.keys):
            if k in held:
                hid, hm = held[k]
                ch.ids[rev.rev_id] = hid
                m = mkey(rev)
                if m != hm:
                    ch.updates.append(Update(_renumber(rev, hid, ch.page.page_id, ch.ids), m, k))
                continue
            rid = rev.rev_id
            if rid in self.claimed_revs or self.view.rev_id_taken(rid, k):
                rid = self.fresh_revs.take()
            self.claimed_revs.add(rid)
            ch.ids[rev.rev_id] = rid
            ch.new.add(k)
            held[k] = (rid, 0)
