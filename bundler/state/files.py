"""The state's file tables (migration ``0002-held-files``): which file versions and
which bytes each peer holds.

- ``held_files``: file versions a peer holds per checkpoint, like ``held_revs``:
  under a bundle's ``seq`` what it carried; under the negative of a peer's bundle
  ``seq`` what that peer sent us (it keeps what it sent);
- ``reported_files``: sha1s of bytes the peer says it holds, whatever we sent
  (files it got some other way): never sent again as bytes. The peer's manifest
  fills it (``files_held``, formats/MANIFEST.md §Held files); ``holds_blob`` reads it.

What a peer holds is read at a ``PeerView`` (the peer and its chain of checkpoints),
given when reading. ``HeldFiles`` is the only code that runs SQL on these tables.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model import FileVersion
from .view import PeerView


class HeldFiles:
    """The file tables of one side's ``State``."""

    def __init__(self, state, view: PeerView | None = None, *, reported: bool = True):
        self.state = state
        self.db = state.db
        self.view = view  # where versions() and holds_blob() read (None: only recording)
        self.reported = reported  # False (a --full bundle): bytes only reported count as not held

    def _at_view(self) -> str:
        """The view's chain in ``view_chain``; its peer."""
        assert self.view is not None, "HeldFiles reads at the view it was given"
        self.view.load()
        return self.view.peer

    def versions(self, name: str) -> set[tuple[int, str]]:
        """(timestamp, sha1) of the versions of file ``name`` that the view's peer holds."""
        peer = self._at_view()
        return {
            (ts, sha1)
            for ts, sha1 in self.db.execute(
                "SELECT timestamp, sha1 FROM held_files WHERE peer=? AND name=? AND seq IN (SELECT seq FROM view_chain)",
                (peer, name),
            )
        }

    def holds_blob(self, sha1: str) -> bool:
        """Does the view's peer hold these bytes (as any version of any file at the view, or reported)?"""
        peer = self._at_view()
        sql = "SELECT 1 FROM held_files INDEXED BY held_files_sha1 WHERE peer=? AND sha1=? AND seq IN (SELECT seq FROM view_chain)"
        args: tuple = (peer, sha1)
        if self.reported:
            sql += " UNION ALL SELECT 1 FROM reported_files WHERE peer=? AND sha1=? LIMIT 1"
            args += (peer, sha1)
        return self.db.execute(sql, args).fetchone() is not None

    def record(self, peer: str, seq: int, versions: Iterable[FileVersion]) -> None:
        """``peer`` holds ``versions`` under ``seq`` (inside a state transaction)."""
        self.db.executemany("INSERT OR IGNORE INTO held_files VALUES (?,?,?,?,?)",
                            [(peer, seq, v.name, v.timestamp, v.sha1) for v in versions])

    def record_sent_by(self, peer: str, seq: int, versions: Iterable[FileVersion]) -> None:
        """File versions ``peer`` sent this side (inside a state transaction), kept under
        the negative of its bundle's ``seq`` as the return trip keeps what a peer holds
        because it sent it: a bundle back to it then never carries them again."""
        self.record(peer, -seq, versions)

    def held_since(self, peer: str, sha1: str) -> int | None:
        """Since when ``peer`` has held these bytes: 0 if it sent them to us, the creation
        time of the first bundle of ours that carried them, or None if never."""
        row = self.db.execute(
            "SELECT min(CASE WHEN h.seq < 0 THEN 0 ELSE s.created END) FROM held_files h INDEXED BY held_files_sha1"
            " LEFT JOIN sent s ON s.peer = h.peer AND s.seq = h.seq WHERE h.peer=? AND h.sha1=?",
            (peer, sha1),
        ).fetchone()
        return row[0] if row else None

    def replace_reported(self, peer: str, sha1s: Iterable[str]) -> None:
        """What ``peer``'s newest manifest says it holds (inside a state transaction)."""
        self.db.execute("DELETE FROM reported_files WHERE peer=?", (peer,))
        self.db.executemany("INSERT OR IGNORE INTO reported_files VALUES (?,?)", ((peer, s) for s in sha1s))
