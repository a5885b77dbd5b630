"""``bundle apply``: verify everything, then change the wiki in one transaction.

Order (formats/BUNDLE.md §Semantics): header fields → receiver is this side →
body hash → signature by a trusted key that belongs to the sender → sequence
and basis against what this side has applied → decode and import every frame
inside one store transaction (all or nothing) → record the checkpoint → write
the signed manifest. Re-applying a bundle already applied changes nothing.

The wiki is a target (``bundler.targets``: ``open_target``), and this module
never asks which kind: on the embedded store the transaction is one SQLite
transaction; on a MediaWiki it is ``targets.mediawiki``'s: everything is decoded
and staged first, written when the block ends, and a re-run after a failure
finishes the writes (the bundle is recorded only then).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from . import __version__
from .container import EMPTY_CHECKPOINT, SLOT_DELTA_CAPABILITY, BundleReader, Header, same_checkpoint
from .errors import BasisError, FormatError, StaleBundleError, WrongPeerError
from .manifest import new_manifest, pack_sha1s, write_manifest
from .make import mkey
from .files_conflicts import resolve_file_conflicts
from .landing import MERGE_USER, Changes, ReturnApplier
from .identity import page_rkeys
from .frame_reader import decode_frame
from .state import Received, Side
from .state.files import HeldFiles
from .store import INT64
from .targets import UpdateTarget, open_target


@dataclass
class ApplyResult(Changes):
    header: Header
    already: bool = False
    files_added: int = 0  # file versions
    blobs_added: int = 0  # distinct file contents stored
    file_versions: list = field(default_factory=list)  # FileVersions the bundle carried
    manifest: str | None = None
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the target could not do as asked
    api_requests: int | None = None  # a MediaWiki target: Action API requests sent


def check_bundle(side: Side, reader: BundleReader, progress: Callable[[int], None] | None = None) -> Received | None:
    """Everything that can be checked before the wiki is touched. Returns the
    record of this same bundle if it was applied before."""
    reader.verify(side.state.peer_by_key_id, progress=progress)
    h = reader.header
    if not h.for_wiki(side.wiki_id):
        raise WrongPeerError(
            f"this bundle was made for wiki {h.receiver[:8]}…, not for this side ({side.wiki_id[:8]}…, {side.label})",
            hint="Apply it on the side it was made for; 'bundle inspect FILE' shows its receiver.",
        )
    st = side.state
    sha = reader.body_sha256.hex()
    same = st.received(h.sender, h.seq)
    if same is not None:
        if same.sha256 == sha:
            return same
        raise StaleBundleError(
            f"a different bundle {h.seq} from this sender was already applied here",
            hint="The sender's state was reset; ask it for a full bundle (bundle make --full).",
        )
    last = st.last_received(h.sender)
    if last is not None and h.seq < last.seq:
        raise StaleBundleError(
            f"bundle {h.seq} is older than bundle {last.seq}, already applied here",
            hint="Nothing to do: this side is already further on. Apply the newest bundle you have.",
        )
    if h.basis_seq:
        b = st.received(h.sender, h.basis_seq)
        if b is None:
            raise BasisError(
                f"bundle {h.seq} builds on bundle {h.basis_seq}, which this side has not applied: apply bundle {h.basis_seq} first",
                hint=f"Applied so far from this sender: {last.seq if last else 'none'}.",
            )
        if not same_checkpoint(b.checkpoint, h.basis):
            raise BasisError(
                f"bundle {h.seq} builds on a checkpoint {h.basis_seq} other than the one applied here",
                hint="The sender's state was replaced; ask it for a full bundle (bundle make --full).",
            )
    elif any(h.basis):
        raise FormatError("header: basis 0 must have an all-zero checkpoint id")
    return None


def apply_bundle(
    side: Side,
    path: str,
    *,
    manifest_out: str | None = None,
    verify_progress: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ApplyResult:
    t0 = time.monotonic()
    # The manifest is signed after the import: load the key first, so a missing or
    # too-open key file refuses the bundle before the wiki changes, not after.
    side.secret_key()
    st = side.state
    with BundleReader(path) as reader:
        previous = check_bundle(side, reader, verify_progress)
        h = reader.header
        result = ApplyResult(header=h)
        store = open_target(side)
        try:
            if previous is not None:
                result.already = True
            else:
                _confirm_ack(side, h)
                store.bind_bundle(h, reader.body_sha256.hex())  # a MediaWiki: bundle ids map to the wiki's own
                if h.kind == "return":
                    rows = _import_return(side, store, reader, result, progress)
                else:
                    rows = _import(side, store, reader, result, progress)
                with st.transaction():
                    st.record_received(
                        Received(h.sender, h.seq, h.checkpoint, h.basis_seq, reader.body_sha256.hex(), int(time.time()))
                    )
                    # What the sender holds because it sent it (or, for a return, because
                    # this side made it from what the sender sent): its view includes these.
                    revs, pages = rows
                    st.record_held_revs(h.sender, -h.seq, revs)
                    for pid, ns, title, deleted in pages:
                        st.record_held_page(h.sender, -h.seq, pid, ns, title, deleted)
                    if h.kind == "update":
                        st.set_upstream(h.sender)  # bundles back to it are returns
                    for text in result.notices:
                        st.add_notice(h.sender, text)
                    HeldFiles(st).record_sent_by(h.sender, h.seq, result.file_versions)
            result.notices = list(h.notices) + result.notices
            last = st.last_received(h.sender)
            assert last is not None
            result.manifest = write_side_manifest(side, h.sender, store, manifest_out)
        finally:
            result.api_requests = store.api_requests()
            store.close()
    result.elapsed = time.monotonic() - t0
    return result


def write_side_manifest(side: Side, peer: str, store, out: str | None = None) -> str:
    """Sign and write the manifest for ``peer``: the last of its bundles applied here
    (seq 0: none yet) and the sha1s of every file content the wiki holds
    (``files_held``, formats/MANIFEST.md §Held files). Returns its path."""
    last = side.state.last_received(peer)
    seq, checkpoint = (last.seq, last.checkpoint) if last is not None else (0, EMPTY_CHECKPOINT)
    counts = store.counts()
    m = new_manifest(side.wiki_id, peer, seq, checkpoint, counts.pages, counts.revisions, f"wikibundle {__version__}",
                     pack_sha1s(store.held_sha1s()))
    out = out or os.path.join(side.path, "manifests", f"manifest-{peer[:8]}-{seq}.wbm")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_manifest(out, m, side.secret_key())
    return out


def _confirm_ack(side: Side, h) -> None:
    """The bundle says which of our bundles its sender has applied: the next one we
    make for it builds on that (no manifest needs to travel back separately)."""
    if not h.ack_seq:
        return
    sent = side.state.sent(h.sender, h.ack_seq)
    if sent is not None and same_checkpoint(sent.checkpoint, h.ack):
        with side.state.transaction():
            side.state.confirm(h.sender, h.ack_seq)


def _held_rows(store: UpdateTarget, page_ids: dict[int, dict[int, int]], titles: dict[int, tuple[int, str]], gone: set[int] = frozenset()):
    """(revision rows, page rows) of what the sender of an update now holds, for the
    pages it touched: rkeys as this side's history gives them, titles as the sender has them."""
    revs, pages = [], []
    for pid, incoming in page_ids.items():
        here = store.page(pid)
        if here is None:
            continue
        page, deleted = here
        ns, title = titles.get(pid, (page.namespace, page.title))
        pages.append((pid, ns, title, deleted or pid in gone))  # (kept here, but gone there)
        history = store.revision_keys(pid)
        for rev, k in zip(history, page_rkeys(history)):
            if rev.rev_id in incoming:
                revs.append((pid, rev.rev_id, k, incoming[rev.rev_id]))
    return revs, pages


