"""How many Action API requests (and bytes) ``bundle make`` needs, as the number of
changed revisions grows, against a real MediaWiki 1.39 started on 127.0.0.1.

    PYTHONPATH=. .venv/bin/python benchmarks/api_requests.py [--pages 300] [--steps 0,1,10,50,150,300]
        [--history 1000] [--new 1,10,100]

1. **Many pages.** A wiki with PAGES pages (one revision each) is carried once; then, for
   each step k, k pages get one more edit and a bundle is made ``--since`` the previous
   manifest, three ways on the same basis: listing every page (``WIKIBUNDLE_API_READ=every-page``),
   reading each changed page's whole history with its texts (``whole-pages``: how make read
   a changed page before it read by revision id), and the default (the ids above the last
   top, then the new texts and their bases by revision id). Only the default's bundle is
   applied.
2. **A long history.** One page with HISTORY revisions (the 72 revisions of a real French
   Wikipedia article, tests/data/frwiki-…, repeated with later timestamps), loaded with
   importDump.php and carried once; then n more edits (real texts again) and a bundle,
   whole histories against the default. "text + base" is what an ideal reader receives:
   the new texts and the one base text the receiver holds.

Needs Debian's mediawiki package (see scripts/setup-mediawiki.sh). Not a test: numbers,
not assertions (only that the ways carry the same revisions).
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
sys.path.insert(0, os.path.join(ROOT, "tests"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bundler.export import XmlWriter  # noqa: E402
from bundler.mediawiki import MediaWikiClient  # noqa: E402
from bundler.model import Page, PageId, RevId, Revision  # noqa: E402
from bundler.sources.dump import open_dump  # noqa: E402
from mediawiki_harness import WikiServer  # noqa: E402

FRWIKI = os.path.join(ROOT, "tests", "data", "frwiki-20220101-pages-articles.xml")


def bundle(*args: str, env: dict | None = None) -> str:
    r = subprocess.run([sys.executable, "-m", "bundler", *args], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"bundle {' '.join(args)} failed: {r.stderr}")
    return r.stdout


class Sides:
    """hq over the wiki's API, school an embedded store; bundles made several ways on one basis."""

    def __init__(self, wiki: WikiServer, tmp: str):
        self.tmp = tmp
        self.env = dict(os.environ, WIKIBUNDLE_PASSWORD=wiki.bot_password, WIKIBUNDLE_API_SLACK="1")
        self.hq, self.school = os.path.join(tmp, "hq"), os.path.join(tmp, "school")
        bundle("init", "-C", self.hq, "--wiki", wiki.api_url, "--user", wiki.bot_user, env=self.env)
        bundle("init", "-C", self.school, "--wiki", os.path.join(self.school, "w.sqlite"))
        for a, b in ((self.hq, self.school), (self.school, self.hq)):
            with open(os.path.join(tmp, "k.pub"), "w") as f:
                f.write(bundle("key", "-C", b))
            bundle("trust", "-C", a, os.path.join(tmp, "k.pub"))
        self.manifest: str | None = None
        self.n = 0

    def make(self, *ways: str) -> dict[str, dict]:
        """One bundle per way on the same basis (the last, the default, is applied)."""
        self.n += 1
        since = ["--since", self.manifest] if self.manifest else []
        got = {}
        for way in ways:
            out = os.path.join(self.tmp, f"b{self.n}-{way}.bundle")
            env = dict(self.env, WIKIBUNDLE_API_READ=way) if way != "default" else self.env
            got[way] = json.loads(bundle("make", "-C", self.hq, "--out", out, "--json", "--verify-every", "0",
                                         *since, env=env))
        self.manifest = os.path.join(self.tmp, f"m{self.n}.wbm")
        bundle("apply", "-C", self.school, out, "--manifest-out", self.manifest)
        counts = {g["revisions"] for g in got.values()}
        assert len(counts) == 1, f"the ways must carry the same revisions: {got}"
        time.sleep(1.5)  # the next edits come after this bundle's mark (slack: 1 s)
        return got


