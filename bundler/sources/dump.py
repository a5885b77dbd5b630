"""MediaWiki XML dumps as a source: schemas 0.3 to 0.11, plain or compressed.

``open_dump(path)`` returns a ``DumpReader``; iterating it yields one
``PageHistory`` per page: the page and its revisions in history order,
``(timestamp, rev_id)``, because real dumps do not always list them that way.
A page is a title, as MediaWiki's importer has it: archives list one page in many
``<page>`` blocks, and ``dump_pages`` puts them together (a first pass over the
file finds which titles have several). Pages and revisions without ``<id>`` get
stable synthetic ids (``model.synthetic_id``).

Why not mwxml: it stops on real dumps (``Unexpected tag ... 'sha1'`` on Wikia's
page-level ``<sha1>``), cannot read ``<upload>``, and asserts on input. This
reader is a small iterparse loop over defusedxml, which refuses entity
declarations and external entities (billion laughs, XXE) before they expand.

Uploads (``<upload>``) are collected in ``DumpReader.files`` with their bytes in
temporary files: base64 ``<contents>`` is decoded on its way to the parser
(``dump_files._SpoolContents``), so a 100 MB file never becomes a string.

Memory: elements are cleared as soon as they are read. A page's history is
kept in memory up to ``SPILL_BYTES`` of text and spilled to a temporary SQLite
file beyond that, so a page with 50,000 revisions costs disk, not RAM.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterable, Iterator
from xml.etree.ElementTree import ParseError

import zstandard
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..errors import DumpError
from ..model import (
    Deleted,
    Page,
    PageHistory,
    PageId,
    RevId,
    Revision,
    SiteInfo,
    Slot,
    base36_to_sha1,
    parse_timestamp,
    synthetic_id,
    text_sha1,
)
from .dump_files import HINT_DUMP, DumpFiles, _SpoolContents
from .dump_pages import Block, PageIndex, SplitPages, index_pages, title_key

SUPPORTED_SCHEMAS = ("0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.10", "0.11")
SPILL_BYTES = 16 * 1024 * 1024  # as make's history spool (history.SPOOL_BYTES): one long page costs disk, not RAM
# The first pass's part of the reading time, by codec (benchmarks/split_pages.py): the
# progress bar's first stretch. bz2 and xz are copied to zstd in the first pass (below).
FIRST_PASS_SHARE = {"plain": 0.05, "zstd": 0.05, "gzip": 0.1, "bzip2": 0.35, "xz": 0.3}


_MAGIC = (("gzip", b"\x1f\x8b"), ("bzip2", b"BZh"), ("xz", b"\xfd7zXZ\x00"), ("zstd", b"\x28\xb5\x2f\xfd"),
          ("7z", b"7z\xbc\xaf\x27\x1c"))


def _open_binary(path: str) -> tuple[BinaryIO, BinaryIO, str]:
    """(decompressed stream, the file on disk, its codec: plain, gzip, bzip2, xz or zstd)."""
    try:
        raw = open(path, "rb")
    except OSError as e:
        raise DumpError(f"cannot open dump {path}: {e.strerror}", hint="Check the path.") from None
    magic = raw.read(6)
    raw.seek(0)
    codec = next((c for c, m in _MAGIC if magic.startswith(m)), "plain")
    if codec == "gzip":
        return gzip.GzipFile(fileobj=raw), raw, codec  # type: ignore[return-value]
    if codec == "bzip2":
        return bz2.BZ2File(raw), raw, codec  # type: ignore[return-value]
    if codec == "xz":
        return lzma.LZMAFile(raw), raw, codec  # type: ignore[return-value]
    if codec == "zstd":
        dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
        return dctx.stream_reader(raw, read_across_frames=True), raw, codec  # type: ignore[return-value]
    if codec == "7z":
        raw.close()
        raise DumpError(f"{path} is a 7-Zip archive", hint="Extract it first: 7z x " + os.path.basename(path))
    return raw, raw, codec


class _Tee:
    """Reads from ``inner`` and writes what it read to ``out``."""

    def __init__(self, inner: BinaryIO, out):
        self.inner = inner
        self.out = out

    def read(self, n: int) -> bytes:
        data = self.inner.read(n)
        self.out.write(data)
        return data


class _CountingReader(io.RawIOBase):
    """Counts bytes read from the decompressed stream, for errors; ``position`` is how far
    into the file on disk that is (compressed bytes), for progress."""

    def __init__(self, path: str):
        self.inner, self.raw, self.codec = _open_binary(path)
        self.size = os.fstat(self.raw.fileno()).st_size
        self.count = 0

    @property
    def position(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        try:
            data = self.inner.read(len(b))
        except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as e:
            raise DumpError(f"the dump's compression is damaged: {e}", hint=HINT_DUMP) from None
        n = len(data)
        b[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self.inner.close()
        self.raw.close()
        super().close()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem, name: str) -> str | None:
    for c in elem:
        if _local(c.tag) == name:
            return c.text if c.text is not None else ""
    return None


class _PageBuffer:
    """Revisions of one page, sorted on the way out; spills big histories to disk."""

    def __init__(self) -> None:
        self.items: list[Revision] = []
        self.text_bytes = 0
        self.db: sqlite3.Connection | None = None
        self.seen: dict[int, str] = {}  # rev_id -> sha1, to drop exact duplicates
        self.count = 0

    def add(self, rev: Revision) -> None:
        prev = self.seen.get(rev.rev_id)
        if prev is not None:
            if prev == rev.sha1:
                return  # the same revision listed twice: a documented quirk, keep one
            raise DumpError(
                f"revision {rev.rev_id} appears twice in page {rev.page_id} with different text",
                hint="The dump is inconsistent; re-export the page.",
            )
        self.seen[rev.rev_id] = rev.sha1
        self.count += 1
        if self.db is None:
            self.items.append(rev)
            self.text_bytes += len(rev.text or "")
            if self.text_bytes > SPILL_BYTES:
                self._spill()
        else:
            self._insert(rev)

    def _spill(self) -> None:
        # "" is SQLite's private temporary on-disk database, removed when closed.
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE r (ts INTEGER, id INTEGER, rev BLOB)")
        for rev in self.items:
            self._insert(rev)
        self.items = []

    def _insert(self, rev: Revision) -> None:
        import pickle

        assert self.db is not None
        self.db.execute("INSERT INTO r VALUES (?,?,?)", (rev.timestamp, rev.rev_id, pickle.dumps(rev)))

    def sorted(self) -> Iterable[Revision]:
        if self.db is None:
            self.items.sort(key=lambda r: (r.timestamp, r.rev_id))
            return self.items
        return self._iter_db()

    def _iter_db(self) -> Iterator[Revision]:
        import pickle  # our own temp file, written by this process: not untrusted input

        assert self.db is not None
        for (blob,) in self.db.execute("SELECT rev FROM r ORDER BY ts, id"):
            yield pickle.loads(blob)
        self.db.close()


@dataclass(slots=True)
class _OpenPage:
    """The ``<page>`` block being read: its direct fields, its revisions so far, which
    page it belongs to, its newest revision, and how deep inside it the parser is."""

    fields: dict = field(default_factory=dict)
    buf: _PageBuffer = field(default_factory=_PageBuffer)
    block: Block | None = None
    top: tuple[int, int] | None = None  # the block's newest revision, (timestamp, rev_id)
    depth: int = 0


class DumpReader:
    """Iterate ``PageHistory`` records from an XML dump. Use as a context manager.

    One ``PageHistory`` per title, however many ``<page>`` blocks hold its revisions
    (``dump_pages``: a first pass indexes the blocks, the second reads them).
    The ``<upload>``s of its pages are collected in ``files`` (``DumpFiles``).

    ``progress`` gets how far both passes are, in bytes of the file on disk: the first
    pass fills the first ``FIRST_PASS_SHARE`` of ``os.path.getsize(path)``."""

    def __init__(self, path: str, progress: Callable[[int], None] | None = None, files_dir: str | None = None):
        self.path = path
        self.files = DumpFiles(files_dir)
        self.siteinfo = SiteInfo()
        self.schema = ""
        self._progress = progress
        self._stream = _CountingReader(path)
        self._size = self._stream.size  # of the file on disk: what progress counts in
        self._index: PageIndex | None = None
        self._copy: str | None = None  # pass 1's decompressed copy, until pass 2 opens it
        self._share = FIRST_PASS_SHARE["plain"]
        self._events = self._parse(self._stream)
        self._ns_by_prefix: dict[str, int] = {}
        self._root = None
        self._pending_start = None
        self._read_header()

    def _parse(self, stream: "_CountingReader"):
        return iterparse(io.BufferedReader(_SpoolContents(stream, self.files), 1 << 20), events=("start", "end"), forbid_dtd=True)

    def __enter__(self) -> "DumpReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()
        self.files.close()
        if self._index is not None:
            self._index.close()
        if self._copy is not None and os.path.exists(self._copy):
            os.unlink(self._copy)  # pass 1 did not finish

    @property
    def bytes_read(self) -> int:
        return self._stream.count

    def _next_event(self):
        try:
            return next(self._events)
        except StopIteration:
            return None
        except ParseError as e:
            raise DumpError(
                f"{os.path.basename(self.path)} is not well-formed XML ({e}; after {self._stream.count:,} bytes)",
                hint="The dump may be truncated or damaged. " + HINT_DUMP,
            ) from None
        except DefusedXmlException as e:
            raise DumpError(
                f"{os.path.basename(self.path)} declares a DTD or entities ({type(e).__name__}); refused",
                hint="MediaWiki dumps never declare entities; this file is not a real dump.",
            ) from None

    def _read_header(self) -> None:
        ev = self._next_event()
        if ev is None:
            raise DumpError(f"{self.path} is empty", hint=HINT_DUMP)
        kind, root = ev
        if _local(root.tag) != "mediawiki":
            raise DumpError(
                f"{os.path.basename(self.path)} is not a MediaWiki dump (root element <{_local(root.tag)}>)",
                hint=HINT_DUMP,
            )
        self._root = root
        version = root.get("version") or ""
        if not version and "export-" in root.tag:
            version = root.tag.split("export-", 1)[1].rstrip("/}")
        if version not in SUPPORTED_SCHEMAS:
            raise DumpError(
                f"unknown dump schema version {version or '(none)'}; this tool reads {SUPPORTED_SCHEMAS[0]}–{SUPPORTED_SCHEMAS[-1]}",
                hint="Re-export with a MediaWiki from 1.5 to 1.45, or convert the dump to schema 0.11.",
            )
        self.schema = version
        # Read up to the end of <siteinfo>, or up to the first <page> if there is none.
        while True:
            ev = self._next_event()
            if ev is None:
                return
            kind, elem = ev
            name = _local(elem.tag)
            if kind == "end" and name == "siteinfo":
                self._parse_siteinfo(elem)
                root.clear()
                return
            if kind == "start" and name in ("page", "logitem"):
                self._pending_start = ev
                return

    def _parse_siteinfo(self, elem) -> None:
        namespaces = []
        for c in elem:
            if _local(c.tag) == "namespaces":
                for n in c:
                    key = int(n.get("key", "0"))
                    name = n.text or ""
                    namespaces.append((key, n.get("case", ""), name))
                    if name:
                        self._ns_by_prefix[name] = key
        self.siteinfo = SiteInfo(
            sitename=_child_text(elem, "sitename") or "",
            dbname=_child_text(elem, "dbname") or "",
            base=_child_text(elem, "base") or "",
            generator=_child_text(elem, "generator") or "",
            case=_child_text(elem, "case") or "first-letter",
            namespaces=tuple(namespaces),
        )

    def _namespace_of(self, title: str) -> int:
        if ":" in title:
            prefix = title.split(":", 1)[0]
            return self._ns_by_prefix.get(prefix, 0)
        return 0

    def _first_pass(self) -> PageIndex:
        """Index the blocks. A dump whose codec is slow to decompress (bz2, xz: most of
        the reading time) is also copied, decompressed, into a temporary zstd file on
        the way, and the second pass reads that copy instead of decompressing twice."""
        index = PageIndex()
        stream = _CountingReader(self.path)
        share = self._share = FIRST_PASS_SHARE[stream.codec]
        report = None
        if self._progress is not None:
            report = lambda: self._progress(int(stream.position * share))  # noqa: E731
        copy = None
        try:
            if share > FIRST_PASS_SHARE["plain"]:
                fd, self._copy = tempfile.mkstemp(prefix="wikibundle-dump-", suffix=".xml.zst")
                copy = _Tee(stream, zstandard.ZstdCompressor(level=1).stream_writer(os.fdopen(fd, "wb")))
            index_pages(copy or stream, index, report)  # type: ignore[arg-type]
        finally:
            stream.close()
            if copy is not None:
                copy.out.close()
        index.finish()
        if self._copy is not None:
            self._reopen(self._copy)
        return index

    def _reopen(self, path: str) -> None:
        """Go on from the decompressed copy: its header again, then its pages."""
        self._stream.close()
        self._stream = _CountingReader(path)
        os.unlink(path)  # the open file stays readable; nothing is left behind on a crash
        self._copy = None
        self._events = self._parse(self._stream)
        self._pending_start = None
        self._read_header()

    def _report(self) -> None:
        if self._progress is not None:
            done = self._stream.position / max(1, self._stream.size)
            self._progress(int(self._size * (self._share + done * (1 - self._share))))

    def __iter__(self) -> Iterator[PageHistory]:
        if self._index is None:
            self._index = self._first_pass()
        split = SplitPages(self._index)
        open_page: _OpenPage | None = None
        last_progress = 0
        pending, self._pending_start = self._pending_start, None
        while (ev := pending or self._next_event()) is not None:
            pending = None
            kind, elem = ev
            name = _local(elem.tag)
            if kind == "start":
                if name == "page":
                    open_page = _OpenPage()
                elif open_page is not None:
                    open_page.depth += 1
                continue
            if open_page is None:
                if name == "logitem":
                    self._root.clear()  # log items are not carried by a revision bundle
                continue
            if name != "page":
                open_page.depth -= 1
                self._read_in_page(open_page, split, elem, name)
                continue
            history = self._finish_page(open_page, split)
            open_page = None
            if history is not None:
                yield history
            if self._progress and self._stream.count - last_progress > (1 << 20):
                self._report()
                last_progress = self._stream.count
        if open_page is not None:
            raise DumpError(
                f"{os.path.basename(self.path)} ends inside a <page>", hint="The dump is truncated. " + HINT_DUMP
            )
        for kid in split.unfinished():
            yield self._merged(split, Block(kid, PageId(0), 0))
        if self._progress:
            self._progress(self._size)

    def _read_in_page(self, p: "_OpenPage", split: SplitPages, elem, name: str) -> None:
        """An element inside a ``<page>`` block ended: a revision, an upload, or the page's own fields."""
        if name == "revision":
            if p.block is None:
                p.block = self._block(p.fields)
            rev = self._parse_revision(elem, p.fields)
            newest = (rev.timestamp, rev.rev_id)
            p.top = max(p.top, newest) if p.top else newest
            if p.block.blocks > 1:
                split.add(p.block.kid, rev)
            else:
                p.buf.add(rev)
            elem.clear()
        elif name == "upload":
            self._parse_upload(elem)
            elem.clear()
        elif p.depth == 0 and name in ("title", "ns", "id", "redirect"):  # direct children of <page>
            if name == "redirect":
                p.fields["redirect"] = elem.get("title", "")
            elif name not in p.fields:
                p.fields[name] = elem.text or ""

    def _finish_page(self, p: "_OpenPage", split: SplitPages) -> PageHistory | None:
        """``</page>``: the page's history, or None while other blocks of its title are to come."""
        if p.block is None:
            p.block = self._block(p.fields)
        page = self._make_page(p.fields, p.block)
        self._root.clear()
        if p.block.blocks == 1:
            return PageHistory(page, p.buf.sorted(), p.buf.count)
        if split.block_done(p.block.kid, page.namespace, page.title, page.redirect, p.top):
            return self._merged(split, p.block)
        return None

    def _merged(self, split: SplitPages, block: Block) -> PageHistory:
        ns, title, redirect, count, revisions = split.take(block.kid)
        pid = self._index.lookup(title).page_id  # type: ignore[union-attr]
        return PageHistory(Page(pid, ns, title, redirect), revisions, count)

    def _block(self, f: dict) -> Block:
        """Which page this ``<page>`` block belongs to (pass 1 said); sets its page id."""
        title = f.get("title")
        if not title:
            raise DumpError("a <page> has no <title> before its revisions", hint=HINT_DUMP)
        block = self._index.lookup(title)  # type: ignore[union-attr]
        if block is None:  # pass 1 misread this block (markup in a comment): on its own
            try:
                pid = int(f["id"])
            except (KeyError, ValueError):
                pid = synthetic_id("page", title_key(title))
            block = Block(0, PageId(pid), 1)
        f["page_id"] = block.page_id
        return block

    def _parse_upload(self, elem) -> None:
        f: dict = {}
        contents = None
        for c in elem:
            n = _local(c.tag)
            if n == "contributor":
                for u in c:
                    un = _local(u.tag)
                    if un in ("username", "ip"):
                        f[un] = u.text or ""
                    elif un == "id":
                        try:
                            f["user_id"] = int(u.text or "")
                        except ValueError:
                            pass
            elif n == "contents":
                enc = c.get("encoding", "base64")
                if enc != "base64":
                    raise DumpError(f"an <upload>'s <contents> is in encoding {enc!r}; this tool reads base64", hint=HINT_DUMP)
                contents = c.text or ""
            else:
                f[n] = c.text if c.text is not None else ""
        self.files.add(f, contents)

    def _make_page(self, f: dict, block: Block) -> Page:
        title = f["title"]
        ns = f.get("ns")
        try:
            namespace = int(ns) if ns not in (None, "") else self._namespace_of(title)
        except ValueError:
            raise DumpError(f"page {title!r} has a malformed <ns> {ns!r}", hint=HINT_DUMP) from None
        return Page(block.page_id, namespace, title, f.get("redirect"))

    def _parse_revision(self, elem, page_fields: dict) -> Revision:
        f = _revision_fields(elem)
        title = page_fields["title"]
        what = f"revision {f['rev_id']}" if f["rev_id"] else f"a revision of {title!r}"
        ts = _revision_timestamp(f["timestamp"], what)
        deleted, text = f["deleted"], f["text"]
        if text is None and not deleted & Deleted.TEXT:
            text = ""  # no <text> at all, or an empty one
        # The dump's sha1 is of the text as stored; ours is recomputed from what we carry.
        # When the text is hidden we keep the dump's sha1 so the revision stays identifiable.
        sha1 = text_sha1(text) if text is not None else f["sha1"]
        rid = _revision_id(f["rev_id"], title, ts, sha1)
        try:
            pid = int(f["parent_id"]) if f["parent_id"] else None
        except ValueError:
            pid = None
        hidden_user = bool(deleted & Deleted.USER)
        return Revision(
            rev_id=RevId(rid),
            page_id=PageId(page_fields["page_id"]),
            timestamp=ts,
            text=text,
            user=None if hidden_user else f["user"],
            user_id=None if hidden_user else f["user_id"],
            comment=f["comment"],
            parent_id=RevId(pid) if pid else None,
            minor=f["minor"],
            deleted=deleted,
            model=f["model"],
            format=f["format"],
            slots=tuple(s for s in f["slots"] if s.role != "main"),
            sha1=sha1,
        )


