"""Peak memory (RSS) of each command on one page with a very long history, this tree
beside a named baseline tree, in the same run.

    PYTHONPATH=. .venv/bin/python benchmarks/memory.py --baseline /tmp/wikibundle-main \\
        [--revisions 15000] [--sections 8] [--work /tmp/wikibundle-memory]

The page (tests/long_history.py: real French Wikipedia article text, a real edit per
revision, vandalism and reverts) is written as two XML dumps in ``--work`` (not in the
repository; ~1 GB each at the defaults, kept for the next run): ``long.xml`` with
``--revisions`` revisions and ``long+1.xml`` with one more. ``--baseline`` is a copy of
the code to compare against, e.g. of main: ``git archive main | tar -x -C /tmp/wikibundle-main``
(``--this``, default this tree, the code measured).

For each tree, in fresh side directories, each command runs as ``python -m bundler``
under GNU time (``/usr/bin/time -v``), which reports the process's peak resident set
size ("Maximum resident set size"):

    import          bundle import -C hq long.xml
    make (store)    bundle make -C hq --out s1.bundle          (first bundle, from the store)
    apply           bundle apply -C school s1.bundle
    make --from     bundle make -C src --from long.xml --out d1.bundle
    make --from +1  bundle make -C src --from long+1.xml --continue --out d2.bundle
                    (incremental: builds on d1, carries the one new revision)

Printed: a table of peak RSS and wall time per command and tree, and the ratio
this/baseline. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import long_history  # noqa: E402

STEPS = ("import", "make (store)", "apply", "make --from", "make --from +1")


def bundle(tree: str, *args: str, time_v: bool = False) -> tuple[int, float]:
    """Run ``python -m bundler ARGS`` from ``tree``; (peak RSS in KB, wall seconds) under time -v."""
    env = dict(os.environ, PYTHONPATH=tree, WIKIBUNDLE_NO_PROGRESS="1")
    cmd = [sys.executable, "-m", "bundler", *args]
    if time_v:
        cmd = ["/usr/bin/time", "-v", *cmd]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {tree}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return (int(m.group(1)) if m else 0), wall


def sides(tree: str, work: str, a: str, b: str) -> tuple[str, str]:
    """Two fresh sides that trust each other."""
    pa, pb = os.path.join(work, a), os.path.join(work, b)
    for p in (pa, pb):
        shutil.rmtree(p, ignore_errors=True)
        bundle(tree, "init", "-C", p, "--wiki", os.path.join(p, "wiki.sqlite"))
    for x, y in ((pa, pb), (pb, pa)):
        key = subprocess.run([sys.executable, "-m", "bundler", "key", "-C", x], env=dict(os.environ, PYTHONPATH=tree),
                             capture_output=True, text=True, check=True).stdout
        with open(x + ".pub", "w") as f:
            f.write(key)
        bundle(tree, "trust", "-C", y, x + ".pub")
    return pa, pb


def run_tree(tree: str, work: str, dump: str, dump1: str) -> dict[str, tuple[int, float]]:
    os.makedirs(work, exist_ok=True)
    out: dict[str, tuple[int, float]] = {}
    hq, school = sides(tree, work, "hq", "school")
    out["import"] = bundle(tree, "import", "-C", hq, dump, time_v=True)
    out["make (store)"] = bundle(tree, "make", "-C", hq, "--out", os.path.join(work, "s1.bundle"), time_v=True)
    out["apply"] = bundle(tree, "apply", "-C", school, os.path.join(work, "s1.bundle"), time_v=True)
    shutil.rmtree(hq)
    shutil.rmtree(school)
    src, _dst = sides(tree, work, "src", "dst")
    out["make --from"] = bundle(tree, "make", "-C", src, "--from", dump, "--out", os.path.join(work, "d1.bundle"), time_v=True)
    out["make --from +1"] = bundle(tree, "make", "-C", src, "--from", dump1, "--continue",
                                   "--out", os.path.join(work, "d2.bundle"), time_v=True)
    sizes = {name: os.path.getsize(os.path.join(work, name)) for name in ("s1.bundle", "d1.bundle", "d2.bundle")}
    print(f"  {tree}: bundle sizes {sizes}", flush=True)
    shutil.rmtree(work)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", required=True, help="a copy of the code to compare against (e.g. main)")
    ap.add_argument("--this", default=ROOT, help="the code measured (default: this tree)")
    ap.add_argument("--revisions", type=int, default=15000)
    ap.add_argument("--sections", type=int, default=8)
    ap.add_argument("--work", default="/tmp/wikibundle-memory")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    tag = f"{args.revisions}x{args.sections}"
    dump = os.path.join(args.work, f"long-{tag}.xml")
    dump1 = os.path.join(args.work, f"long-{tag}+1.xml")
    for path, n in ((dump, args.revisions), (dump1, args.revisions + 1)):
        if not os.path.exists(path):
            chars = long_history.write_dump(path + ".tmp", n, args.sections)
            os.rename(path + ".tmp", path)
            print(f"wrote {path}: {n:,} revisions, {chars / 1e6:,.0f} M characters of text", flush=True)
    print(f"dump: {os.path.getsize(dump) / 1e6:,.0f} MB of XML", flush=True)
    trees = {"baseline": os.path.abspath(args.baseline), "this": os.path.abspath(args.this)}
    res = {name: run_tree(tree, os.path.join(args.work, name), dump, dump1) for name, tree in trees.items()}
    print()
    print("| command | baseline peak RSS | this peak RSS | this / baseline | baseline wall | this wall |")
    print("|---|---|---|---|---|---|")
    for step in STEPS:
        (b_rss, b_wall), (t_rss, t_wall) = res["baseline"][step], res["this"][step]
        print(f"| {step} | {b_rss / 1024:,.0f} MB | {t_rss / 1024:,.0f} MB | {t_rss / b_rss:.2f} |"
              f" {b_wall:,.0f} s | {t_wall:,.0f} s |")


if __name__ == "__main__":
    main()
