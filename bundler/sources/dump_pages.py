"""Which ``<page>`` blocks of a dump are one page, and putting their revisions together.

Dumps made by WikiTeam's tools (dumpgenerator, wikiteam3 ``--xmlrevisions``) and by
``dumpBackup.php --revrange`` list one page's history in several ``<page>`` blocks,
far apart, often newest first. MediaWiki's importer (``WikiImporter::handlePage``)
treats every block on its own and files its revisions under the block's *title*: the
``<id>`` in the XML is read and never used. So do we:

- **One page per title.** Blocks with the same title (``_`` and `` `` alike) are one
  page, whatever ids they carry. Its id is the first ``<id>`` its blocks give, unless an
  earlier title already has that id (one id under two titles: MediaWiki makes two pages,
  and so do we); a title without a usable id gets a synthetic one (``identity.synthetic_id``).
- **Two passes, bounded memory.** ``index_pages`` is the first pass: a byte scan of the
  decompressed dump that reads each block's head (``<title>``, the page's ``<id>``,
  everything before its first ``<revision>``) into a temporary SQLite file
  (``PageIndex``). XML text cannot hold a raw ``<``, so ``<page`` in the bytes is always
  the tag; it costs a few percent of the parse (``benchmarks/split_pages.py``). The
  second pass (``DumpReader``) parses as before; a title with one block is yielded as
  soon as it ends, the revisions of a title with several are spilled into the same
  SQLite file (``SplitPages``) until its last block, then yielded once, in history
  order, exact duplicates dropped.
"""

from __future__ import annotations

import codecs
import html
import pickle
import re
import sqlite3
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ..model import PageId, Revision
from ..identity import synthetic_id
from .dump_spill import refuse_repeat

