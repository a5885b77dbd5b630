"""How many bytes it takes to carry the new part of a wiki's history, against named baselines.

The question a bundle answers: wiki A and wiki B both hold a history up to some time T;
A has since gained more revisions. How many bytes must travel (USB stick, e-mail) so that
B has them too? This script takes a real full-history dump, cuts it at T, and measures
every way of carrying "the rest" that people use today, beside two information-theoretic
references.

The cut
-------
Pass 1 streams the dump and keeps only one integer per revision (its timestamp). For each
``q``, sorting them gives ``T = ts[⌈q·N⌉]`` (0-based, clamped to [1, N-1]): *old* is every
revision with ``timestamp < T``, *new* is the rest. Ties at T all fall on the new side, so
the old fraction can be a little under ``q``; the table prints the actual counts.

Pass 2 streams the dump again, one page at a time, and writes through ``bundler.export``
(so all three files have exactly the same formatting)::

    new.xml     every revision: the full dump, as our XML writer writes it
    old.xml     per q: the revisions with timestamp < T; pages without one are omitted
    delta.xml   per q: only the revisions with timestamp >= T (Special:Export style:
                a page appears with just its new revisions)

Every page keeps its current title and redirect in all three files (a dump does not say
what a page was called at T). Non-main MCR slots are written (the Commons sample has a
``mediainfo`` slot); uploads are not.

The rows (bytes of the new part)
--------------------------------
1  ``xz -9e new.xml``: the whole new dump, what people mail around today.
2  ``xz -9e delta.xml`` and ``zstd -19 delta.xml``: an incremental Special:Export of the
   new revisions, compressed on its own (the receiver's copy of the old history is not used).
3  ``zstd --patch-from=old.xml new.xml --ultra -22 --long=31``: a binary patch from the
   old dump to the new one. Its wall time is the *time baseline* of the table.
4  ``git bundle``: a git repository with one commit per revision, in global
   ``(timestamp, rev_id)`` order; one file per page, named by ``page_id``, holding the
   revision text; author and date from the revision (``Name <Name@dbname>``, UTC), the
   message is the edit comment plus a ``rev_id: N`` line (so the bundle carries what
   identifies a MediaWiki revision). Built in one ``git fast-import`` stream; the size is
   ``git bundle create b.bundle main ^<old tip>`` with git's defaults (a thin pack made by
   pack-objects; no gc or repack beforehand), where ``<old tip>`` is the commit of the last
   revision with ``timestamp < T``.
5  The conditional references: how many bytes a compressor needs for ``delta.xml`` once it
   has already seen ``old.xml``::

       cond_C = |C(old.xml ‖ delta.xml)| − |C(old.xml)|

   where ``‖`` is plain byte concatenation (``cat old.xml delta.xml``, no tar header) and C
   is ``xz -9e`` (5-xz) or ``zstd --ultra -22 --long=31`` (5-zstd). It estimates
   ``K(delta | old)``, what an ideal sender would send to a receiver that holds old.xml. It
   is only as good as the compressor's window: xz -9e sees the last 64 MiB, zstd --long=31
   the last 2 GiB; the table's reference is the smaller (better) of the two, and every
   ratio ``×r`` in a cell is ``bytes / min(5-xz, 5-zstd)``.
6  ``bundle make``: this project. Two sides A and B are initialised and trust each other,
   A makes a bundle from old.xml, B applies it and writes manifest m1, then A makes
   ``b2.bundle`` from new.xml ``--since m1`` (full history, and ``--latest-only`` from a
   copy of A's state taken before). The size of b2 and the wall time of that make are
   measured; the time row is ``make / patch-from``. When ``python -m bundler --help`` does
   not run, the rows read "n/a (bundle CLI missing)". Beside it, the same make with the
   frame coder forced to zstd (``WIKIBUNDLE_CODER=zstd``, from another copy of A's state):
   the coder before PPMd (BUNDLE.md §Coder ppmd7-primed), so the gain is side by side; and
   the same make without the primer (``WIKIBUNDLE_PRIMER=0``, BUNDLE.md §Primer).
7  Decoding b2 on B: every records frame of the full-history b2 decoded against B's store,
   timed per coder. For PPMd frames: *priming* (encoding the dictionary D to get the
   prefix P) in MB/s of D, *decoding* (P ‖ body to D ‖ R, the check of D, re-encoding R)
   in MB/s of D + R, and the *payload* rate, raw_len over both; zstd frames in MB/s of
   raw_len. Wall time in this process, one core.

Settings that matter: xz and zstd run single-threaded (``-T1``): multi-threaded xz cuts
the input into independent blocks and would be a different baseline. zstd reads stdin with
``--stream-size`` so it picks the same parameters as for a file. The compressors run on a
pool of ``--jobs`` workers (default: one per core); each job is a single-threaded process,
so patch-from's wall time is that of one core, shared memory bandwidth aside (its CPU time
is recorded beside it). ``bundle make`` runs alone, after the pool.

Usage: ``python benchmarks/sizes.py DUMP [DUMP...] [--q 0.9 --q 0.99] [--json OUT] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import array
import bisect
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bundler.export import XmlWriter  # noqa: E402
from bundler.model import format_timestamp  # noqa: E402
from bundler.sources.dump import open_dump  # noqa: E402

XZ = ["xz", "-9e", "-T1", "-c"]
ZSTD_19 = ["zstd", "-19", "-T1", "-q", "-c"]
ZSTD_22 = ["zstd", "--ultra", "-22", "--long=31", "-T1", "-q", "-c"]
# Throughput guesses (bytes/s, this machine) only to start the longest jobs first.
_SPEED = {"xz": 1.5e6, "zstd22": 0.5e6, "zstd19": 3e6, "git": 20e6}

# Row key -> label, in table order. The keys are the JSON's.
METHODS: dict[str, str] = {
    "new_xz": "1  xz -9e new.xml (whole dump)",
    "delta_xz": "2  xz -9e delta.xml",
    "delta_zstd19": "2  zstd -19 delta.xml",
    "patch_from": "3  zstd --patch-from old→new -22 --long=31",
    "git_bundle": "4  git bundle (1 commit/revision)",
    "cond_xz": "5  cond. reference, xz -9e",
    "cond_zstd": "5  cond. reference, zstd -22 --long=31",
    "bundle_full": "6  bundle make (full history)",
    "bundle_latest": "6  bundle make --latest-only",
    "bundle_full_zstd": "6  bundle make, zstd coder forced",
    "bundle_full_noprimer": "6  bundle make, no primer",
    "bundle_full_nocross": "6  bundle make, no cross-page bases",
    "bundle_latest_nocross": "6  --latest-only, no cross-page bases",
}
# Rows made with WIKIBUNDLE_CROSS_PAGE=0 (bundler/similar.py switched off): the same make
# without bases or context from other pages, from a copy of the side's state.
NO_CROSS = {"bundle_full_nocross": "bundle_full", "bundle_latest_nocross": "bundle_latest"}

console = Console(width=None if sys.stdout.isatty() else 150)
log = Console(stderr=True, width=None if sys.stderr.isatty() else 150)


class ToolMissing(SystemExit):
    pass


def check_tools() -> dict[str, str]:
    """The external programs the rows need, with their versions; exit if one is missing."""
    versions = {}
    for tool, args in (("xz", ["--version"]), ("zstd", ["--version"]), ("git", ["--version"]), ("cat", ["--version"])):
        if shutil.which(tool) is None:
            raise ToolMissing(
                f"sizes.py: '{tool}' is not on PATH; the benchmark needs xz, zstd (>= 1.4.5, for "
                f"--patch-from) and git. Install them (Debian: apt-get install xz-utils zstd git)."
            )
        out = subprocess.run([tool, *args], capture_output=True, text=True).stdout
        versions[tool] = out.splitlines()[0].strip() if out else "?"
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", versions["zstd"])
    if m and tuple(map(int, m.groups())) < (1, 4, 5):
        raise ToolMissing(f"sizes.py: zstd {m.group(0)} has no --patch-from; need zstd >= 1.4.5.")
    return versions


# --- the cut ---------------------------------------------------------------------------


@dataclass
class Cut:
    q: float
    T: int  # old = timestamp < T
    n_old: int
    n_new: int


def find_cuts(dump: str, qs: list[float]) -> tuple[list[Cut], int, int]:
    """Pass 1: one int per revision, no text kept. Returns the cuts, revisions and pages."""
    stamps = array.array("q")
    pages = 0
    with open_dump(dump) as d:
        for ph in d:
            pages += 1
            stamps.extend(r.timestamp for r in ph.revisions)
    ordered = sorted(stamps)
    del stamps
    n = len(ordered)
    if n < 2:
        raise SystemExit(f"sizes.py: {dump} has {n} revision(s); a cut needs at least 2.")
    cuts = []
    for q in qs:
        k = min(max(math.ceil(q * n), 1), n - 1)
        T = ordered[k]
        n_old = bisect.bisect_left(ordered, T)
        cuts.append(Cut(q, T, n_old, n - n_old))
    return cuts, n, pages


# --- pass 2: the XML files and the git history ----------------------------------------


def _qdir(work: Path, q: float) -> Path:
    return work / f"q{q:g}"


class GitHistory:
    """One ``git fast-import`` stream: blobs while the dump streams, commits at the end.

    Blobs are written page by page in history order, so fast-import stores each as a delta
    against the previous revision of the same page. Commits need global time order, which
    the dump does not have; their metadata waits in a SQLite table until the dump is read.
    """

    def __init__(self, repo: Path, dbname: str):
        self.repo = repo
        self.wiki = _git_ident(dbname or "wiki").replace(" ", "_") or "wiki"
        subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True, env=_git_env())
        self.db = sqlite3.connect(str(repo.parent / "git-revisions.sqlite"))
        self.db.execute("CREATE TABLE r (ts INTEGER, rev_id INTEGER, page_id INTEGER, blob INTEGER, user TEXT, comment TEXT)")
        self.proc = subprocess.Popen(
            ["git", "-C", str(repo), "fast-import", "--quiet", "--done"],
            stdin=subprocess.PIPE,
            env=_git_env(),
            bufsize=1 << 20,
        )
        self.blobs = 0

    def page(self, revisions) -> None:
        w = self.proc.stdin.write  # type: ignore[union-attr]
        rows = []
        for r in revisions:
            self.blobs += 1
            data = (r.text or "").encode("utf-8")
            w(b"blob\nmark :%d\ndata %d\n" % (self.blobs, len(data)))
            w(data)
            w(b"\n")
            rows.append((r.timestamp, r.rev_id, r.page_id, self.blobs, r.user, r.comment))
        self.db.executemany("INSERT INTO r VALUES (?,?,?,?,?,?)", rows)

    def finish(self, cuts: list[Cut]) -> dict[float, str | None]:
        """Write the commits in (timestamp, rev_id) order; tag each cut's old tip."""
        w = self.proc.stdin.write  # type: ignore[union-attr]
        first_commit = self.blobs + 1
        n = 0
        for ts, rev_id, page_id, blob, user, comment in self.db.execute(
            "SELECT ts, rev_id, page_id, blob, user, comment FROM r ORDER BY ts, rev_id"
        ):
            name = _git_ident(user or "") or "unknown"
            ident = b"%s <%s@%s> %d +0000" % (name.encode(), name.replace(" ", "_").encode(), self.wiki.encode(), ts)
            msg = ((comment or "") + f"\n\nrev_id: {rev_id}\n").lstrip("\n").encode("utf-8")
            w(b"commit refs/heads/main\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n" % (first_commit + n, ident, ident, len(msg)))
            w(msg)
            w(b"M 100644 :%d %d\n\n" % (blob, page_id))
            n += 1
        tips: dict[float, str | None] = {}
        for cut in cuts:
            if cut.n_old == 0:
                tips[cut.q] = None
                continue
            tag = f"refs/tags/old-q{cut.q:g}"
            w(b"reset %s\nfrom :%d\n\n" % (tag.encode(), first_commit + cut.n_old - 1))
            tips[cut.q] = tag
        w(b"done\n")
        self.proc.stdin.close()  # type: ignore[union-attr]
        if self.proc.wait() != 0:
            raise SystemExit(f"sizes.py: git fast-import failed (exit {self.proc.returncode})")
        self.db.close()
        return tips


