"""Files (MediaWiki uploads) in a bundle: which versions travel, how their bytes travel.

A file is a name with versions (``FileVersion``), each naming its bytes by sha1.
Bytes are *blobs*, held once per sha1 whatever the name or version. A bundle
carries (formats/BUNDLE.md §Files):

- a **files frame** (type 2): the versions' metadata in columns, and the list of
  blobs whose bytes follow it, each with its encoding;
- **blob frames** (type 3): the encoded bytes of those blobs, in that order, cut
  into chunks of at most ``BLOB_FRAME`` bytes, so neither side ever holds a
  100 MB file in one piece.

A blob the receiver holds (sent before under any name, as any version, or
reported by it) never travels again: the version names its sha1 and that is all.
A new blob travels as the smallest of

- ``raw``: the bytes as they are — always the case for media that is already
  compressed (JPEG, PNG, PDF, ZIP, ...; found by magic bytes, not by name), which
  zstd would only make slower, not smaller;
- ``zstd``: one zstd frame of the bytes (SVG, TIFF, plain formats);
- ``delta``: one zstd frame with the bytes of the file's previous version that
  the receiver holds as raw-content dictionary, as ``zstd --patch-from`` does:
  a re-uploaded file that changed a little costs what changed.

The receiver decodes each blob into a temporary file, checks its size and sha1,
and only then stores it, inside the same store transaction as the rest of the
bundle (apply is all or nothing).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from itertools import groupby
from typing import BinaryIO, Callable, Iterable, Iterator, Protocol

from . import fields, wire
from .container import FRAME_BLOB, FRAME_FILES, FRAME_RECORDS, BundleWriter, RawFrame
from .errors import ContentError, FormatError, LimitError
from .model import FileVersion
from .records import check_title

# §Files constants
ENC_RAW = 0
ENC_ZSTD = 1
ENC_DELTA = 2
BLOB_FRAME = 4 << 20  # encoded bytes per blob frame
MAX_BLOB_SIZE = 1 << 32  # a file's size; MediaWiki's own default upload limit is 100 MB
MAX_DELTA_BASE = 64 << 20  # larger bases would need more memory (the whole base is the dictionary) and a window over 128 MiB
FILES_PER_FRAME = 10_000  # versions per files frame (its payload stays far below the 64 MiB limit)
BATCH_BYTES = 64 << 20  # encoded blob bytes between files frames (bounds make's temporary disk use per batch)
_FILE_COLS = ("nm", "ts", "u", "cm", "sha", "sz", "mi")


# --- what the bytes are ---------------------------------------------------------------

_MAGIC = (  # (offset, bytes, mime); formats whose content is compressed already
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"OggS", "application/ogg"),
    (0, b"PK\x03\x04", "application/zip"),  # also ODF, OOXML, EPUB, JAR
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"\x28\xb5\x2f\xfd", "application/zstd"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (4, b"ftyp", "video/mp4"),  # MP4, MOV, HEIC, AVIF
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"fLaC", "audio/flac"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),  # not compressed, but tiny
)
_PLAIN = (  # recognised, and worth compressing
    (0, b"<?xml", "image/svg+xml"),
    (0, b"<svg", "image/svg+xml"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"BM", "image/bmp"),
)


def sniff(head: bytes) -> tuple[str | None, bool]:
    """(mime type or None, already compressed?) from a file's first bytes."""
    for off, magic, mime in _MAGIC:
        if head[off : off + len(magic)] == magic:
            return mime, mime != "image/vnd.microsoft.icon"
    if head[:1] == b"\xff" and len(head) > 1 and head[1] & 0xE0 == 0xE0:  # MPEG audio frame sync
        return "audio/mpeg", True
    for off, magic, mime in _PLAIN:
        if head[off : off + len(magic)] == magic:
            return mime, False
    return None, False


# --- sources of file versions and their bytes ----------------------------------------


class FileSource(Protocol):
    def versions(self) -> Iterable[FileVersion]:
        """Every file version, grouped by name, each file's versions in timestamp order."""

    def open(self, sha1: str) -> BinaryIO | None:
        """The bytes with this sha1, or None when the source cannot supply them."""


