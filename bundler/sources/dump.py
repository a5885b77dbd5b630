"""MediaWiki XML dumps as a source: schemas 0.3 to 0.11, plain or compressed.

``open_dump(path)`` returns a ``DumpReader``; iterating it yields one
``PageHistory`` per ``<page>``: the page and its revisions in history order,
``(timestamp, rev_id)``, because real dumps do not always list them that way.

Why not mwxml: it stops on real dumps (``Unexpected tag ... 'sha1'`` on Wikia's
page-level ``<sha1>``), cannot read ``<upload>``, and asserts on input. This
reader is a small iterparse loop over defusedxml, which refuses entity
declarations and external entities (billion laughs, XXE) before they expand.

Uploads (``<upload>``) are collected in ``DumpReader.files`` with their bytes in
temporary files: base64 ``<contents>`` is decoded on its way to the parser
(``_SpoolContents``), so a 100 MB file never becomes a string.

Memory: elements are cleared as soon as they are read. A page's history is
kept in memory up to ``SPILL_BYTES`` of text and spilled to a temporary SQLite
file beyond that, so a page with 50,000 revisions costs disk, not RAM.
"""

from __future__ import annotations

import binascii
import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable, Iterator
from xml.etree.ElementTree import ParseError

import zstandard
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..errors import DumpError
from ..model import (
    Deleted,
    FileVersion,
    Page,
    PageId,
    RevId,
    Revision,
    SiteInfo,
    Slot,
    base36_to_sha1,
    parse_timestamp,
)

SUPPORTED_SCHEMAS = ("0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.10", "0.11")
SPILL_BYTES = 64 * 1024 * 1024
SPOOL_MARK = "@wikibundle-spool:"  # stands in an upload's <contents> for bytes already decoded to a file
_HINT_DUMP = "Give a MediaWiki XML dump (Special:Export or dumpBackup.php --full), plain or .gz/.bz2/.xz/.zst."


@dataclass(slots=True)
class PageHistory:
    page: Page
    revisions: Iterable[Revision]  # history order; iterate once
    revision_count: int
    # Known up front only where ids are stable (the embedded store; not dumps, which
    # may come from a wiki that was re-imported and renumbered): lets make skip
    # unchanged pages without reading their texts.
    rev_ids: frozenset[int] | None = None
    # Only the revisions the peer lacks and the base they were made on, not the whole
    # history (sources/api.py): make then counts repeats of (timestamp, sha1) against
    # what the peer holds (make.partial_rkeys), not within the list.
    partial: bool = False
    # The source knows the page changed though every id may be held (a revision
    # deletion changes visibility, not ids): make compares every revision.
    changed: bool = False


def _open_binary(path: str) -> BinaryIO:
    try:
        raw = open(path, "rb")
    except OSError as e:
        raise DumpError(f"cannot open dump {path}: {e.strerror}", hint="Check the path.") from None
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if magic == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if magic[:4] == b"\x28\xb5\x2f\xfd":
        dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
        return dctx.stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]
    if magic[:6] == b"7z\xbc\xaf\x27\x1c":
        raw.close()
        raise DumpError(f"{path} is a 7-Zip archive", hint="Extract it first: 7z x " + os.path.basename(path))
    return raw


