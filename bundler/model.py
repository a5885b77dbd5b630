"""The things a bundle carries, named as MediaWiki names them.

A wiki is a set of pages (``page_id``, ``namespace``, ``title``); each page has an
ordered history of revisions (``rev_id``, ``parent_id``, ``timestamp``, ``user``,
``comment``, text). Between two states of a wiki, pages can also be moved (same
``page_id``, new title) or deleted (``page_id`` gone). These records are what
sources yield, what the bundle carries and what targets apply.

Times are integer seconds since the Unix epoch (UTC), as MediaWiki stores them
(1-second resolution). ``sha1`` is always the lowercase hex SHA-1 of the UTF-8
text; MediaWiki's base36 form is converted at the edges (XML dumps).
"""

from __future__ import annotations

import calendar
import hashlib
import time
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Iterable, NewType

PageId = NewType("PageId", int)
RevId = NewType("RevId", int)
WikiId = NewType("WikiId", str)  # 32 lowercase hex digits


class Deleted(IntFlag):
    """MediaWiki's ``rev_deleted`` bits: parts of a revision hidden by an admin."""

    TEXT = 1
    COMMENT = 2
    USER = 4
    RESTRICTED = 8


@dataclass(frozen=True, slots=True)
class Slot:
    """A non-main content slot of a multi-content revision (MCR, dump schema 0.11)."""

    role: str
    model: str
    format: str
    text: str | None


@dataclass(frozen=True, slots=True)
class Page:
    page_id: PageId
    namespace: int
    title: str  # full title with namespace prefix, as MediaWiki shows it
    redirect: str | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    rev_id: RevId
    page_id: PageId
    timestamp: int
    text: str | None  # None when the text is suppressed (Deleted.TEXT)
    user: str | None = None  # None when suppressed or unknown
    user_id: int | None = None  # None for IP editors and suppressed users
    comment: str | None = None
    parent_id: RevId | None = None
    minor: bool = False
    deleted: Deleted = Deleted(0)
    model: str = "wikitext"
    format: str = "text/x-wiki"
    slots: tuple[Slot, ...] = ()
    sha1: str = field(default="")  # filled from text when left empty

    def __post_init__(self) -> None:
        if not self.sha1 and self.text is not None:
            object.__setattr__(self, "sha1", text_sha1(self.text))


def edit_slots(head: Revision | None) -> tuple[Slot, ...]:
    """The non-main slots of a revision that an edit of the main text makes on ``head``,
    the page's current revision: ``head``'s, unchanged, as MediaWiki's edit keeps every
    slot it is not given (its PageUpdater inherits them from the parent), so an edit of a
    Commons file page's description keeps the page's ``mediainfo`` (structured data).
    No slots for a new page, nor where ``head``'s content is hidden (``Deleted.TEXT``
    hides every slot), so an edit does not show again what an admin hid.
    """
    return head.slots if head is not None and head.text is not None else ()


@dataclass(frozen=True, slots=True)
class FileVersion:
    """One uploaded version of a file (MediaWiki's ``image`` / ``oldimage`` rows).

    ``name`` is the file's name as MediaWiki keys it (``img_name``, the dump's
    ``<filename>``): no namespace prefix, underscores for spaces (``Red_dot.png``).
    Not the page title: the File namespace has a local name on most wikis
    (``Archivo:``, ``Datei:``), the file name has none. A file's versions are
    ordered by ``timestamp``; the newest is the current file, the others are its
    archive (old versions), whose archive names are derived when exported.
    ``sha1`` is the hex SHA-1 of the bytes (MediaWiki's base36 ``img_sha1`` is
    converted at the edges); the bytes themselves live apart, stored once per sha1.
    """

    name: str
    timestamp: int
    sha1: str
    size: int
    user: str | None = None
    user_id: int | None = None
    comment: str | None = None
    mime: str | None = None  # when known (sniffed from the bytes when not given)


FILE_NS = 6  # MediaWiki's File: namespace (NS_FILE), whatever the wiki's language calls it

