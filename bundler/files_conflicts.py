"""Files re-uploaded on both sides since the last sync (a file conflict).

A file has one current version. When a bundle brings versions of a file and the
wiki here has versions of it whose bytes the sender does not hold (uploads made
here, not yet sent), both sides changed it. Decision, as for pages: every version
is kept on both wikis, and the *online* version is current on both. The
receiving wiki makes it so with one more version carrying those bytes (as
MediaWiki's revert does) when it is not current already, and the conflict is
reported: in the apply report, in the notices the next bundle carries to the
sender, and (on the online side, where page conflicts go too) on the file's talk
page (landing.ReturnApplier.file_conflict).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Callable, Iterable

from .model import FileVersion, format_timestamp

MERGE_COMMENT = "File conflict: uploaded on both sides since the last sync; the online version is current again"


@dataclass(frozen=True)
class FileConflict:
    name: str
    online: FileVersion  # made current on both wikis
    offline: FileVersion  # kept in the file's history

    def notice(self, label: str) -> str:
        return (f"File:{self.name.replace('_', ' ')}: FILE CONFLICT - uploaded on both sides since the last sync;"
                f" the online version ({self.online.sha1[:12]}…) is current, the upload by"
                f" {self.offline.user or 'an unknown user'} on {label} at {format_timestamp(self.offline.timestamp)}"
                f" ({self.offline.sha1[:12]}…) is in the file history")


def resolve_file_conflicts(sink, taken: Iterable[FileVersion], held_since: Callable[[str], int | None], *,
                           online_is_sender: bool, user: str) -> list[FileConflict]:
    """Find the files of ``taken`` (the bundle's versions, landed) changed on both sides
    and make the online version current here; ``sink`` is the target's file sink
    (``history``, ``make_current``); ``held_since(sha1)``: since when the sender holds
    those bytes (None: never). A version here counts as the sender's to build on only
    if the sender held it before its own newest upload: an offline upload made before
    the online version reached it is a conflict even when the update came first."""
    out = []
    for name, group in groupby(sorted(taken, key=lambda v: (v.name, v.timestamp, v.sha1)), key=lambda v: v.name):
        incoming = list(group)
        brought = {v.sha1 for v in incoming}
        history = sink.history(name)
        newest = incoming[-1].timestamp

        def unseen(v: FileVersion) -> bool:
            since = held_since(v.sha1)
            return since is None or since > newest

        here_only = [v for v in history if v.sha1 not in brought and unseen(v)]
        if not history or not here_only:
            continue
        online, offline = (incoming[-1], here_only[-1]) if online_is_sender else (here_only[-1], incoming[-1])
        if history[-1].sha1 != online.sha1:
            sink.make_current(name, online, user, MERGE_COMMENT)
        out.append(FileConflict(name, online, offline))
    return out
