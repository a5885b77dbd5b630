"""The frame coders: zstd with a raw dictionary, and PPMd primed with the texts the receiver
holds (BUNDLE.md §Frame meta, Coder ``ppmd7-primed``, Primer); the writer's choice among them
per frame (``code_frame``). The only module that touches pyppmd.

Both sides hold the frame's dictionary D (the base texts, concatenated). A PPMd
var.H model that has already seen D predicts the payload R far better than zstd's
matches into D can (eslagunanegra q=0.9: 22.6 KB against zstd -19's 26.8 KB).
pyppmd cannot load or save a model, so priming is done on the wire itself: the
7z range coder's output bytes are final once written, so an encoder that has
encoded D has written a prefix P of the stream of D ‖ R. The sender sends the
rest of that stream; the receiver encodes its own D to get P, decodes P ‖ body
for |D| + raw_len bytes, checks the first |D| are D, and keeps the rest.

The decoder runs in a forked child (``_decode`` says why). The reader accepts
exactly the bytes the writer produces: after decoding, it
encodes R with the encoder it primed and compares the result with the body, so
a body with bytes appended, or another flush, is refused, and no two bodies
mean the same payload.

Everything decoded here comes from an untrusted file: order and memory are
checked before any model is allocated, the input (|D| + raw_len) is capped so a
frame's decoding time is bounded, the decoder is asked for exactly |D| + raw_len
bytes and never produces more, and every pyppmd exception becomes a
``FormatError``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache

import pyppmd

from . import wire
from .container import PPMD_CAPABILITY, PRIMER_CAPABILITY
from .errors import BundleError, FormatError, LimitError, UsageError

CODER = "ppmd7-primed"  # frame meta "coder"; a bundle with such a frame lists PPMD_CAPABILITY
ORDER = 32  # what writers use: 16 costs 1% more on real wikis, 64 gains 0.03%
MIN_ORDER, MAX_ORDER = 2, 64  # PPMd var.H's range
MIN_MEM = 1 << 11  # Ppmd7's smallest model
MAX_MEM = 256 << 20  # the largest model a reader allocates (two of them while a frame is decoded)
# The largest model a writer declares: a frame's make and apply stay near the 300 MB bound of
# README "Measured" (an encoder and a decoding child each grow into it); a larger frame's model
# restarts when full, which costs size on big first bundles, not correctness.
WRITE_MAX_MEM = 64 << 20
MAX_INPUT = 64 << 20  # |D| + raw_len of one frame: bounds a reader's time (two passes at ~2.5 MB/s: ~1 min)


def memory_for(n: int) -> int:
    """The model memory a writer declares for ``n`` bytes of D ‖ R: 48 bytes a byte
    (rounded up to a power of two), at least 1 MiB, at most ``WRITE_MAX_MEM``. A model
    that fills its memory restarts (deterministically), which costs size, not
    correctness: on eslagunanegra's frames order 32 needs about 40 bytes a byte
    (at 16, the q=0.9 frame is 12% larger; at 24, 18%)."""
    return min(WRITE_MAX_MEM, max(1 << 20, 1 << max(0, 48 * n - 1).bit_length()))


def fits(dictionary_len: int, raw_len: int) -> bool:
    """Whether a writer may code a frame this way (the reader's input limit)."""
    return dictionary_len + raw_len <= MAX_INPUT


def check_params(order: object, mem: object, *, what: str) -> tuple[int, int]:
    """The frame meta's ``order`` and ``mem``: ints in range, memory under the reader's limit."""
    for name, v in (("order", order), ("mem", mem)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise FormatError(f"{what}: frame meta {name!r} must be an int for coder {CODER!r}")
    assert isinstance(order, int) and isinstance(mem, int)
    if not MIN_ORDER <= order <= MAX_ORDER:
        raise FormatError(f"{what}: PPMd order {order} is outside {MIN_ORDER}-{MAX_ORDER}")
    if mem < MIN_MEM:
        raise FormatError(f"{what}: PPMd memory {mem} is below the model's minimum of {MIN_MEM} bytes")
    if mem > MAX_MEM:
        raise LimitError(f"{what}: PPMd memory {mem} exceeds the {MAX_MEM} limit")
    return order, mem


def prime(dictionary: bytes, order: int, mem: int) -> tuple[pyppmd.Ppmd7Encoder, bytes]:
    """An encoder that has encoded ``dictionary``, and the prefix P it has written."""
    enc = pyppmd.Ppmd7Encoder(order, mem)
    return enc, enc.encode(dictionary) if dictionary else b""


def encode(raw: bytes, dictionary: bytes, order: int, mem: int) -> tuple[bytes, bytes]:
    """(P, body): the prefix D alone writes, and the rest of the stream of D ‖ R (no end
    mark, flushed) — the body a frame carries."""
    enc, prefix = prime(dictionary, order, mem)
    return prefix, enc.encode(raw) + enc.flush(endmark=False)


def compress(raw: bytes, dictionary: bytes, order: int, mem: int) -> bytes:
    """The body: the stream of D ‖ R (no end mark, flushed) without its prefix P."""
    return encode(raw, dictionary, order, mem)[1]


def reads_back(body: bytes, raw: bytes, dictionary: bytes, order: int, mem: int, prefix: bytes | None = None) -> bool:
    """Whether pyppmd's decoder gives D ‖ R back from ``body``, as a reader would decode
    it. A writer asks before it sends a PPMd frame and codes the frame with zstd if not.

    pyppmd's decoder (1.1–1.2) can report the end of a valid stream early: on
    eslagunanegra's first bundle up to 2017-01-31 (one frame, 1,478,191 bytes of payload,
    no dictionary, order 32, 128 MiB) it stops after 371,410 bytes with ``eof`` set, the
    same every time, and asking it for more crashes. A writer that checks what it wrote
    never sends a frame the reader's library cannot read. Costs one decoding pass
    (about 2.8 MB/s); ``prefix``: P from ``encode``, else D is encoded again for it."""
    if prefix is None:
        prefix = prime(dictionary, order, mem)[1]
    try:
        out = _decode(prefix + body, len(dictionary) + len(raw), order, mem, what="PPMd self-check")
    except FormatError:
        return False
    return out == dictionary + raw


def decompress(body: bytes, *, expected_size: int, dictionary: bytes, order: int, mem: int, what: str) -> bytes:
    """R, exactly ``expected_size`` bytes, or an error; ``order``/``mem`` as ``check_params`` returned them."""
    if len(dictionary) + expected_size > MAX_INPUT:
        raise LimitError(f"{what}: a PPMd frame's dictionary and payload exceed {MAX_INPUT} bytes")
    enc, prefix = prime(dictionary, order, mem)
    want = len(dictionary) + expected_size
    stream = prefix + body
    if len(stream) < 5:  # the range decoder starts by reading 5 bytes
        raise FormatError(f"{what}: PPMd stream of {len(stream)} bytes is too short")
    out = _decode(stream, want, order, mem, what)
    if memoryview(out)[: len(dictionary)] != dictionary:
        raise FormatError(f"{what}: PPMd stream does not start from the frame's dictionary")
    raw = out[len(dictionary):]
    if enc.encode(raw) + enc.flush(endmark=False) != body:
        raise FormatError(f"{what}: PPMd body is not the canonical encoding of its payload (bytes appended or changed)")
    return raw


_PAD = bytes(1 << 16)


def _decode(stream: bytes, want: int, order: int, mem: int, what: str) -> bytes:
    """Exactly ``want`` symbols decoded from ``stream``, or a ``FormatError``; in a child process.

    pyppmd decodes in a thread of its own, which waits when its input runs out.
    Freeing a decoder whose thread waits cancels the thread, and asking a decoder
    for more after it decoded an end mark: both have crashed the process on
    damaged streams (segmentation fault), and pyppmd's ``eof`` flag does not tell
    a waiting thread from a finished one (it is also set when the range
    decoder's code is 0). So the decoder runs in a forked child that writes what
    it decoded to a pipe and exits without freeing anything: whatever a hostile
    stream does to pyppmd ends with the child, and the parent sees fewer bytes
    than it asked for. A stream that runs out is given zero bytes while the
    decoder waits for input (that changes no verdict: the 7z range decoder reads
    exactly the bytes its encoder wrote, so a stream it reads beyond is not the
    canonical encoding of what it decodes to, and is refused after).
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: decode, write, exit; no cleanup, no exception escapes
        code = 0
        try:
            os.close(r)
            dec = pyppmd.Ppmd7Decoder(order, mem)
            out = dec.decode(stream, want)  # never more than asked; valid streams end here
            with os.fdopen(w, "wb") as f:
                f.write(out)
                n, padded, cap = len(out), 0, 2 * (order + 2) * want + len(_PAD)
                while n < want and dec.needs_input and not dec.eof and padded <= cap:
                    piece = dec.decode(_PAD, want - n)
                    padded += len(_PAD)
                    f.write(piece)
                    n += len(piece)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read(want + 1)
    _, status = os.waitpid(pid, 0)
    if len(out) != want or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise FormatError(f"{what}: PPMd stream decodes to {min(len(out), want)} of its {want} bytes, then fails")
    return out


# --- reading a frame's body (BUNDLE.md §Frame meta, Coder; §Compression; §Primer) -------


def frame_coder(meta: dict, what: str) -> tuple[int, int] | None:
    """None: zstd (``coder`` absent); else the ``ppmd7-primed`` order and memory, checked."""
    if "coder" not in meta:
        return None
    if meta["coder"] != CODER:
        raise FormatError(f"{what}: unknown frame coder {str(meta['coder'])[:40]!r}")
    return check_params(meta.get("order"), meta.get("mem"), what=what)


def decode_body(body: bytes, raw_len: int, dictionary: bytes, params: tuple[int, int] | None, *, primed: bool,
                what: str) -> bytes:
    """The payload of a body coded as ``frame_coder`` said; ``primed``: the frame names primer
    parts, so a zstd body has no magic number."""
    if params is None:
        return wire.decompress(body, expected_size=raw_len, dictionary=dictionary, what=what, magic=not primed)
    order, mem = params
    return decompress(body, expected_size=raw_len, dictionary=dictionary, order=order, mem=mem, what=what)


def ppmd_layout(payload: dict) -> dict:
    """The long-form payload map as a ``ppmd7-primed`` frame carries it: the revision
    columns first and the inserted texts first among them, so the texts the model predicts
    best follow the dictionary it was primed with (1% smaller than the zstd layout on
    eslagunanegra; readers do not depend on key order)."""
    cols = payload["revs"]
    revs = {k: cols[k] for k in _PPMD_COL_ORDER}
    return {"revs": revs, **{k: v for k, v in payload.items() if k != "revs"}}


_PPMD_COL_ORDER = ("ins", "sc", "n", "b", "pg", "id", "par", "ts", "u", "cm", "fl", "mf", "hs", "sl")


# --- the primer (BUNDLE.md §Primer) ------------------------------------------------------

# formats/primer-v1.bin (built by formats/primer.py from Debian's MediaWiki 1.39 messages)
PRIMER_SHA256 = "79b7c97e2439caf1ffd39a1f006d3bf2c986495bcb72388a6f8fd9a177dff2be"
PRIMER_COMMON = 0  # the ``dict`` entry naming the primer's common part; -i names language block i
# The primer is tried on frames whose D ‖ R is at most this: on larger ones its gain is a
# few bytes in many thousands (eslagunanegra q=0.9, 420 KB: 61 B of 22,978), and trying
# costs two more encodings by each coder (make's CPU there 1.5 → 2.1 s at 1 MiB).
PRIMER_TRY_MAX = 128 << 10
# The writer ranks the language blocks on this much of the payload (zstd level 3, block ‖ common).
_RANK_SAMPLE = 32 << 10


@cache
def primer_parts() -> tuple[bytes, ...]:
    """The primer's parts: the common part, then language blocks 1 … N (checked against
    PRIMER_SHA256: a reader with another primer would misread every primed frame)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "primer-v1.bin")
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != PRIMER_SHA256:
        raise BundleError(f"{path} is not the primer of capability {PRIMER_CAPABILITY} (its SHA-256 differs)",
                          hint="This installation of wikibundle is damaged: reinstall it.")
    parts = wire.unpackb(data, what="primer-v1.bin")
    return tuple(parts)


