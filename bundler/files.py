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

The receiver's side (decoding and landing a files frame) is ``bundler.files_import``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from itertools import groupby
from typing import BinaryIO, Callable, Iterable, Iterator, Protocol

from . import wire
from .container import FRAME_BLOB, FRAME_FILES, BundleWriter
from .model import FileVersion
from .state import PeerView
from .state.files import HeldFiles

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
    st, view: PeerView, seq: int, source: FileSource, writer: BundleWriter, *, room: Callable[[], int | None] = lambda: None,
    until: int | None = None, latest_only: bool = False, reported: bool = True,
) -> FilesSent:
    """Write the file versions the peer lacks (at ``view``: the peer and its chain) as
    files and blob frames, and record them as held under ``seq``. ``until``: only
    versions uploaded by then; ``latest_only``: only each file's current version
    (a read-only mirror needs no archive).

    ``room()`` is how many more bytes the bundle may take (None: no limit). Under a
    limit, a file travels whole (all the versions the peer lacks) or waits for the
    next bundle, and smaller files go first, so one large video does not hold back
    a hundred icons.
    """
    res = FilesSent()
    peer = view.peer
    held = HeldFiles(st, view, reported=reported)  # --full: what the peer reported is not trusted either
    todo = _files_missing(held, source, until, latest_only)
    if room() is not None:
        todo.sort(key=lambda t: (t[0], t[1]))
    tmpdir = tempfile.mkdtemp(prefix="wikibundle-files-")
    enc = _Encoder(source, tmpdir)
    batch = _FilesBatch(held, peer, seq, writer, enc)
    try:
        for _cost, _name, versions, missing in todo:
            new_blobs, new_sha, refs = _encode_missing(held, enc, versions, missing, batch.in_bundle)
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
    held_files: HeldFiles, source: FileSource, until: int | None, latest_only: bool
) -> list[tuple[int, str, list[FileVersion], list[FileVersion]]]:
    """Each file with versions the peer lacks: (new bytes, name, all versions, missing), by name."""
    todo = []
    for name, group in groupby(source.versions(), key=lambda v: v.name):
        versions = sorted((v for v in group if until is None or v.timestamp <= until), key=lambda v: (v.timestamp, v.sha1))
        held = held_files.versions(name)
        missing = [v for v in (versions[-1:] if latest_only else versions) if (v.timestamp, v.sha1) not in held]
        if missing:
            cost = sum(v.size for v in missing if not held_files.holds_blob(v.sha1))
            todo.append((cost, name, versions, missing))
    return todo


def _encode_missing(
    held: HeldFiles, enc: "_Encoder", versions: list[FileVersion], missing: list[FileVersion], in_bundle: set[str]
) -> tuple[list[_Blob], set[str], int]:
    """One file's missing versions as blobs (new ones only; the rest are references):
    (blobs, their sha1s, how many versions are references)."""
    held_here = {v.sha1 for v in versions if v not in missing and held.holds_blob(v.sha1)}
    new_blobs: list[_Blob] = []
    new_sha: set[str] = set()
    refs = 0
    for v in missing:
        if v.sha1 in in_bundle or v.sha1 in new_sha or held.holds_blob(v.sha1):
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

    def __init__(self, held: HeldFiles, peer: str, seq: int, writer: BundleWriter, enc: "_Encoder"):
        self.held, self.peer, self.seq, self.writer, self.enc = held, peer, seq, writer, enc
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
        self.held.record(self.peer, self.seq, self.versions)
        self.versions, self.blobs, self.bytes = [], [], 0
