"""``bundle make``: everything a peer lacks since the checkpoint it last reported.

One pass over the source (the side's store, or an XML dump), one page at a time:

1. Ask the state what the peer holds of this page at the basis checkpoint
   (``State.view_*``); a page whose revisions are all held, under the same title,
   costs one lookup and no text.
2. Carry the revisions it lacks, in history order; each travels as a character delta
   against the newest text the receiver has of that page by then (one it holds,
   or the previous one carried). ``latest_only`` carries just the newest.
3. A held page under a new title is a move; a held page the source no longer has
   is a deletion (found at the end, from the pages seen).
4. Record what the bundle adds under its new checkpoint, in the same state
   transaction that is committed only once the bundle file is complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from . import __version__
from .container import EMPTY_CHECKPOINT, FILES_CAPABILITY, WRITTEN_CAPABILITIES, BundleWriter, Counts, Header
from .files import FilesSent, FileSource, carry_files
from .errors import BasisError, UsageError, WrongPeerError
from .manifest import read_manifest
from .model import FRESH_IDS, LOCAL_IDS, Page, PageDelete, PageId, PageMove, RevId, Revision, page_rkeys, rkey
from .history import History, history_of
from .records import FrameBuilder
from .sources.dump import PageHistory
from .state import Sent, Side



def mkey(rev: Revision) -> int:
    """What of a revision can change after it was made: attribution and visibility."""
    h = hashlib.blake2b(digest_size=8)
    for part in (rev.user or "", str(rev.user_id), rev.comment or "", str(int(rev.deleted)), str(int(rev.minor))):
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    h.update(b"1" if rev.comment is None else b"0")
    return struct.unpack(">q", h.digest())[0] >> 1


def partial_rkeys(revs: Iterable[Revision], held: dict[int, tuple[int, int]]) -> list[int]:
    """``rkey`` of each revision of a partial history (``PageHistory.partial``): a
    revision the peer holds under its id gets that key; a new one the first
    occurrence whose key is neither held nor given to an earlier revision here. For a
    page whose held revisions were keyed by ``page_rkeys``, this gives each new
    revision the key the whole history would."""
    by_id = {rid: k for k, (rid, _m) in held.items()}
    taken = set(held)
    keys = []
    for rev in revs:
        n = 0
        k = rkey(rev, 0)
        while k in taken and by_id.get(rev.rev_id) != k:
            n += 1
            k = rkey(rev, n)
        taken.add(k)
        keys.append(k)
    return keys


def _renumber(rev: Revision, rev_id: int, page_id: int, ids: dict[int, int]) -> Revision:
    parent = ids.get(rev.parent_id) if rev.parent_id is not None else None
    if rev_id == rev.rev_id and page_id == rev.page_id and parent == rev.parent_id:
        return rev
    return dataclasses.replace(rev, rev_id=RevId(rev_id), page_id=PageId(page_id), parent_id=parent)


class _Fresh:
    """Hands out ids above everything this peer has been given (and FRESH_IDS)."""

    def __init__(self, st) -> None:
        self.rev = st.max_id("held_revs", "rev_id", FRESH_IDS, LOCAL_IDS)
        self.page = st.max_id("held_pages", "page_id", FRESH_IDS, LOCAL_IDS)

    def rev_id(self) -> int:
        self.rev += 1
        return self.rev

    def page_id(self) -> int:
        self.page += 1
        return self.page


def _seen(st, page_id: int) -> bool:
    return st.db.execute("SELECT 1 FROM seen_pages WHERE page_id=?", (page_id,)).fetchone() is not None


def _match_page(st, ph: PageHistory, read: Callable[[PageHistory, dict], tuple[History, list[int]]], fresh: _Fresh,
                peer_sends: bool):
    """Which page of the peer's this source page is: (page_id, view, held revisions,
    (history, keys) if it had to be read, else None).

    By page id when the histories agree (the normal case: ids are stable); else by
    shared revisions (a source that renumbered its pages); else a new page, under
    its own id if the peer has never seen that id. Returns page_id None when the
    page is unchanged (fast path, only for sources with stable ids).
    """
    src = ph.page
    view = st.view_page(src.page_id)
    held = st.view_revs(src.page_id) if view is not None else {}
    if ph.rev_ids is not None:
        if view is not None and not view[2] and view[1] == src.title and not ph.changed \
                and ph.rev_ids <= {rid for rid, _m in held.values()}:
            st.db.execute("INSERT OR IGNORE INTO seen_pages VALUES (?)", (src.page_id,))
            return None, view, held, None
        if view is not None or not peer_sends:
            return src.page_id, view, held, None
        # A page the peer does not know by this id may still be one it sent us (a page
        # made here from its return under another id): match by revisions below.
    hist, keys = read(ph, held)
    claimed = _seen(st, src.page_id)
    if view is not None and not claimed and (not keys or any(k in held for k in keys)):
        return src.page_id, view, held, (hist, keys)
    for pid, _n in st.pages_holding(keys[:64]):
        if not _seen(st, pid):
            return pid, st.view_page(pid), st.view_revs(pid), (hist, keys)
    pid = src.page_id
    if claimed or st.page_id_taken(pid, keys):
        pid = fresh.page_id()
    return pid, None, {}, (hist, keys)


@dataclass
class _PagePlan:
    """What the peer lacks of one page, found from the revisions' metadata alone."""

    ids: dict[int, int] = field(default_factory=dict)  # source rev_id -> the id the peer knows it by
    new: set[int] = field(default_factory=set)  # rkeys of the revisions the peer lacks
    updates: list[tuple[Revision, int, int]] = field(default_factory=list)  # (rev without text, mkey, rkey)


