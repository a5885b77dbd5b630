"""The bundle container: reader and writer side by side, in the order of formats/BUNDLE.md.

    Bundle = Header || Frame* || EndFrame || Trailer || Signature

The reader checks, in this fixed order and before anything is decompressed or
applied: file length, magic, version, declared sizes, the SHA-256 of the body,
the Ed25519 signature. Only ``frames()`` then hands out frame bodies, still
compressed: decoding them needs the receiver's texts (see ``records.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

from . import compact, wire
from .compact import (  # noqa: F401  (the regions' constants and codec, read here and by tools as container.X)
    CHECK_LEN, CHECKPOINT_LEN, COMPACT_CHECK_LEN, COMPACT_DICT_CHECK_LEN, COMPACT_FIXED, COMPACT_SIGNATURE,
    COMPACT_SIGNATURE_CONTEXT, COMPACT_TAIL_LEN, COMPACT_TRAILER, FRAME_END, FRAME_FIXED, HEADER_FIXED, ID_LEN,
    KEY_HINT_LEN, MAGIC, MAX_HEADER_LEN, MAX_VARINT_LEN, SIGNATURE, SIGNATURE_CONTEXT, TAIL_LEN, TRAILER,
    TRAILER_MAGIC, VERSION, VERSION_COMPACT, _HINT_COPY, _META_CORE, Layout, compact_meta, end_frame, expand_meta,
    fixed_part, frame_bytes, read_uvarint, same_checkpoint, seal, tail, uvarint,
)
from .errors import FormatError, LimitError, TruncatedError, UntrustedKeyError, VersionError
from .fields import binary, hex_id, is_int, optional, required, strings
from .signing import PublicKey, SecretKey
from .tempout import sweep_temp_files, temp_prefix

# §Header
WRITE_VERSION = VERSION_COMPACT


def for_readers_of(version: int | None) -> tuple[int, str | None]:
    """(container version, frame coder) to write for a receiver that reads ``version``
    (None: this one). Version 1 is asked for by readers that know nothing newer
    (wikibundle before 2026-12-03): neither the compact form nor the PPMd coder."""
    if version is None:
        return WRITE_VERSION, None
    return version, ("zstd" if version == VERSION else None)


# §Frames
FRAME_RECORDS = 1
FRAME_FILES = 2  # §Files: file versions and the blobs that follow (capability files-v1)
FRAME_BLOB = 3  # §Files: one chunk of a blob's bytes, stored as they travel
MAX_META_LEN = 1 << 20
MAX_RAW_LEN = 64 << 20
MAX_COMP_LEN = MAX_RAW_LEN + (1 << 20)

# §Versioning: capabilities this reader implements. A bundle that requires
# anything else is refused, as git refuses unknown bundle capabilities.
KNOWN_CAPABILITIES = frozenset({"records-v1", "char-delta-v1", "files-v1", "ppmd7-primed-v1", "slot-delta-v1", "primer-v1"})
WRITTEN_CAPABILITIES = ("records-v1", "char-delta-v1")
FILES_CAPABILITY = "files-v1"  # added to the written ones only when a bundle carries files
PPMD_CAPABILITY = "ppmd7-primed-v1"  # added when a records frame is PPMd-coded (coder.py)
SLOT_DELTA_CAPABILITY = "slot-delta-v1"  # added when a non-main slot travels as a delta (records.py, column sl)
PRIMER_CAPABILITY = "primer-v1"  # added when a records frame's dict names a primer part (coder.py)
# §Compact form: every reader of version 2 implements these; a compact header lists only later ones
COMPACT_IMPLIED = ("records-v1", "char-delta-v1", FILES_CAPABILITY, PPMD_CAPABILITY, SLOT_DELTA_CAPABILITY, PRIMER_CAPABILITY)

EMPTY_CHECKPOINT = bytes(16)


@dataclass(frozen=True, slots=True)
class Counts:
    pages: int = 0
    revisions: int = 0
    moves: int = 0
    deletions: int = 0
    updates: int = 0  # revisions already held whose attribution or visibility changed
    frames: int = 0
    text_bytes: int = 0  # UTF-8 bytes of all carried revision texts, uncompressed

    def to_wire(self) -> dict:
        return {
            "pages": self.pages,
            "revisions": self.revisions,
            "moves": self.moves,
            "deletions": self.deletions,
            "updates": self.updates,
            "frames": self.frames,
            "text_bytes": self.text_bytes,
        }


@dataclass(frozen=True, slots=True)
class Header:
    sender: str  # wiki id, 32 hex
    receiver: str
    seq: int  # this bundle's number in the sender→receiver sequence, from 1
    basis_seq: int  # the checkpoint the receiver must hold (0: nothing)
    basis: bytes  # its 16-byte id
    checkpoint: bytes  # the 16-byte id of the checkpoint this bundle leads to
    created: int
    signer: str  # key id, 16 hex
    kind: str = "update"  # "update" (online → offline) or "return"
    latest_only: bool = False
    counts: Counts = field(default_factory=Counts)
    capabilities: tuple[str, ...] = WRITTEN_CAPABILITIES
    source: str = ""
    tool: str = ""
    # Informational: per namespace, [revisions, characters inserted by their deltas]
    # plus the totals, so 'bundle inspect' can say where the bytes go without the
    # receiver's texts. Not checked against the content.
    breakdown: dict = field(default_factory=dict)
    # The newest bundle the sender has applied from the receiver (0: none), so a
    # bundle also confirms what arrived the other way (BUNDLE.md §Return bundles).
    ack_seq: int = 0
    ack: bytes = bytes(16)
    # Merges and conflicts the sender's wiki resolved, for the receiver's report.
    notices: tuple[str, ...] = ()

    def to_wire(self) -> dict:
        d = self._wire()
        if self.ack_seq:
            d["ack"] = [self.ack_seq, self.ack]
        if self.notices:
            d["notices"] = list(self.notices)
        return d

    def _wire(self) -> dict:
        return {
            "sender": self.sender,
            "receiver": self.receiver,
            "seq": self.seq,
            "basis_seq": self.basis_seq,
            "basis": self.basis,
            "checkpoint": self.checkpoint,
            "created": self.created,
            "signer": self.signer,
            "kind": self.kind,
            "latest_only": self.latest_only,
            "counts": self.counts.to_wire(),
            "capabilities": list(self.capabilities),
            "source": self.source,
            "tool": self.tool,
            "breakdown": self.breakdown,
        }

    def to_compact(self, frame_bytes: int) -> list:
        """§Compact header (``compact.header_array``), for a bundle whose frames take ``frame_bytes``."""
        return compact.header_array(self.to_wire(), COMPACT_IMPLIED, frame_bytes)

    def for_wiki(self, wiki_id: str) -> bool:
        """Whether the bundle is addressed to ``wiki_id`` (a compact header holds its first 8 bytes)."""
        return wiki_id.startswith(self.receiver)

    @classmethod
    def from_compact(cls, d: object, signer: str) -> "Header":
        """The compact header, read into the long form's names, then checked as the long form is.
        ``sender`` and ``checkpoint`` stay empty until ``BundleReader.verify`` knows them."""
        w = compact.named(d)
        _capabilities({"capabilities": [], **w})  # first, as in the long form
        h = cls.from_wire(compact.long_values(w), compact_signer=signer)
        implied = tuple(c for c in COMPACT_IMPLIED if c not in h.capabilities)
        return dataclasses.replace(h, capabilities=implied + h.capabilities)

    @classmethod
    def from_wire(cls, d: object, compact_signer: str | None = None) -> "Header":
        """The header map, checked field by field (BUNDLE.md §Header). With ``compact_signer``
        (the signature block's key hint), a compact header's fields in the long form's names:
        no sender, checkpoint or signer of its own, receiver and basis ``ID_LEN`` bytes."""
        if not isinstance(d, dict):
            raise FormatError("header: expected a map")
        long = compact_signer is None
        caps = _capabilities(d)
        c = required(d, "counts", dict, "header")
        counts = Counts(**{k: required(c, k, int, "header counts") for k in Counts.__slots__})
        if any(v < 0 for v in counts.to_wire().values()):
            raise FormatError("header: negative count")
        h = cls(
            sender=required(d, "sender", str, "header") if long else "",
            receiver=required(d, "receiver", str, "header"),
            seq=required(d, "seq", int, "header"),
            basis_seq=required(d, "basis_seq", int, "header"),
            basis=required(d, "basis", bytes, "header"),
            checkpoint=required(d, "checkpoint", bytes, "header") if long else b"",
            created=required(d, "created", int, "header"),
            signer=required(d, "signer", str, "header") if long else compact_signer,
            kind=required(d, "kind", str, "header"),
            latest_only=bool(d.get("latest_only", False)),
            counts=counts,
            capabilities=tuple(caps),
            source=str(d.get("source", "")),
            tool=str(d.get("tool", "")),
            breakdown=_breakdown(d.get("breakdown", {})),
        )
        id_len = len(EMPTY_CHECKPOINT) if long else ID_LEN
        h = _with_ack_and_notices(h, d, id_len)
        if long and not (hex_id(h.sender, 32) and hex_id(h.receiver, 32) and hex_id(h.signer, 16)):
            raise FormatError("header: sender and receiver must be 32 hex digits, signer 16")
        for key, typ in (("latest_only", bool), ("source", str), ("tool", str)):
            optional(d, key, typ, "header", None)
        if len(h.basis) != id_len or (long and len(h.checkpoint) != id_len):
            raise FormatError(f"header: checkpoint ids must be {id_len} bytes")
        if not (0 <= h.basis_seq < h.seq):
            raise FormatError(f"header: basis {h.basis_seq} must come before the bundle's own number {h.seq}")
        if h.kind not in ("update", "return"):
            raise FormatError(f"header: unknown kind {h.kind!r}")
        return h


def _capabilities(d: dict) -> list[str]:
    """Checked first: an unknown capability is a version error even when other fields are malformed."""
    caps = required(d, "capabilities", list, "header")
    if not strings(caps):
        raise FormatError("header: capabilities must be strings")
    unknown = [c for c in caps if c not in KNOWN_CAPABILITIES]
    if unknown:
        raise VersionError(
            f"the bundle requires capabilities this version does not have: {', '.join(unknown)}",
            hint="Update wikibundle on this side.",
        )
    return caps


def _with_ack_and_notices(h: Header, d: dict, id_len: int) -> Header:
    ack = d.get("ack")
    if ack is not None:
        if not (isinstance(ack, list) and len(ack) == 2 and is_int(ack[0]) and ack[0] > 0 and binary(ack[1], id_len)):
            raise FormatError(f"header: ack must be [seq > 0, {id_len}-byte checkpoint id]")
        h = dataclasses.replace(h, ack_seq=ack[0], ack=ack[1])
    notices = d.get("notices", [])
    if not strings(notices):
        raise FormatError("header: notices must be a list of strings")
    if notices:
        h = dataclasses.replace(h, notices=tuple(notices))
    return h


def _breakdown(b) -> dict:
    """Keep only a well-formed breakdown: {"namespaces": {ns: [revs, chars]}, "inserted": n, "metadata": n}."""
    if not isinstance(b, dict):
        raise FormatError("header: breakdown must be a map")
    out: dict = {}
    ns = b.get("namespaces", {})
    if isinstance(ns, dict):
        out["namespaces"] = {
            int(k): [int(v[0]), int(v[1])]
            for k, v in ns.items()
            if isinstance(k, (int, str)) and str(k).lstrip("-").isdigit() and isinstance(v, list) and len(v) == 2
            and all(is_int(x) for x in v)
        }
    for key in ("inserted", "metadata"):
        if is_int(b.get(key)):
            out[key] = b[key]
    f = b.get("files")
    if isinstance(f, dict):  # §Files: what the file frames hold, by kind of bytes
        out["files"] = {k: v for k, v in f.items() if isinstance(k, str) and is_int(v)}
    return out


@dataclass(frozen=True, slots=True)
class RawFrame:
    meta: dict
    body: bytes  # zstd frame, still compressed
    raw_len: int
    offset: int
    type: int = FRAME_RECORDS
    compact: bool = False  # §Compact form: records meta and payload as arrays, 4- and 8-byte checks


class BundleReader:
    """Open a bundle file (version 1 or the compact version 2). ``header`` is readable
    at once; nothing is trusted before ``verify``."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.f: BinaryIO = open(path, "rb")
        except OSError as e:
            raise FormatError(f"cannot open {path}: {e.strerror}", hint="Check the path.") from None
        self.size = os.fstat(self.f.fileno()).st_size
        self.verified = False
        self.version = VERSION
        self._header_bytes, self.header_end = self._read_header()
        self.body_len, self._trailer, self.key_id, self.signature, self._tail = self._read_tail()
        self._digest: bytes | None = None  # the body's SHA-256, once known
        self._header: Header | None = None

    @property
    def compact(self) -> bool:
        return self.version == VERSION_COMPACT

    @property
    def header(self) -> Header:
        """Parsed on first use: ``verify`` hashes the body first, so a damaged copy
        is reported as damaged rather than as whatever the damage made of a field."""
        if self._header is None:
            if self.compact:
                d = wire.unpackb(self._header_bytes, what="header", int_keys=True)
                self._header = Header.from_compact(d, signer=self.key_id)
            else:
                self._header = Header.from_wire(wire.unpackb(self._header_bytes, what="header"))
        return self._header

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> "BundleReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_header(self) -> tuple[bytes, int]:
        name = os.path.basename(self.path)
        fixed = self.f.read(HEADER_FIXED.size + 2 * MAX_VARINT_LEN)
        if len(fixed) >= 8 and fixed[:8] != MAGIC:
            raise FormatError(
                f"{name} is not a wikibundle bundle (bad magic)",
                hint="Give the .bundle file that 'bundle make' wrote.",
            )
        if len(fixed) >= COMPACT_FIXED.size and COMPACT_FIXED.unpack_from(fixed)[1] == VERSION_COMPACT:
            return self._read_compact_header(fixed)
        if len(fixed) < HEADER_FIXED.size:
            raise TruncatedError(f"{name} is truncated (only {self.size} bytes)", hint=_HINT_COPY)
        magic, version, header_len = HEADER_FIXED.unpack_from(fixed)
        if version != VERSION:
            raise VersionError(
                f"bundle format version {version}; this wikibundle reads versions {VERSION} and {VERSION_COMPACT}",
                hint="Update wikibundle on this side, or make the bundle with the same version.",
            )
        if header_len > MAX_HEADER_LEN:
            raise LimitError(f"header length {header_len} exceeds the limit of {MAX_HEADER_LEN}")
        if HEADER_FIXED.size + header_len + FRAME_FIXED.size + TAIL_LEN > self.size:
            raise TruncatedError(
                f"{name} is truncated: {self.size} bytes cannot hold its header and trailer",
                hint=_HINT_COPY,
            )
        self.f.seek(HEADER_FIXED.size)
        return self.f.read(header_len), HEADER_FIXED.size + header_len

    def _read_compact_header(self, fixed: bytes) -> tuple[bytes, int]:
        self.version = VERSION_COMPACT
        header_len, at = compact.read_fixed(fixed, self.size, os.path.basename(self.path))
        self.f.seek(at)
        return self.f.read(header_len), at + header_len

    def _read_tail(self):
        """(body_len, the trailer's hash or check, key id or hint, signature, the tail's bytes)."""
        if self.compact:
            self.f.seek(self.size - COMPACT_TAIL_LEN)
            tail = self.f.read(COMPACT_TAIL_LEN)
            return (self.size - COMPACT_TAIL_LEN, *compact.read_tail(tail), tail)
        self.f.seek(self.size - TAIL_LEN)
        tail = self.f.read(TAIL_LEN)
        magic, body_len, digest = TRAILER.unpack_from(tail)
        kid, sig = SIGNATURE.unpack_from(tail, TRAILER.size)
        if magic != TRAILER_MAGIC or body_len != self.size - TAIL_LEN:
            raise TruncatedError(
                f"{os.path.basename(self.path)} is truncated or damaged: its trailer is not where the file ends",
                hint=_HINT_COPY,
            )
        return body_len, digest, kid.hex(), sig, tail

    @property
    def body_sha256(self) -> bytes:
        """The body's SHA-256: the trailer's (long form) or hashed here (compact form, whose
        trailer keeps 4 bytes of it); after ``verify``, the one it computed."""
        if self._digest is None:
            self._digest = self._hash_body() if self.compact else self._trailer
        return self._digest

    @property
    def checkpoint(self) -> bytes:
        """The checkpoint this bundle leads to: the header's (long form), or the first 16 bytes
        of the body's SHA-256 (compact form: derived by both sides, never sent)."""
        return self.body_sha256[:CHECKPOINT_LEN] if self.compact else self.header.checkpoint

    def signed_by(self, key_id: str) -> bool:
        """Whether the signature block names the key ``key_id`` (not verified)."""
        return key_id.startswith(self.key_id)

    def _hash_body(self, progress: Callable[[int], None] | None = None) -> bytes:
        h = hashlib.sha256()
        self.f.seek(0)
        left = self.body_len
        while left:
            chunk = self.f.read(min(left, 1 << 20))
            if not chunk:
                raise TruncatedError(f"{os.path.basename(self.path)} is truncated", hint=_HINT_COPY)
            h.update(chunk)
            left -= len(chunk)
            if progress:
                progress(self.body_len - left)
        return h.digest()

    def verify(self, lookup: Callable[[str], PublicKey | None], *, progress: Callable[[int], None] | None = None) -> PublicKey:
        """Hash the body, then check the signature with a trusted key. Returns the signer.
        ``lookup`` finds a trusted key by its id (compact form: by the id's first 4 bytes)."""
        from .errors import IntegrityError, SignatureError, WrongPeerError

        digest = self._hash_body(progress)
        if digest[: len(self._trailer)] != self._trailer:
            raise IntegrityError(
                f"{os.path.basename(self.path)} is damaged: its SHA-256 does not match the trailer",
                hint=_HINT_COPY,
            )
        self._digest = digest
        key = lookup(self.key_id)
        if key is None:
            raise UntrustedKeyError(
                f"the bundle is signed by key {self.key_id}{'…' * self.compact}, which this side does not trust",
                hint="If you trust the sender, get its key file (printed by 'bundle key' on that side) and run: bundle trust -C DIR KEYFILE",
            )
        if not self.compact and self.header.signer != self.key_id:
            raise SignatureError(f"the header names signer {self.header.signer}, the signature block {self.key_id}")
        signed = COMPACT_SIGNATURE_CONTEXT + digest if self.compact else SIGNATURE_CONTEXT + self._tail[: TRAILER.size]
        key.verify(self.signature, signed, what=os.path.basename(self.path))
        if self.compact:  # §Compact form: the sender is the signer's wiki; the checkpoint, the body's hash
            self._header = dataclasses.replace(self.header, sender=key.wiki_id, signer=key.key_id,
                                               checkpoint=digest[:CHECKPOINT_LEN])
        elif key.wiki_id != self.header.sender:
            raise WrongPeerError(
                f"key {self.key_id} belongs to wiki {key.wiki_id}, but the bundle claims to come from {self.header.sender}",
                hint="A trusted side signed a bundle in another side's name: refuse it and ask its sender.",
            )
        self.verified = True
        return key

    def frame_fixed(self, pos: int) -> tuple[int, int, int, int, int]:
        """The fixed part of the frame at ``pos``: type, meta_len, comp_len, raw_len and
        its own size (13; §Compact form: 1 for the end frame, else 1 + three uvarints)."""
        left = self.body_len - pos
        if not self.compact:
            if left < FRAME_FIXED.size:
                raise TruncatedError("the bundle ends before its end frame", hint=_HINT_COPY)
            self.f.seek(pos)
            return (*FRAME_FIXED.unpack(self.f.read(FRAME_FIXED.size)), FRAME_FIXED.size)
        if left < 1:
            raise TruncatedError("the bundle ends before its end frame", hint=_HINT_COPY)
        self.f.seek(pos)
        return compact.read_frame_fixed(self.f.read(min(left, 1 + 3 * MAX_VARINT_LEN)), 0, f"frame at offset {pos}")

    def read_meta(self, ftype: int, data: bytes, what: str) -> dict:
        """A frame's meta: a map (§Frames), or for a compact records frame an array read into one."""
        compact_records = self.compact and ftype == FRAME_RECORDS
        meta = wire.unpackb(data, what=what, int_keys=compact_records)
        if compact_records:
            return expand_meta(meta, what)
        if not isinstance(meta, dict):
            raise FormatError(f"{what}: expected a map")
        return meta

    def frames(self) -> Iterator[RawFrame]:
        """Frames in file order. The end frame must be the last thing before the trailer."""
        if not self.verified:
            raise RuntimeError("frames() before verify()")  # a bug in our code, not bad input
        pos = self.header_end
        while True:
            ftype, meta_len, comp_len, raw_len, fixed_len = self.frame_fixed(pos)
            at = pos
            pos += fixed_len
            if ftype == FRAME_END:
                if meta_len or comp_len or raw_len:
                    raise FormatError("end frame with non-zero lengths")
                if pos != self.body_len:
                    raise FormatError("data after the end frame")
                return
            files = FILES_CAPABILITY in self.header.capabilities
            if ftype != FRAME_RECORDS and not (files and ftype in (FRAME_FILES, FRAME_BLOB)):
                raise FormatError(f"unknown frame type {ftype} at offset {at}")
            if meta_len > MAX_META_LEN or raw_len > MAX_RAW_LEN or comp_len > MAX_COMP_LEN:
                raise LimitError(f"frame at offset {at} declares sizes over the limits ({meta_len}, {comp_len}, {raw_len})")
            if ftype == FRAME_BLOB and raw_len != comp_len:
                raise FormatError(f"blob frame at offset {at}: raw_len {raw_len} differs from comp_len {comp_len}")
            if pos + meta_len + comp_len > self.body_len:
                raise FormatError(f"frame at offset {at} runs past the end of the body")
            self.f.seek(pos)
            meta = self.read_meta(ftype, self.f.read(meta_len), f"frame meta at {at}")
            if ftype == FRAME_RECORDS and "coder" in meta and PPMD_CAPABILITY not in self.header.capabilities:
                raise FormatError(f"frame at offset {at} names a coder, but the bundle does not list {PPMD_CAPABILITY}")
            if ftype == FRAME_RECORDS and PRIMER_CAPABILITY not in self.header.capabilities and _names_primer(meta):
                raise FormatError(f"frame at offset {at} names the primer, but the bundle does not list {PRIMER_CAPABILITY}")
            body = self.f.read(comp_len)
            pos += meta_len + comp_len
            yield RawFrame(meta, body, raw_len, at, ftype, self.compact)


def _names_primer(meta: dict) -> bool:
    """§Frames step 9: a records frame's ``dict`` holds an int ≤ 0 (a primer part, coder.primer_part)."""
    d = meta.get("dict")
    return isinstance(d, list) and any(type(r) is int and r <= 0 for r in d)


class BundleWriter:
    """Frames go to a temporary file; ``finish`` writes header, frames, trailer, signature.

    The header carries counts known only at the end, so it is written last, into
    the final file, which appears under its name only when complete (rename).
    """

    def __init__(self, out_path: str, version: int | None = None, coder: str | None = None):
        self.out_path = out_path
        self.version = WRITE_VERSION if version is None else version
        self.compact = self.version == VERSION_COMPACT
        self.coder = coder  # the records frames' coder, if forced (records.FrameBuilder.build)
        d = os.path.dirname(os.path.abspath(out_path))
        sweep_temp_files(d)
        # Nameless (O_TMPFILE, or unlinked at once where that is missing): a writer
        # killed before ``finish`` leaves nothing behind in the output directory.
        self._frames = tempfile.TemporaryFile(prefix=".wikibundle-frames-", dir=d)
        self.frames = 0
        self.frame_bytes = 0
        self._finished: str | None = None
        self.checkpoint = b""  # the checkpoint id the bundle leads to, once ``finish`` wrote it

    def add_frame(self, meta: dict, body: bytes, raw_len: int, ftype: int = FRAME_RECORDS) -> None:
        m = wire.packb(compact_meta(meta) if self.compact and ftype == FRAME_RECORDS else meta)
        framed = frame_bytes(ftype, m, body, raw_len, self.compact)
        self._frames.write(framed)
        self.frames += 1
        self.frame_bytes += len(framed)

    def finish(self, header: Header, key: SecretKey) -> str:
        """Write the bundle under a temporary name; returns the SHA-256 of its body,
        hex. ``publish`` then gives it its name: a caller records the bundle in its
        state in between, so a bundle never exists that the state does not know."""
        hb = wire.packb(header.to_compact(self.frame_bytes) if self.compact else header.to_wire())
        if len(hb) > MAX_HEADER_LEN:
            raise LimitError("header too large")
        d = os.path.dirname(os.path.abspath(self.out_path))
        fd, tmp_out = tempfile.mkstemp(prefix=temp_prefix(), dir=d)
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:

                def w(b: bytes) -> None:
                    h.update(b)
                    out.write(b)

                end = end_frame(self.compact)
                w(fixed_part(len(hb), self.frame_bytes + len(end), self.compact))
                w(hb)
                self._frames.seek(0)
                while chunk := self._frames.read(1 << 20):
                    w(chunk)
                w(end)
                out.write(tail(h.digest(), out.tell(), key, self.compact))
                # §Compact form: the checkpoint is the body's hash; the long form's is the header's
                self.checkpoint = h.digest()[:CHECKPOINT_LEN] if self.compact else header.checkpoint
                out.flush()
                os.fsync(out.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_out, 0o666 & ~umask)  # mkstemp makes 0600; a bundle is meant to be carried
            self._finished = tmp_out
        except BaseException:
            if os.path.exists(tmp_out):
                os.unlink(tmp_out)
            raise
        finally:
            self._frames.close()
        return h.hexdigest()

    @property
    def finished_size(self) -> int:
        """Size of the bundle ``finish`` wrote, before ``publish`` names it."""
        return os.path.getsize(self._finished)

    def publish(self) -> None:
        os.replace(self._finished, self.out_path)
        self._finished = None

    def discard(self) -> None:
        if not self._frames.closed:
            self._frames.close()
        if getattr(self, "_finished", None) and os.path.exists(self._finished):
            os.unlink(self._finished)
            self._finished = None
