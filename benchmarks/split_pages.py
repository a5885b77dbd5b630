#!/usr/bin/env python3
"""What reading a dump costs now that one page may be in several ``<page>`` blocks.

    PYTHONPATH=. .venv/bin/python benchmarks/split_pages.py DUMP [--keep DIR]

``DumpReader`` reads a dump twice (``bundler/sources/dump_pages.py``): a byte scan of the
block heads (pass 1), then the parse (pass 2, what the reader did alone before). For
DUMP as it is, a split version of it, and DUMP recompressed with bzip2 (Wikimedia's
format), this prints side by side:

- pass 1 and pass 2 CPU seconds, and the baseline: the one-pass reader's work, which is
  pass 2 reading the file itself (for bz2 and xz the reader copies the dump to zstd in
  pass 1 and pass 2 reads the copy; the baseline is measured with that turned off);
- peak RSS of a child process that reads the whole dump (GNU ``/usr/bin/time -v``).

The split version is the worst case for memory: every page with 3+ revisions cut into
three blocks of consecutive revisions, each newest first, and all first blocks written
before all second blocks before all third: every split page is open at once, so pass 2
holds two thirds of the history in its spill file before the first split page is done.
It is written with zstd -3, and so is a copy of DUMP as it is, its baseline: the
corpus itself is compressed with ``--long=27``, whose 128 MB window alone is most of its
peak RSS. Room needed: the three files (~45 MB for the corpus) and, while the split one
is written, three uncompressed parts (~the dump's XML size).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import bz2  # noqa: E402

from bundler.sources import dump as dump_mod  # noqa: E402
from bundler.sources.dump import DumpReader  # noqa: E402
from bundler.sources.dump_open import open_binary  # noqa: E402

PAGE = re.compile(rb"<page>.*?</page>\s*", re.S)
REVISION = re.compile(rb"\s*<revision>.*?</revision>", re.S)


def _pages(stream, chunk: int = 1 << 24):
    """("head", bytes before the first page), ("page", each page's bytes)..., ("tail", the rest)."""
    buf = b""
    started = False
    while True:
        data = stream.read(chunk)
        buf += data
        if not started:
            i = buf.find(b"<page>")
            if i < 0 and data:
                continue
            yield "head", buf[: max(i, 0)] if i >= 0 else buf
            buf = buf[i:] if i >= 0 else b""
            started = True
        pos = 0
        for m in PAGE.finditer(buf):
            yield "page", m.group(0)
            pos = m.end()
        buf = buf[pos:]
        if not data:
            yield "tail", buf
            return


def write_split(src: str, out: str) -> None:
    stream = open_binary(src)[0]
    tmp = tempfile.mkdtemp(prefix="split-pages-", dir=os.path.dirname(out))
    parts = [open(os.path.join(tmp, f"part{i}"), "wb") for i in range(3)]
    head = tail = b""
    for kind, data in _pages(stream):
        if kind == "head":
            head = data
        elif kind == "tail":
            tail = data
        else:
            revs = [m.group(0) for m in REVISION.finditer(data)]
            if len(revs) < 3:
                parts[0].write(data)
                continue
            first = data.index(b"<revision>")
            page_head = data[: first].rstrip()
            n = len(revs)
            cuts = [0, n // 3, 2 * n // 3, n]
            for i in range(3):
                chunk = revs[cuts[i] : cuts[i + 1]][::-1]  # newest first, as wikiteam3 --xmlrevisions_page
                parts[i].write(page_head + b"".join(chunk) + b"\n  </page>\n")
    for p in parts:
        p.close()
    cctx = zstandard.ZstdCompressor(level=3, threads=-1)
    with open(out, "wb") as f, cctx.stream_writer(f) as w:
        w.write(head)
        for i in range(3):
            with open(os.path.join(tmp, f"part{i}"), "rb") as p:
                shutil.copyfileobj(p, w, 1 << 22)
        w.write(tail)
    shutil.rmtree(tmp)


def recompress(src: str, out: str) -> None:
    """DUMP as it is, in bzip2 -9 (``.bz2``) or zstd -3 (``.zst``, the split file's codec)."""
    stream = open_binary(src)[0]
    if out.endswith(".bz2"):
        with bz2.open(out, "wb", compresslevel=9) as f:
            shutil.copyfileobj(stream, f, 1 << 22)
        return
    with open(out, "wb") as f, zstandard.ZstdCompressor(level=3, threads=-1).stream_writer(f) as w:
        shutil.copyfileobj(stream, w, 1 << 22)


def passes(path: str, copy: bool = True) -> dict:
    """CPU seconds of pass 1 and pass 2 (both in this process, one after the other);
    with ``copy=False``, slow codecs are decompressed by both passes."""
    saved = dict(dump_mod.FIRST_PASS_SHARE)
    if not copy:
        dump_mod.FIRST_PASS_SHARE.update(bzip2=saved["plain"], xz=saved["plain"])
    try:
        return _passes(path)
    finally:
        dump_mod.FIRST_PASS_SHARE.update(saved)


def _passes(path: str) -> dict:
    with DumpReader(path) as reader:
        t0 = time.process_time()
        reader._index = reader._first_pass()
        t1 = time.process_time()
        pages = revisions = 0
        for ph in reader:
            pages += 1
            revisions += sum(1 for _ in ph.revisions)
        t2 = time.process_time()
        return {"pass1": t1 - t0, "pass2": t2 - t1, "pages": pages, "revisions": revisions,
                "blocks": reader._index.blocks, "split_titles": reader._index.split_titles}


READ_ALL = (
    "import sys; from bundler.sources.dump import open_dump\n"
    "with open_dump(sys.argv[1]) as d:\n"
    "    for ph in d:\n"
    "        for r in ph.revisions: pass\n"
)


def peak_rss_mb(path: str) -> float:
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", READ_ALL, path],
                       capture_output=True, text=True, env=env, check=True)
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return kb / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--keep", help="directory for the split dump (default: a temporary one, removed)")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="split-bench-")
    os.makedirs(work, exist_ok=True)
    split = os.path.join(work, "split.xml.zst")
    as_zst = os.path.join(work, "as-is.xml.zst")
    as_bz2 = os.path.join(work, "as-is.xml.bz2")
    try:
        if not os.path.exists(split):
            write_split(args.dump, split)
        for path in (as_zst, as_bz2):
            if not os.path.exists(path):
                recompress(args.dump, path)
        rows = []
        for label, path in (("as it is", args.dump), ("as it is, zstd -3", as_zst),
                            ("split in 3 blocks, far apart, newest first, zstd -3", split),
                            ("as it is, bzip2 -9", as_bz2)):
            r = passes(path)
            r["one_pass"] = r["pass2"]
            if path.endswith(".bz2"):
                r["no_copy"] = passes(path, copy=False)
                r["one_pass"] = r["no_copy"]["pass2"]
            r["rss"] = peak_rss_mb(path)
            rows.append((label, r))
        print(f"| {os.path.basename(args.dump)} | blocks | split titles | pages / revisions | pass 1 CPU s | "
              "pass 2 CPU s | baseline: one pass CPU s | both passes / baseline | peak RSS (MB) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, r in rows:
            print(f"| {label} | {r['blocks']:,} | {r['split_titles']:,} | {r['pages']:,} / {r['revisions']:,} | "
                  f"{r['pass1']:.1f} | {r['pass2']:.1f} | {r['one_pass']:.1f} | "
                  f"{(r['pass1'] + r['pass2']) / r['one_pass']:.2f} | {r['rss']:.0f} |")
        nc = rows[3][1]["no_copy"]
        print(f"\nbzip2 without the copy: pass 1 {nc['pass1']:.1f} s + pass 2 {nc['pass2']:.1f} s = "
              f"{(nc['pass1'] + nc['pass2']) / nc['pass2']:.2f}x the baseline")
        base, r = rows[1][1], rows[2][1]
        print(f"\nsplit vs as it is (both zstd -3): pass 2 {r['pass2'] / base['pass2']:.2f}x, "
              f"peak RSS {r['rss'] / base['rss']:.2f}x")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