def _plan_page(st, page: Page, hist: History, keys: list[int], held: dict, fresh: _Fresh, claimed_revs: set[int]) -> _PagePlan:
    """Give each revision the peer lacks its id (``held`` then includes them), and
    note the held ones whose attribution or visibility changed since they were sent."""
    plan = _PagePlan()
    for rev, k in zip(hist.meta(), keys):
        if k in held:
            hid, hm = held[k]
            plan.ids[rev.rev_id] = hid
            m = mkey(rev)
            if m != hm:
                plan.updates.append((_renumber(rev, hid, page.page_id, plan.ids), m, k))
            continue
        rid = rev.rev_id
        if rid in claimed_revs or st.rev_id_taken(rid, k):
            rid = fresh.rev_id()
        claimed_revs.add(rid)
        plan.ids[rev.rev_id] = rid
        plan.new.add(k)
        held[k] = (rid, 0)
    return plan


def _text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _carried(hist: History, keys: list[int], plan: _PagePlan, page_id: int, latest_only: bool):
    """The revisions the peer lacks, in history order, one at a time: (rev in the
    peer's ids, base id, base text, rkey). Each is based on the newest text the
    receiver has of the page by then (one it holds, or the previous one carried);
    ``latest_only``: just the newest, based on the newest held text.

    A revert to a text the receiver holds travels as a copy of it, not as a delta
    against the vandalised text. Only held texts can be bases out of order (a
    frame's dictionary holds only texts the receiver has before it decodes the
    frame); they are remembered by sha1 and a digest, not kept: a revert's text is
    the held text itself, so it serves as its own base.
    """
    ids: dict[int, int] = {}  # as far as the history has been read: a parent later in it is not mapped
    base_id: int | None = None
    base_text: str | None = None
    by_sha1: dict[str, tuple[int, bytes]] = {}
    last = None
    for rev, k in zip(hist, keys):
        rid = ids[rev.rev_id] = plan.ids[rev.rev_id]
        if k not in plan.new:
            if rev.text is not None:
                base_id, base_text = rid, rev.text
                if rev.sha1 not in by_sha1:
                    by_sha1[rev.sha1] = (rid, _text_digest(rev.text))
            continue
        same = by_sha1.get(rev.sha1) if rev.text is not None else None
        if same is not None and same[1] == _text_digest(rev.text):
            bid, btext = same[0], rev.text
        else:
            bid, btext = base_id, base_text
        item = (_renumber(rev, rid, page_id, ids), bid, btext, k)
        if latest_only:
            last = item
            continue
        yield item
        if rev.text is not None:
            base_id, base_text = rid, rev.text
    if last is not None:
        yield last


# Under --max-size, the delta operations of the revisions found to fit are kept for
# adding them, up to this much of ``FrameBuilder.revision_cost``; beyond, they are
# computed again (a first bundle of a long history may fit far more than a frame).
HELD_OPS_COST = 16 << 20


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


# A source that lacks more than half the pages a peer holds (and more than this many)
# is far likelier a partial export than a wiki that lost half its pages.
MASS_DELETION_MIN = 10


class OverBudget(Exception):
    """Internal: the bundle came out larger than ``max_size``; make again with a smaller target."""

    def __init__(self, size: int):
        self.size = size