def primer_part(entry: int, what: str) -> bytes:
    """The bytes a frame meta ``dict`` entry ≤ 0 names: 0 the common part, -i language block i."""
    parts = primer_parts()
    if not -len(parts) < entry <= 0:
        raise FormatError(f"{what}: 'dict' names primer part {entry}; {PRIMER_CAPABILITY} has 0 to {1 - len(parts)}")
    return parts[-entry]


def primer_entries(raw: bytes) -> tuple[int, ...]:
    """The primer parts a writer puts after a frame's base texts: the language block whose
    strings the payload shares most (if any does), then the common part."""
    parts = primer_parts()
    sample = raw[:_RANK_SAMPLE]

    def size(entries: tuple[int, ...]) -> int:  # the body and the entries' bytes in the meta
        d = b"".join(parts[-e] for e in entries)
        return len(wire.compress(sample, level=3, dictionary=d, checksum=False)) + len(wire.packb(list(entries)))

    return min([(PRIMER_COMMON,)] + [(-i, PRIMER_COMMON) for i in range(1, len(parts))], key=size)


# --- the writer's choice ----------------------------------------------------------------

CODER_CHOICES = ("best", "zstd", "ppmd")


def frame_coder_choice(coder: str | None = None) -> str:
    """The writer's coder choice: ``coder``, else ``$WIKIBUNDLE_CODER`` (for benchmarks
    and vectors: the old coder forced, side by side), else ``best``."""
    choice = coder or os.environ.get("WIKIBUNDLE_CODER") or "best"
    if choice not in CODER_CHOICES:
        raise UsageError(f"WIKIBUNDLE_CODER={choice!r} is not a frame coder",
                         hint=f"Use one of {', '.join(CODER_CHOICES)}, or leave it unset (best).")
    return choice