_REVISION_TAGS = {"id": "rev_id", "parentid": "parent_id", "timestamp": "timestamp"}


def _revision_fields(elem) -> dict:
    """A ``<revision>``'s children as they are in the dump, not yet checked."""
    f: dict = {
        "rev_id": None, "parent_id": None, "timestamp": None, "user": None, "user_id": None, "comment": None,
        "text": None, "sha1": "", "minor": False, "deleted": Deleted(0), "model": "wikitext",
        "format": "text/x-wiki", "slots": [],
    }
    for c in elem:
        n = _local(c.tag)
        if n in _REVISION_TAGS:
            f[_REVISION_TAGS[n]] = c.text
        elif n == "contributor":
            _read_contributor(c, f)
        elif n == "minor":
            f["minor"] = True
        elif n == "comment":
            if c.get("deleted") == "deleted":
                f["deleted"] |= Deleted.COMMENT
            else:
                f["comment"] = c.text or ""
        elif n in ("model", "format"):
            f[n] = c.text or f[n]
        elif n == "text":
            _read_text(c, f)
        elif n == "sha1":
            if c.text and c.text.strip():
                try:
                    f["sha1"] = base36_to_sha1(c.text.strip())
                except ValueError:
                    f["sha1"] = ""
        elif n == "content":
            f["slots"].append(_read_slot(c))
    return f


