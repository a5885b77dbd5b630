"""Latest-only updates from two dumps: ``bundle make --from NEW --base OLD --latest-only``.

The receiver holds OLD (it got it from a bundle made ``--from OLD --latest-only``, or
an update of it); the sender has OLD and NEW, two latest-only dumps in page-id order
(Wikimedia's ``pages-articles-multistream``, or ``multistream.write_multistream``'s).
Pages are matched by page id: a changed text travels as a delta against OLD's text,
which the receiver holds; a new page whole; a title changed is a move; a page gone a
deletion (the usual guard against mass deletion); redirects are pages like any other.

**A NEW whose newest revision of a page is older than OLD's** (the wiki removed the
newest revision: the page deleted, then undeleted without it). A bundle adds history and
never removes a revision, and the receiver's current text is its newest by time: so
NEW's revision travels (as a delta against OLD's, if the receiver lacks it), and the
receiver keeps OLD's newer text as the page's current one. make counts such pages and
names the first ones (``LatestStats.older_kept``; the CLI prints them): the receiver
differs from NEW there, and only a full bundle of NEW to a new receiver gives NEW's text.

**How the sender knows the receiver holds OLD.** The state's view of the peer at the
basis says, per page, its title and the revisions it holds (their ``rkey``: timestamp
and sha1). Every OLD page must be held alive there with OLD's newest revision, and the
peer must hold no live page OLD lacks (a count over the whole view). Anything else is
refused before the bundle is written: the bundle's deltas would not rebuild.

**Parallel.** The work is cut into partitions (``plan_parts``): page-id ranges aligned
with NEW's bz2 streams; each takes OLD's streams that overlap its range, so it is a
merge-join of two byte ranges. A worker (``diff_part``) decompresses only its streams,
diffs, encodes its frames (``fill.Filler`` over ``records.FrameBuilder``) and returns the
frames' bytes, the counts and the rows the state records. Workers never reach the state
database: the coordinator ships each partition's view rows with it (``PartView``). The
coordinator (``make_latest_update``) writes the frames in partition order, checks what
only it can (ids given before, the count of live pages, mass deletion), then the header,
the signature and the state record in one transaction, as ``make.make_bundle`` does.
``parallel.run_ordered`` runs the partitions in-process or on Dask.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, NamedTuple

from . import container, errors
from .container import BundleWriter
from .errors import BasisError, BundleError, UsageError
from .files import FilesSent
from .fill import Filler
from .history import history_of
from .make import MASS_DELETION_MIN, Basis, MakeOptions, MakeResult, bundle_header, carry_siteinfo
from .model import Page, PageDelete, PageId
from .multistream import DumpPage, RawPage, Stream, iter_blocks, read_index, siteinfo_of
from .parallel import run_ordered
from .plan import PageChanges
from .state import PageView, PeerView, Sent, Side, State

# NEW's compressed bytes per partition. Each partition's frames are compressed on their
# own (their zstd window and dictionary end with the partition), so a partition holds a
# few MB of XML at least: a 5.8 MB dump (620 KB of bz2) cut into 9 partitions of 64 KB
# made a 54% larger update (34,279 B) than in one (22,206 B), larger than xz -9e of
# its changed pages. Larger partitions also make fewer tasks (a Dask task costs a few
# ms more than a call). Up to PARTS_WANTED of them, up to PART_BYTES_MAX each (one
# worker's memory holds one partition's frames). Partitions do not depend on the worker
# count, so one worker and many write the same frames.
PART_BYTES_MIN = 1 << 20  # (bz2 of wiki text: ~5-10 MB of XML)
PART_BYTES_MAX = 16 << 20
PARTS_WANTED = 32
OLDER_KEPT_NAMED = 20  # pages whose NEW is older than OLD, named in the report (the rest counted)

HINT_BASE = ("The receiver must hold OLD: make its first bundle with 'bundle make --from OLD --latest-only', "
             "apply it, and give its manifest (--since) before updating it from OLD to NEW.")

ViewRow = tuple[int, str, bool, tuple[tuple[int, int], ...]]  # (namespace, title, deleted, ((rkey, rev_id), ...))


@dataclass(slots=True)
class Part:
    """One partition: what a worker needs, picklable (no state, no open files)."""

    index: int
    new_path: str
    old_path: str
    new_streams: list[Stream] | None  # None: the whole dump, in one pass
    old_streams: list[Stream] | None
    lo: int
    hi: int | None  # page ids [lo, hi)
    view: dict[int, ViewRow] | None  # page_id -> what the peer holds; None: ask ``live`` (in-process only)
    live: Callable[[int], ViewRow | None] | None = None
    version: int = container.WRITE_VERSION  # the coordinator's BundleWriter's: how frames are built
    coder: str | None = None


@dataclass(slots=True)
class PartResult:
    index: int
    frames: list[tuple[dict, bytes, int]] = field(default_factory=list)
    pages: int = 0
    revisions: int = 0
    moves: int = 0
    deletions: int = 0
    text_bytes: int = 0
    raw_total: int = 0
    by_ns: dict[int, list[int]] = field(default_factory=dict)
    rev_rows: list[tuple[int, int, int, int]] = field(default_factory=list)  # (page_id, rev_id, rkey, mkey)
    page_rows: list[tuple[int, int, str, bool]] = field(default_factory=list)  # (page_id, ns, title, deleted)
    new_pages: list[tuple[int, int]] = field(default_factory=list)  # (page_id, rkey) of pages the view never had
    older: list[str] = field(default_factory=list)  # titles whose newest revision in NEW is older than OLD's
    old_live: int = 0  # OLD's pages the view holds alive (all of them, or diff_part refuses)
    pages_read: int = 0
    seconds: float = 0.0
    peak_rss: int = 0  # bytes, of the process that ran it
    error: tuple[str, str, str | None] | None = None  # (errors class, message, hint)
    capabilities: set[str] = field(default_factory=set)  # what its frames need beyond v1 (Filler.capabilities)


class _Frames:
    """What ``Filler`` writes frames to, in a worker: a list (the coordinator writes them to the file)."""

    def __init__(self, version: int, coder: str | None) -> None:
        self.list: list[tuple[dict, bytes, int]] = []
        self.compact = version == container.VERSION_COMPACT  # as the coordinator's BundleWriter writes
        self.coder = coder
        self.frames = 0
        self.frame_bytes = 0

    def add_frame(self, meta: dict, body: bytes, raw_len: int) -> None:
        self.list.append((meta, body, raw_len))
        self.frames += 1
        self.frame_bytes += len(body)


# --- partitions --------------------------------------------------------------------------------


def plan_parts(new_path: str, old_path: str, part_bytes: int | None = None) -> list[Part]:
    """Partitions in page-id order, without their view (``_with_view`` adds it). Without
    an index for either dump, one partition: the whole of both. ``part_bytes``: NEW's
    compressed bytes per partition, about (default: from the dump's size)."""
    new_streams, old_streams = read_index(new_path), read_index(old_path)
    if new_streams is None or old_streams is None:
        return [Part(0, new_path, old_path, None, None, 0, None, None)]
    total = sum(s.end - s.offset for s in new_streams)
    target = part_bytes or min(PART_BYTES_MAX, max(PART_BYTES_MIN, total // PARTS_WANTED))
    # Partitions of equal size (a last small one would leave a worker idle at the end).
    n_parts = max(1, round(total / target))
    cuts = [0]
    size = 0
    for i, s in enumerate(new_streams):
        if size >= total * len(cuts) / n_parts:
            cuts.append(i)
        size += s.end - s.offset
    j = 0  # OLD's first stream that may overlap the partition
    parts = []
    for n, a in enumerate(cuts):
        b = cuts[n + 1] if n + 1 < len(cuts) else len(new_streams)
        lo = 0 if n == 0 else new_streams[a].first
        hi = new_streams[b].first if b < len(new_streams) else None
        while j < len(old_streams) and old_streams[j].last < lo:
            j += 1
        k = j
        olds = []
        while k < len(old_streams) and (hi is None or old_streams[k].first < hi):
            olds.append(old_streams[k])
            k += 1
        parts.append(Part(n, new_path, old_path, new_streams[a:b], olds, lo, hi, None))
    return parts


def _row(v: PageView, held) -> ViewRow:
    return (v.namespace, v.title, v.deleted, tuple((k, rid) for k, (rid, _m) in held.items()))


def _with_view(part: Part, view: PeerView) -> Part:
    """The partition with what the peer holds of the pages in its range."""
    if part.new_streams is None or part.old_streams is None:
        def live(pid: int) -> ViewRow | None:
            v = view.page(pid)
            return _row(v, view.revs(pid)) if v is not None else None

        part.live = live
        return part
    part.view = {pid: _row(v, held) for pid, (v, held) in view.pages_between(part.lo, part.hi).items()}
    return part


# --- one partition (a worker) ---------------------------------------------------------------


def _merge(old: Iterator[RawPage], new: Iterator[RawPage]) -> Iterator[tuple[int, RawPage | None, RawPage | None]]:
    """Merge-join by page id of two page-id-ordered streams of pages."""
    o, n = next(old, None), next(new, None)
    while o is not None or n is not None:
        if n is None or (o is not None and o.page_id < n.page_id):
            yield o.page_id, o, None
            o = next(old, None)
        elif o is None or n.page_id < o.page_id:
            yield n.page_id, None, n
            n = next(new, None)
        else:
            yield n.page_id, o, n
            o, n = next(old, None), next(new, None)


def _changes(new: DumpPage, old: DumpPage | None, v: ViewRow | None) -> PageChanges | None:
    """What the peer lacks of NEW's page, given it holds OLD's (``old``, checked)."""
    p = new.page
    page = Page(PageId(p.page_id), p.namespace, p.title, p.redirect)
    view = PageView(v[0], v[1], v[2]) if v is not None else None
    if old is None:  # a page the peer does not hold (new, or deleted there)
        ch = PageChanges(page, history_of([new.rev]), [new.rkey], view, True)
        ch.ids[new.rev.rev_id] = new.rev.rev_id
        ch.new.add(new.rkey)
        return ch
    held = dict(v[3]) if v is not None else {}
    if new.rkey in held:  # same text (or one the peer holds): at most a move
        if v is not None and p.title == v[1]:
            return None
        ch = PageChanges(page, history_of([old.rev]), [old.rkey], view, True)
        ch.ids[old.rev.rev_id] = held[old.rkey]
        return ch
    ch = PageChanges(page, history_of([old.rev, new.rev]), [old.rkey, new.rkey], view, True)
    ch.ids[old.rev.rev_id] = held[old.rkey]
    ch.ids[new.rev.rev_id] = new.rev.rev_id
    ch.new.add(new.rkey)
    return ch


def _refuse_base(what: str) -> BasisError:
    return BasisError(f"the receiver does not hold OLD: {what}", hint=HINT_BASE)


def _diff(part: Part) -> PartResult:
    t0 = time.monotonic()
    res = PartResult(part.index)
    sink = _Frames(part.version, part.coder)
    filler = Filler(sink, None)  # type: ignore[arg-type]
    get = part.view.get if part.view is not None else part.live
    assert get is not None
    old_pages = iter_blocks(part.old_path, part.old_streams, part.lo, part.hi)
    new_pages = iter_blocks(part.new_path, part.new_streams, part.lo, part.hi)
    for pid, old_raw, new_raw in _merge(old_pages, new_pages):
        res.pages_read += 1
        v = get(pid)
        alive = v is not None and not v[2]
        same = new_raw is not None and old_raw is not None and new_raw.block == old_raw.block
        if same and alive:
            # The page's XML is the same in both dumps (most pages): if the peer holds its
            # revision under its title, nothing to do and nothing to parse.
            q = old_raw.quick_key()
            if q is not None and q[0] in dict(v[3]) and q[1] == v[1]:
                res.old_live += 1
                continue
        old = old_raw.parse() if old_raw is not None else None
        new = old if same else new_raw.parse() if new_raw is not None else None
        if old is not None:
            if not alive:
                raise _refuse_base(f"OLD has page {pid} ({old.page.title!r}), which the peer does not hold alive")
            if old.rkey not in dict(v[3]):
                raise _refuse_base(f"its copy of page {pid} ({old.page.title!r}) is not OLD's revision {old.rev.rev_id}")
            res.old_live += 1
        elif alive:
            raise _refuse_base(f"it holds page {pid} ({v[1]!r}), which OLD does not have")
        if new is None:
            assert v is not None
            filler.add_deletion(PageDelete(PageId(pid), v[0], v[1]))
            res.page_rows.append((pid, v[0], v[1], True))
            continue
        if old is not None and (new.rev.timestamp, new.rev.rev_id) < (old.rev.timestamp, old.rev.rev_id):
            res.older.append(new.page.title)  # the receiver keeps OLD's newer text (see the module's doc)
        ch = _changes(new, old, v)
        if ch is None:
            continue
        try:
            rows = filler.add_page(ch)
        finally:
            ch.close()
        assert rows is not None  # (no budget: everything fits)
        res.rev_rows.extend(rows)
        res.page_rows.append((pid, new.page.namespace, new.page.title, False))
        if v is None:
            res.new_pages.append((pid, new.rkey))
        filler.flush_if_full()
    filler.flush()
    res.frames = sink.list
    res.pages, res.revisions, res.moves, res.deletions = filler.pages, filler.revisions, filler.moves, filler.deletions
    res.text_bytes, res.raw_total, res.by_ns = filler.text_bytes, filler.raw_total, filler.by_ns
    res.capabilities = filler.capabilities
    res.seconds = time.monotonic() - t0
    res.peak_rss = peak_rss()
    return res


def peak_rss() -> int:
    """This process's peak resident set size, in bytes. (Not ``ru_maxrss``: Linux keeps
    it across ``execve``, so a worker spawned by a large process would report its parent's.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def diff_part(part: Part) -> PartResult:
    """Diff one partition and encode its frames (runs on a worker). Our errors come back
    as ``error``, to be raised by the coordinator with their message and hint."""
    try:
        return _diff(part)
    except BundleError as e:
        return PartResult(part.index, error=(type(e).__name__, e.message, e.hint))


# --- the coordinator ---------------------------------------------------------------------------


@dataclass
class LatestStats:
    """What the partitions did, for the report and the benchmark."""

    parts: int = 0
    pages_read: int = 0
    worker_seconds: float = 0.0
    peak_rss: int = 0  # the largest of the workers'
    older_kept: list[str] = field(default_factory=list)  # pages whose newest revision in NEW is older than OLD's (the first ones)
    n_older_kept: int = 0  # (all of them)
    before_s: float = 0.0  # wall seconds before the partitions (options, basis, indexes, the peer's view)
    after_s: float = 0.0  # and after them (checks, header, signature, state commit)


class _Ids(NamedTuple):
    view: PeerView

    def check(self, res: PartResult) -> None:
        """Ids a worker kept from NEW must not name something else at the peer (a
        renumbered dump): only the coordinator can see every id the peer was given."""
        new_revs = {(p, r, k) for p, r, k, _m in res.rev_rows}
        for _pid, rid, k in new_revs:
            if self.view.rev_id_taken(rid, k):
                raise UsageError(f"NEW gives revision id {rid} to a revision the peer holds another one under",
                                 hint="NEW was renumbered (re-imported?): make this update without --base, from NEW alone.")
        for pid, k in res.new_pages:
            if self.view.page_id_taken(pid, [k]):
                raise UsageError(f"NEW gives page id {pid} to a page the peer was given another one under",
                                 hint="NEW was renumbered (re-imported?): make this update without --base, from NEW alone.")


def _raise(err: tuple[str, str, str | None]) -> None:
    cls = getattr(errors, err[0], None)
    if not (isinstance(cls, type) and issubclass(cls, BundleError)):
        cls = BundleError
    raise cls(err[1], hint=err[2])


def _absorb(filler: Filler, writer: BundleWriter, res: PartResult) -> None:
    for meta, body, raw_len in res.frames:
        writer.add_frame(meta, body, raw_len)
    filler.capabilities.update(res.capabilities)
    filler.pages += res.pages
    filler.revisions += res.revisions
    filler.moves += res.moves
    filler.deletions += res.deletions
    filler.text_bytes += res.text_bytes
    filler.raw_total += res.raw_total
    for ns, (n, ins) in res.by_ns.items():
        row = filler.by_ns.setdefault(ns, [0, 0])
        row[0] += n
        row[1] += ins


def _take(res: PartResult, filler: Filler, writer: BundleWriter, st: State, basis: Basis, ids: _Ids, stats: LatestStats) -> int:
    """One partition's result, in partition order: its frames written, what it carries
    recorded as held by the peer, its numbers counted. Returns its live pages in OLD."""
    if res.error is not None:
        _raise(res.error)
    ids.check(res)
    _absorb(filler, writer, res)
    st.record_held_revs(basis.peer.wiki_id, basis.seq, res.rev_rows)
    for pid, ns, title, deleted in res.page_rows:
        st.record_held_page(basis.peer.wiki_id, basis.seq, pid, ns, title, deleted)
    stats.parts += 1
    stats.pages_read += res.pages_read
    stats.worker_seconds += res.seconds
    stats.peak_rss = max(stats.peak_rss, res.peak_rss)
    stats.n_older_kept += len(res.older)
    stats.older_kept += res.older[:OLDER_KEPT_NAMED - len(stats.older_kept)]
    return res.old_live


def make_latest_update(side: Side, out: str, new_path: str, base_path: str, *, workers: int = 1,
                       scheduler: str | None = None, stats: LatestStats | None = None, part_bytes: int | None = None,
                       **options) -> MakeResult:
    """Write the latest-only update from OLD (``base_path``, what the peer holds) to NEW;
    ``options`` are ``MakeOptions`` (``latest_only`` must be set; no ``--max-size``)."""
    t0 = time.monotonic()
    opts = MakeOptions(**options)
    if not opts.latest_only:
        raise UsageError("--base makes a latest-only update", hint="Add --latest-only.")
    if opts.max_size is not None or opts.until is not None or opts.full:
        raise UsageError("--base cannot be combined with --max-size, --until or --full",
                         hint="An update from two dumps carries NEW whole; cut it with --part-size.")
    for p in (new_path, base_path):
        if not os.path.isfile(p):
            raise UsageError(f"{p} does not exist", hint="Give the paths of the two dumps.")
    st = side.state
    basis = Basis.resolve(side, opts)
    if not basis.basis_seq:
        raise BasisError("the peer holds nothing this side sent it, so it cannot hold OLD", hint=HINT_BASE)
    key = side.secret_key()
    stats = stats if stats is not None else LatestStats()
    siteinfo = siteinfo_of(new_path)
    parts = plan_parts(new_path, base_path, part_bytes)  # (reads both indexes: a bad one is refused before anything is written)
    if len(parts) == 1:
        # One partition (a small dump, or one without an index, read in one pass with the
        # view asked live): here, without starting a cluster.
        workers, scheduler = 1, None
    writer = BundleWriter(out, *container.for_readers_of(opts.format_version))
    filler = Filler(writer, None)
    try:
        with st.transaction():
            view = st.peer_view(basis.peer.wiki_id, basis.chain)
            ids = _Ids(view)
            si_sent = carry_siteinfo(view, filler, siteinfo)
            filler.flush()
            live: list[int] = []

            def tasks() -> Iterator[Part]:
                for i, p in enumerate(parts):
                    p.version, p.coder = writer.version, writer.coder
                    yield _with_view(p, view)
                    if i == 0:  # (counted while the first partition runs on a worker, not before it)
                        live.append(sum(1 for _ in view.live_pages()))

            old_live = 0
            stats.before_s = time.monotonic() - t0
            for res in run_ordered(diff_part, tasks(), workers=workers, scheduler=scheduler):
                old_live += _take(res, filler, writer, st, basis, ids, stats)
                if opts.progress:
                    opts.progress(stats.pages_read, filler.revisions)
            t_after = time.monotonic()
            n_live = live[0]
            if old_live != n_live:
                raise _refuse_base(f"it holds {n_live:,} pages alive, OLD has {old_live:,} of them")
            if filler.deletions > MASS_DELETION_MIN and filler.deletions * 2 > n_live and not opts.allow_deletions:
                raise UsageError(
                    f"this bundle would delete {filler.deletions:,} of the {n_live:,} pages the peer holds",
                    hint="Is NEW a partial dump (some namespaces only)? Give the whole wiki. "
                    "If the deletions are real, run again with --allow-deletions.",
                )
            fsent = FilesSent()
            header = bundle_header(side, basis, opts, filler, fsent, os.path.basename(new_path), key)
            sha = writer.finish(header, key)
            st.record_sent(Sent(basis.peer.wiki_id, basis.seq, writer.checkpoint, basis.basis_seq, header.created, sha,
                                True, si_sent))
        writer.publish()
        stats.after_s = time.monotonic() - t_after
    except BaseException:
        writer.discard()
        raise
    return MakeResult(
        path=out, seq=basis.seq, basis_seq=basis.basis_seq, peer=basis.peer.wiki_id, peer_label=basis.peer.label,
        counts=header.counts, size=os.path.getsize(out), sha256=sha, pages_seen=stats.pages_read,
        elapsed=time.monotonic() - t0, by_namespace=filler.by_ns,
    )
