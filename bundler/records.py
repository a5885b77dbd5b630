"""Frame payloads: pages, revisions, moves and deletions, coded by column.

One frame's payload (formats/BUNDLE.md §Records) is one msgpack map whose
columns hold the same field of every revision side by side — ids and timestamps
as small differences, users and content models as indexes into tables, texts as
character deltas (``delta.py``) — then compressed, with the receiver's copies of
the base texts the frame builds on as the dictionary, by zstd (a raw dictionary) or
by PPMd primed with them (``coder.py``), whichever is smaller. The frame meta
names those base revisions, so the receiver can rebuild the dictionary from its
own store, and carries SHA-256 checks of the dictionary and of the result.
This module writes frames; ``frame_reader.py`` reads them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterator

from . import coder as ppmd
from . import wire
from .container import SLOT_DELTA_CAPABILITY
from .slots import slot_entry
from .delta import Op, text_delta
from .errors import FormatError
from .fields import is_int
from .model import Page, PageDelete, PageMove, Revision, SiteInfo, Slot, text_sha1

ZSTD_LEVEL = 19
FRAME_TARGET_RAW = 8 << 20  # payload bytes per frame before it is closed
FRAME_MAX_TEXT = 256 << 20  # rebuilt text bytes per frame before it is closed (the reader allows 1 GiB)
FRAME_MAX_DICT = 16 << 20  # dictionary bytes per frame before it is closed (bounds make's memory)

# Reader limits (BUNDLE.md §Limits): what a frame may ask of the receiver.
MAX_DICT_TEXTS = 1 << 20
MAX_DICT_CHARS = 256 << 20
MAX_REBUILT_CHARS = 1 << 30

PARENT_IS_BASE = 0  # "par" column: the parent is the revision the text is based on

BASE_NONE = -1  # full text
BASE_PREVIOUS = 0  # the previous revision of the same page in this frame
# k >= 1: meta["dict"][k - 1]


@dataclass(slots=True)
class FrameContent:
    siteinfo: SiteInfo | None
    pages: list[Page]
    revisions: Iterator[Revision]  # consume fully: the frame's text check runs at the end
    moves: list[PageMove]
    deletes: list[PageDelete]
    updates: list[Revision]  # metadata only: text is None, sha1 empty


@dataclass(slots=True)
class FrameBuilder:
    pages: list[list] = field(default_factory=list)
    page_index: dict[int, int] = field(default_factory=dict)
    cols: dict[str, list] = field(default_factory=lambda: {k: [] for k in _REV_COLS})
    users: dict[tuple, int] = field(default_factory=dict)
    models: dict[tuple, int] = field(default_factory=dict)
    dict_revs: list[int] = field(default_factory=list)
    dict_index: dict[int, int] = field(default_factory=dict)
    dict_texts: list[bytes] = field(default_factory=list)
    dict_bytes: int = 0
    last_in_frame: dict[int, int] = field(default_factory=dict)  # page_id -> rev_id
    known_pages: set[int] = field(default_factory=set)  # pages whose title the receiver has
    moves: list[list] = field(default_factory=list)
    deletes: list[list] = field(default_factory=list)
    updates: list[list] = field(default_factory=list)
    siteinfo: dict | None = None
    text_hash: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    raw_estimate: int = 0
    prev_id: int = 0
    prev_ts: int = 0
    n_revs: int = 0
    text_bytes: int = 0
    inserted: int = 0  # characters inserted by the deltas of this frame
    slot_deltas: bool = False  # may non-main slots travel as deltas (capability slot-delta-v1)?
    used_slot_deltas: bool = False  # did one?

    def empty(self) -> bool:
        return not (self.pages or self.moves or self.deletes or self.updates or self.siteinfo)

    def full(self) -> bool:
        return (
            self.raw_estimate >= FRAME_TARGET_RAW or self.dict_bytes >= FRAME_MAX_DICT or self.text_bytes >= FRAME_MAX_TEXT
        )

    def add_page(self, page: Page) -> int:
        """Pages in ``known_pages`` the receiver holds under this title: their title is left out."""
        idx = self.page_index.get(page.page_id)
        if idx is None:
            idx = len(self.pages)
            self.page_index[page.page_id] = idx
            known = page.page_id in self.known_pages
            self.pages.append([page.page_id, page.namespace, None if known else page.title, page.redirect])
            self.raw_estimate += 16 + (0 if known else len(page.title))
        return idx

    def add_move(self, move: PageMove) -> None:
        self.moves.append([move.page_id, move.namespace, move.old_title, move.new_title])
        self.raw_estimate += 16 + len(move.old_title) + len(move.new_title)

    def add_delete(self, d: PageDelete) -> None:
        self.deletes.append([d.page_id, d.namespace, d.title])
        self.raw_estimate += 16 + len(d.title)

    def add_update(self, page: Page, rev: Revision) -> None:
        """New attribution or visibility for a revision the receiver holds."""
        self.add_page(page)
        self.updates.append(
            [rev.rev_id, rev.user, rev.user_id, rev.comment, int(rev.minor) | (int(rev.deleted) << 1)]
        )
        self.raw_estimate += 24 + len(rev.user or "") + len(rev.comment or "")

    @staticmethod
    def revision_ops(rev: Revision, base_text: str | None) -> list[Op]:
        if rev.text is None:
            return []
        return text_delta(base_text or "", rev.text)

    @staticmethod
    def revision_cost(rev: Revision, ops: list[Op]) -> int:
        """What adding this revision adds to ``raw_estimate``."""
        return 24 + len(rev.comment or "") + sum(len(t) + 4 for _, t, _ in ops) + sum(len(s.text or "") for s in rev.slots)

    def add_revision(
        self, page: Page, rev: Revision, base_id: int | None, base_text: str | None, ops: list[Op] | None = None,
        base_slots: tuple[Slot, ...] | None = None,
    ) -> None:
        """Add ``rev``; ``base_id``/``base_text`` name a text the receiver holds by then,
        ``base_slots`` that revision's non-main slots (None: unknown; its slots then travel whole)."""
        c = self.cols
        c["pg"].append(self.add_page(page))
        c["id"].append(rev.rev_id - self.prev_id)
        self.prev_id = rev.rev_id
        c["ts"].append(rev.timestamp - self.prev_ts)
        self.prev_ts = rev.timestamp
        c["u"].append(self.users.setdefault((rev.user, rev.user_id), len(self.users)))
        c["cm"].append(rev.comment)
        c["fl"].append(int(rev.minor) | (int(rev.deleted) << 1))
        c["mf"].append(self.models.setdefault((rev.model, rev.format), len(self.models)))
        if rev.text is None:
            base = BASE_NONE
            ops: list[Op] = []
            c["hs"].append([len(c["pg"]) - 1, bytes.fromhex(rev.sha1) if rev.sha1 else b""])
        else:
            if base_id is None or base_text is None:
                base = BASE_NONE
                base_text = None
            elif self.last_in_frame.get(rev.page_id) == base_id:
                base = BASE_PREVIOUS
            else:
                base = self._dict_ref(base_id, base_text)
            if ops is None:
                ops = self.revision_ops(rev, base_text)
            self.text_hash.update(bytes.fromhex(rev.sha1))
            self.text_bytes += len(rev.text.encode("utf-8"))
        # The parent is nearly always the base revision: 0 says so in one byte.
        if rev.parent_id is None or rev.parent_id == rev.rev_id:
            par = None
        elif base != BASE_NONE and rev.parent_id == base_id:
            par = PARENT_IS_BASE
        else:
            par = rev.rev_id - rev.parent_id
        c["par"].append(par)
        c["b"].append(base)
        c["n"].append(len(ops))
        for s, t, k in ops:
            c["sc"].append(s)
            c["sc"].append(k)
            c["ins"].append(t)
        if rev.slots:
            on_base = base_slots if base != BASE_NONE and rev.text is not None and self.slot_deltas else None
            c["sl"].append([len(c["pg"]) - 1, [self._slot_entry(s, on_base) for s in rev.slots]])
        self.raw_estimate += self.revision_cost(rev, ops)
        self.inserted += sum(len(t) for _, t, _ in ops)
        if rev.text is not None:
            self.last_in_frame[rev.page_id] = rev.rev_id
        self.n_revs += 1

    def _slot_entry(self, s: Slot, base_slots: tuple[Slot, ...] | None) -> list:
        """The ``sl`` entry of one slot (``slots.slot_entry``); a slot sent as a delta has
        its SHA-1 in ``text_sha256``, as the receiver rebuilds it."""
        entry, ops = slot_entry(s, base_slots)
        if ops is not None and s.text is not None:
            self.used_slot_deltas = True
            self.text_hash.update(bytes.fromhex(text_sha1(s.text)))
            self.inserted += sum(len(t) for _, t, _ in ops)
        return entry

    def add_context(self, rev_id: int, text: str) -> None:
        """Put a text the receiver holds (any page's) in the frame's dictionary, though no
        delta names it: the coder finds its strings (BUNDLE.md §Frame meta, ``dict``)."""
        self._dict_ref(rev_id, text)

    def drop_context_after(self, n: int) -> None:
        """Take back the dictionary's texts after its first ``n`` (context added for a try)."""
        for r in self.dict_revs[n:]:
            del self.dict_index[r]
        self.dict_bytes -= sum(len(t) for t in self.dict_texts[n:])
        del self.dict_revs[n:], self.dict_texts[n:]

    def _dict_ref(self, rev_id: int, text: str) -> int:
        k = self.dict_index.get(rev_id)
        if k is None:
            data = text.encode("utf-8")
            self.dict_revs.append(rev_id)
            self.dict_texts.append(data)
            self.dict_bytes += len(data)
            k = self.dict_index[rev_id] = len(self.dict_revs)
        return k

    def build(self, level: int = ZSTD_LEVEL, compact: bool = False, coder: str | None = None,
              primer: bool | None = None) -> tuple[dict, bytes, int]:
        """The frame meta, body and raw length. ``compact``: the payload as BUNDLE.md
        §Compact form's array. ``coder`` (default: ``$WIKIBUNDLE_CODER``, else ``best``):
        ``zstd``, ``ppmd`` (``ppmd7-primed`` where the frame fits its limits, else zstd)
        or ``best``, the smaller of the two. ``primer`` (default: ``compact``, unless
        ``$WIKIBUNDLE_PRIMER`` is 0): each also with the primer (§Primer), if smaller."""
        payload = {
            "site": self.siteinfo,
            "pages": self.pages,
            "users": [list(u) for u in self.users],
            "models": [list(m) for m in self.models],
            "revs": self.cols,
            "moves": self.moves,
            "deletes": self.deletes,
            "updates": self.updates,
        }
        raw = wire.packb(compact_payload(payload) if compact else payload)
        dictionary = _dictionary(self.dict_texts)
        # The compact array's order is fixed by §Compact form; the map form puts the texts first for PPMd.
        coded = ppmd.code_frame(raw, dictionary, choice=ppmd.frame_coder_choice(coder), level=level,
                                checksum=not compact, primer=ppmd.primer_wanted(compact if primer is None else primer),
                                ppmd_raw=None if compact else wire.packb(ppmd.ppmd_layout(payload)))
        if coded.primer:
            dictionary += b"".join(ppmd.primer_part(e, "primer") for e in coded.primer)
        meta = {
            "dict": self.dict_revs + list(coded.primer),
            "dict_sha256": hashlib.sha256(dictionary).digest(),
            "text_sha256": self.text_hash.digest(),
            "revisions": self.n_revs,
            **coded.meta,
        }
        return meta, coded.body, len(raw)


