"""Does ``bundle apply`` onto a real MediaWiki 1.39 leave false history, and what does
avoiding it cost? This code against a named baseline (an older checkout), same run.

    PYTHONPATH=. .venv/bin/python benchmarks/import_history.py --baseline DIR [--dump DUMP] [--max-bytes N]

``DIR`` holds the baseline's ``bundler/`` package (e.g. ``git archive f69af19 | tar
-x -C DIR``: import pieces oldest first). For each of the two, one bundle of the
whole dump (default: tests/data/eslagunanegra-pages-full.xml.xz, full history) is
made from an embedded side and applied to a fresh wiki at the request limit given
(default: the code's own, 1.5 MB); then the wiki's histories are read back over the
API. Counted: import requests, seconds, the revisions applying made itself (null
revisions and edits), and those of them that change the text: a false revert (a
null revision repeating an older text above newer revisions) or the edit restoring
the newest text after one. Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(dump: str, max_bytes: int | None) -> dict:
    """One apply with the ``bundler`` on sys.path (run in a child process per code tree)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from bundler.apply import apply_bundle
    from bundler.make import make_bundle
    from bundler.sources import EveryPage
    from bundler.mediawiki import MediaWikiClient
    from bundler.sources.dump import open_dump
    from bundler.state import Side
    from bundler.state.mediawiki import MediaWikiIds
    from bundler.targets import mediawiki_import as target
    from mediawiki_harness import WikiServer

    if max_bytes:
        target.IMPORT_MAX_BYTES = max_bytes
    tmp = tempfile.mkdtemp(prefix="wikibundle-history-bench-")
    wiki = WikiServer.create(os.path.join(tmp, "wiki"), "wiki").start()
    try:
        hq = Side.create(os.path.join(tmp, "hq"), os.path.join(tmp, "hq", "w.sqlite"), "hq")
        school = Side.create(os.path.join(tmp, "school"), wiki.api_url, "school", user=wiki.bot_user, password=wiki.bot_password)
        with hq.state.transaction():
            hq.state.add_peer(school.public_key())
        with school.state.transaction():
            school.state.add_peer(hq.public_key())
        out = os.path.join(tmp, "b1.bundle")
        with open_dump(dump) as reader:
            made = make_bundle(hq, out, EveryPage(reader), siteinfo=reader.siteinfo, source_name="dump")
        requests = [0]
        real_import = MediaWikiClient.import_xml

        def counted(self, *a, **kw):
            requests[0] += 1
            return real_import(self, *a, **kw)

        MediaWikiClient.import_xml = counted
        t0 = time.monotonic()
        apply_bundle(school, out)
        elapsed = time.monotonic() - t0
        own = MediaWikiIds(school.state).own_revisions()
        client = MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
        below: dict[str, str] = {}
        changing: set[int] = set()
        pages: set[str] = set()
        for page, rev in client.iter_allrevisions():
            if rev.rev_id in own and page.title in below and below[page.title] != rev.sha1:
                changing.add(rev.rev_id)
                pages.add(page.title)
            below[page.title] = rev.sha1
        return {"revisions": made.counts.revisions, "pages": made.counts.pages, "requests": requests[0],
                "seconds": elapsed, "own": len(own), "changing": len(changing), "pages_changed": len(pages)}
    finally:
        wiki.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, help="a folder holding the baseline's bundler/ package")
    ap.add_argument("--dump", default=os.path.join(ROOT, "tests", "data", "eslagunanegra-pages-full.xml.xz"))
    ap.add_argument("--max-bytes", type=int, default=0, help="bytes per import request (default: the code's own)")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.dump, args.max_bytes)))
        return
    rows = {}
    for name, tree in (("baseline", os.path.abspath(args.baseline)), ("this code", ROOT)):
        env = dict(os.environ, PYTHONPATH=tree)
        cmd = [sys.executable, os.path.abspath(__file__), "--baseline", tree, "--dump", args.dump,
               "--max-bytes", str(args.max_bytes), "--measure"]
        rows[name] = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
    from rich.console import Console
    from rich.table import Table

    base, this = rows["baseline"], rows["this code"]
    limit = f"{args.max_bytes:,} bytes" if args.max_bytes else "the default limit"
    t = Table(title=f"bundle apply onto MediaWiki 1.39: {os.path.basename(args.dump)} ({this['revisions']:,} revisions,"
                    f" {this['pages']:,} pages), {limit} per import request")
    for col in ("", "baseline", "this code", "ratio"):
        t.add_column(col, justify="right")
    for key, label in (("requests", "import requests"), ("seconds", "seconds"), ("own", "revisions made by applying"),
                       ("changing", "of them changing the text"), ("pages_changed", "pages with false history")):
        fmt = (lambda v: f"{v:.1f}") if key == "seconds" else (lambda v: f"{v:,}")
        ratio = f"{this[key] / base[key]:.2f}" if base[key] else "-"
        t.add_row(label, fmt(base[key]), fmt(this[key]), ratio)
    Console().print(t)


if __name__ == "__main__":
    main()
