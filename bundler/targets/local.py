"""A MediaWiki on this machine as the target of ``bundle apply``: written through
its own maintenance scripts, read over its own ``api.php``.

``bundle init -C DIR --wiki /path/to/LocalSettings.php`` (or the folder holding
it) makes such a side. Its config keeps the wiki's ``api.php`` URL (from
``$wgServer``/``$wgScriptPath``, read with ``getConfiguration.php``; or
``--api``) as ``wiki``, so everything that *reads* the wiki is the Action API
code the API side uses — ``sources.open_source`` makes bundles and returns from
it, ``bundle make --verify`` lists it — and a ``local`` entry (``LocalSettings.php``,
the installation, the PHP binary) by which ``targets.open_target`` opens this
target instead of the API one.

*Decision: reads over api.php, writes through scripts.* Reading through the API
reuses the tested client (histories, deleted texts, id listings) and needs no
SQL of ours on MediaWiki's schema; every *write* goes through the scripts, which
is what makes the histories exact:

- new revisions: ``importDump.php`` of the XML the project's exporter writes
  (``export.XmlWriter``, as ``action=import`` gets it) — no import log entry and
  no import null revision; timestamps, users (``--username-prefix``: the peer's
  label, as the API target's interwiki prefix), comments, minor flags and order
  as the sender's. Batches are larger than over the API (no upload limit), and
  each is two runs: ``--no-updates`` for all but each page's newest revision,
  then the rest, so the importer parses each page once (``_import_batch``);
- deletions ``deleteBatch.php``, moves ``moveBatch.php --noredirects`` (MediaWiki
  adds its move null revision, by "Move page script": remembered as the tool's
  own, as over the API), undeletions ``undelete.php``, the rare edit that keeps
  the newest text current ``edit.php``;
- after an apply ``rebuildrecentchanges.php`` and ``initSiteStats.php --update``
  (``importDump.php`` leaves both stale);
- file versions ``importImages.php`` with ``--user``, ``--timestamp`` and
  ``--summary``: the original uploader, time and comment (``local_files.py``).

Everything else — staging the whole bundle before the first write, the id maps
(MediaWiki renumbers what it imports: ids are learnt after each batch by
(timestamp, sha1)), the journal that lets a re-run after a kill finish without
duplicates (``importDump.php`` skips revisions it holds, as ``action=import``
does) — is ``MediaWikiTarget``'s, unchanged: this target is that class with a
client whose writes are scripts.
"""

from __future__ import annotations

import os
import tempfile

from ..errors import WikiError
from ..mediawiki import MediaWikiClient
from ..mediawiki.records import EditResult
from ..model import PageId, RevId
from .local_scripts import Scripts
from .mediawiki import MediaWikiTarget

# The system users MediaWiki's scripts act as when given none: what they write
# besides the sender's revisions (move null revisions, the newest-text edit).
SCRIPT_USERS = ("Move page script", "Maintenance script", "Delete page script", "Command line script")

# importDump.php has no upload limit: a batch is bounded only to keep memory flat
# (the XML is built in memory) and to learn ids often enough for a re-run.
LOCAL_IMPORT_MAX_BYTES = 16_000_000
LOCAL_IMPORT_MAX_PAGES = 2_000


def scripts_of(side) -> Scripts:
    local = side.config["local"]
    return Scripts(local["conf"], local["install"], local.get("php", "php"))


