"""Files frames as they arrive (formats/BUNDLE.md §Files): decoded, checked, landed.

``decode_files_frame`` reads a files frame (type 2): its versions and the blobs
whose bytes follow in blob frames (type 3). ``FileImporter`` takes a bundle's
files and blob frames in order: it decodes each blob (raw, zstd, or a zstd delta
against a version the receiver holds) into a temporary file, checks its size and
sha1, and only then hands it to its store, inside the same transaction as the
rest of the bundle (apply is all or nothing). The store is the embedded wiki's
(``targets.store``) or a MediaWiki's staging folder (``targets.mediawiki_files``).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from . import fields, wire
from .container import FRAME_BLOB, FRAME_FILES, FRAME_RECORDS, RawFrame
from .errors import ContentError, FormatError, LimitError
from .files import _FILE_COLS, ENC_DELTA, ENC_RAW, MAX_BLOB_SIZE, MAX_DELTA_BASE
from .model import FileVersion
from .frame_reader import check_title


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

    @property
    def announced(self) -> list:
        """The versions taken, and those of the files frame whose blobs are arriving."""
        return [*self.taken, *self._versions]

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
