#!/usr/bin/env python3
"""Sizes and requests of issue 14's file features, each beside a named baseline of the same run.

    PYTHONPATH=. .venv/bin/python benchmarks/files_sync.py

1. Manifest size with ``files_held`` (the exact sorted sha1 list) for 1,000 and
   100,000 held contents, against the manifest without it (baseline), and against
   what a second site filled from the first would be sent without the report
   (the contents' bytes; files of 200 KB, a typical scan or photo).
2. A 12 MB upload to a real MediaWiki 1.39 (harness, 127.0.0.1): chunked to a wiki
   with PHP's default limits (2M/8M), against one request to a wiki with the
   harness's large limits (baseline): HTTP requests, bytes sent, seconds.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from bundler import wire  # noqa: E402
from bundler.manifest import FIXED, SIG, Manifest, pack_sha1s  # noqa: E402

FILE_SIZE = 200 << 10


def manifest_bytes(n: int) -> tuple[int, int]:
    sha1s = [hashlib.sha1(i.to_bytes(8, "big")).hexdigest() for i in range(n)]
    base = Manifest("0" * 32, "1" * 32, 7, bytes(16), int(time.time()), 12345, 67890, "wikibundle 0.1.0")
    with_held = Manifest(*[getattr(base, f) for f in ("wiki", "peer", "seq", "checkpoint", "created", "pages",
                                                       "revisions", "tool")], pack_sha1s(sha1s))
    size = lambda m: FIXED.size + len(wire.packb(m.to_wire())) + SIG.size  # noqa: E731
    return size(base), size(with_held)


def uploads() -> list[tuple[str, int, int, float]]:
    from bundler.mediawiki import MediaWikiClient
    from mediawiki_harness import WikiServer

    rows = []
    with tempfile.TemporaryDirectory(prefix="wikibundle-bench-") as d:
        d = Path(d)
        template = WikiServer.create(d / "template", "template")
        template.start()
        template.stop()
        scan = d / "Scan.pdf"
        scan.write_bytes(b"%PDF-1.4\n" + os.urandom(12 << 20))
        for label, limits in (("one request (limits 100M/110M, baseline)", None),
                              ("chunked (PHP defaults 2M/8M)", WikiServer.PHP_DEFAULT_LIMITS)):
            wiki = WikiServer.clone(template, d / label.split()[0], label.split()[0], php_limits=limits).start()
            try:
                c = MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
                c.siteinfo()
                sent = 0
                real = c._http.request

                def counting(method, url, **kw):
                    nonlocal sent
                    r = real(method, url, **kw)
                    sent += len(r.request.read()) if r.request.stream is not None else 0
                    return r

                c._http.request = counting
                r0, t0 = c.requests, time.monotonic()
                up = c.upload("Scan.pdf", scan, "bench")
                assert up["imageinfo"]["sha1"] == hashlib.sha1(scan.read_bytes()).hexdigest()
                rows.append((label, c.requests - r0, sent, time.monotonic() - t0))
            finally:
                wiki.stop()
    return rows


def main() -> None:
    print("## Manifest with files_held (exact sha1 list)\n")
    print("| held contents | manifest without (baseline) | with files_held | ratio | bytes a second site would be sent without it (200 KB files) | manifest / those bytes |")
    print("|---|---|---|---|---|---|")
    for n in (1_000, 100_000):
        base, held = manifest_bytes(n)
        resend = n * FILE_SIZE
        print(f"| {n:,} | {base:,} B | {held:,} B | {held / base:,.0f}× | {resend / 1e6:,.0f} MB | {held / resend:.4%} |")
    print("\n## A 12 MB upload to MediaWiki 1.39\n")
    rows = uploads()
    base = rows[0]
    print("| upload | HTTP requests | bytes sent | seconds | requests / baseline | bytes / baseline | time / baseline |")
    print("|---|---|---|---|---|---|---|")
    for label, req, sent, secs in rows:
        print(f"| {label} | {req} | {sent / 1e6:.2f} MB | {secs:.2f} | {req / base[1]:.1f} | {sent / base[2]:.2f} | {secs / base[3]:.2f} |")


if __name__ == "__main__":
    main()
