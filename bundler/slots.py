"""Non-main slots of a multi-content revision (MCR) in a records frame: whole, or as deltas.

A revision's slots other than ``main`` (Commons' ``mediainfo``: JSON of a few KB that
an edit changes by one label, or not at all) travel in column ``sl`` of the frame's
payload (formats/BUNDLE.md §Payload). Each is either whole, ``[role, model, format,
text or nil]``, or, under capability ``slot-delta-v1``, a character delta
(``delta.py``) against the slot of the same role in the row's *base revision* — the
revision whose text the row's ``b`` names, which the receiver holds (or the frame
rebuilt just before): ``[role, model or nil, format or nil, [skip, insert, copy, …]]``,
nil model and format being the base slot's. A receiver holds the slots of every
revision it holds (a MediaWiki imports a revision with all its slots or refuses it),
so a sender that read the base revision's slots from the same history may build on
them; the rebuilt slot's SHA-1 joins the frame's ``text_sha256``, which catches a
receiver whose copy differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .container import SLOT_DELTA_CAPABILITY
from .delta import Op, apply_delta, text_delta
from .errors import ContentError, FormatError
from .fields import integer, string
from .model import Slot


@dataclass(frozen=True, slots=True)
class SlotDelta:
    """A slot as column ``sl`` carries it under ``slot-delta-v1``: operations on the slot of
    the same role in the row's base revision; ``model``/``format`` None: the base slot's."""

    role: str
    model: str | None
    format: str | None
    ops: list[Op]


def _base(role: str, base_slots: tuple[Slot, ...] | None) -> Slot | None:
    return next((b for b in base_slots or () if b.role == role and b.text is not None), None)


# --- writing -----------------------------------------------------------------------------


def slot_entry(s: Slot, base_slots: tuple[Slot, ...] | None) -> tuple[list, list[Op] | None]:
    """The ``sl`` entry of one slot, and its operations when it travels as a delta (None:
    whole). A delta against ``base_slots``' slot of the same role where its operations cost
    less than the text (4 bytes an operation, as ``FrameBuilder.revision_cost`` counts)."""
    base = _base(s.role, base_slots)
    if base is not None and base.text is not None and s.text is not None:
        ops = text_delta(base.text, s.text)
        if sum(len(t) + 4 for _, t, _ in ops) < len(s.text):
            return [s.role, None if s.model == base.model else s.model, None if s.format == base.format else s.format,
                    [x for op in ops for x in op]], ops
    return [s.role, s.model, s.format, s.text], None


# --- reading -----------------------------------------------------------------------------


def read_slot(s: list, what: str, deltas: bool) -> Slot | SlotDelta:
    """One slot of an ``sl`` entry (a 4-element array, checked by the caller); ``deltas``:
    the bundle lists ``slot-delta-v1``."""
    if not isinstance(s[3], list):
        return Slot(string(s[0], what), string(s[1], what), string(s[2], what), string(s[3], what, nullable=True))
    if not deltas:
        raise FormatError(f"{what}: a slot travels as a delta, but the bundle does not list {SLOT_DELTA_CAPABILITY}")
    flat = s[3]
    if len(flat) % 3:
        raise FormatError(f"{what}: a slot delta's operations must be (skip, insert, copy) triples")
    ops = [(integer(flat[k], what), string(flat[k + 1], what), integer(flat[k + 2], what)) for k in range(0, len(flat), 3)]
    return SlotDelta(string(s[0], what), string(s[1], what, nullable=True), string(s[2], what, nullable=True), ops)


def rebuild(s: SlotDelta, held: tuple[Slot, ...], *, rev_id: int, base_rev: int, in_frame: bool, what: str) -> Slot:
    """The slot ``s`` rebuilt on ``held``, the slots of the row's base revision ``base_rev``
    (``in_frame``: the previous row of the page in this frame, else the receiver's)."""
    base = _base(s.role, held)
    if base is None or base.text is None:
        if in_frame:
            raise FormatError(f"{what}: revision {rev_id} builds its slot {s.role[:40]!r} on the previous"
                              " revision in the frame, which has no such slot")
        raise ContentError(
            f"{what}: revision {rev_id} builds its slot {s.role[:40]!r} on revision {base_rev}, "
            "whose slot of that role this side does not hold",
            hint="This side's wiki lost history since the last sync; ask the sender for a full bundle (bundle make --full).",
        )
    text = apply_delta(base.text, s.ops, what=f"{what}, revision {rev_id}, slot {s.role[:40]!r}")
    return Slot(s.role, base.model if s.model is None else s.model, base.format if s.format is None else s.format, text)
