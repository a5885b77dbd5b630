"""Memory does not grow with a page's history: make, import and apply on one long page.

The page (tests/long_history.py) is real article text with a real edit per revision:
1,200 revisions, ~19 KB each, ~22 M characters in all. The thresholds at which a
history leaves memory (the dump reader's ``SPILL_BYTES``, make's ``SPOOL_BYTES``) and a
frame is closed (``FRAME_TARGET_RAW``) are scaled down from 64, 32 and 8 MB to 1 MB, so
this CI-sized page is "huge" to the code under test; each command's peak of Python allocations (tracemalloc) must then stay a
small fraction of the history's text. (Peak RSS on a 1 GB history, before and after:
benchmarks/memory.py.)
"""

from __future__ import annotations

import os
import tracemalloc
from dataclasses import dataclass

import pytest

import long_history
from bundler import history as history_mod
from bundler import fill as fill_mod
from bundler import records
from bundler.container import BundleReader
from bundler.history import SpooledHistory, history_of
from bundler.importer import import_dump
from bundler.model import Revision
from bundler.sources import dump as dump_mod
from helpers import dump_history, new_pair, store_history

N = 1200
SECTIONS = 2
SPILL = 1 << 20


def scale_down(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(history_mod, "SPOOL_BYTES", SPILL)
    mp.setattr(dump_mod, "SPILL_BYTES", SPILL)
    mp.setattr(records, "FRAME_TARGET_RAW", SPILL)


def peak(fn):
    """fn()'s result and the peak of Python allocations while it ran."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def read_dump(path: str) -> int:
    n = 0
    with dump_mod.open_dump(path) as d:
        for ph in d:
            for _rev in ph.revisions:
                n += 1
    return n


@dataclass(frozen=True)
class LongDump:
    path: str
    chars: int  # characters of text in the whole history
    read_peak: int  # what merely reading the dump takes (the reader's own buffers)


@pytest.fixture(scope="module")
def long_dump(tmp_path_factory) -> LongDump:
    path = str(tmp_path_factory.mktemp("long") / "long.xml")
    chars = long_history.write_dump(path, N, SECTIONS)
    with pytest.MonkeyPatch.context() as mp:
        scale_down(mp)
        n, read_peak = peak(lambda: read_dump(path))
    assert n == N
    return LongDump(path, chars, read_peak)


@pytest.fixture
def small_spill(monkeypatch) -> None:
    scale_down(monkeypatch)


# Holding the history in memory, as make and import did, takes more than all of its
# text. What may be held instead: a frame under construction (scaled down to 1 MB),
# a revision's text or two and the delta's working lists (measured: ~4 MB here).
def limit(d: LongDump) -> int:
    return d.chars // 3


def limit_reading(d: LongDump) -> int:
    """For commands that read the dump: on top of what reading it takes."""
    return d.read_peak + d.chars // 10


def ppmd_model(side, path: str) -> int:
    """The largest PPMd model a frame of the bundle declares (0: none): allocated whole by
    make's encoder and apply's priming encoder, one frame at a time. It is bounded by the
    frame's size (48 bytes a byte, coder.memory_for) and by coder.MAX_MEM, never by the
    history; the limits above are for everything else."""
    with BundleReader(path) as r:
        r.verify(side.state.peer_by_key_id)
        return max((fr.meta.get("mem", 0) for fr in r.frames()), default=0)


def test_make_from_dump_and_apply_stay_flat(tmp_path, long_dump, small_spill):
    pair = new_pair(str(tmp_path))
    made, make_peak = peak(lambda: pair.make(long_dump.path, "b1.bundle"))
    assert made.counts.revisions == N
    applied, apply_peak = peak(lambda: pair.apply(made.path))
    assert applied.revisions_added == N
    print(f"text {long_dump.chars / 1e6:.1f} M chars; peak reading {long_dump.read_peak / 1e6:.1f} MB,"
          f" make {make_peak / 1e6:.1f} MB, apply {apply_peak / 1e6:.1f} MB")
    model = ppmd_model(pair.school, made.path)
    assert make_peak < limit_reading(long_dump) + model
    assert apply_peak < limit(long_dump) + model
    assert store_history(pair.school) == dump_history(long_dump.path)


def test_import_and_make_from_store_stay_flat(tmp_path, long_dump, small_spill):
    pair = new_pair(str(tmp_path))

    def do_import():
        store = pair.hq.store()
        try:
            return import_dump(store, long_dump.path)
        finally:
            store.close()

    imported, import_peak = peak(do_import)
    assert imported.revisions_added == N
    made, make_peak = peak(lambda: pair.make(None, "b1.bundle"))
    print(f"text {long_dump.chars / 1e6:.1f} M chars; peak import {import_peak / 1e6:.1f} MB, make {make_peak / 1e6:.1f} MB")
    assert import_peak < limit_reading(long_dump)
    assert make_peak < limit(long_dump) + ppmd_model(pair.school, made.path)
    pair.apply(made.path)
    assert store_history(pair.school) == dump_history(long_dump.path)


def test_max_size_keeps_the_oldest_revisions_that_fit(tmp_path, long_dump, small_spill, monkeypatch):
    """Under --max-size the page's oldest revisions go; with the kept delta operations
    capped low, they are computed again for the frame, and the bundle is the same."""
    counts = []
    for held in (fill_mod.HELD_OPS_COST, 64 << 10):
        monkeypatch.setattr(fill_mod, "HELD_OPS_COST", held)
        pair = new_pair(str(tmp_path / str(held)))
        made = pair.make(long_dump.path, "b1.bundle", max_size=200_000)
        assert 0 < made.counts.revisions < N and made.deferred == 1
        pair.apply(made.path)
        got = store_history(pair.school)["Histoire longue"]
        assert got == dump_history(long_dump.path)["Histoire longue"][: len(got)]  # a prefix: nothing without its parent
        counts.append((made.counts, made.size))
    assert counts[0] == counts[1]


def test_spooled_history_reads_again_from_disk(tmp_path):
    revs = list(long_history.revisions(40, sections=1))
    mem = SpooledHistory(iter(revs), limit=1 << 30)
    disk = SpooledHistory(iter(revs), limit=100_000)
    assert not mem.spilled and disk.spilled
    for h in (mem, disk):
        assert list(h) == revs and list(h) == revs  # read twice
        assert [(r.rev_id, r.sha1, r.timestamp, r.comment) for r in h.meta()] == [
            (r.rev_id, r.sha1, r.timestamp, r.comment) for r in revs
        ]
        h.close()
    until = revs[9].timestamp
    assert list(history_of(iter(revs), until=until)) == revs[:10]
    hidden = Revision(rev_id=revs[0].rev_id, page_id=revs[0].page_id, timestamp=1, text=None, sha1="0" * 40)
    assert list(SpooledHistory(iter([hidden]), limit=0)) == [hidden]


def test_long_history_is_real_edits():
    """The generated page differs at every revision and holds reverts to an earlier text."""
    revs = list(long_history.revisions(205, sections=1))
    sha1s = [r.sha1 for r in revs]
    assert all(a != b for a, b in zip(sha1s, sha1s[1:]))
    assert sha1s[100] == sha1s[98] and sha1s[201] == sha1s[199]  # vandalism reverted
    assert len(set(sha1s)) == len(sha1s) - 2
    assert os.path.exists(long_history.FRWIKI)