def _import_return(side: Side, store: UpdateTarget, reader: BundleReader, result: ApplyResult, progress):
    h = reader.header
    peer = side.state.peer_by_wiki(h.sender)
    target = store.return_target(h.sender)
    applier = ReturnApplier(
        target, h.sender, peer.label if peer else "", lambda page_id, rkey: side.state.holds_rev(h.sender, page_id, rkey),
    )
    files = store.files()
    with target.transaction():
        out = applier.run(reader, progress, files.take)
        files.finish()
    # A MediaWiki uploads the offline files after the edits (the store has them already).
    files.write(f"wikibundle: return bundle {h.seq} from {peer.label if peer else h.sender[:8]}")
    found = _file_conflicts(side, h, files, out, online_is_sender=False)
    if found:
        with target.transaction():
            for c in found:
                applier.file_conflict_notice(c)
    result.notes = list(store.notes)  # e.g. files the wiki refused
    result.files_added, result.blobs_added, result.file_versions = files.versions_added, files.blobs_added, files.taken
    for f in dataclasses.fields(Changes):
        setattr(result, f.name, getattr(out, f.name))
    # The peer holds each landed revision under its own ids; the rkey is this side's.
    revs, pages = [], []
    landed: dict[int, dict[int, int]] = {}
    for peer_pid, peer_rid, local_rid in out.landed:
        landed.setdefault(peer_pid, {})[local_rid] = peer_rid
    for peer_pid, local, ns, title, deleted in out.touched:
        pages.append((peer_pid, ns, title, deleted))
        mine = landed.get(peer_pid, {})
        if mine:
            history = target.revision_keys(local)  # with attribution: the mkey is this side's too
            for rev, k in zip(history, page_rkeys(history)):
                if rev.rev_id in mine:
                    revs.append((peer_pid, mine[rev.rev_id], k, mkey(rev)))
    return revs, pages


