"""The only module that touches msgpack and zstandard: their options, pinned.

Everything decoded here comes from an untrusted file. So:
- msgpack: ``raw=False`` (strings are UTF-8 or an error), ``strict_map_key``,
  buffer and container sizes capped, nesting capped by our own walk, and no
  ext types; trailing bytes after the one expected object are an error.
- zstd: frames must declare their content size, decompression is capped at the
  size the container declared (so a 1 KB frame cannot expand to gigabytes), and a
  frame that decodes to more or fewer bytes than declared is an error.
- Every third-party exception becomes a ``FormatError`` (or ``LimitError``).
"""

from __future__ import annotations

from typing import Any, BinaryIO, Iterator

import msgpack
import zstandard

from .errors import FormatError, LimitError

MAX_DEPTH = 32
MAX_WINDOW_LOG = 27  # 128 MiB: the largest window a reader must provide (BUNDLE.md §Frames)


def packb(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _int_str_or_bin_keys(pairs: list) -> dict:
    """A map of the compact header (BUNDLE.md §Compact header map): keys int, str or bin,
    never a bool, float or nil (which Python would merge with an int key); the last of a
    repeated key counts."""
    for k, _v in pairs:
        if isinstance(k, bool) or not isinstance(k, (int, str, bytes)):
            raise ValueError(f"a map key of type {type(k).__name__}")
    return dict(pairs)


def unpackb(data: bytes, *, what: str, max_len: int | None = None, int_keys: bool = False) -> Any:
    """One msgpack object, held to BUNDLE.md §Conventions. ``int_keys``: map keys may also
    be ints (the compact header)."""
    n = max_len if max_len is not None else len(data)
    try:
        up = msgpack.Unpacker(
            raw=False,
            strict_map_key=not int_keys,
            object_pairs_hook=_int_str_or_bin_keys if int_keys else None,
            max_buffer_size=max(len(data), 1),
            max_str_len=n,
            max_bin_len=n,
            max_array_len=n,
            max_map_len=n,
            max_ext_len=0,
        )
        up.feed(data)
        obj = up.unpack()
        try:
            up.unpack()
        except msgpack.OutOfData:
            pass
        else:
            raise FormatError(f"{what}: trailing data after the msgpack object")
    except msgpack.OutOfData:
        raise FormatError(f"{what}: msgpack data ends early") from None
    except FormatError:
        raise
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, UnicodeDecodeError) as e:
        raise FormatError(f"{what}: malformed msgpack ({type(e).__name__}: {e})") from None
    except Exception as e:  # msgpack raises outside its own tree; never let it reach the user raw
        raise FormatError(f"{what}: malformed msgpack ({type(e).__name__})") from None
    _check_depth(obj, what)
    return obj


def _check_depth(obj: Any, what: str) -> None:
    stack = [(obj, 0)]
    while stack:
        o, d = stack.pop()
        if d > MAX_DEPTH:
            raise LimitError(f"{what}: msgpack nesting deeper than {MAX_DEPTH}")
        if isinstance(o, list):
            stack.extend((x, d + 1) for x in o if isinstance(x, (list, dict)))
        elif isinstance(o, dict):
            stack.extend((x, d + 1) for x in o.values() if isinstance(x, (list, dict)))


def raw_dict(data: bytes) -> zstandard.ZstdCompressionDict | None:
    if not data:
        return None
    return zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


ZSTD_MAGIC = zstandard.MAGIC_NUMBER.to_bytes(4, "little")  # 28 B5 2F FD, RFC 8878 §3.1.1


def compress(data: bytes, *, level: int, dictionary: bytes = b"", checksum: bool = True, magic: bool = True) -> bytes:
    """One zstd frame declaring its content size; ``checksum``: with zstd's content checksum
    (the compact form omits it: the body's SHA-256 and the frame's text check cover the data);
    ``magic``: with its 4-byte magic number (a primed frame omits it: BUNDLE.md §Primer)."""
    d = raw_dict(dictionary)
    window_log = min(MAX_WINDOW_LOG, max(20, (len(data) + len(dictionary)).bit_length()))
    params = zstandard.ZstdCompressionParameters.from_level(
        level,
        source_size=len(data),
        window_log=window_log,
        write_content_size=True,
        write_checksum=checksum,
        write_dict_id=False,
        enable_ldm=len(dictionary) + len(data) > (8 << 20),
    )
    c = zstandard.ZstdCompressor(compression_params=params, dict_data=d)
    frame = c.compress(data)
    return frame if magic else frame[len(ZSTD_MAGIC):]


