"""A side: its state directory, signing key, trusted peers and sync state.

    DIR/
      config.json     this side's wiki id, label and wiki (store path or API URL)
      key.secret      Ed25519 signing key, mode 0600
      state.sqlite    peers, checkpoints sent and received, what each peer holds
      lock            held (flock) while a command changes anything

What a peer holds is kept per checkpoint: each bundle made for a peer adds rows
(``held_revs``, ``held_pages``) under its sequence number and names its basis.
The view at checkpoint N is the union of the rows along N's chain of bases, the
newest row per page winning. So a manifest saying "I hold N" is enough for the
sender to know exactly what that receiver has, and the manifest stays small.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple

from ..model import FRESH_IDS
from ..errors import LockedError, StateError, UsageError
from ..signing import PublicKey, SecretKey, check_private, write_private

CONFIG = "config.json"
KEY = "key.secret"
PASSWORD = "password.secret"
STATE = "state.sqlite"
LOCK = "lock"

MIGRATIONS = [
    (
        "0001-initial",
        """
        CREATE TABLE peers (wiki_id TEXT PRIMARY KEY, public BLOB NOT NULL, label TEXT NOT NULL, added INTEGER NOT NULL);
        CREATE TABLE sent (
            peer TEXT NOT NULL, seq INTEGER NOT NULL, checkpoint BLOB NOT NULL, basis_seq INTEGER NOT NULL,
            created INTEGER NOT NULL, sha256 TEXT NOT NULL, latest_only INTEGER NOT NULL, siteinfo TEXT,
            PRIMARY KEY (peer, seq));
        CREATE TABLE confirmed (peer TEXT PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL);
        CREATE TABLE held_revs (peer TEXT NOT NULL, seq INTEGER NOT NULL, page_id INTEGER NOT NULL, rev_id INTEGER NOT NULL,
            rkey INTEGER NOT NULL, mkey INTEGER NOT NULL, PRIMARY KEY (peer, seq, rev_id));
        CREATE INDEX held_revs_page ON held_revs(peer, page_id);
        CREATE INDEX held_revs_rkey ON held_revs(peer, rkey);
        CREATE INDEX held_revs_id ON held_revs(peer, rev_id);
        CREATE TABLE held_pages (peer TEXT NOT NULL, seq INTEGER NOT NULL, page_id INTEGER NOT NULL,
            namespace INTEGER NOT NULL, title TEXT NOT NULL, deleted INTEGER NOT NULL,
            PRIMARY KEY (peer, seq, page_id));
        CREATE INDEX held_pages_page ON held_pages(peer, page_id);
        CREATE TABLE received (
            sender TEXT NOT NULL, seq INTEGER NOT NULL, checkpoint BLOB NOT NULL, basis_seq INTEGER NOT NULL,
            sha256 TEXT NOT NULL, applied INTEGER NOT NULL, PRIMARY KEY (sender, seq));
        """,
    ),
    (
        # File versions a peer holds per checkpoint, like held_revs (queries: files.py);
        # under a negative seq, the versions the peer sent us in its bundle -seq; and
        # sha1s of bytes the peer says it holds whatever we sent (files it got some
        # other way), which are never sent again as bytes.
        "0002-held-files",
        """
        CREATE TABLE held_files (peer TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
            timestamp INTEGER NOT NULL, sha1 TEXT NOT NULL, PRIMARY KEY (peer, seq, name, timestamp, sha1));
        CREATE INDEX held_files_sha1 ON held_files(peer, sha1);
        CREATE TABLE reported_files (peer TEXT NOT NULL, sha1 TEXT NOT NULL, PRIMARY KEY (peer, sha1));
        """,
    ),
    (
        # A side whose wiki is a MediaWiki (bundler/targets/mediawiki.py): MediaWiki
        # renumbers what it imports, so the ids a sender names this side's pages and
        # revisions by (bundle ids) map to the wiki's own. ``mw_own_revs``: revisions
        # applying made on the wiki itself (import and move null revisions, the edit
        # that makes the newest text current), which are never edits to send back.
        # ``mw_journal``: how far applying a bundle got, so a re-run finishes it.
        "0003-mediawiki-ids",
        """
        CREATE TABLE mw_pages (sender TEXT NOT NULL, page_id INTEGER NOT NULL, mw_page_id INTEGER NOT NULL,
            title TEXT NOT NULL, PRIMARY KEY (sender, page_id));
        CREATE INDEX mw_pages_mw ON mw_pages(mw_page_id);
        CREATE TABLE mw_revs (sender TEXT NOT NULL, rev_id INTEGER NOT NULL, mw_rev_id INTEGER NOT NULL,
            PRIMARY KEY (sender, rev_id));
        CREATE INDEX mw_revs_mw ON mw_revs(mw_rev_id);
        CREATE TABLE mw_own_revs (mw_rev_id INTEGER PRIMARY KEY, sender TEXT NOT NULL, seq INTEGER NOT NULL);
        CREATE TABLE mw_journal (sender TEXT NOT NULL, seq INTEGER NOT NULL, sha256 TEXT NOT NULL,
            started INTEGER NOT NULL, step TEXT NOT NULL, PRIMARY KEY (sender, seq, sha256));
        """,
    ),
    (
        # The return trip (formats/BUNDLE.md §Return bundles): a peer this side takes
        # updates from is its upstream; bundles to it are returns. What a peer holds
        # because it sent it to us is kept under negative seq (-1 * its bundle's seq),
        # always part of the view: the peer keeps what it has sent.
        "0004-return",
        """
        CREATE TABLE upstream (peer TEXT PRIMARY KEY, since INTEGER NOT NULL);
        CREATE TABLE notices (peer TEXT NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL, seq INTEGER);
        """,
    ),
    (
        # A MediaWiki source: the wiki's clock when each bundle began reading it, so the
        # next bundle reads only what changed since (sources/api.py).
        "0005-source-marks",
        """
        CREATE TABLE source_marks (peer TEXT NOT NULL, seq INTEGER NOT NULL, wiki_time INTEGER NOT NULL,
            PRIMARY KEY (peer, seq));
        """,
    ),
    (
        # File versions applying uploaded to a MediaWiki (targets/mediawiki_files.py).
        # The API uploads as the sync account, now: the wiki's version has its own time
        # (``mw_timestamp``), user and comment. The row keeps the sender's version it
        # stands for, so ``bundle make`` from this wiki (sources/api_files.py) reports
        # it as that version, which the sender holds: it never travels back as a new
        # upload, as ``mw_own_revs`` keeps null revisions from travelling back.
        "0006-mediawiki-files",
        """
        CREATE TABLE mw_files (sender TEXT NOT NULL, name TEXT NOT NULL, timestamp INTEGER NOT NULL,
            sha1 TEXT NOT NULL, mw_timestamp INTEGER NOT NULL, user TEXT, user_id INTEGER, comment TEXT,
            seq INTEGER NOT NULL, PRIMARY KEY (sender, name, timestamp, sha1));
        CREATE INDEX mw_files_mw ON mw_files(name, mw_timestamp, sha1);
        CREATE INDEX mw_files_sha1 ON mw_files(sha1);
        """,
    ),
    (
        # A MediaWiki source: the highest revision and page id each bundle saw. Ids only
        # grow, whatever the timestamps (importDump.php keeps an archive's old ones), so
        # the next bundle lists every revision above them (sources/api.py). ``verified``:
        # the bundle compared the wiki's whole listing with the peer's view (--verify).
        "0007-source-tops",
        """
        ALTER TABLE source_marks ADD COLUMN top_rev_id INTEGER;
        ALTER TABLE source_marks ADD COLUMN top_page_id INTEGER;
        ALTER TABLE source_marks ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
        """,
    ),
]


@dataclass(frozen=True, slots=True)
class SourceMark:
    """Where a bundle made from a MediaWiki left off (``source_marks``)."""

    wiki_time: int  # the wiki's clock when the bundle began reading
    top_rev_id: int | None  # None: made before 0007 (the next bundle lists every page)
    top_page_id: int | None
    verified: bool


@dataclass(frozen=True, slots=True)
class Drift:
    """The wiki's listing against what the peer holds (``bundle make --verify``)."""

    lacking_revs: int  # revisions on the wiki the peer's view lacks
    lacking_pages: frozenset[int]  # the pages that hold them
    extra_revs: int  # revisions the view holds of live pages that the wiki no longer shows
    extra_pages: tuple[tuple[int, str], ...]  # (page_id, title) alive in the view, gone from the wiki


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


