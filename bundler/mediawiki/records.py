"""What the MediaWiki API answers, as records; and the parsers that build them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping
from urllib.parse import urljoin

from ..model import Deleted, Page, PageId, RevId, Revision, SiteInfo, Slot, parse_timestamp


class Fields(enum.Enum):
    """How much of each revision a read asks for (the API's ``rvprop``)."""

    IDS = "ids"  # rev_id and parent_id only (~60 bytes a revision); timestamp 0
    # Enough to find a revision by (timestamp, sha1). slotsha1: the main slot's sha1, the text's,
    # as ours; sha1 is of all slots, which differs on a revision with more than one (MCR).
    SHA1 = "ids|timestamp|sha1|slotsha1"
    META = "ids|timestamp|user|userid|comment|flags|sha1|size|slotsha1"  # all but the text
    TEXT = "ids|timestamp|user|userid|comment|flags|sha1|content|size|contentmodel"

    @property
    def slots(self) -> bool:
        """Whether the main slot's part is asked for (``rvslots=main``)."""
        return self is not Fields.IDS


# -- records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WikiInfo:
    """What ``siteinfo()`` found: the site, and who we are on it."""

    site: SiteInfo
    version: str  # "MediaWiki 1.39.17"
    server: str  # $wgServer, e.g. "http://127.0.0.1:8101"
    user: str  # "127.0.0.1"-like for anonymous clients
    user_id: int  # 0 when anonymous
    groups: frozenset[str]
    rights: frozenset[str]
    general: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def apihighlimits(self) -> bool:
        """500 revisions with content per request instead of 50."""
        return "apihighlimits" in self.rights


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One row of ``list=logevents``; ``params`` as the API gives them (img_sha1 is base36)."""

    log_id: int
    type: str
    action: str
    timestamp: int
    namespace: int
    title: str | None  # None when hidden (actionhidden)
    page_id: PageId | None  # log_page: the page acted on (for a move, the moved page)
    user: str | None
    user_id: int | None
    comment: str | None
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class PageLatest:
    """A page and its current revision, for comparing two wikis page by page."""

    page: Page
    rev_id: RevId
    sha1: str  # hex; "" when hidden
    timestamp: int
    size: int
    redirect: bool


@dataclass(frozen=True, slots=True)
class ApiFileInfo:
    """One version of an uploaded file as the API lists it (``prop=imageinfo``); the
    bundle's own record of a file version is ``model.FileVersion``."""

    title: str  # "File:Red dot.png"
    timestamp: int
    user: str | None
    user_id: int | None
    comment: str | None
    url: str | None  # absolute; None when the file is hidden
    sha1: str  # hex; "" when hidden
    size: int
    mime: str | None
    archive_name: str | None  # "20261123114941!Red_dot.png" for old versions, None for the current


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file version on the wiki found by its bytes' sha1 (``list=allimages``)."""

    name: str  # "Red_dot.png": without the namespace
    url: str  # absolute
    size: int
    sha1: str  # hex


@dataclass(frozen=True, slots=True)
class EditResult:
    rev_id: RevId  # the new revision, or the current one when nochange
    page_id: PageId
    title: str
    nochange: bool  # the text was already current: no revision was made
    new: bool  # the edit created the page
    timestamp: int | None  # of the new revision; None when nochange




def _revision(r: Mapping[str, Any], page_id: PageId) -> Revision:
    deleted = Deleted(0)
    if r.get("texthidden"):
        deleted |= Deleted.TEXT
    if r.get("commenthidden"):
        deleted |= Deleted.COMMENT
    if r.get("userhidden"):
        deleted |= Deleted.USER
    if r.get("suppressed"):
        deleted |= Deleted.RESTRICTED
    slots = r.get("slots") or {}
    main = slots.get("main") or {}
    text = None if main.get("texthidden") or main.get("missing") else main.get("content")
    return Revision(
        rev_id=RevId(int(r["revid"])),
        page_id=page_id,
        timestamp=parse_timestamp(r["timestamp"]) if "timestamp" in r else 0,
        text=text,
        user=None if r.get("userhidden") else r.get("user"),
        user_id=None if r.get("userhidden") else (r.get("userid") or None),
        comment=None if r.get("commenthidden") else r.get("comment"),
        parent_id=RevId(int(r["parentid"])) if r.get("parentid") else None,
        minor=bool(r.get("minor")),
        deleted=deleted,
        model=main.get("contentmodel") or r.get("contentmodel") or "wikitext",
        format=main.get("contentformat") or "text/x-wiki",
        # (A hidden text's sha1 still comes to an account that may see it: the revision
        # keeps its identity (identity.rkey) across a revision deletion.)
        sha1=str(main.get("sha1") or r.get("sha1") or ""),
        # (Other slots come only when asked for: rvslots=*.)
        slots=tuple(_slot(role, v) for role, v in slots.items() if role != "main" and isinstance(v, Mapping)),
    )


def _slot(role: str, v: Mapping[str, Any]) -> Slot:
    text = None if v.get("texthidden") or v.get("missing") else v.get("content")
    return Slot(role, str(v.get("contentmodel") or ""), str(v.get("contentformat") or ""), text)


def _page(p: Mapping[str, Any]) -> Page:
    return Page(PageId(int(p["pageid"])), int(p["ns"]), p["title"])


def _allrevisions(batch: Mapping[str, Any]) -> Iterator[tuple[Page, Mapping[str, Any]]]:
    """(page, raw revision) of each revision in one ``list=allrevisions`` answer."""
    for p in batch.get("query", {}).get("allrevisions", ()):
        page = _page(p)
        for r in p.get("revisions", ()):
            yield page, r


def _log_event(e: Mapping[str, Any]) -> LogEvent:
    return LogEvent(
        log_id=int(e["logid"]),
        type=str(e.get("type", "")),
        action=str(e.get("action", "")),
        timestamp=parse_timestamp(e["timestamp"]),
        namespace=int(e.get("ns", 0)),
        title=None if e.get("actionhidden") else e.get("title"),
        page_id=PageId(int(e["logpage"])) if e.get("logpage") else None,
        user=None if e.get("userhidden") else e.get("user"),
        user_id=None if e.get("userhidden") else (e.get("userid") or None),
        comment=None if e.get("commenthidden") else e.get("comment"),
        params=dict(e.get("params") or {}),
    )


def _file_info(api_url: str, title: str, ii: Mapping[str, Any]) -> ApiFileInfo:
    return ApiFileInfo(
        title=title,
        timestamp=parse_timestamp(ii["timestamp"]),
        user=None if ii.get("userhidden") else ii.get("user"),
        user_id=(ii.get("userid") or None) if not ii.get("userhidden") else None,
        comment=None if ii.get("commenthidden") else ii.get("comment"),
        url=urljoin(api_url, ii["url"]) if ii.get("url") else None,
        sha1=str(ii.get("sha1", "")) if not ii.get("filehidden") else "",
        size=int(ii.get("size", 0)),
        mime=ii.get("mime"),
        archive_name=ii.get("archivename"),
    )
