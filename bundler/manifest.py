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
MAX_BODY = 64 * 1024


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

    def to_wire(self) -> dict:
        return {
            "wiki": self.wiki,
            "peer": self.peer,
            "seq": self.seq,
            "checkpoint": self.checkpoint,
            "created": self.created,
            "pages": self.pages,
            "revisions": self.revisions,
            "tool": self.tool,
        }

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
        )
        if m.seq < 0 or len(m.checkpoint) != 16:
            raise FormatError("manifest: malformed checkpoint")
        return m


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


def new_manifest(wiki: str, peer: str, seq: int, checkpoint: bytes, pages: int, revisions: int, tool: str) -> Manifest:
    return Manifest(wiki, peer, seq, checkpoint, int(time.time()), pages, revisions, tool)
