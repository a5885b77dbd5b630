"""Writing a staged bundle to a MediaWiki: step 2 of ``targets/mediawiki.py``, in
the order its docstring gives (a. deletions, b. pages deleted here that come
back, c. new revisions of held pages, d. moves, e. new pages, uploads, f. what
applying made itself, and the newest text current). Steps c and e, the import
batches, are ``targets/mediawiki_import.py``.

Every write is checked against the wiki's state first, and what landed is
recorded in the side's state (``state.mediawiki``) as it lands, so a run that was
killed is finished by running ``bundle apply`` again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import ContentError
from ..mediawiki import Fields
from ..model import Page

if TYPE_CHECKING:
    from .mediawiki import MediaWikiTarget, _Current, _Mapped
    from .mediawiki_stage import Stage


class WritePhase:
    """The write half of ``MediaWikiTarget`` (a part of that class: it uses the
    target's stage, id map and view of the wiki); ``_write`` runs when the
    target's transaction ends without error."""

    def _write(self: MediaWikiTarget) -> None:
        st = self._staged()
        # the wiki's clock (siteinfo), else ours: revisions of ours are found from here on
        started = self.ids.journal_begin(self.sender, self.seq, self.sha256, (self._wiki_time or int(time.time())) - 1)
        reason = f"wikibundle: bundle {self.seq} from {self.peer_label}"

        # a. deletions first: a title they free may be taken by a page below.
        self._delete_pages(st, reason)
        # b. which staged pages the wiki holds (alive, deleted here), which are new
        pages = st.pages()
        held, new = self._held_and_new(pages, reason)
        if st.updates:
            self.notes.append(
                f"{st.updates} changes of attribution or visibility of revisions held here were not applied:"
                " the MediaWiki API cannot change an existing revision's user or comment"
            )

        # c. new revisions of held pages, under the title they have here now
        self._import([(page, cur.title) for page, cur in held], reason)
        # d. moves
        self._moves([(page, cur) for page, cur in held], reason)
        # e. new pages under their own titles
        self._import([(page, page.title) for page in new], reason)
        if self._files is not None:  # uploads: their null revisions are learnt as ours in f
            self._files.write(reason)
        # f. what applying made itself; the newest text current
        self._learn_own(started)
        self._newest_current([p.page_id for p in pages], reason)
        self._local_edits_current([p.page_id for p in pages], reason)
        self.ids.journal_written(self.sender, self.seq, self.sha256)

    def _delete_pages(self: MediaWikiTarget, st: Stage, reason: str) -> None:
        for pid, _title in st.deletes():
            m = self._mw_page(pid)
            if m is None:
                continue
            cur = self._currents([m.mw_page_id], fresh=True).get(m.mw_page_id)
            if cur is None:
                continue  # already gone: deleted here, or by an earlier run
            self.client.delete(cur.title, reason)
            self._current[m.mw_page_id] = None
            self._set_page(pid, m.mw_page_id, cur.title)

    def _held_and_new(self: MediaWikiTarget, pages: list[Page], reason: str) -> tuple[list[tuple[Page, _Current]], list[Page]]:
        """The staged pages the wiki holds (with their current revision; one deleted here
        is restored first) and the new ones, under their titles in this wiki's names."""
        mapped = {p.page_id: self._mw_page(p.page_id) for p in pages}
        currents = self._currents([m.mw_page_id for m in mapped.values() if m is not None], fresh=True)
        held: list[tuple[Page, _Current]] = []
        new: list[Page] = []
        for page in pages:
            m = mapped[page.page_id]
            page = Page(page.page_id, page.namespace, self._local_title(page), page.redirect)
            if m is None:
                new.append(page)
                continue
            cur = currents.get(m.mw_page_id)
            if cur is None:
                cur = self._undelete(page, m, reason)
            held.append((page, cur))
        return held, new

    def _local_title(self: MediaWikiTarget, page: Page) -> str:
        """The page's title in this wiki's namespace names (a wiki in another language
        names them differently; MediaWiki's importer maps them by number, as here)."""
        name = self._ns.get(page.namespace)
        if page.namespace == 0 or name is None or ":" not in page.title:
            return page.title
        return f"{name}:{page.title.split(':', 1)[1]}"

    def _undelete(self: MediaWikiTarget, page: Page, m: _Mapped, reason: str) -> _Current:
        """A page this side deleted comes back: restore its revisions where they are."""
        here = self._current_by_title(m.title)
        if here is not None:
            raise ContentError(
                f"the bundle brings back the page {page.title!r}, deleted here as {m.title!r}; that title now"
                f" belongs to another page of this wiki (page id {here.page_id}), so it cannot be undeleted; nothing more was changed",
                hint=f"Move that page away on the wiki (Special:MovePage/{m.title}), then run bundle apply again.",
            )
        self.client.undelete(m.title, reason)
        cur = self._current_by_title(m.title)
        if cur is None:
            raise ContentError(
                f"the wiki has no deleted revisions of {m.title!r} to restore (purged?)",
                hint="Ask the sender for a full bundle (bundle make --full).",
            )
        self._set_page(page.page_id, cur.page_id, cur.title)
        return cur

    def _moves(self: MediaWikiTarget, held: list[tuple[Page, _Current]], reason: str) -> None:
        """Give held pages their new titles. A page moves only once its new title is
        free; pages that swap titles go through a temporary title."""
        pending = {page.page_id: [page, cur.page_id, cur.title] for page, cur in held if cur.title != page.title}
        while pending:
            sources = {v[2] for v in pending.values()}
            ready = [pid for pid, (page, _mw, title) in pending.items() if page.title not in sources]
            if not ready:  # a cycle (A→B, B→A): park one under a title nobody uses
                pid = next(iter(pending))
                page, mw, title = pending[pid]
                tmp = f"{title} (wikibundle {self.seq} move)"
                self.client.move(title, tmp, reason, noredirect=True)
                pending[pid][2] = tmp
                self._set_page(pid, mw, tmp)
                continue
            for pid in ready:
                page, mw, title = pending.pop(pid)
                self.client.move(title, page.title, reason, noredirect=True)
                self._set_page(pid, mw, page.title)
                self._current.pop(mw, None)

    def _learn_own(self: MediaWikiTarget, started: int) -> None:
        """Revisions by this account since applying started that did not come in a
        bundle: import and move null revisions. Remembered so ``bundle make`` skips them."""
        if not self._user:
            return
        # Null revisions only (the parent's text again): an edit someone made with this
        # account in the same second is an edit, and must travel back.
        candidates: list[tuple[int, int, str]] = []
        for listed, _more in self.client.allrevisions_batches(started, user=self._user):
            for _page, r in listed:
                if not self.ids.came_in_bundle(r.rev_id):
                    candidates.append((r.rev_id, r.parent_id or 0, r.sha1))
        parents = self._sha1s([parent for _rid, parent, _sha in candidates if parent])
        own = [rid for rid, parent, sha in candidates if parent and parents.get(parent) == sha]
        self.ids.add_own(own, self.sender, self.seq)

    def _local_edits_current(self: MediaWikiTarget, page_ids: list[int], reason: str) -> None:
        """An edit made on this wiki that is as new as what arrived stays current (as on
        the embedded store, where it sorts after a revision of the same second): an
        imported revision of the same second, or a null revision of a move, would
        otherwise hide it until the return trip brings the merge back."""
        own = self.ids.own_revisions()
        for pid in page_ids:
            m = self._mw_page(pid)
            cur = self._currents([m.mw_page_id], fresh=True).get(m.mw_page_id) if m else None
            if cur is None:
                continue
            history = [r for r in self._history(cur.title, content=False) if r.rev_id not in own]
            local = [r for r in history if not self.ids.came_in_bundle(r.rev_id)]
            if not local or not history or history[-1].rev_id == local[-1].rev_id:
                continue
            mine, theirs = local[-1], history[-1]
            if mine.timestamp < theirs.timestamp or mine.sha1 == cur.sha1:
                continue
            text = self.get_text_mw(mine.rev_id)
            if text is None:
                continue
            res = self.client.edit(cur.title, text, f"{reason}: the edit made here stays current", nocreate=True)
            self.ids.add_own([res.rev_id], self.sender, self.seq)
            self.notes.append(f"{cur.title!r}: kept the edit {mine.rev_id} made here current; it travels back to be merged")

    def get_text_mw(self: MediaWikiTarget, mw_rev_id: int) -> str | None:
        self._fetch_texts([mw_rev_id])
        return self._texts.get(mw_rev_id)

    def _below_own(self: MediaWikiTarget, rev_id: int) -> int | None:
        """The first revision under ``rev_id`` (one of ours) that is not ours."""
        for _hop in range(16):
            parent = None
            for _page, r in self.client.revisions_by_id([rev_id], Fields.IDS):
                parent = r.parent_id
            if parent is None:
                return None
            if not self.ids.is_own(parent):
                return parent
            rev_id = parent
        return None

    def _sha1s(self: MediaWikiTarget, rev_ids: list[int]) -> dict[int, str]:
        """The API's sha1 of these revisions."""
        return {r.rev_id: r.sha1 for _page, r in self.client.revisions_by_id(sorted(set(rev_ids)), Fields.SHA1)}

    def _newest_current(self: MediaWikiTarget, page_ids: list[int], reason: str) -> None:
        """Where one of our own null revisions is newer than what a bundle brought,
        MediaWiki keeps it current (newest timestamp wins): save the newest text again."""
        st = self._staged()
        mapped = {pid: self._mw_page(pid) for pid in page_ids}
        currents = self._currents([m.mw_page_id for m in mapped.values() if m is not None], fresh=True)
        for pid, m in mapped.items():
            newest = st.newest(pid)
            if m is None or newest is None or newest.text is None:
                continue
            cur = currents.get(m.mw_page_id)
            if cur is None or cur.sha1 == newest.sha1:
                continue
            if not self.ids.is_own(cur.rev_id):
                self.notes.append(f"{cur.title!r}: kept the newer revision {cur.rev_id} made on this wiki")
                continue
            below = self._below_own(cur.rev_id)
            if below is not None and self.ids.came_in_bundle(below) is False:
                # Our null revision sits on an edit made here, newer than what arrived: that
                # edit stays current; it travels back and is merged on the other side.
                self.notes.append(f"{cur.title!r}: kept the newer edit {below} made on this wiki")
                continue
            res = self.client.edit(cur.title, newest.text, f"{reason}: newest text", nocreate=True)
            self.ids.add_own([res.rev_id], self.sender, self.seq)
