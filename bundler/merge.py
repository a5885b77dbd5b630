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

from dataclasses import dataclass

import merge3


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
