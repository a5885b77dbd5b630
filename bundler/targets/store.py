"""The embedded store (``bundler.store``) as the target of ``bundle apply``.

- ``StoreUpdateTarget`` takes an update inside one store transaction: everything
  the bundle holds lands, or nothing does. Edits made here and not yet sent back
  are protected: a page moved here keeps its title here, one deleted here comes
  back when the sender still has it, and a page of ours in the way of an incoming
  title steps aside (``step_aside``);
- ``StoreReturnTarget`` is what landing a return needs (``landing.ReturnApplier``;
  a MediaWiki offers the same in ``targets/mediawiki_return.py``);
- ``StoreFileSink`` lands files and blob frames in the store as they arrive
  (``files_import.FileImporter``), inside the same transaction.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from typing import Iterable, Iterator

from ..files_import import FileImporter
from ..identity import edit_ids
from ..model import FileVersion, Page, PageId, RevId, Revision, SiteInfo, Slot, edit_slots
from ..identity import local_id_range
from ..store import StoreCounts, WikiStore


class StoreFileSink(FileImporter):
    """Files and blob frames, landed in the store as they arrive."""

    def write(self, reason: str) -> None:
        pass  # landed already, in the store's transaction

    def transaction(self):
        return self.store.transaction()

    def history(self, name: str) -> list[FileVersion]:
        """The file's versions here, oldest first (the last is current)."""
        return list(self.store.file_versions(name))

    def make_current(self, name: str, v: FileVersion, user: str, comment: str) -> None:
        """A new version with ``v``'s bytes, after every other (inside a store transaction):
        as MediaWiki's revert, so the history keeps what came between."""
        last = self.history(name)[-1]
        stamp = max(int(time.time()), last.timestamp + 1)
        self.store.put_file_version(FileVersion(name, stamp, v.sha1, v.size, user, None, comment, v.mime))


class StoreUpdateTarget:
    """The side's embedded store, taking an update (``targets.UpdateTarget``)."""

    def __init__(self, side):
        self.side = side
        self.store = WikiStore(side.wiki_path)
        self.notes: list[str] = []  # the store does everything asked

    def bind_bundle(self, header, sha256: str) -> None:
        pass  # bundle ids are the store's ids

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.store.transaction():
            yield

    def files(self) -> StoreFileSink:
        return StoreFileSink(self.store)

    def return_target(self, sender: str) -> StoreReturnTarget:
        return StoreReturnTarget(self.store, sender, edit_ids(self.side.state.has_upstream(), self.side.wiki_id))

    def prefetch_texts(self, rev_ids: object) -> None:
        pass  # texts are read from the store as they are needed

    def get_text(self, rev_id: int) -> str | None:
        return self.store.get_text(rev_id)

    def get_slots(self, rev_id: int) -> tuple[Slot, ...] | None:
        return self.store.get_slots(rev_id)

    def live_title(self, page_id: int) -> str | None:
        return self.store.live_title(page_id)

    def set_siteinfo(self, si: SiteInfo) -> None:
        self.store.set_siteinfo(si)

    def put_page(self, page: Page, moved: bool) -> str | None:
        """One moved here keeps its title here (unless the bundle moves it too), one
        deleted here comes back."""
        notice = None
        here = self.store.page(page.page_id)
        if here is not None and not moved:
            mine, deleted = here
            if deleted:
                notice = f"{page.title}: was deleted here, but the online wiki keeps it (edited there); restored"
            elif mine.title != page.title:
                page = dataclasses.replace(page, namespace=mine.namespace, title=mine.title)  # moved here: kept
        self.store.put_page(page)
        return notice

    def put_revision(self, rev: Revision) -> bool:
        return self.store.put_revision(rev)

    def update_revision(self, rev: Revision) -> int | None:
        self.store.update_revision_meta(rev)
        held = self.store.revision(rev.rev_id)
        return held.page_id if held is not None else None  # update records name no page

    def delete_page(self, page_id: int) -> bool:
        return self.store.delete_page(page_id)

    def local_edits(self, page_id: int) -> set[int]:
        return self.store.revision_ids_in(page_id, local_id_range(self.side.wiki_id))

    def step_aside(self, incoming: set[int]) -> list[str]:
        """A page of ours that holds a title the update gives to one of its pages (a page
        created here and online under one title, or moved here onto a title the
        online wiki used) steps aside to a free title; the move travels back."""
        notices = []
        for title, pids in self.store.shared_titles().items():
            ours = [p for p in pids if p not in incoming]
            if not ours or len(ours) == len(pids):
                continue  # the bundle's own pages clash: check_titles refuses it
            for pid in ours:
                page, _deleted = self.store.page(pid)
                n, new = 1, f"{title} (offline copy)"
                while self.store.page_by_title(new) is not None:
                    n += 1
                    new = f"{title} (offline copy {n})"
                self.store.put_page(dataclasses.replace(page, title=new))
                notices.append(f"{title}: also created or moved here; this side's page is now {new}")
        return notices

    def page(self, page_id: int) -> tuple[Page, bool] | None:
        return self.store.page(page_id)

    def revision_keys(self, page_id: int) -> list[Revision]:
        return self.store.revision_keys(page_id)

    def counts(self) -> StoreCounts:
        return self.store.counts()

    def held_sha1s(self) -> Iterable[str]:
        return self.store.blob_sha1s()

    def api_requests(self) -> int | None:
        return None

    def close(self) -> None:
        self.store.close()


