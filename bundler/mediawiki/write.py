"""The writing calls of the API: import, upload, edit, move, delete, undelete ...

Two MediaWiki behaviours callers must know (docs/MEDIAWIKI_FINDINGS.md G8, G9, G12): an edit that
"succeeds" may have been silently merged with an intervening edit, and an
import never makes an older revision current. Compare sha1s; do not trust
``Success``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from typing import Any, Protocol, Sequence

from ..errors import WikiError
from ..model import PageId, RevId, format_timestamp, parse_timestamp
from .records import EditResult
from .session import Session

ARCHIVE_CLASH_RETRIES = 2  # upload: overwrites of one file within one second clash (see upload())
CHUNK_SIZE = 1 << 20  # chunked uploads: under PHP's default upload_max_filesize (2M) and post_max_size (8M)
MIN_CHUNK = 64 << 10  # a chunk refused at this size: the wiki's PHP limits are set below any use
# Errors that say the stash no longer has an upload (expired, or already stored).
_STASH_GONE = frozenset({"missingresult", "stashfailed", "stashnosuchfilekey", "stashfilenotfound",
                         "stashedfilenotfound", "uploadstash-file-not-found", "filekeynotfound"})

log = logging.getLogger(__name__)


class UploadProgress(Protocol):
    """Where a chunked upload keeps its stash filekey and offset between runs."""

    def load(self, filename: str, key: str) -> tuple[str, int] | None: ...

    def save(self, filename: str, key: str, filekey: str, offset: int) -> None: ...

    def clear(self, filename: str, key: str) -> None: ...


def _too_large(e: WikiError) -> bool:
    """The wiki's PHP refused the request for its size: a file part over
    ``upload_max_filesize`` (``badupload``), or a body over ``post_max_size``, which PHP
    drops whole, so api.php answers its HTML help page (``notapi``) or HTTP 413."""
    return e.code in ("badupload", "notapi", "http-413", "request-too-large")


def _request_too_large(api_url: str, filename: str, size: int) -> WikiError:
    return WikiError(
        f"{api_url} refused a request of {size} bytes uploading {filename}: the request is too large for its"
        " PHP settings (it answered without MediaWiki API JSON, or refused the file part)",
        hint="Raise upload_max_filesize and post_max_size in the wiki's php.ini (PHP's defaults are 2M and 8M),"
        " then run the command again.",
        code="request-too-large",
    )


@contextlib.contextmanager
def _reader(data_or_path):
    if isinstance(data_or_path, (bytes, bytearray)):
        yield io.BytesIO(data_or_path)
    else:
        with open(data_or_path, "rb") as f:
            yield f


class Writes(Session):
    """The write modules; each is one POST with the CSRF token."""

    # The largest file one upload request may carry on this wiki, once a refusal taught it
    # (PHP's upload_max_filesize/post_max_size are not in the API): None until then.
    _single_upload_limit: int | None = None

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
        *,
        progress: "UploadProgress | None" = None,
        key: str = "",
    ) -> dict:
        """Upload a file or a new version of it; returns the API's ``upload`` object.

        ``text`` is the file page's wikitext when the page is new. Same bytes as
        the current version raise WikiError code ``fileexists-no-change``. Two
        overwrites of one file within the same second clash in MediaWiki's archive
        (``backend-fail-alreadyexists``, nothing stored); this waits a second and
        repeats. With ``ignorewarnings=False`` any warning (exists, duplicate ...)
        raises WikiError code ``uploadwarning`` and nothing is stored.

        A file larger than one request may carry on this wiki (PHP's
        ``upload_max_filesize``/``post_max_size``, learnt from the first refusal) goes
        in chunks (``upload_chunked``); ``progress`` and ``key`` (e.g. the sha1) let a
        re-run after a kill continue it. Larger than the wiki's ``maxuploadsize``:
        WikiError code ``file-too-large``, nothing sent.
        """
        size = len(data_or_path) if isinstance(data_or_path, (bytes, bytearray)) else os.path.getsize(data_or_path)
        self._check_max_upload(filename, size)
        limit = self._single_upload_limit
        pending = progress.load(filename, key) if progress is not None else None
        if pending is None and (limit is None or size <= limit):
            try:
                return self._upload_request(
                    filename, {"comment": comment, "text": text, "ignorewarnings": ignorewarnings},
                    files={"file": (filename, data_or_path, "application/octet-stream")},
                )
            except WikiError as e:
                if not _too_large(e):
                    raise
                self._single_upload_limit = size - 1
                log.info("%s: one request cannot carry %s (%d bytes): %s; uploading in chunks",
                         self.api_url, filename, size, e.code)
        return self.upload_chunked(filename, data_or_path, comment, text, ignorewarnings, progress=progress, key=key)

    def upload_chunked(
        self,
        filename: str,
        data_or_path: bytes | str | os.PathLike,
        comment: str,
        text: str | None = None,
        ignorewarnings: bool = True,
        *,
        progress: "UploadProgress | None" = None,
        key: str = "",
        chunk_size: int | None = None,
    ) -> dict:
        """Upload in chunks to the wiki's upload stash (``stash``, ``offset``, ``filesize``,
        ``filekey``), then store the assembled file under ``filename`` (the final request,
        with ``filekey``). Each chunk's filekey and offset go to ``progress`` as the wiki
        answers, so a re-run continues where the wiki says the upload stands
        (``checkstatus``); a stash the wiki no longer has starts again from 0. A chunk the
        wiki refuses as too large is halved (down to ``MIN_CHUNK``)."""
        size = len(data_or_path) if isinstance(data_or_path, (bytes, bytearray)) else os.path.getsize(data_or_path)
        chunk = chunk_size or min(CHUNK_SIZE, max(MIN_CHUNK, self._single_upload_limit or CHUNK_SIZE))
        filekey, offset = self._resume_chunks(filename, key, size, progress)
        with _reader(data_or_path) as f:
            while offset < size:
                f.seek(offset)
                piece = f.read(min(chunk, size - offset))
                try:
                    data = self._call(
                        {"action": "upload", "filename": filename, "stash": True, "filesize": size,
                         "offset": offset, "filekey": filekey if offset else None, "ignorewarnings": True},
                        token=True, files={"chunk": (filename, piece, "application/octet-stream")},
                        idempotent=False,  # a repeated chunk is refused (invalid-chunk-offset); a re-run asks checkstatus
                    )
                except WikiError as e:
                    if not _too_large(e):
                        raise
                    if chunk <= MIN_CHUNK:
                        raise _request_too_large(self.api_url, filename, len(piece)) from None
                    chunk = max(MIN_CHUNK, chunk // 2)
                    continue
                up = data.get("upload") or {}
                filekey = str(up.get("filekey") or filekey)
                if up.get("result") == "Continue":
                    offset = int(up["offset"])
                elif up.get("result") == "Success":
                    offset = size
                else:
                    raise WikiError(f"{self.api_url}: chunked upload of {filename} stopped: {up.get('result')} {up}",
                                    hint="Run the command again; it continues the upload.", code="stashfailed")
                if progress is not None:
                    progress.save(filename, key, filekey, offset)
        try:
            up = self._upload_request(filename, {"comment": comment, "text": text, "ignorewarnings": ignorewarnings,
                                                 "filekey": filekey})
        except WikiError as e:
            if progress is not None and e.code in _STASH_GONE:
                progress.clear(filename, key)  # the next run starts again
            raise
        if progress is not None:
            progress.clear(filename, key)
        return up

    def _resume_chunks(self, filename: str, key: str, size: int, progress) -> tuple[str | None, int]:
        """(filekey, offset) to continue from: what the wiki says of the saved filekey."""
        saved = progress.load(filename, key) if progress is not None else None
        if saved is None:
            return None, 0
        filekey, offset = saved
        if offset >= size:  # assembled; the final request is what is left
            return filekey, size
        try:
            up = self._call({"action": "upload", "filekey": filekey, "checkstatus": True}, token=True)["upload"]
        except WikiError as e:
            if e.code not in _STASH_GONE:
                raise
            up = {}
        if up.get("result") == "Continue" and up.get("stage") == "uploading":
            return filekey, int(up.get("offset", 0))
        log.info("%s: the stashed upload of %s is gone (%s); starting it again", self.api_url, filename, up or "expired")
        progress.clear(filename, key)
        return None, 0

    def _check_max_upload(self, filename: str, size: int) -> None:
        cap = getattr(self, "_max_upload_size", None)
        if cap is None:
            general = self._call({"action": "query", "meta": "siteinfo", "siprop": "general"})["query"]["general"]
            cap = self._max_upload_size = int(general.get("maxuploadsize") or 0)
        if cap and size > cap:
            raise WikiError(
                f"{self.api_url}: {filename} ({size} bytes) is larger than this wiki takes ({cap} bytes, maxuploadsize)",
                hint="Raise $wgMaxUploadSize in LocalSettings.php to take it.", code="file-too-large",
            )

    def _upload_request(self, filename: str, params: dict, files: dict | None = None) -> dict:
        """The storing request (a whole file, or a stashed one by ``filekey``), with the
        archive-clash repeat; returns the ``upload`` object or raises."""
        for attempt in range(ARCHIVE_CLASH_RETRIES + 1):
            try:
                data = self._call({"action": "upload", "filename": filename, **params}, token=True, files=files,
                                  idempotent=False)
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