class _CountingReader(io.RawIOBase):
    """Counts bytes read from the decompressed stream, for progress and errors."""

    def __init__(self, inner: BinaryIO):
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        try:
            data = self.inner.read(len(b))
        except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as e:
            raise DumpError(f"the dump's compression is damaged: {e}", hint=_HINT_DUMP) from None
        n = len(data)
        b[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self.inner.close()
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


class DumpFiles:
    """The ``<upload>`` versions of a dump, collected while its pages are read (a file
    source for ``files.carry_files``, complete once the pages have been iterated).

    Bytes come from the upload's base64 ``<contents>`` (``dumpBackup.php --uploads
    --include-files``), decoded into a temporary file while the XML streams past,
    one file per distinct sha1;
    or, with ``files_dir``, from that folder: ``<rel>`` under it (a copy of
    MediaWiki's images directory, archive/ included) or a file named like the
    upload (a flat folder of current files). A version whose bytes are in neither,
    or do not match the dump's sha1, is skipped and counted in ``skipped``: the
    dump's ``<src>`` URL is never fetched.
    """

    def __init__(self, files_dir: str | None = None):
        self.files_dir = files_dir
        self.tmpdir: str | None = None
        self._versions: list[FileVersion] = []
        self._paths: dict[str, str] = {}  # sha1 -> file holding those bytes
        self.skipped = 0
        self.skipped_names: list[str] = []
        self._spools: list[tuple[str, _Base64Sink]] = []

    def versions(self) -> list[FileVersion]:
        return sorted(self._versions, key=lambda v: (v.name, v.timestamp, v.sha1))

    def open(self, sha1: str) -> BinaryIO | None:
        p = self._paths.get(sha1)
        return open(p, "rb") if p is not None else None

    def close(self) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def spool(self) -> tuple[int, _Base64Sink]:
        """A new file for the decoded bytes of one ``<contents>``: (number, sink)."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="wikibundle-dump-files-")
        fd, path = tempfile.mkstemp(dir=self.tmpdir)
        sink = _Base64Sink(os.fdopen(fd, "wb"))
        self._spools.append((path, sink))
        return len(self._spools) - 1, sink

    def _skip(self, name: str) -> None:
        self.skipped += 1
        if len(self.skipped_names) < 10:
            self.skipped_names.append(name)

    def add(self, f: dict, contents: str | None) -> None:
        from ..files import sniff  # files imports the container; keep the dump reader light

        name = (f.get("filename") or "").replace(" ", "_")
        if not name or not f.get("timestamp"):
            raise DumpError("an <upload> has no <filename> or <timestamp>", hint=_HINT_DUMP)
        try:
            ts = parse_timestamp(f["timestamp"])
        except ValueError:
            raise DumpError(f"upload {name!r} has a malformed timestamp {f['timestamp']!r}", hint=_HINT_DUMP) from None
        want = None
        if f.get("sha1base36", "").strip():
            try:
                want = base36_to_sha1(f["sha1base36"].strip())
            except ValueError:
                want = None
        spooled = self._spooled(contents)
        if spooled is not None:  # decoded while the XML streamed past (_SpoolContents)
            tmp, sink = spooled
            if sink.error:
                raise DumpError(f"the <contents> of upload {name!r} is not valid base64 ({sink.error})",
                                hint="The dump is damaged; export it again.")
            sha1, size, head = sink.sha1.hexdigest(), sink.size, sink.head
        else:
            if self.tmpdir is None:
                self.tmpdir = tempfile.mkdtemp(prefix="wikibundle-dump-files-")
            fd, tmp = tempfile.mkstemp(dir=self.tmpdir)
            h = hashlib.sha1()
            size = 0
            head = b""
            with os.fdopen(fd, "wb") as out:
                if contents is not None:
                    chunks = _b64_chunks(contents, name)
                else:
                    src = self._local_file(f, name)
                    if src is None:
                        os.unlink(tmp)
                        self._skip(name)
                        return
                    chunks = _file_chunks(src)
                for chunk in chunks:
                    if not head:
                        head = chunk[:64]
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            sha1 = h.hexdigest()
        if want is not None and want != sha1:
            os.unlink(tmp)
            if contents is not None:
                raise DumpError(
                    f"the bytes of upload {name!r} ({f['timestamp']}) do not match its <sha1base36>",
                    hint="The dump is damaged; export it again.",
                )
            self._skip(name)  # --files holds another version of it (e.g. the current one)
            return
        if sha1 in self._paths:
            os.unlink(tmp)
        else:
            self._paths[sha1] = tmp
        user = f.get("username") if f.get("username") is not None else f.get("ip")
        self._versions.append(FileVersion(
            name=name, timestamp=ts, sha1=sha1, size=size, user=user, user_id=f.get("user_id"),
            comment=f.get("comment"), mime=sniff(head)[0],
        ))

    def _spooled(self, contents: str | None) -> tuple[str, _Base64Sink] | None:
        if contents is None or not contents.startswith(SPOOL_MARK):
            return None
        try:
            n = int(contents[len(SPOOL_MARK):])
        except ValueError:
            return None
        return self._spools[n] if 0 <= n < len(self._spools) else None

    def _local_file(self, f: dict, name: str) -> str | None:
        if self.files_dir is None:
            return None
        for rel in (f.get("rel"), name):
            if rel and not os.path.isabs(rel) and ".." not in rel.split("/"):
                p = os.path.join(self.files_dir, rel)
                if os.path.isfile(p):
                    return p
        return None


def _b64_chunks(text: str, name: str) -> Iterator[bytes]:
    """Decode base64 in slices (never a second copy of a 100 MB file in memory)."""
    carry = ""
    step = 4 << 20
    try:
        for i in range(0, len(text), step):
            part = carry + "".join(text[i : i + step].split())
            cut = len(part) - len(part) % 4
            carry = part[cut:]
            if cut:
                yield binascii.a2b_base64(part[:cut], strict_mode=True)
        if carry:
            raise binascii.Error("length is not a multiple of 4")
    except binascii.Error as e:
        raise DumpError(f"the <contents> of upload {name!r} is not valid base64 ({e})", hint="The dump is damaged; export it again.") from None


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


class _Base64Sink:
    """Decodes base64 fed in pieces (whitespace anywhere) into a file, hashing as it goes."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.carry = b""
        self.sha1 = hashlib.sha1()
        self.size = 0
        self.head = b""
        self.error: str | None = None

    def _write(self, data: bytes) -> None:
        if not self.head:
            self.head = data[:64]
        self.sha1.update(data)
        self.size += len(data)
        self.out.write(data)

    def feed(self, text: bytes) -> None:
        if self.error:
            return
        part = self.carry + b"".join(text.split())
        cut = len(part) - len(part) % 4
        self.carry = part[cut:]
        try:
            if cut:
                self._write(binascii.a2b_base64(part[:cut], strict_mode=True))
        except binascii.Error as e:
            self.error = str(e)

    def close(self) -> None:
        if self.carry and not self.error:
            self.error = "length is not a multiple of 4"
        self.out.close()


class _SpoolContents(io.RawIOBase):
    """Takes the base64 text of every ``<contents>`` out of the XML byte stream as it
    passes, decodes it into a file of ``files`` and leaves a short marker in its place.

    ElementTree gathers an element's text whole: a 100 MB upload would be a 133 MB
    string (twice, while it is joined). Base64 has no ``<``, so the element's text
    ends at the next ``</``; wikitext elsewhere is escaped (``&lt;contents``), so a
    literal ``<contents`` in the bytes is always the tag. A dump in UTF-16 (no
    match on these bytes) goes through unchanged and is decoded in memory.
    """

    OPEN = b"<contents"

    def __init__(self, inner, files: "DumpFiles"):
        self.inner = inner
        self.files = files
        self.buf = b""  # read, not yet looked at (in XML: at most a cut-off "<contents" tag)
        self.out = memoryview(b"")  # looked at, to hand to the parser
        self.sink: _Base64Sink | None = None
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self.out and not self.eof:
            self.out = memoryview(self._fill())
        n = min(len(b), len(self.out))
        b[:n] = self.out[:n]
        self.out = self.out[n:]
        return n

    def _fill(self) -> bytes:
        data = self.inner.read(1 << 20)
        if not data:
            self.eof = True
        buf = self.buf + data if self.buf else data
        out: list[bytes] = []
        while True:
            if self.sink is not None:
                k = buf.find(b"<")
                if k < 0:
                    self.sink.feed(buf)
                    buf = b""
                    break
                self.sink.feed(buf[:k])
                self.sink.close()
                self.sink = None
                buf = buf[k:]
                continue
            i = buf.find(self.OPEN)
            j = buf.find(b">", i) if i >= 0 else -1
            if i < 0 or j < 0:
                keep = 0 if self.eof else min(len(buf), len(buf) - i if i >= 0 else len(self.OPEN) - 1)
                out.append(buf[: len(buf) - keep] if keep else buf)
                buf = buf[len(buf) - keep :] if keep else b""
                break
            tag = buf[i : j + 1]
            out.append(buf[: j + 1])
            buf = buf[j + 1 :]
            if tag[len(self.OPEN) : len(self.OPEN) + 1] in (b" ", b"\t", b"\r", b"\n", b">") and not tag.endswith(b"/>"):
                n, self.sink = self.files.spool()
                out.append(b"%s%d" % (SPOOL_MARK.encode(), n))
        self.buf = buf
        if self.eof and self.sink is not None:
            self.sink.close()  # the XML parser reports the dump as cut short
            self.sink = None
        return out[0] if len(out) == 1 else b"".join(out)


class DumpReader:
    """Iterate ``PageHistory`` records from an XML dump. Use as a context manager.

    The ``<upload>``s of its pages are collected in ``files`` (``DumpFiles``)."""

    def __init__(self, path: str, progress: Callable[[int], None] | None = None, files_dir: str | None = None):
        self.path = path
        self.files = DumpFiles(files_dir)
        self.siteinfo = SiteInfo()
        self.schema = ""
        self._progress = progress
        self._stream = _CountingReader(_open_binary(path))
        self._events = iterparse(
            io.BufferedReader(_SpoolContents(self._stream, self.files), 1 << 20), events=("start", "end"), forbid_dtd=True
        )
        self._ns_by_prefix: dict[str, int] = {}
        self._root = None
        self._pending_start = None
        self._read_header()

    def __enter__(self) -> "DumpReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()
        self.files.close()

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
                hint="The dump may be truncated or damaged. " + _HINT_DUMP,
            ) from None
        except DefusedXmlException as e:
            raise DumpError(
                f"{os.path.basename(self.path)} declares a DTD or entities ({type(e).__name__}); refused",
                hint="MediaWiki dumps never declare entities; this file is not a real dump.",
            ) from None

    def _read_header(self) -> None:
        ev = self._next_event()
        if ev is None:
            raise DumpError(f"{self.path} is empty", hint=_HINT_DUMP)
        kind, root = ev
        if _local(root.tag) != "mediawiki":
            raise DumpError(
                f"{os.path.basename(self.path)} is not a MediaWiki dump (root element <{_local(root.tag)}>)",
                hint=_HINT_DUMP,
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

    def __iter__(self) -> Iterator[PageHistory]:
        depth_page = False
        depth = 0
        page_fields: dict = {}
        buf: _PageBuffer | None = None
        last_progress = 0
        if self._pending_start is not None:
            pending, self._pending_start = self._pending_start, None
        else:
            pending = None
        while True:
            ev = pending or self._next_event()
            pending = None
            if ev is None:
                break
            kind, elem = ev
            name = _local(elem.tag)
            if kind == "start":
                if name == "page":
                    depth_page = True
                    depth = 0
                    page_fields = {}
                    buf = _PageBuffer()
                elif depth_page:
                    depth += 1
                continue
            # kind == "end"
            if depth_page and name != "page":
                depth -= 1
            if not depth_page:
                if name == "logitem":
                    self._root.clear()  # log items are not carried by a revision bundle
                continue
            if name == "revision":
                buf.add(self._parse_revision(elem, page_fields))  # type: ignore[union-attr]
                elem.clear()
            elif name == "upload":
                self._parse_upload(elem)
                elem.clear()
            elif depth == 0 and name in ("title", "ns", "id", "redirect"):  # direct children of <page>
                if name == "redirect":
                    page_fields["redirect"] = elem.get("title", "")
                elif name not in page_fields:
                    page_fields[name] = elem.text or ""
            elif name == "page":
                depth_page = False
                page = self._make_page(page_fields)
                assert buf is not None
                yield PageHistory(page, buf.sorted(), buf.count)
                buf = None
                self._root.clear()
                if self._progress and self._stream.count - last_progress > (1 << 20):
                    self._progress(self._stream.count)
                    last_progress = self._stream.count
        if depth_page:
            raise DumpError(
                f"{os.path.basename(self.path)} ends inside a <page>", hint="The dump is truncated. " + _HINT_DUMP
            )
        if self._progress:
            self._progress(self._stream.count)

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
                    raise DumpError(f"an <upload>'s <contents> is in encoding {enc!r}; this tool reads base64", hint=_HINT_DUMP)
                contents = c.text or ""
            else:
                f[n] = c.text if c.text is not None else ""
        self.files.add(f, contents)

    def _make_page(self, f: dict) -> Page:
        title = f.get("title")
        if not title:
            raise DumpError("a <page> has no <title>", hint=_HINT_DUMP)
        try:
            page_id = int(f["id"])
        except (KeyError, ValueError):
            raise DumpError(f"page {title!r} has no valid <id>", hint="Dumps without page ids cannot show moves; " + _HINT_DUMP) from None
        ns = f.get("ns")
        namespace = int(ns) if ns not in (None, "") else self._namespace_of(title)
        return Page(PageId(page_id), namespace, title, f.get("redirect"))

    def _parse_revision(self, elem, page_fields: dict) -> Revision:
        if "id" not in page_fields:
            raise DumpError("a <revision> comes before its page's <id>", hint=_HINT_DUMP)
        rev_id = parent_id = None
        timestamp = None
        user = None
        user_id = None
        comment = None
        text: str | None = None
        sha1 = ""
        minor = False
        deleted = Deleted(0)
        model = "wikitext"
        fmt = "text/x-wiki"
        slots: list[Slot] = []
        text_seen = False
        for c in elem:
            n = _local(c.tag)
            if n == "id":
                rev_id = c.text
            elif n == "parentid":
                parent_id = c.text
            elif n == "timestamp":
                timestamp = c.text
            elif n == "contributor":
                if c.get("deleted") == "deleted":
                    deleted |= Deleted.USER
                for u in c:
                    un = _local(u.tag)
                    if un == "username":
                        user = u.text or ""
                    elif un == "ip":
                        user = u.text or ""
                    elif un == "id":
                        try:
                            user_id = int(u.text or "")
                        except ValueError:
                            user_id = None
            elif n == "minor":
                minor = True
            elif n == "comment":
                if c.get("deleted") == "deleted":
                    deleted |= Deleted.COMMENT
                else:
                    comment = c.text or ""
            elif n == "model":
                model = c.text or model
            elif n == "format":
                fmt = c.text or fmt
            elif n == "text":
                text_seen = True
                if c.get("deleted") == "deleted":
                    deleted |= Deleted.TEXT
                elif c.text is None and c.get("location"):
                    raise DumpError(
                        "this is a stub dump: revision texts are stored elsewhere",
                        hint="Use a dump with text (pages-meta-history / dumpBackup.php --full).",
                    )
                else:
                    text = c.text or ""
            elif n == "sha1":
                if c.text and c.text.strip():
                    try:
                        sha1 = base36_to_sha1(c.text.strip())
                    except ValueError:
                        sha1 = ""
            elif n == "content":
                role = _child_text(c, "role") or "main"
                ctext_el = next((x for x in c if _local(x.tag) == "text"), None)
                ctext = None
                if ctext_el is not None and ctext_el.get("deleted") != "deleted":
                    ctext = ctext_el.text or ""
                slots.append(
                    Slot(role, _child_text(c, "model") or "", _child_text(c, "format") or "", ctext)
                )
        page_id = int(page_fields["id"])
        try:
            rid = int(rev_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise DumpError(f"a revision of page {page_id} has no valid <id>", hint=_HINT_DUMP) from None
        if not timestamp:
            raise DumpError(f"revision {rid} has no <timestamp>", hint=_HINT_DUMP)
        try:
            ts = parse_timestamp(timestamp)
        except ValueError:
            raise DumpError(f"revision {rid} has a malformed timestamp {timestamp!r}", hint=_HINT_DUMP) from None
        if not text_seen and not deleted & Deleted.TEXT:
            text = ""
        if text is None and not deleted & Deleted.TEXT:
            text = ""
        # The dump's sha1 is of the text as stored; ours is recomputed from what we carry.
        # When the text is hidden we keep the dump's sha1 so the revision stays identifiable.
        if text is not None:
            sha1 = ""
        try:
            pid = int(parent_id) if parent_id else None
        except ValueError:
            pid = None
        return Revision(
            rev_id=RevId(rid),
            page_id=PageId(page_id),
            timestamp=ts,
            text=text,
            user=None if deleted & Deleted.USER else user,
            user_id=None if deleted & Deleted.USER else user_id,
            comment=comment,
            parent_id=RevId(pid) if pid else None,
            minor=minor,
            deleted=deleted,
            model=model,
            format=fmt,
            slots=tuple(s for s in slots if s.role != "main"),
            sha1=sha1,
        )


def open_dump(path: str, progress: Callable[[int], None] | None = None, files_dir: str | None = None) -> DumpReader:
    return DumpReader(path, progress, files_dir)
