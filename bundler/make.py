"""``bundle make``: everything a peer lacks since the checkpoint it last reported.

A short pipeline, one pass over the source (the side's store, a MediaWiki, or an
XML dump), one page at a time:

1. ``Basis.resolve``: which peer, what it holds (the chain of checkpoints it has
   confirmed, and what it sent us), and the new checkpoint's number.
2. ``plan.PagePlanner``: per page, what the peer lacks (``PageChanges``); a page
   whose revisions are all held, under the same title, costs one lookup and no
   text. Revisions travel in history order, each as a character delta against the
   newest text the receiver has of that page by then (a new page: against
   similar pages the receiver holds, ``similar.py``); a held page under a new
   title is a move.
3. ``fill.Filler``: what fits goes into frames (under ``--max-size``, the rest
   waits); then deletions (held pages the source no longer has), then files.
4. The header, then the state record: what the bundle adds, under its new
   checkpoint, in the same state transaction that is committed only once the
   bundle file is complete.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from . import __version__, similar
from .container import EMPTY_CHECKPOINT, FILES_CAPABILITY, WRITTEN_CAPABILITIES, BundleWriter, Counts, Header, for_readers_of
from .errors import BasisError, UsageError, WrongPeerError
from .files import FilesSent, FileSource, carry_files
from .fill import Budget, Filler, OverBudget
from .identity import mkey
from .manifest import read_manifest
from .model import FILE_NS, PageDelete, PageHistory, SiteInfo
from .plan import PagePlanner
from .signing import PublicKey, SecretKey
from .sources import PageSource, Source
from .state import PeerView, Received, Sent, Side, State
from .state.files import HeldFiles
from .tempset import TempIdSet

__all__ = [
    "MASS_DELETION_MIN", "Basis", "Budget", "MakeOptions", "MakeResult", "OverBudget", "apply_manifest",
    "make_bundle", "make_bundle_retrying",
    "mkey",  # (apply.py imports it from here; it lives in identity.py)
]

# A source that lacks more than half the pages a peer holds (and more than this many)
# is far likelier a partial export than a wiki that lost half its pages.
MASS_DELETION_MIN = 10


@dataclass(frozen=True)
class MakeOptions:
    """What ``bundle make`` was asked for (everything but the source)."""

    to: str | None = None  # the peer (label or wiki id prefix)
    since: str | None = None  # a manifest the peer wrote: the basis
    full: bool = False  # build on nothing
    latest_only: bool = False  # only the newest revision of each changed page
    until: int | None = None  # history only up to this time
    cont: bool = False  # build on the last bundle made for the peer
    allow_deletions: bool = False  # carry the deletion of most of the peer's pages
    max_size: int | None = None  # refuse a bundle larger than this (OverBudget)
    target: int | None = None  # fill up to this (default max_size)
    progress: Callable[[int, int], None] | None = None  # (pages read, revisions carried)
    format_version: int | None = None  # the container version to write (None: the newest; 1 for older readers)


@dataclass(frozen=True)
class Basis:
    """What the bundle builds on, resolved once: the peer, the checkpoint it holds
    (``basis_seq``/``basis``) and the chain of checkpoints behind it, and the new one."""

    peer: PublicKey
    basis_seq: int
    basis: bytes  # the checkpoint the peer holds (EMPTY_CHECKPOINT: nothing)
    chain: tuple[int, ...]  # the view: checkpoints the peer holds, and those it sent us
    seq: int  # the new bundle's
    checkpoint: bytes  # the new bundle's
    ack: Received | None  # the newest bundle received from the peer, acknowledged in the header

    @classmethod
    def resolve(cls, side: Side, opts: MakeOptions) -> Basis:
        st = side.state
        if opts.since:
            peer_id, basis_seq = apply_manifest(side, opts.since)
            peer = st.peer_by_wiki(peer_id)
            if opts.to is not None and st.find_peer(opts.to).wiki_id != peer_id:
                raise WrongPeerError("--since names a manifest of another peer than --to")
        else:
            peer = st.find_peer(opts.to)
            basis_seq = st.confirmed_seq(peer.wiki_id)
        assert peer is not None
        if opts.cont:
            basis_seq = st.last_sent_seq(peer.wiki_id)
        if opts.full:
            basis_seq = 0
        chain = st.chain(peer.wiki_id, basis_seq)
        if not opts.full:
            chain += st.received_chain(peer.wiki_id)  # what the peer holds because it sent it
        return cls(
            peer=peer, basis_seq=basis_seq, chain=tuple(chain),
            basis=st.sent(peer.wiki_id, basis_seq).checkpoint if basis_seq else EMPTY_CHECKPOINT,
            seq=st.last_sent_seq(peer.wiki_id) + 1, checkpoint=os.urandom(16), ack=st.last_received(peer.wiki_id),
        )


@dataclass
class MakeResult:
    path: str
    seq: int
    basis_seq: int
    peer: str
    peer_label: str
    counts: Counts
    size: int
    sha256: str
    pages_seen: int = 0
    elapsed: float = 0.0
    by_namespace: dict[int, list[int]] = field(default_factory=dict)
    deferred: int = 0  # pages (or deletions, or files) left for the next bundle by --max-size
    files: dict = field(default_factory=dict)  # FilesSent.breakdown() when files travel


def make_bundle_retrying(side: Side, out: str, open_source: Callable[[], Source], *, max_size: int | None = None,
                         **options) -> MakeResult:
    """``make_bundle`` from a source opened by ``open_source()`` (``sources.open_source``);
    under ``max_size``, made again from a source opened again, with a smaller target,
    when the estimate overshot (rare: compression is estimated from the frames so far)."""
    target = max_size
    for _attempt in range(5):
        src = open_source()
        try:
            return make_bundle(side, out, src.pages, siteinfo=src.siteinfo, source_name=src.name, files=src.files,
                               get_text=src.get_text,
                               max_size=max_size, target=target, **options)
        except OverBudget as e:
            assert max_size is not None and target is not None
            target = int(target * max_size / e.size * 0.95)
        finally:
            src.close()
    raise UsageError(f"could not fit a bundle under {max_size} bytes", hint="Give a larger --max-size, or use --part-size.")


def apply_manifest(side: Side, manifest_path: str) -> tuple[str, int]:
    """Verify a receiver's manifest and remember it as that peer's newest checkpoint."""
    m, key = read_manifest(manifest_path, side.state.peer_by_key_id)
    if m.peer != side.wiki_id:
        raise WrongPeerError(
            f"the manifest reports checkpoints of wiki {m.peer[:8]}, not of this side ({side.wiki_id[:8]})",
            hint="Give the manifest written when this side's bundle was applied.",
        )
    if m.seq:
        s = side.state.sent(key.wiki_id, m.seq)
        if s is None or s.checkpoint != m.checkpoint:
            raise BasisError(
                f"the manifest says the peer holds checkpoint {m.seq}, which this side never made",
                hint="The state directory was replaced since; make a full bundle with --full.",
            )
    with side.state.transaction():
        if m.files_held and m.seq >= side.state.confirmed_seq(key.wiki_id):  # a replayed older one reports nothing
            HeldFiles(side.state).replace_reported(key.wiki_id, m.held_sha1s())
        side.state.confirm(key.wiki_id, m.seq)
    return key.wiki_id, m.seq


def make_bundle(
    side: Side, out: str, source: PageSource, *, siteinfo: SiteInfo, source_name: str,
    files: FileSource | None = None, get_text: Callable[[int], str | None] | None = None, **options,
) -> MakeResult:
    """Write the bundle of what the peer lacks of ``source`` (``sources.EveryPage`` for
    a dump, the store or a list of pages); ``get_text``: the source's text of a revision by
    its id, where it has one (the store), for cross-page bases on pages make does not
    read (``similar.py``); ``options`` are ``MakeOptions``. With
    ``max_size``, fill it up to ``target`` (default ``max_size``) and raise
    ``OverBudget`` if the result is still larger."""
    t0 = time.monotonic()
    opts = MakeOptions(**options)
    st = side.state
    basis = Basis.resolve(side, opts)
    key = side.secret_key()
    view = st.peer_view(basis.peer.wiki_id, basis.chain)
    pages, deleted_titles = source.for_basis(st, view, basis.basis_seq)
    writer = BundleWriter(out, *for_readers_of(opts.format_version))
    # Cross-page bases (similar.py): only when the peer holds pages to choose from.
    held_texts = similar.HeldTexts(get_text) if similar.enabled() and basis.chain else None
    filler = Filler(writer, Budget(opts.target or opts.max_size) if opts.max_size else None, held_texts)
    try:
        with st.transaction():
            si_sent = carry_siteinfo(view, filler, siteinfo)
            planner = PagePlanner(st, view, until=opts.until, latest_only=opts.latest_only, held_texts=held_texts)
            pages_seen = _carry_pages(st, basis, pages, planner, filler, opts.progress)
            _carry_deletions(st, view, basis, planner.seen, deleted_titles, filler, opts.allow_deletions)
            filler.flush()
            fsent = _carry_files(st, view, basis, files, writer, filler, opts)
            header = bundle_header(side, basis, opts, filler, fsent, source_name, key)
            sha = writer.finish(header, key)
            if opts.max_size is not None and writer.finished_size > opts.max_size:
                raise OverBudget(writer.finished_size)
            st.record_sent(Sent(basis.peer.wiki_id, basis.seq, writer.checkpoint, basis.basis_seq, header.created, sha,
                                opts.latest_only, si_sent))
            _record_source_mark(st, basis, source, opts, filler.deferred)
        # Named only once the state knows it (a kill in between leaves a recorded
        # bundle that never appeared: the next make simply builds on the same basis).
        writer.publish()
    except BaseException:
        writer.discard()
        raise
    finally:
        if held_texts is not None:
            held_texts.close()
    return MakeResult(
        path=out, seq=basis.seq, basis_seq=basis.basis_seq, peer=basis.peer.wiki_id, peer_label=basis.peer.label,
        counts=header.counts, size=os.path.getsize(out), sha256=sha, pages_seen=pages_seen,
        elapsed=time.monotonic() - t0, by_namespace=filler.by_ns, deferred=filler.deferred,
        files=fsent.breakdown() if fsent.versions else {},
    )


def carry_siteinfo(view: PeerView, filler: Filler, siteinfo: SiteInfo) -> str | None:
    """Carry the site information if the peer's differs; what to record as sent."""
    si_json = json.dumps(siteinfo.to_wire(), sort_keys=True)
    if view.siteinfo() == si_json:
        return None
    filler.fb.siteinfo = siteinfo.to_wire()
    return si_json