class Budget:
    """Estimates the finished bundle's size while it is being filled.

    Compressed size is known only for frames already written; the open frame is
    estimated with the compression ratio seen so far (0.5 before the first
    frame), plus room for the header and trailer.
    """

    OVERHEAD = 2048

    def __init__(self, limit: int):
        self.limit = limit
        self.raw = 0
        self.comp = 0

    def flushed(self, raw: int, comp: int) -> None:
        self.raw += raw
        self.comp += comp

    def ratio(self) -> float:
        return max(0.02, min(1.0, self.comp / self.raw)) * 1.1 if self.raw > 16384 else 0.5

    def fits(self, written: int, open_raw: int) -> bool:
        return written + open_raw * self.ratio() + self.OVERHEAD <= self.limit

    def should_flush(self, written: int, open_raw: int) -> bool:
        """Close the open frame once it may take half of what is left: the ratio
        is then learnt from real frames, and the estimate tightens as the bundle fills."""
        left = self.limit - written - self.OVERHEAD
        return open_raw > 16384 and open_raw * self.ratio() > left / 2


def make_bundle_retrying(side: Side, out: str, open_source, *, max_size: int | None = None, **kw) -> MakeResult:
    """``make_bundle`` from a source opened by ``open_source()`` -> (pages, siteinfo,
    name, close[, files]); under ``max_size``, made again with a smaller target when the
    estimate overshot (rare: compression is estimated from the frames so far)."""
    target = max_size
    for _attempt in range(5):
        pages, siteinfo, name, close, *files = open_source()
        try:
            return make_bundle(side, out, pages, siteinfo=siteinfo, source_name=name, max_size=max_size, target=target,
                               files=files[0] if files else None, **kw)
        except OverBudget as e:
            assert max_size is not None and target is not None
            target = int(target * max_size / e.size * 0.95)
        finally:
            close()
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
        side.state.confirm(key.wiki_id, m.seq)
    return key.wiki_id, m.seq


