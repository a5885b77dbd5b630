"""File versions (uploads) of a bundle applied to a MediaWiki, over ``action=upload``.

Same two phases as the pages (targets/mediawiki.py):

1. **Stage**, while the bundle is decoded: ``FileImporter`` (bundler/files_import.py)
   takes the files and blob frames as it does for the embedded store, with the
   same checks (order, sizes, sha1 of every decoded blob, delta bases); only its
   "store" is ``_StagedBlobs``, a temporary folder. A delta base or a version
   whose bytes did not travel (the sender knows this side holds them, perhaps
   under another name) is found on the wiki (``mw_files``, then
   ``MediaWikiClient.file_by_sha1``) and downloaded, checked against its sha1; bytes
   found nowhere are a *content error*, before anything is written.
2. **Upload**, after the page writes (the file page then exists, so each upload
   adds only a null revision to it, which is remembered as the tool's own like
   the import null revisions; a file whose page did not travel, left for the
   next bundle by ``--max-size``, gets its page from the upload, and that first
   revision is remembered as the tool's too): each file's versions in timestamp order, those
   the wiki lacks, with ``action=upload`` and ``ignorewarnings`` (a new version
   of an existing file, or the same bytes under another name). The wiki's answer
   must name the sha1 sent. ``fileexists-no-change`` (the current version has
   these bytes: a re-run after a crash) counts as there.

Attribution (decision). The API cannot back-date an upload or upload as another
user: each version is uploaded now, by the sync account, and its comment keeps
the original: ``<comment> [uploaded by <user> at <time> on <peer>]``. The order
of versions, and so which is current, is the sender's. ``mw_files`` (state
migration 0005) maps each upload to the sender's version it stands for: re-runs
skip what is mapped, and ``bundle make`` from this wiki (sources/api_files.py)
lists it as the sender's version, so it never travels back as a new upload.

Re-runs. A version is done when ``mw_files`` maps it. Otherwise, if the wiki
holds a version of that file with the same sha1 that no mapping claims (an
upload whose mapping a crash lost, or a file uploaded here by hand), it is
mapped to that one and not uploaded again; only then is it uploaded. So a
revert (A, B, A) is three uploads, and a re-run uploads none of them twice.

A version the wiki refuses for what it is (a banned file type, a MIME type
that does not match the name, over the wiki's ``maxuploadsize``) is left out with
a note in the apply report; the rest of the bundle still lands.

Big files. A version larger than one request may carry on this wiki (PHP's
``upload_max_filesize``/``post_max_size``: 2 MB and 8 MB by default; learnt from the
first refusal) is uploaded in 1 MiB chunks to the wiki's upload stash, then stored
(``MediaWikiClient.upload_chunked``). The stash filekey and offset are kept in the
state (``mw_upload_stash``) as each chunk lands, so a re-run after a kill continues
the upload where the wiki says it stands.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import BinaryIO

from ..errors import ContentError, WikiError
from ..container import FRAME_FILES
from ..files_import import FileImporter
from ..model import FileVersion, format_timestamp, parse_timestamp
from ..sources.api_files import download

_NEEDED_RIGHTS = ("upload", "reupload")
# Upload errors that are about the file, not the wiki or the account: note and go on.
_REFUSED = frozenset({
    "filetype-banned", "verification-error", "file-too-large", "filetype-missing", "illegal-filename",
    "fileexists-forbidden", "fileexists-shared-forbidden", "empty-file", "filename-tooshort", "bad-prefix",
})


class _StagedBlobs:
    """What ``FileImporter`` needs of a store: checked blobs go to a temporary folder;
    versions are collected for the upload phase."""

    def __init__(self, owner: "MediaWikiFiles"):
        self.owner = owner

    def put_blob(self, sha1: str, f: BinaryIO) -> bool:
        path = self.owner._path(sha1)
        if os.path.exists(path):
            return False
        with open(path + ".part", "wb") as out:
            shutil.copyfileobj(f, out, 1 << 20)
        os.replace(path + ".part", path)
        return True

    def blob_size(self, sha1: str) -> int | None:
        path = self.owner._path(sha1)
        if os.path.exists(path):
            return os.path.getsize(path)
        found = self.owner._on_wiki(sha1)
        return found[1] if found else None

    def blob_bytes(self, sha1: str) -> bytes | None:
        path = self.owner._local_copy(sha1)
        if path is None:
            return None
        with open(path, "rb") as f:
            return f.read()

    def put_file_version(self, v: FileVersion) -> bool:
        if not os.path.exists(self.owner._path(v.sha1)) and self.owner._on_wiki(v.sha1) is None:
            raise ContentError(
                f"file {v.name} ({format_timestamp(v.timestamp)}) names bytes {v.sha1[:12]}… that did not travel"
                " and that this wiki does not hold",
                hint="The sender believes this side holds the file (sent before under another name, or reported);"
                " it may have been deleted here. Nothing was changed; ask the sender for a full bundle (bundle make --full).",
            )
        return True


class MediaWikiFiles:
    """The files half of applying one bundle to a MediaWiki (``MediaWikiTarget.files()``)."""

    def __init__(self, target):
        self.target = target
        self.client = target.client
        self.ids = target.ids
        self._tmpdir = tempfile.mkdtemp(prefix="wikibundle-stage-files-")
        self._found: dict[str, tuple[str, int, str] | None] = {}  # sha1 -> (url, size, name) on the wiki
        self.importer = FileImporter(_StagedBlobs(self))
        self.uploaded = 0  # versions uploaded
        self.blobs_uploaded = 0  # distinct bytes this bundle brought that were uploaded
        self.present = 0  # versions the wiki held already
        self._checked = False

    # --- the FileSink (bundler.targets) -----------------------------------------

    def take(self, frame, what: str) -> bool:
        if frame.type == FRAME_FILES and not self._checked:
            self._check_rights()
        return self.importer.take(frame, what)

    def _check_rights(self) -> None:
        """Before anything is written: may this account upload here at all?"""
        self._checked = True
        info = self.client.siteinfo()
        if not info.general.get("uploadsenabled", True):
            raise WikiError(
                f"{self.client.api_url}: this bundle carries files (uploads), and uploads are disabled on this wiki;"
                " nothing was changed",
                hint="Enable them ($wgEnableUploads = true in LocalSettings.php), or ask the sender for a bundle"
                " without files.",
                code="uploaddisabled",
            )
        from .mediawiki import require_rights

        require_rights(
            self.client.api_url, info, _NEEDED_RIGHTS, "upload the files (uploads) this bundle carries",
            hint="Give the bot password the grants 'Upload new files' and 'Upload, replace, and move files'"
            " (Special:BotPasswords), and the account the 'upload' and 'reupload' rights.",
            code="cantupload",
        )

    def finish(self) -> None:
        self.importer.finish()

    @property
    def taken(self) -> list[FileVersion]:
        return self.importer.taken

    @property
    def versions_added(self) -> int:
        return self.uploaded

    @property
    def blobs_added(self) -> int:
        return self.blobs_uploaded

    def close(self) -> None:
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    # --- bytes -----------------------------------------------------------------------

    def _path(self, sha1: str) -> str:
        return os.path.join(self._tmpdir, sha1)

    def _on_wiki(self, sha1: str) -> tuple[str, int, str] | None:
        """(url, size, name) of a version on the wiki with these bytes, or None."""
        if sha1 in self._found:
            return self._found[sha1]
        found = None
        # Names uploads by this tool gave these bytes, then the files of this bundle: a
        # delta's base is mostly an older version of the same file, which may be archived
        # here (list=allimages, below, finds current versions only).
        names = list(dict.fromkeys([*self.ids.file_names(sha1), *(v.name for v in self.importer.announced)]))[:50]
        if names:
            for title, versions in self.client.imageinfo([f"File:{n}" for n in names]).items():
                for v in versions:
                    if v.sha1 == sha1 and v.url and found is None:
                        found = (v.url, v.size, title.split(":", 1)[1])
        if found is None:
            stored = self.client.file_by_sha1(sha1)
            if stored is not None:
                found = (stored.url, stored.size, stored.name)
        self._found[sha1] = found
        return found

    def _local_copy(self, sha1: str) -> str | None:
        """A local file with these bytes: staged, or downloaded from the wiki (checked)."""
        path = self._path(sha1)
        if os.path.exists(path):
            return path
        found = self._on_wiki(sha1)
        if found is None:
            return None
        url, size, name = found
        download(self.client, url, sha1, size, path, name)
        return path

    # --- upload phase ------------------------------------------------------------------

    def write(self, reason: str) -> None:
        """Upload every version the wiki lacks; called after the page writes."""
        by_name: dict[str, list[FileVersion]] = {}
        for v in self.importer.taken:
            by_name.setdefault(v.name, []).append(v)
        if not by_name:
            return
        staged = {v.sha1 for vs in by_name.values() for v in vs if os.path.exists(self._path(v.sha1))}
        names = sorted(by_name)
        wiki = self.client.imageinfo([f"File:{n}" for n in names])
        no_page = self._without_page([n for n in names if not wiki.get(f"File:{n}")])
        for name in names:
            versions = sorted(set(by_name[name]), key=lambda v: (v.timestamp, v.sha1))
            held = wiki.get(f"File:{name}", [])
            for v in versions:
                if self._mapped(v):
                    self.present += 1
                    continue
                claimed = self.ids.file_claimed(name, v.sha1)
                same = sorted(w.timestamp for w in held if w.sha1 == v.sha1 and w.timestamp not in claimed)
                if same:
                    self._record(v, same[0])
                    self.present += 1
                    continue
                if self._upload(v, reason):
                    self.uploaded += 1
                    if v.sha1 in staged:
                        staged.discard(v.sha1)
                        self.blobs_uploaded += 1
                    if name in no_page:
                        self._page_made(name)
                        no_page.discard(name)

    def transaction(self):
        return contextlib.nullcontext()  # a wiki is not transactional: each upload lands as it is made

    def history(self, name: str) -> list[FileVersion]:
        """The file's versions on the wiki, oldest first (the last is current)."""
        title = f"File:{name}"
        return [FileVersion(name, w.timestamp, w.sha1, w.size, w.user, None, w.comment, None)
                for w in reversed(self.client.imageinfo([title]).get(title, []))]

    def make_current(self, name: str, v: FileVersion, user: str, comment: str) -> None:
        """Upload ``v``'s bytes again (found on the wiki), so they are the current version."""
        path = self._local_copy(v.sha1)
        if path is None:
            raise ContentError(f"file {name}: its bytes {v.sha1[:12]}… are no longer on this wiki",
                               hint="Upload the online version again by hand.")
        self.client.upload(name, path, comment, ignorewarnings=True, progress=self.ids, key=v.sha1)

    def _without_page(self, names: list[str]) -> set[str]:
        """Names whose file page does not exist: the first upload creates it."""
        pages = self.client.page_info([f"File:{n}" for n in names])
        return {n for n in names if f"File:{n}" not in pages}

    def _page_made(self, name: str) -> None:
        """The file page the upload created (its text is our comment, not the sender's
        description, which arrives with its page): the tool's own revision, never an
        edit to send back, as a null revision is."""
        first = next(iter(self.client.page_revisions(f"File:{name}", limit=1, content=False)), None)
        if first is not None and not first.parent_id and first.user == self.target._user:
            self.ids.add_own([first.rev_id], self.target.sender, self.target.seq)

    def _mapped(self, v: FileVersion) -> bool:
        return self.ids.file_uploaded(self.target.sender, v)

    def _record(self, v: FileVersion, mw_timestamp: int) -> None:
        self.ids.record_file(self.target.sender, v, mw_timestamp, self.target.seq)

    def _upload(self, v: FileVersion, reason: str) -> bool:
        path = self._local_copy(v.sha1)
        if path is None:  # checked while staging; the wiki lost it since
            raise ContentError(
                f"file {v.name}: its bytes {v.sha1[:12]}… are no longer on this wiki",
                hint="Ask the sender for a full bundle (bundle make --full).",
            )
        who = v.user or "an unknown user"
        comment = f"{v.comment or ''} [uploaded by {who} at {format_timestamp(v.timestamp)} on {self.target.peer_label}]".strip()
        title = f"File:{v.name}"
        try:
            up = self.client.upload(v.name, path, comment, text=None, ignorewarnings=True, progress=self.ids, key=v.sha1)
        except WikiError as e:
            if e.code in _REFUSED:
                self.target.notes.append(f"file {v.name} ({format_timestamp(v.timestamp)}) was not uploaded: the wiki refuses it ({e.code})")
                return False
            if e.code != "fileexists-no-change":
                raise
            up = None
        ii = (up or {}).get("imageinfo") or {}
        if ii.get("sha1") and ii.get("timestamp"):
            sha1, mw_ts = str(ii["sha1"]), parse_timestamp(str(ii["timestamp"]))
        else:  # fileexists-no-change, or a wiki whose answer leaves them out: ask
            cur = (self.client.imageinfo([title]).get(title) or [None])[0]
            sha1, mw_ts = (cur.sha1, cur.timestamp) if cur is not None else ("", 0)
        if sha1 != v.sha1:
            raise WikiError(
                f"{self.client.api_url}: after uploading {v.name}, the wiki's current version has sha1 {sha1[:12] or 'none'}…,"
                f" not the {v.sha1[:12]}… sent",
                hint="Someone may have uploaded the file at the same moment; run bundle apply again (it resumes).",
                code="upload-mismatch",
            )
        self._record(v, mw_ts)
        return up is not None