def _git_ident(s: str) -> str:
    # fast-import refuses <, > and newlines in a name.
    return re.sub(r"[<>\n\r\x00]", "", s).strip()


def _git_env() -> dict[str, str]:
    # No user or system config: the sizes must not depend on who runs the benchmark.
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    env.pop("GIT_DIR", None)
    return env


class _DropRevisionSha1:
    """A text sink that leaves out each revision's ``<sha1>`` line.

    The sha1 is derived from the text, so a receiver can recompute it (MediaWiki's importer
    does), yet it costs every compressor ~20 incompressible bytes per revision: on the
    eslagunanegra dump, a quarter of the conditional reference. Leaving it out measures
    the baselines at their best. Relies on ``XmlWriter`` writing that line in one call.
    """

    def __init__(self, out):
        self.out = out
        self.dropped = 0

    def write(self, s: str) -> int:
        if s.startswith("      <sha1"):
            self.dropped += 1
            return len(s)
        return self.out.write(s)


def write_inputs(dump: str, work: Path, cuts: list[Cut], keep_sha1: bool) -> tuple[dict[float, str | None], int]:
    """Pass 2: new.xml, old.xml and delta.xml per cut, and the git repository."""
    files = []
    sinks = []

    def open_xml(path: Path, siteinfo) -> XmlWriter:
        f = open(path, "w", encoding="utf-8", newline="")
        files.append(f)
        if keep_sha1:
            return XmlWriter(f, siteinfo)
        sinks.append(_DropRevisionSha1(f))
        return XmlWriter(sinks[-1], siteinfo)  # type: ignore[arg-type]

    with open_dump(dump) as d:
        new_w = open_xml(work / "new.xml", d.siteinfo)
        old_w, delta_w = {}, {}
        for cut in cuts:
            _qdir(work, cut.q).mkdir(exist_ok=True)
            old_w[cut.q] = open_xml(_qdir(work, cut.q) / "old.xml", d.siteinfo)
            delta_w[cut.q] = open_xml(_qdir(work, cut.q) / "delta.xml", d.siteinfo)
        git = GitHistory(work / "git", d.siteinfo.dbname)
        for ph in d:
            # One page's history is already in memory in the dump reader (it sorts it);
            # the list lets five writers and git read it without a second parse.
            revs = list(ph.revisions)
            new_w.page(ph.page, revs)
            for cut in cuts:
                # revisions come in (timestamp, rev_id) order: old is a prefix
                i = bisect.bisect_left([r.timestamp for r in revs], cut.T)
                if i:
                    old_w[cut.q].page(ph.page, revs[:i])
                if i < len(revs):
                    delta_w[cut.q].page(ph.page, revs[i:])
            git.page(revs)
        for w in [new_w, *old_w.values(), *delta_w.values()]:
            w.close()
    for f in files:
        f.close()
    return git.finish(cuts), sum(x.dropped for x in sinks)


