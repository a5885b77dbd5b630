"""How a revision's text travels as a delta against a text the receiver holds.

A delta is a list of operations over the *lines* of the base text (lines keep
their line ends, so ``"".join`` of the lines is the text, byte for byte):

    op = (skip, insert, copy)
    apply:  pos += skip; out += insert; out += base_lines[pos : pos + copy]; pos += copy

Operations only move forward through the base, so the output can never be larger
than the base plus the inserted text: a hostile delta cannot amplify. A text
without a base is one operation ``(0, text, 0)``.

Finding the operations: common leading and trailing lines are taken first (most
wiki edits touch one place), the middle goes to ``difflib.SequenceMatcher``.
Whatever is inserted is then compressed by zstd with the receiver's texts as a
dictionary (``records.py``), so moved or repeated lines still cost little.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from .errors import ContentError

Op = tuple[int, str, int]

# SequenceMatcher is quadratic in the worst case; beyond this many differing lines
# a plain replacement is cheaper to compute and zstd recovers most of the loss.
MAX_MATCH_LINES = 20000


def line_delta(base: str, new: str) -> list[Op]:
    if not base:
        return [(0, new, 0)] if new else []
    a = base.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    na, nb = len(a), len(b)
    pre = 0
    lim = min(na, nb)
    while pre < lim and a[pre] == b[pre]:
        pre += 1
    suf = 0
    lim -= pre
    while suf < lim and a[na - 1 - suf] == b[nb - 1 - suf]:
        suf += 1
    ops: list[Op] = []
    ia, ib = 0, 0  # positions already accounted for, in a and b
    if pre:
        ops.append((0, "", pre))
        ia = ib = pre
    mid_a = a[pre : na - suf]
    mid_b = b[pre : nb - suf]
    if mid_a and mid_b and len(mid_a) + len(mid_b) <= MAX_MATCH_LINES:
        sm = SequenceMatcher(None, mid_a, mid_b, autojunk=len(mid_a) > 400)
        for i, j, n in sm.get_matching_blocks():
            if n == 0:
                continue
            i += pre
            j += pre
            ops.append((i - ia, "".join(b[ib:j]), n))
            ia, ib = i + n, j + n
    tail_a = na - suf  # where the common suffix starts in a
    tail_b = nb - suf
    ins = "".join(b[ib:tail_b])
    if suf:
        ops.append((tail_a - ia, ins, suf))
    elif ins:
        ops.append((0, ins, 0))
    return _merge(ops)


def _merge(ops: list[Op]) -> list[Op]:
    out: list[Op] = []
    for s, t, c in ops:
        if out and s == 0 and not t:
            ps, pt, pc = out[-1]
            out[-1] = (ps, pt, pc + c)
        elif out and out[-1][2] == 0 and s == 0:
            ps, pt, _ = out[-1]
            out[-1] = (ps, pt + t, c)
        else:
            out.append((s, t, c))
    return [op for op in out if op != (0, "", 0)]


def apply_delta(base: str, ops: list[Op], *, what: str) -> str:
    a = base.splitlines(keepends=True) if base else []
    pos = 0
    out: list[str] = []
    for s, t, c in ops:
        if s < 0 or c < 0 or pos + s + c > len(a):
            raise ContentError(
                f"{what}: the delta does not fit its base text (needs lines up to {pos + s + c}, base has {len(a)})",
                hint="This side's copy of the base revision differs from the sender's.",
            )
        pos += s
        out.append(t)
        out.extend(a[pos : pos + c])
        pos += c
    return "".join(out)
