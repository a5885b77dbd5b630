"""Where a bundle's bytes go: every region and header field, in bytes, side by side.

    PYTHONPATH=. .venv/bin/python benchmarks/anatomy.py BASELINE.bundle [OTHER.bundle ...]

Reads each bundle as ``bundle inspect`` does (nothing is verified or decompressed) and
counts the bytes of each part of formats/BUNDLE.md: the fixed part, each header field
(its key and its value, as msgpack), the map's own overhead, every frame's fixed part,
meta and body, the end frame, the trailer and the signature. The first bundle is the
baseline: the other columns say ``bytes (×ratio)`` against it. Made for small bundles
(a few revisions), where the container, not the content, is most of the file.
"""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console
from rich.table import Table

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bundler import container, wire  # noqa: E402
from bundler.compact import COMPACT_HEADER_KEYS, COMPACT_SIGNATURE, HEADER_CORE  # noqa: E402
from bundler.container import FRAME_END, BundleReader  # noqa: E402

KINDS = {container.FRAME_RECORDS: "records", container.FRAME_FILES: "files", container.FRAME_BLOB: "blob"}


def anatomy(path: str) -> dict[str, int]:
    """Bytes per part, in file order; the parts add up to the file size."""
    parts: dict[str, int] = {}
    with BundleReader(path) as r:
        header_start = r.header_end - len(r._header_bytes)
        parts["fixed part"] = header_start
        parts.update(_header_fields(r._header_bytes, r.compact))
        pos = r.header_end
        frames: dict[str, int] = {}
        while True:
            ftype, meta_len, comp_len, _raw, fixed_len = r.frame_fixed(pos)
            if ftype == FRAME_END:
                parts["end frame"] = fixed_len
                break
            kind = KINDS.get(ftype, f"type {ftype}")
            for name, n in ((f"{kind} frames: fixed parts", fixed_len), (f"{kind} frames: meta", meta_len),
                            (f"{kind} frames: bodies", comp_len)):
                frames[name] = frames.get(name, 0) + n
            frames[f"{kind} frames"] = frames.get(f"{kind} frames", 0) + 1
            pos += fixed_len + meta_len + comp_len
        counts = {k: v for k, v in frames.items() if not k.endswith(("parts", "meta", "bodies"))}
        parts.update({k: v for k, v in frames.items() if k not in counts})
        tail = r.size - r.body_len
        signature = COMPACT_SIGNATURE.size if r.compact else container.SIGNATURE.size  # with the key id (hint)
        parts["trailer"] = tail - signature
        parts["signature"] = signature
        assert sum(parts.values()) == r.size, (sum(parts.values()), r.size)
        parts["= file"] = r.size
        parts.update({f"({k})": v for k, v in counts.items()})
    return parts


def _header_fields(hb: bytes, compact: bool) -> dict[str, int]:
    d = wire.unpackb(hb, what="header", int_keys=compact)
    out = {}
    items = d.items() if not compact else (d[HEADER_CORE].items() if len(d) > HEADER_CORE else ())
    if compact:  # §Compact header: an array of the six required fields, then a map of the optional ones
        out.update({f"header: {COMPACT_HEADER_KEYS[i]}": len(wire.packb(v)) for i, v in enumerate(d[:HEADER_CORE])})
    for k, v in items:
        name = COMPACT_HEADER_KEYS.get(k, str(k)) if compact else k
        out[f"header: {name}"] = len(wire.packb(k)) + len(wire.packb(v))
    out["header: map/array overhead"] = len(hb) - sum(out.values())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundles", nargs="+", metavar="BUNDLE", help="the first is the baseline")
    args = p.parse_args()
    cols = [anatomy(b) for b in args.bundles]
    rows: list[str] = []
    for c in cols:
        rows += [k for k in c if k not in rows]
    t = Table(title="bytes per part (×r = bytes / the first bundle's)")
    t.add_column("part", no_wrap=True)
    for b in args.bundles:
        with BundleReader(b) as r:
            t.add_column(f"{os.path.basename(b)}\n(version {r.version})", justify="right")
    base = cols[0]
    for k in rows:
        cells = []
        for i, c in enumerate(cols):
            if k not in c:
                cells.append("-")
            elif i == 0 or k.startswith("(") or not base.get(k):
                cells.append(f"{c[k]:,}")
            else:
                cells.append(f"{c[k]:,}  ×{c[k] / base[k]:.2f}")
        t.add_row(k, *cells, end_section=k == "= file")
    Console().print(t)


if __name__ == "__main__":
    main()
