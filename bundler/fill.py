"""Filling a bundle: frames of pages, revisions, moves and deletions, under a size budget.

``Filler`` owns the open ``FrameBuilder``, the ``BundleWriter`` it flushes to, the
``Budget`` of ``--max-size`` and the counts that end up in the header. It is told
what to carry (``plan.PageChanges``, deletions) and decides what fits.
"""

from __future__ import annotations

from . import wire
from .coder import frame_coder_choice
from .container import BundleWriter, Counts
from .files import FilesSent
from .identity import mkey
from .model import FILE_NS, PageDelete, PageMove
from .plan import Carried, PageChanges
from .records import FrameBuilder, frame_capabilities
from .similar import HeldTexts

# Under --max-size, the delta operations of the revisions found to fit are kept for
# adding them, up to this much of ``FrameBuilder.revision_cost``; beyond, they are
# computed again (a first bundle of a long history may fit far more than a frame).
HELD_OPS_COST = 16 << 20

# A frame with no dictionary takes texts of other pages (and so a dictionary) only
# while its payload is smaller than this (``Filler._cross``).
CROSS_DICTLESS_RAW = 32 << 10

# A frame whose new text is this long at least is also tried with held texts on its
# subjects in its dictionary (``Filler._with_context``) ...
CONTEXT_MIN_INSERTED = 2048
# ... up to this many bytes of them, and so much that dictionary, context and payload stay
# within CONTEXT_TOTAL: PPMd's model (coder.WRITE_MAX_MEM, 64 MiB) holds about 1 MiB of
# input before it restarts (eslagunanegra q=0.9 with 1.14 MB: 20% larger, not smaller).
CONTEXT_MAX = 768 << 10
CONTEXT_TOTAL = 1 << 20

HeldRow = tuple[int, int, int, int]  # (page_id, rev_id, rkey, mkey), as State.record_held_revs takes them


class OverBudget(Exception):
    """Internal: the bundle came out larger than ``max_size``; make again with a smaller target."""

    def __init__(self, size: int):
        self.size = size


class Budget:
    """Estimates the finished bundle's size while it is being filled.

    Compressed size is known only for frames already written; the open frame is
    estimated with the compression ratio seen so far (0.5 before the first
    frame), plus room for the header and trailer.
    """

    OVERHEAD = 2048

    def __init__(self, limit: int):
        self.limit = limit
        self.raw = 0
        self.comp = 0

    def flushed(self, raw: int, comp: int) -> None:
        self.raw += raw
        self.comp += comp

    def ratio(self) -> float:
        return max(0.02, min(1.0, self.comp / self.raw)) * 1.1 if self.raw > 16384 else 0.5

    def fits(self, written: int, open_raw: int) -> bool:
        return written + open_raw * self.ratio() + self.OVERHEAD <= self.limit

    def should_flush(self, written: int, open_raw: int) -> bool:
        """Close the open frame once it may take half of what is left: the ratio
        is then learnt from real frames, and the estimate tightens as the bundle fills."""
        left = self.limit - written - self.OVERHEAD
        return open_raw > 16384 and open_raw * self.ratio() > left / 2