def primer_wanted(allowed: bool) -> bool:
    """Whether a writer may prime frames: where its version allows (the compact form), and
    not switched off by ``WIKIBUNDLE_PRIMER=0`` (benchmarks and vectors, side by side)."""
    return allowed and os.environ.get("WIKIBUNDLE_PRIMER", "1") != "0"


def frame_capabilities(meta: dict) -> tuple[str, ...]:
    """The header capabilities a records frame with this meta needs beyond v1's."""
    caps = (PPMD_CAPABILITY,) if meta.get("coder") == CODER else ()
    return caps + ((PRIMER_CAPABILITY,) if any(r <= 0 for r in meta["dict"]) else ())


@dataclass(frozen=True, slots=True)
class Coded:
    """A records frame's body, the meta entries its coder adds, and the primer parts it
    names after the base texts (empty: none)."""

    body: bytes
    meta: dict
    primer: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class _Dictionary:
    """One way to code a frame: the base texts, and the primer parts named after them (if any)."""

    entries: tuple[int, ...]
    data: bytes
    extra: int  # what naming them costs: the ``dict`` entries and the capability in the header


def code_frame(raw: bytes, dictionary: bytes, *, choice: str, level: int, checksum: bool, primer: bool,
               ppmd_raw: bytes | None = None) -> Coded:
    """The smallest coding of payload ``raw`` for a receiver that holds ``dictionary``: zstd
    or ``ppmd7-primed`` (``choice``: ``frame_coder_choice``), each with and without the
    primer (``primer``: allowed), counting what each adds besides its body (meta entries, the
    capability in the header); zstd on a tie, no primer on a tie. ``ppmd_raw``: the payload
    as a PPMd frame carries it (the same map in another key order), if it differs."""
    ppmd_raw = raw if ppmd_raw is None else ppmd_raw
    ways = [_Dictionary((), dictionary, 0)]
    if primer and len(dictionary) + len(raw) <= PRIMER_TRY_MAX:
        # The common part alone, and with the language part the payload ranks first (a guess
        # at zstd level 3 that the coders check: on English payloads it can be noise).
        for entries in dict.fromkeys([(PRIMER_COMMON,), primer_entries(raw)]):
            extra = len(wire.packb(list(entries))) - 1 + len(wire.packb(PRIMER_CAPABILITY))
            ways.append(_Dictionary(entries, dictionary + b"".join(primer_part(e, "primer") for e in entries), extra))
    zstd = [] if choice == "ppmd" else [_zstd(raw, w, level, checksum) for w in ways]
    if choice != "zstd":
        ppmd = [_ppmd(ppmd_raw, w) for w in ways if fits(len(w.data), len(ppmd_raw))]
        best = min(cost for cost, _ in zstd) if zstd else None
        for cost, p in sorted(ppmd, key=lambda p: p[0]):
            if best is not None and cost >= best:
                break
            # A frame pyppmd cannot read back goes with the next best coding (``reads_back``).
            if reads_back(p.coded.body, ppmd_raw, p.dictionary, ORDER, p.coded.meta["mem"], p.prefix):
                return p.coded
        zstd = zstd or [_zstd(raw, w, level, checksum) for w in ways]  # PPMd asked for; none fits or reads back
    return min(zstd, key=lambda z: z[0])[1]


@dataclass(frozen=True, slots=True)
class _PpmdCoded:
    """A PPMd coding, and what checking it reads back needs: its dictionary and prefix P."""

    coded: Coded
    dictionary: bytes
    prefix: bytes


def _zstd(raw: bytes, way: _Dictionary, level: int, checksum: bool) -> tuple[int, Coded]:
    body = wire.compress(raw, level=level, dictionary=way.data, checksum=checksum, magic=not way.entries)
    return len(body) + way.extra, Coded(body, {}, way.entries)


def _ppmd(raw: bytes, way: _Dictionary) -> tuple[int, _PpmdCoded]:
    mem = memory_for(len(way.data) + len(raw))
    prefix, body = encode(raw, way.data, ORDER, mem)
    meta = {"coder": CODER, "order": ORDER, "mem": mem}
    # What PPMd adds besides its body: three meta entries and the capability in the header.
    cost = len(body) + way.extra + len(wire.packb(meta)) - 1 + len(wire.packb(PPMD_CAPABILITY))
    return cost, _PpmdCoded(Coded(body, meta, way.entries), way.data, prefix)
