"""What the page reads from the embedded store beyond ``WikiStore``'s methods.

Recent changes, the heads of all pages (for the search index), the conflicts kept
by a return and the local edits waiting to go back, read through the store's
methods (the store owns its schema and its SQL).

Conflicts: ``landing.ReturnApplier`` records each one as an edit by ``MERGE_USER``
whose summary begins ``Edit conflict:``; it puts the online text back, and its
parent is the offline revision. That edit travels with the next update, so both
sides hold it (the offline side under its own id for the offline revision, which
the parent names). The online revision is the newest one before the conflict edit
whose text is the one it kept (same sha1): older or newer than the offline one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..landing import MERGE_USER
from ..identity import local_id_range
from ..state import State
from ..store import Change, WikiStore

CONFLICT_SUMMARY = "Edit conflict:"  # landing.ReturnApplier


@dataclass(frozen=True, slots=True)
class Conflict:
    title: str
    page_id: int
    kept: int  # the conflict edit (the online text, current until resolved)
    online: int  # the online revision whose text was kept
    offline: int  # the offline revision (its text is in the history)
    user: str | None  # who made the offline edit
    timestamp: int
    open: bool  # the page still shows what the conflict edit kept


def edits_waiting(store: WikiStore, state: State, wiki_id: str, peer: str, since: int, limit: int = 50) -> list[Change]:
    """Revisions made on this side (its own id range) since ``since``, the time the
    last bundle to the upstream ``peer`` was made, that the peer does not hold by
    that bundle: what the next return carries."""
    ids = local_id_range(wiki_id)
    chain = state.chain(peer, state.last_sent_seq(peer))
    held: dict[int, set[int]] = {}
    waiting = []
    for c in store.changes_in(ids, since):
        if c.page_id not in held:
            held[c.page_id] = state.held_rev_ids(peer, c.page_id, chain)
        if c.rev_id not in held[c.page_id]:
            waiting.append(c)
            if len(waiting) == limit:
                break
    return waiting


def conflicts(store: WikiStore) -> list[Conflict]:
    """Every conflict a return left on this wiki, newest first."""
    found = []
    for edit in store.edits_by(MERGE_USER, CONFLICT_SUMMARY):
        kept, page_id, offline, sha1, ts = edit.rev_id, edit.page_id, edit.parent_id, edit.sha1, edit.timestamp
        history = list(store.revision_meta(page_id).values())
        ids = [r.rev_id for r in history]
        if offline not in ids:
            continue
        # The online revision is the newest before the conflict edit with the text it
        # kept. It may be older or newer than the offline one: the two were made apart,
        # and the history orders them by their own clocks.
        before = history[: ids.index(kept)] if kept in ids else history
        online = next((r.rev_id for r in reversed(before) if r.sha1 == sha1 and r.rev_id != offline), None)
        if online is None:
            continue
        head = history[-1]
        found.append(Conflict(store.live_title(page_id) or "", page_id, kept, online, offline,
                              history[ids.index(offline)].user, ts, head.rev_id == kept))
    return found


def conflict(store: WikiStore, kept: int) -> Conflict | None:
    return next((c for c in conflicts(store) if c.kept == kept), None)
