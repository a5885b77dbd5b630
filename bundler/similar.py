"""Cross-page bases: texts the receiver holds that a new page is coded against.

A new page travels without a base of its own page; yet the receiver often holds
pages much like it — the same welcome message on another user's talk page, an
episode page with the same cast list, the same article in another language. The
sender picks up to ``MAX_CHOSEN`` such texts, from two sources in this order:

1. **Translation siblings**, by title: ``X/fr`` has the siblings ``X`` and
   ``X/<code>`` for any language code; ``X`` has ``X/<code>``. The base page
   comes first, then the subpages most like the text (up to ``MAX_SIBLINGS``).
2. **Shingle similarity**: a bottom-k MinHash sketch (the ``SKETCH_K`` smallest
   32-bit hashes of the text's word 5-grams) estimates the Jaccard similarity of
   two texts; candidates are found through an inverted index of sketch values
   (two similar texts share some of their smallest hashes), then ranked by the
   estimate, kept at ``MIN_SIMILARITY`` and above.

Each chosen text is either the revision's **delta base** (``Choice.base``: the
delta copies from it; the best one, when its delta costs at most
``BASE_GAIN`` of the text sent whole: a near-copy), or **context**
(``Choice.context``: put in the frame's dictionary without a delta naming it,
so the coder finds its strings). Measured on eslagunanegra (benchmarks/sizes.py,
the new welcome messages and user pages like held ones): context beats a delta
base under zstd — at q=0.9 the bundle is 27,606 B with context only, 27,837 to
27,890 B with bases at thresholds 0.25 to 0.75 — so only near-copies are bases
(27,573 B at 0.05); a coder that pays per character for what one copy op says
(PPM) may want a looser threshold.

Both are named in the frame meta's ``dict`` by the rev_id the receiver knows
them by (formats/BUNDLE.md §Frame meta); the receiver takes any revision it
holds from its own store, so nothing new is carried.

``HeldTexts`` is the index, built while make's single pass streams the pages:
each page the receiver holds alive adds its newest held text. So only pages read
before a new page can be its bases (in a dump or the store: lower page ids, which
is where the older page of a pair usually is). Memory stays flat: the sketches,
titles and texts (zstd) live in a private temporary SQLite file, and a text is
read back only when it is chosen. A page make does not read (unchanged, of a
source with stable ids: the store) is only *noted* (``note``: its title and the
revision), and its text fetched from the source (``get_text``) and sketched
when a new page first asks (``choose``): a make that carries no new page reads
no text it would not read anyway.
"""

from __future__ import annotations

import heapq
import os
import re
import sqlite3
import zlib
from typing import Callable, NamedTuple

from . import wire
from .delta import text_delta

SKETCH_K = 16  # hashes per text: 16 × 4 bytes
SHINGLE = 5  # words per shingle
MIN_SIMILARITY = 0.25  # estimated Jaccard of the shingle sets
MAX_SIBLINGS = 3  # translation siblings chosen per page
MAX_SIMILAR = 2  # near-duplicates chosen per page
MAX_CHOSEN = 3  # texts chosen per page in all (base and context)
MAX_SIBLING_ROWS = 64  # subpages of one base page looked at
MAX_TEXT = 256 << 10  # characters: longer texts are neither indexed nor chosen
MIN_TEXT = 64  # characters: shorter new texts gain nothing from a base
NEAR_COPY = 0.5  # estimated similarity below which a text is no near-copy (its delta is not worked out)
BASE_GAIN = 0.05  # a chosen text is the delta base only when its delta costs at most this share of the text (see choose)
MAX_CANDIDATES = 8  # pages sharing sketch values whose estimate is computed
GROWTH = 2  # a changed page gets context when its text grows this many times over its base (and ...)
GROWTH_MIN = 2048  # ... by at least this many characters
TOPIC_K = 32  # word hashes per text in its topic sketch
TOPIC_MIN_WORD = 3  # characters: shorter words say nothing of a topic
TOPIC_POSTINGS = 4096  # texts a word hash is indexed for: a word in more says little of a topic (and keeps lookups short)
TOPIC_CANDIDATES = 64  # texts ranked per new text
TOPIC_QUERIES = 64  # new texts (the longest) a frame asks with
ENV_SWITCH = "WIKIBUNDLE_CROSS_PAGE"  # "0": no cross-page bases (benchmarks compare both)

