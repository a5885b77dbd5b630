"""The sync state database (``state.sqlite``): peers, the checkpoints sent and
received, what each peer holds (read through ``PeerView``, ``view.py``), marks of
sources, the return trip's upstream and notices.

Only this package runs SQL on it. Its tables are the named migrations of
``schema.py``.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..compact import KEY_HINT_LEN
from ..errors import KeyFileError, StateError, UsageError
from ..migrations import migrate
from ..signing import PublicKey
from ..tempset import TempIdSet
from .schema import MIGRATIONS
from .view import PeerView, ViewChain


@dataclass(frozen=True, slots=True)
class SourceMark:
    """Where a bundle made from a MediaWiki left off (``source_marks``)."""

    wiki_time: int  # the wiki's clock when the bundle began reading
    top_rev_id: int | None  # None: made before 0007 (the next bundle lists every page)
    top_page_id: int | None
    verified: bool


@dataclass(frozen=True, slots=True)
class Sent:
    peer: str
    seq: int
    checkpoint: bytes
    basis_seq: int
    created: int
    sha256: str
    latest_only: bool
    siteinfo: str | None


@dataclass(frozen=True, slots=True)
class Received:
    sender: str
    seq: int
    checkpoint: bytes
    basis_seq: int
    sha256: str
    applied: int


class State:
    def __init__(self, path: str):
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            migrate(self.db, MIGRATIONS)
            self._view_chain = ViewChain(self.db)
        except sqlite3.DatabaseError as e:
            raise StateError(
                f"the state database {path} is damaged ({e})",
                hint="See README 'Recovery': move the state directory aside, run 'bundle init' again and ask the peer for a full bundle.",
            ) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._view_chain.forget()
            raise

    def page_set(self, name: str) -> TempIdSet:
        """An empty set of page ids, in a temporary table of the state."""
        return TempIdSet(self.db, name)

    # --- peers ------------------------------------------------------------------

    def add_peer(self, key: PublicKey) -> bool:
        row = self.db.execute("SELECT public FROM peers WHERE wiki_id=?", (key.wiki_id,)).fetchone()
        if row and bytes(row[0]) == key.public:
            return False
        hint = key.key_id[: 2 * KEY_HINT_LEN]
        clash = next((p for p in self.peers() if p.wiki_id != key.wiki_id and p.key_id.startswith(hint)), None)
        if clash is not None:
            raise KeyFileError(
                f"key {key.key_id} begins as the key of {clash.label or clash.wiki_id[:8]} ({clash.key_id}) does:"
                " bundles name their signer by the first 8 hex digits of its key id, so this side cannot trust both",
                hint="Two keys agree in their first 4 bytes once in about four billion pairs;"
                " one of the sides needs a new key (bundle init).",
            )
        self.db.execute(
            "INSERT OR REPLACE INTO peers VALUES (?,?,?,?)", (key.wiki_id, key.public, key.label, int(time.time()))
        )
        return True

    def peers(self) -> list[PublicKey]:
        return [PublicKey(w, bytes(p), l) for w, p, l in self.db.execute("SELECT wiki_id, public, label FROM peers ORDER BY added")]

    def peer_by_key_id(self, key_id: str) -> PublicKey | None:
        """The trusted key with this id, or whose id begins with this hint (a compact bundle's
        signature block names a key by its first 4 bytes: ``add_peer`` keeps them distinct)."""
        if len(key_id) < 2 * KEY_HINT_LEN:
            return None
        return next((p for p in self.peers() if p.key_id.startswith(key_id)), None)

    def peer_by_wiki(self, wiki_id: str) -> PublicKey | None:
        return next((p for p in self.peers() if p.wiki_id == wiki_id), None)

    def find_peer(self, name: str | None) -> PublicKey:
        peers = self.peers()
        if not peers:
            raise UsageError(
                "this side trusts no peer yet, so it does not know whom to make a bundle for",
                hint="Get the receiver's key file ('bundle key' on that side) and run: bundle trust -C DIR KEYFILE",
            )
        if name is None:
            if len(peers) > 1:
                raise UsageError(
                    f"this side has {len(peers)} peers; say which with --to",
                    hint="Peers: " + ", ".join(f"{p.label or '?'} ({p.wiki_id[:8]})" for p in peers),
                )
            return peers[0]
        hits = [p for p in peers if p.label == name or p.wiki_id.startswith(name) or p.key_id.startswith(name)]
        if len(hits) != 1:
            raise UsageError(
                f"--to {name!r} matches {len(hits)} peers",
                hint="Peers: " + ", ".join(f"{p.label or '?'} ({p.wiki_id[:8]})" for p in peers),
            )
        return hits[0]

    # --- sending ------------------------------------------------------------------

    def sent(self, peer: str, seq: int) -> Sent | None:
        row = self.db.execute("SELECT * FROM sent WHERE peer=? AND seq=?", (peer, seq)).fetchone()
        return Sent(row[0], row[1], bytes(row[2]), row[3], row[4], row[5], bool(row[6]), row[7]) if row else None

    def last_sent_seq(self, peer: str) -> int:
        return self.db.execute("SELECT coalesce(max(seq), 0) FROM sent WHERE peer=?", (peer,)).fetchone()[0]

    def confirmed_seq(self, peer: str) -> int:
        row = self.db.execute("SELECT seq FROM confirmed WHERE peer=?", (peer,)).fetchone()
        return row[0] if row else 0

    def confirm(self, peer: str, seq: int) -> None:
        self.db.execute(
            "INSERT INTO confirmed VALUES (?,?,?) ON CONFLICT(peer) DO UPDATE SET seq=max(seq, excluded.seq), at=excluded.at",
            (peer, seq, int(time.time())),
        )

    def chain(self, peer: str, seq: int) -> list[int]:
        out = []
        while seq:
            s = self.sent(peer, seq)
            if s is None:
                raise StateError(f"checkpoint {seq} for peer {peer[:8]} is missing from the state")
            out.append(seq)
            seq = s.basis_seq
        return out

    def peer_view(self, peer: str, chain: Iterable[int]) -> PeerView:
        """What ``peer`` holds at ``chain`` (``chain`` of a checkpoint, and ``received_chain``)."""
        return PeerView(self.db, self._view_chain, peer, tuple(chain))

    def received_chain(self, peer: str) -> list[int]:
        """The held rows this side recorded from bundles *received* from the peer
        (negative seq): what the peer holds because it sent it."""
        return [-r[0] for r in self.db.execute("SELECT seq FROM received WHERE sender=? ORDER BY seq", (peer,))]

    def holds_rev(self, peer: str, page_id: int, rkey: int) -> bool:
        """Was the peer ever given (or did it ever send) this revision of this page?"""
        return self.db.execute(
            "SELECT 1 FROM held_revs WHERE peer=? AND page_id=? AND rkey=? LIMIT 1", (peer, page_id, rkey)
        ).fetchone() is not None

    def held_rev_ids(self, peer: str, page_id: int, seqs: list[int]) -> set[int]:
        q = ",".join("?" * len(seqs))
        return {r[0] for r in self.db.execute(
            f"SELECT rev_id FROM held_revs WHERE peer=? AND page_id=? AND seq IN ({q})", (peer, page_id, *seqs)
        )} if seqs else set()

    def record_sent(self, s: Sent) -> None:
        self.db.execute(
            "INSERT INTO sent VALUES (?,?,?,?,?,?,?,?)",
            (s.peer, s.seq, s.checkpoint, s.basis_seq, s.created, s.sha256, int(s.latest_only), s.siteinfo),
        )

    def record_held_revs(self, peer: str, seq: int, rows: list[tuple[int, int, int, int]]) -> None:
        """rows: (page_id, rev_id, rkey, mkey) in the ids the peer knows them by."""
        self.db.executemany(
            "INSERT OR REPLACE INTO held_revs VALUES (?,?,?,?,?,?)", [(peer, seq, p, r, k, m) for p, r, k, m in rows]
        )

    def record_held_page(self, peer: str, seq: int, page_id: int, namespace: int, title: str, deleted: bool) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO held_pages VALUES (?,?,?,?,?,?)", (peer, seq, page_id, namespace, title, int(deleted))
        )

    # --- receiving ------------------------------------------------------------------

    def received(self, sender: str, seq: int) -> Received | None:
        row = self.db.execute("SELECT * FROM received WHERE sender=? AND seq=?", (sender, seq)).fetchone()
        return Received(row[0], row[1], bytes(row[2]), row[3], row[4], row[5]) if row else None

    def last_received(self, sender: str) -> Received | None:
        row = self.db.execute("SELECT * FROM received WHERE sender=? ORDER BY seq DESC LIMIT 1", (sender,)).fetchone()
        return Received(row[0], row[1], bytes(row[2]), row[3], row[4], row[5]) if row else None

    def view_title(self, peer: str, page_id: int) -> tuple[int, str] | None:
        """The newest (namespace, title) this side knows the peer has for a page, if alive there."""
        if not -(1 << 63) <= page_id < (1 << 63):
            return None  # no wiki has such ids: the bundle is refused later, by the store
        row = self.db.execute(
            "SELECT namespace, title, deleted FROM held_pages INDEXED BY held_pages_page WHERE peer=? AND page_id=?"
            " ORDER BY rowid DESC LIMIT 1", (peer, page_id)
        ).fetchone()
        return (row[0], row[1]) if row and not row[2] else None

    def has_received(self, peer: str) -> bool:
        return self.db.execute("SELECT 1 FROM received WHERE sender=? LIMIT 1", (peer,)).fetchone() is not None

    def is_upstream(self, peer: str) -> bool:
        return self.db.execute("SELECT 1 FROM upstream WHERE peer=?", (peer,)).fetchone() is not None

    def record_source_mark(self, peer: str, seq: int, wiki_time: int, top_rev_id: int | None = None,
                           top_page_id: int | None = None, verified: bool = False) -> None:
        self.db.execute("INSERT OR REPLACE INTO source_marks VALUES (?,?,?,?,?,?)",
                        (peer, seq, wiki_time, top_rev_id, top_page_id, int(verified)))

    def source_mark(self, peer: str, seq: int) -> int | None:
        m = self.source_tops(peer, seq)
        return m.wiki_time if m else None

    def source_tops(self, peer: str, seq: int) -> SourceMark | None:
        row = self.db.execute(
            "SELECT wiki_time, top_rev_id, top_page_id, verified FROM source_marks WHERE peer=? AND seq=?", (peer, seq)
        ).fetchone()
        return SourceMark(row[0], row[1], row[2], bool(row[3])) if row else None

    def bundles_since_verified(self, peer: str, seq: int) -> int:
        """How many bundles along ``seq``'s chain were made since the last verified one
        (the whole chain when none was)."""
        n = 0
        for s in self.chain(peer, seq):
            m = self.source_tops(peer, s)
            if m is not None and m.verified:
                break
            n += 1
        return n

    def has_upstream(self) -> bool:
        return self.db.execute("SELECT 1 FROM upstream LIMIT 1").fetchone() is not None

    def add_notice(self, peer: str, text: str) -> None:
        """A merge or conflict to report to the peer in the next bundle made for it."""
        self.db.execute("INSERT INTO notices VALUES (?, ?, ?, NULL)", (peer, int(time.time()), text))

    def notices_for(self, peer: str, seq: int, basis_seq: int) -> list[str]:
        """Notices not yet in a bundle the peer confirmed; those new are marked as sent in ``seq``."""
        self.db.execute("UPDATE notices SET seq=? WHERE peer=? AND seq IS NULL", (seq, peer))
        return [r[0] for r in self.db.execute(
            "SELECT text FROM notices WHERE peer=? AND seq > ? ORDER BY rowid", (peer, basis_seq))]

    def set_upstream(self, peer: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO upstream VALUES (?, ?)", (peer, int(time.time())))

    def record_received(self, r: Received) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO received VALUES (?,?,?,?,?,?)",
            (r.sender, r.seq, r.checkpoint, r.basis_seq, r.sha256, r.applied),
        )