class Filler:
    """Adds pages and deletions to frames, flushes them to the writer, and counts."""

    def __init__(self, writer: BundleWriter, budget: Budget | None, held_texts: HeldTexts | None = None) -> None:
        self.writer = writer
        self.budget = budget
        self.held_texts = held_texts  # the receiver's texts, for context (similar.HeldTexts.related)
        self.fb = self._frame()
        self.pages = self.revisions = self.moves = self.deletions = self.updates = 0
        self.text_bytes = 0  # UTF-8 bytes of the carried texts
        self.raw_total = 0  # uncompressed payload bytes of the frames written
        self.by_ns: dict[int, list[int]] = {}  # namespace -> [revisions, inserted characters]
        self.deferred = 0  # pages (or deletions) left for the next bundle by the budget
        self.file_pages = {"deleted": 0, "moved": 0}  # File: pages (the file goes with its page)
        self.capabilities: set[str] = set()  # what the frames written need beyond v1 (a PPMd coder)

    def flush(self) -> None:
        if self.fb.empty():
            return
        meta, body, raw_len = self._with_context(*self.fb.build(compact=self.writer.compact, coder=self.writer.coder))
        self.writer.add_frame(meta, body, raw_len)
        self.capabilities.update(frame_capabilities(meta, self.fb))
        self.raw_total += raw_len
        if self.budget:
            self.budget.flushed(raw_len, len(body))
        self.text_bytes += self.fb.text_bytes
        known = self.fb.known_pages
        self.fb = self._frame()
        self.fb.known_pages = known  # still known to the receiver in the next frame

    def _with_context(self, meta: dict, body: bytes, raw_len: int) -> tuple[dict, bytes, int]:
        """The frame built again with held texts on the subjects of its new text in its
        dictionary, where that is smaller (counting the ids ``dict`` names them by); else
        as it was. Only for a PPMd frame's choice: zstd codes a large frame worse with a
        raw dictionary than without (see ``_cross``), and a version-1 reader has no PPMd."""
        fb = self.fb
        room = min(CONTEXT_MAX, CONTEXT_TOTAL - fb.dict_bytes - raw_len)
        if (self.held_texts is None or fb.inserted < CONTEXT_MIN_INSERTED or room < CONTEXT_MIN_INSERTED
                or frame_coder_choice(self.writer.coder) == "zstd"):
            return meta, body, raw_len
        ctx = self.held_texts.related(fb.cols["ins"], room, lambda rev_id: rev_id in fb.dict_index)
        if not ctx:
            return meta, body, raw_len
        n, cost = len(fb.dict_revs), len(body) + len(wire.packb(meta))  # (meta["dict"] is fb's list: count it now)
        for h in sorted(ctx, key=lambda h: h.rev_id):  # ascending: small dict differences (§Compact frames)
            fb.add_context(h.rev_id, h.text)
        tried = fb.build(compact=self.writer.compact, coder="ppmd")  # (zstd: slow with such a dictionary, and larger)
        if len(tried[1]) + len(wire.packb(tried[0])) < cost:
            return tried
        fb.drop_context_after(n)
        return meta, body, raw_len

    def _frame(self) -> FrameBuilder:
        # Slot deltas (capability slot-delta-v1) only for readers of version 2 and later:
        # a receiver that asked for version 1 knows nothing newer.
        return FrameBuilder(slot_deltas=self.writer.compact)

    def flush_if_full(self) -> None:
        if self.fb.full():
            self.flush()

    def fits(self, extra_raw: int) -> bool:
        return self.budget is None or self.budget.fits(self.writer.frame_bytes, self.fb.raw_estimate + extra_raw)

    def room(self) -> int | None:
        """Bytes left under the budget (None: no budget)."""
        return None if self.budget is None else self.budget.limit - self.writer.frame_bytes - Budget.OVERHEAD

    def add_page(self, ch: PageChanges) -> list[HeldRow] | None:
        """Add what fits of the page: its move, updates, and revisions; the rows the
        peer will hold. None: nothing of it fits (it waits for the next bundle)."""
        kept: list | None = None  # under a budget: ops of the revisions that fit (None: compute again)
        if self.budget is not None:
            kept = self._fit(ch)
            if kept is None:
                return None
        page = ch.page
        if ch.moved:
            assert ch.view is not None
            self.fb.add_move(PageMove(page.page_id, page.namespace, ch.view.title, page.title))
            self.moves += 1
            self.file_pages["moved"] += page.namespace == FILE_NS
        if ch.alive and not ch.moved:
            self.fb.known_pages.add(page.page_id)  # its title need not travel
        self.fb.add_page(page)
        self.pages += 1
        rows = []
        for u in ch.updates:
            self.fb.add_update(page, u.rev)
            rows.append((page.page_id, u.rev.rev_id, u.rkey, u.mkey))
        self.updates += len(ch.updates)
        n_kept = ch.n_carry if kept is None else len(kept)
        carried = ch.carried()
        for i, c in zip(range(n_kept), carried):
            before = self.fb.inserted
            base_id, base_text = self._cross(c)
            ops = kept[i] if kept is not None and base_id == c.base_id else None
            self.fb.add_revision(page, c.rev, base_id, base_text, ops, c.base_slots if base_id == c.base_id else None)
            rows.append((page.page_id, c.rev.rev_id, c.rkey, mkey(c.rev)))
            ns_row = self.by_ns.setdefault(page.namespace, [0, 0])
            ns_row[0] += 1
            ns_row[1] += self.fb.inserted - before
            if self.fb.full() or (self.budget and self.budget.should_flush(self.writer.frame_bytes, self.fb.raw_estimate)):
                self.flush()
        carried.close()
        self.revisions += n_kept
        return rows

    def _cross(self, c: Carried) -> tuple[int | None, str | None]:
        """The base the revision is coded against, after the held texts of other pages
        chosen for it (``c.cross``) went in the frame's dictionary, where they may.

        They may where the frame has a dictionary already, or gets one from this
        revision's own base, or is still small: zstd codes a frame worse with any
        dictionary than with none, the more so the larger the frame (libzstd 1.5.4,
        level 19, the first N bytes of FreeCAD's new.xml with a 10-byte raw dictionary
        against none: +0.3% at 5 KB, +2.5% at 20 KB, +13% at 128 KB, +20% at 528 KB),
        so a large frame of new pages alone stays without one. (Under --max-size,
        ``_fit`` costs the revision on its own base.)"""
        x = c.cross
        if x is None or not (self.fb.dict_bytes or c.base_id is not None or self.fb.raw_estimate < CROSS_DICTLESS_RAW):
            return c.base_id, c.base_text
        for h in x.context:
            self.fb.add_context(h.rev_id, h.text)
        return (x.base.rev_id, x.base.text) if x.base is not None else (c.base_id, c.base_text)

    def _fit(self, ch: PageChanges) -> list | None:
        """Whole pages where they fit, else the oldest revisions that fit (so no
        revision travels without its parent); the rest waits. The ops of those that
        fit, or None when the page waits whole."""
        head = 64 + len(ch.page.title) * 2 + sum(40 + len(u.rev.comment or "") for u in ch.updates)
        if not self.fits(head):
            self.deferred += 1
            return None
        kept: list = []
        cost = head
        for c in ch.carried():
            ops = FrameBuilder.revision_ops(c.rev, c.base_text if c.base_id is not None else None)
            rc = FrameBuilder.revision_cost(c.rev, ops)
            if not self.fits(cost + rc):
                break
            cost += rc
            kept.append(ops if cost - head <= HELD_OPS_COST else None)
        if len(kept) < ch.n_carry:
            self.deferred += 1
            # Nothing of its history fits: a new (or undeleted) page waits whole,
            # and so does a held one unless it has a move or updates to carry.
            if not kept and (not ch.alive or not (ch.moved or ch.updates)):
                return None
        return kept

    def add_deletion(self, d: PageDelete) -> bool:
        """Carry the deletion if it fits (else it waits for the next bundle)."""
        if not self.fits(32 + len(d.title)):
            self.deferred += 1
            return False
        self.fb.add_delete(d)
        self.deletions += 1
        self.file_pages["deleted"] += d.namespace == FILE_NS
        return True

    def carried_anything(self, fsent: FilesSent) -> bool:
        return bool(self.revisions or self.moves or self.deletions or self.updates or fsent.versions)

    def counts(self) -> Counts:
        return Counts(
            pages=self.pages, revisions=self.revisions, moves=self.moves, deletions=self.deletions,
            updates=self.updates, frames=self.writer.frames, text_bytes=self.text_bytes,
        )

    def breakdown(self, fsent: FilesSent) -> dict:
        inserted = sum(v[1] for v in self.by_ns.values())
        return {
            "namespaces": {str(ns): v for ns, v in sorted(self.by_ns.items())},  # msgpack map keys are strings here
            "inserted": inserted,
            "metadata": max(0, self.raw_total - inserted),
            **self._files_breakdown(fsent),
        }

    def _files_breakdown(self, fsent: FilesSent) -> dict:
        """BUNDLE.md §Files: what the file frames hold, and (``deleted``, ``moved``, written
        only when not 0) the File: pages deleted or moved, whose files go with them."""
        f = {**(fsent.breakdown() if fsent.versions else {}), **{k: v for k, v in self.file_pages.items() if v}}
        return {"files": f} if f else {}
