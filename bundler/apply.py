"""``bundle apply``: verify everything, then change the wiki in one transaction.

Order (formats/BUNDLE.md §Semantics): header fields → receiver is this side →
body hash → signature by a trusted key that belongs to the sender → sequence
and basis against what this side has applied → decode and import every frame
inside one store transaction (all or nothing) → record the checkpoint → write
the signed manifest. Re-applying a bundle already applied changes nothing.

On a side whose wiki is a MediaWiki the "transaction" is ``targets.mediawiki``'s:
everything is decoded and staged first, written when the block ends, and a
re-run after a failure finishes the writes (the bundle is recorded only then).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

from . import __version__
from .container import EMPTY_CHECKPOINT, BundleReader, Header
from .errors import BasisError, FormatError, StaleBundleError, WrongPeerError
from .manifest import new_manifest, write_manifest
from .records import decode_frame
from .state import Received, Side


@dataclass
class ApplyResult:
    header: Header
    already: bool = False
    pages: int = 0
    revisions_added: int = 0
    revisions_present: int = 0
    moves: list[tuple[str, str]] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    manifest: str | None = None
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the target could not do as asked
    api_requests: int | None = None  # a MediaWiki target: Action API requests sent


def check_bundle(side: Side, reader: BundleReader, progress: Callable[[int], None] | None = None) -> Received | None:
    """Everything that can be checked before the wiki is touched. Returns the
    record of this same bundle if it was applied before."""
    reader.verify(side.state.peer_by_key_id, progress=progress)
    h = reader.header
    if h.receiver != side.wiki_id:
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
        if b.checkpoint != h.basis:
            raise BasisError(
                f"bundle {h.seq} builds on a checkpoint {h.basis_seq} other than the one applied here",
                hint="The sender's state was replaced; ask it for a full bundle (bundle make --full).",
            )
    elif h.basis != EMPTY_CHECKPOINT:
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
    key = side.secret_key()
    with BundleReader(path) as reader:
        previous = check_bundle(side, reader, verify_progress)
        h = reader.header
        result = ApplyResult(header=h)
        store = side.store()
        try:
            if previous is not None:
                result.already = True
            else:
                if side.is_api:  # a MediaWiki: bundle ids map to the wiki's own (targets/mediawiki.py)
                    store.bind_bundle(h, reader.body_sha256.hex())
                _import(store, reader, result, progress)
                with side.state.transaction():
                    side.state.record_received(
                        Received(h.sender, h.seq, h.checkpoint, h.basis_seq, reader.body_sha256.hex(), int(time.time()))
                    )
            last = side.state.last_received(h.sender)
            assert last is not None
            counts = store.counts()
            m = new_manifest(side.wiki_id, h.sender, last.seq, last.checkpoint, counts.pages, counts.revisions, f"wikibundle {__version__}")
            out = manifest_out or os.path.join(side.path, "manifests", f"manifest-{h.sender[:8]}-{last.seq}.wbm")
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            write_manifest(out, m, key)
            result.manifest = out
        finally:
            if side.is_api:
                result.api_requests = store.client.requests
            store.close()
    result.elapsed = time.monotonic() - t0
    return result


def _import(store, reader: BundleReader, result: ApplyResult, progress) -> None:
    h = reader.header
    n_revs = n_moves = n_dels = n_updates = 0
    page_ids: set[int] = set()
    with store.transaction():
        for i, frame in enumerate(reader.frames()):
            bases = frame.meta.get("dict")
            if hasattr(store, "prefetch_texts") and isinstance(bases, list):
                store.prefetch_texts(bases)  # a MediaWiki fetches them in batches, not one request each
            content = decode_frame(
                frame.meta, frame.body, frame.raw_len, store.get_text, what=f"frame {i} (offset {frame.offset})", get_title=store.live_title
            )
            if content.siteinfo is not None:
                store.set_siteinfo(content.siteinfo)
            for mv in content.moves:
                result.moves.append((mv.old_title, mv.new_title))
            for page in content.pages:
                store.put_page(page)
            page_ids.update(p.page_id for p in content.pages)
            for rev in content.revisions:
                if store.put_revision(rev):
                    result.revisions_added += 1
                else:
                    result.revisions_present += 1
                n_revs += 1
                if progress and n_revs % 500 == 0:
                    progress(n_revs)
            for u in content.updates:
                store.update_revision_meta(u)
            n_updates += len(content.updates)
            n_moves += len(content.moves)
            for d in content.deletes:
                store.delete_page(d.page_id)
                result.deletions.append(d.title)
            n_dels += len(content.deletes)
        got = (len(page_ids), n_revs, n_moves, n_dels, n_updates)
        want = (h.counts.pages, h.counts.revisions, h.counts.moves, h.counts.deletions, h.counts.updates)
        if got != want:
            raise FormatError(f"the bundle holds {got} (pages, revisions, moves, deletions, updates); its header says {want}")
    result.pages = len(page_ids)
    result.notes = list(getattr(store, "notes", ()))
    if progress:
        progress(n_revs)
