"""What the page reads from the embedded store beyond ``WikiStore``'s methods.

Recent changes, the heads of all pages (for the search index), the conflicts kept
by a return and the local edits waiting to go back. These are read-only queries on
the store's tables (``page``, ``revision``): the store owns the schema, and these
are listed in the report for it to take in as methods.

Conflicts: ``merge.ReturnApplier`` records each one as an edit by ``MERGE_USER``
whose summary begins ``Edit conflict:``; it puts the online text back, and its
parent is the offline revision. That edit travels with the next update, so both
sides hold it (the offline side under its own id for the offline revision, which
the parent names). The online revision is the newest one before the offline
revision whose text is the one the conflict edit kept (same sha1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..landing import MERGE_USER
from ..model import local_id_range
from ..state import State
from ..store import WikiStore

CONFLICT_SUMMARY = "Edit conflict:"  # merge.ReturnApplier._land_revisions


@dataclass(frozen=True, slots=True)
class Change:
    rev_id: int
    page_id: int
    title: str
    timestamp: int
    user: str | None
    comment: str | None
    parent_id: int | None


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


_CHANGE = ("SELECT r.rev_id, r.page_id, p.title, r.timestamp, r.user, r.comment, r.parent_id"
           " FROM revision r JOIN page p USING (page_id) WHERE p.deleted = 0")


def recent_changes(store: WikiStore, limit: int = 50) -> list[Change]:
    rows = store.db.execute(_CHANGE + " ORDER BY r.timestamp DESC, r.rev_id DESC LIMIT ?", (limit,))
    return [Change(*r) for r in rows]


def heads(store: WikiStore):
    """(page_id, title, current rev_id) of every live page, streamed."""
    return store.db.execute(
        "SELECT p.page_id, p.title, (SELECT rev_id FROM revision r WHERE r.page_id = p.page_id"
        " ORDER BY timestamp DESC, rev_id DESC LIMIT 1) FROM page p WHERE p.deleted = 0"
    )


def edits_waiting(store: WikiStore, state: State, wiki_id: str, peer: str, since: int, limit: int = 50) -> list[Change]:
    """Revisions made on this side (its own id range) since ``since``, the time the
    last bundle to the upstream ``peer`` was made, that the peer does not hold by
    that bundle: what the next return carries."""
    ids = local_id_range(wiki_id)
    chain = state.chain(peer, state.last_sent_seq(peer))
    rows = store.db.execute(
        _CHANGE + " AND r.rev_id >= ? AND r.rev_id < ? AND r.timestamp >= ? ORDER BY r.timestamp DESC",
        (ids.start, ids.stop, since),
    )
    held: dict[int, set[int]] = {}
    waiting = []
    for row in rows:
        c = Change(*row)
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
    rows = store.db.execute(
        "SELECT r.rev_id, r.page_id, r.parent_id, r.sha1, r.timestamp FROM revision r JOIN page p USING (page_id)"
        " WHERE p.deleted = 0 AND r.user = ? AND r.comment LIKE ? ORDER BY r.timestamp DESC",
        (MERGE_USER, CONFLICT_SUMMARY + "%"),
    ).fetchall()
    for kept, page_id, offline, sha1, ts in rows:
        history = list(store.revision_meta(page_id).values())
        ids = [r.rev_id for r in history]
        if offline not in ids:
            continue
        before = history[: ids.index(offline)]
        online = next((r.rev_id for r in reversed(before) if r.sha1 == sha1), None)
        if online is None:
            continue
        head = history[-1]
        found.append(Conflict(store.live_title(page_id) or "", page_id, kept, online, offline,
                              history[ids.index(offline)].user, ts, head.rev_id == kept))
    return found


def conflict(store: WikiStore, kept: int) -> Conflict | None:
    return next((c for c in conflicts(store) if c.kept == kept), None)
