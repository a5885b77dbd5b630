"""The bytes of a bundle's regions, in the order of formats/BUNDLE.md, and the compact form's codec.

    Bundle = Fixed || HeaderMap || Frame* || EndFrame || Trailer || Signature

Both versions' fixed parts, frame fixed parts, end frames, trailers and signature
blocks are written here, side by side (``fixed_part``, ``frame_bytes``, ``end_frame``,
``tail``), with the compact form's (version 2, §Compact form) uvarints and records
frame meta array. ``container.py`` reads and writes whole bundles with them; tools and
tests that take a bundle apart and put it back together use ``Layout`` and ``seal``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from .errors import FormatError, LimitError, TruncatedError
from .fields import is_int
from .signing import SecretKey

# §Header
MAGIC = b"\x89WBUNDL\n"  # high bit and a newline: 7-bit and text-mode transfers break it visibly
VERSION = 1  # §Versioning: the long form, still read
VERSION_COMPACT = 2  # §Compact form: written
HEADER_FIXED = struct.Struct(">8sHI")  # magic, version, header_len
MAX_HEADER_LEN = 64 * 1024
COMPACT_FIXED = struct.Struct(">8sH")  # magic, version; then header_len and frames_len as uvarints
MAX_VARINT_LEN = 9  # 63 bits: every length a reader accepts fits

# §Frames
FRAME_FIXED = struct.Struct(">BIII")  # type, meta_len, comp_len, raw_len
FRAME_END = 0

# §Trailer and §Signature
TRAILER = struct.Struct(">4sQ32s")  # magic, body_len, sha256(body)
TRAILER_MAGIC = b"WBT1"
SIGNATURE = struct.Struct(">8s64s")  # key id, Ed25519 signature
SIGNATURE_CONTEXT = b"wikibundle-v1 signature\x00"
TAIL_LEN = TRAILER.size + SIGNATURE.size
# §Compact form. Every cut is argued in BUNDLE.md §Why these sizes are safe.
COMPACT_TRAILER = struct.Struct(">4s")  # check: the body's SHA-256, its first 4 bytes (damage, not forgery)
COMPACT_SIGNATURE = struct.Struct(">4s64s")  # key hint (the key id's first 4 bytes), Ed25519 signature
COMPACT_SIGNATURE_CONTEXT = b"wikibundle-v2 signature\x00"  # then the body's whole SHA-256 (32 bytes)
COMPACT_TAIL_LEN = COMPACT_TRAILER.size + COMPACT_SIGNATURE.size
KEY_HINT_LEN = 4
CHECK_LEN = 32  # frame meta dict_sha256, text_sha256
COMPACT_CHECK_LEN = 8  # text_sha256, cut: it tells differing base texts apart, the signature guards the bundle
COMPACT_DICT_CHECK_LEN = 4  # dict_sha256, cut further: an early out before decoding; text_sha256 decides
ID_LEN = 8  # receiver, basis, ack: the first 8 bytes of the wiki id or checkpoint id they name
CHECKPOINT_LEN = 16  # a compact bundle's checkpoint id: the first 16 bytes of its body's SHA-256, never sent

_HINT_COPY = "The copy is incomplete or damaged: copy the bundle again from its source (and check the USB stick)."


# §Compact form: uvarints (LEB128: 7 bits a byte, low first, the high bit says "more")
def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(buf: bytes, at: int, what: str) -> tuple[int, int]:
    """The uvarint at ``at`` and the offset after it. A buffer that ends inside it is
    *truncated*; more than 9 bytes or a longer form than needed is a *format error*."""
    n = shift = 0
    for i in range(at, min(len(buf), at + MAX_VARINT_LEN)):
        b = buf[i]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if b == 0 and i > at:
                raise FormatError(f"{what}: a length written in more bytes than it needs")
            return n, i + 1
    if len(buf) < at + MAX_VARINT_LEN:
        raise TruncatedError(f"{what}: cut inside a length", hint=_HINT_COPY)
    raise FormatError(f"{what}: a length of more than {MAX_VARINT_LEN} bytes")


def read_fixed(fixed: bytes, size: int, name: str) -> tuple[int, int]:
    """§Compact fixed part, from its first bytes: (header_len, where the header map starts). The
    declared lengths must add up to the file's ``size``."""
    header_len, at = read_uvarint(fixed, COMPACT_FIXED.size, f"{name}: fixed header")
    if header_len > MAX_HEADER_LEN:
        raise LimitError(f"header length {header_len} exceeds the limit of {MAX_HEADER_LEN}")
    frames_len, at = read_uvarint(fixed, at, f"{name}: fixed header")
    declared = at + header_len + frames_len + COMPACT_TAIL_LEN
    if declared != size or frames_len < 1:
        raise TruncatedError(
            f"{name} is truncated or damaged: its fixed header says {declared:,} bytes, the file has {size:,}",
            hint=_HINT_COPY,
        )
    return header_len, at