class StoreReturnTarget:
    """What landing a return needs of a wiki, on the embedded store (one transaction).

    A MediaWiki offers the same (``targets/mediawiki_return.py``): the landing
    rules live once, in ``landing.ReturnApplier``."""

    keeps_user = True  # edits keep the offline author's name (a MediaWiki edits as the bot)

    def __init__(self, store, sender: str, edit_ids: range):
        self.store = store
        self.sender = sender
        self.ids = edit_ids

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.store.transaction():
            yield

    def find_page(self, peer_page_id: int) -> int | None:
        local = self.store.page_origin(self.sender, peer_page_id)
        if local is None and self.store.page(peer_page_id) is not None:
            local = peer_page_id
        return local

    def page(self, page_id: int):
        return self.store.page(page_id)

    def page_by_title(self, title: str) -> Page | None:
        return self.store.page_by_title(title)

    def head(self, page_id: int) -> Revision | None:
        return self.store.head(page_id)

    def get_text(self, rev_id: int) -> str | None:
        return self.store.get_text(rev_id)

    def get_slots(self, rev_id: int) -> tuple[Slot, ...] | None:
        return self.store.get_slots(rev_id)

    def revision_sha1(self, rev_id: int) -> str | None:
        return self.store.revision_sha1(rev_id)

    def revision_keys(self, page_id: int) -> list[Revision]:
        """The page's revisions in history order, without text, with attribution."""
        return list(self.store.revision_meta(page_id).values())

    def siteinfo(self):
        return self.store.siteinfo()

    def origin(self, peer_rev_id: int) -> int | None:
        return self.store.origin(self.sender, peer_rev_id)

    def record_origin(self, peer_rev_id: int, rev_id: int) -> None:
        self.store.record_origin(self.sender, peer_rev_id, rev_id)

    def record_page_origin(self, peer_page_id: int, page_id: int) -> None:
        self.store.record_page_origin(self.sender, peer_page_id, page_id)

    def new_page(self, peer_page_id: int | None, namespace: int, title: str, redirect: str | None) -> int:
        """A new page, under the peer's id if that is free here (None: a page of our own)."""
        s = self.store
        free = peer_page_id is not None and s.page(peer_page_id) is None
        pid = peer_page_id if free else s.next_id("page", "page_id", self.ids)
        s.put_page(Page(PageId(pid), namespace, title, redirect))
        if peer_page_id is not None and pid != peer_page_id:
            s.record_page_origin(self.sender, peer_page_id, pid)
        return pid

    def resolve(self, page_id: int) -> int:
        return page_id

    def restore_deleted(self, title: str, reason: str) -> int | None:
        return None  # the store keeps a deleted page under its id: find_page finds it

    def edit(self, page_id: int, title: str, head: Revision | None, text: str | None, user: str | None,
             comment: str, minor: bool, stamp: int, like: Revision | None) -> Revision:
        rev = Revision(
            rev_id=RevId(self.store.next_id("revision", "rev_id", self.ids)),
            page_id=PageId(page_id),
            timestamp=stamp,
            text=text,
            user=user,
            comment=comment,
            parent_id=head.rev_id if head else None,
            minor=minor,
            model=like.model if like else (head.model if head else "wikitext"),
            format=like.format if like else (head.format if head else "text/x-wiki"),
            # The other slots are the page's here, not the offline revision's: as a MediaWiki
            # edit does (mediawiki_return), so both kinds of online side keep the same ones.
            slots=edit_slots(head),
            sha1=like.sha1 if like is not None and text is None else "",
        )
        self.store.put_revision(rev)
        return rev

    def move(self, page_id: int, namespace: int, new_title: str, reason: str) -> None:
        page, _deleted = self.store.page(page_id)
        self.store.put_page(Page(page.page_id, namespace, new_title, page.redirect))

    def delete(self, page_id: int, reason: str) -> None:
        self.store.delete_page(page_id)

    def undelete(self, page_id: int, title: str, reason: str) -> None:
        page, _deleted = self.store.page(page_id)
        self.store.put_page(dataclasses.replace(page, title=title))
