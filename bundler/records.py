"""Frame payloads: pages, revisions, moves and deletions, coded by column.

One frame's payload (formats/BUNDLE.md §Records) is one msgpack map whose
columns hold the same field of every revision side by side — ids and timestamps
as small differences, users and content models as indexes into tables, texts as
character deltas (``delta.py``) — then compressed, with the receiver's copies of
the base texts the frame builds on as the dictionary, by zstd (a raw dictionary) or
by PPMd primed with them (``coder.py``), whichever is smaller. The frame meta
names those base revisions, so the receiver can rebuild the dictionary from its
own store, and carries SHA-256 checks of the dictionary and of the result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import coder as ppmd
from . import wire
from .container import CHECK_LEN, COMPACT_CHECK_LEN, COMPACT_DICT_CHECK_LEN, SLOT_DELTA_CAPABILITY
from .slots import SlotDelta, read_slot, rebuild, slot_entry
from .delta import Op, apply_delta, text_delta
from .errors import ContentError, FormatError, LimitError
from .fields import array, binary, integer, is_int, row, string
from .model import Deleted, Page, PageDelete, PageId, PageMove, RevId, Revision, SiteInfo, Slot, text_sha1

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
    integer are left for ``FrameReader.pages`` to refuse (a running sum past the int64
    range is refused there too)."""
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


# --- reading -----------------------------------------------------------------


MAX_TITLE_BYTES = 255 * 4  # MediaWiki: 255 bytes of UTF-8 after normalisation; keep a margin


def check_title(title: str, what: str) -> str:
    """Titles name pages, never paths; still, refuse what no MediaWiki title can hold."""
    if not title or len(title.encode("utf-8")) > MAX_TITLE_BYTES:
        raise FormatError(f"{what}: title is empty or longer than MediaWiki allows")
    if any(ch in title for ch in "\x00\n\r\t<>[]{}|#") or any(ord(ch) < 32 or ord(ch) == 127 for ch in title):
        raise FormatError(f"{what}: title {title[:60]!r} holds characters MediaWiki forbids in titles")
    return title


