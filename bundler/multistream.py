"""Wikimedia's multistream dumps: write them (for tests and benchmarks) and read a byte range of them.

A ``pages-articles-multistream.xml.bz2`` is a sequence of independent bz2 streams:
the first holds ``<mediawiki>`` and ``<siteinfo>``, each of the next holds up to 100
``<page>``s in page-id order, the last ``</mediawiki>``. Its index,
``…-multistream-index.txt.bz2`` beside it, has one line per page:
``offset:page_id:title``, the offset being where the page's stream starts in the
file. So a reader can decompress only the streams of a range of page ids, with plain
``bz2`` (each stream is a whole bz2 file), on as many machines as there are ranges.

``write_multistream`` makes such a dump (and its index) from pages given in any
order; ``python -m bundler.multistream write IN OUT [--until T]`` makes the latest-only
dump of any XML dump the project reads, as the wiki was at ``T``.

Reading: ``read_index`` gives the streams (offset, end and the ids of their pages);
``iter_pages`` yields the pages of a list of streams (or of a whole dump without an
index, in one sequential pass), each as ``DumpPage``: the page and its newest revision.
Memory: one stream's decompressed bytes at a time (100 pages).
"""

from __future__ import annotations

import bz2
import dataclasses
import io
import os
import re
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple
from xml.sax.saxutils import unescape

from defusedxml.ElementTree import fromstring

from .errors import DumpError
from .export import XmlWriter
from .identity import page_rkeys, rkey
from .model import Page, PageId, RevId, Revision, SiteInfo, base36_to_sha1, parse_timestamp
from .sources.dump_open import open_binary
from .sources.dump_xml import child_text, local, parse_revision

PAGES_PER_STREAM = 100  # as Wikimedia's dumps
READ_CHUNK = 1 << 20
HINT_MULTISTREAM = ("Give a Wikimedia pages-articles-multistream dump with its -index.txt.bz2 beside it, or make one "
                    "from any XML dump: python -m bundler.multistream write IN.xml OUT-multistream.xml.bz2")


# --- the index ------------------------------------------------------------------------------


def index_name(dump: str) -> str:
    """Where a multistream dump's index is: ``X.xml.bz2`` → ``X-index.txt.bz2``."""
    return (dump[: -len(".xml.bz2")] if dump.endswith(".xml.bz2") else dump.rsplit(".", 1)[0]) + "-index.txt.bz2"


def index_path_for(dump: str) -> str | None:
    """The index beside a multistream dump, if there is one."""
    path = index_name(dump)
    return path if os.path.exists(path) else None


@dataclass(slots=True)
class Stream:
    """One bz2 stream of pages: where it is in the file, and its pages' ids (first, last, how many)."""

    offset: int
    end: int  # where the next stream starts (or the file ends)
    first: int
    last: int
    count: int


_INDEX_LINE = re.compile(rb"(\d+):(\d+):[^\n]*\n")


def read_index(dump: str, index: str | None = None) -> list[Stream] | None:
    """The page streams of a multistream dump from its index; None when it has none
    (then the dump is read whole, in one pass). A malformed index, or one whose
    offsets and ids do not grow, is refused. Memory: one entry per stream (100 pages)."""
    index = index or index_path_for(dump)
    if index is None:
        return None
    size = os.path.getsize(dump)
    streams: list[Stream] = []
    name = os.path.basename(index)
    cur: Stream | None = None
    n = 0
    rest = b""
    try:
        with bz2.open(index, "rb") as f:
            while True:
                chunk = f.read(READ_CHUNK)
                data = rest + chunk if chunk else rest + (b"\n" if rest else b"")
                cut = data.rfind(b"\n") + 1
                data, rest = data[:cut], data[cut:]
                pairs = _INDEX_LINE.findall(data)
                if len(pairs) != data.count(b"\n"):
                    bad = next(line for line in data.split(b"\n") if not _INDEX_LINE.fullmatch(line + b"\n"))
                    raise DumpError(f"{name}: a line is not offset:page_id:title ({bad[:60]!r})", hint=HINT_MULTISTREAM)
                for off_b, pid_b in pairs:
                    n += 1
                    off, pid = int(off_b), int(pid_b)
                    if cur is not None and off == cur.offset:
                        if pid <= cur.last:
                            raise DumpError(f"{name} line {n}: page ids are not in increasing order", hint=HINT_MULTISTREAM)
                        cur.last = pid
                        cur.count += 1
                        continue
                    if (cur is not None and (off < cur.offset or pid <= cur.last)) or off >= size:
                        raise DumpError(f"{name} line {n}: offset {off} does not fit the dump ({size:,} bytes), or ids go "
                                        "back: the dump is not a multistream dump, or the index belongs to another dump",
                                        hint=HINT_MULTISTREAM)
                    if cur is not None:
                        cur.end = off
                    cur = Stream(off, size, pid, pid, 1)
                    streams.append(cur)
                if not chunk:
                    break
    except (OSError, EOFError) as e:
        raise DumpError(f"cannot read the index {name} ({e})", hint=HINT_MULTISTREAM) from None
    if not streams:
        raise DumpError(f"the index {name} is empty", hint=HINT_MULTISTREAM)
    return streams


