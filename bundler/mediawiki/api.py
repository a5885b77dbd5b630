"""The reading calls of the Action API, typed: ``MediaWikiClient``.

Every Action API request wikibundle makes is built here or in ``write.py``; callers
get records (``model.Revision``, ``Page``, ``records.*``), never parameter dicts.
"""

from __future__ import annotations

import heapq
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import urljoin

from ..errors import WikiError
from ..model import Page, PageId, RevId, Revision, SiteInfo, format_timestamp, parse_timestamp
from .records import (
    ApiFileInfo, Fields, LogEvent, PageLatest, StoredFile, WikiInfo, _allrevisions, _file_info, _log_event, _page, _revision,
)
from .session import _RIGHTS_CODES, TITLES_PER_REQUEST
from .write import Writes

_LE_PROP = "ids|title|type|user|userid|timestamp|comment|details"
_II_PROP = "timestamp|user|userid|comment|url|size|sha1|mime|archivename"



class MediaWikiClient(Writes):
    """A session with one wiki's ``api.php`` and the calls a sync needs.

    Without ``user`` the client is anonymous (reads only; 50 revisions with
    content per request). With ``user`` ("Name@app", a bot password) it logs in
    lazily, on the first request. ``requests`` counts HTTP requests sent
    (repeats and login included); ``bytes_received`` counts bytes on the wire
    (before gzip decoding).
    """

    def siteinfo(self) -> WikiInfo:
        data = self._call(
            {"action": "query", "meta": "siteinfo|userinfo", "siprop": "general|namespaces",
             "uiprop": "rights|groups"}
        )
        q = data["query"]
        g = q["general"]
        namespaces = tuple(
            (int(ns["id"]), str(ns.get("case", "first-letter")), str(ns.get("name", "")))
            for ns in sorted(q["namespaces"].values(), key=lambda n: int(n["id"]))
        )
        site = SiteInfo(
            sitename=g.get("sitename", ""), dbname=g.get("wikiid", ""), base=g.get("base", ""),
            generator=g.get("generator", ""), case=g.get("case", "first-letter"), namespaces=namespaces,
        )
        u = q["userinfo"]
        self._highlimits = "apihighlimits" in u.get("rights", ())
        return WikiInfo(
            site=site, version=g.get("generator", ""), server=g.get("server", ""),
            user=u.get("name", ""), user_id=int(u.get("id", 0)),
            groups=frozenset(u.get("groups", ())), rights=frozenset(u.get("rights", ())), general=g,
        )

    def iter_allrevisions(
        self,
        start_ts: int | None = None,
        end_ts: int | None = None,
        namespaces: Iterable[int] | None = None,
        exclude_user: str | None = None,
        *,
        limit: int | str = "max",
    ) -> Iterator[tuple[Page, Revision]]:
        """Every visible revision, oldest first by (timestamp, rev_id); bounds are inclusive.

        The API groups each batch by page; batches follow each other in
        (timestamp, rev_id) order, so sorting within a batch gives the global order.
        Deleted revisions are not listed.
        """
        params: dict[str, Any] = {
            "list": "allrevisions", "arvprop": Fields.TEXT.value, "arvslots": "main",
            "arvlimit": limit, "arvdir": "newer",
        }
        if start_ts is not None:
            params["arvstart"] = format_timestamp(start_ts)
        if end_ts is not None:
            params["arvend"] = format_timestamp(end_ts)
        if namespaces is not None:
            params["arvnamespace"] = list(namespaces)
        if exclude_user is not None:
            params["arvexcludeuser"] = exclude_user
        for batch in self.query(params):
            items = []
            for p in batch.get("query", {}).get("allrevisions", ()):
                page = _page(p)
                items.extend((page, _revision(r, page.page_id)) for r in p.get("revisions", ()))
            items.sort(key=lambda pr: (pr[1].timestamp, pr[1].rev_id))
            yield from items

    def page_revisions(
        self, title: str, *, limit: int | str = "max", content: bool = True,
        start: int | None = None, end: int | None = None, all_slots: bool = False,
    ) -> Iterator[Revision]:
        """The visible history of one page, oldest first (between ``start`` and ``end``,
        inclusive, when given); nothing if the page is missing.

        Without ``content`` the revisions have no text (``text`` None, ``deleted`` as the
        wiki says) and ``sha1`` is the main slot's, which is the sha1 of its text: 500
        revisions a request (5,000 with apihighlimits) instead of 50, and no text bytes.
        ``all_slots``: every slot (``rvslots=*``), as ``revisions_by_id``."""
        fields = Fields.TEXT if content else Fields.META
        params: dict[str, Any] = {"prop": "revisions", "titles": title, "rvprop": fields.value,
                                  "rvslots": "*" if all_slots else "main", "rvlimit": limit, "rvdir": "newer"}
        if start is not None:
            params["rvstart"] = format_timestamp(start)
        if end is not None:
            params["rvend"] = format_timestamp(end)
        for batch in self.query(params):
            for p in batch.get("query", {}).get("pages", ()):
                for r in p.get("revisions", ()):
                    yield _revision(r, PageId(int(p["pageid"])))

    def revisions_by_id(
        self, rev_ids: Iterable[int], fields: Fields = Fields.TEXT, *, deleted: bool = False, all_slots: bool = False
    ) -> Iterator[tuple[Page, Revision]]:
        """The given revisions, page by page as the API groups them, with ``fields``.

        Deleted or unknown ids are left out, unless ``deleted``: then the ones not found
        are asked for in the archive (``deletedrevisions``; the account needs the
        deletedhistory right, and deletedtext for their texts). A deleted page's
        revisions come under a page with id 0 (the API lists it as missing, without
        ``badrevids``). One request per ``revids_per_request`` ids (continuation when the
        texts are large). ``all_slots``: every slot (``rvslots=*``), the non-main ones in
        ``Revision.slots``, not only the main one."""
        ids = list(rev_ids)
        step = self.revids_per_request
        for i in range(0, len(ids), step):
            chunk = ids[i:i + step]
            params = {"prop": "revisions", "revids": chunk, "rvprop": fields.value}
            if fields.slots:
                params["rvslots"] = "*" if all_slots else "main"
            found: set[int] = set()
            for batch in self.query(params):
                for p in batch.get("query", {}).get("pages", ()):
                    if "pageid" not in p:  # a deleted page
                        continue
                    page = _page(p)
                    for r in p.get("revisions", ()):
                        found.add(int(r["revid"]))
                        yield page, _revision(r, page.page_id)
            missing = [rid for rid in dict.fromkeys(chunk) if rid not in found]
            if deleted and missing:
                yield from self._deleted_by_id(missing, fields, all_slots)

    def _deleted_by_id(self, rev_ids: list[int], fields: Fields, all_slots: bool) -> Iterator[tuple[Page, Revision]]:
        params = {"prop": "deletedrevisions", "revids": rev_ids, "drvprop": fields.value}
        if fields.slots:
            params["drvslots"] = "*" if all_slots else "main"
        for batch in self.query(params):
            for p in batch.get("query", {}).get("pages", ()):
                page = Page(PageId(int(p.get("pageid") or 0)), int(p.get("ns", 0)), str(p.get("title", "")))
                for r in p.get("deletedrevisions", ()):
                    yield page, _revision(r, page.page_id)

    def current_revisions(
        self, *, page_ids: Sequence[int] = (), titles: Sequence[str] = (), content: bool = False
    ) -> Iterator[tuple[Page, Revision]]:
        """Each existing page among ``page_ids`` and ``titles`` with its current revision
        (ids, timestamp and sha1; with ``content`` all of it)."""
        fields = Fields.TEXT if content else Fields.SHA1
        base: dict[str, Any] = {"prop": "revisions", "rvprop": fields.value, "rvslots": "main"}
        step = self.revids_per_request if page_ids else TITLES_PER_REQUEST
        asks = [("pageids", list(page_ids[i:i + step])) for i in range(0, len(page_ids), step)]
        asks += [("titles", list(titles[i:i + TITLES_PER_REQUEST])) for i in range(0, len(titles), TITLES_PER_REQUEST)]
        for key, chunk in asks:
            for batch in self.query({**base, key: chunk}):
                for p in batch.get("query", {}).get("pages", ()):
                    revs = p.get("revisions")
                    if p.get("missing") or p.get("invalid") or "pageid" not in p or not revs:
                        continue  # (with continuation a page's revision comes in one batch)
                    page = _page(p)
                    yield page, _revision(revs[0], page.page_id)

    def allrevisions_batches(
        self, start_ts: int, end_ts: int | None = None, *, user: str | None = None, fields: Fields = Fields.SHA1
    ) -> Iterator[tuple[list[tuple[Page, Revision]], bool]]:
        """Every visible revision saved from ``start_ts`` to ``end_ts`` (by ``user`` when
        given), oldest first, one answer at a time: (its revisions, whether more follow),
        so a caller can stop before asking for the next (500 a request without content,
        5,000 with apihighlimits)."""
        params: dict[str, Any] = {"list": "allrevisions", "arvprop": fields.value, "arvlimit": "max",
                                  "arvdir": "newer", "arvstart": format_timestamp(start_ts)}
        if end_ts is not None:
            params["arvend"] = format_timestamp(end_ts)
        if user is not None:
            params["arvuser"] = user
        if fields.slots:
            params["arvslots"] = "main"
        for batch in self.query(params):
            items = [(page, _revision(r, page.page_id)) for page, r in _allrevisions(batch)]
            yield items, bool(batch.get("continue"))

    def has_deleted_revisions(self, title: str) -> bool:
        """Whether the page ``title`` has deleted revisions (the account needs deletedhistory)."""
        params = {"prop": "deletedrevisions", "titles": title, "drvlimit": 1, "drvprop": "ids"}
        for batch in self.query(params):
            if any(p.get("deletedrevisions") for p in batch.get("query", {}).get("pages", ())):
                return True
        return False

    def statistics(self) -> dict[str, int]:
        """The wiki's counters (``pages``, ``edits``, ``images`` ...)."""
        data = self._call({"action": "query", "meta": "siteinfo", "siprop": "statistics"})
        return {k: int(v) for k, v in data.get("query", {}).get("statistics", {}).items() if isinstance(v, int)}

    @property
    def revids_per_request(self) -> int:
        """How many ids ``revids=`` (and ``pageids=``) take: 50, or 500 with apihighlimits."""
        if self._highlimits is None:
            self._highlimits = self.siteinfo().apihighlimits
        return 500 if self._highlimits else 50

    def clock(self, since_ts: int | None = None) -> tuple[int, int, Iterator[tuple[Page, RevId, RevId | None]]]:
        """The wiki's clock now (as ``server_time``), the id of the revision with the
        newest timestamp (0 on an empty wiki; not always the highest id: imported
        revisions keep their old timestamps), and (page, rev_id, parent_id) of every
        revision saved at or after ``since_ts``, newest first (none without it): one
        request while they fit in one answer (500, or 5,000 with apihighlimits)."""
        params: dict[str, Any] = {"curtimestamp": 1, "list": "allrevisions", "arvprop": "ids", "arvdir": "older",
                                  "arvlimit": 1 if since_ts is None else "max"}
        if since_ts is not None:
            params["arvend"] = format_timestamp(since_ts)
        batches = self.query(params)
        first = next(batches)

        def revisions(batch: dict) -> Iterator[tuple[Page, RevId, RevId | None]]:
            for page, r in _allrevisions(batch):
                yield page, RevId(int(r["revid"])), RevId(int(r["parentid"])) if r.get("parentid") else None

        newest = max((rid for _p, rid, _q in revisions(first)), default=0)

        def since() -> Iterator[tuple[Page, RevId, RevId | None]]:
            if since_ts is None:
                return
            yield from revisions(first)
            for batch in batches:
                yield from revisions(batch)

        return parse_timestamp(first["curtimestamp"]), newest, since()

    def deleted_revision_ids(self, titles: Sequence[str]) -> list[int] | None:
        """Ids of the deleted revisions of these titles (``prop=deletedrevisions``); None
        when the account may not see them (it lacks the deletedhistory right)."""
        out: list[int] = []
        for i in range(0, len(titles), TITLES_PER_REQUEST):
            params = {"prop": "deletedrevisions", "titles": list(titles[i:i + TITLES_PER_REQUEST]),
                      "drvprop": "ids", "drvlimit": "max"}
            try:
                for batch in self.query(params):
                    for p in batch.get("query", {}).get("pages", ()):
                        out.extend(int(r["revid"]) for r in p.get("deletedrevisions", ()))
            except WikiError as e:
                if e.code in _RIGHTS_CODES:
                    return None
                raise
        return out

    def pages_by_id(self, page_ids: Iterable[int]) -> list[Page]:
        """The pages with these ids that exist now (``prop=info&pageids=``)."""
        ids = list(page_ids)
        out: list[Page] = []
        step = self.revids_per_request
        for i in range(0, len(ids), step):
            for batch in self.query({"prop": "info", "pageids": ids[i:i + step]}):
                for p in batch.get("query", {}).get("pages", ()):
                    if not (p.get("missing") or p.get("invalid")):
                        out.append(_page(p))
        return out

    def iter_revision_ids(self) -> Iterator[tuple[PageId, RevId]]:
        """(page id, revision id) of every visible revision (``list=allrevisions`` without
        content: 500 a request, 5,000 with apihighlimits), in timestamp order."""
        for batch in self.query({"list": "allrevisions", "arvprop": "ids", "arvlimit": "max", "arvdir": "newer"}):
            for page, r in _allrevisions(batch):
                yield page.page_id, RevId(int(r["revid"]))

    def iter_logevents(
        self,
        types: Sequence[str] | None = ("move", "delete", "upload", "import"),
        start_ts: int | None = None,
        *,
        limit: int | str = "max",
    ) -> Iterator[LogEvent]:
        """Log events of the given types (None: all), oldest first by (timestamp, log_id).

        ``letype`` takes one type per query, so this runs one query per type and
        merges them lazily.
        """
        streams = [self._logevents(t, start_ts, limit) for t in (types if types is not None else [None])]
        yield from heapq.merge(*streams, key=lambda e: (e.timestamp, e.log_id))

    def _logevents(self, type_: str | None, start_ts: int | None, limit: int | str) -> Iterator[LogEvent]:
        params: dict[str, Any] = {"list": "logevents", "leprop": _LE_PROP, "ledir": "newer", "lelimit": limit}
        if type_ is not None:
            params["letype"] = type_
        if start_ts is not None:
            params["lestart"] = format_timestamp(start_ts)
        for batch in self.query(params):
            for e in batch.get("query", {}).get("logevents", ()):
                yield _log_event(e)

    def server_time(self) -> int:
        """The wiki's clock now (``curtimestamp``): marks where the next read "since" starts."""
        data = self._call({"action": "query", "curtimestamp": 1})
        return parse_timestamp(data["curtimestamp"])

    def page_info(self, titles: Sequence[str]) -> dict[str, Page]:
        """Pages that exist now, by title as asked (normalized titles followed back)."""
        out: dict[str, Page] = {}
        for i in range(0, len(titles), 50):
            chunk = list(titles[i:i + 50])
            for batch in self.query({"prop": "info", "titles": chunk}):
                q = batch.get("query", {})
                back = {n["to"]: n["from"] for n in q.get("normalized", ())}
                for p in q.get("pages", ()):
                    if p.get("missing") or p.get("invalid"):
                        continue
                    out[back.get(p["title"], p["title"])] = _page(p)
        return out

    def iter_allpages_latest(self, namespaces: Iterable[int] | None = None) -> Iterator[PageLatest]:
        """Every page with its current revision's id and sha1, namespace by namespace."""
        if namespaces is None:
            namespaces = [ns for ns, _, _ in self.siteinfo().site.namespaces if ns >= 0]
        for ns in namespaces:
            params = {
                "generator": "allpages", "gapnamespace": ns, "gaplimit": "max",
                "prop": "revisions|info", "rvprop": "ids|sha1|timestamp|size",
            }
            for batch in self.query(params):
                pages = sorted(batch.get("query", {}).get("pages", ()), key=lambda p: p["pageid"])
                for p in pages:
                    # With continuation a page can come back in a later batch;
                    # it carries its revision in exactly one of them.
                    revs = p.get("revisions")
                    if not revs:
                        continue
                    r = revs[0]
                    yield PageLatest(
                        page=_page(p),
                        rev_id=RevId(int(r["revid"])),
                        sha1="" if r.get("sha1hidden") else str(r.get("sha1", "")),
                        timestamp=parse_timestamp(r["timestamp"]),
                        size=int(r.get("size", 0)),
                        redirect=bool(p.get("redirect")),
                    )

    def imageinfo(self, titles: Iterable[str]) -> dict[str, list[ApiFileInfo]]:
        """All versions of each file, newest first, keyed by the title as given ([] when no file)."""
        out: dict[str, list[ApiFileInfo]] = {}
        titles = list(titles)
        for i in range(0, len(titles), TITLES_PER_REQUEST):
            chunk = titles[i : i + TITLES_PER_REQUEST]
            for t in chunk:
                out.setdefault(t, [])
            params = {"prop": "imageinfo", "titles": chunk, "iiprop": _II_PROP, "iilimit": "max"}
            for batch in self.query(params):
                q = batch.get("query", {})
                asked: dict[str, list[str]] = {}
                for n in q.get("normalized", ()):
                    asked.setdefault(n["to"], []).append(n["from"])
                for p in q.get("pages", ()):
                    versions = [_file_info(self.api_url, p["title"], ii) for ii in p.get("imageinfo", ())]
                    keys = set(asked.get(p["title"], ()))
                    if p["title"] in out or not keys:
                        keys.add(p["title"])
                    for t in keys:
                        out.setdefault(t, []).extend(versions)
        return out

    def file_names(self) -> Iterator[str]:
        """The name of every file the wiki holds (``list=allimages``), by name."""
        for batch in self.query({"list": "allimages", "aiprop": "size", "ailimit": "max", "aisort": "name"}):
            for img in batch.get("query", {}).get("allimages", ()):
                yield str(img["name"])

    def file_sha1s(self) -> Iterator[str]:
        """The sha1 of every file's current version (``list=allimages``, 500 a request)."""
        for batch in self.query({"list": "allimages", "aiprop": "sha1", "ailimit": "max"}):
            for img in batch.get("query", {}).get("allimages", ()):
                if img.get("sha1"):
                    yield str(img["sha1"])

    def file_by_sha1(self, sha1: str) -> StoredFile | None:
        """A current file version with these bytes (one request), or None."""
        batch = next(self.query({"list": "allimages", "aisha1": sha1, "aiprop": "url|size|sha1", "ailimit": 1}))
        for img in batch.get("query", {}).get("allimages", ()):
            if img.get("sha1") == sha1 and img.get("url"):
                return StoredFile(str(img["name"]), urljoin(self.api_url, img["url"]), int(img.get("size", 0)), sha1)
        return None

    def registered_users(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that are accounts of this wiki (``list=users``), 50 per request."""
        names = sorted(set(names))
        out: set[str] = set()
        for i in range(0, len(names), 50):
            for batch in self.query({"list": "users", "ususers": names[i:i + 50]}):
                for u in batch.get("query", {}).get("users", ()):
                    if "missing" not in u and "invalid" not in u and u.get("userid"):
                        out.add(str(u["name"]))
        return out