def read_frame_fixed(buf: bytes, at: int, what: str) -> tuple[int, int, int, int, int]:
    """§Compact frames: the type, meta_len, comp_len and raw_len of the frame at ``buf[at]``,
    and its fixed part's size (1 for the end frame, else 1 + three uvarints)."""
    if buf[at] == FRAME_END:
        return FRAME_END, 0, 0, 0, 1
    meta_len, p = read_uvarint(buf, at + 1, what)
    comp_len, p = read_uvarint(buf, p, what)
    raw_len, p = read_uvarint(buf, p, what)
    return buf[at], meta_len, comp_len, raw_len, p - at


def read_tail(tail: bytes) -> tuple[bytes, str, bytes]:
    """§Compact trailer and signature, the last 72 bytes: (check, key hint as hex, signature)."""
    (check,) = COMPACT_TRAILER.unpack_from(tail)
    hint, sig = COMPACT_SIGNATURE.unpack_from(tail, COMPACT_TRAILER.size)
    return check, hint.hex(), sig


def same_checkpoint(held: bytes, named: bytes) -> bool:
    """A checkpoint id this side recorded against one a header names: whole in the long form,
    its first ``ID_LEN`` bytes in the compact form."""
    return len(named) in (ID_LEN, len(held)) and held.startswith(named)


# §Compact form, frame meta of a records frame: [dict, dict_sha256, text_sha256, revisions(, map of other keys)]
_META_CORE = ("dict", "dict_sha256", "text_sha256", "revisions")
_META_MORE = ("coder", "order", "mem")  # the fifth element's int keys 0, 1, 2 (a ppmd7-primed frame's)
CODERS = {1: "ppmd7-primed"}  # the coder's number (coder.CODER); absent: zstd


def compact_meta(meta: dict) -> list:
    core = [dict_differences(meta["dict"]), meta["dict_sha256"][:COMPACT_DICT_CHECK_LEN],
            meta["text_sha256"][:COMPACT_CHECK_LEN], meta["revisions"]]
    numbers = {name: n for n, name in CODERS.items()}
    more = {_META_MORE.index(k): numbers[v] if k == "coder" else v for k, v in meta.items() if k not in _META_CORE}
    return core + [more] if more else core


def expand_meta(m: object, what: str) -> dict:
    """The compact meta array in the long form's names; the fifth element's keys 0-2 are read
    (the coder's number as its name), any other key is ignored."""
    if not (isinstance(m, list) and len(m) in (4, 5)):
        raise FormatError(f"{what}: expected an array of 4 or 5 elements")
    more = m[4] if len(m) == 5 else {}
    if not isinstance(more, dict):
        raise FormatError(f"{what}: its fifth element must be a map")
    named = {_META_MORE[k]: v for k, v in more.items() if is_int(k) and 0 <= k < len(_META_MORE)}
    if is_int(named.get("coder")) and named["coder"] in CODERS:  # another number stays: "unknown coder"
        named["coder"] = CODERS[named["coder"]]
    return {**named, **dict(zip(_META_CORE, m)), "dict": dict_summed(m[0], what)}


def dict_differences(revs: list[int]) -> list[int]:
    """§Compact frames, ``dict``: each revision id (≥ 1) as its difference d from the
    revision id before it (the first: from 0), coded 2d + 1 if d ≥ 0, else -2d — always
    ≥ 1; a primer part (≤ 0) as itself. Context texts come in ascending id order, so most
    take one byte where an id takes three to five."""
    out, prev = [], 0
    for r in revs:
        if r <= 0:
            out.append(r)
            continue
        d = r - prev
        out.append(2 * d + 1 if d >= 0 else -2 * d)
        prev = r
    return out


