"""The checkpoint manifest: what a receiving side holds, signed by it (formats/MANIFEST.md).

    Manifest = Magic || Version || BodyLength || Body || KeyId || Signature

It names the newest checkpoint the receiver reached from one sender; the sender
keeps what each of its checkpoints contains, so a manifest stays a few hundred
bytes however large the wiki. It is signed so a sender cannot be tricked into
leaving out what the receiver lacks.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass

from . import wire
from .errors import FormatError, TruncatedError, UntrustedKeyError, VersionError, WrongPeerError
from .fields import MANIFEST, required
from .signing import PublicKey, SecretKey

MAGIC = b"\x89WBMANI\n"
VERSION = 1
FIXED = struct.Struct(">8sHI")  # magic, version, body_len
SIG = struct.Struct(">8s64s")
SIGNATURE_CONTEXT = b"wikibundle-v1 manifest\x00"
MAX_BODY = 16 * 1024 * 1024  # 64 KiB before files_held (2026-12-03): 100,000 held files are 2 MB
SHA1_LEN = 20


@dataclass(frozen=True, slots=True)
class Manifest:
    wiki: str  # the receiver, who signs
    peer: str  # the sender whose checkpoint this is
    seq: int
    checkpoint: bytes
    created: int
    pages: int
    revisions: int
    tool: str = ""
    files_held: bytes = b""  # sorted, distinct 20-byte sha1s of file bytes the receiver holds

    def to_wire(self) -> dict:
        d = {
            "wiki": self.wiki,
            "peer": self.peer,
            "seq": self.seq,
            "checkpoint": self.checkpoint,
            "created": self.created,
            "pages": self.pages,
            "revisions": self.revisions,
            "tool": self.tool,
        }
        if self.files_held:  # optional: manifests without files are byte for byte what they were
            d["files_held"] = self.files_held
        return d

    @classmethod
    def from_wire(cls, d) -> "Manifest":
        if not isinstance(d, dict):
            raise FormatError("manifest: body must be a map")

        def field(key: str, typ: type):
            return required(d, key, typ, "manifest", MANIFEST)

        m = cls(
            wiki=field("wiki", str),
            peer=field("peer", str),
            seq=field("seq", int),
            checkpoint=field("checkpoint", bytes),
            created=field("created", int),
            pages=field("pages", int),
            revisions=field("revisions", int),
            tool=str(d.get("tool", "")),
            files_held=_files_held(d.get("files_held", b"")),
        )
        if m.seq < 0 or len(m.checkpoint) != 16:
            raise FormatError("manifest: malformed checkpoint")
        return m

    def held_sha1s(self) -> list[str]:
        """The sha1s (hex) of ``files_held``."""
        b = self.files_held
        return [b[i : i + SHA1_LEN].hex() for i in range(0, len(b), SHA1_LEN)]


def pack_sha1s(sha1s) -> bytes:
    """``files_held`` of hex sha1s: distinct, sorted, 20 bytes each."""
    return b"".join(sorted({bytes.fromhex(s) for s in sha1s}))


def _files_held(v) -> bytes:
    if not isinstance(v, bytes):
        raise FormatError(f"manifest: expected bytes for 'files_held', got {type(v).__name__}")
    if len(v) % SHA1_LEN:
        raise FormatError(f"manifest: 'files_held' is {len(v)} bytes, not a multiple of {SHA1_LEN}")
    prev = b""
    for i in range(0, len(v), SHA1_LEN):
        cur = v[i : i + SHA1_LEN]
        if cur <= prev:
            raise FormatError("manifest: 'files_held' is not sorted ascending without repeats")
        prev = cur
    return v


def write_manifest(path: str, m: Manifest, key: SecretKey) -> None:
    body = wire.packb(m.to_wire())
    head = FIXED.pack(MAGIC, VERSION, len(body))
    sig = key.sign(SIGNATURE_CONTEXT + head + body)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head + body + SIG.pack(bytes.fromhex(key.key_id), sig))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(path: str, lookup) -> tuple[Manifest, PublicKey]:
    """Parse and verify; ``lookup(key_id)`` returns a trusted key or None."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            data = f.read(FIXED.size + MAX_BODY + SIG.size + 1)
    except OSError as e:
        raise FormatError(f"cannot read manifest {path}: {e.strerror}", hint="Check the path.") from None
    if len(data) < FIXED.size or data[:8] != MAGIC:
        raise FormatError(f"{name} is not a wikibundle manifest", hint="Give the manifest file that 'bundle apply' wrote on the receiving side.")
    magic, version, body_len = FIXED.unpack_from(data)
    if version != VERSION:
        raise VersionError(f"manifest format version {version}; this wikibundle reads {VERSION}", hint="Update wikibundle.")
    if body_len > MAX_BODY or len(data) != FIXED.size + body_len + SIG.size:
        raise TruncatedError(f"{name} is truncated or has extra bytes", hint="Copy the manifest again.")
    body = data[FIXED.size : FIXED.size + body_len]
    kid, sig = SIG.unpack_from(data, FIXED.size + body_len)
    key = lookup(kid.hex())
    if key is None:
        raise UntrustedKeyError(
            f"the manifest is signed by key {kid.hex()}, which this side does not trust",
            hint="Trust the receiver's key first: bundle trust -C DIR KEYFILE",
        )
    key.verify(sig, SIGNATURE_CONTEXT + data[: FIXED.size + body_len], what=name)
    m = Manifest.from_wire(wire.unpackb(body, what="manifest"))
    if m.wiki != key.wiki_id:
        raise WrongPeerError(f"the manifest speaks for wiki {m.wiki} but is signed by {key.wiki_id}'s key")
    return m, key


def new_manifest(wiki: str, peer: str, seq: int, checkpoint: bytes, pages: int, revisions: int, tool: str,
                 files_held: bytes = b"") -> Manifest:
    return Manifest(wiki, peer, seq, checkpoint, int(time.time()), pages, revisions, tool, files_held)
