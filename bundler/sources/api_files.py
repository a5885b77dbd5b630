"""A MediaWiki's uploads as a ``FileSource`` for ``bundle make`` (bundler/files.py).

Listing: which files, as the page source (sources/api.py) decides for the
pages. When it reads since the basis, the files are those its log read
(``iter_logevents`` since the same moment, every type) names in the File
namespace: every upload, overwrite and revert is logged, and so are deletions,
restores, imports and moves of files; no request of our own. Else (a
first bundle, ``--full``, a hidden log entry) ``file_names`` (the API's allimages) gives every
file name (500 a request with the apihighlimits right). Then the API's imageinfo
(every version) gives each file's versions, old ones included, 50 files a
request, with continuation (``MediaWikiClient.imageinfo``). The API's sha1 is hex (docs/MEDIAWIKI_FINDINGS.md G8), as the
bundle's; names are ``img_name`` (no namespace prefix, underscores). A version
whose bytes are hidden (revision-deleted) has no sha1 and no URL: it is left out.

Bytes: ``open(sha1)`` downloads a version only when ``carry_files`` asks for it,
which it does only for bytes the peer lacks, and for the previous version of a
file that changed (the base of a delta, tried as for any source); so a file the
peer holds costs the listing, not a download. A download streams into a temporary file, is checked
against the wiki's size and sha1, and is kept until ``close()``, because the
encoder reads a blob more than once (its head, the zstd and delta attempts, the
frames).

Uploads that applying made on this wiki (targets/mediawiki_files.py) carry the
wiki's time and the sync account; ``mw_files`` says which sender's version each
stands for, and it is listed as that version: the peer holds it, so it never
travels back as a new upload.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import BinaryIO, Iterator

from ..errors import WikiError
from ..mediawiki import MediaWikiClient, TITLES_PER_REQUEST
from ..model import FileVersion
from ..state.mediawiki import MediaWikiIds

CHUNK = 1 << 20


class ApiFiles:
    def __init__(self, client: MediaWikiClient, ids: MediaWikiIds | None = None, pages=None):
        self.client = client
        self.ids = ids  # the side's MediaWiki id maps (mw_files), or None
        self.pages = pages  # the page source (sources/api.py): when it reads since the basis, so do we
        self.mode = "every file"
        self._urls: dict[str, tuple[str, int, str]] = {}  # sha1 -> (url, size, name) of one version with those bytes
        self._tmpdir: str | None = None
        self.downloads = 0
        self.downloaded_bytes = 0

    # --- listing -----------------------------------------------------------------

    def _names(self) -> Iterator[str]:
        return self.client.file_names()

    def versions(self) -> Iterator[FileVersion]:
        src = self.pages
        names = None
        if src is not None and getattr(src, "mode", None) == "since the basis":
            names = src.file_names  # from the log it read since the basis: no request of our own
        self.mode = "every file" if names is None else "since the basis"
        chunk: list[str] = []
        for name in self._names() if names is None else names:
            chunk.append(name)
            if len(chunk) == TITLES_PER_REQUEST:
                yield from self._versions_of(chunk)
                chunk = []
        if chunk:
            yield from self._versions_of(chunk)

    def _versions_of(self, names: list[str]) -> Iterator[FileVersion]:
        info = self.client.imageinfo([f"File:{n}" for n in names])
        for name in names:
            out = []
            for v in info.get(f"File:{name}", ()):
                if not v.sha1 or not v.url:
                    continue  # hidden bytes cannot travel
                self._urls.setdefault(v.sha1, (v.url, v.size, name))
                fv = FileVersion(name, v.timestamp, v.sha1, v.size, v.user, v.user_id, v.comment, v.mime)
                out.append(self._as_sent(fv))
            out.sort(key=lambda v: (v.timestamp, v.sha1))
            yield from out

    def _as_sent(self, v: FileVersion) -> FileVersion:
        """An upload applying made here, as the sender's version it stands for."""
        return v if self.ids is None else self.ids.file_as_sent(v)

    # --- bytes -------------------------------------------------------------------

    def open(self, sha1: str) -> BinaryIO | None:
        if sha1 not in self._urls:
            return None
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="wikibundle-download-")
        path = os.path.join(self._tmpdir, sha1)
        if not os.path.exists(path):
            url, size, name = self._urls[sha1]
            download(self.client, url, sha1, size, path, name)
            self.downloads += 1
            self.downloaded_bytes += size
        return open(path, "rb")

    def close(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def download(client: MediaWikiClient, url: str, sha1: str, size: int, path: str, name: str) -> None:
    """Stream one file version into ``path``; its size and sha1 must be the wiki's."""
    h = hashlib.sha1()
    n = 0
    part = path + ".part"
    with open(part, "wb") as out:
        for chunk in client.download(url, chunk_size=CHUNK):
            n += len(chunk)
            if n > size:
                break
            h.update(chunk)
            out.write(chunk)
    if n != size or h.hexdigest() != sha1:
        os.unlink(part)
        raise WikiError(
            f"{client.api_url}: the bytes of {name} at {url} are not the version the wiki lists"
            f" (expected {size} bytes with sha1 {sha1[:12]}…, got {'more than ' if n > size else ''}{n} bytes"
            f"{'' if n > size else ' with sha1 ' + h.hexdigest()[:12] + '…'})",
            hint="The file was probably uploaded again while this ran; run the command again. If it persists,"
            " the wiki's copy is damaged (compare Special:ListFiles with the files on its server).",
            code="sha1-mismatch",
        )
    os.replace(part, path)