def _file_conflicts(side: Side, h: Header, files, changes: Changes, *, online_is_sender: bool) -> list:
    """Files uploaded on both sides since the last sync (files_conflicts.py): the online
    version made current here, each reported."""
    held = HeldFiles(side.state)
    with files.transaction():
        found = resolve_file_conflicts(files, files.taken, lambda sha1: held.held_since(h.sender, sha1),
                                       online_is_sender=online_is_sender, user=MERGE_USER)
    peer = side.state.peer_by_wiki(h.sender)
    label = (peer.label if peer else "") or h.sender[:8]
    for c in found:
        changes.conflicts.append(f"File:{c.name.replace('_', ' ')}")
        changes.notices.append(c.notice(side.label if online_is_sender else label))
    return found


def _import(side: Side, store: UpdateTarget, reader: BundleReader, result: ApplyResult, progress):
    """An update: the sender's history, imported as it is. Edits made here and not yet
    sent back are protected: a page the update deletes is kept while it holds them,
    and a page of ours in the way of an incoming title is moved aside."""
    imp = _Import(side, store, reader.header, result, progress)
    files = store.files()
    with store.transaction():
        for i, frame in enumerate(reader.frames()):
            if files.take(frame, what=f"frame {i} (offset {frame.offset})"):
                continue
            imp.frame(frame, what=f"frame {i} (offset {frame.offset})")
        result.notices += store.step_aside(imp.page_ids)
        files.finish()
        imp.check_counts()
    _file_conflicts(side, reader.header, files, result, online_is_sender=reader.header.kind == "update")
    result.pages = len(imp.page_ids)
    result.notes = list(store.notes)
    result.files_added, result.blobs_added, result.file_versions = files.versions_added, files.blobs_added, files.taken
    if progress:
        progress(imp.n_revs)
    for pid in imp.page_ids:
        imp.incoming.setdefault(pid, {})
    return _held_rows(store, imp.incoming, imp.titles, imp.gone)