# --- measurements -----------------------------------------------------------------------


@dataclass
class Measure:
    bytes: int | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    note: str = ""  # why there is no number


@dataclass
class Job:
    key: str
    q: float
    argv: list[str]
    out: Path
    stdin_files: list[Path] = field(default_factory=list)  # concatenated with cat
    cost: float = 0.0
    cwd: Path | None = None
    result: Path | None = None  # the file to measure, when it is not stdout (git bundle)


def run_job(job: Job) -> Measure:
    """Run one compressor (optionally fed by ``cat``); size of its output, wall and CPU time."""
    t0 = time.perf_counter()
    procs = []
    with open(job.out, "wb") as out:
        if job.stdin_files:
            cat = subprocess.Popen(["cat", *map(str, job.stdin_files)], stdout=subprocess.PIPE)
            main = subprocess.Popen(job.argv, stdin=cat.stdout, stdout=out, stderr=subprocess.PIPE, cwd=job.cwd, env=_git_env())
            cat.stdout.close()  # type: ignore[union-attr]
            procs = [cat, main]
        else:
            main = subprocess.Popen(job.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, cwd=job.cwd, env=_git_env())
            procs = [main]
        err = main.stderr.read()  # type: ignore[union-attr]
        cpu = 0.0
        for p in procs:
            # wait4, not wait: it also gives this child's own CPU time, which
            # getrusage(RUSAGE_CHILDREN) cannot separate from the other workers'.
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            cpu += ru.ru_utime + ru.ru_stime
    wall = time.perf_counter() - t0
    bad = [p for p in procs if p.returncode != 0]
    if bad:
        msg = err.decode(errors="replace").strip().splitlines()
        return Measure(note=f"failed: {' '.join(job.argv[:3])} exit {bad[0].returncode}: {msg[-1] if msg else ''}")
    size = (job.result or job.out).stat().st_size
    return Measure(size, round(wall, 3), round(cpu, 3))


