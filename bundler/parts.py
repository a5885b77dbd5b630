"""Parts: one bundle cut into numbered pieces that travel separately (formats/BUNDLE.md §Parts).

    Part = PartHeader || Payload

Each part names the bundle it belongs to (the SHA-256 of the bundle's body, from
its trailer), its number, how many there are, where its payload sits in the
bundle, and the payload's SHA-256, so a damaged or missing part is named exactly
before anything is reassembled. Parts are not signed: the reassembled bundle is,
and it is verified as a whole before it is applied.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

from .errors import FormatError, IntegrityError, UsageError

PART_MAGIC = b"\x89WBPART\n"
VERSION = 1
PART_HEADER = struct.Struct(">8sH32sIIQQI32s")  # magic, version, bundle id, index, count, total, offset, length, sha256
MIN_PART_SIZE = 4096


@dataclass(frozen=True, slots=True)
class PartInfo:
    path: str
    bundle_id: bytes
    index: int  # from 1
    count: int
    total: int
    offset: int
    length: int
    sha256: bytes


def part_name(bundle_path: str, index: int, count: int) -> str:
    width = max(3, len(str(count)))
    return f"{bundle_path}.part{index:0{width}d}-of-{count:0{width}d}"


def split_bundle(bundle_path: str, part_size: int) -> list[str]:
    """Cut a written bundle into parts of at most ``part_size`` bytes; removes the whole file."""
    if part_size < MIN_PART_SIZE:
        raise UsageError(f"--part-size must be at least {MIN_PART_SIZE} bytes", hint="E-mail limits are megabytes: try --part-size 2M.")
    from .container import BundleReader

    total = os.path.getsize(bundle_path)
    payload = part_size - PART_HEADER.size
    count = max(1, -(-total // payload))
    with BundleReader(bundle_path) as r:
        bundle_id = r.body_sha256  # the trailer's (either version)
    with open(bundle_path, "rb") as f:
        names = []
        for i in range(1, count + 1):
            offset = (i - 1) * payload
            data = f.read(payload)
            name = part_name(bundle_path, i, count)
            head = PART_HEADER.pack(PART_MAGIC, VERSION, bundle_id, i, count, total, offset, len(data), hashlib.sha256(data).digest())
            tmp = name + ".tmp"
            with open(tmp, "wb") as out:
                out.write(head + data)
            os.replace(tmp, name)
            names.append(name)
    os.unlink(bundle_path)
    return names


def read_part_header(path: str) -> PartInfo | None:
    """The part's header, or None if the file is not a part at all."""
    with open(path, "rb") as f:
        head = f.read(PART_HEADER.size)
        if not head.startswith(PART_MAGIC):
            return None
        if len(head) < PART_HEADER.size:
            raise FormatError(f"{os.path.basename(path)}: part header is truncated")
        magic, version, bid, index, count, total, offset, length, sha = PART_HEADER.unpack(head)
        if version != VERSION:
            raise FormatError(f"{os.path.basename(path)}: part format version {version}; this wikibundle reads {VERSION}")
        if not (1 <= index <= count) or offset + length > total:
            raise FormatError(f"{os.path.basename(path)}: part header is inconsistent")
        return PartInfo(path, bid, index, count, total, offset, length, sha)


def _part_ok(p: PartInfo) -> bool:
    h = hashlib.sha256()
    with open(p.path, "rb") as f:
        f.seek(PART_HEADER.size)
        left = p.length
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                return False
            h.update(chunk)
            left -= len(chunk)
        if f.read(1):
            return False
    return h.digest() == p.sha256


def is_part(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(PART_MAGIC)) == PART_MAGIC
    except OSError:
        return False


def collect(paths: list[str]) -> list[PartInfo]:
    """Part files among ``paths`` (files or folders), all of one bundle."""
    files: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            files += [os.path.join(p, n) for n in sorted(os.listdir(p)) if is_part(os.path.join(p, n))]
        else:
            files.append(p)
    parts = []
    for f in files:
        info = read_part_header(f)
        if info is None:
            raise UsageError(f"{f} is not a bundle part", hint="Give all the .partNNN-of-MMM files of one bundle, or the folder that holds them.")
        parts.append(info)
    if not parts:
        raise UsageError("no bundle parts found", hint="Give the .partNNN-of-MMM files, or the folder that holds them.")
    ids = {p.bundle_id for p in parts}
    if len(ids) > 1:
        raise UsageError(
            f"the parts belong to {len(ids)} different bundles",
            hint="Give the parts of one bundle at a time (the names end in -of-NNN with the same bundle name).",
        )
    return parts


def reassemble(parts: list[PartInfo], out_path: str) -> None:
    """Check every part, name what is missing or damaged, then write the bundle."""
    count = parts[0].count
    good: dict[int, PartInfo] = {}
    damaged = []
    for p in parts:
        if p.count != count or p.total != parts[0].total:
            raise FormatError(f"{os.path.basename(p.path)} disagrees with the other parts about the bundle's size")
        if _part_ok(p):
            good.setdefault(p.index, p)
        else:
            damaged.append(p.index)
    # A damaged copy next to a good copy of the same part is no loss: parts may arrive twice.
    damaged = sorted(set(damaged) - set(good))
    missing = [i for i in range(1, count + 1) if i not in good and i not in damaged]
    if damaged or missing:
        bits = []
        if missing:
            bits.append("missing: " + _ranges(missing))
        if damaged:
            bits.append("damaged: " + _ranges(damaged))
        raise IntegrityError(
            f"the bundle is incomplete ({count} parts; {'; '.join(bits)})",
            hint="Nothing was changed. Copy the missing or damaged parts again and run the same command with all parts.",
        )
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as out:
        for i in range(1, count + 1):
            p = good[i]
            if out.tell() != p.offset:
                raise FormatError(f"part {i} starts at {p.offset}, expected {out.tell()}")
            with open(p.path, "rb") as f:
                f.seek(PART_HEADER.size)
                left = p.length
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    out.write(chunk)
                    left -= len(chunk)
        if out.tell() != parts[0].total:
            raise FormatError("the parts do not add up to the bundle's size")
    os.replace(tmp, out_path)


def _ranges(ns: list[int]) -> str:
    return ", ".join(str(n) for n in ns)
