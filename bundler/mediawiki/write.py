"""The writing calls of the API: import, upload, edit, move, delete, undelete ...

Two MediaWiki behaviours callers must know (docs/MEDIAWIKI_FINDINGS.md G8, G9, G12): an edit that
"succeeds" may have been silently merged with an intervening edit, and an
import never makes an older revision current. Compare sha1s; do not trust
``Success``.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Sequence

from ..errors import WikiError
from ..model import PageId, RevId, format_timestamp, parse_timestamp
from .records import EditResult
from .session import Session

ARCHIVE_CLASH_RETRIES = 2  # upload: overwrites of one file within one second clash (see upload())


class Writes(Session):
    """The write modules; each is one POST with the CSRF token."""

    def import_xml(
        self,
        xml: bytes | str | os.PathLike,
        summary: str,
        interwikiprefix: str = "bundle",
        *,
        assign_known_users: bool = True,
    ) -> list[dict]:
        """``action=import`` of an XML dump (bytes, or a path as str/PathLike).

        Returns the API's list of ``{"ns", "title", "revisions"}`` (revisions
        actually imported; 0 for ones the wiki already had). Ids are renumbered;
        unknown users become ``<interwikiprefix>>Name``; a page that gets
        revisions also gets a null revision and an import log entry by us.
        """
        data = self._call(
            {"action": "import", "summary": summary, "interwikiprefix": interwikiprefix,
             "assignknownusers": assign_known_users},
            token=True,
            files={"xml": ("import.xml", xml, "application/xml")},
            idempotent=True,  # MediaWiki skips revisions it has (same page, timestamp, sha1)
        )
        return list(data.get("import", ()))

    def upload(
        self,
        filename: str,
        data_or_path: bytes | str | os.PathLike,
        comment: str,
        text: str | None = None,
        ignorewarnings: bool = True,
    ) -> dict:
        """Upload a file or a new version of it; returns the API's ``upload`` object.

        ``text`` is the file page's wikitext when the page is new. Same bytes as
        the current version raise WikiError code ``fileexists-no-change``. Two
        overwrites of one file within the same second clash in MediaWiki's archive
        (``backend-fail-alreadyexists``, nothing stored); this waits a second and
        repeats. With ``ignorewarnings=False`` any warning (exists, duplicate ...)
        raises WikiError code ``uploadwarning`` and nothing is stored.
        """
        for attempt in range(ARCHIVE_CLASH_RETRIES + 1):
            try:
                data = self._call(
                    {"action": "upload", "filename": filename, "comment": comment, "text": text,
                     "ignorewarnings": ignorewarnings},
                    token=True,
                    files={"file": (filename, data_or_path, "application/octet-stream")},
                    idempotent=False,
                )
                break
            except WikiError as e:
                # MediaWiki archives the current version as "<second>!Name" before it
                # records the new one, so a second overwrite within the same second
                # fails with nothing stored. The next second it works.
                if e.code != "backend-fail-alreadyexists" or attempt == ARCHIVE_CLASH_RETRIES:
                    raise
                self._sleep(1.0)
        up = data.get("upload", {})
        if up.get("result") == "Success":
            return up
        warnings = up.get("warnings") or {}
        raise WikiError(
            f"{self.api_url}: upload of {filename} not stored: {up.get('result')} "
            f"({', '.join(sorted(warnings)) or 'no details'})",
            hint="Upload again with ignorewarnings to store it anyway.",
            code="uploadwarning" if up.get("result") == "Warning" else f"upload-{up.get('result')}",
        )

    def edit(
        self,
        title: str,
        text: str,
        summary: str,
        baserevid: int | None = None,
        starttimestamp: int | None = None,
        createonly: bool = False,
        nocreate: bool = False,
        *,
        basetimestamp: int | None = None,
        minor: bool = False,
    ) -> EditResult:
        """Save ``text`` as the page's new revision.

        MediaWiki merges silently when ``baserevid`` is not current and the
        changes do not overlap, and ignores conflicts with our own edits (docs/MEDIAWIKI_FINDINGS.md
        G9): compare the new revision's sha1 with the text sent.
        """
        params: dict[str, Any] = {
            "action": "edit", "title": title, "text": text, "summary": summary,
            "md5": hashlib.md5(text.encode("utf-8")).hexdigest(),  # wiki refuses a garbled body
            "baserevid": baserevid, "createonly": createonly, "nocreate": nocreate, "minor": minor,
        }
        if starttimestamp is not None:
            params["starttimestamp"] = format_timestamp(starttimestamp)
        if basetimestamp is not None:
            params["basetimestamp"] = format_timestamp(basetimestamp)
        data = self._call(params, token=True, idempotent=False)
        e = data.get("edit", {})
        if e.get("result") != "Success":
            raise WikiError(
                f"{self.api_url}: edit of {title} refused: {e.get('result')} {e}",
                hint="An extension (spam filter, captcha, abuse filter) refused the edit.",
                code="editfailure",
            )
        if e.get("nochange"):
            rev_id = e.get("newrevid") or self._latest_revid(title)
            return EditResult(RevId(int(rev_id)), PageId(int(e["pageid"])), e["title"], True, False, None)
        return EditResult(
            rev_id=RevId(int(e["newrevid"])), page_id=PageId(int(e["pageid"])), title=e["title"],
            nochange=False, new=bool(e.get("new")), timestamp=parse_timestamp(e["newtimestamp"]),
        )

    def _latest_revid(self, title: str) -> int:
        data = self._call({"action": "query", "prop": "info", "titles": title})
        return int(data["query"]["pages"][0].get("lastrevid", 0))

    def move(self, from_title: str, to_title: str, reason: str, noredirect: bool = False,
             *, movetalk: bool = False) -> dict:
        """Rename a page; returns the API's ``move`` object. The talk page stays unless ``movetalk``."""
        data = self._call(
            {"action": "move", "from": from_title, "to": to_title, "reason": reason,
             "noredirect": noredirect, "movetalk": movetalk},
            token=True, idempotent=False,
        )
        return data["move"]

    def delete(self, title: str, reason: str) -> dict:
        """Delete a page (a File: page with all its file versions); returns ``{"title", "reason", "logid"}``."""
        data = self._call({"action": "delete", "title": title, "reason": reason}, token=True, idempotent=False)
        return data["delete"]

    def merge_history(self, from_title: str, to_title: str, reason: str, timestamp: int | None = None) -> dict:
        """Special:MergeHistory: move ``from_title``'s revisions (up to ``timestamp``, default
        all) into ``to_title``'s history; their ids stay. Returns the API's ``mergehistory``."""
        params: dict[str, Any] = {"action": "mergehistory", "from": from_title, "to": to_title, "reason": reason}
        if timestamp is not None:
            params["timestamp"] = format_timestamp(timestamp)
        return self._call(params, token=True, idempotent=False)["mergehistory"]

    def revision_delete(self, rev_ids: Sequence[int], reason: str, *, hide: Sequence[str] = (),
                        show: Sequence[str] = ()) -> dict:
        """Hide (or show again) a revision's ``content``, ``comment`` or ``user``
        (``action=revisiondelete``); returns the API's ``revisiondelete`` object."""
        data = self._call({"action": "revisiondelete", "type": "revision", "ids": list(rev_ids), "reason": reason,
                           "hide": list(hide) or None, "show": list(show) or None}, token=True, idempotent=False)
        return data["revisiondelete"]

    def undelete(self, title: str, reason: str) -> dict:
        """Restore all deleted revisions (and file versions) of a page; returns the API's ``undelete`` object."""
        data = self._call({"action": "undelete", "title": title, "reason": reason}, token=True, idempotent=False)
        return data["undelete"]
