"""Issue 15's check over one or more ``sizes.py --json`` results: is every incremental
bundle at most 0.6 × the better conditional reference + 250 B (signature and header)?

``sizes.py`` measures; this prints the verdict per history and cut, side by side, so a
run over every history in ``../shared/data`` (and any other dump) ends in one table::

    PYTHONPATH=. python benchmarks/sizes.py DUMP... --json /tmp/sizes.json
    python benchmarks/size_check.py /tmp/sizes.json [more.json ...]

Columns: the bundle (full history, and ``--latest-only``), the reference
``min(cond_xz, cond_zstd)``, the budget ``0.6 × reference + 250``, the ratio
bundle / reference, and how many bytes over the budget (negative: under it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

FACTOR = 0.6
ALLOWANCE = 250  # bytes: the signature and the header, which a reference does not pay


def rows(results: dict) -> list[dict]:
    out = []
    for d in results.get("dumps", []):
        name = Path(d["dump"]).name
        for cut in d.get("cuts", []):
            m = cut["methods"]
            refs = [m[k]["bytes"] for k in ("cond_xz", "cond_zstd") if m.get(k, {}).get("bytes")]
            if not refs:
                continue
            ref = min(refs)
            budget = FACTOR * ref + ALLOWANCE
            for key, label in (("bundle_full", "full"), ("bundle_latest", "latest-only")):
                b = m.get(key, {}).get("bytes")
                if not b:
                    continue
                out.append({
                    "history": name, "q": cut["q"], "revisions_new": cut["revisions_new"], "bundle": label,
                    "bytes": b, "reference": ref, "budget": round(budget), "ratio": round(b / ref, 3),
                    "over_budget": round(b - budget), "met": b <= budget,
                })
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="JSON written by benchmarks/sizes.py --json")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    a = p.parse_args()
    all_rows = [r for f in a.results for r in rows(json.loads(Path(f).read_text()))]
    if a.json:
        print(json.dumps(all_rows, indent=1))
        return
    t = Table(title=f"bundle ≤ {FACTOR} × reference + {ALLOWANCE} B?", caption="reference = min(cond. xz -9e, cond. zstd -22 --long=31)")
    for col in ("history", "q", "new revs", "bundle", "bytes", "reference", "budget", "×ref", "over budget", "met"):
        t.add_column(col, justify="left" if col in ("history", "bundle") else "right")
    for r in all_rows:
        t.add_row(r["history"], str(r["q"]), f"{r['revisions_new']:,}", r["bundle"], f"{r['bytes']:,}", f"{r['reference']:,}",
                  f"{r['budget']:,}", f"{r['ratio']:.2f}", f"{r['over_budget']:+,}", "yes" if r["met"] else "no")
    Console(width=150).print(t)
    met = sum(r["met"] for r in all_rows)
    print(f"{met} of {len(all_rows)} within budget")


if __name__ == "__main__":
    main()