def compressor_jobs(work: Path, cuts: list[Cut], tips: dict[float, str | None]) -> list[Job]:
    new = work / "new.xml"
    size_new = new.stat().st_size
    jobs = [Job("new_xz", 0.0, XZ + [str(new)], work / "new.xml.xz", cost=size_new / _SPEED["xz"])]
    for cut in cuts:
        qd = _qdir(work, cut.q)
        old, delta = qd / "old.xml", qd / "delta.xml"
        so, sd = old.stat().st_size, delta.stat().st_size
        jobs += [
            Job("delta_xz", cut.q, XZ + [str(delta)], qd / "delta.xml.xz", cost=sd / _SPEED["xz"]),
            Job("delta_zstd19", cut.q, ZSTD_19 + [str(delta)], qd / "delta.xml.zst", cost=sd / _SPEED["zstd19"]),
            Job(
                "patch_from",
                cut.q,
                ZSTD_22 + [f"--patch-from={old}", str(new)],
                qd / "new.xml.patch.zst",
                cost=(so + size_new) / _SPEED["zstd22"],
            ),
            # the two halves of each conditional reference
            Job("old_xz", cut.q, XZ + [str(old)], qd / "old.xml.xz", cost=so / _SPEED["xz"]),
            Job("old_delta_xz", cut.q, XZ, qd / "old+delta.xml.xz", [old, delta], cost=(so + sd) / _SPEED["xz"]),
            Job("old_zstd", cut.q, ZSTD_22 + [str(old)], qd / "old.xml.zst", cost=so / _SPEED["zstd22"]),
            Job(
                "old_delta_zstd",
                cut.q,
                ZSTD_22 + [f"--stream-size={so + sd}"],
                qd / "old+delta.xml.zst",
                [old, delta],
                cost=(so + sd) / _SPEED["zstd22"],
            ),
        ]
        if cut.n_new:
            bundle = qd / "new.gitbundle"
            rev_args = ["refs/heads/main"] + ([f"^{tips[cut.q]}"] if tips[cut.q] else [])
            jobs.append(
                Job(
                    "git_bundle",
                    cut.q,
                    ["git", "-C", str(work / "git"), "bundle", "create", "--quiet", str(bundle), *rev_args],
                    qd / "git-bundle.log",
                    cost=sd / _SPEED["git"],
                    result=bundle,
                )
            )
    return jobs