# --- reading pages ----------------------------------------------------------------------------


class DumpPage(NamedTuple):
    """A page of a dump and its newest revision, with that revision's ``rkey``."""

    page: Page
    rev: Revision
    rkey: int


_PAGE_START = re.compile(rb"<page[\s>]")
_PAGE_END = b"</page>"


def _stream_chunks(path: str, streams: list[Stream]) -> Iterator[tuple[Stream, bytes]]:
    """The decompressed bytes of each stream, checked to be one whole bz2 stream."""
    name = os.path.basename(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        for s in streams:
            f.seek(s.offset)
            raw = f.read(s.end - s.offset)
            if not raw.startswith(b"BZh"):
                raise DumpError(f"{name} has no bz2 stream at offset {s.offset:,} where its index says one starts: "
                                "it is not a multistream dump, or the index belongs to another dump", hint=HINT_MULTISTREAM)
            d = bz2.BZ2Decompressor()
            try:
                data = d.decompress(raw)
            except OSError as e:
                raise DumpError(f"{name}: the bz2 stream at offset {s.offset:,} is damaged ({e})",
                                hint="The index belongs to another dump, or the dump is damaged. " + HINT_MULTISTREAM) from None
            # (The last page stream runs to the end of the file: ``</mediawiki>``'s stream follows it.)
            if not d.eof or (d.unused_data and not (s.end == size and d.unused_data.startswith(b"BZh"))):
                raise DumpError(f"{name}: the bytes from offset {s.offset:,} to {s.end:,} are not exactly one bz2 stream",
                                hint="The index belongs to another dump. " + HINT_MULTISTREAM)
            yield s, data


def _page_blocks(data: bytes) -> Iterator[bytes]:
    """The ``<page>…</page>`` blocks of decompressed dump bytes (whole pages only)."""
    pos = 0
    while True:
        m = _PAGE_START.search(data, pos)
        if m is None:
            return
        end = data.find(_PAGE_END, m.start())
        if end < 0:
            return
        pos = end + len(_PAGE_END)
        yield data[m.start():pos]


def _whole_dump_blocks(path: str) -> Iterator[bytes]:
    """The page blocks of a dump without an index, in one sequential pass (any codec)."""
    stream, raw, _codec = open_binary(path)
    buf = b""
    try:
        while True:
            chunk = stream.read(READ_CHUNK)
            buf += chunk
            cut = buf.rfind(_PAGE_END)
            if cut >= 0:
                cut += len(_PAGE_END)
                yield from _page_blocks(buf[:cut])
                buf = buf[cut:]
            if not chunk:
                return
    except (OSError, EOFError) as e:
        raise DumpError(f"cannot read {os.path.basename(path)} ({e})", hint="The dump may be truncated or damaged.") from None
    finally:
        raw.close()


def parse_page(block: bytes, what: str) -> DumpPage:
    """One ``<page>`` block: the page and its newest revision (history order: (timestamp, id))."""
    try:
        elem = fromstring(block, forbid_dtd=True)
    except Exception as e:  # ParseError, or defusedxml's refusal of entities
        raise DumpError(f"{what}: a <page> is not well-formed XML ({e})", hint="The dump may be damaged.") from None
    title = child_text(elem, "title")
    pid = child_text(elem, "id")
    if not title or not pid or not pid.strip().isdigit():
        raise DumpError(f"{what}: a <page> without <title> or <id>", hint="Give a dump of a MediaWiki 1.5 or later.")
    ns_text = child_text(elem, "ns")
    redirect = next((c.get("title") for c in elem if local(c.tag) == "redirect"), None)
    fields = {"title": title, "page_id": int(pid)}
    revs = sorted((parse_revision(c, fields) for c in elem if local(c.tag) == "revision"),
                  key=lambda r: (r.timestamp, r.rev_id))
    if not revs:
        raise DumpError(f"{what}: page {title!r} has no revision", hint="Give a dump with the pages' text.")
    page = Page(PageId(int(pid)), int(ns_text) if ns_text and ns_text.lstrip("-").isdigit() else 0, title, redirect)
    return DumpPage(page, revs[-1], page_rkeys(revs)[-1])


class RawPage:
    """A ``<page>`` block not parsed yet: its id (from its first ``<id>``) and bytes.
    ``parse()`` parses it once; two dumps' blocks with the same bytes are the same page."""

    __slots__ = ("page_id", "block", "what", "_parsed")

    def __init__(self, block: bytes, what: str):
        m = _PAGE_ID.search(block)
        if m is None:
            raise DumpError(f"{what}: a <page> without <id>", hint="Give a dump of a MediaWiki 1.5 or later.")
        self.page_id = int(m.group(1))
        self.block = block
        self.what = what
        self._parsed: DumpPage | None = None

    def parse(self) -> DumpPage:
        if self._parsed is None:
            self._parsed = parse_page(self.block, self.what)
        return self._parsed

    def quick_key(self) -> tuple[int, str] | None:
        """(``rkey`` of its one revision, title) read without parsing, from the dump's
        ``<timestamp>`` and ``<sha1>``; None when the page has several revisions or the
        fields are not there. (The dump's sha1 is MediaWiki's, not one computed from the
        text: a caller may trust a match with a key computed from the text, not a mismatch.)"""
        b = self.block
        if b.count(b"<revision") != 1:
            return None
        ts, sha1, title = _TIMESTAMP.search(b), _SHA1.search(b), _TITLE.search(b)
        if ts is None or sha1 is None or title is None:
            return None
        try:
            rev = Revision(RevId(0), PageId(self.page_id), parse_timestamp(ts.group(1).decode("ascii")), None,
                           sha1=base36_to_sha1(sha1.group(1).decode("ascii")))
        except ValueError:
            return None
        return rkey(rev), unescape(title.group(1).decode("utf-8"), {"&quot;": '"', "&#039;": "'"})


_PAGE_ID = re.compile(rb"<id>\s*(\d+)\s*</id>")
_TIMESTAMP = re.compile(rb"<timestamp>([^<]+)</timestamp>")
_SHA1 = re.compile(rb"<sha1>([0-9a-z]+)</sha1>")
_TITLE = re.compile(rb"<title>([^<]*)</title>")


def iter_blocks(path: str, streams: list[Stream] | None, lo: int = 0, hi: int | None = None) -> Iterator[RawPage]:
    """The pages with ids in [lo, hi) of these streams (None: the whole dump, which
    must then be in page-id order), checked against the index, not parsed yet."""
    name = os.path.basename(path)
    if streams is None:
        last = -1
        for block in _whole_dump_blocks(path):
            p = RawPage(block, name)
            if p.page_id <= last:
                raise DumpError(f"{name} is not in page-id order (page {p.page_id} after {last})",
                                hint="Make a multistream copy, which is sorted: " + HINT_MULTISTREAM.split(": ", 1)[1])
            last = p.page_id
            if p.page_id >= lo and (hi is None or p.page_id < hi):
                yield p
        return
    for s, data in _stream_chunks(path, streams):
        pages = [RawPage(b, name) for b in _page_blocks(data)]
        ids = [p.page_id for p in pages]
        if len(ids) != s.count or ids[0] != s.first or ids[-1] != s.last or any(a >= b for a, b in zip(ids, ids[1:])):
            raise DumpError(f"{name}: the stream at offset {s.offset:,} holds other pages than its index says",
                            hint="The index belongs to another dump. " + HINT_MULTISTREAM)
        for p in pages:
            if p.page_id >= lo and (hi is None or p.page_id < hi):
                yield p


def iter_pages(path: str, streams: list[Stream] | None, lo: int = 0, hi: int | None = None) -> Iterator[DumpPage]:
    """``iter_blocks``, parsed: each page and its newest revision."""
    for p in iter_blocks(path, streams, lo, hi):
        yield p.parse()


def siteinfo_of(path: str) -> SiteInfo:
    """The ``<siteinfo>`` at the head of a dump."""
    from .sources.dump import open_dump

    with open_dump(path) as d:
        return d.siteinfo


# --- writing ------------------------------------------------------------------------------------


def _page_xml(siteinfo_writer: XmlWriter, page: Page, revs: list[Revision]) -> str:
    buf = io.StringIO()
    siteinfo_writer.out = buf
    siteinfo_writer.page(page, revs)
    return buf.getvalue()


def write_multistream(out: str, siteinfo: SiteInfo, pages: Iterable[tuple[Page, list[Revision]]],
                      per_stream: int = PAGES_PER_STREAM) -> str:
    """Write ``pages`` (any order) as a multistream dump in page-id order, and its index
    beside it; the index's path. Pages are sorted through a temporary SQLite file, so
    memory does not grow with the dump."""
    head = io.StringIO()
    xw = XmlWriter(head, siteinfo)
    header = head.getvalue()
    index = index_name(out)
    with tempfile.TemporaryDirectory(prefix="wb-multistream-") as tmp:
        db = sqlite3.connect(os.path.join(tmp, "pages.sqlite"))
        db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, title TEXT, xml BLOB)")
        for page, revs in pages:
            db.execute("INSERT INTO p VALUES (?,?,?)",
                       (page.page_id, page.title, bz2.compress(_page_xml(xw, page, revs).encode("utf-8"), 1)))
        with open(out + ".tmp", "wb") as f, bz2.open(index + ".tmp", "wt", encoding="utf-8") as ix:
            f.write(bz2.compress(header.encode("utf-8")))
            group: list[tuple[int, str, bytes]] = []

            def flush() -> None:
                off = f.tell()
                f.write(bz2.compress(b"".join(bz2.decompress(x) for _i, _t, x in group)))
                for pid, title, _x in group:
                    ix.write(f"{off}:{pid}:{title}\n")
                group.clear()

            for row in db.execute("SELECT id, title, xml FROM p ORDER BY id"):
                group.append(row)
                if len(group) == per_stream:
                    flush()
            if group:
                flush()
            f.write(bz2.compress(b"</mediawiki>\n"))
        db.close()
    os.replace(out + ".tmp", out)
    os.replace(index + ".tmp", index)
    return index


