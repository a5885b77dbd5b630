"""Full-text search over the pages' current texts: SQLite FTS5.

The index is a file of this module's own beside the store (``<store>.search``),
so the store's schema is untouched; it can be deleted at any time and is rebuilt.
Before each search it catches up: pages whose current revision changed since
they were indexed are indexed again, pages gone are dropped. Texts are read one
page at a time, so memory does not grow with the wiki.
"""

from __future__ import annotations

import sqlite3

from ..store import WikiStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS indexed (page_id INTEGER PRIMARY KEY, rev_id INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS pages USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
"""


class SearchIndex:
    def __init__(self, store: WikiStore):
        self.store = store
        self.db = sqlite3.connect(store.path + ".search", isolation_level=None, timeout=30)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def refresh(self) -> int:
        """Bring the index up to the store; returns how many pages were (re)indexed."""
        done = dict(self.db.execute("SELECT page_id, rev_id FROM indexed"))
        n = 0
        self.db.execute("BEGIN")
        try:
            live = set()
            for page_id, title, rev_id in self.store.heads():
                live.add(page_id)
                if rev_id is None or done.get(page_id) == rev_id:
                    continue
                text = self.store.get_text(rev_id) or ""
                self.db.execute("DELETE FROM pages WHERE rowid = ?", (page_id,))
                self.db.execute("INSERT INTO pages (rowid, title, body) VALUES (?, ?, ?)", (page_id, title, text))
                self.db.execute("INSERT OR REPLACE INTO indexed VALUES (?, ?)", (page_id, rev_id))
                n += 1
            for page_id in set(done) - live:
                self.db.execute("DELETE FROM pages WHERE rowid = ?", (page_id,))
                self.db.execute("DELETE FROM indexed WHERE page_id = ?", (page_id,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return n

    def search(self, query: str, limit: int = 50) -> list[tuple[str, str]]:
        """(title, snippet) of the best matches; the snippet is plain text with the
        matched words between \\x02 and \\x03 (the template marks them up after escaping)."""
        terms = _fts_query(query)
        if not terms:
            return []
        self.refresh()
        rows = self.db.execute(
            "SELECT title, snippet(pages, 1, char(2), char(3), ' … ', 12) FROM pages WHERE pages MATCH ?"
            " ORDER BY bm25(pages, 5.0, 1.0) LIMIT ?",
            (terms, limit),
        )
        return [(t, s) for t, s in rows]


def _fts_query(query: str) -> str:
    """The user's words as FTS5 strings, all required (no FTS5 syntax from the box:
    a stray quote or ``NEAR`` must not be an error)."""
    words = [w for w in query.replace('"', " ").split() if w]
    return " ".join(f'"{w}"' for w in words)
