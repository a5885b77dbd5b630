"""Keys, key ids, signatures and the trust policy. Ed25519 from ``cryptography``.

A side's secret key is 32 raw bytes in ``key.secret`` (mode 0600, refused when
group or others can read it). Its public key travels as one line of text:

    wikibundle-key-v1 <wiki_id> <base64url(public key)> <label>

The key id is the first 8 bytes of SHA-256 over the public key, shown as 16 hex
digits; it names the key in bundles and in error messages. Trusting a key means
trusting that wiki id to sign bundles for us: the key line binds the two.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFileError, SignatureError

KEY_LINE_PREFIX = "wikibundle-key-v1"
_WIKI_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY_B64 = re.compile(r"^[A-Za-z0-9_-]{43}=?$")  # 32 bytes in base64url, unpadded or padded


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).digest()[:8].hex()


@dataclass(frozen=True, slots=True)
class PublicKey:
    wiki_id: str
    public: bytes
    label: str

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def line(self) -> str:
        b64 = base64.urlsafe_b64encode(self.public).decode().rstrip("=")
        return f"{KEY_LINE_PREFIX} {self.wiki_id} {b64} {self.label}".rstrip()

    def verify(self, signature: bytes, message: bytes, *, what: str) -> None:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            raise SignatureError(
                f"{what}: the signature does not verify against key {self.key_id}",
                hint="The file was altered after it was signed, or signed by another key. Ask for a fresh copy.",
            ) from None


def parse_key_line(text: str, *, source: str) -> PublicKey:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) != 1:
        raise KeyFileError(
            f"{source}: expected one key line, found {len(lines)}",
            hint="A key file is what 'bundle key' prints: one line starting with " + KEY_LINE_PREFIX,
        )
    parts = lines[0].split(" ", 3)
    if len(parts) < 3 or parts[0] != KEY_LINE_PREFIX:
        raise KeyFileError(
            f"{source}: not a wikibundle public key",
            hint="A key file is what 'bundle key' prints: one line starting with " + KEY_LINE_PREFIX,
        )
    wiki_id, b64 = parts[1], parts[2]
    label = parts[3] if len(parts) > 3 else ""
    if not _WIKI_ID.match(wiki_id):
        raise KeyFileError(f"{source}: malformed wiki id {wiki_id!r}", hint="Copy the key line again, whole.")
    # Checked against the alphabet first: the decoder drops characters it does not know,
    # so a line damaged in copying could otherwise still decode.
    public = base64.urlsafe_b64decode(b64.rstrip("=") + "=") if _KEY_B64.match(b64) else b""
    if len(public) != 32:
        raise KeyFileError(f"{source}: the public key is not 32 bytes", hint="Copy the key line again, whole.")
    return PublicKey(wiki_id, public, label)


class SecretKey:
    """This side's signing key. Never printed, never in a repr."""

    __slots__ = ("_key", "public")

    def __init__(self, raw: bytes):
        self._key = Ed25519PrivateKey.from_private_bytes(raw)
        from cryptography.hazmat.primitives import serialization

        self.public = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def __repr__(self) -> str:
        return f"SecretKey(key_id={key_id(self.public)})"

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    @classmethod
    def generate(cls, path: str) -> "SecretKey":
        from cryptography.hazmat.primitives import serialization

        k = Ed25519PrivateKey.generate()
        raw = k.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        write_private(path, raw)
        return cls(raw)

    @classmethod
    def load(cls, path: str) -> "SecretKey":
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise KeyFileError(
                f"the signing key {path} is missing",
                hint="Restore it from a backup, or make a new side with 'bundle init' and have your peers trust"
                " its key (README, Recovery).",
            ) from None
        check_private(path, st, "the signing key")
        with open(path, "rb") as f:
            raw = f.read(33)
        if len(raw) != 32:
            raise KeyFileError(f"the signing key {path} is damaged (expected 32 bytes)", hint="Restore it from a backup.")
        return cls(raw)


# Secrets at rest (the signing key, a bot password): created 0600, refused when more open.


def write_private(path: str, data: bytes) -> None:
    """Create ``path`` readable by its owner only; never overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)  # the umask may have narrowed the mode, never widened it; be exact


def check_private(path: str, st: os.stat_result, what: str) -> None:
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{what} {path} can be read by others (mode {stat.S_IMODE(st.st_mode):o})",
            hint=f"Run: chmod 600 {path}",
        )