class PageView(NamedTuple):
    """What the peer holds of one page at the view: its namespace and title, and
    whether the newest fact about it is a deletion."""

    namespace: int
    title: str
    deleted: bool


class State:
    def __init__(self, path: str):
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise StateError(
                f"the state database {path} is damaged ({e})",
                hint="See README 'Recovery': move the state directory aside, run 'bundle init' again and ask the peer for a full bundle.",
            ) from None

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied INTEGER)")
        done = {r[0] for r in self.db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in sql.split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, int(time.time())))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- peers ------------------------------------------------------------------

    def add_peer(self, key: PublicKey) -> bool:
        row = self.db.execute("SELECT public FROM peers WHERE wiki_id=?", (key.wiki_id,)).fetchone()
        if row and bytes(row[0]) == key.public:
            return False
        self.db.execute(
            "INSERT OR REPLACE INTO peers VALUES (?,?,?,?)", (key.wiki_id, key.public, key.label, int(time.time()))
        )
        return True

    def peers(self) -> list[PublicKey]:
        return [PublicKey(w, bytes(p), l) for w, p, l in self.db.execute("SELECT wiki_id, public, label FROM peers ORDER BY added")]

    def peer_by_key_id(self, key_id: str) -> PublicKey | None:
        return next((p for p in self.peers() if p.key_id == key_id), None)

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

    def received_chain(self, peer: str) -> list[int]:
        """The held rows this side recorded from bundles *received* from the peer
        (negative seq): what the peer holds because it sent it."""
        return [-r[0] for r in self.db.execute("SELECT seq FROM received WHERE sender=? ORDER BY seq", (peer,))]

    def set_view(self, peer: str, chain: list[int]) -> None:
        """Load the chain into a temp table that the view queries join on."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS view_chain (seq INTEGER PRIMARY KEY)")
        self.db.execute("DELETE FROM view_chain")
        self.db.executemany("INSERT INTO view_chain VALUES (?)", [(s,) for s in chain])
        self._view_peer = peer

    def view_page(self, page_id: int) -> PageView | None:
        row = self.db.execute(
            "SELECT namespace, title, deleted FROM held_pages INDEXED BY held_pages_page"
            " WHERE peer=? AND page_id=? AND seq IN (SELECT seq FROM view_chain)"
            " ORDER BY rowid DESC LIMIT 1",  # the newest fact wins, sent or received
            (self._view_peer, page_id),
        ).fetchone()
        return PageView(row[0], row[1], bool(row[2])) if row else None

    def view_revs(self, page_id: int) -> dict[int, tuple[int, int]]:
        """The revisions the peer holds of a page: rkey -> (the rev_id it knows it by, mkey).

        (INDEXED BY: with a one-checkpoint chain SQLite prefers the primary key's
        (peer, seq) prefix and reads every row of the checkpoint, per page.)"""
        return {
            rkey: (rid, mkey)
            for rid, rkey, mkey in self.db.execute(
                "SELECT rev_id, rkey, mkey FROM held_revs INDEXED BY held_revs_page"
                " WHERE peer=? AND page_id=? AND seq IN (SELECT seq FROM view_chain)"
                " ORDER BY rowid",
                (self._view_peer, page_id),
            )
        }

    def pages_holding(self, rkeys: list[int]) -> list[tuple[int, int]]:
        """Held pages that hold any of these revisions, best match first: (page_id, matches)."""
        if not rkeys:
            return []
        q = ",".join("?" * len(rkeys))
        return self.db.execute(
            f"SELECT page_id, count(*) AS n FROM held_revs INDEXED BY held_revs_rkey WHERE peer=? AND seq IN (SELECT seq FROM view_chain)"
            f" AND rkey IN ({q}) GROUP BY page_id ORDER BY n DESC, page_id",
            (self._view_peer, *rkeys),
        ).fetchall()

    def rev_id_taken(self, rev_id: int, rkey: int) -> bool:
        """Was this id ever given to the peer for another revision (in any checkpoint)?"""
        return self.db.execute(
            "SELECT 1 FROM held_revs WHERE peer=? AND rev_id=? AND rkey!=? LIMIT 1", (self._view_peer, rev_id, rkey)
        ).fetchone() is not None

    def page_id_taken(self, page_id: int, rkeys: list[int]) -> bool:
        """Was this id ever given to the peer for a page that shares none of these revisions?"""
        if self.db.execute("SELECT 1 FROM held_pages WHERE peer=? AND page_id=? LIMIT 1", (self._view_peer, page_id)).fetchone() is None:
            return False
        q = ",".join("?" * len(rkeys[:64]))
        return self.db.execute(
            f"SELECT 1 FROM held_revs WHERE peer=? AND page_id=? AND rkey IN ({q}) LIMIT 1",
            (self._view_peer, page_id, *rkeys[:64]),
        ).fetchone() is None

    def max_id(self, table: str, column: str, floor: int, below: int) -> int:
        row = self.db.execute(
            f"SELECT max({column}) FROM {table} WHERE peer=? AND {column} < ?", (self._view_peer, below)
        ).fetchone()
        return max(floor, row[0] or 0)

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

    def view_live_pages(self) -> Iterator[tuple[int, int, str]]:
        """Pages the peer holds alive at the view: (page_id, namespace, title)."""
        rows = self.db.execute(
            "SELECT h.page_id, h.namespace, h.title, h.deleted FROM held_pages h"
            " JOIN (SELECT page_id, max(rowid) AS r FROM held_pages WHERE peer=? AND seq IN (SELECT seq FROM view_chain)"
            "       GROUP BY page_id) last ON last.r = h.rowid",
            (self._view_peer,),
        )
        for pid, ns, title, deleted in rows:
            if not deleted:
                yield pid, ns, title

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

    def siteinfo_in_view(self) -> str | None:
        row = self.db.execute(
            "SELECT siteinfo FROM sent WHERE peer=? AND siteinfo IS NOT NULL AND seq IN (SELECT seq FROM view_chain)"
            " ORDER BY seq DESC LIMIT 1",
            (self._view_peer,),
        ).fetchone()
        return row[0] if row else None

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

    def drift(self, listing: Iterable[tuple[int, int]], skip: frozenset[int] = frozenset()) -> Drift:
        """Compare a wiki's (page_id, rev_id) listing with the view (``set_view``); ids are
        the wiki's (a source with stable ids). ``skip``: revision ids that never travel.
        The listing goes through a temporary table: memory stays flat with the wiki."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS source_listing (rev_id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL)")
        db.execute("DELETE FROM source_listing")
        db.executemany("INSERT OR REPLACE INTO source_listing VALUES (?, ?)",
                       ((rid, pid) for pid, rid in listing if rid not in skip))
        db.execute("CREATE TEMP TABLE IF NOT EXISTS view_held (rev_id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL)")
        db.execute("DELETE FROM view_held")
        live = {pid: title for pid, _ns, title in self.view_live_pages()}
        db.executemany("INSERT OR REPLACE INTO view_held VALUES (?, ?)", (
            (rid, pid) for rid, pid in db.execute(
                "SELECT rev_id, page_id FROM held_revs WHERE peer=? AND seq IN (SELECT seq FROM view_chain)",
                (self._view_peer,)) if pid in live))
        lacking = db.execute(
            "SELECT count(*), group_concat(DISTINCT page_id) FROM source_listing s"
            " WHERE NOT EXISTS (SELECT 1 FROM view_held v WHERE v.rev_id = s.rev_id)").fetchone()
        extra_revs = db.execute(
            "SELECT count(*) FROM view_held v JOIN source_listing p ON p.page_id = v.page_id"
            " WHERE v.rev_id < ? AND NOT EXISTS (SELECT 1 FROM source_listing s WHERE s.rev_id = v.rev_id)",
            (FRESH_IDS,)).fetchone()[0]
        listed = {r[0] for r in db.execute("SELECT DISTINCT page_id FROM source_listing")}
        pages = frozenset(int(p) for p in (lacking[1] or "").split(",") if p)
        extra_pages = tuple((pid, title) for pid, title in sorted(live.items()) if pid not in listed)
        return Drift(lacking[0], pages, extra_revs, extra_pages)

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