def frame_capabilities(meta: dict, fb: FrameBuilder | None = None) -> tuple[str, ...]:
    """The header capabilities a records frame with this meta (built by ``fb``) needs beyond v1's:
    its coder's and primer's (coder.py), and slot deltas' where it has any."""
    return ppmd.frame_capabilities(meta) + ((SLOT_DELTA_CAPABILITY,) if fb is not None and fb.used_slot_deltas else ())


_REV_COLS = ("pg", "id", "par", "ts", "u", "cm", "fl", "mf", "b", "n", "sc", "ins", "hs", "sl")
# §Compact form: the payload map's values in this order, the columns of "revs" in _REV_COLS order
_PAYLOAD_KEYS = ("site", "pages", "users", "models", "revs", "moves", "deletes", "updates")


def compact_payload(payload: dict) -> list:
    """The payload as §Compact form's array; each page row's id is the difference from
    the row before's (pages come in the order the source lists them, mostly ascending:
    small differences code in a byte where the ids take three to five; 1.9% of
    eslagunanegra's q=0.9 update)."""
    pages, prev = [], 0
    for p in payload["pages"]:
        pages.append([p[0] - prev, *p[1:]])
        prev = p[0]
    return [[payload["revs"][c] for c in _REV_COLS] if k == "revs" else pages if k == "pages" else payload[k]
            for k in _PAYLOAD_KEYS]