class FrameReader:
    """Reads one records frame, one method per section of formats/BUNDLE.md §Frames,
    in the order the checks are made: the frame meta, the dictionary, the payload
    (compression), its records, and (lazily, as the caller imports) the rebuilt texts.

    ``get_text(rev_id)``: the receiver's text of a revision (None: not held);
    ``get_title(page_id)``: the title under which it holds a page alive (None: not held);
    ``get_slots(rev_id)``: the non-main slots it holds of a revision (None: not held),
    the bases of slot deltas, which a frame may carry when ``slot_deltas`` (the bundle
    lists ``slot-delta-v1``).
    """

    def __init__(self, frame_meta: dict, get_text: Callable[[int], str | None], *, what: str,
                 get_title: Callable[[int], str | None] = lambda page_id: None, compact: bool = False,
                 get_slots: Callable[[int], tuple[Slot, ...] | None] = lambda rev_id: None,
                 slot_deltas: bool = False) -> None:
        self.meta = frame_meta
        self.compact = compact  # BUNDLE.md §Compact form: the payload is an array, the checks 4 and 8 bytes
        self.check_len = COMPACT_CHECK_LEN if compact else CHECK_LEN
        self.dict_check_len = COMPACT_DICT_CHECK_LEN if compact else CHECK_LEN
        self.get_text = get_text
        self.get_title = get_title
        self.get_slots = get_slots
        self.slot_deltas = slot_deltas
        self.what = what
        self.coder: tuple[int, int] | None = None  # set by frame_meta

    def read(self, body: bytes, raw_len: int) -> FrameContent:
        dict_revs = self.frame_meta()
        texts = self.base_texts(dict_revs)
        payload = self.payload(body, raw_len, dict_revs, self.dictionary(dict_revs, texts))
        siteinfo = self.site(payload)
        pages = self.pages(payload)
        rows = self.rows(payload, pages, dict_revs, texts)
        return FrameContent(siteinfo, pages, rows.revisions(), self.moves(payload), self.deletes(payload),
                            self.updates(payload))

    # §Frame meta
    def frame_meta(self) -> list:
        what = self.what
        dict_revs = array(self.meta, "dict", what)
        for key, n in (("dict_sha256", self.dict_check_len), ("text_sha256", self.check_len)):
            if not binary(self.meta.get(key), n):
                raise FormatError(f"{what}: frame meta {key!r} must be {n} bytes")
        integer(self.meta.get("revisions"), what)
        self.coder = ppmd.frame_coder(self.meta, what)
        if len(dict_revs) > MAX_DICT_TEXTS:
            raise LimitError(f"{what}: the frame builds on {len(dict_revs)} texts; the limit is {MAX_DICT_TEXTS}")
        return dict_revs

    # §Frame meta, Dictionary
    def base_texts(self, dict_revs: list) -> list[str | None]:
        """The texts ``dict`` names, in order; None for a primer part (§Primer: an entry ≤ 0)."""
        what = self.what
        texts: list[str | None] = []
        dict_size = 0
        for r in dict_revs:
            t = None if integer(r, what) <= 0 else self.get_text(r)
            if t is None and r > 0:
                raise ContentError(
                    f"{what}: the bundle builds on revision {r}, which this side does not hold",
                    hint="This side's wiki lost history since the last sync; ask the sender for a full bundle (bundle make --full).",
                )
            texts.append(t)
            dict_size += len(ppmd.primer_part(r, what)) if t is None else len(t)  # a part counts its bytes
            if dict_size > MAX_DICT_CHARS:
                raise LimitError(f"{what}: the frame's base texts exceed {MAX_DICT_CHARS} characters")
        return texts

    def dictionary(self, dict_revs: list, texts: list[str | None]) -> bytes:
        """§Dictionary: the texts' UTF-8 and the primer parts, in ``dict`` order."""
        return _dictionary([ppmd.primer_part(r, self.what) if t is None else t.encode("utf-8")
                            for r, t in zip(dict_revs, texts)])

    # §Frame meta, Compression
    def payload(self, body: bytes, raw_len: int, dict_revs: list, dictionary: bytes) -> dict:
        what = self.what
        if hashlib.sha256(dictionary).digest()[: self.dict_check_len] != self.meta.get("dict_sha256"):
            raise ContentError(
                f"{what}: this side's copies of the base revisions {_short(dict_revs)} differ from the sender's",
                hint="The wiki here was changed outside wikibundle; ask the sender for a full bundle (bundle make --full).",
            )
        raw = ppmd.decode_body(body, raw_len, dictionary, self.coder, primed=any(r <= 0 for r in dict_revs), what=what)
        payload = wire.unpackb(raw, what=what)
        if self.compact:
            payload = expand_payload(payload, what)
        if not isinstance(payload, dict):
            raise FormatError(f"{what}: payload must be a map")
        return payload

    # §Payload: site
    def site(self, payload: dict) -> SiteInfo | None:
        site = payload.get("site")
        try:
            return SiteInfo.from_wire(site) if isinstance(site, dict) else None
        except (TypeError, ValueError):
            raise FormatError(f"{self.what}: malformed site information") from None

    # §Payload: pages
    def pages(self, payload: dict) -> list[Page]:
        what = self.what
        pages = []
        for p in array(payload, "pages", what):
            row(p, 4, f"{what}: malformed page record")
            pid = integer(p[0], what)
            title = string(p[2], what, nullable=True)
            if title is None:  # a page the receiver holds under its current title
                title = self.get_title(pid)
                if title is None:
                    raise ContentError(
                        f"{what}: the bundle updates page {pid}, which this side does not hold",
                        hint="This side's wiki lost pages since the last sync; ask the sender for a full bundle (bundle make --full).",
                    )
            pages.append(Page(PageId(pid), integer(p[1], what), check_title(title, what), string(p[3], what, nullable=True)))
        return pages

    # §Payload: users, models, revs (the columns and their cross-checks)
    def rows(self, payload: dict, pages: list[Page], dict_revs: list, texts: list[str | None]) -> _Rows:
        what = self.what
        users = array(payload, "users", what)
        models = array(payload, "models", what)
        cols = payload.get("revs")
        if not isinstance(cols, dict):
            raise FormatError(f"{what}: 'revs' must be a map")
        c = {k: array(cols, k, what) for k in _REV_COLS}
        n = len(c["pg"])
        for k in ("id", "par", "ts", "u", "cm", "fl", "mf", "b", "n"):
            if len(c[k]) != n:
                raise FormatError(f"{what}: column {k!r} has {len(c[k])} entries, expected {n}")
        if n != self.meta.get("revisions"):
            raise FormatError(f"{what}: {n} revisions, the frame meta says {self.meta.get('revisions')}")
        if len(c["sc"]) != 2 * len(c["ins"]) or sum(integer(x, what) for x in c["n"]) != len(c["ins"]):
            raise FormatError(f"{what}: delta operation columns disagree")
        return _Rows(what, c, n, pages, users, models, dict_revs, texts, self._hidden(c["hs"]), self._slots(c["sl"]),
                     self.meta.get("text_sha256"), self.check_len, self.get_slots)

    # §Payload: column hs
    def _hidden(self, hs: list) -> dict[int, str]:
        what = self.what
        hidden = {}
        for item in hs:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], bytes)):
                raise FormatError(f"{what}: malformed hidden-text record")
            if len(item[1]) not in (0, 20):
                raise FormatError(f"{what}: a hidden text's sha1 must be 20 bytes")
            hidden[integer(item[0], what)] = item[1].hex()
        return hidden

    # §Payload: column sl
    def _slots(self, sl: list) -> dict[int, tuple[Slot | SlotDelta, ...]]:
        what = self.what
        slots = {}
        for item in sl:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], list)):
                raise FormatError(f"{what}: malformed slot record")
            ss = []
            for s in item[1]:
                row(s, 4, f"{what}: malformed slot")
                ss.append(read_slot(s, what, self.slot_deltas))
            slots[integer(item[0], what)] = tuple(ss)
        return slots

    # §Payload: moves
    def moves(self, payload: dict) -> list[PageMove]:
        what = self.what
        moves = []
        for m in array(payload, "moves", what):
            row(m, 4, f"{what}: malformed move record")
            moves.append(PageMove(PageId(integer(m[0], what)), integer(m[1], what), check_title(string(m[2], what), what),
                                  check_title(string(m[3], what), what)))
        return moves

    # §Payload: deletes
    def deletes(self, payload: dict) -> list[PageDelete]:
        what = self.what
        deletes = []
        for d in array(payload, "deletes", what):
            row(d, 3, f"{what}: malformed delete record")
            deletes.append(PageDelete(PageId(integer(d[0], what)), integer(d[1], what), check_title(string(d[2], what), what)))
        return deletes

    # §Payload: updates
    def updates(self, payload: dict) -> list[Revision]:
        what = self.what
        updates = []
        for u in array(payload, "updates", what):
            row(u, 5, f"{what}: malformed update record")
            fl = integer(u[4], what)
            updates.append(Revision(
                rev_id=RevId(integer(u[0], what)), page_id=PageId(0), timestamp=0, text=None,
                user=string(u[1], what, nullable=True), user_id=None if u[2] is None else integer(u[2], what),
                comment=string(u[3], what, nullable=True), minor=bool(fl & 1), deleted=Deleted(fl >> 1 & 15),
            ))
        return updates