# MediaWiki's canonical namespace names (Namespace.php, NamespaceInfo::CANONICAL_NAMES) and
# the aliases every wiki accepts whatever its language: a title prefixed with one of
# these is in that namespace even where the site information names none (a new store).
CANONICAL_NAMESPACES = {
    "media": -2, "special": -1, "talk": 1, "user": 2, "user talk": 3, "project": 4, "project talk": 5,
    "file": 6, "image": 6, "file talk": 7, "image talk": 7, "mediawiki": 8, "mediawiki talk": 9,
    "template": 10, "template talk": 11, "help": 12, "help talk": 13, "category": 14, "category talk": 15,
}


def file_title_to_name(title: str) -> str:
    """``File:Red dot.png`` (any namespace prefix) to the file name ``Red_dot.png``."""
    return title.split(":", 1)[-1].replace(" ", "_")


@dataclass(frozen=True, slots=True)
class PageMove:
    page_id: PageId
    namespace: int
    old_title: str
    new_title: str


@dataclass(frozen=True, slots=True)
class PageDelete:
    page_id: PageId
    namespace: int
    title: str


@dataclass(slots=True)
class PageHistory:
    """One page and its revisions in history order, as a source yields it."""

    page: Page
    revisions: Iterable[Revision]  # history order; iterate once
    revision_count: int
    # Known up front only where ids are stable (the embedded store; not dumps, which
    # may come from a wiki that was re-imported and renumbered): lets make skip
    # unchanged pages without reading their texts.
    rev_ids: frozenset[int] | None = None
    # Only the revisions the peer lacks and the base they were made on, not the whole
    # history (sources/api.py): make then counts repeats of (timestamp, sha1) against
    # what the peer holds (identity.partial_rkeys), not within the list.
    partial: bool = False
    # The source knows the page changed though every id may be held (a revision
    # deletion changes visibility, not ids): make compares every revision.
    changed: bool = False


@dataclass(frozen=True, slots=True)
class SiteInfo:
    sitename: str = ""
    dbname: str = ""
    base: str = ""
    generator: str = ""
    case: str = "first-letter"
    namespaces: tuple[tuple[int, str, str], ...] = ()  # (key, case, name)

    def to_wire(self) -> dict:
        return {
            "sitename": self.sitename,
            "dbname": self.dbname,
            "base": self.base,
            "generator": self.generator,
            "case": self.case,
            "namespaces": [list(n) for n in self.namespaces],
        }

    @classmethod
    def from_wire(cls, d: dict) -> "SiteInfo":
        return cls(
            sitename=str(d.get("sitename", "")),
            dbname=str(d.get("dbname", "")),
            base=str(d.get("base", "")),
            generator=str(d.get("generator", "")),
            case=str(d.get("case", "first-letter")),
            namespaces=tuple((int(k), str(c), str(n)) for k, c, n in d.get("namespaces", [])),
        )


def text_sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def sha1_to_base36(hex_sha1: str) -> str:
    """MediaWiki's ``rev_sha1`` form: base36, zero-padded to 31 digits."""
    n = int(hex_sha1, 16)
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_B36[r])
    return "".join(reversed(out)).rjust(31, "0")


def base36_to_sha1(b36: str) -> str:
    return format(int(b36, 36), "040x")


def parse_timestamp(s: str) -> int:
    """``2001-01-15T13:15:00Z`` (dumps, API) to integer seconds since the epoch."""
    s = s.strip()
    if len(s) >= 19 and s[4] == "-" and s[7] == "-" and s[10] == "T" and s[13] == ":" and s[16] == ":":
        try:  # the fixed form every MediaWiki writes; strptime is ten times slower
            y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
            h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
        except ValueError:
            pass
        else:
            if 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61:
                return calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))
    return calendar.timegm(time.strptime(s.rstrip("Z")[:19], "%Y-%m-%dT%H:%M:%S"))


def format_timestamp(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
