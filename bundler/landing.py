"""Landing a return: offline edits land on the online wiki as new edits, merged three
ways where both sides changed a page.

This module is formats/BUNDLE.md §Landing a return, step by step: ``ReturnApplier.run``
is its "Decoding" paragraph, and ``_land`` lands one page by the numbered steps, each a
method named after its step and defined in the section's order — find the page, skip
what is here, undelete, fast-forward or not, each new revision becomes an edit, merge
(``merge.three_way``), move, delete, record. The wiki is reached through a target
(``targets.store.StoreReturnTarget`` for the embedded store, ``targets/mediawiki_return.py`` for a
MediaWiki), so the rules live once, here.

*origin* rows (the sender's rev id → the revision landed for it), written in the same
transaction as the wiki's changes, make a re-run after a crash land nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .container import SLOT_DELTA_CAPABILITY, BundleReader
from .merge import three_way
from .model import FILE_NS, Page, PageDelete, PageId, PageMove, Revision, Slot, format_timestamp
from .identity import page_rkeys
from .frame_reader import decode_frame

MERGE_USER = "wikibundle"
_CANONICAL_TALK = {1: "Talk", 7: "File talk"}  # when the siteinfo does not name them (a dump listing only some)


@dataclass
class PageWork:
    """One page of the return, gathered from its frames: its record, rows, move and delete."""

    page: Page
    revisions: list[Revision] = field(default_factory=list)
    move: PageMove | None = None
    delete: PageDelete | None = None


@dataclass(kw_only=True)
class Changes:
    """What applying a bundle changed in the wiki (``apply.ApplyResult`` reports it)."""

    pages: int = 0
    revisions_added: int = 0
    revisions_present: int = 0
    moves: list[tuple[str, str]] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # what a person should read: merges, conflicts, kept pages


@dataclass(kw_only=True)
class ReturnOutcome(Changes):
    """What applying a return did, for the report and for the state."""

    # (peer page id, peer rev id, local rev id) for every offline revision that is here now
    landed: list[tuple[int, int, int]] = field(default_factory=list)
    # (peer page id, local page id, namespace, title, deleted) of every page the return
    # touched, as the peer has it now
    touched: list[tuple[int, int, int, str, bool]] = field(default_factory=list)


class ReturnApplier:
    def __init__(self, target, sender: str, sender_label: str, holds_rev: Callable[[int, int], bool]):
        self.t = target
        self.sender = sender
        self.label = sender_label or sender[:8]
        self.holds_rev = holds_rev  # (peer page id, rkey) -> did the peer have that revision?
        self.out = ReturnOutcome()
        self.now = int(time.time())
        self.pending: dict[int, dict[int, str]] = {}  # texts of pages not landed yet: page -> rev id -> text

    # --- Decoding -----------------------------------------------------------------

    def get_text(self, peer_rev_id: int) -> str | None:
        """A base revision: among this bundle's texts not landed yet, then through *origin*,
        then as a rev id of this wiki."""
        for texts in self.pending.values():
            if peer_rev_id in texts:
                return texts[peer_rev_id]
        local = self.t.origin(peer_rev_id)
        return self.t.get_text(local if local is not None else peer_rev_id)

    def get_slots(self, peer_rev_id: int) -> tuple[Slot, ...] | None:
        """A base revision's slots, found as ``get_text`` finds its text (a revision of this
        bundle is a slot delta's base only inside its frame: ``records`` keeps those)."""
        local = self.t.origin(peer_rev_id)
        return self.t.get_slots(local if local is not None else peer_rev_id)

    def get_title(self, peer_page_id: int) -> str | None:
        """The title of a page record with a nil title: the page step 1 finds."""
        local = self.t.find_page(peer_page_id)
        here = self.t.page(local) if local is not None else None
        return here[0].title if here else None  # deleted here too: the return may bring it back

    def run(self, reader: BundleReader, progress: Callable[[int], None] | None,
            take_frame: Callable[..., bool] = lambda frame, what: False) -> ReturnOutcome:
        """Land every page of the return; ``take_frame`` takes the frames that are not
        page records (files, uploaded offline: they land as they are)."""
        work: dict[int, PageWork] = {}
        n = 0
        for i, frame in enumerate(reader.frames()):
            if take_frame(frame, what=f"frame {i} (offset {frame.offset})"):
                continue
            content = decode_frame(
                frame.meta, frame.body, frame.raw_len, self.get_text,
                what=f"frame {i} (offset {frame.offset})", get_title=self.get_title, compact=frame.compact,
                get_slots=self.get_slots, slot_deltas=SLOT_DELTA_CAPABILITY in reader.header.capabilities,
            )
            n += self._gather(work, content)
            # A page's revisions may continue in the next frame; all others are complete.
            last = content.pages[-1].page_id if content.pages else None
            for pid in [p for p in work if p != last]:
                self._land(work.pop(pid))
            if progress:
                progress(n)
        for w in work.values():
            self._land(w)
        return self.out

    def _gather(self, work: dict[int, PageWork], content) -> int:
        """Gather a frame's records per sender page id; the number of revision rows."""
        for page in content.pages:
            work.setdefault(page.page_id, PageWork(page)).page = page
        for mv in content.moves:
            work.setdefault(mv.page_id, PageWork(Page(mv.page_id, mv.namespace, mv.new_title))).move = mv
        n = 0
        for rev in content.revisions:  # a generator: the frame's text check runs at its end
            work[rev.page_id].revisions.append(rev)
            if rev.text is not None:
                self.pending.setdefault(rev.page_id, {})[rev.rev_id] = rev.text
            n += 1
        for d in content.deletes:
            work.setdefault(d.page_id, PageWork(Page(d.page_id, d.namespace, d.title))).delete = d
        return n

    # --- Landing one page ---------------------------------------------------------

    def _land(self, w: PageWork) -> None:
        self.pending.pop(w.page.page_id, None)  # decoded already: its texts are in w.revisions
        self.out.pages += 1
        new = self._skip_present(w)  # step 2 first: step 1 asks whether anything is new
        local = self._find_page(w, new)
        if local is None:
            return
        if new:
            local = self._land_revisions(w, local, new)
        if w.move is not None:
            self._move(w.move, local)
        if w.delete is not None:
            self._delete(w.delete, local)
        self._record(w, local)

    def _land_revisions(self, w: PageWork, local: int, new: list[Revision]) -> int:
        """Steps 3 to 6 for a page with new revisions; the page's id here after them."""
        here = self.t.page(local)
        page, title = self._undelete(w, local, here)
        head = self.t.head(local) if here else None
        base_id = self._local_id(new[0].parent_id)
        forward = self._fast_forwards(head, base_id)
        local, last = self._edits(w, local, title, head, new, forward)
        if not forward:
            self._merge(local, page.namespace, title, base_id, head, last, new)
        return local

    def _find_page(self, w: PageWork, new: list[Revision]) -> int | None:
        """Step 1. The page here: by *page origin* or the sender's page id; else, if there
        is something to land, the live page with its title, a restored deleted one, or a
        new page."""
        local = self.t.find_page(w.page.page_id)
        if local is not None or not (new or w.move):
            return local
        taken = self.t.page_by_title(w.page.title)
        if taken is not None:
            # Created on both sides under one title: one page, merged with an empty base.
            self.t.record_page_origin(w.page.page_id, taken.page_id)
            return taken.page_id
        restored = self.t.restore_deleted(w.page.title, f"edited on {self.label} while deleted here")
        if restored is not None:  # a wiki that forgets deleted pages' ids (MediaWiki) finds them by title
            self.t.record_page_origin(w.page.page_id, restored)
            self._notice(f"{w.page.title}: deleted online but edited on {self.label}; restored with the offline edits")
            return restored
        return self.t.new_page(w.page.page_id, w.page.namespace, w.page.title, w.page.redirect)

    def _skip_present(self, w: PageWork) -> list[Revision]:
        """Step 2. The revisions landed by an earlier run or that are this wiki's own are
        present; the others, in row order, are new."""
        new = []
        for r in w.revisions:
            done = self.t.origin(r.rev_id)
            if done is not None:  # landed by an earlier run (perhaps one killed before the state was written)
                self.out.revisions_present += 1
                self.out.landed.append((w.page.page_id, r.rev_id, done))
            elif self.t.revision_sha1(r.rev_id) == r.sha1:
                self.out.revisions_present += 1  # this wiki's own revision
            else:
                new.append(r)
        return new

    def _undelete(self, w: PageWork, local: int, here: tuple[Page, bool] | None) -> tuple[Page, str]:
        """Step 3. Deleted online, edited offline: the edit wins the page back, under its
        title or the first free ``TITLE (restored)``. The page and its title now."""
        page, deleted = here if here else (Page(PageId(local), w.page.namespace, w.page.title), False)
        title = page.title
        if deleted:
            if self.t.page_by_title(title) is not None:
                title = self._free_title(f"{title} (restored)")
            self.t.undelete(local, title, f"edited on {self.label} while deleted here")
            self._notice(f"{title}: deleted online but edited on {self.label}; restored with the offline edits")
        return page, title

    def _fast_forwards(self, head: Revision | None, base_id: int | None) -> bool:
        """Step 4. No head here, or the base is the head (or has its sha1)."""
        return head is None or (
            base_id is not None and (base_id == head.rev_id or self.t.revision_sha1(base_id) == head.sha1)
        )

    def _edits(self, w: PageWork, local: int, title: str, head: Revision | None, new: list[Revision],
               forward: bool) -> tuple[int, Revision | None]:
        """Step 5. Each new revision becomes an edit here, in row order: (page id, last edit)."""
        note = "" if forward else "; made on an older version, see the next revision"
        last = head
        for r in new:
            last = self._edit(local, title, last, r.text, r.user, _offline_summary(r, self.label) + note, r.minor, r)
            local = self.t.resolve(local)
            self.t.record_origin(r.rev_id, last.rev_id)
            self.out.landed.append((w.page.page_id, r.rev_id, last.rev_id))
            self.out.revisions_added += 1
        return local, last

    def _merge(self, local: int, namespace: int, title: str, base_id: int | None, head: Revision,
               last: Revision, new: list[Revision]) -> None:
        """Step 6. One more edit sets the three-way merge of base, head and the newest new
        revision; on a conflict it sets the head's text again and leaves a talk-page notice."""
        base_text = (self.t.get_text(base_id) if base_id is not None else "") or ""
        ours = head.text or ""
        merged = three_way(base_text, ours, new[-1].text or "")
        who = _names(new)
        if merged.text is not None:
            self._edit(local, title, last, merged.text, MERGE_USER,
                       f"Merged the offline edits by {who} on {self.label} with the online edits since"
                       f" revision {base_id if base_id is not None else 'none'}", False, None)
            self.out.merged.append(title)
            self._notice(f"{title}: offline edits by {who} merged with online edits")
            return
        self._edit(local, title, last, ours, MERGE_USER,
                   f"Edit conflict: kept the online text of revision {head.rev_id}; the offline edit by {who}"
                   f" on {self.label} is revision {last.rev_id} (compare: Special:Diff/{head.rev_id}/{last.rev_id})",
                   False, None)
        self.out.conflicts.append(title)
        self._notice(
            f"{title}: EDIT CONFLICT - online text kept; the offline text by {who} is revision {last.rev_id}"
            f" in the page history (Special:Diff/{head.rev_id}/{last.rev_id})"
        )
        self._talk_notice(namespace, title, who, head.rev_id, last.rev_id)

    def _talk_notice(self, namespace: int, title: str, who: str, online: int, offline: int) -> None:
        self._talk_section(namespace, title, (
            f"== Offline edit conflict ({format_timestamp(self.now)[:10]}) ==\n"
            f"The offline edit by {who} on {self.label} to [[{title}]] overlapped online edits and was not merged."
            f" The online text was kept. The offline text is [[Special:PermanentLink/{offline}]];"
            f" compare: [[Special:Diff/{online}/{offline}]]. Please merge by hand. (wikibundle)"
        ), f"Offline edit conflict on [[{title}]]")

    def file_conflict_notice(self, c) -> None:
        """A file uploaded on both sides (files_conflicts.FileConflict): a section on its talk page."""
        title = f"File:{c.name.replace('_', ' ')}"
        self._talk_section(FILE_NS, title, (
            f"== Offline upload conflict ({format_timestamp(self.now)[:10]}) ==\n"
            f"[[:{title}]] was uploaded online and, by {c.offline.user or 'an unknown user'}, on {self.label}"
            f" ({format_timestamp(c.offline.timestamp)}) since the last sync. The online version"
            f" (SHA-1 {c.online.sha1}) is current; the offline one (SHA-1 {c.offline.sha1}) is in the file history."
            f" Choose by hand (revert in the file history). (wikibundle)"
        ), f"Offline upload conflict on [[:{title}]]")

    def _talk_section(self, namespace: int, title: str, section: str, summary: str) -> None:
        talk = self._talk_title(namespace, title)
        if talk is None:
            return
        t = self.t
        page = t.page_by_title(talk)
        head = t.head(page.page_id) if page else None
        text = ((head.text or "").rstrip() + "\n\n" + section) if head else section
        page_id = page.page_id if page else t.new_page(None, namespace + 1, talk, None)
        self._edit(page_id, talk, head, text, MERGE_USER, summary, False, None)

    def _talk_title(self, namespace: int, title: str) -> str | None:
        if namespace % 2 or namespace < 0:
            return None  # already a talk page: the history and the report must do
        names = {k: n for k, _c, n in self.t.siteinfo().namespaces}
        talk_ns = names.get(namespace + 1) or _CANONICAL_TALK.get(namespace + 1)
        if talk_ns is None:
            return None
        base = title if namespace == 0 else title.partition(":")[2]
        return f"{talk_ns}:{base}"

    def _move(self, mv: PageMove, local: int) -> None:
        """Step 7. Move the live page unless another page here holds the new title."""
        here = self.t.page(local)
        if here is None or here[1]:
            return
        page = here[0]
        if page.title == mv.new_title:
            return
        other = self.t.page_by_title(mv.new_title)
        if other is not None and other.page_id != local:
            self._notice(f"{page.title}: moved to {mv.new_title} on {self.label}, but that title is taken online; not moved")
            return
        self.t.move(local, mv.namespace, mv.new_title, f"moved on {self.label}")
        self.out.moves.append((page.title, mv.new_title))

    def _delete(self, d: PageDelete, local: int) -> None:
        """Step 8. Delete the live page if the sender holds its current revision; else keep it."""
        here = self.t.page(local)
        if here is None or here[1]:
            return
        title = here[0].title
        keys = page_rkeys(self.t.revision_keys(local))
        if keys and not self.holds_rev(d.page_id, keys[-1]):
            self._notice(f"{title}: deleted on {self.label} but edited online since; kept")
            return
        self.t.delete(local, f"deleted on {self.label}")
        self.out.deletions.append(title)

    def _record(self, w: PageWork, local: int) -> None:
        """Step 9 (what the state records): the page as the sender has it now."""
        if w.delete is not None:
            theirs = (w.delete.namespace, w.delete.title, True)
        elif w.move is not None:
            theirs = (w.move.namespace, w.move.new_title, False)
        else:
            theirs = (w.page.namespace, w.page.title, False)
        self.out.touched.append((w.page.page_id, self.t.resolve(local), *theirs))

    # --- helpers ------------------------------------------------------------------

    def _edit(self, page_id: int, title: str, head: Revision | None, text: str | None, user: str | None, comment: str,
              minor: bool, origin: Revision | None) -> Revision:
        # Later than what it follows here and than the offline revision it carries, so the
        # offline side, which has both, orders it last too.
        stamp = max(self.now, (head.timestamp + 1) if head else 0, (origin.timestamp + 1) if origin else 0)
        rev = self.t.edit(page_id, title, head, text, user if self.t.keeps_user else None, comment, minor, stamp, origin)
        self.now = max(stamp, rev.timestamp)
        return rev

    def _local_id(self, peer_rev_id: int | None) -> int | None:
        """A sender's rev id as a revision of this wiki: through *origin*, else the same id
        if this wiki holds it, else None."""
        if peer_rev_id is None:
            return None
        local = self.t.origin(peer_rev_id)
        if local is not None:
            return local
        return peer_rev_id if self.t.revision_sha1(peer_rev_id) is not None else None

    def _free_title(self, title: str) -> str:
        n, candidate = 1, title
        while self.t.page_by_title(candidate) is not None:
            n += 1
            candidate = f"{title} {n}"
        return candidate

    def _notice(self, text: str) -> None:
        self.out.notices.append(text)


def _offline_summary(r: Revision, label: str) -> str:
    summary = (r.comment or "").strip()
    stamp = format_timestamp(r.timestamp).replace("T", " ").rstrip("Z")
    made = f"offline edit by {r.user or 'an unknown user'} on {label}, {stamp} UTC"
    return f"{summary} ({made})" if summary else f"({made})"


def _names(revs: list[Revision]) -> str:
    names = list(dict.fromkeys(r.user or "an unknown user" for r in revs))
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