def decompress(data: bytes, *, expected_size: int, dictionary: bytes = b"", what: str, magic: bool = True) -> bytes:
    """``magic`` False: ``data`` is a zstd frame without its magic number, read as the frame with it."""
    if not magic:
        data = ZSTD_MAGIC + data
    try:
        params = zstandard.get_frame_parameters(data)
    except zstandard.ZstdError as e:
        raise FormatError(f"{what}: not a zstd frame ({e})") from None
    if params.content_size != expected_size:
        raise FormatError(
            f"{what}: zstd frame declares {params.content_size} bytes, the container {expected_size}"
        )
    if params.window_size > (1 << MAX_WINDOW_LOG):
        raise LimitError(f"{what}: zstd window {params.window_size} exceeds the {1 << MAX_WINDOW_LOG} limit")
    try:
        dctx = zstandard.ZstdDecompressor(dict_data=raw_dict(dictionary), max_window_size=1 << MAX_WINDOW_LOG)
        dobj = dctx.decompressobj()
        out = dobj.decompress(data)  # bounded: content size was checked above and is enforced below
        if len(out) != expected_size or not dobj.eof or dobj.unused_data:
            raise FormatError(f"{what}: zstd frame decodes to {len(out)} bytes, expected {expected_size}")
    except zstandard.ZstdError as e:
        raise FormatError(f"{what}: zstd frame is damaged ({e})") from None
    return out


# File bytes (formats/BUNDLE.md §Files): streamed, a piece at a time, never whole in memory.


def compress_stream(src: BinaryIO, size: int, dst: BinaryIO, dictionary: bytes = b"") -> None:
    """One zstd frame of the ``size`` bytes of ``src``, into ``dst``; with ``dictionary``
    (raw content: an older version of the file) it is a delta, as ``zstd --patch-from``.

    Levels, measured (benchmarks/files.py, a 20 MB XML file with 100 small edits,
    against its old version as dictionary): -19 gives 2.9 KB in 4 s of CPU, -9
    109 KB (330 KB with long-distance matching, which does not reach into a
    dictionary and only spoils the match finder here), -3 635 KB. So deltas always
    use -19 without LDM (bases are at most 64 MiB: ~15 s). Alone, past 16 MB, -9 is
    ten times faster than -19 and within a few percent of it."""
    delta = bool(dictionary)
    level = 19 if delta or size <= 16 << 20 else 9
    window_log = min(MAX_WINDOW_LOG, max(20, (size + len(dictionary)).bit_length()))
    params = zstandard.ZstdCompressionParameters.from_level(
        level, source_size=size, window_log=window_log, write_content_size=True,
        write_checksum=True, write_dict_id=False, enable_ldm=not delta and size > (8 << 20),
    )
    c = zstandard.ZstdCompressor(compression_params=params, dict_data=raw_dict(dictionary))
    c.copy_stream(src, dst, size=size, read_size=1 << 20, write_size=1 << 20)


def decompress_stream(f: BinaryIO, *, expected_size: int, dictionary: bytes = b"", what: str) -> Iterator[bytes]:
    """The bytes of the one zstd frame in file ``f`` (seekable), in pieces of at most
    1 MiB. The frame's declared size must be ``expected_size`` and its window at most
    128 MiB, checked before decompressing; the caller stops at ``expected_size``."""
    head = f.read(18)  # the longest frame header
    f.seek(0)
    try:
        params = zstandard.get_frame_parameters(head)
    except zstandard.ZstdError as e:
        raise FormatError(f"{what}: not a zstd frame ({e})") from None
    if params.content_size != expected_size:
        raise FormatError(f"{what}: zstd frame declares {params.content_size} bytes, expected {expected_size}")
    if params.window_size > (1 << MAX_WINDOW_LOG):
        raise LimitError(f"{what}: zstd window {params.window_size} exceeds the {1 << MAX_WINDOW_LOG} limit")
    try:
        d = zstandard.ZstdDecompressor(dict_data=raw_dict(dictionary), max_window_size=1 << MAX_WINDOW_LOG)
        # read_across_frames: bytes after the frame are read as another frame, so they
        # fail (garbage) or run past the expected size; they are never ignored.
        with d.stream_reader(f, read_size=1 << 20, read_across_frames=True, closefd=False) as r:
            while chunk := r.read(1 << 20):
                yield chunk
    except zstandard.ZstdError as e:
        raise FormatError(f"{what}: zstd frame is damaged ({e})") from None


# Texts at rest in the embedded store (trusted local data, not wire format).
_store_c = zstandard.ZstdCompressor(level=3)
_store_d = zstandard.ZstdDecompressor()


def store_pack_text(text: str) -> bytes:
    return _store_c.compress(text.encode("utf-8"))


def store_unpack_text(blob: bytes) -> str:
    return _store_d.decompress(blob).decode("utf-8")
