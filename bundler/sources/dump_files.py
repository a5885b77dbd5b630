"""The uploads of an XML dump: ``<upload>`` versions and the bytes of their files.

``DumpFiles`` collects the versions while ``DumpReader`` reads the pages; the bytes
come from base64 ``<contents>`` (decoded into temporary files by ``_SpoolContents``
while the XML streams past, so a 100 MB file never becomes a string) or from a
folder of files (``--files``).
"""

from __future__ import annotations

import binascii
import hashlib
import io
import os
import shutil
import tempfile
from typing import BinaryIO, Iterator

from ..errors import DumpError
from ..model import FileVersion, base36_to_sha1, parse_timestamp

SPOOL_MARK = "@wikibundle-spool:"  # stands in an upload's <contents> for bytes already decoded to a file
HINT_DUMP = "Give a MediaWiki XML dump (Special:Export or dumpBackup.php --full), plain or .gz/.bz2/.xz/.zst."


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
            raise DumpError("an <upload> has no <filename> or <timestamp>", hint=HINT_DUMP)
        try:
            ts = parse_timestamp(f["timestamp"])
        except ValueError:
            raise DumpError(f"upload {name!r} has a malformed timestamp {f['timestamp']!r}", hint=HINT_DUMP) from None
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
            copied = self._copy(f, contents, name)
            if copied is None:
                self._skip(name)
                return
            tmp, sha1, size, head = copied
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

    def _copy(self, f: dict, contents: str | None, name: str) -> tuple[str, str, int, bytes] | None:
        """An upload's bytes, from its ``<contents>`` text (not spooled) or from ``files_dir``, copied
        into a temporary file: (path, sha1, size, first bytes); None if they are in neither."""
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
                    return None
                chunks = _file_chunks(src)
            for chunk in chunks:
                if not head:
                    head = chunk[:64]
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return tmp, h.hexdigest(), size, head

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
