"""The same sync run with two checkouts of the code, side by side: for a change that
must not change behaviour (a refactoring), the bundles must be the same size and
carry the same counts, and the time should not grow.

Each step runs in a fresh process per tree (``PYTHONPATH=<tree>``), on the same
real dump, through the library calls both trees have (``import_dump``,
``sources.open_source`` + ``make.make_bundle_retrying``, ``apply.apply_bundle``):

    import       bundle import of the dump into the sender's embedded store
    make-dump    a full bundle from the dump (every page renumbered against nothing)
    make-store   a full bundle from the store
    apply        the dump's bundle applied to an empty receiver
    make-again   a bundle since the receiver's manifest (nothing changed: the fast path)

Run from the repository root, the baseline being another checkout (e.g. main):

    .venv/bin/python benchmarks/trees.py --baseline ../main [--dump DUMP] [--repeat 3]

It prints one row per step: the best wall time of ``--repeat`` runs for each tree,
their ratio (this tree / baseline), and whether the bundle sizes and counts agree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run in the child, with the tree first on sys.path: only calls both trees have.
CHILD = r"""
import json, os, sys, time
from bundler.apply import apply_bundle
from bundler.importer import import_dump
from bundler.make import make_bundle_retrying
from bundler.sources import open_source
from bundler.state import Side

dump, tmp = sys.argv[1], sys.argv[2]
hq = Side.create(os.path.join(tmp, "hq"), os.path.join(tmp, "hq", "wiki.sqlite"), "hq")
school = Side.create(os.path.join(tmp, "school"), os.path.join(tmp, "school", "wiki.sqlite"), "school")
school.store(create=True).close()
with hq.state.transaction():
    hq.state.add_peer(school.public_key())
with school.state.transaction():
    school.state.add_peer(hq.public_key())
out, t = {}, time.perf_counter


def made(name, res):
    c = res.counts
    return {"size": res.size, "counts": [c.pages, c.revisions, c.moves, c.deletions, c.updates]}


t0 = t()
store = hq.store(create=True)
res = import_dump(store, dump)
store.close()
out["import"] = {"s": t() - t0, "what": {"pages": res.pages, "revisions": res.revisions_added}}
t0 = t()
r = make_bundle_retrying(hq, os.path.join(tmp, "dump.bundle"), lambda: open_source(hq, from_dump=dump), full=True)
out["make-dump"] = {"s": t() - t0, "what": made("dump", r)}
t0 = t()
r2 = make_bundle_retrying(hq, os.path.join(tmp, "store.bundle"), lambda: open_source(hq), full=True)
out["make-store"] = {"s": t() - t0, "what": made("store", r2)}
t0 = t()
a = apply_bundle(school, r.path, manifest_out=os.path.join(tmp, "m.wbm"))
out["apply"] = {"s": t() - t0, "what": {"already": a.already}}
t0 = t()
r3 = make_bundle_retrying(hq, os.path.join(tmp, "again.bundle"), lambda: open_source(hq, from_dump=dump),
                          since=os.path.join(tmp, "m.wbm"))
out["make-again"] = {"s": t() - t0, "what": made("again", r3)}
print(json.dumps(out))
"""


def run(tree: str, dump: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
        p = subprocess.run([sys.executable, "-c", CHILD, os.path.abspath(dump), tmp], env=env, cwd=tmp,
                           capture_output=True, text=True, check=False)
        if p.returncode:
            sys.exit(f"{tree}: the run failed:\n{p.stderr[-2000:]}")
        return json.loads(p.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, help="another checkout of the code (its root folder)")
    ap.add_argument("--dump", default=os.path.join(HERE, "tests", "data", "eslagunanegra-pages-full.xml.xz"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    trees = {"baseline": args.baseline, "this": HERE}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for _ in range(args.repeat):
        for name, tree in trees.items():  # interleaved: a slow moment of the machine hits both
            runs[name].append(run(tree, args.dump))
    print(f"dump: {os.path.basename(args.dump)}; baseline: {os.path.abspath(args.baseline)}; best of {args.repeat}")
    print(f"{'step':<11} {'baseline s':>10} {'this s':>8} {'ratio':>6}  same result")
    for step in runs["this"][0]:
        best = {k: min(r[step]["s"] for r in v) for k, v in runs.items()}
        same = all(r[step]["what"] == runs["baseline"][0][step]["what"] for v in runs.values() for r in v)
        print(f"{step:<11} {best['baseline']:>10.2f} {best['this']:>8.2f} {best['this'] / best['baseline']:>6.2f}"
              f"  {'yes' if same else 'NO'} {runs['this'][0][step]['what']}")


if __name__ == "__main__":
    main()