class Side:
    """A state directory. ``Side.open`` checks it; ``Side.create`` makes it."""

    def __init__(self, path: str, config: dict):
        self.path = path
        self.config = config
        self.wiki_id: str = config["wiki_id"]
        self.label: str = config.get("label", "")
        self.wiki: str = config["wiki"]
        self.state = State(os.path.join(path, STATE))
        self._lock_fd: int | None = None

    @classmethod
    def create(cls, path: str, wiki: str, label: str | None = None, user: str | None = None, password: str | None = None,
               local: dict | None = None) -> "Side":
        if os.path.exists(os.path.join(path, CONFIG)):
            raise UsageError(f"{path} is already a wikibundle side", hint="Use it as it is, or choose another directory with -C.")
        os.makedirs(path, exist_ok=True)
        if not (wiki.startswith("http://") or wiki.startswith("https://")):
            wiki = os.path.relpath(os.path.abspath(wiki), os.path.abspath(path)) if not os.path.isabs(wiki) else wiki
        config = {
            "format": "wikibundle-side-v1",
            "wiki_id": uuid.uuid4().hex,
            "label": label or os.path.basename(os.path.abspath(path)),
            "wiki": wiki,
        }
        if user:
            config["user"] = user
        if local:  # a MediaWiki on this machine, written through its scripts (targets/local.py)
            config["local"] = local
        SecretKey.generate(os.path.join(path, KEY))
        if password is not None:
            # Kept only here, like the signing key: mode 0600, never printed.
            write_private(os.path.join(path, PASSWORD), password.encode("utf-8"))
        tmp = os.path.join(path, CONFIG + ".tmp")
        with open(tmp, "w") as f:
            json.dump(config, f, indent=2)
        os.replace(tmp, os.path.join(path, CONFIG))
        return cls(path, config)

    @classmethod
    def open(cls, path: str) -> "Side":
        cfg = os.path.join(path, CONFIG)
        if not os.path.exists(cfg):
            raise StateError(
                f"{os.path.abspath(path)} is not a wikibundle side (no {CONFIG})",
                hint="Give the side's directory with -C DIR, or make one with: bundle init -C DIR --wiki WIKI",
            )
        try:
            with open(cfg) as f:
                config = json.load(f)
            if config.get("format") != "wikibundle-side-v1" or not isinstance(config.get("wiki_id"), str):
                raise ValueError("unknown format")
        except (OSError, ValueError) as e:
            raise StateError(f"{cfg} is damaged ({e})", hint="Restore it from a backup.") from None
        return cls(path, config)

    @property
    def wiki_path(self) -> str:
        return self.wiki if os.path.isabs(self.wiki) else os.path.join(self.path, self.wiki)

    @property
    def is_api(self) -> bool:
        return self.wiki.startswith(("http://", "https://"))

    def secret_key(self) -> SecretKey:
        return SecretKey.load(os.path.join(self.path, KEY))

    def public_key(self) -> PublicKey:
        return PublicKey(self.wiki_id, self.secret_key().public, self.label)

    def store(self, *, create: bool = False):
        """The side's embedded wiki store (``bundle apply`` opens the side's wiki,
        whatever its kind, with ``targets.open_target``)."""
        from ..store import WikiStore

        if self.is_api:
            raise UsageError(
                f"this side's wiki is a MediaWiki ({self.wiki}), not an embedded wiki store",
                hint="Edit, show and export it on the wiki itself; bundle make and bundle apply work on it.",
            )
        return WikiStore(self.wiki_path, create=create)

    def api_client(self):
        """A client for this side's MediaWiki, logged in with the stored bot password."""
        from ..mediawiki import MediaWikiClient

        user = self.config.get("user")
        password = None
        if user:
            path = os.path.join(self.path, PASSWORD)
            try:
                check_private(path, os.stat(path), "the bot password")
                with open(path, encoding="utf-8") as f:
                    password = f.read()
            except FileNotFoundError:
                raise StateError(
                    f"the bot password for {user} is missing from {self.path}",
                    hint="Make the side again with bundle init (WIKIBUNDLE_PASSWORD or the prompt).",
                ) from None
        return MediaWikiClient(self.wiki, user, password)

    @contextmanager
    def locked(self) -> Iterator[None]:
        fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockedError(
                    f"another wikibundle command is working on {os.path.abspath(self.path)}",
                    hint="Wait for it to finish, then run this again.",
                ) from None
            yield
        finally:
            os.close(fd)
