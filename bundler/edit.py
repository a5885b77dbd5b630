"""``bundle edit``: change the embedded wiki store by hand, as an editor would in MediaWiki.

So the whole two-way loop runs without a MediaWiki: an offline editor's edit,
move or deletion here travels back in the next return bundle. Like MediaWiki, an
edit that changes nothing makes no revision, and saved text loses trailing
whitespace. A side that takes updates from an upstream gives new pages and
revisions ids from its own range (``identity.local_id_range``), so they never clash
with ids the upstream hands out later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from .errors import UsageError
from .identity import edit_ids
from .model import Page, PageId, RevId, Revision, edit_slots
from .frame_reader import check_title
from .state import Side


@dataclass
class EditResult:
    title: str
    page_id: int
    rev_id: int | None  # None: no new revision
    created: bool = False
    changed: bool = True


def _title(title: str) -> str:
    t = " ".join(title.replace("_", " ").split())
    if not t:
        raise UsageError("the title is empty", hint="Give the page's full title, e.g. 'Main Page' or 'Help:Contents'.")
    t = t[0].upper() + t[1:]  # MediaWiki's default first-letter case
    return check_title(t, "title")


def edit_page(side: Side, title: str, text: str, *, user: str, summary: str = "", minor: bool = False) -> EditResult:
    title = _title(title)
    text = text.rstrip()
    ids = edit_ids(side.state.has_upstream(), side.wiki_id)
    store = side.store()
    try:
        with store.transaction():
            page = store.page_by_title(title)
            created = page is None
            if page is None:
                page = Page(PageId(store.next_id("page", "page_id", ids)), store.namespace_of(title), title)
                store.put_page(page)
            head = store.head(page.page_id)
            if head is not None and head.text == text:
                return EditResult(title, page.page_id, None)
            rev = Revision(
                rev_id=RevId(store.next_id("revision", "rev_id", ids)),
                page_id=page.page_id,
                timestamp=max(int(time.time()), head.timestamp + 1 if head else 0),
                text=text,
                user=user,
                comment=summary,
                parent_id=head.rev_id if head else None,
                minor=minor,
                model=head.model if head else "wikitext",
                format=head.format if head else "text/x-wiki",
                slots=edit_slots(head),  # a Commons page's structured data stays, as on MediaWiki
            )
            store.put_revision(rev)
        return EditResult(title, page.page_id, rev.rev_id, created)
    finally:
        store.close()


def move_page(side: Side, title: str, new_title: str) -> EditResult:
    title, new_title = _title(title), _title(new_title)
    store = side.store()
    try:
        with store.transaction():
            page = _existing(store, title)
            if store.page_by_title(new_title) is not None:
                raise UsageError(f"{new_title!r} exists already", hint="Choose a free title, or delete that page first.")
            store.put_page(replace(page, title=new_title, namespace=store.namespace_of(new_title)))
        return EditResult(new_title, page.page_id, None)
    finally:
        store.close()


def delete_page(side: Side, title: str) -> EditResult:
    title = _title(title)
    store = side.store()
    try:
        with store.transaction():
            page = _existing(store, title)
            store.delete_page(page.page_id)
        return EditResult(title, page.page_id, None)
    finally:
        store.close()


def _existing(store, title: str) -> Page:
    page = store.page_by_title(title)
    if page is None:
        raise UsageError(f"there is no page {title!r} in this wiki", hint="'bundle export' lists what the wiki holds; titles are case-sensitive after the first letter.")
    return page


def upload_file(side: Side, path: str, *, name: str | None, user: str, comment: str = "") -> EditResult:
    """A new version of a file (or a new file), as Special:Upload makes it: the file's
    bytes stored once per sha1, its description page created on a first upload."""
    import hashlib
    import os

    from .files import sniff
    from .model import FileVersion

    name = (name or os.path.basename(path)).replace(" ", "_")
    if not name or "/" in name or ":" in name:
        raise UsageError(f"{name!r} is not a file name", hint="Give --name like Map_of_the_clinic.png.")
    name = name[0].upper() + name[1:]
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}", hint="Give the file to upload.") from None
    with f:
        h = hashlib.sha1()
        size = 0
        head = f.read(64)
        f.seek(0)
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
        sha1 = h.hexdigest()
        store = side.store()
        try:
            with store.transaction():
                versions = list(store.file_versions(name))
                if versions and versions[-1].sha1 == sha1:
                    return EditResult(name, 0, None, changed=False)  # as MediaWiki: fileexists-no-change
                f.seek(0)
                store.put_blob(sha1, f)
                stamp = max(int(time.time()), versions[-1].timestamp + 1 if versions else 0)
                store.put_file_version(FileVersion(name, stamp, sha1, size, user, None, comment, sniff(head)[0]))
            result = EditResult(name, 0, None, created=not versions)
        finally:
            store.close()
    # The description page, as MediaWiki makes it on a first upload.
    if not versions:
        ns_name = _file_namespace(side)
        edit_page(side, f"{ns_name}:{name.replace('_', ' ')}", comment or "", user=user, summary=comment)
    return result


def _file_namespace(side: Side) -> str:
    store = side.store()
    try:
        return next((n for k, _c, n in store.siteinfo().namespaces if k == 6 and n), "File")
    finally:
        store.close()