def many_pages(n_pages: int, steps: list[int]) -> Table:
    tmp = tempfile.mkdtemp(prefix="wikibundle-api-bench-")
    wiki = WikiServer.create(os.path.join(tmp, "wiki"), "bench").start()
    rows = []
    try:
        c = MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
        for i in range(n_pages):
            c.edit(f"Page {i}", f"Page {i}\n\nFirst text of page {i}.\n", "create")
        sides = Sides(wiki, tmp)
        for n, k in enumerate([None] + steps):
            for i in range(k or 0):
                c.edit(f"Page {i}", f"Page {i}\n\nFirst text of page {i}.\nEdit {n}.\n", f"edit {n}")
            ways = ("default",) if k is None else ("every-page", "whole-pages", "default")
            rows.append(("first sync" if k is None else str(k), sides.make(*ways)))
    finally:
        wiki.stop()
    t = Table(title=f"{n_pages} pages, k of them edited once: requests / KB received by bundle make")
    for col in ("pages edited", "every page", "whole histories", "new only", "KB: every page",
                "KB: whole histories", "KB: new only", "revisions", "bundle bytes"):
        t.add_column(col, justify="right")
    for label, got in rows:
        d = got["default"]
        e, w = got.get("every-page", d), got.get("whole-pages", d)
        t.add_row(label, str(e["api_requests"]), str(w["api_requests"]), str(d["api_requests"]),
                  f"{e['api_bytes'] / 1000:.1f}", f"{w['api_bytes'] / 1000:.1f}", f"{d['api_bytes'] / 1000:.1f}",
                  str(d["revisions"]), f"{d['bytes']:,}")
    return t


def long_history(history: int, news: list[int]) -> Table:
    with open_dump(FRWIKI) as d:
        pages = [(ph.page, list(ph.revisions)) for ph in d]
        site = d.siteinfo
    _page, real = max(pages, key=lambda pr: len(pr[1]))
    texts = [r.text or "" for r in real]
    start = real[0].timestamp
    revs = []
    for i in range(history):
        r = real[i % len(real)]  # (with its user id: importDump makes no actor for an unknown name without one)
        revs.append(Revision(RevId(i + 1), PageId(1), start + i * 3600, texts[i % len(texts)], user=r.user,
                             user_id=r.user_id, comment=r.comment))
    tmp = tempfile.mkdtemp(prefix="wikibundle-api-bench-")
    wiki = WikiServer.create(os.path.join(tmp, "wiki"), "bench").start()
    rows = []
    try:
        xml = os.path.join(tmp, "long.xml")
        with open(xml, "w", encoding="utf-8") as f:
            w = XmlWriter(f, site)
            w.page(Page(PageId(1), 0, "Long history", None), revs)
            w.close()
        wiki.run_maintenance("importDump.php", "--no-updates", xml)
        c = MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
        sides = Sides(wiki, tmp)
        sides.make("default")
        j = 0
        for n in news:
            base = next(iter(c.revisions_by_id([max(r.rev_id for r in c.page_revisions("Long history",
                                                                                      content=False))])))[1].text
            sent = []
            for _ in range(n):
                j += 1
                text = texts[j % len(texts)] + f"\n\nEdit {j}.\n"
                c.edit("Long history", text, f"edit {j}")
                sent.append(text)
            got = sides.make("whole-pages", "default")
            ideal = sum(len(t.rstrip().encode()) for t in sent) + len((base or "").encode())
            rows.append((n, got, ideal))
    finally:
        wiki.stop()
    t = Table(title=f"one page of {history:,} revisions (frwiki text), n new edits: bundle make reads")
    for col in ("new edits", "requests: whole history", "requests: new only", "KB: whole history",
                "KB: new only", "KB: text + base", "new only / (text + base)", "⌈n/50⌉"):
        t.add_column(col, justify="right")
    for n, got, ideal in rows:
        w, d = got["whole-pages"], got["default"]
        t.add_row(str(n), str(w["api_requests"]), str(d["api_requests"]), f"{w['api_bytes'] / 1000:.1f}",
                  f"{d['api_bytes'] / 1000:.1f}", f"{ideal / 1000:.1f}", f"{d['api_bytes'] / ideal:.2f}",
                  str(-(-n // 50)))
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--steps", default="0,1,10,50,150,300")
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--new", default="1,10,100")
    args = ap.parse_args()
    console = Console()
    console.print(long_history(args.history, [int(x) for x in args.new.split(",")]))
    console.print(many_pages(args.pages, [int(x) for x in args.steps.split(",")]))


if __name__ == "__main__":
    main()