# Subpage language codes as MediaWiki's Translate extension names them: en, fr, pt-br, zh-hans, sr-el, ...
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_WORD = re.compile(r"\w+", re.UNICODE)
# Subpages whose names look like a code but are not languages (Template:X/doc is X's documentation).
_NOT_LANG = frozenset({"doc", "box", "css", "js", "old", "new", "top", "end", "sub", "alt"})


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1") != "0"


def sketch(text: str, words: list[str] | None = None) -> list[int]:
    """The ``SKETCH_K`` smallest hashes of the text's word ``SHINGLE``-grams (lowercase);
    a text of fewer words is one shingle. CRC-32: deterministic (Python's ``hash`` is
    salted per process), fast, and spread well enough to rank 16 of thousands.
    ``words``: the text's words, if already split (``_words``)."""
    words = _words(text) if words is None else words
    n = max(1, len(words) - SHINGLE + 1)
    return heapq.nsmallest(SKETCH_K, {zlib.crc32(" ".join(words[i : i + SHINGLE]).encode()) for i in range(n)})


def topic_sketch(text: str, words: list[str] | None = None) -> list[int]:
    """The ``TOPIC_K`` smallest hashes of the text's distinct words (lowercase, at least
    ``TOPIC_MIN_WORD`` characters): two texts share some when they share much of their
    vocabulary — the same subject, names and templates — however differently worded."""
    distinct = {w for w in (_words(text) if words is None else words) if len(w) >= TOPIC_MIN_WORD}
    return heapq.nsmallest(TOPIC_K, {zlib.crc32(w.encode()) for w in distinct})


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def similarity(a: list[int], b: list[int]) -> float:
    """Bottom-k estimate of the Jaccard similarity: of the k smallest hashes of the
    union, the share found in both sketches."""
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    union = heapq.nsmallest(SKETCH_K, sa | sb)
    return sum(1 for h in union if h in sa and h in sb) / len(union)


def split_language(title: str) -> tuple[str, str | None]:
    """``("X", "fr")`` for ``X/fr``; ``(title, None)`` when the last subpage is no language code."""
    head, sep, tail = title.rpartition("/")
    if sep and head and _LANG.fullmatch(tail) and tail not in _NOT_LANG:
        return head, tail
    return title, None


class Held(NamedTuple):
    """A text the receiver holds: its revision (the id the receiver knows it by) and text."""

    rev_id: int
    text: str


class Choice(NamedTuple):
    """What a revision is coded against: a delta base (or None) and context texts."""

    base: Held | None
    context: tuple[Held, ...]


NO_CHOICE = Choice(None, ())


