"""Reading a records frame (formats/BUNDLE.md §Frames, §Frame meta, §Payload, §Rebuilding
texts): ``FrameReader`` checks and decodes one frame in the spec's order; ``_Rows`` rebuilds
its revisions lazily, as the caller imports them. The writer's side, and the layout both
share (columns, bases, limits), is ``records.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import coder as ppmd
from . import wire
from .container import CHECK_LEN, COMPACT_CHECK_LEN, COMPACT_DICT_CHECK_LEN
from .delta import Op, apply_delta
from .errors import ContentError, FormatError, LimitError
from .fields import array, binary, integer, row, string
from .model import Deleted, Page, PageDelete, PageId, PageMove, RevId, Revision, SiteInfo, Slot, text_sha1
from .records import (
    _REV_COLS, BASE_NONE, BASE_PREVIOUS, MAX_DICT_CHARS, MAX_DICT_TEXTS, MAX_REBUILT_CHARS, PARENT_IS_BASE,
    FrameContent, _dictionary, expand_payload,
)
from .slots import SlotDelta, read_slot, rebuild


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
