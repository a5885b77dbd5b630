"""How a revision's text travels as a delta against a text the receiver holds.

A delta is a list of operations over the *characters* (Unicode code points) of
the base text:

    op = (skip, insert, copy)
    apply:  pos += skip; out += insert; out += base[pos : pos + copy]; pos += copy

Operations only move forward through the base, so the output can never be larger
than the base plus the inserted text: a hostile delta cannot amplify. A text
without a base is one operation ``(0, text, 0)``.

Finding the operations, in two steps because wiki edits are small and local:
lines first (common leading and trailing lines, then ``difflib.SequenceMatcher``
on the middle lines), then, inside each block of replaced lines, words (runs of
word characters, of spaces, or single other characters): common leading and
trailing words, then SequenceMatcher on small middles or, on large ones, a
linear greedy match of word trigrams (SequenceMatcher is quadratic there and
finds little more: measured on bot edits of the Shinto corpus). Most wikitext
paragraphs are one long line; without the second step a one-word fix would
resend the whole paragraph. Matches shorter than ``MIN_COPY`` characters are
sent as text: an operation costs more than they save. What is inserted is then
compressed by zstd with the receiver's texts as a dictionary (``records.py``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from difflib import SequenceMatcher

from .errors import ContentError

Op = tuple[int, str, int]

# SequenceMatcher is quadratic in the worst case: beyond this many differing lines
# a plain replacement (refined word by word) is cheaper to compute; beyond this
# many differing words, the greedy trigram match takes over.
MAX_MATCH_LINES = 20000
MAX_MATCH_TOKENS = 300
MIN_COPY = 6

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


def text_delta(base: str, new: str) -> list[Op]:
    """Operations that turn ``base`` into ``new`` (see the module docstring)."""
    if not base:
        return [(0, new, 0)] if new else []
    out = _Ops()
    a = base.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    na, nb = len(a), len(b)
    pre, suf = _common_ends(a, b)
    blocks: list[tuple[int, int, int]] = [(0, 0, pre)] if pre else []
    mid_a, mid_b = a[pre : na - suf], b[pre : nb - suf]
    if mid_a and mid_b and len(mid_a) + len(mid_b) <= MAX_MATCH_LINES:
        sm = SequenceMatcher(None, mid_a, mid_b, autojunk=len(mid_a) > 400)
        blocks += [(i + pre, j + pre, n) for i, j, n in sm.get_matching_blocks() if n]
    if suf:
        blocks.append((na - suf, nb - suf, suf))
    # line index -> character offset
    ca = _offsets(a)
    cb = _offsets(b)
    ia = ib = 0
    for i, j, n in blocks + [(na, nb, 0)]:
        if i > ia or j > ib:
            _refine(out, base[ca[ia] : ca[i]], new[cb[ib] : cb[j]])
        if n:
            out.copy(ca[i + n] - ca[i])
        ia, ib = i + n, j + n
    return out.ops()


def _common_ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many items ``a`` and ``b`` share at the start, and then at the end."""
    na, nb = len(a), len(b)
    pre = 0
    lim = min(na, nb)
    while pre < lim and a[pre] == b[pre]:
        pre += 1
    suf = 0
    lim -= pre
    while suf < lim and a[na - 1 - suf] == b[nb - 1 - suf]:
        suf += 1
    return pre, suf


def _offsets(lines: list[str]) -> list[int]:
    offs = [0]
    for ln in lines:
        offs.append(offs[-1] + len(ln))
    return offs


def _refine(out: "_Ops", old: str, new: str) -> None:
    """A block of replaced lines: keep the words they share.

    Common leading and trailing words first (an edit inside a paragraph), then
    SequenceMatcher on what is left, if that is small enough to be quick.
    """
    if not old or not new:
        out.skip(len(old))
        out.insert(new)
        return
    ta = _TOKEN.findall(old)
    tb = _TOKEN.findall(new)
    na, nb = len(ta), len(tb)
    pre, suf = _common_ends(ta, tb)
    pa = _offsets(ta)
    pb = _offsets(tb)
    blocks = [(0, 0, pre)] if pre else []
    if na - pre - suf and nb - pre - suf:
        if (na + nb - 2 * (pre + suf)) <= MAX_MATCH_TOKENS:
            sm = SequenceMatcher(None, ta[pre : na - suf], tb[pre : nb - suf], autojunk=False)
            blocks += [(i + pre, j + pre, n) for i, j, n in sm.get_matching_blocks() if n]
        else:
            blocks += _greedy_blocks(ta, tb, pre, na - suf, pre, nb - suf)
    if suf:
        blocks.append((na - suf, nb - suf, suf))
    ia = ib = 0
    for i, j, n in blocks:
        if pa[i + n] - pa[i] < MIN_COPY and not (i == 0 and j == 0):
            continue
        out.skip(pa[i] - pa[ia])
        out.insert(new[pb[ib] : pb[j]])
        out.copy(pa[i + n] - pa[i])
        ia, ib = i + n, j + n
    out.skip(len(old) - pa[ia])
    out.insert(new[pb[ib] :])


def _greedy_blocks(ta: list[str], tb: list[str], a0: int, a1: int, b0: int, b1: int) -> list[tuple[int, int, int]]:
    """Matching blocks for long replaced blocks, in linear time: index the old
    words by runs of ``K``, walk the new words, take the first forward match and
    extend it. Not optimal like SequenceMatcher, which is quadratic here."""
    K = 3
    index: dict[tuple[str, ...], list[int]] = {}
    for i in range(a0, a1 - K + 1):
        index.setdefault(tuple(ta[i : i + K]), []).append(i)
    blocks = []
    ia, j = a0, b0
    while j <= b1 - K:
        cands = index.get(tuple(tb[j : j + K]))
        if cands:
            k = bisect_left(cands, ia)
            if k < len(cands):
                i = cands[k]
                n = K
                while i + n < a1 and j + n < b1 and ta[i + n] == tb[j + n]:
                    n += 1
                blocks.append((i, j, n))
                ia, j = i + n, j + n
                continue
        j += 1
    return blocks


class _Ops:
    """Accumulates skip/insert/copy and folds them into (skip, insert, copy) triples."""

    def __init__(self) -> None:
        self._ops: list[Op] = []
        self._skip = 0
        self._ins: list[str] = []

    def skip(self, n: int) -> None:
        if n and self._ins:
            self._flush(0)
        self._skip += n

    def insert(self, t: str) -> None:
        if t:
            self._ins.append(t)

    def copy(self, n: int) -> None:
        if n:
            if not self._skip and not self._ins and self._ops:
                s, t, c = self._ops[-1]
                self._ops[-1] = (s, t, c + n)
            else:
                self._flush(n)

    def _flush(self, copy: int) -> None:
        self._ops.append((self._skip, "".join(self._ins), copy))
        self._skip = 0
        self._ins = []

    def ops(self) -> list[Op]:
        if self._ins:
            self._flush(0)  # a trailing skip without insert needs no operation
        return self._ops


def apply_delta(base: str, ops: list[Op], *, what: str) -> str:
    pos = 0
    n = len(base)
    out: list[str] = []
    for s, t, c in ops:
        if s < 0 or c < 0 or pos + s + c > n:
            raise ContentError(
                f"{what}: the delta does not fit its base text (needs characters up to {pos + s + c}, base has {n})",
                hint="This side's copy of the base revision differs from the sender's.",
            )
        pos += s
        out.append(t)
        out.append(base[pos : pos + c])
        pos += c
    return "".join(out)