class HeldTexts:
    """The newest texts of the pages the receiver holds, indexed by title and sketch.
    ``close()`` removes the file."""

    def __init__(self, get_text: Callable[[int], str | None] | None = None) -> None:
        self.get_text = get_text  # the source's text of a revision, by its id (None: the source has no such thing)
        # "" is SQLite's private temporary on-disk database, removed when closed.
        self.db = sqlite3.connect("")
        self.db.executescript(
            "CREATE TABLE page (page_id INTEGER PRIMARY KEY, namespace INTEGER, title TEXT, rev_id INTEGER,"
            " sketch BLOB, text BLOB);"
            "CREATE INDEX page_title ON page (namespace, title);"
            "CREATE TABLE mins (h INTEGER, page_id INTEGER);"
            "CREATE INDEX mins_h ON mins (h);"
            "CREATE INDEX mins_page ON mins (page_id);"
            "CREATE TABLE noted (page_id INTEGER PRIMARY KEY, namespace INTEGER, title TEXT, rev_id INTEGER);"
            "CREATE TABLE topics (h INTEGER, page_id INTEGER);"
            "CREATE INDEX topics_h ON topics (h);"
            "CREATE INDEX topics_page ON topics (page_id);"
            "CREATE TABLE topic_df (h INTEGER PRIMARY KEY, n INTEGER);"
        )
        self.pages = 0
        self.noted = 0

    def close(self) -> None:
        self.db.close()

    def add(self, page_id: int, namespace: int, title: str, rev_id: int, text: str) -> None:
        """The receiver holds ``text`` as revision ``rev_id``, the newest of this page."""
        if not MIN_TEXT <= len(text) <= MAX_TEXT:
            return
        words = _words(text)
        sk = sketch(text, words)
        self.db.execute("DELETE FROM mins WHERE page_id=?", (page_id,))
        self.db.execute(
            "INSERT OR REPLACE INTO page VALUES (?,?,?,?,?,?)",
            (page_id, namespace, title, rev_id, _pack_sketch(sk), wire.store_pack_text(text)),
        )
        self.db.executemany("INSERT INTO mins VALUES (?,?)", ((h, page_id) for h in sk))
        self._add_topics(page_id, topic_sketch(text, words))
        self.pages += 1

    def _add_topics(self, page_id: int, tk: list[int]) -> None:
        """Index the page under its topic hashes, each while fewer than ``TOPIC_POSTINGS``
        texts have it (counted in ``topic_df``)."""
        self.db.execute("DELETE FROM topics WHERE page_id=?", (page_id,))
        self.db.executemany("INSERT INTO topic_df VALUES (?,1) ON CONFLICT(h) DO UPDATE SET n=n+1", ((h,) for h in tk))
        q = ",".join("?" * len(tk))
        self.db.execute(f"INSERT INTO topics SELECT h, ? FROM topic_df WHERE h IN ({q}) AND n <= ?",
                        (page_id, *tk, TOPIC_POSTINGS))

    def note(self, page_id: int, namespace: int, title: str, rev_id: int) -> None:
        """The receiver holds revision ``rev_id`` (the source's id, and the receiver's), the
        newest of this page: its text is fetched by ``get_text`` when first needed."""
        if self.get_text is not None:
            self.db.execute("INSERT OR REPLACE INTO noted VALUES (?,?,?,?)", (page_id, namespace, title, rev_id))
            self.noted += 1

    def _catch_up(self) -> None:
        """Index the noted pages (their texts read from the source, one at a time)."""
        assert self.get_text is not None
        last = -1 << 63
        while True:  # keyset batches: the rows added meanwhile are in another table
            rows = self.db.execute("SELECT page_id, namespace, title, rev_id FROM noted WHERE page_id > ? ORDER BY page_id"
                                   " LIMIT 1000", (last,)).fetchall()
            if not rows:
                break
            for pid, ns, title, rid in rows:
                text = self.get_text(rid)
                if text is not None:
                    self.add(pid, ns, title, rid, text)
            last = rows[-1][0]
        self.db.execute("DELETE FROM noted")
        self.noted = 0

    def choose(self, page_id: int, namespace: int, title: str, text: str, *, base: bool = True) -> Choice:
        """Up to ``MAX_CHOSEN`` held texts like ``text`` (never of page ``page_id``): the
        best as delta base if ``base`` and it pays, the others as context."""
        if len(text) < MIN_TEXT:
            return NO_CHOICE
        if self.noted:
            self._catch_up()
        if not self.pages:
            return NO_CHOICE
        sk = sketch(text)
        picked = self._siblings(page_id, namespace, title, sk)[:MAX_SIBLINGS]
        picked = (picked + [p for p in self._similar(page_id, sk) if p not in picked][:MAX_SIMILAR])[:MAX_CHOSEN]
        if not picked:
            return NO_CHOICE
        rows = [self._held(p) for p in picked]
        held = tuple(h for h, _sk in rows)
        # A delta is worked out only against a text alike enough to be a near-copy.
        near = [i for i, (_h, hsk) in enumerate(rows) if similarity(sk, hsk) >= NEAR_COPY] if base else []
        if not near:
            return Choice(None, held)
        cost, best = min((_delta_cost(held[i].text, text), i) for i in near)
        if cost > BASE_GAIN * len(text):
            return Choice(None, held)
        return Choice(held[best], held[:best] + held[best + 1 :])

    def related(self, texts: list[str], budget: int, skip: Callable[[int], bool]) -> list[Held]:
        """Held texts on the subjects of ``texts`` (a frame's new text), up to ``budget``
        UTF-8 bytes, for the frame's coder to learn the wiki's words from; ranked by the
        topic-sketch hashes shared with the new text most like them, the most related
        last (nearest the data). ``skip(rev_id)``: already in the frame's dictionary.

        Measured on FreeCAD's documentation (current-only: every update is new pages,
        with no base of their own): 256 KiB of such texts make the q=0.99 update 30%
        smaller and the q=0.9 one 12% (PPMd primed); texts taken at random, 10% and 3%."""
        texts = sorted((t for t in texts if len(t) >= MIN_TEXT), key=len, reverse=True)[:TOPIC_QUERIES]
        if not texts or budget <= 0:
            return []
        if self.noted:
            self._catch_up()
        score: dict[int, int] = {}
        for t in texts:
            sk = topic_sketch(t)
            q = ",".join("?" * len(sk))
            for pid, n in self.db.execute(
                f"SELECT page_id, count(*) AS n FROM topics WHERE h IN ({q}) GROUP BY page_id"
                f" ORDER BY n DESC, page_id LIMIT {TOPIC_CANDIDATES}", sk,
            ):
                score[pid] = max(n, score.get(pid, 0))
        out: list[Held] = []
        for pid in sorted(score, key=lambda p: (-score[p], p)):
            h, _sk = self._held(pid)
            size = len(h.text.encode("utf-8"))
            if size <= budget and not skip(h.rev_id):
                out.append(h)
                budget -= size
        return out[::-1]

    def _siblings(self, page_id: int, namespace: int, title: str, sk: list[int]) -> list[int]:
        """The held translations of the page: the base page first (usually what the others
        are translated from), then its language subpages, the most like ``sk`` first
        (then by title: a closer language shares names and markup)."""
        head, _lang = split_language(title)
        found = []
        if head != title:
            row = self.db.execute("SELECT page_id FROM page WHERE namespace=? AND title=? AND page_id!=?",
                                  (namespace, head, page_id)).fetchone()
            found += [row[0]] if row else []
        prefix = head + "/"
        others = []
        for pid, t, s in self.db.execute(
            "SELECT page_id, title, sketch FROM page WHERE namespace=? AND title > ? AND title < ? AND page_id!=?"
            f" ORDER BY title LIMIT {MAX_SIBLING_ROWS}",
            (namespace, prefix, head + "0", page_id),  # "0" follows "/": the titles that start with "head/"
        ):
            if split_language(t) == (head, t[len(prefix):]):
                others.append((-similarity(sk, _unpack_sketch(s)), t, pid))
        return found + [pid for _s, _t, pid in sorted(others)]

    def _similar(self, page_id: int, sk: list[int]) -> list[int]:
        q = ",".join("?" * len(sk))
        rows = self.db.execute(
            f"SELECT m.page_id, p.sketch FROM (SELECT page_id, count(*) AS n FROM mins WHERE h IN ({q}) AND page_id != ?"
            f" GROUP BY page_id ORDER BY n DESC, page_id LIMIT {MAX_CANDIDATES}) m JOIN page p ON p.page_id = m.page_id",
            (*sk, page_id),
        ).fetchall()
        scored = sorted(((similarity(sk, _unpack_sketch(s)), pid) for pid, s in rows), key=lambda x: (-x[0], x[1]))
        return [pid for score, pid in scored if score >= MIN_SIMILARITY]

    def _held(self, page_id: int) -> tuple[Held, list[int]]:
        rev_id, sk, blob = self.db.execute("SELECT rev_id, sketch, text FROM page WHERE page_id=?", (page_id,)).fetchone()
        return Held(rev_id, wire.store_unpack_text(blob)), _unpack_sketch(sk)


def _delta_cost(base: str, text: str) -> int:
    """What the revision costs in the payload with this base (as ``FrameBuilder.revision_cost`` counts ops)."""
    return sum(len(t) + 4 for _s, t, _c in text_delta(base, text))


def _pack_sketch(sk: list[int]) -> bytes:
    return b"".join(h.to_bytes(4, "big") for h in sk)


def _unpack_sketch(blob: bytes) -> list[int]:
    return [int.from_bytes(blob[i : i + 4], "big") for i in range(0, len(blob), 4)]