# --- row 6: the bundle CLI --------------------------------------------------------------


def bundle_cli_missing() -> str | None:
    """None when ``python -m bundler --help`` runs; else why not (one line)."""
    r = subprocess.run(
        [sys.executable, "-m", "bundler", "--help"], capture_output=True, text=True, env=_bundler_env(), cwd=REPO_ROOT
    )
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit {r.returncode}"
    return None


def _bundler_env() -> dict[str, str]:
    pp = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT) + (os.pathsep + pp if pp else ""))


def _bundle(*args: str, stdout=None, env: dict[str, str] | None = None) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "bundler", *args],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_bundler_env() | (env or {}),
    )
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        raise RuntimeError(f"bundle {args[0]} exit {r.returncode}: {' / '.join(lines[-3:])}")


def first_sync(work: Path, cut: Cut) -> str | None:
    """Row 6, untimed part: sides A and B trust each other; B applies a bundle of old.xml.

    Returns None, or why it failed. Runs in the compressor pool: on a large dump the
    first sync costs minutes and is not what is measured.
    """
    root = _qdir(work, cut.q) / "sides"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    A, B = root / "A", root / "B"
    step = "setup"
    try:
        for side in (A, B):
            _bundle("init", "-C", str(side), "--wiki", str(side / "wiki.sqlite"))
        for side, pub in ((A, root / "a.pub"), (B, root / "b.pub")):
            with open(pub, "w") as f:
                _bundle("key", "-C", str(side), stdout=f)
        _bundle("trust", "-C", str(A), str(root / "b.pub"))
        _bundle("trust", "-C", str(B), str(root / "a.pub"))
        step = "first sync"
        _bundle("make", "-C", str(A), "--from", str(_qdir(work, cut.q) / "old.xml"), "--out", str(root / "b1.bundle"))
        _bundle("apply", "-C", str(B), str(root / "b1.bundle"), "--manifest-out", str(root / "m1"))
        # Both timed makes start from the same state: a make may record what it sent.
        shutil.copytree(A, root / "A-latest")
        shutil.copytree(A, root / "A-zstd")
        shutil.copytree(A, root / "A-noprimer")
    except RuntimeError as e:
        return f"failed ({step}): {e}"
    return None


def timed_makes(work: Path, cut: Cut) -> dict[str, Measure]:
    """Row 6, measured part: ``make --from new.xml --since m1``, full and --latest-only, alone;
    full with the zstd coder forced; and each again without cross-page bases (from a copy of
    the side taken before)."""
    root = _qdir(work, cut.q) / "sides"
    out: dict[str, Measure] = {}
    plain = (("bundle_full", "A", []), ("bundle_latest", "A-latest", ["--latest-only"]))
    runs = [(key, root / name, extra, {}) for key, name, extra in plain]
    runs.append(("bundle_full_zstd", root / "A-zstd", [], {"WIKIBUNDLE_CODER": "zstd"}))
    runs.append(("bundle_full_noprimer", root / "A-noprimer", [], {"WIKIBUNDLE_PRIMER": "0"}))
    for nc, (_key, name, extra) in zip(NO_CROSS, plain):
        shutil.copytree(root / name, root / f"{name}-nocross")
        runs.append((nc, root / f"{name}-nocross", extra, {"WIKIBUNDLE_CROSS_PAGE": "0"}))
    for key, side, extra, env in runs:
        b2 = root / f"b2-{key}.bundle"
        t0 = time.perf_counter()
        ru0 = os.times()
        try:
            _bundle("make", "-C", str(side), "--from", str(work / "new.xml"), "--since", str(root / "m1"), "--out", str(b2),
                    *extra, env=env)
        except RuntimeError as e:
            out[key] = Measure(note=f"failed: {e}")
            continue
        wall = time.perf_counter() - t0
        ru1 = os.times()
        cpu = (ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system)
        out[key] = Measure(b2.stat().st_size, round(wall, 3), round(cpu, 3))
    return out


