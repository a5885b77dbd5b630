#!/usr/bin/env python3
"""Latest-only updates from two multistream dumps (issue 12): speed, memory, size.

    PYTHONPATH=. .venv/bin/python benchmarks/latest_update.py DUMP [--changed 0.1] [--keep DIR]

DUMP is any full-history dump (the bench corpus:
``../shared/data/bench/shintowiki-category-history.xml.zst``). It is cut at two times into
two latest-only multistream dumps with their indexes (``bundler.multistream``): NEW, the
wiki now, and OLD, the wiki at the time after which a fraction ``--changed`` of the pages
were edited or made; between them 1 page in 50 of OLD is renamed and 1 in 37 deleted
(the corpus has neither). A receiver is given OLD (a first bundle ``--from OLD
--latest-only``); then the update ``--from NEW --base OLD --latest-only`` is made:

- in this process (``--workers 1``: the baseline), and on a local Dask cluster of 1 and 2
  worker processes started beforehand (its start-up is reported apart, not timed in);
- each bundle is applied to a fresh copy of the receiver, which must end equal to NEW.

Printed as one table: wall seconds and the ratio to the baseline, MB of NEW's XML per
second per worker, peak RSS of the busiest worker process (``ru_maxrss``; in-process, of
the whole make), the update's size against (a) NEW's bz2 (what Wikimedia publishes),
(b) ``xz -9e`` of the changed and new pages' XML (an ideal "changes" file, which has no
deltas, moves or deletions), (c) a full latest-only bundle of NEW (what the receiver
gets today without ``--base``); ``bundle apply`` speed in pages/s; and a projection for
English Wikipedia (~90 GB of XML, ~7 M articles) from the measured rate per worker.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
import dataclasses
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bundler.apply import apply_bundle  # noqa: E402
from bundler.export import XmlWriter  # noqa: E402
from bundler.latest import LatestStats, make_latest_update, peak_rss  # noqa: E402
from bundler.parallel import LOCAL_WORKER_CONFIG  # noqa: E402
from bundler.make import make_bundle  # noqa: E402
from bundler.multistream import edit_pages, iter_pages, latest_pages, read_index, siteinfo_of, write_multistream  # noqa: E402
from bundler.sources import EveryPage  # noqa: E402
from bundler.sources.dump import open_dump  # noqa: E402
from bundler.state import Side  # noqa: E402

ENWIKI_XML_MB = 90_000
ENWIKI_PAGES = 7_000_000


def _sides(tmp: str, name: str) -> tuple[Side, Side]:
    # (wiki paths relative, so that a side's directory can be copied whole)
    hq = Side.create(os.path.join(tmp, name, "hq"), os.path.relpath(os.path.join(tmp, name, "hq", "wiki.sqlite")), "hq")
    school = Side.create(os.path.join(tmp, name, "school"), os.path.relpath(os.path.join(tmp, name, "school", "wiki.sqlite")),
                         "school")
    for s in (hq, school):
        s.store(create=True).close()
    with hq.state.transaction():
        hq.state.add_peer(school.public_key())
    with school.state.transaction():
        school.state.add_peer(hq.public_key())
    return hq, school


def _xml_size(path: str) -> int:
    return sum(len(b) for b in _bz2_chunks(path))


def _bz2_chunks(path: str):
    import bz2

    with bz2.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def cut(dump: str, work: str, changed: float) -> tuple[str, str, int]:
    """(OLD, NEW, the cut time): the two latest-only multistream dumps."""
    si = siteinfo_of(dump)
    pages = []  # (page id, title, first and newest timestamps)
    with open_dump(dump) as d:
        for ph in d:
            ts = [r.timestamp for r in ph.revisions]
            pages.append((ph.page.page_id, ph.page.title, ts[0], ts[-1]))
    newest = sorted(p[3] for p in pages)
    t_cut = newest[int(len(newest) * (1 - changed))]
    in_old = sorted(p for p in pages if p[2] <= t_cut)
    renames = {pid: title + " (renamed)" for pid, title, _f, _n in in_old[::50]}
    deletions = {p[0] for p in in_old[7::37]} - set(renames)
    new = os.path.join(work, "new-multistream.xml.bz2")
    old = os.path.join(work, "old-multistream.xml.bz2")
    write_multistream(new, si, edit_pages(latest_pages(dump), renames=renames, deletions=deletions))
    write_multistream(old, si, latest_pages(dump, t_cut))
    return old, new, t_cut


COPY_IDS = 10_000_000  # page and revision ids of copy k are the corpus's + k × this


def replicate(src: str, dst: str, copies: int) -> None:
    """``src`` (a multistream dump) written ``copies`` times into ``dst``, copy k under ids
    shifted by k × COPY_IDS and titles ending in " (copy k)": the same real text, more of it."""
    si = siteinfo_of(src)

    def pages():
        for k in range(copies):
            for p in iter_pages(src, read_index(src)):
                if k == 0:
                    yield p.page, [p.rev]
                    continue
                shift = k * COPY_IDS
                page = dataclasses.replace(p.page, page_id=p.page.page_id + shift, title=f"{p.page.title} (copy {k})")
                rev = dataclasses.replace(p.rev, rev_id=p.rev.rev_id + shift, page_id=page.page_id,
                                          parent_id=p.rev.parent_id + shift if p.rev.parent_id else None)
                yield page, [rev]

    write_multistream(dst, si, pages())


def changes_xml_xz(old: str, new: str, work: str) -> int:
    """``xz -9e`` of NEW's pages that OLD lacks or has with another text."""
    held = {p.page.page_id: p.rev.sha1 for p in iter_pages(old, read_index(old))}
    path = os.path.join(work, "changes.xml")
    with open(path, "w", encoding="utf-8") as f:
        w = XmlWriter(f, siteinfo_of(new))
        for p in iter_pages(new, read_index(new)):
            if held.get(p.page.page_id) != p.rev.sha1:
                w.page(p.page, [p.rev])
        w.close()
    out = subprocess.run(["xz", "-9e", "-c", path], check=True, capture_output=True).stdout
    return len(out)


