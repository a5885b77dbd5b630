"""How many Action API requests (and bytes) ``bundle make`` needs, as the number of
changed revisions grows, against a real MediaWiki 1.39 started on 127.0.0.1.

    PYTHONPATH=. .venv/bin/python benchmarks/api_requests.py [--pages 300] [--steps 0,1,10,50,150,300]

A wiki with PAGES pages (one revision each) is carried once; then, for each step k,
k pages get one more edit and a bundle is made ``--since`` the previous manifest.
Printed per step: requests, KB received, revisions carried, bundle bytes, and
requests per changed revision. Needs Debian's mediawiki package (see
scripts/setup-mediawiki.sh). Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bundler.mediawiki import MediaWikiClient  # noqa: E402
from mediawiki_harness import WikiServer  # noqa: E402


def bundle(*args: str, env: dict | None = None) -> str:
    r = subprocess.run([sys.executable, "-m", "bundler", *args], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"bundle {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--steps", default="0,1,10,50,150,300")
    args = ap.parse_args()
    steps = [int(x) for x in args.steps.split(",")]
    tmp = tempfile.mkdtemp(prefix="wikibundle-api-bench-")
    wiki = WikiServer.create(os.path.join(tmp, "wiki"), "bench").start()
    try:
        c = MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
        for i in range(args.pages):
            c.edit(f"Page {i}", f"Page {i}\n\nFirst text of page {i}.\n", "create")
        env = dict(os.environ, WIKIBUNDLE_PASSWORD=wiki.bot_password)
        hq, school = os.path.join(tmp, "hq"), os.path.join(tmp, "school")
        bundle("init", "-C", hq, "--wiki", wiki.api_url, "--user", wiki.bot_user, env=env)
        bundle("init", "-C", school, "--wiki", os.path.join(school, "w.sqlite"))
        for a, b in ((hq, school), (school, hq)):
            with open(os.path.join(tmp, "k.pub"), "w") as f:
                f.write(bundle("key", "-C", b))
            bundle("trust", "-C", a, os.path.join(tmp, "k.pub"))
        rows = []
        manifest = None
        for n, k in enumerate([None] + steps):
            if k:
                for i in range(k):
                    c.edit(f"Page {i}", f"Page {i}\n\nFirst text of page {i}.\nEdit {n}.\n", f"edit {n}")
            out = os.path.join(tmp, f"b{n}.bundle")
            since = ["--since", manifest] if manifest else []
            # The baseline first, on the same basis: list every page (what make did before
            # it read the log); its bundle is not applied.
            every = json.loads(bundle("make", "-C", hq, "--out", out + ".every", "--json", *since,
                                      env=dict(env, WIKIBUNDLE_API_READ="every-page", WIKIBUNDLE_API_SLACK="1")))
            time.sleep(1.5)
            info = json.loads(bundle("make", "-C", hq, "--out", out, "--json", *since, env=dict(env, WIKIBUNDLE_API_SLACK="1")))
            manifest = os.path.join(tmp, f"m{n}.wbm")
            bundle("apply", "-C", school, out, "--manifest-out", manifest)
            rows.append(("first sync" if k is None else str(k), info, every))
            time.sleep(1.5)  # the next edits come after this bundle's mark (slack: 1 s)
    finally:
        wiki.stop()
    t = Table(title=f"bundle make against MediaWiki 1.39 ({args.pages} pages), Action API on 127.0.0.1")
    for col in ("pages edited", "requests: every page", "requests: since the basis", "ratio",
                "KB: every page", "KB: since", "revisions carried", "bundle bytes"):
        t.add_column(col, justify="right")
    for label, info, every in rows:
        assert info["revisions"] == every["revisions"], "both ways must carry the same"
        t.add_row(label, str(every["api_requests"]), str(info["api_requests"]),
                  f"{info['api_requests'] / every['api_requests']:.2f}", f"{every['api_bytes'] / 1000:.1f}",
                  f"{info['api_bytes'] / 1000:.1f}", str(info["revisions"]), str(info["bytes"]))
    Console().print(t)


if __name__ == "__main__":
    main()