CHUNK = 1 << 20
HEAD_MAX = 64 * 1024  # a block's head (title, ns, id, restrictions, ...) is far smaller
_PAGE = b"<page"
_HEAD_END = re.compile(rb"<revision[\s>]|<upload[\s>]|</page>|<page[\s>]")
_TITLE = re.compile(rb"<title>([^<]*)</title>")
_ID = re.compile(rb"<id>\s*(\d+)\s*</id>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def title_key(title: str) -> str:
    """The title as MediaWiki's importer compares titles (``Foo_bar`` is ``Foo bar``)."""
    return title.replace("_", " ").strip()


class _Utf8:
    """Re-encodes a UTF-16 dump as UTF-8 for the byte scan (the parser reads the original)."""

    def __init__(self, inner: BinaryIO, decoder: codecs.IncrementalDecoder):
        self.inner = inner
        self.decoder = decoder

    def read(self, n: int) -> bytes:
        data = self.inner.read(n)
        try:
            return self.decoder.decode(data, final=not data).encode("utf-8")
        except UnicodeDecodeError:
            return b""  # pass 2's parser reports the bytes


def _head_encoding(first: bytes) -> str | None:
    """The dump's encoding when it is not ASCII-compatible (XML 1.0 appendix F), else None."""
    if first.startswith((b"\xfe\xff", b"\xff\xfe")):
        return "utf-16"
    if first.startswith(b"\x00<\x00?") or first.startswith(b"\x00<\x00m"):
        return "utf-16-be"
    if first.startswith(b"<\x00?\x00") or first.startswith(b"<\x00m\x00"):
        return "utf-16-le"
    return None


@dataclass(frozen=True, slots=True)
class Block:
    """What pass 1 knows of a title: its row, its page id, how many blocks it has."""

    kid: int
    page_id: PageId
    blocks: int


class PageIndex:
    """Pass 1's result: per title, its blocks and page id, in a temporary SQLite file.

    Also holds the revisions of titles with several blocks while pass 2 reads them
    (``SplitPages`` shares the file)."""

    def __init__(self) -> None:
        # "" is SQLite's private temporary on-disk database, removed when closed.
        self.db = sqlite3.connect("")
        self.db.executescript(
            """
            CREATE TABLE k (kid INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, first_id INTEGER,
                            page_id INTEGER, blocks INTEGER NOT NULL, seen INTEGER NOT NULL DEFAULT 0,
                            ns INTEGER, title TEXT, redirect TEXT, top_ts INTEGER, top_id INTEGER);
            CREATE TABLE r (kid INTEGER NOT NULL, rev_id INTEGER NOT NULL, ts INTEGER NOT NULL,
                            sha1 TEXT NOT NULL, rev BLOB NOT NULL, PRIMARY KEY (kid, rev_id));
            CREATE INDEX r_order ON r (kid, ts, rev_id);
            """
        )
        self.blocks = 0
        self.split_titles = 0

    def close(self) -> None:
        self.db.close()

    def add(self, title: str, page_id: int | None) -> None:
        self.blocks += 1
        self.db.execute(
            "INSERT INTO k (key, first_id, blocks) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE "
            "SET blocks = blocks + 1, first_id = coalesce(first_id, excluded.first_id)",
            (title_key(title), page_id),
        )

    def finish(self) -> None:
        """Give every title its page id: its first id unless an earlier title holds it."""
        db = self.db
        db.execute("CREATE INDEX k_first ON k (first_id)")
        db.execute(
            "UPDATE k SET page_id = first_id WHERE first_id IS NOT NULL AND kid = "
            "(SELECT min(kid) FROM k AS o WHERE o.first_id = k.first_id)"
        )
        for kid, key in db.execute("SELECT kid, key FROM k WHERE page_id IS NULL").fetchall():
            db.execute("UPDATE k SET page_id = ? WHERE kid = ?", (synthetic_id("page", key), kid))
        db.execute("CREATE INDEX k_page ON k (page_id)")
        # Two titles hashed to one synthetic id (or onto a real one): the later moves up.
        while dups := db.execute("SELECT page_id FROM k GROUP BY page_id HAVING count(*) > 1").fetchall():
            for (pid,) in dups:
                db.execute("UPDATE k SET page_id = page_id + 1 WHERE page_id = ? AND kid > "
                           "(SELECT min(kid) FROM k WHERE page_id = ?)", (pid, pid))
        self.split_titles = db.execute("SELECT count(*) FROM k WHERE blocks > 1").fetchone()[0]

    def lookup(self, title: str) -> Block | None:
        row = self.db.execute("SELECT kid, page_id, blocks FROM k WHERE key = ?", (title_key(title),)).fetchone()
        return Block(row[0], PageId(row[1]), row[2]) if row else None


def index_pages(stream: BinaryIO, index: PageIndex, progress=None) -> None:
    """Pass 1: read every block's head from the decompressed dump into ``index``."""
    first = stream.read(CHUNK)
    encoding = "utf-8"
    if (wide := _head_encoding(first)) is not None:
        utf8 = _Utf8(stream, codecs.getincrementaldecoder(wide)())
        try:
            first = utf8.decoder.decode(first).encode("utf-8")
        except UnicodeDecodeError:
            return  # pass 2's parser reports the bytes
        stream = utf8  # type: ignore[assignment]
    elif (m := _ENCODING.search(first[:200])) is not None:
        encoding = m.group(1).decode("ascii")
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = "utf-8"  # the parser refuses it in pass 2, with its own message
    buf = first
    eof = not first
    while True:
        pos = 0
        while True:
            i = buf.find(_PAGE, pos)
            if i < 0:
                pos = max(pos, len(buf) - len(_PAGE))
                break
            if i + len(_PAGE) >= len(buf) and not eof:
                pos = i
                break
            if buf[i + len(_PAGE) : i + len(_PAGE) + 1] not in (b">", b" ", b"\t", b"\r", b"\n"):
                pos = i + len(_PAGE)  # <pages...>, <page/>: not a block
                continue
            m = _HEAD_END.search(buf, i + len(_PAGE), i + HEAD_MAX)
            if m is None and not eof and len(buf) - i < HEAD_MAX:
                pos = i  # the head goes on in the next chunk
                break
            end = m.start() if m is not None else min(len(buf), i + HEAD_MAX)
            _add_head(index, buf[i:end], encoding)
            pos = end
        if eof:
            break
        data = stream.read(CHUNK)
        eof = not data
        buf = buf[pos:] + data
        if progress is not None:
            progress()


def _add_head(index: PageIndex, head: bytes, encoding: str) -> None:
    t = _TITLE.search(head)
    if t is None:
        return  # pass 2 reports a page without a title
    try:
        title = html.unescape(t.group(1).decode(encoding))
    except UnicodeDecodeError:
        return  # pass 2 reports the bytes
    i = _ID.search(head)
    index.add(title, int(i.group(1)) if i else None)


class SplitPages:
    """Pass 2's store for the revisions of titles with several blocks (``PageIndex.db``)."""

    def __init__(self, index: PageIndex):
        self.db = index.db
        self._done: int | None = None  # a title yielded: its rows go once it has been read

    def add(self, kid: int, rev: Revision) -> None:
        cur = self.db.execute("INSERT OR IGNORE INTO r VALUES (?,?,?,?,?)",
                              (kid, rev.rev_id, rev.timestamp, rev.sha1, pickle.dumps(rev)))
        if cur.rowcount == 0:  # that revision again: a block boundary listed twice, keep one
            (sha1,) = self.db.execute("SELECT sha1 FROM r WHERE kid=? AND rev_id=?", (kid, rev.rev_id)).fetchone()
            refuse_repeat(rev, sha1)

    def block_done(self, kid: int, ns: int, title: str, redirect: str | None, top: tuple[int, int] | None) -> bool:
        """Count one more block of ``kid``; the page's title, namespace and redirect are
        those of the block holding its newest revision. True when it was the last block."""
        self._drop_done()
        if top is not None:
            self.db.execute(
                "UPDATE k SET ns=?, title=?, redirect=?, top_ts=?, top_id=? WHERE kid=? AND "
                "(top_ts IS NULL OR (top_ts, top_id) < (?, ?))",
                (ns, title, redirect, top[0], top[1], kid, top[0], top[1]),
            )
        self.db.execute("UPDATE k SET seen = seen + 1, ns = coalesce(ns, ?), title = coalesce(title, ?) WHERE kid=?",
                        (ns, title, kid))
        seen, blocks = self.db.execute("SELECT seen, blocks FROM k WHERE kid=?", (kid,)).fetchone()
        return seen == blocks

    def take(self, kid: int) -> tuple[int, str, str | None, int, Iterator[Revision]]:
        """The page whose last block was read: (namespace, title, redirect, count, revisions)."""
        self._drop_done()
        ns, title, redirect = self.db.execute("SELECT ns, title, redirect FROM k WHERE kid=?", (kid,)).fetchone()
        (count,) = self.db.execute("SELECT count(*) FROM r WHERE kid=?", (kid,)).fetchone()
        self._done = kid
        return ns, title, redirect, count, self._revisions(kid)

    def unfinished(self) -> list[int]:
        """Titles whose blocks pass 2 did not all find (only a dump pass 1 misread: markup
        in a comment or CDATA section). They are yielded all the same, at the end."""
        return [kid for (kid,) in self.db.execute("SELECT kid FROM k WHERE blocks > 1 AND seen BETWEEN 1 AND blocks - 1")]

    def _revisions(self, kid: int) -> Iterator[Revision]:
        # Our own temporary file, written by this process: not untrusted input.
        for (blob,) in self.db.execute("SELECT rev FROM r WHERE kid=? ORDER BY ts, rev_id", (kid,)):
            yield pickle.loads(blob)

    def _drop_done(self) -> None:
        if self._done is not None:
            self.db.execute("DELETE FROM r WHERE kid=?", (self._done,))
            self.db.execute("UPDATE k SET seen = blocks WHERE kid=?", (self._done,))
            self._done = None
