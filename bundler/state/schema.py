"""The sync state's tables (``state.sqlite``), as named migrations.

Each migration is run once, in order, and recorded by name in the same
transaction (``bundler/migrations.py``). Released migrations are never edited or
renamed: a side directory made by an older release names what it has by them
and opens by running only what it lacks (``tests/test_migrations.py``).
"""

from __future__ import annotations

MIGRATIONS = [
    (
        "0001-initial",
        """
        CREATE TABLE peers (wiki_id TEXT PRIMARY KEY, public BLOB NOT NULL, label TEXT NOT NULL, added INTEGER NOT NULL);
        CREATE TABLE sent (
            peer TEXT NOT NULL, seq INTEGER NOT NULL, checkpoint BLOB NOT NULL, basis_seq INTEGER NOT NULL,
            created INTEGER NOT NULL, sha256 TEXT NOT NULL, latest_only INTEGER NOT NULL, siteinfo TEXT,
            PRIMARY KEY (peer, seq));
        CREATE TABLE confirmed (peer TEXT PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL);
        CREATE TABLE held_revs (peer TEXT NOT NULL, seq INTEGER NOT NULL, page_id INTEGER NOT NULL, rev_id INTEGER NOT NULL,
            rkey INTEGER NOT NULL, mkey INTEGER NOT NULL, PRIMARY KEY (peer, seq, rev_id));
        CREATE INDEX held_revs_page ON held_revs(peer, page_id);
        CREATE INDEX held_revs_rkey ON held_revs(peer, rkey);
        CREATE INDEX held_revs_id ON held_revs(peer, rev_id);
        CREATE TABLE held_pages (peer TEXT NOT NULL, seq INTEGER NOT NULL, page_id INTEGER NOT NULL,
            namespace INTEGER NOT NULL, title TEXT NOT NULL, deleted INTEGER NOT NULL,
            PRIMARY KEY (peer, seq, page_id));
        CREATE INDEX held_pages_page ON held_pages(peer, page_id);
        CREATE TABLE received (
            sender TEXT NOT NULL, seq INTEGER NOT NULL, checkpoint BLOB NOT NULL, basis_seq INTEGER NOT NULL,
            sha256 TEXT NOT NULL, applied INTEGER NOT NULL, PRIMARY KEY (sender, seq));
        """,
    ),
    (
        # File versions a peer holds per checkpoint, like held_revs (queries: files.py);
        # under a negative seq, the versions the peer sent us in its bundle -seq; and
        # sha1s of bytes the peer says it holds whatever we sent (files it got some
        # other way), which are never sent again as bytes.
        "0002-held-files",
        """
        CREATE TABLE held_files (peer TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
            timestamp INTEGER NOT NULL, sha1 TEXT NOT NULL, PRIMARY KEY (peer, seq, name, timestamp, sha1));
        CREATE INDEX held_files_sha1 ON held_files(peer, sha1);
        CREATE TABLE reported_files (peer TEXT NOT NULL, sha1 TEXT NOT NULL, PRIMARY KEY (peer, sha1));
        """,
    ),
    (
        # A side whose wiki is a MediaWiki (bundler/targets/mediawiki.py): MediaWiki
        # renumbers what it imports, so the ids a sender names this side's pages and
        # revisions by (bundle ids) map to the wiki's own. ``mw_own_revs``: revisions
        # applying made on the wiki itself (import and move null revisions, the edit
        # that makes the newest text current), which are never edits to send back.
        # ``mw_journal``: how far applying a bundle got, so a re-run finishes it.
        "0003-mediawiki-ids",
        """
        CREATE TABLE mw_pages (sender TEXT NOT NULL, page_id INTEGER NOT NULL, mw_page_id INTEGER NOT NULL,
            title TEXT NOT NULL, PRIMARY KEY (sender, page_id));
        CREATE INDEX mw_pages_mw ON mw_pages(mw_page_id);
        CREATE TABLE mw_revs (sender TEXT NOT NULL, rev_id INTEGER NOT NULL, mw_rev_id INTEGER NOT NULL,
            PRIMARY KEY (sender, rev_id));
        CREATE INDEX mw_revs_mw ON mw_revs(mw_rev_id);
        CREATE TABLE mw_own_revs (mw_rev_id INTEGER PRIMARY KEY, sender TEXT NOT NULL, seq INTEGER NOT NULL);
        CREATE TABLE mw_journal (sender TEXT NOT NULL, seq INTEGER NOT NULL, sha256 TEXT NOT NULL,
            started INTEGER NOT NULL, step TEXT NOT NULL, PRIMARY KEY (sender, seq, sha256));
        """,
    ),
    (
        # The return trip (formats/BUNDLE.md §Return bundles): a peer this side takes
        # updates from is its upstream; bundles to it are returns. What a peer holds
        # because it sent it to us is kept under negative seq (-1 * its bundle's seq),
        # always part of the view: the peer keeps what it has sent.
        "0004-return",
        """
        CREATE TABLE upstream (peer TEXT PRIMARY KEY, since INTEGER NOT NULL);
        CREATE TABLE notices (peer TEXT NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL, seq INTEGER);
        """,
    ),
    (
        # A MediaWiki source: the wiki's clock when each bundle began reading it, so the
        # next bundle reads only what changed since (sources/api.py).
        "0005-source-marks",
        """
        CREATE TABLE source_marks (peer TEXT NOT NULL, seq INTEGER NOT NULL, wiki_time INTEGER NOT NULL,
            PRIMARY KEY (peer, seq));
        """,
    ),
    (
        # File versions applying uploaded to a MediaWiki (targets/mediawiki_files.py).
        # The API uploads as the sync account, now: the wiki's version has its own time
        # (``mw_timestamp``), user and comment. The row keeps the sender's version it
        # stands for, so ``bundle make`` from this wiki (sources/api_files.py) reports
        # it as that version, which the sender holds: it never travels back as a new
        # upload, as ``mw_own_revs`` keeps null revisions from travelling back.
        "0006-mediawiki-files",
        """
        CREATE TABLE mw_files (sender TEXT NOT NULL, name TEXT NOT NULL, timestamp INTEGER NOT NULL,
            sha1 TEXT NOT NULL, mw_timestamp INTEGER NOT NULL, user TEXT, user_id INTEGER, comment TEXT,
            seq INTEGER NOT NULL, PRIMARY KEY (sender, name, timestamp, sha1));
        CREATE INDEX mw_files_mw ON mw_files(name, mw_timestamp, sha1);
        CREATE INDEX mw_files_sha1 ON mw_files(sha1);
        """,
    ),
    (
        # A MediaWiki source: the highest revision and page id each bundle saw. Ids only
        # grow, whatever the timestamps (importDump.php keeps an archive's old ones), so
        # the next bundle lists every revision above them (sources/api.py). ``verified``:
        # the bundle compared the wiki's whole listing with the peer's view (--verify).
        "0007-source-tops",
        """
        ALTER TABLE source_marks ADD COLUMN top_rev_id INTEGER;
        ALTER TABLE source_marks ADD COLUMN top_page_id INTEGER;
        ALTER TABLE source_marks ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        # A chunked upload to a MediaWiki under way (mediawiki/write.py upload_chunked):
        # the wiki's stash filekey and how far it got, so a re-run after a kill continues
        # it (the wiki's checkstatus has the last word on the offset). Gone once stored.
        "0008-mw-upload-stash",
        """
        CREATE TABLE mw_upload_stash (name TEXT NOT NULL, sha1 TEXT NOT NULL, filekey TEXT NOT NULL,
            offset INTEGER NOT NULL, PRIMARY KEY (name, sha1));
        """,
    ),
]
