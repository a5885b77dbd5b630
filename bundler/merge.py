"""Applying a return bundle: offline edits land on the online wiki as new edits,
merged three ways where both sides changed a page (formats/BUNDLE.md §Return bundles).

For each page the return carries (in the offline side's ids):

* the online page it is: by the ids the online side gave it, by ``page_origin``
  for pages made here from an earlier return, else a new page — or, when the
  offline side created a page under a title the online wiki has meanwhile taken,
  that page (a conflict with an empty base);
* its base: the newest revision both sides had when the offline edits began (the
  parent of the first offline revision);
* if the online head is still the base: **fast-forward** — each offline revision
  becomes an edit here, in order, by the same user with its summary, stamped now
  (a wiki cannot back-date an edit; the summary says when it was made offline);
* otherwise **diverged** — the offline revisions are kept in the page history all
  the same (every text written offline stays retrievable), then one more edit
  makes the current text: the clean three-way merge (``merge3``, line by line,
  of base, online head, offline head), or on a conflict the online text again,
  with a notice on the talk page naming the offline revision to compare.

Moves: an offline move lands unless the title is taken here. Deletions: an
offline deletion lands unless the page was edited online since the offline side
last saw it; then the page is kept and the report says so. A page deleted here
and edited offline is restored. ``origin`` rows (written in the same store
transaction) make a re-run after a crash land nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import merge3

from .container import BundleReader
from .model import FRESH_IDS, Page, PageDelete, PageId, PageMove, Revision, format_timestamp, page_rkeys
from .records import decode_frame

MERGE_USER = "wikibundle"


@dataclass
class PageWork:
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


def three_way(base: str, ours: str, theirs: str) -> str | None:
    """The clean line-by-line merge of two texts made from ``base``; None on a conflict."""
    if ours == theirs or theirs == base:
        return ours
    if ours == base:
        return theirs
    m = merge3.Merge3(_lines(base), _lines(ours), _lines(theirs))
    if any(region[0] == "conflict" for region in m.merge_regions()):
        return None
    return "".join(m.merge_lines())


def _lines(text: str) -> list[str]:
    # MediaWiki trims trailing whitespace; a final newline keeps the last line comparable.
    return (text + "\n").splitlines(keepends=True) if text else []


class ReturnApplier:
    def __init__(self, target, sender: str, sender_label: str, holds_rev: Callable[[int, int], bool]):
        self.t = target
        self.sender = sender
        self.label = sender_label or sender[:8]
        self.holds_rev = holds_rev  # (peer page id, rkey) -> did the peer have that revision?
        self.out = ReturnOutcome()
        self.now = int(time.time())
        self.pending: dict[int, dict[int, str]] = {}  # texts of pages not landed yet: page -> rev id -> text

    # --- reading the bundle -------------------------------------------------------

    def get_text(self, peer_rev_id: int) -> str | None:
        for texts in self.pending.values():
            if peer_rev_id in texts:
                return texts[peer_rev_id]
        local = self.t.origin(peer_rev_id)
        return self.t.get_text(local if local is not None else peer_rev_id)

    def get_title(self, peer_page_id: int) -> str | None:
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
                what=f"frame {i} (offset {frame.offset})", get_title=self.get_title,
            )
            for page in content.pages:
                work.setdefault(page.page_id, PageWork(page)).page = page
            for mv in content.moves:
                work.setdefault(mv.page_id, PageWork(Page(mv.page_id, mv.namespace, mv.new_title))).move = mv
            for rev in content.revisions:
                work[rev.page_id].revisions.append(rev)
                if rev.text is not None:
                    self.pending.setdefault(rev.page_id, {})[rev.rev_id] = rev.text
                n += 1
            for d in content.deletes:
                work.setdefault(d.page_id, PageWork(Page(d.page_id, d.namespace, d.title))).delete = d
            # A page's revisions may continue in the next frame; all others are complete.
            last = content.pages[-1].page_id if content.pages else None
            for pid in [p for p in work if p != last]:
                self._land(work.pop(pid))
            if progress:
                progress(n)
        for w in work.values():
            self._land(w)
        return self.out

    # --- landing one page ---------------------------------------------------------

    def _land(self, w: PageWork) -> None:
        t = self.t
        peer_pid = w.page.page_id
        self.pending.pop(peer_pid, None)  # decoded already: its texts are in w.revisions
        self.out.pages += 1
        fresh = []
        for r in w.revisions:
            done = t.origin(r.rev_id)
            if done is not None:  # landed by an earlier run (perhaps one killed before the state was written)
                self.out.revisions_present += 1
                self.out.landed.append((peer_pid, r.rev_id, done))
            elif t.revision_sha1(r.rev_id) == r.sha1:
                self.out.revisions_present += 1  # this wiki's own revision
            else:
                fresh.append(r)
        local = t.find_page(peer_pid)
        if local is None and (fresh or w.move):
            local = self._new_page(w)
        if local is None:
            return
        if fresh:
            local = self._land_revisions(w, local, fresh)
        if w.move is not None:
            self._move(w.move, local)
        if w.delete is not None:
            self._delete(w.delete, local)
        if w.delete is not None:
            theirs = (w.delete.namespace, w.delete.title, True)
        elif w.move is not None:
            theirs = (w.move.namespace, w.move.new_title, False)
        else:
            theirs = (w.page.namespace, w.page.title, False)
        self.out.touched.append((peer_pid, t.resolve(local), *theirs))

    def _new_page(self, w: PageWork) -> int:
        """A page made offline: here under its id if free, or the online page that took its title."""
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

    def _land_revisions(self, w: PageWork, local: int, fresh: list[Revision]) -> int:
        t = self.t
        here = t.page(local)
        page, deleted = here if here else (Page(PageId(local), w.page.namespace, w.page.title), False)
        title = page.title
        if deleted:
            # Deleted online, edited offline: the edit wins the page back.
            if t.page_by_title(title) is not None:
                title = self._free_title(f"{title} (restored)")
            t.undelete(local, title, f"edited on {self.label} while deleted here")
            self._notice(f"{title}: deleted online but edited on {self.label}; restored with the offline edits")
        head = t.head(local) if here else None
        base_id = self._local_id(fresh[0].parent_id)
        forward = head is None or (base_id is not None and (base_id == head.rev_id or t.revision_sha1(base_id) == head.sha1))
        offline_head = fresh[-1]
        note = "" if forward else "; made on an older version, see the next revision"
        last = head
        for r in fresh:
            last = self._edit(local, title, last, r.text, r.user, _offline_summary(r, self.label) + note, r.minor, r)
            local = t.resolve(local)
            t.record_origin(r.rev_id, last.rev_id)
            self.out.landed.append((w.page.page_id, r.rev_id, last.rev_id))
            self.out.revisions_added += 1
        if forward:
            return local
        base_text = (t.get_text(base_id) if base_id is not None else "") or ""
        ours = head.text or ""
        theirs = offline_head.text or ""
        merged = three_way(base_text, ours, theirs)
        who = _names(fresh)
        if merged is not None:
            self._edit(local, title, last, merged, MERGE_USER,
                       f"Merged the offline edits by {who} on {self.label} with the online edits since"
                       f" revision {base_id if base_id is not None else 'none'}", False, None)
            self.out.merged.append(title)
            self._notice(f"{title}: offline edits by {who} merged with online edits")
        else:
            self._edit(local, title, last, ours, MERGE_USER,
                       f"Edit conflict: kept the online text of revision {head.rev_id}; the offline edit by {who}"
                       f" on {self.label} is revision {last.rev_id} (compare: Special:Diff/{head.rev_id}/{last.rev_id})",
                       False, None)
            self.out.conflicts.append(title)
            self._notice(
                f"{title}: EDIT CONFLICT - online text kept; the offline text by {who} is revision {last.rev_id}"
                f" in the page history (Special:Diff/{head.rev_id}/{last.rev_id})"
            )
            self._talk_notice(page.namespace, title, who, head.rev_id, last.rev_id)
        return local

    def _edit(self, page_id: int, title: str, head: Revision | None, text: str | None, user: str | None, comment: str,
              minor: bool, origin: Revision | None) -> Revision:
        # Later than what it follows here and than the offline revision it carries, so the
        # offline side, which has both, orders it last too.
        stamp = max(self.now, (head.timestamp + 1) if head else 0, (origin.timestamp + 1) if origin else 0)
        rev = self.t.edit(page_id, title, head, text, user if self.t.keeps_user else None, comment, minor, stamp, origin)
        self.now = max(stamp, rev.timestamp)
        return rev

    def _talk_notice(self, namespace: int, title: str, who: str, online: int, offline: int) -> None:
        talk = self._talk_title(namespace, title)
        if talk is None:
            return
        t = self.t
        page = t.page_by_title(talk)
        head = t.head(page.page_id) if page else None
        section = (
            f"== Offline edit conflict ({format_timestamp(self.now)[:10]}) ==\n"
            f"The offline edit by {who} on {self.label} to [[{title}]] overlapped online edits and was not merged."
            f" The online text was kept. The offline text is [[Special:PermanentLink/{offline}]];"
            f" compare: [[Special:Diff/{online}/{offline}]]. Please merge by hand. (wikibundle)"
        )
        text = ((head.text or "").rstrip() + "\n\n" + section) if head else section
        page_id = page.page_id if page else t.new_page(None, namespace + 1, talk, None)
        self._edit(page_id, talk, head, text, MERGE_USER, f"Offline edit conflict on [[{title}]]", False, None)

    def _talk_title(self, namespace: int, title: str) -> str | None:
        if namespace % 2 or namespace < 0:
            return None  # already a talk page: the history and the report must do
        names = {k: n for k, _c, n in self.t.siteinfo().namespaces}
        talk_ns = names.get(namespace + 1) or ("Talk" if namespace == 0 else None)
        if talk_ns is None:
            return None
        base = title if namespace == 0 else title.partition(":")[2]
        return f"{talk_ns}:{base}"

    def _move(self, mv: PageMove, local: int) -> None:
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

    # --- helpers ------------------------------------------------------------------

    def _local_id(self, peer_rev_id: int | None) -> int | None:
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


def edit_ids(has_upstream: bool, wiki_id: str) -> range:
    """Ids for revisions and pages made on this side (not received)."""
    from .model import local_id_range

    return local_id_range(wiki_id) if has_upstream else range(1, FRESH_IDS)
