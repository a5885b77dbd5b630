#!/usr/bin/env python3
"""Bytes to carry a re-uploaded file: raw, zstd alone, zstd delta against the old version.

    PYTHONPATH=. .venv/bin/python benchmarks/files.py [OLD NEW LABEL]...

Without arguments, measures the pairs below (real files where we have them; each
row says what it is). For each pair the receiver holds OLD and needs NEW:

- raw: NEW's bytes as they are (what any file copy carries);
- zstd: NEW compressed alone, with the level ``bundle make`` uses for its size;
- delta: NEW compressed with OLD as raw-content dictionary (``files.py``'s delta,
  like ``zstd --patch-from``);
- bundle: what ``bundle make`` sends (the smallest; plain zstd is never tried on
  media that is compressed already, found by magic bytes).

CPU seconds are for compressing (make's side); the receiver's decompression is
far cheaper.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from bundler.files import sniff  # noqa: E402
from bundler.wire import compress_stream  # noqa: E402

FILES = os.path.join(ROOT, "tests", "data", "files")


def measure(old: bytes, new: bytes) -> dict:
    _mime, compressed = sniff(new[:64])
    out = {"size": len(new), "compressed_media": compressed}
    for name, base in (("zstd", b""), ("delta", old)):
        t = time.process_time()
        buf = io.BytesIO()
        compress_stream(io.BytesIO(new), len(new), buf, base)
        out[name] = len(buf.getvalue())
        out[name + "_cpu"] = time.process_time() - t
    candidates = {"raw": len(new), "delta": out["delta"]}
    if not compressed:
        candidates["zstd"] = out["zstd"]
    out["bundle"] = min(candidates.values())
    out["chosen"] = min(candidates, key=candidates.get)
    return out


def pdf_with_incremental_update(pdf: bytes) -> bytes:
    """A PDF edited the way PDF editors save (an incremental update appended): a
    new object and a new trailer after the original bytes."""
    obj = b"\n999 0 obj\n<< /Type /Annot /Subtype /Text /Contents (reviewed 2026-11-23) /Rect [0 0 10 10] >>\nendobj\n"
    return pdf + obj + b"xref\n999 1\n0000000000 00000 n \ntrailer\n<< /Size 1000 >>\nstartxref\n" + str(len(pdf)).encode() + b"\n%%EOF\n"


def corpus_slice(n: int) -> bytes | None:
    path = os.path.join(ROOT, "..", "shared", "data", "bench", "shintowiki-category-history.xml.zst")
    if not os.path.exists(path):
        return None
    r = subprocess.run(["zstd", "-dc", "--long=27", path], capture_output=True, check=False)
    return r.stdout[:n] if len(r.stdout) >= n else None


def default_pairs() -> list[tuple[bytes, bytes, str]]:
    from test_files import BLUE, RED  # the PNGs the tests draw

    def read(p: str) -> bytes:
        with open(p, "rb") as f:
            return f.read()

    pairs = [
        (read(os.path.join(FILES, "betafeatures-icon-WikitextEditor-ltr.svg")),
         read(os.path.join(FILES, "betafeatures-icon-WikitextEditor-rtl.svg")),
         "SVG icon → its mirrored version (MediaWiki 1.39 VisualEditor icons)"),
        (RED, BLUE, "PNG 64×48 re-coloured (drawn by tests/test_files.py)"),
    ]
    jpgs = ("/usr/share/doc/nodejs/thin-white-stripe.jpg", "/usr/share/doc/nodejs/full-white-stripe.jpg")
    if all(os.path.exists(p) for p in jpgs):
        pairs.append((read(jpgs[0]), read(jpgs[1]), "JPEG → a similar JPEG (Debian nodejs docs' two stripe images)"))
    pdf = "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"
    if os.path.exists(pdf):
        b = read(pdf)
        pairs.append((b, pdf_with_incremental_update(b), "PDF (140 KB, shared-mime-info spec) → saved with an incremental update"))
    xml = corpus_slice(20 << 20)
    if xml is not None:
        rnd = random.Random(1)
        edited = bytearray(xml)
        for _ in range(100):  # 100 small edits spread over the file
            at = rnd.randrange(len(edited) - 100)
            edited[at : at + 20] = b"edited by benchmark!"
        pairs.append((xml, bytes(edited), "20 MB XML file (start of the benchmark corpus) → 100 small edits"))
    return pairs


def human(n: int) -> str:
    return f"{n / 1000:,.1f} KB" if n < 10**6 else f"{n / 1e6:,.2f} MB"


def main(argv: list[str]) -> None:
    if argv:
        pairs = []
        for i in range(0, len(argv), 3):
            with open(argv[i], "rb") as a, open(argv[i + 1], "rb") as b:
                pairs.append((a.read(), b.read(), argv[i + 2]))
    else:
        pairs = default_pairs()
    print("| re-uploaded file | raw | zstd alone | zstd delta vs old | `bundle make` sends | CPU zstd / delta |")
    print("|---|---|---|---|---|---|")
    for old, new, label in pairs:
        m = measure(old, new)
        zstd = human(m["zstd"]) + (" (not tried: compressed media)" if m["compressed_media"] else "")
        print(f"| {label} | {human(m['size'])} | {zstd} | {human(m['delta'])} | {human(m['bundle'])} ({m['chosen']}) |"
              f" {m['zstd_cpu']:.2f} s / {m['delta_cpu']:.2f} s |")


if __name__ == "__main__":
    main(sys.argv[1:])