def decode_speed(work: Path, cut: Cut) -> dict:
    """Row 7: the records frames of the full-history b2 decoded against B's store, timed by coder."""
    from bundler import coder, wire
    from bundler.container import FRAME_RECORDS, BundleReader
    from bundler.frame_reader import FrameReader
    from bundler.state import Side

    root = _qdir(work, cut.q) / "sides"
    b2 = root / "b2-bundle_full.bundle"
    if not b2.exists():
        return {"note": "n/a (no bundle)"}
    side = Side.open(str(root / "B"))
    store = side.store()
    acc = {"ppmd_frames": 0, "zstd_frames": 0, "dict_bytes": 0, "raw_bytes": 0, "prime_s": 0.0, "decode_s": 0.0,
           "zstd_raw_bytes": 0, "zstd_s": 0.0}
    try:
        with BundleReader(str(b2)) as r:
            r.verify(side.state.peer_by_key_id)
            for fr in r.frames():
                if fr.type != FRAME_RECORDS:
                    continue
                reader = FrameReader(fr.meta, store.get_text, what="bench", compact=fr.compact)
                dict_revs = reader.frame_meta()
                dictionary = reader.dictionary(dict_revs, reader.base_texts(dict_revs))
                if reader.coder is None:
                    t0 = time.perf_counter()
                    wire.decompress(fr.body, expected_size=fr.raw_len, dictionary=dictionary, what="bench",
                                    magic=not any(r <= 0 for r in dict_revs))
                    acc["zstd_s"] += time.perf_counter() - t0
                    acc["zstd_frames"] += 1
                    acc["zstd_raw_bytes"] += fr.raw_len
                    continue
                order, mem = reader.coder
                t0 = time.perf_counter()
                coder.prime(dictionary, order, mem)
                t1 = time.perf_counter()
                coder.decompress(fr.body, expected_size=fr.raw_len, dictionary=dictionary, order=order, mem=mem, what="bench")
                t2 = time.perf_counter()
                acc["prime_s"] += t1 - t0
                acc["decode_s"] += (t2 - t1) - (t1 - t0)  # decompress primes too: what is left is decoding and the check
                acc["ppmd_frames"] += 1
                acc["dict_bytes"] += len(dictionary)
                acc["raw_bytes"] += fr.raw_len
    finally:
        store.close()
    mb = 1e6
    acc["prime_MBps"] = round(acc["dict_bytes"] / mb / acc["prime_s"], 2) if acc["prime_s"] else None
    acc["decode_MBps"] = round((acc["dict_bytes"] + acc["raw_bytes"]) / mb / acc["decode_s"], 2) if acc["decode_s"] > 0 else None
    both = acc["prime_s"] + acc["decode_s"]
    acc["payload_MBps"] = round(acc["raw_bytes"] / mb / both, 2) if both > 0 else None
    acc["zstd_MBps"] = round(acc["zstd_raw_bytes"] / mb / acc["zstd_s"], 1) if acc["zstd_s"] else None
    return acc


# --- one dump ---------------------------------------------------------------------------