def dict_summed(coded: object, what: str) -> object:
    """``dict_differences`` undone; an entry that is no int is left for the frame meta's
    checks to refuse. A difference that leads to an id below 1 is a *format error*."""
    if not isinstance(coded, list):
        return coded
    out, prev = [], 0
    for v in coded:
        if is_int(v) and v > 0:
            prev += (v - 1) // 2 if v % 2 else -(v // 2)
            if prev < 1:
                raise FormatError(f"{what}: a dict difference leads to revision id {prev}")
            v = prev
        out.append(v)
    return out


# §Compact header: the long form's fields by number: the six required ones as an array,
# then a map of the optional ones under their numbers. No sender (the signer's wiki), no
# checkpoint (derived from the body's hash), no signer (the signature block's key hint).
COMPACT_HEADER_KEYS = {
    0: "receiver", 1: "seq", 2: "basis_seq", 3: "basis", 4: "created", 5: "counts", 6: "kind", 7: "capabilities",
    8: "latest_only", 9: "source", 10: "tool", 11: "ack", 12: "notices", 13: "breakdown",
}
HEADER_CORE = 6  # the array's required elements: fields 0-5
KINDS = ("update", "return")  # the kind's number is its index; absent: 0
COUNTS = ("pages", "revisions", "moves", "deletions", "updates", "frames", "text_bytes")  # the counts array's order
BREAKDOWN = ("namespaces", "inserted", "metadata", "files")  # the breakdown array's order
INFO_MIN_FRAMES = 4096  # frames of fewer bytes: no source, tool or (without files) breakdown


def header_array(w: dict, implied: tuple[str, ...], frame_bytes: int) -> list:
    """The compact header of the long form's map ``w`` (``Header.to_wire()``). The
    informational fields go only into a bundle whose frames take ``INFO_MIN_FRAMES``
    bytes or more (the breakdown also when files travel: it is what inspect says of them)."""
    core = [bytes.fromhex(w["receiver"])[:ID_LEN], w["seq"], w["basis_seq"], w["basis"][:ID_LEN], w["created"],
            [w["counts"][k] for k in COUNTS]]
    d: dict = {}
    if w["kind"] != KINDS[0]:
        d[6] = KINDS.index(w["kind"])
    caps = [c for c in w["capabilities"] if c not in implied]
    if caps:
        d[7] = caps
    if w["latest_only"]:
        d[8] = True
    info = frame_bytes >= INFO_MIN_FRAMES
    for k, name in ((9, "source"), (10, "tool")):
        if info and w[name]:
            d[k] = w[name]
    if "ack" in w:
        d[11] = [w["ack"][0], w["ack"][1][:ID_LEN]]
    if "notices" in w:
        d[12] = w["notices"]
    b = w["breakdown"]
    if b and (info or b.get("files")):
        d[13] = [{int(k): v for k, v in b.get("namespaces", {}).items()}, b.get("inserted", 0), b.get("metadata", 0)]
        if b.get("files"):
            d[13].append(b["files"])
    return core + [d] if d else core


def named(a: object) -> dict:
    """The compact header's fields under the long form's names, as they are: the array's six
    elements, then the optional map's keys 6-13 (any other key is ignored)."""
    if not (isinstance(a, list) and len(a) in (HEADER_CORE, HEADER_CORE + 1)):
        raise FormatError(f"header: expected an array of {HEADER_CORE} or {HEADER_CORE + 1} elements")
    more = a[HEADER_CORE] if len(a) > HEADER_CORE else {}
    if not isinstance(more, dict):
        raise FormatError(f"header: its element {HEADER_CORE} must be a map")
    w = {COMPACT_HEADER_KEYS[i]: v for i, v in enumerate(a[:HEADER_CORE])}
    optional = range(HEADER_CORE, len(COMPACT_HEADER_KEYS))
    w.update({COMPACT_HEADER_KEYS[k]: v for k, v in more.items() if is_int(k) and k in optional})
    return w


def long_values(w: dict) -> dict:
    """``named``'s values as the long form's: the receiver's bytes as hex, the kind's name,
    counts and breakdown as maps, the optional kind and capabilities' defaults."""
    w = {"kind": 0, "capabilities": [], **w}
    if "receiver" in w:
        if not (isinstance(w["receiver"], bytes) and len(w["receiver"]) == ID_LEN):
            raise FormatError(f"header: receiver must be the first {ID_LEN} bytes of a wiki id")
        w["receiver"] = w["receiver"].hex()
    if not (is_int(w["kind"]) and 0 <= w["kind"] < len(KINDS)):
        raise FormatError(f"header: unknown kind {w['kind']!r}")
    w["kind"] = KINDS[w["kind"]]
    if "counts" in w:
        c = w["counts"]
        if not (isinstance(c, list) and len(c) == len(COUNTS)):
            raise FormatError(f"header: counts must be an array of {len(COUNTS)} ints")
        w["counts"] = dict(zip(COUNTS, c))
    if "breakdown" in w:
        if not isinstance(w["breakdown"], list):
            raise FormatError("header: breakdown must be an array")
        w["breakdown"] = dict(zip(BREAKDOWN, w["breakdown"]))
    return w


