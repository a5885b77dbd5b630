"""Typed checks of decoded msgpack values: what a field of the header, the manifest,
a records frame or a files frame must be, said in one place.

``wire.unpackb`` gives Python values: int, bool, str, bytes (msgpack bin), list
(array), dict (map), None (nil). A bool is an int to Python but not to the spec, so
every check for an int refuses it (``is_int``). Each check returns the value — a
sha1's 20 bytes as hex — or raises the error kind BUNDLE.md and MANIFEST.md name:
*format error* (``FormatError``), or *limit error* (``LimitError``) for a size over
its limit. ``what`` says where the field is ("header", "frame 3 (offset 812)").

The regions word their errors as they always have (the messages are what people and
scripts see): the checks for map keys take the region's wording (``HEADER``,
``MANIFEST``), the checks of array elements are worded as the frames word them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import FormatError, LimitError

INT_END = 1 << 63  # msgpack ints a reader accepts: signed 64-bit


def is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def of_type(v: object, typ: type) -> bool:
    """``isinstance``, except that a bool is not an int."""
    return isinstance(v, typ) and not (typ is int and isinstance(v, bool))


# --- keys of a map --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wording:
    """How a region words a required key that is missing or of the wrong type
    (``str.format`` fields: what, key, type, got)."""

    missing: str
    wrong: str


HEADER = Wording(missing="{what}: field {key!r} is missing or not {type}",
                 wrong="{what}: field {key!r} is missing or not {type}")
MANIFEST = Wording(missing="{what}: field {key!r} is missing", wrong="{what}: expected {type}, got {got}")


def required(m: dict, key: str, typ: type, what: str, wording: Wording = HEADER) -> Any:
    """``m[key]``, which must be there and of type ``typ``."""
    if key not in m:
        raise FormatError(wording.missing.format(what=what, key=key, type=typ.__name__, got="nothing"))
    v = m[key]
    if not of_type(v, typ):
        raise FormatError(wording.wrong.format(what=what, key=key, type=typ.__name__, got=type(v).__name__))
    return v


def optional(m: dict, key: str, typ: type, what: str, default: Any) -> Any:
    """``m[key]`` if it is there (then of type ``typ``), else ``default``."""
    if key not in m:
        return default
    if not of_type(m[key], typ):
        raise FormatError(f"{what}: field {key!r} must be {typ.__name__}")
    return m[key]


def array(m: dict, key: str, what: str) -> list:
    """``m[key]``, which must be an array."""
    v = m.get(key)
    if not isinstance(v, list):
        raise FormatError(f"{what}: {key!r} must be a list")
    return v


# --- values ---------------------------------------------------------------------


def integer(v: object, what: str, lo: int | None = None, hi: int = INT_END) -> int:
    """An int; with ``lo``, one in [lo, hi)."""
    if lo is None:
        if not is_int(v):
            raise FormatError(f"{what}: expected an integer, got {type(v).__name__}")
    elif not is_int(v) or not lo <= v < hi:  # type: ignore[operator]
        raise FormatError(f"{what}: expected an integer in [{lo}, {hi}), got {type(v).__name__} {v!r}"[:200])
    return v  # type: ignore[return-value]


def size(v: object, what: str, limit: int) -> int:
    """A byte count: an int ≥ 0, at most ``limit`` (beyond it: a limit error)."""
    n = integer(v, what, 0)
    if n > limit:
        raise LimitError(f"{what}: {n} bytes, over the limit of {limit}")
    return n


def string(v: object, what: str, *, nullable: bool = False) -> str | None:
    """A str (or, if ``nullable``, nil)."""
    if v is None and nullable:
        return None
    if not isinstance(v, str):
        raise FormatError(f"{what}: expected a string, got {type(v).__name__}")
    return v


def string_or_nil(v: object, what: str) -> str | None:
    """A str or nil, as files frames word it."""
    if v is not None and not isinstance(v, str):
        raise FormatError(f"{what}: expected a string or nil")
    return v


def strings(v: object) -> bool:
    """Is ``v`` an array of str?"""
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


def binary(v: object, n: int) -> bool:
    """Is ``v`` a bin of exactly ``n`` bytes?"""
    return isinstance(v, bytes) and len(v) == n


def sha1(v: object, what: str) -> str:
    """A sha1 as it travels (20-byte bin), as lower-case hex."""
    if not binary(v, 20):
        raise FormatError(f"{what}: expected a 20-byte sha1")
    return v.hex()  # type: ignore[union-attr]


_HEX = {16: re.compile(r"^[0-9a-f]{16}$"), 32: re.compile(r"^[0-9a-f]{32}$")}


def hex_id(v: str, digits: int) -> bool:
    """Is ``v`` exactly ``digits`` lower-case hex digits (a key id: 16, a wiki id: 32)?"""
    return bool(_HEX[digits].match(v))


def row(v: object, n: int, message: str) -> list:
    """An array of exactly ``n`` elements (a record); else a format error with ``message``."""
    if not (isinstance(v, list) and len(v) == n):
        raise FormatError(message)
    return v
