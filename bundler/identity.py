"""Who a revision is, and which ids a side may give.

Revision keys. Ids do not say who a revision is: MediaWiki renumbers what it
imports (docs/MEDIAWIKI_FINDINGS.md), and a re-imported wiki gives its
whole history new ids. ``rkey`` is a revision's identity across such copies
(its timestamp and text, and which repeat of the two it is on its page); ``mkey`` hashes what of a
revision can change after it was made (attribution, visibility), so a changed
one travels as an update. The state records both for what each peer holds.

Id ranges (signed 64-bit, as SQLite and MediaWiki hold them):

    [1, FRESH_IDS]              real wikis' ids
    (FRESH_IDS, LOCAL_IDS)      FRESH: ids handed out where a source's id clashes
                                with one the receiver already has for something else
    [LOCAL_IDS, 1 << 49)        one LOCAL_SPAN per side that takes updates from an
                                upstream, for its own offline edits (local_id_range)
    [SYNTHETIC_IDS, 1 << 63)    ids derived from names, for dumps that give none

``FreshIds`` is the one way a new id is picked, whoever picks it (make renumbering
for a peer, importing a dump into the store, an edit or a landed return on the
store): the next id above the highest one in use in its range.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING, Iterable

from .errors import StateError

if TYPE_CHECKING:
    from .model import Revision

Held = dict[int, tuple[int, int]]  # rkey -> (the rev_id the peer knows it by, mkey)

FRESH_IDS = 1 << 40  # ids handed out on clashes start above this, far above any real wiki's
# Pages and revisions made on a side that takes updates from an upstream (``bundle
# edit`` offline) get ids from a range of its own, so they can never clash with
# ids the upstream hands out later: [LOCAL_IDS + n * LOCAL_SPAN, + LOCAL_SPAN) with
# n taken from the side's wiki id. Fresh ids (above) stay below LOCAL_IDS.
LOCAL_IDS = 1 << 48
LOCAL_SPAN = 1 << 24
FRESH = range(FRESH_IDS + 1, LOCAL_IDS)  # (formats/BUNDLE.md: "a fresh id above 2^40")


def local_id_range(wiki_id: str) -> range:
    start = LOCAL_IDS + (int(wiki_id[:6], 16) * LOCAL_SPAN)
    return range(start, start + LOCAL_SPAN)


def edit_ids(has_upstream: bool, wiki_id: str) -> range:
    """Ids for revisions and pages made on this side (not received): its own local range
    when it takes updates from a peer (ids it receives are the peer's), else the ordinary
    ids below ``FRESH_IDS``, as any wiki numbers its own edits."""
    return local_id_range(wiki_id) if has_upstream else range(1, FRESH_IDS)


# Pages and revisions a dump gives no <id> (schema 0.3 exports, which MediaWiki's
# importer accepts) get ids derived from what names them: a page from its title, a
# revision from its page's title, timestamp and sha1. So every dump of one wiki gives
# them the same ids. The range lies above every local range (which end below 1 << 49)
# and within signed 64 bits, so they never clash with real, fresh or local ids.
SYNTHETIC_IDS = 1 << 60
SYNTHETIC_SPAN = 1 << 59


def synthetic_id(*parts: str | int) -> int:
    h = hashlib.blake2b(digest_size=8, person=b"wb-synthetic-id")
    for p in parts:
        h.update(str(p).encode("utf-8") + b"\x00")
    return SYNTHETIC_IDS + int.from_bytes(h.digest(), "big") % SYNTHETIC_SPAN


class FreshIds:
    """Ids from ``ids``, each above the last: the first above ``highest``, the highest
    id in ``ids`` already in use (None: none is). ``what`` names them in the error
    when the range is used up."""

    def __init__(self, ids: range, highest: int | None, what: str) -> None:
        self.ids = ids
        self.last = ids.start - 1 if highest is None else highest
        self.what = what

    def take(self) -> int:
        n = self.last + 1
        if n not in self.ids:
            raise StateError(f"{self.what}: all {len(self.ids):,} ids of its range are used up",
                             hint="No wiki has that many pages or revisions; please report this.")
        self.last = n
        return n


def rkey(rev: Revision, occurrence: int = 0) -> int:
    """A revision's identity across dumps of one wiki, whatever ids they give it.

    MediaWiki itself takes (page, timestamp, sha1) as one revision on import. Not
    the user: a re-imported wiki shows its editors as ``imported>Name``. A null
    revision (a move, a protection) has its parent's text and often its second:
    ``occurrence`` counts such repeats within a page (see ``page_rkeys``). 63 bits.
    """
    h = hashlib.blake2b(digest_size=8)
    h.update(struct.pack(">qi", rev.timestamp, occurrence))
    h.update(rev.sha1.encode("ascii"))
    return struct.unpack(">q", h.digest())[0] >> 1


def page_rkeys(revisions: Iterable[Revision]) -> list[int]:
    """``rkey`` of each revision of one page's history, in history order."""
    seen: dict[tuple[int, str], int] = {}
    keys = []
    for r in revisions:
        n = seen.get((r.timestamp, r.sha1), 0)
        seen[(r.timestamp, r.sha1)] = n + 1
        keys.append(rkey(r, n))
    return keys


def partial_rkeys(revs: Iterable[Revision], held: Held) -> list[int]:
    """``rkey`` of each revision of a partial history (``PageHistory.partial``): a
    revision the peer holds under its id gets that key; a new one the first
    occurrence whose key is neither held nor given to an earlier revision here. For a
    page whose held revisions were keyed by ``page_rkeys``, this gives each new
    revision the key the whole history would."""
    by_id = {rid: k for k, (rid, _m) in held.items()}
    taken = set(held)
    keys = []
    for rev in revs:
        n = 0
        k = rkey(rev, 0)
        while k in taken and by_id.get(rev.rev_id) != k:
            n += 1
            k = rkey(rev, n)
        taken.add(k)
        keys.append(k)
    return keys


def mkey(rev: Revision) -> int:
    """What of a revision can change after it was made: attribution and visibility."""
    h = hashlib.blake2b(digest_size=8)
    for part in (rev.user or "", str(rev.user_id), rev.comment or "", str(int(rev.deleted)), str(int(rev.minor))):
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    h.update(b"1" if rev.comment is None else b"0")
    return struct.unpack(">q", h.digest())[0] >> 1