def make_bundle(
    side: Side,
    out: str,
    pages: Iterable[PageHistory],
    *,
    siteinfo,
    source_name: str,
    to: str | None = None,
    since: str | None = None,
    full: bool = False,
    latest_only: bool = False,
    until: int | None = None,
    cont: bool = False,
    allow_deletions: bool = False,
    max_size: int | None = None,
    target: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    files: FileSource | None = None,
) -> MakeResult:
    """Write the bundle. With ``max_size``, fill it up to ``target`` (default
    ``max_size``) and raise ``OverBudget`` if the result is still larger."""
    t0 = time.monotonic()
    st = side.state
    if since:
        peer_id, basis_seq = apply_manifest(side, since)
        peer = st.peer_by_wiki(peer_id)
        if to is not None and st.find_peer(to).wiki_id != peer_id:
            raise WrongPeerError("--since names a manifest of another peer than --to")
    else:
        peer = st.find_peer(to)
        basis_seq = st.confirmed_seq(peer.wiki_id)
    assert peer is not None
    if cont:
        basis_seq = st.last_sent_seq(peer.wiki_id)
    if full:
        basis_seq = 0
    chain = st.chain(peer.wiki_id, basis_seq)
    if not full:
        chain += st.received_chain(peer.wiki_id)  # what the peer holds because it sent it
    basis = st.sent(peer.wiki_id, basis_seq).checkpoint if basis_seq else EMPTY_CHECKPOINT
    seq = st.last_sent_seq(peer.wiki_id) + 1
    checkpoint = os.urandom(16)
    key = side.secret_key()
    ack = st.last_received(peer.wiki_id)

    # A source that can read only what changed since the basis (a MediaWiki) says which
    # pages to read and which titles were deleted; deletions then come from it, not
    # from absence.
    deleted_titles = None
    if hasattr(pages, "for_basis"):
        source = pages
        pages, deleted_titles = source.for_basis(st, peer.wiki_id, basis_seq)
    else:
        source = None

    writer = BundleWriter(out)
    fb = FrameBuilder()
    n_pages = n_revs = n_moves = n_dels = n_updates = text_bytes = 0
    by_ns: dict[int, list[int]] = {}  # namespace -> [revisions, inserted characters]
    raw_total = 0
    pages_seen = 0
    st.db.execute("CREATE TEMP TABLE IF NOT EXISTS seen_pages (page_id INTEGER PRIMARY KEY)")
    st.db.execute("DELETE FROM seen_pages")

    budget = Budget(target or max_size) if max_size else None
    deferred = 0

    def flush() -> None:
        nonlocal fb, text_bytes, raw_total
        if fb.empty():
            return
        meta, body, raw_len = fb.build()
        writer.add_frame(meta, body, raw_len)
        raw_total += raw_len
        if budget:
            budget.flushed(raw_len, len(body))
        text_bytes += fb.text_bytes
        known = fb.known_pages
        fb = FrameBuilder()
        fb.known_pages = known  # still known to the receiver in the next frame

    def fits(extra_raw: int) -> bool:
        return budget is None or budget.fits(writer.frame_bytes, fb.raw_estimate + extra_raw)

    try:
        with st.transaction():
            st.set_view(peer.wiki_id, chain)
            # Ids the peer has never seen keep their source value; a clash (a source
            # that renumbered its ids) gets a fresh id from a range no wiki reaches.
            fresh = _Fresh(st)
            peer_sends = st.has_received(peer.wiki_id)
            claimed_revs: set[int] = set()
            si_json = json.dumps(siteinfo.to_wire(), sort_keys=True)
            si_sent = None
            if st.siteinfo_in_view() != si_json:
                fb.siteinfo = siteinfo.to_wire()
                si_sent = si_json
            def read(ph: PageHistory, held: dict) -> tuple[History, list[int]]:
                hist = history_of(ph.revisions, until=until)
                # A partial history (a MediaWiki's new revisions and their base) counts
                # repeats of (timestamp, sha1) against what the peer holds of the page.
                return hist, partial_rkeys(hist.meta(), held) if ph.partial else page_rkeys(hist.meta())

            for ph in pages:
                pages_seen += 1
                # (The history is read there when ids alone cannot tell the page: a dump,
                # or a page unknown by id to a peer that has sent us pages.)
                page_id, view, held, hist_keys = _match_page(st, ph, read, fresh, peer_sends)
                if page_id is None:
                    continue  # (fast path) nothing new on a page the peer holds
                hist, keys = hist_keys if hist_keys is not None else read(ph, held)
                try:
                    if not keys:
                        continue  # after --until: the page does not exist yet
                    st.db.execute("INSERT OR IGNORE INTO seen_pages VALUES (?)", (page_id,))
                    src = ph.page
                    page = Page(PageId(page_id), src.namespace, src.title, src.redirect)
                    # Which revisions the peer lacks, and the ids it will know them by.
                    plan = _plan_page(st, page, hist, keys, held, fresh, claimed_revs)
                    updates = plan.updates
                    n_carry = min(len(plan.new), 1) if latest_only else len(plan.new)
                    alive = view is not None and not view[2]  # the peer holds the page, not deleted
                    moved = alive and view[1] != page.title
                    if not n_carry and not updates and alive and not moved:
                        continue
                    kept_ops: list | None = None  # under a budget: ops of the revisions that fit (None: compute again)
                    if budget is not None:
                        # Whole pages where they fit, else the oldest revisions that fit (so
                        # no revision travels without its parent); the rest waits.
                        head = 64 + len(page.title) * 2 + sum(40 + len(r.comment or "") for r, _, _ in updates)
                        if not fits(head):
                            deferred += 1
                            continue
                        kept_ops = []
                        cost = head
                        for rev, bid, btext, k in _carried(hist, keys, plan, page.page_id, latest_only):
                            ops = FrameBuilder.revision_ops(rev, btext if bid is not None else None)
                            c = FrameBuilder.revision_cost(rev, ops)
                            if not fits(cost + c):
                                break
                            cost += c
                            kept_ops.append(ops if cost - head <= HELD_OPS_COST else None)
                        if len(kept_ops) < n_carry:
                            deferred += 1
                            # Nothing of its history fits: a new (or undeleted) page waits whole,
                            # and so does a held one unless it has a move or updates to carry.
                            if not kept_ops and (not alive or not (moved or updates)):
                                continue
                    if moved:
                        fb.add_move(PageMove(page.page_id, page.namespace, view[1], page.title))
                        n_moves += 1
                    if alive and not moved:
                        fb.known_pages.add(page.page_id)  # its title need not travel
                    fb.add_page(page)
                    n_pages += 1
                    rows = []
                    for rev, m, k in updates:
                        fb.add_update(page, rev)
                        rows.append((page.page_id, rev.rev_id, k, m))
                    n_updates += len(updates)
                    n_kept = n_carry if kept_ops is None else len(kept_ops)
                    carried = _carried(hist, keys, plan, page.page_id, latest_only)
                    for i, (rev, bid, btext, k) in zip(range(n_kept), carried):
                        before = fb.inserted
                        fb.add_revision(page, rev, bid, btext, kept_ops[i] if kept_ops is not None else None)
                        rows.append((page.page_id, rev.rev_id, k, mkey(rev)))
                        ns_row = by_ns.setdefault(page.namespace, [0, 0])
                        ns_row[0] += 1
                        ns_row[1] += fb.inserted - before
                        if fb.full() or (budget and budget.should_flush(writer.frame_bytes, fb.raw_estimate)):
                            flush()
                    carried.close()
                    n_revs += n_kept
                    st.record_held_revs(peer.wiki_id, seq, rows)
                    st.record_held_page(peer.wiki_id, seq, page.page_id, page.namespace, page.title, False)
                    if progress:
                        progress(pages_seen, n_revs)
                    if fb.full():
                        flush()
                finally:
                    hist.close()
            # Deletions: pages the peer holds alive that the source no longer has.
            live = list(st.view_live_pages())
            gone = [(pid, ns, title) for pid, ns, title in live if not _seen(st, pid)
                    and (deleted_titles is None or title in deleted_titles)]
            if len(gone) > MASS_DELETION_MIN and len(gone) * 2 > len(live) and not allow_deletions:
                raise UsageError(
                    f"this bundle would delete {len(gone):,} of the {len(live):,} pages the peer holds",
                    hint="Is the source a partial export (some pages or namespaces only)? Give the whole wiki. "
                    "If the deletions are real, run again with --allow-deletions.",
                )
            for pid, ns, title in gone:
                if not fits(32 + len(title)):
                    deferred += 1
                    continue
                fb.add_delete(PageDelete(pid, ns, title))
                st.record_held_page(peer.wiki_id, seq, pid, ns, title, True)
                n_dels += 1
            flush()
            # Files after pages: the text is what an offline wiki is read for and costs
            # little; media is large. Under --max-size, pages fill the bundle first and
            # files (smallest first) take the room that is left.
            fsent = FilesSent()
            if files is not None:
                room = (lambda: None) if budget is None else (lambda: budget.limit - writer.frame_bytes - Budget.OVERHEAD)
                fsent = carry_files(st, peer.wiki_id, seq, files, writer, room=room, until=until, latest_only=latest_only)
                deferred += fsent.deferred
            if budget is not None and deferred and not (n_revs or n_moves or n_dels or n_updates or fsent.versions):
                raise UsageError(
                    f"nothing fits in {max_size:,} bytes: the next page's first revision alone is larger",
                    hint="Give a larger --max-size, or carry the bundle in parts with --part-size.",
                )
            inserted = sum(v[1] for v in by_ns.values())
            counts = Counts(
                pages=n_pages, revisions=n_revs, moves=n_moves, deletions=n_dels, updates=n_updates,
                frames=writer.frames, text_bytes=text_bytes,
            )
            header = Header(
                sender=side.wiki_id,
                receiver=peer.wiki_id,
                seq=seq,
                basis_seq=basis_seq,
                basis=basis,
                checkpoint=checkpoint,
                created=int(time.time()),
                signer=key.key_id,
                kind="return" if st.is_upstream(peer.wiki_id) else "update",
                latest_only=latest_only,
                counts=counts,
                capabilities=WRITTEN_CAPABILITIES + ((FILES_CAPABILITY,) if fsent.versions else ()),
                source=source_name,
                tool=f"wikibundle {__version__}",
                breakdown={
                    "namespaces": {str(ns): v for ns, v in sorted(by_ns.items())},  # msgpack map keys are strings here
                    "inserted": inserted,
                    "metadata": max(0, raw_total - inserted),
                    **({"files": fsent.breakdown()} if fsent.versions else {}),
                },
                ack_seq=ack.seq if ack else 0,
                ack=ack.checkpoint if ack else bytes(16),
                notices=tuple(st.notices_for(peer.wiki_id, seq, basis_seq)),
            )
            sha = writer.finish(header, key)
            size = writer.finished_size
            if max_size is not None and size > max_size:
                raise OverBudget(size)
            st.record_sent(
                Sent(peer.wiki_id, seq, checkpoint, basis_seq, header.created, sha, latest_only, si_sent)
            )
            # (Not after --until or with pages left for later: the next bundle must read
            # them, so it lists every page.)
            if source is not None and source.mark is not None and until is None and not deferred:
                st.record_source_mark(peer.wiki_id, seq, source.mark, source.top_rev_id, source.top_page_id,
                                      source.verified)
        # Named only once the state knows it (a kill in between leaves a recorded
        # bundle that never appeared: the next make simply builds on the same basis).
        writer.publish()
    except BaseException:
        writer.discard()
        raise
    return MakeResult(
        path=out,
        seq=seq,
        basis_seq=basis_seq,
        peer=peer.wiki_id,
        peer_label=peer.label,
        counts=counts,
        size=os.path.getsize(out),
        sha256=sha,
        pages_seen=pages_seen,
        elapsed=time.monotonic() - t0,
        by_namespace=by_ns,
        deferred=deferred,
        files=fsent.breakdown() if fsent.versions else {},
    )