class _ChunkReader:
    """A read-only file over an iterator of chunks (the store's blob chunks)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._buf += nxt
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StoreFiles:
    """The embedded store as a file source."""

    def __init__(self, store):
        self.store = store

    def versions(self) -> Iterable[FileVersion]:
        return self.store.file_versions()

    def open(self, sha1: str) -> BinaryIO | None:
        return _ChunkReader(self.store.blob_chunks(sha1)) if self.store.has_blob(sha1) else None  # type: ignore[return-value]


# --- sender ----------------------------------------------------------------------------


@dataclass
class _Blob:
    sha1: str
    size: int
    enc: int
    base: str | None
    stored: int
    path: str | None  # encoded bytes in a temporary file; None: raw, read from the source


@dataclass
class FilesSent:
    versions: int = 0
    blobs: int = 0
    refs: int = 0  # versions whose bytes the receiver holds or that travel once under another name
    raw: int = 0
    zstd: int = 0
    deltas: int = 0
    stored: int = 0  # encoded bytes in blob frames
    bytes: int = 0  # the new blobs' sizes
    deferred: int = 0  # files left for the next bundle by the size budget

    def breakdown(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "deferred"}


def _held_versions(st, peer: str, name: str) -> set[tuple[int, str]]:
    return {
        (ts, sha1)
        for ts, sha1 in st.db.execute(
            "SELECT timestamp, sha1 FROM held_files WHERE peer=? AND name=? AND seq IN (SELECT seq FROM view_chain)",
            (peer, name),
        )
    }


def _holds_blob(st, peer: str, sha1: str) -> bool:
    return st.db.execute(
        "SELECT 1 FROM held_files INDEXED BY held_files_sha1 WHERE peer=? AND sha1=? AND seq IN (SELECT seq FROM view_chain)"
        " UNION ALL SELECT 1 FROM reported_files WHERE peer=? AND sha1=? LIMIT 1",
        (peer, sha1, peer, sha1),
    ).fetchone() is not None


def record_sent_by(st, peer: str, seq: int, versions: Iterable[FileVersion]) -> None:
    """File versions ``peer`` sent this side (inside a state transaction), kept under
    the negative of its bundle's ``seq`` as the return trip keeps what a peer holds
    because it sent it: a bundle back to it then never carries them again."""
    st.db.executemany("INSERT OR IGNORE INTO held_files VALUES (?,?,?,?,?)",
                      [(peer, -seq, v.name, v.timestamp, v.sha1) for v in versions])


def record_reported(st, peer: str, sha1s: Iterable[str]) -> None:
    """sha1s the peer says it holds (inside a state transaction)."""
    st.db.executemany("INSERT OR IGNORE INTO reported_files VALUES (?,?)", [(peer, s) for s in sha1s])


class _Encoder:
    def __init__(self, source: FileSource, tmpdir: str):
        self.source = source
        self.tmpdir = tmpdir

    def _open(self, sha1: str) -> BinaryIO:
        f = self.source.open(sha1)
        if f is None:  # the version listing and the bytes disagree: a bug, not user input
            raise RuntimeError(f"the file source lists {sha1} but cannot open it")
        return f

    def encode(self, fv: FileVersion, base: str | None) -> _Blob:
        with self._open(fv.sha1) as f:
            head = f.read(64)
        _mime, compressed = sniff(head)
        best = _Blob(fv.sha1, fv.size, ENC_RAW, None, fv.size, None)
        tries = [] if compressed else [(ENC_ZSTD, None)]
        if base is not None:
            tries.append((ENC_DELTA, base))
        for enc, b in tries:
            base_bytes = b""
            if b is not None:
                with self._open(b) as bf:
                    base_bytes = bf.read()
            fd, path = tempfile.mkstemp(dir=self.tmpdir)
            with os.fdopen(fd, "wb") as out, self._open(fv.sha1) as src:
                wire.compress_stream(src, fv.size, out, base_bytes)
                n = out.tell()
            if n < best.stored:
                self.drop(best)
                best = _Blob(fv.sha1, fv.size, enc, b, n, path)
            else:
                os.unlink(path)
        return best

    def drop(self, blob: _Blob) -> None:
        if blob.path is not None and os.path.exists(blob.path):
            os.unlink(blob.path)

    def chunks(self, blob: _Blob) -> Iterator[bytes]:
        with (open(blob.path, "rb") if blob.path is not None else self._open(blob.sha1)) as f:
            while chunk := f.read(BLOB_FRAME):
                yield chunk
        self.drop(blob)


def _files_payload(versions: list[FileVersion], blobs: list[_Blob]) -> dict:
    users: dict[tuple, int] = {}
    cols: dict[str, list] = {c: [] for c in _FILE_COLS}
    for v in versions:
        cols["nm"].append(v.name)
        cols["ts"].append(v.timestamp)
        cols["u"].append(users.setdefault((v.user, v.user_id), len(users)))
        cols["cm"].append(v.comment)
        cols["sha"].append(bytes.fromhex(v.sha1))
        cols["sz"].append(v.size)
        cols["mi"].append(v.mime)
    return {
        "users": [list(u) for u in users],
        "files": cols,
        "blobs": [[bytes.fromhex(b.sha1), b.size, b.enc, bytes.fromhex(b.base) if b.base else None, b.stored] for b in blobs],
    }


def carry_files(
    st, peer: str, seq: int, source: FileSource, writer: BundleWriter, *, room: Callable[[], int | None] = lambda: None,
    until: int | None = None, latest_only: bool = False,
) -> FilesSent:
    """Write the file versions ``peer`` lacks (at the view ``st.set_view`` loaded) as
    files and blob frames, and record them as held under ``seq``. ``until``: only
    versions uploaded by then; ``latest_only``: only each file's current version
    (a read-only mirror needs no archive).

    ``room()`` is how many more bytes the bundle may take (None: no limit). Under a
    limit, a file travels whole (all the versions the peer lacks) or waits for the
    next bundle, and smaller files go first, so one large video does not hold back
    a hundred icons.
    """
    res = FilesSent()
    todo = _files_missing(st, peer, source, until, latest_only)
    if room() is not None:
        todo.sort(key=lambda t: (t[0], t[1]))
    tmpdir = tempfile.mkdtemp(prefix="wikibundle-files-")
    enc = _Encoder(source, tmpdir)
    batch = _FilesBatch(st, peer, seq, writer, enc)
    try:
        for _cost, _name, versions, missing in todo:
            new_blobs, new_sha, refs = _encode_missing(st, peer, enc, versions, missing, batch.in_bundle)
            cost = _bundle_cost(new_blobs, missing)
            left = room()
            if left is not None and batch.bytes + cost > left:
                for b in new_blobs:
                    enc.drop(b)
                res.deferred += 1
                continue
            batch.add(missing, new_blobs, new_sha, cost)
            _count_sent(res, missing, new_blobs, refs)
            if len(batch.versions) >= FILES_PER_FRAME or batch.bytes >= BATCH_BYTES:
                batch.flush()
        batch.flush()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return res


def _files_missing(
    st, peer: str, source: FileSource, until: int | None, latest_only: bool
) -> list[tuple[int, str, list[FileVersion], list[FileVersion]]]:
    """Each file with versions ``peer`` lacks: (new bytes, name, all versions, missing), by name."""
    todo = []
    for name, group in groupby(source.versions(), key=lambda v: v.name):
        versions = sorted((v for v in group if until is None or v.timestamp <= until), key=lambda v: (v.timestamp, v.sha1))
        held = _held_versions(st, peer, name)
        missing = [v for v in (versions[-1:] if latest_only else versions) if (v.timestamp, v.sha1) not in held]
        if missing:
            cost = sum(v.size for v in missing if not _holds_blob(st, peer, v.sha1))
            todo.append((cost, name, versions, missing))
    return todo


def _encode_missing(
    st, peer: str, enc: "_Encoder", versions: list[FileVersion], missing: list[FileVersion], in_bundle: set[str]
) -> tuple[list[_Blob], set[str], int]:
    """One file's missing versions as blobs (new ones only; the rest are references):
    (blobs, their sha1s, how many versions are references)."""
    held_here = {v.sha1 for v in versions if v not in missing and _holds_blob(st, peer, v.sha1)}
    new_blobs: list[_Blob] = []
    new_sha: set[str] = set()
    refs = 0
    for v in missing:
        if v.sha1 in in_bundle or v.sha1 in new_sha or _holds_blob(st, peer, v.sha1):
            refs += 1
            continue
        # Base: the newest earlier version the receiver holds, or gets before this one.
        earlier = [w for w in versions if (w.timestamp, w.sha1) < (v.timestamp, v.sha1)]
        base = next(
            (w.sha1 for w in reversed(earlier)
             if (w.sha1 in held_here or w.sha1 in new_sha or w.sha1 in in_bundle) and w.size <= MAX_DELTA_BASE),
            None,
        )
        if base is not None and v.size > MAX_DELTA_BASE:
            base = None
        new_blobs.append(enc.encode(v, base))
        new_sha.add(v.sha1)
    return new_blobs, new_sha, refs


def _bundle_cost(new_blobs: list[_Blob], missing: list[FileVersion]) -> int:
    """About how many bytes a file's versions and new blobs take in the bundle, frames included."""
    return sum(b.stored + 64 * (1 + b.stored // BLOB_FRAME) for b in new_blobs) + 32 * len(missing) + sum(
        len(v.name) + len(v.comment or "") + 40 for v in missing
    )


def _count_sent(res: FilesSent, missing: list[FileVersion], new_blobs: list[_Blob], refs: int) -> None:
    res.versions += len(missing)
    res.refs += refs
    for b in new_blobs:
        res.blobs += 1
        res.stored += b.stored
        res.bytes += b.size
        res.raw += b.enc == ENC_RAW
        res.zstd += b.enc == ENC_ZSTD
        res.deltas += b.enc == ENC_DELTA


class _FilesBatch:
    """File versions and blobs waiting for the next files frame; ``in_bundle``: the sha1s
    of every blob this bundle carries, across batches."""

    def __init__(self, st, peer: str, seq: int, writer: BundleWriter, enc: "_Encoder"):
        self.st, self.peer, self.seq, self.writer, self.enc = st, peer, seq, writer, enc
        self.versions: list[FileVersion] = []
        self.blobs: list[_Blob] = []
        self.bytes = 0
        self.in_bundle: set[str] = set()

    def add(self, missing: list[FileVersion], new_blobs: list[_Blob], new_sha: set[str], cost: int) -> None:
        self.versions += missing
        self.blobs += new_blobs
        self.bytes += cost
        self.in_bundle |= new_sha

    def flush(self) -> None:
        """Write the files frame, then each blob's frames; record the versions as held under ``seq``."""
        if not self.versions:
            return
        payload = wire.packb(_files_payload(self.versions, self.blobs))
        body = wire.compress(payload, level=19)
        self.writer.add_frame({"files": len(self.versions), "blobs": len(self.blobs)}, body, len(payload), FRAME_FILES)
        for b in self.blobs:
            off = 0
            for chunk in self.enc.chunks(b):
                self.writer.add_frame({"sha1": bytes.fromhex(b.sha1), "off": off}, chunk, len(chunk), FRAME_BLOB)
                off += len(chunk)
        self.st.db.executemany(
            "INSERT OR IGNORE INTO held_files VALUES (?,?,?,?,?)",
            [(self.peer, self.seq, v.name, v.timestamp, v.sha1) for v in self.versions],
        )
        self.versions, self.blobs, self.bytes = [], [], 0


def decode_files_frame(frame: RawFrame, what: str) -> tuple[list[FileVersion], list[tuple[str, int, int, str | None, int]]]:
    """A files frame's versions and the blobs that follow it: (sha1, size, enc, base, stored)."""
    meta = frame.meta
    n = fields.integer(meta.get("files"), f"{what}: meta files", 0)
    nb = fields.integer(meta.get("blobs"), f"{what}: meta blobs", 0)
    payload = wire.unpackb(wire.decompress(frame.body, expected_size=frame.raw_len, what=what), what=what)
    if not isinstance(payload, dict):
        raise FormatError(f"{what}: payload is not a map")
    users = payload.get("users")
    cols = payload.get("files")
    blobs = payload.get("blobs")
    if not isinstance(users, list) or not isinstance(cols, dict) or not isinstance(blobs, list):
        raise FormatError(f"{what}: users, files and blobs must be an array, a map and an array")
    for c in _FILE_COLS:
        if not isinstance(cols.get(c), list) or len(cols[c]) != n:
            raise FormatError(f"{what}: column {c!r} must have {n} entries")
    if len(blobs) != nb:
        raise FormatError(f"{what}: {len(blobs)} blobs, its meta says {nb}")
    us = []
    for u in users:
        fields.row(u, 2, f"{what}: a user must be [name, id]")
        us.append((fields.string_or_nil(u[0], f"{what}: user"), None if u[1] is None else fields.integer(u[1], f"{what}: user id", 0)))
    versions = []
    for i in range(n):
        u = fields.integer(cols["u"][i], f"{what}: user index", 0, len(us))
        name = cols["nm"][i]
        if not isinstance(name, str):
            raise FormatError(f"{what}: file name must be a string")
        check_title(name, f"{what}: file name")
        versions.append(FileVersion(
            name=name,
            timestamp=fields.integer(cols["ts"][i], f"{what}: timestamp", -(1 << 63)),
            sha1=fields.sha1(cols["sha"][i], f"{what}: file sha1"),
            size=fields.size(cols["sz"][i], f"{what}: file size", MAX_BLOB_SIZE),
            user=us[u][0],
            user_id=us[u][1],
            comment=fields.string_or_nil(cols["cm"][i], f"{what}: comment"),
            mime=fields.string_or_nil(cols["mi"][i], f"{what}: mime"),
        ))
    out = []
    for b in blobs:
        fields.row(b, 5, f"{what}: a blob must be [sha1, size, enc, base, stored]")
        sha1 = fields.sha1(b[0], f"{what}: blob sha1")
        size = fields.size(b[1], f"{what}: blob size", MAX_BLOB_SIZE)
        enc = fields.integer(b[2], f"{what}: blob encoding", 0, 3)
        base = fields.sha1(b[3], f"{what}: delta base") if enc == ENC_DELTA else None
        if enc != ENC_DELTA and b[3] is not None:
            raise FormatError(f"{what}: only a delta names a base")
        stored = fields.size(b[4], f"{what}: blob stored size", MAX_BLOB_SIZE + (1 << 20))
        if enc == ENC_RAW and stored != size:
            raise FormatError(f"{what}: a raw blob of {size} bytes stores {stored}")
        out.append((sha1, size, enc, base, stored))
    return versions, out


@dataclass
class FileImporter:
    """Takes the files and blob frames of a bundle, in order, into ``store`` (inside
    its open transaction). A blob is decoded to a temporary file and checked (size,
    sha1) before it is stored; any mismatch raises and the transaction rolls back."""

    store: object
    versions_added: int = 0
    versions_present: int = 0
    blobs_added: int = 0
    taken: list = field(default_factory=list)  # every version the bundle carried (metadata only)
    _pending: list = field(default_factory=list)  # blobs still to come: (sha1, size, enc, base, stored)
    _versions: list = field(default_factory=list)  # versions of the files frame being read
    _got: int = 0  # encoded bytes of the current blob received so far
    _tmp: object = None

    def take(self, frame: RawFrame, what: str) -> bool:
        """True if the frame was a files or blob frame (and has been taken)."""
        if frame.type == FRAME_RECORDS:
            self._expect_no_blob(what)
            return False
        if frame.type == FRAME_FILES:
            self._expect_no_blob(what)
            self._versions, self._pending = decode_files_frame(frame, what)
            self._next()
            return True
        if frame.type == FRAME_BLOB:
            if not self._pending:
                raise FormatError(f"{what}: a blob frame that no files frame announced")
            sha1, size, enc, base, stored = self._pending[0]
            if frame.meta.get("sha1") != bytes.fromhex(sha1) or frame.meta.get("off") != self._got:
                raise FormatError(f"{what}: expected bytes of blob {sha1[:12]}… from offset {self._got}")
            if self._got + len(frame.body) > stored or not frame.body:
                raise FormatError(f"{what}: blob {sha1[:12]}… carries more than its {stored} stored bytes")
            self._tmp.write(frame.body)
            self._got += len(frame.body)
            if self._got == stored:
                self._complete(what)
                self._next()
            return True
        return False

    def finish(self) -> None:
        self._expect_no_blob("end of the bundle")

    def _expect_no_blob(self, what: str) -> None:
        if self._pending:
            raise FormatError(f"{what}: the bytes of blob {self._pending[0][0][:12]}… are missing")

    def _next(self) -> None:
        """Start on the next announced blob; put the frame's versions once all have arrived."""
        while self._pending and self._pending[0][4] == 0:
            self._complete("files frame")  # an empty raw file has no blob frames
        if not self._pending:
            for v in self._versions:
                self.taken.append(v)
                if self.store.put_file_version(v):
                    self.versions_added += 1
                else:
                    self.versions_present += 1
            self._versions = []
            return
        self._got = 0
        self._tmp = tempfile.TemporaryFile(prefix="wikibundle-blob-")

    def _complete(self, what: str) -> None:
        sha1, size, enc, base, stored = self._pending.pop(0)
        enc_f = self._tmp if self._tmp is not None else tempfile.TemporaryFile()
        self._tmp = None
        try:
            enc_f.seek(0)
            with tempfile.TemporaryFile(prefix="wikibundle-file-") as out:
                h = hashlib.sha1()
                n = 0
                for chunk in self._decode(enc_f, size, enc, base, sha1, what):
                    n += len(chunk)
                    if n > size:
                        raise FormatError(f"{what}: blob {sha1[:12]}… decodes to more than its {size} bytes")
                    h.update(chunk)
                    out.write(chunk)
                if n != size:
                    raise FormatError(f"{what}: blob {sha1[:12]}… decodes to {n} bytes, expected {size}")
                if h.hexdigest() != sha1:
                    raise ContentError(
                        f"{what}: the bytes of file {sha1[:12]}… do not match their sha1 (got {h.hexdigest()[:12]}…)",
                        hint="The sender's copy of the file is damaged, or (for a delta) this side's copy of the older version "
                        "differs from the sender's. Nothing was changed; ask the sender for a full bundle (bundle make --full).",
                    )
                out.seek(0)
                if self.store.put_blob(sha1, out):
                    self.blobs_added += 1
        finally:
            enc_f.close()

    def _decode(self, f: BinaryIO, size: int, enc: int, base: str | None, sha1: str, what: str) -> Iterator[bytes]:
        if enc == ENC_RAW:
            while chunk := f.read(1 << 20):
                yield chunk
            return
        base_bytes = b""
        if enc == ENC_DELTA:
            base_size = self.store.blob_size(base)
            if base_size is not None and base_size > MAX_DELTA_BASE:
                raise LimitError(f"{what}: blob {sha1[:12]}…'s delta base is {base_size} bytes, over the {MAX_DELTA_BASE} limit")
            base_bytes = self.store.blob_bytes(base)
            if base_bytes is None:
                raise ContentError(
                    f"{what}: file {sha1[:12]}… travels as a delta against {base[:12]}…, which this side does not hold",
                    hint="This side's wiki lost files since the last sync; ask the sender for a full bundle (bundle make --full).",
                )
        yield from wire.decompress_stream(f, expected_size=size, dictionary=base_bytes, what=f"{what}: blob {sha1[:12]}…")