def bench_dump(dump: str, qs: list[float], work: Path, jobs: int, keep_sha1: bool) -> dict:
    t0 = time.perf_counter()
    log.log(f"[bold]{dump}[/]: pass 1, timestamps")
    cuts, n_revs, n_pages = find_cuts(dump, qs)
    log.log(f"  {n_pages:,} pages, {n_revs:,} revisions; cuts " + ", ".join(f"q={c.q:g}: {format_timestamp(c.T)}" for c in cuts))
    log.log("  pass 2: new.xml, old.xml, delta.xml, git fast-import")
    t1 = time.perf_counter()
    tips, sha1_dropped = write_inputs(dump, work, cuts, keep_sha1)
    t_write = time.perf_counter() - t1
    results: dict[float, dict[str, Measure]] = {c.q: {} for c in cuts}
    queue = sorted(compressor_jobs(work, cuts, tips), key=lambda j: -j.cost)
    log.log(f"  {len(queue)} compressor/git jobs on {jobs} workers (longest first, ~{sum(j.cost for j in queue) / jobs / 60:.0f} min)")
    missing = bundle_cli_missing()
    t2 = time.perf_counter()
    extra: dict[tuple[float, str], Measure] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_job, job) for job in queue]
        # Queued after the compressors, so the longest ones start first.
        syncs = {c.q: pool.submit(first_sync, work, c) for c in cuts} if missing is None else {}
        for job, fut in zip(queue, futures):
            m = fut.result()
            log.log(f"  done {job.key} q={job.q:g}: {m.bytes if m.bytes is not None else m.note} bytes, {m.wall_s}s")
            extra[(job.q, job.key)] = m
        sync_errors = {q: f.result() for q, f in syncs.items()}
    t_pool = time.perf_counter() - t2
    new_xz = extra.pop((0.0, "new_xz"))
    decode: dict[float, dict] = {}
    for cut in cuts:
        r = results[cut.q]
        r["new_xz"] = new_xz
        for key in ("delta_xz", "delta_zstd19", "patch_from", "git_bundle"):
            r[key] = extra.get((cut.q, key), Measure(note="n/a (nothing new)"))
        for c in ("xz", "zstd"):
            whole, base = extra[(cut.q, f"old_delta_{c}")], extra[(cut.q, f"old_{c}")]
            if whole.bytes is None or base.bytes is None:
                r[f"cond_{c}"] = Measure(note=whole.note or base.note)
            else:
                r[f"cond_{c}"] = Measure(whole.bytes - base.bytes)
        if missing is not None:
            for k in ("bundle_full", "bundle_latest", "bundle_full_zstd", "bundle_full_noprimer", *NO_CROSS):
                r[k] = Measure(note="n/a (bundle CLI missing)")
        elif sync_errors[cut.q] is not None:
            for k in ("bundle_full", "bundle_latest", "bundle_full_zstd", "bundle_full_noprimer", *NO_CROSS):
                r[k] = Measure(note=sync_errors[cut.q])
        else:
            log.log(f"  q={cut.q:g}: bundle make (alone)")
            r.update(timed_makes(work, cut))
            decode[cut.q] = decode_speed(work, cut)
    out_cuts = []
    for cut in cuts:
        r = results[cut.q]
        qd = _qdir(work, cut.q)
        refs = [m.bytes for m in (r["cond_xz"], r["cond_zstd"]) if m.bytes is not None and m.bytes > 0]
        ref = min(refs) if refs else None
        base = r["patch_from"].wall_s
        time_ratio = {
            k: round(r[k].wall_s / base, 3) if r[k].wall_s and base else None
            for k in ("bundle_full", "bundle_latest", "bundle_full_zstd", "bundle_full_noprimer")
        }
        out_cuts.append(
            {
                "q": cut.q,
                "T": cut.T,
                "T_iso": format_timestamp(cut.T),
                "revisions_old": cut.n_old,
                "revisions_new": cut.n_new,
                "old_xml_bytes": (qd / "old.xml").stat().st_size,
                "delta_xml_bytes": (qd / "delta.xml").stat().st_size,
                "reference_bytes": ref,
                "methods": {k: asdict(r[k]) | {"ratio": round(r[k].bytes / ref, 3) if ref and r[k].bytes is not None else None} for k in METHODS},
                "parts": {k: asdict(extra[(cut.q, k)]) for k in ("old_xz", "old_delta_xz", "old_zstd", "old_delta_zstd")},
                "time_ratio_to_patch_from": time_ratio,
                "decode": decode.get(cut.q, {"note": "n/a"}),
            }
        )
    return {
        "dump": dump,
        "pages": n_pages,
        "revisions": n_revs,
        "new_xml_bytes": (work / "new.xml").stat().st_size,
        "revision_sha1_lines_dropped": sha1_dropped,  # over all files written
        "bundle_cli": "ok" if missing is None else f"missing: {missing}",
        "seconds": {"write_inputs": round(t_write, 1), "compressor_pool": round(t_pool, 1), "total": round(time.perf_counter() - t0, 1)},
        "cuts": out_cuts,
    }