# The regions as bytes, shared by the writer and by tools that take a bundle apart and
# put it back together (formats/vectors/generate.py, tests): one encoding of each.
def fixed_part(header_len: int, frames_len: int, compact: bool) -> bytes:
    if compact:
        return COMPACT_FIXED.pack(MAGIC, VERSION_COMPACT) + uvarint(header_len) + uvarint(frames_len)
    return HEADER_FIXED.pack(MAGIC, VERSION, header_len)


def frame_bytes(ftype: int, meta: bytes, body: bytes, raw_len: int, compact: bool) -> bytes:
    if compact:
        return bytes([ftype]) + uvarint(len(meta)) + uvarint(len(body)) + uvarint(raw_len) + meta + body
    return FRAME_FIXED.pack(ftype, len(meta), len(body), raw_len) + meta + body


def end_frame(compact: bool) -> bytes:
    """§Compact form: the end frame is its type byte alone."""
    return bytes([FRAME_END]) if compact else FRAME_FIXED.pack(FRAME_END, 0, 0, 0)


def tail(body_sha256: bytes, body_len: int, key: SecretKey, compact: bool) -> bytes:
    """Trailer || Signature for a body with this SHA-256 and length."""
    if compact:
        sig = key.sign(COMPACT_SIGNATURE_CONTEXT + body_sha256)
        hint = bytes.fromhex(key.key_id)[:KEY_HINT_LEN]
        return COMPACT_TRAILER.pack(body_sha256[: COMPACT_TRAILER.size]) + COMPACT_SIGNATURE.pack(hint, sig)
    trailer = TRAILER.pack(TRAILER_MAGIC, body_len, body_sha256)
    sig = key.sign(SIGNATURE_CONTEXT + trailer)
    return trailer + SIGNATURE.pack(bytes.fromhex(key.key_id), sig)


@dataclass(slots=True)
class Layout:
    """A well-formed bundle taken apart (trusted input: for tools and tests that rewrite one)."""

    compact: bool
    header: bytes
    frames: list[list]  # [type, meta bytes, body, raw_len]

    @classmethod
    def of(cls, data: bytes) -> "Layout":
        compact = COMPACT_FIXED.unpack_from(data)[1] == VERSION_COMPACT
        if compact:
            hlen, at = read_uvarint(data, COMPACT_FIXED.size, "fixed part")
            _frames_len, at = read_uvarint(data, at, "fixed part")
        else:
            hlen, at = HEADER_FIXED.unpack_from(data)[2], HEADER_FIXED.size
        header, at = data[at : at + hlen], at + hlen
        frames = []
        while data[at] != FRAME_END:
            if compact:
                _t, mlen, clen, rlen, n = read_frame_fixed(data, at, "frame")
            else:
                _t, mlen, clen, rlen = FRAME_FIXED.unpack_from(data, at)
                n = FRAME_FIXED.size
            p = at + n
            frames.append([data[at], data[p : p + mlen], data[p + mlen : p + mlen + clen], rlen])
            at = p + mlen + clen
        return cls(compact, header, frames)

    def body(self) -> bytes:
        framed = b"".join(frame_bytes(t, m, b, r, self.compact) for t, m, b, r in self.frames) + end_frame(self.compact)
        return fixed_part(len(self.header), len(framed), self.compact) + self.header + framed

    def signed(self, key: SecretKey) -> bytes:
        body = self.body()
        return body + tail(hashlib.sha256(body).digest(), len(body), key, self.compact)


def seal(body: bytes, key: SecretKey) -> bytes:
    """``body`` (of either version, as its fixed part says) with its trailer and signature."""
    compact = COMPACT_FIXED.unpack_from(body)[1] == VERSION_COMPACT
    return body + tail(hashlib.sha256(body).digest(), len(body), key, compact)