class ScriptWrites:
    """The write calls of ``MediaWikiClient`` (bundler/mediawiki/write.py), done by
    the wiki's maintenance scripts. Mixed in before the client, so the target and
    the return trip call them as they call the API's."""

    scripts: Scripts

    def import_xml(self, xml: bytes | str | os.PathLike, summary: str, interwikiprefix: str = "bundle", *,
                   assign_known_users: bool = True, updates: bool = True) -> list[dict]:
        """``importDump.php`` of the XML; [] (the caller then finds the pages by title).
        Without ``updates``, ``--no-updates``: no link tables, search index or
        category counts are derived from what it imports (see ``_import_batch``)."""
        args = [f"--username-prefix={interwikiprefix}"] + ([] if assign_known_users else ["--no-local-users"]) \
            + ([] if updates else ["--no-updates"])
        if not isinstance(xml, bytes):
            self.scripts.run("importDump", *args, os.fspath(xml))
            return []
        with tempfile.NamedTemporaryFile(suffix=".xml", prefix="wikibundle-") as f:
            f.write(xml)
            f.flush()
            self.scripts.run("importDump", *args, f.name)
        return []

    def delete(self, title: str, reason: str) -> dict:
        out = self.scripts.run("deleteBatch", "-r", reason, stdin=title + "\n")
        self._check(out, " FAILED to delete", f"deleting {title}")
        return {"title": title, "reason": reason}

    def move(self, from_title: str, to_title: str, reason: str, noredirect: bool = False, *,
             movetalk: bool = False) -> dict:
        args = ["-r", reason] + (["--noredirects"] if noredirect else [])
        out = self.scripts.run("moveBatch", *args, stdin=f"{from_title}|{to_title}\n")
        self._check(out, "\nFAILED: ", f"moving {from_title} to {to_title}")
        return {"from": from_title, "to": to_title}

    def undelete(self, title: str, reason: str) -> dict:
        self.scripts.run("undelete", "--reason", reason, title)
        return {"title": title}

    def edit(self, title: str, text: str, summary: str, baserevid: int | None = None,
             starttimestamp: int | None = None, createonly: bool = False, nocreate: bool = False, *,
             basetimestamp: int | None = None, minor: bool = False) -> EditResult:
        """``edit.php`` (as "Maintenance script"); the new revision read back over the API.
        The callers compare sha1s (a script edit never merges: it saves ``text``)."""
        args = ["--summary", summary] + (["--minor"] if minor else []) + (["--nocreate"] if nocreate else []) \
            + (["--createonly"] if createonly else [])
        before = self._latest(title)
        out = self.scripts.run("edit", *args, title, stdin=text)
        self._check(out, "Saving...failed", f"editing {title}")
        after = self._latest(title)
        if after is None:
            raise WikiError(f"edit.php saved nothing on {title}: {out.strip()[-200:]}", code="editfailure",
                            hint="Check the wiki's logs, then run bundle apply again.")
        page, rev = after
        same = before is not None and before[1].rev_id == rev.rev_id
        return EditResult(RevId(rev.rev_id), PageId(page.page_id), page.title, same, before is None,
                          None if same else rev.timestamp)

    def _latest(self, title: str):
        for page, rev in self.current_revisions(titles=[title]):  # type: ignore[attr-defined]
            return page, rev
        return None

    @staticmethod
    def _check(out: str, marker: str, what: str) -> None:
        if marker in out:
            raise WikiError(f"{what} failed: {out.strip()[-300:]}", code="scriptfailed",
                            hint="Check the wiki, then run bundle apply again: it resumes where this run stopped.")


class LocalClient(ScriptWrites, MediaWikiClient):
    """The wiki's api.php for reading; its maintenance scripts for writing."""

    def __init__(self, scripts: Scripts, api_url: str, user: str | None = None, password: str | None = None, **kw):
        super().__init__(api_url, user, password, **kw)
        self.scripts = scripts


def local_client(side, scripts: Scripts | None = None) -> LocalClient:
    """The side's client (its login, if it has one) with script writes."""
    api = side.api_client()
    password = api._password.reveal() if api._password is not None else None
    api.close()
    return LocalClient(scripts or scripts_of(side), api.api_url, api.user, password)


class LocalMediaWikiTarget(MediaWikiTarget):
    """``MediaWikiTarget`` on a wiki of this machine: its writes are maintenance scripts."""

    import_max_bytes = LOCAL_IMPORT_MAX_BYTES
    import_max_pages = LOCAL_IMPORT_MAX_PAGES

    def __init__(self, side, client=None):
        self.scripts = scripts_of(side)
        if client is None:
            client = local_client(side, self.scripts)
        super().__init__(side, client)

    def files(self):
        """Uploads with importImages.php: original uploader, time and comment (targets/local_files.py)."""
        from .local_files import LocalFiles

        self._files = LocalFiles(self)
        return self._files

    def _check_rights(self, info) -> None:
        """None needed: the scripts act as the wiki's system users, with every right."""

    def _import_batch(self, batch, reason: str) -> None:
        """Two runs of ``importDump.php``: every revision but each page's newest with
        ``--no-updates``, then the whole batch (MediaWiki skips what it holds, so only
        the newest revisions land). The importer derives a page's links, categories
        and search text from each revision that becomes current — every revision of
        a history imported oldest first, and all but the last are overwritten at once;
        so each page is parsed once, as it would be after a single edit, and the
        wiki's tables end as with one plain run (eslagunanegra's whole history:
        benchmarks/apply_local.py)."""
        older = [(page, title, revs[:-1]) for page, title, revs in batch if len(revs) > 1]
        if older:
            self.client.import_xml(self._batch_xml(older), reason, self.prefix, updates=False)
        super()._import_batch(batch, reason)

    def _write(self) -> None:
        super()._write()
        # importDump.php writes no recent changes and leaves the counts stale.
        self.scripts.run("rebuildrecentchanges")
        self.scripts.run("initSiteStats", "--update")

    def _learn_own(self, started: int) -> None:
        """What the scripts wrote as the wiki's system users (move null revisions, the
        newest-text edit): the tool's own, never edits to send back."""
        account = self._user
        try:
            for user in SCRIPT_USERS:
                self._user = user
                super()._learn_own(started)
        finally:
            self._user = account
