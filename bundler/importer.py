"""Load an XML dump into the embedded store, in one transaction (``bundle import``).

As MediaWiki's importer does, a revision already on the page (same timestamp and
sha1) is skipped, so importing the same or a later dump again adds only what is
new. Pages are matched by page id when their histories agree (so a later dump's
moves are moves), else by title; ids that clash with other pages or revisions
here (a re-imported wiki renumbers them) get fresh ids.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from .history import history_of
from .model import FRESH_IDS, LOCAL_IDS, Page, PageId, RevId, page_rkeys
from .sources.dump import open_dump
from .store import WikiStore


@dataclass
class ImportResult:
    pages: int = 0
    revisions_added: int = 0
    revisions_present: int = 0
    moves: int = 0
    deletions: int = 0
    files_added: int = 0  # file versions (uploads), bytes checked against their sha1 by the reader
    files_skipped: int = 0  # upload versions the dump has no bytes for


def import_dump(store: WikiStore, path: str, *, delete_missing: bool = False, progress: Callable[[int], None] | None = None) -> ImportResult:
    res = ImportResult()
    with open_dump(path, progress=progress) as reader, store.transaction():
        db = store.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS import_seen (page_id INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM import_seen")
        fresh_rev = max(FRESH_IDS, db.execute("SELECT coalesce(max(rev_id), 0) FROM revision WHERE rev_id < ?", (LOCAL_IDS,)).fetchone()[0])
        fresh_page = max(FRESH_IDS, db.execute("SELECT coalesce(max(page_id), 0) FROM page WHERE page_id < ?", (LOCAL_IDS,)).fetchone()[0])
        if reader.siteinfo.sitename or reader.siteinfo.namespaces:
            store.set_siteinfo(reader.siteinfo)
        for ph in reader:
            src = ph.page
            revs = history_of(ph.revisions)  # read again below: spooled to disk if large
            rev_keys = page_rkeys(revs.meta())
            keys = set(rev_keys)

            def page_keys(pid: int) -> set[int]:
                return set(page_rkeys(store.revision_keys(pid)))

            target = None
            here = store.page(src.page_id)
            seen = lambda pid: db.execute("SELECT 1 FROM import_seen WHERE page_id=?", (pid,)).fetchone()  # noqa: E731
            if here is not None and not seen(src.page_id) and (not keys or keys & page_keys(src.page_id)):
                target = src.page_id
                if not here[1] and here[0].title != src.title:
                    res.moves += 1
            else:
                by_title = store.page_by_title(src.title)
                if by_title is not None and not seen(by_title.page_id):
                    target = by_title.page_id
                elif here is None:
                    target = src.page_id
                else:
                    fresh_page += 1
                    target = fresh_page
            have = page_keys(target)
            store.put_page(Page(PageId(target), src.namespace, src.title, src.redirect))
            db.execute("INSERT OR IGNORE INTO import_seen VALUES (?)", (target,))
            res.pages += 1
            ids: dict[int, int] = {}
            for rev, k in zip(revs, rev_keys):
                if k in have:
                    res.revisions_present += 1
                    continue
                rid = rev.rev_id
                if store.revision_sha1(rid) is not None:
                    fresh_rev += 1
                    rid = fresh_rev
                ids[rev.rev_id] = rid
                parent = ids.get(rev.parent_id, rev.parent_id) if rev.parent_id else None
                store.put_revision(replace(rev, rev_id=RevId(rid), page_id=PageId(target), parent_id=parent))
                have.add(k)
                res.revisions_added += 1
            revs.close()
        for fv in reader.files.versions():
            if not store.has_blob(fv.sha1):
                with reader.files.open(fv.sha1) as f:
                    store.put_blob(fv.sha1, f)
            res.files_added += store.put_file_version(fv)
        res.files_skipped = reader.files.skipped
        if delete_missing:
            cur = db.execute("UPDATE page SET deleted=1 WHERE deleted=0 AND page_id NOT IN (SELECT page_id FROM import_seen)")
            res.deletions = cur.rowcount
    return res
