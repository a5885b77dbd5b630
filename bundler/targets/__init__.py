"""Where ``bundle apply`` writes: the interfaces a target offers, and ``open_target``.

Three interfaces, each with three implementations — the embedded store
(``targets.store``), a MediaWiki over its Action API (``targets.mediawiki*``), and
a MediaWiki on this machine written through its maintenance scripts
(``targets.local*``, the API target with script writes):

- ``UpdateTarget`` takes an update: the sender's history, imported as it is.
  ``bundler.apply`` decodes each records frame against it and puts what the frame
  holds; the target lands it when ``transaction()`` ends (the store: one SQLite
  transaction; a MediaWiki: staged, then written so a re-run finishes the job).
- ``ReturnTarget`` takes a return: ``landing.ReturnApplier`` lands the offline
  edits on it as new edits, merged three ways.
- ``FileSink`` takes a bundle's files and blob frames (uploads).

Where the two kinds differ (a page moved here, edits made here, titles in the
way), the difference is a method with two implementations, never a branch in
``apply``; ``open_target`` is the one place that knows which kind a side has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ContextManager, Iterable, Protocol

if TYPE_CHECKING:
    from ..container import Header, RawFrame
    from ..model import FileVersion, Page, Revision, SiteInfo, Slot
    from ..state import Side
    from ..store import StoreCounts


class FileSink(Protocol):
    """What takes a bundle's files and blob frames."""

    versions_added: int  # file versions the wiki did not hold
    blobs_added: int  # distinct file contents stored
    taken: list[FileVersion]  # every version the bundle carried (metadata only)

    def take(self, frame: RawFrame, what: str) -> bool:
        """Take the frame if it is a files or blob frame; False for any other frame."""

    def finish(self) -> None:
        """The bundle has ended: refuse it if a blob it announced did not follow."""

    def write(self, reason: str) -> None:
        """After a return's page edits: land the versions taken (the store has as they came)."""


class ReturnTarget(Protocol):
    """What ``landing.ReturnApplier`` needs of a wiki to land a return on it. Ids
    are the wiki's own; ``page_id`` may be a handle ``new_page`` gave until ``resolve``."""

    keeps_user: bool  # edits keep the offline author's name (else the sync account's, named in the summary)

    def transaction(self) -> ContextManager[None]:
        """All or nothing where the wiki allows it; landed edits are recorded either way."""

    def find_page(self, peer_page_id: int) -> int | None:
        """The page here that the sender knows as ``peer_page_id``."""

    def page(self, page_id: int) -> tuple[Page, bool] | None:
        """The page and whether it is deleted here."""

    def page_by_title(self, title: str) -> Page | None:
        """The live page with this title."""

    def head(self, page_id: int) -> Revision | None:
        """The page's current revision, with its text."""

    def get_text(self, rev_id: int) -> str | None:
        """A revision's text (None: unknown or hidden)."""

    def get_slots(self, rev_id: int) -> tuple[Slot, ...] | None:
        """A revision's non-main slots (None: unknown or hidden): the bases of slot deltas."""

    def revision_sha1(self, rev_id: int) -> str | None:
        """A revision's text sha1 (None: no such revision here)."""

    def revision_keys(self, page_id: int) -> list[Revision]:
        """The page's revisions in history order, without text, with attribution."""

    def siteinfo(self) -> SiteInfo:
        """The wiki's names and namespaces (for talk page titles)."""

    def origin(self, peer_rev_id: int) -> int | None:
        """The revision here that landed the sender's ``peer_rev_id``."""

    def record_origin(self, peer_rev_id: int, rev_id: int) -> None:
        """Remember that ``rev_id`` landed the sender's ``peer_rev_id``."""

    def record_page_origin(self, peer_page_id: int, page_id: int) -> None:
        """Remember that ``page_id`` is the sender's ``peer_page_id``."""

    def new_page(self, peer_page_id: int | None, namespace: int, title: str, redirect: str | None) -> int:
        """A new page (its id, or a handle until the first edit makes it)."""

    def resolve(self, page_id: int) -> int:
        """The page's id once a handle's page exists."""

    def restore_deleted(self, title: str, reason: str) -> int | None:
        """Undelete a page deleted here that only its title finds; its id, or None."""

    def edit(self, page_id: int, title: str, head: Revision | None, text: str | None, user: str | None,
             comment: str, minor: bool, stamp: int, like: Revision | None) -> Revision:
        """Save ``text`` as the page's new revision on top of ``head``."""

    def move(self, page_id: int, namespace: int, new_title: str, reason: str) -> None:
        """Give the page a new title (no redirect)."""

    def delete(self, page_id: int, reason: str) -> None:
        """Delete the page."""

    def undelete(self, page_id: int, title: str, reason: str) -> None:
        """Restore a deleted page under ``title``."""


