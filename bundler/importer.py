"""Load an XML dump into the embedded store, in one transaction (``bundle import``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .sources.dump import open_dump
from .store import WikiStore


@dataclass
class ImportResult:
    pages: int = 0
    revisions_added: int = 0
    revisions_present: int = 0
    moves: int = 0
    deletions: int = 0


def import_dump(store: WikiStore, path: str, *, delete_missing: bool = False, progress: Callable[[int], None] | None = None) -> ImportResult:
    res = ImportResult()
    with open_dump(path, progress=progress) as reader, store.transaction():
        store.db.execute("CREATE TEMP TABLE IF NOT EXISTS import_seen (page_id INTEGER PRIMARY KEY)")
        store.db.execute("DELETE FROM import_seen")
        if reader.siteinfo.sitename or reader.siteinfo.namespaces:
            store.set_siteinfo(reader.siteinfo)
        for ph in reader:
            before = store.page(ph.page.page_id)
            if before is not None and not before[1] and before[0].title != ph.page.title:
                res.moves += 1
            store.put_page(ph.page)
            store.db.execute("INSERT OR IGNORE INTO import_seen VALUES (?)", (ph.page.page_id,))
            res.pages += 1
            for rev in ph.revisions:
                if store.put_revision(rev):
                    res.revisions_added += 1
                else:
                    res.revisions_present += 1
        if delete_missing:
            cur = store.db.execute(
                "UPDATE page SET deleted=1 WHERE deleted=0 AND page_id NOT IN (SELECT page_id FROM import_seen)"
            )
            res.deletions = cur.rowcount
    return res
