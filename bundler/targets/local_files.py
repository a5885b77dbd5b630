"""File versions of a bundle applied to a MediaWiki on this machine, with
``importImages.php``: each version by its original uploader, at its original time,
with its original comment.

Staging, the checks of every blob, the order of versions, the map of what
landed (``mw_files``) and re-runs are ``MediaWikiFiles``'
(targets/mediawiki_files.py); only the upload itself differs. Each version the
wiki lacks is put alone in a temporary folder under its file name and imported
with ``--overwrite`` (a new version of an existing file), ``--user`` (the
uploader, when the wiki has that account: ``importImages.php`` cannot act as a
user the wiki does not know, so others are uploaded as "Maintenance script" and
the comment names them, ``[uploaded by hq>Alice]``), ``--timestamp`` (the
original time) and ``--summary``/``--comment`` (the original comment). The wiki's
extension list (``$wgFileExtensions``) still applies: a file it refuses is left
out with a note, as over the API.

MediaWiki adds a null revision to the file page for each upload (stamped now,
by the uploader), as it did on the wiki the file came from: that one is
remembered as the tool's own, never an edit to send back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from ..errors import ContentError, WikiError
from ..model import FileVersion
from .mediawiki_files import MediaWikiFiles

_NOT_ALLOWED = "No suitable files could be found"


class LocalFiles(MediaWikiFiles):
    """``MediaWikiFiles`` whose uploads are ``importImages.php`` runs."""

    def __init__(self, target):
        super().__init__(target)
        self.scripts = target.scripts
        self._known: dict[str, bool] = {}

    def _check_rights(self) -> None:
        """None needed: the script writes to the wiki's file store itself."""
        self._checked = True

    def _uploader(self, user: str | None) -> str | None:
        if not user or ">" in user:
            return None
        if user not in self._known:
            self._known[user] = user in self.client.registered_users([user])
        return user if self._known[user] else None

    def _upload(self, v: FileVersion, reason: str) -> bool:
        path = self._local_copy(v.sha1)
        if path is None:  # checked while staging; the wiki lost it since
            raise ContentError(f"file {v.name}: its bytes {v.sha1[:12]}… are no longer on this wiki",
                               hint="Ask the sender for a full bundle (bundle make --full).")
        user = self._uploader(v.user)
        comment = v.comment or ""
        if user is None:
            comment = f"{comment} [uploaded by {self.target.prefix}>{v.user or 'an unknown user'}]".strip()
        if not self._import_image(v.name, path, comment, user, v.timestamp):
            return False
        title = f"File:{v.name}"
        held = self.client.imageinfo([title]).get(title) or []
        here = [w for w in held if w.sha1 == v.sha1 and w.timestamp == v.timestamp]
        if not here:
            raise WikiError(
                f"after importImages.php of {v.name}, the wiki shows no version with its bytes and time",
                hint="Check the wiki's file store (permissions of images/), then run bundle apply again (it resumes).",
                code="upload-mismatch",
            )
        self._record(v, here[0].timestamp)
        self._null_revision(title)
        return True

    def make_current(self, name: str, v: FileVersion, user: str, comment: str) -> None:
        """Import ``v``'s bytes again, now, so they are the current version (a file conflict of a return)."""
        path = self._local_copy(v.sha1)
        if path is None:
            raise ContentError(f"file {name}: its bytes {v.sha1[:12]}… are no longer on this wiki",
                               hint="Upload the online version again by hand.")
        self._import_image(name, path, comment, None, None)
        self._null_revision(f"File:{name}")

    def _import_image(self, name: str, path: str, comment: str, user: str | None, timestamp: int | None) -> bool:
        """``importImages.php`` of one file version; False if the wiki does not allow its extension."""
        args = ["--overwrite", f"--summary={comment}", f"--comment={comment}"] + ([f"--user={user}"] if user else []) \
            + ([f"--timestamp={time.strftime('%Y%m%d%H%M%S', time.gmtime(timestamp))}"] if timestamp else [])
        folder = tempfile.mkdtemp(prefix="wikibundle-upload-", dir=self._tmpdir)
        try:
            dest = os.path.join(folder, name)
            try:
                os.link(path, dest)  # the staged copy; no second copy of a large file
            except OSError:
                shutil.copyfile(path, dest)
            try:
                out = self.scripts.run("importImages", *args, folder)
            except WikiError as e:
                out = str(e)
                if _NOT_ALLOWED not in out:
                    raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if _NOT_ALLOWED in out:
            self.target.notes.append(f"file {name} was not imported: this wiki does not allow its extension"
                                     " ($wgFileExtensions)")
            return False
        return True

    def _null_revision(self, title: str) -> None:
        """The file page's revision the upload made (a null revision, or the page itself)."""
        for _page, r in self.client.current_revisions(titles=[title]):
            if not self.ids.came_in_bundle(r.rev_id):
                self.ids.add_own([r.rev_id], self.target.sender, self.target.seq)

    def _page_made(self, name: str) -> None:
        pass  # _null_revision took it

