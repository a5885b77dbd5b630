"""Opening a dump: the file on disk, its compression found by its first bytes, and a
stream of the decompressed XML that counts what it has read.

gzip, bzip2 and xz by the standard library, zstd by ``zstandard`` (windows up to
2 GiB, as ``zstd --long=31`` writes them), several zstd frames read as one; a 7-Zip
archive is refused with the command that extracts it. The codecs' read errors
become a ``DumpError`` (``CountingReader.readinto``).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
from typing import BinaryIO

import zstandard

from ..errors import DumpError
from .dump_files import HINT_DUMP

_MAGIC = (("gzip", b"\x1f\x8b"), ("bzip2", b"BZh"), ("xz", b"\xfd7zXZ\x00"), ("zstd", b"\x28\xb5\x2f\xfd"),
          ("7z", b"7z\xbc\xaf\x27\x1c"))


def open_binary(path: str) -> tuple[BinaryIO, BinaryIO, str]:
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


class Tee:
    """Reads from ``inner`` and writes what it read to ``out``."""

    def __init__(self, inner: BinaryIO, out):
        self.inner = inner
        self.out = out

    def read(self, n: int) -> bytes:
        data = self.inner.read(n)
        self.out.write(data)
        return data


class CountingReader(io.RawIOBase):
    """Counts bytes read from the decompressed stream, for errors; ``position`` is how far
    into the file on disk that is (compressed bytes), for progress."""

    def __init__(self, path: str):
        self.inner, self.raw, self.codec = open_binary(path)
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