class _Import:
    """``_import``'s records frames, one at a time, and what it counts and remembers on the way."""

    def __init__(self, side: Side, store: UpdateTarget, h: Header, result: ApplyResult, progress):
        self.store, self.h, self.result, self.progress = store, h, result, progress
        self.n_revs = self.n_moves = self.n_dels = self.n_updates = 0
        self.page_ids: set[int] = set()
        self.incoming: dict[int, dict[int, int]] = {}  # page -> rev id -> mkey, as the sender has them
        self.st = side.state
        self.chain = self.st.chain(h.sender, self.st.confirmed_seq(h.sender))
        self.titles: dict[int, tuple[int, str]] = {}  # page -> (namespace, title) as the sender has it
        self.gone: set[int] = set()  # pages the sender deleted (kept here when they hold unsent edits)

    def sender_title(self, pid: int) -> str | None:
        """A page's title as the sender knows it (a page moved or deleted here keeps its old one there)."""
        known = self.st.view_title(self.h.sender, pid)
        return known[1] if known else self.store.live_title(pid)

    def unsent_edits(self, pid: int) -> bool:
        """Does the page hold edits made here that the sender does not hold yet?"""
        if pid not in INT64:
            return False  # no such page here (the store refuses the id)
        return bool(self.store.local_edits(pid) - self.st.held_rev_ids(self.h.sender, pid, self.chain))

    def frame(self, frame, what: str) -> None:
        """Decode one records frame and import its siteinfo, moves, pages, revisions, updates and deletions."""
        store = self.store
        store.prefetch_texts(frame.meta.get("dict"))  # a MediaWiki fetches them in batches, not one request each
        content = decode_frame(frame.meta, frame.body, frame.raw_len, store.get_text, what=what, get_title=self.sender_title,
                               compact=frame.compact, get_slots=store.get_slots,
                               slot_deltas=SLOT_DELTA_CAPABILITY in self.h.capabilities)
        if content.siteinfo is not None:
            store.set_siteinfo(content.siteinfo)
        for mv in content.moves:
            self.result.moves.append((mv.old_title, mv.new_title))
        self._pages(content.pages, {mv.page_id for mv in content.moves})
        self._revisions(content.revisions)
        self._updates(content.updates)
        self.n_moves += len(content.moves)
        self._deletes(content.deletes)

    def _pages(self, pages, moved: set[int]) -> None:
        """Put the pages; one moved here keeps its title here, one deleted here comes back."""
        for page in pages:
            self.titles[page.page_id] = (page.namespace, page.title)
            notice = self.store.put_page(page, page.page_id in moved)
            if notice is not None:
                self.result.notices.append(notice)
        self.page_ids.update(p.page_id for p in pages)

    def _revisions(self, revisions) -> None:
        for rev in revisions:
            self.incoming.setdefault(rev.page_id, {})[rev.rev_id] = mkey(rev)
            if self.store.put_revision(rev):
                self.result.revisions_added += 1
            else:
                self.result.revisions_present += 1
            self.n_revs += 1
            if self.progress and self.n_revs % 500 == 0:
                self.progress(self.n_revs)

    def _updates(self, updates) -> None:
        for u in updates:
            page_id = self.store.update_revision(u)
            if page_id is not None:  # update records name no page
                self.incoming.setdefault(page_id, {})[u.rev_id] = mkey(u)
        self.n_updates += len(updates)

    def _deletes(self, deletes) -> None:
        """Delete the pages the sender deleted, but keep those holding edits not sent back yet."""
        for d in deletes:
            self.incoming.setdefault(d.page_id, {})
            self.titles[d.page_id] = (d.namespace, d.title)
            self.gone.add(d.page_id)
            if self.unsent_edits(d.page_id):
                self.result.notices.append(f"{d.title}: deleted online but edited here; kept, and your edits travel back")
                continue
            self.store.delete_page(d.page_id)
            self.result.deletions.append(d.title)
        self.n_dels += len(deletes)

    def check_counts(self) -> None:
        """The bundle holds what its header says, or the import is refused (and rolled back)."""
        h = self.h
        got = (len(self.page_ids), self.n_revs, self.n_moves, self.n_dels, self.n_updates)
        want = (h.counts.pages, h.counts.revisions, h.counts.moves, h.counts.deletions, h.counts.updates)
        if got != want:
            raise FormatError(f"the bundle holds {got} (pages, revisions, moves, deletions, updates); its header says {want}")