def render(res: dict) -> Table:
    t = Table(
        title=f"{Path(res['dump']).name}: {res['pages']:,} pages, {res['revisions']:,} revisions, new.xml {res['new_xml_bytes'] / 1e6:,.1f} MB",
        caption="KB = 1,000 bytes; ×r = bytes / min(5-xz, 5-zstd)",
    )
    t.add_column("method")
    for c in res["cuts"]:
        t.add_column(
            f"q={c['q']:g}  T={c['T_iso']}\n{c['revisions_new']:,} new of {res['revisions']:,} revs\ndelta.xml {c['delta_xml_bytes'] / 1e3:,.0f} KB",
            justify="right",
        )
    for key, label in METHODS.items():
        cells = []
        for c in res["cuts"]:
            m = c["methods"][key]
            if m["bytes"] is None:
                cells.append(m["note"])
                continue
            cell = f"{m['bytes'] / 1e3:,.1f} KB"
            if m["ratio"] is not None:
                cell += f"  ×{m['ratio']:.2f}"
            cells.append(cell)
        t.add_row(label, *cells, end_section=key in ("patch_from", "git_bundle", "cond_zstd"))
    t.add_row("time: patch-from wall (cpu)", *[_secs(c["methods"]["patch_from"]) for c in res["cuts"]])
    for key, label in (("bundle_full", "time: bundle make / patch-from"), ("bundle_latest", "time: --latest-only / patch-from"),
                       ("bundle_full_zstd", "time: make, zstd forced / patch-from"),
                       ("bundle_full_noprimer", "time: make, no primer / patch-from")):
        cells = []
        for c in res["cuts"]:
            m, ratio = c["methods"][key], c["time_ratio_to_patch_from"][key]
            cells.append(f"{_secs(m)}  ×{ratio:.2f}" if ratio is not None else (m["note"] or "n/a"))
        t.add_row(label, *cells)
    for nc, key in NO_CROSS.items():
        cells = []
        for c in res["cuts"]:
            with_, without = c["methods"][key]["wall_s"], c["methods"][nc]["wall_s"]
            cells.append(f"×{with_ / without:.2f}" if with_ and without else "n/a")
        t.add_row(f"time: {key.replace('bundle_', '')} / no cross-page bases", *cells)
    t.add_row("size: make / make with zstd forced", *[_ratio(c["methods"]["bundle_full"], c["methods"]["bundle_full_zstd"]) for c in res["cuts"]])
    t.add_row("size: make / make without primer", *[_ratio(c["methods"]["bundle_full"], c["methods"]["bundle_full_noprimer"]) for c in res["cuts"]])
    t.add_row("7  decode b2, PPMd frames: payload\n   (priming D; decoding D+R)", *[_decode_cell(c["decode"]) for c in res["cuts"]])
    return t


def _ratio(a: dict, b: dict) -> str:
    return f"×{a['bytes'] / b['bytes']:.3f}" if a["bytes"] and b["bytes"] else "n/a"


def _decode_cell(d: dict) -> str:
    if d.get("note"):
        return d["note"]
    ppmd = (f"{d['ppmd_frames']} frames: {d['payload_MBps']} MB/s\n({d['prime_MBps']} MB/s; {d['decode_MBps']} MB/s)"
            if d["ppmd_frames"] else "no PPMd frame")
    return ppmd + (f"\nzstd, {d['zstd_frames']} frames: {d['zstd_MBps']} MB/s" if d["zstd_frames"] else "")


def _secs(m: dict) -> str:
    if m["wall_s"] is None:
        return m["note"] or "n/a"
    return f"{m['wall_s']:.1f} s ({m['cpu_s']:.1f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dumps", nargs="+", metavar="DUMP", help="full-history XML dump (plain, .gz, .bz2, .xz, .zst)")
    p.add_argument("--q", type=float, action="append", dest="qs", help="old fraction of revisions (repeatable; default 0.9 and 0.99)")
    p.add_argument("--json", metavar="OUT", help="write every number here")
    p.add_argument("--keep", metavar="DIR", help="keep the generated files here instead of a temporary directory")
    p.add_argument("--keep-sha1", action="store_true", help="keep each revision's <sha1> line in the XML files")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="compressors run at once (default: cores)")
    a = p.parse_args(argv)
    qs = a.qs or [0.9, 0.99]
    for q in qs:
        if not 0 < q < 1:
            p.error(f"--q must be between 0 and 1, got {q}")
    tools = check_tools()
    machine = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "tools": tools,
    }
    report = {"machine": machine, "dumps": []}
    for dump in a.dumps:
        stem = re.sub(r"\.xml(\.\w+)?$", "", Path(dump).name)
        if a.keep:
            work = Path(a.keep) / stem
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            res = bench_dump(dump, qs, work, a.jobs, a.keep_sha1)
        else:
            with tempfile.TemporaryDirectory(prefix=f"sizes-{stem}-") as tmp:
                res = bench_dump(dump, qs, Path(tmp), a.jobs, a.keep_sha1)
        report["dumps"].append(res)
        console.print(render(res))
        console.print(f"[dim]{res['seconds']}; bundle CLI: {res['bundle_cli']}[/]")
        if a.json:  # after each dump: a long run keeps what it has
            Path(a.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


if __name__ == "__main__":
    sys.exit(main())