def latest_pages(path: str, until: int | None = None) -> Iterator[tuple[Page, list[Revision]]]:
    """Each page of any dump as it was at ``until`` (None: now): its newest revision then;
    pages not made yet by then are left out."""
    from .sources.dump import open_dump

    with open_dump(path) as d:
        for ph in d:
            newest = None
            for r in ph.revisions:
                if until is None or r.timestamp <= until:
                    newest = r
            if newest is not None:
                yield ph.page, [newest]


def edit_pages(pages: Iterable[tuple[Page, list[Revision]]], *, renames: dict[int, str] | None = None,
               deletions: Iterable[int] = ()) -> Iterator[tuple[Page, list[Revision]]]:
    """``pages`` with some renamed (page id -> new title, same namespace) and some left
    out: the moves and deletions between two dumps, for tests and benchmarks."""
    renames = renames or {}
    gone = set(deletions)
    for page, revs in pages:
        if page.page_id in gone:
            continue
        if page.page_id in renames:
            page = dataclasses.replace(page, title=renames[page.page_id])
        yield page, revs


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .model import parse_timestamp

    ap = argparse.ArgumentParser(prog="python -m bundler.multistream",
                                 description="Make a latest-only multistream dump (and its index) from any XML dump.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="IN (any dump the tool reads) -> OUT-multistream.xml.bz2 + OUT-multistream-index.txt.bz2")
    w.add_argument("input")
    w.add_argument("output")
    w.add_argument("--until", help="the wiki as it was at this time (2023-01-31T00:00:00Z)")
    w.add_argument("--per-stream", type=int, default=PAGES_PER_STREAM)
    w.add_argument("--rename", action="append", default=[], metavar="ID=TITLE", help="give page ID this title")
    w.add_argument("--delete", action="append", default=[], type=int, metavar="ID", help="leave page ID out")
    a = ap.parse_args(argv)
    until = parse_timestamp(a.until) if a.until else None
    si = siteinfo_of(a.input)
    renames = {int(r.split("=", 1)[0]): r.split("=", 1)[1] for r in a.rename}
    pages = edit_pages(latest_pages(a.input, until), renames=renames, deletions=a.delete)
    index = write_multistream(a.output, si, pages, a.per_stream)
    print(f"wrote {a.output} and {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