def _read_contributor(c, f: dict) -> None:
    """``<contributor>``: the user name or IP and the user id; hidden, it marks the revision."""
    if c.get("deleted") == "deleted":
        f["deleted"] |= Deleted.USER
    for u in c:
        un = _local(u.tag)
        if un in ("username", "ip"):
            f["user"] = u.text or ""
        elif un == "id":
            try:
                f["user_id"] = int(u.text or "")
            except ValueError:
                f["user_id"] = None


def _read_text(c, f: dict) -> None:
    """``<text>``: the revision's text, hidden, or (a stub dump) stored elsewhere: refused."""
    if c.get("deleted") == "deleted":
        f["deleted"] |= Deleted.TEXT
    elif c.text is None and c.get("location"):
        raise DumpError(
            "this is a stub dump: revision texts are stored elsewhere",
            hint="Use a dump with text (pages-meta-history / dumpBackup.php --full).",
        )
    else:
        f["text"] = c.text or ""


def _read_slot(c) -> Slot:
    """A ``<content>`` block (schema 0.11): one slot; its text is None when hidden."""
    role = _child_text(c, "role") or "main"
    ctext_el = next((x for x in c if _local(x.tag) == "text"), None)
    ctext = None
    if ctext_el is not None and ctext_el.get("deleted") != "deleted":
        ctext = ctext_el.text or ""
    return Slot(role, _child_text(c, "model") or "", _child_text(c, "format") or "", ctext)


def _revision_timestamp(timestamp: str | None, what: str) -> int:
    if not timestamp:
        raise DumpError(f"{what} has no <timestamp>", hint=HINT_DUMP)
    try:
        return parse_timestamp(timestamp)
    except ValueError:
        raise DumpError(f"{what} has a malformed timestamp {timestamp!r}", hint=HINT_DUMP) from None


def _revision_id(rev_id: str | None, title: str, ts: int, sha1: str) -> int:
    if rev_id is None:
        # No <id> (schema 0.3 exports): one from what MediaWiki's importer knows a
        # revision by, so the same revision listed twice is kept once, as it does.
        return synthetic_id("rev", title_key(title), ts, sha1)
    try:
        return int(rev_id)
    except ValueError:
        raise DumpError(f"a revision of {title!r} has a malformed <id> {rev_id!r}", hint=HINT_DUMP) from None

def open_dump(path: str, progress: Callable[[int], None] | None = None, files_dir: str | None = None) -> DumpReader:
    return DumpReader(path, progress, files_dir)