def _carry_pages(st: State, basis: Basis, pages: Iterable[PageHistory], planner: PagePlanner, filler: Filler,
                 progress: Callable[[int, int], None] | None) -> int:
    """Carry what the peer lacks of each page and record it as held; the pages read."""
    pages_seen = 0
    for ph in pages:
        pages_seen += 1
        ch = planner.changes(ph)
        if ch is None:
            continue
        try:
            rows = filler.add_page(ch)
            if rows is None:
                continue
            p = ch.page
            st.record_held_revs(basis.peer.wiki_id, basis.seq, rows)
            st.record_held_page(basis.peer.wiki_id, basis.seq, p.page_id, p.namespace, p.title, False)
            if progress:
                progress(pages_seen, filler.revisions)
            filler.flush_if_full()
        finally:
            ch.close()
    return pages_seen


def _carry_deletions(st: State, view: PeerView, basis: Basis, seen: TempIdSet, deleted_titles: set[str] | None, filler: Filler,
                     allow_deletions: bool) -> None:
    """Pages the peer holds alive that the source no longer has (or, of a source that
    lists deletions, that it deleted)."""
    live = list(view.live_pages())
    gone = [(pid, ns, title) for pid, ns, title in live if pid not in seen
            and (deleted_titles is None or title in deleted_titles)]
    # Files too: a file goes with its page (all versions), so a dump that lost most
    # file pages would delete most files however many other pages it kept.
    files_live, files_gone = (sum(1 for _pid, ns, _t in rows if ns == FILE_NS) for rows in (live, gone))
    for what, n_gone, n_live in (("pages", len(gone), len(live)), ("files (file pages)", files_gone, files_live)):
        if n_gone > MASS_DELETION_MIN and n_gone * 2 > n_live and not allow_deletions:
            raise UsageError(
                f"this bundle would delete {n_gone:,} of the {n_live:,} {what} the peer holds",
                hint="Is the source a partial export (some pages or namespaces only)? Give the whole wiki. "
                "If the deletions are real, run again with --allow-deletions.",
            )
    for pid, ns, title in gone:
        if filler.add_deletion(PageDelete(pid, ns, title)):
            st.record_held_page(basis.peer.wiki_id, basis.seq, pid, ns, title, True)