def receiver_with_old(work: str, name: str, old: str) -> tuple[Side, Side, str, float, int]:
    """A fresh pair whose receiver applied a first bundle of OLD: (hq, school, manifest, apply seconds, pages)."""
    hq, school = _sides(work, name)
    b1 = os.path.join(work, name, "b1.bundle")
    with open_dump(old) as d:
        made = make_bundle(hq, b1, EveryPage(d), siteinfo=d.siteinfo, source_name="old", files=d.files, latest_only=True)
    m1 = os.path.join(work, name, "m1.wbm")
    t = time.monotonic()
    apply_bundle(school, b1, manifest_out=m1)
    return hq, school, m1, time.monotonic() - t, made.counts.pages


def newest_texts(side: Side) -> dict[str, str]:
    store = side.store()
    try:
        return {ph.page.title: list(ph.revisions)[-1].sha1 for ph in store.pages()}
    finally:
        store.close()


def timed_update(hq_path: str, out: str, new: str, old: str, m1: str, scheduler: str | None):
    """(wall seconds, LatestStats, MakeResult, this process's peak RSS, its CPU seconds, seconds to import
    Dask's client): the update, timed; with a scheduler, Dask's client is imported first (as the cluster's
    start, not timed in: in-process work never imports it)."""
    st = LatestStats()
    t = time.monotonic()
    if scheduler:
        importlib.import_module("dask.distributed")
    import_s = time.monotonic() - t
    t, c = time.monotonic(), time.process_time()
    res = make_latest_update(Side.open(hq_path), out, new, old, workers=1, scheduler=scheduler, since=m1,
                             latest_only=True, stats=st)
    return time.monotonic() - t, st, res, peak_rss(), time.process_time() - c, import_s


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    import psutil

    return sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--changed", type=float, default=0.1, help="fraction of pages edited or made after the cut")
    ap.add_argument("--keep", help="keep the dumps and sides here")
    ap.add_argument("--rounds", type=int, default=3, help="time each way this many times (the best counts)")
    ap.add_argument("--copies", type=int, default=1,
                    help="repeat the two cuts this many times under other ids (more work to share between workers)")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="wb-latest-")
    os.makedirs(work, exist_ok=True)
    con = Console()
    t = time.monotonic()
    old, new = (os.path.join(work, f"{n}-multistream.xml.bz2") for n in ("old", "new"))
    if a.keep and os.path.exists(new) and os.path.exists(old):
        con.print(f"the cuts in {work} are used again")
    else:
        old, new, t_cut = cut(a.dump, work, a.changed)
        con.print(f"cut the corpus in {time.monotonic() - t:.0f}s at {time.strftime('%Y-%m-%d', time.gmtime(t_cut))}")
    if a.copies > 1 and not os.path.exists(os.path.join(work, f"new{a.copies}-multistream.xml.bz2")):
        for name in ("old", "new"):
            src = os.path.join(work, f"{name}-multistream.xml.bz2")
            dst = os.path.join(work, f"{name}{a.copies}-multistream.xml.bz2")
            replicate(src, dst, a.copies)
    if a.copies > 1:
        old, new = (os.path.join(work, f"{n}{a.copies}-multistream.xml.bz2") for n in ("old", "new"))
    xml_mb = _xml_size(new) / 1e6
    old_xml_mb = _xml_size(old) / 1e6
    want = {p.page.title: p.rev.sha1 for p in iter_pages(new, read_index(new))}

    import dask
    from dask.distributed import Client, LocalCluster

    # One receiver of OLD, copied for each way of making the update (each applies its own).
    hq, school, m1, apply1_s, pages1 = receiver_with_old(work, "r", old)
    modes = (("in-process (--workers 1)", 0), ("Dask, 1 worker", 1), ("Dask, 2 workers", 2))
    clusters, starts, worker_pids = {}, {}, {}
    for _label, n in modes:
        if n:
            t = time.monotonic()
            with dask.config.set(LOCAL_WORKER_CONFIG):  # as make's own local cluster (parallel._client)
                clusters[n] = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
            with Client(clusters[n]) as c:  # the workers import the code: part of starting them
                c.run(importlib.import_module, "bundler.latest")
                worker_pids[n] = list(c.run(os.getpid).values())
            starts[n] = time.monotonic() - t
    load = os.getloadavg()[0]
    walls: dict[int, list[float]] = {n: [] for _l, n in modes}
    cpus: dict[int, list[float]] = {n: [] for _l, n in modes}  # CPU seconds of the make process, the scheduler, the workers
    coord_cpus: dict[int, list[float]] = {n: [] for _l, n in modes}  # of the make process alone
    first: dict[int, tuple] = {}
    for rnd in range(a.rounds):  # rounds, each way in turn: the machine is shared, the best of each counts
        for _label, n in modes:
            out = os.path.join(work, f"b2-{n}-{rnd}.bundle")
            # In a fresh process, so that its peak memory is the update's alone.
            w0, m0 = _cpu_seconds(worker_pids.get(n, [])), time.process_time()  # (this process: the scheduler, the nannies)
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as ex:
                wall, st, res, coord_rss, coord_cpu, import_s = ex.submit(
                    timed_update, hq.path, out, new, old, m1, clusters[n].scheduler_address if n else None).result()
            if rnd == 0 and n:
                starts[n] += import_s
            walls[n].append(wall)
            cpus[n].append(coord_cpu + _cpu_seconds(worker_pids.get(n, [])) - w0 + (time.process_time() - m0 if n else 0.0))
            coord_cpus[n].append(coord_cpu)
            first.setdefault(n, (out, st, res, coord_rss))
    for c in clusters.values():
        c.close()
    runs = []
    for label, n in modes:
        out, st, res, coord_rss = first[n]
        copy = school.path + f"-{n}"
        shutil.copytree(school.path, copy)
        t = time.monotonic()
        apply_bundle(Side.open(copy), out)
        apply2_s = time.monotonic() - t
        ok = newest_texts(Side.open(copy)) == want
        runs.append((label, max(n, 1), min(walls[n]), starts.get(n, 0.0), st, res, apply1_s, pages1, apply2_s, ok,
                     coord_rss, walls[n], min(cpus[n])))

    # (c) a full latest-only bundle of NEW, for a receiver that holds nothing
    hq, _school = _sides(work, "full")
    with open_dump(new) as d:
        full = make_bundle(hq, os.path.join(work, "full", "full.bundle"), EveryPage(d), siteinfo=d.siteinfo, source_name="new",
                           files=d.files, latest_only=True)
    if a.copies > 1:
        # The copies repeat one cut's texts, which xz would find as repeats: xz of one copy's
        # changes, times the copies (the update's frames hold ~2 copies each: read sizes from a
        # run without --copies).
        one_old, one_new = (os.path.join(work, f"{n}-multistream.xml.bz2") for n in ("old", "new"))
        xz_changes = changes_xml_xz(one_old, one_new, work) * a.copies
    else:
        xz_changes = changes_xml_xz(old, new, work)
    new_bz2 = os.path.getsize(new)

    base = runs[0][2]
    copies = f", the cuts × {a.copies}" if a.copies > 1 else ""
    t = Table(title=f"latest-only update OLD→NEW{copies} ({len(want):,} pages, NEW {xml_mb:.1f} MB of XML, OLD {old_xml_mb:.1f} MB)")
    for col in ("run", "best wall s (each round)", "speed-up vs in-process", "CPU s (make + scheduler + workers)", "MB XML/s per worker",
                "peak RSS per worker", "peak RSS of make", "cluster start s (+ import)", "parts", "receiver = NEW"):
        t.add_column(col, justify="right" if col != "run" else "left")
    base_cpu = runs[0][12]
    for label, n, wall, start_s, st, res, _a1, _p1, _a2, ok, coord_rss, all_walls, cpu in runs:
        t.add_row(label, f"{wall:.2f} ({', '.join(f'{w:.1f}' for w in all_walls)})", f"{base / wall:.2f}×",
                  f"{cpu:.1f} ({cpu / base_cpu:.2f}×)", f"{xml_mb / wall / n:.2f}", f"{st.peak_rss / 1e6:.0f} MB",
                  f"{coord_rss / 1e6:.0f} MB", f"{start_s:.1f}" if start_s else "—", str(st.parts), "yes" if ok else "NO")
    con.print(t)
    con.print(f"load average: {load:.1f} when the timing began, {os.getloadavg()[0]:.1f} when it ended, on "
              f"{os.cpu_count()} cores (the machine is shared; CPU s: the best round's, less sensitive to the load than wall)")
    st2 = runs[2][4]
    con.print(f"the coordinator's serial part (2 workers): {st2.before_s:.2f}s before the partitions (basis, indexes, "
              f"the peer's view), {st2.after_s:.2f}s after (checks, header, signature, state commit)")
    d1 = next(r for r in runs if r[1] == 1 and r[3])
    d2 = next(r for r in runs if r[1] == 2)
    if st2.parts == 1:
        con.print("[yellow]one partition: make runs it in its own process whatever the workers (no cluster): the Dask "
                  "rows and the speed-up say nothing here; measure speed with --copies (e.g. 20)[/]")
    con.print(f"speed-up in-process (--workers 1) → 2 Dask workers: {base / d2[2]:.2f}× (goal ≥ 1.6×, checked ≥ 1.3×); "
              f"1 → 2 Dask workers: {d1[2] / d2[2]:.2f}×")

    res = runs[0][5]
    s = Table(title="update size (bytes) and the ratio of each baseline to it")
    s.add_column("what")
    s.add_column("bytes", justify="right")
    s.add_column("× the update", justify="right")
    c = res.counts
    s.add_row(f"the update (bundle: {c.revisions:,} texts, {c.moves} moves, {c.deletions} deletions)", f"{res.size:,}", "1.00")
    s.add_row("(a) NEW's multistream bz2", f"{new_bz2:,}", f"{new_bz2 / res.size:.1f}")
    s.add_row("(b) xz -9e of the changed and new pages' XML" + (f" (one copy's × {a.copies})" if a.copies > 1 else ""),
              f"{xz_changes:,}", f"{xz_changes / res.size:.2f}")
    s.add_row("(c) a full latest-only bundle of NEW (today, without --base)", f"{full.size:,}", f"{full.size / res.size:.1f}")
    con.print(s)

    apply1_s, pages1, apply2_s = runs[0][6], runs[0][7], runs[0][8]
    con.print(f"bundle apply into the embedded store: first bundle {pages1:,} pages in {apply1_s:.2f}s "
              f"({pages1 / apply1_s:,.0f} pages/s); the update {c.pages:,} pages in {apply2_s:.2f}s "
              f"({c.pages / apply2_s:,.0f} pages/s)")

    rate = xml_mb / runs[0][2]  # MB of NEW's XML per second, one worker (OLD is read too)
    eff = (base / d2[2]) / 2  # against in-process work
    one = ENWIKI_XML_MB / rate / 3600
    need = ENWIKI_XML_MB / (rate * 3600 * max(eff, 0.01))
    # The coordinator (one process, whatever the workers) ships the view rows and records
    # the state: its CPU per page read, with 2 workers, bounds how many workers it can feed.
    coord = "the coordinator's own CPU: n/a with one partition"
    if st2.parts > 1:
        coord_h = min(coord_cpus[2]) / d2[4].pages_read * ENWIKI_PAGES / 3600
        coord = (f"the coordinator's own CPU ({min(coord_cpus[2]):.2f}s for {d2[4].pages_read:,} pages here) would be "
                 f"{coord_h:.2f} h for {ENWIKI_PAGES:,} pages"
                 f"{' (under the hour)' if coord_h < 1 else ' (over the hour: it limits the workers)'}")
    con.print(f"projection, English Wikipedia (~{ENWIKI_XML_MB / 1000:.0f} GB XML, ~{ENWIKI_PAGES / 1e6:.0f} M articles): "
              f"{rate:.2f} MB/s per worker → {one:.1f} h on one worker; at the measured 2-worker efficiency against "
              f"in-process ({eff:.0%}), about {need:.0f} workers for one hour; {coord}.")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