@dataclass
class _Rows:
    """The revision rows of one frame, checked column by column; ``revisions()``
    rebuilds them in order (BUNDLE.md §Rebuilding texts)."""

    what: str
    c: dict[str, list]
    n: int
    pages: list[Page]
    users: list
    models: list
    dict_revs: list
    texts: list[str | None]  # None: a primer part, which no row may take as its base
    hidden: dict[int, str]
    slots: dict[int, tuple[Slot | SlotDelta, ...]]
    text_sha256: bytes | None
    check_len: int
    get_slots: Callable[[int], tuple[Slot, ...] | None]
    # as the rows are read:
    last_text: dict[int, str] = field(default_factory=dict)  # page_id -> its previous text in this frame
    last_id: dict[int, int] = field(default_factory=dict)  # page_id -> that text's rev_id
    last_slots: dict[int, tuple[Slot, ...]] = field(default_factory=dict)  # page_id -> that revision's slots
    slot_sha1s: list[bytes] = field(default_factory=list)  # of the row's slots rebuilt from deltas
    rev_id: int = 0
    ts: int = 0
    op_at: int = 0
    rebuilt: int = 0

    def revisions(self) -> Iterator[Revision]:
        # Lazily, so a frame's rebuilt texts are never all in memory at once. The
        # text check comes at the end: the caller imports inside a transaction and
        # must consume every revision before committing.
        text_hash = hashlib.sha256()
        for i in range(self.n):
            rev = self._row(i)
            if rev.text is not None:
                text_hash.update(bytes.fromhex(rev.sha1))
            for d in self.slot_sha1s:
                text_hash.update(d)
            yield rev
        if text_hash.digest()[: self.check_len] != self.text_sha256:
            raise ContentError(
                f"{self.what}: the rebuilt texts do not match the sender's (SHA-256 of the frame's texts differs)",
                hint="This side's copy of a base revision differs from the sender's; ask for a full bundle (bundle make --full).",
            )

    def _row(self, i: int) -> Revision:
        c, what = self.c, self.what
        pi = integer(c["pg"][i], what)
        if not 0 <= pi < len(self.pages):
            raise FormatError(f"{what}: revision {i} names page index {pi} of {len(self.pages)}")
        page = self.pages[pi]
        self.rev_id += integer(c["id"][i], what)
        self.ts += integer(c["ts"][i], what)
        rev_id = self.rev_id
        ui, mi = integer(c["u"][i], what), integer(c["mf"][i], what)
        users, models = self.users, self.models
        if not (0 <= ui < len(users) and isinstance(users[ui], list) and len(users[ui]) == 2):
            raise FormatError(f"{what}: bad user index")
        if not (0 <= mi < len(models) and isinstance(models[mi], list) and len(models[mi]) == 2):
            raise FormatError(f"{what}: bad model index")
        user = string(users[ui][0], what, nullable=True)
        user_id = users[ui][1] if users[ui][1] is None else integer(users[ui][1], what)
        fl = integer(c["fl"][i], what)
        b = integer(c["b"][i], what)
        ops = self._ops(integer(c["n"][i], what))
        prev_slots = None
        if i in self.hidden:
            text, sha1, base_rev = None, self.hidden[i], None
        else:
            prev_slots = self.last_slots.get(page.page_id, ()) if b == BASE_PREVIOUS else None
            text, base_rev = self._text(page, rev_id, b, ops)
            sha1 = ""
        slots = self._row_slots(i, page, rev_id, base_rev, prev_slots)
        parent = self._parent(c["par"][i], rev_id, base_rev)
        return Revision(
            rev_id=RevId(rev_id), page_id=page.page_id, timestamp=self.ts, text=text, user=user, user_id=user_id,
            comment=string(c["cm"][i], what, nullable=True), parent_id=parent,
            minor=bool(fl & 1), deleted=Deleted(fl >> 1 & 15), model=string(models[mi][0], what),
            format=string(models[mi][1], what), slots=slots, sha1=sha1,
        )

    def _ops(self, nops: int) -> list[Op]:
        c, what = self.c, self.what
        if nops < 0:
            raise FormatError(f"{what}: negative operation count")
        ops = [(integer(c["sc"][2 * k], what), string(c["ins"][k], what), integer(c["sc"][2 * k + 1], what))
               for k in range(self.op_at, self.op_at + nops)]
        self.op_at += nops
        return ops

    def _text(self, page: Page, rev_id: int, b: int, ops: list[Op]) -> tuple[str, int | None]:
        """The row's text rebuilt on its base, and the base's rev_id (None: no base)."""
        what = self.what
        base_rev = None
        if b == BASE_NONE:
            base = ""
        elif b == BASE_PREVIOUS:
            if page.page_id not in self.last_text:
                raise FormatError(f"{what}: revision {rev_id} refers to a previous revision the frame does not have")
            base = self.last_text[page.page_id]
            base_rev = self.last_id[page.page_id]
        elif 1 <= b <= len(self.texts):
            text = self.texts[b - 1]
            if text is None:
                raise FormatError(f"{what}: revision {rev_id} names a primer part as its base")
            base, base_rev = text, self.dict_revs[b - 1]
        else:
            raise FormatError(f"{what}: revision {rev_id} names base {b}")
        text = apply_delta(base, ops, what=f"{what}, revision {rev_id}")
        self._count(rev_id, text)
        self.last_text[page.page_id] = text
        self.last_id[page.page_id] = rev_id
        return text, base_rev

    def _row_slots(self, i: int, page: Page, rev_id: int, base_rev: int | None,
                   prev_slots: tuple[Slot, ...] | None) -> tuple[Slot, ...]:
        """The row's slots, those that travel as deltas rebuilt on the slots of its base
        revision: ``prev_slots`` (b = 0: the previous text's revision in this frame), else the
        receiver's (``get_slots``). A non-hidden row's slots become "the previous" ones."""
        self.slot_sha1s = []
        out = []
        held: tuple[Slot, ...] | None = prev_slots
        for s in self.slots.get(i, ()):
            if isinstance(s, SlotDelta):
                if base_rev is None:
                    raise FormatError(f"{self.what}: revision {rev_id} carries a slot delta but has no base revision")
                if held is None:
                    held = self.get_slots(base_rev) or ()
                s = rebuild(s, held, rev_id=rev_id, base_rev=base_rev, in_frame=prev_slots is not None, what=self.what)
                self._count(rev_id, s.text or "")
                self.slot_sha1s.append(bytes.fromhex(text_sha1(s.text or "")))
            out.append(s)
        slots = tuple(out)
        if i not in self.hidden:
            self.last_slots[page.page_id] = slots
        return slots

    def _count(self, rev_id: int, text: str) -> None:
        """BUNDLE.md §Limits: a rebuilt text (or slot), and all a frame rebuilds."""
        if len(text) > wire_max_text():
            raise LimitError(f"{self.what}: revision {rev_id} is larger than any MediaWiki revision")
        self.rebuilt += len(text)
        if self.rebuilt > MAX_REBUILT_CHARS:
            raise LimitError(f"{self.what}: the frame rebuilds more than {MAX_REBUILT_CHARS} characters of text")

    def _parent(self, par, rev_id: int, base_rev: int | None) -> RevId | None:
        if par is None:
            return None
        if integer(par, self.what) == PARENT_IS_BASE:
            if base_rev is None:
                raise FormatError(f"{self.what}: revision {rev_id} names its base as parent but has no base")
            return RevId(base_rev)
        return RevId(rev_id - par)


def decode_frame(
    frame_meta: dict,
    body: bytes,
    raw_len: int,
    get_text: Callable[[int], str | None],
    *,
    what: str,
    get_title: Callable[[int], str | None] = lambda page_id: None,
    compact: bool = False,
    get_slots: Callable[[int], tuple[Slot, ...] | None] = lambda rev_id: None,
    slot_deltas: bool = False,
) -> FrameContent:
    """One records frame's content (``FrameReader``); ``compact``: the frame's ``RawFrame.compact``;
    ``slot_deltas``: the bundle lists ``slot-delta-v1``."""
    return FrameReader(frame_meta, get_text, what=what, get_title=get_title, compact=compact, get_slots=get_slots,
                       slot_deltas=slot_deltas).read(body, raw_len)


def wire_max_text() -> int:
    return 64 << 20  # characters; MediaWiki's $wgMaxArticleSize tops out far below


def _short(ids: list) -> str:
    s = ", ".join(str(i) for i in ids[:5])
    return s + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
