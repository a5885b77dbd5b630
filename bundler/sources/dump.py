"""MediaWiki XML dumps as a source: schemas 0.3 to 0.11, plain or compressed.

``open_dump(path)`` returns a ``DumpReader``; iterating it yields one
``PageHistory`` per page: the page and its revisions in history order,
``(timestamp, rev_id)``, because real dumps do not always list them that way.
A page is a title, as MediaWiki's importer has it: archives list one page in many
``<page>`` blocks, and ``dump_pages`` puts them together (a first pass over the
file finds which titles have several). Pages and revisions without ``<id>`` get
stable synthetic ids (``identity.synthetic_id``).

Why not mwxml: it stops on real dumps (``Unexpected tag ... 'sha1'`` on Wikia's
page-level ``<sha1>``), cannot read ``<upload>``, and asserts on input. This
reader is a small iterparse loop over defusedxml, which refuses entity
declarations and external entities (billion laughs, XXE) before they expand.

Uploads (``<upload>``) are collected in ``DumpReader.files`` with their bytes in
temporary files: base64 ``<contents>`` is decoded on its way to the parser
(``dump_files._SpoolContents``), so a 100 MB file never becomes a string.

Memory: elements are cleared as soon as they are read. A page's history is
kept in memory up to ``SPILL_BYTES`` of text and spilled to a temporary SQLite
file beyond that (``dump_spill``), so a page with 50,000 revisions costs disk, not RAM.

The reader is split by concern: ``dump_open`` (the file and its compression),
this module (the two passes and the parser's events), ``dump_xml`` (what one
element says), ``dump_pages`` (pages split over several blocks), ``dump_spill``
(one page's revisions in bounded memory), ``dump_files`` (uploads).
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Iterator
from xml.etree.ElementTree import ParseError

import zstandard
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..errors import DumpError
from ..model import Page, PageHistory, PageId, SiteInfo
from ..identity import synthetic_id
from .dump_files import HINT_DUMP, DumpFiles, _SpoolContents
from .dump_open import CountingReader, Tee
from .dump_pages import Block, PageIndex, SplitPages, index_pages, title_key
from .dump_spill import PageBuffer
from .dump_xml import local, parse_revision, parse_siteinfo, parse_upload

SUPPORTED_SCHEMAS = ("0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.10", "0.11")
SPILL_BYTES = 16 * 1024 * 1024  # as make's history spool (history.SPOOL_BYTES): one long page costs disk, not RAM
# The first pass's part of the reading time, by codec (benchmarks/split_pages.py): the
# progress bar's first stretch. bz2 and xz are copied to zstd in the first pass (below).
FIRST_PASS_SHARE = {"plain": 0.05, "zstd": 0.05, "gzip": 0.1, "bzip2": 0.35, "xz": 0.3}


@dataclass(slots=True)
class _OpenPage:
    """The ``<page>`` block being read: its direct fields, its revisions so far, which
    page it belongs to, its newest revision, and how deep inside it the parser is."""

    fields: dict = field(default_factory=dict)
    buf: PageBuffer = field(default_factory=lambda: PageBuffer(SPILL_BYTES))
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
        self._stream = CountingReader(path)
        self._size = self._stream.size  # of the file on disk: what progress counts in
        self._index: PageIndex | None = None
        self._copy: str | None = None  # pass 1's decompressed copy, until pass 2 opens it
        self._share = FIRST_PASS_SHARE["plain"]
        self._events = self._parse(self._stream)
        self._ns_by_prefix: dict[str, int] = {}
        self._root = None
        self._pending_start = None
        self._read_header()

    def _parse(self, stream: "CountingReader"):
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
        if local(root.tag) != "mediawiki":
            raise DumpError(
                f"{os.path.basename(self.path)} is not a MediaWiki dump (root element <{local(root.tag)}>)",
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
            name = local(elem.tag)
            if kind == "end" and name == "siteinfo":
                self.siteinfo, self._ns_by_prefix = parse_siteinfo(elem)
                root.clear()
                return
            if kind == "start" and name in ("page", "logitem"):
                self._pending_start = ev
                return

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
        stream = CountingReader(self.path)
        share = self._share = FIRST_PASS_SHARE[stream.codec]
        report = None
        if self._progress is not None:
            report = lambda: self._progress(int(stream.position * share))  # noqa: E731
        copy = None
        try:
            if share > FIRST_PASS_SHARE["plain"]:
                fd, self._copy = tempfile.mkstemp(prefix="wikibundle-dump-", suffix=".xml.zst")
                copy = Tee(stream, zstandard.ZstdCompressor(level=1).stream_writer(os.fdopen(fd, "wb")))
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
        self._stream = CountingReader(path)
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
            name = local(elem.tag)
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
            rev = parse_revision(elem, p.fields)
            newest = (rev.timestamp, rev.rev_id)
            p.top = max(p.top, newest) if p.top else newest
            if p.block.blocks > 1:
                split.add(p.block.kid, rev)
            else:
                p.buf.add(rev)
            elem.clear()
        elif name == "upload":
            self.files.add(*parse_upload(elem))
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

    def _make_page(self, f: dict, block: Block) -> Page:
        title = f["title"]
        ns = f.get("ns")
        try:
            namespace = int(ns) if ns not in (None, "") else self._namespace_of(title)
        except ValueError:
            raise DumpError(f"page {title!r} has a malformed <ns> {ns!r}", hint=HINT_DUMP) from None
        return Page(block.page_id, namespace, title, f.get("redirect"))

def open_dump(path: str, progress: Callable[[int], None] | None = None, files_dir: str | None = None) -> DumpReader:
    return DumpReader(path, progress, files_dir)