class UpdateTarget(Protocol):
    """What takes an update (``apply``'s records frames, files, and the state's rows)."""

    notes: list[str]  # what the wiki could not do as asked, for the report

    def bind_bundle(self, header: Header, sha256: str) -> None:
        """Say which bundle is applied; refuse, before anything is decoded, a wiki that will not take it."""

    def transaction(self) -> ContextManager[None]:
        """Put everything inside; it lands when the block ends without error, else nothing does."""

    def files(self) -> FileSink:
        """What takes the bundle's files and blob frames."""

    def return_target(self, sender: str) -> ReturnTarget:
        """The same wiki, to land a return from ``sender`` on."""

    def prefetch_texts(self, rev_ids: object) -> None:
        """A frame's delta bases (its ``dict``, as the frame says), before it is decoded."""

    def get_text(self, rev_id: int) -> str | None:
        """The text of a revision, by the sender's id (None: not held)."""

    def get_slots(self, rev_id: int) -> tuple[Slot, ...] | None:
        """A revision's non-main slots, by the sender's id (None: not held); fetched with the
        frame's texts by ``prefetch_texts`` where the wiki is far."""

    def live_title(self, page_id: int) -> str | None:
        """The title of a live page, by the sender's id."""

    def set_siteinfo(self, si: SiteInfo) -> None:
        """The sender's site information."""

    def put_page(self, page: Page, moved: bool) -> str | None:
        """Put a page of the update (``moved``: the bundle moves it); a notice for the report, or None."""

    def put_revision(self, rev: Revision) -> bool:
        """Put a revision; False if the wiki holds it already."""

    def update_revision(self, rev: Revision) -> int | None:
        """Apply an update record (attribution, visibility); the page that holds the revision, if applied."""

    def delete_page(self, page_id: int) -> bool:
        """Delete a page the sender deleted."""

    def local_edits(self, page_id: int) -> set[int]:
        """Ids (in this side's local range) of the page's revisions made on this side."""

    def step_aside(self, incoming: set[int]) -> list[str]:
        """Move a page of ours off a title the update gives one of ``incoming``; notices."""

    def page(self, page_id: int) -> tuple[Page, bool] | None:
        """A page by the sender's id, and whether it is deleted here."""

    def revision_keys(self, page_id: int) -> list[Revision]:
        """The page's revisions in history order, without text, by the sender's ids."""

    def held_sha1s(self) -> Iterable[str]:
        """Sha1s of file bytes the wiki holds, for the manifest's ``files_held`` (never one it lacks)."""

    def counts(self) -> StoreCounts:
        """Pages and revisions the wiki holds (for the manifest)."""

    def api_requests(self) -> int | None:
        """Action API requests sent (None: not a MediaWiki)."""

    def close(self) -> None:
        """Release the wiki (and any staging files)."""


def open_target(side: Side) -> UpdateTarget:
    """The side's wiki as a target: its MediaWiki through its maintenance scripts (on this
    machine), or over the API, or its embedded store."""
    if side.config.get("local"):
        from .local import LocalMediaWikiTarget

        return LocalMediaWikiTarget(side)
    if side.is_api:
        from .mediawiki import MediaWikiTarget

        return MediaWikiTarget(side)
    from .store import StoreUpdateTarget

    return StoreUpdateTarget(side)


__all__ = ["FileSink", "ReturnTarget", "UpdateTarget", "open_target"]
