"""The inbox (a USB stick's folder): the bundles and sets of parts in it, what each
brings (as ``bundle inspect`` shows it) and whether it applies here (the checks of
``apply.check_bundle``: signer trusted, made for this side, basis held; for parts,
every part there and intact).

A set of parts is put together in the side's ``incoming/`` folder, where
``bundle apply`` puts it too, and read from there.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field

from ..apply import check_bundle
from ..container import BundleReader, Header
from ..errors import BundleError
from ..parts import collect, is_part, read_part_header, reassemble
from ..state import Side

_PART_SUFFIX = re.compile(r"\.part\d+-of-\d+$")


@dataclass
class Entry:
    name: str  # the inbox file (for a part set: its first part)
    kind: str  # "bundle" or "parts"
    parts: list[str] = field(default_factory=list)  # part files, for a part set
    header: Header | None = None
    sender: str = ""  # the sender's label, as this side trusts it
    status: str = ""  # "applies", "applied", "ours", "refused", "incomplete"
    message: str = ""
    hint: str = ""

    @property
    def title(self) -> str:
        return _PART_SUFFIX.sub("", self.name) if self.kind == "parts" else self.name

    @property
    def applies(self) -> bool:
        return self.status == "applies"


def scan(side: Side, inbox: str) -> list[Entry]:
    """Every bundle and part set in the inbox, newest file first, checked against this side."""
    names = sorted((n for n in os.listdir(inbox) if os.path.isfile(os.path.join(inbox, n))),
                   key=lambda n: -os.path.getmtime(os.path.join(inbox, n)))
    entries: list[Entry] = []
    sets: dict[bytes, Entry] = {}
    for n in names:
        path = os.path.join(inbox, n)
        if is_part(path):
            try:
                info = read_part_header(path)
            except BundleError as e:
                entries.append(Entry(n, "parts", [n], status="refused", message=e.message, hint=e.hint or ""))
                continue
            e = sets.get(info.bundle_id)
            if e is None:
                e = sets[info.bundle_id] = Entry(n, "parts")
                entries.append(e)
            e.parts.append(n)
        elif n.endswith(".bundle"):
            entries.append(Entry(n, "bundle"))
    for e in entries:
        if e.status:
            continue
        try:
            path = whole(side, inbox, e)
            if path is not None:
                _check(side, path, e)
        except BundleError as err:
            e.status, e.message, e.hint = "refused", err.message, err.hint or ""
    return entries


def find(side: Side, inbox: str, name: str) -> Entry:
    from .guard import Forbidden

    for e in scan(side, inbox):
        if e.name == name or name in e.parts:
            return e
    raise Forbidden(f"{name!r} is not a bundle in the inbox")


def whole(side: Side, inbox: str, e: Entry) -> str | None:
    """The bundle file to read: the inbox file, or the part set put together (None
    and the entry marked incomplete when parts are missing)."""
    if e.kind == "bundle":
        return os.path.join(inbox, e.name)
    parts = collect([os.path.join(inbox, p) for p in sorted(e.parts)])
    have = {p.index for p in parts}
    missing = [i for i in range(1, parts[0].count + 1) if i not in have]
    if missing:
        e.status = "incomplete"
        e.message = f"{len(have)} of {parts[0].count} parts here; missing: {', '.join(map(str, missing))}"
        e.hint = "Copy the missing parts onto the stick; nothing is applied until all are there."
        return None
    incoming = os.path.join(side.path, "incoming")
    os.makedirs(incoming, exist_ok=True)
    path = os.path.join(incoming, parts[0].bundle_id.hex()[:16] + ".bundle")
    if not os.path.exists(path):
        reassemble(parts, path)  # checks every part's hash; names the damaged ones
    return path


def _check(side: Side, path: str, e: Entry) -> None:
    with BundleReader(path) as r:
        h = e.header = r.header
        if r.signed_by(side.public_key().key_id):  # written here (a compact header names no sender: the key says)
            e.header = dataclasses.replace(h, sender=side.wiki_id)
            peer = next((p for p in side.state.peers() if h.for_wiki(p.wiki_id)), None)
            e.sender = peer.label if peer else h.receiver[:8]
            e.status, e.message = "ours", f"written here for {e.sender}: carry it there"
            return
        peer = side.state.peer_by_key_id(r.key_id)
        e.sender = peer.label if peer else (h.sender or r.key_id)[:8]
        previous = check_bundle(side, r)
        e.header = r.header  # verified: a compact header's sender is known now
    if previous is not None:
        e.status, e.message = "applied", "applied here already; applying it again changes nothing"
    else:
        e.status, e.message = "applies", "signed by a trusted peer, made for this side, and this side holds what it builds on"