def _carry_files(st: State, view: PeerView, basis: Basis, files: FileSource | None, writer: BundleWriter, filler: Filler,
                 opts: MakeOptions) -> FilesSent:
    """Files after pages: the text is what an offline wiki is read for and costs
    little; media is large. Under --max-size, pages fill the bundle first and
    files (smallest first) take the room that is left."""
    fsent = FilesSent()
    if files is not None:
        fsent = carry_files(st, view, basis.seq, files, writer, room=filler.room, until=opts.until,
                            latest_only=opts.latest_only, reported=not opts.full)
        filler.deferred += fsent.deferred
    if filler.budget is not None and filler.deferred and not filler.carried_anything(fsent):
        raise UsageError(
            f"nothing fits in {opts.max_size:,} bytes: the next page's first revision alone is larger",
            hint="Give a larger --max-size, or carry the bundle in parts with --part-size.",
        )
    return fsent


def bundle_header(side: Side, basis: Basis, opts: MakeOptions, filler: Filler, fsent: FilesSent, source_name: str,
                  key: SecretKey) -> Header:
    st, peer = side.state, basis.peer.wiki_id
    return Header(
        sender=side.wiki_id, receiver=peer, seq=basis.seq, basis_seq=basis.basis_seq, basis=basis.basis,
        checkpoint=basis.checkpoint, created=int(time.time()), signer=key.key_id,
        kind="return" if st.is_upstream(peer) else "update",
        latest_only=opts.latest_only,
        counts=filler.counts(),
        capabilities=WRITTEN_CAPABILITIES + ((FILES_CAPABILITY,) if fsent.versions else ()) + tuple(sorted(filler.capabilities)),
        source=source_name,
        tool=f"wikibundle {__version__}",
        breakdown=filler.breakdown(fsent),
        ack_seq=basis.ack.seq if basis.ack else 0,
        ack=basis.ack.checkpoint if basis.ack else bytes(16),
        notices=tuple(st.notices_for(peer, basis.seq, basis.basis_seq)),
    )


def _record_source_mark(st: State, basis: Basis, source: PageSource, opts: MakeOptions, deferred: int) -> None:
    """Where a MediaWiki source read up to, for the next bundle. (Not after --until or
    with pages left for later: the next bundle must read them, so it lists every page.)"""
    if source.mark is not None and opts.until is None and not deferred:
        st.record_source_mark(basis.peer.wiki_id, basis.seq, source.mark, source.top_rev_id, source.top_page_id,
                              source.verified)
