"""``bundle apply`` of the same bundles onto a MediaWiki on this machine through its
maintenance scripts (bundler/targets/local.py) against the baseline, the same wiki
over its Action API (bundler/targets/mediawiki.py), in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/apply_local.py [--dump DUMP] [--cut 0.9]

The whole history of the dump (default: tests/data/eslagunanegra-pages-full.xml.xz,
972 pages, 3,529 revisions) is made into two bundles from an embedded side, cut
where ``--cut`` of the revisions lie before (as benchmarks/apply_mediawiki.py
cuts: bundle 1 a first sync, bundle 2 a typical later one), and applied to a fresh
MediaWiki 1.39 (Debian's package, served on 127.0.0.1 by the test harness) once
per target. Printed: seconds per bundle and target, revisions applying made
itself (import and move null revisions, newest-text edits) and import log
entries, and the ratios local / API. Not a test: numbers, not assertions.
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
from bundler.mediawiki import MediaWikiClient  # noqa: E402
from bundler.sources import EveryPage  # noqa: E402
from bundler.sources.dump import open_dump  # noqa: E402
from bundler.state import Side  # noqa: E402
from bundler.state.mediawiki import MediaWikiIds  # noqa: E402
from bundler.targets.local_scripts import Scripts  # noqa: E402
from mediawiki_harness import WikiServer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("api", "local")


class Run:
    """One target's fresh wiki and sides; ``apply`` makes and applies the next bundle."""

    def __init__(self, kind: str, template: WikiServer, tmp: str, dump: str):
        self.kind, self.tmp, self.dump = kind, tmp, dump
        self.wiki = WikiServer.clone(template, os.path.join(tmp, f"wiki-{kind}"), f"wiki-{kind}").start()
        self.hq = Side.create(os.path.join(tmp, f"hq-{kind}"), os.path.join(tmp, f"hq-{kind}", "w.sqlite"), "hq")
        local = None
        if kind == "local":
            s = Scripts.locate(str(self.wiki.conf))
            local = {"conf": s.conf, "install": s.install, "php": s.php}
        self.school = Side.create(os.path.join(tmp, f"school-{kind}"), self.wiki.api_url, "school",
                                  user=self.wiki.bot_user, password=self.wiki.bot_password, local=local)
        with self.hq.state.transaction():
            self.hq.state.add_peer(self.school.public_key())
        with self.school.state.transaction():
            self.school.state.add_peer(self.hq.public_key())
        self.manifest = None
        self.seconds: list[float] = []
        self.revisions: list[int] = []

    def apply(self, k: int, until: int | None) -> None:
        out = os.path.join(self.tmp, f"b-{self.kind}-{k}.bundle")
        with open_dump(self.dump) as reader:
            made = make_bundle(self.hq, out, EveryPage(reader), siteinfo=reader.siteinfo, source_name="dump",
                               until=until, since=self.manifest)
        t0 = time.monotonic()
        res = apply_bundle(self.school, out, manifest_out=os.path.join(self.tmp, f"m-{self.kind}-{k}.wbm"))
        self.seconds.append(time.monotonic() - t0)
        self.revisions.append(made.counts.revisions)
        self.manifest = res.manifest

    def finish(self) -> dict:
        try:
            client = MediaWikiClient(self.wiki.api_url, self.wiki.bot_user, self.wiki.bot_password)
            imports = sum(1 for _ in client.iter_logevents(["import"]))
            own = len(MediaWikiIds(self.school.state).own_revisions())
            return {"seconds": self.seconds, "revisions": self.revisions, "own": own, "imports": imports}
        finally:
            self.wiki.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", default=os.path.join(ROOT, "tests", "data", "eslagunanegra-pages-full.xml.xz"))
    ap.add_argument("--cut", type=float, default=0.9, help="carry the history in two bundles, cut at this fraction")
    args = ap.parse_args()
    with open_dump(args.dump) as reader:
        stamps = sorted(r.timestamp for ph in reader for r in ph.revisions)
    cuts: list[int | None] = [stamps[int(len(stamps) * args.cut) - 1], None]
    tmp = tempfile.mkdtemp(prefix="wikibundle-apply-local-bench-")
    template = WikiServer.create(os.path.join(tmp, "template"), "template")
    template.start()
    template.stop()
    runs = [Run(kind, template, tmp, args.dump) for kind in TARGETS]
    # Interleaved (API bundle 1, local bundle 1, API bundle 2, ...): a machine whose load
    # changes over the run weighs on both alike.
    for k, until in enumerate(cuts):
        for r in runs:
            r.apply(k, until)
    res = {r.kind: r.finish() for r in runs}
    api, local = res["api"], res["local"]

    t = Table(title=f"bundle apply onto MediaWiki 1.39: {os.path.basename(args.dump)}, API (baseline) vs maintenance scripts")
    for col in ("", "revisions", "API", "local (scripts)", "local / API"):
        t.add_column(col, justify="right")
    for k in range(len(cuts)):
        t.add_row(f"bundle {k + 1}: seconds", f"{api['revisions'][k]:,}", f"{api['seconds'][k]:.1f}",
                  f"{local['seconds'][k]:.1f}", f"{local['seconds'][k] / api['seconds'][k]:.2f}")
    t.add_row("both: seconds", f"{sum(api['revisions']):,}", f"{sum(api['seconds']):.1f}", f"{sum(local['seconds']):.1f}",
              f"{sum(local['seconds']) / sum(api['seconds']):.2f}")
    t.add_row("revisions applying made itself", "", str(api["own"]), str(local["own"]),
              f"{local['own'] / api['own']:.2f}" if api["own"] else "-")
    t.add_row("import log entries", "", str(api["imports"]), str(local["imports"]),
              f"{local['imports'] / api['imports']:.2f}" if api["imports"] else "-")
    Console().print(t)


if __name__ == "__main__":
    main()
