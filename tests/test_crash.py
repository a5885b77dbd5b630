"""Nothing lost, nobody in: the real ``bundle`` command killed (SIGKILL) at many
points, and two commands racing for one side.

``bundle apply`` on a real 30-frame delta bundle is killed after measured
fractions of an uninterrupted run (plus at 0 and near the end); after each kill
the store is either untouched or wholly applied (never half), and a second run
finishes the job: the store then equals the store of an uninterrupted apply, the
sync state records the same bundles, and the signed manifest is there.
``bundle make`` is killed the same way: no half-written bundle appears under the
output name, no temporary file is left behind, and a re-run makes a valid bundle.

No fault-injection hook in the library: the kills are real signals sent to the
real command from outside, at times derived from measured run times.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from bundler import delta, records
from bundler.apply import ApplyResult, _import, check_bundle
from bundler.container import BundleReader
from bundler.manifest import read_manifest
from bundler.model import parse_timestamp
from bundler.state import Side
from bundler.targets import open_target
from helpers import data, new_pair, record_counts, store_digest

CLI = [sys.executable, "-m", "bundler"]
ENV = {**os.environ, "WIKIBUNDLE_NO_PROGRESS": "1"}
DUMP = data("eslagunanegra-pages-full.xml.xz")  # 972 pages, 3,529 revisions
SPLIT = "2010-06-30T00:00:00Z"  # bundle 1: the first 548 revisions; bundle 2 (killed): the other 2,981
N_APPLY_KILLS = 15
N_MAKE_KILLS = 6
TEMP_PREFIX = ".wikibundle-"


def kill_after(args: list[str], delay: float) -> int:
    """Run ``args``; SIGKILL it after ``delay`` seconds unless it ended. Its return code (-9: killed)."""
    p = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return p.wait(timeout=delay) if delay > 0 else _kill(p)
    except subprocess.TimeoutExpired:
        return _kill(p)


def _kill(p: subprocess.Popen) -> int:
    p.send_signal(signal.SIGKILL)
    return p.wait()


def timed(args: list[str]) -> float:
    t0 = time.monotonic()
    r = subprocess.run(args, env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return time.monotonic() - t0


def received_rows(side_dir: str) -> list[tuple]:
    """What the side recorded as applied (without the wall-clock ``applied`` column)."""
    db = sqlite3.connect(f"file:{os.path.join(side_dir, 'state.sqlite')}?mode=ro", uri=True)
    try:
        return db.execute("SELECT sender, seq, hex(checkpoint), basis_seq, sha256 FROM received ORDER BY sender, seq").fetchall()
    finally:
        db.close()


def integrity_ok(path: str) -> bool:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


def kill_delays(total: float, startup: float, n: int) -> list[float]:
    """Deterministic kill schedule: at 0, once during interpreter start-up, ``n - 4``
    points evenly over the rest of the run (where the work is), and two near the end."""
    work = [startup + (total - startup) * (i + 0.5) / (n - 4) for i in range(n - 4)]
    return [0.0, startup / 2, *work, total * 0.97, total * 0.995]


@dataclass
class Series:
    """A school that applied bundle 1, bundle 2 (30 frames) for it, and the result of applying it."""

    tmp: str
    hq: Side
    pristine: str  # the school's state directory before bundle 2 (the wiki store lives inside)
    bundle: str
    frames: int
    before: str  # store digest before bundle 2
    after: str  # store digest after an uninterrupted apply of bundle 2
    rows_before: list[tuple]
    rows_after: list[tuple]
    seconds: float  # one uninterrupted `bundle apply`
    startup: float  # `bundle --help`: interpreter and imports

    def copy(self, name: str) -> str:
        d = os.path.join(self.tmp, name)
        shutil.copytree(self.pristine, d)
        return d

    def apply_args(self, side_dir: str, manifest: str) -> list[str]:
        return CLI + ["apply", "-C", side_dir, self.bundle, "--manifest-out", manifest]


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Series:
    tmp = str(tmp_path_factory.mktemp("crash"))
    pair = new_pair(tmp)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(records, "FRAME_TARGET_RAW", 32 << 10)  # many small frames instead of two large ones
        # The make step is not under test: skip the (slow) word-level refinement of deltas.
        mp.setattr(delta, "MAX_MATCH_TOKENS", 0, raising=False)
        pair.carry(DUMP, 1, until=parse_timestamp(SPLIT))
        made = pair.make(DUMP, "b2.bundle", since=os.path.join(tmp, "m1.wbm"))
    assert made.counts.frames >= 20 and made.counts.revisions > 2500
    pair.school.state.db.close()  # the copies below must not share a live connection
    pristine = os.path.join(tmp, "school-pristine")
    shutil.copytree(pair.school.path, pristine)
    config = os.path.join(pristine, "config.json")
    with open(config) as f:
        cfg = json.load(f)
    assert os.path.dirname(cfg["wiki"]) == pair.school.path  # the store lives in the side's directory:
    cfg["wiki"] = "wiki.sqlite"  # name it relative to it, so that each copy has its own
    with open(config, "w") as f:
        json.dump(cfg, f)
    s = Series(tmp, pair.hq, pristine, made.path, made.counts.frames, "", "", [], [], 0.0, 0.0)
    s.before, s.rows_before = store_digest(Side.open(pristine)), received_rows(pristine)
    s.startup = timed(CLI + ["--help"])
    # The kill schedule is spread over one apply's time: the faster of two runs, so a
    # first run slowed by cold caches or a busy machine does not push every kill past
    # the work (then most kills land after the apply finished).
    warm = s.copy("school-warm")
    ref = s.copy("school-ref")
    s.seconds = min(timed(s.apply_args(warm, os.path.join(tmp, "warm.wbm"))),
                    timed(s.apply_args(ref, os.path.join(tmp, "ref.wbm"))))
    s.startup = min(s.startup, timed(CLI + ["--help"]))
    s.after, s.rows_after = store_digest(Side.open(ref)), received_rows(ref)
    assert s.after != s.before and len(s.rows_after) == len(s.rows_before) + 1
    return s


def check_applied(s: Series, side_dir: str, manifest: str) -> None:
    """The side holds exactly what an uninterrupted apply gives, and says so in its manifest."""
    assert store_digest(Side.open(side_dir)) == s.after
    assert received_rows(side_dir) == s.rows_after
    m, _key = read_manifest(manifest, s.hq.state.peer_by_key_id)
    assert (m.seq, m.checkpoint.hex().upper()) == s.rows_after[-1][1:3]
    assert not os.path.exists(manifest + ".tmp")
    assert integrity_ok(os.path.join(side_dir, "wiki.sqlite")) and integrity_ok(os.path.join(side_dir, "state.sqlite"))


def test_apply_killed_at_many_points_then_rerun_equals_an_uninterrupted_apply(series):
    s = series
    delays = kill_delays(s.seconds, s.startup, N_APPLY_KILLS)
    outcomes: dict[str, int] = {}
    runs = []
    for i, delay in enumerate(delays):
        side_dir, manifest = s.copy(f"school-kill-{i}"), os.path.join(s.tmp, f"kill-{i}.wbm")
        code = kill_after(s.apply_args(side_dir, manifest), delay)
        # Right after the kill: all or nothing, and the state is never ahead of the store.
        store, rows = store_digest(Side.open(side_dir)), received_rows(side_dir)
        assert store in (s.before, s.after), f"kill {i} at {delay:.3f}s left a half-applied store"
        assert rows in (s.rows_before, s.rows_after), f"kill {i}: state rows {rows}"
        assert rows == s.rows_before or store == s.after, f"kill {i}: bundle recorded, store not changed"
        assert not os.path.exists(manifest) or rows == s.rows_after, f"kill {i}: manifest before the state"
        if code == 0:
            kind = "finished before the kill"
        elif store == s.before:
            kind = "killed before the store commit"
        elif rows == s.rows_before:
            kind = "killed between store commit and state record"
        elif not os.path.exists(manifest):
            kind = "killed before the manifest was written"
        else:
            kind = "killed after the manifest was written"
        outcomes[kind] = outcomes.get(kind, 0) + 1
        runs.append((side_dir, manifest))
    # Re-run every killed side to completion (two at a time: the kills above ran alone).
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda r: subprocess.run(s.apply_args(*r), env=ENV, capture_output=True, text=True), runs))
    for (side_dir, manifest), r in zip(runs, results):
        assert r.returncode == 0, (side_dir, r.stdout, r.stderr)
        check_applied(s, side_dir, manifest)
    assert outcomes.get("killed before the store commit", 0) >= N_APPLY_KILLS // 3, outcomes
    record_counts("apply killed (SIGKILL)", outcomes)


def test_crash_between_store_commit_and_state_record_is_completed_by_a_rerun(series):
    """The one window two commits leave (store committed, bundle not recorded),
    reached deterministically: a re-run applies the bundle again, which changes
    nothing in the store, and records it."""
    s = series
    side_dir, manifest = s.copy("school-window"), os.path.join(s.tmp, "window.wbm")
    side = Side.open(side_dir)
    store = open_target(side)
    with BundleReader(s.bundle) as reader:
        assert check_bundle(side, reader) is None
        _import(side, store, reader, ApplyResult(reader.header), None)
    store.close()
    side.state.db.close()
    assert store_digest(Side.open(side_dir)) == s.after and received_rows(side_dir) == s.rows_before
    r = subprocess.run(s.apply_args(side_dir, manifest), env=ENV, capture_output=True, text=True)
    assert r.returncode == 0 and "Applied bundle 2" in r.stdout, (r.stdout, r.stderr)
    check_applied(s, side_dir, manifest)
    record_counts("crash between the two commits (simulated)", {"rerun completed it": 1})


def test_two_applies_at_once_apply_the_bundle_exactly_once(series):
    s = series
    for n, stagger in enumerate((0.0, s.startup + (s.seconds - s.startup) / 3)):
        side_dir = s.copy(f"school-race-{n}")
        args = [s.apply_args(side_dir, os.path.join(s.tmp, f"race-{n}-{k}.wbm")) + ["--json"] for k in (0, 1)]
        first = subprocess.Popen(args[0], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(stagger)
        second = subprocess.Popen(args[1], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outs = [p.communicate(timeout=60) for p in (first, second)]
        codes = sorted(p.returncode for p in (first, second))
        assert codes in ([0, 0], [0, 4]), (codes, outs)
        done = [json.loads(o) for (o, e), p in zip(outs, (first, second)) if p.returncode == 0]
        assert [d["already_applied"] for d in done].count(False) == 1, done  # applied exactly once
        for (o, e), p in zip(outs, (first, second)):
            if p.returncode == 4:
                assert "another wikibundle command" in e
        assert store_digest(Side.open(side_dir)) == s.after and received_rows(side_dir) == s.rows_after
        assert integrity_ok(os.path.join(side_dir, "wiki.sqlite")) and integrity_ok(os.path.join(side_dir, "state.sqlite"))
        record_counts("two applies at once", {f"exit codes {codes[0]} and {codes[1]}": 1})


def temp_files(d: str) -> list[str]:
    return sorted(f for f in os.listdir(d) if f.startswith(TEMP_PREFIX))


def test_make_killed_at_many_points_leaves_no_half_bundle_and_no_temp_files(tmp_path):
    pair = new_pair(str(tmp_path))
    for side in (pair.hq, pair.school):
        side.state.db.close()
    usb = tmp_path / "usb"
    usb.mkdir()
    out = str(usb / "update.bundle")

    def make_args(path: str) -> list[str]:
        # --latest-only: 972 texts, no deltas to compute, so the run is mostly writing the bundle
        return CLI + ["make", "-C", pair.hq.path, "--from", DUMP, "--latest-only", "--out", path]

    seconds = timed(make_args(str(usb / "measure.bundle")))  # bundle 1; the killed ones would be 2
    os.unlink(usb / "measure.bundle")
    startup = timed(CLI + ["--help"])
    school = Side.open(pair.school.path)
    outcomes: dict[str, int] = {}
    most_temp = 0
    for i, delay in enumerate(kill_delays(seconds, startup, N_MAKE_KILLS)):
        code = kill_after(make_args(out), delay)
        # A kill leaves at most the killed run's own temporary file, which the next run sweeps.
        left = temp_files(str(usb))
        assert len(left) <= 1, f"kill {i} at {delay:.3f}s: temporary files pile up: {left}"
        most_temp = max(most_temp, len(left))
        if os.path.exists(out):  # only ever a whole, signed bundle (written under a temporary name, then renamed)
            with BundleReader(out) as r:
                r.verify(school.state.peer_by_key_id)
            kind = "finished before the kill" if code == 0 else "killed after the bundle was renamed into place"
        else:
            kind = "killed before the bundle existed"
        outcomes[kind] = outcomes.get(kind, 0) + 1
    r = subprocess.run(make_args(out) + ["--json"], env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert temp_files(str(usb)) == []
    res = subprocess.run(CLI + ["apply", "-C", pair.school.path, out], env=ENV, capture_output=True, text=True)
    assert res.returncode == 0 and "972 revisions added" in res.stdout, (res.stdout, res.stderr)
    assert integrity_ok(os.path.join(pair.hq.path, "state.sqlite"))
    assert outcomes.get("killed before the bundle existed", 0) >= N_MAKE_KILLS // 2, outcomes
    record_counts("make killed (SIGKILL)", {**outcomes, "most temporary files seen after a kill": most_temp})