def expand_payload(p: object, what: str) -> dict:
    """The compact payload array read into the map form; elements after those it knows are ignored."""
    if not (isinstance(p, list) and len(p) >= len(_PAYLOAD_KEYS)):
        raise FormatError(f"{what}: the payload must be an array of at least {len(_PAYLOAD_KEYS)} elements")
    payload = dict(zip(_PAYLOAD_KEYS, p))
    payload["pages"] = _page_ids_summed(payload["pages"])
    revs = payload["revs"]
    if not (isinstance(revs, list) and len(revs) >= len(_REV_COLS)):
        raise FormatError(f"{what}: 'revs' must be an array of at least {len(_REV_COLS)} columns")
    payload["revs"] = dict(zip(_REV_COLS, revs))
    return payload


def _page_ids_summed(pages: object) -> object:
    """The page rows with their ids summed back; rows that are not arrays starting with an
    integer are left for ``FrameReader.pages`` to refuse. A sum past the int64 range is
    refused where a target takes the page (``store.check_int64``, which the MediaWiki
    target calls too), as an id that large in the long form is."""
    if not isinstance(pages, list):
        return pages
    out, prev = [], 0
    for p in pages:
        if isinstance(p, list) and p and is_int(p[0]):
            prev += p[0]
            p = [prev, *p[1:]]
        out.append(p)
    return out


def _dictionary(texts: list[bytes]) -> bytes:
    # Later texts sit closer to the data, where zstd's offsets are cheapest; the
    # order is the order of first use, which both sides know from meta["dict"].
    return b"".join(texts)
