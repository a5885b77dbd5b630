"""How long ``bundle apply`` onto a real MediaWiki 1.39 takes, and how many Action API
requests it needs, as the number of pages per ``action=import`` request changes.

    PYTHONPATH=. .venv/bin/python benchmarks/apply_mediawiki.py [--dump DUMP] [--batches 1,10,50,100,200]

One bundle of the whole dump (default: tests/data/eslagunanegra-pages-full.xml.xz,
the full history) is made for each batch size, from an embedded side, for a
fresh wiki, and applied to it. Printed per batch size: wall time, requests,
revisions per second. With ``--cut 0.9`` the history is carried in two bundles
instead, cut where 90% of the revisions lie before (as benchmarks/sizes.py cuts),
and both are printed: the second is a typical later sync. Needs Debian's
mediawiki package (see scripts/setup-mediawiki.sh). Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bundler.apply import apply_bundle  # noqa: E402
from bundler.make import make_bundle  # noqa: E402
from bundler.sources import EveryPage  # noqa: E402
from bundler.sources.dump import open_dump  # noqa: E402
from bundler.state import Side  # noqa: E402
from bundler.targets import mediawiki_import as target  # noqa: E402
from mediawiki_harness import WikiServer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", default=os.path.join(ROOT, "tests", "data", "eslagunanegra-pages-full.xml.xz"))
    ap.add_argument("--batches", default="1,10,50,100,200")
    ap.add_argument("--cut", type=float, default=None, help="carry the history in two bundles, cut at this fraction")
    args = ap.parse_args()
    cuts: list[int | None] = [None]
    if args.cut is not None:
        with open_dump(args.dump) as reader:
            stamps = sorted(r.timestamp for ph in reader for r in ph.revisions)
        cuts = [stamps[int(len(stamps) * args.cut) - 1], None]
    tmp = tempfile.mkdtemp(prefix="wikibundle-apply-bench-")
    template = WikiServer.create(os.path.join(tmp, "template"), "template")
    template.start()
    template.stop()
    rows = []
    for n, pages in enumerate(int(x) for x in args.batches.split(",")):
        wiki = WikiServer.clone(template, os.path.join(tmp, f"wiki{n}"), f"wiki{n}").start()
        try:
            hq = Side.create(os.path.join(tmp, f"hq{n}"), os.path.join(tmp, f"hq{n}", "w.sqlite"), "hq")
            school = Side.create(os.path.join(tmp, f"school{n}"), wiki.api_url, "school",
                                 user=wiki.bot_user, password=wiki.bot_password)
            with hq.state.transaction():
                hq.state.add_peer(school.public_key())
            with school.state.transaction():
                school.state.add_peer(hq.public_key())
            target.IMPORT_MAX_PAGES = pages
            manifest = None
            for k, until in enumerate(cuts):
                out = os.path.join(tmp, f"b{n}-{k}.bundle")
                with open_dump(args.dump) as reader:
                    made = make_bundle(hq, out, EveryPage(reader), siteinfo=reader.siteinfo, source_name="dump", until=until,
                                       since=manifest)
                t0 = time.monotonic()
                res = apply_bundle(school, out, manifest_out=os.path.join(tmp, f"m{n}-{k}.wbm"))
                elapsed = time.monotonic() - t0
                manifest = res.manifest
                label = str(pages) if len(cuts) == 1 else f"{pages}, bundle {k + 1}"
                rows.append((label, made.counts.pages, made.counts.revisions, elapsed, res.api_requests))
        finally:
            wiki.stop()
    t = Table(title=f"bundle apply onto MediaWiki 1.39 over the Action API: {os.path.basename(args.dump)}")
    for col in ("pages per import", "pages", "revisions", "seconds", "requests", "revisions / s"):
        t.add_column(col, justify="right")
    for pages, n_pages, n_revs, elapsed, reqs in rows:
        t.add_row(pages, str(n_pages), str(n_revs), f"{elapsed:.1f}", str(reqs), f"{n_revs / elapsed:.0f}")
    Console().print(t)


if __name__ == "__main__":
    main()
